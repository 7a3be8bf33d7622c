//! The HTTP side of the simulator: one fallback handler that authenticates, applies faults and
//! rate limits, routes `/api/v4/...` paths and paginates the way GitLab does.
//!
//! Routing is done by hand rather than with axum's router so that faults, rate limiting and the
//! "unknown route" answer apply uniformly to every path, exactly as a proxy in front of GitLab
//! would see them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::entities::{self, GROUP_ID, Render};
use super::graphql;
use super::population::{
    ADMIN_USER_INDEX, Day, EVENT_RETENTION_DAYS, GHOST_USER_INDEX, Kind, Population,
    REGULAR_USER_INDEX, State as UserState, day_of, flags,
};
use super::{LicenceMode, RetryAfterMode, Role, SimState, TokenRecord, TokenStatus};
use crate::Flavour;

mod users;
pub(crate) use users::{base64_urlsafe, base64_urlsafe_decode};

pub(crate) use users::CachedOrder;
use users::list_users;

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// GitLab omits totals and `rel="last"` when a result set is larger than this.
const COUNT_LIMIT: usize = 10_000;
/// `offset_pagination_limit` for endpoints that offer keyset pagination (`/users`).
const OFFSET_LIMIT: usize = 50_000;

const EXPIRED_BODY: &str = r#"{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}"#;
const REVOKED_BODY: &str = r#"{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}"#;
const UNAUTHORIZED_BODY: &str = r#"{"message":"401 Unauthorized"}"#;
const FORBIDDEN_BODY: &str = r#"{"message":"403 Forbidden"}"#;
const BAD_REQUEST_BODY: &str = r#"{"message":"400 Bad request"}"#;
const INSUFFICIENT_SCOPE_BODY: &str = r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}"#;
/// `lib/api/helpers/rate_limiter.rb` `check_rate_limit!`: an application limit's 429, a JSON body
/// and no `Retry-After` or `RateLimit-*` header.
const APPLICATION_LIMIT_BODY: &str =
    r#"{"message":{"error":"This endpoint has been requested too many times. Try again later."}}"#;
const MALFORMED_BODY: &str = "<!DOCTYPE html>\n<html><head><title>GitLab is not responding (502)</title></head>\n<body><h1>502</h1><p>Whoops, GitLab is taking too much time to respond.</p></body></html>\n";

/// A response before it becomes HTTP: easy to cut, replace and decorate.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    headers: Vec<(HeaderName, String)>,
}

impl Reply {
    fn json(status: StatusCode, value: &Value) -> Reply {
        Reply::raw_json(status, value.to_string())
    }
    fn raw_json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.into(),
            headers: Vec::new(),
        }
    }
    fn text(status: StatusCode, content_type: &'static str, body: &'static str) -> Reply {
        Reply {
            status,
            content_type,
            body: Bytes::from_static(body.as_bytes()),
            headers: Vec::new(),
        }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }
    fn message(status: StatusCode, message: &str) -> Reply {
        Reply::json(status, &json!({ "message": message }))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        for (name, value) in self.headers {
            // Values built from request input could hold bytes a header cannot; skip those.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// What the pending faults decided for one request.
#[derive(Default)]
struct FaultPlan {
    drop_connection: bool,
    status: Option<(u16, RetryAfterMode)>,
    slow: Option<Duration>,
    malformed: bool,
    truncated: bool,
}

impl FaultPlan {
    /// Spoils the body of a reply as planned: a malformed 200 or one cut in half.
    fn spoil(&self, reply: &mut Reply) {
        if self.malformed {
            reply.status = StatusCode::OK;
            reply.body = Bytes::from_static(MALFORMED_BODY.as_bytes());
        } else if self.truncated {
            let half = reply.body.len() / 2;
            reply.body = reply.body.slice(..half);
        }
    }
}

fn take_faults(sim: &SimState, path: &str) -> FaultPlan {
    let mut state = sim.faults.lock().unwrap_or_else(|e| e.into_inner());
    let f = &mut state.faults;
    let mut plan = FaultPlan::default();
    if f.only_path.as_deref().is_some_and(|only| only != path) {
        return plan;
    }
    if f.after > 0 {
        f.after -= 1;
        return plan;
    }
    if f.drop_connections > 0 {
        f.drop_connections -= 1;
        plan.drop_connection = true;
        return plan;
    }
    if let Some((status, n)) = f.status_burst {
        f.status_burst = if n > 1 { Some((status, n - 1)) } else { None };
        if n > 0 {
            plan.status = Some((status, f.retry_after));
            return plan;
        }
    }
    if let Some((delay, n)) = f.slow {
        f.slow = if n > 1 { Some((delay, n - 1)) } else { None };
        if n > 0 {
            plan.slow = Some(delay);
        }
    }
    if f.malformed_json > 0 {
        f.malformed_json -= 1;
        plan.malformed = true;
    } else if f.truncated_body > 0 {
        f.truncated_body -= 1;
        plan.truncated = true;
    }
    plan
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn http_date(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

/// A response whose body fails after the headers: the client sees the connection end before a
/// complete message (hyper closes the connection when a body stream errors).
fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn status_burst_reply(sim: &SimState, status: u16, mode: RetryAfterMode) -> Reply {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match code.as_u16() {
        429 => {
            sim.responses_429.fetch_add(1, Ordering::Relaxed);
            let reply = Reply::text(code, "text/plain", "Retry later");
            let now = unix_now();
            match mode {
                RetryAfterMode::ApplicationLimit => Reply::raw_json(code, APPLICATION_LIMIT_BODY),
                RetryAfterMode::Seconds(seconds) => reply
                    .header("retry-after", seconds.to_string())
                    .header("ratelimit-reset", (now + seconds).to_string())
                    .header("ratelimit-resettime", http_date(now + seconds)),
                RetryAfterMode::ResetOnly => reply.header("ratelimit-reset", (now + 1).to_string()),
                RetryAfterMode::NoHeaders => reply,
            }
        }
        500 => Reply::message(code, "500 Internal Server Error"),
        502 => Reply::text(
            code,
            "text/html",
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        503 => Reply::text(
            code,
            "text/html",
            "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        504 => Reply::text(
            code,
            "text/html",
            "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        _ => Reply::message(
            code,
            &format!(
                "{} {}",
                code.as_u16(),
                code.canonical_reason().unwrap_or("Error")
            ),
        ),
    }
}

/// Rack::Attack's throttle as GitLab configures it: requests are counted in epoch-aligned periods
/// of `throttle.period`; the headers follow `lib/gitlab/rack_attack/request_throttle_data.rb`:
/// `RateLimit-Limit` normalised (rounded up) to 60 s, `RateLimit-Remaining` = limit − observed
/// over the real period, `RateLimit-Reset` and `Retry-After` at the period's end. They come only
/// with the 429 (`lib/gitlab/rack_attack.rb` `throttled_response`) unless `headers_always` (the
/// 18.6 flag `rate_limiting_headers_for_unthrottled_requests`) puts them on every response.
/// Returns the headers for an allowed request, or the 429.
fn rate_limit(
    sim: &SimState,
    throttle: super::Throttle,
    headers_always: bool,
) -> Result<Vec<(HeaderName, String)>, Reply> {
    let now = unix_now();
    let period = throttle.period.as_secs().max(1);
    let period_start = now - now % period;
    let observed = {
        let mut window = sim.rate.lock().unwrap_or_else(|e| e.into_inner());
        if window.start != period_start {
            window.start = period_start;
            window.observed = 0;
        }
        window.observed += 1;
        window.observed
    };
    let limit = u64::from(throttle.requests);
    let retry_after = period - now % period;
    let reset = now + retry_after;
    let rounded_limit = (limit * 60).div_ceil(period);
    let headers = vec![
        (
            HeaderName::from_static("ratelimit-name"),
            "throttle_authenticated_api".to_string(),
        ),
        (
            HeaderName::from_static("ratelimit-limit"),
            rounded_limit.to_string(),
        ),
        (
            HeaderName::from_static("ratelimit-observed"),
            observed.to_string(),
        ),
        (
            HeaderName::from_static("ratelimit-remaining"),
            limit.saturating_sub(observed).to_string(),
        ),
        (
            HeaderName::from_static("ratelimit-reset"),
            reset.to_string(),
        ),
    ];
    if observed <= limit {
        return Ok(if headers_always { headers } else { Vec::new() });
    }
    sim.responses_429.fetch_add(1, Ordering::Relaxed);
    let mut reply = Reply::text(StatusCode::TOO_MANY_REQUESTS, "text/plain", "Retry later\n")
        .header("retry-after", retry_after.to_string())
        .header("ratelimit-resettime", http_date(reset));
    reply.headers.extend(headers);
    Err(reply)
}

/// Counts a request under its route ([`crate::SimHandle::requests_served_to`]).
fn count_route(sim: &SimState, path: &str) {
    let route = path
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                ":id"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut by_route = sim
        .requests_by_route
        .lock()
        .expect("the route counts are never poisoned");
    *by_route.entry(route).or_default() += 1;
}

async fn handle(State(sim): State<Arc<SimState>>, request: Request) -> Response {
    sim.requests_served.fetch_add(1, Ordering::Relaxed);
    count_route(&sim, request.uri().path());
    if !sim.latency.is_zero() {
        tokio::time::sleep(sim.latency).await;
    }
    let path = request.uri().path().to_string();
    let query = query_pairs(&request);
    let origin = origin(request.headers());
    let graphql = path == graphql::PATH;
    let Some(segments) = api_segments(&path).or_else(|| graphql.then(Vec::new)) else {
        return Reply::text(StatusCode::NOT_FOUND, "text/plain", "Not Found").into_response();
    };
    let health = matches!(segments.as_slice(), [s] if s == "metadata" || s == "version");
    let plan = if health {
        FaultPlan::default()
    } else {
        take_faults(&sim, &path)
    };
    if plan.drop_connection {
        return dropped_connection();
    }
    if let Some((status, mode)) = plan.status {
        return status_burst_reply(&sim, status, mode).into_response();
    }
    let rate_headers = match sim.rate_limit {
        Some(throttle) => match rate_limit(&sim, throttle, sim.rate_limit_headers_always) {
            Ok(headers) => headers,
            Err(reply) => return reply.into_response(),
        },
        None => Vec::new(),
    };
    if let Some(delay) = plan.slow {
        tokio::time::sleep(delay).await;
    }

    let mut reply = if graphql {
        graphql_reply(&sim, request, &query, &origin).await
    } else if request.method() == Method::GET || request.method() == Method::HEAD {
        let pop = sim.population();
        let ctx = Ctx {
            sim: &sim,
            pop: &pop,
            query: &query,
            origin: &origin,
            path: &path,
        };
        route(&ctx, &segments, request.headers())
    } else {
        // The simulated GitLab is read-only, like the client that talks to it.
        Reply::message(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed")
    };

    plan.spoil(&mut reply);
    reply.headers.extend(rate_headers);
    // The path only: the query may carry `private_token`.
    tracing::debug!(%path, status = reply.status.as_u16(), "simulated GitLab answered");
    reply.into_response()
}

/// `/api/graphql` behind GitLab's GraphQL controller (`app/controllers/graphql_controller.rb`):
/// the same tokens as REST, read by `authenticate_sessionless_user!(:graphql_api)` with the
/// scopes `api` and `read_api`. That lookup rescues every authentication error, so an unknown,
/// expired, revoked or under-scoped token is "Invalid token"; no token at all is an anonymous
/// query. GET (and HEAD) carry the query in parameters, POST in a JSON body.
async fn graphql_reply(
    sim: &Arc<SimState>,
    request: Request,
    query: &[(String, String)],
    origin: &str,
) -> Reply {
    let caller = match graphql_caller(sim, request.headers(), query) {
        Ok(caller) => caller,
        Err(reply) => return reply,
    };
    let Some((call, read_only_method)) = graphql_call(request, query).await else {
        // config/routes.rb routes only GET and POST to the controller
        return graphql_controller_error(StatusCode::NOT_FOUND, "Not found!");
    };
    let scope = graphql::Scope {
        pop: sim.population(),
        duo: sim.duo.clone(),
        flavour: sim.flavour,
        group_path: sim.group_path.clone(),
        origin: origin.to_string(),
        as_of: sim.as_of(),
        now: sim.now(),
        utc_offset_seconds: sim.utc_offset_seconds,
        licensed: sim.licence.has_licence(),
        caller,
    };
    let (status, body) =
        graphql::serve(&sim.graphql, call, read_only_method.as_deref(), scope).await;
    Reply::json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        &body,
    )
}

/// `GraphqlController#render_error`: the message in a GraphQL-shaped body.
fn graphql_controller_error(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({ "errors": [{ "message": message }] }))
}

/// Who the token speaks for, or the controller's refusal.
fn graphql_caller(
    sim: &SimState,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<graphql::Caller, Reply> {
    if presented_token(headers, query).is_none() {
        return Ok(graphql::Caller::Anonymous);
    }
    let invalid = || graphql_controller_error(StatusCode::UNAUTHORIZED, "Invalid token");
    let token = authenticate(sim, headers, query).map_err(|_| invalid())?;
    if !token.scopes.iter().any(|s| *s == "api" || *s == "read_api") {
        return Err(invalid());
    }
    // authorize_access_api!: can?(current_user, :access_api)
    if token.status == TokenStatus::OwnerDeactivated {
        return Err(graphql_controller_error(
            StatusCode::FORBIDDEN,
            "API not accessible for user",
        ));
    }
    let caller = Caller::new(sim, &token);
    Ok(graphql::Caller::User {
        instance_admin: caller.instance_admin,
        group_owner: caller.group_owner,
    })
}

/// The call's `query`, `variables` and `operationName`: from the parameters of a GET (or HEAD,
/// returned as the read-only method's name), from the JSON body of a POST; `None` for any other
/// method.
async fn graphql_call(
    request: Request,
    query: &[(String, String)],
) -> Option<(graphql::Call, Option<String>)> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match *request.method() {
        Method::GET | Method::HEAD => {
            let call = graphql::Call {
                query: param("query").unwrap_or_default(),
                variables: param("variables").map(Value::String),
                operation_name: param("operationName"),
            };
            Some((call, Some(request.method().as_str().to_string())))
        }
        Method::POST => {
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_string);
            let call = graphql::Call {
                query: text("query").unwrap_or_default(),
                variables: json.get("variables").cloned(),
                operation_name: text("operationName"),
            };
            Some((call, None))
        }
        _ => None,
    }
}

/// The decoded query parameters, in the order sent.
fn query_pairs(request: &Request) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// `http://host:port` as the client addressed the simulator, for the links it writes.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The percent-decoded segments after `/api/v4/`; `None` for a path outside the API.
fn api_segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix("/api/v4/")?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect(),
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Ctx<'a> {
    sim: &'a SimState,
    /// The population as it was when the request arrived.
    pop: &'a Population,
    query: &'a [(String, String)],
    origin: &'a str,
    path: &'a str,
}

impl Ctx<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, name: &str) -> bool {
        self.param(name) == Some("true")
    }
    fn render(&self) -> Render<'_> {
        self.sim.render(self.pop, self.origin)
    }
    /// Builds absolute links to this path with some parameters replaced, never carrying a token.
    fn link(&self, replace: &[(&str, String)]) -> String {
        self.link_with(&[], replace)
    }
    fn link_with(&self, remove: &[&str], replace: &[(&str, String)]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query {
            if k == "private_token"
                || remove.contains(&k.as_str())
                || replace.iter().any(|(r, _)| r == k)
            {
                continue;
            }
            out.append_pair(k, v);
        }
        for (k, v) in replace {
            out.append_pair(k, v);
        }
        format!("{}{}?{}", self.origin, self.path, out.finish())
    }
}

enum Endpoint<'s> {
    Metadata,
    CurrentUser,
    TokenSelf,
    Users,
    User(&'s str),
    UserEvents(&'s str),
    License,
    Namespace(&'s str),
    Group(&'s str),
    BillableMembers(&'s str),
    GroupProjects(&'s str),
    BillableMemberships(&'s str, &'s str),
    /// `/groups/:id/members`
    GroupMembers(&'s str),
    /// `/groups/:id/members/all/:user_id`
    GroupMemberAll(&'s str, &'s str),
}

impl Endpoint<'_> {
    /// What a `read_user` token may call (GitLab: `/user`, `/users...`, `/metadata`, `/version`,
    /// `/events`; `/personal_access_tokens/self` accepts any scope).
    fn allowed_with_read_user(&self) -> bool {
        matches!(
            self,
            Endpoint::Metadata
                | Endpoint::CurrentUser
                | Endpoint::TokenSelf
                | Endpoint::Users
                | Endpoint::User(_)
                | Endpoint::UserEvents(_)
        )
    }

    /// The scope rule of `lib/api/api.rb`: every route allows `api`, and `read_api` for GET and
    /// HEAD (`allow_access_with_scope :read_api, if: request.get? || request.head?`); the user
    /// endpoints add `read_user`; `/personal_access_tokens/self` takes any scope
    /// (`lib/api/personal_access_tokens/self_information.rb`).
    fn allows(&self, scopes: &[&str], read_request: bool) -> bool {
        let has = |scope: &str| scopes.contains(&scope);
        matches!(self, Endpoint::TokenSelf)
            || has("api")
            || (read_request && has("read_api"))
            || (self.allowed_with_read_user() && has("read_user"))
    }
}

fn parse_endpoint(segments: &[String]) -> Option<Endpoint<'_>> {
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    Some(match parts.as_slice() {
        ["metadata"] | ["version"] => Endpoint::Metadata,
        ["user"] => Endpoint::CurrentUser,
        ["personal_access_tokens", "self"] => Endpoint::TokenSelf,
        ["users"] => Endpoint::Users,
        ["users", id] => Endpoint::User(id),
        ["users", id, "events"] => Endpoint::UserEvents(id),
        ["license"] => Endpoint::License,
        ["namespaces", id] => Endpoint::Namespace(id),
        ["groups", id] => Endpoint::Group(id),
        ["groups", id, "billable_members"] => Endpoint::BillableMembers(id),
        ["groups", id, "projects"] => Endpoint::GroupProjects(id),
        ["groups", id, "billable_members", user, "memberships"] => {
            Endpoint::BillableMemberships(id, user)
        }
        ["groups", id, "members"] => Endpoint::GroupMembers(id),
        ["groups", id, "members", "all", user_id] => Endpoint::GroupMemberAll(id, user_id),
        _ => return None,
    })
}

fn presented_token<'h>(headers: &'h HeaderMap, query: &'h [(String, String)]) -> Option<&'h str> {
    if let Some((_, token)) = query.iter().find(|(k, _)| k == "private_token") {
        return Some(token.as_str());
    }
    if let Some(token) = headers.get("private-token").and_then(|v| v.to_str().ok()) {
        return Some(token);
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn invalid_token(body: &'static str, description: &str) -> Reply {
    Reply::raw_json(StatusCode::UNAUTHORIZED, body).header(
        "www-authenticate",
        format!(
            r#"Bearer realm="The API", error="invalid_token", error_description="{description}""#
        ),
    )
}

fn authenticate(
    sim: &SimState,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<TokenRecord, Reply> {
    let unauthorized = || Reply::raw_json(StatusCode::UNAUTHORIZED, UNAUTHORIZED_BODY);
    let token = presented_token(headers, query).ok_or_else(unauthorized)?;
    let record = sim
        .tokens
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(token)
        .cloned()
        .ok_or_else(unauthorized)?;
    match record.status {
        TokenStatus::Valid | TokenStatus::OwnerDeactivated => Ok(record),
        TokenStatus::Expired => Err(invalid_token(
            EXPIRED_BODY,
            "Token is expired. You can either do re-authorization or token refresh.",
        )),
        TokenStatus::Revoked => Err(invalid_token(
            REVOKED_BODY,
            "Token was revoked. You have to re-authorize from the user.",
        )),
    }
}

/// Who the token speaks for, as the endpoints' permission checks see them.
struct Caller {
    /// Self-managed administrator: the admin views of users, `/license`.
    instance_admin: bool,
    /// Owner of the simulated group on GitLab.com: billing fields and billable members.
    group_owner: bool,
    /// The token owner's user index.
    owner_index: usize,
}

impl Caller {
    fn new(sim: &SimState, token: &TokenRecord) -> Caller {
        Caller {
            instance_admin: sim.flavour == Flavour::SelfManaged && token.role != Role::NonAdmin,
            group_owner: token.role == Role::Admin,
            owner_index: if token.role == Role::NonAdmin {
                REGULAR_USER_INDEX
            } else {
                ADMIN_USER_INDEX
            },
        }
    }
}

/// The token of a request for `endpoint`, or the refusal GitLab answers with.
fn authorize(ctx: &Ctx, endpoint: &Endpoint, headers: &HeaderMap) -> Result<TokenRecord, Reply> {
    let token = authenticate(ctx.sim, headers, ctx.query)?;
    // lib/api/api_guard.rb: the scopes are validated while the token is found, then
    // find_current_user! refuses an owner who may not use the API.
    if !endpoint.allows(token.scopes, true) {
        return Err(Reply::raw_json(
            StatusCode::FORBIDDEN,
            INSUFFICIENT_SCOPE_BODY,
        ));
    }
    if token.status == TokenStatus::OwnerDeactivated {
        // lib/api/helpers.rb forbidden!(reason) renders "403 Forbidden - <reason>"; the reason
        // is Gitlab::Auth::UserAccessDeniedReason's text for a deactivated user.
        return Err(Reply::message(
            StatusCode::FORBIDDEN,
            &format!(
                "403 Forbidden - Your account has been deactivated by your administrator. Please log back in from a web browser to reactivate your account at {}",
                ctx.origin
            ),
        ));
    }
    Ok(token)
}

fn route(ctx: &Ctx, segments: &[String], headers: &HeaderMap) -> Reply {
    let Some(endpoint) = parse_endpoint(segments) else {
        return Reply::raw_json(StatusCode::NOT_FOUND, r#"{"error":"404 Not Found"}"#);
    };
    let token = match authorize(ctx, &endpoint, headers) {
        Ok(token) => token,
        Err(reply) => return reply,
    };
    let caller = Caller::new(ctx.sim, &token);
    let r = ctx.render();
    match endpoint {
        Endpoint::Metadata => Reply::json(
            StatusCode::OK,
            &entities::metadata(
                ctx.sim.flavour,
                ctx.sim.licence,
                !ctx.sim.duo.activity_field,
            ),
        ),
        Endpoint::CurrentUser => {
            let view = r.user(caller.owner_index);
            Reply::json(
                StatusCode::OK,
                &r.current_user(&view, caller.instance_admin),
            )
        }
        Endpoint::TokenSelf => Reply::json(
            StatusCode::OK,
            &token_self(&token, caller.owner_index, r.as_of),
        ),
        Endpoint::Users => list_users(ctx, &r, caller.instance_admin),
        Endpoint::User(id) => single_user(&r, id, caller.instance_admin),
        Endpoint::UserEvents(id) => match find_user(&r, id) {
            Some(index) => user_events(ctx, &r, index, caller.owner_index, caller.instance_admin),
            None => Reply::message(StatusCode::NOT_FOUND, "404 User Not Found"),
        },
        // Community Edition does not mount ee/lib/api/license.rb: Grape's unknown route
        Endpoint::License if ctx.sim.licence == LicenceMode::CommunityEdition => {
            Reply::raw_json(StatusCode::NOT_FOUND, r#"{"error":"404 Not Found"}"#)
        }
        // ee/lib/api/license.rb: authenticated_as_admin!
        Endpoint::License if caller.instance_admin => {
            match entities::license(ctx.pop, r.as_of, ctx.sim.licence) {
                Some(body) => Reply::json(StatusCode::OK, &body),
                None => Reply::raw_json(StatusCode::NOT_FOUND, r#"{"error":"404 Not Found"}"#),
            }
        }
        Endpoint::License => Reply::raw_json(StatusCode::FORBIDDEN, FORBIDDEN_BODY),
        Endpoint::Namespace(id) if is_group(ctx.sim, id) => Reply::json(
            StatusCode::OK,
            &entities::namespace(
                &r,
                caller.group_owner,
                ctx.sim.namespace_billing_unrestricted,
            ),
        ),
        Endpoint::Namespace(_) => Reply::message(StatusCode::NOT_FOUND, "404 Namespace Not Found"),
        group_endpoint @ (Endpoint::Group(_)
        | Endpoint::BillableMembers(_)
        | Endpoint::BillableMemberships(..)
        | Endpoint::GroupMembers(_)
        | Endpoint::GroupMemberAll(..)
        | Endpoint::GroupProjects(_)) => route_group(ctx, &r, group_endpoint, &caller),
    }
}

/// `/users/:id`: the admin view for an administrator, the basic one for anyone else.
fn single_user(r: &Render, id: &str, admin_view: bool) -> Reply {
    match find_user(r, id) {
        Some(index) => {
            let view = r.user(index);
            let body = if admin_view {
                r.user_admin(&view)
            } else {
                r.user_basic(&view)
            };
            Reply::json(StatusCode::OK, &body)
        }
        None => Reply::message(StatusCode::NOT_FOUND, "404 User Not Found"),
    }
}

/// The `/groups/:id/...` endpoints: the simulated group's, or GitLab's 404 for any other group.
fn route_group(ctx: &Ctx, r: &Render, endpoint: Endpoint, caller: &Caller) -> Reply {
    match endpoint {
        Endpoint::Group(id) if is_group(ctx.sim, id) => {
            Reply::json(StatusCode::OK, &entities::group(r))
        }
        Endpoint::BillableMembers(id) if is_group(ctx.sim, id) => {
            if caller.group_owner {
                billable_members(ctx, r)
            } else {
                Reply::raw_json(StatusCode::BAD_REQUEST, BAD_REQUEST_BODY)
            }
        }
        Endpoint::GroupProjects(id) if is_group(ctx.sim, id) => group_projects(ctx, r),
        // ee/lib/ee/api/members.rb: `bad_request! unless can?(current_user, :admin_group_member,
        // group)`, then `User.find` (a missing user is ActiveRecord's 404 "404 Not found") and
        // `not_found!('User')` unless the user is billed in the group.
        Endpoint::BillableMemberships(id, user) if is_group(ctx.sim, id) => {
            if caller.group_owner {
                billable_memberships(ctx, r, user)
            } else {
                Reply::raw_json(StatusCode::BAD_REQUEST, BAD_REQUEST_BODY)
            }
        }
        Endpoint::GroupMembers(id) if is_group(ctx.sim, id) => {
            if may_read_members(r, caller) {
                group_members(ctx, r)
            } else {
                Reply::message(StatusCode::NOT_FOUND, "404 Group Not Found")
            }
        }
        Endpoint::GroupMemberAll(id, user_id) if is_group(ctx.sim, id) => {
            match group_member(r, user_id) {
                Some((index, level)) => {
                    let view = r.identity(index);
                    // The account's creation moment, as this endpoint has always been simulated;
                    // GitLab's entity renders the membership's (see `group_members`).
                    let created_at = view.created_at.clone();
                    Reply::json(
                        StatusCode::OK,
                        &entities::member(r, &view, level, &created_at, None),
                    )
                }
                None => Reply::message(StatusCode::NOT_FOUND, "404 Not found"),
            }
        }
        // Another group's (and, never routed here, any other endpoint's) answer.
        _ => Reply::message(StatusCode::NOT_FOUND, "404 Group Not Found"),
    }
}

/// lib/api/members.rb: find_all_members(source).find_by!(user_id:); a miss is
/// ActiveRecord::RecordNotFound, which lib/api/api.rb answers as "404 Not found". The member's
/// index and access level ([`member_access`], inherited and invited memberships included).
fn group_member(r: &Render, user_id: &str) -> Option<(usize, u32)> {
    user_id
        .parse::<usize>()
        .ok()
        .filter(|&id| (1..=r.pop.visible(r.as_of)).contains(&id))
        .map(|id| id - 1)
        .and_then(|index| member_access(r, index, false).map(|level| (index, level)))
}

/// The access level of user `index` in the simulated group, `None` for a non-member: its Owner
/// (50) and its seat holders (Developer, 30) who belong to the group itself or, unless `direct`,
/// through an invited group. A member only of one of the group's projects is not a member of the
/// group (`GroupMembersFinder` relations `inherited`, `direct`, `shared_from_groups`: no
/// descendants). `direct`: the group's own members, what `source.members` holds.
fn member_access(r: &Render, index: usize, direct: bool) -> Option<u32> {
    if index >= r.pop.visible(r.as_of) || !r.pop.exists(index) {
        return None;
    }
    if index == ADMIN_USER_INDEX {
        return Some(50);
    }
    let u = &r.pop.users[index];
    let belongs =
        r.pop.direct_memberships(index).group.is_some() || (!direct && u.has(flags::INVITED));
    (u.holds_seat_on(r.as_of) && belongs).then_some(30)
}

/// `read_group_member` on the simulated (private) group, which `GET /groups/:id/members` needs
/// before anything else: `find_group!` (`lib/api/helpers.rb` `check_group_access`) answers
/// `not_found!('Group')` to a caller who cannot `read_group`, and `app/policies/group_policy.rb`
/// gives `read_group_member` to whoever can `read_group` (an administrator, or anyone with access
/// to the group: its members, direct, inherited or through an invited group), unless
/// `can_read_group_member?` says no access to a private group (`ee/app/policies/ee/group_policy.rb`
/// lets `can_read_all_resources?` through). The simulator's callers have no other way in (no
/// project-only token owners), so one who may not read gets the 404 before the 403 of
/// `authorize_read_source_member!` could be reached.
fn may_read_members(r: &Render, caller: &Caller) -> bool {
    caller.instance_admin || member_access(r, caller.owner_index, false).is_some()
}

/// `GET /groups/:id/members` (`lib/api/members.rb`): `paginate(retrieve_members(source,
/// params:))`. `retrieve_members` (`lib/api/helpers/members_helpers.rb`) takes
/// `source_members(source).connected_to_user` (`ee/lib/ee/api/helpers/members_helpers.rb`:
/// `source.all_group_members` where minimal access is allowed, `source.members` otherwise; the
/// simulated group has no Minimal Access members, so both are its direct members) and filters
/// `where(user_id: params[:user_ids]) if params[:user_ids].present?`, then EE's
/// `where.not(user_id: params[:skip_users]) if params[:skip_users].present?`. No order is given,
/// so `paginate` adds `order(:id)` (`lib/gitlab/pagination/offset_pagination.rb`
/// `add_default_order`): the membership rows' ids, which in the simulator ascend with the user
/// id (the id `billable_members/:user_id/memberships` shows). Each row is the member entity
/// with the membership's own `created_at`.
fn group_members(ctx: &Ctx, r: &Render) -> Reply {
    if ctx.param("query").is_some() {
        return Reply::raw_json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"query: the simulated GitLab does not search members"}"#,
        );
    }
    let only = id_list_param(ctx, "user_ids");
    let skip = id_list_param(ctx, "skip_users");
    let show_seat_info = ctx.flag("show_seat_info");
    let listed = |index: usize| {
        let id = index as u64 + 1;
        only.as_ref().is_none_or(|ids| ids.contains(&Some(id)))
            && skip.as_ref().is_none_or(|ids| !ids.contains(&Some(id)))
    };
    let rows: Vec<(usize, u32)> = (0..r.pop.visible(r.as_of))
        .filter(|&index| listed(index))
        .filter_map(|index| member_access(r, index, true).map(|level| (index, level)))
        .collect();
    offset_reply(ctx, &rows, |&(index, level)| {
        let view = r.identity(index);
        let created_at = r
            .group_membership_created_at(index)
            .expect("a direct member has a group membership");
        // ee/app/models/ee/member.rb `is_using_seat`: the user's seat (on GitLab.com the
        // group's, on self-managed the licence's)
        let seat = show_seat_info.then(|| match r.flavour {
            Flavour::GitLabCom => r.pop.users[index].holds_seat_on(r.as_of),
            Flavour::SelfManaged => view.using_license_seat,
        });
        entities::member(r, &view, level, &created_at, seat)
    })
}

/// An `Array[Integer]` parameter with `coerce_with:
/// ::API::Validations::Types::CommaSeparatedToIntegerArray.coerce`, as Grape hands it to the
/// endpoint: `None` when absent or when the coerced array is empty (`present?` is false, so
/// GitLab does not filter). Rack reads `name[]=1&name[]=2` as an array and `name=1,2` as a string
/// (a repeated plain `name=` keeps the last; both forms at once is a Rack parameter type error,
/// not simulated: the array wins); `CommaSeparatedToArray` splits either on commas
/// (Ruby's `split`, which drops trailing empty fields) and strips, and `CommaSeparatedToIntegerArray`
/// maps `to_i`. Coercion never fails, so Grape's Array[Integer] check always passes: an id that is
/// not a number is 0 (`"abc".to_i`), which no user has, never a 400 (Grape's
/// `CustomTypeCoercer#call` only fails when the coerced value is not an array of Integers). Each
/// id is `Some(user id)`, or `None` where `to_i` names no possible user (0, negative, too large).
fn id_list_param(ctx: &Ctx, name: &str) -> Option<Vec<Option<u64>>> {
    let bracketed = format!("{name}[]");
    let array: Vec<&str> = ctx
        .query
        .iter()
        .filter(|(k, _)| *k == bracketed)
        .map(|(_, v)| v.as_str())
        .collect();
    let values = if array.is_empty() {
        vec![ctx.query.iter().rev().find(|(k, _)| k == name)?.1.as_str()]
    } else {
        array
    };
    let ids: Vec<Option<u64>> = values
        .into_iter()
        .flat_map(ruby_split_commas)
        .map(|v| ruby_to_i(v.trim()))
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// Ruby's `value.split(',')`: the fields between commas, trailing empty ones dropped.
fn ruby_split_commas(value: &str) -> Vec<&str> {
    let mut fields: Vec<&str> = value.split(',').collect();
    while fields.last().is_some_and(|f| f.is_empty()) {
        fields.pop();
    }
    fields
}

/// Ruby's `String#to_i` as a user id: leading whitespace, an optional sign, then decimal digits
/// (single underscores between them allowed); whatever follows is ignored and no digits at all
/// is 0. `None` for a value no user id can have (0, negative, beyond `u64`).
fn ruby_to_i(value: &str) -> Option<u64> {
    let value = value.trim_start();
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let mut number: u64 = 0;
    let mut previous_digit = false;
    for c in digits.chars() {
        match c.to_digit(10) {
            Some(d) => {
                number = number.checked_mul(10)?.checked_add(u64::from(d))?;
                previous_digit = true;
            }
            None if c == '_' && previous_digit => previous_digit = false,
            None => break,
        }
    }
    (!negative && number > 0).then_some(number)
}

fn is_group(sim: &SimState, id: &str) -> bool {
    id == sim.group_path || id == GROUP_ID.to_string()
}

fn token_self(token: &TokenRecord, owner_index: usize, as_of: Day) -> Value {
    let scopes = token.scopes;
    json!({
        "id": token.id,
        "name": token.name,
        "revoked": false,
        "created_at": entities::timestamp(as_of - 30, 9 * 3600 + 29 * 60 + 40, 657),
        "description": "seatwatch (simulated)",
        "scopes": scopes,
        "user_id": owner_index + 1,
        "last_used_at": entities::timestamp(as_of, 8 * 3600, 210),
        "active": true,
        "granular": false,
        "expires_at": entities::date(as_of + token.expires_in_days),
        "expired": false,
        "last_used_ips": [],
    })
}

/// Resolves `:id` (numeric id or username) to a user visible on the current date.
fn find_user(r: &Render, id: &str) -> Option<usize> {
    find_user_any(r, id).filter(|&index| r.pop.exists(index))
}

fn find_user_any(r: &Render, id: &str) -> Option<usize> {
    let visible = r.pop.visible(r.as_of);
    if let Ok(id) = id.parse::<usize>() {
        return (1..=visible).contains(&id).then(|| id - 1);
    }
    // Most generated usernames end in their id; check that guess before scanning everyone.
    let digits: String = id.chars().rev().take_while(char::is_ascii_digit).collect();
    let guess: Option<usize> = digits.chars().rev().collect::<String>().parse().ok();
    let candidates = guess
        .filter(|&g| (1..=visible).contains(&g))
        .map(|g| g - 1)
        .into_iter()
        .chain(0..visible.min(super::population::FIXED_USERS));
    for index in candidates {
        if r.identity(index).username == id {
            return Some(index);
        }
    }
    (0..visible).find(|&index| r.identity(index).username == id)
}

#[derive(Clone, Copy)]
struct PageRequest {
    page: usize,
    per_page: usize,
}

fn page_request(ctx: &Ctx) -> PageRequest {
    let page = ctx
        .param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let per_page = ctx
        .param("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    PageRequest { page, per_page }
}

/// Offset pagination headers as GitLab sends them; totals and `rel="last"` only up to 10,000.
fn offset_headers(ctx: &Ctx, req: PageRequest, total: usize) -> Vec<(HeaderName, String)> {
    let known = total <= COUNT_LIMIT;
    let total_pages = total.div_ceil(req.per_page).max(1);
    let has_next = total > req.page * req.per_page;
    let link_to = |page: usize| {
        format!(
            "<{}>",
            ctx.link(&[
                ("page", page.to_string()),
                ("per_page", req.per_page.to_string())
            ])
        )
    };
    let mut links = Vec::new();
    if req.page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(req.page - 1)));
    }
    if has_next {
        links.push(format!("{}; rel=\"next\"", link_to(req.page + 1)));
    }
    links.push(format!("{}; rel=\"first\"", link_to(1)));
    if known {
        links.push(format!("{}; rel=\"last\"", link_to(total_pages)));
    }
    let h = HeaderName::from_static;
    let mut headers = vec![
        (h("link"), links.join(", ")),
        (h("x-page"), req.page.to_string()),
        (h("x-per-page"), req.per_page.to_string()),
        (
            h("x-next-page"),
            if has_next {
                (req.page + 1).to_string()
            } else {
                String::new()
            },
        ),
        (
            h("x-prev-page"),
            if req.page > 1 {
                (req.page - 1).to_string()
            } else {
                String::new()
            },
        ),
    ];
    if known {
        headers.push((h("x-total"), total.to_string()));
        headers.push((h("x-total-pages"), total_pages.to_string()));
    }
    headers
}

fn billable_members(ctx: &Ctx, r: &Render) -> Reply {
    let visible = r.pop.visible(r.as_of);
    let needle = ctx.param("search").map(str::to_lowercase);
    // ee/lib/ee/api/members.rb: `sorting = params[:sort] || 'id_asc'`; the simulator offers
    // the default order and its reverse.
    let descending = match ctx.param("sort") {
        None | Some("id_asc") => false,
        Some("id_desc") => true,
        Some(_) => {
            return Reply::raw_json(
                StatusCode::BAD_REQUEST,
                r#"{"error":"sort: the simulated GitLab orders billable members by id_asc or id_desc only"}"#,
            );
        }
    };
    let req = page_request(ctx);
    let skip = (req.page - 1) * req.per_page;
    let mut total = 0usize;
    let mut page = Vec::new();
    let billed = |i: &usize| r.pop.exists(*i) && r.pop.users[*i].holds_seat_on(r.as_of);
    let ordered: Box<dyn Iterator<Item = usize>> = if descending {
        Box::new((0..visible).rev().filter(billed))
    } else {
        Box::new((0..visible).filter(billed))
    };
    for index in ordered {
        if let Some(needle) = &needle {
            let v = r.identity(index);
            if !(v.username.to_lowercase().contains(needle.as_str())
                || v.name.to_lowercase().contains(needle.as_str()))
            {
                continue;
            }
        }
        if total >= skip && page.len() < req.per_page {
            page.push(index);
        }
        total += 1;
    }
    let rows: Vec<_> = page
        .into_iter()
        .map(|i| r.billable_member(&r.user(i)))
        .collect();
    let body = serde_json::to_vec(&rows).expect("members render as JSON");
    let mut reply = Reply::raw_json(StatusCode::OK, body);
    reply.headers = offset_headers(ctx, req, total);
    reply
}

/// `GET /groups/:id/billable_members/:user_id/memberships` (ee/lib/ee/api/members.rb):
/// `user.members.in_hierarchy(group)`, the direct memberships only, offset-paginated, rendered by
/// `ee/lib/ee/api/entities/billable_membership.rb`. A generated member belongs to the group
/// itself from the day it joined; one invited through another group has no direct membership, so
/// the list is empty; a member added with chosen memberships has a row for each, the group's
/// first (membership ids ascend: `paginate` orders by `id`). `source_full_name` is the source's
/// `full_name`; `source_members_url` is `group_group_members_url` or
/// `project_project_members_url` (`app/helpers/routing/members_helper.rb`).
fn billable_memberships(ctx: &Ctx, r: &Render, user: &str) -> Reply {
    let Some(index) = user
        .parse::<usize>()
        .ok()
        .and_then(|id| find_user(r, &id.to_string()))
    else {
        // `::User.find` raises RecordNotFound: lib/api/helpers.rb renders "404 Not found".
        return Reply::message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let u = &r.pop.users[index];
    if !u.holds_seat_on(r.as_of) {
        return Reply::message(StatusCode::NOT_FOUND, "404 User Not Found");
    }
    let mut rows = Vec::new();
    if let Some(created_at) = r.group_membership_created_at(index) {
        rows.push(json!({
            "id": GROUP_MEMBERSHIP_IDS + index as u64,
            "source_id": GROUP_ID,
            "source_full_name": r.group_path,
            "source_members_url": format!("{}/groups/{}/-/group_members", ctx.origin, r.group_path),
            "created_at": created_at,
            "expires_at": null,
            "access_level": { "string_value": "Developer", "integer_value": 30 },
        }));
    }
    if let Some((project, created_at)) = r.project_membership(index) {
        rows.push(json!({
            "id": PROJECT_MEMBERSHIP_IDS + index as u64,
            "source_id": project.id,
            "source_full_name": project.full_name,
            "source_members_url": format!("{}/{}/-/project_members", ctx.origin, project.path_with_namespace),
            "created_at": created_at,
            "expires_at": null,
            "access_level": { "string_value": "Developer", "integer_value": 30 },
        }));
    }
    offset_reply(ctx, &rows, Value::clone)
}

/// Membership row ids (`members.id`): a user's group membership is this plus the user's index,
/// its project membership [`PROJECT_MEMBERSHIP_IDS`] plus the index (the population has fewer
/// than a million users, so the two never meet).
const GROUP_MEMBERSHIP_IDS: u64 = 1_000_000;
const PROJECT_MEMBERSHIP_IDS: u64 = 2_000_000;

fn parse_day(value: Option<&str>) -> Result<Option<Day>, ()> {
    match value {
        None => Ok(None),
        Some(v) => chrono::NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d")
            .map(|d| Some(day_of(d)))
            .map_err(|_| ()),
    }
}

/// Whether GitLab keeps events for this user at all: internal users and the ghost user act
/// through GitLab itself, and users who never act have none.
pub(crate) fn serves_events(pop: &Population, index: usize) -> bool {
    let u = &pop.users[index];
    u.weekday_chance > 0 && u.kind != Kind::Internal && index != GHOST_USER_INDEX
}

/// `GET /users/:id/events`, following `app/finders/events_finder.rb`: `after` and `before` are
/// whole days, both exclusive (`created_at > after.end_of_day`, `created_at <
/// before.beginning_of_day`, in the instance's time zone), and only events written by now exist.
/// A caller who cannot `read_user_profile` of the user (`app/policies/user_policy.rb`: a private
/// profile, unless the caller is that user or an administrator) gets `Event.none`.
fn user_events(ctx: &Ctx, r: &Render, index: usize, caller: usize, instance_admin: bool) -> Reply {
    let (after, before) = match (
        parse_day(ctx.param("after")),
        parse_day(ctx.param("before")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(()), _) => {
            return Reply::raw_json(StatusCode::BAD_REQUEST, r#"{"error":"after is invalid"}"#);
        }
        (_, Err(())) => {
            return Reply::raw_json(StatusCode::BAD_REQUEST, r#"{"error":"before is invalid"}"#);
        }
    };
    let u = &r.pop.users[index];
    // Both bounds are exclusive days; events older than GitLab's retention are gone.
    let lo = [
        after.map(|a| a + 1),
        Some(u.created),
        Some(r.as_of - EVENT_RETENTION_DAYS),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(u.created);
    let hi = [before.map(|b| b - 1), Some(r.as_of), Some(u.stop)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(r.as_of);
    let action = ctx.param("action");
    let target = ctx.param("target_type").map(str::to_lowercase);
    let readable = instance_admin || caller == index || !r.pop.private_profile(index);
    let mut events = Vec::new();
    if readable && serves_events(r.pop, index) {
        for day in lo..=hi {
            events.extend(
                r.pop
                    .events_until(index, day, r.as_of, r.now)
                    .into_iter()
                    .filter(|e| {
                        action.is_none_or(|a| e.kind.action_filter() == a)
                            && target
                                .as_deref()
                                .is_none_or(|t| e.kind.target_filter() == Some(t))
                    }),
            );
        }
    }
    if ctx.param("sort") != Some("asc") {
        events.reverse();
    }
    let view = r.identity(index);
    offset_reply(ctx, &events, |e| r.event(&view, e))
}

/// `GET /groups/:id/projects`, following `lib/api/groups.rb` (`include_subgroups` defaults to
/// false: only the group's own projects) with `simple=true`'s `ProjectIdentity`-like rows; offset
/// pagination.
fn group_projects(ctx: &Ctx, r: &Render) -> Reply {
    let projects: Vec<Value> = entities::group_projects(r)
        .into_iter()
        .filter(|p| ctx.flag("include_subgroups") || !p.in_subgroup)
        .map(|p| p.json)
        .collect();
    offset_reply(ctx, &projects, Value::clone)
}

/// One offset page of `rows` (`page`, `per_page`), rendered, with GitLab's pagination headers
/// (`lib/api/helpers/pagination.rb`); only the page's rows are rendered.
fn offset_reply<T>(ctx: &Ctx, rows: &[T], render: impl Fn(&T) -> Value) -> Reply {
    let req = page_request(ctx);
    let total = rows.len();
    let body = Value::Array(
        rows.iter()
            .skip((req.page - 1) * req.per_page)
            .take(req.per_page)
            .map(render)
            .collect(),
    );
    let mut reply = Reply::json(StatusCode::OK, &body);
    reply.headers = offset_headers(ctx, req, total);
    reply
}
