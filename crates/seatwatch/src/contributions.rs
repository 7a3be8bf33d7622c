//! Each member's last contribution (push, merge request, approval, issue, comment: see
//! [`ActivityKind::is_contribution`]), for the Guest candidates of an Ultimate plan.
//!
//! A snapshot carries every member's [`Member::last_contribution_on`] forward from the previous
//! one and moves it to the latest day it counts with a contribution. The day record's
//! [`DaySummary::contributions_known_since`] says from when that is complete: it is carried too,
//! as long as the snapshots follow each other without a gap in the counted days.
//!
//! A first snapshot (or one after a gap) knows nothing of the days before those it counts. On a
//! plan where Guests are free ([`guests_are_free`]), and only there (elsewhere nobody is ever a
//! Guest candidate), and only when `SEATWATCH_CONTRIBUTION_BACKFILL_PAGES` allows it (off by
//! default: it can triple a first snapshot's requests), it backfills the contribution window for
//! the seat holders active in it without a contribution on the counted days, with a bound: at
//! most that many pages of `/users/:id/events`, newest first, per such member. A member whose window is not read to its start within that bound gets the oldest day
//! read as their last contribution: an over-estimate, so they are never listed as a candidate on
//! a guess (docs/DECISIONS.md).

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use seatwatch_core::analyse::guests_are_free;
use seatwatch_core::snapshot::{
    Activity, ActivityCoverage, ActivityDays, ActivityKind, DaySummary, Member,
};
use seatwatch_gitlab::{Client, GitLabError};

use crate::collect::GroupProjects;

/// The latest day in `by_day` with a contribution.
pub fn latest_contribution(by_day: &BTreeMap<NaiveDate, Activity>) -> Option<NaiveDate> {
    by_day
        .iter()
        .rev()
        .find(|(_, activity)| is_contribution(activity))
        .map(|(day, _)| *day)
}

fn is_contribution(activity: &Activity) -> bool {
    ActivityKind::ALL
        .into_iter()
        .any(|kind| kind.is_contribution() && activity.get(kind) > 0)
}

/// Where a first snapshot's backfill reads: the window's days before the counted ones.
#[derive(Debug, Clone, Copy)]
struct Backfill {
    days: ActivityDays,
    /// Pages of 100 events read at most per member.
    pages: u32,
}

/// What this snapshot knows of contributions before its members are listed.
#[derive(Debug)]
pub(crate) struct Contributions {
    /// The previous snapshot's last contributions, by user id (only members with one).
    carried: HashMap<u64, NaiveDate>,
    known_since: NaiveDate,
    backfill: Option<Backfill>,
    time_zone: Tz,
}

/// The settings a snapshot's contribution tracking depends on.
pub(crate) struct ContributionScope<'a> {
    pub date: NaiveDate,
    /// The days this snapshot counts.
    pub days: ActivityDays,
    /// The plan as GitLab names it.
    pub plan: Option<&'a str>,
    pub window_days: u32,
    /// `SEATWATCH_CONTRIBUTION_BACKFILL_PAGES`: 0, no backfill.
    pub backfill_pages: u32,
    pub time_zone: Tz,
}

impl Contributions {
    /// The carry-forward from `previous` (the latest committed day before this one), or a fresh
    /// start with a backfill where Guests are free.
    /// `carried` is the previous snapshot's last contributions, by user id.
    pub(crate) fn load(
        carried: HashMap<u64, NaiveDate>,
        previous: Option<&DaySummary>,
        scope: &ContributionScope<'_>,
    ) -> Contributions {
        let continued = previous.and_then(|p| {
            let known_since = p.contributions_known_since?;
            let counted_through = match p.activity {
                ActivityCoverage::Days(days) => days.last,
                ActivityCoverage::Legacy => p.date - Days::new(1),
            };
            (counted_through + Days::new(1) >= scope.days.first).then_some(known_since)
        });
        let window_first = scope.date - Days::new(u64::from(scope.window_days));
        let backfill = (continued.is_none()
            && scope.backfill_pages > 0
            && scope.plan.is_some_and(guests_are_free)
            && window_first < scope.days.first)
            .then(|| Backfill {
                days: ActivityDays {
                    first: window_first,
                    last: scope.days.first - Days::new(1),
                },
                pages: scope.backfill_pages,
            });
        let known_since = match (continued, backfill) {
            (Some(known_since), _) => known_since,
            (None, Some(b)) => b.days.first,
            (None, None) => scope.days.first,
        };
        Contributions {
            carried,
            known_since,
            backfill,
            time_zone: scope.time_zone,
        }
    }

    /// The first day from which every member's contributions are known.
    pub(crate) fn known_since(&self) -> NaiveDate {
        self.known_since
    }

    /// Sets `member.last_contribution_on`: the latest of the carried one, the counted days' and,
    /// on a backfilled snapshot, the window's (see the module doc).
    pub(crate) async fn track(
        &self,
        client: &Client,
        member: &mut Member,
        by_day: &BTreeMap<NaiveDate, Activity>,
        group_projects: Option<&GroupProjects>,
        in_flight: &tokio::sync::Semaphore,
    ) -> Result<(), GitLabError> {
        let counted = latest_contribution(by_day);
        let backfilled = match (counted, self.backfill) {
            (None, Some(backfill)) if needs_backfill(member, backfill) => {
                self.backfill(client, member.id, backfill, group_projects, in_flight)
                    .await?
            }
            _ => None,
        };
        member.last_contribution_on = [self.carried.get(&member.id).copied(), counted, backfilled]
            .into_iter()
            .flatten()
            .max();
        Ok(())
    }

    /// The member's last contribution in the backfill's days, or the oldest day read when the
    /// bound ran out first.
    async fn backfill(
        &self,
        client: &Client,
        user_id: u64,
        backfill: Backfill,
        group_projects: Option<&GroupProjects>,
        in_flight: &tokio::sync::Semaphore,
    ) -> Result<Option<NaiveDate>, GitLabError> {
        // Invariant: the semaphore lives until the pipeline is gone and is never closed.
        let permit = in_flight
            .acquire()
            .await
            .expect("the events semaphore is never closed");
        // Both bounds are exclusive whole days: this asks for exactly first..=last.
        let (events, complete) = client
            .user_events_newest(
                user_id,
                backfill.days.first - Days::new(1),
                backfill.days.last + Days::new(1),
                backfill.pages,
            )
            .await?;
        // not held while the events wait for the group's projects
        drop(permit);
        let kept = GroupProjects::keep_in_group(group_projects, &events).await?;
        let by_day = crate::collect::count_activity_by_day(kept, self.time_zone, backfill.days);
        let oldest_read = events
            .iter()
            .map(|e| e.created_at.with_timezone(&self.time_zone).date_naive())
            .min()
            .map(|day| day.clamp(backfill.days.first, backfill.days.last));
        Ok(latest_contribution(&by_day).or(if complete { None } else { oldest_read }))
    }
}

/// Whether a member's window is worth reading: a seat holder whose activity GitLab shows and who
/// was active in it (anyone else has no events there).
fn needs_backfill(member: &Member, backfill: Backfill) -> bool {
    member.holds_seat
        && !member.bot
        && !member.activity_unknown
        && member
            .last_activity_on
            .is_some_and(|d| d >= backfill.days.first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn only_contribution_kinds_move_the_last_contribution() {
        for kind in ActivityKind::ALL {
            let mut activity = Activity::default();
            *activity.get_mut(kind) = 1;
            let by_day = BTreeMap::from([(day(2), activity)]);
            let expected = kind.is_contribution().then_some(day(2));
            assert_eq!(latest_contribution(&by_day), expected, "{kind:?}");
        }
    }

    #[test]
    fn the_latest_contributing_day_wins_over_later_days_without_one() {
        let mut pushed = Activity::default();
        *pushed.get_mut(ActivityKind::Pushes) = 1;
        let mut other = Activity::default();
        *other.get_mut(ActivityKind::Other) = 5;
        let by_day = BTreeMap::from([(day(1), pushed), (day(3), pushed), (day(4), other)]);
        assert_eq!(latest_contribution(&by_day), Some(day(3)));
    }
}
