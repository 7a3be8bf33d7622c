//! Issue 7 §2: a canary token must never come out of the program. The real CLI binary runs
//! `check`, `collect`, `report`, `run` and `demo` with a distinctive token, at `trace` log level
//! (every crate: reqwest, hyper, rustls, the AWS SDK), through every token source (variable, file,
//! Secrets Manager on moto), on the happy path and on failing ones (GitLab faults, the canary
//! revoked, a token that is not a valid header value, a malformed secret). Every byte it printed
//! and every file it left (site, SQLite database and its journal) is searched for the canary and
//! for a fragment of it: 0 hits.

use std::path::{Path, PathBuf};

use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, RetryAfterMode, SimHandle, tokens};
use seatwatch_testkit::{cli, gitlab};

/// Obviously fake, and distinctive enough that any hit is this token.
const CANARY: &str = "glpat-fake-canary-Q7xZ3kP9wM2vL8nR-0000";
/// A fragment that would still show if something printed part of the token.
const FRAGMENT: &str = "Q7xZ3kP9";

struct Output {
    what: String,
    code: Option<i32>,
    text: String,
}

struct Canary {
    sim: SimHandle,
    dir: tempfile::TempDir,
    outputs: Vec<Output>,
}

impl Canary {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the CLI with a clean environment plus `env`, logging everything at trace level.
    async fn run(&mut self, what: &str, args: &[&str], env: &[(&str, String)]) -> Option<i32> {
        let mut cmd = cli::async_command(env!("CARGO_BIN_EXE_seatwatch"));
        cmd.env("HOME", self.dir.path())
            .env("SEATWATCH_LOG", "trace")
            .env("RUST_BACKTRACE", "full")
            .env("GITLAB_URL", self.sim.base_url())
            .env(
                "SEATWATCH_STORE",
                format!("sqlite:{}", self.path("seatwatch.db").display()),
            )
            .env("SEATWATCH_SITE", self.path("site"))
            .env("SEATWATCH_MAX_RETRY_SECS", "2")
            .env("SEATWATCH_REQUEST_TIMEOUT", "2")
            .current_dir(self.dir.path())
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.expect("the CLI runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(
            !text.is_empty(),
            "{what}: printed nothing, so there was nothing to search"
        );
        self.outputs.push(Output {
            what: what.to_string(),
            code: out.status.code(),
            text,
        });
        out.status.code()
    }
}

fn hits(haystack: &[u8]) -> usize {
    let count = |needle: &[u8]| {
        haystack
            .windows(needle.len())
            .filter(|w| w.eq_ignore_ascii_case(needle))
            .count()
    };
    count(CANARY.as_bytes()) + count(FRAGMENT.as_bytes())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_canary_token_appears_in_no_output_and_no_file() {
    let date = "2026-06-30";
    let sim = gitlab::start_on(Flavour::SelfManaged, 300, date.parse().expect("date")).await;
    sim.add_token(CANARY, tokens::ADMIN);
    let mut c = Canary {
        sim,
        dir: tempfile::tempdir().expect("temp dir"),
        outputs: Vec::new(),
    };
    let token_file = c.path("token-file");
    std::fs::write(&token_file, format!("{CANARY}\n")).expect("token file");
    let by_env = [("GITLAB_TOKEN", CANARY.to_string())];
    let by_file: [(&str, String); 0] = [];

    // The happy path, every command.
    assert_eq!(c.run("check", &["check"], &by_env).await, Some(0));
    assert_eq!(
        c.run("check --json", &["check", "--json"], &by_env).await,
        Some(0)
    );
    assert_eq!(
        c.run("collect", &["collect", "--date", date], &by_env)
            .await,
        Some(0)
    );
    assert_eq!(c.run("report", &["report"], &by_env).await, Some(0));
    assert_eq!(
        c.run("run", &["run", "--date", date], &by_env).await,
        Some(0)
    );
    let file_flag = ["--token-file", token_file.to_str().expect("utf-8")];
    let mut args = vec!["collect", "--date", date];
    args.extend_from_slice(&file_flag);
    assert_eq!(
        c.run("collect --token-file", &args, &by_file).await,
        Some(0)
    );
    let demo_out = c.path("demo");
    assert_eq!(
        c.run(
            "demo",
            &[
                "demo",
                "--users",
                "80",
                "--days",
                "3",
                "--out",
                demo_out.to_str().expect("utf-8")
            ],
            &by_env,
        )
        .await,
        Some(0)
    );

    // GitLab misbehaving: retries, give-ups and body errors are logged and reported.
    c.sim.set_faults(Faults {
        status_burst: Some((503, 50)),
        retry_after: RetryAfterMode::NoHeaders,
        ..Faults::default()
    });
    assert_ne!(
        c.run("check under 503s", &["check"], &by_env).await,
        Some(0)
    );
    assert_ne!(
        c.run("collect under 503s", &["collect", "--date", date], &by_env)
            .await,
        Some(0)
    );
    c.sim.set_faults(Faults {
        malformed_json: 5,
        truncated_body: 5,
        drop_connections: 2,
        ..Faults::default()
    });
    let _ = c
        .run(
            "collect with bad bodies",
            &["collect", "--date", date],
            &by_env,
        )
        .await;
    c.sim.set_faults(Faults::default());

    // A token that cannot be a header value: the error must not quote it.
    let bad = [("GITLAB_TOKEN", format!("{CANARY}\u{7f}x y"))];
    assert_ne!(
        c.run(
            "collect, invalid header token",
            &["collect", "--date", date],
            &bad
        )
        .await,
        Some(0)
    );
    assert_ne!(
        c.run("check, invalid header token", &["check"], &bad).await,
        Some(0)
    );

    // Secrets Manager (moto): a JSON secret, then one that is not valid JSON.
    let moto = seatwatch_testkit::moto::start();
    let aws = seatwatch_testkit::moto::sdk_config(&moto).await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let good = seatwatch_testkit::moto::unique("canary-secret");
    let broken = seatwatch_testkit::moto::unique("canary-broken");
    sm.create_secret()
        .name(&good)
        .secret_string(format!("{{\"token\": \"{CANARY}\"}}"))
        .send()
        .await
        .expect("secret");
    sm.create_secret()
        .name(&broken)
        .secret_string(format!("{{\"token\": \"{CANARY}\", "))
        .send()
        .await
        .expect("secret");
    let aws_env: Vec<(&str, String)> = seatwatch_testkit::moto::aws_env(&moto);
    assert_eq!(
        c.run(
            "collect --secret-id",
            &["collect", "--date", date, "--secret-id", &good],
            &aws_env
        )
        .await,
        Some(0)
    );
    assert_ne!(
        c.run(
            "check --secret-id (malformed secret)",
            &["check", "--secret-id", &broken],
            &aws_env
        )
        .await,
        Some(0)
    );
    assert_ne!(
        c.run(
            "collect --secret-id (malformed secret)",
            &["collect", "--date", date, "--secret-id", &broken],
            &aws_env
        )
        .await,
        Some(0)
    );

    // The canary revoked: every command fails, saying so.
    c.sim.revoke_token(CANARY);
    assert_ne!(c.run("check, revoked", &["check"], &by_env).await, Some(0));
    assert_ne!(
        c.run("collect, revoked", &["collect", "--date", date], &by_env)
            .await,
        Some(0)
    );
    assert_ne!(
        c.run("run, revoked", &["run", "--date", date], &by_env)
            .await,
        Some(0)
    );
    let revoked = c.outputs.last().expect("ran").text.to_lowercase();
    assert!(
        revoked.contains("revoked"),
        "the reason names the cause: {revoked}"
    );

    // Search everything.
    let mut leaks = Vec::new();
    for o in &c.outputs {
        let n = hits(o.text.as_bytes());
        if n > 0 {
            leaks.push(format!("{} (exit {:?}): {n} hit(s)", o.what, o.code));
        }
    }
    let mut files = Vec::new();
    files_under(c.dir.path(), &mut files);
    let mut searched = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("readable file");
        if path == &token_file {
            // The control: the scanner does find the canary where it really is.
            assert!(
                hits(&bytes) >= 1,
                "the scanner missed the canary in its own file"
            );
            continue;
        }
        searched += 1;
        let n = hits(&bytes);
        if n > 0 {
            leaks.push(format!("{}: {n} hit(s)", path.display()));
        }
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for expected in ["seatwatch.db", "index.html", "report.json", "unused.csv"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} was not produced, so it was not searched ({names:?})"
        );
    }
    let log_bytes: usize = c.outputs.iter().map(|o| o.text.len()).sum();
    println!(
        "token canary: {} runs, {log_bytes} bytes of output, {searched} files searched: {} leak(s)",
        c.outputs.len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "the canary token leaked:\n{}",
        leaks.join("\n")
    );
}
