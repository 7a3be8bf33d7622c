//! The commands as the CLI and the Lambda functions run them (`App`): token rotation picked up
//! after a 401, and collect + report on the embedded default.

use seatwatch::app::App;
use seatwatch::collect::CollectStatus;
use seatwatch::config::{Config, RawConfig};
use seatwatch_sim::Flavour;
use seatwatch_sim::{LicenceMode, tokens};
use seatwatch_testkit::gitlab;

/// The settings given (and no environment of the test's), typed as the CLI types them.
fn config(raw: RawConfig) -> Config {
    raw.parse().expect("valid settings")
}

#[tokio::test(flavor = "multi_thread")]
async fn token_rotated_in_the_source_is_picked_up_after_a_401() {
    let date: chrono::NaiveDate = "2026-06-30".parse().unwrap();
    let sim = gitlab::start_on(Flavour::SelfManaged, 150, date).await;
    sim.add_token("glpat-fake-rotate-first-0000", tokens::ADMIN);
    sim.add_token("glpat-fake-rotate-second-0000", tokens::ADMIN);

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "glpat-fake-rotate-first-0000\n").unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let site = dir.path().join("site");
    let url = sim.base_url();
    let app = App::new(config(RawConfig {
        gitlab_url: Some(url.clone()),
        token_file: Some(token_file.clone()),
        store: Some(db.clone()),
        site: Some(site.display().to_string()),
        ..RawConfig::default()
    }))
    .await
    .unwrap();

    // first run caches the first token
    let first = app.collect(date).await.expect("first run");
    assert_eq!(first.status, CollectStatus::Committed);

    // rotate: the old token is revoked, the source now holds the new one
    sim.revoke_token("glpat-fake-rotate-first-0000");
    std::fs::write(&token_file, "glpat-fake-rotate-second-0000\n").unwrap();
    let second = app.collect(date).await.expect("run after rotation");
    assert_eq!(second.members, first.members);

    // revoked and not replaced: a clear error, no token in it
    sim.revoke_token("glpat-fake-rotate-second-0000");
    let err = app.collect(date).await.expect_err("revoked, not replaced");
    let text = format!("{err:#}");
    assert!(text.contains("revoked"), "{text}");
    assert!(!text.contains("glpat-fake-rotate"), "{text}");

    // the earlier snapshot is still there and reports
    let report = app.report(chrono::Utc::now()).await.expect("report");
    assert_eq!(report.snapshot_date, date);
    assert!(site.join("index.html").exists());
    assert!(site.join("data/report.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn report_without_any_snapshot_says_to_collect_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("empty.db").display());
    let app = App::new(config(RawConfig {
        gitlab_url: Some("https://gitlab.example.com".into()),
        store: Some(db.clone()),
        token_file: Some("/nonexistent".into()),
        ..RawConfig::default()
    }))
    .await
    .unwrap();
    let err = app
        .report(chrono::Utc::now())
        .await
        .expect_err("nothing to report");
    assert!(err.to_string().contains("seatwatch collect"), "{err}");
}

/// Collects and reports one day against a simulator with this licence; returns report.json and
/// the overview page.
async fn collect_and_report(mode: LicenceMode) -> (serde_json::Value, String) {
    let date: chrono::NaiveDate = "2026-06-30".parse().unwrap();
    let mut cfg = gitlab::config_on(Flavour::SelfManaged, 150, date);
    cfg.licence = mode;
    let sim = gitlab::start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", tokens::READ_API_ONLY)).unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let site = dir.path().join("site");
    let url = sim.base_url();
    let app = App::new(config(RawConfig {
        gitlab_url: Some(url.clone()),
        token_file: Some(token_file.clone()),
        store: Some(db.clone()),
        site: Some(site.display().to_string()),
        ..RawConfig::default()
    }))
    .await
    .unwrap();
    let collected = app.collect(date).await.expect("collect");
    assert_eq!(collected.status, CollectStatus::Committed);
    app.report(chrono::Utc::now()).await.expect("report");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("data/report.json")).unwrap()).unwrap();
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    sim.shutdown().await;
    (report, index)
}

#[tokio::test(flavor = "multi_thread")]
async fn licence_without_seat_limit_reports_purchased_unknown_and_nothing_owed() {
    let (report, index) = collect_and_report(LicenceMode::NoSeatLimit).await;
    let seats = &report["seats"];
    assert_eq!(seats["licence"], "no_seat_limit", "{seats}");
    assert!(seats["purchased"].is_null(), "{seats}");
    assert_eq!(seats["owed"], 0, "{seats}");
    assert!(seats["unassigned"].is_null(), "{seats}");
    assert!(seats["in_use"].as_u64().unwrap() > 0);
    assert!(report["forecast"]["seats_run_out_on"].is_null());
    assert!(
        index.contains("The licence has no seat limit"),
        "overview says so"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ee_without_licence_collects_and_reports() {
    let (report, index) = collect_and_report(LicenceMode::NoLicence).await;
    let seats = &report["seats"];
    assert_eq!(seats["licence"], "no_licence", "{seats}");
    assert_eq!(seats["in_use"], 0);
    assert!(seats["purchased"].is_null());
    assert_eq!(report["counts"]["seat_holders"], 0, "nobody holds a seat");
    assert!(
        report["counts"]["members"].as_u64().unwrap() > 0,
        "members still listed"
    );
    assert!(
        index.contains("No licence is installed"),
        "overview says so"
    );
}
