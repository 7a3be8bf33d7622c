//! The member listing in parallel against the simulated GitLab over HTTP: `/users` in
//! creation-time partitions (`created_after` / `created_before`, keyset by `created_at`) and
//! GitLab.com's `billable_members` offset pages asked a window ahead. What must hold: on a quiet
//! instance every user once and the stored count equal to the instance's; with users created and
//! deleted mid-listing, everyone present for the whole run once, the others at most once; a bulk
//! import cut into partitions; the fallbacks (no keyset, filters ignored); every partition
//! resumed from a position or a checkpoint.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures_util::StreamExt;
use seatwatch::collect::{self, CollectOptions, CollectOutcome};
use seatwatch::store::{SnapshotReader, SnapshotStore, StoreProvisioner};
use seatwatch_gitlab::partition::Partition;
use seatwatch_gitlab::{Client, ClientOptions, ListingPosition, User};
use seatwatch_sim::{Flavour, SimConfig, SimHandle, tokens};
use seatwatch_testkit::gitlab;
use seatwatch_testkit::store::temp_sqlite;

const AS_OF: &str = "2026-06-30";

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn config(users: u32) -> SimConfig {
    gitlab::config_on(Flavour::SelfManaged, users, day(AS_OF))
}

/// Walkers enough for the listing to be cut several times.
const WALKERS: usize = 8;

fn client(sim: &SimHandle) -> Client {
    gitlab::client_with(
        sim,
        tokens::ADMIN,
        ClientOptions {
            concurrency: WALKERS,
            ..gitlab::quick_options()
        },
    )
}

/// What one parallel listing yielded: the users in order, and the position after each page.
struct Listed {
    users: Vec<User>,
    positions: Vec<Option<ListingPosition>>,
}

impl Listed {
    fn ids(&self) -> Vec<u64> {
        self.users.iter().map(|u| u.id).collect()
    }

    /// Every partition any position named.
    fn partitions(&self) -> Vec<&Partition> {
        self.positions
            .iter()
            .flatten()
            .flat_map(|p| match p {
                ListingPosition::Partitions { partitions, .. } => partitions.iter().collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn most_partitions_at_once(&self) -> usize {
        self.positions
            .iter()
            .flatten()
            .map(|p| match p {
                ListingPosition::Partitions { partitions, .. } => partitions.len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }
}

/// Lists `/users` in parallel from `from`, calling `between(page_number)` after each page.
async fn list_with(
    c: &Client,
    from: Option<ListingPosition>,
    mut between: impl FnMut(usize),
) -> Listed {
    let mut pages = std::pin::pin!(c.users_in_parallel_from(from));
    let mut listed = Listed {
        users: Vec::new(),
        positions: Vec::new(),
    };
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        listed.users.extend(page.users);
        listed.positions.push(page.next);
        n += 1;
        between(n);
    }
    listed
}

fn assert_each_once(ids: &[u64], expected: &[u64]) {
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a user was listed twice");
    let missing: Vec<u64> = expected
        .iter()
        .filter(|id| !unique.contains(id))
        .copied()
        .collect();
    assert!(missing.is_empty(), "skipped: {missing:?}");
    assert_eq!(unique.len(), expected.len(), "listed someone unexpected");
}

fn all_ids(total: u64) -> Vec<u64> {
    (1..=total).collect()
}

#[tokio::test]
async fn a_quiet_instance_is_listed_once_in_several_partitions() {
    let sim = gitlab::start(config(3_000)).await;
    let c = client(&sim);
    let total = sim.expected().users;
    let listed = list_with(&c, None, |_| {}).await;
    assert_each_once(&listed.ids(), &all_ids(total));
    assert!(
        listed.most_partitions_at_once() > 1,
        "the listing was never cut"
    );
    assert!(
        listed.partitions().iter().any(|p| p.from.is_some()),
        "a partition starts after the first user"
    );
    assert_eq!(
        listed.positions.last(),
        Some(&None),
        "ends with no position"
    );
    // Lean: one probe for the newest user, and about one partial page per partition.
    let pages = total.div_ceil(100);
    // Each partition is cut at a second no other starts at.
    let partitions = listed
        .partitions()
        .iter()
        .map(|p| p.from)
        .collect::<HashSet<_>>()
        .len() as u64;
    assert!(
        c.requests_made() <= pages + 2 * partitions + 1,
        "{} requests for {pages} pages and {partitions} partitions",
        c.requests_made()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn users_created_and_deleted_mid_listing_are_neither_lost_nor_duplicated() {
    let sim = gitlab::start(config(3_000)).await;
    let c = client(&sim);
    let total = sim.expected().users;
    // Deleted between pages: the oldest users (listed first), the newest (listed last) and some
    // in between; created: a few after the first page and after the fifth.
    let mut deleted: Vec<u64> = Vec::new();
    let mut created: Vec<u64> = Vec::new();
    let listed = list_with(&c, None, |page| {
        let victims: Vec<u64> = match page {
            1 => vec![3, 50, total - 5, total / 2],
            5 => vec![4, total / 3, total - 1, 2 * total / 3],
            9 => (total / 4..total / 4 + 40).collect(),
            _ => Vec::new(),
        };
        for id in victims {
            assert!(sim.delete_user(id));
            deleted.push(id);
        }
        if page == 1 || page == 5 {
            for _ in 0..3 {
                created.push(sim.create_user(None));
            }
        }
    })
    .await;
    let ids = listed.ids();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a user was listed twice");
    // Everyone present for the whole run: exactly once.
    let changed: HashSet<u64> = deleted.iter().chain(&created).copied().collect();
    let stayed: Vec<u64> = all_ids(total)
        .into_iter()
        .filter(|id| !changed.contains(id))
        .collect();
    let listed_stayed: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !changed.contains(id))
        .collect();
    assert_each_once(&listed_stayed, &stayed);
    // Created or deleted during the run: at most once (checked above), and nobody else.
    assert!(ids.iter().all(|id| *id <= total || created.contains(id)));
    sim.shutdown().await;
}

/// The seconds of the busiest hour of creations, and how many users it holds.
fn busiest_hour(users: &[User]) -> (i64, usize) {
    let mut by_hour: BTreeMap<i64, usize> = BTreeMap::new();
    for u in users {
        let second = u
            .created_at
            .expect("admin rows have created_at")
            .timestamp();
        *by_hour.entry(second.div_euclid(3_600)).or_default() += 1;
    }
    by_hour
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(hour, n)| (hour * 3_600, n))
        .expect("users")
}

#[tokio::test]
async fn a_bulk_import_is_cut_into_partitions() {
    // Large enough for an import of thousands of accounts in an hour: more pages than a
    // walker's share of the listing.
    // With a round trip per page, as on a real GitLab: cuts are made while walkers wait.
    let mut cfg = config(20_000);
    cfg.latency = Duration::from_millis(30);
    let sim = gitlab::start(cfg).await;
    let c = client(&sim);
    let listed = list_with(&c, None, |_| {}).await;
    let total = sim.expected().users;
    assert_each_once(&listed.ids(), &all_ids(total));
    let (hour, count) = busiest_hour(&listed.users);
    assert!(
        count as u64 > total / WALKERS as u64,
        "the simulated instance has a bulk import: {count}"
    );
    let cuts_inside = listed
        .partitions()
        .iter()
        .filter_map(|p| p.from)
        .filter(|from| (hour..hour + 3_600).contains(from))
        .collect::<HashSet<_>>();
    assert!(
        !cuts_inside.is_empty(),
        "the import's hour ({count} users) was walked by one chain"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gitlab_that_ignores_created_after_falls_back_to_one_walk_quirk() {
    let mut cfg = config(3_000);
    cfg.users_created_filters = false;
    let sim = gitlab::start(cfg).await;
    let c = client(&sim);
    let total = sim.expected().users;
    let listed = list_with(&c, None, |_| {}).await;
    assert_each_once(&listed.ids(), &all_ids(total));
    let noticed = listed.positions.iter().flatten().any(|p| {
        matches!(
            p,
            ListingPosition::Partitions {
                filters_ignored: true,
                ..
            }
        )
    });
    assert!(noticed, "the ignored filters were never noticed");
    // One walk: the pages, the probe, and the first pages of the partitions cut before the
    // filters were found ignored (at most one per walker).
    let pages = total.div_ceil(100);
    assert!(
        c.requests_made() <= pages + WALKERS as u64 + 2,
        "{} requests for {pages} pages",
        c.requests_made()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gitlab_without_keyset_on_users_falls_back_to_verified_offset_pages_quirk() {
    let mut cfg = config(1_200);
    cfg.users_keyset_pagination = false;
    let sim = gitlab::start(cfg).await;
    let c = client(&sim);
    let total = sim.expected().users;
    let mut deleted = Vec::new();
    let listed = list_with(&c, None, |page| {
        if page == 2 {
            // Rows before the position go: later offset pages shift.
            for id in 20..80 {
                assert!(sim.delete_user(id));
                deleted.push(id);
            }
        }
    })
    .await;
    let survivors: Vec<u64> = listed
        .ids()
        .into_iter()
        .filter(|id| !deleted.contains(id))
        .collect();
    let expected: Vec<u64> = all_ids(total)
        .into_iter()
        .filter(|id| !deleted.contains(id))
        .collect();
    assert_each_once(&survivors, &expected);
    assert!(
        listed
            .positions
            .iter()
            .flatten()
            .all(|p| matches!(p, ListingPosition::Offset { .. })),
        "one verified offset walk"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn every_partition_resumes_from_a_saved_position() {
    let sim = gitlab::start(config(3_000)).await;
    let c = client(&sim);
    let total = sim.expected().users;
    // Stop once the listing is cut in several partitions, mid-walk.
    let (mut ids, saved) = {
        let mut pages = std::pin::pin!(c.users_in_parallel_from(None));
        let mut ids = Vec::new();
        loop {
            let page = pages.next().await.expect("more pages").expect("page");
            ids.extend(page.users.iter().map(|u| u.id));
            match page.next {
                Some(ListingPosition::Partitions { ref partitions, .. })
                    if partitions.iter().filter(|p| p.next.is_some()).count() > 2 =>
                {
                    break (ids, page.next.expect("a position"));
                }
                Some(_) => {}
                None => panic!("the listing ended before it was cut in several partitions"),
            }
        }
    };
    // The saved position goes through JSON, as a checkpoint does, and holds no token.
    let json = serde_json::to_string(&saved).expect("serialises");
    assert!(!json.contains(tokens::ADMIN));
    let saved: ListingPosition = serde_json::from_str(&json).expect("parses");
    let resumed = list_with(&c, Some(saved), |_| {}).await;
    ids.extend(resumed.ids());
    assert_each_once(&ids, &all_ids(total));
    sim.shutdown().await;
}

/// Runs collect until it commits, calling `between()` after every checkpoint.
async fn collect_in_pieces(
    c: &Client,
    store: &dyn SnapshotStore,
    opts: &CollectOptions,
    mut between: impl FnMut(Option<String>),
    instance: &seatwatch_core::snapshot::InstanceId,
) -> u32 {
    let now = opts.date.and_hms_opt(6, 0, 0).unwrap().and_utc();
    for runs in 1..=400 {
        match collect::collect(c, store, opts, now).await.expect("run") {
            CollectOutcome::Committed(_) => return runs,
            CollectOutcome::Checkpointed(_) => {
                between(store.load_checkpoint(instance, opts.date).await.unwrap())
            }
        }
    }
    panic!("never committed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpointed_collect_resumes_every_partition() {
    let sim = gitlab::start(config(3_000)).await;
    let c = client(&sim);
    let total = sim.expected().users;
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let mut opts = CollectOptions::new(day(AS_OF));
    opts.part_size = 300;
    opts.deadline = Some(Instant::now());
    opts.reserve = Duration::from_secs(3600);
    let instance = collect::instance_id(&c, None);
    // Between runs, delete a user not listed yet (the newest first) and note how many
    // partitions the checkpoint holds.
    let mut deleted = Vec::new();
    let mut most_partitions = 0;
    let runs = collect_in_pieces(
        &c,
        &store,
        &opts,
        |checkpoint| {
            let json: serde_json::Value =
                serde_json::from_str(&checkpoint.expect("a checkpoint")).expect("JSON");
            let partitions = json["position"]["partitions"]
                .as_array()
                .map_or(0, Vec::len);
            most_partitions = most_partitions.max(partitions);
            let victim = total - deleted.len() as u64;
            assert!(sim.delete_user(victim));
            deleted.push(victim);
        },
        &instance,
    )
    .await;
    assert!(runs > 2, "the deadline never interrupted the run");
    assert!(most_partitions > 1, "no checkpoint held several partitions");
    let members = store.members(&instance, day(AS_OF)).await.unwrap();
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let survivors: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !deleted.contains(id))
        .collect();
    let expected: Vec<u64> = all_ids(total)
        .into_iter()
        .filter(|id| !deleted.contains(id))
        .collect();
    assert_each_once(&survivors, &expected);
    let committed = store.latest_day(&instance).await.unwrap().unwrap();
    assert_eq!(committed.aggregates.members, ids.len() as u64);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_instances_stored_count_equals_the_instances_count() {
    let sim = gitlab::start(config(2_500)).await;
    let c = client(&sim);
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let opts = CollectOptions::new(day(AS_OF));
    let now = opts.date.and_hms_opt(6, 0, 0).unwrap().and_utc();
    let outcome = collect::collect(&c, &store, &opts, now).await.expect("run");
    assert!(outcome.is_committed());
    let instance = collect::instance_id(&c, None);
    let members = store.members(&instance, day(AS_OF)).await.unwrap();
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    assert_each_once(&ids, &all_ids(sim.expected().users));
    let committed = store.latest_day(&instance).await.unwrap().unwrap();
    assert_eq!(committed.aggregates.members, sim.expected().users);
    sim.shutdown().await;
}

#[tokio::test]
async fn billable_members_pages_are_asked_for_at_once() {
    // 300 ms per answer: one page after the other cannot take less than pages × 300 ms, and
    // the window's rounds leave room for a loaded machine below half of that.
    let latency = Duration::from_millis(300);
    let mut cfg = gitlab::config_on(Flavour::GitLabCom, 2_000, day(AS_OF));
    cfg.latency = latency;
    let sim = gitlab::start(cfg).await;
    let c = client(&sim);
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut pages = std::pin::pin!(c.billable_members_from("acme", None));
    while let Some(page) = pages.next().await {
        ids.extend(page.expect("page").0.iter().map(|m| m.id));
    }
    let elapsed = started.elapsed();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(ids.len() as u64, sim.expected().billable_members);
    let serial_floor = latency * c.requests_made() as u32;
    assert!(
        elapsed < serial_floor / 2,
        "{elapsed:?} for {} requests: not asked for at once",
        c.requests_made()
    );
    // X-Total was given: nothing was asked for beyond the count.
    let rows = sim.expected().billable_members;
    assert!(
        c.requests_made() <= rows.div_ceil(50) + 1,
        "{} requests for {rows} rows",
        c.requests_made()
    );
    sim.shutdown().await;
}
