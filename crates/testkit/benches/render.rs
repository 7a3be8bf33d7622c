//! Rendering speed (issue 4 §5): the whole site for 100,000 members and 365 days of history,
//! against serialising the same data to JSON with serde_json. Plain `Instant`, no harness: run
//! with `cargo bench -p seatwatch-testkit --bench render` (release). Prints times and ratios; asserts nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use seatwatch_core::analyse::{Exemptions, Policy, build_report};
use seatwatch_core::site::{export, render};
use seatwatch_testkit::synthetic;

const MEMBERS: usize = 100_000;
const DAYS: u64 = 365;
const RUNS: usize = 5;

/// The best of `RUNS` timings: the least disturbed by the other users of this machine.
fn best_of<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = black_box(f());
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.expect("RUNS > 0"))
}

fn main() {
    let date = NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date");
    let members = synthetic::members(MEMBERS, date);
    let history = synthetic::history(MEMBERS as u64, DAYS, date);
    let mut latest = history.last().expect("history").clone();
    let (duo, duo_holders) = synthetic::duo(&members, date, true);
    latest.duo = Some(duo);
    let policy = Policy {
        exempt: Exemptions::parse("svc-*").expect("valid"),
        seat_price: Some(29.0),
        ..Policy::default()
    };
    let generated_at = "2026-06-30T04:00:00Z".parse().expect("timestamp");

    let (analyse, report) = best_of(|| {
        build_report(
            &latest,
            &members,
            &history,
            &duo_holders,
            &policy,
            generated_at,
        )
    });
    let (render_time, files) = best_of(|| render(&report, &members).expect("renders"));
    let (json_report, report_json) = best_of(|| serde_json::to_vec(&report).expect("serialises"));
    let (json_all, all_json) =
        best_of(|| serde_json::to_vec(&(&report, &members)).expect("serialises"));

    println!(
        "{MEMBERS} members, {DAYS} days, {} reclaimable, {} exempt; best of {RUNS} runs",
        report.reclaimable.len(),
        report.exempt.len()
    );
    for f in &files {
        println!("  {:<18} {:>12} bytes", f.path, f.bytes.len());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (members_csv, _) = best_of(|| export::members_csv(&report, &members).expect("csv"));
    let (unused_csv, _) = best_of(|| export::unused_csv(&report).expect("csv"));
    println!(
        "  of which members.csv              {:>9.1} ms",
        ms(members_csv)
    );
    println!(
        "  of which unused.csv               {:>9.1} ms",
        ms(unused_csv)
    );
    println!("build_report (analyse)            {:>9.1} ms", ms(analyse));
    println!(
        "render (all site files)           {:>9.1} ms",
        ms(render_time)
    );
    println!(
        "serde_json report                 {:>9.1} ms ({} bytes)",
        ms(json_report),
        report_json.len()
    );
    println!(
        "serde_json report + members       {:>9.1} ms ({} bytes)",
        ms(json_all),
        all_json.len()
    );
    println!(
        "ratio render / serde_json(report + members) = {:.2} (target <= 3)",
        render_time.as_secs_f64() / json_all.as_secs_f64()
    );
    println!(
        "ratio render / serde_json(report only)      = {:.2}",
        render_time.as_secs_f64() / json_report.as_secs_f64()
    );
}
