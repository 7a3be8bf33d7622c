//! One contract, two adapters: every case runs on SQLite (a temp file) and on DynamoDB (moto).
//!
//! Each case gets a fresh store. The DynamoDB suite shares one moto server for all its cases
//! (each with its own table), started and stopped by the test itself.

use std::process::Command;

use chrono::{DateTime, NaiveDate, Utc};
use seatwatch::store::{self, CarriedForward, RunId, SnapshotStore, StoreError, StoreUrl};
use seatwatch_core::duo::{DuoAddOn, DuoHolder, DuoSnapshot, DuoUse};
use seatwatch_core::snapshot::{
    Activity, ActivityCoverage, DaySummary, Flavour, InstanceId, Member, SeatCounts, Source,
    UserState,
};
use seatwatch_testkit::{moto, synthetic};

const RETENTION_DAYS: u32 = 400;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn time(s: &str) -> DateTime<Utc> {
    s.parse().expect("valid test timestamp")
}

fn instance(name: &str) -> InstanceId {
    InstanceId(name.to_string())
}

/// Members that between them set every field to something other than its default.
fn member(id: u64) -> Member {
    let states = [
        UserState::Active,
        UserState::Blocked,
        UserState::Deactivated,
        UserState::LdapBlocked,
        UserState::Other("quarantined".into()),
    ];
    Member {
        id,
        username: format!("user.{id}"),
        name: format!("Zoë O'Brien-Łukasz <{id}> \"quoted\""),
        email: (!id.is_multiple_of(4)).then(|| format!("user.{id}@example.com")),
        state: states[(id % 5) as usize].clone(),
        bot: id.is_multiple_of(7),
        admin: id.is_multiple_of(11),
        auditor: id.is_multiple_of(13),
        external: id.is_multiple_of(3),
        holds_seat: id % 2 == 1,
        membership_type: (id % 3 == 1).then(|| "project_invite".to_string()),
        created_at: Some(time("2023-04-05T06:07:08.123Z") + chrono::Duration::hours(id as i64)),
        last_activity_on: (!id.is_multiple_of(5))
            .then(|| date(2026, 1, 1) - chrono::Days::new(id % 300)),
        last_sign_in_at: (!id.is_multiple_of(6)).then(|| time("2025-12-24T23:59:59Z")),
        current_sign_in_at: (!id.is_multiple_of(8)).then(|| time("2026-01-02T00:00:00.500Z")),
        last_login_at: (id.is_multiple_of(9)).then(|| time("2026-01-03T12:34:56Z")),
        member_since: (id % 5 == 2).then(|| time("2025-11-30T08:09:10.250Z")),
        activity: if id % 4 == 1 {
            Activity {
                pushes: 1,
                commits: 12,
                mrs_opened: 2,
                mrs_merged: 3,
                mrs_approved: 4,
                issues_opened: 5,
                issues_closed: 6,
                comments: 7,
                other: u32::MAX,
            }
        } else {
            Activity::default()
        },
        activity_unknown: id.is_multiple_of(10),
        last_contribution_on: (id % 3 != 2).then(|| date(2025, 12, 1) + chrono::Days::new(id % 40)),
    }
}

fn members(ids: std::ops::Range<u64>) -> Vec<Member> {
    ids.map(member).collect()
}

fn summary(instance: &InstanceId, day: NaiveDate, members: &[Member]) -> DaySummary {
    let (counted, aggregates) = synthetic::two_day_aggregates(members, day);
    DaySummary {
        instance: instance.clone(),
        date: day,
        collected_at: day.and_hms_opt(3, 4, 5).expect("valid time").and_utc(),
        source: Source {
            flavour: Flavour::SelfManaged,
            gitlab_version: Some("18.1.1-ee".into()),
        },
        seats: SeatCounts {
            purchased: Some(100),
            in_use: aggregates.seat_holders,
            max_used: Some(120),
            owed: Some(20),
            plan: Some("ultimate".into()),
            term_start: Some(date(2025, 6, 1)),
            term_end: Some(date(2026, 5, 31)),
            licence: Default::default(),
        },
        aggregates,
        token_expires_at: Some(date(2026, 9, 1)),
        requests: 42,
        activity: ActivityCoverage::Days(counted),
        contributions_known_since: None,
        duo: None,
    }
}

/// Writes `members` as one run of `day` in parts of `part_size`, commits it, returns its summary.
async fn collect_day(
    store: &dyn SnapshotStore,
    instance: &InstanceId,
    day: NaiveDate,
    members: &[Member],
    part_size: usize,
) -> DaySummary {
    let run = RunId::new(instance.clone(), day);
    let mut parts = 0;
    for chunk in members.chunks(part_size.max(1)) {
        put_part(store, &run, parts, chunk).await;
        parts += 1;
    }
    let summary = summary(instance, day, members);
    store
        .commit_day(&run, parts, &summary)
        .await
        .expect("commit_day");
    summary
}

/// Writes `members` as part `part` of `run`, as a collect writes each page.
async fn put_part(store: &dyn SnapshotStore, run: &RunId, part: u32, members: &[Member]) {
    store
        .put_members(run, part, members)
        .await
        .unwrap_or_else(|e| panic!("put part {part}: {e:?}"));
}

/// Commits `run` as `parts` parts under the summary of a day of `members`.
async fn commit_run(
    store: &dyn SnapshotStore,
    run: &RunId,
    parts: u32,
    members: &[Member],
) -> Result<(), StoreError> {
    store
        .commit_day(run, parts, &summary(&run.instance, run.date, members))
        .await
}

fn sorted(mut members: Vec<Member>) -> Vec<Member> {
    members.sort_by_key(|m| m.id);
    members
}

/// Holders of two add-ons with every kind of Duo use, `ids` of each.
fn duo_holders(ids: std::ops::Range<u64>) -> Vec<DuoHolder> {
    let uses = [
        DuoUse::Unknown,
        DuoUse::Never,
        DuoUse::On(date(2025, 12, 30)),
    ];
    ["CODE_SUGGESTIONS", "DUO_ENTERPRISE"]
        .into_iter()
        .flat_map(|add_on| {
            ids.clone().map(move |id| DuoHolder {
                add_on: add_on.to_string(),
                user_id: id,
                username: format!("user.{id}"),
                last_duo_use: uses[(id % 3) as usize],
                last_activity_on: (id % 2 == 0).then(|| date(2025, 12, 31)),
                last_login_at: (id % 4 == 0).then(|| time("2025-12-31T08:00:00.250Z")),
                first_seen_assigned: date(2025, 11, 1) + chrono::Days::new(id % 20),
            })
        })
        .collect()
}

/// A day summary that read Duo seats and tracks contributions.
fn duo_summary(instance: &InstanceId, day: NaiveDate, members: &[Member]) -> DaySummary {
    DaySummary {
        contributions_known_since: Some(date(2025, 10, 3)),
        duo: Some(DuoSnapshot {
            add_ons: vec![
                DuoAddOn {
                    add_on: "CODE_SUGGESTIONS".into(),
                    purchased: 50,
                    assigned: 40,
                },
                DuoAddOn {
                    add_on: "DUO_AMAZON_Q".into(),
                    purchased: 5,
                    assigned: 0,
                },
            ],
            activity_exposed: true,
            tracked_since: date(2025, 11, 1),
        }),
        ..summary(instance, day, members)
    }
}

/// One run of `day`: members, then Duo holders, then the commit.
async fn collect_duo_day(
    store: &dyn SnapshotStore,
    instance: &InstanceId,
    day: NaiveDate,
    members: &[Member],
    holders: &[DuoHolder],
) -> DaySummary {
    let run = RunId::new(instance.clone(), day);
    put_part(store, &run, 0, members).await;
    store
        .put_duo_holders(&run, holders)
        .await
        .expect("put_duo_holders");
    let summary = duo_summary(instance, day, members);
    store
        .commit_day(&run, 1, &summary)
        .await
        .expect("commit_day");
    summary
}

fn sorted_holders(mut holders: Vec<DuoHolder>) -> Vec<DuoHolder> {
    holders.sort_by(|a, b| (&a.add_on, a.user_id).cmp(&(&b.add_on, b.user_id)));
    holders
}

// ---- the cases ------------------------------------------------------------------------------

async fn duo_holders_and_the_duo_day_round_trip(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let mut holders = duo_holders(1..40);
    holders.reverse();
    let summary = collect_duo_day(store, &gl, day, &members(1..20), &holders).await;

    assert_eq!(
        store.duo_holders(&gl, day).await.expect("holders"),
        sorted_holders(holders)
    );
    let latest = store.latest_day(&gl).await.expect("latest").expect("a day");
    assert_eq!(latest.duo, summary.duo);
    assert_eq!(
        latest.contributions_known_since,
        summary.contributions_known_since
    );
    assert!(
        store
            .duo_holders(&gl, date(2026, 1, 2))
            .await
            .expect("none")
            .is_empty()
    );
}

async fn duo_holders_are_invisible_until_the_commit(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let committed = duo_holders(1..10);
    collect_duo_day(store, &gl, day, &members(1..5), &committed).await;
    // A re-run that wrote its holders but never committed.
    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &members(1..5)).await;
    store
        .put_duo_holders(&run, &duo_holders(100..150))
        .await
        .expect("put_duo_holders");
    assert_eq!(
        store.duo_holders(&gl, day).await.expect("holders"),
        sorted_holders(committed)
    );
}

async fn a_rerun_replaces_the_duo_holders_never_duplicates(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    collect_duo_day(store, &gl, day, &members(1..5), &duo_holders(1..60)).await;
    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &members(1..5)).await;
    // Written twice in the same run (a retried step): the second replaces the first.
    store
        .put_duo_holders(&run, &duo_holders(1..30))
        .await
        .expect("first write");
    let fewer = duo_holders(5..12);
    store
        .put_duo_holders(&run, &fewer)
        .await
        .expect("second write");
    store
        .commit_day(&run, 1, &duo_summary(&gl, day, &members(1..5)))
        .await
        .expect("commit");
    assert_eq!(
        store.duo_holders(&gl, day).await.expect("holders"),
        sorted_holders(fewer)
    );
    // A day without Duo (no holders written) reads none, whatever an earlier run held.
    collect_day(store, &gl, day, &members(1..5), 10).await;
    assert!(
        store
            .duo_holders(&gl, day)
            .await
            .expect("holders")
            .is_empty()
    );
}

async fn carried_forward_holds_only_members_with_something_to_carry(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let mut written = members(1..120);
    // GitLab.com membership ages on a few members, some of them without a contribution.
    for m in written.iter_mut().filter(|m| m.id % 7 == 0) {
        m.member_since =
            Some(day.and_hms_opt(9, 30, 0).unwrap().and_utc() - chrono::Days::new(m.id));
    }
    collect_day(store, &gl, day, &written, 25).await;
    let expected: std::collections::HashMap<u64, CarriedForward> = written
        .iter()
        .map(|m| {
            let carried = CarriedForward {
                last_contribution_on: m.last_contribution_on,
                member_since: m.member_since,
            };
            (m.id, carried)
        })
        .filter(|(_, carried)| *carried != CarriedForward::default())
        .collect();
    assert!(!expected.is_empty() && expected.len() < written.len());
    assert!(
        expected
            .values()
            .any(|c| c.member_since.is_some() && c.last_contribution_on.is_none()),
        "a membership age alone is carried"
    );
    assert_eq!(
        store.carried_forward(&gl, day).await.expect("carry"),
        expected
    );
    assert!(
        store
            .carried_forward(&gl, date(2026, 1, 2))
            .await
            .expect("no day")
            .is_empty()
    );
}

async fn members_round_trip_with_every_field(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    // Written out of id order, across parts: the store returns them by id.
    let mut written = members(1..181);
    written.reverse();
    let summary = collect_day(store, &gl, day, &written, 50).await;

    let read = store.members(&gl, day).await.expect("members");
    assert_eq!(read, sorted(written));
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(summary));
}

async fn empty_day_commits_and_reads_empty(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &[]).await;
    let summary = summary(&gl, day, &[]);
    store.commit_day(&run, 1, &summary).await.expect("commit");
    assert_eq!(store.members(&gl, day).await.expect("members"), vec![]);
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(summary));
}

async fn latest_day_and_date_ranges(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    assert_eq!(store.latest_day(&gl).await.expect("latest"), None);
    let (d1, d2, d3) = (date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 2));
    // Committed out of order: "latest" is by date, not by write time.
    let s3 = collect_day(store, &gl, d3, &members(1..4), 10).await;
    let s1 = collect_day(store, &gl, d1, &members(1..3), 10).await;
    let s2 = collect_day(store, &gl, d2, &members(1..5), 10).await;

    assert_eq!(
        store.latest_day(&gl).await.expect("latest"),
        Some(s3.clone())
    );
    let all = store.days(&gl, d1, d3).await.expect("days");
    assert_eq!(all, vec![s1.clone(), s2.clone(), s3.clone()]);
    assert_eq!(
        store.days(&gl, d2, d2).await.expect("one day"),
        vec![s2.clone()]
    );
    assert_eq!(
        store.days(&gl, d2, date(2026, 1, 1)).await.expect("range"),
        vec![s2]
    );
    assert_eq!(
        store
            .days(&gl, date(2020, 1, 1), date(2025, 12, 30))
            .await
            .expect("range"),
        vec![s1]
    );
    assert_eq!(store.days(&gl, d3, d1).await.expect("inverted"), vec![]);
    assert_eq!(
        store
            .days(&gl, date(2026, 2, 1), date(2026, 3, 1))
            .await
            .expect("after"),
        vec![]
    );
}

async fn uncommitted_parts_are_invisible(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let committed = members(1..11);
    let summary = collect_day(store, &gl, day, &committed, 4).await;

    // A second run of the same day and a run of the next day write parts but never commit.
    let rerun = RunId::new(gl.clone(), day);
    put_part(store, &rerun, 0, &members(100..103)).await;
    let next = RunId::new(gl.clone(), date(2026, 1, 2));
    put_part(store, &next, 0, &members(200..205)).await;

    assert_eq!(store.members(&gl, day).await.expect("members"), committed);
    assert_eq!(
        store.members(&gl, next.date).await.expect("members"),
        vec![]
    );
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(summary));
    assert_eq!(
        store.days(&gl, day, next.date).await.expect("days").len(),
        1
    );
}

async fn rerun_with_fewer_members_leaves_no_stale_members(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    collect_day(store, &gl, day, &members(1..301), 40).await;
    let smaller = members(1..51);
    let summary = collect_day(store, &gl, day, &smaller, 40).await;

    assert_eq!(store.members(&gl, day).await.expect("members"), smaller);
    assert_eq!(
        store.latest_day(&gl).await.expect("latest"),
        Some(summary.clone())
    );
    assert_eq!(
        store.days(&gl, day, day).await.expect("days"),
        vec![summary],
        "a re-run replaces the day record, never duplicates it"
    );
}

async fn rewriting_a_part_replaces_it(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &members(1..11)).await;
    // A retried part (e.g. after a timeout) is written again, possibly from a shifted page.
    put_part(store, &run, 0, &members(1..6)).await;
    put_part(store, &run, 1, &members(6..9)).await;
    commit_run(store, &run, 2, &members(1..9))
        .await
        .expect("commit");
    assert_eq!(
        store.members(&gl, day).await.expect("members"),
        members(1..9)
    );
}

async fn a_user_listed_twice_is_read_once(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let run = RunId::new(gl.clone(), day);
    // Offset pagination shifts when users are added mid-listing: user 5 shows up on two pages.
    let mut later = member(5);
    later.name = "Renamed Between Pages".into();
    put_part(store, &run, 0, &members(1..6)).await;
    put_part(store, &run, 1, &[later.clone(), member(6)]).await;
    commit_run(store, &run, 2, &members(1..7))
        .await
        .expect("commit");
    let read = store.members(&gl, day).await.expect("members");
    let ids: Vec<u64> = read.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(read[4], later, "the later part wins");
}

async fn parts_beyond_the_committed_count_are_not_read(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &members(1..4)).await;
    put_part(store, &run, 1, &members(4..7)).await;
    put_part(store, &run, 2, &members(7..10)).await;
    commit_run(store, &run, 2, &members(1..7))
        .await
        .expect("commit");
    assert_eq!(
        store.members(&gl, day).await.expect("members"),
        members(1..7)
    );
}

async fn commit_refuses_a_missing_part(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let previous = collect_day(store, &gl, day, &members(1..4), 10).await;

    let run = RunId::new(gl.clone(), day);
    put_part(store, &run, 0, &members(1..3)).await;
    put_part(store, &run, 2, &members(5..7)).await;
    let err = commit_run(store, &run, 3, &members(1..7))
        .await
        .expect_err("part 1 was never written");
    assert!(
        matches!(
            err,
            StoreError::IncompleteRun {
                missing_part: 1,
                parts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(previous));
    assert_eq!(
        store.members(&gl, day).await.expect("members"),
        members(1..4)
    );
}

async fn instances_are_kept_apart(store: &dyn SnapshotStore) {
    let a = instance("gitlab.example.com");
    let b = instance("gitlab.com#acme");
    let c = instance("gitlab.example.com/gitlab");
    let day = date(2026, 1, 1);
    assert_eq!(store.instances().await.expect("instances"), vec![]);
    let sa = collect_day(store, &a, day, &members(1..6), 10).await;
    let sb = collect_day(store, &b, day, &members(50..53), 10).await;
    // An instance with only uncommitted parts is not listed.
    put_part(store, &RunId::new(c.clone(), day), 0, &members(1..3)).await;

    assert_eq!(store.members(&a, day).await.expect("a"), members(1..6));
    assert_eq!(store.members(&b, day).await.expect("b"), members(50..53));
    assert_eq!(store.members(&c, day).await.expect("c"), vec![]);
    assert_eq!(store.latest_day(&a).await.expect("a"), Some(sa));
    assert_eq!(store.latest_day(&b).await.expect("b"), Some(sb));
    let mut listed = store.instances().await.expect("instances");
    listed.sort();
    assert_eq!(listed, vec![b, a]);
}

async fn checkpoint_slot(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let other = instance("gitlab.com#acme");
    let day = date(2026, 1, 1);
    assert_eq!(store.load_checkpoint(&gl, day).await.expect("load"), None);
    let first = r#"{"next_page":3,"cursor":"eyJpZCI6MTIzfQ==","note":"ünïcode"}"#;
    store.save_checkpoint(&gl, day, first).await.expect("save");
    assert_eq!(
        store
            .load_checkpoint(&gl, day)
            .await
            .expect("load")
            .as_deref(),
        Some(first)
    );
    let second = r#"{"next_page":4}"#;
    store
        .save_checkpoint(&gl, day, second)
        .await
        .expect("overwrite");
    assert_eq!(
        store
            .load_checkpoint(&gl, day)
            .await
            .expect("load")
            .as_deref(),
        Some(second)
    );
    assert_eq!(
        store
            .load_checkpoint(&gl, date(2026, 1, 2))
            .await
            .expect("other day"),
        None
    );
    assert_eq!(
        store
            .load_checkpoint(&other, day)
            .await
            .expect("other instance"),
        None
    );
    store.clear_checkpoint(&gl, day).await.expect("clear");
    assert_eq!(store.load_checkpoint(&gl, day).await.expect("load"), None);
    store
        .clear_checkpoint(&gl, day)
        .await
        .expect("clearing twice is fine");
}

async fn ensure_ready_is_idempotent(store: &dyn SnapshotStore) {
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let summary = collect_day(store, &gl, day, &members(1..3), 10).await;
    store.ensure_ready().await.expect("second ensure_ready");
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(summary));
}

/// Every case, each on a fresh store from `make`.
async fn run_contract(name: &str, make: impl AsyncFn() -> Box<dyn SnapshotStore>) {
    macro_rules! case {
        ($case:ident) => {{
            eprintln!("{name}: {}", stringify!($case));
            let store = make().await;
            $case(&*store).await;
        }};
    }
    case!(members_round_trip_with_every_field);
    case!(empty_day_commits_and_reads_empty);
    case!(latest_day_and_date_ranges);
    case!(uncommitted_parts_are_invisible);
    case!(rerun_with_fewer_members_leaves_no_stale_members);
    case!(rewriting_a_part_replaces_it);
    case!(a_user_listed_twice_is_read_once);
    case!(parts_beyond_the_committed_count_are_not_read);
    case!(commit_refuses_a_missing_part);
    case!(instances_are_kept_apart);
    case!(checkpoint_slot);
    case!(ensure_ready_is_idempotent);
    case!(duo_holders_and_the_duo_day_round_trip);
    case!(duo_holders_are_invisible_until_the_commit);
    case!(a_rerun_replaces_the_duo_holders_never_duplicates);
    case!(carried_forward_holds_only_members_with_something_to_carry);
}

async fn open_ready(url: &StoreUrl, aws: Option<&aws_config::SdkConfig>) -> Box<dyn SnapshotStore> {
    let store = store::open(url, aws, RETENTION_DAYS)
        .await
        .expect("open store");
    store.ensure_ready().await.expect("ensure_ready");
    store
}

#[tokio::test]
async fn sqlite_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = std::cell::Cell::new(0);
    run_contract("sqlite", async || {
        counter.set(counter.get() + 1);
        let url = StoreUrl::Sqlite(dir.path().join(format!("store-{}.db", counter.get())));
        open_ready(&url, None).await
    })
    .await;
}

#[tokio::test]
async fn dynamodb_contract() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    run_contract("dynamodb", async || {
        let url = StoreUrl::DynamoDb(moto::unique("contract"));
        open_ready(&url, Some(&aws)).await
    })
    .await;
}

// ---- a crash between member parts and commit -----------------------------------------------

const CRASH_STORE_ENV: &str = "SEATWATCH_TEST_CRASH_STORE";
const CRASH_DAY: (i32, u32, u32) = (2026, 1, 1);

/// Not a test on its own (hence ignored): re-executed by [`crash_leaves_the_previous_day_intact`]
/// with `SEATWATCH_TEST_CRASH_STORE` set, it writes the parts of a re-run and of the next day, then
/// aborts the process before any commit, as a Lambda timeout or OOM kill would.
#[tokio::test]
#[ignore = "a helper process: run by the crash tests, not on its own"]
async fn crash_child() {
    let url = std::env::var(CRASH_STORE_ENV).expect("run by the crash tests, which set the store");
    let url: StoreUrl = url.parse().expect("store url from the parent");
    let aws = match url {
        StoreUrl::DynamoDb(_) => {
            Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
        }
        StoreUrl::Sqlite(_) => None,
    };
    let store = store::open(&url, aws.as_ref(), RETENTION_DAYS)
        .await
        .expect("open");
    let gl = instance("gitlab.example.com");
    let (y, m, d) = CRASH_DAY;
    let rerun = RunId::new(gl.clone(), date(y, m, d));
    put_part(&*store, &rerun, 0, &members(500..510)).await;
    let next = RunId::new(gl, date(y, m, d + 1));
    put_part(&*store, &next, 0, &members(600..700)).await;
    put_part(&*store, &next, 1, &members(700..800)).await;
    std::process::abort();
}

async fn crash_leaves_the_previous_day_intact(
    url: StoreUrl,
    aws: Option<&aws_config::SdkConfig>,
    child_env: Vec<(&'static str, String)>,
) {
    let store = open_ready(&url, aws).await;
    let gl = instance("gitlab.example.com");
    let (y, m, d) = CRASH_DAY;
    let day = date(y, m, d);
    let committed = members(1..121);
    let summary = collect_day(&*store, &gl, day, &committed, 50).await;

    let status = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "crash_child", "--include-ignored", "--nocapture"])
        .env(CRASH_STORE_ENV, url.to_string())
        .envs(child_env)
        .status()
        .expect("re-run the test binary");
    // SIGABRT, not a panic's exit code 101: the child got as far as abort().
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(6),
        "the child must abort after writing its parts ({status})"
    );

    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(summary));
    assert_eq!(store.members(&gl, day).await.expect("members"), committed);
    assert_eq!(
        store.members(&gl, date(y, m, d + 1)).await.expect("next"),
        vec![]
    );

    // The day after the crash, collection works again and replaces the half-written runs.
    let next = date(y, m, d + 1);
    let after = collect_day(&*store, &gl, next, &members(1..10), 50).await;
    assert_eq!(store.latest_day(&gl).await.expect("latest"), Some(after));
    assert_eq!(
        store.members(&gl, next).await.expect("members"),
        members(1..10)
    );
}

#[tokio::test]
async fn sqlite_crash_between_parts_and_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = StoreUrl::Sqlite(dir.path().join("crash.db"));
    crash_leaves_the_previous_day_intact(url, None, Vec::new()).await;
}

#[tokio::test]
async fn dynamodb_crash_between_parts_and_commit() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let url = StoreUrl::DynamoDb(moto::unique("crash"));
    crash_leaves_the_previous_day_intact(url, Some(&aws), moto::aws_env(&moto)).await;
}

// ---- SQLite only ----------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_prunes_members_past_retention_and_keeps_days() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = StoreUrl::Sqlite(dir.path().join("retention.db"));
    let store = store::open(&url, None, 30).await.expect("open");
    let gl = instance("gitlab.example.com");
    let first = date(2026, 1, 1);
    let s1 = collect_day(&*store, &gl, first, &members(1..6), 10).await;

    collect_day(
        &*store,
        &gl,
        first + chrono::Days::new(29),
        &members(1..6),
        10,
    )
    .await;
    assert_eq!(
        store.members(&gl, first).await.expect("members"),
        members(1..6),
        "29 days on, still within retention"
    );

    let last = collect_day(
        &*store,
        &gl,
        first + chrono::Days::new(30),
        &members(1..6),
        10,
    )
    .await;
    assert_eq!(store.members(&gl, first).await.expect("members"), vec![]);
    let days = store.days(&gl, first, last.date).await.expect("days");
    assert_eq!(days.len(), 3, "day records are kept");
    assert_eq!(days[0], s1);
}

#[tokio::test]
async fn sqlite_schema_is_queryable_with_plain_sql() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plain.db");
    let store = store::open(&StoreUrl::Sqlite(path.clone()), None, RETENTION_DAYS)
        .await
        .expect("open");
    let gl = instance("gitlab.example.com");
    let day = date(2026, 1, 1);
    let written = members(1..21);
    collect_day(&*store, &gl, day, &written, 7).await;
    // An uncommitted run must not show in the view.
    put_part(&*store, &RunId::new(gl.clone(), day), 0, &members(100..110)).await;

    let conn = rusqlite::Connection::open(&path).expect("open with plain SQLite");
    let mut stmt = conn
        .prepare(
            "SELECT username, email, holds_seat, last_activity_on, last_sign_in_at, pushes \
             FROM committed_members WHERE instance = 'gitlab.example.com' AND date = '2026-01-01' \
             ORDER BY id",
        )
        .expect("prepare");
    type Row = (
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        u32,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<Row> = written
        .iter()
        .map(|m| {
            (
                m.username.clone(),
                m.email.clone(),
                m.holds_seat,
                m.last_activity_on.map(|d| d.to_string()),
                m.last_sign_in_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                m.activity.pushes,
            )
        })
        .collect();
    assert_eq!(rows, expected);
    let in_use: i64 = conn
        .query_row(
            "SELECT json_extract(summary, '$.seats.in_use') FROM days WHERE date = '2026-01-01'",
            [],
            |r| r.get(0),
        )
        .expect("summary JSON");
    assert_eq!(
        in_use as usize,
        written.iter().filter(|m| m.holds_seat).count()
    );
}

#[tokio::test]
async fn sqlite_database_from_before_member_since_opens_and_keeps_its_members() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    let url = StoreUrl::Sqlite(path.clone());
    let gl = instance("gitlab.example.com");
    let first = date(2026, 1, 1);
    let mut old_members = members(1..8);
    {
        let store = store::open(&url, None, RETENTION_DAYS).await.expect("open");
        collect_day(&*store, &gl, first, &old_members, 10).await;
    }
    // What a database written before the column existed looks like.
    {
        let conn = rusqlite::Connection::open(&path).expect("open the file");
        conn.execute_batch(
            "DROP VIEW committed_members; ALTER TABLE members DROP COLUMN member_since; \
             CREATE VIEW committed_members AS \
             SELECT m.* FROM members m JOIN days d USING (instance, date, run);",
        )
        .expect("old schema");
    }
    let store = store::open(&url, None, RETENTION_DAYS)
        .await
        .expect("an old database opens");
    for m in &mut old_members {
        m.member_since = None;
    }
    assert_eq!(
        sorted(store.members(&gl, first).await.expect("members")),
        sorted(old_members),
        "old rows read with member_since unknown, nothing else lost"
    );
    let next = first + chrono::Days::new(1);
    collect_day(&*store, &gl, next, &members(1..8), 10).await;
    assert_eq!(
        sorted(store.members(&gl, next).await.expect("members")),
        sorted(members(1..8)),
        "new rows keep member_since"
    );
}
