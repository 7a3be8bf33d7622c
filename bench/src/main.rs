//! The issue 6 benchmark driver: runs the release `seatwatch collect` as a child process against
//! the simulated GitLab (served from this process, so the child's peak RSS is the collector's
//! alone), runs the python-gitlab peer script on the same instance, times the Lambda binaries'
//! cold start against a stand-in Lambda Runtime API, and prints measured-vs-target rows.
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
use seatwatch::store::StoreUrl;
use seatwatch_core::snapshot::InstanceId;
use seatwatch_sim::Flavour;
use seatwatch_sim::{SimConfig, SimHandle, tokens};
use serde_json::Value;
use tokio::io::AsyncReadExt;

#[derive(Parser)]
#[command(about = "The seatwatch benchmark suite (issue 6); see BENCHMARKS.md")]
struct Args {
    /// Folder holding the release binaries (`seatwatch`, `collect`, `check`, `report`).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Python with python-gitlab installed.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    #[arg(long, default_value = "bench/peer_python_gitlab.py")]
    peer_script: PathBuf,
    /// Members of the instance for targets 1-3.
    #[arg(long, default_value_t = 10_000)]
    users: u32,
    /// Members for the memory target (4).
    #[arg(long, default_value_t = 100_000)]
    big_users: u32,
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    #[arg(long, default_value_t = 2000)]
    rate_limit: u32,
    /// `SEATWATCH_CONCURRENCY` given to the collector.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The snapshot date (and the simulator's "today").
    #[arg(long, default_value = "2026-06-30")]
    date: NaiveDate,
    /// Targets to run, e.g. `1,2,4`; the peer script runs with target 1.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,7")]
    only: Vec<u8>,
    /// Cold starts per Lambda binary (the median is reported).
    #[arg(long, default_value_t = 7)]
    starts: usize,
    /// Output of `cargo bench --bench render`, for target 5.
    #[arg(long)]
    render_log: Option<PathBuf>,
    /// Output of `cargo test --test store_dynamodb -- --nocapture`, for target 6.
    #[arg(long)]
    dynamodb_log: Option<PathBuf>,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let work = tempfile::tempdir().context("cannot create a scratch folder")?;
    let mut rows = Vec::new();
    let wants = |n: u8| args.only.contains(&n);

    if wants(1) || wants(3) {
        rows.extend(peer_comparison(&args, work.path(), wants(1)).await?);
    }
    if wants(2) {
        rows.extend(rate_limited(&args, work.path()).await?);
    }
    if wants(4) {
        rows.extend(memory(&args, work.path()).await?);
    }
    if let Some(log) = &args.render_log {
        rows.extend(render_rows(log)?);
    }
    if let Some(log) = &args.dynamodb_log {
        rows.extend(dynamodb_rows(log)?);
    }
    if wants(7) {
        rows.extend(lambda_rows(&args).await?);
    }
    print_table(&rows);
    Ok(())
}

fn sim_config(args: &Args, users: u32) -> SimConfig {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, users);
    cfg.as_of = args.date;
    cfg
}

/// Targets 1 and 3: the same 10,000-member instance at 100 ms a request, seatwatch then the peer.
async fn peer_comparison(args: &Args, work: &Path, with_peer: bool) -> anyhow::Result<Vec<Row>> {
    let mut cfg = sim_config(args, args.users);
    cfg.latency = Duration::from_millis(args.latency_ms);
    let sim = SimHandle::start(cfg).await?;
    let expected = sim.expected();

    let ours = seatwatch_run(args, &sim, work, expected.users).await?;
    let mut rows = vec![requests_row(&ours, expected.active_since_yesterday)];
    if with_peer {
        rows.push(peer_row(args, work, &sim, expected.users, &ours).await?);
    }
    sim.shutdown().await;
    Ok(rows)
}

/// One seatwatch collection, checked to have listed and stored every user.
struct SeatwatchRun {
    run: Measured,
    /// Members and requests as seatwatch's summary counts them.
    members: u64,
    requests: u64,
    /// Requests the simulator served during the run.
    served: u64,
}

/// Collects `sim` with seatwatch into `peer.db` and checks it listed and stored all `users`.
async fn seatwatch_run(
    args: &Args,
    sim: &SimHandle,
    work: &Path,
    users: u64,
) -> anyhow::Result<SeatwatchRun> {
    let before = sim.requests_served();
    let run = collect(args, sim, &work.join("peer.db")).await?;
    let served = sim.requests_served() - before;
    let summary = parse_summary(&run)?;
    let stored = stored_members(args, sim, &work.join("peer.db")).await?;
    check_members("seatwatch", users, &summary, stored)?;
    let members = summary["members"].as_u64().unwrap_or(0);
    let requests = summary["requests"].as_u64().unwrap_or(0);
    eprintln!(
        "seatwatch: {members} members ({stored} stored), {requests} requests ({served} served), {:.1} s, {} MB",
        run.wall.as_secs_f64(),
        run.max_rss_kb / 1024
    );
    Ok(SeatwatchRun {
        run,
        members,
        requests,
        served,
    })
}

/// Target 3: the requests one snapshot took against the bound, with every one really served.
fn requests_row(ours: &SeatwatchRun, active: u64) -> Row {
    let SeatwatchRun {
        members,
        requests,
        served,
        ..
    } = *ours;
    // Asked about: for a first snapshot the counted day is the day before; everyone active on
    // it or since (bots aside) needs one events request.
    let bound = members.div_ceil(100) + active + 10;
    Row {
        target: "3",
        measure: format!(
            "requests per snapshot ({members} members, {active} active in the window)"
        ),
        measured: format!("{requests}"),
        goal: format!("<= {bound} (= {} + {active} + 10)", members.div_ceil(100)),
        met: Some(requests <= bound && served == requests),
    }
}

/// Target 1: the python-gitlab peer asks `sim` the same question; its time against seatwatch's.
async fn peer_row(
    args: &Args,
    work: &Path,
    sim: &SimHandle,
    users: u64,
    ours: &SeatwatchRun,
) -> anyhow::Result<Row> {
    let before = sim.requests_served();
    // the same question seatwatch asks: the complete day before the snapshot date
    let window_after = args.date - Days::new(2);
    let mut peer = Command::new(&args.python);
    peer.arg(&args.peer_script)
        .arg(sim.base_url())
        .arg(tokens::ADMIN)
        .arg(window_after.to_string())
        .arg(args.date.to_string());
    eprintln!("python-gitlab peer running (sequential, several minutes)...");
    let theirs = measure(peer, work, "peer").await?;
    let served = sim.requests_served() - before;
    if !theirs.status.success() {
        bail!("the python-gitlab peer failed: {}", theirs.stderr.trim());
    }
    let peer: Value = serde_json::from_str(theirs.stdout.trim())
        .with_context(|| format!("the peer printed {:?}", theirs.stdout))?;
    let listed = peer["users"].as_u64().unwrap_or(0);
    if listed != users || peer["unique"].as_u64() != Some(listed) {
        bail!("the peer listed {peer} but the instance has {users} users");
    }
    eprintln!(
        "python-gitlab: {peer}, {served} requests served, {:.1} s, {} MB",
        theirs.wall.as_secs_f64(),
        theirs.max_rss_kb / 1024
    );
    let speedup = theirs.wall.as_secs_f64() / ours.run.wall.as_secs_f64();
    Ok(Row {
        target: "1",
        measure: format!(
            "collect {} members, {} ms/request: seatwatch (concurrency {}) vs python-gitlab",
            ours.members, args.latency_ms, args.concurrency
        ),
        measured: format!(
            "{:.1} s vs {:.1} s = {speedup:.1}x ({} vs {} requests)",
            ours.run.wall.as_secs_f64(),
            theirs.wall.as_secs_f64(),
            ours.requests,
            served
        ),
        goal: ">= 10x".into(),
        met: Some(speedup >= 10.0),
    })
}

/// Target 2: the same instance behind a 2,000 requests/minute limit.
async fn rate_limited(args: &Args, work: &Path) -> anyhow::Result<Vec<Row>> {
    let mut cfg = sim_config(args, args.users);
    cfg.latency = Duration::from_millis(args.latency_ms);
    cfg.rate_limit = Some(seatwatch_sim::Throttle::per_minute(args.rate_limit));
    let sim = SimHandle::start(cfg).await?;
    let expected = sim.expected();
    let db = work.join("limited.db");
    let run = collect(args, &sim, &db).await?;
    let summary = parse_summary(&run)?;
    let stored = stored_members(args, &sim, &db).await?;
    check_members("seatwatch (rate-limited)", expected.users, &summary, stored)?;
    let served = sim.requests_served();
    let refused = sim.responses_429();
    sim.shutdown().await;

    let floor = served as f64 / f64::from(args.rate_limit) * 60.0;
    let wall = run.wall.as_secs_f64();
    let share = refused as f64 / served as f64 * 100.0;
    eprintln!("rate-limited: {served} requests, {refused} answered 429, {wall:.1} s");
    Ok(vec![
        Row {
            target: "2",
            measure: format!(
                "wall time at {} requests/min ({served} requests)",
                args.rate_limit
            ),
            measured: format!("{wall:.1} s = {:.2} x floor ({floor:.1} s)", wall / floor),
            goal: format!("<= 1.15 x floor = {:.1} s", floor * 1.15),
            met: Some(wall <= floor * 1.15),
        },
        Row {
            target: "2",
            measure: "requests answered 429".into(),
            measured: format!("{refused} of {served} = {share:.2}%"),
            goal: "<= 1%".into(),
            met: Some(share <= 1.0),
        },
    ])
}

/// Target 4: peak RSS of the collector on a 100,000-member instance (no latency: the most
/// members in flight per second).
async fn memory(args: &Args, work: &Path) -> anyhow::Result<Vec<Row>> {
    let sim = SimHandle::start(sim_config(args, args.big_users)).await?;
    let expected = sim.expected();
    let db = work.join("big.db");
    let run = collect(args, &sim, &db).await?;
    let summary = parse_summary(&run)?;
    let stored = stored_members(args, &sim, &db).await?;
    check_members("seatwatch (100k)", expected.users, &summary, stored)?;
    sim.shutdown().await;
    let mb = run.max_rss_kb as f64 / 1024.0;
    eprintln!(
        "100k: {} members, {} requests, {:.1} s, {mb:.1} MB",
        summary["members"],
        summary["requests"],
        run.wall.as_secs_f64()
    );
    Ok(vec![Row {
        target: "4",
        measure: format!("peak RSS collecting {} members", expected.users),
        measured: format!("{mb:.1} MB ({:.1} s)", run.wall.as_secs_f64()),
        goal: "<= 64 MB".into(),
        met: Some(mb <= 64.0),
    }])
}

/// Runs `seatwatch collect` for the snapshot date into a fresh SQLite file.
async fn collect(args: &Args, sim: &SimHandle, db: &Path) -> anyhow::Result<Measured> {
    let mut cmd = Command::new(args.bin_dir.join("seatwatch"));
    cmd.arg("collect")
        .arg("--date")
        .arg(args.date.to_string())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITLAB_URL", sim.base_url())
        .env("GITLAB_TOKEN", tokens::ADMIN)
        .env("SEATWATCH_STORE", format!("sqlite:{}", db.display()))
        .env("SEATWATCH_CONCURRENCY", args.concurrency.to_string())
        .env("SEATWATCH_LOG", "warn");
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
async fn stored_members(args: &Args, sim: &SimHandle, db: &Path) -> anyhow::Result<u64> {
    let store = seatwatch::store::open(&StoreUrl::Sqlite(db.to_path_buf()), None, 400).await?;
    let base = seatwatch_gitlab::BaseUrl::parse(&sim.base_url(), false)?;
    let instance = InstanceId::new(&base.host_and_path(), None);
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
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let (wall, status, max_rss_kb) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let child = cmd
            .spawn()
            .context("cannot start the benchmarked program")?;
        let (status, rss) = wait_with_rusage(child.id())?;
        Ok::<_, anyhow::Error>((started.elapsed(), status, rss))
    })
    .await??;
    let read = |p: &Path| -> anyhow::Result<String> {
        let mut s = String::new();
        File::open(p)?.read_to_string(&mut s)?;
        Ok(s)
    };
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

/// Target 5 from `cargo bench --bench render`'s output.
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

/// Target 6 from `tests/store_dynamodb.rs`'s printed lines.
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
            target: "6",
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

/// Target 7: binary sizes and spawn-to-first-`/invocation/next`.
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
            target: "7",
            measure: format!("Lambda `{name}`: binary size"),
            measured: format!("{mb:.1} MB"),
            goal: "<= 12 MB".into(),
            met: Some(mb <= 12.0),
        });
        rows.push(Row {
            target: "7",
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
