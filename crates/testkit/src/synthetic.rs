//! Synthetic, deterministic snapshot data for the rendering benchmark and the site tests: a member
//! list with every standing the rule knows (active, inactive, never signed in, exempt, bots, no
//! seat), hostile names, a daily history with a trend, and Duo seat holders with every status. No
//! clock, no randomness source: the same arguments always give the same data.

use crate::members::member;
use chrono::{DateTime, Days, NaiveDate, Utc};
use seatwatch_core::duo::{DUO_AMAZON_Q, DUO_CORE, DuoAddOn, DuoHolder, DuoSnapshot, DuoUse};
use seatwatch_core::snapshot::{
    Activity, ActivityCoverage, ActivityDays, DayActivity, DayAggregates, DaySummary, Flavour,
    InstanceId, Member, SeatCounts, Source, UserState,
};

/// Names a GitLab user could choose to break a page or a spreadsheet.
pub const HOSTILE_NAMES: [&str; 6] = [
    "<script>alert('x')</script>",
    "=HYPERLINK(\"http://evil.example/\",\"click\")",
    "\"><img src=x onerror=alert(1)>",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "Zoë 李 O'Brien & Söhne",
];

/// A small, fast, deterministic mixer (splitmix64): enough to spread synthetic values.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn at(d: NaiveDate, hour: u32) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(d.and_hms_opt(hour, 0, 0).expect("valid hour"), Utc)
}

pub const FIRST_NAMES: [&str; 8] = [
    "Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
];
pub const LAST_NAMES: [&str; 8] = [
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
];

/// `count` members as of `date`; the first [`HOSTILE_NAMES`] get hostile names and usernames.
pub fn members(count: usize, date: NaiveDate) -> Vec<Member> {
    (0..count)
        .map(|i| {
            let r = mix(i as u64);
            let hostile = HOSTILE_NAMES.get(i).copied();
            let username = username(i, r, hostile);
            let bot = username.ends_with("_bot");
            // hostile members hold unused seats, so every page and CSV shows them
            let kind = match hostile {
                Some(_) => 60 + (i as u64 * 5) % 28,
                None => (r >> 8) % 100,
            };
            let created = date - Days::new(20 + (r >> 16) % 1500);
            let standing = standing(kind, r, date);
            let busy = kind < 60 && (r >> 40).is_multiple_of(3);
            Member {
                username,
                name: display_name(r, hostile),
                email: (i % 3 == 0).then(|| format!("user{i}@example.com")),
                state: standing.state,
                bot,
                admin: i == 10,
                external: (r >> 44).is_multiple_of(50),
                holds_seat: standing.holds_seat && !bot,
                created_at: Some(at(created, 12)),
                last_activity_on: standing.last_activity_on,
                last_sign_in_at: standing.last_sign_in_at,
                activity: if busy {
                    busy_day(r)
                } else {
                    Activity::default()
                },
                last_contribution_on: last_contribution(busy, r, date),
                ..member(i as u64 + 1)
            }
        })
        .collect()
}

/// A busy member contributed the day before `date`; of the others, a third never did (as far
/// as the history knows) and the rest at some point in the last 300 days.
fn last_contribution(busy: bool, r: u64, date: NaiveDate) -> Option<NaiveDate> {
    match (busy, (r >> 34) % 3) {
        (true, _) => Some(date - Days::new(1)),
        (false, 0) => None,
        (false, _) => Some(date - Days::new(1 + (r >> 36) % 300)),
    }
}

/// Member `i`'s username: the hostile name, a service account, a project bot or first.last`i`.
fn username(i: usize, r: u64, hostile: Option<&str>) -> String {
    match hostile {
        Some(h) => h.to_string(),
        None if r.is_multiple_of(41) => format!("svc-build-{i}"),
        None if r.is_multiple_of(37) => format!("project_{i}_bot"),
        None => format!(
            "{}.{}{i}",
            FIRST_NAMES[(r % 8) as usize].to_lowercase(),
            LAST_NAMES[((r >> 3) % 8) as usize].to_lowercase()
        ),
    }
}

/// The display name: the hostile name, or the first and last name the username is made of.
fn display_name(r: u64, hostile: Option<&str>) -> String {
    match hostile {
        Some(h) => h.to_string(),
        None => format!(
            "{} {}",
            FIRST_NAMES[(r % 8) as usize],
            LAST_NAMES[((r >> 3) % 8) as usize]
        ),
    }
}

/// Where a member stands on `date`: when last active and signed in, whether they hold a seat.
struct Standing {
    last_activity_on: Option<NaiveDate>,
    last_sign_in_at: Option<DateTime<Utc>>,
    holds_seat: bool,
    state: UserState,
}

/// The standing of a member of `kind` (0..100): 60% active recently, 20% inactive a long time,
/// 8% never signed in, the rest blocked without a seat.
fn standing(kind: u64, r: u64, date: NaiveDate) -> Standing {
    let (last_activity_on, last_sign_in_at, holds_seat, state) = match kind {
        0..60 => {
            let ago = (r >> 20) % 60;
            (
                Some(date - Days::new(ago)),
                Some(at(date - Days::new(ago + (r >> 28) % 5), 9)),
                true,
                UserState::Active,
            )
        }
        60..80 => {
            let ago = 90 + (r >> 20) % 600;
            (
                Some(date - Days::new(ago)),
                Some(at(date - Days::new(ago + 3), 9)),
                true,
                UserState::Active,
            )
        }
        80..88 => (None, None, true, UserState::Active),
        _ => (Some(date - Days::new(200)), None, false, UserState::Blocked),
    };
    Standing {
        last_activity_on,
        last_sign_in_at,
        holds_seat,
        state,
    }
}

/// The counted day's activity of a busy member.
fn busy_day(r: u64) -> Activity {
    Activity {
        pushes: ((r >> 48) % 4) as u32,
        commits: ((r >> 50) % 9) as u32,
        mrs_opened: ((r >> 52) % 2) as u32,
        mrs_merged: ((r >> 53) % 2) as u32,
        mrs_approved: ((r >> 54) % 2) as u32,
        issues_opened: ((r >> 55) % 2) as u32,
        issues_closed: ((r >> 56) % 2) as u32,
        comments: ((r >> 57) % 5) as u32,
        other: ((r >> 60) % 2) as u32,
    }
}

/// `days` day records ending on `date` for an instance of about `members` members, seats in use
/// growing slowly with a weekly rhythm in activity. The last element is the snapshot day.
pub fn history(members: u64, days: u64, date: NaiveDate) -> Vec<DaySummary> {
    let purchased = members * 9 / 10;
    let term_start = date - Days::new(days.min(300));
    (0..days)
        .rev()
        .map(|ago| {
            let d = date - Days::new(ago);
            let r = mix(ago);
            let in_use = (members * 8 / 10).saturating_sub(ago * members / 4000) + r % 3;
            let weekday = d.format("%u").to_string().parse::<u64>().unwrap_or(1);
            let work = if weekday >= 6 { 1 } else { 5 };
            let active_1d = members * work / 40 + r % 7;
            // each snapshot counts the complete day before it
            let counted = ActivityDays {
                first: d - Days::new(1),
                last: d - Days::new(1),
            };
            let aggregates = day_aggregates(members, in_use, active_1d, counted.first, r);
            DaySummary {
                instance: InstanceId::new("gitlab.example.com", None),
                date: d,
                collected_at: at(d, 3),
                source: Source {
                    flavour: Flavour::SelfManaged,
                    gitlab_version: Some("18.1.1-ee".into()),
                },
                seats: SeatCounts {
                    purchased: Some(purchased),
                    in_use,
                    max_used: Some(in_use),
                    owed: None,
                    plan: Some("ultimate".into()),
                    term_start: Some(term_start),
                    term_end: Some(term_start + Days::new(365)),
                    licence: Default::default(),
                },
                aggregates,
                token_expires_at: Some(date + Days::new(21)),
                requests: members / 100 + 5,
                activity: ActivityCoverage::Days(counted),
                contributions_known_since: Some(date - Days::new(days - 1)),
                duo: None,
            }
        })
        .scan(0u64, |max, mut d| {
            // GitLab's maximum only grows within a term
            *max = (*max).max(d.seats.in_use);
            d.seats.max_used = Some(*max);
            d.seats.owed =
                SeatCounts::compute_owed(d.seats.max_used, d.seats.in_use, d.seats.purchased);
            Some(d)
        })
        .collect()
}

/// The aggregates of a snapshot of `members` members with `in_use` seats in use and
/// `active_1d` members active on `counted`, the one day it counts; `r` spreads the rest.
fn day_aggregates(
    members: u64,
    in_use: u64,
    active_1d: u64,
    counted: NaiveDate,
    r: u64,
) -> DayAggregates {
    let mut aggregates = DayAggregates {
        members,
        seat_holders: in_use,
        bots: members / 37,
        active_1d,
        active_7d: members * 4 / 10 + r % 11,
        active_30d: members * 55 / 100 + r % 13,
        active_90d: members * 62 / 100 + r % 5,
        with_events: active_1d * 8 / 10,
        ..DayAggregates::default()
    };
    let a = &mut aggregates.activity;
    a.pushes = active_1d * 2 + r % 17;
    a.commits = a.pushes * 3;
    a.mrs_opened = active_1d / 3 + r % 5;
    a.mrs_merged = active_1d / 4 + r % 4;
    a.mrs_approved = active_1d / 4 + r % 3;
    a.issues_opened = active_1d / 5 + r % 3;
    a.issues_closed = active_1d / 6 + r % 3;
    a.comments = active_1d + r % 23;
    a.other = active_1d / 10;
    aggregates.activity_days = vec![DayActivity {
        date: counted,
        active: active_1d,
        with_events: aggregates.with_events,
        activity: aggregates.activity,
    }];
    aggregates
}

/// What a snapshot of `day` counts for `members`: the two complete days before it, each member's
/// activity on the later one. The days counted and the aggregates, for a test's `DaySummary`.
pub fn two_day_aggregates(members: &[Member], day: NaiveDate) -> (ActivityDays, DayAggregates) {
    let counted = ActivityDays {
        first: day - Days::new(2),
        last: day - Days::new(1),
    };
    let mut aggregates = DayAggregates::for_days(counted);
    for m in members {
        aggregates.add(m, day);
        let by_day = std::collections::BTreeMap::from([(counted.last, m.activity)]);
        aggregates.add_days(m, &by_day);
    }
    (counted, aggregates)
}

/// A Duo seat of `kind` (0..10) on `date`: when first seen, and the last Duo use. 0 and 5..=7:
/// active; 1 and 8: idle; 2 and 9: never used since before tracking began; 3: new (grace);
/// 4: never used, assigned after tracking began and past the grace period.
fn duo_seat(kind: u64, r: u64, date: NaiveDate, tracked_since: NaiveDate) -> (NaiveDate, DuoUse) {
    let days = |n: u64| date - Days::new(n);
    match kind {
        0 | 5..=7 => (tracked_since, DuoUse::On(days((r >> 24) % 20))),
        1 | 8 => (tracked_since, DuoUse::On(days(40 + (r >> 24) % 200))),
        3 => (days(2 + (r >> 24) % 5), DuoUse::Never),
        4 => (days(30 + (r >> 24) % 60), DuoUse::Never),
        _ => (tracked_since, DuoUse::Never),
    }
}

/// The Duo add-ons of [`duo`]: two per-user ones (a quarter and a tenth of the seat holders),
/// Duo with Amazon Q (a quantity, no holders) and Duo Core (no seats).
pub const DUO_PER_USER: [(&str, u64); 2] = [("CODE_SUGGESTIONS", 4), ("DUO_ENTERPRISE", 10)];

/// Duo seats on `date` for `members` (as [`members`] makes them): the snapshot's purchases and
/// their holders, with every status: active, idle, never used since before tracking began, new
/// (grace) and never used after it. The hostile members hold seats, so the Duo page shows them.
/// Set `exposed` false for a GitLab without Duo activity.
pub fn duo(members: &[Member], date: NaiveDate, exposed: bool) -> (DuoSnapshot, Vec<DuoHolder>) {
    let tracked_since = date - Days::new(120);
    let mut holders = Vec::new();
    let mut add_ons = Vec::new();
    for (add_on, every) in DUO_PER_USER {
        let before = holders.len();
        for (i, m) in members.iter().enumerate() {
            let hostile = i < HOSTILE_NAMES.len();
            if !m.holds_seat || m.bot || !(hostile || (i as u64).is_multiple_of(every)) {
                continue;
            }
            let r = mix(m.id ^ (every << 32));
            // the hostile members take one status each, so every status is always present
            let kind = if hostile { i as u64 } else { (r >> 16) % 10 };
            let (first_seen_assigned, last_duo_use) = duo_seat(kind, r, date, tracked_since);
            let last_duo_use = if exposed {
                last_duo_use
            } else {
                DuoUse::Unknown
            };
            holders.push(DuoHolder {
                add_on: add_on.into(),
                user_id: m.id,
                username: m.username.clone(),
                last_duo_use,
                last_activity_on: m.last_activity_on,
                last_login_at: m.last_sign_in_at,
                first_seen_assigned,
            });
        }
        let assigned = (holders.len() - before) as u64;
        add_ons.push(DuoAddOn {
            add_on: add_on.into(),
            purchased: assigned + assigned / 5 + 1,
            assigned,
        });
    }
    add_ons.push(DuoAddOn {
        add_on: DUO_AMAZON_Q.into(),
        purchased: 25,
        assigned: 0,
    });
    add_ons.push(DuoAddOn {
        add_on: DUO_CORE.into(),
        purchased: 0,
        assigned: 0,
    });
    let snapshot = DuoSnapshot {
        add_ons,
        activity_exposed: exposed,
        tracked_since,
    };
    (snapshot, holders)
}
