//! `seatwatch demo`: the whole product on a simulated GitLab, in one command, with no AWS.
//!
//! Starts the simulator in-process on a free loopback port, walks its "as of" date forward one
//! day at a time collecting each day into a fresh SQLite file, then renders the site into a
//! folder. Everything goes through the same HTTP client, store and renderer as a real run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{Days, NaiveDate, NaiveTime};

use seatwatch::app::ReportSummary;
use seatwatch::collect::{self, CollectOptions};
use seatwatch::config::Config;
use seatwatch::publish::Destination;
use seatwatch::store::{SqliteStore, StoreProvisioner};
use seatwatch_gitlab::{BaseUrl, Client, Token};
use seatwatch_sim::Flavour;
use seatwatch_sim::{SimConfig, SimHandle, tokens};

/// Duo seat prices per month the demo uses when `SEATWATCH_DUO_PRICES` is not set.
const DEMO_DUO_PRICES: [(&str, f64); 2] = [("CODE_SUGGESTIONS", 19.0), ("DUO_ENTERPRISE", 39.0)];

/// What the demo builds and where.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub users: u32,
    pub days: u32,
    pub out: PathBuf,
    /// The last simulated day.
    pub today: NaiveDate,
    /// The settings' policy (inactive days, exemptions, price), retention and concurrency
    /// apply to the demo too.
    pub config: Config,
}

/// Runs the demo; returns the text to show the user.
pub async fn run(opts: DemoOptions) -> anyhow::Result<String> {
    let started = Instant::now();
    let days = opts.days.max(1);
    let db = fresh_database(&opts.out)?;
    let first = opts.today - Days::new(u64::from(days - 1));

    // The population is drawn as of the last day, so walking forward from `first` replays its
    // growth: users hired since then are simply not listed yet on earlier days.
    let mut cfg = SimConfig::new(Flavour::SelfManaged, opts.users);
    cfg.as_of = opts.today;
    let sim = SimHandle::start(cfg)
        .await
        .context("cannot start the simulated GitLab")?;
    let base = BaseUrl::parse(&sim.base_url(), false)?;
    let client = Client::new(
        base,
        Token::new(tokens::ADMIN),
        opts.config.client_options(),
    )?;
    let store = SqliteStore::open(&db, opts.config.retention_days)?;
    store.ensure_ready().await?;

    eprintln!(
        "demo: simulating {} users over {days} days ({first} to {})",
        opts.users, opts.today
    );
    collect_days(&sim, &client, &store, first, opts.today, &opts.config).await?;

    let site_dir = opts.out.join("site");
    let summary = render_site(&client, &store, &opts, &site_dir).await?;
    let requests = client.requests_made();
    sim.shutdown().await;

    let index = std::fs::canonicalize(site_dir.join("index.html"))
        .unwrap_or_else(|_| site_dir.join("index.html"));
    Ok(format!(
        "demo: {days} days, {} members, {} reclaimable seats, {requests} GitLab requests, {:.1} s\n\
         open file://{}",
        summary.members,
        summary.reclaimable,
        started.elapsed().as_secs_f64(),
        index.display()
    ))
}

/// Creates `out` and removes any database an earlier demo left there (with its WAL files), so
/// that each demo starts from nothing; returns the database's path.
fn fresh_database(out: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let db = out.join("seatwatch.db");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot replace {}", p.display()))?;
        }
    }
    Ok(db)
}

/// Collects each day from `first` to `last`, both included, with the simulator's clock set to
/// that day.
async fn collect_days(
    sim: &SimHandle,
    client: &Client,
    store: &SqliteStore,
    first: NaiveDate,
    last: NaiveDate,
    config: &Config,
) -> anyhow::Result<()> {
    let mut date = first;
    // Each day is collected at 05:30, the hour the shipped schedule runs: the day's own events
    // are still being written, and the snapshot counts the day before.
    let run_at = NaiveTime::from_hms_opt(5, 30, 0).expect("valid time");
    while date <= last {
        sim.set_clock(date, run_at);
        let mut copts = CollectOptions::new(date);
        copts.events_concurrency = config.concurrency;
        copts.contribution_days = config.policy.contribution_days;
        copts.grace_days = config.policy.grace_days;
        copts.contribution_backfill_pages = config.contribution_backfill_pages;
        let at = date.and_time(run_at).and_utc();
        collect::collect(client, store, &copts, at)
            .await
            .with_context(|| format!("collecting {date}"))?;
        date = date + Days::new(1);
    }
    Ok(())
}

/// Renders the site into `site_dir` as the report would just after the last day's collect.
async fn render_site(
    client: &Client,
    store: &SqliteStore,
    opts: &DemoOptions,
    site_dir: &Path,
) -> anyhow::Result<ReportSummary> {
    let instance = collect::instance_id(client, None);
    let mut policy = opts.config.policy.clone();
    // so that the cost section has figures
    policy.seat_price = policy.seat_price.or(Some(29.0));
    // and the Duo page too: GitLab's list prices of Duo Pro and Duo Enterprise
    if policy.duo_prices.is_empty() {
        policy.duo_prices = DEMO_DUO_PRICES
            .iter()
            .map(|(add_on, price)| (add_on.to_string(), *price))
            .collect();
    }
    let now = opts
        .today
        .and_time(NaiveTime::from_hms_opt(6, 5, 0).expect("valid time"))
        .and_utc();
    let summary = seatwatch::app::render_and_publish(
        store,
        &instance,
        &policy,
        now,
        &Destination::Folder(site_dir.to_path_buf()),
        None,
    )
    .await?;
    Ok(summary)
}
