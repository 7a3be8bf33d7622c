//! Connection pre-flight checks: can seatwatch read what it needs from this GitLab with this token?
//!
//! Each named check ends `pass`, `warn` or `fail` with a detail that says what to do. A check that
//! needs an earlier one (no URL, no token) is reported as `warn` with a `skipped:` detail rather
//! than left out, so the list always has the same names in the same order. The document
//! serialises to the `check --json` contract of DESIGN.md; the `check` Lambda returns it as is.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::Serialize;

use crate::config::Config;
use crate::secrets::TokenProvider;
use seatwatch_core::duo::AddOnSeats;
use seatwatch_gitlab::{BaseUrl, Client, CurrentUser, GitLabError, Namespace, PersonalAccessToken};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

/// The whole pre-flight result: `{"ok", "gitlab_url", "checks": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub gitlab_url: String,
    pub checks: Vec<Check>,
    /// For the token-expiry metric; not part of the JSON contract.
    #[serde(skip)]
    pub token_expires_at: Option<NaiveDate>,
}

/// The checks in the order they run and are reported.
pub(crate) const CHECK_NAMES: [&str; 11] = [
    "url",
    "reachable",
    "tls",
    "token",
    "scopes",
    "expiry",
    "identity",
    "seats",
    "members",
    "duo",
    "rate_limit",
];

struct Checks {
    checks: Vec<Check>,
    token_expires_at: Option<NaiveDate>,
}

impl Checks {
    fn push(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Pass, detail)
    }
    fn warn(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Warn, detail)
    }
    fn fail(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Fail, detail)
    }
    /// Whether check `name` failed with a detail starting `prefix`.
    fn failed_with(&self, name: &str, prefix: &str) -> bool {
        self.checks
            .iter()
            .any(|c| c.name == name && c.status == Status::Fail && c.detail.starts_with(prefix))
    }
    /// Reports every check not yet reported as skipped because of `why`.
    fn skip_rest(&mut self, why: &str) {
        for name in CHECK_NAMES {
            if !self.checks.iter().any(|c| c.name == name) {
                self.warn(name, format!("skipped: {why}"));
            }
        }
    }
    fn finish(mut self, gitlab_url: String) -> CheckReport {
        // keep the contract order whatever order the checks were pushed in
        self.checks.sort_by_key(|c| {
            CHECK_NAMES
                .iter()
                .position(|n| *n == c.name)
                .unwrap_or(usize::MAX)
        });
        CheckReport {
            ok: self.checks.iter().all(|c| c.status != Status::Fail),
            gitlab_url,
            checks: self.checks,
            token_expires_at: self.token_expires_at,
        }
    }
}

/// Runs every check against the GitLab the settings name, as of `today` (for the expiry check).
pub async fn run(settings: &Config, tokens: &TokenProvider, today: NaiveDate) -> CheckReport {
    let mut out = Checks {
        checks: Vec::new(),
        token_expires_at: None,
    };

    let creds = tokens.get().await;
    let secret_url = creds.as_ref().ok().and_then(|c| c.url.clone());
    let shown_url = settings
        .gitlab_url
        .as_ref()
        .map(|u| u.given.clone())
        .or_else(|| secret_url.clone())
        .unwrap_or_default();

    let base = match settings.base_url(secret_url.as_deref()) {
        Ok(base) => {
            out.pass("url", format!("API root {}", base.api_root()));
            base
        }
        Err(e) => {
            out.fail("url", e.to_string());
            out.skip_rest("`url` must pass first");
            return out.finish(shown_url);
        }
    };
    let gitlab_url = base.web_root().to_string();

    let creds = match creds {
        Ok(c) => c,
        Err(e) => {
            reachable_without_token(&mut out, &base);
            out.fail("token", e.to_string());
            out.skip_rest("no token to check with");
            return out.finish(gitlab_url);
        }
    };

    let mut opts = settings.client_options();
    // a pre-flight check should answer in seconds, not sit out a long outage
    opts.max_retry_time = opts.max_retry_time.min(Duration::from_secs(20));
    let client = match Client::new(base.clone(), creds.token, opts) {
        Ok(c) => c,
        Err(e) => {
            out.fail("reachable", e.to_string());
            out.skip_rest("the HTTP client could not be built");
            return out.finish(gitlab_url);
        }
    };

    gitlab_checks(&mut out, &client, settings, tokens, today).await;
    out.finish(gitlab_url)
}

/// The checks that ask GitLab: is it there, is the token valid, and may it read the seats and
/// members; each stage skips the rest when it fails.
async fn gitlab_checks(
    out: &mut Checks,
    client: &Client,
    settings: &Config,
    tokens: &TokenProvider,
    today: NaiveDate,
) {
    if !reachable(out, client).await {
        out.skip_rest("GitLab must be reachable first");
        return;
    }

    let Some(pat) = token(out, client, tokens).await else {
        if out.failed_with("token", "expired") {
            out.fail(
                "expiry",
                "the token has expired: GitLab refuses it; create a new one and update GITLAB_TOKEN or the secret",
            );
        }
        out.skip_rest("the token must be valid first");
        return;
    };
    scopes(out, &pat);
    expiry(out, &pat, today, settings.expiry_warn_days);

    match &settings.group {
        None => self_managed(out, client).await,
        Some(group) => gitlab_com(out, client, group.as_str()).await,
    }
    duo(out, client, settings.group.as_ref().map(|g| g.as_str())).await;
    rate_limit(out, client);
}

/// What to do when Duo seats cannot be read: the role and scope GitLab wants.
const DUO_FIX: &str = "use a token of the top-level group's Owner on GitLab.com (GITLAB_GROUP set to that group) or of an instance administrator on self-managed, with the read_api scope";

/// `duo`: can the token read GitLab Duo add-on purchases and their holders, and does this
/// GitLab say when each holder last used Duo (`lastDuoActivityOn`, GitLab 18.0+)?
async fn duo(out: &mut Checks, client: &Client, group: Option<&str>) {
    let mut full_path = String::new();
    let scope = match crate::duo::scope_of(client, group, &mut full_path).await {
        Ok(scope) => scope,
        Err(e) => return out.fail("duo", format!("Duo seats: {e}")),
    };
    let purchases = match client.add_on_purchases(scope).await {
        Ok(Some(purchases)) => purchases,
        Ok(None) | Err(GitLabError::NotFound { .. }) => {
            return out.warn(
                "duo",
                "this GitLab has no add-on purchases (older than GitLab Duo): Duo seats are not reported",
            );
        }
        Err(e) if e.is_permission_refusal() => {
            return out.fail("duo", format!("add-on purchases refused: {DUO_FIX}"));
        }
        // graphql-ruby nulls a purchase the user may not read, which breaks the non-null list
        // ("Cannot return null for non-nullable element"): a missing role, most often.
        Err(e @ GitLabError::GraphQl { .. }) => {
            return out.fail(
                "duo",
                format!("add-on purchases: {e}; if the role is missing, {DUO_FIX}"),
            );
        }
        Err(e) => return out.fail("duo", format!("add-on purchases: {e}")),
    };
    let bought: Vec<String> = purchases
        .iter()
        .map(|p| {
            format!(
                "{} {}/{} assigned",
                p.name, p.assigned_quantity, p.purchased_quantity
            )
        })
        .collect();
    // The holders prove the role (purchases are hidden, not refused, without it) and tell
    // whether Duo use is exposed; the smallest add-on costs the fewest pages.
    let per_user = purchases
        .iter()
        .filter(|p| AddOnSeats::of(&p.name) == AddOnSeats::PerUser)
        .min_by_key(|p| p.assigned_quantity);
    let Some(purchase) = per_user else {
        return match bought.as_slice() {
            // GitLab hides purchases from a user without the role rather than refusing them.
            [] => out.warn(
                "duo",
                format!("no Duo add-on purchases visible: none are bought, or they are hidden from this user; to see them, {DUO_FIX}"),
            ),
            _ => out.pass(
                "duo",
                format!("{}; none with per-user seats", bought.join(", ")),
            ),
        };
    };
    match client.add_on_holders(scope, purchase).await {
        Ok(holders) if holders.duo_activity_exposed => out.pass(
            "duo",
            format!("{}; last Duo use per holder is available", bought.join(", ")),
        ),
        Ok(_) => out.warn(
            "duo",
            format!(
                "{}; this GitLab does not say when a holder last used Duo (lastDuoActivityOn needs GitLab 18.0 or later): until it does, every holder's status is \"unknown\"",
                bought.join(", ")
            ),
        ),
        Err(e) if e.is_permission_refusal() => {
            out.fail("duo", format!("Duo seat holders refused: {DUO_FIX}"))
        }
        Err(e) => out.fail("duo", format!("Duo seat holders: {e}")),
    }
}

/// Without a token only the URL can be judged; the rest says why it was not tried.
fn reachable_without_token(out: &mut Checks, base: &BaseUrl) {
    out.warn(
        "reachable",
        format!("skipped: no token to call {} with", base.host()),
    );
}

/// `reachable` and `tls`, from `GET /metadata`; false when nothing more can be asked.
async fn reachable(out: &mut Checks, client: &Client) -> bool {
    let started = Instant::now();
    let result = client.metadata().await;
    let ms = started.elapsed().as_millis();
    let base = client.base();
    match result {
        Ok(meta) => {
            let edition = if meta.is_enterprise() {
                "Enterprise Edition"
            } else {
                "Community Edition"
            };
            out.pass(
                "reachable",
                format!("GitLab {} ({edition}) answered in {ms} ms", meta.version),
            );
            tls_answered(out, base);
            true
        }
        // GitLab answered, it just won't say its version to this token: the token check says why.
        Err(e) if e.is_auth() => {
            out.pass(
                "reachable",
                format!(
                    "{} answered in {ms} ms (version hidden: the token was refused)",
                    base.host()
                ),
            );
            tls_answered(out, base);
            true
        }
        Err(e) => {
            unreachable(out, base, e);
            false
        }
    }
}

/// `tls` once GitLab answered: verified, loopback, or plain HTTP allowed across a network.
fn tls_answered(out: &mut Checks, base: &BaseUrl) {
    if base.is_https() {
        out.pass(
            "tls",
            format!(
                "certificate for {} verified (rustls, Mozilla roots)",
                base.host()
            ),
        );
    } else if is_loopback(base.host()) {
        out.pass("tls", "plain HTTP to a loopback address (local testing)");
    } else {
        out.warn(
            "tls",
            "plain HTTP allowed by SEATWATCH_ALLOW_HTTP: the token crosses the network unencrypted; use https://",
        );
    }
}

/// `reachable` (and `tls`, when the handshake is what failed) when GitLab did not answer.
fn unreachable(out: &mut Checks, base: &BaseUrl, error: GitLabError) {
    match error {
        GitLabError::Tls { reason, .. } => {
            out.fail(
                "reachable",
                format!(
                    "{} is up but the TLS handshake failed (see tls)",
                    base.host()
                ),
            );
            out.fail(
                "tls",
                format!(
                    "{reason}: the certificate must be valid for {} and issued by a public CA",
                    base.host()
                ),
            );
        }
        e @ GitLabError::NotFound { .. } => out.fail(
            "reachable",
            format!(
                "no GitLab API at {} ({e}): check the URL, including any relative path such as /gitlab",
                base.api_root()
            ),
        ),
        e => out.fail("reachable", e.to_string()),
    }
}

/// The token's own record; after a 401 the token source is read once more, so a token rotated
/// in Secrets Manager since the cold start is picked up.
async fn token(
    out: &mut Checks,
    client: &Client,
    tokens: &TokenProvider,
) -> Option<PersonalAccessToken> {
    match token_record(client, tokens).await {
        Ok(pat) if pat.revoked => {
            out.fail(
                "token",
                format!("token {:?} is revoked: create a new one", pat.name),
            );
            None
        }
        Ok(pat) => {
            out.pass(
                "token",
                format!(
                    "valid: personal access token {:?} (id {})",
                    pat.name, pat.id
                ),
            );
            Some(pat)
        }
        Err(GitLabError::TokenExpired { .. }) => {
            out.fail(
                "token",
                "expired: create a new personal access token with the read_api scope, then update GITLAB_TOKEN or the secret",
            );
            None
        }
        Err(GitLabError::TokenRevoked { .. }) => {
            out.fail(
                "token",
                "revoked: create a new personal access token with the read_api scope, then update GITLAB_TOKEN or the secret",
            );
            None
        }
        Err(GitLabError::Unauthorized { .. }) => {
            out.fail(
                "token",
                "unknown: GitLab does not recognise this token (mistyped, deleted, or made on another instance)",
            );
            None
        }
        Err(e @ GitLabError::BadRequest { .. }) => {
            out.fail(
                "token",
                format!("{e}: use a personal access token (not an OAuth, job or deploy token)"),
            );
            None
        }
        Err(e) => {
            out.fail("token", e.to_string());
            None
        }
    }
}

/// `GET /personal_access_tokens/self`, asked once more with a fresh token after a 401.
async fn token_record(
    client: &Client,
    tokens: &TokenProvider,
) -> Result<PersonalAccessToken, GitLabError> {
    let result = client.token_self().await;
    if matches!(&result, Err(e) if e.is_auth())
        && let Ok((fresh, true)) = tokens.refresh().await
    {
        client.set_token(fresh.token);
        return client.token_self().await;
    }
    result
}

/// `read_api` (or `api`, which includes it) is all seatwatch needs: `lib/api/api.rb` allows
/// `read_api` on every route for GET and HEAD requests. `read_user` is never required.
pub(crate) fn missing_scopes(scopes: &[String]) -> Vec<&'static str> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("api") || has("read_api") {
        Vec::new()
    } else {
        vec!["read_api"]
    }
}

fn scopes(out: &mut Checks, pat: &PersonalAccessToken) {
    let missing = missing_scopes(&pat.scopes);
    if missing.is_empty() {
        out.pass("scopes", format!("has {}", pat.scopes.join(", ")));
    } else {
        out.fail(
            "scopes",
            format!(
                "missing {}: the token has [{}]; create one with the read_api scope only (api also works but can write; add admin_mode where Admin Mode is on)",
                missing.join(" and "),
                pat.scopes.join(", ")
            ),
        );
    }
}

/// Pass with the date, warn within `warn_days`, fail once expired.
pub(crate) fn expiry_status(
    expires_at: Option<NaiveDate>,
    today: NaiveDate,
    warn_days: u32,
) -> (Status, String) {
    let Some(date) = expires_at else {
        return (Status::Pass, "no expiry date".to_string());
    };
    let days = (date - today).num_days();
    // GitLab tokens stop working on their expiry date
    if days <= 0 {
        (
            Status::Fail,
            format!("expired on {date}: create a new token and update GITLAB_TOKEN or the secret"),
        )
    } else if days <= i64::from(warn_days) {
        (
            Status::Warn,
            format!(
                "expires on {date}, in {days} day{}: rotate it before then",
                plural(days)
            ),
        )
    } else {
        (Status::Pass, format!("expires on {date}, in {days} days"))
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn expiry(out: &mut Checks, pat: &PersonalAccessToken, today: NaiveDate, warn_days: u32) {
    let (status, detail) = expiry_status(pat.expires_at, today, warn_days);
    out.token_expires_at = pat.expires_at;
    out.push("expiry", status, detail);
}

/// `identity`, `seats` and `members` on a self-managed instance.
async fn self_managed(out: &mut Checks, client: &Client) {
    admin_identity(out, client).await;
    licence(out, client).await;
    users_admin_view(out, client).await;
}

/// `identity`: the token's user must be an administrator.
async fn admin_identity(out: &mut Checks, client: &Client) {
    match client.current_user().await {
        Ok(user) if user.is_admin == Some(true) => {
            out.pass("identity", format!("{} (administrator)", user.username))
        }
        Ok(user) => out.fail(
            "identity",
            format!(
                "{} is not an administrator: seats and activity need an instance admin's token",
                user.username
            ),
        ),
        Err(e) => out.fail("identity", e.to_string()),
    }
}

/// `seats`: the licence, which only an administrator may read.
async fn licence(out: &mut Checks, client: &Client) {
    match client.license().await {
        // ee/lib/api/entities/gitlab_license.rb: user_limit 0 = the licence restricts no seats
        Ok(Some(lic)) => {
            let plan = lic.plan.as_deref().unwrap_or("unknown plan");
            let seats = match lic.user_limit {
                Some(0) | None => "no seat limit".to_string(),
                Some(n) => format!("{n} seats"),
            };
            // active_users is GitLab's daily count (daily_billable_users_count)
            let used = lic
                .active_users
                .map_or(String::new(), |n| format!(", {n} in use (GitLab's daily count)"));
            let until = lic
                .expires_at
                .map_or(String::new(), |d| format!(", expires {d}"));
            out.pass("seats", format!("GET /license: {plan}, {seats}{used}{until}"));
        }
        // ee/lib/api/license.rb: EE without a licence presents nil
        Ok(None) => out.pass(
            "seats",
            "GET /license: no licence is installed (GitLab EE without a licence): nobody holds a seat; members and activity are still collected",
        ),
        // /license is authenticated_as_admin!: only an administrator reads it, never an auditor
        Err(GitLabError::Forbidden { .. }) => out.fail(
            "seats",
            "GET /license refused (403): only an administrator may read the licence (an auditor may not); with Admin Mode on, the token also needs the admin_mode scope",
        ),
        Err(GitLabError::NotFound { .. }) => out.fail(
            "seats",
            "GET /license is not found (404): this looks like GitLab Community Edition, which has no licence or seats; seatwatch reports the seats of GitLab EE",
        ),
        Err(e) => out.fail("seats", e.to_string()),
    }
}

/// `members`: `/users` must show the admin view, which carries activity and seat use.
async fn users_admin_view(out: &mut Checks, client: &Client) {
    let first_page = {
        use futures_util::StreamExt;
        let mut pages = std::pin::pin!(client.users());
        pages.next().await
    };
    match first_page {
        Some(Ok(users)) if users.iter().any(|u| u.is_admin.is_some()) => out.pass(
            "members",
            "GET /users shows the admin view (activity, sign-ins, seat use)",
        ),
        Some(Ok(users)) if users.is_empty() => {
            out.warn("members", "GET /users returned no users")
        }
        Some(Ok(_)) => out.fail(
            "members",
            "GET /users shows only the public view (no activity fields): use an administrator's token (GET /license needs one too)",
        ),
        Some(Err(e)) => out.fail("members", e.to_string()),
        None => out.warn("members", "GET /users returned no users"),
    }
}

/// `identity`, `seats` and `members` for a GitLab.com top-level group.
async fn gitlab_com(out: &mut Checks, client: &Client, group: &str) {
    let user = client.current_user().await;
    let ns = client.namespace(group).await;
    group_owner_identity(out, client, group, &user, &ns).await;
    namespace_seats(out, &ns);
    billable_members_listed(out, client, group).await;
}

/// `identity`: the token's user must be the Owner of the top-level group.
async fn group_owner_identity(
    out: &mut Checks,
    client: &Client,
    group: &str,
    user: &Result<CurrentUser, GitLabError>,
    ns: &Result<Namespace, GitLabError>,
) {
    match (user, ns) {
        (Ok(user), Ok(ns)) if ns.parent_id.is_some() => out.fail(
            "identity",
            format!(
                "{}: {} is a subgroup; GITLAB_GROUP must be the top-level group that holds the subscription",
                user.username, ns.full_path
            ),
        ),
        // Billing fields alone prove nothing: they are hidden from non-Owners only where
        // `restrict_namespace_api_billing_fields` is on (ee/lib/ee/api/entities/namespace.rb).
        // The role itself is read from the membership (lib/api/members.rb).
        (Ok(user), Ok(ns)) => match client.group_member_access(group, user.id).await {
            Ok(member) if member.is_owner() => out.pass(
                "identity",
                format!("{} (Owner of {})", user.username, ns.full_path),
            ),
            Ok(member) => out.fail(
                "identity",
                format!(
                    "{} is {} of {}, not its Owner: billable members and seat figures need a token of the top-level group's Owner",
                    user.username,
                    member.role(),
                    ns.full_path
                ),
            ),
            Err(GitLabError::NotFound { .. }) => out.fail(
                "identity",
                format!(
                    "{} is not a member of {}: use a token of the top-level group's Owner",
                    user.username, ns.full_path
                ),
            ),
            Err(e) => out.fail("identity", format!("{}: {e}", user.username)),
        },
        (Err(e), _) => out.fail("identity", e.to_string()),
        (Ok(user), Err(e)) => out.fail("identity", format!("{}: {e}", user.username)),
    }
}

/// `seats`: the group's namespace must show seat figures (a paid subscription, an Owner).
fn namespace_seats(out: &mut Checks, ns: &Result<Namespace, GitLabError>) {
    match ns {
        Ok(ns) => match (ns.seats_in_use, ns.max_seats_used) {
            (Some(used), max) => out.pass(
                "seats",
                format!(
                    "{} seats in use{}{}",
                    used,
                    max.map_or(String::new(), |m| format!(", {m} max used")),
                    ns.end_date
                        .map_or(String::new(), |d| format!(", subscription ends {d}"))
                ),
            ),
            (None, _) => out.fail(
                "seats",
                "GET /namespaces shows no seat figures: the group needs a paid subscription and the token an Owner",
            ),
        },
        Err(e) => out.fail("seats", e.to_string()),
    }
}

/// `members`: the group's billable members must be listed to this token.
async fn billable_members_listed(out: &mut Checks, client: &Client, group: &str) {
    let first_page = {
        use futures_util::StreamExt;
        let mut pages = std::pin::pin!(client.billable_members(group));
        pages.next().await
    };
    match first_page {
        Some(Ok(members)) => out.pass(
            "members",
            format!(
                "GET /groups/{group}/billable_members lists members with last activity ({} on the first page)",
                members.len()
            ),
        ),
        Some(Err(GitLabError::BadRequest { .. })) => out.fail(
            "members",
            format!(
                "GET /groups/{group}/billable_members refused (400): the group must be top-level and the token's user its Owner"
            ),
        ),
        Some(Err(e)) => out.fail("members", e.to_string()),
        None => out.warn("members", "billable_members returned nobody"),
    }
}

/// What the rate-limit headers say, read the way GitLab writes them
/// (`lib/gitlab/rack_attack/request_throttle_data.rb`): `RateLimit-Limit` is normalised to 60 s,
/// `RateLimit-Remaining` counts the throttle's real period, which ends at `RateLimit-Reset`. So
/// the two are never "n of m"; by default GitLab sends them only on a 429 anyway.
fn rate_limit(out: &mut Checks, client: &Client) {
    let Some(rl) = client.last_rate_limit() else {
        out.pass(
            "rate_limit",
            "no rate-limit headers (GitLab sends them only on a 429 by default): collection slows down on the first 429 and adapts",
        );
        return;
    };
    let now = chrono::Utc::now().timestamp();
    let period_left = rl
        .reset_at
        .map(|reset| (reset - now).max(0))
        .map(|secs| format!(" in the period ending in {secs} s"));
    let per_minute = rl
        .limit
        .map(|limit| format!("the throttle allows about {limit} requests a minute"));
    match (rl.remaining, per_minute) {
        (Some(0), per_minute) => out.warn(
            "rate_limit",
            format!(
                "no requests left{}{}: run collection when the instance is quiet",
                period_left.unwrap_or_default(),
                per_minute.map_or(String::new(), |p| format!(" ({p})"))
            ),
        ),
        (Some(rem), per_minute) => out.pass(
            "rate_limit",
            format!(
                "{rem} requests left{}{}",
                period_left.unwrap_or_default(),
                per_minute.map_or(String::new(), |p| format!("; {p}"))
            ),
        ),
        (None, Some(per_minute)) => out.pass("rate_limit", per_minute),
        (None, None) => out.pass("rate_limit", "rate-limit headers present without figures"),
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The table `seatwatch check` prints without `--json`; colour only when `colour` is set.
pub fn render_table(report: &CheckReport, colour: bool) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut s = format!("GitLab: {}\n", report.gitlab_url);
    for c in &report.checks {
        let label = c.status.as_str().to_uppercase();
        let label = if colour {
            let code = match c.status {
                Status::Pass => "32",
                Status::Warn => "33",
                Status::Fail => "31",
            };
            format!("\x1b[{code}m{label}\x1b[0m")
        } else {
            label
        };
        s.push_str(&format!("  {:<width$}  {label}  {}\n", c.name, c.detail));
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    let warned = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Warn)
        .count();
    s.push_str(&if report.ok {
        format!(
            "all checks passed ({warned} warning{})\n",
            plural(warned as i64)
        )
    } else {
        format!("{failed} check{} failed\n", plural(failed as i64))
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn read_api_alone_covers_every_get_quirk() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(missing_scopes(&v(&["read_api"])).is_empty());
        assert!(missing_scopes(&v(&["api"])).is_empty());
        assert!(missing_scopes(&v(&["read_api", "read_user"])).is_empty());
        assert_eq!(missing_scopes(&v(&["read_user"])), vec!["read_api"]);
        assert_eq!(missing_scopes(&v(&["read_repository"])), vec!["read_api"]);
    }

    #[test]
    fn expiry_warns_inside_the_window_and_fails_on_the_day() {
        let today = d("2026-11-23");
        assert_eq!(
            expiry_status(Some(d("2026-11-23")), today, 14).0,
            Status::Fail
        );
        assert_eq!(
            expiry_status(Some(d("2026-11-24")), today, 14).0,
            Status::Warn
        );
        assert_eq!(
            expiry_status(Some(d("2026-12-07")), today, 14).0,
            Status::Warn
        );
        assert_eq!(
            expiry_status(Some(d("2026-12-08")), today, 14).0,
            Status::Pass
        );
        assert_eq!(expiry_status(None, today, 14).0, Status::Pass);
        assert!(
            expiry_status(Some(d("2026-12-08")), today, 14)
                .1
                .contains("2026-12-08")
        );
    }

    #[test]
    fn skipped_checks_keep_every_name_in_contract_order() {
        let mut c = Checks {
            checks: Vec::new(),
            token_expires_at: None,
        };
        c.fail("url", "bad");
        c.skip_rest("url first");
        let r = c.finish(String::new());
        let names: Vec<_> = r.checks.iter().map(|c| c.name).collect();
        assert_eq!(names, CHECK_NAMES);
        assert!(!r.ok);
        assert!(r.checks[1..].iter().all(|c| c.status == Status::Warn));
    }

    #[test]
    fn table_is_aligned_and_plain_without_colour() {
        let report = CheckReport {
            ok: false,
            gitlab_url: "https://g.example".into(),
            checks: vec![
                Check {
                    name: "url",
                    status: Status::Pass,
                    detail: "ok".into(),
                },
                Check {
                    name: "rate_limit",
                    status: Status::Fail,
                    detail: "no".into(),
                },
            ],
            token_expires_at: None,
        };
        let t = render_table(&report, false);
        assert!(!t.contains('\x1b'));
        assert!(t.contains("  url         PASS  ok\n"), "{t}");
        assert!(t.contains("  rate_limit  FAIL  no\n"), "{t}");
        assert!(t.contains("1 check failed"));
        assert!(render_table(&report, true).contains("\x1b[31mFAIL"));
    }
}
