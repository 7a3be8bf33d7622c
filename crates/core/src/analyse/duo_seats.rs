//! GitLab Duo add-on seats → the report's `duo` section: each holder's status, the enablement
//! list, the money of unused Duo seats and who GitLab itself would unassign at a lower quantity.
//!
//! What applies to an add-on is [`AddOnSeats`]'s decision, made once in [`crate::duo`]: per-user
//! add-ons get everything, Duo with Amazon Q only its purchased quantity (it has no per-user
//! assignment), Duo Core nothing seat-like (it has no seats). Duo money is kept apart from
//! base-seat money: on Ultimate a Guest can hold a paid Duo seat without a base seat.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Policy, days_between, round_money};
use crate::duo::{AddOnSeats, DuoAddOn, DuoHolder, DuoSnapshot, DuoUse};

/// Where one Duo seat holder stands on the snapshot day (issue 13 §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuoStatus {
    /// Used Duo within `SEATWATCH_DUO_IDLE_DAYS`.
    Active,
    /// Last used Duo that many days ago or more.
    Idle,
    /// No Duo use at all, and no longer in the grace period (or assigned before seatwatch's Duo
    /// history began, when the assignment date is unknown).
    NeverUsed,
    /// No Duo use yet, but first seen assigned after the first Duo snapshot and less than
    /// `SEATWATCH_GRACE_DAYS` ago.
    Grace,
    /// The GitLab version does not expose Duo use (before 18.0): never counted as unused.
    Unknown,
}

impl DuoStatus {
    /// Every status, in the order the pages list them.
    pub const ALL: [DuoStatus; 5] = [
        DuoStatus::Active,
        DuoStatus::Idle,
        DuoStatus::NeverUsed,
        DuoStatus::Grace,
        DuoStatus::Unknown,
    ];

    /// The report.json name, also the CSS class of its tag on the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            DuoStatus::Active => "active",
            DuoStatus::Idle => "idle",
            DuoStatus::NeverUsed => "never_used",
            DuoStatus::Grace => "grace",
            DuoStatus::Unknown => "unknown",
        }
    }

    /// Wording for people reading the site.
    pub fn label(self) -> &'static str {
        match self {
            DuoStatus::Active => "Active",
            DuoStatus::Idle => "Idle",
            DuoStatus::NeverUsed => "Never used",
            DuoStatus::Grace => "New (grace period)",
            DuoStatus::Unknown => "Unknown",
        }
    }

    /// Whether the seat counts as unused (for money and sizing). `Grace` and `Unknown` never do.
    pub fn is_unused(self) -> bool {
        matches!(self, DuoStatus::Idle | DuoStatus::NeverUsed)
    }

    /// Whether Duo is known not to be in use by this holder: the enablement list's Duo side.
    fn not_using_duo(self) -> bool {
        matches!(
            self,
            DuoStatus::Idle | DuoStatus::NeverUsed | DuoStatus::Grace
        )
    }
}

/// The status rule for one holder of an add-on on `date`.
pub fn duo_status(
    holder: &DuoHolder,
    snapshot: &DuoSnapshot,
    date: NaiveDate,
    policy: &Policy,
) -> DuoStatus {
    if !snapshot.activity_exposed {
        return DuoStatus::Unknown;
    }
    match holder.last_duo_use {
        DuoUse::Unknown => DuoStatus::Unknown,
        DuoUse::On(day) if days_between(day, date) < policy.duo_idle_days => DuoStatus::Active,
        DuoUse::On(_) => DuoStatus::Idle,
        DuoUse::Never => {
            let new = !holder.assigned_before_tracking(snapshot)
                && days_between(holder.first_seen_assigned, date) < policy.grace_days;
            if new {
                DuoStatus::Grace
            } else {
                DuoStatus::NeverUsed
            }
        }
    }
}

/// One holder of one add-on's seat, as the report lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuoSeatHolder {
    pub user_id: u64,
    pub username: String,
    /// `None`: never used, or unknown (see `status`).
    pub last_duo_activity_on: Option<NaiveDate>,
    /// Activity anywhere in GitLab.
    pub last_activity_on: Option<NaiveDate>,
    pub first_seen_assigned: NaiveDate,
    /// First seen on the first Duo snapshot: assigned then or any time before.
    pub assignment_date_unknown: bool,
    pub status: DuoStatus,
}

/// How many holders have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DuoStatusCounts {
    pub active: u64,
    pub idle: u64,
    pub never_used: u64,
    pub grace: u64,
    pub unknown: u64,
}

impl DuoStatusCounts {
    fn of(holders: &[DuoSeatHolder]) -> DuoStatusCounts {
        let mut c = DuoStatusCounts::default();
        for h in holders {
            *c.get_mut(h.status) += 1;
        }
        c
    }

    pub fn get(&self, status: DuoStatus) -> u64 {
        match status {
            DuoStatus::Active => self.active,
            DuoStatus::Idle => self.idle,
            DuoStatus::NeverUsed => self.never_used,
            DuoStatus::Grace => self.grace,
            DuoStatus::Unknown => self.unknown,
        }
    }

    fn get_mut(&mut self, status: DuoStatus) -> &mut u64 {
        match status {
            DuoStatus::Active => &mut self.active,
            DuoStatus::Idle => &mut self.idle,
            DuoStatus::NeverUsed => &mut self.never_used,
            DuoStatus::Grace => &mut self.grace,
            DuoStatus::Unknown => &mut self.unknown,
        }
    }

    /// Seats that count as unused ([`DuoStatus::is_unused`]).
    pub fn unused(&self) -> u64 {
        DuoStatus::ALL
            .into_iter()
            .filter(|s| s.is_unused())
            .map(|s| self.get(s))
            .sum()
    }
}

/// What an add-on's unused seats cost at its `SEATWATCH_DUO_PRICES` price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuoMoney {
    pub seat_price_monthly: f64,
    pub unassigned_monthly: f64,
    pub unassigned_yearly: f64,
    pub idle_monthly: f64,
    pub idle_yearly: f64,
    pub never_used_monthly: f64,
    pub never_used_yearly: f64,
    /// Unassigned, idle and never-used seats together.
    pub total_monthly: f64,
    pub total_yearly: f64,
}

impl DuoMoney {
    fn at(price: f64, unassigned: u64, counts: &DuoStatusCounts) -> DuoMoney {
        let monthly = |n: u64| round_money(price * n as f64);
        let yearly = |n: u64| round_money(price * n as f64 * 12.0);
        let total = unassigned + counts.idle + counts.never_used;
        DuoMoney {
            seat_price_monthly: price,
            unassigned_monthly: monthly(unassigned),
            unassigned_yearly: yearly(unassigned),
            idle_monthly: monthly(counts.idle),
            idle_yearly: yearly(counts.idle),
            never_used_monthly: monthly(counts.never_used),
            never_used_yearly: yearly(counts.never_used),
            total_monthly: monthly(total),
            total_yearly: yearly(total),
        }
    }
}

/// One add-on on the snapshot day. Fields that do not apply to the add-on ([`AddOnSeats`]) are
/// `None`: Duo with Amazon Q has only `purchased`, Duo Core nothing seat-like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuoAddOnReport {
    /// GitLab's enum name, e.g. `DUO_ENTERPRISE`.
    pub add_on: String,
    pub seats: AddOnSeats,
    pub purchased: Option<u64>,
    pub assigned: Option<u64>,
    /// Purchased and held by no one: can go at renewal.
    pub unassigned: Option<u64>,
    /// Least recently used first: never used, then idle longest, then the rest.
    pub holders: Option<Vec<DuoSeatHolder>>,
    pub counts: Option<DuoStatusCounts>,
    /// Active in GitLab within `SEATWATCH_DUO_IDLE_DAYS` but not using Duo (idle, never used or
    /// new): people to help start, before taking their seat.
    pub enablement: Option<Vec<DuoSeatHolder>>,
    /// Present when the add-on's price is set.
    pub money: Option<DuoMoney>,
    /// The seats kept at renewal: assigned minus idle and never used (unknown and new seats are
    /// kept), plus the renewal buffer, rounded up.
    pub recommended_at_renewal: Option<u64>,
    /// Who GitLab itself would unassign if the add-on were renewed at `recommended_at_renewal`,
    /// in GitLab's order; `None` where the order cannot be known (Duo use not exposed).
    pub unassigned_by_gitlab_at_renewal: Option<Vec<DuoSeatHolder>>,
}

/// The report's `duo` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuoReport {
    /// Whether this GitLab exposes `lastDuoActivityOn`; when not, every status is `unknown`.
    pub activity_exposed: bool,
    /// The first Duo snapshot: holders first seen then have an unknown assignment date.
    pub tracked_since: NaiveDate,
    pub add_ons: Vec<DuoAddOnReport>,
}

impl DuoReport {
    /// The section for the snapshot `duo` of `date` and its stored holders.
    pub fn of(
        duo: &DuoSnapshot,
        holders: &[DuoHolder],
        date: NaiveDate,
        policy: &Policy,
    ) -> DuoReport {
        DuoReport {
            activity_exposed: duo.activity_exposed,
            tracked_since: duo.tracked_since,
            add_ons: duo
                .add_ons
                .iter()
                .map(|a| add_on_report(a, duo, holders, date, policy))
                .collect(),
        }
    }

    /// Every add-on's unused-seat money together, when at least one price is set.
    pub fn total_monthly(&self) -> Option<f64> {
        let mut prices = self.add_ons.iter().filter_map(|a| a.money.as_ref());
        let first = prices.next()?.total_monthly;
        Some(round_money(first + prices.map(|m| m.total_monthly).sum::<f64>()))
    }
}

fn add_on_report(
    add_on: &DuoAddOn,
    duo: &DuoSnapshot,
    holders: &[DuoHolder],
    date: NaiveDate,
    policy: &Policy,
) -> DuoAddOnReport {
    let seats = add_on.seats();
    let mut report = DuoAddOnReport {
        add_on: add_on.add_on.clone(),
        seats,
        purchased: None,
        assigned: None,
        unassigned: None,
        holders: None,
        counts: None,
        enablement: None,
        money: None,
        recommended_at_renewal: None,
        unassigned_by_gitlab_at_renewal: None,
    };
    match seats {
        AddOnSeats::None => return report,
        AddOnSeats::Unassigned => {
            report.purchased = Some(add_on.purchased);
            return report;
        }
        AddOnSeats::PerUser => {}
    }
    let rows = holder_rows(add_on, duo, holders, date, policy);
    let counts = DuoStatusCounts::of(&rows);
    let unassigned = add_on.unassigned();
    let kept = add_on.assigned.saturating_sub(counts.unused());
    let recommended = with_buffer(kept, policy.renewal_buffer_percent);
    report.enablement = Some(
        rows.iter()
            .filter(|h| h.status.not_using_duo())
            .filter(|h| {
                h.last_activity_on
                    .is_some_and(|d| days_between(d, date) < policy.duo_idle_days)
            })
            .cloned()
            .collect(),
    );
    report.unassigned_by_gitlab_at_renewal = duo.activity_exposed.then(|| {
        let surplus = add_on.assigned.saturating_sub(recommended);
        gitlab_unassign_order(&rows)
            .into_iter()
            .take(usize::try_from(surplus).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    });
    report.money = policy
        .duo_prices
        .get(&add_on.add_on)
        .map(|&price| DuoMoney::at(price, unassigned, &counts));
    report.purchased = Some(add_on.purchased);
    report.assigned = Some(add_on.assigned);
    report.unassigned = Some(unassigned);
    report.counts = Some(counts);
    report.recommended_at_renewal = Some(recommended);
    report.holders = Some(rows);
    report
}

/// The add-on's holders with their status, least recently used first: never used, then idle
/// longest, then the rest.
fn holder_rows(
    add_on: &DuoAddOn,
    duo: &DuoSnapshot,
    holders: &[DuoHolder],
    date: NaiveDate,
    policy: &Policy,
) -> Vec<DuoSeatHolder> {
    let mut rows: Vec<DuoSeatHolder> = holders
        .iter()
        .filter(|h| h.add_on == add_on.add_on)
        .map(|h| DuoSeatHolder {
            user_id: h.user_id,
            username: h.username.clone(),
            last_duo_activity_on: match h.last_duo_use {
                DuoUse::On(d) => Some(d),
                DuoUse::Never | DuoUse::Unknown => None,
            },
            last_activity_on: h.last_activity_on,
            first_seen_assigned: h.first_seen_assigned,
            assignment_date_unknown: h.assigned_before_tracking(duo),
            status: duo_status(h, duo, date, policy),
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.last_duo_activity_on.is_some(), a.last_duo_activity_on)
            .cmp(&(b.last_duo_activity_on.is_some(), b.last_duo_activity_on))
            .then_with(|| a.status.cmp(&b.status))
            .then_with(|| a.username.cmp(&b.username))
    });
    rows
}

/// `seats` plus `percent` of headroom, rounded up: the renewal recommendation's one formula.
pub fn with_buffer(seats: u64, percent: u32) -> u64 {
    // integer arithmetic: 100 seats at 10% are exactly 110, never 110.00000001 → 111
    (seats * (100 + u64::from(percent))).div_ceil(100)
}

/// The holders in the order GitLab unassigns them when a renewal lowers the quantity
/// (`doc/subscriptions/subscription-add-ons.md`, gitlab-api.md §10): first "users who have not
/// yet used Code Suggestions, ordered by most recently assigned", then "users who have used Code
/// Suggestions, ordered by least recent usage". The assignment date is seatwatch's first sighting;
/// holders first seen the same day are taken newest account (highest user id) first.
pub fn gitlab_unassign_order(holders: &[DuoSeatHolder]) -> Vec<&DuoSeatHolder> {
    let mut order: Vec<&DuoSeatHolder> = holders.iter().collect();
    order.sort_by(|a, b| match (a.last_duo_activity_on, b.last_duo_activity_on) {
        (None, None) => b
            .first_seen_assigned
            .cmp(&a.first_seen_assigned)
            .then_with(|| b.user_id.cmp(&a.user_id)),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.user_id.cmp(&b.user_id)),
    });
    order
}
