//! Every way a GitLab call can fail, typed, with what the user should do next.
//!
//! GitLab's failure bodies differ by cause (see `gitlab-api.md` §1): a plain 401 for an unknown
//! token, rack-oauth2 `invalid_token` bodies for expired/revoked tokens, `insufficient_scope` with
//! the scopes the endpoint accepts, a 400 (not a 403) for `billable_members` without Owner, and
//! plain-text 429 bodies. [`GitLabError::from_response`] turns (status, body) into the right
//! variant without ever failing itself. `endpoint` is always the API path without query string,
//! so no error can carry a token.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A failed GitLab call. `Display` says what happened and what to do; [`GitLabError::hint`] is
/// the what-to-do part alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitLabError {
    /// 401 with `{"message":"401 Unauthorized"}`: GitLab does not know the token.
    Unauthorized {
        endpoint: String,
    },
    /// 401 `invalid_token` "Token is expired".
    TokenExpired {
        endpoint: String,
    },
    /// 401 `invalid_token` "Token was revoked".
    TokenRevoked {
        endpoint: String,
    },
    /// Any other 401 `invalid_token`, e.g. an impersonation token with impersonation disabled.
    InvalidToken {
        endpoint: String,
        description: String,
    },
    /// 403 `insufficient_scope`; `required` is what GitLab said the endpoint accepts.
    InsufficientScope {
        endpoint: String,
        required: Vec<String>,
    },
    /// 403 for a role or permission that is too low (not an admin, not an Owner).
    Forbidden {
        endpoint: String,
        message: String,
    },
    /// 403 because the token's owner may not use the API at all: deactivated, blocked, locked or
    /// pending approval (`lib/api/api_guard.rb` `find_current_user!` answers
    /// `forbidden!(api_access_denied_message(user))`, so `message` is GitLab's reason).
    AccountBlocked {
        endpoint: String,
        message: String,
    },
    /// 400; on `billable_members` it means a subgroup or a token without Owner.
    BadRequest {
        endpoint: String,
        message: String,
    },
    NotFound {
        endpoint: String,
        message: String,
    },
    /// Still answered 429 when the retry budget ran out.
    RateLimited {
        endpoint: String,
        attempts: u32,
        waited: Duration,
    },
    /// GitLab asked for a wait (`Retry-After` or `RateLimit-Reset` on a 429) longer than the retry
    /// budget left, e.g. `Retry-After: 3600` from a self-managed hourly throttle. Nothing is lost:
    /// the caller checkpoints what it has and runs again after `wait`.
    RetryLater {
        endpoint: String,
        wait: Duration,
    },
    /// Still answered 5xx when the retry budget ran out.
    Server {
        endpoint: String,
        status: u16,
        attempts: u32,
    },
    /// Every attempt timed out.
    Timeout {
        endpoint: String,
        attempts: u32,
    },
    /// Connection refused, reset or cut mid-response on every attempt.
    Connection {
        endpoint: String,
        reason: String,
        attempts: u32,
    },
    /// The TLS handshake failed (certificate not trusted, wrong host name, ...). Not retried.
    Tls {
        endpoint: String,
        reason: String,
    },
    /// 2xx, but the body is not the JSON expected from this endpoint, on every attempt (a cut or
    /// garbled body is retried first: it is usually a network fault).
    BadBody {
        endpoint: String,
        reason: String,
        attempts: u32,
    },
    /// Any other status (redirects included: the client does not follow them with a token).
    Status {
        endpoint: String,
        status: u16,
    },
    /// 200 with GraphQL `errors` (or a `null` GitLab gave no reason for): GitLab refused the
    /// query or part of it. `field` is the field read (`addOnPurchases`), `message` GitLab's.
    GraphQl {
        endpoint: String,
        field: String,
        message: String,
    },
    /// GraphQL answered `null` for a field this token's user may not read: GitLab's
    /// `raise_resource_not_available_error!` (not the top-level group's Owner on GitLab.com, not
    /// an admin on self-managed), or a group GitLab does not show to this user.
    GraphQlForbidden {
        endpoint: String,
        field: String,
        message: String,
    },
    /// The client could not be set up or was asked for something it will not do.
    Config {
        reason: String,
    },
}

impl GitLabError {
    /// Classifies a non-success response from its status and body. Never panics, whatever the body.
    pub fn from_response(endpoint: &str, status: u16, body: &[u8]) -> GitLabError {
        let endpoint = endpoint.to_string();
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let parsed = parsed.unwrap_or_default();
        let message = parsed.message_text().unwrap_or_else(|| plain_text(body));
        match status {
            401 => match parsed.error.as_deref() {
                Some("invalid_token") => {
                    let description = parsed.error_description.unwrap_or_default();
                    let lower = description.to_ascii_lowercase();
                    if lower.contains("expired") {
                        GitLabError::TokenExpired { endpoint }
                    } else if lower.contains("revoked") {
                        GitLabError::TokenRevoked { endpoint }
                    } else {
                        GitLabError::InvalidToken {
                            endpoint,
                            description,
                        }
                    }
                }
                _ => GitLabError::Unauthorized { endpoint },
            },
            403 => match parsed.error.as_deref() {
                Some("insufficient_scope") => GitLabError::InsufficientScope {
                    endpoint,
                    required: parsed
                        .scope
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                },
                _ if is_access_denied_reason(&message) => {
                    GitLabError::AccountBlocked { endpoint, message }
                }
                _ => GitLabError::Forbidden { endpoint, message },
            },
            400 => GitLabError::BadRequest { endpoint, message },
            404 => GitLabError::NotFound { endpoint, message },
            429 => GitLabError::RateLimited {
                endpoint,
                attempts: 1,
                waited: Duration::ZERO,
            },
            500..=599 => GitLabError::Server {
                endpoint,
                status,
                attempts: 1,
            },
            _ => GitLabError::Status { endpoint, status },
        }
    }

    /// The API path the error came from (`/users`), if it came from one.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            GitLabError::Unauthorized { endpoint }
            | GitLabError::TokenExpired { endpoint }
            | GitLabError::TokenRevoked { endpoint }
            | GitLabError::InvalidToken { endpoint, .. }
            | GitLabError::InsufficientScope { endpoint, .. }
            | GitLabError::Forbidden { endpoint, .. }
            | GitLabError::AccountBlocked { endpoint, .. }
            | GitLabError::BadRequest { endpoint, .. }
            | GitLabError::NotFound { endpoint, .. }
            | GitLabError::RateLimited { endpoint, .. }
            | GitLabError::RetryLater { endpoint, .. }
            | GitLabError::Server { endpoint, .. }
            | GitLabError::Timeout { endpoint, .. }
            | GitLabError::Connection { endpoint, .. }
            | GitLabError::Tls { endpoint, .. }
            | GitLabError::BadBody { endpoint, .. }
            | GitLabError::Status { endpoint, .. }
            | GitLabError::GraphQl { endpoint, .. }
            | GitLabError::GraphQlForbidden { endpoint, .. } => Some(endpoint),
            GitLabError::Config { .. } => None,
        }
    }

    /// The token was refused (401), or its owner may not use the API (403 for a deactivated or
    /// blocked account): no point retrying until someone fixes the token or the account.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            GitLabError::Unauthorized { .. }
                | GitLabError::TokenExpired { .. }
                | GitLabError::TokenRevoked { .. }
                | GitLabError::InvalidToken { .. }
                | GitLabError::AccountBlocked { .. }
        )
    }

    /// The token's user lacks the role or permission this read needs (REST 403, or a GraphQL
    /// field refused): a different token or role fixes it, not a retry.
    pub fn is_permission_refusal(&self) -> bool {
        matches!(
            self,
            GitLabError::Forbidden { .. } | GitLabError::GraphQlForbidden { .. }
        )
    }

    /// Worth trying again later (the client already retried within its budget). A body that
    /// stayed garbled over every attempt is not: it is more likely a proxy or login page.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GitLabError::RateLimited { .. }
                | GitLabError::RetryLater { .. }
                | GitLabError::Server { .. }
                | GitLabError::Timeout { .. }
                | GitLabError::Connection { .. }
        )
    }

    /// How long GitLab asked to wait before the next try, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GitLabError::RetryLater { wait, .. } => Some(*wait),
            _ => None,
        }
    }

    /// What the user should do next.
    pub fn hint(&self) -> String {
        match self {
            GitLabError::Unauthorized { .. } => {
                "check that the token was copied whole and belongs to this GitLab instance, or create a new personal access token".into()
            }
            GitLabError::TokenExpired { .. } => {
                "create or rotate a personal access token and store it where seatwatch reads it (GITLAB_TOKEN, --token-file or the Secrets Manager secret)".into()
            }
            GitLabError::TokenRevoked { .. } => {
                "create a new personal access token and store it where seatwatch reads it".into()
            }
            GitLabError::InvalidToken { .. } => {
                "use a personal access token of a real user (admin on self-managed, top-level group Owner on GitLab.com)".into()
            }
            GitLabError::InsufficientScope { required, .. } => {
                if required.is_empty() {
                    "the token lacks a scope this endpoint needs: give it the read_api scope".into()
                } else {
                    format!(
                        "the token lacks a scope this endpoint needs: give it one of [{}] (read_api is enough for seatwatch)",
                        required.join(", ")
                    )
                }
            }
            GitLabError::AccountBlocked { .. } => {
                "the token's owner may not use the API (deactivated, blocked or awaiting approval): a deactivated user signs in once in a browser to reactivate; otherwise ask an administrator to unblock the account, or use another user's token".into()
            }
            GitLabError::Forbidden { endpoint, .. } => {
                if endpoint.starts_with("/license") || endpoint.starts_with("/users") {
                    "the token's user is not an administrator (or Admin Mode is on and the token lacks the admin_mode scope): use an instance admin's token".into()
                } else {
                    "the token's user lacks the role this needs: use a token of an instance admin (self-managed) or of the top-level group's Owner (GitLab.com)".into()
                }
            }
            GitLabError::BadRequest { endpoint, .. } => {
                if endpoint.contains("billable_members") {
                    "billable members are only listed for a top-level group and only to its Owner: set GITLAB_GROUP to the top-level group and use an Owner's token".into()
                } else {
                    "GitLab rejected the request: check the configured group and URL".into()
                }
            }
            // ee/lib/api/license.rb is not mounted on Community Edition
            GitLabError::NotFound { endpoint, .. } if endpoint == "/license" => {
                "GitLab Community Edition has no /license (no licence, no seats to report): seatwatch reports the seats of GitLab EE; if this is EE, check GITLAB_URL including any relative path such as /gitlab".into()
            }
            GitLabError::NotFound { .. } => {
                "GitLab has nothing at this path, or hides it from this token: check GITLAB_URL (including any relative path such as /gitlab) and GITLAB_GROUP, and that the token's user can see it".into()
            }
            GitLabError::RateLimited { .. } => {
                "GitLab kept rate-limiting the requests: run again later, lower the concurrency, or ask the GitLab admin to raise the API rate limit for this user".into()
            }
            GitLabError::RetryLater { .. } => {
                "GitLab's rate limit asks for a longer wait than this run may spend: what was read is kept, and the next run continues from there".into()
            }
            GitLabError::Server { .. } => {
                "GitLab kept answering with server errors: check the instance's health and run again later".into()
            }
            GitLabError::Timeout { .. } => {
                "GitLab did not answer in time: check that GITLAB_URL is reachable from here, or raise the request timeout".into()
            }
            GitLabError::Connection { .. } => {
                "could not talk to GitLab: check GITLAB_URL, DNS, firewalls and proxies between here and the instance".into()
            }
            GitLabError::Tls { .. } => {
                "the TLS connection failed: check that the instance's certificate is valid for this host name and issued by a trusted authority".into()
            }
            GitLabError::BadBody { .. } => {
                "the answer was not what GitLab sends here, on every try: check that GITLAB_URL points at GitLab itself (not a login page or proxy), then report it if it persists".into()
            }
            GitLabError::Status { status, .. } => {
                if (300..400).contains(status) {
                    "GitLab redirected the request, which seatwatch does not follow with a token: set GITLAB_URL to the final address (often https:// instead of http://, or a different host)".into()
                } else {
                    "GitLab answered with an unexpected status: check GITLAB_URL and the instance's health".into()
                }
            }
            GitLabError::GraphQl { message, .. } => graphql_hint(message),
            GitLabError::GraphQlForbidden { .. } => {
                "reading GitLab Duo seats needs the top-level group's Owner on GitLab.com (and GITLAB_GROUP set to that group) or an instance administrator on self-managed: use such a user's token with the read_api scope".into()
            }
            GitLabError::Config { .. } => "fix the configuration and run again".into(),
        }
    }

    fn summary(&self) -> String {
        match self {
            GitLabError::Unauthorized { .. } => {
                "GitLab refused the token (401 Unauthorized)".into()
            }
            GitLabError::TokenExpired { .. } => "the GitLab token has expired (401)".into(),
            GitLabError::TokenRevoked { .. } => "the GitLab token was revoked (401)".into(),
            GitLabError::InvalidToken { description, .. } => {
                format!("GitLab refused the token (401): {}", clip(description))
            }
            GitLabError::InsufficientScope { required, .. } => format!(
                "the token's scopes are not enough (403 insufficient_scope, GitLab asks for: {})",
                if required.is_empty() {
                    "unspecified".to_string()
                } else {
                    required.join(" ")
                }
            ),
            GitLabError::Forbidden { message, .. } => format!("forbidden (403): {}", clip(message)),
            GitLabError::AccountBlocked { message, .. } => {
                format!("the token's owner is refused (403): {}", clip(message))
            }
            GitLabError::BadRequest { message, .. } => {
                format!("bad request (400): {}", clip(message))
            }
            GitLabError::NotFound { message, .. } => format!("not found (404): {}", clip(message)),
            GitLabError::RateLimited {
                attempts, waited, ..
            } => format!(
                "rate limited (429) on {attempts} attempts, gave up after waiting {:.1}s",
                waited.as_secs_f64()
            ),
            GitLabError::RetryLater { wait, .. } => format!(
                "rate limited (429); GitLab asks to wait {}",
                human_wait(*wait)
            ),
            GitLabError::Server {
                status, attempts, ..
            } => {
                format!("GitLab server error {status}, still failing after {attempts} attempts")
            }
            GitLabError::Timeout { attempts, .. } => {
                format!("request timed out, {attempts} attempts")
            }
            GitLabError::Connection {
                reason, attempts, ..
            } => {
                format!(
                    "connection failed after {attempts} attempts: {}",
                    clip(reason)
                )
            }
            GitLabError::Tls { reason, .. } => format!("TLS failed: {}", clip(reason)),
            GitLabError::BadBody {
                reason, attempts, ..
            } => {
                format!(
                    "unexpected response body after {attempts} attempt{}: {}",
                    if *attempts == 1 { "" } else { "s" },
                    clip(reason)
                )
            }
            GitLabError::Status { status, .. } => format!("unexpected HTTP status {status}"),
            GitLabError::GraphQl { field, message, .. } => {
                format!("GraphQL refused `{field}`: {}", clip(message))
            }
            GitLabError::GraphQlForbidden { field, message, .. } => {
                format!(
                    "GraphQL `{field}` is not readable with this token: {}",
                    clip(message)
                )
            }
            GitLabError::Config { reason } => format!("GitLab client: {}", clip(reason)),
        }
    }
}

impl fmt::Display for GitLabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.endpoint() {
            Some(endpoint) => write!(f, "GET {endpoint}: {}; {}", self.summary(), self.hint()),
            None => write!(f, "{}; {}", self.summary(), self.hint()),
        }
    }
}

/// Whether a 403 message is one of GitLab's `Gitlab::Auth::UserAccessDeniedReason` texts (the
/// owner of the token may not use the API), rather than a missing role. `forbidden!` renders
/// them as `403 Forbidden - <reason>` (`lib/api/helpers.rb`).
fn is_access_denied_reason(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "your account has been deactivated",
        "your account has been blocked",
        "your account is pending approval",
        "your account is locked",
        "your account has been locked",
        "user is blocked",
        "your primary email address is not confirmed",
        "terms of service",
    ]
    .iter()
    .any(|reason| lower.contains(reason))
}

/// What to do about a GraphQL error, from GitLab's message: graphql-ruby's static validation
/// names fields and arguments an older schema lacks; the add-on resolvers refuse subgroups.
fn graphql_hint(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("root namespace") {
        "Duo seats are read on the top-level group only: set GITLAB_GROUP to the top-level group"
            .into()
    } else if lower.contains("doesn't exist on type")
        || lower.contains("doesn't accept argument")
        || lower.contains("has an invalid value")
    {
        "this GitLab is older than the Duo seat API seatwatch reads (add-on seat holders need GitLab 17.x or newer): upgrade GitLab, or leave Duo out of the report".into()
    } else {
        "GitLab refused the GraphQL query: check the GitLab version and the token's role, and report it if it persists".into()
    }
}

/// `1h`, `15m 20s`, `42s`: a wait as people read it.
fn human_wait(wait: Duration) -> String {
    let secs = wait.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// The fields GitLab's error bodies use; anything may be missing.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    /// `graphql_controller.rb` `render_error`: `{"errors":[{"message":"Invalid token"}]}`.
    /// Kept loose so that an odd `errors` cannot hide the other fields.
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

impl ErrorBody {
    fn message_text(&self) -> Option<String> {
        match &self.message {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // validation errors come as {"message": {"field": ["problem"]}}
            Some(other) => Some(other.to_string()),
            None => self
                .error_description
                .clone()
                .or_else(|| self.error.clone())
                .or_else(|| {
                    self.errors
                        .as_ref()?
                        .as_array()?
                        .iter()
                        .find_map(|e| Some(e.get("message")?.as_str()?.to_string()))
                }),
        }
    }
}

/// A short, printable excerpt of a non-JSON body (plain-text 429s, HTML error pages).
fn plain_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    clip(text)
}

fn clip(text: &str) -> String {
    const MAX: usize = 200;
    let single_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if single_line.chars().count() <= MAX {
        single_line
    } else {
        let mut out: String = single_line.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/gitlab/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture present")
    }

    #[test]
    fn unknown_token_is_unauthorized() {
        let err = GitLabError::from_response("/user", 401, &fixture("error_401.json"));
        assert_eq!(
            err,
            GitLabError::Unauthorized {
                endpoint: "/user".into()
            }
        );
        assert!(err.is_auth());
        assert!(!err.is_retryable());
    }

    #[test]
    fn expired_token_is_token_expired() {
        let err =
            GitLabError::from_response("/user", 401, &fixture("error_401_expired_token.json"));
        assert_eq!(
            err,
            GitLabError::TokenExpired {
                endpoint: "/user".into()
            }
        );
        assert!(err.to_string().contains("expired"));
    }

    #[test]
    fn revoked_token_is_token_revoked() {
        let err =
            GitLabError::from_response("/user", 401, &fixture("error_401_revoked_token.json"));
        assert_eq!(
            err,
            GitLabError::TokenRevoked {
                endpoint: "/user".into()
            }
        );
    }

    #[test]
    fn impersonation_disabled_is_invalid_token_with_description() {
        let err = GitLabError::from_response(
            "/user",
            401,
            &fixture("error_401_impersonation_disabled.json"),
        );
        match err {
            GitLabError::InvalidToken { description, .. } => {
                assert!(description.contains("impersonation"));
            }
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    #[test]
    fn insufficient_scope_carries_the_scopes() {
        let err = GitLabError::from_response(
            "/license",
            403,
            &fixture("error_403_insufficient_scope.json"),
        );
        assert_eq!(
            err,
            GitLabError::InsufficientScope {
                endpoint: "/license".into(),
                required: vec!["sudo".into()]
            }
        );
        let multi = GitLabError::from_response(
            "/license",
            403,
            br#"{"error":"insufficient_scope","error_description":"x","scope":"api read_api"}"#,
        );
        assert_eq!(
            multi,
            GitLabError::InsufficientScope {
                endpoint: "/license".into(),
                required: vec!["api".into(), "read_api".into()]
            }
        );
        assert!(multi.hint().contains("api, read_api"));
    }

    #[test]
    fn forbidden_and_sudo_forbidden_are_forbidden() {
        for name in ["error_403_forbidden.json", "error_403_sudo_not_admin.json"] {
            let err = GitLabError::from_response("/license", 403, &fixture(name));
            match err {
                GitLabError::Forbidden { message, .. } => {
                    assert!(message.starts_with("403 Forbidden"))
                }
                other => panic!("{name}: expected Forbidden, got {other:?}"),
            }
        }
    }

    #[test]
    fn billable_members_400_is_bad_request_with_owner_hint() {
        let err = GitLabError::from_response(
            "/groups/acme%2Fsub/billable_members",
            400,
            &fixture("error_400_billable_members_subgroup_or_not_owner.json"),
        );
        assert!(
            matches!(err, GitLabError::BadRequest { ref message, .. } if message == "400 Bad request")
        );
        assert!(err.hint().contains("top-level group"));
    }

    #[test]
    fn not_found_keeps_gitlab_message() {
        let err = GitLabError::from_response("/groups/nope", 404, &fixture("error_404_group.json"));
        assert_eq!(
            err,
            GitLabError::NotFound {
                endpoint: "/groups/nope".into(),
                message: "404 Group Not Found".into()
            }
        );
        let sudo = GitLabError::from_response("/user", 404, &fixture("error_404_sudo_user.json"));
        assert!(matches!(sudo, GitLabError::NotFound { .. }));
    }

    #[test]
    fn plain_text_429_body_is_rate_limited() {
        let err = GitLabError::from_response("/users", 429, &fixture("error_429_body.txt"));
        assert!(matches!(err, GitLabError::RateLimited { .. }));
        assert!(err.is_retryable());
    }

    #[test]
    fn odd_bodies_never_panic() {
        for body in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"<html><body>502 Bad Gateway</body></html>",
            b"[1,2,3]",
            b"{\"message\": {\"name\": [\"is too long\"]}}",
            b"{\"error\": 42}",
            b"null",
        ] {
            for status in [400, 401, 403, 404, 418, 429, 500, 503] {
                let err = GitLabError::from_response("/x", status, body);
                assert!(!err.to_string().is_empty());
            }
        }
        let html = GitLabError::from_response("/x", 403, b"<html>Access denied</html>");
        assert!(
            matches!(html, GitLabError::Forbidden { ref message, .. } if message.contains("Access denied"))
        );
    }

    #[test]
    fn server_and_other_statuses() {
        let err = GitLabError::from_response("/users", 503, b"");
        assert!(matches!(err, GitLabError::Server { status: 503, .. }));
        assert!(err.is_retryable());
        let redirect = GitLabError::from_response("/users", 302, b"");
        assert_eq!(
            redirect,
            GitLabError::Status {
                endpoint: "/users".into(),
                status: 302
            }
        );
        assert!(redirect.hint().contains("redirect"));
    }

    #[test]
    fn display_names_the_endpoint_and_what_to_do() {
        let err = GitLabError::BadBody {
            endpoint: "/users".into(),
            reason: "expected value at line 1 column 1".into(),
            attempts: 3,
        };
        let shown = err.to_string();
        assert!(shown.starts_with("GET /users:"), "{shown}");
        assert!(shown.contains("GITLAB_URL"), "{shown}");
    }
}
