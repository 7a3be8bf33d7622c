//! GitLab → one day's snapshot, streamed into a store.
//!
//! Members arrive a page at a time and leave in parts of [`CollectOptions::part_size`], so memory
//! stays flat whatever the instance size; the day record is written last ([`SnapshotWriter::commit_day`]),
//! which is what makes the day visible.
//!
//! Activity is counted by complete calendar day in the instance's time zone: a snapshot of date D
//! counts the days before D that no earlier snapshot counted ([`ActivityDays`]), never D itself,
//! whose events are still being written. Events are fetched only for members whose
//! `last_activity_on` is on or after the first of those days: everyone else has no events to
//! find, and skipping them keeps a daily run near one request per hundred members plus one per
//! active member.
//!
//! The self-managed listing walks creation-time partitions at once
//! ([`Client::users_in_parallel_from`]) and runs ahead of the events (see [`list_members`]): the
//! events of one page overlap the fetch of the next pages, and the events window spans page
//! boundaries, so the client's concurrency stays busy. Pages arrive in the order GitLab answers
//! them; each carries the position of the whole listing after it, so a part boundary is still a
//! point a checkpoint can name.
//!
//! A run that must stop early (a Lambda near its deadline) saves a [`Checkpoint`] after a part and
//! returns [`CollectOutcome::Checkpointed`]; the next run of the same day resumes from the saved
//! [`ListingPosition`] (every partition's range and keyset `Link` on self-managed, an offset and
//! the last id listed on GitLab.com and on a GitLab too old for keyset) with the same run id, so
//! the committed day holds exactly the members an uninterrupted run would.
//!
//! Both listings run in ascending id order and read offset pages overlapping (see
//! [`Client::billable_members_from`]): a member removed while the listing runs never makes
//! another one be skipped, and a resumed run drops every id up to the saved `last_id`.
//!
//! On GitLab.com, `billable_members` `created_at` is the account's age on all of GitLab.com, not
//! the membership's. For members GitLab never saw active or signed in (the only ones whose grace
//! period matters) the collector asks when the membership began, a hundred members a request
//! where the group's own membership decides ([`crate::membership_age`]), and once per member:
//! the next snapshot carries it.
//!
//! The listing, the Duo seats and the day header are asked for at once (see [`collect`]).
//!
//! A GitLab throttle that asks to wait longer than the retry budget allows (an hour on a
//! self-managed instance) checkpoints the run at the last whole page, and the summary says how
//! long to wait before the next round.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use futures_util::future::{self, Either, FutureExt};
use futures_util::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};

use crate::contributions::{ContributionScope, Contributions};
use crate::membership_age::{self, AgeAsker, AgeBatches, AgeLookup};
use crate::store::{CarriedForward, RunId, SnapshotReader, SnapshotWriter, StoreError};
use seatwatch_core::snapshot::{
    Activity, ActivityCoverage, ActivityDays, ActivityKind, DayAggregates, DaySummary, Flavour,
    InstanceId, Member, SeatCounts, Source, UserState,
};
use seatwatch_gitlab::{
    BillableMember, Client, Event, GitLabError, ListingPosition, Priority, User,
};
// the licence cases of the day header
use seatwatch_core::snapshot::LicenceState;
use seatwatch_gitlab::{License, Namespace};

/// The most days one snapshot catches up after missed runs. Older days stay uncounted: GitLab
/// keeps events for three years, but every extra day costs events pages for every active member,
/// and `last_activity_on` already tells who was active.
pub const MAX_CATCH_UP_DAYS: u64 = 31;

/// What to collect and how.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub date: NaiveDate,
    /// GitLab.com top-level group; `None` collects a self-managed instance.
    pub group: Option<String>,
    /// GitLab.com only: its API does not report purchased seats.
    pub seats_purchased: Option<u64>,
    /// Members per stored part.
    pub part_size: usize,
    /// `/users/:id/events` requests in flight at once (at most one less than the client's
    /// concurrency, which keeps a slot for the listing).
    pub events_concurrency: usize,
    /// Stop with a checkpoint when less than `reserve` is left before this instant.
    pub deadline: Option<Instant>,
    pub reserve: Duration,
    /// The instance's time zone (`gitlab_rails['time_zone']`): GitLab evaluates the events API's
    /// day bounds there, so days are counted there too.
    pub time_zone: Tz,
    /// `SEATWATCH_CONTRIBUTION_DAYS`: how far a first snapshot backfills contributions.
    pub contribution_days: u32,
    /// `SEATWATCH_CONTRIBUTION_BACKFILL_PAGES`: event pages per member a first snapshot may read
    /// to backfill contributions; 0, none.
    pub contribution_backfill_pages: u32,
    /// `SEATWATCH_GRACE_DAYS`: GitLab.com membership ages older than this decide a grace period
    /// by their top-level group membership alone ([`crate::membership_age`]).
    pub grace_days: u32,
}

impl CollectOptions {
    pub fn new(date: NaiveDate) -> Self {
        CollectOptions {
            date,
            group: None,
            seats_purchased: None,
            part_size: 2000,
            events_concurrency: crate::config::DEFAULT_CONCURRENCY,
            deadline: None,
            reserve: Duration::from_secs(20),
            time_zone: crate::config::DEFAULT_TIME_ZONE,
            contribution_days: crate::config::DEFAULT_CONTRIBUTION_DAYS,
            contribution_backfill_pages: crate::config::DEFAULT_CONTRIBUTION_BACKFILL_PAGES,
            grace_days: crate::config::DEFAULT_GRACE_DAYS,
        }
    }
}

/// Why a collection failed; the previous snapshot is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    // The wrapped error is the message, not also a `source()`: each cause prints once.
    #[error("GitLab: {0}")]
    GitLab(GitLabError),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("checkpoint for {date} cannot be read ({reason}): delete it or collect again")]
    BadCheckpoint { date: NaiveDate, reason: String },
}

impl From<GitLabError> for CollectError {
    fn from(e: GitLabError) -> Self {
        CollectError::GitLab(e)
    }
}

impl From<StoreError> for CollectError {
    fn from(e: StoreError) -> Self {
        CollectError::Store(e)
    }
}

impl CollectError {
    pub fn is_auth(&self) -> bool {
        matches!(self, CollectError::GitLab(e) if e.is_auth())
    }
    pub fn is_retryable(&self) -> bool {
        match self {
            CollectError::GitLab(e) => e.is_retryable(),
            CollectError::Store(e) => e.is_retryable(),
            CollectError::BadCheckpoint { .. } => false,
        }
    }
}

/// The JSON summary a run prints or a Lambda returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CollectSummary {
    pub instance: String,
    pub date: NaiveDate,
    pub status: CollectStatus,
    pub members: u64,
    pub seat_holders: u64,
    pub seats: SeatCounts,
    pub members_with_events: u64,
    /// GitLab requests this invocation made.
    pub requests: u64,
    pub duration_ms: u64,
    pub token_expires_at: Option<NaiveDate>,
    /// Checkpointed because GitLab asked to wait longer than the retry budget (a self-managed
    /// throttle can ask for an hour): seconds to wait before the next round. The state machine
    /// waits that long; the CLI says when to run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
}

/// How a run ended, as the summary names it (the state machine's `CollectStatus` choice reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectStatus {
    Committed,
    /// The run stopped early and must be continued (same date).
    Checkpointed,
}

impl CollectStatus {
    /// Every status, for the test that holds the state machine's choices to them.
    pub const ALL: [CollectStatus; 2] = [CollectStatus::Committed, CollectStatus::Checkpointed];
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum CollectOutcome {
    Committed(CollectSummary),
    /// Stopped before the deadline; run again (same date) to continue.
    Checkpointed(CollectSummary),
}

impl CollectOutcome {
    pub fn summary(&self) -> &CollectSummary {
        match self {
            CollectOutcome::Committed(s) | CollectOutcome::Checkpointed(s) => s,
        }
    }
    pub fn is_committed(&self) -> bool {
        matches!(self, CollectOutcome::Committed(_))
    }
}

/// Where an interrupted run stands; stored as JSON in the store's checkpoint slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub run: RunId,
    pub next_part: u32,
    /// Where the listing continues (no token in it); `None` with `next` unset means "from the
    /// start".
    #[serde(default)]
    pub position: Option<ListingPosition>,
    /// Checkpoints written before `position` existed: the keyset `Link` URL on self-managed, the
    /// next page number on GitLab.com. Read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub aggregates: DayAggregates,
    pub header: DayHeader,
    pub requests: u64,
}

/// The day's figures fetched before the member listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DayHeader {
    pub source: Source,
    pub seats: SeatCounts,
    pub token_expires_at: Option<NaiveDate>,
    /// The complete days whose events this snapshot counts.
    pub activity_days: ActivityDays,
    pub collected_at: DateTime<Utc>,
}

/// The monitored instance's id for these settings.
pub fn instance_id(client: &Client, group: Option<&str>) -> InstanceId {
    InstanceId::new(&client.base().host_and_path(), group)
}

/// Collects one day into `store`. `now` stamps the snapshot.
///
/// Everything GitLab is asked starts at once: the member listing and the Duo seats need nothing
/// from the day header, so neither waits a round trip for it (issue 14: on a quiet group the
/// Duo holders' chain of pages is the longest thing a run waits on).
pub async fn collect(
    client: &Client,
    store: &dyn SnapshotWriter,
    opts: &CollectOptions,
    now: DateTime<Utc>,
) -> Result<CollectOutcome, CollectError> {
    let started = Instant::now();
    let requests_before = client.requests_made();
    let instance = instance_id(client, opts.group.as_deref());
    let group = opts.group.as_deref();
    let checkpoint = load_checkpoint(store, &instance, opts).await?;
    let from = match &checkpoint {
        Some(cp) => resume_position(cp, opts)?,
        None => None,
    };
    let previous = crate::duo::previous_day(store, &instance, opts.date).await?;
    let carried = match &previous {
        Some(p) => store.carried_forward(&instance, p.date).await?,
        None => HashMap::new(),
    };
    let (carried_contributions, known) = split_carried(carried);

    let (pages_tx, pages_rx) = tokio::sync::mpsc::channel::<ListedPage>(pages_ahead(client));
    // The listing runs ahead of the run into `pages`; its errors travel as pages.
    let handles = SlotOrder::of(client, group);
    let (listing_client, duo_client, client) = (&handles.listing, &handles.duo, &handles.run);
    let group_projects = group.map(GroupProjects::of);

    let listing = list_members(listing_client, group, from.clone(), pages_tx);
    // The Duo seats are a few chains of GraphQL pages: read beside the listing, not after it.
    // The run takes the read, or its error, once the day header is read (so that a header
    // failure, the clearer one, is the one told).
    let (duo_tx, duo_rx) = tokio::sync::oneshot::channel();
    let duo_read = async {
        let read = crate::duo::read_for_run(
            duo_client,
            store,
            &instance,
            opts.date,
            group,
            previous.as_ref(),
        )
        .await;
        // The receiver is gone only once the run has ended.
        let _ = duo_tx.send(read);
    };
    let run = async {
        let header = async {
            match checkpoint {
                Some(cp) => Ok(RunStart::resumed(cp, from)),
                None => RunStart::begin(client, store, &instance, opts, now).await,
            }
        };
        let start = header.await?;
        let contributions =
            contributions_of(carried_contributions, opts, &start, previous.as_ref());
        let mut parts = Parts::new(store, &start, opts.part_size);
        let members = collect_members(
            client,
            opts,
            start.header.activity_days,
            group_projects.as_ref(),
            &contributions,
            &known,
            &mut parts,
            pages_rx,
        );
        let (stop, duo_read) = match future::select(std::pin::pin!(members), duo_rx).await {
            Either::Left((stop, duo_rx)) => match stop? {
                Stop::Complete => (Stop::Complete, Some(duo_rx.await)),
                // Not committing: the read is dropped (cancelled) and made by the
                // invocation that is.
                early @ Stop::Early { .. } => (early, None),
            },
            // A failed read fails the run now, not after the listing it would have wasted; one
            // that GitLab told to wait lets the listing come to the same wait (the client now
            // answers every request so) and checkpoint at its last whole page.
            Either::Right((duo_read, members)) => match duo_read {
                Ok(Err(e)) if told_to_wait(&e).is_none() => return Err(e),
                read => (members.await?, Some(read)),
            },
        };
        // The listing ended but the seats must wait: the last page is read again with them.
        let stop = match (stop, &duo_read) {
            (Stop::Complete, Some(Ok(Err(e)))) if told_to_wait(e).is_some() => Stop::Early {
                at: parts.back_to_boundary().await?,
                wait: told_to_wait(e),
            },
            (stop, _) => stop,
        };
        let duo = match (&stop, duo_read) {
            (Stop::Complete, Some(Ok(Ok(read)))) => {
                crate::duo::keep(store, &start.run, read).await?
            }
            (Stop::Complete, Some(Ok(Err(e)))) => return Err(e),
            // Stopped early: the invocation that commits reads the seats. (A read whose sender
            // is gone cannot come: it sends before it ends, and the run outlives it.)
            _ => None,
        };
        let requests = start.requests_earlier + client.requests_made() - requests_before;
        let summary =
            |status: CollectStatus, aggregates: &DayAggregates, wait: Option<Duration>| {
                CollectSummary {
                    instance: instance.to_string(),
                    date: opts.date,
                    status,
                    members: aggregates.members,
                    seat_holders: aggregates.seat_holders,
                    seats: start.header.seats.clone(),
                    members_with_events: aggregates.with_events,
                    requests: client.requests_made() - requests_before,
                    duration_ms: started.elapsed().as_millis() as u64,
                    token_expires_at: start.header.token_expires_at,
                    wait_seconds: wait.map(|w| w.as_secs().max(1)),
                }
            };

        match stop {
            Stop::Early { at, wait } => {
                let cp = parts.checkpoint(&start.header, at, requests);
                save_checkpoint(store, &instance, opts.date, &cp, wait.is_some()).await?;
                Ok(CollectOutcome::Checkpointed(summary(
                    CollectStatus::Checkpointed,
                    &parts.aggregates,
                    wait,
                )))
            }
            Stop::Complete => {
                let tracked = Tracked {
                    contributions_known_since: Some(contributions.known_since()),
                    duo,
                };
                let seats = commit_snapshot(
                    store, &instance, opts, &start, &mut parts, requests, tracked,
                )
                .await?;
                let mut s = summary(CollectStatus::Committed, &parts.aggregates, None);
                s.seats = seats;
                // debug, not info: the demo commits 180 of these, and the CLI prints the summary anyway
                tracing::debug!(
                    members = s.members,
                    requests = s.requests,
                    "snapshot committed"
                );
                Ok(CollectOutcome::Committed(s))
            }
        }
    };
    // The listing and the reads end in `pages`, `duo_rx` and `group_projects`; only the run ends
    // the collection.
    let projects_read = async {
        if let Some(projects) = &group_projects {
            projects.read(client).await;
        }
    };
    let beside = future::join3(listing, duo_read, projects_read).then(|_| future::pending());
    match future::select(std::pin::pin!(run), std::pin::pin!(beside)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), _)) => unreachable!("pending never ends"),
    }
}

/// The client handles a run's requests go through, and so the order they take in-flight slots
/// in when every one is taken (`seatwatch_gitlab::Priority`).
///
/// GitLab.com: the member listing first (everything after it waits on its pages), then the
/// requests about listed members and the day header in the order asked, the Duo read last
/// (nothing waits on it; its chains of pages otherwise took every slot for rounds at a time and
/// moved the listing's end back). Its listing requests are tasks that free their slot when GitLab
/// answers (`offset_window`), so going first costs the rest nothing.
///
/// Self-managed: no order; a freed slot goes to whichever request takes it first. Its partition
/// walkers hold their slot until their page is taken, and a line, whatever its order, made the
/// runs slower (docs/DECISIONS.md, "Slots are handed out by priority on GitLab.com only").
struct SlotOrder {
    listing: Client,
    duo: Client,
    run: Client,
}

impl SlotOrder {
    fn of(client: &Client, group: Option<&str>) -> Self {
        match group {
            Some(_) => SlotOrder {
                listing: client.with_priority(Priority::Listing),
                duo: client.with_priority(Priority::Background),
                run: client.with_priority(Priority::Members),
            },
            None => SlotOrder {
                listing: client.clone(),
                duo: client.clone(),
                run: client.clone(),
            },
        }
    }
}

/// How long GitLab asked to wait, where that is longer than the retry budget allows.
fn told_to_wait(e: &CollectError) -> Option<Duration> {
    match e {
        CollectError::GitLab(e) => e.retry_after(),
        _ => None,
    }
}

/// What the day record says beyond the members' figures: from when contributions are known,
/// and the Duo seats.
struct Tracked {
    contributions_known_since: Option<NaiveDate>,
    duo: Option<seatwatch_core::duo::DuoSnapshot>,
}

/// What the previous snapshot's members carry forward, as the run uses it: last contributions
/// for [`Contributions`], and the membership ages already asked of GitLab.com.
fn split_carried(
    carried: HashMap<u64, CarriedForward>,
) -> (HashMap<u64, NaiveDate>, HashMap<u64, DateTime<Utc>>) {
    let mut contributions = HashMap::new();
    let mut member_since = HashMap::new();
    for (id, c) in carried {
        if let Some(on) = c.last_contribution_on {
            contributions.insert(id, on);
        }
        if let Some(since) = c.member_since {
            member_since.insert(id, since);
        }
    }
    (contributions, member_since)
}

/// The run's contribution tracking ([`crate::contributions`]), from the previous snapshot.
fn contributions_of(
    carried: HashMap<u64, NaiveDate>,
    opts: &CollectOptions,
    start: &RunStart,
    previous: Option<&DaySummary>,
) -> Contributions {
    let scope = ContributionScope {
        date: opts.date,
        days: start.header.activity_days,
        plan: start.header.seats.plan.as_deref(),
        window_days: opts.contribution_days,
        backfill_pages: opts.contribution_backfill_pages,
        time_zone: opts.time_zone,
    };
    Contributions::load(carried, previous, &scope)
}

/// Where this invocation starts: a saved checkpoint's run, or a new run of the day.
struct RunStart {
    run: RunId,
    header: DayHeader,
    aggregates: DayAggregates,
    next_part: u32,
    /// Where the listing continues; `None`: from its start.
    position: Option<ListingPosition>,
    /// GitLab requests the earlier invocations of this run made.
    requests_earlier: u64,
}

impl RunStart {
    /// The day's saved checkpoint, continued from `position`.
    fn resumed(cp: Checkpoint, position: Option<ListingPosition>) -> RunStart {
        RunStart {
            run: cp.run,
            header: cp.header,
            aggregates: cp.aggregates,
            next_part: cp.next_part,
            position,
            requests_earlier: cp.requests,
        }
    }

    /// A new run of the day, from the day header.
    async fn begin(
        client: &Client,
        store: &dyn SnapshotWriter,
        instance: &InstanceId,
        opts: &CollectOptions,
        now: DateTime<Utc>,
    ) -> Result<RunStart, CollectError> {
        let header = day_header(client, store, instance, opts, now).await?;
        Ok(RunStart {
            run: RunId::new(instance.clone(), opts.date),
            aggregates: DayAggregates::for_days(header.activity_days),
            header,
            next_part: 0,
            position: None,
            requests_earlier: 0,
        })
    }
}

/// The day's saved checkpoint, parsed; one that cannot be read stops the run.
async fn load_checkpoint(
    store: &dyn SnapshotWriter,
    instance: &InstanceId,
    opts: &CollectOptions,
) -> Result<Option<Checkpoint>, CollectError> {
    let Some(json) = store.load_checkpoint(instance, opts.date).await? else {
        return Ok(None);
    };
    serde_json::from_str::<Checkpoint>(&json)
        .map(Some)
        .map_err(|e| CollectError::BadCheckpoint {
            date: opts.date,
            reason: e.to_string(),
        })
}

/// How far the member listing got.
enum Stop {
    /// Every member is listed, and each is either stored or in the last part's buffer.
    Complete,
    /// Stopped before the end, with everything before `at` stored: near the deadline, or because
    /// GitLab asked to `wait` longer than the retry budget allows.
    Early {
        at: Option<ListingPosition>,
        wait: Option<Duration>,
    },
}

/// The members on their way into stored parts, and the day's totals over every member so far.
struct Parts<'a> {
    store: &'a dyn SnapshotWriter,
    run: &'a RunId,
    part_size: usize,
    /// The members of the part being filled.
    buffer: Vec<Member>,
    next_part: u32,
    aggregates: DayAggregates,
    /// The last page boundary. A long wait checkpoints here, not mid-page.
    boundary: PageBoundary,
}

/// A point between two listing pages, with what the run held there.
#[derive(Default)]
struct PageBoundary {
    /// Where the listing continues; `None`: from its start.
    next: Option<ListingPosition>,
    /// How much of the buffer was before it.
    buffered: usize,
    aggregates: DayAggregates,
}

impl<'a> Parts<'a> {
    fn new(store: &'a dyn SnapshotWriter, start: &'a RunStart, part_size: usize) -> Self {
        Parts {
            store,
            run: &start.run,
            part_size,
            buffer: Vec::with_capacity(part_size),
            next_part: start.next_part,
            aggregates: start.aggregates.clone(),
            boundary: PageBoundary {
                next: start.position.clone(),
                buffered: 0,
                aggregates: start.aggregates.clone(),
            },
        }
    }

    fn add(&mut self, collected: Collected, date: NaiveDate) {
        let Collected { member, by_day } = collected;
        self.aggregates.add(&member, date);
        self.aggregates.add_days(&member, &by_day);
        self.buffer.push(member);
    }

    /// Stores the buffer as the next part.
    async fn store_part(&mut self) -> Result<(), StoreError> {
        self.store
            .put_members(self.run, self.next_part, &self.buffer)
            .await?;
        self.next_part += 1;
        self.buffer.clear();
        Ok(())
    }

    /// Ends a listing page: stores a full part, and stops there when the deadline is near.
    async fn page_end(
        &mut self,
        next: Option<ListingPosition>,
        opts: &CollectOptions,
    ) -> Result<Option<Stop>, StoreError> {
        if self.buffer.len() >= self.part_size {
            self.store_part().await?;
            // Only a page boundary that is also a part boundary can be resumed from.
            if next.is_some() && near_deadline(opts) {
                return Ok(Some(Stop::Early {
                    at: next,
                    wait: None,
                }));
            }
        }
        if next.is_some() {
            self.boundary = PageBoundary {
                next,
                buffered: self.buffer.len(),
                aggregates: self.aggregates.clone(),
            };
        }
        Ok(None)
    }

    /// What a next run needs to continue at `at`, the stored parts and totals being these.
    fn checkpoint(
        &self,
        header: &DayHeader,
        at: Option<ListingPosition>,
        requests: u64,
    ) -> Checkpoint {
        Checkpoint {
            run: self.run.clone(),
            next_part: self.next_part,
            position: at,
            next: None,
            aggregates: self.aggregates.clone(),
            header: header.clone(),
            requests,
        }
    }

    /// Keeps the whole pages and stores them; the members after them are listed again.
    /// Returns where the listing continues.
    async fn back_to_boundary(&mut self) -> Result<Option<ListingPosition>, StoreError> {
        let PageBoundary {
            next,
            buffered,
            aggregates,
        } = std::mem::take(&mut self.boundary);
        self.buffer.truncate(buffered);
        self.aggregates = aggregates;
        if !self.buffer.is_empty() {
            self.store_part().await?;
        }
        Ok(next)
    }
}

/// Collects each listed member's activity on `days` and stores them in parts, until the
/// listing ends or the run must stop early.
#[allow(clippy::too_many_arguments)]
async fn collect_members(
    client: &Client,
    opts: &CollectOptions,
    days: ActivityDays,
    group_projects: Option<&GroupProjects>,
    contributions: &Contributions,
    known_since: &HashMap<u64, DateTime<Utc>>,
    parts: &mut Parts<'_>,
    pages: tokio::sync::mpsc::Receiver<ListedPage>,
) -> Result<Stop, CollectError> {
    let scope = ActivityScope {
        days,
        time_zone: opts.time_zone,
        group_projects,
    };
    // The events leave one of the client's slots free, so the listing never queues behind them.
    let events_in_flight = tokio::sync::Semaphore::new(
        opts.events_concurrency
            .min(client.concurrency().saturating_sub(1))
            .max(1),
    );
    // Lives until the steps are stored: dropping it ends the membership-age lookups.
    let asker = opts
        .group
        .as_deref()
        .map(|group| AgeAsker::new(client, group, opts.date, opts.grace_days));
    let steps = collected_steps(
        client,
        opts,
        scope,
        contributions,
        known_since,
        &events_in_flight,
        asker.as_ref(),
        pages,
    );
    store_steps(steps, parts, opts).await
}

/// The listed pages as steps, each member with their membership age and activity filled in.
#[allow(clippy::too_many_arguments)]
fn collected_steps<'a>(
    client: &'a Client,
    opts: &'a CollectOptions,
    scope: ActivityScope<'a>,
    contributions: &'a Contributions,
    known_since: &'a HashMap<u64, DateTime<Utc>>,
    events_in_flight: &'a tokio::sync::Semaphore,
    asker: Option<&'a AgeAsker>,
    pages: tokio::sync::mpsc::Receiver<ListedPage>,
) -> impl Stream<Item = Result<Step, GitLabError>> + 'a {
    // GitLab.com: the members who need a membership age are asked in batches that form as the
    // pages pass (the last one is complete when the listing ends), each asked as soon as it is
    // formed.
    let batches = asker.map(|_| AgeBatches::new(pages_ahead(client)));
    stream::unfold((pages, batches), move |(mut rx, mut batches)| async move {
        let steps = match rx.recv().await {
            Some(page) => Some(page_steps(page, batches.as_mut(), known_since, opts)),
            None => {
                if let Some(batches) = &mut batches {
                    batches.seal();
                }
                None
            }
        };
        if let (Some(batches), Some(asker)) = (&mut batches, asker) {
            asker.ask(batches.take_formed());
        }
        steps.map(|steps| (stream::iter(steps), (rx, batches)))
    })
    .flatten()
    .map(move |(step, batch)| async move {
        match step {
            Ok(Step::Member(m)) => {
                let m = membership_age::fill(m.member, batch.as_ref(), known_since).await?;
                let mut c = with_activity(client, m, scope, events_in_flight).await?;
                let projects = scope.group_projects;
                contributions
                    .track(client, &mut c.member, &c.by_day, projects, events_in_flight)
                    .await?;
                Ok(Step::Member(Box::new(c)))
            }
            other => other,
        }
    })
    // Order is kept so that a part boundary is a point in the listing a checkpoint can name.
    // Most members need no request, so the window is much wider than the requests in flight,
    // and it is counted in pages, not in requests: where 1% of the members are active, a window
    // of a few requests' worth of members held one or two events requests in flight and the
    // listing waited on it (issue 14, target 1). Twice the pages the listing may hold ahead
    // keeps the events requests of every page already listed in flight.
    .buffered(2 * pages_ahead(client) * PAGE_SIZE)
}

/// Listing pages that may wait ahead of the events: partitions answer up to one page per
/// request in flight at once.
fn pages_ahead(client: &Client) -> usize {
    PAGES_AHEAD.max(client.concurrency())
}

/// Folds the steps into `parts` until they end, the deadline is near, or GitLab asks to wait
/// longer than the retry budget allows.
async fn store_steps(
    steps: impl Stream<Item = Result<Step, GitLabError>>,
    parts: &mut Parts<'_>,
    opts: &CollectOptions,
) -> Result<Stop, CollectError> {
    let mut steps = std::pin::pin!(steps);
    while let Some(step) = steps.next().await {
        match step {
            Ok(Step::Member(collected)) => parts.add(*collected, opts.date),
            Ok(Step::PageEnd { next }) => {
                if let Some(stop) = parts.page_end(next, opts).await? {
                    return Ok(stop);
                }
            }
            Err(e) => match e.retry_after() {
                Some(wait) => {
                    let at = parts.back_to_boundary().await?;
                    tracing::warn!("{e}: checkpointing, to continue in {} s", wait.as_secs());
                    return Ok(Stop::Early {
                        at,
                        wait: Some(wait),
                    });
                }
                None => return Err(e.into()),
            },
        }
    }
    Ok(Stop::Complete)
}

/// Saves where the run stopped, so that the next run of the day continues there.
async fn save_checkpoint(
    store: &dyn SnapshotWriter,
    instance: &InstanceId,
    date: NaiveDate,
    cp: &Checkpoint,
    gitlab_asked_to_wait: bool,
) -> Result<(), CollectError> {
    let json = serde_json::to_string(cp).expect("a checkpoint always serialises");
    store.save_checkpoint(instance, date, &json).await?;
    tracing::info!(
        parts = cp.next_part,
        members = cp.aggregates.members,
        "checkpointed ({})",
        if gitlab_asked_to_wait {
            "GitLab asked to wait"
        } else {
            "before the deadline"
        }
    );
    Ok(())
}

/// Stores the last part and commits the day record, which makes the day visible; returns the
/// day's seat figures.
async fn commit_snapshot(
    store: &dyn SnapshotWriter,
    instance: &InstanceId,
    opts: &CollectOptions,
    start: &RunStart,
    parts: &mut Parts<'_>,
    requests: u64,
    tracked: Tracked,
) -> Result<SeatCounts, CollectError> {
    if !parts.buffer.is_empty() {
        parts.store_part().await?;
    }
    let header = &start.header;
    let aggregates = &parts.aggregates;
    let mut seats = header.seats.clone();
    if opts.group.is_some() {
        // GitLab.com's in-use figure is live; the listing we just read is the same set.
        seats.in_use = seats.in_use.max(aggregates.seat_holders);
    }
    seats.owed = SeatCounts::compute_owed(seats.max_used, seats.in_use, seats.purchased);
    let day = DaySummary {
        instance: instance.clone(),
        date: opts.date,
        collected_at: header.collected_at,
        source: header.source.clone(),
        seats,
        aggregates: aggregates.clone(),
        token_expires_at: header.token_expires_at,
        requests,
        activity: ActivityCoverage::Days(header.activity_days),
        contributions_known_since: tracked.contributions_known_since,
        duo: tracked.duo,
    };
    store.commit_day(parts.run, parts.next_part, &day).await?;
    store.clear_checkpoint(instance, opts.date).await?;
    Ok(day.seats)
}

/// Seat figures from `GET /license`. `user_limit: 0` is a licence without a seat limit
/// (`ee/lib/api/entities/gitlab_license.rb`): nothing was bought per seat, so purchased is
/// unknown rather than 0. No licence (`null`, `ee/lib/api/license.rb`): nobody holds a seat.
fn licence_seats(licence: Option<License>) -> SeatCounts {
    let Some(lic) = licence else {
        return SeatCounts {
            licence: LicenceState::NoLicence,
            ..SeatCounts::default()
        };
    };
    let unlimited = lic.user_limit == Some(0);
    SeatCounts {
        purchased: lic.user_limit.filter(|_| !unlimited),
        in_use: lic.active_users.unwrap_or(0),
        max_used: lic.maximum_user_count.or(lic.historical_max),
        owed: None,
        plan: lic.plan,
        term_start: lic.starts_at,
        term_end: lic.expires_at,
        licence: if unlimited {
            LicenceState::NoSeatLimit
        } else {
            LicenceState::Licensed
        },
    }
}

/// Seat figures from GitLab.com's `GET /namespaces/:id`; `purchased` comes from the settings,
/// as that API does not report it.
fn namespace_seats(ns: Namespace, purchased: Option<u64>) -> SeatCounts {
    SeatCounts {
        purchased,
        in_use: ns.seats_in_use.or(ns.billable_members_count).unwrap_or(0),
        max_used: ns.max_seats_used,
        owed: None,
        plan: ns.plan,
        // GitLab.com exposes no subscription start (`ee/lib/ee/api/entities/namespace.rb`
        // has `end_date` only); a term is not always a year, so it is not guessed.
        term_start: None,
        term_end: ns.end_date,
        licence: LicenceState::Licensed,
    }
}

/// A figure that is only for the report (version, token expiry): its absence must not cost a
/// snapshot, but a refused token must stop the run here, before anything is written.
fn wanted_for_report<T>(
    fetched: Result<T, GitLabError>,
    request: &str,
    unknown: &str,
) -> Result<Option<T>, CollectError> {
    match fetched {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_auth() => Err(e.into()),
        Err(e) => {
            tracing::warn!("{request} failed, {unknown} unknown: {e}");
            Ok(None)
        }
    }
}

fn near_deadline(opts: &CollectOptions) -> bool {
    opts.deadline
        .is_some_and(|d| d.saturating_duration_since(Instant::now()) < opts.reserve)
}

/// Version, token expiry and seat figures: the part of the day record read before members.
async fn day_header(
    client: &Client,
    store: &dyn SnapshotReader,
    instance: &InstanceId,
    opts: &CollectOptions,
    now: DateTime<Utc>,
) -> Result<DayHeader, CollectError> {
    // Four independent reads at once: one round trip instead of four before the listing starts.
    let seats = async {
        match opts.group.as_deref() {
            None => Ok((Flavour::SelfManaged, licence_seats(client.license().await?))),
            Some(group) => Ok::<_, CollectError>((
                Flavour::GitLabCom,
                namespace_seats(client.namespace(group).await?, opts.seats_purchased),
            )),
        }
    };
    let (metadata, token, seats, activity_days) = tokio::join!(
        client.metadata(),
        client.token_self(),
        seats,
        uncounted_days(store, instance, opts.date),
    );
    let gitlab_version =
        wanted_for_report(metadata, "GET /metadata", "version")?.map(|m| m.version);
    let token_expires_at = wanted_for_report(token, "GET /personal_access_tokens/self", "expiry")?
        .and_then(|t| t.expires_at);
    let (flavour, seats) = seats?;
    let activity_days = activity_days?;
    Ok(DayHeader {
        source: Source {
            flavour,
            gitlab_version,
        },
        seats,
        token_expires_at,
        activity_days,
        collected_at: now,
    })
}

/// The complete days before `date` that no earlier snapshot counted: from the day after the
/// last one the previous snapshot counted, through the day before `date`; the day before `date`
/// alone on a first run; at most [`MAX_CATCH_UP_DAYS`] after a long gap. Never `date` itself,
/// whatever the hour: its events are still being written. Re-running a date
/// finds the same previous snapshot, so it counts the same days again and replaces them.
async fn uncounted_days(
    store: &dyn SnapshotReader,
    instance: &InstanceId,
    date: NaiveDate,
) -> Result<ActivityDays, CollectError> {
    let last = date - Days::new(1);
    let earliest = date - Days::new(MAX_CATCH_UP_DAYS);
    let previous = store.days(instance, earliest - Days::new(1), last).await?;
    let first = match previous.last() {
        Some(p) => match p.activity {
            ActivityCoverage::Days(days) => days.last + Days::new(1),
            // It counted its own date up to the hour it ran: count that day again, whole; the
            // report keeps one figure per day, the later snapshot's.
            ActivityCoverage::Legacy => p.date,
        },
        // No snapshot in reach: a first run, or a gap longer than the catch-up bound.
        None => match store.latest_day(instance).await? {
            Some(latest) if latest.date < date => earliest,
            _ => last,
        },
    };
    // A previous snapshot is before `date`, so `first` is at most `last`; the clamp keeps that
    // true for a store that holds odd dates.
    Ok(ActivityDays {
        first: first.clamp(earliest, last),
        last,
    })
}

/// One page of the member listing and where the listing continues, or why it stopped.
type ListedPage = Result<(Vec<Member>, Option<ListingPosition>), GitLabError>;

/// Listing pages held ready ahead of the events being fetched, at least (one per request the
/// client keeps in flight, when that is more).
const PAGES_AHEAD: usize = 2;
/// GitLab's page size: the events window is counted in pages of it.
const PAGE_SIZE: usize = 100;

/// One item of the collection pipeline, in listing order.
enum Step {
    /// Boxed: most steps are members, but an end of page should not be as big as one.
    Member(Box<Collected>),
    /// The end of a listing page; `next` is where the listing continues (`None` on the last
    /// page).
    PageEnd { next: Option<ListingPosition> },
}

/// Sends the listing's pages, in order, into `pages` until the last one, the first error, or
/// the receiver going away.
async fn list_members(
    client: &Client,
    group: Option<&str>,
    from: Option<ListingPosition>,
    pages: tokio::sync::mpsc::Sender<ListedPage>,
) {
    match group {
        None => {
            let listing = client.users_in_parallel_from(from).map(|page| {
                page.map(|p| (p.users.into_iter().map(member_from_user).collect(), p.next))
            });
            forward_pages(listing, pages).await;
        }
        // One verified page after the other, even when nothing needs resuming: pages fetched
        // concurrently could not tell that a member removed meanwhile shifted the rest.
        Some(group) => {
            let listing = client.billable_members_from(group, from).map(|page| {
                page.map(|(members, next)| {
                    (
                        members.into_iter().map(member_from_billable).collect(),
                        next,
                    )
                })
            });
            forward_pages(listing, pages).await;
        }
    }
}

/// Sends `listing`'s pages, in order, into `pages` until the last one, the first error, or the
/// receiver going away: the one loop both listings run.
async fn forward_pages(
    listing: impl Stream<Item = ListedPage>,
    pages: tokio::sync::mpsc::Sender<ListedPage>,
) {
    let mut listing = std::pin::pin!(listing);
    while let Some(page) = listing.next().await {
        let failed = page.is_err();
        if pages.send(page).await.is_err() || failed {
            break;
        }
    }
}

/// Where a resumed run continues: the saved position, or one read from a checkpoint written
/// before positions existed (those never recorded the ids listed, so nothing is dropped).
fn resume_position(
    cp: &Checkpoint,
    opts: &CollectOptions,
) -> Result<Option<ListingPosition>, CollectError> {
    if let Some(position) = &cp.position {
        return Ok(Some(position.clone()));
    }
    let Some(next) = &cp.next else {
        return Ok(None);
    };
    if opts.group.is_none() {
        return Ok(Some(ListingPosition::Keyset {
            next: next.clone(),
            last_id: None,
        }));
    }
    match next.parse::<u64>() {
        Ok(page) if page >= 1 => Ok(Some(ListingPosition::Offset {
            end: (page - 1) * PAGE_SIZE as u64,
            last_id: None,
        })),
        _ => Err(CollectError::BadCheckpoint {
            date: opts.date,
            reason: format!("its billable_members cursor {next:?} is not a page number"),
        }),
    }
}

/// A step with how its member's membership age is asked for.
type StepAwaiting = (Result<Step, GitLabError>, Option<AgeLookup>);

/// A listed page as steps, each member with how its membership age is asked for.
fn page_steps(
    page: ListedPage,
    ages: Option<&mut AgeBatches>,
    known_since: &HashMap<u64, DateTime<Utc>>,
    opts: &CollectOptions,
) -> Vec<StepAwaiting> {
    match page {
        Ok((members, next)) => {
            let batches = match ages {
                Some(ages) => ages.page(&members, |m| {
                    membership_age::age_need(m, known_since, opts.date, opts.grace_days)
                }),
                None => vec![None; members.len()],
            };
            members
                .into_iter()
                .zip(batches)
                .map(|(m, batch)| (Ok(Step::Member(Box::new(m.into()))), batch))
                .chain(std::iter::once((Ok(Step::PageEnd { next }), None)))
                .collect()
        }
        Err(e) => vec![(Err(e), None)],
    }
}

/// Where a member's events are read and how they are put on days.
#[derive(Clone, Copy)]
struct ActivityScope<'a> {
    days: ActivityDays,
    time_zone: Tz,
    /// GitLab.com: the monitored group's projects; events elsewhere are not the group's.
    group_projects: Option<&'a GroupProjects>,
}

/// A member with their activity by calendar day, on the way from the listing to a part.
struct Collected {
    member: Member,
    by_day: BTreeMap<NaiveDate, Activity>,
}

impl From<Member> for Collected {
    fn from(member: Member) -> Collected {
        Collected {
            member,
            by_day: BTreeMap::new(),
        }
    }
}

/// Fills in the counted days' activity of a member active since they began; anyone else has no
/// events there and needs no request. `last_activity_on` only moves forward, so a member active
/// on a counted day has it on or after `days.first` (it may be today's date by now).
async fn with_activity(
    client: &Client,
    mut member: Member,
    scope: ActivityScope<'_>,
    in_flight: &tokio::sync::Semaphore,
) -> Result<Collected, GitLabError> {
    let active_since_first = member
        .last_activity_on
        .is_some_and(|d| d >= scope.days.first);
    if !active_since_first || member.bot {
        return Ok(member.into());
    }
    // Invariant: the semaphore lives until the pipeline is gone and is never closed.
    let permit = in_flight
        .acquire()
        .await
        .expect("the events semaphore is never closed");
    // Both bounds are exclusive whole days: this asks for exactly first..=last.
    let after = scope.days.first - Days::new(1);
    let before = scope.days.last + Days::new(1);
    let events = client.user_events(member.id, after, before).await?;
    // not held while the events wait for the group's projects
    drop(permit);
    if scope.group_projects.is_some() {
        // GitLab.com hides a private profile's events from a group Owner: nothing readable is
        // unknown, not zero (an active member with no events at all anywhere cannot be told apart).
        member.activity_unknown = events.is_empty();
    }
    let kept = GroupProjects::keep_in_group(scope.group_projects, &events).await?;
    let by_day = count_activity_by_day(kept, scope.time_zone, scope.days);
    member.activity = by_day.values().fold(Activity::default(), |mut sum, a| {
        sum.add(a);
        sum
    });
    Ok(Collected { member, by_day })
}

/// GitLab.com: the monitored group's project ids. GitLab.com's `/users/:id/events` shows a
/// member's events in any public project, so they are kept only where they happened in the
/// group (gitlab-api.md §0.9).
///
/// Read beside the listing, not before the members: a member's events are asked without them
/// and wait on them only to be kept or dropped. A group with more than a page of projects used to
/// hold the whole pipeline back while its second page waited for a slot (issue 14).
pub(crate) struct GroupProjects {
    group: String,
    ids: tokio::sync::SetOnce<Result<HashSet<u64>, GitLabError>>,
}

impl GroupProjects {
    fn of(group: &str) -> Self {
        GroupProjects {
            group: group.to_string(),
            ids: tokio::sync::SetOnce::new(),
        }
    }

    /// Reads the ids, or the error that every member waiting on them then fails with.
    async fn read(&self, client: &Client) {
        // Invariant: read once, by the collection that made it.
        let _ = self.ids.set(client.group_project_ids(&self.group).await);
    }

    /// The `events` that happened in the group's projects, once they are read (`None`: no
    /// group, every event counts).
    pub(crate) async fn keep_in_group<'e>(
        projects: Option<&Self>,
        events: &'e [Event],
    ) -> Result<impl Iterator<Item = &'e Event>, GitLabError> {
        let ids = match projects {
            Some(projects) => Some(projects.ids.wait().await.as_ref().map_err(Clone::clone)?),
            None => None,
        };
        Ok(events
            .iter()
            .filter(move |e| ids.is_none_or(|p| e.project_id.is_some_and(|id| p.contains(&id)))))
    }
}

/// Puts events on the calendar day they happened in the instance's time zone, and counts each
/// day's by kind. GitLab already bounded them to `days` in its own zone; an event that lands
/// outside them here (a time zone setting that differs from the instance's) is put on the
/// nearest counted day rather than lost.
pub(crate) fn count_activity_by_day<'e>(
    events: impl IntoIterator<Item = &'e Event>,
    time_zone: Tz,
    days: ActivityDays,
) -> BTreeMap<NaiveDate, Activity> {
    let mut by_day: BTreeMap<NaiveDate, Activity> = BTreeMap::new();
    for e in events {
        let day = e
            .created_at
            .with_timezone(&time_zone)
            .date_naive()
            .clamp(days.first, days.last);
        count_event(by_day.entry(day).or_default(), e);
    }
    by_day
}

/// Sorts events into the snapshot's activity kinds, by `action_name` (what GitLab shows) rather
/// than the `action` filter names, which differ (`accepted` is a merged MR).
pub fn count_activity(events: &[Event]) -> Activity {
    let mut a = Activity::default();
    for e in events {
        count_event(&mut a, e);
    }
    a
}

/// Issues and work items alike: `Event::ISSUE_TYPES = [Issue.name, WorkItem.name]`
/// (`app/models/event.rb`).
fn is_issue(target_type: &str) -> bool {
    matches!(target_type, "Issue" | "WorkItem")
}

/// Adds one event to `a`: one to its kind ([`event_kind`]), and a push's commits to `commits`.
fn count_event(a: &mut Activity, e: &Event) {
    let kind = event_kind(e);
    *a.get_mut(kind) += 1;
    if kind == ActivityKind::Pushes {
        let commits = e
            .push_data
            .as_ref()
            .and_then(|p| p.commit_count)
            .unwrap_or(0);
        a.commits += u32::try_from(commits).unwrap_or(u32::MAX);
    }
}

/// The one classification of GitLab's events into the snapshot's kinds. `opened` is GitLab's
/// `action_name` for created, re-opened *and* (non-wiki) updated items (`app/models/event.rb`),
/// so the "opened" kinds count all three; the site names them that way and never as new work.
fn event_kind(e: &Event) -> ActivityKind {
    let target = e.target_type.as_deref().unwrap_or("");
    match e.action_name.as_str() {
        // "pushed" is what older GitLab and the docs' example send
        "pushed to" | "pushed new" | "pushed" => ActivityKind::Pushes,
        "opened" | "created" if target == "MergeRequest" => ActivityKind::MrsOpened,
        "opened" | "created" if is_issue(target) => ActivityKind::IssuesOpened,
        "accepted" | "merged" => ActivityKind::MrsMerged,
        "approved" => ActivityKind::MrsApproved,
        "closed" if is_issue(target) => ActivityKind::IssuesClosed,
        "commented on" | "commented" => ActivityKind::Comments,
        _ => ActivityKind::Other,
    }
}

/// GitLab's `state` as the snapshot keeps it.
fn user_state(state: seatwatch_gitlab::types::UserState) -> UserState {
    use seatwatch_gitlab::types::UserState as GitLab;
    match state {
        GitLab::Active => UserState::Active,
        GitLab::Blocked => UserState::Blocked,
        GitLab::Deactivated => UserState::Deactivated,
        GitLab::Banned => UserState::Banned,
        GitLab::LdapBlocked => UserState::LdapBlocked,
        GitLab::BlockedPendingApproval => UserState::BlockedPendingApproval,
        GitLab::Other(name) => UserState::Other(name),
    }
}

/// A member as the self-managed `/users` listing shows them.
fn member_from_user(u: User) -> Member {
    Member {
        id: u.id,
        username: u.username,
        name: u.name,
        email: u.email,
        state: user_state(u.state),
        bot: u.bot.unwrap_or(false),
        admin: u.is_admin.unwrap_or(false),
        auditor: u.is_auditor.unwrap_or(false),
        external: u.external.unwrap_or(false),
        // GitLab's own signal; an instance without a licence has none, so nobody holds one.
        holds_seat: u.using_license_seat.unwrap_or(false),
        membership_type: None,
        created_at: u.created_at,
        last_activity_on: u.last_activity_on,
        last_sign_in_at: u.last_sign_in_at,
        current_sign_in_at: u.current_sign_in_at,
        last_login_at: None,
        member_since: None,
        activity: Activity::default(),
        activity_unknown: false,
        last_contribution_on: None,
    }
}

/// A member as GitLab.com's `billable_members` listing shows them.
fn member_from_billable(b: BillableMember) -> Member {
    Member {
        id: b.id,
        username: b.username,
        name: b.name,
        email: b.email,
        state: user_state(b.state),
        bot: false,
        admin: false,
        auditor: false,
        external: false,
        // presence in billable_members is GitLab.com's seat signal
        holds_seat: true,
        membership_type: b.membership_type,
        created_at: b.created_at,
        last_activity_on: b.last_activity_on,
        last_sign_in_at: None,
        current_sign_in_at: None,
        last_login_at: b.last_login_at,
        member_since: None,
        activity: Activity::default(),
        activity_unknown: false,
        last_contribution_on: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(json: &str) -> Vec<Event> {
        serde_json::from_str(json).expect("events parse")
    }

    #[test]
    fn pushed_without_to_counts_as_a_push_quirk() {
        // The docs' example sends action_name "pushed"; live GitLab sends "pushed to".
        let a = count_activity(&events(
            r#"[{"id":1,"action_name":"pushed","target_type":null,"created_at":"2026-01-01T10:00:00Z","push_data":{"commit_count":3}},
                {"id":2,"action_name":"pushed to","target_type":null,"created_at":"2026-01-01T11:00:00Z","push_data":{"commit_count":2}},
                {"id":3,"action_name":"pushed new","target_type":null,"created_at":"2026-01-01T12:00:00Z","push_data":{"commit_count":0}}]"#,
        ));
        assert_eq!((a.pushes, a.commits), (3, 5), "{a:?}");
    }

    #[test]
    fn accepted_is_a_merged_merge_request_quirk() {
        let a = count_activity(&events(
            r#"[{"id":1,"action_name":"accepted","target_type":"MergeRequest","created_at":"2026-01-01T10:00:00Z"},
                {"id":2,"action_name":"opened","target_type":"MergeRequest","created_at":"2026-01-01T10:00:00Z"},
                {"id":3,"action_name":"opened","target_type":"Issue","created_at":"2026-01-01T10:00:00Z"},
                {"id":4,"action_name":"closed","target_type":"Issue","created_at":"2026-01-01T10:00:00Z"},
                {"id":5,"action_name":"approved","target_type":"MergeRequest","created_at":"2026-01-01T10:00:00Z"},
                {"id":6,"action_name":"commented on","target_type":"DiffNote","created_at":"2026-01-01T10:00:00Z"},
                {"id":7,"action_name":"joined","target_type":null,"created_at":"2026-01-01T10:00:00Z"}]"#,
        ));
        assert_eq!(a.mrs_merged, 1);
        assert_eq!(a.mrs_opened, 1);
        assert_eq!(a.issues_opened, 1);
        assert_eq!(a.issues_closed, 1);
        assert_eq!(a.mrs_approved, 1);
        assert_eq!(a.comments, 1);
        assert_eq!(a.other, 1);
    }

    #[test]
    fn a_deleted_branch_is_classified_once_not_as_a_push_regression() {
        // app/models/event.rb names a push that removes a ref "deleted"; it carries push_data.
        // The gitlab crate once had its own `Event::is_push`, which called every event with
        // push_data a push, while the counting here never did. `event_kind` is the only
        // classification now, and a deletion pushes no commits.
        let e = events(
            r#"[{"id":1,"action_name":"deleted","target_type":null,"created_at":"2026-01-01T10:00:00Z",
                 "push_data":{"commit_count":0,"action":"removed","ref_type":"branch","ref":"old"}}]"#,
        );
        assert_eq!(event_kind(&e[0]), ActivityKind::Other);
        let a = count_activity(&e);
        assert_eq!((a.pushes, a.commits, a.other), (0, 0, 1), "{a:?}");
    }

    #[test]
    fn every_event_lands_in_exactly_one_kind() {
        let e = events(
            r#"[{"id":1,"action_name":"pushed to","target_type":null,"created_at":"2026-01-01T10:00:00Z","push_data":{"commit_count":4}},
                {"id":2,"action_name":"opened","target_type":"MergeRequest","created_at":"2026-01-01T10:00:00Z"},
                {"id":3,"action_name":"closed","target_type":"MergeRequest","created_at":"2026-01-01T10:00:00Z"},
                {"id":4,"action_name":"joined","target_type":null,"created_at":"2026-01-01T10:00:00Z"}]"#,
        );
        for one in &e {
            let a = count_activity(std::slice::from_ref(one));
            assert_eq!(a.total_events(), 1, "{one:?}");
            assert_eq!(a.get(event_kind(one)), 1, "{one:?}");
        }
    }

    #[test]
    fn every_gitlab_user_state_keeps_its_name_in_the_snapshot() {
        for name in [
            "active",
            "blocked",
            "deactivated",
            "banned",
            "ldap_blocked",
            "blocked_pending_approval",
            "quarantined",
        ] {
            let sent: seatwatch_gitlab::types::UserState =
                serde_json::from_value(name.into()).unwrap();
            assert_eq!(user_state(sent).as_str(), name);
        }
    }

    #[test]
    fn work_item_events_are_issues_quirk() {
        // app/models/event.rb: ISSUE_TYPES = [Issue.name, WorkItem.name]
        let a = count_activity(&events(
            r#"[{"id":1,"action_name":"opened","target_type":"WorkItem","created_at":"2026-01-01T10:00:00Z"},
                {"id":2,"action_name":"closed","target_type":"WorkItem","created_at":"2026-01-01T11:00:00Z"}]"#,
        ));
        assert_eq!((a.issues_opened, a.issues_closed, a.other), (1, 1, 0));
    }

    #[test]
    fn events_go_on_the_instances_calendar_day_quirk() {
        // 23:30 UTC on the 1st is already the 2nd two hours east of UTC.
        let e = events(
            r#"[{"id":1,"action_name":"pushed to","target_type":null,"created_at":"2026-01-01T23:30:00Z"}]"#,
        );
        let days = ActivityDays {
            first: "2026-01-01".parse().unwrap(),
            last: "2026-01-02".parse().unwrap(),
        };
        let utc = count_activity_by_day(&e, Tz::UTC, days);
        let east: Tz = "Etc/GMT-2".parse().unwrap();
        let local = count_activity_by_day(&e, east, days);
        assert_eq!(utc.keys().copied().collect::<Vec<_>>(), vec![days.first]);
        assert_eq!(local.keys().copied().collect::<Vec<_>>(), vec![days.last]);
    }

    #[test]
    fn fixture_events_count_their_comment() {
        let body = include_bytes!("../../../tests/fixtures/gitlab/user_events.json");
        let parsed = seatwatch_gitlab::types::parse_events(body).expect("fixture parses");
        assert_eq!(count_activity(&parsed).comments, 1);
    }
}
