//! `GET /users` walked in creation-time partitions at once ([`Client::users_in_parallel_from`]):
//! the scheduler that runs [`crate::partition`]'s plan.
//!
//! One task owns every partition; each request carries the id of its partition and the bounds it
//! asked for, and its answer is applied when it arrives, to the partition as it is *then* (a split
//! may have narrowed it meanwhile). Pages are yielded in the order they are applied, each with
//! the position of the whole listing after it: the partitions and their keyset links. Requests
//! still in flight are not part of a position, so a run resumed from it asks them again and
//! lists exactly what the uninterrupted run would have.
//!
//! What is guaranteed, users are created and deleted while it runs or not: every user present for
//! the whole listing is yielded exactly once (a partition owns it by its `created_at`, which never
//! changes, and its partition's keyset walk neither skips nor repeats a row); a user deleted
//! during the listing is yielded at most once; a user created during it lands in the open last
//! partition and is yielded once if that partition was still walking, else not at all — as with
//! one serial walk.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, FuturesUnordered, Stream, StreamExt};
use url::Url;

use super::{Client, ListingPosition, PER_PAGE, UsersPage};
use crate::error::GitLabError;
use crate::headers::PageInfo;
use crate::partition::{self, Partition, RequestBounds};
use crate::types::User;

/// The query parameters GitLab's `/users` filters by creation time with.
const CREATED_AFTER: &str = "created_after";
const CREATED_BEFORE: &str = "created_before";

/// One answered request: its partition, the bounds it asked for, and the page.
type Answered = (
    u64,
    RequestBounds,
    Result<(Vec<User>, PageInfo), GitLabError>,
);

/// How the listing begins.
enum Begun {
    /// One walk, from this position (`None`: from the start), as [`Client::users_from`] does.
    Serial(Option<ListingPosition>),
    /// Partitions, with the page already read (a fresh listing's first).
    Parallel(Box<Walks>, Option<UsersPage>),
    Failed(GitLabError),
}

/// The partitions of one listing and what is walking them.
struct Walks {
    partitions: Vec<Partition>,
    /// A stable id per partition (same order as `partitions`): answers find their partition
    /// after splits and merges moved it; an answer whose partition is gone is dropped.
    ids: Vec<u64>,
    next_id: u64,
    in_flight: HashSet<u64>,
    /// The newest creation second known: where an open partition's range ends, for cutting.
    newest: i64,
    filters_ignored: bool,
    /// User ids yielded by this invocation: a last guard against listing anyone twice.
    yielded: HashSet<u64>,
    /// Cuts made by this invocation ([`partition::cut_allowed`]).
    cuts: u64,
}

impl Walks {
    fn new(partitions: Vec<Partition>, newest: i64, filters_ignored: bool) -> Walks {
        let ids = (0..partitions.len() as u64).collect();
        Walks {
            next_id: partitions.len() as u64,
            partitions,
            ids,
            in_flight: HashSet::new(),
            newest,
            filters_ignored,
            yielded: HashSet::new(),
            cuts: 0,
        }
    }

    fn position(&self) -> Option<ListingPosition> {
        (!self.partitions.is_empty()).then(|| ListingPosition::Partitions {
            partitions: self.partitions.clone(),
            newest: self.newest,
            filters_ignored: self.filters_ignored,
        })
    }

    /// Cuts the only partition's remaining range into `pieces` at once ([`partition::fan_out`]).
    /// These cuts are not charged to the adaptive ones' allowance: equal widths land a bulk
    /// import in one piece, and the adaptive cuts are what spreads it over the walkers.
    fn fan_out(&mut self, pieces: usize) {
        let cuts = partition::fan_out(&mut self.partitions, self.newest, pieces);
        self.ids.extend(self.next_id..self.next_id + cuts as u64);
        self.next_id += cuts as u64;
    }

    /// The partitions to ask for now, up to `walkers` requests in flight: partitions waiting
    /// for their next page first, then new ones cut from the partition expected to hold the
    /// most rows, as many as the pages listed pay for (never once GitLab was found to ignore
    /// the filters).
    fn launches(&mut self, walkers: usize) -> Vec<(u64, Partition)> {
        let mut launch = Vec::new();
        while self.in_flight.len() < walkers {
            let idle = (0..self.partitions.len()).find(|&i| !self.in_flight.contains(&self.ids[i]));
            let index = match idle {
                Some(index) => index,
                None if self.filters_ignored => break,
                None if !partition::cut_allowed(self.cuts, walkers, self.yielded.len() as u64) => {
                    break;
                }
                None => match partition::plan_split(&self.partitions, self.newest) {
                    Some(split) => {
                        self.cuts += 1;
                        partition::apply_split(&mut self.partitions, split);
                        self.ids.insert(split.index + 1, self.next_id);
                        self.next_id += 1;
                        split.index + 1
                    }
                    None => break,
                },
            };
            self.in_flight.insert(self.ids[index]);
            launch.push((self.ids[index], self.partitions[index].clone()));
        }
        launch
    }

    /// Applies one answered request; returns the users it lists (owned by its partition and not
    /// yielded before).
    fn apply(
        &mut self,
        client: &Client,
        id: u64,
        asked: RequestBounds,
        users: Vec<User>,
        info: PageInfo,
    ) -> Result<Vec<User>, GitLabError> {
        self.in_flight.remove(&id);
        let created = created_in_order(&users)?;
        if !self.filters_ignored && created.iter().any(|t| asked.excludes(*t)) {
            self.fall_back_to_one_walk();
        }
        // Merged away (or never known): its range is walked by another partition now.
        let Some(index) = self.ids.iter().position(|&known| known == id) else {
            return Ok(Vec::new());
        };
        let part = &mut self.partitions[index];
        let past_the_end = created
            .iter()
            .any(|t| part.until.is_some_and(|until| t.timestamp() >= until));
        let mut owned_at = Vec::new();
        let mut owned = Vec::new();
        for (user, at) in users.into_iter().zip(created) {
            if part.owns(at) && self.yielded.insert(user.id) {
                owned_at.push(at);
                owned.push(user);
            }
        }
        part.record(&owned_at);
        if let Some(last) = part.last_created {
            self.newest = self.newest.max(last.timestamp());
        }
        let next = match info.next_link.filter(|_| !past_the_end) {
            Some(link) => Some(
                client
                    .follow(&link)
                    .map_err(|reason| bad_users_body(&reason))?,
            ),
            None => None,
        };
        match next {
            Some(next) if part.next.as_deref() == Some(next.as_str()) => Err(bad_users_body(
                "the Link rel=\"next\" header points back at the same page",
            )),
            Some(next) => {
                part.next = Some(next.to_string());
                Ok(owned)
            }
            None => {
                self.partitions.remove(index);
                self.ids.remove(index);
                Ok(owned)
            }
        }
    }

    /// GitLab ignored `created_after` / `created_before`: no more cuts, and every partition that
    /// listed nothing goes to the one before it, which walks through its range anyway.
    fn fall_back_to_one_walk(&mut self) {
        tracing::info!(
            "this GitLab ignores created_after/created_before on /users: listing in one walk"
        );
        self.filters_ignored = true;
        let removed = partition::merge_unstarted(&mut self.partitions);
        let mut index = 0;
        self.ids.retain(|_| {
            let keep = !removed.contains(&index);
            index += 1;
            keep
        });
    }
}

/// The rows' `created_at`, checked to be there and in ascending order (what
/// `order_by=created_at&sort=asc` asks): a partition's walk relies on both.
fn created_in_order(users: &[User]) -> Result<Vec<DateTime<Utc>>, GitLabError> {
    let created: Vec<DateTime<Utc>> = users.iter().filter_map(|u| u.created_at).collect();
    if created.len() != users.len() {
        return Err(bad_users_body(
            "a user without created_at came back in a listing by creation time",
        ));
    }
    if created.windows(2).any(|w| w[0] > w[1]) {
        return Err(bad_users_body(
            "the users did not come back in created_at order, so the partitions cannot be shown complete",
        ));
    }
    Ok(created)
}

fn bad_users_body(reason: &str) -> GitLabError {
    GitLabError::BadBody {
        endpoint: "/users".into(),
        reason: reason.to_string(),
        attempts: 1,
    }
}

/// A time as `created_after` / `created_before` take it (ISO 8601, UTC, whole seconds).
fn filter_time(second: i64) -> String {
    DateTime::from_timestamp(second, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `url` with its creation-time filters replaced by `bounds` (a bound that is `None` removed).
fn with_bounds(url: &Url, bounds: RequestBounds) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != CREATED_AFTER && k != CREATED_BEFORE)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    {
        let mut query = out.query_pairs_mut();
        query.clear().extend_pairs(kept);
        if let Some(after) = bounds.after {
            query.append_pair(CREATED_AFTER, &filter_time(after));
        }
        if let Some(before) = bounds.before {
            query.append_pair(CREATED_BEFORE, &filter_time(before));
        }
    }
    out
}

/// Whether an answer to `pagination=keyset` is numbered offset pages instead: GitLab before
/// 16.5 called `paginate` in `lib/api/users.rb`, which ignores `pagination`.
pub(super) fn keyset_ignored(headers: &reqwest::header::HeaderMap, info: &PageInfo) -> bool {
    headers.contains_key("x-page")
        || info.next_link.as_deref().is_some_and(|link| {
            super::link_has_param(link, "page") && !super::link_has_param(link, "cursor")
        })
}

impl Client {
    /// `GET /users`, every user once, walked in creation-time partitions at once (up to the
    /// listing concurrency, [`Client::listing_concurrency`]), from the start (`None`) or a saved position. Each page comes with
    /// the position of the whole listing after it (`None` after the last).
    ///
    /// Falls back, by itself, to the one walk of [`Client::users_from`] where partitions cannot
    /// work: a GitLab without keyset pagination on `/users` (offset pages come back, or 405),
    /// a first page not in `created_at` order (the order was not honoured), and users without
    /// `created_at`. A GitLab that ignores `created_after` is noticed by a
    /// row outside the range asked for; the partitions that listed nothing are merged then, and
    /// ownership by `created_at` keeps the listing exact throughout. A saved serial position
    /// (`Keyset`, `Offset`) continues serially.
    pub fn users_in_parallel_from(
        &self,
        from: Option<ListingPosition>,
    ) -> impl Stream<Item = Result<UsersPage, GitLabError>> + Send + '_ {
        stream::once(self.begin_users(from)).flat_map(move |begun| match begun {
            Begun::Serial(from) => self.users_from(from).boxed(),
            Begun::Parallel(walks, first) => stream::iter(first.map(Ok))
                .chain(self.walk_partitions(*walks))
                .boxed(),
            Begun::Failed(e) => stream::iter([Err(e)]).boxed(),
        })
    }

    async fn begin_users(&self, from: Option<ListingPosition>) -> Begun {
        match from {
            None => self.begin_fresh_users().await,
            Some(ListingPosition::Partitions {
                partitions,
                newest,
                filters_ignored,
            }) => Begun::Parallel(
                Box::new(Walks::new(partitions, newest, filters_ignored)),
                None,
            ),
            Some(serial) => Begun::Serial(Some(serial)),
        }
    }

    /// The first page of the whole range, and (at the same time) the newest user, whose
    /// creation second ends the open partition's range.
    async fn begin_fresh_users(&self) -> Begun {
        let first_url = self.users_by_creation_url(true, PER_PAGE);
        let newest_url = self.users_by_creation_url(false, "1");
        let (first, newest) = futures_util::future::join(
            self.get::<Vec<User>>(&first_url),
            self.get::<Vec<User>>(&newest_url),
        )
        .await;
        let first = match first {
            Ok(first) => first,
            // lib/api/helpers/pagination_strategies.rb: "Keyset pagination is not yet available
            // for this type of request" where this order is not a supported keyset ordering.
            Err(GitLabError::Status { status: 405, .. }) => return Begun::Serial(None),
            Err(e) => return Begun::Failed(e),
        };
        let info = PageInfo::from_headers(&first.headers);
        if keyset_ignored(&first.headers, &info) {
            tracing::info!(
                "this GitLab ignores keyset pagination on /users (older than 16.5): listing with overlapping offset pages"
            );
            return Begun::Serial(Some(ListingPosition::Offset {
                end: 0,
                last_id: None,
            }));
        }
        let newest = match newest {
            Ok(newest) => newest.value,
            Err(e) => return Begun::Failed(e),
        };
        let undated = |users: &[User]| users.iter().any(|u| u.created_at.is_none());
        if undated(&first.value) || undated(&newest) {
            // Neither created_after nor created_before matches a NULL created_at.
            tracing::info!("users without created_at: listing /users in one walk");
            return Begun::Serial(None);
        }
        if created_in_order(&first.value).is_err() {
            // `order_by` is honoured for admins only (`can_read_all_resources?`, lib/api/users.rb):
            // a walk by creation time cannot be shown complete without it.
            tracing::info!("/users did not come back in created_at order: listing in one walk");
            return Begun::Serial(None);
        }
        let newest_id = newest.first().map_or(0, |u| u.id);
        let newest = newest
            .first()
            .and_then(|u| u.created_at)
            .map_or(0, |t| t.timestamp());
        let first_page_last_id = first.value.iter().map(|u| u.id).max().unwrap_or(0);
        let mut walks = Walks::new(vec![Partition::new(None, None)], newest, false);
        walks.in_flight.insert(0);
        let unbounded = RequestBounds {
            after: None,
            before: None,
        };
        match walks.apply(self, 0, unbounded, first.value, info) {
            Ok(users) => {
                let rows_left = newest_id.saturating_sub(first_page_last_id);
                walks.fan_out(partition::fan_out_pieces(
                    rows_left,
                    self.listing_concurrency(),
                ));
                let next = walks.position();
                Begun::Parallel(Box::new(walks), Some(UsersPage { users, next }))
            }
            Err(e) => Begun::Failed(e),
        }
    }

    /// The partitions walked until none is left, a page per answer, in the order they arrive.
    fn walk_partitions(
        &self,
        walks: Walks,
    ) -> impl Stream<Item = Result<UsersPage, GitLabError>> + Send + '_ {
        let walkers = self.listing_concurrency();
        let pending: FuturesUnordered<BoxFuture<'_, Answered>> = FuturesUnordered::new();
        stream::unfold(Some((walks, pending)), move |state| async move {
            let (mut walks, mut pending) = state?;
            for (id, part) in walks.launches(walkers) {
                match self.partition_request(&part) {
                    Ok(url) => pending.push(self.partition_page(id, part.request_bounds(), url)),
                    Err(e) => return Some((Err(e), None)),
                }
            }
            let (id, asked, answer) = pending.next().await?;
            let page = answer.and_then(|(users, info)| walks.apply(self, id, asked, users, info));
            match page {
                Ok(users) => {
                    let next = walks.position();
                    Some((Ok(UsersPage { users, next }), Some((walks, pending))))
                }
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    fn partition_page(&self, id: u64, asked: RequestBounds, url: Url) -> BoxFuture<'_, Answered> {
        Box::pin(async move {
            let answer = self.get_page::<User>(&url).await;
            (id, asked, answer)
        })
    }

    /// The request that continues `part`: its keyset link, or its first page, with the
    /// partition's bounds as they are now.
    fn partition_request(&self, part: &Partition) -> Result<Url, GitLabError> {
        let url = match &part.next {
            Some(link) => self.follow(link).map_err(|reason| GitLabError::Config {
                reason: format!(
                    "cannot continue the user listing from the saved position: {reason}"
                ),
            })?,
            None => self.users_by_creation_url(true, PER_PAGE),
        };
        Ok(with_bounds(&url, part.request_bounds()))
    }

    /// `/users` by creation time, keyset-paginated, oldest first (`ascending`) or newest first.
    fn users_by_creation_url(&self, ascending: bool, per_page: &str) -> Url {
        let mut url = self.api_url(&["users"]);
        url.query_pairs_mut()
            .append_pair("pagination", "keyset")
            .append_pair("order_by", "created_at")
            .append_pair("sort", if ascending { "asc" } else { "desc" })
            .append_pair("per_page", per_page);
        url
    }
}
