//! Members who could be Guests (issue 13 §2): seat holders who use GitLab but contributed nothing
//! in `SEATWATCH_CONTRIBUTION_DAYS`. On Ultimate a Guest takes no seat, so the role change frees
//! one; on any other plan a Guest still takes a seat and the section does not apply.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::{Policy, Standing, classify, days_between};
use crate::snapshot::Member;

/// The plan names on which GitLab bills no seat for a Guest. GitLab.com:
/// `ee/app/models/ee/group.rb` `exclude_guests?` (`Plan::GOLD`, `Plan::ULTIMATE`,
/// `Plan::ULTIMATE_TRIAL`; `gold` is the legacy name of Ultimate). Self-managed:
/// `ee/app/models/license.rb` `exclude_guests_from_active_count?`, true on the `ultimate` plan.
/// A trial counts: GitLab excludes Guests on it too, and the candidates are worth knowing before
/// buying.
pub const GUEST_FREE_PLANS: [&str; 3] = ["ultimate", "gold", "ultimate_trial"];

/// Whether the section applies, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestApplies {
    /// An Ultimate plan: a Guest takes no seat.
    Yes,
    /// Another plan (Premium, ...): a Guest still takes a seat, so the role change saves nothing.
    NotUltimate,
    /// GitLab reported no plan.
    PlanUnknown,
    /// Contributions are not tracked in these snapshots: nobody can be judged.
    ContributionsUnknown,
}

/// One seat holder who could be a Guest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuestCandidate {
    pub id: u64,
    pub username: String,
    pub name: String,
    /// `None`: no contribution since [`GuestCandidates::contributions_known_since`].
    pub last_contribution_on: Option<NaiveDate>,
    pub last_activity_on: Option<NaiveDate>,
    pub last_sign_in: Option<NaiveDate>,
    /// The seat price per month, when one is set: what the role change saves.
    pub monthly_saving: Option<f64>,
}

/// The report's `guest_candidates` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuestCandidates {
    pub applies: GuestApplies,
    /// The plan as GitLab names it.
    pub plan: Option<String>,
    pub window_days: u32,
    pub contributions_known_since: Option<NaiveDate>,
    /// The known history is shorter than the window: "no contribution" means none since
    /// `contributions_known_since`, not in the whole window.
    pub history_shorter_than_window: bool,
    /// Longest without a contribution first (never known to have contributed before the rest).
    pub candidates: Vec<GuestCandidate>,
    pub saving_monthly: Option<f64>,
    pub saving_yearly: Option<f64>,
}

/// Whether `plan` bills no seat for Guests ([`GUEST_FREE_PLANS`]).
pub fn guests_are_free(plan: &str) -> bool {
    GUEST_FREE_PLANS.contains(&plan.to_ascii_lowercase().as_str())
}

impl GuestCandidates {
    /// The candidates among `members` on `date`. Reclaimable and exempt seats, and members whose
    /// activity GitLab hides, are never listed.
    pub fn of(
        members: &[Member],
        plan: Option<&str>,
        known_since: Option<NaiveDate>,
        date: NaiveDate,
        policy: &Policy,
    ) -> GuestCandidates {
        let window = policy.contribution_days;
        let applies = match (plan, known_since) {
            (None, _) => GuestApplies::PlanUnknown,
            (Some(p), _) if !guests_are_free(p) => GuestApplies::NotUltimate,
            (Some(_), None) => GuestApplies::ContributionsUnknown,
            (Some(_), Some(_)) => GuestApplies::Yes,
        };
        let mut candidates: Vec<GuestCandidate> = if applies == GuestApplies::Yes {
            members
                .iter()
                .filter(|m| is_candidate(m, date, policy))
                .map(|m| GuestCandidate {
                    id: m.id,
                    username: m.username.clone(),
                    name: m.name.clone(),
                    last_contribution_on: m.last_contribution_on,
                    last_activity_on: m.last_activity_on,
                    last_sign_in: m.last_sign_in().map(|t| t.date_naive()),
                    monthly_saving: policy.seat_price,
                })
                .collect()
        } else {
            Vec::new()
        };
        candidates.sort_by(|a, b| {
            (a.last_contribution_on.is_some(), a.last_contribution_on)
                .cmp(&(b.last_contribution_on.is_some(), b.last_contribution_on))
                .then_with(|| a.username.cmp(&b.username))
        });
        let saving_monthly = policy
            .seat_price
            .filter(|_| applies == GuestApplies::Yes)
            .map(|p| super::round_money(p * candidates.len() as f64));
        GuestCandidates {
            applies,
            plan: plan.map(str::to_string),
            window_days: window,
            contributions_known_since: known_since,
            history_shorter_than_window: known_since
                .is_some_and(|k| k > date - Days::new(u64::from(window))),
            candidates,
            saving_monthly,
            saving_yearly: saving_monthly.map(|m| super::round_money(m * 12.0)),
        }
    }
}

/// The rule for one member: an active, non-exempt seat holder whose activity is known, seen
/// (activity or sign-in) within the window, with no contribution within it.
fn is_candidate(m: &Member, date: NaiveDate, policy: &Policy) -> bool {
    let window = policy.contribution_days;
    classify(m, date, policy) == Standing::Active
        && !m.activity_unknown
        && m
            .last_seen_on()
            .is_some_and(|seen| days_between(seen, date) < window)
        && m
            .last_contribution_on
            .is_none_or(|c| days_between(c, date) >= window)
}
