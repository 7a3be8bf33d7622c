//! Snapshot history → findings: reclaimable seats, money, seat figures, the true-up forecast and
//! activity trends; Duo seats (`duo_seats.rs`), Guest candidates (`guests.rs`) and renewal sizing
//! (`renewal.rs`) in modules of their own.
//!
//! Everything here is a pure function of its inputs. There is no clock: the snapshot date and the
//! report's `generated_at` are passed in, so the same inputs always give the same [`Report`]. The
//! reclaimable rule is the one DESIGN.md fixes ("Reclaimable seats"); [`classify`] is its single
//! implementation, used by [`build_report`] and by the site's `members.csv`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Serialize, Serializer};

mod duo_seats;
mod guests;
mod renewal;

pub use duo_seats::{
    DuoAddOnReport, DuoMoney, DuoReport, DuoSeatHolder, DuoStatus, DuoStatusCounts, duo_status,
    gitlab_unassign_order, with_buffer,
};
pub use guests::{
    GUEST_FREE_PLANS, GuestApplies, GuestCandidate, GuestCandidates, guests_are_free,
};
pub use renewal::{BaseSeatsRenewal, DuoRenewal, Renewal, RenewalBasis};

use crate::duo::DuoHolder;
use crate::snapshot::{
    ActivityCoverage, ActivityTotals, DaySummary, Flavour, InstanceId, LicenceState, Member,
    SeatCounts,
};

/// How many days of history the seat trend is fitted over.
const TREND_WINDOW_DAYS: u32 = 90;

/// Why the analysis could not start; always a settings problem the user can fix.
#[derive(Debug, thiserror::Error)]
pub enum AnalyseError {
    #[error(
        "SEATWATCH_EXEMPT entry {pattern:?} is not a valid username or glob ({cause}); \
         use comma-separated usernames or globs such as `svc-*`"
    )]
    BadExemptPattern {
        pattern: String,
        // in the message, so deliberately not a `source()`: each cause prints once
        cause: globset::Error,
    },
}

/// Members never listed as reclaimable: usernames and globs such as `svc-*`, from
/// `SEATWATCH_EXEMPT`. GitLab usernames are case-insensitive, so matching is too.
#[derive(Debug, Clone)]
pub struct Exemptions {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Default for Exemptions {
    fn default() -> Self {
        Exemptions {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

impl Exemptions {
    /// Parses a comma-separated list; blanks around and between entries are ignored.
    pub fn parse(list: &str) -> Result<Self, AnalyseError> {
        let mut builder = GlobSetBuilder::new();
        let mut patterns = Vec::new();
        for pattern in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let glob = GlobBuilder::new(pattern)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|cause| AnalyseError::BadExemptPattern {
                    pattern: pattern.to_string(),
                    cause,
                })?;
            builder.add(glob);
            patterns.push(pattern.to_string());
        }
        let set = builder
            .build()
            .map_err(|cause| AnalyseError::BadExemptPattern {
                pattern: list.to_string(),
                cause,
            })?;
        Ok(Exemptions { patterns, set })
    }

    pub fn is_exempt(&self, username: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(username)
    }

    /// The entries as the user wrote them, for the report.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// The report shows which exemptions were in force, not the compiled matcher.
impl Serialize for Exemptions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(serializer)
    }
}

/// The knobs of the reclaimable rule and the cost figures.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// `SEATWATCH_INACTIVE_DAYS`: days without activity or sign-in after which a seat is reclaimable.
    pub inactive_days: u32,
    /// `SEATWATCH_GRACE_DAYS`: how long a new account may go without signing in.
    pub grace_days: u32,
    pub exempt: Exemptions,
    /// `SEATWATCH_SEAT_PRICE`: per seat per month, in the licence's currency.
    pub seat_price: Option<f64>,
    /// `SEATWATCH_DUO_IDLE_DAYS`: days without Duo use after which a Duo seat is idle.
    pub duo_idle_days: u32,
    /// `SEATWATCH_DUO_PRICES`: per Duo seat per month, by add-on (GitLab's enum name).
    pub duo_prices: std::collections::BTreeMap<String, f64>,
    /// `SEATWATCH_CONTRIBUTION_DAYS`: days without a contribution after which an active seat
    /// holder on Ultimate is a Guest candidate.
    pub contribution_days: u32,
    /// `SEATWATCH_RENEWAL_BUFFER`: percent added to the projected seats at renewal.
    pub renewal_buffer_percent: u32,
    /// `SEATWATCH_RENEWAL_NOTICE_DAYS`: days before the renewal date by which to act.
    pub renewal_notice_days: u32,
}

/// Days without activity or sign-in after which a seat is reclaimable, unless set otherwise.
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;
/// Days a never-signed-in account is left alone after it was created, unless set otherwise.
pub const DEFAULT_GRACE_DAYS: u32 = 14;
/// Days without Duo use after which a Duo seat is idle, unless set otherwise.
pub const DEFAULT_DUO_IDLE_DAYS: u32 = 30;
/// Days without a contribution after which an active Ultimate seat holder could be a Guest.
pub const DEFAULT_CONTRIBUTION_DAYS: u32 = 90;
/// Percent of headroom added to the projected seats when sizing a renewal.
pub const DEFAULT_RENEWAL_BUFFER_PERCENT: u32 = 10;
/// Days before the renewal date by which the customer should act (talk to sales, change the
/// quantity): a month, so the renewal quote can still change.
pub const DEFAULT_RENEWAL_NOTICE_DAYS: u32 = 30;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            inactive_days: DEFAULT_INACTIVE_DAYS,
            grace_days: DEFAULT_GRACE_DAYS,
            exempt: Exemptions::default(),
            seat_price: None,
            duo_idle_days: DEFAULT_DUO_IDLE_DAYS,
            duo_prices: std::collections::BTreeMap::new(),
            contribution_days: DEFAULT_CONTRIBUTION_DAYS,
            renewal_buffer_percent: DEFAULT_RENEWAL_BUFFER_PERCENT,
            renewal_notice_days: DEFAULT_RENEWAL_NOTICE_DAYS,
        }
    }
}

/// Why a seat is reclaimable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NeverSignedIn,
    Inactive,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NeverSignedIn => "never_signed_in",
            Reason::Inactive => "inactive",
        }
    }
    /// Wording for people reading the site.
    pub fn label(self) -> &'static str {
        match self {
            Reason::NeverSignedIn => "Never signed in",
            Reason::Inactive => "Inactive",
        }
    }
}

/// Where one member stands under the rule on the snapshot day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Bots and GitLab's internal users: never counted, never listed.
    Bot,
    /// No seat by GitLab's own signal (blocked, deactivated, Guest on Ultimate, ...).
    NoSeat,
    /// Holds a seat and uses it (or is inside the grace period).
    Active,
    /// Holds a seat that would be reclaimable, but is exempt by `SEATWATCH_EXEMPT`.
    Exempt(Option<Reason>),
    Reclaimable(Reason),
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Bot => "bot",
            Standing::NoSeat => "no_seat",
            Standing::Active => "active",
            Standing::Exempt(_) => "exempt",
            Standing::Reclaimable(r) => r.as_str(),
        }
    }
}

/// Whole days from `from` to `to`; a date after `to` (clock skew at GitLab) counts as 0.
fn days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days().max(0)).unwrap_or(u32::MAX)
}

/// Days since GitLab last saw the member by activity or any sign-in; `None` if it never did.
pub fn days_inactive(member: &Member, date: NaiveDate) -> Option<u32> {
    member.last_seen_on().map(|seen| days_between(seen, date))
}

/// The reclaimable rule without exemptions: `Some(reason)` when the seat is unused.
fn unused_reason(member: &Member, date: NaiveDate, policy: &Policy) -> Option<Reason> {
    match days_inactive(member, date) {
        Some(days) => (days >= policy.inactive_days).then_some(Reason::Inactive),
        None => {
            // The grace period runs from when the seat was given: on GitLab.com `created_at` is
            // the account's age on all of GitLab.com, so an old account added to the group
            // yesterday would otherwise be reclaimable at once; the membership's age is used
            // when the collector found it, the account's (never younger) otherwise. A member
            // with neither date is treated as past its grace period: otherwise such a never-used
            // seat could never be found.
            let old_enough =
                grace_start(member).is_none_or(|c| grace_over(c, date, policy.grace_days));
            old_enough.then_some(Reason::NeverSignedIn)
        }
    }
}

/// Whether a grace period of `grace_days` that started at `start` is over on `date`: the one
/// rule, which the collector also applies to decide which membership date to ask for.
pub fn grace_over(start: DateTime<Utc>, date: NaiveDate, grace_days: u32) -> bool {
    days_between(start.date_naive(), date) >= grace_days
}

/// When the member's grace period started: the membership's age where known (GitLab.com),
/// else the account's.
pub fn grace_start(member: &Member) -> Option<DateTime<Utc>> {
    member.member_since.or(member.created_at)
}

/// The rule of DESIGN.md "Reclaimable seats" for one member on `date`.
pub(crate) fn classify(member: &Member, date: NaiveDate, policy: &Policy) -> Standing {
    if member.bot {
        return Standing::Bot;
    }
    if !member.holds_seat {
        return Standing::NoSeat;
    }
    let reason = unused_reason(member, date, policy);
    if policy.exempt.is_exempt(&member.username) {
        return Standing::Exempt(reason);
    }
    match reason {
        Some(r) => Standing::Reclaimable(r),
        None => Standing::Active,
    }
}

/// One seat that could be given back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReclaimableSeat {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub reason: Reason,
    pub last_activity_on: Option<NaiveDate>,
    /// The latest of every sign-in date GitLab gives.
    pub last_sign_in: Option<NaiveDate>,
    pub created_on: Option<NaiveDate>,
    /// `None` for `never_signed_in`.
    pub days_inactive: Option<u32>,
    /// The seat price per month, when one is set.
    pub monthly_cost: Option<f64>,
}

/// A seat holder exempt from the rule; listed apart so exemptions stay visible.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExemptMember {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub last_activity_on: Option<NaiveDate>,
    pub last_sign_in: Option<NaiveDate>,
    pub days_inactive: Option<u32>,
    /// What the rule would say without the exemption.
    pub would_be: Option<Reason>,
}

/// Seat figures for the snapshot day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seats {
    pub purchased: Option<u64>,
    pub in_use: u64,
    /// GitLab's own maximum for the term.
    pub max_used: Option<u64>,
    /// The maximum `in_use` over our own snapshots in the term (all history when the term start
    /// is unknown).
    pub max_used_observed: u64,
    pub owed: Option<u64>,
    /// Purchased seats nobody holds: `purchased - in_use`, never negative.
    pub unassigned: Option<u64>,
    pub reclaimable: u64,
    pub plan: Option<String>,
    pub term_start: Option<NaiveDate>,
    pub term_end: Option<NaiveDate>,
    /// Days from the snapshot date to the licence or subscription end; negative once expired.
    pub term_days_left: Option<i64>,
    /// What the licence says about seats: `licensed`, `no_seat_limit` (purchased is unknown and
    /// nothing is owed) or `no_licence` (nobody holds a seat).
    pub licence: LicenceState,
}

impl Seats {
    /// The licence restricts no seats (`user_limit: 0`).
    pub fn no_seat_limit(&self) -> bool {
        self.licence == LicenceState::NoSeatLimit
    }

    /// GitLab EE without a licence installed.
    pub fn no_licence(&self) -> bool {
        self.licence == LicenceState::NoLicence
    }
}

/// Cost figures, present only when a seat price is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Money {
    pub seat_price_monthly: f64,
    pub reclaimable_monthly: f64,
    pub reclaimable_yearly: f64,
    /// Seats bought but not held by anyone.
    pub unassigned_monthly: Option<f64>,
    pub unassigned_yearly: Option<f64>,
}

/// The true-up forecast: a least-squares line through seats in use over the last 90 days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Snapshots the line was fitted to.
    pub points: usize,
    pub window_days: u32,
    /// Seats per day; `None` with fewer than two snapshot days.
    pub in_use_per_day: Option<f64>,
    /// The line's value on the snapshot date (where charts anchor it).
    pub trend_in_use_today: Option<f64>,
    /// The line's value on the licence end date.
    pub projected_in_use_at_term_end: Option<u64>,
    /// Owed at the licence end if the trend holds: billed on the term's peak.
    pub projected_owed_at_term_end: Option<u64>,
    /// When seats in use reach purchased seats on the trend; the snapshot date if already there.
    pub seats_run_out_on: Option<NaiveDate>,
    /// Seats in use if the listed reclaimable seats are removed now.
    pub in_use_if_reclaimed: u64,
    /// Owed at true-up if the listed seats are reclaimed now. GitLab bills on the term's peak, so
    /// a peak already reached stays owed; reclaiming lowers what the trend adds from here.
    pub owed_if_reclaimed: Option<u64>,
    pub projected_owed_at_term_end_if_reclaimed: Option<u64>,
}

/// One day of the history, as the charts draw it: the activity of one complete calendar day,
/// `activity_date`, with the seat figures of the snapshot that counted it, `date`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPoint {
    /// The snapshot's date.
    pub date: NaiveDate,
    /// The calendar day `activity`, `with_events` and `active_1d` describe (the snapshot's own
    /// date on snapshots stored before complete days were counted: a partial day).
    pub activity_date: NaiveDate,
    pub purchased: Option<u64>,
    pub in_use: u64,
    pub max_used: Option<u64>,
    pub members: u64,
    pub seat_holders: u64,
    pub active_1d: u64,
    pub active_7d: u64,
    pub active_30d: u64,
    pub active_90d: u64,
    pub with_events: u64,
    pub activity: ActivityTotals,
}

/// Member counts on the snapshot day, by [`Standing`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemberCounts {
    pub members: u64,
    pub seat_holders: u64,
    pub active_seat_holders: u64,
    pub bots: u64,
    pub no_seat: u64,
    pub never_signed_in: u64,
    pub inactive: u64,
    pub exempt: u64,
}

/// Activity by kind summed over windows ending on the snapshot day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActivityWindows {
    pub last_day: ActivityTotals,
    pub last_7_days: ActivityTotals,
    pub last_30_days: ActivityTotals,
    pub last_90_days: ActivityTotals,
}

/// Everything the site shows; serialises to `data/report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub instance: InstanceId,
    pub flavour: Flavour,
    pub gitlab_version: Option<String>,
    pub snapshot_date: NaiveDate,
    pub collected_at: DateTime<Utc>,
    pub token_expires_at: Option<NaiveDate>,
    pub token_days_left: Option<i64>,
    pub policy: Policy,
    pub seats: Seats,
    pub money: Option<Money>,
    pub forecast: Forecast,
    pub counts: MemberCounts,
    pub activity: ActivityWindows,
    /// Members whose events GitLab would not show (GitLab.com private profiles): their activity
    /// is unknown, not zero.
    pub activity_unknown: u64,
    /// Longest unused first; never-signed-in seats before inactive ones.
    pub reclaimable: Vec<ReclaimableSeat>,
    pub exempt: Vec<ExemptMember>,
    /// One entry per counted calendar day, by `activity_date`, oldest first; a day counted by two
    /// snapshots shows the later one's figures.
    pub days: Vec<DayPoint>,
    /// GitLab Duo add-on seats; `None` where the snapshot did not read them.
    pub duo: Option<DuoReport>,
    /// Seat holders who could be Guests (Ultimate only).
    pub guest_candidates: GuestCandidates,
    /// How many seats to renew, and by when to act.
    pub renewal: Renewal,
}

/// The points of one snapshot: one per day it counted.
fn day_points(d: &DaySummary) -> Vec<DayPoint> {
    let a = &d.aggregates;
    let point = |activity_date, active_1d, with_events, activity| DayPoint {
        date: d.date,
        activity_date,
        purchased: d.seats.purchased,
        in_use: d.seats.in_use,
        max_used: d.seats.max_used,
        members: a.members,
        seat_holders: a.seat_holders,
        active_1d,
        active_7d: a.active_7d,
        active_30d: a.active_30d,
        active_90d: a.active_90d,
        with_events,
        activity,
    };
    match d.activity {
        ActivityCoverage::Days(_) => a
            .activity_days
            .iter()
            .map(|day| point(day.date, day.active, day.with_events, day.activity))
            .collect(),
        ActivityCoverage::Legacy => vec![point(d.date, a.active_1d, a.with_events, a.activity)],
    }
}

/// The timeline's points by counted day; a day counted twice (a legacy partial day recounted
/// whole, an earlier date collected after a later one) keeps the later snapshot's figures.
fn activity_timeline(timeline: &[&DaySummary]) -> Vec<DayPoint> {
    let mut by_day: BTreeMap<NaiveDate, DayPoint> = BTreeMap::new();
    for d in timeline {
        for p in day_points(d) {
            by_day.insert(p.activity_date, p);
        }
    }
    by_day.into_values().collect()
}

/// The history up to the snapshot date, one record per day (a re-collected day keeps its latest
/// collection), with `latest` itself always included.
fn timeline<'a>(latest: &'a DaySummary, history: &'a [DaySummary]) -> Vec<&'a DaySummary> {
    let mut by_date: BTreeMap<NaiveDate, &DaySummary> = BTreeMap::new();
    for d in history
        .iter()
        .filter(|d| d.instance == latest.instance && d.date <= latest.date)
    {
        let keep = by_date
            .get(&d.date)
            .is_none_or(|prev| prev.collected_at <= d.collected_at);
        if keep {
            by_date.insert(d.date, d);
        }
    }
    by_date.insert(latest.date, latest);
    by_date.into_values().collect()
}

/// Least squares `y = a + b·x` over `(x, y)`; `None` without two distinct `x`.
fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(x, y) in points {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((mean_y - slope * mean_x, slope))
}

fn forecast(days: &[&DaySummary], seats: &Seats, reclaimable: u64, date: NaiveDate) -> Forecast {
    let window_start = date - Days::new(u64::from(TREND_WINDOW_DAYS));
    // x is days relative to the snapshot date, so the intercept is the fitted value today.
    let points: Vec<(f64, f64)> = days
        .iter()
        .filter(|d| d.date > window_start)
        .map(|d| ((d.date - date).num_days() as f64, d.seats.in_use as f64))
        .collect();
    let fit = least_squares(&points);
    let slope = fit.map(|(_, b)| b);

    let peak_so_far = seats.max_used.unwrap_or(0).max(seats.max_used_observed);
    let owed_on = |peak: u64| match seats.licence {
        LicenceState::NoSeatLimit | LicenceState::NoLicence => Some(0),
        LicenceState::Licensed => seats.purchased.map(|p| peak.saturating_sub(p)),
    };

    let projected_in_use_at_term_end = match (fit, seats.term_end) {
        (Some((a, b)), Some(end)) if end >= date => {
            let x = (end - date).num_days() as f64;
            Some((a + b * x).round().max(0.0) as u64)
        }
        _ => None,
    };
    let in_use_if_reclaimed = seats.in_use.saturating_sub(reclaimable);
    let projected_owed_at_term_end =
        projected_in_use_at_term_end.and_then(|p| owed_on(peak_so_far.max(p).max(seats.in_use)));
    let projected_owed_at_term_end_if_reclaimed = projected_in_use_at_term_end
        .and_then(|p| owed_on(peak_so_far.max(p.saturating_sub(reclaimable))));

    let seats_run_out_on = seats.purchased.and_then(|purchased| {
        if seats.in_use >= purchased {
            return Some(date);
        }
        let per_day = slope.filter(|b| *b > 0.0)?;
        let days_left = ((purchased - seats.in_use) as f64 / per_day).ceil();
        // Beyond a century the line says "never" more honestly than a date would.
        (days_left < 36_500.0).then(|| date + Days::new(days_left as u64))
    });

    Forecast {
        points: points.len(),
        window_days: TREND_WINDOW_DAYS,
        in_use_per_day: slope,
        trend_in_use_today: fit.map(|(a, _)| a),
        projected_in_use_at_term_end,
        projected_owed_at_term_end,
        seats_run_out_on,
        in_use_if_reclaimed,
        owed_if_reclaimed: owed_on(peak_so_far.max(in_use_if_reclaimed)),
        projected_owed_at_term_end_if_reclaimed,
    }
}

/// Activity of the `window` complete days before `date`.
fn sum_activity(days: &[DayPoint], date: NaiveDate, window: u64) -> ActivityTotals {
    let start = date - Days::new(window);
    let mut total = ActivityTotals::default();
    for d in days
        .iter()
        .filter(|d| d.activity_date >= start && d.activity_date < date)
    {
        total.add_totals(&d.activity);
    }
    total
}

fn round_money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The snapshot's members sorted by [`Standing`]: the counts, and the seats to list.
struct Standings {
    counts: MemberCounts,
    /// Longest unused first, as [`Report::reclaimable`] shows them.
    reclaimable: Vec<ReclaimableSeat>,
    /// By username.
    exempt: Vec<ExemptMember>,
}

impl Standings {
    fn of(members: &[Member], date: NaiveDate, policy: &Policy) -> Standings {
        let mut counts = MemberCounts::default();
        let mut reclaimable = Vec::new();
        let mut exempt = Vec::new();
        for m in members {
            counts.members += 1;
            let standing = classify(m, date, policy);
            if m.holds_seat && standing != Standing::Bot {
                counts.seat_holders += 1;
            }
            match standing {
                Standing::Bot => counts.bots += 1,
                Standing::NoSeat => counts.no_seat += 1,
                Standing::Active => counts.active_seat_holders += 1,
                Standing::Exempt(would_be) => {
                    counts.exempt += 1;
                    exempt.push(ExemptMember::of(m, would_be, date));
                }
                Standing::Reclaimable(reason) => {
                    match reason {
                        Reason::NeverSignedIn => counts.never_signed_in += 1,
                        Reason::Inactive => counts.inactive += 1,
                    }
                    reclaimable.push(ReclaimableSeat::of(m, reason, date, policy));
                }
            }
        }
        reclaimable.sort_by(|a, b| {
            let key = |s: &ReclaimableSeat| s.days_inactive.map_or(u64::MAX, u64::from);
            key(b)
                .cmp(&key(a))
                .then_with(|| a.username.cmp(&b.username))
        });
        exempt.sort_by(|a, b| a.username.cmp(&b.username));
        Standings {
            counts,
            reclaimable,
            exempt,
        }
    }
}

impl ReclaimableSeat {
    fn of(m: &Member, reason: Reason, date: NaiveDate, policy: &Policy) -> ReclaimableSeat {
        ReclaimableSeat {
            id: m.id,
            username: m.username.clone(),
            name: m.name.clone(),
            reason,
            last_activity_on: m.last_activity_on,
            last_sign_in: m.last_sign_in().map(|t| t.date_naive()),
            created_on: m.created_at.map(|t| t.date_naive()),
            days_inactive: match reason {
                Reason::Inactive => days_inactive(m, date),
                Reason::NeverSignedIn => None,
            },
            monthly_cost: policy.seat_price,
        }
    }
}

impl ExemptMember {
    fn of(m: &Member, would_be: Option<Reason>, date: NaiveDate) -> ExemptMember {
        ExemptMember {
            id: m.id,
            username: m.username.clone(),
            name: m.name.clone(),
            last_activity_on: m.last_activity_on,
            last_sign_in: m.last_sign_in().map(|t| t.date_naive()),
            days_inactive: days_inactive(m, date),
            would_be,
        }
    }
}

impl Seats {
    /// The snapshot's seat figures, with the peak our own snapshots saw in the term and what
    /// is owed under the licence.
    fn on(latest: &DaySummary, timeline: &[&DaySummary], reclaimable: u64) -> Seats {
        let date = latest.date;
        let s = &latest.seats;
        let in_term = |d: &&&DaySummary| s.term_start.is_none_or(|start| d.date >= start);
        let max_used_observed = timeline
            .iter()
            .filter(in_term)
            .map(|d| d.seats.in_use)
            .max()
            .unwrap_or(s.in_use);
        Seats {
            purchased: s.purchased,
            in_use: s.in_use,
            max_used: s.max_used,
            max_used_observed,
            owed: match s.licence {
                // License#overage is 0 without a seat restriction, and there is no true-up
                // without a licence: nothing is owed, whatever the counts
                LicenceState::NoSeatLimit | LicenceState::NoLicence => Some(0),
                LicenceState::Licensed => s
                    .owed
                    .or_else(|| SeatCounts::compute_owed(s.max_used, s.in_use, s.purchased)),
            },
            unassigned: s.purchased.map(|p| p.saturating_sub(s.in_use)),
            reclaimable,
            plan: s.plan.clone(),
            term_start: s.term_start,
            term_end: s.term_end,
            term_days_left: s.term_end.map(|end| (end - date).num_days()),
            licence: s.licence,
        }
    }
}

impl Money {
    /// What the reclaimable and the unassigned seats cost at `price` a seat and month.
    fn at(price: f64, seats: &Seats) -> Money {
        let reclaimable_monthly = round_money(price * seats.reclaimable as f64);
        let unassigned_monthly = seats.unassigned.map(|n| round_money(price * n as f64));
        Money {
            seat_price_monthly: price,
            reclaimable_monthly,
            reclaimable_yearly: round_money(reclaimable_monthly * 12.0),
            unassigned_monthly,
            unassigned_yearly: unassigned_monthly.map(|m| round_money(m * 12.0)),
        }
    }
}

impl ActivityWindows {
    /// The windows ending on `date`.
    fn ending(days: &[DayPoint], date: NaiveDate) -> ActivityWindows {
        ActivityWindows {
            last_day: sum_activity(days, date, 1),
            last_7_days: sum_activity(days, date, 7),
            last_30_days: sum_activity(days, date, 30),
            last_90_days: sum_activity(days, date, 90),
        }
    }
}

/// Builds the report for the snapshot `latest` from its members and the stored history
/// (`history` may or may not contain `latest`; other instances and later days are ignored).
/// `duo_holders` are the Duo seat holders stored beside `latest`'s members (empty when Duo seats
/// were not read).
pub fn build_report(
    latest: &DaySummary,
    members: &[Member],
    history: &[DaySummary],
    duo_holders: &[DuoHolder],
    policy: &Policy,
    generated_at: DateTime<Utc>,
) -> Report {
    let date = latest.date;
    let standings = Standings::of(members, date, policy);
    let timeline = timeline(latest, history);
    let seats = Seats::on(latest, &timeline, standings.reclaimable.len() as u64);
    let money = policy.seat_price.map(|price| Money::at(price, &seats));
    let forecast = forecast(&timeline, &seats, seats.reclaimable, date);
    let days = activity_timeline(&timeline);
    let activity = ActivityWindows::ending(&days, date);
    let duo = latest
        .duo
        .as_ref()
        .map(|d| DuoReport::of(d, duo_holders, date, policy));
    let guest_candidates = GuestCandidates::of(
        members,
        seats.plan.as_deref(),
        latest.contributions_known_since,
        date,
        policy,
    );
    let renewal = Renewal::of(&seats, &forecast, duo.as_ref(), policy);

    Report {
        generated_at,
        instance: latest.instance.clone(),
        flavour: latest.source.flavour,
        gitlab_version: latest.source.gitlab_version.clone(),
        snapshot_date: date,
        collected_at: latest.collected_at,
        token_expires_at: latest.token_expires_at,
        token_days_left: latest.token_expires_at.map(|t| (t - date).num_days()),
        policy: policy.clone(),
        seats,
        money,
        forecast,
        counts: standings.counts,
        activity,
        activity_unknown: latest.aggregates.activity_unknown,
        reclaimable: standings.reclaimable,
        exempt: standings.exempt,
        days,
        duo,
        guest_candidates,
        renewal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{DayAggregates, Source, UserState};

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        format!("{s}T12:00:00Z").parse().expect("test timestamp")
    }

    const TODAY: &str = "2026-06-30";

    fn member(username: &str) -> Member {
        Member {
            created_at: Some(at("2025-01-01")),
            ..Member::seat_holder(1, username, username.to_uppercase())
        }
    }

    fn days_ago(n: u64) -> NaiveDate {
        date(TODAY) - Days::new(n)
    }

    fn standing(m: &Member) -> Standing {
        classify(m, date(TODAY), &Policy::default())
    }

    fn day(d: NaiveDate, in_use: u64, purchased: Option<u64>) -> DaySummary {
        DaySummary {
            instance: InstanceId::new("gitlab.example.com", None),
            date: d,
            collected_at: DateTime::from_naive_utc_and_offset(
                d.and_hms_opt(3, 0, 0).expect("valid time"),
                Utc,
            ),
            source: Source {
                flavour: Flavour::SelfManaged,
                gitlab_version: Some("18.1.1-ee".into()),
            },
            seats: SeatCounts {
                purchased,
                in_use,
                max_used: Some(in_use),
                owed: None,
                plan: Some("ultimate".into()),
                term_start: Some(date("2026-01-01")),
                term_end: Some(date("2026-12-31")),
                licence: Default::default(),
            },
            aggregates: DayAggregates::default(),
            token_expires_at: Some(date("2026-09-01")),
            requests: 10,
            activity: ActivityCoverage::Legacy,
            contributions_known_since: None,
            duo: None,
        }
    }

    #[test]
    fn inactive_starts_at_exactly_inactive_days() {
        let mut m = member("alice");
        m.last_activity_on = Some(days_ago(89));
        assert_eq!(standing(&m), Standing::Active);
        m.last_activity_on = Some(days_ago(90));
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::Inactive));
        assert_eq!(days_inactive(&m, date(TODAY)), Some(90));
    }

    #[test]
    fn never_signed_in_waits_exactly_grace_days_after_creation() {
        let mut m = member("new");
        m.created_at = Some(DateTime::from_naive_utc_and_offset(
            days_ago(13).and_hms_opt(23, 59, 0).expect("valid time"),
            Utc,
        ));
        assert_eq!(standing(&m), Standing::Active);
        m.created_at = Some(DateTime::from_naive_utc_and_offset(
            days_ago(14).and_hms_opt(0, 0, 1).expect("valid time"),
            Utc,
        ));
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::NeverSignedIn));
    }

    #[test]
    fn gitlab_com_created_at_is_the_account_age_not_the_membership_quirk() {
        // A years-old GitLab.com account added to the group 3 days ago, never seen since:
        // billable_members' created_at says 2025-01-01, the membership says 3 days.
        let mut m = member("joined-this-week");
        m.member_since = Some(at(&days_ago(3).to_string()));
        assert_eq!(standing(&m), Standing::Active, "inside the grace period");
        m.member_since = Some(at(&days_ago(14).to_string()));
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::NeverSignedIn));
        // Unknown membership age (invited through another group): the account's age decides.
        m.member_since = None;
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::NeverSignedIn));
    }

    #[test]
    fn a_sign_in_without_activity_counts_as_use() {
        let mut m = member("signs-in-only");
        m.last_sign_in_at = Some(at(&days_ago(30).to_string()));
        assert_eq!(standing(&m), Standing::Active);
        m.last_sign_in_at = Some(at(&days_ago(120).to_string()));
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::Inactive));
        assert_eq!(days_inactive(&m, date(TODAY)), Some(120));
        // the latest of all sign-in fields counts, not just one of them
        m.last_login_at = Some(at(&days_ago(5).to_string()));
        assert_eq!(standing(&m), Standing::Active);
    }

    #[test]
    fn activity_without_a_sign_in_counts_as_use() {
        let mut m = member("api-user");
        m.last_activity_on = Some(days_ago(3));
        assert_eq!(standing(&m), Standing::Active);
        m.last_activity_on = Some(days_ago(200));
        assert_eq!(standing(&m), Standing::Reclaimable(Reason::Inactive));
    }

    #[test]
    fn the_later_of_activity_and_sign_in_decides() {
        let mut m = member("both");
        m.last_activity_on = Some(days_ago(200));
        m.current_sign_in_at = Some(at(&days_ago(10).to_string()));
        assert_eq!(standing(&m), Standing::Active);
    }

    #[test]
    fn bots_and_members_without_a_seat_are_never_reclaimable() {
        let mut bot = member("project_1_bot");
        bot.bot = true;
        assert_eq!(standing(&bot), Standing::Bot);
        let mut blocked = member("blocked");
        blocked.holds_seat = false;
        blocked.state = UserState::Blocked;
        assert_eq!(standing(&blocked), Standing::NoSeat);
    }

    #[test]
    fn exemptions_match_usernames_and_globs_case_insensitively() {
        let ex = Exemptions::parse(" svc-* , Alice,,ci?bot ").expect("valid list");
        assert!(ex.is_exempt("svc-deploy"));
        assert!(ex.is_exempt("alice"));
        assert!(ex.is_exempt("ALICE"));
        assert!(ex.is_exempt("ci1bot"));
        assert!(!ex.is_exempt("alicex"));
        assert!(!ex.is_exempt("my-svc-x"));
        assert_eq!(ex.patterns(), ["svc-*", "Alice", "ci?bot"]);
        assert!(!Exemptions::parse("").expect("empty list").is_exempt("x"));
        let err = Exemptions::parse("ok,[broken").expect_err("bad glob");
        assert!(err.to_string().contains("[broken"), "{err}");
        assert!(err.to_string().contains("svc-*"), "{err}");
    }

    #[test]
    fn exempt_members_are_listed_apart_with_what_they_would_be() {
        let policy = Policy {
            exempt: Exemptions::parse("svc-*").expect("valid"),
            ..Policy::default()
        };
        let mut svc = member("svc-backup");
        svc.last_activity_on = Some(days_ago(400));
        let mut idle = member("idle");
        idle.last_activity_on = Some(days_ago(400));
        let latest = day(date(TODAY), 2, Some(10));
        let r = build_report(&latest, &[svc, idle], &[], &[], &policy, at(TODAY));
        assert_eq!(r.reclaimable.len(), 1);
        assert_eq!(r.reclaimable[0].username, "idle");
        assert_eq!(r.exempt.len(), 1);
        assert_eq!(r.exempt[0].username, "svc-backup");
        assert_eq!(r.exempt[0].would_be, Some(Reason::Inactive));
        assert_eq!(r.counts.exempt, 1);
    }

    #[test]
    fn report_lists_reasons_costs_and_sorts_longest_unused_first() {
        let policy = Policy {
            seat_price: Some(29.0),
            ..Policy::default()
        };
        let mut never = member("never");
        never.created_at = Some(at("2026-01-01"));
        let mut old = member("old");
        old.last_activity_on = Some(days_ago(300));
        let mut older = member("older");
        older.last_activity_on = Some(days_ago(500));
        let mut active = member("active");
        active.last_activity_on = Some(days_ago(1));
        let latest = day(date(TODAY), 4, Some(10));
        let r = build_report(
            &latest,
            &[old, active, never, older],
            &[],
            &[],
            &policy,
            at(TODAY),
        );
        let names: Vec<_> = r.reclaimable.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(names, ["never", "older", "old"]);
        assert_eq!(r.reclaimable[0].days_inactive, None);
        assert_eq!(r.reclaimable[1].days_inactive, Some(500));
        assert_eq!(r.reclaimable[1].monthly_cost, Some(29.0));
        let money = r.money.expect("seat price set");
        assert_eq!(money.reclaimable_monthly, 87.0);
        assert_eq!(money.reclaimable_yearly, 1044.0);
        assert_eq!(money.unassigned_monthly, Some(6.0 * 29.0));
        assert_eq!(money.unassigned_yearly, Some(6.0 * 29.0 * 12.0));
        assert_eq!(r.seats.unassigned, Some(6));
        assert_eq!(r.seats.term_days_left, Some(184));
        assert_eq!(r.token_days_left, Some(63));
        assert_eq!(r.counts.active_seat_holders, 1);
    }

    #[test]
    fn no_seat_price_means_no_money() {
        let latest = day(date(TODAY), 1, Some(1));
        let r = build_report(&latest, &[], &[], &[], &Policy::default(), at(TODAY));
        assert!(r.money.is_none());
    }

    #[test]
    fn least_squares_recovers_a_line_and_refuses_a_point() {
        let pts: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 3.0 + 2.0 * x as f64)).collect();
        let (a, b) = least_squares(&pts).expect("a line");
        assert!((a - 3.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9, "{a} {b}");
        assert_eq!(least_squares(&[(1.0, 1.0)]), None);
        assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    #[test]
    fn forecast_fits_the_last_90_days_and_finds_when_seats_run_out() {
        // 1 seat a day for the last 90 days; older days are flat and far off, so fitting them too
        // would change the slope.
        let today = date(TODAY);
        let mut history: Vec<DaySummary> = (0..90u64)
            .map(|i| day(today - Days::new(i), 100 - i, Some(150)))
            .collect();
        history.extend((90..200u64).map(|i| day(today - Days::new(i), 500, Some(150))));
        let latest = history[0].clone();
        let r = build_report(&latest, &[], &history, &[], &Policy::default(), at(TODAY));
        let slope = r.forecast.in_use_per_day.expect("enough points");
        assert!((slope - 1.0).abs() < 1e-9, "{slope}");
        let today_on_line = r.forecast.trend_in_use_today.expect("a line");
        assert!((today_on_line - 100.0).abs() < 1e-9, "{today_on_line}");
        assert_eq!(r.forecast.points, 90);
        // 100 in use, 150 bought, +1/day: 50 days
        assert_eq!(r.forecast.seats_run_out_on, Some(today + Days::new(50)));
        // term ends 2026-12-31, 184 days on: 284 in use
        assert_eq!(r.forecast.projected_in_use_at_term_end, Some(284));
        // the flat 500 days reach into the term (it starts 2026-01-01), so they are its peak
        assert_eq!(r.seats.max_used_observed, 500);
        assert_eq!(r.forecast.projected_owed_at_term_end, Some(500 - 150));
        assert_eq!(r.days.len(), 200);
        assert!(r.days.windows(2).all(|w| w[0].date < w[1].date));
    }

    #[test]
    fn reclaiming_now_lowers_the_projected_true_up() {
        let today = date(TODAY);
        let history: Vec<DaySummary> = (0..30u64)
            .map(|i| day(today - Days::new(i), 100 - i, Some(100)))
            .collect();
        let latest = history[0].clone();
        let idle: Vec<Member> = (0..20)
            .map(|i| {
                let mut m = member(&format!("idle{i}"));
                m.last_activity_on = Some(days_ago(365));
                m
            })
            .collect();
        let r = build_report(&latest, &idle, &history, &[], &Policy::default(), at(TODAY));
        assert_eq!(r.forecast.seats_run_out_on, Some(today));
        assert_eq!(r.forecast.in_use_if_reclaimed, 80);
        // the peak of 100 is already reached: nothing owed now either way
        assert_eq!(r.forecast.owed_if_reclaimed, Some(0));
        // trend +1/day for 184 days: 284 at term end; minus 20 reclaimed: 264
        assert_eq!(r.forecast.projected_owed_at_term_end, Some(184));
        assert_eq!(
            r.forecast.projected_owed_at_term_end_if_reclaimed,
            Some(164)
        );
    }

    #[test]
    fn a_single_snapshot_has_no_trend() {
        let latest = day(date(TODAY), 10, Some(20));
        let r = build_report(&latest, &[], &[], &[], &Policy::default(), at(TODAY));
        assert_eq!(r.forecast.in_use_per_day, None);
        assert_eq!(r.forecast.seats_run_out_on, None);
        assert_eq!(r.days.len(), 1);
    }

    /// `d` as a snapshot counting the complete days `first..=last`, `pushes` on each.
    fn counting(mut d: DaySummary, first: NaiveDate, last: NaiveDate, pushes: u64) -> DaySummary {
        let days = crate::snapshot::ActivityDays { first, last };
        d.aggregates = DayAggregates::for_days(days);
        for day in &mut d.aggregates.activity_days {
            day.activity.pushes = pushes;
            day.active = 1;
        }
        d.activity = ActivityCoverage::Days(days);
        d
    }

    #[test]
    fn activity_windows_sum_the_complete_days_before_the_snapshot() {
        let today = date(TODAY);
        let history: Vec<DaySummary> = (0..40u64)
            .map(|i| {
                let counted = today - Days::new(i + 1);
                let mut d = counting(day(today - Days::new(i), 10, Some(10)), counted, counted, 1);
                d.aggregates.activity_days[0].activity.comments = i;
                d
            })
            .collect();
        let r = build_report(
            &history[0],
            &[],
            &history,
            &[],
            &Policy::default(),
            at(TODAY),
        );
        assert_eq!(r.activity.last_day.pushes, 1);
        assert_eq!(r.activity.last_7_days.pushes, 7);
        assert_eq!(r.activity.last_30_days.pushes, 30);
        assert_eq!(r.activity.last_90_days.pushes, 40);
        assert_eq!(r.activity.last_7_days.comments, (0..7).sum::<u64>());
        let last = r.days.last().expect("days");
        assert_eq!(
            (last.date, last.activity_date),
            (today, today - Days::new(1))
        );
    }

    #[test]
    fn a_catch_up_snapshot_gives_one_day_per_counted_day() {
        let today = date(TODAY);
        let before_gap = counting(
            day(today - Days::new(4), 9, Some(10)),
            today - Days::new(5),
            today - Days::new(5),
            2,
        );
        let latest = counting(
            day(today, 10, Some(10)),
            today - Days::new(4),
            today - Days::new(1),
            3,
        );
        let r = build_report(
            &latest,
            &[],
            &[before_gap],
            &[],
            &Policy::default(),
            at(TODAY),
        );
        let by_day: Vec<(NaiveDate, NaiveDate, u64)> = r
            .days
            .iter()
            .map(|d| (d.activity_date, d.date, d.activity.pushes))
            .collect();
        assert_eq!(
            by_day,
            (1..=5u64)
                .rev()
                .map(|n| {
                    let snapshot = if n == 5 { today - Days::new(4) } else { today };
                    (today - Days::new(n), snapshot, if n == 5 { 2 } else { 3 })
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(r.activity.last_7_days.pushes, 2 + 4 * 3);
    }

    #[test]
    fn a_legacy_partial_day_is_replaced_by_the_whole_day_counted_later() {
        let today = date(TODAY);
        let yesterday = today - Days::new(1);
        let mut legacy = day(yesterday, 10, Some(10));
        legacy.aggregates.activity.pushes = 1; // its own date up to the hour it ran
        let latest = counting(day(today, 10, Some(10)), yesterday, yesterday, 7);
        let r = build_report(&latest, &[], &[legacy], &[], &Policy::default(), at(TODAY));
        assert_eq!(r.days.len(), 1, "{:?}", r.days);
        assert_eq!(r.days[0].activity_date, yesterday);
        assert_eq!(r.days[0].activity.pushes, 7);
    }

    #[test]
    fn history_of_other_instances_and_later_days_is_ignored_and_reruns_keep_the_latest() {
        let today = date(TODAY);
        let mut other = day(today - Days::new(1), 999, Some(1000));
        other.instance = InstanceId::new("other.example.com", None);
        let later = day(today + Days::new(1), 777, Some(1000));
        let early_run = day(today - Days::new(2), 5, Some(10));
        let mut rerun = early_run.clone();
        rerun.seats.in_use = 6;
        rerun.collected_at += chrono::Duration::hours(1);
        let latest = day(today, 7, Some(10));
        let r = build_report(
            &latest,
            &[],
            &[other, later, rerun, early_run],
            &[],
            &Policy::default(),
            at(TODAY),
        );
        let in_use: Vec<u64> = r.days.iter().map(|d| d.in_use).collect();
        assert_eq!(in_use, [6, 7]);
    }

    #[test]
    fn report_json_has_the_contract_fields() {
        let mut m = member("never");
        m.created_at = Some(at("2020-01-01"));
        let latest = day(date(TODAY), 1, Some(1));
        let r = build_report(&latest, &[m], &[], &[], &Policy::default(), at(TODAY));
        let v = serde_json::to_value(&r).expect("serialises");
        for key in [
            "generated_at",
            "instance",
            "snapshot_date",
            "seats",
            "reclaimable",
            "days",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        for key in ["purchased", "in_use", "max_used"] {
            assert!(v["seats"].get(key).is_some(), "missing seats.{key}");
        }
        assert_eq!(v["instance"], "gitlab.example.com");
        assert_eq!(v["reclaimable"][0]["reason"], "never_signed_in");
        assert!(v["reclaimable"][0]["days_inactive"].is_null());
        assert_eq!(v["snapshot_date"], TODAY);
        assert_eq!(v["policy"]["exempt"], serde_json::json!([]));
    }
}
