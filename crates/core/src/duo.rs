//! GitLab Duo add-on seats as a snapshot records them.
//!
//! GitLab sells Duo as add-ons with seats of their own, assigned by hand and read only through
//! GraphQL (`addOnPurchases`, `addOnEligibleUsers` / `selfManagedAddOnEligibleUsers`; see
//! `gitlab-api.md` §10). A day's [`DuoSnapshot`] (purchases, in the day record) and its
//! [`DuoHolder`]s (one per user and add-on, stored beside the members) are what analysis reads.
//!
//! GitLab exposes no assignment date, so [`DuoHolder::first_seen_assigned`] is seatwatch's own:
//! the first snapshot that saw the holder with the add-on.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// GitLab's `GitlabSubscriptionsAddOnType` name of Duo with Amazon Q: a purchased quantity but no
/// per-user assignment (`ee/app/graphql/types/gitlab_subscriptions/add_on_type_enum.rb`).
pub const DUO_AMAZON_Q: &str = "DUO_AMAZON_Q";
/// GitLab's name of Duo Core: included in Premium and Ultimate, with no seats.
pub const DUO_CORE: &str = "DUO_CORE";

/// What applies to an add-on: whether it has seats, and whether they are assigned per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddOnSeats {
    /// Duo Pro (`CODE_SUGGESTIONS`), Duo Enterprise and any add-on GitLab adds later: seats
    /// assigned to users one by one.
    PerUser,
    /// Duo with Amazon Q: a purchased quantity, no per-user assignment.
    Unassigned,
    /// Duo Core: no seats at all.
    None,
}

impl AddOnSeats {
    /// What applies to the add-on GitLab names `add_on`.
    pub fn of(add_on: &str) -> AddOnSeats {
        match add_on {
            DUO_AMAZON_Q => AddOnSeats::Unassigned,
            DUO_CORE => AddOnSeats::None,
            _ => AddOnSeats::PerUser,
        }
    }
}

/// What GitLab says of a holder's last Duo use (`AddOnUser.lastDuoActivityOn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "on")]
pub enum DuoUse {
    /// The GitLab version has no `lastDuoActivityOn` (before 18.0): unknown, never "unused".
    Unknown,
    /// The field exists and is `null`: no tracked Duo activity.
    Never,
    /// The day of the last tracked Duo event.
    On(NaiveDate),
}

/// One add-on purchase on the snapshot day (`AddOnPurchase`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuoAddOn {
    /// GitLab's enum name, e.g. `CODE_SUGGESTIONS` (Duo Pro) or `DUO_ENTERPRISE`.
    pub add_on: String,
    /// `purchasedQuantity`.
    pub purchased: u64,
    /// `assignedQuantity`.
    pub assigned: u64,
}

impl DuoAddOn {
    /// Seats bought and held by no one: they can go at renewal.
    pub fn unassigned(&self) -> u64 {
        self.purchased.saturating_sub(self.assigned)
    }

    pub fn seats(&self) -> AddOnSeats {
        AddOnSeats::of(&self.add_on)
    }
}

/// The Duo part of a day record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuoSnapshot {
    /// Active purchases, as GitLab lists them.
    pub add_ons: Vec<DuoAddOn>,
    /// Whether this GitLab exposes `lastDuoActivityOn`; when not, every holder's use is
    /// [`DuoUse::Unknown`].
    pub activity_exposed: bool,
    /// The date of the first snapshot that read Duo seats for this instance: a holder first seen
    /// then may have been assigned any time before.
    pub tracked_since: NaiveDate,
}

/// One user holding one add-on's seat on the snapshot day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuoHolder {
    /// The add-on's GitLab enum name (as [`DuoAddOn::add_on`]).
    pub add_on: String,
    /// GitLab's user id (the number of `gid://gitlab/User/N`).
    pub user_id: u64,
    pub username: String,
    pub last_duo_use: DuoUse,
    /// `lastActivityOn`: activity anywhere in GitLab.
    pub last_activity_on: Option<NaiveDate>,
    /// `lastLoginAt`.
    pub last_login_at: Option<DateTime<Utc>>,
    /// The first snapshot date on which the holder held this add-on; carried from day to day.
    pub first_seen_assigned: NaiveDate,
}

impl DuoHolder {
    /// Whether the assignment date is unknown: first seen on the first Duo snapshot, so the
    /// assignment may be older than seatwatch's history.
    pub fn assigned_before_tracking(&self, snapshot: &DuoSnapshot) -> bool {
        self.first_seen_assigned <= snapshot.tracked_since
    }
}
