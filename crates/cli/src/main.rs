//! The `seatwatch` command line: the library's commands on the embedded default (SQLite and a
//! folder) or on AWS, plus `demo` and `sim`, which run a simulated GitLab in-process.
//!
//! `anyhow` lives only in this crate (here and in the demo), at the edge; errors print as one line
//! with their causes (`{:#}`). The settings flags are clap's; what they mean is
//! `seatwatch::config`'s, and a value it refuses exits 2, as a usage error.

mod demo;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use seatwatch::app::App;
use seatwatch::config::{self, ConfigError, RawConfig, setting};
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, LicenceMode, RetryAfterMode, SimConfig, SimHandle, Throttle};

#[derive(Parser)]
#[command(
    name = "seatwatch",
    version,
    about = "Which paid GitLab seats nobody uses, what they cost, and how use is trending.",
    after_help = "Settings come from flags or environment (GITLAB_URL, GITLAB_TOKEN, GITLAB_GROUP, SEATWATCH_*); see README.md."
)]
struct Cli {
    #[command(flatten)]
    settings: SettingArgs,

    /// Log filter (tracing syntax), e.g. `debug` or `seatwatch=debug`.
    #[arg(
        long,
        env = "SEATWATCH_LOG",
        default_value = "seatwatch=info,warn",
        global = true
    )]
    log: String,

    #[command(subcommand)]
    command: Command,
}

/// Every setting of seatwatch as flags, each with its environment variable (flags win). Names and
/// defaults come from [`seatwatch::config`]; values are checked there, by [`RawConfig::parse`].
#[derive(clap::Args)]
struct SettingArgs {
    /// GitLab base URL, e.g. https://gitlab.example.com (a relative path such as /gitlab is kept).
    #[arg(long = setting::GITLAB_URL.flag, env = setting::GITLAB_URL.env, global = true)]
    gitlab_url: Option<String>,

    /// Top-level group to monitor on GitLab.com (id or full path); selects GitLab.com mode.
    #[arg(long = setting::GROUP.flag, env = setting::GROUP.env, global = true)]
    group: Option<String>,

    /// Read the token from this file (first line) instead of GITLAB_TOKEN.
    #[arg(long = setting::TOKEN_FILE.flag, global = true)]
    token_file: Option<PathBuf>,

    /// Read the token from this AWS Secrets Manager secret (bare token or {"token", "url"}).
    #[arg(long = setting::SECRET_ID.flag, env = setting::SECRET_ID.env, global = true)]
    secret_id: Option<String>,

    /// Where snapshots live: sqlite:PATH or dynamodb:TABLE.
    #[arg(
        long = setting::STORE.flag,
        env = setting::STORE.env,
        default_value = config::DEFAULT_STORE,
        global = true
    )]
    store: String,

    /// Where the site goes: a folder or s3://bucket/prefix.
    #[arg(
        long = setting::SITE.flag,
        env = setting::SITE.env,
        default_value = config::DEFAULT_SITE,
        global = true
    )]
    site: String,

    /// Days without activity or sign-in after which a seat is reclaimable.
    #[arg(
        long = setting::INACTIVE_DAYS.flag,
        env = setting::INACTIVE_DAYS.env,
        default_value_t = config::DEFAULT_INACTIVE_DAYS.to_string(),
        global = true
    )]
    inactive_days: String,

    /// Days a never-signed-in account is left alone after it was created.
    #[arg(
        long = setting::GRACE_DAYS.flag,
        env = setting::GRACE_DAYS.env,
        default_value_t = config::DEFAULT_GRACE_DAYS.to_string(),
        global = true
    )]
    grace_days: String,

    /// Comma-separated usernames and globs (svc-*) never listed as reclaimable.
    #[arg(
        long = setting::EXEMPT.flag,
        env = setting::EXEMPT.env,
        default_value = "",
        global = true
    )]
    exempt: String,

    /// Price of one seat per month, for the cost figures.
    #[arg(long = setting::SEAT_PRICE.flag, env = setting::SEAT_PRICE.env, global = true)]
    seat_price: Option<String>,

    /// Days without Duo use after which a Duo seat is idle.
    #[arg(
        long = setting::DUO_IDLE_DAYS.flag,
        env = setting::DUO_IDLE_DAYS.env,
        default_value_t = config::DEFAULT_DUO_IDLE_DAYS.to_string(),
        global = true
    )]
    duo_idle_days: String,

    /// Duo seat prices per month by add-on, e.g. CODE_SUGGESTIONS=19,DUO_ENTERPRISE=39.
    #[arg(long = setting::DUO_PRICES.flag, env = setting::DUO_PRICES.env, global = true)]
    duo_prices: Option<String>,

    /// Days without a contribution after which an active Ultimate seat holder could be a Guest.
    #[arg(
        long = setting::CONTRIBUTION_DAYS.flag,
        env = setting::CONTRIBUTION_DAYS.env,
        default_value_t = config::DEFAULT_CONTRIBUTION_DAYS.to_string(),
        global = true
    )]
    contribution_days: String,

    /// Pages of events per active seat holder a first snapshot reads to backfill contributions
    /// (Ultimate only); 0, none: Guest candidates wait until the history covers the window.
    #[arg(
        long = setting::CONTRIBUTION_BACKFILL_PAGES.flag,
        env = setting::CONTRIBUTION_BACKFILL_PAGES.env,
        default_value_t = config::DEFAULT_CONTRIBUTION_BACKFILL_PAGES.to_string(),
        global = true
    )]
    contribution_backfill_pages: String,

    /// Percent of headroom on top of the projected seats at renewal.
    #[arg(
        long = setting::RENEWAL_BUFFER.flag,
        env = setting::RENEWAL_BUFFER.env,
        default_value_t = config::DEFAULT_RENEWAL_BUFFER_PERCENT.to_string(),
        global = true
    )]
    renewal_buffer: String,

    /// Days before the renewal date by which to act.
    #[arg(
        long = setting::RENEWAL_NOTICE_DAYS.flag,
        env = setting::RENEWAL_NOTICE_DAYS.env,
        default_value_t = config::DEFAULT_RENEWAL_NOTICE_DAYS.to_string(),
        global = true
    )]
    renewal_notice_days: String,

    /// Seats bought (GitLab.com only: its API does not report them).
    #[arg(
        long = setting::SEATS_PURCHASED.flag,
        env = setting::SEATS_PURCHASED.env,
        global = true
    )]
    seats_purchased: Option<String>,

    /// Days member details are kept; day summaries are kept for ever.
    #[arg(
        long = setting::RETENTION_DAYS.flag,
        env = setting::RETENTION_DAYS.env,
        default_value_t = config::DEFAULT_RETENTION_DAYS.to_string(),
        global = true
    )]
    retention_days: String,

    /// Warn when the token expires within this many days.
    #[arg(
        long = setting::EXPIRY_WARN_DAYS.flag,
        env = setting::EXPIRY_WARN_DAYS.env,
        default_value_t = config::DEFAULT_EXPIRY_WARN_DAYS.to_string(),
        global = true
    )]
    expiry_warn_days: String,

    /// Allow a plain http:// GitLab URL on a host that is not loopback.
    // A bare flag, as ever: present means "true"; the variable's spellings (1/0, yes/no…) and the
    // default are the config's, so clap passes the text on unparsed.
    #[arg(
        long = setting::ALLOW_HTTP.flag,
        env = setting::ALLOW_HTTP.env,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::StringValueParser::new(),
        global = true
    )]
    allow_http: Option<String>,

    /// GitLab requests in flight at once (the client paces itself by GitLab's rate-limit headers).
    #[arg(
        long = setting::CONCURRENCY.flag,
        env = setting::CONCURRENCY.env,
        default_value_t = config::DEFAULT_CONCURRENCY.to_string(),
        global = true
    )]
    concurrency: String,

    /// Seconds before one GitLab request times out.
    #[arg(
        long = setting::REQUEST_TIMEOUT.flag,
        env = setting::REQUEST_TIMEOUT.env,
        default_value_t = config::DEFAULT_REQUEST_TIMEOUT.as_secs().to_string(),
        global = true
    )]
    request_timeout_secs: String,

    /// The GitLab instance's time zone (`gitlab_rails['time_zone']`), an IANA name such as
    /// Europe/Berlin: GitLab counts event days there. GitLab.com and GitLab's default are UTC.
    #[arg(
        long = setting::TIME_ZONE.flag,
        env = setting::TIME_ZONE.env,
        default_value_t = config::DEFAULT_TIME_ZONE.to_string(),
        global = true
    )]
    time_zone: String,

    /// Seconds of retrying (429, 5xx, timeouts) before a GitLab call gives up.
    #[arg(
        long = setting::MAX_RETRY.flag,
        env = setting::MAX_RETRY.env,
        default_value_t = config::DEFAULT_MAX_RETRY_TIME.as_secs().to_string(),
        global = true
    )]
    max_retry_secs: String,
}

impl SettingArgs {
    /// The settings as given; the Lambda-only ones (table, bucket) have no flag.
    fn into_raw(self) -> RawConfig {
        RawConfig {
            gitlab_url: self.gitlab_url,
            group: self.group,
            token_file: self.token_file,
            secret_id: self.secret_id,
            store: Some(self.store),
            site: Some(self.site),
            inactive_days: Some(self.inactive_days),
            grace_days: Some(self.grace_days),
            exempt: Some(self.exempt),
            seat_price: self.seat_price,
            seats_purchased: self.seats_purchased,
            duo_idle_days: Some(self.duo_idle_days),
            duo_prices: self.duo_prices,
            contribution_days: Some(self.contribution_days),
            contribution_backfill_pages: Some(self.contribution_backfill_pages),
            renewal_buffer: Some(self.renewal_buffer),
            renewal_notice_days: Some(self.renewal_notice_days),
            retention_days: Some(self.retention_days),
            expiry_warn_days: Some(self.expiry_warn_days),
            allow_http: self.allow_http,
            concurrency: Some(self.concurrency),
            request_timeout_secs: Some(self.request_timeout_secs),
            time_zone: Some(self.time_zone),
            max_retry_secs: Some(self.max_retry_secs),
            ..RawConfig::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Pre-flight checks of the GitLab connection: URL, TLS, token, scopes, permissions.
    Check {
        /// Print the JSON document instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Collect one snapshot into the store.
    Collect {
        /// Snapshot date (YYYY-MM-DD); default today (UTC).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Render the site from the store.
    Report,
    /// Create the store when missing: a DynamoDB table with its TTL, or the SQLite schema.
    /// Not needed with infra/template.yaml, which creates the table itself.
    Setup,
    /// Collect, then report.
    Run {
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Show the whole thing on a simulated GitLab: backfill history, render the site.
    Demo {
        /// Simulated users.
        #[arg(long, default_value_t = 1000)]
        users: u32,
        /// Days of history to collect.
        #[arg(long, default_value_t = 180)]
        days: u32,
        /// Folder for the demo's database and site.
        #[arg(long, default_value = "demo")]
        out: PathBuf,
    },
    /// Run the simulated GitLab on its own until stopped (Ctrl-C).
    Sim(SimArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FlavourArg {
    #[value(name = "self-managed")]
    SelfManaged,
    #[value(name = "gitlab.com")]
    GitLabCom,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LicenceArg {
    /// A licence with a seat limit.
    SeatLimit,
    /// A licence without a seat limit (user_limit 0).
    NoSeatLimit,
    /// GitLab EE without a licence (GET /license is null).
    None,
    /// GitLab Community Edition (no /license route).
    Ce,
}

#[derive(clap::Args)]
struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value_t = 1000)]
    users: u32,
    #[arg(long = "flavor", value_enum, default_value = "self-managed")]
    flavour: FlavourArg,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The simulated "today" (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// The simulated time of day (HH:MM, instance time zone): events and `last_activity_on` of
    /// today exist only up to it. Default: now (UTC) without --as-of, 05:30 with it.
    #[arg(long)]
    time: Option<chrono::NaiveTime>,
    /// Latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Scales everyone's daily chance of activity: 1 gives about 30% of the members active in
    /// the window, 0.03 about 1% (the listing-dominated shape of issue 14). Default: the
    /// simulator's (1).
    #[arg(long)]
    activity: Option<f64>,
    /// Requests per --rate-limit-period before answering 429 (GitLab's authenticated API
    /// throttle; off by default, as on self-managed).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// The throttle's period in seconds (self-managed's default when enabled: 7200 per 3600).
    #[arg(long, default_value_t = 60)]
    rate_limit_period: u64,
    /// RateLimit-* headers on every response, not only on the 429 (GitLab 18.6's flag
    /// rate_limiting_headers_for_unthrottled_requests, off by default).
    #[arg(long)]
    rate_limit_headers_always: bool,
    /// What GET /license answers.
    #[arg(long, value_enum, default_value = "seat-limit")]
    licence: LicenceArg,
    /// Answer the next N requests with --fault-status (default 503).
    #[arg(long, default_value_t = 0)]
    fault_burst: u32,
    #[arg(long, default_value_t = 503)]
    fault_status: u16,
    /// How 429s say when to come back: seconds for Retry-After, `reset`, `none`, or `app` (an
    /// application limit: a JSON body and no header).
    #[arg(long, default_value = "1")]
    fault_retry_after: String,
    /// Delay the next N responses by --fault-slow-ms.
    #[arg(long, default_value_t = 0)]
    fault_slow: u32,
    #[arg(long, default_value_t = 5000)]
    fault_slow_ms: u64,
    /// Drop the next N connections without answering.
    #[arg(long, default_value_t = 0)]
    fault_drop: u32,
    /// Answer the next N requests with a body that is not JSON.
    #[arg(long, default_value_t = 0)]
    fault_malformed: u32,
    /// Answer the next N requests with JSON cut short.
    #[arg(long, default_value_t = 0)]
    fault_truncated: u32,
    /// Start the faults above only after this many requests were answered normally.
    #[arg(long, default_value_t = 0)]
    fault_after: u32,
}

/// A collect that GitLab told to wait (a throttle asking for longer than the retry budget)
/// saved its progress: say when to run again, and exit 1 so a scheduler notices.
fn exit_after_collect(summary: &seatwatch::collect::CollectSummary) -> ExitCode {
    let Some(wait) = summary.wait_seconds else {
        return ExitCode::SUCCESS;
    };
    let again = chrono::Utc::now() + chrono::Duration::seconds(wait as i64);
    eprintln!(
        "error: GitLab's rate limit asks to wait {wait} s; the progress is saved: run `seatwatch collect --date {}` again after {} to continue",
        summary.date,
        again.format("%H:%M UTC")
    );
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // a setting that does not parse is a usage error, as the ones clap refuses are
            if e.is::<ConfigError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("seatwatch=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // parsed by the commands that use settings: `sim` runs whatever they say
    let config = || cli.settings.into_raw().parse();
    match cli.command {
        Command::Check { json } => check(config()?, json).await,
        Command::Collect { date } => {
            let app = App::new(config()?).await?;
            let summary = app.collect(date.unwrap_or_else(today)).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(exit_after_collect(&summary))
        }
        Command::Report => {
            let app = App::new(config()?).await?;
            let summary = app.report(chrono::Utc::now()).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Setup => {
            let app = App::new(config()?).await?;
            let store = app.setup_store().await?;
            println!("{store} is ready");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { date } => collect_then_report(config()?, date.unwrap_or_else(today)).await,
        Command::Demo { users, days, out } => {
            let opts = demo::DemoOptions {
                users,
                days,
                out,
                today: today(),
                config: config()?,
            };
            let done = demo::run(opts).await?;
            println!("{done}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(args) => {
            sim(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `seatwatch check`: the checks as a table (or JSON); exit 1 when one failed.
async fn check(config: config::Config, json: bool) -> anyhow::Result<ExitCode> {
    let app = App::new(config).await?;
    let report = app.check(today()).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let colour = std::io::stdout().is_terminal();
        print!("{}", seatwatch::check::render_table(&report, colour));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `seatwatch run`: collect `date`, then report, unless GitLab asked the collect to wait.
async fn collect_then_report(config: config::Config, date: NaiveDate) -> anyhow::Result<ExitCode> {
    let app = App::new(config).await?;
    let collected = app.collect(date).await?;
    if collected.wait_seconds.is_some() {
        println!("{}", serde_json::to_string_pretty(&collected)?);
        return Ok(exit_after_collect(&collected));
    }
    let reported = app.report(chrono::Utc::now()).await?;
    let both = serde_json::json!({ "collect": collected, "report": reported });
    println!("{}", serde_json::to_string_pretty(&both)?);
    Ok(ExitCode::SUCCESS)
}

/// The snapshot's name for the GitLab the simulator plays.
fn snapshot_flavour(flavour: Flavour) -> seatwatch_core::snapshot::Flavour {
    match flavour {
        Flavour::SelfManaged => seatwatch_core::snapshot::Flavour::SelfManaged,
        Flavour::GitLabCom => seatwatch_core::snapshot::Flavour::GitLabCom,
    }
}

/// `seatwatch sim`: serves the simulated GitLab the flags describe until Ctrl-C.
async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let cfg = sim_config(&args)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let flavour = cfg.flavour;
    let group = cfg.group_path.clone();
    let handle = SimHandle::start_on(cfg, addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    print_sim_banner(&handle.base_url(), flavour, &group);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = handle.wait() => {}
    }
    Ok(())
}

/// The simulator's settings from `seatwatch sim`'s flags.
fn sim_config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let flavour = match args.flavour {
        FlavourArg::SelfManaged => Flavour::SelfManaged,
        FlavourArg::GitLabCom => Flavour::GitLabCom,
    };
    let mut cfg = SimConfig::new(flavour, args.users);
    cfg.seed = args.seed;
    cfg.time_of_day = match (args.time, args.as_of) {
        (Some(time), _) => time,
        (None, None) => chrono::Utc::now().time(),
        (None, Some(_)) => cfg.time_of_day,
    };
    cfg.as_of = args.as_of.unwrap_or_else(today);
    cfg.latency = Duration::from_millis(args.latency_ms);
    if let Some(activity) = args.activity {
        cfg.activity = activity;
    }
    cfg.rate_limit = args.rate_limit.map(|requests| Throttle {
        requests,
        period: Duration::from_secs(args.rate_limit_period.max(1)),
    });
    cfg.rate_limit_headers_always = args.rate_limit_headers_always;
    cfg.licence = match args.licence {
        LicenceArg::SeatLimit => LicenceMode::SeatLimit,
        LicenceArg::NoSeatLimit => LicenceMode::NoSeatLimit,
        LicenceArg::None => LicenceMode::NoLicence,
        LicenceArg::Ce => LicenceMode::CommunityEdition,
    };
    cfg.faults = sim_faults(args)?;
    Ok(cfg)
}

/// The faults the `--fault-*` flags ask the simulator to inject.
fn sim_faults(args: &SimArgs) -> anyhow::Result<Faults> {
    Ok(Faults {
        status_burst: (args.fault_burst > 0).then_some((args.fault_status, args.fault_burst)),
        retry_after: retry_after_mode(&args.fault_retry_after)?,
        slow: (args.fault_slow > 0)
            .then_some((Duration::from_millis(args.fault_slow_ms), args.fault_slow)),
        drop_connections: args.fault_drop,
        malformed_json: args.fault_malformed,
        truncated_body: args.fault_truncated,
        after: args.fault_after,
        only_path: None,
    })
}

/// `--fault-retry-after`: seconds, `reset`, `none` or `app`.
fn retry_after_mode(arg: &str) -> anyhow::Result<RetryAfterMode> {
    Ok(match arg {
        "reset" => RetryAfterMode::ResetOnly,
        "none" => RetryAfterMode::NoHeaders,
        "app" => RetryAfterMode::ApplicationLimit,
        secs => RetryAfterMode::Seconds(secs.parse().with_context(|| {
            format!("--fault-retry-after takes seconds, `reset`, `none` or `app`, not {secs:?}")
        })?),
    })
}

/// Where the simulator listens and how to point seatwatch at it.
fn print_sim_banner(base_url: &str, flavour: Flavour, group: &str) {
    println!(
        "simulated GitLab ({}) at {base_url}",
        snapshot_flavour(flavour).as_str(),
    );
    println!("  admin/owner token: {}", seatwatch_sim::tokens::ADMIN);
    if flavour == Flavour::GitLabCom {
        println!("  group: {group}");
    }
    println!(
        "  try: GITLAB_URL={base_url} GITLAB_TOKEN={} seatwatch check",
        seatwatch_sim::tokens::ADMIN
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch::config::Config;
    use seatwatch::publish::Destination;
    use seatwatch::store::StoreUrl;

    /// The settings `seatwatch check ARGS` runs with.
    fn config_of(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = ["seatwatch", "check"].iter().chain(args);
        let cli = Cli::try_parse_from(argv).expect("the flags parse");
        cli.settings.into_raw().parse()
    }

    #[test]
    fn each_flag_lands_in_its_own_setting() {
        let c = config_of(&[
            "--gitlab-url=https://gitlab.example.com",
            "--group= acme ",
            "--token-file=/run/token",
            "--secret-id=gitlab-token",
            "--store=sqlite:x.db",
            "--site=s3://b/p",
            "--inactive-days=31",
            "--grace-days=7",
            "--exempt=svc-*",
            "--seat-price=19.5",
            "--seats-purchased=50",
            "--retention-days=100",
            "--expiry-warn-days=3",
            "--allow-http",
            "--concurrency=4",
            "--request-timeout-secs=6",
            "--time-zone=Europe/Berlin",
            "--max-retry-secs=9",
            "--duo-idle-days=21",
            "--duo-prices=CODE_SUGGESTIONS=19",
            "--contribution-days=60",
            "--renewal-buffer=15",
            "--renewal-notice-days=45",
        ])
        .expect("valid settings");
        let url = c.gitlab_url.expect("a URL");
        assert_eq!(url.given, "https://gitlab.example.com");
        assert_eq!(c.group.expect("a group").as_str(), "acme");
        assert_eq!(c.token_file, Some("/run/token".into()));
        assert_eq!(c.secret_id.as_deref(), Some("gitlab-token"));
        assert_eq!(c.store, StoreUrl::Sqlite("x.db".into()));
        assert_eq!(
            c.site,
            Destination::S3 {
                bucket: "b".into(),
                prefix: "p".into()
            }
        );
        assert_eq!(c.policy.inactive_days, 31);
        assert_eq!(c.policy.grace_days, 7);
        assert!(c.policy.exempt.is_exempt("svc-ci"));
        assert_eq!(c.policy.seat_price, Some(19.5));
        assert_eq!(c.seats_purchased, Some(50));
        assert_eq!(c.retention_days, 100);
        assert_eq!(c.expiry_warn_days, 3);
        assert!(c.allow_http);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.request_timeout, Duration::from_secs(6));
        assert_eq!(c.time_zone, chrono_tz::Tz::Europe__Berlin);
        assert_eq!(c.max_retry_time, Duration::from_secs(9));
        assert_eq!(c.policy.duo_idle_days, 21);
        assert_eq!(c.policy.duo_prices.get("CODE_SUGGESTIONS"), Some(&19.0));
        assert_eq!(c.policy.contribution_days, 60);
        assert_eq!(c.policy.renewal_buffer_percent, 15);
        assert_eq!(c.policy.renewal_notice_days, 45);
    }

    #[test]
    fn without_flags_the_defaults_are_the_configs() {
        let from_clap = config_of(&[]).expect("the defaults are valid");
        let from_config = RawConfig::default().parse().expect("valid");
        assert_eq!(from_clap.store, from_config.store);
        assert_eq!(from_clap.site, from_config.site);
        assert_eq!(from_clap.concurrency, config::DEFAULT_CONCURRENCY);
        assert_eq!(from_clap.allow_http, from_config.allow_http);
        assert_eq!(from_clap.request_timeout, from_config.request_timeout);
        assert_eq!(from_clap.max_retry_time, from_config.max_retry_time);
        assert_eq!(from_clap.time_zone, from_config.time_zone);
        assert_eq!(from_clap.retention_days, from_config.retention_days);
        assert_eq!(from_clap.expiry_warn_days, from_config.expiry_warn_days);
        assert_eq!(
            from_clap.policy.inactive_days,
            from_config.policy.inactive_days
        );
        assert_eq!(from_clap.policy.grace_days, from_config.policy.grace_days);
        assert_eq!(
            from_clap.policy.duo_idle_days,
            from_config.policy.duo_idle_days
        );
        assert_eq!(
            from_clap.policy.contribution_days,
            from_config.policy.contribution_days
        );
        assert_eq!(
            from_clap.policy.renewal_buffer_percent,
            from_config.policy.renewal_buffer_percent
        );
        assert_eq!(
            from_clap.policy.renewal_notice_days,
            from_config.policy.renewal_notice_days
        );
        assert!(from_clap.policy.exempt.patterns().is_empty());
    }

    #[test]
    fn a_bad_value_names_the_flag_and_its_variable() {
        let err = config_of(&["--concurrency=many"]).expect_err("refused");
        assert!(matches!(
            &err,
            ConfigError::Invalid { setting: named, value, .. }
                if *named == setting::CONCURRENCY && value == "many"
        ));
        let message = err.to_string();
        assert!(message.contains("--concurrency"), "{message}");
        assert!(message.contains("SEATWATCH_CONCURRENCY"), "{message}");
    }

    /// The simulator settings `seatwatch sim ARGS` would start with.
    fn sim_config_of(args: &[&str]) -> anyhow::Result<SimConfig> {
        let argv = ["seatwatch", "sim"].iter().chain(args);
        let Command::Sim(sim_args) = Cli::try_parse_from(argv).expect("the flags parse").command
        else {
            unreachable!("`seatwatch sim` parses as the sim command")
        };
        sim_config(&sim_args)
    }

    #[test]
    fn sim_fault_flags_reach_the_simulator() {
        let cfg = sim_config_of(&[
            "--fault-burst=2",
            "--fault-status=429",
            "--fault-retry-after=7",
            "--fault-after=5",
        ])
        .expect("valid flags");
        assert_eq!(cfg.faults.status_burst, Some((429, 2)));
        assert_eq!(cfg.faults.retry_after, RetryAfterMode::Seconds(7));
        assert_eq!(cfg.faults.after, 5);
        let app = sim_config_of(&["--fault-retry-after=app"]).expect("valid flags");
        assert_eq!(app.faults.retry_after, RetryAfterMode::ApplicationLimit);
    }

    #[test]
    fn a_bad_retry_after_names_its_flag() {
        let err = sim_config_of(&["--fault-retry-after=soon"]).expect_err("refused");
        let message = format!("{err:#}");
        assert!(message.contains("--fault-retry-after"), "{message}");
        assert!(message.contains("\"soon\""), "{message}");
    }
}
