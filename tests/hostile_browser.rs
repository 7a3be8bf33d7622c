//! Issue 7 §3: members named with HTML and script payloads, right-to-left overrides, emoji and
//! 10,000-character names, rendered by the real site code and opened in headless Chromium by
//! `tests/browser/hostile.mjs`: no script runs (no dialog, title unchanged, no payload marker),
//! the pages do not overflow the viewport (desktop and phone), tables scroll inside their box,
//! and every payload is shown as text. A control page with a live script and a too-wide element
//! proves that the checker notices both.

use seatwatch_testkit::{browser, synthetic};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{Days, NaiveDate, Utc};
use seatwatch_core::analyse::{Policy, build_report};
use seatwatch_core::duo::{DuoHolder, DuoSnapshot, DuoUse};
use seatwatch_core::site::render;
use seatwatch_core::snapshot::{Activity, Member, UserState};

fn snapshot_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date")
}

/// What a GitLab user could type into their name (and an admin-created username or e-mail).
fn payloads() -> Vec<String> {
    vec![
        "<script>window.__seatwatchPwned='script';document.title='PWNED';alert(1)</script>".into(),
        "\"><img src=x onerror=\"window.__seatwatchPwned='img';alert(2)\">".into(),
        "<svg/onload=\"window.__seatwatchPwned='svg';alert(3)\">".into(),
        "</td></tr></table><iframe src=\"javascript:alert(4)\"></iframe>".into(),
        "'><a href=\"javascript:alert(5)\" id=pwn>click</a><style>body{width:99999px}</style>"
            .into(),
        "<title>PWNED</title><meta http-equiv=refresh content=\"0;url=javascript:alert(6)\">"
            .into(),
        "Mallory \u{202E}nimda\u{202C} Admin \u{2067}rtl\u{2069} \u{200F}".into(),
        "👩‍💻 Dev 🚀🔥 👨‍👩‍👧‍👦 🏳️‍🌈 Z̸̡̛a̷l̶g̴o̵".into(),
        "N".repeat(10_000),
        format!("{}@example.com", "e".repeat(9_988)),
    ]
}

fn hostile_members() -> Vec<Member> {
    let date = snapshot_date();
    let mut members = synthetic::members(300, date);
    let template = members[50].clone();
    let mut next_id = members.len() as u64 + 1;
    for (i, p) in payloads().into_iter().enumerate() {
        // Each payload twice: as a long-inactive seat holder (listed as reclaimable) and as an
        // active member with activity (counted on the activity page).
        for active in [false, true] {
            let mut m = template.clone();
            m.id = next_id;
            next_id += 1;
            m.name = p.clone();
            m.username = if i % 2 == 0 {
                p.clone()
            } else {
                format!("user{i}-{active}")
            };
            m.email = Some(p.clone());
            m.state = UserState::Active;
            m.bot = false;
            m.holds_seat = true;
            m.created_at = Some(Utc::now() - chrono::Duration::days(900));
            if active {
                m.last_activity_on = Some(date);
                m.last_sign_in_at = Some(Utc::now());
                m.activity = Activity {
                    pushes: 3,
                    commits: 9,
                    mrs_opened: 1,
                    ..Activity::default()
                };
                // no contribution known: listed as a Guest candidate on unused.html too
                m.last_contribution_on = None;
            } else {
                m.last_activity_on = Some(date - Days::new(200 + i as u64));
                m.last_sign_in_at = None;
                m.current_sign_in_at = None;
                m.last_login_at = None;
                m.activity = Activity::default();
            }
            members.push(m);
        }
    }
    members
}

/// The synthetic Duo seats, with every payload member holding a Duo Pro seat too.
fn hostile_duo(members: &[Member]) -> (DuoSnapshot, Vec<DuoHolder>) {
    let (mut duo, mut holders) = synthetic::duo(members, snapshot_date(), true);
    let payload_holders: Vec<DuoHolder> = members
        .iter()
        .filter(|m| payloads().contains(&m.name))
        .map(|m| DuoHolder {
            add_on: "CODE_SUGGESTIONS".into(),
            user_id: m.id,
            username: m.username.clone(),
            last_duo_use: DuoUse::Never,
            last_activity_on: m.last_activity_on,
            last_login_at: None,
            first_seen_assigned: duo.tracked_since,
        })
        .filter(|h| {
            holders
                .iter()
                .all(|x| x.user_id != h.user_id || x.add_on != h.add_on)
        })
        .collect();
    let pro = duo
        .add_ons
        .iter_mut()
        .find(|a| a.add_on == "CODE_SUGGESTIONS")
        .expect("synthetic Duo Pro");
    pro.assigned += payload_holders.len() as u64;
    pro.purchased += payload_holders.len() as u64;
    holders.extend(payload_holders);
    (duo, holders)
}

fn run_checker(site: &Path, must_show: &[String]) -> Output {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-screenshots");
    let args = [site.as_os_str(), shots.as_os_str()]
        .into_iter()
        .chain(must_show.iter().map(OsStr::new));
    browser::run("hostile.mjs", args)
}

#[test]
fn hostile_member_names_run_no_script_and_keep_the_layout() {
    let members = hostile_members();
    let history = synthetic::history(members.len() as u64, 30, snapshot_date());
    let mut latest = history.last().expect("history").clone();
    let (duo, duo_holders) = hostile_duo(&members);
    latest.duo = Some(duo);
    let policy = Policy {
        seat_price: Some(29.0),
        ..Policy::default()
    };
    let now = "2026-06-30T04:12:00Z".parse().expect("timestamp");
    let report = build_report(&latest, &members, &history, &duo_holders, &policy, now);
    let files = render(&report, &members).expect("renders");
    let site = tempfile::tempdir().expect("temp dir");
    browser::write_site(&files, site.path());
    let unused = std::fs::read_to_string(site.path().join("unused.html")).expect("unused.html");
    assert!(
        unused.contains("window.__seatwatchPwned=&#39;script&#39;"),
        "the script payload is not on unused.html: the test would prove nothing"
    );
    assert!(
        !unused.contains("<script>window"),
        "a raw script on unused.html"
    );
    assert!(
        unused.contains(&"N".repeat(10_000)),
        "the long name is listed"
    );
    let duo = std::fs::read_to_string(site.path().join("duo.html")).expect("duo.html");
    assert!(
        duo.contains("window.__seatwatchPwned=&#39;script&#39;"),
        "the script payload is not on duo.html: the test would prove nothing"
    );

    let out = run_checker(site.path(), &payloads());
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "hostile input broke the pages:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_checker_sees_a_live_script_and_an_overflowing_page() {
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        site.path().join("control.html"),
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Control</title></head>\
         <body><script>document.title='PWNED';window.__seatwatchPwned='control';alert(1)</script>\
         <div style=\"width:5000px\">wide</div><table><tr><td style=\"white-space:nowrap\">\
         wide table wide table wide table wide table wide table wide table wide table wide \
         table wide table wide table wide table wide table</td></tr></table></body></html>",
    )
    .expect("control page");
    let out = run_checker(site.path(), &["never present".to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for expected in [
        "dialog(s) opened",
        "title changed",
        "payload marker set",
        "px wide in a",
        "overflows with no scrolling box",
        "never shown as text",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
