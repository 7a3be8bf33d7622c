//! GitLab Duo add-on purchases and seat assignments of the simulated population, as a pure
//! function of (seed, anchor, user index, day), like the rest of the population.
//!
//! What GitLab has, and so what is simulated (`doc/subscriptions/subscription-add-ons.md`,
//! `ee/app/models/gitlab_subscriptions/add_on_purchase.rb`, `ee/app/models/ai/user_metrics.rb`):
//! - purchases of seat add-ons assigned user by user (`CODE_SUGGESTIONS` = Duo Pro,
//!   `DUO_ENTERPRISE`), bought with some seats to spare;
//! - `DUO_AMAZON_Q` on self-managed: a purchased quantity and no per-user assignment;
//! - `DUO_CORE` from GitLab 18.0: included with Premium/Ultimate, no seats to assign;
//! - an assignment has no date in GitLab; here each one has a start (long ago, recent, or still to
//!   come after the anchor) and some end, so a backfill over past days sees people assigned and
//!   unassigned on different days. GitLab's daily job unassigns blocked, banned and deactivated
//!   users (`GitlabSubscriptions::AddOnPurchases::CleanupUserAddOnAssignmentWorker`), so a holder
//!   must be active on the day;
//! - `lastDuoActivityOn` (`Ai::UserMetrics`, per user, not per add-on): people use Duo only on days
//!   they are active in GitLab. Three kinds of holder: active Duo users, idle ones (stopped using
//!   Duo while still working in GitLab: the enablement list) and those who never used it;
//! - on GitLab.com any member may hold a seat, including an Ultimate Guest who takes no base seat.

use chrono::NaiveDate;

use crate::Flavour;
use crate::population::{Day, FIXED_USERS, Kind, NEVER, Population, Salt, State, date_of};

/// GitLab's add-ons (`ee/app/graphql/types/gitlab_subscriptions/add_on_type_enum.rb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AddOn {
    CodeSuggestions,
    DuoEnterprise,
    DuoAmazonQ,
    DuoCore,
}

impl AddOn {
    /// Every add-on, in the order of GitLab's enum (`DUO_CORE` first since 18.0).
    pub(crate) const ALL: [AddOn; 4] = [
        AddOn::DuoCore,
        AddOn::CodeSuggestions,
        AddOn::DuoEnterprise,
        AddOn::DuoAmazonQ,
    ];

    /// The enum value's name, which is also `AddOnPurchase.name` (`add_on.name.upcase`).
    pub(crate) fn graphql_name(self) -> &'static str {
        match self {
            AddOn::CodeSuggestions => "CODE_SUGGESTIONS",
            AddOn::DuoEnterprise => "DUO_ENTERPRISE",
            AddOn::DuoAmazonQ => "DUO_AMAZON_Q",
            AddOn::DuoCore => "DUO_CORE",
        }
    }

    /// Whether seats are assigned user by user.
    pub(crate) fn per_user(self) -> bool {
        matches!(self, AddOn::CodeSuggestions | AddOn::DuoEnterprise)
    }
}

/// One active add-on purchase.
#[derive(Debug, Clone)]
pub(crate) struct Purchase {
    /// The model id in `gid://gitlab/GitlabSubscriptions::AddOnPurchase/<id>`.
    pub id: u64,
    pub add_on: AddOn,
    /// Seats bought (`quantity`).
    pub quantity: u64,
    /// Per mille of the eligible users who ever hold a seat of it.
    share: u64,
}

/// The global id prefix of add-on purchases (`GlobalID` of `GitlabSubscriptions::AddOnPurchase`).
pub(crate) const PURCHASE_GID_PREFIX: &str = "gid://gitlab/GitlabSubscriptions::AddOnPurchase/";

impl Purchase {
    pub(crate) fn gid(&self) -> String {
        format!("{PURCHASE_GID_PREFIX}{}", self.id)
    }

    /// Keeps this purchase's draws apart from every other draw about the same user.
    fn salt(&self) -> u64 {
        0xD0_0000 + self.id * 16
    }
}

/// When one user holds one purchase's seat: `[from, until)`, both in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub from: Day,
    pub until: Day,
}

/// How a holder uses Duo (ground truth; GitLab knows only the date of the last use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DuoProfile {
    /// Uses Duo on most days they work in GitLab.
    Active,
    /// Used Duo, then stopped (at least a month before the anchor) while still working in GitLab.
    Idle,
    /// Never used Duo.
    NeverUsed,
}

/// Share of an active Duo user's GitLab days on which they use Duo, in percent.
const DUO_DAY_PERCENT: u64 = 70;
/// How far back a last Duo use is looked for (GitLab's table exists from 17.9).
const DUO_LOOKBACK_DAYS: Day = 400;
/// Assignments that start this many days before the anchor or later count as recent.
const RECENT_DAYS: Day = 12;
/// The window over which the purchased quantity must cover every assignment.
const QUANTITY_WINDOW: (Day, Day) = (-120, 30);
/// Extra draws keys (with `Salt::Misc`) of this module; the per-purchase ones use `Purchase::salt`.
const PROFILE_KEY: u64 = 0xD0_1000;
const DUO_DAY_KEY: u64 = 0xD0_2000;

/// The Duo side of the simulated GitLab: its purchases, built once around the anchor.
#[derive(Debug, Clone)]
pub(crate) struct Duo {
    pub purchases: Vec<Purchase>,
    /// GitLab 18.0 or later: `AddOnUser.lastDuoActivityOn` and Duo Core exist.
    pub activity_field: bool,
    /// GitLab.com: the first Ultimate Guest (takes no base seat) is given a Duo seat, so that the
    /// case is always there.
    guest_holder: Option<usize>,
}

impl Duo {
    pub(crate) fn build(pop: &Population, flavour: Flavour, activity_field: bool) -> Duo {
        let per_user: &[(AddOn, u64)] = match flavour {
            Flavour::GitLabCom => &[(AddOn::CodeSuggestions, 250), (AddOn::DuoEnterprise, 80)],
            Flavour::SelfManaged => &[(AddOn::DuoEnterprise, 220)],
        };
        let mut purchases: Vec<Purchase> = per_user
            .iter()
            .zip(1..)
            .map(|(&(add_on, share), id)| Purchase {
                id,
                add_on,
                quantity: 0,
                share,
            })
            .collect();
        let guest_holder = match flavour {
            Flavour::GitLabCom => (FIXED_USERS..pop.users.len()).find(|&i| {
                let u = &pop.users[i];
                u.kind == Kind::Human
                    && u.has(crate::population::flags::GUEST_ONLY)
                    && u.final_state == State::Active
                    && u.created < pop.anchor - 200
            }),
            Flavour::SelfManaged => None,
        };
        let mut duo = Duo {
            purchases: Vec::new(),
            activity_field,
            guest_holder,
        };
        for purchase in &mut purchases {
            let peak = duo.peak_assigned(pop, purchase);
            // Bought with some seats to spare, as sales round up.
            purchase.quantity = peak + (peak / 8).max(2);
        }
        let mut next_id = purchases.len() as u64 + 1;
        if flavour == Flavour::SelfManaged {
            purchases.push(Purchase {
                id: next_id,
                add_on: AddOn::DuoAmazonQ,
                quantity: 5 + pop.draw(0, PROFILE_KEY, Salt::Misc) % 20,
                share: 0,
            });
            next_id += 1;
        }
        if activity_field {
            purchases.push(Purchase {
                id: next_id,
                add_on: AddOn::DuoCore,
                quantity: pop.user_limit,
                share: 0,
            });
        }
        duo.purchases = purchases;
        duo
    }

    pub(crate) fn purchase(&self, id: u64) -> Option<&Purchase> {
        self.purchases.iter().find(|p| p.id == id)
    }

    /// Whether user `index` may hold an add-on seat at all: a human (bots and GitLab's internal
    /// users never do), not one of the fixed accounts.
    fn eligible(pop: &Population, index: usize) -> bool {
        index >= FIXED_USERS && pop.users[index].kind == Kind::Human
    }

    /// May user `index` hold a seat on `day` (`AddOnEligibleUsersFinder`: an active human)?
    pub(crate) fn eligible_on(&self, pop: &Population, index: usize, day: Day) -> bool {
        pop.exists(index)
            && pop.users[index].kind == Kind::Human
            && pop.users[index].created <= day
            && pop.users[index].state_on(day) == State::Active
    }

    /// The user's assignment to `purchase`, if they ever hold one of its seats.
    pub(crate) fn assignment(
        &self,
        pop: &Population,
        purchase: &Purchase,
        index: usize,
    ) -> Option<Assignment> {
        if !purchase.add_on.per_user() || !Self::eligible(pop, index) {
            return None;
        }
        let salt = purchase.salt();
        let forced = self.guest_holder == Some(index) && purchase.id == 1;
        if !forced && pop.draw(index, salt, Salt::Misc) % 1000 >= purchase.share {
            return None;
        }
        let anchor = pop.anchor;
        let created = pop.users[index].created;
        let h = pop.draw(index, salt + 1, Salt::Misc);
        let spread = (h >> 8) as Day;
        let from = if forced {
            anchor - 200
        } else {
            match h % 100 {
                // recently assigned: the grace period shows
                0..=9 => anchor - spread.rem_euclid(RECENT_DAYS),
                // assigned after the anchor: a later date sees them arrive
                10..=12 => anchor + 1 + spread.rem_euclid(QUANTITY_WINDOW.1),
                _ => anchor - RECENT_DAYS - spread.rem_euclid(500),
            }
        };
        let from = from.max(created + 1);
        let h = pop.draw(index, salt + 2, Salt::Misc);
        // A few were unassigned in the last weeks, so a backfill sees them go.
        let until = if !forced && h % 100 < 6 {
            anchor - ((h >> 8) as Day).rem_euclid(45)
        } else {
            NEVER
        };
        (until > from).then_some(Assignment { from, until })
    }

    /// Does user `index` hold a seat of `purchase` on `day`?
    pub(crate) fn holds(
        &self,
        pop: &Population,
        purchase: &Purchase,
        index: usize,
        day: Day,
    ) -> bool {
        pop.exists(index)
            && pop.users[index].state_on(day) == State::Active
            && self
                .assignment(pop, purchase, index)
                .is_some_and(|a| a.from <= day && day < a.until)
    }

    /// The holders of `purchase` on `day`, by id.
    pub(crate) fn holders(&self, pop: &Population, purchase: &Purchase, day: Day) -> Vec<usize> {
        if !purchase.add_on.per_user() {
            return Vec::new();
        }
        (FIXED_USERS..pop.visible(day))
            .filter(|&i| self.holds(pop, purchase, i, day))
            .collect()
    }

    /// Most seats of `purchase` held on any day of the quantity window (a sweep over the
    /// assignments' starts and ends).
    fn peak_assigned(&self, pop: &Population, purchase: &Purchase) -> u64 {
        let (lo, hi) = (
            pop.anchor + QUANTITY_WINDOW.0,
            pop.anchor + QUANTITY_WINDOW.1,
        );
        let mut delta = vec![0i64; (hi - lo + 2) as usize];
        for index in FIXED_USERS..pop.users.len() {
            let Some(a) = self.assignment(pop, purchase, index) else {
                continue;
            };
            let end = a.until.min(pop.users[index].state_since);
            let (start, end) = (a.from.max(lo), end.min(hi + 1));
            if start < end {
                delta[(start - lo) as usize] += 1;
                delta[(end - lo) as usize] -= 1;
            }
        }
        let mut running = 0i64;
        let mut peak = 0i64;
        for d in delta {
            running += d;
            peak = peak.max(running);
        }
        peak as u64
    }

    /// The earliest day user `index` was given any Duo seat.
    fn first_assigned(&self, pop: &Population, index: usize) -> Option<Day> {
        self.purchases
            .iter()
            .filter_map(|p| self.assignment(pop, p, index))
            .map(|a| a.from)
            .min()
    }

    /// How user `index` uses Duo, and for an idle user the last day they could have.
    pub(crate) fn profile(&self, pop: &Population, index: usize) -> (DuoProfile, Day) {
        let first = self.first_assigned(pop, index).unwrap_or(NEVER);
        let h = pop.draw(index, PROFILE_KEY, Salt::Misc);
        let recent = first >= pop.anchor - RECENT_DAYS;
        let roll = h % 100;
        let profile = if pop.users[index].weekday_chance == 0 {
            DuoProfile::NeverUsed
        } else if recent {
            // newcomers mostly have not tried it yet
            if roll < 40 {
                DuoProfile::Active
            } else {
                DuoProfile::NeverUsed
            }
        } else {
            match roll {
                0..=54 => DuoProfile::Active,
                55..=74 => DuoProfile::Idle,
                _ => DuoProfile::NeverUsed,
            }
        };
        let stopped = match profile {
            DuoProfile::Idle => pop.anchor - 31 - ((h >> 8) as Day).rem_euclid(150),
            _ => NEVER,
        };
        (profile, stopped)
    }

    /// `Ai::UserMetrics#last_duo_activity_on` at second `now` of `as_of`: the last day, since
    /// the user first held a seat, on which they used Duo; today only once their day started.
    pub(crate) fn last_duo_activity_on(
        &self,
        pop: &Population,
        index: usize,
        as_of: Day,
        now: u32,
    ) -> Option<Day> {
        let first = self.first_assigned(pop, index)?;
        let (profile, stopped) = self.profile(pop, index);
        if profile == DuoProfile::NeverUsed {
            return None;
        }
        let end = as_of.min(stopped);
        let start = first.max(end - DUO_LOOKBACK_DAYS);
        (start..=end).rev().find(|&day| {
            pop.activity_start(index, day)
                .is_some_and(|s| day < as_of || s <= now)
                && pop.draw(index, DUO_DAY_KEY ^ day as u64, Salt::Misc) % 100 < DUO_DAY_PERCENT
        })
    }
}

/// Ground truth for tests: the Duo add-ons as a correct reader must find them at the current
/// clock ([`crate::SimHandle::duo_expected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuoExpected {
    /// Whether the simulated version has `AddOnUser.lastDuoActivityOn` (GitLab 18.0+).
    pub activity_exposed: bool,
    /// Every active purchase, in `addOnPurchases` order.
    pub add_ons: Vec<ExpectedAddOn>,
}

/// One purchase and its seat holders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAddOn {
    /// GitLab's enum name, e.g. `DUO_ENTERPRISE`.
    pub name: &'static str,
    /// `gid://gitlab/GitlabSubscriptions::AddOnPurchase/N`.
    pub purchase_id: String,
    pub purchased: u64,
    pub assigned: u64,
    /// By user id.
    pub holders: Vec<ExpectedHolder>,
}

/// One seat holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedHolder {
    pub user_id: u64,
    pub username: String,
    /// The day the seat was assigned (GitLab does not expose it).
    pub assigned_on: NaiveDate,
    /// The true last Duo use, also when the version does not expose it.
    pub last_duo_activity_on: Option<NaiveDate>,
    pub last_activity_on: Option<NaiveDate>,
    /// Holds a base seat (`false` for an Ultimate Guest).
    pub holds_base_seat: bool,
    pub profile: DuoProfile,
}

impl Duo {
    pub(crate) fn expected(&self, r: &crate::entities::Render) -> DuoExpected {
        let add_ons = self
            .purchases
            .iter()
            .map(|p| {
                let holders: Vec<ExpectedHolder> = self
                    .holders(r.pop, p, r.as_of)
                    .into_iter()
                    .map(|i| self.expected_holder(r, p, i))
                    .collect();
                ExpectedAddOn {
                    name: p.add_on.graphql_name(),
                    purchase_id: p.gid(),
                    purchased: p.quantity,
                    assigned: holders.len() as u64,
                    holders,
                }
            })
            .collect();
        DuoExpected {
            activity_exposed: self.activity_field,
            add_ons,
        }
    }

    fn expected_holder(
        &self,
        r: &crate::entities::Render,
        p: &Purchase,
        index: usize,
    ) -> ExpectedHolder {
        let view = r.user(index);
        let assignment = self
            .assignment(r.pop, p, index)
            .expect("a holder has an assignment");
        ExpectedHolder {
            user_id: view.id,
            username: view.username.clone(),
            assigned_on: date_of(assignment.from),
            last_duo_activity_on: self
                .last_duo_activity_on(r.pop, index, r.as_of, r.now)
                .map(date_of),
            last_activity_on: view.last_activity_on.map(date_of),
            holds_base_seat: r.pop.users[index].holds_seat_on(r.as_of),
            profile: self.profile(r.pop, index).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::entities::Render;

    const USERS: u32 = 1_000;

    fn population() -> Population {
        Population::build(
            42,
            USERS,
            NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date"),
        )
    }

    fn render(pop: &Population, flavour: Flavour, as_of: Day) -> Render<'_> {
        Render {
            pop,
            flavour,
            group_path: "acme",
            origin: "http://127.0.0.1",
            as_of,
            now: 5 * 3600,
            utc_offset_seconds: 0,
            licensed: true,
        }
    }

    fn expected(flavour: Flavour) -> DuoExpected {
        let pop = population();
        Duo::build(&pop, flavour, true).expected(&render(&pop, flavour, pop.anchor))
    }

    /// Every holder state the report classifies exists on both flavours, with seats to spare.
    #[test]
    fn both_flavours_have_every_kind_of_holder_and_unassigned_seats() {
        for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
            let e = expected(flavour);
            let anchor = NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date");
            let holders: Vec<&ExpectedHolder> = e.add_ons.iter().flat_map(|a| &a.holders).collect();
            let profiles: HashSet<DuoProfile> = holders.iter().map(|h| h.profile).collect();
            assert_eq!(profiles.len(), 3, "{flavour:?}: {profiles:?}");
            let idle_days =
                |h: &ExpectedHolder| h.last_duo_activity_on.map(|d| (anchor - d).num_days());
            assert!(
                holders
                    .iter()
                    .any(|h| idle_days(h).is_some_and(|d| d <= 30))
            );
            assert!(holders.iter().any(|h| idle_days(h).is_some_and(|d| d > 30)));
            assert!(holders.iter().any(|h| h.last_duo_activity_on.is_none()));
            // grace: never used, assigned in the last days
            assert!(holders.iter().any(|h| {
                h.last_duo_activity_on.is_none() && (anchor - h.assigned_on).num_days() < 12
            }));
            // the enablement list: active in GitLab this week, no Duo for over 30 days
            assert!(holders.iter().any(|h| {
                h.profile == DuoProfile::Idle
                    && h.last_activity_on
                        .is_some_and(|d| (anchor - d).num_days() <= 7)
            }));
            for add_on in &e.add_ons {
                assert!(add_on.purchased >= add_on.assigned, "{add_on:?}");
                let per_user = !add_on.holders.is_empty();
                if per_user {
                    assert!(add_on.purchased > add_on.assigned, "some seats unassigned");
                }
            }
            assert!(
                e.add_ons
                    .iter()
                    .any(|a| a.name == "DUO_CORE" && a.assigned == 0)
            );
        }
    }

    #[test]
    fn amazon_q_is_self_managed_only_and_has_no_assignments() {
        let sm = expected(Flavour::SelfManaged);
        let q = sm
            .add_ons
            .iter()
            .find(|a| a.name == "DUO_AMAZON_Q")
            .expect("self-managed has Amazon Q");
        assert!(q.purchased > 0 && q.assigned == 0 && q.holders.is_empty());
        let com = expected(Flavour::GitLabCom);
        assert!(com.add_ons.iter().all(|a| a.name != "DUO_AMAZON_Q"));
    }

    #[test]
    fn an_ultimate_guest_holds_a_duo_seat_on_gitlab_com() {
        let e = expected(Flavour::GitLabCom);
        assert!(
            e.add_ons
                .iter()
                .flat_map(|a| &a.holders)
                .any(|h| !h.holds_base_seat)
        );
    }

    /// A multi-day backfill sees people assigned and unassigned on different days.
    #[test]
    fn assignments_change_over_the_days_of_history() {
        let pop = population();
        let duo = Duo::build(&pop, Flavour::GitLabCom, true);
        let purchase = &duo.purchases[0];
        let on =
            |day: Day| -> HashSet<usize> { duo.holders(&pop, purchase, day).into_iter().collect() };
        let (earlier, now) = (on(pop.anchor - 30), on(pop.anchor));
        assert!(now.difference(&earlier).count() > 0, "someone was assigned");
        assert!(
            earlier.difference(&now).count() > 0,
            "someone was unassigned"
        );
        // and a later date sees newcomers
        assert!(on(pop.anchor + 30).difference(&now).count() > 0);
    }

    /// The quantity covers every day of the window, as GitLab never lets assignments exceed it.
    #[test]
    fn assignments_never_exceed_the_purchased_quantity() {
        let pop = population();
        for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
            let duo = Duo::build(&pop, flavour, true);
            for purchase in &duo.purchases {
                for day in pop.anchor + QUANTITY_WINDOW.0..=pop.anchor + QUANTITY_WINDOW.1 {
                    let held = duo.holders(&pop, purchase, day).len() as u64;
                    assert!(held <= purchase.quantity, "{flavour:?} {purchase:?} {day}");
                }
            }
        }
    }

    /// Duo is used only on days the user is active in GitLab, and never before the seat.
    #[test]
    fn last_duo_use_is_a_gitlab_active_day_after_the_first_assignment() {
        let pop = population();
        let duo = Duo::build(&pop, Flavour::SelfManaged, true);
        let mut seen = 0;
        for index in FIXED_USERS..pop.users.len() {
            if let Some(day) = duo.last_duo_activity_on(&pop, index, pop.anchor, 5 * 3600) {
                seen += 1;
                assert!(pop.activity_start(index, day).is_some());
                assert!(day >= duo.first_assigned(&pop, index).expect("assigned"));
                assert!(day <= pop.anchor);
            }
        }
        assert!(seen > 10);
    }
}
