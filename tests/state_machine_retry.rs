//! Issue 11 §2: the state machine retries exactly the error types the functions emit as
//! retryable, with backoff over a bounded time, and never the fatal ones.
//!
//! Both sides are read where they live: the error types from `seatwatch::lambda::RetryClass`
//! (what the functions hand the runtime as `errorType`), the `Retry` clauses from the state
//! machine definition in `infra/template.yaml`.

use std::collections::BTreeSet;

use seatwatch::lambda::RetryClass;
use seatwatch_testkit::template::{self, Context};
use serde_json::Value as Json;

/// Errors the Lambda service and Step Functions raise themselves, not the functions' code.
fn is_platform_error(name: &str) -> bool {
    name.starts_with("Lambda.") || name.starts_with("States.")
}

/// The state machine's definition, resolved, and its Lambda task states.
fn lambda_tasks() -> (Json, Vec<(String, Json)>) {
    let t = template::load();
    let ctx = Context::new("us-east-1", "123456789012", "seatwatch");
    let definition = t
        .resolve(&t.resource("DailyRun")["Properties"]["Definition"], &ctx)
        .expect("a definition");
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
    // The binaries are thin: their only error path is `FunctionError` → `Diagnostic`, whose
    // `error_type` must be the class's (the state machine matches nothing else).
    for function in ["check", "collect", "report"] {
        let path = format!(
            "{}/functions/{function}/src/main.rs",
            env!("CARGO_MANIFEST_DIR")
        );
        let source = std::fs::read_to_string(&path).expect("function source");
        assert!(
            source.contains("error_type: e.error_type().into()"),
            "{path} must report the FunctionError's retry class as the Diagnostic error_type"
        );
        assert!(
            source.contains(&format!("seatwatch::lambda::{function}(")),
            "{path} must run seatwatch::lambda::{function}, the code path the tests run"
        );
    }
}
