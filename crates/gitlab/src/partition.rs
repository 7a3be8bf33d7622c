//! The plan of a `/users` listing split by creation time, so that several keyset walks run at once.
//!
//! A keyset listing is a chain: page N+1 cannot be asked for before page N arrives. `/users`
//! filters by `created_after` / `created_before` (`app/finders/users_finder.rb` →
//! `CreatedAtFilter` → the `CreatedAtFilterable` scopes of `app/models/concerns/`, which are
//! `created_at >= t` and `created_at <= t`), so the creation-time line can be cut into
//! partitions, each walked by its own keyset chain (`order_by=created_at&sort=asc`, one of
//! `User.supported_keyset_orderings`).
//!
//! Three rules make that exact whatever the filters' precision or bounds:
//! - a partition owns `[from, until)` in whole seconds, and a user belongs to the partition that
//!   owns its own `created_at`: exactly one, because the partitions tile the line;
//! - a partition's requests ask one second more on each side (`created_after = from - 1s`,
//!   `created_before = until + 1s`), so inclusive or exclusive bounds and sub-second timestamps
//!   never hide an owned user; the rows of the overlap belong to the neighbour and are dropped;
//! - a row outside even the widened bounds proves that GitLab ignored the filters
//!   ([`Partition::outside_request`]); ownership still keeps the listing exact then, and the
//!   listing falls back to one walk ([`merge_unstarted`]).
//!
//! Partitions are sized adaptively ([`plan_split`]): when a walker is free, the partition with
//! the most rows expected in what it has left (its own density so far times its remaining
//! width) is cut in the middle of its remaining range, down to [`MIN_SPLIT_WIDTH_SECS`]. A bulk
//! import of thousands of accounts in an hour is cut finely, quiet years are walked by the one
//! request that finds them empty, and the first page of every partition is the only request a
//! partition costs beyond its share of ⌈users/100⌉.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The narrowest remaining range a split may cut, in seconds: each half keeps at least one whole
/// second, the finest bound `created_after` / `created_before` are given with here.
pub const MIN_SPLIT_WIDTH_SECS: i64 = 2;

/// A partition is cut only when its remaining range is expected to hold two pages at least, so
/// that the new partition's first request (the one extra request a partition costs) is paid
/// for by a page of rows.
pub const MIN_ROWS_TO_SPLIT: u64 = 200;

/// One creation-time range of the listing and how far its keyset walk got. Saved in a
/// checkpoint: it holds no token (the keyset `Link` GitLab sent carries none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// First second owned (Unix time); `None`: from the first user.
    pub from: Option<i64>,
    /// First second no longer owned; `None`: open, so users created during the run land here.
    pub until: Option<i64>,
    /// The keyset `Link: rel="next"` to continue at; `None` before the first request.
    pub next: Option<String>,
    /// `created_at` of the last row listed here (the walk is in `created_at` order).
    pub last_created: Option<DateTime<Utc>>,
    /// `created_at` of the first row listed here: with `listed`, the density that sizes splits.
    pub first_created: Option<DateTime<Utc>>,
    /// Rows listed here so far.
    pub listed: u64,
}

impl Partition {
    /// A partition not walked yet.
    pub fn new(from: Option<i64>, until: Option<i64>) -> Partition {
        Partition {
            from,
            until,
            next: None,
            last_created: None,
            first_created: None,
            listed: 0,
        }
    }

    /// Whether a user created at `created_at` belongs here.
    pub fn owns(&self, created_at: DateTime<Utc>) -> bool {
        let second = created_at.timestamp();
        self.from.is_none_or(|from| second >= from) && self.until.is_none_or(|until| second < until)
    }

    /// The `created_after` / `created_before` a request for this partition sends, widened by a
    /// second on each side.
    pub fn request_bounds(&self) -> RequestBounds {
        RequestBounds {
            after: self.from.map(|from| from - 1),
            before: self.until.map(|until| until + 1),
        }
    }

    /// Records a page's rows owned here (in `created_at` order).
    pub fn record(&mut self, owned: &[DateTime<Utc>]) {
        if let (None, Some(first)) = (self.first_created, owned.first()) {
            self.first_created = Some(*first);
        }
        if let Some(last) = owned.last() {
            self.last_created = Some(*last);
        }
        self.listed += owned.len() as u64;
    }

    /// The first second not known to be walked: the last listed row's second (others may share
    /// it), else `from`.
    fn walked_to(&self) -> Option<i64> {
        self.last_created.map(|t| t.timestamp()).or(self.from)
    }

    /// Rows expected in `[walked_to, end)`: the density of what was listed, or one page per
    /// second when nothing was (a first page taken up by the neighbour's overlap).
    fn expected_rows(&self, walked_to: i64, end: i64) -> u64 {
        let width = (end - walked_to).max(0) as u64;
        let (Some(first), Some(last)) = (self.first_created, self.last_created) else {
            return width.saturating_mul(100);
        };
        let start = self.from.unwrap_or(first.timestamp());
        let span = (last.timestamp() - start).max(1) as u64;
        self.listed.saturating_mul(width) / span
    }
}

/// The creation-time filters one request sent (Unix seconds); `None`: not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBounds {
    pub after: Option<i64>,
    pub before: Option<i64>,
}

impl RequestBounds {
    /// A row these bounds exclude however GitLab reads them (inclusive or exclusive, at any
    /// precision): proof that the filters were ignored.
    pub fn excludes(&self, created_at: DateTime<Utc>) -> bool {
        let second = created_at.timestamp();
        self.after.is_some_and(|after| second < after)
            || self.before.is_some_and(|before| second > before)
    }
}

/// Where to cut the listing next: partition `index` keeps `[from, at)`, a new one takes
/// `[at, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub index: usize,
    pub at: i64,
}

/// The cut worth making now, if any: among the partitions still walking (`next` set: GitLab
/// said more rows follow), the one with the most rows expected in its remaining range, cut in
/// the middle of that range. `newest` is the newest creation second known, the end of an open
/// partition's range. `None` when no partition is expected to hold [`MIN_ROWS_TO_SPLIT`] rows
/// in a range of at least [`MIN_SPLIT_WIDTH_SECS`].
pub fn plan_split(partitions: &[Partition], newest: i64) -> Option<Split> {
    partitions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.next.is_some())
        .filter_map(|(index, p)| {
            let walked_to = p.walked_to()?;
            let end = p.until.unwrap_or(newest + 1);
            let width = end - walked_to;
            let rows = p.expected_rows(walked_to, end);
            (width >= MIN_SPLIT_WIDTH_SECS && rows >= MIN_ROWS_TO_SPLIT).then_some((
                rows,
                width,
                Split {
                    index,
                    at: walked_to + width / 2,
                },
            ))
        })
        .max_by_key(|(rows, width, _)| (*rows, *width))
        .map(|(_, _, split)| split)
}

/// Makes `split`: the partition keeps the lower half, a new partition (not walked yet) right
/// after it takes the upper half. The partitions still tile the line.
pub fn apply_split(partitions: &mut Vec<Partition>, split: Split) {
    let Split { index, at } = split;
    let upper = Partition::new(Some(at), partitions[index].until);
    partitions[index].until = Some(at);
    partitions.insert(index + 1, upper);
}

/// After GitLab was found to ignore the filters: every partition that has listed nothing is
/// given to the one before it, so that a single walk (which, unfiltered, passes through all
/// their ranges anyway) lists them. Returns the indices, in the old order, of the partitions
/// that were removed. Those that listed something keep their range: their own rows before
/// their position are listed, and only they know where it is.
pub fn merge_unstarted(partitions: &mut Vec<Partition>) -> Vec<usize> {
    let mut removed = Vec::new();
    let mut kept: Vec<Partition> = Vec::with_capacity(partitions.len());
    for (index, p) in partitions.drain(..).enumerate() {
        match kept.last_mut() {
            Some(before) if p.listed == 0 => {
                before.until = p.until;
                removed.push(index);
            }
            _ => kept.push(p),
        }
    }
    *partitions = kept;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(second, 0).expect("a time")
    }

    fn walking(from: Option<i64>, until: Option<i64>, rows: &[i64]) -> Partition {
        let mut p = Partition::new(from, until);
        p.next = Some("https://gitlab.example/api/v4/users?cursor=x".into());
        p.record(&rows.iter().map(|s| at(*s)).collect::<Vec<_>>());
        p
    }

    /// Every second in `range` is owned by exactly one partition.
    fn assert_tiles(partitions: &[Partition], range: std::ops::Range<i64>) {
        for second in range {
            let owners = partitions.iter().filter(|p| p.owns(at(second))).count();
            assert_eq!(owners, 1, "second {second}: {partitions:?}");
        }
    }

    #[test]
    fn a_partition_owns_from_inclusive_until_exclusive_at_any_precision() {
        let p = Partition::new(Some(100), Some(200));
        assert!(p.owns(at(100)));
        assert!(p.owns(at(199) + chrono::Duration::milliseconds(999)));
        assert!(!p.owns(at(200)));
        assert!(!p.owns(at(99) + chrono::Duration::milliseconds(999)));
        assert!(Partition::new(None, None).owns(at(-5)));
    }

    #[test]
    fn requests_overlap_the_neighbours_by_a_second() {
        let p = Partition::new(Some(100), Some(200));
        let bounds = p.request_bounds();
        assert_eq!(
            bounds,
            RequestBounds {
                after: Some(99),
                before: Some(201)
            }
        );
        // Every owned second lies strictly inside, so neither reading of the bounds hides it.
        for second in 100..200 {
            assert!(bounds.after.is_some_and(|a| second > a));
            assert!(bounds.before.is_some_and(|b| second < b));
        }
        assert_eq!(
            Partition::new(None, None).request_bounds(),
            RequestBounds {
                after: None,
                before: None
            }
        );
    }

    #[test]
    fn a_row_outside_the_widened_bounds_proves_the_filters_were_ignored() {
        let bounds = Partition::new(Some(100), Some(200)).request_bounds();
        assert!(!bounds.excludes(at(99)), "the overlap is asked for");
        assert!(!bounds.excludes(at(201)), "the overlap is asked for");
        assert!(bounds.excludes(at(98)));
        assert!(bounds.excludes(at(202)));
    }

    #[test]
    fn a_split_cuts_the_remaining_range_in_the_middle_and_keeps_the_tiling() {
        // Walked 0..=10 of [0, 1000) densely: the rest is cut at 10 + 990 / 2.
        let rows: Vec<i64> = (0..=10).flat_map(|s| [s; 30]).collect();
        let mut parts = vec![
            walking(None, Some(1000), &rows),
            Partition::new(Some(1000), None),
        ];
        let split = plan_split(&parts, 5000).expect("a split");
        assert_eq!(split, Split { index: 0, at: 505 });
        apply_split(&mut parts, split);
        assert_eq!(parts.len(), 3);
        assert_eq!(
            (parts[0].until, parts[1].from, parts[1].until),
            (Some(505), Some(505), Some(1000))
        );
        assert_eq!(
            parts[1].next, None,
            "the new partition starts from its first page"
        );
        assert_tiles(&parts, -10..6000);
    }

    #[test]
    fn the_densest_remaining_range_is_cut_first_bulk_import() {
        // A quiet decade with 150 users, and a bulk import of thousands of accounts in ten minutes.
        let quiet: Vec<i64> = (0..150).map(|i| i * 2_000_000).collect();
        let import: Vec<i64> = (0..100).map(|i| 400_000_000 + i / 3).collect();
        let parts = vec![
            walking(None, Some(400_000_000), &quiet),
            walking(Some(400_000_000), None, &import),
        ];
        let split = plan_split(&parts, 400_000_600).expect("a split");
        assert_eq!(split.index, 1, "the import, not the quiet decade");
        // The import keeps being cut down to the narrowest width.
        let mut parts = parts;
        let mut cuts = 0;
        while let Some(split) = plan_split(&parts[1..], 400_000_600) {
            let split = Split {
                index: split.index + 1,
                ..split
            };
            apply_split(&mut parts, split);
            // every new partition turns out as dense as the import
            let upper = &mut parts[split.index + 1];
            let from = upper.from.expect("a cut has a lower bound");
            upper.next = Some("next".into());
            upper.record(&[at(from); 100]);
            cuts += 1;
            assert!(cuts < 10_000, "splitting never ends");
        }
        assert!(cuts > 100, "ten minutes of import are cut finely: {cuts}");
        assert_tiles(&parts, 399_999_000..400_001_000);
        let widths: Vec<i64> = parts[1..]
            .iter()
            .filter_map(|p| Some(p.until? - p.walked_to()?))
            .collect();
        // The first part is found at 3 rows a second (two pages in 67 s), the others far denser.
        assert!(widths.iter().all(|w| *w < 67), "{widths:?}");
        assert!(
            widths.iter().filter(|w| **w < MIN_SPLIT_WIDTH_SECS).count() > 100,
            "{widths:?}"
        );
    }

    #[test]
    fn quiet_years_are_not_cut() {
        // 150 users over ten years: less than two pages expected in what is left.
        let quiet: Vec<i64> = (0..150).map(|i| i * 1_000_000).collect();
        let parts = vec![walking(None, None, &quiet)];
        assert_eq!(plan_split(&parts, 300_000_000), None);
    }

    #[test]
    fn a_finished_or_unstarted_partition_is_not_cut() {
        let rows: Vec<i64> = (0..100).collect();
        let mut done = walking(None, Some(10_000), &rows);
        done.next = None;
        let unstarted = Partition::new(Some(10_000), None);
        assert_eq!(plan_split(&[done, unstarted], 1_000_000), None);
    }

    #[test]
    fn a_range_narrower_than_the_minimum_is_not_cut() {
        let rows = vec![50; 100];
        let parts = vec![walking(Some(50), Some(51), &rows)];
        assert_eq!(plan_split(&parts, 51), None);
        let parts = vec![walking(Some(50), Some(52), &rows)];
        assert_eq!(plan_split(&parts, 52), Some(Split { index: 0, at: 51 }));
    }

    #[test]
    fn an_open_partition_is_cut_up_to_the_newest_user() {
        let rows: Vec<i64> = (0..300).collect();
        let parts = vec![walking(None, None, &rows)];
        assert_eq!(
            plan_split(&parts, 1_000),
            Some(Split {
                index: 0,
                at: 299 + (1_001 - 299) / 2
            })
        );
    }

    #[test]
    fn unstarted_partitions_go_to_their_neighbour_when_filters_are_ignored() {
        let mut parts = vec![
            walking(None, Some(100), &[1, 2, 3]),
            Partition::new(Some(100), Some(200)),
            Partition::new(Some(200), None),
        ];
        let removed = merge_unstarted(&mut parts);
        assert_eq!(removed, vec![1, 2]);
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].from, parts[0].until), (None, None));
        // One that listed rows keeps its range.
        let mut parts = vec![
            walking(None, Some(100), &[1]),
            walking(Some(100), Some(200), &[150]),
            Partition::new(Some(200), None),
        ];
        assert_eq!(merge_unstarted(&mut parts), vec![2]);
        assert_eq!(parts[1].until, None);
        assert_tiles(&parts, -10..1000);
    }
}
