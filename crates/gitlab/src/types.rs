//! What GitLab answers, as serde types that survive GitLab's changes.
//!
//! Unknown fields are ignored (serde's default), fields GitLab may omit or null are `Option`, and
//! a user `state` GitLab adds later lands in [`UserState::Other`] instead of failing the listing.
//! Field names follow GitLab's JSON so that the fixtures in `tests/fixtures/gitlab/` read as-is.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use seatwatch_core::snapshot::UserState;

/// `GET /metadata` (or the older `GET /version`, which lacks `enterprise`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub version: String,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
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
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_auditor: Option<bool>,
    #[serde(default)]
    pub bot: Option<bool>,
    #[serde(default)]
    pub external: Option<bool>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity_on: Option<NaiveDate>,
    #[serde(default)]
    pub web_url: Option<String>,
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
    #[serde(default)]
    pub expires_at: Option<NaiveDate>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Newer GitLab versions only.
    #[serde(default)]
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
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub starts_at: Option<NaiveDate>,
    #[serde(default)]
    pub expires_at: Option<NaiveDate>,
    #[serde(default)]
    pub historical_max: Option<u64>,
    #[serde(default)]
    pub maximum_user_count: Option<u64>,
    #[serde(default)]
    pub expired: Option<bool>,
    #[serde(default)]
    pub overage: Option<i64>,
    /// Seats bought.
    #[serde(default)]
    pub user_limit: Option<u64>,
    /// Billable users now. Absent from `/licenses` list items.
    #[serde(default)]
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
    #[serde(default)]
    pub parent_id: Option<u64>,
    #[serde(default)]
    pub billable_members_count: Option<u64>,
    #[serde(default)]
    pub seats_in_use: Option<u64>,
    #[serde(default)]
    pub max_seats_used: Option<u64>,
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub trial: Option<bool>,
    #[serde(default)]
    pub trial_ends_on: Option<NaiveDate>,
}

/// `GET /groups/:id`, only what seatwatch needs to tell a top-level group from a subgroup.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    pub id: u64,
    pub full_path: String,
    #[serde(default)]
    pub parent_id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
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
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub bot: Option<bool>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_auditor: Option<bool>,
    #[serde(default)]
    pub external: Option<bool>,
    #[serde(default)]
    pub locked: Option<bool>,
    /// EE, admin view: GitLab's own "holds a seat" signal.
    #[serde(default)]
    pub using_license_seat: Option<bool>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity_on: Option<NaiveDate>,
    #[serde(default)]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub current_sign_in_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Who created the account (an object, or null); kept raw because its shape varies.
    #[serde(default)]
    pub created_by: Option<serde_json::Value>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One member of `GET /groups/:id/billable_members` (GitLab.com).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillableMember {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub last_activity_on: Option<NaiveDate>,
    #[serde(default)]
    pub last_login_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// `group_member`, `project_member`, `group_invite`, `project_invite`.
    #[serde(default)]
    pub membership_type: Option<String>,
    #[serde(default)]
    pub removable: Option<bool>,
    #[serde(default)]
    pub is_last_owner: Option<bool>,
}

/// One event of `GET /users/:id/events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: u64,
    /// `pushed to`, `pushed new`, `opened`, `accepted`, `commented on`, ... GitLab's documentation
    /// also shows a bare `pushed`; see [`Event::is_push`].
    pub action_name: String,
    #[serde(default)]
    pub target_type: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub author_id: Option<u64>,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub push_data: Option<PushData>,
}

impl Event {
    /// A push, whichever spelling GitLab uses (`pushed to`, `pushed new`, the docs' `pushed`), or
    /// any event carrying `push_data` (branch deletions are pushes too).
    pub fn is_push(&self) -> bool {
        self.push_data.is_some() || self.action_name.starts_with("pushed")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushData {
    /// 0 for bulk pushes over GitLab's push-event limit.
    #[serde(default)]
    pub commit_count: Option<u64>,
    /// `pushed`, `created`, `removed`.
    #[serde(default)]
    pub action: Option<String>,
    /// `branch` or `tag`.
    #[serde(default)]
    pub ref_type: Option<String>,
    #[serde(default, rename = "ref")]
    pub ref_name: Option<String>,
}

/// An event as it arrives, before the events without a timestamp are dropped: GitLab's own
/// documentation shows events without `created_at`, and such an event cannot be put on a day.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawEvent {
    id: u64,
    action_name: String,
    #[serde(default)]
    target_type: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    author_id: Option<u64>,
    #[serde(default)]
    project_id: Option<u64>,
    #[serde(default)]
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

/// `GET /users/:id/memberships` item. `access_level` is a string in GitLab's docs and an integer
/// in real answers; both are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    pub source_id: u64,
    #[serde(default)]
    pub source_name: Option<String>,
    /// `Project` or `Namespace`.
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default, deserialize_with = "access_level")]
    pub access_level: Option<u32>,
}

/// `GET /groups/:id/members[/all]` item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GroupMember {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    #[serde(default, deserialize_with = "access_level")]
    pub access_level: Option<u32>,
    #[serde(default)]
    pub expires_at: Option<NaiveDate>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub email: Option<String>,
    /// Only with `show_seat_info=true`.
    #[serde(default)]
    pub is_using_seat: Option<bool>,
}

/// `GET /groups/:id/billable_members/:user_id/memberships` (and `/indirect`) item, where
/// `access_level` is an object `{string_value, integer_value}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillableMembership {
    pub id: u64,
    pub source_id: u64,
    #[serde(default)]
    pub source_full_name: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<NaiveDate>,
    #[serde(default, deserialize_with = "access_level")]
    pub access_level: Option<u32>,
}

/// Reads GitLab's access level in any of the shapes it has been seen in: `30`, `"30"`,
/// `{"integer_value": 30, "string_value": "Developer"}`, or null.
fn access_level<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    let level = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(serde_json::Value::Object(map)) => map.get("integer_value").and_then(|v| v.as_u64()),
        Some(_) => None,
    };
    match level.and_then(|l| u32::try_from(l).ok()) {
        Some(l) => Ok(Some(l)),
        None => Err(D::Error::custom(
            "access_level is not a number, a numeric string or {integer_value}",
        )),
    }
}

/// `GET /groups/:id/pending_members` item (invited members may have only an email).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PendingMember {
    pub id: u64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub approved: Option<bool>,
    #[serde(default)]
    pub invited: Option<bool>,
}

/// `GET /user/activities` item (self-managed admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserActivity {
    pub username: String,
    #[serde(default)]
    pub last_activity_on: Option<NaiveDate>,
}

/// `GET /audit_events` / `GET /groups/:id/audit_events` item, without the free-form details.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditEvent {
    pub id: u64,
    #[serde(default)]
    pub author_id: Option<u64>,
    #[serde(default)]
    pub entity_id: Option<u64>,
    #[serde(default)]
    pub entity_type: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `GET /personal_access_tokens/self/associations`: groups and projects the token reaches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenAssociations {
    #[serde(default)]
    pub groups: Vec<AssociatedGroup>,
    #[serde(default)]
    pub projects: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssociatedGroup {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<u64>,
    /// 50 = Owner.
    #[serde(default, deserialize_with = "access_level")]
    pub access_levels: Option<u32>,
}

/// `GET /users/:id/associations_count`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssociationsCount {
    pub groups_count: u64,
    pub projects_count: u64,
    pub issues_count: u64,
    pub merge_requests_count: u64,
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
    #[serde(default)]
    pub membership_state: Option<String>,
}

impl MemberAccess {
    /// GitLab's `Gitlab::Access::OWNER`.
    pub const OWNER: u32 = 50;

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
