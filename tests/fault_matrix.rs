//! Issue 7 §1: the fault matrix, end to end. Each fault hits a `collect` + `report` of day 2 after
//! a fault-free day 1 was committed and published. The rule every row must keep: either day 2's
//! snapshot is complete and equal to a fault-free run of day 2, or the run fails with a one-line
//! reason and day 1's report and history are untouched (then a fault-free re-run of day 2 must
//! still give exactly the fault-free members: nothing the failed run left behind may leak in).
//!
//! GitLab faults come from the simulator; AWS faults (unprocessed items, throttling, a failed S3
//! upload) from a proxy in front of moto (`seatwatch_testkit::proxy`), driving the real CLI binary. Each
//! test prints its part of the table (fault, outcome, members lost, members duplicated); run with
//! `--nocapture` to see it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use seatwatch::app::App;
use seatwatch::collect::{self, CollectOptions};
use seatwatch::config::RawConfig;
use seatwatch::publish::s3_client;
use seatwatch::store::{CarriedForward, DynamoStore, RunId, SqliteStore, StoreError};
use seatwatch::store::{SnapshotReader, SnapshotWriter};
use seatwatch_core::duo::DuoHolder;
use seatwatch_core::snapshot::{DaySummary, InstanceId, Member};
use seatwatch_gitlab::BaseUrl;
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, RetryAfterMode, SimHandle, tokens};
use seatwatch_testkit::proxy::{Fault, Proxy};
use seatwatch_testkit::store::{RETENTION_DAYS, dynamo, ready_dynamo};
use seatwatch_testkit::{cli, gitlab};
use tokio::sync::Notify;

/// More than one 2,000-member part, so part boundaries and checkpoints happen.
const USERS: u32 = 2100;

fn day1() -> NaiveDate {
    "2026-06-29".parse().expect("valid date")
}
fn day2() -> NaiveDate {
    "2026-06-30".parse().expect("valid date")
}
/// The report clock: fixed, so re-rendering unchanged data gives byte-identical files.
fn report_time() -> DateTime<Utc> {
    day2().and_hms_opt(7, 0, 0).expect("valid time").and_utc()
}

/// The simulator, anchored on day 2 (so both days describe one population), showing day 1.
async fn start_sim() -> Arc<SimHandle> {
    let sim = gitlab::start_on(Flavour::SelfManaged, USERS, day2()).await;
    sim.set_as_of(day1());
    Arc::new(sim)
}

// ---- the table ------------------------------------------------------------------------------

struct Row {
    fault: &'static str,
    outcome: String,
    lost: usize,
    duplicated: usize,
}

impl Row {
    /// The row of a day 2 that must equal the fault-free `reference`: asserts that it does (`what`
    /// says which run it was), and counts what was lost or duplicated for the table.
    fn equal_to_reference(
        fault: &'static str,
        outcome: String,
        reference: &[Member],
        got: &[Member],
        what: &str,
    ) -> Row {
        let (lost, duplicated) = lost_and_duplicated(reference, got);
        assert!(got == reference, "{fault}: {what}");
        Row {
            fault,
            outcome,
            lost,
            duplicated,
        }
    }
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}\n| fault | outcome | lost | duplicated |\n| --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.fault, r.outcome, r.lost, r.duplicated
        );
    }
}

/// Members of `reference` missing from `got`, and entries of `got` beyond one per id.
fn lost_and_duplicated(reference: &[Member], got: &[Member]) -> (usize, usize) {
    let ids: HashSet<u64> = got.iter().map(|m| m.id).collect();
    let lost = reference.iter().filter(|m| !ids.contains(&m.id)).count();
    (lost, got.len() - ids.len())
}

fn sorted(mut members: Vec<Member>) -> Vec<Member> {
    members.sort_by_key(|m| m.id);
    members
}

/// Every file under `dir`, by relative path.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).expect("readable site file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn one_line(reason: &str) -> String {
    assert!(
        !reason.trim().is_empty() && !reason.trim().contains('\n'),
        "the failure reason is not one line: {reason:?}"
    );
    let mut short: String = reason.chars().take(110).collect();
    if short.len() < reason.len() {
        short.push('…');
    }
    short.replace('|', "/")
}

// ---- GitLab faults, through `App` on SQLite and a folder --------------------------------------

/// One case's world: its own simulator, store and site, with day 1 committed and published.
struct Case {
    sim: Arc<SimHandle>,
    _dir: tempfile::TempDir,
    db: PathBuf,
    site: PathBuf,
    token_file: PathBuf,
    site_day1: BTreeMap<String, Vec<u8>>,
    history_day1: Vec<DaySummary>,
    members_day1: Vec<Member>,
}

impl Case {
    async fn new() -> Case {
        let sim = start_sim().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("seatwatch.db");
        let site = dir.path().join("site");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, tokens::ADMIN).expect("token file");
        let mut case = Case {
            sim,
            _dir: dir,
            db,
            site,
            token_file,
            site_day1: BTreeMap::new(),
            history_day1: Vec::new(),
            members_day1: Vec::new(),
        };
        let app = case.app().await;
        app.collect(day1()).await.expect("fault-free day 1");
        app.report(report_time()).await.expect("day 1 report");
        case.site_day1 = files_under(&case.site);
        case.history_day1 = case.history().await;
        case.members_day1 = case.members(day1()).await;
        case.sim.set_as_of(day2());
        case
    }

    /// An `App` as the CLI builds it, with short retry budgets so that faults resolve fast.
    async fn app(&self) -> App {
        let url = self.sim.base_url();
        let store = format!("sqlite:{}", self.db.display());
        let config = RawConfig {
            gitlab_url: Some(url),
            token_file: Some(self.token_file.clone()),
            store: Some(store),
            site: Some(self.site.display().to_string()),
            request_timeout_secs: Some("1".into()),
            max_retry_secs: Some("8".into()),
            ..RawConfig::default()
        }
        .parse()
        .expect("valid settings");
        App::new(config).await.expect("app")
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db, RETENTION_DAYS).expect("store opens")
    }

    fn instance(&self) -> InstanceId {
        let base = BaseUrl::parse(&self.sim.base_url(), false).expect("sim URL");
        InstanceId::new(&base.host_and_path(), None)
    }

    /// Member parts stored for day 2, committed or not: the raw rows, below the store's API.
    fn parts_on_disk(&self) -> i64 {
        let db = rusqlite::Connection::open(&self.db).expect("open the SQLite file");
        db.query_row(
            "SELECT count(*) FROM member_parts WHERE date = ?1",
            [day2().to_string()],
            |row| row.get(0),
        )
        .expect("count parts")
    }

    async fn history(&self) -> Vec<DaySummary> {
        self.store()
            .days(&self.instance(), day1(), day2())
            .await
            .expect("history")
    }

    async fn members(&self, date: NaiveDate) -> Vec<Member> {
        sorted(
            self.store()
                .members(&self.instance(), date)
                .await
                .expect("members"),
        )
    }

    /// After a failed run: day 1's history and members are as they were, and rendering the
    /// report again gives day 1's site byte for byte.
    async fn assert_day1_untouched(&self, fault: &str) {
        assert_eq!(
            self.history().await,
            self.history_day1,
            "{fault}: history changed"
        );
        assert_eq!(
            self.members(day1()).await,
            self.members_day1,
            "{fault}: day 1 members changed"
        );
        assert_eq!(
            files_under(&self.site),
            self.site_day1,
            "{fault}: the site changed"
        );
        let again = self.app().await;
        let summary = again.report(report_time()).await.expect("report day 1");
        assert_eq!(summary.snapshot_date, day1(), "{fault}");
        assert!(
            files_under(&self.site) == self.site_day1,
            "{fault}: the re-rendered report differs from day 1's"
        );
    }
}

/// Day 2 as a fault-free run sees it, after a fault-free day 1.
struct Reference {
    members: Vec<Member>,
    requests: u64,
}

async fn reference() -> Reference {
    let case = Case::new().await;
    let app = case.app().await;
    let summary = app.collect(day2()).await.expect("fault-free day 2");
    app.report(report_time()).await.expect("report");
    let members = case.members(day2()).await;
    assert_eq!(members.len(), summary.members as usize);
    assert!(members.len() > 2000, "more than one part");
    Reference {
        members,
        requests: summary.requests,
    }
}

/// Sets `faults` once the simulator has served `after` requests, so they land mid-run (in the
/// member listing and the events) rather than on the first calls. Watches the counter, no timers.
fn arm_after(
    sim: &Arc<SimHandle>,
    after: u64,
    faults: Faults,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicBool>) {
    let sim = Arc::clone(sim);
    let armed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&armed);
    let task = tokio::spawn(async move {
        while sim.requests_served() < after {
            tokio::task::yield_now().await;
        }
        sim.set_faults(faults);
        flag.store(true, Ordering::SeqCst);
    });
    (task, armed)
}

/// Runs day 2 (collect, then report on success) under a fault the app's retries should absorb,
/// or that should fail the run cleanly; returns the row.
async fn run_case(
    fault: &'static str,
    reference: &Reference,
    case: &Case,
    app: &App,
    armed: Option<&AtomicBool>,
) -> Row {
    let result = app.collect(day2()).await;
    if let Some(armed) = armed {
        assert!(
            armed.load(Ordering::SeqCst),
            "{fault}: the run finished before the fault was armed"
        );
    }
    case.sim.set_faults(Faults::default());
    match result {
        Ok(summary) => {
            app.report(report_time())
                .await
                .expect("report after collect");
            let row = Row::equal_to_reference(
                fault,
                format!(
                    "complete, equal to fault-free ({} requests vs {})",
                    summary.requests, reference.requests
                ),
                &reference.members,
                &case.members(day2()).await,
                "day 2 differs from a fault-free run",
            );
            assert_eq!(case.history().await.len(), 2, "{fault}");
            row
        }
        Err(e) => {
            let reason = one_line(&e.to_string());
            case.assert_day1_untouched(fault).await;
            // Recovery: the fault is gone (a refused token replaced by a good one), the same day
            // runs again, and nothing the failed run left behind leaks in.
            std::fs::write(&case.token_file, tokens::ADMIN).expect("token file");
            let fresh = case.app().await;
            fresh.collect(day2()).await.expect("fault-free re-run");
            Row::equal_to_reference(
                fault,
                format!("fails: \"{reason}\"; day 1 untouched; re-run complete"),
                &reference.members,
                &case.members(day2()).await,
                "re-run differs",
            )
        }
    }
}

async fn transient(
    fault: &'static str,
    reference: &Reference,
    faults: Faults,
    expect_complete: bool,
) -> Row {
    let case = Case::new().await;
    let app = case.app().await;
    let (task, armed) = arm_after(&case.sim, case.sim.requests_served() + 6, faults);
    let row = run_case(fault, reference, &case, &app, Some(&armed)).await;
    task.abort();
    assert_eq!(
        row.outcome.starts_with("complete"),
        expect_complete,
        "{fault}: {}",
        row.outcome
    );
    if expect_complete {
        let more = row
            .outcome
            .split('(')
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .expect("request count");
        assert!(
            more > reference.requests,
            "{fault}: no retry happened, so the fault never fired"
        );
    }
    row
}

fn burst(status: u16, n: u32, retry_after: RetryAfterMode) -> Faults {
    Faults {
        retry_after,
        ..gitlab::status_burst(status, n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gitlab_faults_leave_a_complete_snapshot_or_day_one_untouched() {
    let reference = reference().await;
    let mut rows = Vec::new();

    // (the row's name, the fault, whether the run must still complete)
    let transients: Vec<(&'static str, Faults, bool)> = vec![
        (
            "429 with Retry-After",
            burst(429, 2, RetryAfterMode::Seconds(1)),
            true,
        ),
        (
            "429 with only RateLimit-Reset",
            burst(429, 2, RetryAfterMode::ResetOnly),
            true,
        ),
        (
            "429 with no headers",
            burst(429, 2, RetryAfterMode::NoHeaders),
            true,
        ),
        (
            "500 burst (3)",
            burst(500, 3, RetryAfterMode::NoHeaders),
            true,
        ),
        (
            "502 burst (3)",
            burst(502, 3, RetryAfterMode::NoHeaders),
            true,
        ),
        (
            "503 burst (3)",
            burst(503, 3, RetryAfterMode::NoHeaders),
            true,
        ),
        (
            "503 outlasting the retry budget",
            burst(503, 10_000, RetryAfterMode::NoHeaders),
            false,
        ),
        (
            "request timeout (3 s response, 1 s limit)",
            gitlab::slow_answers(std::time::Duration::from_secs(3), 1),
            true,
        ),
        ("connection reset (2)", gitlab::dropped_connections(2), true),
        // a cut or garbled body is usually a network fault: a short burst is retried through
        ("malformed JSON (2)", gitlab::malformed_json(2), true),
        ("truncated body (2)", gitlab::truncated_body(2), true),
        (
            "malformed JSON on every answer",
            gitlab::malformed_json(10_000),
            false,
        ),
    ];
    for (fault, faults, expect_complete) in transients {
        rows.push(transient(fault, &reference, faults, expect_complete).await);
    }
    rows.push(token_revoked_mid_run(&reference).await);
    rows.push(refused_token("expired token", tokens::EXPIRED, &reference).await);
    rows.push(
        refused_token(
            "under-scoped token (read_user only)",
            tokens::READ_USER_ONLY,
            &reference,
        )
        .await,
    );
    rows.push(killed_between_parts_and_commit(&reference).await);
    rows.push(cli_process_sigkilled(&reference).await);
    rows.push(lambda_deadline(&reference).await);

    print_table("GitLab faults (SQLite store, folder site)", &rows);
    for r in &rows {
        assert_eq!((r.lost, r.duplicated), (0, 0), "{}", r.fault);
    }
}

/// The token is revoked once the run is under way and the source then holds a new one: the app
/// re-reads the source after the 401 and starts the day again.
async fn token_revoked_mid_run(reference: &Reference) -> Row {
    const FIRST: &str = "glpat-fake-matrix-first-0000";
    const SECOND: &str = "glpat-fake-matrix-second-0000";
    let case = Case::new().await;
    case.sim.add_token(FIRST, tokens::ADMIN);
    case.sim.add_token(SECOND, tokens::ADMIN);
    std::fs::write(&case.token_file, FIRST).expect("token file");
    let app = case.app().await;
    let sim = Arc::clone(&case.sim);
    let token_file = case.token_file.clone();
    let after = sim.requests_served() + 10;
    let armed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&armed);
    let task = tokio::spawn(async move {
        while sim.requests_served() < after {
            tokio::task::yield_now().await;
        }
        // The new token is in the source before the old one stops working, as in a rotation.
        std::fs::write(&token_file, SECOND).expect("token file");
        sim.revoke_token(FIRST);
        flag.store(true, Ordering::SeqCst);
    });
    let served_before = case.sim.requests_served();
    let row = run_case(
        "token revoked mid-run (source holds a new one)",
        reference,
        &case,
        &app,
        Some(&armed),
    )
    .await;
    task.abort();
    assert!(row.outcome.starts_with("complete"), "{}", row.outcome);
    // The refused run was abandoned and the day started again with the new token.
    let served = case.sim.requests_served() - served_before;
    assert!(
        served >= reference.requests + 10,
        "{served} requests: the run was never restarted, so the revocation was never seen"
    );
    row
}

async fn refused_token(fault: &'static str, token: &str, reference: &Reference) -> Row {
    let case = Case::new().await;
    std::fs::write(&case.token_file, token).expect("token file");
    let app = case.app().await;
    let row = run_case(fault, reference, &case, &app, None).await;
    assert!(row.outcome.starts_with("fails"), "{}", row.outcome);
    assert!(!row.outcome.contains(token), "token in the reason");
    row
}

/// A store (collect's part of one: it provisions nothing) that stops for good after its first part, as a process killed between the member
/// parts and the commit: the run's future is dropped there, exactly where a kill would cut it.
struct KilledAfterFirstPart {
    inner: SqliteStore,
    parts_written: Notify,
}

#[async_trait]
impl SnapshotWriter for KilledAfterFirstPart {
    async fn put_members(&self, run: &RunId, part: u32, m: &[Member]) -> Result<(), StoreError> {
        self.inner.put_members(run, part, m).await?;
        self.parts_written.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the run is killed here")
    }
    async fn commit_day(&self, run: &RunId, parts: u32, s: &DaySummary) -> Result<(), StoreError> {
        self.inner.commit_day(run, parts, s).await
    }
    async fn save_checkpoint(
        &self,
        i: &InstanceId,
        d: NaiveDate,
        s: &str,
    ) -> Result<(), StoreError> {
        self.inner.save_checkpoint(i, d, s).await
    }
    async fn load_checkpoint(
        &self,
        i: &InstanceId,
        d: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        self.inner.load_checkpoint(i, d).await
    }
    async fn clear_checkpoint(&self, i: &InstanceId, d: NaiveDate) -> Result<(), StoreError> {
        self.inner.clear_checkpoint(i, d).await
    }
    async fn put_duo_holders(&self, run: &RunId, h: &[DuoHolder]) -> Result<(), StoreError> {
        self.inner.put_duo_holders(run, h).await
    }
    async fn carried_forward(
        &self,
        i: &InstanceId,
        d: NaiveDate,
    ) -> Result<std::collections::HashMap<u64, CarriedForward>, StoreError> {
        self.inner.carried_forward(i, d).await
    }
}

#[async_trait]
impl SnapshotReader for KilledAfterFirstPart {
    async fn latest_day(&self, i: &InstanceId) -> Result<Option<DaySummary>, StoreError> {
        self.inner.latest_day(i).await
    }
    async fn days(
        &self,
        i: &InstanceId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        self.inner.days(i, from, to).await
    }
    async fn members(&self, i: &InstanceId, d: NaiveDate) -> Result<Vec<Member>, StoreError> {
        self.inner.members(i, d).await
    }
    async fn instances(&self) -> Result<Vec<InstanceId>, StoreError> {
        self.inner.instances().await
    }
    async fn duo_holders(
        &self,
        i: &InstanceId,
        d: NaiveDate,
    ) -> Result<Vec<DuoHolder>, StoreError> {
        self.inner.duo_holders(i, d).await
    }
}

async fn killed_between_parts_and_commit(reference: &Reference) -> Row {
    let fault = "process killed between member parts and commit";
    let case = Case::new().await;
    let store = Arc::new(KilledAfterFirstPart {
        inner: case.store(),
        parts_written: Notify::new(),
    });
    let client = gitlab::client(&case.sim, tokens::ADMIN);
    let run = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let opts = CollectOptions::new(day2());
            let _ = collect::collect(&client, store.as_ref(), &opts, report_time()).await;
        })
    };
    store.parts_written.notified().await;
    run.abort();
    assert!(run.await.expect_err("killed").is_cancelled());
    // The part is on disk, uncommitted: readers still see day 1.
    after_the_kill(
        fault,
        &case,
        reference,
        "no part was written before the kill",
    )
    .await
}

/// The real process, killed with SIGKILL late in its run (after its first part is written, while
/// the last page's events are being fetched): nothing of day 2 is visible, and the next run
/// commits exactly the fault-free members.
async fn cli_process_sigkilled(reference: &Reference) -> Row {
    let fault = "CLI process SIGKILLed late in the run";
    let case = Case::new().await;
    // Slow answers from here on keep the run's tail (the last page and its events) far longer
    // than it takes to see the first part on disk and kill, whatever the machine's load.
    case.sim.set_faults(gitlab::slow_answers(
        std::time::Duration::from_millis(40),
        u32::MAX,
    ));
    let mut child = cli::async_command(env!("CARGO_BIN_EXE_seatwatch"))
        .env("GITLAB_URL", case.sim.base_url())
        .env("GITLAB_TOKEN", tokens::ADMIN)
        .env("SEATWATCH_STORE", format!("sqlite:{}", case.db.display()))
        .env("SEATWATCH_SITE", &case.site)
        .args(["collect", "--date", &day2().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the CLI starts");
    // Watch the store: kill as soon as the first member part is on disk (a part is written only
    // at a part boundary, so this is after it and before the commit).
    while case.parts_on_disk() < 1 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{fault}: the run ended ({status}) before it could be killed");
        }
        tokio::task::yield_now().await;
    }
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("reaped");
    assert!(!status.success(), "{fault}: the process was not killed");
    after_the_kill(
        fault,
        &case,
        reference,
        "killed before any part was written",
    )
    .await
}

/// After a run was killed between its member parts and its commit: a part is on disk
/// (`no_part` says what it means if none is), day 1 is untouched, and the next run commits
/// exactly the fault-free members.
async fn after_the_kill(
    fault: &'static str,
    case: &Case,
    reference: &Reference,
    no_part: &str,
) -> Row {
    let parts = case.parts_on_disk();
    assert!(parts >= 1, "{fault}: {no_part}");
    case.assert_day1_untouched(fault).await;
    let app = case.app().await;
    app.collect(day2()).await.expect("the next run");
    Row::equal_to_reference(
        fault,
        format!(
            "{parts} uncommitted part(s) on disk, nothing visible; day 1 untouched; next run complete"
        ),
        &reference.members,
        &case.members(day2()).await,
        "re-run differs",
    )
}

/// The Lambda deadline: every invocation starts inside the reserve, so each one stops with a
/// checkpoint after a part; the report in between still shows day 1; the last one commits.
async fn lambda_deadline(reference: &Reference) -> Row {
    let fault = "Lambda deadline reached";
    let case = Case::new().await;
    let app = case.app().await;
    let mut invocations = 0;
    loop {
        invocations += 1;
        let outcome = app
            .collect_until(day2(), Some(Instant::now()))
            .await
            .expect("each invocation succeeds");
        if outcome.is_committed() {
            break;
        }
        case.assert_day1_untouched(fault).await;
        assert!(invocations < 20, "never finished");
    }
    assert!(invocations >= 2, "the deadline never stopped a run");
    app.report(report_time()).await.expect("report");
    Row::equal_to_reference(
        fault,
        format!("checkpointed, day 1 shown meanwhile; complete after {invocations} invocations"),
        &reference.members,
        &case.members(day2()).await,
        "continued run differs",
    )
}

// ---- AWS faults: the CLI on DynamoDB and S3 (moto) behind the fault proxy ---------------------

struct AwsCase {
    moto: seatwatch_testkit::moto::Moto,
    proxy: Proxy,
    sim: Arc<SimHandle>,
    table: String,
    bucket: String,
    aws: aws_config::SdkConfig,
    site_day1: BTreeMap<String, Vec<u8>>,
    history_day1: Vec<DaySummary>,
}

struct CliRun {
    ok: bool,
    stderr: String,
}

impl AwsCase {
    async fn new() -> AwsCase {
        let moto = seatwatch_testkit::moto::start();
        let aws = seatwatch_testkit::moto::sdk_config(&moto).await;
        let table = seatwatch_testkit::moto::unique("matrix");
        ready_dynamo(&aws, &table, RETENTION_DAYS).await;
        let bucket = seatwatch_testkit::moto::new_bucket(&s3_client(&aws), "matrix-site").await;
        let proxy = Proxy::start(&moto, Fault::None).await;
        let mut case = AwsCase {
            moto,
            proxy,
            sim: start_sim().await,
            table,
            bucket,
            aws,
            site_day1: BTreeMap::new(),
            history_day1: Vec::new(),
        };
        let run = case.run(day1()).await;
        assert!(run.ok, "fault-free day 1: {}", run.stderr);
        case.site_day1 = case.site().await;
        case.history_day1 = case.history().await;
        case.sim.set_as_of(day2());
        case
    }

    /// `seatwatch run --date D` through the proxy.
    async fn run(&self, date: NaiveDate) -> CliRun {
        let mut cmd = cli::async_command(env!("CARGO_BIN_EXE_seatwatch"));
        cmd.env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .envs(seatwatch_testkit::moto::aws_env(&self.moto))
            .env("AWS_ENDPOINT_URL", &self.proxy.endpoint)
            .env("GITLAB_URL", self.sim.base_url())
            .env("GITLAB_TOKEN", tokens::ADMIN)
            .env("SEATWATCH_STORE", format!("dynamodb:{}", self.table))
            .env("SEATWATCH_SITE", format!("s3://{}/site", self.bucket))
            .args(["run", "--date", &date.to_string()]);
        let out = cmd.output().await.expect("the CLI runs");
        CliRun {
            ok: out.status.success(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn store(&self) -> DynamoStore {
        dynamo(&self.aws, &self.table, RETENTION_DAYS)
    }

    fn instance(&self) -> InstanceId {
        let base = BaseUrl::parse(&self.sim.base_url(), false).expect("sim URL");
        InstanceId::new(&base.host_and_path(), None)
    }

    async fn history(&self) -> Vec<DaySummary> {
        self.store()
            .days(&self.instance(), day1(), day2())
            .await
            .expect("history")
    }

    async fn members(&self, date: NaiveDate) -> Vec<Member> {
        sorted(
            self.store()
                .members(&self.instance(), date)
                .await
                .expect("members"),
        )
    }

    /// Every object of the bucket, read from moto directly.
    async fn site(&self) -> BTreeMap<String, Vec<u8>> {
        seatwatch_testkit::moto::bucket_contents(&s3_client(&self.aws), &self.bucket).await
    }

    /// The failed run's last stderr line (the CLI's `error: …`), checked to be one line.
    fn reason(stderr: &str) -> String {
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error:` line in {stderr}"));
        one_line(line.trim_start_matches("error: "))
    }
}

/// Runs day 2 under `fault`; `proved` says whether the proxy really injected it.
async fn aws_case(
    name: &'static str,
    fault: Fault,
    reference: &[Member],
    proved: impl Fn(&Proxy) -> bool,
) -> Row {
    let case = AwsCase::new().await;
    case.proxy.set_fault(fault);
    let run = case.run(day2()).await;
    case.proxy.set_fault(Fault::None);
    assert!(
        proved(&case.proxy),
        "{name}: the proxy never injected the fault"
    );
    if run.ok {
        let row = Row::equal_to_reference(
            name,
            "complete, equal to fault-free".into(),
            reference,
            &case.members(day2()).await,
            "day 2 differs from a fault-free run",
        );
        assert_ne!(case.site().await, case.site_day1, "{name}: not published");
        row
    } else {
        let reason = AwsCase::reason(&run.stderr);
        assert_eq!(
            case.site().await,
            case.site_day1,
            "{name}: the site changed"
        );
        let history = case.history().await;
        let committed = history.len() == 2;
        if !committed {
            assert_eq!(history, case.history_day1, "{name}: history changed");
        }
        let rerun = case.run(day2()).await;
        assert!(rerun.ok, "{name}: re-run: {}", rerun.stderr);
        assert_ne!(
            case.site().await,
            case.site_day1,
            "{name}: re-run did not publish"
        );
        let outcome = if committed {
            format!(
                "snapshot complete; report fails: \"{reason}\"; site untouched; re-run publishes"
            )
        } else {
            format!("fails: \"{reason}\"; day 1 untouched; re-run complete")
        };
        Row::equal_to_reference(
            name,
            outcome,
            reference,
            &case.members(day2()).await,
            "re-run differs",
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_faults_leave_a_complete_snapshot_or_day_one_untouched() {
    // The fault-free day 2 (members do not depend on the store: SQLite gives the same).
    let reference = reference().await.members;
    let handed_back = |p: &Proxy| p.counters().handed_back.load(Ordering::SeqCst) > 0;
    let throttled = |p: &Proxy| p.counters().throttled.load(Ordering::SeqCst) > 0;
    let rows = vec![
        aws_case(
            "DynamoDB UnprocessedItems (3 batch calls write nothing)",
            Fault::HandBackBatches(3),
            &reference,
            handed_back,
        )
        .await,
        aws_case(
            "DynamoDB UnprocessedItems that never drain",
            Fault::HandBackForever,
            &reference,
            handed_back,
        )
        .await,
        aws_case(
            "DynamoDB throttling (2 batch calls)",
            Fault::ThrottleBatches(2),
            &reference,
            throttled,
        )
        .await,
        aws_case(
            "DynamoDB throttling on every write",
            Fault::ThrottleForever,
            &reference,
            throttled,
        )
        .await,
        aws_case("S3 put failure", Fault::FailS3Puts, &reference, |p| {
            p.counters().s3_puts_failed.load(Ordering::SeqCst) > 0
        })
        .await,
    ];
    print_table("AWS faults (CLI on DynamoDB + S3 via moto)", &rows);
    for r in &rows {
        assert_eq!((r.lost, r.duplicated), (0, 0), "{}", r.fault);
    }
}
