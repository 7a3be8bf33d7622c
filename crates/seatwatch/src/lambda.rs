//! What the three Lambda functions do, so that `functions/*` only start the runtime and tests run
//! exactly the same code path (under a given principal's credentials, against moto).
//!
//! Every failure leaves as a [`FunctionError`] whose type is its [`RetryClass`]: the runtime
//! reports it as the invocation's `errorType` (as in aws-lambda-rust-runtime's
//! `basic-error-thiserror` example), and the state machine in `infra/template.yaml` retries
//! `Seatwatch.Retryable` with backoff and fails at once on `Seatwatch.Fatal`. The message is the
//! one the CLI prints after `error: `, so the logs, the failed execution and a local run say the
//! same thing.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::app::{self, App, AppError};

/// Whether the state machine should try a failed invocation again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Running again later may succeed with nothing changed: GitLab 5xx or 429 beyond the
    /// in-process retry budget, a DynamoDB or S3 throttle, a network fault.
    Retryable,
    /// Someone must change something first: an expired or revoked token, a missing scope or
    /// grant, bad settings, damaged data. Retrying would only repeat the failure.
    Fatal,
}

impl RetryClass {
    /// Every class a function can fail with; the template's `Retry` clauses are tested against it.
    pub const ALL: [RetryClass; 2] = [RetryClass::Retryable, RetryClass::Fatal];

    /// The Lambda `errorType`, which is what Step Functions matches in `ErrorEquals`.
    pub fn error_type(self) -> &'static str {
        match self {
            RetryClass::Retryable => "Seatwatch.Retryable",
            RetryClass::Fatal => "Seatwatch.Fatal",
        }
    }

    /// Whether the state machine must retry this class (the other way round: fail at once).
    pub fn is_retried(self) -> bool {
        self == RetryClass::Retryable
    }
}

/// A function's failure: its retry class and the message the CLI would print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FunctionError {
    pub class: RetryClass,
    pub message: String,
}

impl FunctionError {
    pub fn error_type(&self) -> &'static str {
        self.class.error_type()
    }
}

impl From<AppError> for FunctionError {
    fn from(e: AppError) -> Self {
        let class = if e.is_retryable() {
            RetryClass::Retryable
        } else {
            RetryClass::Fatal
        };
        FunctionError {
            class,
            message: chain(&e),
        }
    }
}

impl From<serde_json::Error> for FunctionError {
    fn from(e: serde_json::Error) -> Self {
        FunctionError {
            class: RetryClass::Fatal,
            message: format!(
                "the function's result cannot be written as JSON: {e} (a seatwatch bug)"
            ),
        }
    }
}

/// The error and its causes on one line, as anyhow's `{:#}` prints them in the CLI.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // `#[error(transparent)]` and messages that already quote their cause repeat it.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The `check` function: the same document as `seatwatch check --json`, plus the token-expiry
/// metric line. A failed check is a normal result, not an error.
pub async fn check(app: &App, today: NaiveDate) -> Result<Value, FunctionError> {
    let report = app.check(today).await;
    if let Some(line) = crate::emf::token_days_left(report.token_expires_at, today) {
        println!("{line}");
    }
    Ok(serde_json::to_value(report)?)
}

/// The `collect` function: the day the event names (or today), until committed or until
/// `deadline` (then `"status": "checkpointed"` and the state machine invokes it again).
pub async fn collect(app: &App, event: &Value, deadline: Instant) -> Result<Value, FunctionError> {
    let date = app::event_date(event)?;
    let outcome = app.collect_until(date, Some(deadline)).await?;
    let today = Utc::now().date_naive();
    if let Some(line) = crate::emf::token_days_left(outcome.summary().token_expires_at, today) {
        println!("{line}");
    }
    Ok(serde_json::to_value(outcome.summary())?)
}

/// The `report` function: the site of the latest committed day, published.
pub async fn report(app: &App, now: DateTime<Utc>) -> Result<Value, FunctionError> {
    let summary = app.report(now).await?;
    Ok(serde_json::to_value(summary)?)
}

/// The log filter a function runs with: `SEATWATCH_LOG` (the template sets it) when it parses,
/// else the runtime's `AWS_LAMBDA_LOG_LEVEL`, else the CLI's default.
pub fn log_filter(seatwatch_log: Option<&str>, lambda_log_level: Option<&str>) -> String {
    const DEFAULT: &str = "seatwatch=info,warn";
    let valid =
        |f: &&str| !f.trim().is_empty() && tracing_subscriber::EnvFilter::try_new(f).is_ok();
    if let Some(f) = seatwatch_log.filter(valid) {
        return f.trim().to_string();
    }
    if let Some(level) = lambda_log_level.filter(valid) {
        return level.trim().to_lowercase();
    }
    DEFAULT.to_string()
}

/// Logging for a function: the filter from [`log_filter`], plain text or JSON as the function's
/// log format says (`AWS_LAMBDA_LOG_FORMAT`), no colours and no timestamps (CloudWatch adds them).
pub fn init_logging() {
    let filter = log_filter(
        std::env::var("SEATWATCH_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .without_time()
        .with_target(false);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second init (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use seatwatch_gitlab::GitLabError;

    #[test]
    fn seatwatch_log_chooses_the_filter_and_a_bad_one_falls_back() {
        assert_eq!(log_filter(Some("debug"), Some("ERROR")), "debug");
        assert_eq!(log_filter(Some("seatwatch=trace"), None), "seatwatch=trace");
        assert_eq!(log_filter(None, Some("WARN")), "warn");
        assert_eq!(log_filter(Some("  "), None), "seatwatch=info,warn");
        assert_eq!(log_filter(Some("[[["), None), "seatwatch=info,warn");
        assert_eq!(log_filter(None, None), "seatwatch=info,warn");
    }

    #[test]
    fn errors_are_classed_by_whether_a_retry_can_help() {
        let throttled: AppError = StoreError::Throttled {
            table: "t".into(),
            operation: "Query",
        }
        .into();
        let e = FunctionError::from(throttled);
        assert_eq!(e.error_type(), "Seatwatch.Retryable");
        assert!(e.message.contains("retry later"), "{}", e.message);

        let denied: AppError = StoreError::AccessDenied {
            table: "t".into(),
            operation: "Query",
            message: "AccessDenied".into(),
        }
        .into();
        assert_eq!(FunctionError::from(denied).class, RetryClass::Fatal);

        let bad_date = app::event_date(&serde_json::json!({"date": "yesterday"})).unwrap_err();
        let e = FunctionError::from(bad_date);
        assert_eq!(e.class, RetryClass::Fatal);
        assert!(e.message.contains("YYYY-MM-DD"), "{}", e.message);

        let server: AppError = GitLabError::Server {
            status: 503,
            endpoint: "/users".into(),
            attempts: 5,
        }
        .into();
        assert_eq!(FunctionError::from(server).class, RetryClass::Retryable);
    }

    #[test]
    fn the_message_is_the_cli_one_line_with_causes() {
        let io = std::io::Error::other("disk full");
        let e = AppError::Publish(crate::publish::PublishError::Folder {
            path: "site/index.html".into(),
            state: "no page was replaced",
            cause: io,
        });
        let message = FunctionError::from(e).message;
        assert!(
            message.starts_with("publish: writing site/index.html failed: disk full"),
            "{message}"
        );
        assert_eq!(message.matches("disk full").count(), 1, "{message}");
    }
}
