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
        duo_prices: [("CODE_SUGGESTIONS".to_string(), 19.0)].into(),
        ..Policy::default()
    }
}

fn realistic(members: usize, days: u64) -> (Report, Vec<Member>) {
    let members = synthetic::members(members, snapshot_date());
    let history = synthetic::history(members.len() as u64, days, snapshot_date());
    let mut latest = history.last().expect("history is not empty").clone();
    let (duo, duo_holders) = synthetic::duo(&members, snapshot_date(), true);
    latest.duo = Some(duo);
    let report = build_report(
        &latest,
        &members,
        &history,
        &duo_holders,
        &policy(),
        generated_at(),
    );
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
        "duo.html",
        "duo.csv",
        "guest-candidates.csv",
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
    for page in ["index.html", "unused.html", "activity.html", "duo.html"] {
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
    let duo = text(file(&files, "duo.html"));
    assert!(duo.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    for name in ["unused.csv", "members.csv", "duo.csv"] {
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
    for page in ["index", "unused", "activity", "duo"] {
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

/// The `duo` add-on of `report.json` named `add_on`.
fn json_add_on<'a>(json: &'a serde_json::Value, add_on: &str) -> &'a serde_json::Value {
    json["duo"]["add_ons"]
        .as_array()
        .expect("duo.add_ons")
        .iter()
        .find(|a| a["add_on"] == add_on)
        .unwrap_or_else(|| panic!("{add_on} missing from report.json"))
}

fn report_json(files: &[SiteFile]) -> serde_json::Value {
    serde_json::from_slice(&file(files, "data/report.json").bytes).expect("report.json")
}

#[test]
fn every_duo_status_has_its_tag_style_label_and_report_json_name() {
    use seatwatch_core::analyse::DuoStatus;
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    let css = text(file(&files, "site.css"));
    let duo = text(file(&files, "duo.html"));
    let json = report_json(&files);
    let holders = json_add_on(&json, "CODE_SUGGESTIONS")["holders"]
        .as_array()
        .expect("holders");
    let csv = text(file(&files, "duo.csv"));
    for status in DuoStatus::ALL {
        let name = status.as_str();
        assert!(
            css.contains(&format!(".tag.{name} {{")),
            "{status:?} has no tag style"
        );
        if status == DuoStatus::Unknown {
            continue; // the synthetic GitLab exposes Duo use; the unknown version is tested apart
        }
        let tag = format!("<span class=\"tag {name}\">{}</span>", status.label());
        assert!(duo.contains(&tag), "{status:?} tag missing on duo.html");
        assert!(
            holders.iter().any(|h| h["status"] == name),
            "{status:?} missing from report.json"
        );
        assert!(
            csv.contains(&format!(",{name},")),
            "{status:?} missing from duo.csv"
        );
    }
}

#[test]
fn the_duo_page_reports_what_applies_to_each_add_on() {
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    let duo = text(file(&files, "duo.html"));
    let json = report_json(&files);
    let pro = json_add_on(&json, "CODE_SUGGESTIONS");
    for key in ["purchased", "assigned", "unassigned"] {
        assert!(pro[key].as_u64().is_some(), "{key}: {pro}");
    }
    let holder = &pro["holders"][0];
    for key in [
        "username",
        "last_duo_activity_on",
        "first_seen_assigned",
        "status",
    ] {
        assert!(holder.get(key).is_some(), "holder {key}: {holder}");
    }
    let amazon_q = json_add_on(&json, "DUO_AMAZON_Q");
    assert_eq!(amazon_q["purchased"], 25);
    assert!(amazon_q["holders"].is_null() && amazon_q["unassigned"].is_null());
    let core = json_add_on(&json, "DUO_CORE");
    assert!(core["purchased"].is_null() && core["holders"].is_null());
    assert!(duo.contains("Duo with Amazon Q has no per-user assignment"));
    assert!(duo.contains("Duo Core is included with Premium and Ultimate and has no seats"));
    // the priced add-on shows its money; the other says how to price it
    let money = report.duo.as_ref().expect("duo").add_ons[0]
        .money
        .as_ref()
        .expect("CODE_SUGGESTIONS is priced");
    assert!(duo.contains(&format!(
        "cost <strong>{}</strong> a month",
        format_amount(money.total_monthly)
    )));
    assert!(duo.contains("<code>DUO_ENTERPRISE</code> in <code>SEATWATCH_DUO_PRICES</code>"));
    assert!(duo.contains("Enablement: active in GitLab, not in Duo"));
    assert!(duo.contains("GitLab itself would unassign these"));
    assert!(!duo.contains("id=\"duo-activity-unknown\""));
}

/// An amount as the pages print it (two decimals, thousands grouped).
fn format_amount(x: f64) -> String {
    let cents = (x * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", cents % 100)
}

#[test]
fn a_gitlab_without_duo_activity_says_so_and_counts_no_seat_unused() {
    let members = synthetic::members(300, snapshot_date());
    let history = synthetic::history(300, 30, snapshot_date());
    let mut latest = history.last().expect("history").clone();
    let (duo, holders) = synthetic::duo(&members, snapshot_date(), false);
    latest.duo = Some(duo);
    let report = build_report(
        &latest,
        &members,
        &history,
        &holders,
        &policy(),
        generated_at(),
    );
    let files = render(&report, &members).expect("renders");
    let page = text(file(&files, "duo.html"));
    assert!(page.contains("id=\"duo-activity-unknown\""));
    assert!(page.contains("the order cannot be told"));
    for status in ["idle", "never_used", "grace", "active"] {
        assert!(
            !page.contains(&format!("<td><span class=\"tag {status}\">")),
            "{status} shown without Duo activity"
        );
    }
    let json = report_json(&files);
    let pro = json_add_on(&json, "CODE_SUGGESTIONS");
    assert!(
        pro["holders"]
            .as_array()
            .expect("holders")
            .iter()
            .all(|h| h["status"] == "unknown")
    );
    assert_eq!(pro["money"]["idle_monthly"], 0.0);
    assert_eq!(pro["money"]["never_used_monthly"], 0.0);
}

#[test]
fn a_snapshot_without_duo_says_it_was_not_read() {
    let (report, members) = first_day();
    let files = render(&report, &members).expect("renders");
    assert!(text(file(&files, "duo.html")).contains("id=\"duo-not-read\""));
    assert!(report_json(&files)["duo"].is_null());
    assert_eq!(text(file(&files, "duo.csv")).lines().count(), 1);
}

#[test]
fn guest_candidates_are_listed_on_ultimate_with_their_csv() {
    let (report, members) = realistic(300, 120);
    let g = &report.guest_candidates;
    assert!(
        !g.candidates.is_empty(),
        "the synthetic members have candidates"
    );
    let files = render(&report, &members).expect("renders");
    let unused = text(file(&files, "unused.html"));
    assert!(unused.contains("id=\"h-guests\""));
    assert!(unused.contains("Guest candidates table"));
    assert!(!unused.contains("id=\"guests-short-history\""));
    let csv = text(file(&files, "guest-candidates.csv"));
    assert_eq!(csv.lines().count(), g.candidates.len() + 1);
    let json = report_json(&files);
    assert_eq!(
        json["guest_candidates"]["candidates"]
            .as_array()
            .expect("candidates")
            .len(),
        g.candidates.len()
    );
    // never one already listed as reclaimable
    for c in &g.candidates {
        assert!(
            report.reclaimable.iter().all(|s| s.id != c.id),
            "{} is reclaimable and a Guest candidate",
            c.username
        );
    }
}

#[test]
fn guest_candidates_say_when_the_history_is_shorter_than_the_window() {
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    let unused = text(file(&files, "unused.html"));
    assert!(
        unused.contains("id=\"guests-short-history\""),
        "30 days < 90"
    );
}

#[test]
fn on_premium_guest_candidates_do_not_apply_and_say_why() {
    let (mut report, members) = realistic(300, 120);
    let members_premium = members.clone();
    let mut latest = synthetic::history(300, 1, snapshot_date())
        .pop()
        .expect("a day");
    latest.seats.plan = Some("premium".into());
    report.guest_candidates = build_report(
        &latest,
        &members_premium,
        &[],
        &[],
        &policy(),
        generated_at(),
    )
    .guest_candidates;
    assert!(report.guest_candidates.candidates.is_empty());
    let files = render(&report, &members).expect("renders");
    let unused = text(file(&files, "unused.html"));
    assert!(unused.contains("id=\"guests-not-ultimate\""));
    assert!(unused.contains("Does not apply on the premium plan"));
    assert_eq!(
        text(file(&files, "guest-candidates.csv")).lines().count(),
        1
    );
}

#[test]
fn guest_candidate_names_are_neutralised_in_their_csv() {
    let date = snapshot_date();
    let mut members = synthetic::members(50, date);
    let hostile = seatwatch_core::snapshot::Member {
        username: "=cmd|' /C calc'!A0".into(),
        name: "@SUM(1+1)".into(),
        last_activity_on: Some(date),
        created_at: Some("2020-01-01T00:00:00Z".parse().expect("timestamp")),
        last_contribution_on: None,
        ..seatwatch_core::snapshot::Member::seat_holder(9_999, "x", "x")
    };
    members.push(hostile);
    let history = synthetic::history(50, 120, date);
    let latest = history.last().expect("history").clone();
    let report = build_report(&latest, &members, &history, &[], &policy(), generated_at());
    let files = render(&report, &members).expect("renders");
    let csv = text(file(&files, "guest-candidates.csv"));
    assert!(csv.contains("'=cmd"), "{csv}");
    assert!(csv.contains("'@SUM"), "{csv}");
}

#[test]
fn the_overview_shows_the_renewal_recommendation_and_its_act_by_date() {
    let (report, members) = realistic(300, 120);
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    let renewal = &report.renewal;
    let act_by = renewal.act_by.expect("the synthetic term has an end");
    assert!(
        index.contains(&format!("Act by <strong>{act_by}</strong>")),
        "act-by date"
    );
    let base = renewal.base.as_ref().expect("licensed");
    assert!(index.contains(&format!("id=\"renewal-base\">{}</dd>", base.recommended)));
    assert!(
        index.contains("GitLab Duo Pro seats to renew"),
        "each Duo add-on is sized apart"
    );
    let json = report_json(&files);
    assert_eq!(json["renewal"]["act_by"], act_by.to_string());
    assert_eq!(json["renewal"]["base"]["recommended"], base.recommended);
}

#[test]
fn without_a_renewal_date_the_overview_recommends_nothing_and_says_why() {
    let (report, members) = first_day();
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    assert!(index.contains("id=\"renewal-unknown\""));
    assert!(!index.contains("seats to renew"));
    assert_eq!(report_json(&files)["renewal"]["basis"], "date_unknown");
}

#[test]
fn members_csv_marks_the_guest_candidates_and_their_last_contribution() {
    let (report, members) = realistic(300, 120);
    let files = render(&report, &members).expect("renders");
    let mut reader = csv::Reader::from_reader(&file(&files, "members.csv").bytes[..]);
    let headers = reader.headers().expect("header row").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let (id, candidate, contribution) = (
        col("id"),
        col("guest_candidate"),
        col("last_contribution_on"),
    );
    let mut marked = Vec::new();
    for record in reader.records() {
        let record = record.expect("valid CSV");
        let member = members
            .iter()
            .find(|m| m.id.to_string() == record[id])
            .expect("a listed member");
        let expected = member.last_contribution_on.map(|d| d.to_string());
        assert_eq!(
            record[contribution].to_string(),
            expected.unwrap_or_default()
        );
        if &record[candidate] == "true" {
            marked.push(member.id);
        }
    }
    let listed: Vec<u64> = report
        .guest_candidates
        .candidates
        .iter()
        .map(|c| c.id)
        .collect();
    marked.sort_unstable();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert!(!marked.is_empty());
    assert_eq!(marked, listed_sorted);
}

#[test]
fn the_overview_summarises_duo_seats_apart_from_base_seats() {
    let (report, members) = realistic(300, 30);
    let files = render(&report, &members).expect("renders");
    let index = text(file(&files, "index.html"));
    assert!(index.contains("id=\"duo-summary\""));
    let duo = report.duo.as_ref().expect("synthetic Duo");
    for a in duo.add_ons.iter().filter(|a| a.counts.is_some()) {
        let label = seatwatch_core::site::add_on_label(&a.add_on);
        assert!(
            index.contains(&format!("<strong>{label}:</strong>")),
            "{label}"
        );
    }
    assert!(
        !index.contains("GitLab Duo Core:"),
        "Duo Core has no seats to summarise"
    );
    let (report, members) = first_day();
    let files = render(&report, &members).expect("renders");
    assert!(!text(file(&files, "index.html")).contains("id=\"h-duo\""));
}

#[test]
fn every_guest_situation_has_its_own_wording_on_unused_html() {
    use seatwatch_core::analyse::GuestApplies;
    let members = synthetic::members(100, snapshot_date());
    let history = synthetic::history(100, 120, snapshot_date());
    let base = history.last().expect("history").clone();
    let cases = [
        (GuestApplies::Yes, Some("ultimate"), true, "id=\"h-guests\""),
        (
            GuestApplies::NotUltimate,
            Some("premium"),
            true,
            "id=\"guests-not-ultimate\"",
        ),
        (
            GuestApplies::PlanUnknown,
            None,
            true,
            "id=\"guests-plan-unknown\"",
        ),
        (
            GuestApplies::ContributionsUnknown,
            Some("ultimate"),
            false,
            "id=\"guests-contributions-unknown\"",
        ),
    ];
    let ids: Vec<&str> = cases[1..].iter().map(|c| c.3).collect();
    for (applies, plan, tracked, id) in cases {
        let mut latest = base.clone();
        latest.seats.plan = plan.map(str::to_string);
        if !tracked {
            latest.contributions_known_since = None;
        }
        let report = build_report(&latest, &members, &history, &[], &policy(), generated_at());
        assert_eq!(report.guest_candidates.applies, applies);
        let files = render(&report, &members).expect("renders");
        let unused = text(file(&files, "unused.html"));
        assert!(unused.contains(id), "{applies:?}: {id}");
        for other in ids.iter().filter(|o| **o != id) {
            assert!(!unused.contains(other), "{applies:?} also says {other}");
        }
        let json = report_json(&files);
        let name = serde_json::to_value(applies).expect("serialises");
        assert_eq!(json["guest_candidates"]["applies"], name);
    }
}
