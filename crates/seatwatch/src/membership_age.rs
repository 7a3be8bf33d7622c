//! GitLab.com: when a never-seen member's seat began, asked a hundred members at a time.
//!
//! On GitLab.com `billable_members` `created_at` is the account's age on all of GitLab.com, not
//! the membership's, and a member GitLab never saw active or signed in is inside their grace
//! period while the membership is young ([`seatwatch_core::analyse::grace_start`]). The exact
//! age is the earliest direct membership in the group's hierarchy
//! (`billable_members/:user_id/memberships`), one request per member: on a first snapshot that
//! was most of the run (issue 14: 298 of 536 requests on a group of 8,598).
//!
//! So the members who need an age are first asked together, a hundred ids a request, at
//! `/groups/:id/members?user_ids[]=` ([`Client::group_members_by_ids`]): the top-level group's
//! own membership. The earliest membership is never later than that one, so where the group
//! membership is already older than the grace period, the earliest one is too, and either
//! decides the grace period the same way, on this day and every later one; the group
//! membership's date is kept. Only a member whose group membership is younger than the grace
//! period, or who has none (a member through projects or subgroups only), is asked
//! individually. The trade: should the grace period later be made longer than the membership
//! kept, such a member's grace may run from a later membership than the earliest (it ends late,
//! never early).
//!
//! A member whose account is itself younger than the grace period skips the batch: no membership
//! is older than its account, so the group membership could not decide, and the one-by-one
//! request is sent as soon as the member is listed ([`AgeLookup::Single`]; issue 14: on the
//! bench group these were the last page's members, and waiting on the last batch before asking
//! them put two round trips after the listing's end).
//!
//! The batches form as the listing's pages pass ([`AgeBatches`]): a batch is asked for once it
//! holds a hundred ids or spans [`AgeBatches::pages_per_batch`] pages, or the listing ends.
//! Its members wait for it inside the collection's ordered window, which is wider than a
//! batch's pages, so the window never stalls on a batch still forming.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use seatwatch_core::snapshot::Member;
use seatwatch_gitlab::{Client, GitLabError};
use tokio::sync::{OnceCell, Semaphore, SetOnce};

/// A batch is one `/groups/:id/members?user_ids[]=` request.
const IDS_PER_BATCH: usize = seatwatch_gitlab::GROUP_MEMBER_IDS_PER_REQUEST;

/// The members of one `/groups/:id/members?user_ids[]=` request, and its answer.
pub(crate) struct AgeBatch {
    /// Set once, when the batch is complete.
    ids: SetOnce<Vec<u64>>,
    /// Each asked member's group membership date; asked by the first member to need it.
    answer: OnceCell<HashMap<u64, DateTime<Utc>>>,
}

impl AgeBatch {
    fn new() -> Arc<Self> {
        Arc::new(AgeBatch {
            ids: SetOnce::new(),
            answer: OnceCell::new(),
        })
    }

    /// The group membership date of `id` (a member of this batch), once the batch is complete.
    async fn group_membership_of(
        &self,
        client: &Client,
        group: &str,
        id: u64,
        in_flight: &Semaphore,
    ) -> Result<Option<DateTime<Utc>>, GitLabError> {
        let ids = self.ids.wait().await;
        let answer = self
            .answer
            .get_or_try_init(|| async {
                // Invariant: the semaphore lives until the pipeline is gone and is never closed.
                let _permit = in_flight
                    .acquire()
                    .await
                    .expect("the events semaphore is never closed");
                let rows = client.group_members_by_ids(group, ids).await?;
                Ok::<_, GitLabError>(
                    rows.into_iter()
                        .filter_map(|row| row.created_at.map(|at| (row.id, at)))
                        .collect(),
                )
            })
            .await?;
        Ok(answer.get(&id).copied())
    }
}

/// How a member's membership age is asked for.
#[derive(Clone)]
pub(crate) enum AgeLookup {
    /// The top-level group membership in this batch first, one by one where it cannot decide.
    Batch(Arc<AgeBatch>),
    /// One by one at once: the account is younger than the grace period.
    Single,
}

/// What a listed member needs ([`AgeBatches::page`] turns `Batch` into the batch itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgeNeed {
    Batch,
    Single,
}

/// Forms the batches as the listing's pages pass, in listing order.
pub(crate) struct AgeBatches {
    open: Option<Forming>,
    pages_per_batch: usize,
}

/// The batch taking ids.
struct Forming {
    batch: Arc<AgeBatch>,
    ids: Vec<u64>,
    pages: usize,
}

impl AgeBatches {
    /// `pages_per_batch`: at most half the collection's ordered window, in pages, so that the
    /// window's head never waits on a batch whose last page the window cannot take.
    pub(crate) fn new(pages_per_batch: usize) -> Self {
        AgeBatches {
            open: None,
            pages_per_batch: pages_per_batch.max(1),
        }
    }

    /// How each of a page's `members` is asked for their age, `None` for a member who needs
    /// none ([`age_need`]).
    pub(crate) fn page(
        &mut self,
        members: &[Member],
        need: impl Fn(&Member) -> Option<AgeNeed>,
    ) -> Vec<Option<AgeLookup>> {
        let needs: Vec<Option<AgeNeed>> = members.iter().map(need).collect();
        let wanted = needs.iter().filter(|n| **n == Some(AgeNeed::Batch)).count();
        if self
            .open
            .as_ref()
            .is_some_and(|f| f.ids.len() + wanted > IDS_PER_BATCH)
        {
            self.seal();
        }
        let mut assigned = Vec::with_capacity(members.len());
        for (m, need) in members.iter().zip(needs) {
            match need {
                None => {
                    assigned.push(None);
                    continue;
                }
                Some(AgeNeed::Single) => {
                    assigned.push(Some(AgeLookup::Single));
                    continue;
                }
                Some(AgeNeed::Batch) => {}
            }
            let forming = self.open.get_or_insert_with(|| Forming {
                batch: AgeBatch::new(),
                ids: Vec::new(),
                pages: 0,
            });
            forming.ids.push(m.id);
            assigned.push(Some(AgeLookup::Batch(forming.batch.clone())));
            if forming.ids.len() == IDS_PER_BATCH {
                self.seal();
            }
        }
        if let Some(forming) = &mut self.open {
            forming.pages += 1;
            if forming.pages >= self.pages_per_batch {
                self.seal();
            }
        }
        assigned
    }

    /// Completes the forming batch: its members may ask.
    pub(crate) fn seal(&mut self) {
        if let Some(forming) = self.open.take() {
            // Invariant: only the forming batch is unset, and it is set once, here.
            let _ = forming.batch.ids.set(forming.ids);
        }
    }
}

/// Whether `member` needs a membership age asked: GitLab.com, a seat holder GitLab never saw,
/// whose age no earlier snapshot carries, and not there only through an invited group or
/// project (GitLab names a direct membership first: `membership_type` in
/// `ee/lib/ee/api/entities/billable_member.rb` is `group_invite` or `project_invite` only for a
/// user in neither direct list, and the memberships endpoint lists direct memberships only).
pub(crate) fn needs_age(member: &Member, known_since: &HashMap<u64, DateTime<Utc>>) -> bool {
    member.last_seen_on().is_none()
        && member.holds_seat
        && !matches!(
            member.membership_type.as_deref(),
            Some("group_invite" | "project_invite")
        )
        && !known_since.contains_key(&member.id)
}

/// How `member`'s age is to be asked on `date`, if at all: one by one at once where the account
/// (`billable_members` `created_at`, the account's age on GitLab.com) is younger than
/// `grace_days`, so that no membership of it can be older; else in a batch.
pub(crate) fn age_need(
    member: &Member,
    known_since: &HashMap<u64, DateTime<Utc>>,
    date: NaiveDate,
    grace_days: u32,
) -> Option<AgeNeed> {
    if !needs_age(member, known_since) {
        return None;
    }
    let account_young = member
        .created_at
        .is_some_and(|at| (date - at.date_naive()).num_days() < i64::from(grace_days));
    Some(if account_young {
        AgeNeed::Single
    } else {
        AgeNeed::Batch
    })
}

/// Fills in `member.member_since` on GitLab.com (see the module doc): carried forward from the
/// previous snapshot, the group membership when it is older than `grace_days` on `date`, else
/// the earliest direct membership (`billable_members/:user_id/memberships`). A member removed
/// since the listing keeps `None`: the seat is gone, its age does not matter.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn fill(
    client: &Client,
    group: &str,
    mut member: Member,
    lookup: Option<&AgeLookup>,
    known_since: &HashMap<u64, DateTime<Utc>>,
    date: NaiveDate,
    grace_days: u32,
    in_flight: &Semaphore,
) -> Result<Member, GitLabError> {
    if let Some(since) = known_since.get(&member.id) {
        member.member_since = Some(*since);
        return Ok(member);
    }
    let Some(lookup) = lookup else {
        return Ok(member);
    };
    if let AgeLookup::Batch(batch) = lookup
        && let Some(joined) = batch
            .group_membership_of(client, group, member.id, in_flight)
            .await?
    {
        let days = (date - joined.date_naive()).num_days();
        if days >= i64::from(grace_days) {
            member.member_since = Some(joined);
            return Ok(member);
        }
    }
    // Invariant: the semaphore lives until the pipeline is gone and is never closed.
    let _permit = in_flight
        .acquire()
        .await
        .expect("the events semaphore is never closed");
    match client.billable_member_memberships(group, member.id).await {
        Ok(memberships) => {
            member.member_since = memberships.iter().filter_map(|m| m.created_at).min();
        }
        Err(GitLabError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(member)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64) -> Member {
        Member::seat_holder(id, format!("user{id}"), "User")
    }

    #[test]
    fn invited_only_members_need_no_membership_lookup_quirk() {
        let of = |membership_type: Option<&str>| {
            let mut m = member(1);
            m.membership_type = membership_type.map(str::to_string);
            needs_age(&m, &HashMap::new())
        };
        // billable_member.rb names a direct membership first; only the invite types lack one.
        assert!(!of(Some("group_invite")) && !of(Some("project_invite")));
        assert!(of(Some("group_member")) && of(Some("project_member")) && of(None));
    }

    #[test]
    fn batches_hold_at_most_a_hundred_ids_and_seal_after_their_pages() {
        let batched = |_: &Member| Some(AgeNeed::Batch);
        let batch_of = |lookup: &Option<AgeLookup>| match lookup {
            Some(AgeLookup::Batch(b)) => b.clone(),
            _ => panic!("not in a batch"),
        };
        let mut batches = AgeBatches::new(3);
        let page: Vec<Member> = (0..60).map(member).collect();
        let first = batches.page(&page, batched);
        let second = batches.page(&page, batched);
        // 60 + 60 > 100: the first batch was sealed before the second page joined.
        let a = batch_of(&first[0]);
        let b = batch_of(&second[0]);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.ids.get().map(Vec::len), Some(60));
        assert!(b.ids.get().is_none(), "still forming");
        // Pages with nobody to ask count towards the batch's span.
        batches.page(&page, |_| None);
        batches.page(&page, |_| None);
        assert_eq!(b.ids.get().map(Vec::len), Some(60), "sealed after 3 pages");
        let mut batches = AgeBatches::new(10);
        let big: Vec<Member> = (0..250).map(member).collect();
        let assigned = batches.page(&big, batched);
        batches.seal();
        let sizes: Vec<usize> = [0, 100, 200]
            .iter()
            .map(|&i| batch_of(&assigned[i]).ids.get().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        // Members asked one by one take no place in a batch.
        let mut batches = AgeBatches::new(10);
        let assigned = batches.page(&big, |m| {
            Some(if m.id < 200 {
                AgeNeed::Single
            } else {
                AgeNeed::Batch
            })
        });
        batches.seal();
        assert!(matches!(assigned[0], Some(AgeLookup::Single)));
        assert_eq!(batch_of(&assigned[200]).ids.get().map(Vec::len), Some(50));
    }

    #[test]
    fn accounts_younger_than_the_grace_period_are_asked_one_by_one_at_once_quirk() {
        // A membership cannot be older than its account: where the account (GitLab.com's
        // billable_members created_at) is younger than the grace period, the group membership
        // could not decide, so the batch is skipped.
        let date: NaiveDate = "2026-06-30".parse().unwrap();
        let grace = crate::config::DEFAULT_GRACE_DAYS;
        let created = |days_ago: u32| {
            let mut m = member(7);
            let day = date - chrono::Days::new(u64::from(days_ago));
            m.created_at = Some(day.and_hms_opt(12, 0, 0).unwrap().and_utc());
            m
        };
        let none = HashMap::new();
        assert_eq!(
            age_need(&created(grace - 1), &none, date, grace),
            Some(AgeNeed::Single)
        );
        assert_eq!(
            age_need(&created(grace), &none, date, grace),
            Some(AgeNeed::Batch)
        );
        assert_eq!(
            age_need(&member(7), &none, date, grace),
            Some(AgeNeed::Batch),
            "unknown age"
        );
        let known = HashMap::from([(7, Utc::now())]);
        assert_eq!(age_need(&created(1), &known, date, grace), None, "carried");
    }
}
