//! A throttle that asks for longer than the retry budget (GitLab fidelity §5; real AWS §2): a
//! self-managed GitLab with `throttle_authenticated_api` on answers `Retry-After` of up to an hour
//! (`lib/gitlab/rack_attack/request_throttle_data.rb`). The run must not be lost: it checkpoints at
//! the last whole page, says how long to wait, and the next round finishes the day with exactly
//! the members of an uninterrupted run. The state machine waits on the field the code writes.

use chrono::{NaiveDate, NaiveTime};
use seatwatch::collect::{self, CollectOptions, CollectOutcome, CollectSummary};
use seatwatch::store::SnapshotReader;
use seatwatch::store::SnapshotStore;
use seatwatch::store::SqliteStore;
use seatwatch_gitlab::Client;
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, RetryAfterMode, SimHandle, tokens};
use seatwatch_testkit::gitlab::{self, start_on};
use seatwatch_testkit::store::sqlite_in;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn sim() -> SimHandle {
    start_on(Flavour::SelfManaged, 1500, day("2026-06-30")).await
}

fn client(sim: &SimHandle) -> Client {
    gitlab::client(sim, tokens::ADMIN)
}

async fn run(c: &Client, store: &dyn SnapshotStore, opts: &CollectOptions) -> CollectOutcome {
    let at = opts
        .date
        .and_time(NaiveTime::from_hms_opt(5, 30, 0).unwrap())
        .and_utc();
    collect::collect(c, store, opts, at)
        .await
        .expect("a long wait is not an error")
}

/// A simulator whose 429s (`faults`) ask to wait an hour, past the retry budget.
async fn throttled_for_an_hour(faults: Faults) -> SimHandle {
    let sim = sim().await;
    sim.set_faults(Faults {
        retry_after: RetryAfterMode::Seconds(3600),
        ..faults
    });
    sim
}

/// The day as an uninterrupted run stores it: its simulator, store and summary.
async fn uninterrupted(
    dir: &std::path::Path,
    opts: &CollectOptions,
) -> (SimHandle, SqliteStore, CollectSummary) {
    let sim = sim().await;
    let store = sqlite_in(dir, "reference.db");
    let CollectOutcome::Committed(whole) = run(&client(&sim), &store, opts).await else {
        panic!("no fault, no deadline: committed")
    };
    (sim, store, whole)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hour_long_retry_after_checkpoints_and_the_next_round_completes_the_day() {
    let date = day("2026-06-30");
    let opts = CollectOptions::new(date);
    let dir = tempfile::tempdir().unwrap();
    let (reference_sim, reference, whole) = uninterrupted(dir.path(), &opts).await;

    // The same day, with the throttle closing after 150 answered requests: well into the
    // listing (the day's header takes a handful), far from its end.
    let sim = throttled_for_an_hour(Faults {
        status_burst: Some((429, 3)),
        after: 150,
        ..Faults::default()
    })
    .await;
    let store = sqlite_in(dir.path(), "t.db");
    let c = client(&sim);
    let first = run(&c, &store, &opts).await;
    let CollectOutcome::Checkpointed(paused) = first else {
        panic!("an hour-long Retry-After must checkpoint, got {first:?}")
    };
    assert_eq!(paused.wait_seconds, Some(3600));
    assert!(paused.members > 0, "whole pages before the 429 were kept");
    assert!(paused.members < whole.members);
    let instance = collect::instance_id(&c, None);
    assert!(
        store.latest_day(&instance).await.unwrap().is_none(),
        "nothing is visible before the day is complete"
    );

    // The next rounds, as the state machine runs them after its Wait (a fresh client: this one
    // still honours the hour), resume until the burst of 429s is spent and the day commits;
    // every round that stops says how long to wait.
    let mut rounds = 1;
    let done = loop {
        rounds += 1;
        assert!(rounds <= 4, "three 429s cost at most three rounds");
        match run(&client(&sim), &store, &opts).await {
            CollectOutcome::Committed(done) => break done,
            CollectOutcome::Checkpointed(again) => assert_eq!(again.wait_seconds, Some(3600)),
        }
    };
    assert_eq!(done.wait_seconds, None);
    assert_eq!(done.members, whole.members);
    assert_eq!(done.seat_holders, whole.seat_holders);
    let stored = store.members(&instance, date).await.unwrap();
    let expected = reference
        .members(&collect::instance_id(&client(&reference_sim), None), date)
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|m| m.id).collect::<Vec<_>>(),
        expected.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    let reference_instance = collect::instance_id(&client(&reference_sim), None);
    let a = store
        .latest_day(&instance)
        .await
        .unwrap()
        .unwrap()
        .aggregates;
    let b = reference
        .latest_day(&reference_instance)
        .await
        .unwrap()
        .unwrap()
        .aggregates;
    assert_eq!(a.activity_days, b.activity_days, "no event counted twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duo_read_told_to_wait_an_hour_checkpoints_like_the_listing_quirk() {
    // The Duo seats are read beside the listing (issue 14): a 429 on their first GraphQL
    // request, an hour long, must checkpoint the run as a listing's 429 does, not fail it, and
    // not leave the rest of the run sitting out the hour (CI's `long_wait` took 3,602 s).
    let date = day("2026-06-30");
    let opts = CollectOptions::new(date);
    let dir = tempfile::tempdir().unwrap();
    let (reference_sim, reference, whole) = uninterrupted(dir.path(), &opts).await;

    let sim = throttled_for_an_hour(Faults {
        status_burst: Some((429, 1)),
        only_path: Some("/api/graphql".into()),
        ..Faults::default()
    })
    .await;
    let store = sqlite_in(dir.path(), "t.db");
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        run(&client(&sim), &store, &opts),
    )
    .await
    .expect("the run returns, it does not sit out the hour");
    let CollectOutcome::Checkpointed(paused) = first else {
        panic!("an hour-long Retry-After on the Duo read must checkpoint, got {first:?}")
    };
    assert_eq!(paused.wait_seconds, Some(3600));
    assert_eq!(sim.requests_served_to("/api/graphql"), 1, "the 429 only");

    let CollectOutcome::Committed(done) = run(&client(&sim), &store, &opts).await else {
        panic!("the next round, the throttle over, commits")
    };
    assert_eq!(done.members, whole.members);
    assert_eq!(done.seat_holders, whole.seat_holders);
    let instance = collect::instance_id(&client(&sim), None);
    let reference_instance = collect::instance_id(&client(&reference_sim), None);
    let stored = store.latest_day(&instance).await.unwrap().unwrap();
    let expected = reference
        .latest_day(&reference_instance)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.aggregates.activity_days,
        expected.aggregates.activity_days
    );
    assert_eq!(
        stored.duo, expected.duo,
        "the seats read by the round that commits"
    );
}

#[test]
fn the_state_machine_waits_on_the_field_collect_writes() {
    // Both sides read from the code and the template.
    let summary: CollectSummary = serde_json::from_value(serde_json::json!({
        "instance": "gitlab.example.com",
        "date": "2026-06-30",
        "status": "checkpointed",
        "members": 1, "seat_holders": 1,
        "seats": {"purchased": null, "in_use": 0, "max_used": null, "owed": null, "plan": null,
                  "term_start": null, "term_end": null},
        "members_with_events": 0, "requests": 1, "duration_ms": 1, "token_expires_at": null,
        "wait_seconds": 60
    }))
    .expect("a summary with a wait parses");
    let written = serde_json::to_value(&summary).unwrap();
    let field = written
        .as_object()
        .unwrap()
        .keys()
        .find(|k| written[k.as_str()] == 60)
        .expect("the wait is written")
        .clone();
    let template = seatwatch_testkit::template::load();
    let machine = template.resource("DailyRun");
    let definition = serde_yaml::to_string(&machine["Properties"]["Definition"]).unwrap();
    assert!(
        definition.contains(&format!("SecondsPath: $.collect.output.{field}")),
        "the Wait state reads $.collect.output.{field}"
    );
    assert!(definition.contains(&format!("Variable: $.collect.output.{field}")));
}
