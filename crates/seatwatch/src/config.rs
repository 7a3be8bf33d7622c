//! The settings, typed once: [`RawConfig`] is what was given (strings from flags or the
//! environment), [`Config`] is what it means, parsed and validated in [`RawConfig::parse`] and
//! nowhere else.
//!
//! The CLI reads flags (with the environment variables below as fallback) into a [`RawConfig`];
//! the Lambda functions read it from their environment alone ([`Config::from_lambda_env`]), where
//! `SEATWATCH_TABLE` and `SEATWATCH_BUCKET` (with `SEATWATCH_SITE_PREFIX`) stand for the store and
//! the site. Each setting's names are one [`Setting`] in [`setting`] and each default one
//! `DEFAULT_*` const here: the CLI's flags and help, collect and the demo derive from them. A bad
//! value is a [`ConfigError::Invalid`] naming the setting (variable and flag), the value given and
//! what is expected. No setting holds the token: it is read by [`crate::secrets`].
//!
//! The GitLab URL is parsed here but not refused: the secret may supply it instead, and `check`
//! reports a bad one as its `url` check rather than not starting ([`Config::base_url`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use seatwatch_core::analyse::{AnalyseError, Exemptions, Policy};
use seatwatch_gitlab::{BaseUrl, ClientOptions, UrlError};

use crate::publish::{Destination, PublishError};
use crate::store::{StoreError, StoreUrl};

/// Where snapshots live when nothing says otherwise: SQLite in the working folder.
pub const DEFAULT_STORE: &str = "sqlite:seatwatch.db";
/// Where the site goes when nothing says otherwise: a folder in the working folder.
pub const DEFAULT_SITE: &str = "site";
/// How long member parts are kept; the store applies it.
pub use crate::store::DEFAULT_RETENTION_DAYS;
/// The Duo, Guest-candidate and renewal defaults are the analysis's own too.
pub use seatwatch_core::analyse::{
    DEFAULT_CONTRIBUTION_DAYS, DEFAULT_DUO_IDLE_DAYS, DEFAULT_RENEWAL_BUFFER_PERCENT,
    DEFAULT_RENEWAL_NOTICE_DAYS,
};
/// The reclaim policy's defaults are the analysis's own (it applies them to a report built
/// without settings).
pub use seatwatch_core::analyse::{DEFAULT_GRACE_DAYS, DEFAULT_INACTIVE_DAYS};
pub const DEFAULT_EXPIRY_WARN_DAYS: u32 = 14;
pub const DEFAULT_ALLOW_HTTP: bool = false;
/// No contribution backfill unless asked for: at up to a few pages per active seat holder it can
/// triple a first snapshot's requests (docs/DECISIONS.md).
pub const DEFAULT_CONTRIBUTION_BACKFILL_PAGES: u32 = 0;
/// GitLab requests in flight at once. The one default: the GitLab client's own
/// `ClientOptions::default()` is never what the application runs with, as
/// [`Config::client_options`] always sets it.
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_RETRY_TIME: Duration = Duration::from_secs(5 * 60);
/// GitLab's own default `gitlab_rails['time_zone']`, and GitLab.com's.
pub const DEFAULT_TIME_ZONE: Tz = Tz::UTC;

/// How a setting is given: its environment variable and its CLI flag (without `--`). Either is
/// empty when the setting has none: `--token-file` has no variable, the Lambda-only
/// `SEATWATCH_TABLE`, `SEATWATCH_BUCKET` and `SEATWATCH_SITE_PREFIX` have no flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub env: &'static str,
    pub flag: &'static str,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.env, self.flag) {
            (env, "") => f.write_str(env),
            ("", flag) => write!(f, "--{flag}"),
            (env, flag) => write!(f, "{env} (--{flag})"),
        }
    }
}

/// Every setting's names, defined once: the CLI's clap arguments, [`RawConfig::from_env`] and the
/// error messages all read them from here.
pub mod setting {
    use super::Setting;

    const fn both(env: &'static str, flag: &'static str) -> Setting {
        Setting { env, flag }
    }

    pub const GITLAB_URL: Setting = both("GITLAB_URL", "gitlab-url");
    pub const GROUP: Setting = both("GITLAB_GROUP", "group");
    pub const TOKEN_FILE: Setting = both("", "token-file");
    pub const SECRET_ID: Setting = both("SEATWATCH_SECRET_ID", "secret-id");
    pub const STORE: Setting = both("SEATWATCH_STORE", "store");
    pub const SITE: Setting = both("SEATWATCH_SITE", "site");
    pub const INACTIVE_DAYS: Setting = both("SEATWATCH_INACTIVE_DAYS", "inactive-days");
    pub const GRACE_DAYS: Setting = both("SEATWATCH_GRACE_DAYS", "grace-days");
    pub const EXEMPT: Setting = both("SEATWATCH_EXEMPT", "exempt");
    pub const SEAT_PRICE: Setting = both("SEATWATCH_SEAT_PRICE", "seat-price");
    pub const SEATS_PURCHASED: Setting = both("SEATWATCH_SEATS_PURCHASED", "seats-purchased");
    pub const DUO_IDLE_DAYS: Setting = both("SEATWATCH_DUO_IDLE_DAYS", "duo-idle-days");
    pub const DUO_PRICES: Setting = both("SEATWATCH_DUO_PRICES", "duo-prices");
    pub const CONTRIBUTION_DAYS: Setting = both("SEATWATCH_CONTRIBUTION_DAYS", "contribution-days");
    pub const CONTRIBUTION_BACKFILL_PAGES: Setting = both(
        "SEATWATCH_CONTRIBUTION_BACKFILL_PAGES",
        "contribution-backfill-pages",
    );
    pub const RENEWAL_BUFFER: Setting = both("SEATWATCH_RENEWAL_BUFFER", "renewal-buffer");
    pub const RENEWAL_NOTICE_DAYS: Setting =
        both("SEATWATCH_RENEWAL_NOTICE_DAYS", "renewal-notice-days");
    pub const RETENTION_DAYS: Setting = both("SEATWATCH_RETENTION_DAYS", "retention-days");
    pub const EXPIRY_WARN_DAYS: Setting = both("SEATWATCH_EXPIRY_WARN_DAYS", "expiry-warn-days");
    pub const ALLOW_HTTP: Setting = both("SEATWATCH_ALLOW_HTTP", "allow-http");
    pub const CONCURRENCY: Setting = both("SEATWATCH_CONCURRENCY", "concurrency");
    pub const REQUEST_TIMEOUT: Setting = both("SEATWATCH_REQUEST_TIMEOUT", "request-timeout-secs");
    pub const TIME_ZONE: Setting = both("SEATWATCH_TIME_ZONE", "time-zone");
    pub const MAX_RETRY: Setting = both("SEATWATCH_MAX_RETRY_SECS", "max-retry-secs");
    /// Lambda only: the DynamoDB table, i.e. `SEATWATCH_STORE=dynamodb:TABLE`.
    pub const TABLE: Setting = both("SEATWATCH_TABLE", "");
    /// Lambda only: the site's bucket, i.e. `SEATWATCH_SITE=s3://BUCKET/PREFIX`.
    pub const BUCKET: Setting = both("SEATWATCH_BUCKET", "");
    /// Lambda only: the prefix in `SEATWATCH_BUCKET` (default: the bucket's root).
    pub const SITE_PREFIX: Setting = both("SEATWATCH_SITE_PREFIX", "");
}

/// What is missing or wrong in the settings, with what to set.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no GitLab URL: set GITLAB_URL (e.g. https://gitlab.example.com) or pass --gitlab-url, or put \"url\" in the secret"
    )]
    MissingUrl,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("invalid setting {setting}: {value:?} is not valid; expected {expected}")]
    Invalid {
        setting: Setting,
        value: String,
        expected: String,
    },
}

/// The settings as given, before they mean anything: `None` is "not given" (the default
/// applies). Filled by the CLI from its flags, or by [`RawConfig::from_env`].
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    pub gitlab_url: Option<String>,
    pub group: Option<String>,
    pub token_file: Option<PathBuf>,
    pub secret_id: Option<String>,
    pub store: Option<String>,
    pub site: Option<String>,
    pub inactive_days: Option<String>,
    pub grace_days: Option<String>,
    pub exempt: Option<String>,
    pub seat_price: Option<String>,
    pub seats_purchased: Option<String>,
    pub duo_idle_days: Option<String>,
    pub duo_prices: Option<String>,
    pub contribution_days: Option<String>,
    pub contribution_backfill_pages: Option<String>,
    pub renewal_buffer: Option<String>,
    pub renewal_notice_days: Option<String>,
    pub retention_days: Option<String>,
    pub expiry_warn_days: Option<String>,
    pub allow_http: Option<String>,
    pub concurrency: Option<String>,
    pub request_timeout_secs: Option<String>,
    pub time_zone: Option<String>,
    pub max_retry_secs: Option<String>,
    /// Lambda only; when given, it is the store (over `store`).
    pub table: Option<String>,
    /// Lambda only; when given, it and `site_prefix` are the site (over `site`).
    pub bucket: Option<String>,
    pub site_prefix: Option<String>,
}

/// The settings, typed: what every command reads. Built only by [`RawConfig::parse`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `None` when not given (or blank): the secret may hold it.
    pub gitlab_url: Option<GitLabUrl>,
    /// GitLab.com mode when set: the top-level group monitored instead of an instance.
    pub group: Option<Group>,
    pub token_file: Option<PathBuf>,
    pub secret_id: Option<String>,
    pub store: StoreUrl,
    pub site: Destination,
    /// Inactive and grace days, exemptions and seat price: the reclaimable rule and cost figures.
    pub policy: Policy,
    /// Seats bought (GitLab.com only: its API does not report them).
    pub seats_purchased: Option<u64>,
    /// Pages of `/users/:id/events` a first snapshot may read per active seat holder to backfill
    /// contributions (Ultimate only); 0: none, Guest candidates wait for the history to build up.
    pub contribution_backfill_pages: u32,
    /// Days member details are kept; day summaries are kept for ever.
    pub retention_days: u32,
    /// Warn when the token expires within this many days.
    pub expiry_warn_days: u32,
    /// Allow a plain http:// GitLab URL on a host that is not loopback.
    pub allow_http: bool,
    /// GitLab requests in flight at once; at least 1.
    pub concurrency: usize,
    /// Limit for one GitLab request; at least a second.
    pub request_timeout: Duration,
    /// How long one GitLab call keeps retrying before it gives up.
    pub max_retry_time: Duration,
    /// The GitLab instance's time zone, where it counts event days.
    pub time_zone: Tz,
}

/// `GITLAB_URL` as given (trimmed) and what parsing it gave. An invalid URL is kept as its error
/// rather than refused, so that `check` can report it as its `url` check.
#[derive(Debug, Clone)]
pub struct GitLabUrl {
    pub given: String,
    pub parsed: Result<BaseUrl, UrlError>,
}

/// A GitLab.com top-level group: its id or full path, trimmed and never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group(String);

impl Group {
    /// The group in `given`, or `None` when it is blank (blank means "no group").
    pub fn parse(given: &str) -> Option<Group> {
        let trimmed = given.trim();
        (!trimmed.is_empty()).then(|| Group(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl RawConfig {
    /// The settings in an environment, read through `lookup` (a variable's value, `None` when
    /// unset), including the Lambda-only `SEATWATCH_TABLE`, `SEATWATCH_BUCKET` and
    /// `SEATWATCH_SITE_PREFIX`. `--token-file` has no variable.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> RawConfig {
        let get = |s: Setting| lookup(s.env);
        RawConfig {
            gitlab_url: get(setting::GITLAB_URL),
            group: get(setting::GROUP),
            token_file: None,
            secret_id: get(setting::SECRET_ID),
            store: get(setting::STORE),
            site: get(setting::SITE),
            inactive_days: get(setting::INACTIVE_DAYS),
            grace_days: get(setting::GRACE_DAYS),
            exempt: get(setting::EXEMPT),
            seat_price: get(setting::SEAT_PRICE),
            seats_purchased: get(setting::SEATS_PURCHASED),
            duo_idle_days: get(setting::DUO_IDLE_DAYS),
            duo_prices: get(setting::DUO_PRICES),
            contribution_days: get(setting::CONTRIBUTION_DAYS),
            contribution_backfill_pages: get(setting::CONTRIBUTION_BACKFILL_PAGES),
            renewal_buffer: get(setting::RENEWAL_BUFFER),
            renewal_notice_days: get(setting::RENEWAL_NOTICE_DAYS),
            retention_days: get(setting::RETENTION_DAYS),
            expiry_warn_days: get(setting::EXPIRY_WARN_DAYS),
            allow_http: get(setting::ALLOW_HTTP),
            concurrency: get(setting::CONCURRENCY),
            request_timeout_secs: get(setting::REQUEST_TIMEOUT),
            time_zone: get(setting::TIME_ZONE),
            max_retry_secs: get(setting::MAX_RETRY),
            table: get(setting::TABLE),
            bucket: get(setting::BUCKET),
            site_prefix: get(setting::SITE_PREFIX),
        }
    }

    /// The typed settings, or the first setting that is wrong.
    pub fn parse(self) -> Result<Config, ConfigError> {
        let allow_http = allow_http(self.allow_http)?;
        Ok(Config {
            gitlab_url: gitlab_url(self.gitlab_url, allow_http),
            group: self.group.as_deref().and_then(Group::parse),
            token_file: self.token_file,
            secret_id: self.secret_id.filter(|s| !s.trim().is_empty()),
            store: store_url(self.store, self.table)?,
            site: destination(self.site, self.bucket, self.site_prefix)?,
            policy: Policy {
                inactive_days: days(
                    setting::INACTIVE_DAYS,
                    self.inactive_days,
                    DEFAULT_INACTIVE_DAYS,
                )?,
                grace_days: days(setting::GRACE_DAYS, self.grace_days, DEFAULT_GRACE_DAYS)?,
                exempt: exemptions(self.exempt)?,
                seat_price: seat_price(self.seat_price)?,
                duo_idle_days: days(
                    setting::DUO_IDLE_DAYS,
                    self.duo_idle_days,
                    DEFAULT_DUO_IDLE_DAYS,
                )?,
                duo_prices: duo_prices(self.duo_prices)?,
                contribution_days: days(
                    setting::CONTRIBUTION_DAYS,
                    self.contribution_days,
                    DEFAULT_CONTRIBUTION_DAYS,
                )?,
                renewal_buffer_percent: number(
                    setting::RENEWAL_BUFFER,
                    self.renewal_buffer,
                    DEFAULT_RENEWAL_BUFFER_PERCENT,
                    "a whole number of percent, e.g. 10",
                )?,
                renewal_notice_days: days(
                    setting::RENEWAL_NOTICE_DAYS,
                    self.renewal_notice_days,
                    DEFAULT_RENEWAL_NOTICE_DAYS,
                )?,
            },
            seats_purchased: optional_number(
                setting::SEATS_PURCHASED,
                self.seats_purchased,
                "a whole number of seats",
            )?,
            contribution_backfill_pages: number(
                setting::CONTRIBUTION_BACKFILL_PAGES,
                self.contribution_backfill_pages,
                DEFAULT_CONTRIBUTION_BACKFILL_PAGES,
                "a whole number of pages (0: no backfill)",
            )?,
            retention_days: days(
                setting::RETENTION_DAYS,
                self.retention_days,
                DEFAULT_RETENTION_DAYS,
            )?,
            expiry_warn_days: days(
                setting::EXPIRY_WARN_DAYS,
                self.expiry_warn_days,
                DEFAULT_EXPIRY_WARN_DAYS,
            )?,
            allow_http,
            // 0 has always meant "one at a time" rather than an error
            concurrency: number(
                setting::CONCURRENCY,
                self.concurrency,
                DEFAULT_CONCURRENCY,
                "a whole number of requests",
            )?
            .max(1),
            request_timeout: seconds(
                setting::REQUEST_TIMEOUT,
                self.request_timeout_secs,
                DEFAULT_REQUEST_TIMEOUT,
            )?
            .max(Duration::from_secs(1)),
            max_retry_time: seconds(
                setting::MAX_RETRY,
                self.max_retry_secs,
                DEFAULT_MAX_RETRY_TIME,
            )?,
            time_zone: time_zone(self.time_zone)?,
        })
    }
}

impl Config {
    /// The settings from the process environment alone, as a Lambda function sees them.
    pub fn from_lambda_env() -> Result<Config, ConfigError> {
        RawConfig::from_env(|name| std::env::var(name).ok()).parse()
    }

    /// The GitLab URL: the one the settings give, or else the one from the secret.
    pub fn base_url(&self, from_secret: Option<&str>) -> Result<BaseUrl, ConfigError> {
        match (&self.gitlab_url, from_secret) {
            (Some(url), _) => Ok(url.parsed.clone()?),
            (None, Some(raw)) => Ok(BaseUrl::parse(raw.trim(), self.allow_http)?),
            (None, None) => Err(ConfigError::MissingUrl),
        }
    }

    /// The GitLab client's options: every tuning number comes from here, none from the
    /// client's own defaults.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            concurrency: self.concurrency,
            request_timeout: self.request_timeout,
            max_retry_time: self.max_retry_time,
            ..ClientOptions::default()
        }
    }
}

fn invalid(setting: Setting, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// The URL as given, parsed but kept even when invalid (see [`GitLabUrl`]); blank is none.
fn gitlab_url(given: Option<String>, allow_http: bool) -> Option<GitLabUrl> {
    let given = given?.trim().to_string();
    (!given.is_empty()).then(|| GitLabUrl {
        parsed: BaseUrl::parse(&given, allow_http),
        given,
    })
}

fn allow_http(given: Option<String>) -> Result<bool, ConfigError> {
    let Some(v) = given else {
        return Ok(DEFAULT_ALLOW_HTTP);
    };
    parse_flag(&v)
        .ok_or_else(|| invalid(setting::ALLOW_HTTP, &v, "1/0, true/false, yes/no or on/off"))
}

fn days(setting: Setting, given: Option<String>, default: u32) -> Result<u32, ConfigError> {
    number(setting, given, default, "a whole number of days")
}

fn seconds(
    setting: Setting,
    given: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let secs = number(
        setting,
        given,
        default.as_secs(),
        "a whole number of seconds",
    )?;
    Ok(Duration::from_secs(secs))
}

/// A number, or `default` when not given.
fn number<T: FromStr>(
    setting: Setting,
    given: Option<String>,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    Ok(optional_number(setting, given, expected)?.unwrap_or(default))
}

/// A number, or `None` when not given.
fn optional_number<T: FromStr>(
    setting: Setting,
    given: Option<String>,
    expected: &str,
) -> Result<Option<T>, ConfigError> {
    given
        .map(|v| v.trim().parse().map_err(|_| invalid(setting, &v, expected)))
        .transpose()
}

/// The seat price: a number that can be shown as money.
fn seat_price(given: Option<String>) -> Result<Option<f64>, ConfigError> {
    let expected = "a price per seat and month, e.g. 29 or 19.5";
    let price: Option<f64> = optional_number(setting::SEAT_PRICE, given.clone(), expected)?;
    match price {
        Some(p) if !p.is_finite() || p < 0.0 => Err(invalid(
            setting::SEAT_PRICE,
            given.as_deref().unwrap_or_default(),
            expected,
        )),
        _ => Ok(price),
    }
}

/// The Duo seat prices: `ADD_ON=price` pairs, comma-separated, each add-on named as GitLab's
/// enum names it (`CODE_SUGGESTIONS=19,DUO_ENTERPRISE=39`). A name seatwatch does not know is
/// kept: GitLab adds add-ons, and a price for one that is never read costs nothing.
fn duo_prices(given: Option<String>) -> Result<BTreeMap<String, f64>, ConfigError> {
    let Some(list) = given else {
        return Ok(BTreeMap::new());
    };
    let expected = "comma-separated ADD_ON=price pairs with GitLab's add-on names and a price per \
                    seat and month, e.g. CODE_SUGGESTIONS=19,DUO_ENTERPRISE=39";
    let mut prices = BTreeMap::new();
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (add_on, price) = pair
            .split_once('=')
            .map(|(a, p)| (a.trim(), p.trim()))
            .ok_or_else(|| invalid(setting::DUO_PRICES, &list, expected))?;
        let price: f64 = price
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| invalid(setting::DUO_PRICES, &list, expected))?;
        let well_named = !add_on.is_empty()
            && add_on
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_named {
            return Err(invalid(setting::DUO_PRICES, &list, expected));
        }
        // GitLab's enum names are upper case; `duo_enterprise` means the same add-on.
        prices.insert(add_on.to_ascii_uppercase(), price);
    }
    Ok(prices)
}

/// Accepts the ways people write a boolean in an environment variable.
fn parse_flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn time_zone(given: Option<String>) -> Result<Tz, ConfigError> {
    let Some(v) = given else {
        return Ok(DEFAULT_TIME_ZONE);
    };
    v.trim().parse::<Tz>().map_err(|_| {
        invalid(
            setting::TIME_ZONE,
            &v,
            "an IANA time zone name: use the zone of the GitLab instance, e.g. UTC, Europe/Berlin or America/New_York",
        )
    })
}

/// The store: `SEATWATCH_TABLE` when given (a Lambda), else `SEATWATCH_STORE`.
fn store_url(store: Option<String>, table: Option<String>) -> Result<StoreUrl, ConfigError> {
    let (setting, value, url) = match (table, store) {
        (Some(table), _) => (setting::TABLE, table.clone(), format!("dynamodb:{table}")),
        (None, Some(store)) => (setting::STORE, store.clone(), store),
        (None, None) => (setting::STORE, DEFAULT_STORE.into(), DEFAULT_STORE.into()),
    };
    url.parse().map_err(|e: StoreError| {
        let why = match e {
            StoreError::BadStoreUrl { why, .. } => why,
            other => other.to_string(),
        };
        invalid(
            setting,
            &value,
            format!("`sqlite:PATH` (e.g. `{DEFAULT_STORE}`) or `dynamodb:TABLE`; here {why}"),
        )
    })
}

/// The site: `SEATWATCH_BUCKET` and `SEATWATCH_SITE_PREFIX` when given (a Lambda), else
/// `SEATWATCH_SITE`.
fn destination(
    site: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
) -> Result<Destination, ConfigError> {
    let (setting, value, dest) = match (bucket, site) {
        (Some(bucket), _) => {
            let prefix = prefix.unwrap_or_default();
            let dest = format!("s3://{bucket}/{}", prefix.trim_matches('/'));
            (setting::BUCKET, bucket, dest)
        }
        (None, Some(site)) => (setting::SITE, site.clone(), site),
        (None, None) => (setting::SITE, DEFAULT_SITE.into(), DEFAULT_SITE.into()),
    };
    dest.parse().map_err(|e: PublishError| {
        let why = match e {
            PublishError::BadDestination { why, .. } => why.to_string(),
            other => other.to_string(),
        };
        invalid(
            setting,
            &value,
            format!("a folder or s3://bucket/prefix; here {why}"),
        )
    })
}

fn exemptions(given: Option<String>) -> Result<Exemptions, ConfigError> {
    let list = given.unwrap_or_default();
    Exemptions::parse(&list).map_err(|e| {
        let AnalyseError::BadExemptPattern { pattern, cause } = e;
        invalid(
            setting::EXEMPT,
            &list,
            format!(
                "comma-separated usernames or globs such as `svc-*`; here {pattern:?}: {cause}"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(Setting, &str)]) -> RawConfig {
        let map: HashMap<&str, String> =
            pairs.iter().map(|(s, v)| (s.env, v.to_string())).collect();
        RawConfig::from_env(|name| map.get(name).cloned())
    }

    /// The setting a parse error names.
    fn refused(raw: RawConfig) -> (Setting, String, String) {
        match raw.parse() {
            Err(ConfigError::Invalid {
                setting,
                value,
                expected,
            }) => (setting, value, expected),
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }

    #[test]
    fn each_bad_setting_is_named_with_its_value_and_what_is_expected() {
        let cases = [
            (setting::STORE, "postgres:db"),
            (setting::SITE, "https://example.com/site"),
            (setting::INACTIVE_DAYS, "ninety"),
            (setting::GRACE_DAYS, "-1"),
            (setting::EXEMPT, "svc-[*"),
            (setting::SEAT_PRICE, "free"),
            (setting::SEATS_PURCHASED, "1.5"),
            (setting::DUO_IDLE_DAYS, "a month"),
            (setting::DUO_PRICES, "CODE_SUGGESTIONS=nineteen"),
            (setting::CONTRIBUTION_DAYS, "-90"),
            (setting::RENEWAL_BUFFER, "10%"),
            (setting::RENEWAL_NOTICE_DAYS, "30d"),
            (setting::RETENTION_DAYS, "a year"),
            (setting::EXPIRY_WARN_DAYS, "soon"),
            (setting::ALLOW_HTTP, "maybe"),
            (setting::CONCURRENCY, "many"),
            (setting::REQUEST_TIMEOUT, "30s"),
            (setting::TIME_ZONE, "Pacific Time (US & Canada)"),
            (setting::MAX_RETRY, "5m"),
            (setting::TABLE, "x"),
        ];
        for (setting, value) in cases {
            let (named, shown, expected) = refused(env(&[(setting, value)]));
            assert_eq!(named, setting, "{value}");
            assert_eq!(shown, value);
            assert!(!expected.is_empty());
            let message = ConfigError::Invalid {
                setting: named,
                value: shown,
                expected,
            }
            .to_string();
            assert!(message.contains(setting.env), "{message}");
            if !setting.flag.is_empty() {
                assert!(
                    message.contains(&format!("--{}", setting.flag)),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn duo_prices_take_any_add_on_name_and_refuse_bad_numbers() {
        let config = env(&[(
            setting::DUO_PRICES,
            " CODE_SUGGESTIONS=19, duo_enterprise = 39.5,DUO_SOMETHING_NEW=0 ",
        )])
        .parse()
        .expect("valid");
        let prices: Vec<(&str, f64)> = config
            .policy
            .duo_prices
            .iter()
            .map(|(a, p)| (a.as_str(), *p))
            .collect();
        assert_eq!(
            prices,
            [
                ("CODE_SUGGESTIONS", 19.0),
                ("DUO_ENTERPRISE", 39.5),
                ("DUO_SOMETHING_NEW", 0.0)
            ]
        );
        for bad in [
            "CODE_SUGGESTIONS",
            "CODE_SUGGESTIONS=-1",
            "CODE_SUGGESTIONS=inf",
            "=19",
            "DUO PRO=19",
            "CODE_SUGGESTIONS=19;DUO_ENTERPRISE=39",
        ] {
            let (named, shown, expected) = refused(env(&[(setting::DUO_PRICES, bad)]));
            assert_eq!((named, shown.as_str()), (setting::DUO_PRICES, bad));
            assert!(expected.contains("CODE_SUGGESTIONS=19"), "{expected}");
        }
    }

    #[test]
    fn the_duo_contribution_and_renewal_settings_reach_the_policy() {
        let config = env(&[
            (setting::DUO_IDLE_DAYS, "45"),
            (setting::CONTRIBUTION_DAYS, "60"),
            (setting::RENEWAL_BUFFER, "25"),
            (setting::RENEWAL_NOTICE_DAYS, "75"),
        ])
        .parse()
        .expect("valid");
        let p = &config.policy;
        assert_eq!(
            (
                p.duo_idle_days,
                p.contribution_days,
                p.renewal_buffer_percent,
                p.renewal_notice_days
            ),
            (45, 60, 25, 75)
        );
        let defaults = RawConfig::default().parse().expect("valid").policy;
        assert_eq!(
            (
                defaults.duo_idle_days,
                defaults.contribution_days,
                defaults.renewal_buffer_percent,
                defaults.renewal_notice_days
            ),
            (
                DEFAULT_DUO_IDLE_DAYS,
                DEFAULT_CONTRIBUTION_DAYS,
                DEFAULT_RENEWAL_BUFFER_PERCENT,
                DEFAULT_RENEWAL_NOTICE_DAYS
            )
        );
        assert!(defaults.duo_prices.is_empty());
    }

    #[test]
    fn the_time_zone_error_says_an_iana_name_is_expected() {
        let (_, _, expected) = refused(env(&[(setting::TIME_ZONE, "PST8PDT please")]));
        assert!(expected.contains("IANA"), "{expected}");
    }

    #[test]
    fn allow_http_accepts_common_spellings_and_rejects_others() {
        assert_eq!(parse_flag("1"), Some(true));
        assert_eq!(parse_flag("TRUE"), Some(true));
        assert_eq!(parse_flag(""), Some(false));
        assert_eq!(parse_flag("off"), Some(false));
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn typed_values_come_from_the_given_strings() {
        let config = env(&[
            (setting::TIME_ZONE, " Europe/Berlin "),
            (setting::CONCURRENCY, "3"),
            (setting::REQUEST_TIMEOUT, "7"),
            (setting::EXEMPT, "svc-*, bot"),
            (setting::SEAT_PRICE, "19.5"),
        ])
        .parse()
        .expect("valid");
        assert_eq!(config.time_zone, Tz::Europe__Berlin);
        assert_eq!(config.concurrency, 3);
        assert_eq!(config.client_options().concurrency, 3);
        assert_eq!(
            config.client_options().request_timeout,
            Duration::from_secs(7)
        );
        assert!(config.policy.exempt.is_exempt("SVC-deploy"));
        assert!(config.policy.exempt.is_exempt("bot"));
        assert_eq!(config.policy.seat_price, Some(19.5));
    }

    #[test]
    fn nothing_given_means_the_defaults() {
        let config = RawConfig::default()
            .parse()
            .expect("the defaults are valid");
        assert_eq!(config.store, DEFAULT_STORE.parse::<StoreUrl>().unwrap());
        assert_eq!(config.site, DEFAULT_SITE.parse::<Destination>().unwrap());
        assert_eq!(config.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(config.client_options().concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(config.max_retry_time, DEFAULT_MAX_RETRY_TIME);
        assert_eq!(config.time_zone, DEFAULT_TIME_ZONE);
        assert_eq!(config.policy.inactive_days, DEFAULT_INACTIVE_DAYS);
        assert_eq!(config.retention_days, DEFAULT_RETENTION_DAYS);
        assert!(config.group.is_none() && config.gitlab_url.is_none());
    }

    #[test]
    fn the_group_is_trimmed_once_and_blank_means_none() {
        let config = env(&[(setting::GROUP, "  acme/platform \n")])
            .parse()
            .expect("valid");
        assert_eq!(
            config.group.as_ref().map(Group::as_str),
            Some("acme/platform")
        );
        for blank in ["", "   "] {
            let config = env(&[(setting::GROUP, blank)]).parse().expect("valid");
            assert_eq!(config.group, None, "{blank:?}");
        }
    }

    #[test]
    fn lambda_env_maps_table_bucket_and_prefix_over_store_and_site() {
        let config = env(&[
            (setting::STORE, "sqlite:ignored.db"),
            (setting::SITE, "ignored"),
            (setting::TABLE, "seatwatch-snapshots"),
            (setting::BUCKET, "seatwatch-site"),
            (setting::SITE_PREFIX, "/reports/gitlab/"),
        ])
        .parse()
        .expect("valid");
        assert_eq!(
            config.store,
            StoreUrl::DynamoDb("seatwatch-snapshots".into())
        );
        assert_eq!(
            config.site,
            Destination::S3 {
                bucket: "seatwatch-site".into(),
                prefix: "reports/gitlab".into()
            }
        );
        let at_root = env(&[(setting::BUCKET, "seatwatch-site")])
            .parse()
            .expect("valid");
        assert_eq!(
            at_root.site,
            Destination::S3 {
                bucket: "seatwatch-site".into(),
                prefix: String::new()
            }
        );
    }

    #[test]
    fn without_table_or_bucket_the_store_and_site_settings_apply() {
        let config = env(&[
            (setting::STORE, "dynamodb:my-table"),
            (setting::SITE, "s3://b/p"),
        ])
        .parse()
        .expect("valid");
        assert_eq!(config.store, StoreUrl::DynamoDb("my-table".into()));
        assert_eq!(
            config.site,
            Destination::S3 {
                bucket: "b".into(),
                prefix: "p".into()
            }
        );
    }

    #[test]
    fn the_url_from_the_settings_wins_and_a_bad_one_is_kept_for_check() {
        let config = env(&[(setting::GITLAB_URL, " https://gitlab.example.com ")])
            .parse()
            .expect("valid");
        let base = config
            .base_url(Some("https://other.example.com"))
            .expect("valid URL");
        assert_eq!(base.host(), "gitlab.example.com");

        let bad = env(&[(setting::GITLAB_URL, "http://gitlab.example.com")])
            .parse()
            .expect("a bad URL does not stop the settings");
        assert!(matches!(
            bad.base_url(Some("https://other.example.com")),
            Err(ConfigError::Url(_))
        ));

        let none = RawConfig::default().parse().expect("valid");
        assert!(matches!(none.base_url(None), Err(ConfigError::MissingUrl)));
        let from_secret = none
            .base_url(Some("https://secret.example.com"))
            .expect("valid");
        assert_eq!(from_secret.host(), "secret.example.com");
    }
}
