//! A simulated GitLab: a real HTTP server (axum) speaking GitLab's REST dialect under `/api/v4/`,
//! with a realistic, seeded population and switchable faults.
//!
//! The demo, the integration tests and the benchmarks start it in-process with
//! [`SimHandle::start`]; `seatwatch sim` runs it on its own with [`SimHandle::start_on`] and
//! [`SimHandle::wait`].
//!
//! What it serves (both flavours unless noted): `/metadata`, `/version`, `/user`,
//! `/personal_access_tokens/self`, `/users` (admin view with activity fields for self-managed
//! admins and auditors, `UserBasic` otherwise; `created_after` / `created_before`; every
//! `order_by` GitLab allows; offset and keyset pagination, see `http/users.rs`), `/users/:id`,
//! `/users/:id/events` (`after` / `before` exclusive, `action`, `target_type`, `sort`,
//! pagination), `/namespaces/:id`, `/groups/:id`,
//! `/groups/:id/billable_members`, `/groups/:id/billable_members/:user_id/memberships`,
//! `/groups/:id/members` (`user_ids`, `skip_users`, `show_seat_info`) and
//! `/groups/:id/members/all/:user_id` for the top-level group [`SimConfig::group_path`];
//! `/license` (self-managed admins) answers as [`LicenceMode`] says: a seat limit, none, no
//! licence or Community Edition.
//!
//! GraphQL (`/api/graphql`, GET and POST; see the `graphql` module) serves GitLab's Duo add-on
//! queries (`addOnPurchases`, `namespace.addOnEligibleUsers`, `selfManagedAddOnEligibleUsers`)
//! over a seeded Duo population whose assignments follow the clock; it refuses mutations sent
//! by GET. [`SimConfig::duo_activity_field`] off plays a GitLab 17.x without
//! `lastDuoActivityOn`; [`SimHandle::duo_expected`] is the ground truth. Faults and the rate
//! limit apply to it as to every `/api/v4/` endpoint.
//!
//! Accounts were created the way real instances fill up: bulk imports (thousands in an hour,
//! several in one second) between months of varying hiring and quiet stretches, ids in creation
//! order ([`SimConfig::activity`] sets how many of them act on a day).
//!
//! Keyset pages of `/users` carry GitLab's opaque `cursor`; with
//! [`SimConfig::users_keyset_pagination`] off the simulator is a GitLab from before 16.5, which
//! ignores `pagination=keyset` on `/users` and answers with offset pages. [`SimHandle::delete_user`]
//! and [`SimHandle::create_user`] change the population while a listing runs, and later pages
//! answer as GitLab's would (offset pages shift, keyset cursors do not);
//! [`SimHandle::create_user_with_memberships`] adds a member whose group and project memberships
//! began on chosen days.
//!
//! The simulator has a clock: a date (`as_of`) and a time of day in the instance's time zone
//! ([`SimConfig::time_of_day`], [`SimConfig::utc_offset_seconds`]; UTC by default, as on
//! GitLab.com and in GitLab's own default). People act at realistic times of day, and an event or
//! a day's `last_activity_on` exists only once the clock has passed it, as GitLab writes them
//! when they happen. [`SimHandle::set_clock`] moves it; [`SimHandle::events_of_day`] is the
//! ground truth of one calendar day.
//!
//! Scopes follow `lib/api/api.rb` (`api`, or `read_api` for GET, everywhere; `read_user` on the
//! user endpoints). The optional [`Throttle`] follows Rack::Attack as GitLab configures it:
//! epoch-aligned periods of any length, `RateLimit-*` headers only on the 429 unless
//! [`SimConfig::rate_limit_headers_always`].
//!
//! The state served for a date D is a pure function of (seed, anchor, user index, D), where the
//! anchor is the `as_of` the server started with: the population (ids in creation order, new hires
//! near the anchor) is built once; each user's activity on a day is a stateless hash draw. Moving
//! the date with [`SimHandle::set_as_of`] therefore replays one coherent history; users created
//! after the date are not listed yet.
//!
//! Faults ([`Faults`]) count down "the next N responses" of every `/api/v4/` endpoint except
//! `/metadata` and `/version`, which stay healthy so that a reachability check can tell a flaky
//! API from a dead host. The order per request is: dropped connection, status burst, rate limit,
//! slow response, then the real answer (malformed or truncated if those faults are pending).
//! `requests_served` counts every request that reached the server, faulted or not.

mod duo;
mod entities;
mod graphql;
mod http;
mod population;

pub use duo::{DuoExpected, DuoProfile, ExpectedAddOn, ExpectedHolder};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Timelike};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use population::{MS_PER_DAY, Population, day_of};

/// Which GitLab the simulator plays. The two answer differently: who the admin is, where seats
/// are read (`/license` or the group's `billable_members`), what `/metadata` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// A self-managed (or Dedicated) instance, read with an instance admin token.
    SelfManaged,
    /// GitLab.com, read with a top-level group Owner token.
    GitLabCom,
}

/// Obviously fake tokens the simulator knows. They are public constants on purpose: they only
/// work against the simulator.
pub mod tokens {
    /// Self-managed: instance admin. GitLab.com: Owner of the top-level group (not an instance
    /// admin). Scopes `read_api read_user`; expires a year after the current `as_of`.
    pub const ADMIN: &str = "glpat-fake-sim-admin-0000";
    /// Like [`ADMIN`], but expires 5 days after the current `as_of`.
    pub const EXPIRING_SOON: &str = "glpat-fake-sim-expiring-0000";
    /// Always answered with GitLab's 401 "Token is expired" body.
    pub const EXPIRED: &str = "glpat-fake-sim-expired-0000";
    /// Always answered with GitLab's 401 "Token was revoked" body.
    pub const REVOKED: &str = "glpat-fake-sim-revoked-0000";
    /// Scope `read_user` only: 403 `insufficient_scope` on `/license`, `/namespaces`, `/groups`.
    pub const READ_USER_ONLY: &str = "glpat-fake-sim-readuser-0000";
    /// The admin (Owner on GitLab.com) with scope `read_api` only, the least privilege seatwatch
    /// needs: `lib/api/api.rb` allows `read_api` on every route for GET and HEAD.
    pub const READ_API_ONLY: &str = "glpat-fake-sim-readapi-0000";
    /// A valid token whose owner was deactivated: every call gets GitLab's 403 with the access
    /// denied reason (`lib/api/api_guard.rb` `find_current_user!`), not a 401.
    pub const DEACTIVATED_OWNER: &str = "glpat-fake-sim-deactivated-0000";
    /// A regular user: `UserBasic` from `/users`, 403 on `/license`, 400 on billable members.
    pub const NON_ADMIN: &str = "glpat-fake-sim-nonadmin-0000";
}

/// How a simulated 429 (from [`Faults::status_burst`]) tells the client when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterMode {
    /// `Retry-After: N` (plus the `RateLimit-*` headers).
    Seconds(u64),
    /// No `Retry-After`; only `RateLimit-Reset` (Unix time, one second ahead).
    ResetOnly,
    /// Neither: the client must fall back on its own backoff.
    NoHeaders,
    /// An application limit (`lib/api/helpers/rate_limiter.rb`): a JSON body
    /// `{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`
    /// and no `Retry-After` or `RateLimit-*` header.
    ApplicationLimit,
}

/// What `GET /license` answers, each as GitLab does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LicenceMode {
    /// A licence restricting the seats to the population's `user_limit` (the default).
    #[default]
    SeatLimit,
    /// A licence without a seat restriction: `user_limit: 0`
    /// (`ee/lib/api/entities/gitlab_license.rb`).
    NoSeatLimit,
    /// GitLab EE with no licence installed: 200 with the body `null` (`ee/lib/api/license.rb`
    /// presents `License.current`), and `using_license_seat` false for everyone
    /// (`ee/app/models/ee/user.rb` needs `License.current`).
    NoLicence,
    /// GitLab Community Edition: the route is not mounted, so 404; `/metadata` says
    /// `enterprise: false`.
    CommunityEdition,
}

impl LicenceMode {
    /// Whether `using_license_seat` can be true at all.
    pub(crate) fn has_licence(self) -> bool {
        matches!(self, LicenceMode::SeatLimit | LicenceMode::NoSeatLimit)
    }
}

/// A Rack::Attack throttle: `requests` per `period`, counted in epoch-aligned periods
/// (`lib/gitlab/rack_attack/request_throttle_data.rb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub requests: u32,
    pub period: Duration,
}

impl Throttle {
    /// GitLab.com's authenticated API throttle is 2,000 per minute.
    pub fn per_minute(requests: u32) -> Throttle {
        Throttle {
            requests,
            period: Duration::from_secs(60),
        }
    }

    /// Self-managed's default when the throttle is enabled: 7,200 per 3,600 s
    /// (`throttle_authenticated_api_requests_per_period` / `_period_in_seconds`).
    pub fn self_managed_default() -> Throttle {
        Throttle {
            requests: 7_200,
            period: Duration::from_secs(3_600),
        }
    }
}

impl Default for RetryAfterMode {
    fn default() -> Self {
        RetryAfterMode::Seconds(1)
    }
}

/// Switchable faults; each counts down over the next N responses of the data endpoints.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// `(status, n)`: the next n responses have this status (429, 500, 502, 503 or 504).
    pub status_burst: Option<(u16, u32)>,
    /// How the burst's 429s announce when to retry.
    pub retry_after: RetryAfterMode,
    /// `(delay, n)`: the next n responses are delayed by `delay` (on top of `latency`).
    pub slow: Option<(Duration, u32)>,
    /// The next n requests get their connection closed without a complete response.
    pub drop_connections: u32,
    /// The next n responses are 200 with a body that is not JSON.
    pub malformed_json: u32,
    /// The next n responses carry the real JSON cut in half.
    pub truncated_body: u32,
    /// The faults above start only after this many more responses were answered normally, so
    /// a test can place them in the middle of a run.
    pub after: u32,
    /// Only requests to this path (`/api/graphql`, say) meet the faults or count towards
    /// `after`; `None`, every data endpoint.
    pub only_path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub flavour: Flavour,
    /// Population size at the anchor date (at most 262,143; larger values are clamped).
    pub users: u32,
    pub seed: u64,
    /// The simulated "today"; also the anchor the population is built around.
    pub as_of: NaiveDate,
    /// The simulated time of day on `as_of`, in the instance's time zone: events and
    /// `last_activity_on` of today exist only up to it.
    pub time_of_day: NaiveTime,
    /// The instance's time zone as an offset from UTC in seconds (`gitlab_rails['time_zone']`;
    /// GitLab's default, and GitLab.com's, is UTC). Days and event times are local to it.
    pub utc_offset_seconds: i32,
    /// The top-level group on GitLab.com (also served on self-managed).
    pub group_path: String,
    /// Added to every response.
    pub latency: Duration,
    /// GitLab's `throttle_authenticated_api`; `None` (off) is self-managed's default.
    pub rate_limit: Option<Throttle>,
    /// `RateLimit-*` headers on every response, as with the 18.6 feature flag
    /// `rate_limiting_headers_for_unthrottled_requests` (off by default: then only the 429 has
    /// them, `lib/gitlab/rack_attack.rb` `throttled_response`).
    pub rate_limit_headers_always: bool,
    pub licence: LicenceMode,
    /// GitLab.com before 18.9: `restrict_namespace_api_billing_fields` off, so `/namespaces/:id`
    /// shows the billing fields to every member, not only to Owners (default: off, as since 18.9).
    pub namespace_billing_unrestricted: bool,
    pub faults: Faults,
    /// `/users` honours `pagination=keyset` (GitLab 16.5+, the default). Off: an older GitLab,
    /// whose `lib/api/users.rb` paginated with `paginate` and silently ignored the parameter.
    pub users_keyset_pagination: bool,
    /// GitLab 18.0 or later (the default): `AddOnUser.lastDuoActivityOn` is in the GraphQL schema
    /// and Duo Core is an add-on. Off: a GitLab 17.x, where querying the field is a validation
    /// error (`ee/app/graphql/types/gitlab_subscriptions/add_on_user_type.rb`).
    pub duo_activity_field: bool,
    /// `/users` honours `created_after` / `created_before` (inclusive bounds, admins and auditors
    /// only; `app/finders/users_finder.rb`). Off: a GitLab that ignores them and lists everyone.
    /// GitLab has had them since the 10.x series at the latest: `spec/requests/api/users_spec.rb`
    /// tests them with the Rails 4 request style, and third-party clients passed them by April
    /// 2018 (gitlabhq/terraform-provider-gitlab#50). That is long before keyset pagination on
    /// `/users` (16.5), so no GitLab a client meets today ignores them; the switch exists so
    /// that a client's fallback (detect it, walk serially) can be tested.
    pub users_created_filters: bool,
    /// Scales everyone's daily chance of activity. 1.0 (the default) gives about 30% of the
    /// members active since the day before a weekday `as_of`; about 0.03 gives about 1% (the
    /// listing-dominated shape of issue 14). The fixed accounts are not scaled.
    pub activity: f64,
}

impl SimConfig {
    /// Seed 42, as_of 2026-06-30 05:30 UTC, group `acme`, no latency, no rate limit, no faults.
    pub fn new(flavour: Flavour, users: u32) -> Self {
        SimConfig {
            flavour,
            users,
            seed: 42,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 30).expect("2026-06-30 is a valid date"),
            // the hour the shipped schedule runs collect
            time_of_day: NaiveTime::from_hms_opt(5, 30, 0).expect("05:30 is a valid time"),
            utc_offset_seconds: 0,
            group_path: "acme".to_string(),
            latency: Duration::ZERO,
            rate_limit: None,
            rate_limit_headers_always: false,
            licence: LicenceMode::default(),
            namespace_billing_unrestricted: false,
            faults: Faults::default(),
            users_keyset_pagination: true,
            duo_activity_field: true,
            users_created_filters: true,
            activity: 1.0,
        }
    }
}

/// Ground truth for tests: what a correct collector must find as of the current `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Every user the admin `/users` listing returns (bots, blocked and internal users included;
    /// users removed with [`SimHandle::delete_user`] excluded).
    pub users: u64,
    /// Users with `using_license_seat: true` (`/license` `active_users`).
    pub seat_holders: u64,
    /// Rows of `/groups/:group/billable_members` (GitLab.com `seats_in_use`); the simulated
    /// group holds every seat holder, so this equals `seat_holders`.
    pub billable_members: u64,
    /// Listed users (any kind or state) whose `last_activity_on` is the `as_of` date (at the
    /// current time of day).
    pub active_on_as_of: u64,
    /// Listed users, bots aside, whose `last_activity_on` is the day before `as_of` or later:
    /// those a collector must ask for the events of the day before (one request each).
    pub active_since_yesterday: u64,
    /// Seats purchased (`/license` `user_limit`; 0 for a licence without a seat limit or none).
    pub user_limit: u64,
    /// Highest seat count of the term so far (`historical_max`, `max_seats_used`).
    pub max_seats_used: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Admin,
    NonAdmin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    Valid,
    Expired,
    Revoked,
    /// Valid, but its owner is deactivated and may not use the API.
    OwnerDeactivated,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub id: u64,
    pub name: String,
    pub role: Role,
    pub scopes: &'static [&'static str],
    /// Expiry relative to the current `as_of`, so tokens stay valid as the demo moves the date.
    pub expires_in_days: i32,
    pub status: TokenStatus,
}

/// Faults plus their remaining counts.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub faults: Faults,
}

/// The fixed 60 s rate-limit window (start as Unix seconds, requests seen in it).
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    pub start: u64,
    pub observed: u64,
}

/// The tokens of [`tokens`], each with the owner, scopes, expiry and state its name promises.
fn known_tokens() -> HashMap<String, TokenRecord> {
    const READ: &[&str] = &["read_api", "read_user"];
    let record = |id, name: &str, role, expires_in_days, status| TokenRecord {
        id,
        name: name.to_string(),
        role,
        scopes: READ,
        expires_in_days,
        status,
    };
    HashMap::from([
        (
            tokens::ADMIN.to_string(),
            record(101, "seatwatch", Role::Admin, 365, TokenStatus::Valid),
        ),
        (
            tokens::EXPIRING_SOON.to_string(),
            record(
                102,
                "seatwatch-expiring",
                Role::Admin,
                5,
                TokenStatus::Valid,
            ),
        ),
        (
            tokens::EXPIRED.to_string(),
            record(103, "seatwatch-old", Role::Admin, -3, TokenStatus::Expired),
        ),
        (
            tokens::REVOKED.to_string(),
            record(
                104,
                "seatwatch-revoked",
                Role::Admin,
                200,
                TokenStatus::Revoked,
            ),
        ),
        (
            tokens::READ_USER_ONLY.to_string(),
            TokenRecord {
                scopes: &["read_user"],
                ..record(105, "read-user-only", Role::Admin, 365, TokenStatus::Valid)
            },
        ),
        (
            tokens::READ_API_ONLY.to_string(),
            TokenRecord {
                scopes: &["read_api"],
                ..record(107, "read-api-only", Role::Admin, 365, TokenStatus::Valid)
            },
        ),
        (
            tokens::DEACTIVATED_OWNER.to_string(),
            record(
                108,
                "deactivated-owner",
                Role::Admin,
                365,
                TokenStatus::OwnerDeactivated,
            ),
        ),
        (
            tokens::NON_ADMIN.to_string(),
            record(106, "regular-user", Role::NonAdmin, 365, TokenStatus::Valid),
        ),
    ])
}

pub(crate) struct SimState {
    pub flavour: Flavour,
    pub group_path: String,
    /// Swapped whole (copy on write) by the test hooks, so a request sees one consistent
    /// population from start to end.
    pub pop: RwLock<Arc<Population>>,
    pub users_keyset_pagination: bool,
    pub users_created_filters: bool,
    /// The sorted orders of `/users` by name, username and updated_at, built on first use for
    /// the population they were built from.
    pub user_orders: Mutex<Vec<http::CachedOrder>>,
    pub as_of: AtomicI32,
    /// Seconds after local midnight of `as_of`.
    pub now: AtomicU32,
    pub utc_offset_seconds: i32,
    pub latency: Duration,
    pub rate_limit: Option<Throttle>,
    pub rate_limit_headers_always: bool,
    pub licence: LicenceMode,
    pub namespace_billing_unrestricted: bool,
    pub faults: Mutex<FaultState>,
    pub tokens: RwLock<HashMap<String, TokenRecord>>,
    pub rate: Mutex<RateWindow>,
    pub requests_served: AtomicU64,
    /// Requests by route: the path with each all-digit segment as `:id`.
    pub requests_by_route: Mutex<HashMap<String, u64>>,
    pub responses_429: AtomicU64,
    /// The Duo purchases, built once around the anchor.
    pub duo: Arc<duo::Duo>,
    /// The GraphQL schema of the simulated version.
    pub graphql: async_graphql::dynamic::Schema,
}

/// The origin ground-truth renderings link to (they are compared by content, not by link).
const GROUND_TRUTH_ORIGIN: &str = "http://127.0.0.1";

impl SimState {
    /// The population `pop` as the simulator shows it now, with links under `origin`: the one
    /// place a rendering takes the clock, the flavour and the licence from the state.
    pub(crate) fn render<'a>(
        &'a self,
        pop: &'a Population,
        origin: &'a str,
    ) -> entities::Render<'a> {
        entities::Render {
            pop,
            flavour: self.flavour,
            group_path: &self.group_path,
            origin,
            as_of: self.as_of(),
            now: self.now(),
            utc_offset_seconds: self.utc_offset_seconds,
            licensed: self.licence.has_licence(),
        }
    }

    fn new(cfg: SimConfig) -> SimState {
        let pop = Population::build(cfg.seed, cfg.users, cfg.as_of, cfg.activity);
        let duo = duo::Duo::build(&pop, cfg.flavour, cfg.duo_activity_field);

        SimState {
            duo: Arc::new(duo),
            graphql: graphql::schema(cfg.duo_activity_field),
            flavour: cfg.flavour,
            group_path: cfg.group_path,
            as_of: AtomicI32::new(day_of(cfg.as_of)),
            now: AtomicU32::new(cfg.time_of_day.num_seconds_from_midnight()),
            utc_offset_seconds: cfg.utc_offset_seconds,
            pop: RwLock::new(Arc::new(pop)),
            users_keyset_pagination: cfg.users_keyset_pagination,
            users_created_filters: cfg.users_created_filters,
            user_orders: Mutex::new(Vec::new()),
            latency: cfg.latency,
            rate_limit: cfg.rate_limit,
            rate_limit_headers_always: cfg.rate_limit_headers_always,
            licence: cfg.licence,
            namespace_billing_unrestricted: cfg.namespace_billing_unrestricted,
            faults: Mutex::new(FaultState { faults: cfg.faults }),
            tokens: RwLock::new(known_tokens()),
            rate: Mutex::new(RateWindow::default()),
            requests_served: AtomicU64::new(0),
            requests_by_route: Mutex::new(HashMap::new()),
            responses_429: AtomicU64::new(0),
        }
    }

    /// The population as it is now (users deleted or added by the test hooks included).
    pub(crate) fn population(&self) -> Arc<Population> {
        self.pop.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies a test hook's change to a copy and makes it current.
    fn change_population<R>(&self, change: impl FnOnce(&mut Population) -> R) -> R {
        let mut current = self.pop.write().unwrap_or_else(|e| e.into_inner());
        let mut copy = Population::clone(&current);
        let out = change(&mut copy);
        *current = Arc::new(copy);
        out
    }

    pub(crate) fn as_of(&self) -> population::Day {
        self.as_of.load(Ordering::Relaxed)
    }

    pub(crate) fn now(&self) -> u32 {
        self.now.load(Ordering::Relaxed)
    }

    fn expected(&self) -> Expected {
        let day = self.as_of();
        let pop = self.population();
        let visible = pop.visible(day);
        let seat_holders = if self.licence.has_licence() {
            pop.seat_holders(day)
        } else {
            0
        };
        let now = self.now();
        let active_on_as_of = (0..visible)
            .filter(|&i| pop.exists(i) && pop.last_activity_on(i, day, now) == Some(day))
            .count() as u64;
        let active_since_yesterday = (0..visible)
            .filter(|&i| {
                pop.exists(i)
                    && !pop.is_bot(i)
                    && pop
                        .last_activity_on(i, day, now)
                        .is_some_and(|d| d >= day - 1)
            })
            .count() as u64;
        let deleted = (0..visible).filter(|&i| !pop.exists(i)).count();
        Expected {
            users: (visible - deleted) as u64,
            active_since_yesterday,
            seat_holders,
            // GitLab.com's subscription is not the instance licence
            billable_members: pop.seat_holders(day),
            active_on_as_of,
            user_limit: match self.licence {
                LicenceMode::SeatLimit => pop.user_limit,
                _ => 0,
            },
            max_seats_used: pop.max_seat_holders(day).0,
        }
    }
}

/// A running simulator. Stops on [`SimHandle::shutdown`] or when dropped.
pub struct SimHandle {
    state: Arc<SimState>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// How long a graceful shutdown may wait for in-flight (possibly deliberately slow) responses.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl SimHandle {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(cfg: SimConfig) -> std::io::Result<SimHandle> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(cfg));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender means the handle is gone: stop as well.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(SimHandle {
            state,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without `/api/v4`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Moves the simulated "today" (keeping the time of day); later responses describe that date.
    pub fn set_as_of(&self, date: NaiveDate) {
        self.state.as_of.store(day_of(date), Ordering::Relaxed);
    }

    /// Moves the simulated clock to `time` on `date`, in the instance's time zone.
    pub fn set_clock(&self, date: NaiveDate, time: NaiveTime) {
        self.state.as_of.store(day_of(date), Ordering::Relaxed);
        self.state
            .now
            .store(time.num_seconds_from_midnight(), Ordering::Relaxed);
    }

    /// Ground truth for tests: every event of the calendar day `date` (instance time zone) that
    /// exists at the current clock, rendered as `GET /users/:id/events` renders it to an instance
    /// administrator, for all users listed at the current date.
    pub fn events_of_day(&self, date: NaiveDate) -> Vec<serde_json::Value> {
        let s = &self.state;
        let pop = s.population();
        let r = s.render(&pop, GROUND_TRUTH_ORIGIN);
        let day = day_of(date);
        (0..pop.visible(r.as_of))
            .filter(|&i| pop.exists(i) && http::serves_events(&pop, i))
            .flat_map(|i| {
                let view = r.identity(i);
                pop.events_until(i, day, r.as_of, r.now)
                    .iter()
                    .map(|e| r.event(&view, e))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Replaces the pending faults (and their counts).
    pub fn set_faults(&self, faults: Faults) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults = faults;
    }

    /// Later requests with this token get GitLab's "Token was revoked" 401.
    pub fn revoke_token(&self, token: &str) {
        let mut tokens = self.state.tokens.write().unwrap_or_else(|e| e.into_inner());
        if let Some(record) = tokens.get_mut(token) {
            record.status = TokenStatus::Revoked;
        }
    }

    /// Registers `token` as a new valid token behaving like the known token `like` (same user,
    /// role and expiry rule). Does nothing if `like` is unknown to the simulator.
    pub fn add_token(&self, token: &str, like: &str) {
        let mut tokens = self.state.tokens.write().unwrap_or_else(|e| e.into_inner());
        let next_id = tokens.values().map(|t| t.id).max().unwrap_or(100) + 1;
        if let Some(template) = tokens.get(like).cloned() {
            let expires_in_days = if template.expires_in_days < 0 {
                365
            } else {
                template.expires_in_days
            };
            tokens.insert(
                token.to_string(),
                TokenRecord {
                    id: next_id,
                    name: format!("{}-rotated", template.name),
                    status: TokenStatus::Valid,
                    expires_in_days,
                    ..template
                },
            );
        }
    }

    /// Deletes user `id` now, as an admin deleting the account would: it leaves `/users`,
    /// `billable_members` and every other listing, later offset pages shift, `/users/:id`
    /// answers 404, and the id is never reused. Returns false if there was no such user.
    pub fn delete_user(&self, id: u64) -> bool {
        let Some(index) = usize::try_from(id).ok().and_then(|id| id.checked_sub(1)) else {
            return false;
        };
        self.state.change_population(|pop| pop.delete(index))
    }

    /// Adds a user now and returns its id (the next id: GitLab's ids follow creation): a human
    /// who holds a seat, is a member of the group and has never signed in. On GitLab.com,
    /// `account_created` is when the account was made, possibly long before it joined the group
    /// (`billable_members` `created_at` shows the account's date, the membership its own); `None`
    /// means the account was made today.
    pub fn create_user(&self, account_created: Option<NaiveDate>) -> u64 {
        // created now, by the simulated clock (seconds after midnight, as milliseconds)
        let now_ms = self.state.now().saturating_mul(1_000).min(MS_PER_DAY - 1);
        let now = (self.state.as_of(), now_ms);
        let index = self
            .state
            .change_population(|pop| pop.add_user(now, account_created.map(day_of), None));
        index as u64 + 1
    }

    /// Adds a member now, like [`SimHandle::create_user`] (a human who holds a seat, is billable,
    /// has never been active and never signed in; `account_created` as there), whose direct
    /// memberships in the group's hierarchy are chosen: one of the group itself from
    /// `group_since` (if `Some`) and one of one of the group's projects from `project_since` (if
    /// `Some`), each created at some time of that day (a day after today counts as today).
    /// Returns the new user's id.
    ///
    /// As GitLab has it, `billable_members/:user_id/memberships` (`user.members.in_hierarchy`)
    /// lists both rows, `/groups/:id/members` (`source.members`) only the group's, and a member of
    /// a project alone is billable with `membership_type: "project_member"` and is not a member of
    /// the group (`/groups/:id/members`, `/groups/:id/members/all/:user_id`).
    ///
    /// # Panics
    /// If both are `None`: a billable member has at least one membership.
    pub fn create_user_with_memberships(
        &self,
        account_created: Option<NaiveDate>,
        group_since: Option<NaiveDate>,
        project_since: Option<NaiveDate>,
    ) -> u64 {
        assert!(
            group_since.is_some() || project_since.is_some(),
            "a billable member has a group or a project membership"
        );
        let now_ms = self.state.now().saturating_mul(1_000).min(MS_PER_DAY - 1);
        let now = (self.state.as_of(), now_ms);
        let memberships = population::DirectMemberships {
            group: group_since.map(day_of),
            project: project_since.map(day_of),
        };
        let index = self.state.change_population(|pop| {
            pop.add_user(now, account_created.map(day_of), Some(memberships))
        });
        index as u64 + 1
    }

    pub fn requests_served(&self) -> u64 {
        self.state.requests_served.load(Ordering::Relaxed)
    }

    /// Requests that reached `route` (e.g. `/api/v4/groups/acme/billable_members/:id/memberships`:
    /// the path with each all-digit segment as `:id`), faulted or not.
    pub fn requests_served_to(&self, route: &str) -> u64 {
        let by_route = self
            .state
            .requests_by_route
            .lock()
            .expect("the route counts are never poisoned");
        by_route.get(route).copied().unwrap_or(0)
    }

    /// 429s sent, from the rate limit and from status bursts.
    pub fn responses_429(&self) -> u64 {
        self.state.responses_429.load(Ordering::Relaxed)
    }

    /// Ground truth for tests: what a correct collector must find as of the current as_of date.
    pub fn expected(&self) -> Expected {
        self.state.expected()
    }

    /// Ground truth for tests: the Duo add-ons, their seats and holders at the current clock.
    pub fn duo_expected(&self) -> DuoExpected {
        let s = &self.state;
        let pop = s.population();
        let r = s.render(&pop, GROUND_TRUTH_ORIGIN);
        s.duo.expected(&r)
    }

    /// Stops accepting, lets in-flight responses finish (at most a few seconds), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// Runs until the server stops (for `seatwatch sim`; the caller handles ctrl-c by dropping
    /// this future and the handle, or by calling `shutdown` from elsewhere).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "simulated GitLab stopped with an error"),
                Err(error) => tracing::error!(%error, "simulated GitLab task failed"),
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
