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
//! request is sent as soon as the member is listed ([`AgeNeed::Single`]; issue 14: on the
//! bench group these were the last page's members, and waiting on the last batch before asking
//! them put two round trips after the listing's end).
//!
//! The batches form as the listing's pages pass ([`AgeBatches`]): a batch is asked for once it
//! holds a hundred ids or spans [`AgeBatches::pages_per_batch`] pages, or the listing ends.
//! Its members wait for it inside the collection's ordered window, which is wider than a
//! batch's pages, so the window never stalls on a batch still forming.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future;
use seatwatch_core::analyse::grace_over;
use seatwatch_core::snapshot::Member;
use seatwatch_gitlab::{Client, GitLabError};
use tokio::sync::SetOnce;
use tokio::task::JoinSet;

/// A batch is one `/groups/:id/members?user_ids[]=` request.
const IDS_PER_BATCH: usize = seatwatch_gitlab::GROUP_MEMBER_IDS_PER_REQUEST;

/// Each asked member's membership date (`None`: GitLab has none, the member was removed), or
/// why the lookup failed (every member of it fails with that error).
type Ages = Result<HashMap<u64, Option<DateTime<Utc>>>, GitLabError>;

/// The answer a member waits on: its batch's, or its own.
#[derive(Clone)]
pub(crate) struct AgeLookup(Arc<SetOnce<Ages>>);

impl AgeLookup {
    fn new() -> Self {
        AgeLookup(Arc::new(SetOnce::new()))
    }
}

/// What a listed member needs ([`AgeBatches::page`] turns it into the [`AgeLookup`] it waits on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgeNeed {
    /// The top-level group membership in a batch first, one by one where it cannot decide.
    Batch,
    /// One by one at once: the account is younger than the grace period.
    Single,
}

/// A lookup ready to be asked: a complete batch, or one member alone.
pub(crate) struct Formed {
    ids: Vec<u64>,
    need: AgeNeed,
    answer: AgeLookup,
}

/// Where the lookups are asked: beside the collection's ordered window, as soon as each is
/// formed, so that a member's age is there when the window reaches it (issue 14: asked from the
/// window, the last batch went out only when the window's head reached its members, and its
/// one-by-one lookups a round trip later, after every other request of the run). Dropping the
/// asker (with the collection) aborts the lookups still running.
pub(crate) struct AgeAsker {
    context: Arc<AgeContext>,
    tasks: Mutex<JoinSet<()>>,
}

/// What a lookup needs to know.
struct AgeContext {
    client: Client,
    group: String,
    date: NaiveDate,
    grace_days: u32,
}

impl AgeAsker {
    pub(crate) fn new(client: &Client, group: &str, date: NaiveDate, grace_days: u32) -> Self {
        AgeAsker {
            context: Arc::new(AgeContext {
                client: client.clone(),
                group: group.to_string(),
                date,
                grace_days,
            }),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// Starts asking for every formed lookup.
    pub(crate) fn ask(&self, formed: Vec<Formed>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // finished lookups leave the set; their answers are in their cells
        while tasks.try_join_next().is_some() {}
        for Formed { ids, need, answer } in formed {
            let context = self.context.clone();
            tasks.spawn(async move {
                let ages = match need {
                    AgeNeed::Batch => context.batch_ages(&ids).await,
                    AgeNeed::Single => context.one_by_one(&ids).await,
                };
                // Invariant: each cell is set once, by its only lookup.
                let _ = answer.0.set(ages);
            });
        }
    }
}

impl AgeContext {
    /// The group memberships of `ids` where older than the grace period, the earliest direct
    /// membership of the others.
    async fn batch_ages(&self, ids: &[u64]) -> Ages {
        let rows = self.client.group_members_by_ids(&self.group, ids).await?;
        let joined: HashMap<u64, DateTime<Utc>> = rows
            .into_iter()
            .filter_map(|row| row.created_at.map(|at| (row.id, at)))
            .collect();
        let mut ages = HashMap::with_capacity(ids.len());
        let mut undecided = Vec::new();
        for &id in ids {
            match joined.get(&id) {
                Some(&at) if grace_over(at, self.date, self.grace_days) => {
                    ages.insert(id, Some(at));
                }
                _ => undecided.push(id),
            }
        }
        ages.extend(self.one_by_one(&undecided).await?);
        Ok(ages)
    }

    /// The earliest direct membership of each of `ids` (`billable_members/:user_id/memberships`),
    /// asked at once.
    async fn one_by_one(&self, ids: &[u64]) -> Ages {
        let asked = ids.iter().map(|&id| async move {
            match self
                .client
                .billable_member_memberships(&self.group, id)
                .await
            {
                Ok(memberships) => Ok((id, memberships.iter().filter_map(|m| m.created_at).min())),
                Err(GitLabError::NotFound { .. }) => Ok((id, None)),
                Err(e) => Err(e),
            }
        });
        future::try_join_all(asked)
            .await
            .map(|ages| ages.into_iter().collect())
    }
}

/// Forms the lookups as the listing's pages pass, in listing order.
pub(crate) struct AgeBatches {
    open: Option<Forming>,
    pages_per_batch: usize,
    /// Lookups formed and not yet handed to the [`AgeAsker`].
    formed: Vec<Formed>,
}

/// The batch taking ids.
struct Forming {
    answer: AgeLookup,
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
            formed: Vec::new(),
        }
    }

    /// The lookup each of a page's `members` waits on, `None` for a member who needs no age
    /// ([`age_need`]).
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
                None => assigned.push(None),
                Some(AgeNeed::Single) => {
                    let answer = AgeLookup::new();
                    self.formed.push(Formed {
                        ids: vec![m.id],
                        need: AgeNeed::Single,
                        answer: answer.clone(),
                    });
                    assigned.push(Some(answer));
                }
                Some(AgeNeed::Batch) => {
                    let forming = self.open.get_or_insert_with(|| Forming {
                        answer: AgeLookup::new(),
                        ids: Vec::new(),
                        pages: 0,
                    });
                    forming.ids.push(m.id);
                    assigned.push(Some(forming.answer.clone()));
                    if forming.ids.len() == IDS_PER_BATCH {
                        self.seal();
                    }
                }
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

    /// Completes the forming batch: it is ready to be asked.
    pub(crate) fn seal(&mut self) {
        if let Some(forming) = self.open.take() {
            self.formed.push(Formed {
                ids: forming.ids,
                need: AgeNeed::Batch,
                answer: forming.answer,
            });
        }
    }

    /// The lookups formed since the last call, to be asked.
    pub(crate) fn take_formed(&mut self) -> Vec<Formed> {
        std::mem::take(&mut self.formed)
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
        .is_some_and(|at| !grace_over(at, date, grace_days));
    Some(if account_young {
        AgeNeed::Single
    } else {
        AgeNeed::Batch
    })
}

/// Fills in `member.member_since` on GitLab.com (see the module doc): carried forward from the
/// previous snapshot, else what its lookup found: the group membership when it is older than
/// the grace period, else the earliest direct membership. A member removed since the listing
/// keeps `None`: the seat is gone, its age does not matter.
pub(crate) async fn fill(
    mut member: Member,
    lookup: Option<&AgeLookup>,
    known_since: &HashMap<u64, DateTime<Utc>>,
) -> Result<Member, GitLabError> {
    if let Some(since) = known_since.get(&member.id) {
        member.member_since = Some(*since);
        return Ok(member);
    }
    let Some(lookup) = lookup else {
        return Ok(member);
    };
    match lookup.0.wait().await {
        Ok(ages) => member.member_since = ages.get(&member.id).copied().flatten(),
        Err(e) => return Err(e.clone()),
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
        let sizes = |formed: Vec<Formed>| -> Vec<(usize, AgeNeed)> {
            formed.iter().map(|f| (f.ids.len(), f.need)).collect()
        };
        let mut batches = AgeBatches::new(3);
        let page: Vec<Member> = (0..60).map(member).collect();
        let first = batches.page(&page, batched);
        assert!(batches.take_formed().is_empty(), "60 ids: still forming");
        let second = batches.page(&page, batched);
        // 60 + 60 > 100: the first batch was sealed before the second page joined.
        let (Some(a), Some(b)) = (&first[0], &second[0]) else {
            panic!("both wait on a batch")
        };
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(sizes(batches.take_formed()), [(60, AgeNeed::Batch)]);
        // Pages with nobody to ask count towards the batch's span.
        batches.page(&page, |_| None);
        assert!(batches.take_formed().is_empty());
        batches.page(&page, |_| None);
        assert_eq!(
            sizes(batches.take_formed()),
            [(60, AgeNeed::Batch)],
            "sealed after 3 pages"
        );
        let mut batches = AgeBatches::new(10);
        let big: Vec<Member> = (0..250).map(member).collect();
        batches.page(&big, batched);
        batches.seal();
        let formed = sizes(batches.take_formed());
        assert_eq!(
            formed,
            [
                (100, AgeNeed::Batch),
                (100, AgeNeed::Batch),
                (50, AgeNeed::Batch)
            ]
        );
        // Members asked one by one take no place in a batch, and are formed at once.
        let mut batches = AgeBatches::new(10);
        let assigned = batches.page(&big, |m| {
            Some(if m.id < 200 {
                AgeNeed::Single
            } else {
                AgeNeed::Batch
            })
        });
        assert_eq!(
            batches.take_formed().len(),
            200,
            "every single one formed with its page"
        );
        batches.seal();
        assert_eq!(sizes(batches.take_formed()), [(50, AgeNeed::Batch)]);
        assert!(assigned.iter().all(Option::is_some));
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
