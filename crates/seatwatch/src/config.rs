//! One [`Settings`] struct, read from flags or the environment.
//!
//! The CLI flattens it into every subcommand, so `GITLAB_URL=… seatwatch check` and
//! `seatwatch check --gitlab-url …` mean the same. The Lambda functions build it from the
//! environment alone ([`Settings::from_lambda_env`]), where `SEATWATCH_TABLE` and
//! `SEATWATCH_BUCKET` stand for the store and site locations.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use seatwatch_gitlab::{BaseUrl, ClientOptions, UrlError};

/// Every setting of seatwatch, from flags or environment (flags win).
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// GitLab base URL, e.g. https://gitlab.example.com (a relative path such as /gitlab is kept).
    #[arg(long, env = "GITLAB_URL", global = true)]
    pub gitlab_url: Option<String>,

    /// Top-level group to monitor on GitLab.com (id or full path); selects GitLab.com mode.
    #[arg(long, env = "GITLAB_GROUP", global = true)]
    pub group: Option<String>,

    /// Read the token from this file (first line) instead of GITLAB_TOKEN.
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,

    /// Read the token from this AWS Secrets Manager secret (bare token or {"token", "url"}).
    #[arg(long, env = "SEATWATCH_SECRET_ID", global = true)]
    pub secret_id: Option<String>,

    /// Where snapshots live: sqlite:PATH or dynamodb:TABLE.
    #[arg(
        long,
        env = "SEATWATCH_STORE",
        default_value = "sqlite:seatwatch.db",
        global = true
    )]
    pub store: String,

    /// Where the site goes: a folder or s3://bucket/prefix.
    #[arg(long, env = "SEATWATCH_SITE", default_value = "site", global = true)]
    pub site: String,

    /// Days without activity or sign-in after which a seat is reclaimable.
    #[arg(
        long,
        env = "SEATWATCH_INACTIVE_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub inactive_days: u32,

    /// Days a never-signed-in account is left alone after it was created.
    #[arg(
        long,
        env = "SEATWATCH_GRACE_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub grace_days: u32,

    /// Comma-separated usernames and globs (svc-*) never listed as reclaimable.
    #[arg(long, env = "SEATWATCH_EXEMPT", default_value = "", global = true)]
    pub exempt: String,

    /// Price of one seat per month, for the cost figures.
    #[arg(long, env = "SEATWATCH_SEAT_PRICE", global = true)]
    pub seat_price: Option<f64>,

    /// Seats bought (GitLab.com only: its API does not report them).
    #[arg(long, env = "SEATWATCH_SEATS_PURCHASED", global = true)]
    pub seats_purchased: Option<u64>,

    /// Days member details are kept; day summaries are kept for ever.
    #[arg(
        long,
        env = "SEATWATCH_RETENTION_DAYS",
        default_value_t = 400,
        global = true
    )]
    pub retention_days: u32,

    /// Warn when the token expires within this many days.
    #[arg(
        long,
        env = "SEATWATCH_EXPIRY_WARN_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub expiry_warn_days: u32,

    /// Allow a plain http:// GitLab URL on a host that is not loopback.
    #[arg(long, env = "SEATWATCH_ALLOW_HTTP", value_parser = parse_flag, default_value = "0", global = true)]
    pub allow_http: bool,

    /// GitLab requests in flight at once (the client paces itself by GitLab's rate-limit headers).
    #[arg(
        long,
        env = "SEATWATCH_CONCURRENCY",
        default_value_t = 16,
        global = true
    )]
    pub concurrency: usize,

    /// Seconds before one GitLab request times out.
    #[arg(
        long,
        env = "SEATWATCH_REQUEST_TIMEOUT",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// The GitLab instance's time zone (`gitlab_rails['time_zone']`), an IANA name such as
    /// Europe/Berlin: GitLab counts event days there. GitLab.com and GitLab's default are UTC.
    #[arg(
        long,
        env = "SEATWATCH_TIME_ZONE",
        default_value = "UTC",
        value_parser = parse_time_zone,
        global = true
    )]
    pub time_zone: chrono_tz::Tz,

    /// Seconds of retrying (429, 5xx, timeouts) before a GitLab call gives up.
    #[arg(
        long,
        env = "SEATWATCH_MAX_RETRY_SECS",
        default_value_t = 300,
        global = true
    )]
    pub max_retry_secs: u64,
}

/// Accepts the ways people write a boolean in an environment variable.
fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!(
            "expected 1/0, true/false, yes/no or on/off, got {other:?}"
        )),
    }
}

/// An IANA time zone name; the error says what is expected.
fn parse_time_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        format!(
            "{s:?} is not an IANA time zone name: use the zone of the GitLab instance, e.g. UTC, Europe/Berlin or America/New_York"
        )
    })
}

/// What is missing or wrong in the settings, with what to set.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no GitLab URL: set GITLAB_URL (e.g. https://gitlab.example.com) or pass --gitlab-url, or put \"url\" in the secret"
    )]
    MissingUrl,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Settings {
    /// Settings from the environment alone, as a Lambda function sees them: `SEATWATCH_TABLE`
    /// selects the DynamoDB store and `SEATWATCH_BUCKET` (with `SEATWATCH_SITE_PREFIX`) the site.
    pub fn from_lambda_env() -> Result<Settings, SettingsError> {
        #[derive(clap::Parser)]
        struct Env {
            #[command(flatten)]
            settings: Settings,
        }
        let mut s = <Env as clap::Parser>::try_parse_from(["seatwatch"])
            .map_err(|e| SettingsError::Invalid(e.kind().to_string()))?
            .settings;
        if let Ok(table) = std::env::var("SEATWATCH_TABLE") {
            s.store = format!("dynamodb:{table}");
        }
        if let Ok(bucket) = std::env::var("SEATWATCH_BUCKET") {
            let prefix = std::env::var("SEATWATCH_SITE_PREFIX").unwrap_or_default();
            s.site = format!("s3://{bucket}/{}", prefix.trim_matches('/'));
        }
        Ok(s)
    }

    /// The GitLab URL, from the settings or else from the secret.
    pub fn base_url(&self, from_secret: Option<&str>) -> Result<BaseUrl, SettingsError> {
        let raw = self
            .gitlab_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .or(from_secret)
            .ok_or(SettingsError::MissingUrl)?;
        Ok(BaseUrl::parse(raw.trim(), self.allow_http)?)
    }

    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            concurrency: self.concurrency.max(1),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_retry_time: Duration::from_secs(self.max_retry_secs),
            ..ClientOptions::default()
        }
    }

    /// GitLab.com mode: a group is being monitored rather than an instance.
    pub fn is_gitlab_com(&self) -> bool {
        self.group.as_deref().is_some_and(|g| !g.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_http_accepts_common_spellings_and_rejects_others() {
        assert_eq!(parse_flag("1"), Ok(true));
        assert_eq!(parse_flag("TRUE"), Ok(true));
        assert_eq!(parse_flag(""), Ok(false));
        assert_eq!(parse_flag("off"), Ok(false));
        assert!(parse_flag("maybe").is_err());
    }

    #[test]
    fn time_zone_takes_iana_names_and_names_the_setting_otherwise() {
        assert_eq!(parse_time_zone("UTC"), Ok(chrono_tz::Tz::UTC));
        assert_eq!(
            parse_time_zone(" Europe/Berlin "),
            Ok(chrono_tz::Tz::Europe__Berlin)
        );
        let err = parse_time_zone("Pacific Time (US & Canada)").unwrap_err();
        assert!(err.contains("IANA"), "{err}");
    }
}
