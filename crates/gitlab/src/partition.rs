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

/// A partition is cut only when its remaining range is expected to hold ten pages at least, so
/// that each half holds five: the one extra request a partition costs (its last page, which is
/// rarely full) stays under a fifth of its pages, and a few tens of partitions keep every
/// walker busy on a large instance while a small one is cut a few times only.
pub const MIN_ROWS_TO_SPLIT: u64 = 1_000;

/// Cuts beyond one per walker are allowed one per this many pages listed, so that the cuts'
/// extra requests (about one each) stay near a tenth of the pages on a small instance and a
/// fraction of a percent on a large one, whatever the creation timeline looks like.
pub const PAGES_PER_EXTRA_CUT: u64 = 10;

/// Whether another cut may be made, `cuts` being made already by `walkers` walkers that have
/// listed `rows` rows.
pub fn cut_allowed(cuts: u64, walkers: usize, rows: u64) -> bool {
    cuts < walkers as u64 + rows / (PAGES_PER_EXTRA_CUT * 100)
}

/// A last page this many times faster than the partition's average means a bulk import.
pub const BURST_PACE_FACTOR: f64 = 4.0;

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
    /// Rows and first `created_at` of the last page listed here: the pace where the walk is now,
    /// which tells a bulk import from the partition's average.
    #[serde(default)]
    pub page_rows: u64,
    #[serde(default)]
    pub page_first: Option<DateTime<Utc>>,
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
            page_rows: 0,
            page_first: None,
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
            self.page_first = owned.first().copied();
            self.page_rows = owned.len() as u64;
        }
        self.listed += owned.len() as u64;
    }

    /// The first second not known to be walked: the last listed row's second (others may share
    /// it), else `from`.
    fn walked_to(&self) -> Option<i64> {
        self.last_created.map(|t| t.timestamp()).or(self.from)
    }

    /// Rows per second over everything listed here, and over the last page; `None` before
    /// anything was.
    fn paces(&self) -> Option<(f64, f64)> {
        let (first, last) = (self.first_created?, self.last_created?);
        let start = self.from.unwrap_or(first.timestamp());
        let average = self.listed as f64 / (last.timestamp() - start).max(1) as f64;
        let page_start = self.page_first.unwrap_or(first).timestamp();
        let recent = self.page_rows as f64 / (last.timestamp() - page_start).max(1) as f64;
        Some((average, recent))
    }

    /// Rows expected in `width` seconds after `walked_to`: at the faster of the two paces, or
    /// a page per second when nothing was listed (a first page taken up by the neighbour's
    /// overlap).
    fn expected_rows(&self, width: i64) -> u64 {
        let width = width.max(0) as f64;
        let pace = self
            .paces()
            .map_or(100.0, |(average, recent)| average.max(recent));
        (pace * width).min(u64::MAX as f64) as u64
    }

    /// Where to cut `width` seconds after `walked_to`: the middle, or, when the last page came
    /// [`BURST_PACE_FACTOR`] times faster than the partition's average (the walk entered a bulk
    /// import), half a split's worth of rows ahead at that pace, so that the rest of the import
    /// is walked by another chain at once instead of after several halvings.
    fn cut_at(&self, walked_to: i64, width: i64) -> i64 {
        let half = (width / 2).max(1);
        match self.paces() {
            Some((average, recent)) if recent > BURST_PACE_FACTOR * average => {
                let ahead = (MIN_ROWS_TO_SPLIT as f64 / 2.0 / recent).ceil() as i64;
                walked_to + ahead.clamp(1, half)
            }
            _ => walked_to + half,
        }
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
/// the middle of that range (a few pages ahead in a bulk import, see `Partition::cut_at`). `newest` is the newest creation second known, the end of an open
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
            let rows = p.expected_rows(width);
            (width >= MIN_SPLIT_WIDTH_SECS && rows >= MIN_ROWS_TO_SPLIT).then_some((
                rows,
                width,
                Split {
                    index,
                    at: p.cut_at(walked_to, width),
                },
            ))
        })
        .max_by_key(|(rows, width, _)| (*rows, *width))
        .map(|(_, _, split)| split)
}

/// Rows each partition of the first fan-out is expected to hold at least: half a split's worth,
/// so that the fan-out never costs more than one request in five.
pub const FAN_OUT_ROWS: u64 = MIN_ROWS_TO_SPLIT / 2;

/// How many partitions the first fan-out makes: one per [`FAN_OUT_ROWS`] of the rows expected
/// after the first page, up to `walkers`. `expected_rows` comes from the user ids (they are
/// given in creation order, so the newest user's id less the first page's last id bounds the
/// rows left, deleted users aside): unlike the first page's pace, it does not depend on how
/// the instance's early accounts were spread in time.
pub fn fan_out_pieces(expected_rows: u64, walkers: usize) -> usize {
    (expected_rows.div_ceil(FAN_OUT_ROWS) as usize).clamp(1, walkers.max(1))
}

/// Cuts the remaining range of the only partition, walked this far after its first page, into
/// `pieces` of equal width (each at least [`MIN_SPLIT_WIDTH_SECS`]), so that every walker has a
/// chain from the second round trip on instead of waiting for splits that need each new
/// partition's first page. Equal widths are only a start: a bulk import lands in one piece, and
/// [`plan_split`] cuts it once its pace is known. Returns the number of cuts made.
pub fn fan_out(partitions: &mut Vec<Partition>, newest: i64, pieces: usize) -> usize {
    let [only] = partitions.as_slice() else {
        return 0;
    };
    let (Some(walked_to), true) = (only.walked_to(), only.next.is_some()) else {
        return 0;
    };
    let end = only.until.unwrap_or(newest + 1);
    let width = end - walked_to;
    let pieces = (pieces as i64).min(width / MIN_SPLIT_WIDTH_SECS).max(1);
    let step = width / pieces;
    // From the last piece back, so each cut takes the upper part of the only partition's range.
    for k in (1..pieces).rev() {
        apply_split(
            partitions,
            Split {
                index: 0,
                at: walked_to + k * step,
            },
        );
    }
    (pieces - 1) as usize
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
    fn the_first_fan_out_cuts_the_rest_into_equal_pieces_and_keeps_the_tiling() {
        let rows: Vec<i64> = (0..100).collect();
        let mut parts = vec![walking(None, None, &rows)];
        // Walked to second 99; the newest user was created at 999: [99, 1000) in four.
        assert_eq!(fan_out(&mut parts, 999, 4), 3);
        let bounds: Vec<_> = parts.iter().map(|p| (p.from, p.until)).collect();
        assert_eq!(
            bounds,
            [
                (None, Some(99 + 225)),
                (Some(99 + 225), Some(99 + 450)),
                (Some(99 + 450), Some(99 + 675)),
                (Some(99 + 675), None),
            ]
        );
        assert!(
            parts[0].next.is_some(),
            "the walked partition keeps its link"
        );
        assert!(parts[1..].iter().all(|p| p.next.is_none()));
        assert_tiles(&parts, -10..2000);
    }

    #[test]
    fn the_first_fan_out_is_sized_by_the_rows_left_and_the_width() {
        assert_eq!(fan_out_pieces(0, 16), 1);
        assert_eq!(fan_out_pieces(FAN_OUT_ROWS, 16), 1);
        assert_eq!(fan_out_pieces(FAN_OUT_ROWS + 1, 16), 2);
        assert_eq!(fan_out_pieces(200_000, 16), 16);
        // Walked to second 2 with the newest user at 6: five seconds hold two pieces of at
        // least two seconds each, three only one.
        let mut parts = vec![walking(None, None, &[0, 1, 2])];
        assert_eq!(fan_out(&mut parts, 6, 16), 1);
        assert_tiles(&parts, -10..20);
        let mut parts = vec![walking(None, None, &[0, 1, 2])];
        assert_eq!(fan_out(&mut parts, 4, 16), 0);
        assert_tiles(&parts, -10..20);
        // A finished partition (no link) is not cut.
        let mut done = vec![Partition::new(None, None)];
        done[0].record(&[at(0)]);
        assert_eq!(fan_out(&mut done, 1000, 16), 0);
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
            upper.record(&[at(from); MIN_ROWS_TO_SPLIT as usize]);
            cuts += 1;
            assert!(cuts < 10_000, "splitting never ends");
        }
        assert!(cuts > 100, "ten minutes of import are cut finely: {cuts}");
        assert_tiles(&parts, 399_999_000..400_001_000);
        let widths: Vec<i64> = parts[1..]
            .iter()
            .filter_map(|p| Some(p.until? - p.walked_to()?))
            .collect();
        // The first part of the import is found at 3 rows a second and stops being cut sooner;
        // the others are as dense as a split allows and are cut to the narrowest width.
        assert!(
            widths[1..].iter().all(|w| *w < MIN_SPLIT_WIDTH_SECS),
            "{widths:?}"
        );
        assert!(widths.len() > 100, "{widths:?}");
    }

    #[test]
    fn a_walk_entering_a_bulk_import_is_cut_a_few_pages_ahead() {
        // Three years at a user a week, then a page of an import at 2.5 accounts a second.
        let quiet: Vec<i64> = (0..150).map(|i| i * 604_800).collect();
        let mut p = walking(None, Some(400_000_000), &quiet);
        let import_start = 100_000_000;
        let page: Vec<DateTime<Utc>> = (0..100).map(|i| at(import_start + i * 2 / 5)).collect();
        p.record(&page);
        let walked_to = p.walked_to().expect("walked");
        let split = plan_split(&[p], 0).expect("a split");
        let ahead = split.at - walked_to;
        // Inside the import's hour, and half a split's worth of rows ahead at its pace.
        assert!(ahead > 0 && ahead < 3_600, "{ahead} s ahead");
        let page_seconds = (page[99].timestamp() - page[0].timestamp()) as f64;
        let pace = 100.0 / page_seconds;
        assert!(
            ahead as f64 * pace >= MIN_ROWS_TO_SPLIT as f64 / 2.0,
            "{ahead} s ahead"
        );
    }

    #[test]
    fn cuts_beyond_the_walkers_are_paid_for_by_pages_listed() {
        let walkers = 8;
        assert!(cut_allowed(walkers as u64 - 1, walkers, 0));
        assert!(!cut_allowed(walkers as u64, walkers, 0));
        let rows_per_cut = PAGES_PER_EXTRA_CUT * 100;
        assert!(cut_allowed(walkers as u64, walkers, rows_per_cut));
        assert!(!cut_allowed(
            walkers as u64 + 1,
            walkers,
            2 * rows_per_cut - 1
        ));
        // At 200,000 users: fewer cuts than 1% of a page per user.
        let cuts_at_most = (0..).find(|c| !cut_allowed(*c, 16, 200_000)).unwrap();
        assert!(cuts_at_most < 200_000 / 100 / 5, "{cuts_at_most}");
    }

    #[test]
    fn quiet_years_are_not_cut() {
        // 150 users over ten years: far less than ten pages expected in what is left.
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
        let rows = vec![50; MIN_ROWS_TO_SPLIT as usize / 2];
        let parts = vec![walking(Some(50), Some(51), &rows)];
        assert_eq!(plan_split(&parts, 51), None);
        let parts = vec![walking(Some(50), Some(52), &rows)];
        assert_eq!(plan_split(&parts, 52), Some(Split { index: 0, at: 51 }));
    }

    #[test]
    fn an_open_partition_is_cut_up_to_the_newest_user() {
        let rows: Vec<i64> = (0..300).flat_map(|s| [s; 5]).collect();
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
