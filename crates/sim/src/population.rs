//! The simulated people: a compact record per user, and the pure functions that say what each
//! user looked like on a given day.
//!
//! Everything here is a function of `(seed, user index, day)` plus the anchor date the population
//! was built around (the configured `as_of` at start). Nothing is stored per day: the per-day state
//! is recomputed from a stateless hash, so moving `as_of` back and forth replays one coherent
//! history (a day that was active stays active; `last_activity_on` never goes backwards as the date
//! moves forward) and 100,000 users cost about 24 bytes each.
//!
//! Ids follow creation order (as GitLab's do), so the users visible on day D are exactly the
//! prefix of the population created on or before D; new hires get the highest ids.

mod creation;

use chrono::{Datelike, NaiveDate};

pub(crate) use creation::{MS_PER_DAY, Moment};

/// Day number as chrono counts it (`NaiveDate::num_days_from_ce`); cheap to compare and hash.
pub(crate) type Day = i32;

pub(crate) const NEVER: Day = Day::MAX;

pub(crate) fn day_of(date: NaiveDate) -> Day {
    date.num_days_from_ce()
}

pub(crate) fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).expect("simulated days stay within chrono's range")
}

/// splitmix64's finaliser: a stateless, well-mixed hash. A seeded RNG stream would not do here,
/// because the draw for (user, day) must not depend on which other draws were made before it.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Salts keep the independent draws about one user independent of each other.
#[derive(Clone, Copy)]
#[repr(u64)]
pub(crate) enum Salt {
    Kind = 1,
    State,
    Flags,
    Activity,
    Dormant,
    StateSince,
    Name,
    Time,
    EventCount,
    EventKind,
    EventDetail,
    Misc,
}

pub(crate) fn hash(seed: u64, index: u64, extra: u64, salt: Salt) -> u64 {
    mix(mix(mix(seed ^ (salt as u64).wrapping_mul(0xA24B_AED4_963E_E407)) ^ index) ^ extra)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Human,
    /// A project or group access token's bot user (`project_N_bot_…`): never holds a seat.
    ProjectBot,
    /// A service account: `bot: true`, excluded from `using_license_seat`.
    ServiceAccount,
    /// GitLab's own users (ghost, support bot, alert bot).
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    Active,
    Blocked,
    Deactivated,
    Banned,
    LdapBlocked,
    BlockedPendingApproval,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Blocked => "blocked",
            State::Deactivated => "deactivated",
            State::Banned => "banned",
            State::LdapBlocked => "ldap_blocked",
            State::BlockedPendingApproval => "blocked_pending_approval",
        }
    }
}

pub(crate) mod flags {
    pub const ADMIN: u8 = 1;
    pub const AUDITOR: u8 = 2;
    pub const EXTERNAL: u8 = 4;
    /// Guest-only on Ultimate: active but not billable (`using_license_seat: false`).
    pub const GUEST_ONLY: u8 = 8;
    pub const HOSTILE_NAME: u8 = 16;
    /// Member through a group invite on GitLab.com (`membership_type: group_invite`).
    pub const INVITED: u8 = 32;
    pub const PUBLIC_EMAIL: u8 = 64;
    pub const TWO_FACTOR: u8 = 128;
}

/// One user, compact: the per-day state is derived, never stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimUser {
    pub created: Day,
    /// Milliseconds after midnight (UTC) of `created`: `(created, created_ms)` never decreases
    /// with the id, and several users may share a second (bulk imports).
    pub created_ms: u32,
    /// Last day on which the user can be active (went dormant / was blocked); `NEVER` if none.
    pub stop: Day,
    /// Day from which `final_state` applies (before it the user is `active`); `NEVER` if none.
    pub state_since: Day,
    /// Chance of activity on a weekday, out of 65,536 (weekends are much quieter).
    pub weekday_chance: u16,
    pub kind: Kind,
    pub final_state: State,
    pub flags: u8,
}

impl SimUser {
    /// An active human created on `created` who never acts, until the draws say otherwise.
    fn quiet_human((created, created_ms): Moment) -> SimUser {
        SimUser {
            created,
            created_ms,
            stop: NEVER,
            state_since: NEVER,
            weekday_chance: 0,
            kind: Kind::Human,
            final_state: State::Active,
            flags: 0,
        }
    }

    /// When the account was created, in milliseconds since 0001-01-01 (UTC): ascending with
    /// the id.
    pub(crate) fn created_at_ms(&self) -> i64 {
        moment_ms((self.created, self.created_ms))
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    pub(crate) fn state_on(&self, day: Day) -> State {
        if day >= self.state_since {
            self.final_state
        } else {
            State::Active
        }
    }
    /// Could ever hold a seat: a human who is not Guest-only.
    pub(crate) fn seat_eligible(&self) -> bool {
        self.kind == Kind::Human && !self.has(flags::GUEST_ONLY)
    }
    /// `using_license_seat` as GitLab computes it: active, human, not Guest-only on Ultimate.
    pub(crate) fn holds_seat_on(&self, day: Day) -> bool {
        self.seat_eligible() && self.created <= day && day < self.state_since
    }
}

/// Which event a draw produced; the JSON is rendered from this by the HTTP layer.
///
/// The names follow `app/models/event.rb`: `action_name` is `"opened"` for the created *and* the
/// re-opened action (and non-wiki updates), `"accepted"` for a merge, and issues created through
/// work items carry `target_type: "WorkItem"` (`Event::ISSUE_TYPES = [Issue.name, WorkItem.name]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    PushedTo,
    PushedNew,
    DeletedBranch,
    MrOpened,
    MrReopened,
    MrMerged,
    MrApproved,
    MrClosed,
    NoteOnMr,
    DiffNote,
    IssueOpened,
    IssueReopened,
    IssueClosed,
    WorkItemOpened,
    WorkItemClosed,
    NoteOnIssue,
    Joined,
}

impl EventKind {
    /// `Event#action_name` (`app/models/event.rb`).
    pub(crate) fn action_name(self) -> &'static str {
        match self {
            EventKind::PushedTo => "pushed to",
            EventKind::PushedNew => "pushed new",
            EventKind::DeletedBranch => "deleted",
            // created, reopened and (non-wiki) updated all fall through to "opened"
            EventKind::MrOpened
            | EventKind::MrReopened
            | EventKind::IssueOpened
            | EventKind::IssueReopened
            | EventKind::WorkItemOpened => "opened",
            EventKind::MrMerged => "accepted",
            EventKind::MrApproved => "approved",
            EventKind::MrClosed | EventKind::IssueClosed | EventKind::WorkItemClosed => "closed",
            EventKind::NoteOnMr | EventKind::DiffNote | EventKind::NoteOnIssue => "commented on",
            EventKind::Joined => "joined",
        }
    }
    /// The `action` filter value of `/users/:id/events` that selects this event
    /// (`Event.actions`, `app/models/event.rb`).
    pub(crate) fn action_filter(self) -> &'static str {
        match self {
            EventKind::PushedTo | EventKind::PushedNew | EventKind::DeletedBranch => "pushed",
            EventKind::MrOpened | EventKind::IssueOpened | EventKind::WorkItemOpened => "created",
            EventKind::MrReopened | EventKind::IssueReopened => "reopened",
            EventKind::MrMerged => "merged",
            EventKind::MrApproved => "approved",
            EventKind::MrClosed | EventKind::IssueClosed | EventKind::WorkItemClosed => "closed",
            EventKind::NoteOnMr | EventKind::DiffNote | EventKind::NoteOnIssue => "commented",
            EventKind::Joined => "joined",
        }
    }
    pub(crate) fn target_type(self) -> Option<&'static str> {
        match self {
            EventKind::PushedTo | EventKind::PushedNew | EventKind::DeletedBranch => None,
            EventKind::Joined => None,
            EventKind::MrOpened
            | EventKind::MrReopened
            | EventKind::MrMerged
            | EventKind::MrApproved
            | EventKind::MrClosed => Some("MergeRequest"),
            EventKind::IssueOpened | EventKind::IssueReopened | EventKind::IssueClosed => {
                Some("Issue")
            }
            EventKind::WorkItemOpened | EventKind::WorkItemClosed => Some("WorkItem"),
            EventKind::NoteOnMr | EventKind::NoteOnIssue => Some("Note"),
            EventKind::DiffNote => Some("DiffNote"),
        }
    }
    /// The `target_type` filter value (`merge_request`, `issue`, `note`); `issue` selects work
    /// items too (`Event::ISSUE_TYPES`, `app/finders/events_finder.rb`).
    pub(crate) fn target_filter(self) -> Option<&'static str> {
        match self.target_type() {
            Some("MergeRequest") => Some("merge_request"),
            Some("Issue" | "WorkItem") => Some("issue"),
            Some(_) => Some("note"),
            None => None,
        }
    }
    /// From a draw in `0..1000`.
    fn from_draw(per_mille: u64) -> EventKind {
        match per_mille {
            0..=299 => EventKind::PushedTo,
            300..=349 => EventKind::PushedNew,
            350..=369 => EventKind::DeletedBranch,
            370..=439 => EventKind::MrOpened,
            440..=449 => EventKind::MrReopened,
            450..=499 => EventKind::MrMerged,
            500..=589 => EventKind::MrApproved,
            590..=609 => EventKind::MrClosed,
            610..=729 => EventKind::NoteOnMr,
            730..=829 => EventKind::DiffNote,
            830..=859 => EventKind::IssueOpened,
            860..=869 => EventKind::IssueReopened,
            870..=899 => EventKind::WorkItemOpened,
            900..=929 => EventKind::IssueClosed,
            930..=949 => EventKind::WorkItemClosed,
            950..=989 => EventKind::NoteOnIssue,
            _ => EventKind::Joined,
        }
    }
}

/// One event of one user on one day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimEvent {
    pub id: u64,
    pub day: Day,
    /// Seconds after local midnight (the instance's time zone).
    pub second: u32,
    pub kind: EventKind,
    /// A per-event draw the renderer uses for project, target ids and commit counts.
    pub detail: u64,
}

/// How many of the first ids are fixed accounts (token owners and GitLab's internal users).
pub(crate) const FIXED_USERS: usize = 5;
/// The user owning the admin / group-owner tokens.
pub(crate) const ADMIN_USER_INDEX: usize = 0;
/// The user owning the non-admin token.
pub(crate) const REGULAR_USER_INDEX: usize = 1;

pub(crate) const GHOST_USER_INDEX: usize = 2;

/// Events are kept for 3 years by GitLab; the sim never serves older ones.
pub(crate) const EVENT_RETENTION_DAYS: Day = 3 * 365;

/// Event ids must be unique across users and grow with time: day first, then user, then rank.
const EVENT_ID_USERS: u64 = 1 << 18;
const EVENT_ID_PER_DAY: u64 = 16;
pub(crate) const MAX_USERS: u32 = (EVENT_ID_USERS - 1) as u32;
const EVENT_EPOCH: Day = 730_120; // 2000-01-01

#[derive(Clone)]
pub(crate) struct Population {
    pub seed: u64,
    pub anchor: Day,
    pub users: Vec<SimUser>,
    /// `created` of every seat-eligible user, ascending (ids follow creation).
    seat_created: Vec<Day>,
    /// `state_since` of every seat-eligible user that loses its seat, ascending.
    seat_lost: Vec<Day>,
    pub term_start: Day,
    pub term_end: Day,
    pub user_limit: u64,
    /// Changes made by the test hooks ([`Population::delete`], [`Population::add_user`]).
    pub changes: Changes,
}

/// Users deleted or added after the population was built (the simulator's test hooks).
#[derive(Clone, Default)]
pub(crate) struct Changes {
    /// Indices of deleted users: GitLab drops a deleted user from every listing and never
    /// reuses the id.
    pub deleted: std::collections::HashSet<usize>,
    /// GitLab.com account creation of added users whose account predates their membership.
    pub account_created: std::collections::HashMap<usize, Day>,
    /// Direct memberships of users added with chosen memberships
    /// ([`Population::add_user`]'s `memberships`); everyone else's follow from the draws
    /// ([`Population::direct_memberships`]).
    pub memberships: std::collections::HashMap<usize, DirectMemberships>,
}

/// The days a user's direct memberships in the group's hierarchy began (GitLab's `members`
/// rows of the user: `user.members.in_hierarchy(group)`), at most one in the group itself and
/// one in one of its projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirectMemberships {
    /// A membership of the top-level group itself (`source_type` `Namespace`).
    pub group: Option<Day>,
    /// A membership of one of the group's projects (`source_type` `Project`).
    pub project: Option<Day>,
}

fn chance(h: u64, per_10000: u64) -> bool {
    h % 10_000 < per_10000
}

/// A value in `[lo, hi)` from a hash.
fn between(h: u64, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    lo + (h % (hi - lo) as u64) as i64
}

/// Milliseconds since 0001-01-01 (UTC) of a creation moment; what `created_after` and
/// `created_before` compare against.
pub(crate) fn moment_ms((day, ms): Moment) -> i64 {
    i64::from(day) * i64::from(MS_PER_DAY) + i64::from(ms)
}

/// Everyone's chance of activity is scaled by [`Population::build`]'s `activity`; at 1.0 about
/// 30% of the members are active on a weekday or the day before it. Kept above zero for anyone
/// who acts at all, so that "never signed in" stays its own state.
fn scaled_chance(chance: u16, activity: f64) -> u16 {
    if chance == 0 {
        return 0;
    }
    (f64::from(chance) * activity).round().clamp(1.0, 65_535.0) as u16
}

impl Population {
    /// `count` users around `anchor_date`; `activity` scales everyone's chance of being active
    /// on a day (1.0: the default mix, about 30% active in a one-day window).
    pub(crate) fn build(
        seed: u64,
        count: u32,
        anchor_date: NaiveDate,
        activity: f64,
    ) -> Population {
        let count = count.min(MAX_USERS) as usize;
        let anchor = day_of(anchor_date);
        let mut users = Vec::with_capacity(count);
        let founding = anchor - 5 * 365;
        for index in 0..count.min(FIXED_USERS) {
            users.push(fixed_user(index, founding));
        }
        let body = count.saturating_sub(FIXED_USERS);
        // 2% of the population are new hires of the 30 days before the anchor; the rest joined
        // over four years, in bulk imports and a varying trickle (see `creation`), so the
        // instance grows as the date moves forward. Nobody is created on the anchor day itself,
        // so no account's `created_at` lies after the clock of the day the simulator starts on.
        let new_hires = body / 50;
        let steady = body - new_hires;
        let mut moments = creation::steady_timeline(seed, steady, anchor - 4 * 365, anchor - 31);
        moments.extend((0..new_hires).map(|k| {
            let day = anchor - 30 + (k as i64 * 30 / new_hires.max(1) as i64) as Day;
            let h = hash(seed, (FIXED_USERS + steady + k) as u64, 0, Salt::Time);
            (day, creation::office_time(h))
        }));
        // Within a day the new hires' times are drawn independently: sort them into id order.
        moments[steady..].sort_unstable();
        for (k, moment) in moments.into_iter().enumerate() {
            let mut user = random_user(seed, (FIXED_USERS + k) as u64, moment, anchor);
            user.weekday_chance = scaled_chance(user.weekday_chance, activity);
            users.push(user);
        }
        let seat_created: Vec<Day> = users
            .iter()
            .filter(|u| u.seat_eligible())
            .map(|u| u.created)
            .collect();
        let mut seat_lost: Vec<Day> = users
            .iter()
            .filter(|u| u.seat_eligible() && u.state_since != NEVER)
            .map(|u| u.state_since)
            .collect();
        seat_lost.sort_unstable();
        let term_start = anchor - 200;
        let term_end = term_start + 365;
        let mut population = Population {
            seed,
            anchor,
            users,
            seat_created,
            seat_lost,
            term_start,
            term_end,
            user_limit: 0,
            changes: Changes::default(),
        };
        // Purchased seats: somewhat above use at the anchor, rounded up to tens as sales do.
        let at_anchor = population.seat_holders(anchor);
        population.user_limit = (at_anchor * 11 / 10).div_ceil(10) * 10 + 10;
        population
    }

    /// How many users exist on `day` (the admin `/users` listing); they are ids `1..=n`.
    pub(crate) fn visible(&self, day: Day) -> usize {
        self.users.partition_point(|u| u.created <= day)
    }

    pub(crate) fn seat_holders(&self, day: Day) -> u64 {
        let created = self.seat_created.partition_point(|&d| d <= day);
        let lost = self.seat_lost.partition_point(|&d| d <= day);
        let deleted = self.deleted_seat_holders(day);
        created.saturating_sub(lost).saturating_sub(deleted) as u64
    }

    /// Highest seat count over the term up to `day`, and the first day it was reached (GitLab's
    /// `historical_max` / `max_seats_used` and `max_seats_used_changed_at`).
    pub(crate) fn max_seat_holders(&self, day: Day) -> (u64, Day) {
        let mut best = (self.seat_holders(day), day);
        let mut d = self.term_start;
        while d < day.min(self.term_end) {
            let n = self.seat_holders(d);
            if n > best.0 || (n == best.0 && d < best.1) {
                best = (n, d);
            }
            d += 1;
        }
        best
    }

    fn active_raw(&self, index: usize, day: Day) -> bool {
        let u = &self.users[index];
        if u.weekday_chance == 0 || day < u.created || day > u.stop {
            return false;
        }
        // Everyone who ever acts first signs in the day after their account appeared (or on
        // their last possible day, if that comes first), however rarely they act later: a quiet
        // instance (a small `activity`) is one of dormant members, not of members who never
        // signed in (GitLab.com's collector asks for the membership of each of those).
        if day == (u.created + 1).min(u.stop) {
            return true;
        }
        // Day 1 (0001-01-01) was a Monday, so (day - 1) mod 7 is 5 on Saturdays and 6 on Sundays.
        let weekend = (day - 1).rem_euclid(7) >= 5;
        let chance = if weekend {
            u.weekday_chance / 6
        } else {
            u.weekday_chance
        };
        (hash(self.seed, index as u64, day as u64, Salt::Activity) & 0xFFFF) < u64::from(chance)
    }

    /// Was the user active on `day`? (Only meaningful for days up to the current as_of.)
    #[cfg(test)]
    pub(crate) fn active_on(&self, index: usize, day: Day) -> bool {
        self.active_raw(index, day)
    }

    /// Latest active day in `[from, to]`.
    fn last_active_between(&self, index: usize, from: Day, to: Day) -> Option<Day> {
        let u = &self.users[index];
        if u.weekday_chance == 0 {
            return None;
        }
        let hi = to.min(u.stop);
        let lo = from.max(u.created);
        (lo..=hi).rev().find(|&d| self.active_raw(index, d))
    }

    /// `last_activity_on` at second `now` of day `as_of`: today only once the user's day has
    /// started (GitLab writes it on the first activity of the day,
    /// `app/services/users/activity_service.rb`).
    pub(crate) fn last_activity_on(&self, index: usize, as_of: Day, now: u32) -> Option<Day> {
        if self.activity_start(index, as_of).is_some_and(|s| s <= now) {
            return Some(as_of);
        }
        self.last_active_between(index, Day::MIN, as_of - 1)
    }

    /// (current_sign_in, last_sign_in) days as of `as_of`. Users sign in on the first active day
    /// of each week they are active in (sessions last about that long); Devise sets
    /// `last_sign_in_at` to the previous sign-in, or to the first one if there was none before.
    pub(crate) fn sign_ins(&self, index: usize, as_of: Day, now: u32) -> Option<(Day, Day)> {
        if self.users[index].kind != Kind::Human {
            return None;
        }
        let last = self.last_activity_on(index, as_of, now)?;
        let current = self.first_active_in_week(index, last);
        let previous = self
            .last_active_between(index, Day::MIN, week_start(current) - 1)
            .map(|d| self.first_active_in_week(index, d))
            .unwrap_or(current);
        Some((current, previous))
    }

    fn first_active_in_week(&self, index: usize, active_day: Day) -> Day {
        (week_start(active_day)..=active_day)
            .find(|&d| self.active_raw(index, d))
            .unwrap_or(active_day)
    }

    /// When the user's day starts (seconds after local midnight): the earlier of a page visit
    /// and their first event. `None` on a day they were not active. `last_activity_on` becomes
    /// this day only once the clock has passed it.
    pub(crate) fn activity_start(&self, index: usize, day: Day) -> Option<u32> {
        if !self.active_raw(index, day) {
            return None;
        }
        let browse = time_of_day(hash(
            self.seed,
            index as u64,
            (day as u64) << 8 | 0xFF,
            Salt::Time,
        ));
        let first_event = self.event_seconds(index, day).first().copied();
        Some(first_event.map_or(browse, |e| e.min(browse)))
    }

    /// Seconds after local midnight of the user's events on an active day, ascending.
    fn event_seconds(&self, index: usize, day: Day) -> Vec<u32> {
        let u = &self.users[index];
        // Busy people leave more events; an active day with none is someone who only browsed.
        let max_events = 1 + u64::from(u.weekday_chance) * 9 / 65_536;
        let n = hash(self.seed, index as u64, day as u64, Salt::EventCount) % (max_events + 1);
        let mut seconds: Vec<u32> = (0..n)
            .map(|j| {
                time_of_day(hash(
                    self.seed,
                    index as u64,
                    (day as u64) << 8 | j,
                    Salt::Time,
                ))
            })
            .collect();
        seconds.sort_unstable();
        seconds
    }

    /// The user's events on `day`, in time order (empty if the user was not active that day).
    /// All of the day's events, whatever the clock says: callers serving "now" drop the ones
    /// after it (see [`Population::events_until`]).
    pub(crate) fn events_on(&self, index: usize, day: Day) -> Vec<SimEvent> {
        if !self.active_raw(index, day) {
            return Vec::new();
        }
        self.event_seconds(index, day)
            .into_iter()
            .enumerate()
            .map(|(rank, second)| {
                let key = (day as u64) << 8 | rank as u64;
                let kind = EventKind::from_draw(
                    hash(self.seed, index as u64, key, Salt::EventKind) % 1000,
                );
                SimEvent {
                    id: ((day - EVENT_EPOCH).max(0) as u64 * EVENT_ID_USERS + index as u64)
                        * EVENT_ID_PER_DAY
                        + rank as u64
                        + 1,
                    day,
                    second,
                    kind,
                    detail: hash(self.seed, index as u64, key, Salt::EventDetail),
                }
            })
            .collect()
    }

    /// The events of `day` that exist at `now` on `today`: an event is written when it happens
    /// (`app/services/event_create_service.rb`), so a request during the day sees only its
    /// morning.
    pub(crate) fn events_until(
        &self,
        index: usize,
        day: Day,
        today: Day,
        now: u32,
    ) -> Vec<SimEvent> {
        let mut events = self.events_on(index, day);
        if day == today {
            events.retain(|e| e.second < now);
        } else if day > today {
            events.clear();
        }
        events
    }

    /// The user made their profile private (`users.private_profile`); about one in twelve.
    pub(crate) fn private_profile(&self, index: usize) -> bool {
        index >= FIXED_USERS && hash(self.seed, index as u64, 7, Salt::Misc).is_multiple_of(12)
    }

    /// GitLab's `bot` flag: bot user types, which include the internal support and alert bots
    /// but not the ghost user.
    pub(crate) fn is_bot(&self, index: usize) -> bool {
        match self.users[index].kind {
            Kind::ProjectBot | Kind::ServiceAccount => true,
            Kind::Internal => index != GHOST_USER_INDEX,
            Kind::Human => false,
        }
    }

    pub(crate) fn draw(&self, index: usize, extra: u64, salt: Salt) -> u64 {
        hash(self.seed, index as u64, extra, salt)
    }
}

/// Seconds in a day; a clock at `DAY_END` has seen the whole day.
#[cfg(test)]
pub(crate) const DAY_END: u32 = 86_400;

/// A time of day for one activity: mostly office hours, some evenings, a few at night, so that
/// a run early in the morning finds some of the day already written and most of it not.
pub(crate) fn time_of_day(h: u64) -> u32 {
    let spread = (h >> 8) as u32;
    match h % 100 {
        0..=4 => spread % (8 * 3600),              // 00:00-08:00
        5..=16 => 18 * 3600 + spread % (6 * 3600), // 18:00-24:00
        _ => 8 * 3600 + spread % (10 * 3600),      // 08:00-18:00
    }
}

fn week_start(day: Day) -> Day {
    // Day 1 (0001-01-01) was a Monday, so weeks start on days ≡ 1 (mod 7).
    day - (day - 1).rem_euclid(7)
}

fn fixed_user(index: usize, founding: Day) -> SimUser {
    let base = SimUser {
        created: founding,
        // the installation: root first, then GitLab's internal users, a second apart
        created_ms: 9 * 3_600_000 + index as u32 * 1_000,
        stop: NEVER,
        state_since: NEVER,
        weekday_chance: 0,
        kind: Kind::Internal,
        final_state: State::Active,
        flags: 0,
    };
    match index {
        ADMIN_USER_INDEX => SimUser {
            weekday_chance: 58_000,
            kind: Kind::Human,
            flags: flags::ADMIN | flags::TWO_FACTOR | flags::PUBLIC_EMAIL,
            ..base
        },
        REGULAR_USER_INDEX => SimUser {
            weekday_chance: 45_000,
            kind: Kind::Human,
            flags: flags::TWO_FACTOR,
            ..base
        },
        // ghost (not a bot), support bot, alert bot: internal, never active, never a seat.
        _ => base,
    }
}

fn random_user(seed: u64, index: u64, created: Moment, anchor: Day) -> SimUser {
    let kind_draw = hash(seed, index, 0, Salt::Kind) % 10_000;
    let misc = |n: u64| hash(seed, index, n, Salt::Misc);
    let mut user = SimUser::quiet_human(created);
    if kind_draw < 250 {
        user.kind = if kind_draw < 150 {
            Kind::ProjectBot
        } else {
            Kind::ServiceAccount
        };
        // Bots run pipelines and API scripts: steady, weekday-heavy activity.
        user.weekday_chance = between(misc(1), 8_000, 40_000) as u16;
        return user;
    }

    user.flags |= human_flags(seed, index);
    human_activity(&mut user, seed, index, anchor);
    human_state(&mut user, seed, index, anchor);
    if user.stop < user.created {
        user.weekday_chance = 0;
    }
    user
}

/// The flags a random human draws: each by its own share of 10,000.
fn human_flags(seed: u64, index: u64) -> u8 {
    let f = hash(seed, index, 0, Salt::Flags);
    let flag_draws: [(u8, u64); 7] = [
        (flags::ADMIN, 50),
        (flags::AUDITOR, 30),
        (flags::EXTERNAL, 300),
        (flags::GUEST_ONLY, 700),
        (flags::HOSTILE_NAME, 200),
        (flags::INVITED, 1_000),
        (flags::PUBLIC_EMAIL, 4_000),
    ];
    let mut drawn = 0;
    for (n, (flag, per_10000)) in flag_draws.into_iter().enumerate() {
        if chance(mix(f ^ n as u64), per_10000) {
            drawn |= flag;
        }
    }
    if chance(mix(f ^ 99), 6_000) {
        drawn |= flags::TWO_FACTOR;
    }
    drawn
}

/// How often a random human is active, and whether they went dormant or never signed in.
fn human_activity(user: &mut SimUser, seed: u64, index: u64, anchor: Day) {
    let misc = |n: u64| hash(seed, index, n, Salt::Misc);
    // Activity level: a third heavy, most regular, a quarter occasional.
    let level = misc(2) % 100;
    user.weekday_chance = match level {
        0..=29 => between(misc(3), 36_000, 59_000),
        30..=74 => between(misc(3), 13_000, 36_000),
        _ => between(misc(3), 2_500, 13_000),
    } as u16;

    if chance(hash(seed, index, 0, Salt::Dormant), 1_800) {
        // Went dormant: last active between 2 and ~700 days before the anchor.
        let quiet_for = between(hash(seed, index, 1, Salt::Dormant), 2, 700);
        user.stop = (anchor - quiet_for as Day).max(user.created);
    }
    if chance(hash(seed, index, 2, Salt::Dormant), 400) {
        user.weekday_chance = 0; // never signed in
    }
}

/// The state a random human ends in (blocked, deactivated, banned, ...) and since when.
fn human_state(user: &mut SimUser, seed: u64, index: u64, anchor: Day) {
    let created = user.created;
    let lifetime = i64::from(anchor - created).max(1);
    let state_draw = hash(seed, index, 0, Salt::State) % 10_000;
    let since = created + between(hash(seed, index, 0, Salt::StateSince), 1, lifetime + 1) as Day;
    match state_draw {
        0..=299 => block(user, State::Blocked, since),
        300..=499 => {
            // Deactivation needs 90 days without activity first.
            block(user, State::Deactivated, since.max(created + 91));
            user.stop = user.stop.min(user.state_since - 91);
        }
        500..=549 => block(user, State::Banned, since),
        550..=579 => block(user, State::LdapBlocked, since),
        580..=609 => {
            block(user, State::BlockedPendingApproval, created);
            user.weekday_chance = 0;
        }
        _ => {}
    }
}

fn block(user: &mut SimUser, state: State, since: Day) {
    user.final_state = state;
    user.state_since = since;
    user.stop = user.stop.min(since - 1);
}

/// The `Salt::Misc` draw of the time of day a user's group membership was created.
pub(crate) const GROUP_MEMBERSHIP_DRAW: u64 = 4;
/// The `Salt::Misc` draw of the time of day a user's project membership was created; the draw
/// after it says which project it is in.
pub(crate) const PROJECT_MEMBERSHIP_DRAW: u64 = 0x4D_0001;

/// The test hooks: users deleted or added while the simulator runs.
impl Population {
    /// Is the user still there (not deleted)?
    pub(crate) fn exists(&self, index: usize) -> bool {
        self.changes.deleted.is_empty() || !self.changes.deleted.contains(&index)
    }

    fn deleted_seat_holders(&self, day: Day) -> usize {
        self.changes
            .deleted
            .iter()
            .filter(|&&i| self.users[i].holds_seat_on(day))
            .count()
    }

    /// Deletes the user with index `index` (GitLab's `Users::DestroyService`: the row goes, the
    /// id is never reused). Returns false for an unknown or already deleted user.
    pub(crate) fn delete(&mut self, index: usize) -> bool {
        index < self.users.len() && self.changes.deleted.insert(index)
    }

    /// Adds a human who holds a seat and has never signed in, created at `moment` (never before
    /// the newest user, since ids follow creation). On GitLab.com `account_created` is when
    /// the account was made, before it joined the group. `memberships`, if given, are the
    /// user's direct memberships (days after `moment`'s are taken as `moment`'s: nothing is
    /// created in the future); by default the user is a member of the group itself from
    /// `moment`'s day. Returns the new index.
    pub(crate) fn add_user(
        &mut self,
        moment: Moment,
        account_created: Option<Day>,
        memberships: Option<DirectMemberships>,
    ) -> usize {
        let moment = self
            .users
            .last()
            .map_or(moment, |u| moment.max((u.created, u.created_ms)));
        let created = moment.0;
        let index = self.users.len();
        self.users.push(SimUser::quiet_human(moment));
        self.seat_created.push(created);
        if let Some(account) = account_created {
            self.changes
                .account_created
                .insert(index, account.min(created));
        }
        if let Some(m) = memberships {
            let not_after_creation = |day: Option<Day>| day.map(|d| d.min(created));
            self.changes.memberships.insert(
                index,
                DirectMemberships {
                    group: not_after_creation(m.group),
                    project: not_after_creation(m.project),
                },
            );
        }
        index
    }

    /// The user's direct memberships in the group's hierarchy. A generated member belongs to
    /// the group itself from the day it joined (`created`), unless it is there only through an
    /// invited group (`flags::INVITED`: no direct membership at all); only users added with
    /// chosen memberships have project memberships. Says nothing about holding a seat.
    pub(crate) fn direct_memberships(&self, index: usize) -> DirectMemberships {
        if let Some(&chosen) = self.changes.memberships.get(&index) {
            return chosen;
        }
        let u = &self.users[index];
        DirectMemberships {
            group: (!u.has(flags::INVITED)).then_some(u.created),
            project: None,
        }
    }

    /// The time of day (seconds after midnight UTC, milliseconds) at which a direct membership
    /// of user `index` was created: office hours, drawn per user and per membership (`salt`:
    /// [`GROUP_MEMBERSHIP_DRAW`] or [`PROJECT_MEMBERSHIP_DRAW`]).
    pub(crate) fn membership_time(&self, index: usize, salt: u64) -> (u32, u32) {
        let h = self.draw(index, salt, Salt::Misc);
        (8 * 3600 + (h % (9 * 3600)) as u32, (h >> 32) as u32 % 1000)
    }

    /// The account's `updated_at` in milliseconds since 0001-01-01 (UTC): GitLab touches it on
    /// sign-ins and profile changes; here it is one fixed moment between creation and the day
    /// before the anchor, so that ordering by it is stable while a listing runs.
    pub(crate) fn updated_at_ms(&self, index: usize) -> i64 {
        let created = self.users[index].created_at_ms();
        let latest = moment_ms((self.anchor - 1, MS_PER_DAY - 1));
        between(self.draw(index, 5, Salt::Time), created, latest + 1)
    }

    /// When the user's GitLab.com account was created: most people had one before they joined
    /// the group (the population's `created` is the day they joined), some made it that day.
    pub(crate) fn account_created(&self, index: usize) -> Day {
        let joined = self.users[index].created;
        if let Some(&day) = self.changes.account_created.get(&index) {
            return day;
        }
        let h = self.draw(index, 3, Salt::Misc);
        if chance(h, 6_000) {
            joined - between(h >> 16, 1, 3 * 365) as Day
        } else {
            joined
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date")
    }

    #[test]
    fn weekend_arithmetic_agrees_with_chrono() {
        use chrono::Weekday;
        for day in day_of(anchor()) - 20..day_of(anchor()) {
            let chrono_weekend = matches!(date_of(day).weekday(), Weekday::Sat | Weekday::Sun);
            assert_eq!(
                (day - 1).rem_euclid(7) >= 5,
                chrono_weekend,
                "{}",
                date_of(day)
            );
        }
    }

    #[test]
    fn ids_follow_creation_and_new_hires_are_last() {
        let p = Population::build(7, 10_000, anchor(), 1.0);
        assert!(p.users.windows(2).all(|w| w[0].created <= w[1].created));
        let a = p.anchor;
        assert_eq!(p.visible(a), 10_000);
        assert!(
            p.visible(a - 31) < p.visible(a),
            "new hires appear in the last month"
        );
    }

    #[test]
    fn seat_count_matches_a_direct_count() {
        let p = Population::build(3, 5_000, anchor(), 1.0);
        for day in [p.anchor - 400, p.anchor - 100, p.anchor, p.anchor + 10] {
            let direct = p.users.iter().filter(|u| u.holds_seat_on(day)).count() as u64;
            assert_eq!(p.seat_holders(day), direct, "day {day}");
        }
        assert!(p.user_limit > p.seat_holders(p.anchor));
    }

    #[test]
    fn last_activity_never_goes_backwards_and_matches_active_days() {
        let p = Population::build(11, 400, anchor(), 1.0);
        for index in 0..p.users.len() {
            let mut previous = None;
            for day in p.anchor - 60..=p.anchor {
                let last = p.last_activity_on(index, day, DAY_END);
                assert!(last >= previous, "user {index} day {day}");
                if p.active_on(index, day) {
                    assert_eq!(last, Some(day));
                }
                previous = last;
            }
        }
    }

    #[test]
    fn a_mix_of_kinds_and_states_exists() {
        let p = Population::build(42, 20_000, anchor(), 1.0);
        let count = |f: &dyn Fn(&SimUser) -> bool| p.users.iter().filter(|u| f(u)).count();
        assert!(count(&|u| u.kind == Kind::ProjectBot) > 100);
        assert!(count(&|u| u.final_state == State::Deactivated) > 100);
        assert!(count(&|u| u.final_state == State::Blocked) > 100);
        assert!(count(&|u| u.has(flags::GUEST_ONLY) && u.kind == Kind::Human) > 100);
        assert!(count(&|u| u.kind == Kind::Human && u.weekday_chance == 0) > 50);
        assert!(count(&|u| u.has(flags::HOSTILE_NAME)) > 50);
        let dormant = (0..p.users.len())
            .filter(|&i| {
                p.users[i].kind == Kind::Human
                    && p.last_activity_on(i, p.anchor, DAY_END)
                        .is_some_and(|d| p.anchor - d >= 90)
            })
            .count();
        assert!(dormant > 500, "dormant users: {dormant}");
    }
}
