//! The simulated GitLab and the real client pointed at it: the set-up every GitLab-facing test
//! starts with, and plain GETs of it for the tests of the wire itself. The simulator binds
//! 127.0.0.1 on a free port and stops when its handle drops.

use std::time::Duration;

use chrono::NaiveDate;
use reqwest::header::HeaderMap;
use seatwatch_gitlab::{BaseUrl, Client, ClientOptions, Token};
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, RetryAfterMode, SimConfig, SimHandle};
use serde_json::Value;

/// Starts the simulator with this configuration.
pub async fn start(cfg: SimConfig) -> SimHandle {
    SimHandle::start(cfg).await.expect("simulator starts")
}

/// A simulator of `users` users whose clock stands on `as_of`.
pub fn config_on(flavour: Flavour, users: u32, as_of: NaiveDate) -> SimConfig {
    let mut cfg = SimConfig::new(flavour, users);
    cfg.as_of = as_of;
    cfg
}

/// Starts a simulator of `users` users whose clock stands on `as_of`.
pub async fn start_on(flavour: Flavour, users: u32, as_of: NaiveDate) -> SimHandle {
    start(config_on(flavour, users, as_of)).await
}

/// The fault of `times` answers of `status` in a row, after which the simulator answers again.
pub fn status_burst(status: u16, times: u32) -> Faults {
    Faults {
        status_burst: Some((status, times)),
        ..Faults::default()
    }
}

/// The fault of `times` 429s in a row, whose headers say when to retry as `retry_after` does.
pub fn throttled(times: u32, retry_after: RetryAfterMode) -> Faults {
    Faults {
        retry_after,
        ..status_burst(429, times)
    }
}

/// The fault of `times` answers slower than `delay`.
pub fn slow_answers(delay: Duration, times: u32) -> Faults {
    Faults {
        slow: Some((delay, times)),
        ..Faults::default()
    }
}

/// The fault of `times` connections dropped without an answer.
pub fn dropped_connections(times: u32) -> Faults {
    Faults {
        drop_connections: times,
        ..Faults::default()
    }
}

/// The fault of `times` answers whose body is not JSON.
pub fn malformed_json(times: u32) -> Faults {
    Faults {
        malformed_json: times,
        ..Faults::default()
    }
}

/// The fault of `times` answers whose body is cut short.
pub fn truncated_body(times: u32) -> Faults {
    Faults {
        truncated_body: times,
        ..Faults::default()
    }
}

/// Client options with short budgets, so that a test waiting on a fault fails in seconds rather
/// than in the production budget's minutes.
pub fn quick_options() -> ClientOptions {
    ClientOptions {
        concurrency: 4,
        request_timeout: Duration::from_secs(5),
        max_retry_time: Duration::from_secs(30),
        user_agent: "seatwatch-test".into(),
    }
}

/// The real client for this simulator (plain loopback http allowed) with `token`.
pub fn client_with(sim: &SimHandle, token: &str, opts: ClientOptions) -> Client {
    let base = BaseUrl::parse(&sim.base_url(), false).expect("loopback http is allowed");
    Client::new(base, Token::new(token), opts).expect("client")
}

/// The real client for this simulator with `token` and the production defaults.
pub fn client(sim: &SimHandle, token: &str) -> Client {
    client_with(sim, token, ClientOptions::default())
}

/// An answer read by plain HTTP, as GitLab sent it: for the tests of the wire itself (status,
/// headers, links, the body's text) rather than of what the client makes of it.
pub struct RawAnswer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl RawAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// The URL of a `Link` relation, if present.
    pub fn link(&self, rel: &str) -> Option<String> {
        let wanted = format!("rel=\"{rel}\"");
        self.header("link")?.split(", ").find_map(|part| {
            let (url, relation) = part.split_once("; ")?;
            (relation == wanted).then(|| url.trim_matches(['<', '>']).to_string())
        })
    }
}

/// A plain GET of `url` with `token` (if any) in `PRIVATE-TOKEN`; an error only where no answer
/// came at all.
pub async fn try_get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> reqwest::Result<RawAnswer> {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.header("PRIVATE-TOKEN", token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await?;
    Ok(RawAnswer {
        status,
        headers,
        body,
    })
}

/// [`try_get`] with a fresh HTTP client, which must get an answer.
pub async fn get_url(url: &str, token: Option<&str>) -> RawAnswer {
    try_get(&reqwest::Client::new(), url, token)
        .await
        .expect("request completes")
}

/// A plain GET of the simulator's `/api/v4{path}` with `token`.
pub async fn get(sim: &SimHandle, path: &str, token: &str) -> RawAnswer {
    get_url(&format!("{}/api/v4{path}", sim.base_url()), Some(token)).await
}
