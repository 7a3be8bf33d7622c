//! GitLab Duo add-on seats into a snapshot: the purchases into the day record
//! ([`DuoSnapshot`]), the holders of each per-user add-on beside the members ([`DuoHolder`]).
//!
//! GitLab exposes no assignment date, so each holder's `first_seen_assigned` is carried from the
//! previous snapshot's holders (a holder not there is first seen today), and
//! [`DuoSnapshot::tracked_since`] from the previous day record (today when it read no Duo seats).
//!
//! The read happens once per run, beside the member listing, in the invocation that commits: an
//! invocation that stops early drops it, and a checkpointed run reads it when it resumes to its
//! end. The holders are stored only once the members are complete. A GitLab that cannot answer (older than
//! Duo, or a token whose user may not read add-ons) leaves `duo: None` with one warning and the
//! rest of the snapshot intact; any other failure fails the run like any other GitLab failure.
//!
//! GitLab hides purchases a user may not manage rather than refusing them
//! (`add_on_purchases_resolver.rb`), so an empty list could also mean "no role". A collecting
//! token has that role anyway: the seat listings it reads (`/users` as an administrator,
//! `billable_members` as the group's Owner) need the same one that reading add-ons does.

use std::collections::HashMap;

use chrono::NaiveDate;
use seatwatch_core::duo::{AddOnSeats, DuoAddOn, DuoHolder, DuoSnapshot, DuoUse};
use seatwatch_core::snapshot::{DaySummary, InstanceId};
use seatwatch_gitlab::{AddOnHolder, AddOnScope, Client, DuoActivity, GitLabError};

use crate::store::{RunId, SnapshotWriter};

/// What this GitLab told of its Duo seats on the snapshot day.
#[derive(Debug, Clone, PartialEq)]
pub struct DuoRead {
    pub snapshot: DuoSnapshot,
    /// Ordered by add-on and user id.
    pub holders: Vec<DuoHolder>,
}

/// Why Duo seats were not read, said once as a warning; the snapshot goes on without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuoUnavailable {
    /// No `addOnPurchases` field (or no GraphQL endpoint): a GitLab older than Duo.
    NoAddOns,
    /// The token's user may not read add-on seats; the error's hint says what to change.
    Refused(String),
}

impl std::fmt::Display for DuoUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DuoUnavailable::NoAddOns => f.write_str(
                "this GitLab has no add-on purchases (older than GitLab Duo): Duo seats are not in this snapshot",
            ),
            DuoUnavailable::Refused(why) => write!(
                f,
                "GitLab Duo seats are not in this snapshot: {why}"
            ),
        }
    }
}

/// Where the add-ons of this instance (or top-level group) were bought.
pub async fn scope_of<'a>(
    client: &Client,
    group: Option<&'a str>,
    full_path: &'a mut String,
) -> Result<AddOnScope<'a>, GitLabError> {
    match group {
        None => Ok(AddOnScope::SelfManaged),
        Some(group) => {
            let found = client.group(group).await?;
            *full_path = found.full_path;
            Ok(AddOnScope::GitLabCom {
                group_id: found.id,
                full_path: full_path.as_str(),
            })
        }
    }
}

/// Reads the purchases and the holders of each per-user add-on. `previous` and
/// `previous_holders` are the last committed day's, for what is carried forward.
pub async fn read(
    client: &Client,
    scope: AddOnScope<'_>,
    date: NaiveDate,
    previous: Option<&DuoSnapshot>,
    previous_holders: &[DuoHolder],
) -> Result<Result<DuoRead, DuoUnavailable>, GitLabError> {
    let purchases = match client.add_on_purchases(scope).await {
        Ok(Some(purchases)) => purchases,
        Ok(None) | Err(GitLabError::NotFound { .. }) => return Ok(Err(DuoUnavailable::NoAddOns)),
        Err(e) if e.is_permission_refusal() => {
            return Ok(Err(DuoUnavailable::Refused(e.to_string())));
        }
        Err(e) => return Err(e),
    };
    let first_seen: HashMap<(&str, u64), NaiveDate> = previous_holders
        .iter()
        .map(|h| ((h.add_on.as_str(), h.user_id), h.first_seen_assigned))
        .collect();
    let mut holders = Vec::new();
    let mut exposed = Vec::new();
    // Each add-on's holders are a chain of cursor pages; the chains run at once.
    let per_user: Vec<_> = purchases
        .iter()
        .filter(|p| AddOnSeats::of(&p.name) == AddOnSeats::PerUser)
        .collect();
    let reads = futures_util::future::join_all(
        per_user
            .iter()
            .map(|purchase| client.add_on_holders(scope, purchase)),
    )
    .await;
    for (purchase, read) in per_user.into_iter().zip(reads) {
        let read = match read {
            Ok(read) => read,
            Err(e) if e.is_permission_refusal() => {
                return Ok(Err(DuoUnavailable::Refused(e.to_string())));
            }
            Err(e) => return Err(e),
        };
        exposed.push(read.duo_activity_exposed);
        holders.extend(read.holders.into_iter().map(|h| {
            let seen = first_seen.get(&(purchase.name.as_str(), h.user_id));
            holder(&purchase.name, h, seen.copied().unwrap_or(date))
        }));
    }
    holders.sort_by(|a, b| (&a.add_on, a.user_id).cmp(&(&b.add_on, b.user_id)));
    holders.dedup_by(|a, b| a.add_on == b.add_on && a.user_id == b.user_id);
    Ok(Ok(DuoRead {
        snapshot: DuoSnapshot {
            add_ons: purchases
                .iter()
                .map(|p| DuoAddOn {
                    add_on: p.name.clone(),
                    purchased: p.purchased_quantity,
                    assigned: p.assigned_quantity,
                })
                .collect(),
            // With no holder read there is nothing to judge by: keep what was known.
            activity_exposed: if exposed.is_empty() {
                previous.is_none_or(|p| p.activity_exposed)
            } else {
                exposed.iter().all(|&e| e)
            },
            tracked_since: previous.map_or(date, |p| p.tracked_since),
        },
        holders,
    }))
}

/// One GitLab holder as the snapshot keeps it.
fn holder(add_on: &str, h: AddOnHolder, first_seen_assigned: NaiveDate) -> DuoHolder {
    DuoHolder {
        add_on: add_on.to_string(),
        user_id: h.user_id,
        username: h.username,
        last_duo_use: match h.last_duo_activity_on {
            DuoActivity::NotExposed => DuoUse::Unknown,
            DuoActivity::Never => DuoUse::Never,
            DuoActivity::On(day) => DuoUse::On(day),
        },
        last_activity_on: h.last_activity_on,
        last_login_at: h.last_login_at,
        first_seen_assigned,
    }
}

/// Reads `instance`'s Duo seats on `date`, with what the previous snapshot carries forward.
/// It only reads, so it runs beside the member listing; [`keep`] stores what it read once the
/// members are complete.
pub(crate) async fn read_for_run(
    client: &Client,
    store: &dyn SnapshotWriter,
    instance: &InstanceId,
    date: NaiveDate,
    group: Option<&str>,
    previous: Option<&DaySummary>,
) -> Result<Result<DuoRead, DuoUnavailable>, crate::collect::CollectError> {
    let previous_duo = previous.and_then(|p| p.duo.as_ref());
    let previous_holders = match (previous, previous_duo) {
        (Some(p), Some(_)) => store.duo_holders(instance, p.date).await?,
        _ => Vec::new(),
    };
    let mut full_path = String::new();
    let scope = scope_of(client, group, &mut full_path).await?;
    Ok(read(client, scope, date, previous_duo, &previous_holders).await?)
}

/// Stores the holders [`read_for_run`] read under `run` (before its commit); the day record's
/// `duo`, or `None` with one warning where GitLab could not say.
pub(crate) async fn keep(
    store: &dyn SnapshotWriter,
    run: &RunId,
    read: Result<DuoRead, DuoUnavailable>,
) -> Result<Option<DuoSnapshot>, crate::collect::CollectError> {
    match read {
        Ok(read) => {
            store.put_duo_holders(run, &read.holders).await?;
            Ok(Some(read.snapshot))
        }
        Err(unavailable) => {
            tracing::warn!("{unavailable}");
            Ok(None)
        }
    }
}

/// The latest committed day before `date` within the catch-up reach: what a snapshot carries
/// forward (contributions, Duo first-seen dates).
pub(crate) async fn previous_day(
    store: &dyn SnapshotWriter,
    instance: &InstanceId,
    date: NaiveDate,
) -> Result<Option<DaySummary>, crate::store::StoreError> {
    let reach = chrono::Days::new(crate::collect::MAX_CATCH_UP_DAYS + 1);
    let before = date - chrono::Days::new(1);
    Ok(store.days(instance, date - reach, before).await?.pop())
}
