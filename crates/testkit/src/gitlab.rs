//! The simulated GitLab and the real client pointed at it: the set-up every GitLab-facing test
//! starts with. The simulator binds 127.0.0.1 on a free port and stops when its handle drops.

use std::time::Duration;

use chrono::NaiveDate;
use seatwatch_core::snapshot::Flavour;
use seatwatch_gitlab::{BaseUrl, Client, ClientOptions, Token};
use seatwatch_sim::{SimConfig, SimHandle};

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
