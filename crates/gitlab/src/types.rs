//! What GitLab answers, as serde types that survive GitLab's changes.
//!
//! Unknown fields are ignored (serde's default), fields GitLab may omit or null are `Option` (which
//! serde reads as `None` when the key is missing, so they need no `#[serde(default)]`), and
//! a user `state` GitLab adds later lands in [`UserState::Other`] instead of failing the listing.
//! Field names follow GitLab's JSON so that the fixtures in `tests/fixtures/gitlab/` read as-is.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

/// A user's `state` as GitLab sends it: the states of the `User` state machine
/// (`app/models/user.rb`). GitLab adds states, so an unknown one is kept, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Active,
    Blocked,
    Deactivated,
    Banned,
    LdapBlocked,
    BlockedPendingApproval,
    #[serde(untagged)]
    Other(String),
}

/// `GET /metadata` (or the older `GET /version`, which lacks `enterprise`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub version: String,
    pub enterprise: Option<bool>,
}

impl Metadata {
    /// EE (licensed features, `/license`, `billable_members`). Older instances only say so through
    /// the `-ee` version suffix.
    pub fn is_enterprise(&self) -> bool {
        self.enterprise
            .unwrap_or_else(|| self.version.trim().to_ascii_lowercase().ends_with("-ee"))
    }
}

/// `GET /user`: whose token this is. `is_admin` is absent for regular users.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CurrentUser {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    pub email: Option<String>,
    pub is_admin: Option<bool>,
    pub is_auditor: Option<bool>,
    pub bot: Option<bool>,
    pub external: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_activity_on: Option<NaiveDate>,
}

impl CurrentUser {
    /// A missing `is_admin` means a regular user: GitLab only sends the key to admins.
    pub fn is_admin(&self) -> bool {
        self.is_admin.unwrap_or(false)
    }
}

/// `GET /personal_access_tokens/self`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PersonalAccessToken {
    pub id: u64,
    pub name: String,
    pub revoked: bool,
    pub active: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub user_id: u64,
    /// Null only on old non-expiring tokens.
    pub expires_at: Option<NaiveDate>,
    pub created_at: Option<DateTime<Utc>>,
    /// Newer GitLab versions only.
    pub expired: Option<bool>,
}

impl PersonalAccessToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// `GET /license` (self-managed / Dedicated, admin only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct License {
    pub id: u64,
    pub plan: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub starts_at: Option<NaiveDate>,
    pub expires_at: Option<NaiveDate>,
    pub historical_max: Option<u64>,
    pub maximum_user_count: Option<u64>,
    pub expired: Option<bool>,
    pub overage: Option<i64>,
    /// Seats bought.
    pub user_limit: Option<u64>,
    /// Billable users now. Absent from `/licenses` list items.
    pub active_users: Option<u64>,
}

/// `GET /namespaces/:id`. The seat fields are only sent to the Owner of a GitLab.com top-level
/// group and are absent on self-managed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Namespace {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub kind: String,
    pub full_path: String,
    pub parent_id: Option<u64>,
    pub billable_members_count: Option<u64>,
    pub seats_in_use: Option<u64>,
    pub max_seats_used: Option<u64>,
    pub end_date: Option<NaiveDate>,
    pub plan: Option<String>,
}

/// `GET /groups/:id`, only what seatwatch needs to tell a top-level group from a subgroup.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    pub parent_id: Option<u64>,
    pub name: Option<String>,
    pub path: Option<String>,
    pub web_url: Option<String>,
}

impl Group {
    pub fn is_top_level(&self) -> bool {
        self.parent_id.is_none()
    }
}

/// One user of the admin `GET /users` listing. A non-admin token gets `UserBasic` (id, username,
/// name, state, ...), so everything beyond those is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    pub email: Option<String>,
    pub bot: Option<bool>,
    pub is_admin: Option<bool>,
    pub is_auditor: Option<bool>,
    pub external: Option<bool>,
    /// EE, admin view: GitLab's own "holds a seat" signal.
    pub using_license_seat: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_activity_on: Option<NaiveDate>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub current_sign_in_at: Option<DateTime<Utc>>,
}

/// One member of `GET /groups/:id/billable_members` (GitLab.com).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillableMember {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    pub email: Option<String>,
    pub last_activity_on: Option<NaiveDate>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    /// `group_member`, `project_member`, `group_invite`, `project_invite`.
    pub membership_type: Option<String>,
}

/// One event of `GET /users/:id/events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: u64,
    /// `pushed to`, `pushed new`, `deleted`, `opened`, `accepted`, `commented on`, ... GitLab's
    /// documentation also shows a bare `pushed`. What each counts as is the collector's call.
    pub action_name: String,
    pub target_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub author_id: Option<u64>,
    pub project_id: Option<u64>,
    pub push_data: Option<PushData>,
}

/// What a push event carries besides its name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushData {
    /// 0 for bulk pushes over GitLab's push-event limit.
    pub commit_count: Option<u64>,
}

/// An event as it arrives, before the events without a timestamp are dropped: GitLab's own
/// documentation shows events without `created_at`, and such an event cannot be put on a day.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawEvent {
    id: u64,
    action_name: String,
    target_type: Option<String>,
    created_at: Option<DateTime<Utc>>,
    author_id: Option<u64>,
    project_id: Option<u64>,
    push_data: Option<PushData>,
}

impl RawEvent {
    pub(crate) fn into_event(self) -> Option<Event> {
        Some(Event {
            id: self.id,
            action_name: self.action_name,
            target_type: self.target_type,
            created_at: self.created_at?,
            author_id: self.author_id,
            project_id: self.project_id,
            push_data: self.push_data,
        })
    }
}

/// Parses an events page the way the client does: events without `created_at` are skipped.
pub fn parse_events(body: &[u8]) -> Result<Vec<Event>, serde_json::Error> {
    let raw: Vec<RawEvent> = serde_json::from_slice(body)?;
    Ok(raw.into_iter().filter_map(RawEvent::into_event).collect())
}

/// `GET /groups/:id/billable_members/:user_id/memberships` item: only when the membership began,
/// which is all the collector reads from it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillableMembership {
    pub id: u64,
    pub created_at: Option<DateTime<Utc>>,
}

/// One row of `GET /groups/:id/members` (`lib/api/members.rb`), rendered by
/// `lib/api/entities/member.rb`: the user's `UserBasic` fields merged with the membership's own.
/// The endpoint lists the group's direct memberships only (`source_members(source)`), not
/// inherited ones, nor memberships of its subgroups or projects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GroupMember {
    /// The user's id (`expose :user, merge: true`).
    pub id: u64,
    /// When the membership was created (the `members` row's `created_at`), not the account.
    pub created_at: Option<DateTime<Utc>>,
    /// 5 Minimal Access, 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer,
    /// 50 Owner.
    pub access_level: u32,
}

/// `GET /groups/:id/members/all/:user_id` (`lib/api/members.rb`): one user's membership of a
/// group, inherited and invited memberships included, with the highest role. Used to prove that
/// the token's user is the group's Owner (`access_level` 50).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemberAccess {
    pub id: u64,
    pub username: String,
    /// 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner.
    pub access_level: u32,
}

impl MemberAccess {
    /// GitLab's `Gitlab::Access::OWNER`.
    const OWNER: u32 = 50;

    pub fn is_owner(&self) -> bool {
        self.access_level >= Self::OWNER
    }

    /// The role's name as GitLab's UI shows it.
    pub fn role(&self) -> &'static str {
        match self.access_level {
            0..=4 => "No access",
            5..=9 => "Minimal Access",
            10..=14 => "Guest",
            15..=19 => "Planner",
            20..=29 => "Reporter",
            30..=39 => "Developer",
            40..=49 => "Maintainer",
            _ => "Owner",
        }
    }
}
