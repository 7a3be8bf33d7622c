//! Plain data: one day of one monitored GitLab.
//!
//! A snapshot is a [`DaySummary`] (the day record: seat figures and the day's aggregates) plus the
//! [`Member`]s it was computed from. Members are streamed page by page from GitLab into the store,
//! so nothing here assumes the whole member list is in memory at once; [`DayAggregates`] is the
//! running fold over the members that becomes part of the day record.
//!
//! These types know nothing of HTTP, SQL or DynamoDB. Field names are the ones the stores and
//! `data/report.json` persist, so renaming one is a format change.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Which kind of GitLab a snapshot came from; decides where seats and members are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// Self-managed or Dedicated, read with an instance admin token.
    SelfManaged,
    /// GitLab.com, read with a top-level group Owner token.
    #[serde(rename = "gitlab.com")]
    GitLabCom,
}

impl Flavour {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::SelfManaged => "self-managed",
            Flavour::GitLabCom => "gitlab.com",
        }
    }
}

/// Identifies one monitored GitLab across days: the host (with its relative path, if any), plus
/// the top-level group on GitLab.com. It is the partition key of everything stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct InstanceId(pub String);

impl InstanceId {
    /// `gitlab.example.com` or `gitlab.example.com/gitlab`, plus `#group` on GitLab.com.
    pub fn new(host_and_path: &str, group: Option<&str>) -> Self {
        match group {
            Some(g) => InstanceId(format!("{host_and_path}#{g}")),
            None => InstanceId(host_and_path.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the figures came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub flavour: Flavour,
    /// `GET /metadata` `version`, e.g. `18.1.1-ee`; absent when the call failed.
    pub gitlab_version: Option<String>,
}

/// Seat figures as GitLab reports them for the day (self-managed: `/license`; GitLab.com:
/// `/namespaces/:id` plus `SEATWATCH_SEATS_PURCHASED`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatCounts {
    /// Seats bought. Self-managed: `user_limit`; GitLab.com: from settings (the API has none).
    pub purchased: Option<u64>,
    /// Billable users now. Self-managed: `active_users`; GitLab.com: `seats_in_use`.
    pub in_use: u64,
    /// Highest billable count in the term, GitLab's own figure.
    pub max_used: Option<u64>,
    /// Seats owed at true-up: `max_used - purchased`, never negative.
    pub owed: Option<u64>,
    pub plan: Option<String>,
    pub term_start: Option<NaiveDate>,
    pub term_end: Option<NaiveDate>,
    /// What the licence says about seats; snapshots stored before this field are `licensed`.
    #[serde(default)]
    pub licence: LicenceState,
}

/// The licence situation behind the seat figures (self-managed `GET /license`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceState {
    /// A licence with a seat limit (`user_limit` > 0), or GitLab.com's subscription.
    #[default]
    Licensed,
    /// A licence without a seat limit: GitLab sends `user_limit: 0`
    /// (`ee/lib/api/entities/gitlab_license.rb`), so seats purchased are unknown, nothing is owed.
    NoSeatLimit,
    /// GitLab EE with no licence installed: `GET /license` is `null`
    /// (`ee/lib/api/license.rb`) and nobody holds a seat (`using_license_seat` is false).
    NoLicence,
}

impl SeatCounts {
    /// Owed seats as GitLab bills them: on the maximum, not the current count.
    pub fn compute_owed(max_used: Option<u64>, in_use: u64, purchased: Option<u64>) -> Option<u64> {
        let purchased = purchased?;
        let billed = max_used.unwrap_or(in_use).max(in_use);
        Some(billed.saturating_sub(purchased))
    }
}

/// A user's state as GitLab names it. Unknown values are kept, never fatal: GitLab adds states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
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

impl UserState {
    pub fn as_str(&self) -> &str {
        match self {
            UserState::Active => "active",
            UserState::Blocked => "blocked",
            UserState::Deactivated => "deactivated",
            UserState::Banned => "banned",
            UserState::LdapBlocked => "ldap_blocked",
            UserState::BlockedPendingApproval => "blocked_pending_approval",
            UserState::Other(s) => s,
        }
    }
}

/// Defines the activity kinds once. From the list
/// `field / Variant: "label", event: bool, contribution: bool;` (is each count an event of its
/// own; does it show the member contributes, which a Guest could not) it makes the per-member [`Activity`] and the summed
/// [`ActivityTotals`] (one named field per kind, so struct literals and the serde names stay as
/// they are stored) and [`ActivityKind`], whose [`ActivityKind::ALL`] every table, codec, chart
/// and counter walks instead of naming the kinds.
macro_rules! activity_kinds {
    ($($(#[$doc:meta])* $field:ident / $variant:ident: $label:literal, event: $event:literal, contribution: $contribution:literal;)*) => {
        /// One day's activity of one member, counted from `/users/:id/events`.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Activity {
            $($(#[$doc])* pub $field: u32,)*
        }

        /// Activity summed over many members, wide enough not to overflow for 100,000 of them.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct ActivityTotals {
            $($(#[$doc])* pub $field: u64,)*
        }

        /// One kind of activity: one field of [`Activity`] and [`ActivityTotals`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ActivityKind {
            $($(#[$doc])* $variant,)*
        }

        impl ActivityKind {
            /// Every kind, in field order: the order of stored positional encodings.
            pub const ALL: [ActivityKind; [$(stringify!($field)),*].len()] =
                [$(ActivityKind::$variant),*];

            /// The field name, which is also the name stores and `data/report.json` use.
            pub fn name(self) -> &'static str {
                match self {
                    $(ActivityKind::$variant => stringify!($field),)*
                }
            }

            /// What the site calls the kind.
            pub fn label(self) -> &'static str {
                match self {
                    $(ActivityKind::$variant => $label,)*
                }
            }

            /// Whether each count is an event of its own; commits are a detail of pushes.
            pub fn is_event(self) -> bool {
                match self {
                    $(ActivityKind::$variant => $event,)*
                }
            }

            /// Whether the kind is a contribution (push, merge request, approval, issue, comment):
            /// what a member who could do with a Guest role does not do.
            pub fn is_contribution(self) -> bool {
                match self {
                    $(ActivityKind::$variant => $contribution,)*
                }
            }
        }

        impl Activity {
            pub fn get(&self, kind: ActivityKind) -> u32 {
                match kind {
                    $(ActivityKind::$variant => self.$field,)*
                }
            }
            pub fn get_mut(&mut self, kind: ActivityKind) -> &mut u32 {
                match kind {
                    $(ActivityKind::$variant => &mut self.$field,)*
                }
            }
        }

        impl ActivityTotals {
            pub fn get(&self, kind: ActivityKind) -> u64 {
                match kind {
                    $(ActivityKind::$variant => self.$field,)*
                }
            }
            pub fn get_mut(&mut self, kind: ActivityKind) -> &mut u64 {
                match kind {
                    $(ActivityKind::$variant => &mut self.$field,)*
                }
            }
        }
    };
}

activity_kinds! {
    pushes / Pushes: "Pushes", event: true, contribution: true;
    /// Commits pushed, from `push_data.commit_count`.
    commits / Commits: "Commits", event: false, contribution: false;
    // GitLab names created, re-opened and updated items all "opened" (app/models/event.rb)
    mrs_opened / MrsOpened: "Merge requests opened or reopened", event: true, contribution: true;
    mrs_merged / MrsMerged: "Merge requests merged", event: true, contribution: true;
    mrs_approved / MrsApproved: "Approvals", event: true, contribution: true;
    issues_opened / IssuesOpened: "Issues opened or reopened", event: true, contribution: true;
    issues_closed / IssuesClosed: "Issues closed", event: true, contribution: true;
    comments / Comments: "Comments", event: true, contribution: true;
    /// Events of no other kind.
    other / Other: "Other", event: true, contribution: false;
}

impl ActivityKind {
    /// The kinds that are events of their own, in field order: what the site charts and tables.
    pub fn events() -> impl Iterator<Item = ActivityKind> {
        ActivityKind::ALL.into_iter().filter(|k| k.is_event())
    }
}

impl Activity {
    /// The counts in [`ActivityKind::ALL`] order.
    pub fn counts(&self) -> [u32; ActivityKind::ALL.len()] {
        ActivityKind::ALL.map(|k| self.get(k))
    }
    /// The activity whose counts, in [`ActivityKind::ALL`] order, are `counts`.
    pub fn from_counts(counts: [u32; ActivityKind::ALL.len()]) -> Activity {
        let mut a = Activity::default();
        for (kind, n) in ActivityKind::ALL.into_iter().zip(counts) {
            *a.get_mut(kind) = n;
        }
        a
    }
    pub fn is_empty(&self) -> bool {
        *self == Activity::default()
    }
    pub fn total_events(&self) -> u64 {
        ActivityKind::events().map(|k| u64::from(self.get(k))).sum()
    }
    pub fn add(&mut self, other: &Activity) {
        for kind in ActivityKind::ALL {
            *self.get_mut(kind) += other.get(kind);
        }
    }
}

impl ActivityTotals {
    pub fn add(&mut self, a: &Activity) {
        for kind in ActivityKind::ALL {
            *self.get_mut(kind) += u64::from(a.get(kind));
        }
    }
    pub fn add_totals(&mut self, other: &ActivityTotals) {
        for kind in ActivityKind::ALL {
            *self.get_mut(kind) += other.get(kind);
        }
    }
}

/// One person as GitLab showed them on the snapshot day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    pub username: String,
    pub name: String,
    /// Only where GitLab shows it (admin view, or enterprise users on GitLab.com).
    pub email: Option<String>,
    pub state: UserState,
    pub bot: bool,
    pub admin: bool,
    pub auditor: bool,
    pub external: bool,
    /// GitLab's own signal, never guessed: `using_license_seat` on self-managed, presence in
    /// `billable_members` on GitLab.com.
    pub holds_seat: bool,
    /// GitLab.com `membership_type` (`group_member`, `project_invite`, ...).
    pub membership_type: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_activity_on: Option<NaiveDate>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub current_sign_in_at: Option<DateTime<Utc>>,
    /// GitLab.com `billable_members` `last_login_at`.
    pub last_login_at: Option<DateTime<Utc>>,
    /// GitLab.com: when the member joined the group's hierarchy (the earliest `created_at` of
    /// `billable_members/:user_id/memberships`), as opposed to `created_at`, the account's age on
    /// all of GitLab.com. Fetched only for members GitLab never saw active or signed in, the only
    /// ones whose grace period depends on it; `None` elsewhere and in older snapshots.
    #[serde(default)]
    pub member_since: Option<DateTime<Utc>>,
    /// Activity on the complete days the snapshot counts ([`DaySummary::activity`]), summed.
    #[serde(default)]
    pub activity: Activity,
    /// GitLab would not show this member's events (GitLab.com: a private profile hides them from
    /// a group Owner, `app/finders/events_finder.rb`), so `activity` is unknown, not zero.
    #[serde(default)]
    pub activity_unknown: bool,
    /// The latest day on which this member contributed ([`ActivityKind::is_contribution`]), as far
    /// as seatwatch knows: carried from the previous snapshot and moved forward by the days this
    /// one counts (or backfilled from events on a first snapshot). `None`: none known since
    /// [`DaySummary::contributions_known_since`].
    #[serde(default)]
    pub last_contribution_on: Option<NaiveDate>,
}

impl Member {
    /// An active seat holder with nothing else known (no dates, no activity). Tests start from
    /// it and change only what they are about (`Member { bot: true, ..Member::seat_holder(…) }`),
    /// so a new field is given its neutral value here once.
    pub fn seat_holder(id: u64, username: impl Into<String>, name: impl Into<String>) -> Member {
        Member {
            id,
            username: username.into(),
            name: name.into(),
            email: None,
            state: UserState::Active,
            bot: false,
            admin: false,
            auditor: false,
            external: false,
            holds_seat: true,
            membership_type: None,
            created_at: None,
            last_activity_on: None,
            last_sign_in_at: None,
            current_sign_in_at: None,
            last_login_at: None,
            member_since: None,
            activity: Activity::default(),
            activity_unknown: false,
            last_contribution_on: None,
        }
    }

    /// The latest sign-in date GitLab gives by any of its fields.
    pub fn last_sign_in(&self) -> Option<DateTime<Utc>> {
        [
            self.last_sign_in_at,
            self.current_sign_in_at,
            self.last_login_at,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// The latest day GitLab saw this member do anything, activity or sign-in.
    pub fn last_seen_on(&self) -> Option<NaiveDate> {
        let sign_in = self.last_sign_in().map(|t| t.date_naive());
        match (self.last_activity_on, sign_in) {
            (Some(a), Some(s)) => Some(a.max(s)),
            (a, s) => a.or(s),
        }
    }
}

/// The complete calendar days, `first..=last`, whose activity a snapshot counts: days before its
/// date that no earlier snapshot counted. GitLab's events API takes whole, exclusive days in the
/// instance's time zone (`app/finders/events_finder.rb`), so a day is counted only once it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDays {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl ActivityDays {
    pub fn contains(self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
    pub fn iter(self) -> impl Iterator<Item = NaiveDate> {
        self.first.iter_days().take_while(move |d| *d <= self.last)
    }
}

/// Which days' activity a stored snapshot holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActivityCoverage {
    /// The complete days `first..=last`, one [`DayActivity`] each.
    Days(ActivityDays),
    /// Stored before complete days were counted: the snapshot's own day up to the hour of the
    /// run, plus any days since the previous snapshot (see docs/DECISIONS.md).
    #[default]
    Legacy,
}

/// One complete calendar day of activity, summed over the members of the snapshot that counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayActivity {
    /// The calendar day (instance time zone) the figures describe.
    pub date: NaiveDate,
    /// Members active that day: with an event on it, or with it as their `last_activity_on`.
    pub active: u64,
    /// Members with at least one event that day.
    pub with_events: u64,
    pub activity: ActivityTotals,
}

/// Running totals over a day's members; the collector folds every member into it as pages
/// stream past, so the day record carries trend figures without re-reading members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAggregates {
    /// Every member listed.
    pub members: u64,
    /// Members holding a seat by GitLab's signal.
    pub seat_holders: u64,
    pub bots: u64,
    /// Members whose last activity is the snapshot day.
    pub active_1d: u64,
    pub active_7d: u64,
    pub active_30d: u64,
    pub active_90d: u64,
    /// Members with at least one event on the counted days.
    pub with_events: u64,
    /// Activity on the counted days, summed.
    pub activity: ActivityTotals,
    /// The counted days one by one, ascending (empty on legacy snapshots).
    #[serde(default)]
    pub activity_days: Vec<DayActivity>,
    /// Members whose events GitLab would not show (see [`Member::activity_unknown`]).
    #[serde(default)]
    pub activity_unknown: u64,
}

impl DayAggregates {
    /// Fold one member into the day's totals, as of `date`.
    pub fn add(&mut self, m: &Member, date: NaiveDate) {
        self.members += 1;
        if m.holds_seat {
            self.seat_holders += 1;
        }
        if m.bot {
            self.bots += 1;
        }
        if let Some(seen) = m.last_activity_on {
            let days = (date - seen).num_days();
            if (0..1).contains(&days) {
                self.active_1d += 1;
            }
            if (0..7).contains(&days) {
                self.active_7d += 1;
            }
            if (0..30).contains(&days) {
                self.active_30d += 1;
            }
            if (0..90).contains(&days) {
                self.active_90d += 1;
            }
        }
        if !m.activity.is_empty() {
            self.with_events += 1;
        }
        if m.activity_unknown {
            self.activity_unknown += 1;
        }
        self.activity.add(&m.activity);
    }

    /// Starts the per-day totals for the counted days (all zero).
    pub fn for_days(days: ActivityDays) -> DayAggregates {
        DayAggregates {
            activity_days: days
                .iter()
                .map(|date| DayActivity {
                    date,
                    active: 0,
                    with_events: 0,
                    activity: ActivityTotals::default(),
                })
                .collect(),
            ..DayAggregates::default()
        }
    }

    /// Folds one member's activity by day into the per-day totals started by
    /// [`DayAggregates::for_days`]; days outside them are ignored.
    pub fn add_days(
        &mut self,
        m: &Member,
        by_day: &std::collections::BTreeMap<NaiveDate, Activity>,
    ) {
        for day in &mut self.activity_days {
            let activity = by_day.get(&day.date).filter(|a| !a.is_empty());
            if activity.is_some() || m.last_activity_on == Some(day.date) {
                day.active += 1;
            }
            if let Some(a) = activity {
                day.with_events += 1;
                day.activity.add(a);
            }
        }
    }
}

/// The day record: written last, it is the commit point that makes a snapshot visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySummary {
    pub instance: InstanceId,
    pub date: NaiveDate,
    pub collected_at: DateTime<Utc>,
    pub source: Source,
    pub seats: SeatCounts,
    pub aggregates: DayAggregates,
    /// When the monitoring token expires (`/personal_access_tokens/self`), for the report.
    pub token_expires_at: Option<NaiveDate>,
    /// GitLab requests this snapshot cost.
    pub requests: u64,
    /// Which days' activity [`DaySummary::aggregates`] holds.
    #[serde(default)]
    pub activity: ActivityCoverage,
    /// The first day from which every member's contributions are known (from stored history or a
    /// backfill): [`Member::last_contribution_on`] says nothing about the days before it. `None`
    /// where contributions were not tracked.
    #[serde(default)]
    pub contributions_known_since: Option<NaiveDate>,
    /// GitLab Duo add-on seats on the snapshot day; `None` where they were not read (no access,
    /// a GitLab without add-ons, or a snapshot older than Duo support). The holders are stored
    /// beside the members, not in the day record (see [`crate::duo`]).
    #[serde(default)]
    pub duo: Option<crate::duo::DuoSnapshot>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Member {
        Member::seat_holder(1, "a", "A")
    }

    #[test]
    fn every_activity_kind_is_a_field_under_its_name() {
        // Each kind gets a distinct count, so a kind read from the wrong field shows.
        let mut counts = [0; ActivityKind::ALL.len()];
        for (n, count) in (1..).zip(&mut counts) {
            *count = n;
        }
        let a = Activity::from_counts(counts);
        assert_eq!(a.counts(), counts);
        let json = serde_json::to_value(a).unwrap();
        let fields = json.as_object().unwrap();
        assert_eq!(fields.len(), ActivityKind::ALL.len());
        let mut totals = ActivityTotals::default();
        totals.add(&a);
        let totals_json = serde_json::to_value(totals).unwrap();
        for kind in ActivityKind::ALL {
            assert_eq!(fields[kind.name()], a.get(kind), "{kind:?}");
            assert_eq!(totals_json[kind.name()], u64::from(a.get(kind)), "{kind:?}");
        }
    }

    #[test]
    fn total_events_counts_every_event_kind_and_not_commits() {
        for kind in ActivityKind::ALL {
            let mut a = Activity::default();
            *a.get_mut(kind) = 3;
            assert_eq!(
                a.total_events(),
                if kind.is_event() { 3 } else { 0 },
                "{kind:?}"
            );
            let mut sum = a;
            sum.add(&a);
            assert_eq!(sum.get(kind), 6, "{kind:?}");
        }
        assert!(!ActivityKind::Commits.is_event());
    }

    #[test]
    fn unknown_user_state_is_kept_not_fatal() {
        let s: UserState = serde_json::from_str("\"quarantined\"").unwrap();
        assert_eq!(s, UserState::Other("quarantined".into()));
        assert_eq!(s.as_str(), "quarantined");
        let s: UserState = serde_json::from_str("\"ldap_blocked\"").unwrap();
        assert_eq!(s, UserState::LdapBlocked);
    }

    #[test]
    fn last_seen_takes_the_latest_of_activity_and_every_sign_in() {
        let mut m = member();
        assert_eq!(m.last_seen_on(), None);
        m.last_activity_on = NaiveDate::from_ymd_opt(2026, 1, 5);
        m.last_login_at = Some("2026-02-01T10:00:00Z".parse().unwrap());
        m.last_sign_in_at = Some("2025-12-01T10:00:00Z".parse().unwrap());
        assert_eq!(m.last_seen_on(), NaiveDate::from_ymd_opt(2026, 2, 1));
    }

    #[test]
    fn owed_is_billed_on_the_maximum_and_never_negative() {
        assert_eq!(
            SeatCounts::compute_owed(Some(120), 100, Some(100)),
            Some(20)
        );
        assert_eq!(SeatCounts::compute_owed(None, 90, Some(100)), Some(0));
        assert_eq!(SeatCounts::compute_owed(Some(10), 12, Some(10)), Some(2));
        assert_eq!(SeatCounts::compute_owed(Some(10), 12, None), None);
    }

    #[test]
    fn aggregates_count_activity_windows_from_the_snapshot_date() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let mut agg = DayAggregates::default();
        for days_ago in [0, 6, 7, 29, 30, 89, 90] {
            let mut m = member();
            m.last_activity_on = Some(date - chrono::Days::new(days_ago));
            agg.add(&m, date);
        }
        assert_eq!(agg.members, 7);
        assert_eq!(agg.active_1d, 1);
        assert_eq!(agg.active_7d, 2);
        assert_eq!(agg.active_30d, 4);
        assert_eq!(agg.active_90d, 6);
    }
}
