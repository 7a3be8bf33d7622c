//! `seatwatch check` end to end: the real binary against the simulated GitLab over HTTP, for every
//! token behaviour, both flavours, the URL rules and the faults a pre-flight check must survive.

use std::process::Output;

use chrono::Utc;
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, LicenceMode, RetryAfterMode, SimConfig, SimHandle, tokens};
use seatwatch_testkit::{cli, gitlab};
use serde_json::Value;

const NAMES: [&str; 11] = [
    "url",
    "reachable",
    "tls",
    "token",
    "scopes",
    "expiry",
    "identity",
    "seats",
    "members",
    "duo",
    "rate_limit",
];

/// A simulator whose clock is today's: `check` judges expiry against the real clock.
fn today(flavour: Flavour, users: u32) -> SimConfig {
    gitlab::config_on(flavour, users, Utc::now().date_naive())
}

async fn sim(flavour: Flavour) -> SimHandle {
    gitlab::start(today(flavour, 120)).await
}

/// Runs the binary with a clean environment: only what the test gives it.
async fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = cli::async_command(env!("CARGO_BIN_EXE_seatwatch"));
    cmd.env("HOME", std::env::temp_dir()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("seatwatch runs")
}

async fn check_json(env: &[(&str, &str)]) -> (i32, Value, String) {
    let out = run(env, &["check", "--json"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check --json printed no JSON ({e}):\n{stdout}\n{stderr}"));
    (
        out.status.code().expect("exit code"),
        doc,
        format!("{stdout}{stderr}"),
    )
}

/// `check --json` against the simulator `s` with `token`, and whatever else the test sets.
async fn check_token(s: &SimHandle, token: &str, extra: &[(&str, &str)]) -> (i32, Value, String) {
    let url = s.base_url();
    let mut env = vec![("GITLAB_URL", url.as_str()), ("GITLAB_TOKEN", token)];
    env.extend_from_slice(extra);
    check_json(&env).await
}

fn check<'a>(doc: &'a Value, name: &str) -> (&'a str, &'a str) {
    let c = doc["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {doc}"));
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap())
}

fn assert_contract(doc: &Value) {
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, NAMES, "{doc}");
    assert!(doc["ok"].is_boolean());
    assert!(doc["gitlab_url"].is_string());
    for c in doc["checks"].as_array().unwrap() {
        assert!(["pass", "warn", "fail"].contains(&c["status"].as_str().unwrap()));
        assert!(!c["detail"].as_str().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_token_passes_every_check_on_self_managed() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, all) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_contract(&doc);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["ok"], true);
    for name in NAMES {
        assert_eq!(check(&doc, name).0, "pass", "{name}: {doc}");
    }
    assert!(check(&doc, "reachable").1.contains("GitLab "), "{doc}");
    assert!(check(&doc, "identity").1.contains("administrator"), "{doc}");
    assert!(!all.contains(tokens::ADMIN), "the token was printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_token_fails_with_what_to_do() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, all) = check_token(&s, tokens::EXPIRED, &[]).await;
    assert_contract(&doc);
    assert_eq!(code, 1);
    let (status, detail) = check(&doc, "token");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("expired") && detail.contains("create a new"),
        "{detail}"
    );
    assert_eq!(check(&doc, "reachable").0, "pass");
    assert!(!all.contains(tokens::EXPIRED));
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_token_fails() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, _) = check_token(&s, tokens::REVOKED, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "token").0, "fail");
    assert!(check(&doc, "token").1.contains("revoked"), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_token_fails() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, all) = check_token(&s, "glpat-fake-unknown-token-0000", &[]).await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "token").0, "fail");
    assert!(check(&doc, "token").1.contains("unknown"), "{doc}");
    assert!(!all.contains("glpat-fake-unknown-token-0000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn read_user_only_token_names_the_missing_scope() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, _) = check_token(&s, tokens::READ_USER_ONLY, &[]).await;
    assert_eq!(code, 1);
    let (status, detail) = check(&doc, "scopes");
    assert_eq!(status, "fail");
    assert!(detail.contains("missing read_api"), "{detail}");
    assert_eq!(check(&doc, "seats").0, "fail", "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_admin_token_fails_identity_seats_and_members() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, _) = check_token(&s, tokens::NON_ADMIN, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "token").0, "pass");
    assert_eq!(check(&doc, "identity").0, "fail");
    assert!(
        check(&doc, "identity").1.contains("not an administrator"),
        "{doc}"
    );
    assert_eq!(check(&doc, "seats").0, "fail");
    assert!(check(&doc, "seats").1.contains("administrator"), "{doc}");
    assert_eq!(check(&doc, "members").0, "fail");
    // /license is authenticated_as_admin!: an auditor cannot collect, so never suggest one
    for name in NAMES {
        assert!(
            !check(&doc, name).1.contains("auditor's token"),
            "{name} suggests an auditor: {doc}"
        );
    }
}

/// The `duo` check's fix names the role and scope on both flavours.
fn assert_duo_fix(detail: &str) {
    for part in ["Owner", "administrator", "read_api"] {
        assert!(detail.contains(part), "{part} missing from: {detail}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duo_check_reads_purchases_and_holders_on_both_flavours() {
    for (flavour, extra) in [
        (Flavour::SelfManaged, vec![]),
        (Flavour::GitLabCom, vec![("GITLAB_GROUP", "acme")]),
    ] {
        let s = sim(flavour).await;
        let (_, doc, _) = check_token(&s, tokens::ADMIN, &extra).await;
        let (status, detail) = check(&doc, "duo");
        assert_eq!(status, "pass", "{flavour:?}: {doc}");
        for add_on in s.duo_expected().add_ons {
            let bought = format!(
                "{} {}/{} assigned",
                add_on.name, add_on.assigned, add_on.purchased
            );
            assert!(detail.contains(&bought), "{bought} missing from: {detail}");
        }
        assert!(detail.contains("last Duo use"), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duo_check_without_the_role_does_not_pass_and_names_the_fix() {
    for (flavour, extra) in [
        (Flavour::SelfManaged, vec![]),
        (Flavour::GitLabCom, vec![("GITLAB_GROUP", "acme")]),
    ] {
        let s = sim(flavour).await;
        let (_, doc, _) = check_token(&s, tokens::NON_ADMIN, &extra).await;
        let (status, detail) = check(&doc, "duo");
        assert_ne!(status, "pass", "{flavour:?}: {doc}");
        assert_duo_fix(detail);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duo_check_warns_on_a_gitlab_without_last_duo_activity_quirk() {
    let mut cfg = today(Flavour::SelfManaged, 300);
    cfg.duo_activity_field = false;
    let s = gitlab::start(cfg).await;
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_eq!(code, 0, "a warning does not fail check: {doc}");
    let (status, detail) = check(&doc, "duo");
    assert_eq!(status, "warn", "{doc}");
    assert!(
        detail.contains("18.0") && detail.contains("unknown"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiring_soon_warns_but_passes() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, _) = check_token(&s, tokens::EXPIRING_SOON, &[]).await;
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["ok"], true);
    let (status, detail) = check(&doc, "expiry");
    assert_eq!(status, "warn");
    assert!(detail.contains("rotate"), "{detail}");
    // the warning window is a setting
    let (_, doc, _) = check_token(
        &s,
        tokens::EXPIRING_SOON,
        &[("SEATWATCH_EXPIRY_WARN_DAYS", "2")],
    )
    .await;
    assert_eq!(check(&doc, "expiry").0, "pass", "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn group_owner_passes_on_gitlab_com() {
    let s = sim(Flavour::GitLabCom).await;
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[("GITLAB_GROUP", "acme")]).await;
    assert_contract(&doc);
    assert_eq!(code, 0, "{doc}");
    assert!(check(&doc, "identity").1.contains("Owner"), "{doc}");
    assert!(
        check(&doc, "members").1.contains("billable_members"),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_owner_fails_on_gitlab_com() {
    let s = sim(Flavour::GitLabCom).await;
    let (code, doc, _) = check_token(&s, tokens::NON_ADMIN, &[("GITLAB_GROUP", "acme")]).await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "members").0, "fail", "{doc}");
    assert!(check(&doc, "members").1.contains("Owner"), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_token_is_a_failed_check_not_a_crash() {
    let s = sim(Flavour::SelfManaged).await;
    let url = s.base_url();
    let (code, doc, _) = check_json(&[("GITLAB_URL", &url)]).await;
    assert_contract(&doc);
    assert_eq!(code, 1);
    assert!(check(&doc, "token").1.contains("GITLAB_TOKEN"), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_a_remote_host_is_refused_unless_allowed() {
    let (code, doc, _) = check_json(&[
        ("GITLAB_URL", "http://gitlab.example.com"),
        ("GITLAB_TOKEN", tokens::ADMIN),
    ])
    .await;
    assert_contract(&doc);
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "url").0, "fail");
    assert!(
        check(&doc, "url").1.contains("SEATWATCH_ALLOW_HTTP"),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_url_fails_the_url_check() {
    let (code, doc, _) =
        check_json(&[("GITLAB_URL", "https://"), ("GITLAB_TOKEN", tokens::ADMIN)]).await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "url").0, "fail", "{doc}");
    assert_eq!(
        check(&doc, "token").0,
        "warn",
        "later checks are skipped: {doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_host_fails_reachable() {
    // a port that was free a moment ago and has no listener now
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, doc, _) = check_json(&[
        ("GITLAB_URL", &url),
        ("GITLAB_TOKEN", tokens::ADMIN),
        ("SEATWATCH_MAX_RETRY_SECS", "1"),
    ])
    .await;
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "reachable").0, "fail", "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_burst_is_retried_through() {
    let s = sim(Flavour::SelfManaged).await;
    s.set_faults(gitlab::status_burst(503, 3));
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_eq!(code, 0, "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_headroom_is_reported() {
    let mut cfg = today(Flavour::SelfManaged, 50);
    cfg.rate_limit = Some(seatwatch_sim::Throttle::per_minute(2000));
    cfg.rate_limit_headers_always = true;
    let s = gitlab::start(cfg).await;
    let (_, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    let (status, detail) = check(&doc, "rate_limit");
    assert_eq!(status, "pass");
    assert!(detail.contains("requests left"), "{detail}");
    assert!(detail.contains("2000 requests a minute"), "{detail}");
}

/// An hourly throttle (self-managed's 7,200 per 3,600 s) sends `RateLimit-Limit: 120` (per
/// minute) and `RateLimit-Remaining` over the hour: never print them as "7000 of 120 left".
#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_per_minute_and_remaining_per_period_quirk() {
    let mut cfg = today(Flavour::SelfManaged, 50);
    cfg.rate_limit = Some(seatwatch_sim::Throttle::self_managed_default());
    cfg.rate_limit_headers_always = true;
    let s = gitlab::start(cfg).await;
    let (_, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    let (status, detail) = check(&doc, "rate_limit");
    assert_eq!(status, "pass", "{detail}");
    assert!(!detail.contains(" of 120"), "{detail}");
    assert!(detail.contains("120 requests a minute"), "{detail}");
    let left: u64 = detail
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("starts with the requests left: {detail}"));
    assert!(left > 7_000 && left < 7_200, "{detail}");
    assert!(detail.contains("in the period ending in"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_without_headers_is_explained() {
    let s = sim(Flavour::SelfManaged).await;
    let (_, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    let (status, detail) = check(&doc, "rate_limit");
    assert_eq!(status, "pass");
    assert!(detail.contains("only on a 429"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn table_output_is_plain_when_not_a_terminal() {
    let s = sim(Flavour::SelfManaged).await;
    let url = s.base_url();
    let out = run(
        &[("GITLAB_URL", &url), ("GITLAB_TOKEN", tokens::EXPIRED)],
        &["check"],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text.contains('\x1b'), "colour on a pipe: {text}");
    for name in NAMES {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(text.contains("FAIL"));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_error_exits_2() {
    let out = run(&[], &["check", "--no-such-flag"]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_with_token_and_url_is_all_check_needs() {
    let m = seatwatch_testkit::moto::start();
    let s = sim(Flavour::SelfManaged).await;
    let sm = aws_sdk_secretsmanager::Client::new(&seatwatch_testkit::moto::sdk_config(&m).await);
    let name = seatwatch_testkit::moto::unique("check");
    let value = serde_json::json!({"token": tokens::ADMIN, "url": s.base_url()}).to_string();
    sm.create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let mut env: Vec<(&str, String)> = seatwatch_testkit::moto::aws_env(&m);
    env.push(("SEATWATCH_SECRET_ID", name.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, doc, all) = check_json(&env).await;
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["gitlab_url"], format!("{}/", s.base_url()));
    assert!(!all.contains(tokens::ADMIN));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_file_is_read() {
    let s = sim(Flavour::SelfManaged).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", tokens::ADMIN)).unwrap();
    let url = s.base_url();
    let out = run(
        &[("GITLAB_URL", &url)],
        &["check", "--json", "--token-file", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Every switchable fault of the simulator, through `check`: the transient ones are retried
/// through to a pass; a body that is not JSON fails the check that met it, naming the endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn every_simulator_fault_is_survived_or_reported_by_check() {
    let transient: Vec<(&str, Faults)> = vec![
        (
            "429 with Retry-After",
            gitlab::throttled(2, RetryAfterMode::Seconds(1)),
        ),
        (
            "429 with only RateLimit-Reset",
            gitlab::throttled(2, RetryAfterMode::ResetOnly),
        ),
        (
            "429 with no headers",
            gitlab::throttled(2, RetryAfterMode::NoHeaders),
        ),
        ("500 burst", gitlab::status_burst(500, 3)),
        ("502 burst", gitlab::status_burst(502, 3)),
        ("504 burst", gitlab::status_burst(504, 3)),
        (
            "slow beyond the timeout",
            gitlab::slow_answers(std::time::Duration::from_secs(3), 1),
        ),
        ("dropped connections", gitlab::dropped_connections(2)),
    ];
    // what a fault-free check costs: a retried fault must cost more
    let baseline = {
        let s = sim(Flavour::SelfManaged).await;
        let (code, _, _) = check_token(&s, tokens::ADMIN, &[]).await;
        assert_eq!(code, 0);
        s.requests_served()
    };
    for (name, faults) in transient {
        let s = sim(Flavour::SelfManaged).await;
        s.set_faults(faults);
        let (code, doc, _) =
            check_token(&s, tokens::ADMIN, &[("SEATWATCH_REQUEST_TIMEOUT", "1")]).await;
        assert_eq!(code, 0, "{name}: {doc}");
        assert!(
            s.requests_served() > baseline,
            "{name}: no retry happened ({} requests, {baseline} without faults)",
            s.requests_served()
        );
    }
    // a short burst of cut or garbled bodies is a network fault: retried through
    for (name, faults) in [
        ("malformed JSON burst", gitlab::malformed_json(2)),
        ("truncated body burst", gitlab::truncated_body(2)),
        (
            "application limit",
            gitlab::throttled(2, RetryAfterMode::ApplicationLimit),
        ),
    ] {
        let s = sim(Flavour::SelfManaged).await;
        s.set_faults(faults);
        let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
        assert_eq!(code, 0, "{name}: {doc}");
        assert!(s.requests_served() > baseline, "{name}: no retry happened");
    }
    // a persistent one fails the check that met it, naming the endpoint
    for (name, faults) in [
        ("malformed JSON", gitlab::malformed_json(3)),
        ("truncated body", gitlab::truncated_body(3)),
    ] {
        let s = sim(Flavour::SelfManaged).await;
        s.set_faults(faults);
        let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
        assert_eq!(code, 1, "{name}: {doc}");
        let failed: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail")
            .map(|c| c["detail"].as_str().unwrap())
            .collect();
        assert_eq!(
            failed.len(),
            1,
            "{name}: exactly the check that met the bad body fails: {doc}"
        );
        assert!(
            failed[0].contains("GET /"),
            "{name}: the endpoint is named: {}",
            failed[0]
        );
    }
}

async fn licence_sim(mode: LicenceMode) -> SimHandle {
    let mut cfg = today(Flavour::SelfManaged, 80);
    cfg.licence = mode;
    gitlab::start(cfg).await
}

#[tokio::test(flavor = "multi_thread")]
async fn read_api_only_token_passes_check_quirk() {
    for (flavour, group) in [
        (Flavour::SelfManaged, None),
        (Flavour::GitLabCom, Some("acme")),
    ] {
        let s = sim(flavour).await;
        let group: Vec<(&str, &str)> = group.map(|g| ("GITLAB_GROUP", g)).into_iter().collect();
        let (code, doc, _) = check_token(&s, tokens::READ_API_ONLY, &group).await;
        assert_eq!(code, 0, "{flavour:?}: {doc}");
        assert_eq!(check(&doc, "scopes"), ("pass", "has read_api"), "{doc}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivated_token_owner_is_told_so_not_admin_quirk() {
    let s = sim(Flavour::SelfManaged).await;
    let (code, doc, all) = check_token(&s, tokens::DEACTIVATED_OWNER, &[]).await;
    assert_eq!(code, 1);
    let (status, detail) = check(&doc, "token");
    assert_eq!(status, "fail");
    assert!(detail.contains("deactivated"), "{detail}");
    assert!(detail.contains("reactivate"), "{detail}");
    assert!(!detail.contains("not an administrator"), "{detail}");
    assert!(!all.contains(tokens::DEACTIVATED_OWNER));
}

#[tokio::test(flavor = "multi_thread")]
async fn licence_without_seat_limit_and_without_licence_pass_check_quirk() {
    let s = licence_sim(LicenceMode::NoSeatLimit).await;
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_eq!(code, 0, "{doc}");
    assert!(check(&doc, "seats").1.contains("no seat limit"), "{doc}");

    let s = licence_sim(LicenceMode::NoLicence).await;
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_eq!(code, 0, "{doc}");
    assert!(
        check(&doc, "seats").1.contains("no licence is installed"),
        "{doc}"
    );

    let s = licence_sim(LicenceMode::CommunityEdition).await;
    let (code, doc, _) = check_token(&s, tokens::ADMIN, &[]).await;
    assert_eq!(code, 1, "{doc}");
    let (status, detail) = check(&doc, "seats");
    assert_eq!(status, "fail");
    assert!(detail.contains("Community Edition"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_fields_alone_do_not_make_an_owner_quirk() {
    // ee/lib/ee/api/entities/namespace.rb hides billing from non-Owners only with the flag
    // restrict_namespace_api_billing_fields on; before 18.9 every member could see them
    let mut cfg = today(Flavour::GitLabCom, 120);
    cfg.namespace_billing_unrestricted = true;
    let s = gitlab::start(cfg).await;
    // the premise: this non-Owner sees the billing fields
    let ns = gitlab::get(&s, "/namespaces/acme", tokens::NON_ADMIN)
        .await
        .json();
    assert!(ns["seats_in_use"].is_u64(), "{ns}");
    let (code, doc, _) = check_token(&s, tokens::NON_ADMIN, &[("GITLAB_GROUP", "acme")]).await;
    assert_eq!(code, 1);
    let (status, detail) = check(&doc, "identity");
    assert_eq!(status, "fail", "{doc}");
    assert!(
        detail.contains("not its Owner") || detail.contains("not a member"),
        "{detail}"
    );
}

/// The error line of a failed command, split into its parts (`a: b; c` → a, b, c): no part may
/// appear twice, which is what an error chain printed both by Display and by `source()` does.
fn assert_each_cause_once(stderr: &str) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{stderr}"));
    let mut seen = std::collections::HashSet::new();
    for part in line
        .trim_start_matches("error: ")
        .split([':', ';'])
        .map(str::trim)
        .filter(|p| p.len() > 12)
    {
        assert!(seen.insert(part), "`{part}` repeats in: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_collect_prints_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    // Community Edition: no /license
    let s = licence_sim(LicenceMode::CommunityEdition).await;
    let url = s.base_url();
    let out = run(
        &[
            ("GITLAB_URL", &url),
            ("GITLAB_TOKEN", tokens::ADMIN),
            ("SEATWATCH_STORE", &store),
        ],
        &["collect"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GET /license"), "{stderr}");
    assert_each_cause_once(&stderr);
    assert_eq!(stderr.matches("GET /license").count(), 1, "{stderr}");

    // a refused token owner
    let out = run(
        &[
            ("GITLAB_URL", &url),
            ("GITLAB_TOKEN", tokens::DEACTIVATED_OWNER),
            ("SEATWATCH_STORE", &store),
        ],
        &["collect"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deactivated"), "{stderr}");
    assert_each_cause_once(&stderr);
    assert!(!stderr.contains(tokens::DEACTIVATED_OWNER));
}
