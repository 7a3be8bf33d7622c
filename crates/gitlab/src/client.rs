//! The HTTP client: GET only, token in a header, bounded concurrency, retries and pacing.
//!
//! There is exactly one place that sends a request ([`Client::send_once`]) and it calls
//! `reqwest::Client::get`; nothing in the public API takes a method. Every request goes through
//! [`Client::get`], which waits for the pacer (an AIMD window on the requests in flight, a gap
//! learnt from 429s, GitLab's rate-limit headers when it sends them), retries 429/5xx/timeouts/
//! resets and cut or garbled bodies within `max_retry_time`, and classifies what GitLab sent
//! back. A 429 whose wait is longer than the budget left ends the call at once with
//! [`GitLabError::RetryLater`], so the caller can checkpoint instead of losing the run. Redirects
//! are not followed, because the `PRIVATE-TOKEN` header would go wherever GitLab's answer points.

use std::collections::HashSet;
use std::error::Error as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

mod offset_window;
mod parallel_users;
mod queue;

pub use queue::Priority;

use super::base_url::BaseUrl;
use super::error::GitLabError;
use super::headers::{Pacer, PageInfo, RateLimit, retry_after, retry_delay};
use super::token::Token;
use super::types::MemberAccess;
use super::types::{
    BillableMember, CurrentUser, Event, Group, License, Metadata, Namespace, PersonalAccessToken,
    RawEvent, User,
};

/// GitLab's largest page.
const PER_PAGE: &str = "100";

/// Tuning knobs; `Default` suits GitLab.com's 2,000 requests a minute.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Limit for one request, body included.
    pub request_timeout: Duration,
    /// How long one call keeps retrying (waits included) before it gives up.
    pub max_retry_time: Duration,
    pub user_agent: String,
}

// The application never runs with these numbers: `seatwatch::config` sets concurrency, timeout
// and retry budget from its own `DEFAULT_*`, the one place they are defined for the app.
impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            concurrency: 8,
            request_timeout: Duration::from_secs(30),
            max_retry_time: Duration::from_secs(5 * 60),
            user_agent: format!("seatwatch/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A read-only GitLab REST client. Cheap to clone; clones share limits, counters and the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Where this handle's requests stand in line for a slot ([`Client::with_priority`]);
    /// `None`: they take whichever slot frees first, without a line.
    priority: Option<Priority>,
}

struct Inner {
    http: reqwest::Client,
    base: BaseUrl,
    token: RwLock<Token>,
    opts: ClientOptions,
    /// The order the requests of handles with a priority ([`Client::with_priority`]) take
    /// in-flight slots in: by priority, then in the order they asked, one place per slot of the
    /// client's concurrency. A run uses either handles with a priority or handles without
    /// (which take whichever slot frees first), not both.
    queue: queue::Queue,
    /// Woken whenever a request ends, so that waiters for an in-flight slot (and requests at
    /// the head of the queue that the pacer's window holds back after a 429) look again.
    slot_freed: tokio::sync::Notify,
    requests: AtomicU64,
    responses_429: AtomicU64,
    last_rate_limit: Mutex<Option<RateLimit>>,
    pacer: Mutex<Pacer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.web_root().as_str())
            .field("token", &"<redacted>")
            .field("opts", &self.inner.opts)
            .finish()
    }
}

/// The answer to [`Client::probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub rate_limit: Option<RateLimit>,
    /// `X-Total`, when GitLab counted (it does not above 10,000 rows).
    pub total: Option<u64>,
    pub latency: Duration,
}

/// One page of `GET /users` and where the listing continues, for checkpointing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersPage {
    pub users: Vec<User>,
    /// Where the next page starts; `None` after the last page. Holds no token.
    pub next: Option<ListingPosition>,
}

/// Where a member listing stands, so that a later run resumes it without skipping or repeating
/// anyone. Both listings run in ascending id order, so "every member up to `last_id` was
/// listed" is the whole de-duplication state, however long the listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListingPosition {
    /// Keyset `/users`: the `Link: rel="next"` URL GitLab sent (its `cursor` is opaque).
    Keyset { next: String, last_id: Option<u64> },
    /// Offset pages in id order (`billable_members`; `/users` on a GitLab that ignores
    /// `pagination=keyset`): the rows before `end` were read when the last page came.
    Offset { end: u64, last_id: Option<u64> },
    /// `/users` in creation-time partitions walked at once ([`Client::users_in_parallel_from`]):
    /// each partition's range and keyset link; `newest` is the newest creation second known.
    Partitions {
        partitions: Vec<crate::partition::Partition>,
        newest: i64,
        filters_ignored: bool,
    },
}

/// Anything listed by id, so that listings can be checked for order and de-duplicated.
pub trait Listed {
    fn listed_id(&self) -> u64;
}

impl Listed for User {
    fn listed_id(&self) -> u64 {
        self.id
    }
}

impl Listed for BillableMember {
    fn listed_id(&self) -> u64 {
        self.id
    }
}

/// Ids per `GET /groups/:id/members?user_ids[]=` request ([`Client::group_members_by_ids`]):
/// the rows fit one page of GitLab's largest, and the URL stays near 3 KB.
pub const GROUP_MEMBER_IDS_PER_REQUEST: usize = 100;

/// Smallest and largest page asked for when offset pages are read overlapping.
const OVERLAP_MIN_PER_PAGE: u64 = 50;
const MAX_PER_PAGE: u64 = 100;

/// `(page, per_page, offset)` of a request whose rows start just before `end`, so that it
/// re-reads at least the last row already listed: GitLab's offset is `(page - 1) * per_page`,
/// so the page size is chosen among 50..=100 to make the offset land at most 49 rows before
/// `end` (a gap of more than 18 between such offsets does not occur below 2,000,000 rows). The
/// re-read row is what proves that nothing shifted past the boundary between two requests.
///
/// Of the requests that qualify, the one reading furthest past `end`: the listing's request
/// count is the rows over the rows each request adds (issue 14: taking the nearest offset
/// instead added 8.6 rows a request, 113 requests for 8,598 members against 98).
/// `offset == end` (no overlap) only in the unreachable fallback.
pub(crate) fn overlapping_page(end: u64) -> (u64, u64, u64) {
    if end < MAX_PER_PAGE {
        return (1, MAX_PER_PAGE, 0);
    }
    // For each page size, the last offset before `end` reads furthest.
    let overlapping = (OVERLAP_MIN_PER_PAGE..=MAX_PER_PAGE)
        .map(|per_page| ((end - 1) / per_page * per_page, per_page))
        .filter(|(offset, per_page)| {
            end - offset < OVERLAP_MIN_PER_PAGE && offset + per_page > end
        });
    // Ties (the same last row) go to the smaller page, which re-reads less.
    if let Some((offset, per_page)) = overlapping
        .max_by_key(|(offset, per_page)| (offset + per_page, std::cmp::Reverse(*per_page)))
    {
        return (offset / per_page + 1, per_page, offset);
    }
    let offset = end.div_ceil(MAX_PER_PAGE) * MAX_PER_PAGE;
    (offset / MAX_PER_PAGE + 1, MAX_PER_PAGE, offset)
}

/// Where a verified offset listing continues after one request.
struct OffsetStep<T> {
    /// Rows not listed before, in id order.
    fresh: Vec<T>,
    next: Option<ListingPosition>,
}

/// What one request of a verified offset listing shows ([`offset_verdict`]).
enum OffsetVerdict<T> {
    /// Rows moved back over the request's start (a member was removed before it): read further
    /// back, from the request's own offset.
    Shifted,
    Step(OffsetStep<T>),
}

/// Checks the rows of the request `(offset, per_page)` planned by [`overlapping_page`] from a
/// position where the rows before `end` were read and every id up to `last_id` was listed.
/// The request re-reads the last row(s) before `end`: if its first row is not one already
/// listed, rows moved and some may have been skipped ([`OffsetVerdict::Shifted`]). Otherwise
/// the rows not listed before, and where the listing continues (`None` after a short page).
fn offset_verdict<T: Listed>(
    endpoint: &str,
    rows: Vec<T>,
    offset: u64,
    per_page: u64,
    end: u64,
    last_id: Option<u64>,
) -> Result<OffsetVerdict<T>, GitLabError> {
    check_ascending(endpoint, &rows)?;
    let overlaps = offset < end;
    let shifted = match (rows.first(), last_id) {
        (Some(first), Some(last)) => first.listed_id() > last,
        // Fewer rows than where we were: rows before the position went away.
        (None, Some(_)) => true,
        (_, None) => false,
    };
    if overlaps && offset > 0 && shifted {
        tracing::info!(
            endpoint = %endpoint,
            offset,
            "rows moved between two pages (a member was removed meanwhile): reading further back"
        );
        return Ok(OffsetVerdict::Shifted);
    }
    let read = rows.len() as u64;
    let fresh: Vec<T> = rows
        .into_iter()
        .filter(|row| last_id.is_none_or(|last| row.listed_id() > last))
        .collect();
    let last_id = fresh.last().map(Listed::listed_id).or(last_id);
    let next = (read >= per_page).then_some(ListingPosition::Offset {
        end: offset + read,
        last_id,
    });
    Ok(OffsetVerdict::Step(OffsetStep { fresh, next }))
}

/// A successful response, its body already parsed.
struct Answer<T> {
    value: T,
    headers: HeaderMap,
    latency: Duration,
}

/// An HTTP response as it came back.
struct Reply {
    status: reqwest::StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What one logical GET has spent so far, against the retry budget.
struct Tries {
    started: Instant,
    attempts: u32,
    /// Attempts whose 2xx body did not parse.
    body_failures: u32,
    /// Time slept between attempts.
    waited: Duration,
}

/// Attempts at one call whose 2xx body does not parse before it fails: a cut or garbled body is
/// usually a network fault, one that repeats is not.
const MAX_BODY_ATTEMPTS: u32 = 3;

/// Why one attempt failed, and how long to wait before the next.
enum Failure {
    /// `hinted` when GitLab said how long (`Retry-After`, `RateLimit-Reset`).
    RateLimited {
        delay: Duration,
        hinted: bool,
    },
    Server(u16, Duration),
    Timeout(Duration),
    Connection(String, Duration),
    BadBody(String, Duration),
}

impl Failure {
    fn delay(&self) -> Duration {
        match self {
            Failure::RateLimited { delay: d, .. }
            | Failure::Server(_, d)
            | Failure::Timeout(d)
            | Failure::Connection(_, d)
            | Failure::BadBody(_, d) => *d,
        }
    }

    fn give_up(self, endpoint: &str, attempts: u32, waited: Duration) -> GitLabError {
        let endpoint = endpoint.to_string();
        match self {
            Failure::RateLimited { .. } => GitLabError::RateLimited {
                endpoint,
                attempts,
                waited,
            },
            Failure::Server(status, _) => GitLabError::Server {
                endpoint,
                status,
                attempts,
            },
            Failure::Timeout(_) => GitLabError::Timeout { endpoint, attempts },
            Failure::Connection(reason, _) => GitLabError::Connection {
                endpoint,
                reason,
                attempts,
            },
            Failure::BadBody(reason, _) => GitLabError::BadBody {
                endpoint,
                reason,
                attempts,
            },
        }
    }
}

impl Client {
    pub fn new(base: BaseUrl, token: Token, opts: ClientOptions) -> Result<Client, GitLabError> {
        let mut opts = opts;
        opts.concurrency = opts.concurrency.max(1);
        let http = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .timeout(opts.request_timeout)
            .connect_timeout(opts.request_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GitLabError::Config {
                reason: format!("cannot set up the HTTP client: {}", error_chain(e)),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                token: RwLock::new(token),
                queue: queue::Queue::new(opts.concurrency),
                slot_freed: tokio::sync::Notify::new(),
                pacer: Mutex::new(Pacer::new(opts.concurrency)),
                opts,
                requests: AtomicU64::new(0),
                responses_429: AtomicU64::new(0),
                last_rate_limit: Mutex::new(None),
            }),
            priority: None,
        })
    }

    /// A handle on the same client (slots, limits, counters, token) whose requests stand in
    /// line for a slot at `priority`. Every request of a run should then go through such
    /// handles: one without a priority does not stand in the line.
    pub fn with_priority(&self, priority: Priority) -> Client {
        Client {
            inner: self.inner.clone(),
            priority: Some(priority),
        }
    }

    pub fn base(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// Replaces the token; requests sent from now on use the new one (rotation).
    pub fn set_token(&self, token: Token) {
        *self
            .inner
            .token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }

    /// Requests this client keeps in flight at most ([`ClientOptions::concurrency`]).
    pub fn concurrency(&self) -> usize {
        self.inner.opts.concurrency
    }

    /// Requests the `/users` partitions keep in flight (and a verified offset listing before its
    /// first answer): half of [`Client::concurrency`] (at least one). A listed page is only
    /// taken when its members can move on, and a partition's request holds its slot until its
    /// page is taken; a listing that could fill every slot left none for the events its pages
    /// lead to, and both waited (issue 14: a quiet instance's listing requests sat half a second
    /// on answered pages). The other half is theirs.
    pub fn listing_concurrency(&self) -> usize {
        (self.concurrency() / 2).max(1)
    }

    /// Requests allowed in flight right now: [`Client::concurrency`] until GitLab answers 429,
    /// then halved per refusal and regained one by one as requests succeed.
    pub fn allowed_in_flight(&self) -> usize {
        lock(&self.inner.pacer).allowed_in_flight()
    }

    /// HTTP requests sent, retries included.
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    pub fn responses_429(&self) -> u64 {
        self.inner.responses_429.load(Ordering::Relaxed)
    }

    /// The rate-limit headers of the latest response that had any.
    pub fn last_rate_limit(&self) -> Option<RateLimit> {
        lock(&self.inner.last_rate_limit).clone()
    }

    /// `GET /metadata`; instances older than 15.5 only have `GET /version`.
    pub async fn metadata(&self) -> Result<Metadata, GitLabError> {
        match self.get_json(&self.api_url(&["metadata"])).await {
            Err(GitLabError::NotFound { .. }) => self.get_json(&self.api_url(&["version"])).await,
            other => other,
        }
    }

    pub async fn current_user(&self) -> Result<CurrentUser, GitLabError> {
        self.get_json(&self.api_url(&["user"])).await
    }

    pub async fn token_self(&self) -> Result<PersonalAccessToken, GitLabError> {
        self.get_json(&self.api_url(&["personal_access_tokens", "self"]))
            .await
    }

    /// `GET /license`. `None` is GitLab EE without a licence: `ee/lib/api/license.rb` presents
    /// `License.current`, which is nil then, so the body is `null` with 200. Community Edition
    /// does not mount the route at all and answers 404.
    pub async fn license(&self) -> Result<Option<License>, GitLabError> {
        self.get_json(&self.api_url(&["license"])).await
    }

    /// `GET /namespaces/:id`; a path such as `acme/sub` is URL-encoded into one segment.
    pub async fn namespace(&self, id_or_path: &str) -> Result<Namespace, GitLabError> {
        self.get_json(&self.api_url(&["namespaces", id_or_path]))
            .await
    }

    pub async fn group(&self, id_or_path: &str) -> Result<Group, GitLabError> {
        self.get_json(&self.api_url(&["groups", id_or_path])).await
    }

    /// `GET /groups/:id/members/all/:user_id`: the user's highest role in the group, inherited
    /// memberships included; 404 when the user is no member.
    pub async fn group_member_access(
        &self,
        group: &str,
        user_id: u64,
    ) -> Result<MemberAccess, GitLabError> {
        self.get_json(&self.api_url(&["groups", group, "members", "all", &user_id.to_string()]))
            .await
    }

    /// Admin listing, keyset pages streamed in order; a later page's duplicates of earlier ids
    /// dropped. The stream ends after the first error.
    pub fn users(&self) -> impl Stream<Item = Result<Vec<User>, GitLabError>> + Send + '_ {
        self.users_from(None).map(|page| page.map(|p| p.users))
    }

    /// `GET /users` in ascending id order, from the start (`None`) or from a saved position.
    ///
    /// Keyset pages (`pagination=keyset`, GitLab 16.5+) are followed by their `Link`. A GitLab
    /// from before keyset existed on `/users` silently ignores the parameter and answers with
    /// numbered offset pages (`X-Page`, a `Link` to `page=2`): that is detected on the first
    /// page and the listing continues as a verified offset listing (see
    /// [`Client::billable_members_from`]), because a user deleted meanwhile would shift later
    /// offset pages and skip someone. Ids at or below the position's `last_id` are never
    /// yielded again, across resumes too.
    pub fn users_from(
        &self,
        from: Option<ListingPosition>,
    ) -> impl Stream<Item = Result<UsersPage, GitLabError>> + Send + '_ {
        let offset_base = {
            let mut url = self.api_url(&["users"]);
            url.query_pairs_mut()
                .append_pair("order_by", "id")
                .append_pair("sort", "asc");
            url
        };
        let start = match from {
            None => Ok(UsersCursor::First),
            Some(position) => self
                .users_cursor(position)
                .map_err(|reason| GitLabError::Config {
                    reason: format!(
                        "cannot resume the user listing from the saved position: {reason}"
                    ),
                }),
        };
        stream::unfold(Some(start), move |state| {
            let offset_base = offset_base.clone();
            async move {
                let cursor = match state? {
                    Ok(cursor) => cursor,
                    Err(e) => return Some((Err(e), None)),
                };
                match self.users_page(cursor, &offset_base).await {
                    Ok(page) => {
                        let next = page.next.clone().map(|position| {
                            self.users_cursor(position)
                                .map_err(|reason| GitLabError::BadBody {
                                    endpoint: "/users".into(),
                                    reason,
                                    attempts: 1,
                                })
                        });
                        Some((Ok(page), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
    }

    /// Where the user listing continues after `position`, or why a keyset link there cannot be
    /// followed (the caller knows whether that is a bad checkpoint or a bad answer).
    fn users_cursor(&self, position: ListingPosition) -> Result<UsersCursor, String> {
        match position {
            ListingPosition::Keyset { next, last_id } => self
                .follow(&next)
                .map(|url| UsersCursor::Keyset { url, last_id }),
            ListingPosition::Offset { end, last_id } => Ok(UsersCursor::Offset { end, last_id }),
            ListingPosition::Partitions { .. } => Err(
                "it belongs to the partitioned listing (users_in_parallel_from), not to one walk"
                    .into(),
            ),
        }
    }

    /// The `/users` page at `cursor`, whichever kind of pages this GitLab gives.
    async fn users_page(
        &self,
        cursor: UsersCursor,
        offset_base: &Url,
    ) -> Result<UsersPage, GitLabError> {
        match cursor {
            UsersCursor::First => self.users_first_page().await,
            UsersCursor::Keyset { url, last_id } => self.users_keyset_page(&url, last_id).await,
            UsersCursor::Offset { end, last_id } => self
                .offset_step::<User>(offset_base, end, last_id)
                .await
                .map(|step| UsersPage {
                    users: step.fresh,
                    next: step.next,
                }),
        }
    }

    /// The first `/users` page, asked for with keyset pagination; tells which kind came back.
    async fn users_first_page(&self) -> Result<UsersPage, GitLabError> {
        let url = self.users_first_url();
        let endpoint = self.endpoint_of(&url);
        let answer = self.get::<Vec<User>>(&url).await?;
        let users = answer.value;
        let info = PageInfo::from_headers(&answer.headers);
        if !parallel_users::keyset_ignored(&answer.headers, &info) {
            return self.keyset_result(&url, users, info, None);
        }
        // lib/api/users.rb before 16.5 paginated with `paginate`, which ignores `pagination`:
        // this page is offset page 1 (ordered by id ascending, as asked), and the rest must be
        // read as verified offset pages.
        tracing::info!(
            "this GitLab ignores keyset pagination on /users (older than 16.5): listing with overlapping offset pages"
        );
        check_ascending(&endpoint, &users)?;
        let len = users.len() as u64;
        let last_id = users.last().map(Listed::listed_id);
        let per_page: u64 = PER_PAGE.parse().unwrap_or(MAX_PER_PAGE);
        let next = (len >= per_page).then_some(ListingPosition::Offset { end: len, last_id });
        Ok(UsersPage { users, next })
    }

    async fn users_keyset_page(
        &self,
        url: &Url,
        last_id: Option<u64>,
    ) -> Result<UsersPage, GitLabError> {
        let (users, info) = self.get_page::<User>(url).await?;
        self.keyset_result(url, users, info, last_id)
    }

    /// One keyset page: rows already listed dropped, and the position after it.
    fn keyset_result(
        &self,
        url: &Url,
        users: Vec<User>,
        info: PageInfo,
        last_id: Option<u64>,
    ) -> Result<UsersPage, GitLabError> {
        let endpoint = self.endpoint_of(url);
        check_ascending(&endpoint, &users)?;
        let users: Vec<User> = users
            .into_iter()
            .filter(|u| last_id.is_none_or(|last| u.id > last))
            .collect();
        let last_id = users.last().map(|u| u.id).or(last_id);
        let next = match info.next_link {
            Some(link) => {
                let next = self.follow(&link).map_err(|reason| GitLabError::BadBody {
                    endpoint: endpoint.clone(),
                    reason,
                    attempts: 1,
                })?;
                if &next == url {
                    return Err(GitLabError::BadBody {
                        endpoint,
                        reason: "the Link rel=\"next\" header points back at the same page".into(),
                        attempts: 1,
                    });
                }
                Some(ListingPosition::Keyset {
                    next: next.to_string(),
                    last_id,
                })
            }
            None => None,
        };
        Ok(UsersPage { users, next })
    }

    /// One request of a verified offset listing in ascending id order, from a position where
    /// the rows before `end` were read and every id up to `last_id` was listed.
    ///
    /// Offset pages shift when a row before them is removed between two requests, which would
    /// skip the row that moved over the page boundary. Each request therefore starts a little
    /// before `end` ([`overlapping_page`]): if its first row is not one already listed, rows
    /// moved, and the request is repeated further back until it overlaps what was listed, so
    /// the rows that moved are found (never skipped silently). A row added before the position
    /// shifts the other way and is only read twice; ids already listed are dropped.
    async fn offset_step<T>(
        &self,
        base: &Url,
        end: u64,
        last_id: Option<u64>,
    ) -> Result<OffsetStep<T>, GitLabError>
    where
        T: DeserializeOwned + Listed + Send + 'static,
    {
        let mut end = end;
        loop {
            let (page, per_page, offset) = overlapping_page(end);
            let url = with_page_size(base, page, per_page);
            let (rows, _) = self.get_page::<T>(&url).await?;
            match offset_verdict(
                &self.endpoint_of(&url),
                rows,
                offset,
                per_page,
                end,
                last_id,
            )? {
                OffsetVerdict::Step(step) => return Ok(step),
                OffsetVerdict::Shifted => end = offset,
            }
        }
    }

    /// `GET /groups/:group/billable_members`, all pages (concurrently when GitLab gives the page
    /// count), in order; a member listed twice is yielded once. Ends after the first error.
    pub fn billable_members(
        &self,
        group: &str,
    ) -> impl Stream<Item = Result<Vec<BillableMember>, GitLabError>> + Send + '_ {
        let mut url = self.api_url(&["groups", group, "billable_members"]);
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        let mut seen = HashSet::new();
        self.offset_pages::<BillableMember>(url).map(move |page| {
            page.map(|members| members.into_iter().filter(|m| seen.insert(m.id)).collect())
        })
    }

    /// `billable_members` in ascending id order (`sort=id_asc`, GitLab's default), from the
    /// start (`None`) or a saved position, each page with the position after it (`None` at the
    /// end). The pages are verified offset pages ([`Client::offset_step`]), asked for a window
    /// ahead and checked in order (`offset_window`): a member removed while the listing runs
    /// cannot make another one be skipped, and ids up to the position's `last_id` are never
    /// yielded again, across resumes too.
    /// [`Client::billable_members`] is the faster, unverified listing for a quick look.
    pub fn billable_members_from(
        &self,
        group: &str,
        from: Option<ListingPosition>,
    ) -> impl Stream<Item = Result<(Vec<BillableMember>, Option<ListingPosition>), GitLabError>>
    + Send
    + '_ {
        let mut base = self.api_url(&["groups", group, "billable_members"]);
        base.query_pairs_mut().append_pair("sort", "id_asc");
        let start = match from {
            None => Ok((0, None)),
            Some(ListingPosition::Offset { end, last_id }) => Ok((end, last_id)),
            Some(ListingPosition::Keyset { .. } | ListingPosition::Partitions { .. }) => {
                Err(GitLabError::Config {
                    reason: "the saved billable_members position is a keyset link, which GitLab does not offer there: delete the checkpoint".into(),
                })
            }
        };
        let start =
            start.map(|(end, last_id)| offset_window::OffsetWindow::new(base, end, last_id));
        stream::unfold(Some(start), move |state| async move {
            let mut window = match state? {
                Ok(window) => window,
                Err(e) => return Some((Err(e), None)),
            };
            match window.next_step(self).await? {
                Ok(step) => Some((Ok((step.fresh, step.next)), Some(Ok(window)))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Ids of every project in `group` and its subgroups (`GET /groups/:id/projects`, which lists
    /// only the group's own projects unless `include_subgroups=true`, and adds projects shared
    /// with the group unless `with_shared=false`; `lib/api/groups.rb`).
    pub async fn group_project_ids(&self, group: &str) -> Result<HashSet<u64>, GitLabError> {
        #[derive(serde::Deserialize)]
        struct ProjectId {
            id: u64,
        }
        let mut url = self.api_url(&["groups", group, "projects"]);
        url.query_pairs_mut()
            .append_pair("include_subgroups", "true")
            .append_pair("with_shared", "false")
            .append_pair("simple", "true")
            .append_pair("per_page", PER_PAGE);
        let projects = self.all_rows::<ProjectId>(url).await?;
        Ok(projects.into_iter().map(|p| p.id).collect())
    }

    /// `GET /groups/:group/billable_members/:user_id/memberships`: the member's direct
    /// memberships in the group's hierarchy, all pages. Empty for a member who is there only
    /// through an invited group.
    pub async fn billable_member_memberships(
        &self,
        group: &str,
        user_id: u64,
    ) -> Result<Vec<super::types::BillableMembership>, GitLabError> {
        let mut url = self.api_url(&[
            "groups",
            group,
            "billable_members",
            &user_id.to_string(),
            "memberships",
        ]);
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        self.all_rows(url).await
    }

    /// `GET /groups/:group/members?user_ids[]=…&per_page=100`, all pages: of `user_ids`, those
    /// who are direct members of `group` itself, each once with their membership's `created_at`
    /// and `access_level` (request by request in GitLab's order, by membership id). Users who are
    /// members only through a subgroup, a project or an invited group are absent, as are
    /// non-members.
    ///
    /// `lib/api/members.rb` (`get ":id/members"`) answers `paginate(retrieve_members(source,
    /// params:))`; `retrieve_members` (`lib/api/helpers/members_helpers.rb`) takes
    /// `source_members(source)` (`source.members`, or `source.all_group_members` where EE's
    /// `ee/lib/ee/api/helpers/members_helpers.rb` allows Minimal Access) filtered by
    /// `where(user_id: params[:user_ids])`; `lib/api/entities/member.rb` renders the membership
    /// row's own `created_at`. So for a top-level group this is the group's own membership only:
    /// an upper bound of when a member's earliest direct membership in the hierarchy began (which
    /// [`Client::billable_member_memberships`] gives exactly, one request per member).
    ///
    /// Empty `user_ids` returns nothing without a request (GitLab would list every member then:
    /// it filters only when `user_ids` is `present?`). The ids go a hundred to a request, which
    /// keeps each URL near 3 KB.
    pub async fn group_members_by_ids(
        &self,
        group: &str,
        user_ids: &[u64],
    ) -> Result<Vec<super::types::GroupMember>, GitLabError> {
        let mut wanted = HashSet::new();
        let ids: Vec<u64> = user_ids
            .iter()
            .copied()
            .filter(|id| wanted.insert(*id))
            .collect();
        let (mut members, mut seen) = (Vec::new(), HashSet::new());
        for chunk in ids.chunks(GROUP_MEMBER_IDS_PER_REQUEST) {
            let mut url = self.api_url(&["groups", group, "members"]);
            {
                let mut query = url.query_pairs_mut();
                for id in chunk {
                    query.append_pair("user_ids[]", &id.to_string());
                }
                query.append_pair("per_page", PER_PAGE);
            }
            let rows = self.all_rows::<super::types::GroupMember>(url).await?;
            // Each asked-for member once, even if an offset page shifted under the listing.
            members.extend(
                rows.into_iter()
                    .filter(|m| wanted.contains(&m.id) && seen.insert(m.id)),
            );
        }
        Ok(members)
    }

    /// All events of one user in (after, before), both exclusive day bounds as GitLab has them;
    /// all pages. Events without a timestamp are skipped, an event seen twice is kept once.
    pub async fn user_events(
        &self,
        user_id: u64,
        after: NaiveDate,
        before: NaiveDate,
    ) -> Result<Vec<Event>, GitLabError> {
        let mut url = self.api_url(&["users", &user_id.to_string(), "events"]);
        url.query_pairs_mut()
            .append_pair("after", &after.format("%Y-%m-%d").to_string())
            .append_pair("before", &before.format("%Y-%m-%d").to_string())
            .append_pair("per_page", PER_PAGE);
        let raw = self.all_rows::<RawEvent>(url).await?;
        let mut seen = HashSet::new();
        Ok(raw
            .into_iter()
            .filter_map(RawEvent::into_event)
            .filter(|event| seen.insert(event.id))
            .collect())
    }

    /// The newest events of one user in (after, before), newest first, at most `max_pages`
    /// pages of 100, one after the other; the flag says whether every event in the range was
    /// read. For a bounded look back (a first snapshot's contribution backfill), where a
    /// member's whole history would cost unbounded requests.
    pub async fn user_events_newest(
        &self,
        user_id: u64,
        after: NaiveDate,
        before: NaiveDate,
        max_pages: u32,
    ) -> Result<(Vec<Event>, bool), GitLabError> {
        let mut url = self.api_url(&["users", &user_id.to_string(), "events"]);
        url.query_pairs_mut()
            .append_pair("after", &after.format("%Y-%m-%d").to_string())
            .append_pair("before", &before.format("%Y-%m-%d").to_string())
            .append_pair("sort", "desc")
            .append_pair("per_page", PER_PAGE);
        let per_page: usize = PER_PAGE.parse().expect("PER_PAGE is a number");
        let (mut events, mut seen) = (Vec::new(), HashSet::new());
        for page in 1..=max_pages {
            let (raw, info) = self.get_page::<RawEvent>(&with_page(&url, page)).await?;
            // GitLab names the next page (`X-Next-Page`, `Link`) on every page but the last.
            let last = raw.len() < per_page
                || (info.next_page.is_none_or(|next| next <= page) && info.next_link.is_none());
            events.extend(
                raw.into_iter()
                    .filter_map(RawEvent::into_event)
                    .filter(|event| seen.insert(event.id)),
            );
            if last {
                return Ok((events, true));
            }
        }
        Ok((events, false))
    }

    /// Cheap probe for permission checks: `GET path` with `per_page=1`, for its status and headers.
    /// `path` is relative to `/api/v4` (`/users`, `groups/acme/billable_members?x=y`).
    pub async fn probe(&self, path: &str) -> Result<Probe, GitLabError> {
        let mut url = self.probe_url(path)?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "per_page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("per_page", "1");
        let answer = self.get::<serde::de::IgnoredAny>(&url).await?;
        Ok(Probe {
            rate_limit: RateLimit::from_headers(&answer.headers),
            total: PageInfo::from_headers(&answer.headers).total,
            latency: answer.latency,
        })
    }

    fn probe_url(&self, path: &str) -> Result<Url, GitLabError> {
        let refuse = |why: &str| GitLabError::Config {
            reason: format!("refusing to probe `{path}`: {why}"),
        };
        let relative = path.trim().trim_start_matches('/');
        if relative.contains("://") || relative.starts_with('\\') || path.trim().starts_with("//") {
            return Err(refuse("give a path under /api/v4, not a URL"));
        }
        let api_root = self.inner.base.api_root();
        let url = api_root
            .join(relative)
            .map_err(|e| refuse(&e.to_string()))?;
        if url.origin() != api_root.origin() || !url.path().starts_with(api_root.path()) {
            return Err(refuse("it leaves the GitLab API"));
        }
        Ok(url)
    }

    fn users_first_url(&self) -> Url {
        let mut url = self.api_url(&["users"]);
        url.query_pairs_mut()
            .append_pair("pagination", "keyset")
            .append_pair("order_by", "id")
            .append_pair("sort", "asc")
            .append_pair("per_page", PER_PAGE);
        url
    }

    /// `api_root` plus path segments, each percent-encoded as one segment.
    fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.api_root().clone();
        {
            // Invariant: an http(s) URL with a host can always have path segments.
            let mut path = url
                .path_segments_mut()
                .expect("the API root is an http(s) URL");
            path.pop_if_empty();
            for segment in segments {
                path.push(segment);
            }
        }
        url
    }

    /// The path below `/api/v4` (`/users/42/events`): what errors and logs name.
    fn endpoint_of(&self, url: &Url) -> String {
        let root = self.inner.base.api_root().path().trim_end_matches('/');
        let path = url.path();
        let below = path.strip_prefix(root).unwrap_or(path);
        if below.starts_with('/') {
            below.to_string()
        } else {
            format!("/{below}")
        }
    }

    /// A pagination link from GitLab (or a saved one), pinned to the configured instance: its path
    /// and query are kept, scheme/host/port are ours, so the token never goes anywhere else even
    /// if a proxy makes GitLab print another address.
    fn follow(&self, link: &str) -> Result<Url, String> {
        let parsed = Url::parse(link.trim())
            .map_err(|e| format!("the pagination link is not a URL ({e})"))?;
        let api_root = self.inner.base.api_root();
        if !parsed.path().starts_with(api_root.path()) {
            return Err(format!(
                "the pagination link leaves the GitLab API at {}",
                api_root.path()
            ));
        }
        let mut url = api_root.clone();
        url.set_path(parsed.path());
        url.set_query(parsed.query());
        Ok(url)
    }

    /// Every row of an offset listing, for the small listings read whole ([`Client::offset_pages`]).
    async fn all_rows<T>(&self, url: Url) -> Result<Vec<T>, GitLabError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut pages = std::pin::pin!(self.offset_pages::<T>(url));
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await {
            rows.extend(page?);
        }
        Ok(rows)
    }

    /// Offset pagination from page 1: the remaining pages concurrently when `X-Total-Pages` says
    /// how many there are, else one after the other following `Link`/`X-Next-Page`.
    fn offset_pages<T>(&self, base: Url) -> BoxStream<'_, Result<Vec<T>, GitLabError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let first_url = with_page(&base, 1);
        let concurrency = self.inner.opts.concurrency;
        let pages = stream::once(async move {
            let first = self.get_page::<T>(&first_url).await;
            (first, first_url)
        })
        .flat_map(move |(first, first_url)| match first {
            Err(e) => stream::iter([Err(e)]).boxed(),
            Ok((items, info)) => {
                let head = stream::iter([Ok(items)]);
                match info.total_pages {
                    Some(total) if total > 1 => {
                        let base = base.clone();
                        let rest = stream::iter(2..=total)
                            .map(move |page| {
                                let url = with_page(&base, page);
                                async move { self.get_page::<T>(&url).await.map(|(v, _)| v) }
                            })
                            .buffered(concurrency);
                        head.chain(rest).boxed()
                    }
                    Some(_) => head.boxed(),
                    None => {
                        let next = self.next_offset_url(&base, &first_url, &info);
                        head.chain(self.sequential_pages::<T>(base.clone(), next))
                            .boxed()
                    }
                }
            }
        });
        stop_after_error(pages).boxed()
    }

    /// Pages followed one by one (no totals: above 10,000 rows GitLab stops counting).
    fn sequential_pages<T>(
        &self,
        base: Url,
        next: Option<Result<Url, GitLabError>>,
    ) -> BoxStream<'_, Result<Vec<T>, GitLabError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        stream::unfold(next, move |next| {
            let base = base.clone();
            async move {
                let url = match next? {
                    Ok(url) => url,
                    Err(e) => return Some((Err(e), None)),
                };
                match self.get_page::<T>(&url).await {
                    Ok((items, info)) => {
                        let next = self.next_offset_url(&base, &url, &info);
                        Some((Ok(items), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
        .boxed()
    }

    fn next_offset_url(
        &self,
        base: &Url,
        current: &Url,
        info: &PageInfo,
    ) -> Option<Result<Url, GitLabError>> {
        let endpoint = self.endpoint_of(current);
        let next = if let Some(link) = &info.next_link {
            match self.follow(link) {
                Ok(url) => url,
                Err(reason) => {
                    return Some(Err(GitLabError::BadBody {
                        endpoint,
                        reason,
                        attempts: 1,
                    }));
                }
            }
        } else {
            with_page(base, info.next_page?)
        };
        if &next == current {
            return Some(Err(GitLabError::BadBody {
                endpoint,
                reason: "the next-page headers point back at the same page".into(),
                attempts: 1,
            }));
        }
        Some(Ok(next))
    }

    /// One logical GET whose body parses as `T`; the GraphQL reads ([`crate::graphql`]) use it too.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<T, GitLabError> {
        Ok(self.get(url).await?.value)
    }

    async fn get_page<T: DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<(Vec<T>, PageInfo), GitLabError> {
        let answer = self.get::<Vec<T>>(url).await?;
        Ok((answer.value, PageInfo::from_headers(&answer.headers)))
    }

    /// Waits for an in-flight slot of the pacer's window.
    async fn start_slot(&self) -> Slot<'_> {
        let inner = &self.inner;
        let queued = match self.priority {
            Some(priority) => Some(inner.queue.enter(priority).await),
            None => None,
        };
        loop {
            let freed = inner.slot_freed.notified();
            let mut freed = std::pin::pin!(freed);
            // registered before looking, so a slot freed in between still wakes this task
            freed.as_mut().enable();
            if lock(&inner.pacer).try_start() {
                return Slot {
                    client: self,
                    _queued: queued,
                };
            }
            freed.await;
        }
    }

    /// One logical GET: pacing, an in-flight slot, retries within the budget, classification
    /// and parsing of the body as `T` (a body that does not parse is retried too).
    async fn get<T: DeserializeOwned>(&self, url: &Url) -> Result<Answer<T>, GitLabError> {
        let endpoint = self.endpoint_of(url);
        let mut tries = Tries {
            started: Instant::now(),
            attempts: 0,
            body_failures: 0,
            waited: Duration::ZERO,
        };
        loop {
            let failure = match self.attempt::<T>(url, &endpoint, &mut tries).await? {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            let delay = self.retry_wait(failure, &endpoint, &tries)?;
            tokio::time::sleep(delay).await;
            tries.waited += delay;
        }
    }

    /// One attempt of a GET: waits for its pace and an in-flight slot, sends, and sorts the
    /// outcome into an answer, a failure worth retrying (`Ok(Err(_))`) or a final error.
    async fn attempt<T: DeserializeOwned>(
        &self,
        url: &Url,
        endpoint: &str,
        tries: &mut Tries,
    ) -> Result<Result<Answer<T>, Failure>, GitLabError> {
        let inner = &self.inner;
        let pace = lock(&inner.pacer).reserve(Instant::now(), unix_now());
        if tries.started.elapsed() + pace > inner.opts.max_retry_time {
            // A throttle this client was told of (a 429's `Retry-After` of up to an hour, or a
            // spent window) ends past the retry budget: every other request returns at once, as
            // the refused one did, instead of sleeping out the wait (issue 14's CI run sat out
            // an hour in `long_wait`).
            return Err(GitLabError::RetryLater {
                endpoint: endpoint.to_string(),
                wait: pace,
            });
        }
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
        let token = self.token_header(endpoint)?;
        let slot = self.start_slot().await;
        tries.attempts += 1;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let outcome = self.send_once(url, token).await;
        let latency = sent.elapsed();
        // The path and query only: the token travels in a header and never in the URL.
        tracing::trace!(
            url = %url.path(),
            query = url.query().unwrap_or(""),
            ms = latency.as_millis() as u64,
            "GET"
        );
        match outcome {
            Ok(reply) => {
                let rate_limit = self.observe_pacing(&reply, sent);
                drop(slot);
                self.answered(reply, rate_limit, latency, endpoint, tries)
            }
            Err(error) => {
                drop(slot);
                transport_failure(error, endpoint, tries.attempts).map(Err)
            }
        }
    }

    /// Feeds a response's rate-limit headers and status to the pacer; returns the rate limit.
    fn observe_pacing(&self, reply: &Reply, sent: Instant) -> Option<RateLimit> {
        let inner = &self.inner;
        let rate_limit = RateLimit::from_headers(&reply.headers);
        if let Some(rate_limit) = &rate_limit {
            lock(&inner.pacer).observe(rate_limit);
            *lock(&inner.last_rate_limit) = Some(rate_limit.clone());
        }
        if reply.status.as_u16() == 429 {
            lock(&inner.pacer).on_refused(sent, Instant::now());
        } else {
            lock(&inner.pacer).on_success();
        }
        rate_limit
    }

    /// Sorts a response: the parsed body, a failure worth retrying (throttled, a 5xx, a body
    /// that does not parse) or a final error (any other status).
    fn answered<T: DeserializeOwned>(
        &self,
        reply: Reply,
        rate_limit: Option<RateLimit>,
        latency: Duration,
        endpoint: &str,
        tries: &mut Tries,
    ) -> Result<Result<Answer<T>, Failure>, GitLabError> {
        let now = unix_now();
        let hinted = retry_after(&reply.headers, now);
        let attempts = tries.attempts;
        let failure = match reply.status.as_u16() {
            _ if reply.status.is_success() => return parsed(reply, latency, endpoint, tries),
            429 => {
                self.inner.responses_429.fetch_add(1, Ordering::Relaxed);
                let reset_at = rate_limit
                    .and_then(|r| r.reset_at)
                    .filter(|reset| *reset as f64 > now);
                Failure::RateLimited {
                    delay: retry_delay(attempts, hinted, reset_at, now, rand::random::<f64>()),
                    hinted: hinted.is_some() || reset_at.is_some(),
                }
            }
            code @ (500 | 502 | 503 | 504) => Failure::Server(
                code,
                retry_delay(attempts, hinted, None, now, rand::random::<f64>()),
            ),
            code => return Err(GitLabError::from_response(endpoint, code, &reply.body)),
        };
        Ok(Err(failure))
    }

    /// How long to wait after `failure` before the next attempt, or the error to return when
    /// the retry budget cannot cover that wait.
    fn retry_wait(
        &self,
        failure: Failure,
        endpoint: &str,
        tries: &Tries,
    ) -> Result<Duration, GitLabError> {
        let inner = &self.inner;
        let delay = failure.delay();
        if tries.started.elapsed() + delay > inner.opts.max_retry_time {
            tracing::warn!(endpoint = %endpoint, attempts = tries.attempts, "GitLab request failed, retry budget spent");
            if let Failure::RateLimited { hinted: true, .. } = failure {
                // GitLab said when: waiting past the budget would only lose the run
                lock(&inner.pacer).block_until(Instant::now() + delay);
                return Err(GitLabError::RetryLater {
                    endpoint: endpoint.to_string(),
                    wait: delay,
                });
            }
            return Err(failure.give_up(endpoint, tries.attempts, tries.waited));
        }
        if matches!(failure, Failure::RateLimited { .. }) {
            lock(&inner.pacer).block_until(Instant::now() + delay);
        }
        tracing::debug!(
            endpoint = %endpoint,
            attempts = tries.attempts,
            delay_ms = delay.as_millis() as u64,
            "GitLab request failed, retrying"
        );
        Ok(delay)
    }

    /// The only HTTP call site, and it is a GET.
    async fn send_once(&self, url: &Url, token: HeaderValue) -> Result<Reply, reqwest::Error> {
        let response = self
            .inner
            .http
            .get(url.clone())
            .header("PRIVATE-TOKEN", token)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(Reply {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    /// The token's text, only to scrub it out of messages a server sends back.
    pub(crate) fn token_text(&self) -> String {
        self.inner
            .token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expose()
            .to_string()
    }

    fn token_header(&self, endpoint: &str) -> Result<HeaderValue, GitLabError> {
        let token = self
            .inner
            .token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if token.is_empty() {
            return Err(GitLabError::Unauthorized {
                endpoint: endpoint.to_string(),
            });
        }
        let mut value = HeaderValue::from_str(token.expose()).map_err(|_| GitLabError::Config {
            reason: "the token contains characters that cannot be sent in an HTTP header (a line break or control character inside it): check the stored secret".into(),
        })?;
        // keeps the value out of hyper's and reqwest's Debug output
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Where [`Client::users_from`] continues.
enum UsersCursor {
    First,
    Keyset { url: Url, last_id: Option<u64> },
    Offset { end: u64, last_id: Option<u64> },
}

/// Both verified listings rely on ascending ids; a GitLab that ignored the order asked for
/// would make "every id up to the last one was listed" false, so it is refused, loudly.
fn check_ascending<T: Listed>(endpoint: &str, rows: &[T]) -> Result<(), GitLabError> {
    if rows.windows(2).all(|w| w[0].listed_id() < w[1].listed_id()) {
        Ok(())
    } else {
        Err(GitLabError::BadBody {
            endpoint: endpoint.to_string(),
            reason: "the rows did not come back in ascending id order, so the listing cannot be shown complete".into(),
            attempts: 1,
        })
    }
}

fn link_has_param(link: &str, name: &str) -> bool {
    Url::parse(link.trim()).is_ok_and(|url| url.query_pairs().any(|(k, _)| k == name))
}

fn with_page_size(base: &Url, page: u64, per_page: u64) -> Url {
    with_query(
        base,
        &[
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ],
    )
}

/// `base` with each of `set`'s parameters replaced (appended after the ones it keeps).
fn with_query(base: &Url, set: &[(&str, String)]) -> Url {
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(k, _)| set.iter().all(|(name, _)| k != name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut url = base.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(set.iter().map(|(k, v)| (*k, v.as_str())));
    url
}

/// An in-flight slot of the pacer's window, given back when dropped (also when the request's
/// future is dropped mid-flight).
struct Slot<'a> {
    client: &'a Client,
    /// Given back after [`Slot`]'s drop has freed the pacer's slot.
    _queued: Option<queue::Place<'a>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        lock(&self.client.inner.pacer).finish();
        self.client.inner.slot_freed.notify_waiters();
    }
}

fn with_page(base: &Url, page: u32) -> Url {
    with_query(base, &[("page", page.to_string())])
}

/// A 2xx response's body parsed as `T`; one that does not parse is a failure retried until
/// [`MAX_BODY_ATTEMPTS`].
fn parsed<T: DeserializeOwned>(
    reply: Reply,
    latency: Duration,
    endpoint: &str,
    tries: &mut Tries,
) -> Result<Result<Answer<T>, Failure>, GitLabError> {
    match parse_body::<T>(&reply.body) {
        Ok(value) => Ok(Ok(Answer {
            value,
            headers: reply.headers,
            latency,
        })),
        Err(reason) => {
            tries.body_failures += 1;
            if tries.body_failures >= MAX_BODY_ATTEMPTS {
                return Err(GitLabError::BadBody {
                    endpoint: endpoint.to_string(),
                    reason,
                    attempts: tries.attempts,
                });
            }
            let delay = retry_delay(tries.body_failures, None, None, 0.0, rand::random::<f64>());
            Ok(Err(Failure::BadBody(reason, delay)))
        }
    }
}

/// A request that got no response: a TLS failure is final (retrying cannot fix a certificate),
/// a timeout or a lost connection is retried.
fn transport_failure(
    error: reqwest::Error,
    endpoint: &str,
    attempts: u32,
) -> Result<Failure, GitLabError> {
    let backoff = retry_delay(attempts, None, None, 0.0, rand::random::<f64>());
    let timed_out = error.is_timeout();
    let reason = error_chain(error.without_url());
    if is_tls_failure(&reason) {
        return Err(GitLabError::Tls {
            endpoint: endpoint.to_string(),
            reason,
        });
    }
    Ok(if timed_out || reason.contains("timed out") {
        Failure::Timeout(backoff)
    } else {
        Failure::Connection(reason, backoff)
    })
}

/// The body as `T`, or why not (with its start, for a human to recognise a proxy page).
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(&body[..body.len().min(60)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{e} (body starts with `{start}`, {} bytes)", body.len())
    })
}

/// Ends a stream after its first error, so callers never see pages after a gap.
fn stop_after_error<'a, T: Send + 'a>(
    pages: impl Stream<Item = Result<T, GitLabError>> + Send + 'a,
) -> impl Stream<Item = Result<T, GitLabError>> + Send + 'a {
    pages.scan(false, |failed, item| {
        let out = if *failed {
            None
        } else {
            *failed = item.is_err();
            Some(item)
        };
        std::future::ready(out)
    })
}

fn is_tls_failure(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("notvalidforname")
}

/// A reqwest error with its causes ("error sending request: connection refused"), URL-free.
fn error_chain(error: reqwest::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
