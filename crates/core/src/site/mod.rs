//! The static site: a [`Report`] (and the snapshot's members) → the site's files, in memory.
//!
//! Pages are askama templates from `site-templates/` (askama escapes everything it prints unless
//! a value is one of our own [`format`] figures or an SVG drawn by [`charts`]); CSV files come from
//! [`export`]. Nothing here writes anywhere: the application's `publish` does, in the order [`render`]
//! returns (data files first, pages last), so a reader never sees a page whose data is missing.

mod charts;
pub mod export;
mod format;

use askama::Template;
use chrono::NaiveDate;

use crate::analyse::{DayPoint, DuoStatus, DuoStatusCounts, GuestApplies, Report};
use crate::duo::AddOnSeats;
use crate::snapshot::{ActivityKind, ActivityTotals, Member};
use charts::{Layer, Line};
use format::{Amount, Count, OptAmount, OptCount, OptDate, OptDays, Relative};

/// One file of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    /// Relative to the site root, with `/`: `index.html`, `data/report.json`.
    pub path: String,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub bytes: Vec<u8>,
}

/// Why the site could not be rendered. None of these depend on the data; each is a bug.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("rendering the page {page} failed: {cause}; this is a seatwatch bug, please report it")]
    Template {
        page: &'static str,
        // in the message, so deliberately not a `source()`: each cause prints once
        cause: askama::Error,
    },
    #[error("writing data/report.json failed: {0}; this is a seatwatch bug, please report it")]
    Json(serde_json::Error),
    #[error("writing {file} failed: {cause}; this is a seatwatch bug, please report it")]
    Csv {
        file: &'static str,
        cause: csv::Error,
    },
}

impl From<serde_json::Error> for SiteError {
    fn from(e: serde_json::Error) -> Self {
        SiteError::Json(e)
    }
}

const HTML: &str = "text/html; charset=utf-8";
const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";
const CSS: &str = "text/css; charset=utf-8";
/// Pages and data change every day: caches must ask again (cheap with ETags).
const REVALIDATE: &str = "no-cache";
/// The stylesheet changes only with a seatwatch release.
const ASSET: &str = "public, max-age=86400";

/// The stylesheet, served as `site.css`.
const SITE_CSS: &str = include_str!("../../../../site-templates/site.css");

/// Which navigation entry is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Unused,
    Activity,
    Duo,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    r: &'a Report,
    nav: Nav,
    seats_chart: String,
}

#[derive(Template)]
#[template(path = "unused.html")]
struct UnusedPage<'a> {
    r: &'a Report,
    nav: Nav,
}

#[derive(Template)]
#[template(path = "duo.html")]
struct DuoPage<'a> {
    r: &'a Report,
    nav: Nav,
}

/// What people call an add-on GitLab names `add_on` (its enum name, shown beside it).
pub fn add_on_label(add_on: &str) -> &str {
    match add_on {
        "CODE_SUGGESTIONS" => "GitLab Duo Pro",
        "DUO_ENTERPRISE" => "GitLab Duo Enterprise",
        crate::duo::DUO_AMAZON_Q => "GitLab Duo with Amazon Q",
        crate::duo::DUO_CORE => "GitLab Duo Core",
        other => other,
    }
}

/// One row of the activity-by-kind table.
struct KindRow {
    label: &'static str,
    last_day: u64,
    last_7_days: u64,
    last_30_days: u64,
    last_90_days: u64,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage<'a> {
    r: &'a Report,
    nav: Nav,
    /// Active that day, in the last 7, 30 and 90 days, on the snapshot date.
    active: [u64; 4],
    active_chart: String,
    kinds_chart: String,
    kinds: Vec<KindRow>,
}

/// A value the templates hand over by value or by (double) reference: askama passes fields
/// by reference and `match` bindings by reference again.
trait Arg<T> {
    fn get(self) -> T;
}
impl<T: Copy> Arg<T> for T {
    fn get(self) -> T {
        self
    }
}
impl<T: Copy> Arg<T> for &T {
    fn get(self) -> T {
        *self
    }
}
impl<T: Copy> Arg<T> for &&T {
    fn get(self) -> T {
        **self
    }
}

/// Shorthands the templates call; they return [`format`] wrappers, which need no escaping.
macro_rules! page_helpers {
    ($($page:ident),*) => {$(
        #[allow(dead_code)] // each page uses a different subset
        impl $page<'_> {
            fn n(&self, v: impl Arg<u64>) -> Count { Count(v.get()) }
            fn on(&self, v: impl Arg<Option<u64>>) -> OptCount { OptCount(v.get()) }
            fn days(&self, v: impl Arg<Option<u32>>) -> OptDays { OptDays(v.get()) }
            fn d(&self, v: impl Arg<Option<NaiveDate>>) -> OptDate { OptDate(v.get()) }
            fn amount(&self, v: impl Arg<f64>) -> Amount { Amount(v.get()) }
            fn oamount(&self, v: impl Arg<Option<f64>>) -> OptAmount { OptAmount(v.get()) }
            fn rel(&self, v: impl Arg<i64>) -> Relative { Relative(v.get()) }
            /// Days from the snapshot date to `day`.
            fn until(&self, day: impl Arg<NaiveDate>) -> i64 {
                (day.get() - self.r.snapshot_date).num_days()
            }
            fn would(&self, reason: impl Arg<Option<crate::analyse::Reason>>) -> &'static str {
                reason.get().map_or("Active", |r| r.label())
            }
            fn is(&self, nav: Nav) -> bool { self.nav == nav }
            fn statuses(&self) -> [DuoStatus; 5] { DuoStatus::ALL }
            fn status_count(&self, c: &DuoStatusCounts, s: impl Arg<DuoStatus>) -> Count {
                Count(c.get(s.get()))
            }
            fn add_on_label<'s>(&self, add_on: &'s str) -> &'s str { add_on_label(add_on) }
            /// A signed seat count: "12 fewer" / "3 more".
            fn fewer(&self, seats: impl Arg<i64>) -> String {
                let n = seats.get();
                if n >= 0 { format!("{} fewer", Count(n.unsigned_abs())) } else { format!("{} more", Count(n.unsigned_abs())) }
            }
            fn amount_abs(&self, v: impl Arg<f64>) -> Amount { Amount(v.get().abs()) }
            /// The verb for a yearly saving that may be negative (renewing more seats than today).
            fn saves_or_costs(&self, v: impl Arg<f64>) -> &'static str {
                if v.get() >= 0.0 { "saves" } else { "costs" }
            }
            fn collected(&self) -> String { self.r.collected_at.format("%Y-%m-%d %H:%M UTC").to_string() }
            fn generated(&self) -> String { self.r.generated_at.format("%Y-%m-%d %H:%M UTC").to_string() }
            fn version(&self) -> &str { self.r.gitlab_version.as_deref().unwrap_or("version unknown") }
            fn token_soon(&self) -> bool { self.r.token_days_left.is_some_and(|d| d <= 30) }
            fn term_soon(&self) -> bool { self.r.seats.term_days_left.is_some_and(|d| d <= 60) }
            /// Seats per month on the trend, signed, one decimal.
            fn per_month(&self) -> String {
                match self.r.forecast.in_use_per_day {
                    Some(b) => format!("{:+.1}", b * 30.0),
                    None => String::new(),
                }
            }
        }
    )*};
}
page_helpers!(IndexPage, UnusedPage, ActivityPage, DuoPage);

/// One point per snapshot: `days` has one per counted day, and a snapshot that caught up after
/// missed runs counted several.
fn snapshot_points(r: &Report) -> Vec<&DayPoint> {
    let mut points: Vec<&DayPoint> = r.days.iter().collect();
    points.dedup_by_key(|d| d.date);
    points
}

fn seats_chart(r: &Report) -> String {
    let snapshots = snapshot_points(r);
    let in_use: Vec<(NaiveDate, f64)> = snapshots
        .iter()
        .map(|d| (d.date, d.in_use as f64))
        .collect();
    let purchased: Vec<(NaiveDate, f64)> = snapshots
        .iter()
        .filter_map(|d| d.purchased.map(|p| (d.date, p as f64)))
        .collect();
    let max_used: Vec<(NaiveDate, f64)> = snapshots
        .iter()
        .filter_map(|d| d.max_used.map(|m| (d.date, m as f64)))
        .collect();
    let (trend, end) = seats_trend(r);
    // Drawn bottom to top: seats in use goes over GitLab's maximum, which often equals it.
    let mut lines = Vec::with_capacity(4);
    if !purchased.is_empty() {
        lines.push(Line {
            label: "Seats purchased",
            class: "s2",
            points: purchased,
            step: true,
            dashed: false,
        });
    }
    if !max_used.is_empty() {
        lines.push(Line {
            label: "Maximum used in term (GitLab)",
            class: "s3",
            points: max_used,
            step: true,
            dashed: false,
        });
    }
    lines.push(Line {
        label: "Seats in use",
        class: "s1",
        points: in_use,
        step: false,
        dashed: false,
    });
    if !trend.is_empty() {
        lines.push(Line {
            label: "Trend of seats in use (last 90 days)",
            class: "s4",
            points: trend,
            step: false,
            dashed: true,
        });
    }
    charts::line_chart(
        "seats-chart",
        "Seats over time",
        &seats_desc(r),
        &lines,
        end,
    )
}

/// The trend of seats in use, drawn from the start of its window to the licence end (or today
/// without one), and the date the chart's axis runs to; no line without a trend.
fn seats_trend(r: &Report) -> (Vec<(NaiveDate, f64)>, Option<NaiveDate>) {
    let (Some(slope), Some(today)) = (r.forecast.in_use_per_day, r.forecast.trend_in_use_today)
    else {
        return (Vec::new(), None);
    };
    let window_start = r.snapshot_date - chrono::Days::new(u64::from(r.forecast.window_days));
    let first = r
        .days
        .iter()
        .find(|d| d.date > window_start)
        .map(|d| d.date);
    let last = r
        .seats
        .term_end
        .filter(|e| *e >= r.snapshot_date && (*e - r.snapshot_date).num_days() <= 730)
        .unwrap_or(r.snapshot_date);
    let at = |d: NaiveDate| {
        let x = (d - r.snapshot_date).num_days() as f64;
        (d, (today + slope * x).max(0.0))
    };
    let trend = match first {
        Some(first) => vec![at(first), at(last)],
        None => Vec::new(),
    };
    (trend, Some(last))
}

/// The seats chart in words, for screen readers.
fn seats_desc(r: &Report) -> String {
    let first = r.days.first().map(|d| d.date).unwrap_or(r.snapshot_date);
    format!(
        "Seats in use went from {} on {first} to {} on {}{}.",
        r.days.first().map_or(0, |d| d.in_use),
        r.seats.in_use,
        r.snapshot_date,
        match r.seats.purchased {
            Some(p) => format!("; {p} seats are purchased"),
            None => String::new(),
        }
    )
}

fn active_chart(r: &Report) -> String {
    let series = |f: fn(&DayPoint) -> u64| -> Vec<(NaiveDate, f64)> {
        r.days
            .iter()
            .map(|d| (d.activity_date, f(d) as f64))
            .collect()
    };
    let lines = [
        Line {
            label: "Active in the last 90 days",
            class: "s4",
            points: series(|d| d.active_90d),
            step: false,
            dashed: false,
        },
        Line {
            label: "Active in the last 30 days",
            class: "s3",
            points: series(|d| d.active_30d),
            step: false,
            dashed: false,
        },
        Line {
            label: "Active in the last 7 days",
            class: "s2",
            points: series(|d| d.active_7d),
            step: false,
            dashed: false,
        },
        Line {
            label: "Active that day",
            class: "s1",
            points: series(|d| d.active_1d),
            step: false,
            dashed: false,
        },
    ];
    let last = r.days.last();
    let desc = format!(
        "On {}, {} members were active that day, {} in the last 7 days, {} in the last 30 days \
         and {} in the last 90 days.",
        last.map_or(r.snapshot_date, |d| d.activity_date),
        last.map_or(0, |d| d.active_1d),
        last.map_or(0, |d| d.active_7d),
        last.map_or(0, |d| d.active_30d),
        last.map_or(0, |d| d.active_90d),
    );
    charts::line_chart(
        "active-chart",
        "Active members per day",
        &desc,
        &lines,
        None,
    )
}

/// The colour class of each kind the charts and table show ([`ActivityKind::events`]), in
/// their order: `k1`, `k2`, ... as `site.css` defines them.
fn kind_classes() -> Vec<(ActivityKind, String)> {
    ActivityKind::events()
        .enumerate()
        .map(|(i, kind)| (kind, format!("k{}", i + 1)))
        .collect()
}

fn kinds_chart(r: &Report) -> String {
    let dates: Vec<NaiveDate> = r.days.iter().map(|d| d.activity_date).collect();
    let classes = kind_classes();
    let layers: Vec<Layer<'_>> = classes
        .iter()
        .map(|(kind, class)| Layer {
            label: kind.label(),
            class,
            values: r
                .days
                .iter()
                .map(|d| ActivityTotals::get(&d.activity, *kind) as f64)
                .collect(),
        })
        .collect();
    let a = &r.activity.last_30_days;
    let figures: Vec<String> = ActivityKind::events()
        .map(|kind| format!("{}: {}", kind.label(), ActivityTotals::get(a, kind)))
        .collect();
    let desc = format!(
        "Events per day by kind. In the 30 complete days before {}: {}.",
        r.snapshot_date,
        figures.join("; ")
    );
    charts::stacked_bars(
        "kinds-chart",
        "Activity by kind per day",
        &desc,
        &dates,
        &layers,
    )
}

fn page<T: Template>(
    path: &'static str,
    template: &T,
    capacity: usize,
) -> Result<SiteFile, SiteError> {
    let mut out = String::with_capacity(capacity.max(T::SIZE_HINT));
    template
        .render_into(&mut out)
        .map_err(|cause| SiteError::Template { page: path, cause })?;
    Ok(SiteFile {
        path: path.to_string(),
        content_type: HTML,
        cache_control: REVALIDATE,
        bytes: out.into_bytes(),
    })
}

/// Renders every file of the site: data files (`data/report.json`, the CSVs, the stylesheet)
/// first, pages last, `index.html` the very last.
pub fn render(report: &Report, members: &[Member]) -> Result<Vec<SiteFile>, SiteError> {
    let mut files = data_files(report, members)?;
    let rows = report.reclaimable.len() + report.exempt.len();
    files.push(page(
        "unused.html",
        &UnusedPage {
            r: report,
            nav: Nav::Unused,
        },
        16_384 + rows * 400,
    )?);
    files.push(activity_page(report)?);
    let duo_rows = report.duo.as_ref().map_or(0, |d| {
        d.add_ons
            .iter()
            .map(|a| a.holders.as_ref().map_or(0, Vec::len))
            .sum()
    });
    files.push(page(
        "duo.html",
        &DuoPage {
            r: report,
            nav: Nav::Duo,
        },
        16_384 + duo_rows * 900,
    )?);
    files.push(page(
        "index.html",
        &IndexPage {
            r: report,
            nav: Nav::Overview,
            seats_chart: seats_chart(report),
        },
        32_768 + report.days.len() * 64,
    )?);
    Ok(files)
}

/// The files the pages link to, in the order they are written.
fn data_files(report: &Report, members: &[Member]) -> Result<Vec<SiteFile>, SiteError> {
    let mut files = Vec::with_capacity(9);
    files.push(SiteFile {
        path: "data/report.json".into(),
        content_type: JSON,
        cache_control: REVALIDATE,
        bytes: serde_json::to_vec(report)?,
    });
    files.push(SiteFile {
        path: "unused.csv".into(),
        content_type: CSV,
        cache_control: REVALIDATE,
        bytes: export::unused_csv(report).map_err(|cause| SiteError::Csv {
            file: "unused.csv",
            cause,
        })?,
    });
    files.push(SiteFile {
        path: "members.csv".into(),
        content_type: CSV,
        cache_control: REVALIDATE,
        bytes: export::members_csv(report, members).map_err(|cause| SiteError::Csv {
            file: "members.csv",
            cause,
        })?,
    });
    files.push(SiteFile {
        path: "duo.csv".into(),
        content_type: CSV,
        cache_control: REVALIDATE,
        bytes: export::duo_csv(report).map_err(|cause| SiteError::Csv {
            file: "duo.csv",
            cause,
        })?,
    });
    files.push(SiteFile {
        path: "guest-candidates.csv".into(),
        content_type: CSV,
        cache_control: REVALIDATE,
        bytes: export::guest_candidates_csv(report).map_err(|cause| SiteError::Csv {
            file: "guest-candidates.csv",
            cause,
        })?,
    });
    files.push(SiteFile {
        path: "site.css".into(),
        content_type: CSS,
        cache_control: ASSET,
        bytes: SITE_CSS.as_bytes().to_vec(),
    });
    Ok(files)
}

/// `activity.html`: the active-members and kinds charts, and the table of kinds by window.
fn activity_page(report: &Report) -> Result<SiteFile, SiteError> {
    let a = &report.activity;
    let kinds = ActivityKind::events()
        .map(|kind| KindRow {
            label: kind.label(),
            last_day: ActivityTotals::get(&a.last_day, kind),
            last_7_days: ActivityTotals::get(&a.last_7_days, kind),
            last_30_days: ActivityTotals::get(&a.last_30_days, kind),
            last_90_days: ActivityTotals::get(&a.last_90_days, kind),
        })
        .collect();
    page(
        "activity.html",
        &ActivityPage {
            r: report,
            nav: Nav::Activity,
            active: report.days.last().map_or([0; 4], |d| {
                [d.active_1d, d.active_7d, d.active_30d, d.active_90d]
            }),
            active_chart: active_chart(report),
            kinds_chart: kinds_chart(report),
            kinds,
        },
        65_536 + report.days.len() * 1024,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opened_is_named_for_reopened_too_quirk() {
        // app/models/event.rb: action_name is "opened" for created, reopened and updated items,
        // so the kinds that count it must not read as new work alone.
        for kind in ActivityKind::ALL
            .into_iter()
            .filter(|k| k.name().ends_with("_opened"))
        {
            assert!(kind.label().contains("reopened"), "{kind:?}");
        }
    }

    #[test]
    fn site_css_colours_every_charted_kind() {
        for (kind, class) in kind_classes() {
            assert!(
                SITE_CSS.contains(&format!(".chart .{class} {{ fill: var(--{class}); }}")),
                "{kind:?} is drawn as {class}, which site.css does not colour"
            );
            let swatch = format!(".swatch.{class} {{ background: var(--{class}); }}");
            assert!(SITE_CSS.contains(&swatch), "{class} has no swatch");
        }
    }
}
