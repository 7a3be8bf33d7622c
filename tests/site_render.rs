//! The rendered site: escaping, CSV neutralisation, the report.json contract, file order, and the
//! real pages in headless Chromium (axe, no outside request, JavaScript off) plus the Nu HTML
//! checker, through `tests/browser/check.mjs`.

use seatwatch_testkit::{browser, synthetic};

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use seatwatch_core::analyse::{Exemptions, Policy, Report, build_report};
use seatwatch_core::site::{SiteFile, render};
use seatwatch_core::snapshot::Member;

fn snapshot_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date")
}

fn generated_at() -> DateTime<Utc> {
    "2026-06-30T04:12:00Z".parse().expect("valid timestamp")
}

fn policy() -> Policy {
    Policy {
        exempt: Exemptions::parse("svc-*, ada.lovelace*").expect("valid exemptions"),
        seat_price: Some(29.0),
        ..Policy::default()
    }
}

fn realistic(members: usize, days: u64) -> (Report, Vec<Member>) {
    let members = synthetic::members(members, snapshot_date());
    let history = synthetic::history(members.len() as u64, days, snapshot_date());
    let latest = history.last().expect("history is not empty").clone();
    let report = build_report(&latest, &members, &history, &[], &policy(), generated_at());
    (report, members)
}

fn file<'a>(files: &'a [SiteFile], path: &str) -> &'a SiteFile {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not rendered"))
}

fn text(f: &SiteFile) -> &str {
    std::str::from_utf8(&f.bytes).expect("site files are UTF-8")
}

#[test]
fn data_files_come_first_and_index_last_with_their_types() {
    let (report, members) = realistic(300, 60);
    let files = render(&report, &members).expect("renders");
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let first_page = paths
        .iter()
        .position(|p| p.ends_with(".html"))
        .expect("pages");
    assert!(
        paths[..first_page].iter().all(|p| !p.ends_with(".html")),
        "{paths:?}"
    );
    assert!(
        paths[first_page..].iter().all(|p| p.ends_with(".html")),
        "{paths:?}"
    );
    assert_eq!(paths.last(), Some(&"index.html"));
    for expected in [
        "data/report.json",
        "unused.csv",
        "members.csv",
        "site.css",
        "index.html",
        "unused.html",
        "activity.html",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    assert_eq!(
        file(&files, "index.html").content_type,
        "text/html; charset=utf-8"
    );
    assert_eq!(
        file(&files, "data/report.json").content_type,
        "application/json"
    );
    assert!(
        file(&files, "unused.csv")
            .content_type
            .starts_with("text/csv")
    );
    assert!(
        file(&files, "site.css")
            .content_type
            .starts_with("text/css")
    );
    assert_eq!(file(&files, "index.html").cache_control, "no-cache");
}

#[test]
fn hostile_names_are_escaped_on_every_page() {
    let (report, members) = realistic(300, 30);
    assert!(
        report
            .reclaimable
            .iter()
            .any(|s| s.name.contains("<script>")),
        "the hostile member should be reclaimable so the page shows it"
    );
    let files = render(&report, &members).expect("renders");
    for page in ["index.html", "unused.html", "activity.html"] {
        let html = text(file(&files, page));
        assert!(!html.contains("<script>alert"), "{page} has a raw script");
        assert!(!html.contains("<img src=x"), "{page} has a raw img");
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "{page}: only our own sorting script"
        );
    }
    let unused = text(file(&files, "unused.html"));
    assert!(unused.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
    assert!(unused.contains("Zoë 李 O&#39;Brien &#38; Söhne"));
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    for name in ["unused.csv", "members.csv"] {
        let mut reader = csv::Reader::from_reader(&file(&files, name).bytes[..]);
        let headers = reader.headers().expect("header row").clone();
        let username_col = headers
            .iter()
            .position(|h| h == "username")
            .expect("username column");
        let mut seen_hostile = 0;
        for record in reader.records() {
            let record = record.expect("valid CSV");
            for cell in record.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{name}: live formula cell {cell:?}"
                );
            }
            let username = &record[username_col];
            if username.starts_with("'=")
                || username.starts_with("'@")
                || username.starts_with("'-")
            {
                seen_hostile += 1;
            }
        }
        assert!(
            seen_hostile >= 3,
            "{name}: expected the hostile usernames, saw {seen_hostile}"
        );
    }
    let members_csv = text(file(&files, "members.csv"));
    assert_eq!(members_csv.lines().count(), members.len() + 1);
}

#[test]
fn report_json_keeps_the_site_contract() {
    let (report, members) = realistic(300, 120);
    let files = render(&report, &members).expect("renders");
    let v: serde_json::Value =
        serde_json::from_slice(&file(&files, "data/report.json").bytes).expect("valid JSON");
    assert_eq!(v["generated_at"], "2026-06-30T04:12:00Z");
    assert_eq!(v["instance"], "gitlab.example.com");
    assert_eq!(v["snapshot_date"], "2026-06-30");
    assert_eq!(v["seats"]["purchased"], 270);
    assert!(v["seats"]["in_use"].as_u64().is_some());
    assert!(v["seats"]["max_used"].as_u64().is_some());
    let reclaimable = v["reclaimable"].as_array().expect("array");
    assert_eq!(reclaimable.len(), report.reclaimable.len());
    assert!(!reclaimable.is_empty());
    for seat in reclaimable {
        let reason = seat["reason"].as_str().expect("reason");
        assert!(seat["username"].is_string());
        assert!(seat.get("last_activity_on").is_some());
        match reason {
            "never_signed_in" => assert!(seat["days_inactive"].is_null()),
            "inactive" => assert!(seat["days_inactive"].as_u64().expect("days") >= 90),
            other => panic!("unknown reason {other}"),
        }
    }
    assert_eq!(v["days"].as_array().expect("days").len(), 120);
    assert_eq!(v["policy"]["exempt"][0], "svc-*");
}

/// Runs `tests/browser/check.mjs` on a rendered site; screenshots go to `shots`.
fn browser_check(files: &[SiteFile], shots: &Path) {
    let site = tempfile::tempdir().expect("temp dir");
    browser::write_site(files, site.path());
    std::fs::create_dir_all(shots).expect("screenshot dir");
    let output = browser::run("check.mjs", [site.path(), shots]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    for page in ["index", "unused", "activity"] {
        let shot = shots.join(format!("{page}.png"));
        let size = std::fs::metadata(&shot)
            .unwrap_or_else(|e| panic!("{} missing: {e}", shot.display()))
            .len();
        assert!(size > 10_000, "{} is suspiciously small", shot.display());
    }
}

/// Where screenshots are kept for people to look at, beside the build output.
fn shots_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn pages_pass_axe_vnu_and_work_offline_in_headless_chromium() {
    let (report, members) = realistic(2_000, 365);
    let files = render(&report, &members).expect("renders");
    browser_check(&files, &shots_dir("site-screenshots"));
}

#[test]
fn a_first_day_site_passes_the_browser_checks_too() {
    let (report, members) = first_day();
    let files = render(&report, &members).expect("renders");
    browser_check(&files, &shots_dir("site-screenshots-first-day"));
}

/// GitLab.com without SEATWATCH_SEATS_PURCHASED, no seat price, no token expiry, one snapshot,
/// no members.
fn first_day() -> (Report, Vec<Member>) {
    let mut latest = synthetic::history(10, 1, snapshot_date())
        .pop()
        .expect("one day");
    latest.seats = seatwatch_core::snapshot::SeatCounts {
        in_use: 3,
        ..Default::default()
    };
    latest.token_expires_at = None;
    latest.source.gitlab_version = None;
    let report = build_report(&latest, &[], &[], &[], &Policy::default(), generated_at());
    (report, Vec::new())
}

#[test]
fn a_first_day_with_nothing_known_still_renders_every_page() {
    let (report, members) = first_day();
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    assert!(index.contains("not enough history yet"), "{index}");
    assert!(index.contains("no expiry date reported"));
    assert!(index.contains("set <code>SEATWATCH_SEATS_PURCHASED</code>"));
    assert!(index.contains("no seat is listed as reclaimable"));
    assert!(!index.contains("h-cost"), "no cost section without a price");
    let unused = text(file(&files, "unused.html"));
    assert!(unused.contains("No seat is unused under these rules."));
    assert!(unused.contains("No exemptions are set."));
    assert_eq!(text(file(&files, "members.csv")).lines().count(), 1);
}

#[test]
fn the_overview_shows_the_forecast_licence_and_token() {
    let (report, members) = realistic(300, 120);
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    let token = report
        .token_expires_at
        .expect("synthetic token expiry")
        .to_string();
    assert!(index.contains(&token), "token expiry {token} missing");
    let end = report
        .seats
        .term_end
        .expect("synthetic term end")
        .to_string();
    assert!(index.contains(&format!("At the licence end ({end})")));
    assert!(index.contains("seats in use per month"));
    assert!(index.contains(&format!(
        "If the {} listed seats are reclaimed now",
        report.seats.reclaimable
    )));
    assert!(index.contains("aria-labelledby=\"seats-chart-t seats-chart-d\""));
    let activity = text(file(&files, "activity.html"));
    assert!(activity.contains("<title id=\"kinds-chart-t\">Activity by kind per day</title>"));
    assert!(activity.contains("<title id=\"active-chart-t\">Active members per day</title>"));
}

#[test]
fn gitlab_com_pages_say_what_last_activity_means_and_that_the_start_is_unknown_quirk() {
    let (mut report, members) = realistic(200, 30);
    report.flavour = seatwatch_core::snapshot::Flavour::GitLabCom;
    report.seats.term_start = None;
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    assert!(
        index.contains("start unknown (GitLab.com does not report when a subscription started)"),
        "the overview must not show a guessed start"
    );
    let unused = text(file(&files, "unused.html"));
    assert!(unused.contains("id=\"gitlab-com-activity\""));
    assert!(unused.contains("whole GitLab.com account"));
    assert!(unused.contains("members of the group for 14 or more days"));
    // Self-managed pages keep their wording: the note is GitLab.com's alone.
    let (report, members) = realistic(200, 30);
    let files = render(&report, &members).expect("renders");
    assert!(!text(file(&files, "unused.html")).contains("gitlab-com-activity"));
}

#[test]
fn every_activity_kind_has_its_row_legend_and_report_json_key() {
    use seatwatch_core::snapshot::ActivityKind;
    let (report, members) = realistic(200, 30);
    let files = render(&report, &members).expect("renders");
    let activity = text(file(&files, "activity.html"));
    for kind in ActivityKind::ALL {
        // the table and the chart show the kinds that are events; commits are a detail of pushes
        let row = format!("<tr><th scope=\"row\">{}</th>", kind.label());
        assert_eq!(activity.contains(&row), kind.is_event(), "{kind:?} row");
        let legend = format!("</span>{}</li>", kind.label());
        assert_eq!(
            activity.contains(&legend),
            kind.is_event(),
            "{kind:?} legend"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&file(&files, "data/report.json").bytes).expect("report.json");
    for kind in ActivityKind::ALL {
        assert_eq!(
            json["activity"]["last_30_days"][kind.name()],
            report.activity.last_30_days.get(kind),
            "{kind:?} in report.json"
        );
    }
}
