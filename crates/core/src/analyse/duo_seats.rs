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
        Some(round_money(
            first + prices.map(|m| m.total_monthly).sum::<f64>(),
        ))
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
    order.sort_by(
        |a, b| match (a.last_duo_activity_on, b.last_duo_activity_on) {
            (None, None) => b
                .first_seen_assigned
                .cmp(&a.first_seen_assigned)
                .then_with(|| b.user_id.cmp(&a.user_id)),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.user_id.cmp(&b.user_id)),
        },
    );
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duo::{DUO_AMAZON_Q, DUO_CORE};
    use chrono::Days;

    const PRO: &str = "CODE_SUGGESTIONS";

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    const TODAY: &str = "2026-06-30";
    /// The first Duo snapshot of these tests' instance.
    const TRACKED_SINCE: &str = "2026-03-01";

    fn days_ago(n: u64) -> NaiveDate {
        date(TODAY) - Days::new(n)
    }

    fn snapshot(add_ons: &[(&str, u64, u64)], exposed: bool) -> DuoSnapshot {
        DuoSnapshot {
            add_ons: add_ons
                .iter()
                .map(|&(add_on, purchased, assigned)| DuoAddOn {
                    add_on: add_on.into(),
                    purchased,
                    assigned,
                })
                .collect(),
            activity_exposed: exposed,
            tracked_since: date(TRACKED_SINCE),
        }
    }

    fn holder(id: u64, used: DuoUse, first_seen: NaiveDate) -> DuoHolder {
        DuoHolder {
            add_on: PRO.into(),
            user_id: id,
            username: format!("user{id}"),
            last_duo_use: used,
            last_activity_on: Some(days_ago(1)),
            last_login_at: None,
            first_seen_assigned: first_seen,
        }
    }

    fn status(h: &DuoHolder, exposed: bool) -> DuoStatus {
        duo_status(
            h,
            &snapshot(&[(PRO, 10, 1)], exposed),
            date(TODAY),
            &Policy::default(),
        )
    }

    #[test]
    fn used_within_the_idle_days_is_active_and_from_then_idle() {
        let idle_days = u64::from(Policy::default().duo_idle_days);
        let first = date(TRACKED_SINCE);
        let recent = holder(1, DuoUse::On(days_ago(idle_days - 1)), first);
        assert_eq!(status(&recent, true), DuoStatus::Active);
        let stale = holder(1, DuoUse::On(days_ago(idle_days)), first);
        assert_eq!(status(&stale, true), DuoStatus::Idle);
    }

    #[test]
    fn never_used_on_the_first_snapshot_is_never_used_with_an_unknown_assignment_date() {
        let d = snapshot(&[(PRO, 5, 1)], true);
        let h = holder(1, DuoUse::Never, d.tracked_since);
        assert_eq!(status(&h, true), DuoStatus::NeverUsed);
        let r = DuoReport::of(&d, &[h], date(TODAY), &Policy::default());
        let listed = &r.add_ons[0].holders.as_ref().expect("per-user add-on")[0];
        assert!(listed.assignment_date_unknown);
        assert_eq!(listed.status, DuoStatus::NeverUsed);
    }

    #[test]
    fn never_used_after_tracking_began_is_grace_for_grace_days_then_never_used() {
        let grace = u64::from(Policy::default().grace_days);
        let new = holder(1, DuoUse::Never, days_ago(grace - 1));
        assert_eq!(status(&new, true), DuoStatus::Grace);
        let older = holder(1, DuoUse::Never, days_ago(grace));
        assert_eq!(status(&older, true), DuoStatus::NeverUsed);
        // first seen on the day tracking began: the assignment may be older, so no grace
        let mut d = snapshot(&[(PRO, 5, 1)], true);
        d.tracked_since = days_ago(1);
        let first_day = holder(1, DuoUse::Never, days_ago(1));
        let s = duo_status(&first_day, &d, date(TODAY), &Policy::default());
        assert_eq!(s, DuoStatus::NeverUsed);
    }

    #[test]
    fn a_gitlab_without_duo_activity_makes_every_holder_unknown_never_unused() {
        let first = date(TRACKED_SINCE);
        for used in [DuoUse::Never, DuoUse::On(days_ago(200)), DuoUse::Unknown] {
            let h = holder(1, used, first);
            assert_eq!(status(&h, false), DuoStatus::Unknown, "{used:?}");
        }
        let d = snapshot(&[(PRO, 10, 2)], false);
        let holders = [
            holder(1, DuoUse::Unknown, first),
            holder(2, DuoUse::Unknown, first),
        ];
        let policy = Policy {
            duo_prices: [(PRO.to_string(), 19.0)].into(),
            ..Policy::default()
        };
        let r = DuoReport::of(&d, &holders, date(TODAY), &policy);
        let a = &r.add_ons[0];
        let counts = a.counts.expect("counts");
        assert_eq!(counts.unknown, 2);
        assert_eq!(counts.unused(), 0);
        let money = a.money.as_ref().expect("priced");
        assert_eq!(money.idle_monthly + money.never_used_monthly, 0.0);
        assert_eq!(a.unassigned_by_gitlab_at_renewal, None, "order unknowable");
        assert_eq!(a.enablement.as_ref().map(Vec::len), Some(0));
    }

    #[test]
    fn every_status_serialises_under_its_report_json_name() {
        for s in DuoStatus::ALL {
            let json = serde_json::to_value(s).expect("serialises");
            assert_eq!(json, s.as_str(), "{s:?}");
        }
    }

    #[test]
    fn every_status_is_unused_or_not_as_the_issue_says() {
        for s in DuoStatus::ALL {
            let expected = matches!(s, DuoStatus::Idle | DuoStatus::NeverUsed);
            assert_eq!(s.is_unused(), expected, "{s:?}");
        }
    }

    #[test]
    fn amazon_q_has_only_a_purchased_quantity_and_duo_core_nothing() {
        let d = snapshot(&[(DUO_AMAZON_Q, 50, 0), (DUO_CORE, 0, 0)], true);
        let mut stray = holder(1, DuoUse::Never, date(TRACKED_SINCE));
        stray.add_on = DUO_AMAZON_Q.into();
        let policy = Policy {
            duo_prices: [(DUO_AMAZON_Q.to_string(), 19.0)].into(),
            ..Policy::default()
        };
        let r = DuoReport::of(&d, &[stray], date(TODAY), &policy);
        let q = &r.add_ons[0];
        assert_eq!(q.seats, AddOnSeats::Unassigned);
        assert_eq!(q.purchased, Some(50));
        assert_eq!((q.assigned, q.unassigned), (None, None));
        assert!(q.holders.is_none() && q.money.is_none() && q.recommended_at_renewal.is_none());
        let core = &r.add_ons[1];
        assert_eq!(core.seats, AddOnSeats::None);
        assert_eq!(
            (core.purchased, core.assigned, core.unassigned),
            (None, None, None)
        );
        assert!(core.holders.is_none() && core.enablement.is_none());
    }

    #[test]
    fn duo_money_counts_unassigned_idle_and_never_used_seats_at_the_add_on_price() {
        let first = date(TRACKED_SINCE);
        let d = snapshot(&[(PRO, 10, 4), ("DUO_ENTERPRISE", 3, 0)], true);
        let holders = [
            holder(1, DuoUse::On(days_ago(1)), first),
            holder(2, DuoUse::On(days_ago(100)), first),
            holder(3, DuoUse::Never, first),
            holder(4, DuoUse::Never, days_ago(1)),
        ];
        let policy = Policy {
            duo_prices: [(PRO.to_string(), 19.0)].into(),
            ..Policy::default()
        };
        let r = DuoReport::of(&d, &holders, date(TODAY), &policy);
        let m = r.add_ons[0].money.as_ref().expect("price set");
        // 6 unassigned, 1 idle, 1 never used; the grace seat costs nothing here
        assert_eq!(m.unassigned_monthly, 6.0 * 19.0);
        assert_eq!(m.idle_monthly, 19.0);
        assert_eq!(m.never_used_monthly, 19.0);
        assert_eq!(m.total_monthly, 8.0 * 19.0);
        assert_eq!(m.total_yearly, 8.0 * 19.0 * 12.0);
        assert!(r.add_ons[1].money.is_none(), "no price for Duo Enterprise");
        assert_eq!(r.total_monthly(), Some(8.0 * 19.0));
    }

    #[test]
    fn enablement_lists_holders_active_in_gitlab_but_not_in_duo() {
        let first = date(TRACKED_SINCE);
        let mut away = holder(4, DuoUse::Never, first);
        away.last_activity_on = Some(days_ago(200));
        let holders = [
            holder(1, DuoUse::On(days_ago(1)), first),
            holder(2, DuoUse::On(days_ago(100)), first),
            holder(3, DuoUse::Never, first),
            away,
        ];
        let d = snapshot(&[(PRO, 4, 4)], true);
        let r = DuoReport::of(&d, &holders, date(TODAY), &Policy::default());
        let mut names: Vec<&str> = r.add_ons[0]
            .enablement
            .as_ref()
            .expect("per-user")
            .iter()
            .map(|h| h.username.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["user2", "user3"]);
    }

    #[test]
    fn gitlab_unassigns_never_used_newest_first_then_least_recently_used() {
        let d = snapshot(&[(PRO, 6, 6)], true);
        let holders = [
            holder(1, DuoUse::On(days_ago(2)), date(TRACKED_SINCE)),
            holder(2, DuoUse::Never, date(TRACKED_SINCE)),
            holder(3, DuoUse::On(days_ago(60)), date(TRACKED_SINCE)),
            holder(4, DuoUse::Never, days_ago(3)),
            holder(5, DuoUse::On(days_ago(40)), date(TRACKED_SINCE)),
            holder(6, DuoUse::Never, days_ago(30)),
        ];
        let r = DuoReport::of(&d, &holders, date(TODAY), &Policy::default());
        let rows = r.add_ons[0].holders.as_ref().expect("per-user");
        let order: Vec<u64> = gitlab_unassign_order(rows)
            .iter()
            .map(|h| h.user_id)
            .collect();
        assert_eq!(order, [4, 6, 2, 3, 5, 1]);
        // at the recommended quantity GitLab takes the first ones in that order
        let a = &r.add_ons[0];
        let counts = a.counts.expect("counts");
        let kept = 6 - counts.unused();
        let recommended = with_buffer(kept, Policy::default().renewal_buffer_percent);
        assert_eq!(a.recommended_at_renewal, Some(recommended));
        let gone: Vec<u64> = a
            .unassigned_by_gitlab_at_renewal
            .as_ref()
            .expect("order known")
            .iter()
            .map(|h| h.user_id)
            .collect();
        assert_eq!(gone, order[..(6 - recommended) as usize]);
    }

    #[test]
    fn the_buffer_rounds_up_and_exact_percentages_stay_exact() {
        assert_eq!(with_buffer(100, 10), 110);
        assert_eq!(with_buffer(101, 10), 112);
        assert_eq!(with_buffer(0, 10), 0);
        assert_eq!(with_buffer(7, 0), 7);
    }
}
