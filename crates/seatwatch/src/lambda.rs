//! What the three Lambda functions do, so that `functions/*` only start the runtime and tests run
//! exactly the same code path (under a given principal's credentials, against moto).
//!
//! Every failure leaves as a [`FunctionError`] whose type is its [`RetryClass`]: the runtime
//! reports it as the invocation's `errorType` (as in aws-lambda-rust-runtime's
//! `basic-error-thiserror` example), and the state machine in `infra/template.yaml` retries
//! `Seatwatch.Retryable` with backoff and fails at once on `Seatwatch.Fatal`. The message is the
//! one the CLI prints after `error: `, so the logs, the failed execution and a local run say the
//! same thing.
//!
//! Events and results are typed ([`CollectEvent`], [`CheckOutput`], [`CollectOutput`],
//! [`ReportOutput`]); their JSON is a contract with the state machine, which reads
//! `status` and `wait_seconds` of collect's output and feeds that output back as the next event.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::app::{App, AppError, ReportSummary};
use crate::check::CheckReport;
pub use crate::collect::CollectStatus;
use crate::collect::CollectSummary;

/// What the `check` function returns: the document `seatwatch check --json` prints.
pub type CheckOutput = CheckReport;

/// What the `collect` function returns: the summary `seatwatch collect` prints, whose `status`
/// and `wait_seconds` the state machine reads. One type, so the two cannot drift apart.
pub type CollectOutput = CollectSummary;

/// What the `report` function returns: the summary `seatwatch report` prints.
pub type ReportOutput = ReportSummary;

/// What `check` and `report` are invoked with: anything (`{}` by hand or from the state
/// machine), never read.
pub type IgnoredEvent = serde::de::IgnoredAny;

/// What the `collect` function is invoked with: `{}` (the schedule's input), `{"date":
/// "YYYY-MM-DD"}` (a back-fill by hand), the previous round's [`CollectOutput`] (the state machine
/// passes it on; it carries the date), or an EventBridge scheduled event. Only `date` matters;
/// every other field is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectEvent {
    /// Kept as text and parsed by [`CollectEvent::date`]: a malformed date then fails as
    /// `Seatwatch.Fatal` with a message naming it, not as the runtime's deserialisation error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl CollectEvent {
    /// The event that asks for `date`.
    pub fn on(date: NaiveDate) -> Self {
        CollectEvent {
            date: Some(date.to_string()),
        }
    }

    /// The snapshot date asked for, or `today` when the event names none.
    pub fn date(&self, today: NaiveDate) -> Result<NaiveDate, AppError> {
        match &self.date {
            Some(s) => s
                .parse()
                .map_err(|_| AppError::Invalid(format!("event date {s:?} is not YYYY-MM-DD"))),
            None => Ok(today),
        }
    }
}

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

/// The runtime's error: `errorType` is the retry class the state machine matches.
#[cfg(feature = "lambda")]
impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(e: FunctionError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.message,
        }
    }
}

/// Runs one Lambda function: logging, the app built once per cold start (clients, settings and
/// the cached token live for the execution environment's life, so it is leaked on purpose), then
/// each event through `handler`. A `FunctionError` reaches the runtime as its retry class.
#[cfg(feature = "lambda")]
pub async fn serve<E, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send,
    O: Serialize,
    F: Fn(&'static App, lambda_runtime::LambdaEvent<E>) -> Fut,
    Fut: std::future::Future<Output = Result<O, FunctionError>> + Send,
{
    init_logging();
    let app: &'static App = Box::leak(Box::new(
        App::new(crate::config::Config::from_lambda_env()?).await?,
    ));
    lambda_runtime::run(lambda_runtime::service_fn(move |event| handler(app, event))).await
}

/// The invocation's deadline (milliseconds since the epoch, as the runtime gives it) as an
/// `Instant`, which is what a run checks as it goes.
#[cfg(feature = "lambda")]
pub fn deadline(ctx: &lambda_runtime::Context) -> Instant {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(ctx.deadline.saturating_sub(now_ms))
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
pub async fn check(app: &App, today: NaiveDate) -> Result<CheckOutput, FunctionError> {
    let report = app.check(today).await;
    if let Some(line) = crate::emf::token_days_left(report.token_expires_at, today) {
        println!("{line}");
    }
    Ok(report)
}

/// The `collect` function: the day the event names (or today), until committed or until
/// `deadline` (then [`CollectStatus::Checkpointed`] and the state machine invokes it again).
pub async fn collect(
    app: &App,
    event: &CollectEvent,
    deadline: Instant,
) -> Result<CollectOutput, FunctionError> {
    let date = event.date(Utc::now().date_naive())?;
    let outcome = app.collect_until(date, Some(deadline)).await?;
    let today = Utc::now().date_naive();
    if let Some(line) = crate::emf::token_days_left(outcome.summary().token_expires_at, today) {
        println!("{line}");
    }
    Ok(outcome.summary().clone())
}

/// The `report` function: the site of the latest committed day, published.
pub async fn report(app: &App, now: DateTime<Utc>) -> Result<ReportOutput, FunctionError> {
    Ok(app.report(now).await?)
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

        let bad_date = CollectEvent {
            date: Some("yesterday".into()),
        }
        .date(Utc::now().date_naive())
        .unwrap_err();
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

    /// What the runtime reports as `errorType` is the retry class the state machine matches.
    #[cfg(feature = "lambda")]
    #[test]
    fn the_runtimes_error_type_is_the_retry_class() {
        for class in [RetryClass::Retryable, RetryClass::Fatal] {
            let e = FunctionError {
                class,
                message: "it failed".into(),
            };
            let d = lambda_runtime::Diagnostic::from(e);
            assert_eq!(d.error_type, class.error_type());
            assert_eq!(d.error_message, "it failed");
        }
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
