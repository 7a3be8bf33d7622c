//! Activity is counted by complete calendar day (issue: GitLab fidelity §1, §2, §6): the simulated
//! GitLab over HTTP, its clock set to an hour of the day, the real client and collector, SQLite,
//! and `data/report.json` as the report renders it. Ground truth is the simulator's own events of
//! a day ([`SimHandle::events_of_day`]), counted with the same kinds the collector uses.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use seatwatch::collect::{self, CollectOptions};
use seatwatch::publish::Destination;
use seatwatch::store::SnapshotReader;
use seatwatch::store::SnapshotStore;
use seatwatch_core::analyse::Policy;
use seatwatch_core::snapshot::{ActivityCoverage, ActivityKind, DayActivity, Member};
use seatwatch_gitlab::ClientOptions;
use seatwatch_gitlab::types::parse_events;
use seatwatch_sim::{Faults, Flavour, RetryAfterMode, SimHandle, tokens};
use seatwatch_testkit::gitlab;
use seatwatch_testkit::store::temp_sqlite;

/// The route of the group's projects (the simulator's `requests_served_to` and fault paths).
const GROUP_PROJECTS: &str = "/api/v4/groups/acme/projects";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

async fn sim(flavour: Flavour, users: u32, utc_offset_seconds: i32) -> SimHandle {
    let mut cfg = gitlab::config_on(flavour, users, day("2026-06-30"));
    cfg.utc_offset_seconds = utc_offset_seconds;
    gitlab::start(cfg).await
}

fn group(flavour: Flavour) -> Option<String> {
    (flavour == Flavour::GitLabCom).then(|| "acme".to_string())
}

/// Sets the simulator's clock to `at` on `date` and collects `date`.
async fn collect_at(
    sim: &SimHandle,
    store: &dyn SnapshotStore,
    flavour: Flavour,
    date: NaiveDate,
    at: NaiveTime,
    time_zone: chrono_tz::Tz,
) {
    sim.set_clock(date, at);
    let c = gitlab::client(sim, tokens::ADMIN);
    let mut opts = CollectOptions::new(date);
    opts.group = group(flavour);
    opts.time_zone = time_zone;
    let outcome = collect::collect(&c, store, &opts, date.and_time(at).and_utc())
        .await
        .expect("collect succeeds");
    assert!(outcome.is_committed());
}

async fn counted_days(store: &dyn SnapshotStore, date: NaiveDate) -> Vec<DayActivity> {
    let instance = store.instances().await.unwrap().remove(0);
    let d = store
        .days(&instance, date, date)
        .await
        .unwrap()
        .pop()
        .expect("committed");
    d.aggregates.activity_days
}

/// What a correct collector must find for `date`: the simulator's events of that day by the
/// snapshot's non-bot members, counted by kind; and how many members had any.
fn truth(sim: &SimHandle, members: &[Member], date: NaiveDate) -> (u64, u64, u64) {
    let counted: HashSet<u64> = members.iter().filter(|m| !m.bot).map(|m| m.id).collect();
    let body = serde_json::to_vec(&sim.events_of_day(date)).unwrap();
    let events: Vec<_> = parse_events(&body)
        .unwrap()
        .into_iter()
        .filter(|e| e.author_id.is_some_and(|a| counted.contains(&a)))
        .collect();
    let activity = collect::count_activity(&events);
    let authors: HashSet<u64> = events.iter().filter_map(|e| e.author_id).collect();
    (
        events.len() as u64,
        activity.pushes as u64 + activity.comments as u64,
        authors.len() as u64,
    )
}

fn figures(d: &DayActivity) -> (u64, u64, u64) {
    let a = &d.activity;
    let total = ActivityKind::events().map(|k| a.get(k)).sum();
    (total, a.pushes + a.comments, d.with_events)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_at_0530_and_one_at_2300_count_the_same_complete_day() {
    let sim = sim(Flavour::SelfManaged, 600, 0).await;
    let date = day("2026-06-30");
    let (_early, early_store) = temp_sqlite();
    let (_late, late_store) = temp_sqlite();
    let tz = chrono_tz::Tz::UTC;
    collect_at(
        &sim,
        &early_store,
        Flavour::SelfManaged,
        date,
        time(5, 30),
        tz,
    )
    .await;
    collect_at(
        &sim,
        &late_store,
        Flavour::SelfManaged,
        date,
        time(23, 0),
        tz,
    )
    .await;
    let early_days = counted_days(&early_store, date).await;
    let late_days = counted_days(&late_store, date).await;
    assert_eq!(early_days.len(), 1);
    assert_eq!(
        early_days[0].date,
        day("2026-06-29"),
        "never the run's own day"
    );
    assert!(early_days[0].with_events > 0);
    assert_eq!(
        early_days.iter().map(figures).collect::<Vec<_>>(),
        late_days.iter().map(figures).collect::<Vec<_>>(),
        "the hour of the run must not change a complete day"
    );
    // and by 23:00 the run's own day has plenty of events that neither run counted
    assert!(!sim.events_of_day(date).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn report_json_days_entry_for_the_day_before_equals_the_simulators_events() {
    let sim = sim(Flavour::SelfManaged, 800, 0).await;
    let date = day("2026-06-30");
    let (dir, store) = temp_sqlite();
    collect_at(
        &sim,
        &store,
        Flavour::SelfManaged,
        date,
        time(5, 30),
        chrono_tz::Tz::UTC,
    )
    .await;
    let instance = store.instances().await.unwrap().remove(0);
    let site = dir.path().join("site");
    seatwatch::app::render_and_publish(
        &store,
        &instance,
        &Policy::default(),
        date.and_time(time(5, 45)).and_utc(),
        &Destination::Folder(site.clone()),
        None,
    )
    .await
    .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("data/report.json")).unwrap()).unwrap();
    let days = report["days"].as_array().unwrap();
    assert!(
        days.iter().all(|d| d["activity_date"] != "2026-06-30"),
        "no entry describes the run's own day: {days:?}"
    );
    let entry = days
        .iter()
        .find(|d| d["activity_date"] == "2026-06-29")
        .expect("an entry for the day before");
    assert_eq!(entry["date"], "2026-06-30");
    let members = store.members(&instance, date).await.unwrap();
    let (events, pushes_and_comments, authors) = truth(&sim, &members, day("2026-06-29"));
    let a = &entry["activity"];
    let total: u64 = ActivityKind::events()
        .map(|k| a[k.name()].as_u64().unwrap())
        .sum();
    assert_eq!(total, events, "every event of the day, once");
    assert_eq!(
        a["pushes"].as_u64().unwrap() + a["comments"].as_u64().unwrap(),
        pushes_and_comments
    );
    assert_eq!(entry["with_events"].as_u64().unwrap(), authors);
}

#[tokio::test(flavor = "multi_thread")]
async fn missed_days_are_caught_up_and_a_rerun_adds_nothing() {
    let sim = sim(Flavour::SelfManaged, 500, 0).await;
    let (_dir, store) = temp_sqlite();
    let tz = chrono_tz::Tz::UTC;
    let first = day("2026-06-26");
    let date = day("2026-06-30");
    collect_at(&sim, &store, Flavour::SelfManaged, first, time(5, 30), tz).await;
    // The run of 06-26 counted 06-25. The runs of 06-27 to 06-29 are missed: 06-30 catches up
    // every day from 06-26, which was still under way when its own run went.
    collect_at(&sim, &store, Flavour::SelfManaged, date, time(5, 30), tz).await;
    let caught_up = counted_days(&store, date).await;
    let dates: Vec<NaiveDate> = caught_up.iter().map(|d| d.date).collect();
    assert_eq!(
        dates,
        (26..=29)
            .map(|d| NaiveDate::from_ymd_opt(2026, 6, d).unwrap())
            .collect::<Vec<_>>()
    );
    let instance = store.instances().await.unwrap().remove(0);
    let members = store.members(&instance, date).await.unwrap();
    for d in &caught_up {
        let (events, pushes_and_comments, authors) = truth(&sim, &members, d.date);
        assert_eq!(
            figures(d),
            (events, pushes_and_comments, authors),
            "{}",
            d.date
        );
    }
    // The same date again, later in the day: the same days, the same figures, no more.
    collect_at(&sim, &store, Flavour::SelfManaged, date, time(21, 0), tz).await;
    let again = counted_days(&store, date).await;
    assert_eq!(
        again
            .iter()
            .map(|d| (d.date, figures(d)))
            .collect::<Vec<_>>(),
        caught_up
            .iter()
            .map(|d| (d.date, figures(d)))
            .collect::<Vec<_>>()
    );
    let latest = store.latest_day(&instance).await.unwrap().unwrap();
    assert!(matches!(latest.activity, ActivityCoverage::Days(_)));
    // and the report shows each day once
    let history = store.days(&instance, first, date).await.unwrap();
    let r = seatwatch_core::analyse::build_report(
        &latest,
        &members,
        &history,
        &[],
        &Policy::default(),
        date.and_time(time(22, 0)).and_utc(),
    );
    let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for d in &r.days {
        *per_day.entry(d.activity_date).or_default() += 1;
    }
    assert!(per_day.values().all(|&n| n == 1), "{per_day:?}");
    assert_eq!(
        per_day.keys().copied().collect::<Vec<_>>(),
        (25..=29)
            .map(|d| NaiveDate::from_ymd_opt(2026, 6, d).unwrap())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn days_are_the_instances_calendar_days_in_its_time_zone() {
    // An instance two hours east of UTC: its day starts at 22:00 UTC the evening before.
    let sim = sim(Flavour::SelfManaged, 600, 2 * 3600).await;
    let (_dir, store) = temp_sqlite();
    let date = day("2026-06-30");
    let tz: chrono_tz::Tz = "Etc/GMT-2".parse().unwrap(); // POSIX sign: UTC+2
    collect_at(&sim, &store, Flavour::SelfManaged, date, time(5, 30), tz).await;
    let instance = store.instances().await.unwrap().remove(0);
    let members = store.members(&instance, date).await.unwrap();
    let counted = counted_days(&store, date).await;
    assert_eq!(
        figures(&counted[0]),
        truth(&sim, &members, day("2026-06-29"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_com_counts_only_the_groups_projects_and_private_profiles_are_unknown_quirk() {
    let sim = sim(Flavour::GitLabCom, 1500, 0).await;
    collect_gitlab_com_and_check_the_groups_projects(&sim).await;
}

/// The group's projects are read beside the listing, and the members' events are asked without
/// waiting for them: when the projects answer last, the events wait for them and are still kept
/// only where they happened in the group.
#[tokio::test(flavor = "multi_thread")]
async fn the_groups_projects_answering_after_the_events_still_decide_what_counts_quirk() {
    let sim = sim(Flavour::GitLabCom, 1500, 0).await;
    sim.set_faults(Faults {
        slow: Some((Duration::from_secs(2), 1)),
        only_path: Some(GROUP_PROJECTS.into()),
        ..Faults::default()
    });
    collect_gitlab_com_and_check_the_groups_projects(&sim).await;
}

/// A group whose projects cannot be read fails the run, with the projects named, and commits
/// nothing: the members' events cannot be told in or out of the group without them.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_read_of_the_groups_projects_fails_the_run_and_commits_nothing() {
    let sim = sim(Flavour::GitLabCom, 1500, 0).await;
    sim.set_faults(Faults {
        status_burst: Some((503, 1000)),
        retry_after: RetryAfterMode::NoHeaders,
        only_path: Some(GROUP_PROJECTS.into()),
        ..Faults::default()
    });
    let (_dir, store) = temp_sqlite();
    let date = day("2026-06-30");
    sim.set_clock(date, time(5, 30));
    let c = gitlab::client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            max_retry_time: Duration::from_secs(1),
            ..ClientOptions::default()
        },
    );
    let mut opts = CollectOptions::new(date);
    opts.group = group(Flavour::GitLabCom);
    let error = collect::collect(&c, &store, &opts, date.and_time(time(5, 30)).and_utc())
        .await
        .expect_err("the run cannot count events without the group's projects");
    assert!(
        error.to_string().contains("/groups/acme/projects"),
        "names what failed: {error}"
    );
    for instance in store.instances().await.unwrap() {
        assert!(store.latest_day(&instance).await.unwrap().is_none());
    }
}

/// Collects the group on 2026-06-30 at 05:30 UTC and checks what counted
/// ([`assert_only_the_groups_projects_counted`]).
async fn collect_gitlab_com_and_check_the_groups_projects(sim: &SimHandle) {
    let (_dir, store) = temp_sqlite();
    let date = day("2026-06-30");
    let utc = chrono_tz::Tz::UTC;
    collect_at(sim, &store, Flavour::GitLabCom, date, time(5, 30), utc).await;
    assert_only_the_groups_projects_counted(sim, &store, date).await;
}

/// The counted day holds exactly the simulator's events of the day before `date` in the group's
/// projects, by members whose events the Owner can read; private profiles are unknown.
async fn assert_only_the_groups_projects_counted(
    sim: &SimHandle,
    store: &dyn SnapshotStore,
    date: NaiveDate,
) {
    let instance = store.instances().await.unwrap().remove(0);
    let members = store.members(&instance, date).await.unwrap();
    let unknown: Vec<&Member> = members.iter().filter(|m| m.activity_unknown).collect();
    assert!(!unknown.is_empty(), "private profiles exist on GitLab.com");
    assert!(unknown.iter().all(|m| m.activity.is_empty()));
    let latest = store.latest_day(&instance).await.unwrap().unwrap();
    assert_eq!(latest.aggregates.activity_unknown, unknown.len() as u64);
    // The simulator's events of the day, as an administrator would see them, in the group's
    // projects only (ids up to 180 there), by members whose events the Owner can read.
    let readable: HashSet<u64> = members
        .iter()
        .filter(|m| !m.activity_unknown && !m.bot)
        .map(|m| m.id)
        .collect();
    let body = serde_json::to_vec(&sim.events_of_day(day("2026-06-29"))).unwrap();
    let all = parse_events(&body).unwrap();
    let outside = all
        .iter()
        .filter(|e| e.project_id.is_some_and(|p| p > 180))
        .count();
    assert!(outside > 0, "members also act outside the group");
    let in_group = all
        .iter()
        .filter(|e| {
            e.author_id.is_some_and(|a| readable.contains(&a))
                && e.project_id.is_some_and(|p| p <= 180)
        })
        .count() as u64;
    let counted = counted_days(store, date).await;
    assert_eq!(figures(&counted[0]).0, in_group);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gap_longer_than_the_catch_up_bound_counts_the_bound() {
    let sim = sim(Flavour::SelfManaged, 200, 0).await;
    let (_dir, store) = temp_sqlite();
    let tz = chrono_tz::Tz::UTC;
    collect_at(
        &sim,
        &store,
        Flavour::SelfManaged,
        day("2026-05-01"),
        time(5, 30),
        tz,
    )
    .await;
    let date = day("2026-06-30");
    collect_at(&sim, &store, Flavour::SelfManaged, date, time(5, 30), tz).await;
    let counted = counted_days(&store, date).await;
    assert_eq!(counted.len() as u64, collect::MAX_CATCH_UP_DAYS);
    assert_eq!(counted.last().map(|d| d.date), Some(day("2026-06-29")));
}
