//! When the simulated accounts were created: a timeline with the shape real instances have.
//!
//! Real instances are not created at an even pace. Bulk imports (an LDAP group sync, a SCIM
//! provisioning run, a migration from another GitLab) create thousands of accounts within an hour,
//! several in the same second; between them come months of steady hiring and quiet stretches
//! (a hiring freeze, the holidays). A client that splits `/users` by `created_after` /
//! `created_before` must cope with both, so the simulator has both.
//!
//! Everything is a stateless draw from the seed: the same seed gives the same timeline.

use super::{Day, Salt, between, hash};

/// One creation moment: the day and the milliseconds after its midnight (UTC, as the API renders
/// `created_at`). Ordered first by day, then by time: ids follow this order.
pub(crate) type Moment = (Day, u32);

pub(crate) const MS_PER_DAY: u32 = 86_400_000;

/// Index values of the draws below, far from the user indices so they never collide.
const TIMELINE: u64 = u64::MAX - 1_000;

/// Share of the steady (not newly hired) accounts that came in through bulk imports, in percent.
const BULK_IMPORT_PERCENT: usize = 35;

/// Bulk imports on an instance with at least this many steady accounts; below it, one.
const SEVERAL_IMPORTS_FROM: usize = 2_000;
const IMPORTS_ON_A_LARGE_INSTANCE: usize = 3;

/// An import creates between this many accounts per second (LDAP sync and SCIM both create
/// accounts one by one, a few per second)...
const IMPORT_RATE_PER_SECOND: (i64, i64) = (2, 9);
/// ...and never runs longer than an hour, so a large one packs several accounts into a second.
const IMPORT_MAX_MS: u64 = 3_600_000;

/// The trickle between imports varies month by month; one month in five is nearly still.
const MONTH_DAYS: Day = 30;
const QUIET_MONTH_PER_10000: u64 = 2_000;
const QUIET_MONTH_WEIGHT: u64 = 1;
const BUSY_MONTH_WEIGHT: (i64, i64) = (8, 40);

/// Hours in which people are created by hand (an admin, a sign-up): office hours, UTC.
const OFFICE_START_MS: u32 = 8 * 3_600_000;
const OFFICE_SPAN_MS: u64 = 10 * 3_600_000;

/// `count` creation moments in `[first, last]`, ascending: bulk imports and a varying trickle.
pub(crate) fn steady_timeline(seed: u64, count: usize, first: Day, last: Day) -> Vec<Moment> {
    let imported = count * BULK_IMPORT_PERCENT / 100;
    let mut moments = Vec::with_capacity(count);
    bulk_imports(seed, imported, first, last, &mut moments);
    trickle(seed, count - imported, first, last, &mut moments);
    moments.sort_unstable();
    moments
}

/// `count` accounts in a few imports, each on one night, within at most an hour.
fn bulk_imports(seed: u64, count: usize, first: Day, last: Day, out: &mut Vec<Moment>) {
    if count == 0 {
        return;
    }
    let imports = if count * 100 / BULK_IMPORT_PERCENT >= SEVERAL_IMPORTS_FROM {
        IMPORTS_ON_A_LARGE_INSTANCE
    } else {
        1
    };
    let draw = |k: usize, n: u64| hash(seed, TIMELINE, (k as u64) << 8 | n, Salt::Time);
    // Sizes from random weights, the remainder to the last import.
    let weights: Vec<u64> = (0..imports).map(|k| 1 + draw(k, 0) % 4).collect();
    let total: u64 = weights.iter().sum();
    let mut left = count;
    for (k, weight) in weights.iter().enumerate() {
        let size = if k + 1 == imports {
            left
        } else {
            (count as u64 * weight / total) as usize
        };
        left -= size;
        let day = between(draw(k, 1), i64::from(first), i64::from(last) + 1) as Day;
        // Syncs run at night: 00:00 to 04:00.
        let start_ms = (draw(k, 2) % (4 * 3_600_000)) as u32;
        let rate = between(
            draw(k, 3),
            IMPORT_RATE_PER_SECOND.0,
            IMPORT_RATE_PER_SECOND.1,
        ) as u64;
        let span_ms = (size as u64 * 1_000 / rate).clamp(1, IMPORT_MAX_MS);
        for j in 0..size as u64 {
            out.push((day, start_ms + (j * span_ms / size as u64) as u32));
        }
    }
}

/// `count` accounts spread over `[first, last]` month by month, each month at its own pace, on
/// weekdays in office hours.
fn trickle(seed: u64, count: usize, first: Day, last: Day, out: &mut Vec<Moment>) {
    if count == 0 {
        return;
    }
    let months = ((last - first) / MONTH_DAYS + 1) as usize;
    let month_draw = |m: usize, n: u64| hash(seed, TIMELINE + 1, (m as u64) << 8 | n, Salt::Time);
    let mut cumulative = Vec::with_capacity(months);
    let mut sum = 0u64;
    for m in 0..months {
        sum += if month_draw(m, 0) % 10_000 < QUIET_MONTH_PER_10000 {
            QUIET_MONTH_WEIGHT
        } else {
            between(month_draw(m, 1), BUSY_MONTH_WEIGHT.0, BUSY_MONTH_WEIGHT.1) as u64
        };
        cumulative.push(sum);
    }
    for k in 0..count as u64 {
        let h = hash(seed, TIMELINE + 2, k, Salt::Time);
        let month = cumulative.partition_point(|&c| c <= h % sum);
        let month_first = first + month as Day * MONTH_DAYS;
        let month_last = (month_first + MONTH_DAYS - 1).min(last);
        let day = weekday_on_or_before(
            between(h >> 20, i64::from(month_first), i64::from(month_last) + 1) as Day,
            month_first,
        );
        out.push((day, office_time(h >> 40)));
    }
}

/// A moment in office hours, from a draw.
pub(crate) fn office_time(h: u64) -> u32 {
    OFFICE_START_MS + (h % OFFICE_SPAN_MS) as u32
}

/// The day itself on a weekday, else the Friday before (not before `floor`).
fn weekday_on_or_before(day: Day, floor: Day) -> Day {
    // Day 1 (0001-01-01) was a Monday, so (day - 1) mod 7 is 5 on Saturdays and 6 on Sundays.
    let back = ((day - 1).rem_euclid(7) - 4).max(0);
    (day - back).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Day = 739_000;
    const LAST: Day = FIRST + 4 * 365;

    #[test]
    fn the_timeline_is_deterministic_sorted_and_in_range() {
        let a = steady_timeline(9, 20_000, FIRST, LAST);
        assert_eq!(a, steady_timeline(9, 20_000, FIRST, LAST));
        assert_ne!(a, steady_timeline(10, 20_000, FIRST, LAST));
        assert_eq!(a.len(), 20_000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            a.iter()
                .all(|&(d, ms)| (FIRST..=LAST).contains(&d) && ms < MS_PER_DAY)
        );
    }

    #[test]
    fn bulk_imports_put_thousands_in_one_hour_and_share_seconds() {
        let a = steady_timeline(42, 50_000, FIRST, LAST);
        let to_ms = |(d, ms): Moment| i64::from(d) * i64::from(MS_PER_DAY) + i64::from(ms);
        // The busiest hour (a sliding window over the sorted moments).
        let mut busiest = 0;
        let mut start = 0;
        for end in 0..a.len() {
            while to_ms(a[end]) - to_ms(a[start]) >= 3_600_000 {
                start += 1;
            }
            busiest = busiest.max(end - start + 1);
        }
        assert!(busiest >= 2_000, "busiest hour: {busiest}");
        let shared_seconds = a
            .windows(2)
            .filter(|w| w[0].0 == w[1].0 && w[0].1 / 1000 == w[1].1 / 1000)
            .count();
        assert!(
            shared_seconds >= 1_000,
            "pairs sharing a second: {shared_seconds}"
        );
    }

    #[test]
    fn some_months_are_quiet_and_others_busy() {
        let a = steady_timeline(42, 50_000, FIRST, LAST);
        let per_month = |m: Day| {
            a.iter()
                .filter(|&&(d, ms)| (d - FIRST) / MONTH_DAYS == m && ms >= OFFICE_START_MS)
                .count()
        };
        let counts: Vec<usize> = (0..(LAST - FIRST) / MONTH_DAYS).map(per_month).collect();
        let (min, max) = (
            *counts.iter().min().expect("months"),
            *counts.iter().max().expect("months"),
        );
        assert!(max >= 10 * min.max(1), "months range from {min} to {max}");
    }
}
