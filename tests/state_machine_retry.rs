//! Issue 11 §2: the state machine retries exactly the error types the functions emit as
//! retryable, with backoff over a bounded time, and never the fatal ones.
//!
//! Both sides are read where they live: the error types from `seatwatch::lambda::RetryClass`
//! (what the functions hand the runtime as `errorType`), the `Retry` clauses from the state
//! machine definition in `infra/template.yaml`.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use seatwatch::lambda::{CollectEvent, CollectOutput, CollectStatus, RetryClass};
use seatwatch_testkit::template::{self, Context};
use serde_json::Value as Json;

/// Errors the Lambda service and Step Functions raise themselves, not the functions' code.
fn is_platform_error(name: &str) -> bool {
    name.starts_with("Lambda.") || name.starts_with("States.")
}

/// The state machine's definition, resolved as CloudFormation would.
fn definition() -> Json {
    let t = template::load();
    let ctx = Context::new("us-east-1", "123456789012", "seatwatch");
    t.resolve(&t.resource("DailyRun")["Properties"]["Definition"], &ctx)
        .expect("a definition")
}

/// The state machine's definition, resolved, and its Lambda task states.
fn lambda_tasks() -> (Json, Vec<(String, Json)>) {
    let definition = definition();
    let tasks: Vec<(String, Json)> = definition["States"]
        .as_object()
        .expect("States")
        .iter()
        .filter(|(_, s)| {
            s["Type"] == "Task"
                && s["Resource"]
                    .as_str()
                    .is_some_and(|r| r.contains(":lambda:invoke"))
        })
        .map(|(name, s)| (name.clone(), s.clone()))
        .collect();
    assert!(!tasks.is_empty(), "no Lambda task in the state machine");
    (definition, tasks)
}

fn error_equals(retrier: &Json) -> Vec<String> {
    retrier["ErrorEquals"]
        .as_array()
        .expect("ErrorEquals")
        .iter()
        .map(|e| e.as_str().expect("an error name").to_string())
        .collect()
}

/// The longest a retrier can wait in total: Step Functions waits IntervalSeconds ×
/// BackoffRate^n before retry n, capped by MaxDelaySeconds.
fn worst_case_wait(retrier: &Json) -> f64 {
    let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let rate = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
    let attempts = retrier["MaxAttempts"].as_u64().unwrap_or(3);
    let cap = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
    (0..attempts)
        .map(|n| (interval * rate.powi(n as i32)).min(cap))
        .sum()
}

#[test]
fn retry_clauses_name_exactly_the_retryable_error_types_the_functions_emit() {
    let emitted_retryable: BTreeSet<String> = RetryClass::ALL
        .iter()
        .filter(|c| c.is_retried())
        .map(|c| c.error_type().to_string())
        .collect();
    let emitted_fatal: BTreeSet<String> = RetryClass::ALL
        .iter()
        .filter(|c| !c.is_retried())
        .map(|c| c.error_type().to_string())
        .collect();
    assert!(!emitted_retryable.is_empty() && !emitted_fatal.is_empty());

    let (definition, tasks) = lambda_tasks();
    let timeout = definition["TimeoutSeconds"]
        .as_f64()
        .expect("the execution has a TimeoutSeconds");
    for (name, task) in &tasks {
        let retriers = task["Retry"].as_array().cloned().unwrap_or_default();
        let mut retried = BTreeSet::new();
        for r in &retriers {
            for e in error_equals(r) {
                assert_ne!(
                    e, "States.ALL",
                    "{name}: States.ALL would retry Seatwatch.Fatal too"
                );
                assert_ne!(
                    e, "States.TaskFailed",
                    "{name}: States.TaskFailed would retry Seatwatch.Fatal too"
                );
                if !is_platform_error(&e) {
                    assert!(
                        r["MaxAttempts"].as_u64().unwrap_or(3) > 0,
                        "{name}: {e} has MaxAttempts 0"
                    );
                    assert!(
                        r["BackoffRate"].as_f64().unwrap_or(2.0) > 1.0,
                        "{name}: {e} is retried without backoff"
                    );
                    let wait = worst_case_wait(r);
                    assert!(
                        wait.is_finite() && wait < timeout,
                        "{name}: retrying {e} may wait {wait} s, beyond the execution's {timeout} s"
                    );
                    retried.insert(e);
                }
            }
        }
        assert_eq!(
            retried, emitted_retryable,
            "{name}: the Retry clause must name exactly the retryable types the code emits"
        );
        for fatal in &emitted_fatal {
            assert!(!retried.contains(fatal), "{name} retries {fatal}");
        }
    }
}

#[test]
fn every_function_hands_the_runtime_its_retry_class_as_error_type() {
    // The binaries are thin: they return `seatwatch::lambda`'s `FunctionError`, whose conversion
    // to the runtime's `Diagnostic` (tested in crates/seatwatch/src/lambda.rs) sets `error_type`
    // to the retry class. A binary that mapped errors itself could lose it.
    for function in ["check", "collect", "report"] {
        let path = seatwatch_testkit::repo_root().join(format!("functions/{function}/src/main.rs"));
        let source = std::fs::read_to_string(&path).expect("function source");
        assert!(
            source.contains(&format!("seatwatch::lambda::{function}(")),
            "{} must run seatwatch::lambda::{function}, the code path the tests run",
            path.display()
        );
        for own_mapping in ["map_err", "Diagnostic"] {
            assert!(
                !source.contains(own_mapping),
                "{} maps errors itself ({own_mapping}); return seatwatch::lambda's FunctionError",
                path.display()
            );
        }
    }
}

/// A collect output with every field set: a checkpoint that asks to wait.
fn checkpointed_with_a_wait() -> CollectOutput {
    CollectOutput {
        instance: "gitlab.example.com".into(),
        date: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        status: CollectStatus::Checkpointed,
        members: 1,
        seat_holders: 1,
        seats: Default::default(),
        members_with_events: 0,
        requests: 1,
        duration_ms: 1,
        token_expires_at: None,
        wait_seconds: Some(60),
    }
}

/// Every `(path, StringEquals value)` a Choice or Wait state of `v` reads (the value is
/// `None` for a presence test or a `SecondsPath`).
fn paths_read(v: &Json, out: &mut Vec<(String, Option<String>)>) {
    match v {
        Json::Object(m) => {
            for key in ["Variable", "SecondsPath"] {
                if let Some(path) = m.get(key).and_then(|p| p.as_str()) {
                    let equals = m.get("StringEquals").and_then(|e| e.as_str());
                    out.push((path.to_string(), equals.map(str::to_string)));
                }
            }
            m.values().for_each(|v| paths_read(v, out));
        }
        Json::Array(s) => s.iter().for_each(|v| paths_read(v, out)),
        _ => {}
    }
}

#[test]
fn collect_output_has_every_field_and_status_the_state_machine_reads() {
    const OUTPUT: &str = "$.collect.output.";
    let mut read = Vec::new();
    paths_read(&definition(), &mut read);
    let read: Vec<_> = read
        .into_iter()
        .filter_map(|(path, equals)| Some((path.strip_prefix(OUTPUT)?.to_string(), equals)))
        .collect();
    assert!(
        read.iter().any(|(f, _)| f == "status") && read.iter().any(|(f, _)| f == "wait_seconds"),
        "the template reads collect's status and wait: {read:?}"
    );

    let written = serde_json::to_value(checkpointed_with_a_wait()).unwrap();
    for (field, _) in &read {
        assert!(
            written.get(field).is_some(),
            "the state machine reads {OUTPUT}{field}, which collect's output lacks: {written}"
        );
    }
    // Each status the template matches is one collect writes, and the other way round.
    let mut matched: Vec<&str> = read
        .iter()
        .filter(|(f, _)| f == "status")
        .filter_map(|(_, equals)| equals.as_deref())
        .collect();
    matched.sort_unstable();
    matched.dedup();
    let mut written: Vec<String> = [CollectStatus::Committed, CollectStatus::Checkpointed]
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    written.sort_unstable();
    assert_eq!(matched, written);
}

#[test]
fn collect_events_name_the_day_or_leave_it_to_today() {
    let today = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let event = |json: serde_json::Value| {
        serde_json::from_value::<CollectEvent>(json.clone())
            .unwrap_or_else(|e| panic!("{json} is a collect event: {e}"))
            .date(today)
            .unwrap()
    };
    // The schedule's input.
    assert_eq!(event(serde_json::json!({})), today);
    // A back-fill by hand.
    let asked = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let by_hand = serde_json::to_value(CollectEvent::on(asked)).unwrap();
    assert_eq!(event(by_hand), asked);
    // The previous round's output, which the state machine passes on.
    let previous = checkpointed_with_a_wait();
    let passed_on = serde_json::to_value(&previous).unwrap();
    assert_eq!(event(passed_on), previous.date);
    // An EventBridge scheduled event (its shape from the EventBridge user guide).
    let scheduled = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-06-30T23:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/seatwatch"], "detail": {}
    });
    assert_eq!(event(scheduled), today);
}
