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
        && m.last_seen_on()
            .is_some_and(|seen| days_between(seen, date) < window)
        && m.last_contribution_on
            .is_none_or(|c| days_between(c, date) >= window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::Exemptions;
    use chrono::{DateTime, Utc};

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    const TODAY: &str = "2026-06-30";

    fn days_ago(n: u64) -> NaiveDate {
        date(TODAY) - Days::new(n)
    }

    fn signed_in(n: u64) -> Option<DateTime<Utc>> {
        Some(days_ago(n).and_hms_opt(9, 0, 0).expect("time").and_utc())
    }

    /// A seat holder active yesterday whose last contribution was `contributed` days ago.
    fn member(id: u64, contributed: Option<u64>) -> Member {
        Member {
            last_activity_on: Some(days_ago(1)),
            last_sign_in_at: signed_in(1),
            created_at: signed_in(1000),
            last_contribution_on: contributed.map(days_ago),
            ..Member::seat_holder(id, format!("user{id}"), format!("User {id}"))
        }
    }

    fn usernames(g: &GuestCandidates) -> Vec<&str> {
        g.candidates.iter().map(|c| c.username.as_str()).collect()
    }

    fn policy() -> Policy {
        Policy {
            seat_price: Some(29.0),
            exempt: Exemptions::parse("user5").expect("valid"),
            ..Policy::default()
        }
    }

    /// Contributions known for two windows.
    fn known_since() -> Option<NaiveDate> {
        Some(days_ago(2 * u64::from(Policy::default().contribution_days)))
    }

    #[test]
    fn on_ultimate_active_seat_holders_without_a_recent_contribution_are_listed() {
        let window = u64::from(Policy::default().contribution_days);
        let members = [
            member(1, None),
            member(2, Some(window)),
            member(3, Some(window - 1)),
        ];
        let g = GuestCandidates::of(
            &members,
            Some("ultimate"),
            known_since(),
            date(TODAY),
            &policy(),
        );
        assert_eq!(g.applies, GuestApplies::Yes);
        assert_eq!(usernames(&g), ["user1", "user2"]);
        assert_eq!(g.candidates[1].last_contribution_on, Some(days_ago(window)));
        assert_eq!(g.saving_monthly, Some(2.0 * 29.0));
        assert_eq!(g.saving_yearly, Some(2.0 * 29.0 * 12.0));
        assert!(!g.history_shorter_than_window);
    }

    #[test]
    fn every_ultimate_plan_name_applies_and_premium_does_not() {
        for plan in GUEST_FREE_PLANS {
            let g = GuestCandidates::of(
                &[member(1, None)],
                Some(plan),
                known_since(),
                date(TODAY),
                &policy(),
            );
            assert_eq!(g.applies, GuestApplies::Yes, "{plan}");
            assert_eq!(g.candidates.len(), 1, "{plan}");
        }
        for plan in ["premium", "silver", "starter", "free", "premium_trial"] {
            let g = GuestCandidates::of(
                &[member(1, None)],
                Some(plan),
                known_since(),
                date(TODAY),
                &policy(),
            );
            assert_eq!(g.applies, GuestApplies::NotUltimate, "{plan}");
            assert!(
                g.candidates.is_empty() && g.saving_monthly.is_none(),
                "{plan}"
            );
        }
        let g = GuestCandidates::of(
            &[member(1, None)],
            None,
            known_since(),
            date(TODAY),
            &policy(),
        );
        assert_eq!(g.applies, GuestApplies::PlanUnknown);
        assert!(g.candidates.is_empty());
    }

    #[test]
    fn reclaimable_exempt_hidden_and_long_unseen_members_are_never_candidates() {
        let mut inactive = member(1, None);
        inactive.last_activity_on = Some(days_ago(400));
        inactive.last_sign_in_at = signed_in(400);
        let mut never = member(2, None);
        never.last_activity_on = None;
        never.last_sign_in_at = None;
        let mut hidden = member(3, None);
        hidden.activity_unknown = true;
        let mut unseen = member(4, None);
        let window = u64::from(Policy::default().contribution_days);
        unseen.last_activity_on = Some(days_ago(window));
        unseen.last_sign_in_at = signed_in(window);
        let exempt = member(5, None);
        let mut bot = member(6, None);
        bot.bot = true;
        let members = [
            inactive,
            never,
            hidden,
            unseen,
            exempt,
            bot,
            member(7, None),
        ];
        let g = GuestCandidates::of(
            &members,
            Some("ultimate"),
            known_since(),
            date(TODAY),
            &policy(),
        );
        assert_eq!(usernames(&g), ["user7"]);
    }

    #[test]
    fn a_history_shorter_than_the_window_is_said() {
        let g = GuestCandidates::of(
            &[member(1, None)],
            Some("ultimate"),
            Some(days_ago(10)),
            date(TODAY),
            &policy(),
        );
        assert!(g.history_shorter_than_window);
        assert_eq!(g.candidates.len(), 1);
        let g = GuestCandidates::of(
            &[member(1, None)],
            Some("ultimate"),
            None,
            date(TODAY),
            &policy(),
        );
        assert_eq!(g.applies, GuestApplies::ContributionsUnknown);
        assert!(
            g.candidates.is_empty(),
            "nobody is judged without contributions"
        );
    }
}
