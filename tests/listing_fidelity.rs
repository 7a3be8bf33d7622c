//! The member listing against the simulated GitLab over HTTP, where GitLab's own pagination bites:
//! keyset links with an opaque cursor, an older GitLab that ignores `pagination=keyset` on
//! `/users`, offset pages that shift when a member is deleted mid-listing, a checkpoint resumed
//! after such a deletion, and GitLab.com's dates (account age, no subscription start).
//! One regression test per quirk, each named after it.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use futures_util::StreamExt;
use seatwatch::collect::{self, CollectOptions, CollectOutcome};
use seatwatch::store::SnapshotStore;
use seatwatch::store::{SnapshotReader, StoreProvisioner};
use seatwatch_core::analyse::{self, Policy, Reason};
use seatwatch_gitlab::{Client, ListingPosition};
use seatwatch_sim::Flavour;
use seatwatch_sim::{SimHandle, tokens};
use seatwatch_testkit::gitlab::{self, RawAnswer};
use seatwatch_testkit::store::temp_sqlite;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

const AS_OF: &str = "2026-06-30";

async fn start(flavour: Flavour, users: u32, keyset: bool) -> SimHandle {
    let mut cfg = gitlab::config_on(flavour, users, day(AS_OF));
    cfg.users_keyset_pagination = keyset;
    gitlab::start(cfg).await
}

fn client(sim: &SimHandle) -> Client {
    gitlab::client_with(sim, tokens::ADMIN, gitlab::quick_options())
}

/// Ids every listing must return now: the sim's users minus the deleted ones.
fn live_ids(total: u64, deleted: &[u64]) -> Vec<u64> {
    (1..=total).filter(|id| !deleted.contains(id)).collect()
}

/// Reads the `/users` listing page by page, calling `between(page_number)` after each page.
async fn list_users_with(
    client: &Client,
    from: Option<ListingPosition>,
    mut between: impl FnMut(usize),
) -> Vec<u64> {
    let mut pages = std::pin::pin!(client.users_from(from));
    let mut ids = Vec::new();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        ids.extend(page.expect("page").users.iter().map(|u| u.id));
        n += 1;
        between(n);
    }
    ids
}

fn assert_each_once(ids: &[u64], expected: &[u64]) {
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a user was listed twice");
    let missing: Vec<u64> = expected
        .iter()
        .filter(|id| !unique.contains(id))
        .copied()
        .collect();
    assert!(missing.is_empty(), "skipped: {missing:?}");
    assert_eq!(unique.len(), expected.len(), "listed someone who is gone");
}

/// Of `ids`, the users not `deleted` (whether listed before or after their deletion) are every
/// live user of the `total`, each once.
fn assert_survivors_each_once(ids: &[u64], total: u64, deleted: &[u64]) {
    let deleted_set: HashSet<u64> = deleted.iter().copied().collect();
    let still_there: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !deleted_set.contains(id))
        .collect();
    assert_each_once(&still_there, &live_ids(total, deleted));
}

/// The first page of `/users` as a keyset listing asks for it.
async fn first_keyset_page(sim: &SimHandle) -> RawAnswer {
    gitlab::get(
        sim,
        "/users?pagination=keyset&order_by=id&sort=asc&per_page=100",
        tokens::ADMIN,
    )
    .await
}

#[tokio::test]
async fn keyset_next_link_carries_an_opaque_cursor_quirk() {
    let sim = start(Flavour::SelfManaged, 250, true).await;
    let RawAnswer {
        status, headers, ..
    } = first_keyset_page(&sim).await;
    assert_eq!(status, 200);
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("a next link")
        .to_string();
    let url = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("a URL");
    let url = url::Url::parse(url).expect("an absolute URL");
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    // Hash#to_query: the request's params plus `cursor`, keys sorted.
    assert_eq!(
        keys,
        ["cursor", "order_by", "pagination", "per_page", "sort"],
        "{link}"
    );
    let cursor = &params[0].1;
    assert_ne!(cursor, "100", "the cursor is not a bare id");
    assert!(headers.get("x-page").is_none() && headers.get("x-total").is_none());
    // A cursor GitLab cannot parse is refused, not treated as "from the start".
    let RawAnswer { status, .. } = gitlab::get(
        &sim,
        "/users?pagination=keyset&order_by=id&sort=asc&cursor=%%%",
        tokens::ADMIN,
    )
    .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_user_deleted_mid_keyset_listing_moves_nothing_quirk() {
    let sim = start(Flavour::SelfManaged, 350, true).await;
    let c = client(&sim);
    let total = sim.expected().users;
    // After page 1: delete one user already listed and one not yet reached.
    let deleted = [40, 260];
    let ids = list_users_with(&c, None, |page| {
        if page == 1 {
            for id in deleted {
                assert!(sim.delete_user(id));
            }
        }
    })
    .await;
    let without_40: Vec<u64> = ids.iter().copied().filter(|&id| id != 40).collect();
    assert_each_once(&without_40, &live_ids(total, &deleted));
    assert!(ids.contains(&40), "listed before it was deleted");
    assert!(!ids.contains(&260), "deleted before it was reached");
    sim.shutdown().await;
}

#[tokio::test]
async fn older_gitlab_ignores_pagination_keyset_on_users_quirk() {
    let sim = start(Flavour::SelfManaged, 250, false).await;
    // What GitLab before 16.5 answers: numbered offset pages despite pagination=keyset.
    let RawAnswer {
        status, headers, ..
    } = first_keyset_page(&sim).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("x-page").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        link.contains("page=2") && !link.contains("cursor"),
        "{link}"
    );
    // The client notices and still lists everyone once, in id order, with a resumable position.
    let c = client(&sim);
    let mut positions = Vec::new();
    let mut pages = std::pin::pin!(c.users_from(None));
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        ids.extend(page.users.iter().map(|u| u.id));
        positions.extend(page.next);
    }
    assert_each_once(&ids, &live_ids(sim.expected().users, &[]));
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(
        positions
            .iter()
            .all(|p| matches!(p, ListingPosition::Offset { .. })),
        "{positions:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn older_gitlab_user_deleted_mid_offset_listing_is_not_skipped_quirk() {
    let sim = start(Flavour::SelfManaged, 450, false).await;
    let c = client(&sim);
    let total = sim.expected().users;
    // Each deletion removes a row before the listing's position, so every later offset page
    // starts further on: rows crossing the boundary would be skipped. After page 3, 70 rows go
    // at once, more than any request re-reads.
    let mut deleted: Vec<u64> = vec![5, 150, 230];
    deleted.extend(20..90);
    let ids = list_users_with(&c, None, |page| {
        let now: Vec<u64> = match page {
            1 => vec![5],
            2 => vec![150],
            3 => (20..90).chain([230]).collect(),
            _ => Vec::new(),
        };
        for id in now {
            assert!(sim.delete_user(id));
        }
    })
    .await;
    assert_survivors_each_once(&ids, total, &deleted);
    sim.shutdown().await;
}

#[tokio::test]
async fn billable_members_offset_pages_shift_after_a_removal_quirk() {
    let sim = start(Flavour::GitLabCom, 600, true).await;
    let c = client(&sim);
    // Everyone billed now, in id order.
    let mut before = Vec::new();
    let mut all = std::pin::pin!(c.billable_members_from("acme", None));
    while let Some(page) = all.next().await {
        before.extend(page.expect("page").0.iter().map(|m| m.id));
    }
    assert_eq!(before.len() as u64, sim.expected().billable_members);
    // Again, removing already listed members after every page: one, and after the second
    // page 60 at once, more than the rows any request re-reads.
    let mut listed = Vec::new();
    let mut removed = Vec::new();
    let mut pages = std::pin::pin!(c.billable_members_from("acme", None));
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let (members, _) = page.expect("page");
        listed.extend(members.iter().map(|m| m.id));
        n += 1;
        let victims: Vec<u64> = if n == 2 {
            listed[..60].to_vec()
        } else {
            members.first().map(|m| m.id).into_iter().collect()
        };
        for id in victims {
            if !removed.contains(&id) {
                assert!(sim.delete_user(id));
                removed.push(id);
            }
        }
    }
    let unique: HashSet<u64> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "listed twice");
    let skipped: Vec<u64> = before
        .iter()
        .copied()
        .filter(|id| !unique.contains(id))
        .collect();
    assert!(skipped.is_empty(), "skipped after {removed:?}: {skipped:?}");
    sim.shutdown().await;
}

/// Runs collect until it commits, calling `between()` after every checkpoint.
async fn collect_in_pieces(
    c: &Client,
    store: &dyn SnapshotStore,
    opts: &CollectOptions,
    mut between: impl FnMut(),
) -> u32 {
    let now = opts.date.and_hms_opt(6, 0, 0).unwrap().and_utc();
    for runs in 1..=200 {
        match collect::collect(c, store, opts, now).await.expect("run") {
            CollectOutcome::Committed(_) => return runs,
            CollectOutcome::Checkpointed(_) => between(),
        }
    }
    panic!("never committed");
}

#[tokio::test(flavor = "multi_thread")]
async fn older_gitlab_checkpoint_resumes_after_a_deletion_quirk() {
    let sim = start(Flavour::SelfManaged, 1_200, false).await;
    let c = client(&sim);
    let total = sim.expected().users;
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let mut opts = CollectOptions::new(day(AS_OF));
    opts.part_size = 300;
    opts.deadline = Some(Instant::now());
    opts.reserve = Duration::from_secs(3600);
    let instance = collect::instance_id(&c, None);
    // Between runs, delete users the first part listed: the saved offset is then too far on,
    // and the resumed run must find the rows that moved back over it. The first time 60 go at
    // once, more than any request re-reads; then one per run.
    let mut deleted = Vec::new();
    let mut next_victim = 10;
    let runs = collect_in_pieces(&c, &store, &opts, || {
        let count = if deleted.is_empty() { 60 } else { 1 };
        for _ in 0..count {
            assert!(sim.delete_user(next_victim));
            deleted.push(next_victim);
            next_victim += 1;
        }
    })
    .await;
    assert!(runs > 2, "the deadline never interrupted the run");
    let members = store.members(&instance, day(AS_OF)).await.unwrap();
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    assert_survivors_each_once(&ids, total, &deleted);
    let committed = store.latest_day(&instance).await.unwrap().unwrap();
    assert_eq!(
        committed.aggregates.members,
        ids.len() as u64,
        "no one counted twice"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_resumed_listing_keeps_its_deduplication_quirk() {
    let sim = start(Flavour::GitLabCom, 1_500, true).await;
    let c = client(&sim);
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let mut opts = CollectOptions::new(day(AS_OF));
    opts.group = Some("acme".into());
    opts.part_size = 150;
    opts.deadline = Some(Instant::now());
    opts.reserve = Duration::from_secs(3600);
    let expected = sim.expected().billable_members;
    // Every resume re-reads the rows before its saved offset (the overlap); none may count twice.
    let runs = collect_in_pieces(&c, &store, &opts, || {}).await;
    assert!(runs > 2);
    let instance = collect::instance_id(&c, Some("acme"));
    let members = store.members(&instance, day(AS_OF)).await.unwrap();
    let unique: HashSet<u64> = members.iter().map(|m| m.id).collect();
    assert_eq!(unique.len(), members.len());
    assert_eq!(members.len() as u64, expected);
    let committed = store.latest_day(&instance).await.unwrap().unwrap();
    assert_eq!(committed.aggregates.members, expected);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_grace_period_runs_from_the_membership_not_the_account_quirk() {
    let sim = start(Flavour::GitLabCom, 400, true).await;
    let today = day(AS_OF);
    // Two never-signed-in members who joined today: one with a two-year-old GitLab.com account.
    let old_account = sim.create_user(Some(today - Days::new(730)));
    let new_account = sim.create_user(None);
    let c = client(&sim);
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let opts = acme_options(today);
    let outcome = collect::collect(
        &c,
        &store,
        &opts,
        today.and_hms_opt(6, 0, 0).unwrap().and_utc(),
    )
    .await
    .expect("collect");
    assert!(outcome.is_committed());
    let instance = collect::instance_id(&c, Some("acme"));
    let members = store.members(&instance, today).await.unwrap();
    let old = members
        .iter()
        .find(|m| m.id == old_account)
        .expect("the new member is listed");
    // billable_members' created_at is the account's age; the membership is today's.
    assert_eq!(
        old.created_at.map(|t| t.date_naive()),
        Some(today - Days::new(730))
    );
    assert_eq!(old.member_since.map(|t| t.date_naive()), Some(today));
    let report = report_on(&store, &instance, &members, today).await;
    let listed: HashSet<u64> = report.reclaimable.iter().map(|s| s.id).collect();
    assert!(!listed.contains(&old_account), "inside its grace period");
    assert!(!listed.contains(&new_account), "inside its grace period");
    // Members who never signed in and joined long ago are still found.
    let never_seen_long_ago = members
        .iter()
        .filter(|m| m.holds_seat && m.last_seen_on().is_none())
        .filter(|m| {
            analyse::grace_start(m).is_some_and(|t| (today - t.date_naive()).num_days() >= 14)
        })
        .count();
    assert!(
        never_seen_long_ago > 0,
        "the sim has members who never signed in"
    );
    assert_eq!(
        report
            .reclaimable
            .iter()
            .filter(|s| s.reason == Reason::NeverSignedIn)
            .count(),
        never_seen_long_ago
    );
    // The memberships request is made only for members GitLab never saw (the request bound).
    let never_seen = members
        .iter()
        .filter(|m| m.holds_seat && m.last_seen_on().is_none())
        .count();
    let with_since: Vec<u64> = members
        .iter()
        .filter(|m| m.member_since.is_some())
        .map(|m| m.id)
        .collect();
    assert!(
        with_since.len() >= 2 && with_since.len() <= never_seen,
        "{with_since:?}"
    );
    assert!(
        members
            .iter()
            .filter(|m| m.member_since.is_some())
            .all(|m| m.last_seen_on().is_none())
    );
    sim.shutdown().await;
}

/// Collecting the simulated GitLab.com group `acme` on `date`.
fn acme_options(date: NaiveDate) -> CollectOptions {
    let mut opts = CollectOptions::new(date);
    opts.group = Some("acme".into());
    opts.seats_purchased = Some(500);
    opts
}

/// The routes a GitLab.com membership age is asked at: the batch of the top-level group's own
/// memberships, and one member's direct memberships in the hierarchy.
const GROUP_MEMBERS: &str = "/api/v4/groups/acme/members";
const MEMBERSHIPS: &str = "/api/v4/groups/acme/billable_members/:id/memberships";

fn age_requests(sim: &SimHandle) -> u64 {
    sim.requests_served_to(GROUP_MEMBERS) + sim.requests_served_to(MEMBERSHIPS)
}

/// Members whose membership age a GitLab.com collection asks for: seat holders GitLab never saw,
/// not there only through an invite.
fn never_seen_direct(members: &[seatwatch_core::snapshot::Member]) -> Vec<u64> {
    members
        .iter()
        .filter(|m| m.holds_seat && m.last_seen_on().is_none())
        .filter(|m| {
            !matches!(
                m.membership_type.as_deref(),
                Some("group_invite" | "project_invite")
            )
        })
        .map(|m| m.id)
        .collect()
}

/// GitLab.com: a never-seen member's membership age is asked once; the next snapshot carries
/// it and asks nothing for it, where a collection without the previous snapshot asks again.
#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_membership_age_is_asked_once_then_carried_quirk() {
    let sim = start(Flavour::GitLabCom, 400, true).await;
    let today = day(AS_OF);
    let tomorrow = today + Days::new(1);
    let c = client(&sim);
    let opts = acme_options(today);
    let collect_on = |store, date: NaiveDate| {
        let mut opts = opts.clone();
        opts.date = date;
        let (c, sim) = (&c, &sim);
        async move {
            let before = age_requests(sim);
            let now = date.and_hms_opt(6, 0, 0).unwrap().and_utc();
            let outcome = collect::collect(c, store, &opts, now)
                .await
                .expect("collect");
            assert!(outcome.is_committed());
            age_requests(sim) - before
        }
    };
    let (_dir, carried) = temp_sqlite();
    carried.ensure_ready().await.unwrap();
    let first = collect_on(&carried, today).await;
    assert!(first > 0, "a first snapshot asks");
    let instance = collect::instance_id(&c, Some("acme"));
    let asked: std::collections::HashMap<u64, _> = store_members(&carried, &instance, today)
        .await
        .into_iter()
        .filter_map(|m| m.member_since.map(|since| (m.id, since)))
        .collect();
    assert!(!asked.is_empty(), "the sim has never-seen direct members");

    sim.set_as_of(tomorrow);
    let with_previous = collect_on(&carried, tomorrow).await;
    let (_dir2, fresh) = temp_sqlite();
    fresh.ensure_ready().await.unwrap();
    let without_previous = collect_on(&fresh, tomorrow).await;

    let next = store_members(&carried, &instance, tomorrow).await;
    let reused: Vec<_> = next
        .iter()
        .filter(|m| m.holds_seat && m.last_seen_on().is_none())
        .filter_map(|m| asked.get(&m.id).map(|since| (m, since)))
        .collect();
    assert!(!reused.is_empty());
    for (m, since) in &reused {
        assert_eq!(m.member_since.as_ref(), Some(*since), "member {}", m.id);
    }
    let new_ones = never_seen_direct(&next)
        .into_iter()
        .filter(|id| !asked.contains_key(id))
        .count();
    assert_eq!(
        new_ones, 0,
        "the sim's next day has no new never-seen member"
    );
    assert_eq!(with_previous, 0, "every age carried: nothing asked");
    assert!(
        without_previous > 0,
        "without the previous snapshot: asked again"
    );
    sim.shutdown().await;
}

/// GitLab.com: the top-level group's own membership, asked a hundred members at a time, decides
/// the grace period where it is older than the grace period (the earliest membership is older
/// still); a younger one, or none (a member through a project only), is asked member by member
/// for the earliest direct membership, so a member added to the group yesterday but to one of
/// its projects a year ago is past the grace period.
#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_group_membership_decides_grace_only_when_older_than_it_quirk() {
    let sim = start(Flavour::GitLabCom, 400, true).await;
    let today = day(AS_OF);
    let ago = |days: u64| Some(today - Days::new(days));
    let old_group = sim.create_user_with_memberships(ago(900), ago(400), ago(800));
    let new_group_old_project = sim.create_user_with_memberships(ago(900), ago(2), ago(300));
    let project_only = sim.create_user_with_memberships(ago(900), None, ago(5));
    let joined_today = sim.create_user_with_memberships(ago(900), ago(0), None);
    let c = client(&sim);
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let opts = acme_options(today);
    let now = today.and_hms_opt(6, 0, 0).unwrap().and_utc();
    let outcome = collect::collect(&c, &store, &opts, now)
        .await
        .expect("collect");
    assert!(outcome.is_committed());
    let instance = collect::instance_id(&c, Some("acme"));
    let members = store_members(&store, &instance, today).await;
    let since = |id: u64| {
        members
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.member_since)
            .map(|t| t.date_naive())
    };
    // The group's membership where it is past the grace period, else the earliest one.
    assert_eq!(since(old_group), ago(400));
    assert_eq!(since(new_group_old_project), ago(300));
    assert_eq!(since(project_only), ago(5));
    assert_eq!(since(joined_today), ago(0));

    // Member by member only where the group membership did not decide.
    let grace = i64::from(opts.grace_days);
    let candidates = never_seen_direct(&members);
    let decided_by_group = |m: &&seatwatch_core::snapshot::Member| {
        m.id != new_group_old_project
            && m.id != project_only
            && m.member_since
                .is_some_and(|t| (today - t.date_naive()).num_days() >= grace)
    };
    let one_by_one = members
        .iter()
        .filter(|m| candidates.contains(&m.id))
        .filter(|m| !decided_by_group(m))
        .count() as u64;
    assert_eq!(sim.requests_served_to(MEMBERSHIPS), one_by_one);
    let batches = sim.requests_served_to(GROUP_MEMBERS);
    assert!(
        batches >= 1 && batches < candidates.len() as u64,
        "{batches} batches for {} members",
        candidates.len()
    );

    let report = report_on(&store, &instance, &members, today).await;
    let listed: HashSet<u64> = report.reclaimable.iter().map(|s| s.id).collect();
    assert!(listed.contains(&old_group));
    assert!(
        listed.contains(&new_group_old_project),
        "in a project for 300 days"
    );
    assert!(!listed.contains(&project_only), "inside its grace period");
    assert!(!listed.contains(&joined_today), "inside its grace period");
    sim.shutdown().await;
}

/// The report of the day `store` committed for `instance`, with the default policy.
async fn report_on(
    store: &dyn SnapshotStore,
    instance: &seatwatch_core::snapshot::InstanceId,
    members: &[seatwatch_core::snapshot::Member],
    today: NaiveDate,
) -> analyse::Report {
    let day_summary = store.latest_day(instance).await.unwrap().unwrap();
    analyse::build_report(
        &day_summary,
        members,
        &[],
        &[],
        &Policy::default(),
        today.and_hms_opt(7, 0, 0).unwrap().and_utc(),
    )
}

async fn store_members(
    store: &dyn SnapshotStore,
    instance: &seatwatch_core::snapshot::InstanceId,
    date: NaiveDate,
) -> Vec<seatwatch_core::snapshot::Member> {
    store.members(instance, date).await.expect("members")
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_subscription_start_is_not_guessed_quirk() {
    let sim = start(Flavour::GitLabCom, 120, true).await;
    let c = client(&sim);
    let (_dir, store) = temp_sqlite();
    store.ensure_ready().await.unwrap();
    let mut opts = CollectOptions::new(day(AS_OF));
    opts.group = Some("acme".into());
    let now = day(AS_OF).and_hms_opt(6, 0, 0).unwrap().and_utc();
    collect::collect(&c, &store, &opts, now)
        .await
        .expect("collect");
    let instance = collect::instance_id(&c, Some("acme"));
    let summary = store.latest_day(&instance).await.unwrap().unwrap();
    assert!(summary.seats.term_end.is_some(), "end_date is reported");
    assert_eq!(summary.seats.term_start, None, "no end_date - 365");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_user_created_mid_listing_is_listed_once_quirk() {
    for keyset in [true, false] {
        let sim = start(Flavour::SelfManaged, 250, keyset).await;
        let c = client(&sim);
        let total = sim.expected().users;
        let mut created = None;
        let ids = list_users_with(&c, None, |page| {
            if page == 1 {
                created = Some(sim.create_user(None));
            }
        })
        .await;
        let created = created.expect("a user was created");
        // GitLab's ids follow creation: the new user sorts after everyone listed so far.
        assert_eq!(created, total + 1, "keyset {keyset}");
        assert_each_once(&ids, &live_ids(total + 1, &[]));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn billable_member_memberships_are_direct_memberships_only_quirk() {
    let sim = start(Flavour::GitLabCom, 300, true).await;
    let joined = sim.create_user(Some(day(AS_OF) - Days::new(400)));
    let RawAnswer {
        status,
        headers,
        body,
    } = gitlab::get(
        &sim,
        &format!("/groups/acme/billable_members/{joined}/memberships"),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.get("x-total").is_some(), "offset-paginated");
    let rows: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0]["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with(AS_OF)),
        "the membership's own date, not the account's: {body}"
    );
    assert_eq!(rows[0]["access_level"]["integer_value"], 30);
    // A member there only through an invited group has no direct membership.
    let c = client(&sim);
    let mut invited = None;
    let mut pages = std::pin::pin!(c.billable_members_from("acme", None));
    while let Some(page) = pages.next().await {
        if let Some(m) = page
            .expect("page")
            .0
            .into_iter()
            .find(|m| m.membership_type.as_deref() == Some("group_invite"))
        {
            invited = Some(m.id);
            break;
        }
    }
    let invited = invited.expect("the simulated group has invited members");
    assert!(
        c.billable_member_memberships("acme", invited)
            .await
            .expect("memberships")
            .is_empty()
    );
    // Deleted: User.find fails; not a member: 404 too. Nobody else may ask (400).
    assert!(sim.delete_user(joined));
    let RawAnswer { status, body, .. } = gitlab::get(
        &sim,
        &format!("/groups/acme/billable_members/{joined}/memberships"),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"message":"404 Not found"}"#)
    );
    let nonadmin = gitlab::get(
        &sim,
        &format!("/groups/acme/billable_members/{invited}/memberships"),
        tokens::NON_ADMIN,
    )
    .await;
    assert_eq!(nonadmin.status, 400);
    sim.shutdown().await;
}
