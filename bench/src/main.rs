//! The benchmark driver (issues 6 and 14): runs the release `seatwatch collect` as a child process
//! against the simulated GitLab (served from this process; the child is spawned by a small
//! launcher, so that its peak RSS is the collector's alone, see [`launch`]), runs the python-gitlab peer script on the same instance, times the Lambda
//! binaries' cold start against a stand-in Lambda Runtime API, and prints measured-vs-target rows
//! numbered as issue 14's targets:
//!
//! 1. 10,000 members at 100 ms a request, on both shapes (about 1% and about 30% of the members
//!    active in the window): seatwatch against the python-gitlab peer, at least 10x;
//! 2. 200,000 members at 100 ms, 30% active, the collector's default concurrency: one invocation
//!    commits the day within 10 minutes, peak RSS at most 64 MB, requests within 1% of
//!    ceil(members / 100) + active + the fixed calls;
//! 3. the GitLab.com flavour, 10,000 billable members, both shapes, against the peer;
//! 4. 2,000 requests per minute with `RateLimit-*` headers only on the 429: at most 1.15x the
//!    floor, at most 1% answered 429;
//! 5. what issue 6 already met: render, DynamoDB write units, Lambda binary size and cold start.
//!
//! Every server this program starts lives in this process and stops when it exits; every child it
//! spawns is waited for (or killed, for the Lambda binaries, which never finish on their own).
//! Figures from `cargo bench --bench render` and `tests/store_dynamodb.rs` are measured by those
//! programs; `scripts/bench.sh` hands their logs in with `--render-log` / `--dynamodb-log` so that
//! one table holds every target.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate};
use clap::Parser;
use seatwatch::config::DEFAULT_CONCURRENCY;
use seatwatch::store::StoreUrl;
use seatwatch_core::snapshot::InstanceId;
use seatwatch_sim::Flavour;
use seatwatch_sim::{SimConfig, SimHandle, tokens};
use serde_json::Value;
use tokio::io::AsyncReadExt;

#[derive(Parser, Clone)]
#[command(about = "The seatwatch benchmark suite (issues 6 and 14); see BENCHMARKS.md")]
struct Args {
    /// Folder holding the release binaries (`seatwatch`, `collect`, `check`, `report`).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Python with python-gitlab installed.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    #[arg(long, default_value = "bench/peer_python_gitlab.py")]
    peer_script: PathBuf,
    /// Members of the instance for targets 1, 3 and 4.
    #[arg(long, default_value_t = 10_000)]
    users: u32,
    /// Members for the scale target (2).
    #[arg(long, default_value_t = 200_000)]
    big_users: u32,
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    #[arg(long, default_value_t = 2000)]
    rate_limit: u32,
    /// `SEATWATCH_CONCURRENCY` given to the collector; unset, its default (the shipped setting).
    #[arg(long)]
    concurrency: Option<usize>,
    /// The simulator's activity scale for the listing-dominated shape (about 1% active).
    #[arg(long, default_value_t = 0.03)]
    quiet_activity: f64,
    /// The snapshot date (and the simulator's "today").
    #[arg(long, default_value = "2026-06-30")]
    date: NaiveDate,
    /// Targets to run (issue 14's numbers), e.g. `1,2`.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5")]
    only: Vec<u8>,
    /// Cold starts per Lambda binary (the median is reported).
    #[arg(long, default_value_t = 7)]
    starts: usize,
    /// Output of `cargo bench --bench render`, for target 5.
    #[arg(long)]
    render_log: Option<PathBuf>,
    /// Output of `cargo test --test store_dynamodb -- --nocapture`, for target 5.
    #[arg(long)]
    dynamodb_log: Option<PathBuf>,
}

impl Args {
    fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }
}

/// One row of the result table.
struct Row {
    target: &'static str,
    measure: String,
    measured: String,
    goal: String,
    met: Option<bool>,
}

/// What a finished child did.
struct Measured {
    wall: Duration,
    max_rss_kb: u64,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A share of members active in the window: the two shapes of issue 14.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    /// [`SimConfig::activity`].
    activity: f64,
}

fn shapes(args: &Args) -> [Shape; 2] {
    [
        Shape {
            name: "~1% active",
            activity: args.quiet_activity,
        },
        Shape {
            name: "~30% active",
            activity: SimConfig::new(Flavour::SelfManaged, 0).activity,
        },
    ]
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if let [_, first, program, rest @ ..] = argv.as_slice()
        && first == LAUNCH
    {
        return launch(program, rest);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(drive(Args::parse()))
}

/// The first argument that makes this program the launcher of one measured child:
/// `seatwatch-bench --launch-measured PROGRAM [ARGS...]`.
const LAUNCH: &str = "--launch-measured";

/// Where the launcher writes the child's raw wait status and peak RSS in kB.
const RUSAGE_FILE_ENV: &str = "SEATWATCH_BENCH_RUSAGE_FILE";

/// A command that runs `program` under the launcher ([`launch`]), so that its peak RSS is its own.
fn launched(program: impl AsRef<std::ffi::OsStr>) -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe().context("cannot find the driver itself")?);
    cmd.arg(LAUNCH).arg(program);
    Ok(cmd)
}

/// The launcher: a new, small process that spawns the measured program and writes its
/// `wait4` status and peak RSS to the file [`RUSAGE_FILE_ENV`] names.
///
/// Linux records the old address space's high-water RSS in the process's `ru_maxrss` when it
/// `exec`s, and a spawned child starts from its parent's (`fork` and `posix_spawn` alike): a
/// `/bin/true` spawned by a 300 MB process reports 313 MB. The driver serves the simulators, a
/// 200,000-member one among them, so a child it spawned reported the driver's memory (97 MB for
/// target 4 in session 6, where the collector alone peaks at 24 MB). The launcher is a fresh
/// `exec` of this program, before any simulator, so what it passes on is a few MB.
fn launch(program: &OsString, args: &[OsString]) -> anyhow::Result<()> {
    let report = std::env::var_os(RUSAGE_FILE_ENV).context("the launcher needs its report file")?;
    let child = Command::new(program)
        .args(args)
        .env_remove(RUSAGE_FILE_ENV)
        .spawn()
        .with_context(|| format!("cannot start {}", Path::new(program).display()))?;
    let (status, rss_kb) = wait_with_rusage(child.id())?;
    std::fs::write(&report, format!("{} {rss_kb}", status.into_raw()))
        .with_context(|| format!("cannot write {}", Path::new(&report).display()))?;
    Ok(())
}

async fn drive(args: Args) -> anyhow::Result<()> {
    let work = tempfile::tempdir().context("cannot create a scratch folder")?;
    let mut rows = Vec::new();
    let wants = |n: u8| args.only.contains(&n);

    for (target, flavour) in [("1", Flavour::SelfManaged), ("3", Flavour::GitLabCom)] {
        if wants(target.parse()?) {
            for shape in shapes(&args) {
                rows.extend(peer_comparison(&args, work.path(), target, flavour, shape).await?);
            }
        }
    }
    if wants(2) {
        rows.extend(at_scale(&args, work.path()).await?);
    }
    if wants(4) {
        rows.extend(rate_limited(&args, work.path()).await?);
    }
    if wants(5) {
        if let Some(log) = &args.render_log {
            rows.extend(render_rows(log)?);
        }
        if let Some(log) = &args.dynamodb_log {
            rows.extend(dynamodb_rows(log)?);
        }
        rows.extend(lambda_rows(&args).await?);
    }
    print_table(&rows);
    Ok(())
}

fn sim_config(args: &Args, flavour: Flavour, users: u32) -> SimConfig {
    let mut cfg = SimConfig::new(flavour, users);
    cfg.as_of = args.date;
    cfg.latency = Duration::from_millis(args.latency_ms);
    cfg
}

/// The top-level group seatwatch and the peer read on GitLab.com; `None` on self-managed.
fn group_of(sim: &SimConfig) -> Option<String> {
    (sim.flavour == Flavour::GitLabCom).then(|| sim.group_path.clone())
}

/// Members a collector must find: every user on self-managed, the billable members on GitLab.com.
fn members_of(flavour: Flavour, expected: &seatwatch_sim::Expected) -> u64 {
    match flavour {
        Flavour::SelfManaged => expected.users,
        Flavour::GitLabCom => expected.billable_members,
    }
}

/// Targets 1 and 3: one instance of one shape at 100 ms a request, seatwatch then the peer.
async fn peer_comparison(
    args: &Args,
    work: &Path,
    target: &'static str,
    flavour: Flavour,
    shape: Shape,
) -> anyhow::Result<Vec<Row>> {
    let mut cfg = sim_config(args, flavour, args.users);
    cfg.activity = shape.activity;
    let group = group_of(&cfg);
    let sim = SimHandle::start(cfg).await?;
    let members = members_of(flavour, &sim.expected());
    let ours = seatwatch_run(args, &sim, group.as_deref(), work, members).await?;
    let theirs = peer_run(args, work, &sim, group.as_deref(), members).await?;
    let mut rows = vec![comparison_row(
        args, target, flavour, shape, members, &ours, &theirs, "",
    )];
    // GitLab.com's first snapshot asks the never-seen members' membership ages (a hundred at a
    // time, a few one by one); later ones carry them. The daily run is what a deployment makes every day after the first, so it is measured
    // too, on the listing-dominated shape, against the peer on the same day.
    if flavour == Flavour::GitLabCom && shape.activity == args.quiet_activity {
        let next = Args {
            date: args.date + Days::new(1),
            ..args.clone()
        };
        sim.set_as_of(next.date);
        let members = members_of(flavour, &sim.expected());
        let ours = seatwatch_run(&next, &sim, group.as_deref(), work, members).await?;
        let theirs = peer_run(&next, work, &sim, group.as_deref(), members).await?;
        rows.push(comparison_row(
            &next,
            target,
            flavour,
            shape,
            members,
            &ours,
            &theirs,
            ", next day (the first snapshot in the store)",
        ));
    }
    sim.shutdown().await;
    Ok(rows)
}

/// One row of targets 1 and 3: seatwatch's run against the peer's on the same instance and day.
#[allow(clippy::too_many_arguments)]
fn comparison_row(
    args: &Args,
    target: &'static str,
    flavour: Flavour,
    shape: Shape,
    members: u64,
    ours: &SeatwatchRun,
    theirs: &PeerRun,
    which: &str,
) -> Row {
    let speedup = theirs.run.wall.as_secs_f64() / ours.run.wall.as_secs_f64();
    let flavour_name = match flavour {
        Flavour::SelfManaged => "self-managed",
        Flavour::GitLabCom => "GitLab.com",
    };
    Row {
        target,
        measure: format!(
            "{flavour_name}, {members} members, {} ({} of them), {} ms/request{which}: seatwatch (concurrency {}) vs python-gitlab",
            shape.name,
            theirs.active,
            args.latency_ms,
            args.concurrency()
        ),
        measured: format!(
            "{:.1} s vs {:.1} s = {speedup:.1}x ({} vs {} requests)",
            ours.run.wall.as_secs_f64(),
            theirs.run.wall.as_secs_f64(),
            ours.requests,
            theirs.served
        ),
        goal: ">= 10x".into(),
        met: Some(speedup >= 10.0),
    }
}

/// One seatwatch collection, checked to have listed and stored every member.
struct SeatwatchRun {
    run: Measured,
    /// Members and requests as seatwatch's summary counts them.
    members: u64,
    requests: u64,
    /// Requests the simulator served during the run.
    served: u64,
    /// The summary's `status`: `committed` when the invocation finished the day.
    status: String,
}

/// Collects `sim` with seatwatch into a fresh SQLite file and checks it listed and stored all
/// `members`.
async fn seatwatch_run(
    args: &Args,
    sim: &SimHandle,
    group: Option<&str>,
    work: &Path,
    members: u64,
) -> anyhow::Result<SeatwatchRun> {
    let db = work.join(format!("run-{}.db", sim.addr().port()));
    let before = sim.requests_served();
    let run = collect(args, sim, group, &db).await?;
    let served = sim.requests_served() - before;
    let summary = parse_summary(&run)?;
    let stored = stored_members(args, sim, group, &db).await?;
    check_members("seatwatch", members, &summary, stored)?;
    let counted = summary["members"].as_u64().unwrap_or(0);
    let requests = summary["requests"].as_u64().unwrap_or(0);
    eprintln!(
        "seatwatch: {counted} members ({stored} stored), {requests} requests ({served} served), {:.1} s, {} MB",
        run.wall.as_secs_f64(),
        run.max_rss_kb / 1024
    );
    Ok(SeatwatchRun {
        run,
        members: counted,
        requests,
        served,
        status: summary["status"].as_str().unwrap_or("?").to_string(),
    })
}

/// What the python-gitlab peer did.
struct PeerRun {
    run: Measured,
    /// Members whose events it read.
    active: u64,
    /// Requests the simulator served during its run.
    served: u64,
}

/// The python-gitlab peer asks `sim` the same question seatwatch asks: the members, then the
/// events of the complete day before the snapshot date of everyone active since.
async fn peer_run(
    args: &Args,
    work: &Path,
    sim: &SimHandle,
    group: Option<&str>,
    members: u64,
) -> anyhow::Result<PeerRun> {
    let before = sim.requests_served();
    let window_after = args.date - Days::new(2);
    let mut peer = launched(&args.python)?;
    peer.arg(&args.peer_script)
        .arg(sim.base_url())
        .arg(tokens::ADMIN)
        .arg(window_after.to_string())
        .arg(args.date.to_string())
        .args(group);
    eprintln!("python-gitlab peer running (sequential)...");
    let run = measure(peer, work, "peer").await?;
    let served = sim.requests_served() - before;
    if !run.status.success() {
        bail!("the python-gitlab peer failed: {}", run.stderr.trim());
    }
    let peer: Value = serde_json::from_str(run.stdout.trim())
        .with_context(|| format!("the peer printed {:?}", run.stdout))?;
    let listed = peer["users"].as_u64().unwrap_or(0);
    if listed != members || peer["unique"].as_u64() != Some(listed) {
        bail!("the peer listed {peer} but the instance has {members} members");
    }
    eprintln!(
        "python-gitlab: {peer}, {served} requests served, {:.1} s, {} MB",
        run.wall.as_secs_f64(),
        run.max_rss_kb / 1024
    );
    Ok(PeerRun {
        run,
        active: peer["active"].as_u64().unwrap_or(0),
        served,
    })
}

/// The calls a collection makes besides the listing pages and the events: `/metadata`, the
/// token's `/personal_access_tokens/self`, `/license`.
const FIXED_CALLS: u64 = 3;

/// The GraphQL requests a snapshot makes for Duo seats on `sim`: `addOnPurchases`, then each
/// per-user add-on's holders, one request per page (`seatwatch_gitlab::graphql::holder_requests`).
/// They are per snapshot like the fixed calls, but grow with the holders, so they are counted
/// from the simulator's ground truth rather than written down.
fn duo_calls(sim: &SimHandle) -> u64 {
    1 + sim
        .duo_expected()
        .add_ons
        .iter()
        .filter(|a| {
            seatwatch_core::duo::AddOnSeats::of(a.name) == seatwatch_core::duo::AddOnSeats::PerUser
        })
        .map(|a| seatwatch_gitlab::graphql::holder_requests(a.holders.len() as u64))
        .sum::<u64>()
}

/// Target 2: a 200,000-member instance at 100 ms a request, the default concurrency, one
/// invocation: time to commit, peak RSS and the requests against their count.
async fn at_scale(args: &Args, work: &Path) -> anyhow::Result<Vec<Row>> {
    let sim = SimHandle::start(sim_config(args, Flavour::SelfManaged, args.big_users)).await?;
    let expected = sim.expected();
    let duo = duo_calls(&sim);
    let ours = seatwatch_run(args, &sim, None, work, expected.users).await?;
    sim.shutdown().await;
    let wall = ours.run.wall.as_secs_f64();
    let mb = ours.run.max_rss_kb as f64 / 1024.0;
    let active = expected.active_since_yesterday;
    let pages = ours.members.div_ceil(100);
    let bound = pages + active + FIXED_CALLS + duo;
    let off = (ours.requests as f64 - bound as f64) / bound as f64 * 100.0;
    let members = ours.members;
    Ok(vec![
        Row {
            target: "2",
            measure: format!(
                "one `seatwatch collect` of {members} members, {} ms/request, concurrency {}: wall time to commit",
                args.latency_ms,
                args.concurrency()
            ),
            measured: format!("{wall:.1} s ({})", ours.status),
            goal: "committed, <= 600 s".into(),
            met: Some(ours.status == "committed" && wall <= 600.0),
        },
        Row {
            target: "2",
            measure: format!("peak RSS (wait4 ru_maxrss) collecting {members} members"),
            measured: format!("{mb:.1} MB"),
            goal: "<= 64 MB".into(),
            met: Some(mb <= 64.0),
        },
        Row {
            target: "2",
            measure: format!("requests ({members} members, {active} active in the window)"),
            measured: format!("{} ({} served) = {off:+.2}%", ours.requests, ours.served),
            goal: format!(
                "within 1% of {bound} (= {pages} + {active} + {FIXED_CALLS} + {duo} Duo GraphQL)"
            ),
            met: Some(off.abs() <= 1.0 && ours.served == ours.requests),
        },
    ])
}

/// Target 4: the 10,000-member instance behind a 2,000 requests/minute limit whose
/// `RateLimit-*` headers come only on the 429 (GitLab's default).
async fn rate_limited(args: &Args, work: &Path) -> anyhow::Result<Vec<Row>> {
    let mut cfg = sim_config(args, Flavour::SelfManaged, args.users);
    cfg.rate_limit = Some(seatwatch_sim::Throttle::per_minute(args.rate_limit));
    cfg.rate_limit_headers_always = false;
    let sim = SimHandle::start(cfg).await?;
    let expected = sim.expected();
    let ours = seatwatch_run(args, &sim, None, work, expected.users).await?;
    let served = sim.requests_served();
    let refused = sim.responses_429();
    sim.shutdown().await;

    let floor = served as f64 / f64::from(args.rate_limit) * 60.0;
    let wall = ours.run.wall.as_secs_f64();
    let share = refused as f64 / served as f64 * 100.0;
    eprintln!("rate-limited: {served} requests, {refused} answered 429, {wall:.1} s");
    Ok(vec![
        Row {
            target: "4",
            measure: format!(
                "wall time at {} requests/min, headers only on the 429 ({served} requests)",
                args.rate_limit
            ),
            measured: format!("{wall:.1} s = {:.2} x floor ({floor:.1} s)", wall / floor),
            goal: format!("<= 1.15 x floor = {:.1} s", floor * 1.15),
            met: Some(wall <= floor * 1.15),
        },
        Row {
            target: "4",
            measure: "requests answered 429".into(),
            measured: format!("{refused} of {served} = {share:.2}%"),
            goal: "<= 1%".into(),
            met: Some(share <= 1.0),
        },
    ])
}

/// Runs `seatwatch collect` for the snapshot date into a fresh SQLite file.
async fn collect(
    args: &Args,
    sim: &SimHandle,
    group: Option<&str>,
    db: &Path,
) -> anyhow::Result<Measured> {
    let mut cmd = launched(args.bin_dir.join("seatwatch"))?;
    cmd.arg("collect")
        .arg("--date")
        .arg(args.date.to_string())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITLAB_URL", sim.base_url())
        .env("GITLAB_TOKEN", tokens::ADMIN)
        .env("SEATWATCH_STORE", format!("sqlite:{}", db.display()))
        .env("SEATWATCH_LOG", "warn");
    if let Some(concurrency) = args.concurrency {
        cmd.env("SEATWATCH_CONCURRENCY", concurrency.to_string());
    }
    if let Some(group) = group {
        cmd.env("GITLAB_GROUP", group);
    }
    let run = measure(cmd, db.parent().unwrap_or(Path::new(".")), "collect").await?;
    if !run.status.success() {
        bail!(
            "seatwatch collect failed ({}): {}",
            run.status,
            run.stderr.trim()
        );
    }
    Ok(run)
}

fn parse_summary(run: &Measured) -> anyhow::Result<Value> {
    serde_json::from_str(run.stdout.trim())
        .with_context(|| format!("seatwatch collect printed {:?}", run.stdout))
}

/// Members the store holds for the snapshot day (one per id by the store's contract).
async fn stored_members(
    args: &Args,
    sim: &SimHandle,
    group: Option<&str>,
    db: &Path,
) -> anyhow::Result<u64> {
    let store = seatwatch::store::open(&StoreUrl::Sqlite(db.to_path_buf()), None, 400).await?;
    let base = seatwatch_gitlab::BaseUrl::parse(&sim.base_url(), false)?;
    let instance = InstanceId::new(&base.host_and_path(), group);
    Ok(store.members(&instance, args.date).await?.len() as u64)
}

/// Pagination must stay correct while it gets faster: the count the collector saw (duplicates
/// would inflate it) and the distinct ids stored both equal the instance's users.
fn check_members(who: &str, users: u64, summary: &Value, stored: u64) -> anyhow::Result<()> {
    let counted = summary["members"].as_u64().unwrap_or(0);
    if counted != users || stored != users {
        bail!("{who}: counted {counted} members, stored {stored}, but the instance has {users}");
    }
    Ok(())
}

/// Spawns `cmd`, waits with `wait4` for its exit status and peak RSS, and collects its output
/// through files (no pipe can fill up while the wait blocks).
async fn measure(mut cmd: Command, dir: &Path, name: &str) -> anyhow::Result<Measured> {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    let rusage_path = dir.join(format!("{name}.rusage"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .env(RUSAGE_FILE_ENV, &rusage_path);
    let wall = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let launcher = cmd
            .spawn()
            .context("cannot start the benchmarked program")?;
        let (status, _) = wait_with_rusage(launcher.id())?;
        if !status.success() {
            bail!("the launcher failed ({status})");
        }
        Ok::<_, anyhow::Error>(started.elapsed())
    })
    .await??;
    let read = |p: &Path| -> anyhow::Result<String> {
        let mut s = String::new();
        File::open(p)?.read_to_string(&mut s)?;
        Ok(s)
    };
    let rusage = read(&rusage_path)?;
    let (status, max_rss_kb) = rusage
        .split_once(' ')
        .and_then(|(status, rss)| Some((status.parse().ok()?, rss.parse().ok()?)))
        .with_context(|| format!("the launcher wrote {rusage:?}"))?;
    let status = ExitStatus::from_raw(status);
    Ok(Measured {
        wall,
        max_rss_kb,
        status,
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
    })
}

fn wait_with_rusage(pid: u32) -> anyhow::Result<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped; both pointers are valid for writes.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4 failed");
        }
    }
    // Linux reports ru_maxrss in kilobytes.
    Ok((
        ExitStatus::from_raw(status),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
    ))
}

/// Target 5 (issue 6's 5): `cargo bench --bench render`'s output.
fn render_rows(log: &Path) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(log)
        .with_context(|| format!("cannot read the render log {}", log.display()))?;
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .map(|l| l.trim().to_string())
    };
    let ratio = line("ratio render / serde_json(report + members)")
        .context("the render log has no ratio line: did `cargo bench --bench render` run?")?;
    let value: f64 = ratio
        .split('=')
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("unreadable ratio line")?;
    let render = line("render (all site files)").unwrap_or_default();
    let json = line("serde_json report + members").unwrap_or_default();
    Ok(vec![Row {
        target: "5",
        measure: "render the site, 100,000 members x 365 days, vs serde_json of the same data"
            .into(),
        measured: format!("{value:.2}x ({}; {})", squeeze(&render), squeeze(&json)),
        goal: "<= 3x".into(),
        met: Some(value <= 3.0),
    }])
}

/// Target 5 (issue 6's 6): `tests/store_dynamodb.rs`'s printed lines.
fn dynamodb_rows(log: &Path) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(log)
        .with_context(|| format!("cannot read the DynamoDB log {}", log.display()))?;
    let mut rows = Vec::new();
    for l in text.lines().filter(|l| l.contains("WCU per member")) {
        let per_member: f64 = l
            .rsplit('=')
            .next()
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("unreadable WCU line")?;
        let parts = l
            .split("in parts of ")
            .nth(1)
            .and_then(|v| v.split(':').next())
            .unwrap_or("?");
        rows.push(Row {
            target: "5",
            measure: format!("DynamoDB write units per member (10,000 members, parts of {parts})"),
            measured: format!("{per_member:.4}"),
            goal: "<= 0.1".into(),
            met: Some(per_member <= 0.1),
        });
    }
    if rows.is_empty() {
        bail!("the DynamoDB log has no `WCU per member` line: did the test run with --nocapture?");
    }
    Ok(rows)
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Target 5 (issue 6's 7): binary sizes and spawn-to-first-`/invocation/next`.
async fn lambda_rows(args: &Args) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for name in ["check", "collect", "report"] {
        let path = args.bin_dir.join(name);
        let bytes = std::fs::metadata(&path)
            .with_context(|| format!("{} is missing: build with --release", path.display()))?
            .len();
        let mb = bytes as f64 / (1024.0 * 1024.0);
        let mut starts = Vec::new();
        for _ in 0..args.starts {
            starts.push(cold_start(&path).await?);
        }
        starts.sort();
        let median = starts[starts.len() / 2];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        rows.push(Row {
            target: "5",
            measure: format!("Lambda `{name}`: binary size"),
            measured: format!("{mb:.1} MB"),
            goal: "<= 12 MB".into(),
            met: Some(mb <= 12.0),
        });
        rows.push(Row {
            target: "5",
            measure: format!("Lambda `{name}`: spawn to first GET /invocation/next"),
            measured: format!(
                "{:.1} ms median of {} (min {:.1}, max {:.1})",
                ms(median),
                starts.len(),
                ms(starts[0]),
                ms(starts[starts.len() - 1])
            ),
            goal: "<= 30 ms".into(),
            met: Some(median <= Duration::from_millis(30)),
        });
    }
    Ok(rows)
}

/// Starts one Lambda binary against a stand-in Runtime API on a free port and returns the time
/// from spawn to its first `GET /2018-06-01/runtime/invocation/next`. The child is killed after.
async fn cold_start(binary: &Path) -> anyhow::Result<Duration> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    let scratch = tempfile::tempdir()?;
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .envs(lambda_env(api, scratch.path()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start the Lambda binary")?;
    let outcome = tokio::select! {
        ready = first_invocation_next(&listener, started) => ready.map_err(anyhow::Error::from),
        exited = child.wait() => Err(anyhow::anyhow!(
            "{} exited ({}) before asking for an event", binary.display(), exited?
        )),
        () = tokio::time::sleep(Duration::from_secs(10)) => Err(anyhow::anyhow!(
            "{} did not ask for an event within 10 s", binary.display()
        )),
    };
    child.kill().await.ok();
    outcome
}

/// The whole environment a Lambda binary starts with: the Runtime API at `api`, fake
/// credentials, the function's settings and `home` as HOME.
fn lambda_env(api: std::net::SocketAddr, home: &Path) -> [(&'static str, OsString); 15] {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string().into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "seatwatch-bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/seatwatch-bench".into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIAFAKEBENCH0000000".into()),
        ("AWS_SECRET_ACCESS_KEY", "fake-bench-secret".into()),
        ("AWS_SESSION_TOKEN", "fake-bench-session".into()),
        ("GITLAB_URL", "https://gitlab.example.com".into()),
        ("SEATWATCH_SECRET_ID", "seatwatch/gitlab-token".into()),
        ("SEATWATCH_TABLE", "seatwatch-bench".into()),
        ("SEATWATCH_BUCKET", "seatwatch-bench".into()),
        ("HOME", home.as_os_str().to_owned()),
    ]
}

/// Accepts connections on the stand-in Runtime API until one asks for the next invocation;
/// the time from `started` to that request.
async fn first_invocation_next(
    listener: &tokio::net::TcpListener,
    started: Instant,
) -> std::io::Result<Duration> {
    loop {
        let (mut socket, _) = listener.accept().await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        if head.starts_with(b"GET /2018-06-01/runtime/invocation/next") {
            return Ok(started.elapsed());
        }
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| # | measure | measured | target | met |");
    println!("| --- | --- | --- | --- | --- |");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        println!(
            "| {} | {} | {} | {} | {met} |",
            r.target, r.measure, r.measured, r.goal
        );
    }
}
