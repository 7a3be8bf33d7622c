//! What GitLab's response headers say about paging and rate limits, and how long to wait.
//!
//! Everything here is pure (time is passed in) so that the choices can be tested exactly:
//! the `Link` header, the `X-*-Page` headers, the `RateLimit-*` headers, the delay before a retry,
//! and the pacing: an AIMD window on the requests in flight that needs no header at all (GitLab
//! sends `RateLimit-*` only on the 429 by default), a gap between starts learnt from the 429s,
//! and, where GitLab reports its window on every response, the requests left spread over the
//! time left in it.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// The `RateLimit-*` headers of one response (all optional: GitLab omits them on unthrottled
/// paths and, on some versions, on unthrottled responses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLimit {
    /// Requests allowed per minute (GitLab normalises the period to a minute).
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix time at which the current window ends.
    pub reset_at: Option<i64>,
    /// Requests counted in the current window.
    pub observed: Option<u64>,
    /// Which throttle answered, e.g. `throttle_authenticated_api`.
    pub name: Option<String>,
}

impl RateLimit {
    /// Reads the headers; `None` when none of them is present.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let rate_limit = RateLimit {
            limit: header_number(headers, "ratelimit-limit"),
            remaining: header_number(headers, "ratelimit-remaining"),
            reset_at: header_str(headers, "ratelimit-reset").and_then(|v| v.parse::<i64>().ok()),
            observed: header_number(headers, "ratelimit-observed"),
            name: header_str(headers, "ratelimit-name").map(str::to_string),
        };
        if rate_limit == RateLimit::default() {
            None
        } else {
            Some(rate_limit)
        }
    }
}

/// Offset-pagination facts of one page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageInfo {
    /// `Link: <...>; rel="next"`.
    pub next_link: Option<String>,
    /// `X-Next-Page` (empty on the last page).
    pub next_page: Option<u32>,
    /// `X-Total-Pages`, omitted above 10,000 rows.
    pub total_pages: Option<u32>,
    /// `X-Total`, omitted above 10,000 rows.
    pub total: Option<u64>,
}

impl PageInfo {
    pub fn from_headers(headers: &HeaderMap) -> PageInfo {
        let next_link = headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_link)
            .find(|(rel, _)| rel == "next")
            .map(|(_, url)| url);
        PageInfo {
            next_link,
            next_page: header_number(headers, "x-next-page").and_then(|n| u32::try_from(n).ok()),
            total_pages: header_number(headers, "x-total-pages")
                .and_then(|n| u32::try_from(n).ok()),
            total: header_number(headers, "x-total"),
        }
    }
}

/// Parses an RFC 8288 `Link` header into `(rel, url)` pairs. A link with several rels
/// (`rel="next last"`) yields one pair per rel. Malformed parts are skipped, never fatal.
pub fn parse_link(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find('>') else {
            break;
        };
        let url = after_open[..close].trim().to_string();
        let after_url = &after_open[close + 1..];
        // the parameters run to the next link (a comma followed by `<`), or to the end
        let params_end = next_link_start(after_url);
        let params = &after_url[..params_end];
        for param in params.split(';') {
            let Some((key, val)) = param.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("rel") {
                continue;
            }
            let val = val.trim().trim_matches('"');
            for rel in val.split_whitespace() {
                out.push((rel.to_ascii_lowercase(), url.clone()));
            }
        }
        rest = &after_url[params_end..];
    }
    out
}

/// Where the next `<` link target starts in `s`, after a comma; `s.len()` when none.
fn next_link_start(s: &str) -> usize {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes && s[i + 1..].trim_start().starts_with('<') => return i,
            _ => {}
        }
    }
    s.len()
}

/// `Retry-After`, as seconds or as an HTTP date; `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap, now_unix: f64) -> Option<Duration> {
    let value = header_str(headers, "retry-after")?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = date.timestamp() as f64 - now_unix;
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// Longest wait between two retries when GitLab gives no hint.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Spread added to server-given waits so that concurrent requests do not all return at once.
const HINT_JITTER: Duration = Duration::from_millis(250);

/// How long to wait before retry number `attempt` (1 for the first retry).
///
/// `Retry-After` wins; else the rate-limit window's end (`RateLimit-Reset`, Unix time) if it is in
/// the future; else exponential backoff from 0.5 s, capped at [`BACKOFF_CAP`], with "equal
/// jitter" (half fixed, half random). `jitter` is a random number in [0, 1).
pub fn retry_delay(
    attempt: u32,
    retry_after: Option<Duration>,
    reset_at: Option<i64>,
    now_unix: f64,
    jitter: f64,
) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if let Some(wait) = retry_after {
        return wait + HINT_JITTER.mul_f64(jitter);
    }
    if let Some(reset) = reset_at {
        let secs = reset as f64 - now_unix;
        if secs > 0.0 {
            return Duration::from_secs_f64(secs) + HINT_JITTER.mul_f64(jitter);
        }
    }
    let exponent = attempt.saturating_sub(1).min(16);
    let full = BACKOFF_BASE
        .saturating_mul(1u32 << exponent)
        .min(BACKOFF_CAP);
    full.mul_f64(0.5 + 0.5 * jitter)
}

/// Gap between request starts after the first 429 when GitLab gave no limit to pace by.
const FIRST_GAP: Duration = Duration::from_millis(50);
/// The gap never grows beyond this: GitLab's own waits (`Retry-After`) cover longer pauses.
const MAX_GAP: Duration = Duration::from_secs(10);
/// How much of the gap each success without a known limit takes away (multiplicative).
const GAP_DECAY: f64 = 0.97;

/// Shared pacing state, one per client behind a mutex. Three mechanisms, each for what GitLab may
/// or may not tell:
///
/// - **Concurrency (AIMD).** `window` is how many requests may be in flight, between 1 and the
///   configured concurrency. Every 429 halves it (once per flight: refusals of requests sent
///   before the last cut do not cut again); every success adds `1/window`, i.e. one slot per
///   window's worth of successes, so concurrency comes back when the 429s stop. This needs no
///   header at all, which is GitLab's default: `RateLimit-*` only on the 429
///   (`lib/gitlab/rack_attack.rb`).
/// - **Rate.** When one request at a time is still refused, requests are also spaced by `gap`.
///   With a `RateLimit-Limit` seen (requests per 60 s, normalised by GitLab whatever the real
///   period), the gap is at least `60 s / limit` (plus 2 %): the sustained rate the throttle
///   allows. Without
///   one, it doubles on each refusal from [`FIRST_GAP`] and decays on success.
/// - **Windows.** When responses carry `RateLimit-Remaining`/`-Reset` (the 18.6 flag for headers
///   on every response), the requests left are spread over the time left once few remain, and a
///   429's `Retry-After` holds everybody until it is over.
#[derive(Debug)]
pub(crate) struct Pacer {
    max_in_flight: usize,
    window: f64,
    in_flight: usize,
    /// When the window was last cut; a 429 for a request sent before then was already counted.
    last_cut: Option<Instant>,
    gap: Duration,
    /// Requests per 60 s from `RateLimit-Limit`, the floor of the pace once a 429 was seen.
    limit: Option<u64>,
    /// The gap derived from `limit`, in force after the first 429.
    limit_gap: Option<Duration>,
    last_start: Option<Instant>,
    /// Requests left in the window, counted down locally as requests go out, because responses
    /// lag behind the requests in flight.
    remaining: Option<u64>,
    reset_at: Option<i64>,
    next_slot: Option<Instant>,
    /// Set after a 429, so that every task waits, not only the one that was refused.
    blocked_until: Option<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(8)
    }
}

impl Pacer {
    pub(crate) fn new(max_in_flight: usize) -> Pacer {
        let max_in_flight = max_in_flight.max(1);
        Pacer {
            max_in_flight,
            window: max_in_flight as f64,
            in_flight: 0,
            last_cut: None,
            gap: Duration::ZERO,
            limit: None,
            limit_gap: None,
            last_start: None,
            remaining: None,
            reset_at: None,
            next_slot: None,
            blocked_until: None,
        }
    }

    /// Requests allowed in flight now (the AIMD window, rounded down, at least 1).
    pub(crate) fn allowed_in_flight(&self) -> usize {
        (self.window.floor() as usize).clamp(1, self.max_in_flight)
    }

    /// The current gap between request starts (zero while concurrency alone is enough).
    pub(crate) fn gap(&self) -> Duration {
        self.gap.max(self.limit_gap.unwrap_or(Duration::ZERO))
    }

    /// Takes an in-flight slot if the window has one free.
    pub(crate) fn try_start(&mut self) -> bool {
        if self.in_flight < self.allowed_in_flight() {
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    /// Gives back a slot taken by [`Pacer::try_start`].
    pub(crate) fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A request was answered (any status but 429): additive increase.
    pub(crate) fn on_success(&mut self) {
        if !self.gap.is_zero() {
            self.gap = self.gap.mul_f64(GAP_DECAY);
            if self.gap < Duration::from_millis(1) {
                self.gap = Duration::ZERO;
            }
        } else if self.window < self.max_in_flight as f64 {
            self.window = (self.window + 1.0 / self.window).min(self.max_in_flight as f64);
        }
    }

    /// A request sent at `sent` was refused with a 429 at `now`: multiplicative decrease, once per
    /// flight of requests.
    pub(crate) fn on_refused(&mut self, sent: Instant, now: Instant) {
        if let Some(limit) = self.limit.filter(|l| *l > 0) {
            self.limit_gap = Some(limit_gap(limit));
        }
        if self.last_cut.is_some_and(|cut| sent < cut) {
            return;
        }
        self.last_cut = Some(now);
        if self.window >= 2.0 {
            self.window = (self.window / 2.0).max(1.0);
        } else {
            self.window = 1.0;
            self.gap = if self.gap.is_zero() {
                FIRST_GAP
            } else {
                self.gap.saturating_mul(2).min(MAX_GAP)
            };
        }
    }

    /// Takes in a response's rate-limit headers.
    pub(crate) fn observe(&mut self, rate_limit: &RateLimit) {
        if rate_limit.limit.is_some() {
            self.limit = rate_limit.limit;
            if self.limit_gap.is_some()
                && let Some(limit) = self.limit.filter(|l| *l > 0)
            {
                self.limit_gap = Some(limit_gap(limit));
            }
        }
        let (Some(remaining), Some(reset)) = (rate_limit.remaining, rate_limit.reset_at) else {
            return;
        };
        match self.reset_at {
            // a late answer from a window that is already over says nothing about this one
            Some(current) if reset < current => {}
            Some(current) if reset == current => {
                self.remaining = Some(self.remaining.map_or(remaining, |r| r.min(remaining)));
            }
            _ => {
                self.reset_at = Some(reset);
                self.remaining = Some(remaining);
                self.next_slot = None;
            }
        }
    }

    /// After a 429: nobody sends before `until`.
    pub(crate) fn block_until(&mut self, until: Instant) {
        if self.blocked_until.is_none_or(|b| b < until) {
            self.blocked_until = Some(until);
        }
    }

    /// Reserves the next request's start; returns how long the caller must wait before sending.
    ///
    /// Nothing is delayed while GitLab has not refused anything and plenty of requests are left
    /// in the window. After a 429 everyone waits for its end, and starts are spaced by the gap.
    /// Once few requests are left in a window GitLab reported (a fifth of the limit, or four per
    /// concurrent request), the rest are spread evenly over the time left; with none left,
    /// requests wait for the window to end. `RateLimit-Remaining` counts the throttle's real
    /// period and `RateLimit-Reset` is that period's end, so this holds for hourly throttles too.
    pub(crate) fn reserve(&mut self, now: Instant, now_unix: f64) -> Duration {
        let mut start = now;
        if let Some(blocked) = self.blocked_until {
            if blocked > start {
                start = blocked;
            } else {
                self.blocked_until = None;
            }
        }
        if let (Some(remaining), Some(reset)) = (self.remaining, self.reset_at) {
            let secs_left = reset as f64 - now_unix;
            if secs_left <= 0.0 {
                self.remaining = None;
                self.reset_at = None;
                self.next_slot = None;
            } else if remaining == 0 {
                // the window starts anew at `reset`; a little margin for clock skew
                let until_reset = now + Duration::from_secs_f64(secs_left + 0.05);
                start = start.max(until_reset);
                self.next_slot = Some(start);
            } else {
                let low_water = (self.limit.unwrap_or(0) / 5).max(4 * self.max_in_flight as u64);
                if remaining <= low_water {
                    let interval = Duration::from_secs_f64(secs_left / (remaining as f64 + 1.0));
                    let slot = start.max(self.next_slot.unwrap_or(start));
                    self.next_slot = Some(slot + interval);
                    start = slot;
                }
                self.remaining = Some(remaining - 1);
            }
        }
        let gap = self.gap();
        if !gap.is_zero()
            && let Some(last) = self.last_start
        {
            start = start.max(last + gap);
        }
        self.last_start = Some(start);
        start.saturating_duration_since(now)
    }
}

/// The gap between starts that keeps to `limit` requests a minute, with 2 % to spare so that
/// clock skew and a period boundary do not tip a period over the limit.
fn limit_gap(limit: u64) -> Duration {
    Duration::from_secs_f64(60.0 / limit as f64 * 1.02)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name).and_then(|v| v.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        map
    }

    #[test]
    fn link_with_several_rels_in_gitlab_order() {
        let links = parse_link(
            r#"<https://g.example/api/v4/x?page=1&per_page=3>; rel="prev", <https://g.example/api/v4/x?page=3&per_page=3>; rel="next", <https://g.example/api/v4/x?page=1&per_page=3>; rel="first", <https://g.example/api/v4/x?page=3&per_page=3>; rel="last""#,
        );
        let rels: Vec<&str> = links.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(rels, ["prev", "next", "first", "last"]);
        assert_eq!(links[1].1, "https://g.example/api/v4/x?page=3&per_page=3");
    }

    #[test]
    fn link_unquoted_odd_spacing_and_case() {
        let links = parse_link(
            "  < https://g.example/a?id_after=5 >;REL=next ;  type=\"text/html\" ,<https://g.example/b>;rel=first",
        );
        assert_eq!(
            links,
            vec![
                (
                    "next".to_string(),
                    "https://g.example/a?id_after=5".to_string()
                ),
                ("first".to_string(), "https://g.example/b".to_string()),
            ]
        );
    }

    #[test]
    fn link_with_multiple_rels_in_one_value_and_commas_in_params() {
        let links = parse_link(r#"<https://g.example/a>; title="a, b"; rel="next last""#);
        assert_eq!(
            links,
            vec![
                ("next".to_string(), "https://g.example/a".to_string()),
                ("last".to_string(), "https://g.example/a".to_string()),
            ]
        );
    }

    #[test]
    fn link_garbage_is_skipped() {
        assert!(parse_link("").is_empty());
        assert!(parse_link("no links here").is_empty());
        assert!(parse_link("<https://unterminated; rel=next").is_empty());
        assert!(parse_link("<https://g.example/a>").is_empty());
    }

    #[test]
    fn page_info_reads_next_link_and_totals() {
        let info = PageInfo::from_headers(&headers(&[
            (
                "link",
                r#"<https://g.example/api/v4/u?page=3>; rel="next", <https://g.example/api/v4/u?page=1>; rel="first""#,
            ),
            ("x-next-page", "3"),
            ("x-total-pages", "3"),
            ("x-total", "8"),
        ]));
        assert_eq!(
            info.next_link.as_deref(),
            Some("https://g.example/api/v4/u?page=3")
        );
        assert_eq!(info.next_page, Some(3));
        assert_eq!(info.total_pages, Some(3));
        assert_eq!(info.total, Some(8));
        // the last page: X-Next-Page is present but empty
        let last = PageInfo::from_headers(&headers(&[("x-next-page", "")]));
        assert_eq!(last, PageInfo::default());
    }

    #[test]
    fn rate_limit_headers_are_read() {
        let rl = RateLimit::from_headers(&headers(&[
            ("RateLimit-Limit", "60"),
            ("RateLimit-Name", "throttle_authenticated_api"),
            ("RateLimit-Observed", "67"),
            ("RateLimit-Remaining", "33"),
            ("RateLimit-Reset", "1609844400"),
        ]))
        .expect("present");
        assert_eq!(rl.limit, Some(60));
        assert_eq!(rl.remaining, Some(33));
        assert_eq!(rl.reset_at, Some(1_609_844_400));
        assert_eq!(rl.observed, Some(67));
        assert_eq!(rl.name.as_deref(), Some("throttle_authenticated_api"));
        assert_eq!(RateLimit::from_headers(&headers(&[("x-total", "3")])), None);
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = 1_609_844_370.0; // 30 s before 11:00:00 GMT
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30")]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Tue, 05 Jan 2021 11:00:00 GMT")]),
                now
            ),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn retry_after_wins_over_reset_and_backoff() {
        let d = retry_delay(
            5,
            Some(Duration::from_secs(7)),
            Some(1_000_100),
            1_000_000.0,
            0.0,
        );
        assert_eq!(d, Duration::from_secs(7));
        let jittered = retry_delay(1, Some(Duration::from_secs(7)), None, 0.0, 0.99);
        assert!(jittered > Duration::from_secs(7) && jittered < Duration::from_millis(7_250));
    }

    #[test]
    fn reset_is_used_without_retry_after() {
        let d = retry_delay(1, None, Some(1_000_012), 1_000_000.0, 0.0);
        assert_eq!(d, Duration::from_secs(12));
        // a reset already in the past falls back to backoff
        let past = retry_delay(1, None, Some(999_000), 1_000_000.0, 0.0);
        assert_eq!(past, Duration::from_millis(250));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let at = |attempt| retry_delay(attempt, None, None, 0.0, 1.0);
        assert_eq!(at(1), Duration::from_millis(500));
        assert_eq!(at(2), Duration::from_millis(1000));
        assert_eq!(at(3), Duration::from_millis(2000));
        assert_eq!(at(7), BACKOFF_CAP);
        assert_eq!(at(60), BACKOFF_CAP);
        // jitter keeps at least half
        assert_eq!(
            retry_delay(3, None, None, 0.0, 0.0),
            Duration::from_millis(1000)
        );
    }

    fn window(limit: u64, remaining: u64, reset_at: i64) -> RateLimit {
        RateLimit {
            limit: Some(limit),
            remaining: Some(remaining),
            reset_at: Some(reset_at),
            observed: None,
            name: None,
        }
    }

    #[test]
    fn pacer_does_not_delay_with_plenty_left() {
        let mut pacer = Pacer::default();
        pacer.observe(&window(2000, 1500, 1_060));
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(pacer.reserve(now, 1_000.0), Duration::ZERO);
        }
    }

    #[test]
    fn pacer_spreads_the_last_requests_over_the_window() {
        let mut pacer = Pacer::default();
        // 59 requests left, 60 s left: one a second
        pacer.observe(&window(2000, 59, 1_060));
        let now = Instant::now();
        let waits: Vec<Duration> = (0..4).map(|_| pacer.reserve(now, 1_000.0)).collect();
        assert_eq!(waits[0], Duration::ZERO);
        assert!(
            waits[1] >= Duration::from_millis(990) && waits[1] <= Duration::from_millis(1010),
            "{waits:?}"
        );
        assert!(waits[3] > waits[2] && waits[2] > waits[1], "{waits:?}");
    }

    #[test]
    fn pacer_waits_for_the_window_when_nothing_is_left() {
        let mut pacer = Pacer::default();
        pacer.observe(&window(2000, 0, 1_030));
        let now = Instant::now();
        let wait = pacer.reserve(now, 1_000.0);
        assert!(
            wait >= Duration::from_secs(30) && wait < Duration::from_secs(31),
            "{wait:?}"
        );
        // once the window is over, no pacing
        assert_eq!(pacer.reserve(now, 1_031.0), Duration::ZERO);
    }

    #[test]
    fn pacer_keeps_the_lower_count_within_a_window_and_ignores_old_windows() {
        let mut pacer = Pacer::new(1);
        pacer.observe(&window(100, 10, 1_060));
        pacer.observe(&window(100, 50, 1_060)); // a response that left earlier
        pacer.observe(&window(100, 90, 1_000)); // from the previous window
        let now = Instant::now();
        assert_eq!(pacer.reserve(now, 1_000.0), Duration::ZERO);
        assert!(
            pacer.reserve(now, 1_000.0) > Duration::ZERO,
            "10 left of 100 must pace"
        );
    }

    #[test]
    fn pacer_holds_everyone_after_a_429() {
        let mut pacer = Pacer::default();
        let now = Instant::now();
        pacer.block_until(now + Duration::from_secs(3));
        assert_eq!(pacer.reserve(now, 0.0), Duration::from_secs(3));
        assert_eq!(
            pacer.reserve(now + Duration::from_secs(4), 0.0),
            Duration::ZERO
        );
    }

    #[test]
    fn aimd_halves_concurrency_on_a_429_without_any_header_and_recovers() {
        let mut pacer = Pacer::new(8);
        let t0 = Instant::now();
        assert_eq!(pacer.allowed_in_flight(), 8);
        // eight requests of one flight are all refused: one cut, not eight
        for _ in 0..8 {
            pacer.on_refused(t0, t0 + Duration::from_millis(10));
        }
        assert_eq!(pacer.allowed_in_flight(), 4);
        // a request sent after the cut and refused cuts again
        pacer.on_refused(
            t0 + Duration::from_millis(20),
            t0 + Duration::from_millis(30),
        );
        assert_eq!(pacer.allowed_in_flight(), 2);
        // successes bring the window back, one slot per window's worth
        let mut successes = 0;
        while pacer.allowed_in_flight() < 8 {
            pacer.on_success();
            successes += 1;
            assert!(successes < 100, "never recovered");
        }
        assert!(successes > 6, "additive, not instant: {successes}");
    }

    #[test]
    fn aimd_gate_holds_requests_beyond_the_window() {
        let mut pacer = Pacer::new(2);
        assert!(pacer.try_start());
        assert!(pacer.try_start());
        assert!(!pacer.try_start(), "the third waits");
        pacer.finish();
        assert!(pacer.try_start());
        let t0 = Instant::now();
        pacer.on_refused(t0, t0);
        pacer.finish();
        assert!(!pacer.try_start(), "window 1, one still in flight");
        pacer.finish();
        assert!(pacer.try_start());
    }

    #[test]
    fn one_at_a_time_still_refused_spaces_the_starts() {
        let mut pacer = Pacer::new(1);
        let t0 = Instant::now();
        pacer.on_refused(t0, t0);
        assert_eq!(pacer.gap(), FIRST_GAP);
        let later = t0 + Duration::from_secs(1);
        pacer.on_refused(later, later);
        assert_eq!(pacer.gap(), FIRST_GAP * 2);
        assert_eq!(pacer.reserve(later, 0.0), Duration::ZERO);
        assert_eq!(pacer.reserve(later, 0.0), FIRST_GAP * 2);
        for _ in 0..500 {
            pacer.on_success();
        }
        assert_eq!(pacer.gap(), Duration::ZERO, "the gap decays once 429s stop");
    }

    #[test]
    fn a_limit_seen_on_the_429_paces_at_the_throttle_rate() {
        // 7,200 per 3,600 s is sent as RateLimit-Limit 120 (per minute): one request per 0.5 s
        let mut pacer = Pacer::new(8);
        let t0 = Instant::now();
        pacer.observe(&RateLimit {
            limit: Some(120),
            remaining: Some(0),
            reset_at: Some(3_600),
            observed: Some(7_201),
            name: None,
        });
        assert_eq!(pacer.gap(), Duration::ZERO, "no pacing before a refusal");
        pacer.on_refused(t0, t0);
        let half_a_second = |gap: Duration| {
            // 0.5 s and 2 % to spare
            (Duration::from_millis(509)..=Duration::from_millis(511)).contains(&gap)
        };
        assert!(half_a_second(pacer.gap()), "{:?}", pacer.gap());
        for _ in 0..1_000 {
            pacer.on_success();
        }
        assert!(
            half_a_second(pacer.gap()),
            "GitLab's stated rate stays: {:?}",
            pacer.gap()
        );
    }
}
