//! A verified offset listing ([`Client::billable_members_from`]) fetched a window of requests
//! ahead, then checked in order.
//!
//! The requests of a verified listing are known in advance: each is [`overlapping_page`] of
//! where the one before it ends, were it full. So they are asked for at once and their answers
//! are checked in order, exactly as one after the other would be ([`offset_verdict`]): a
//! request whose first row is not one already listed shows that a member was removed before it
//! while the listing ran, and the listing then reads further back from there, one request at a
//! time, and plans its window again. Before the first answer the window is
//! [`Client::listing_concurrency`] requests; after it, the client's concurrency. Where GitLab
//! gives `X-Total` (10,000 rows or fewer) nothing more is asked beyond it but one request at a
//! time; above that the window is speculative and ends at the first short page, so at most the
//! window's other requests are wasted.
//!
//! Each request is a task of its own, so it frees its slot of the client when GitLab answers,
//! not when the consumer takes its page: a window of every slot then starves nothing (issue 14:
//! a listing allowed every slot, with requests that held their slots until their pages were
//! taken, left none for the events its pages wait on). The answers wait in the window.
//!
//! Why this keeps the one-after-the-other guarantee: two overlapping requests, each a run of
//! consecutive rows in id order when GitLab read it, cover every id between the first one's first
//! row and the second one's last row that existed at both times, whatever happened between
//! them or in which order GitLab answered them, as long as the second starts at or before the
//! first one's last row — which is what the check asks.

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, StreamExt};
use serde::de::DeserializeOwned;
use url::Url;

use super::{
    Client, Listed, ListingPosition, OffsetStep, OffsetVerdict, offset_verdict, overlapping_page,
    with_page_size,
};
use crate::error::GitLabError;
use crate::headers::PageInfo;

/// A spawned request, aborted when the window drops it (the listing stopped or read back).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| match joined {
                Ok(answer) => answer,
                // Invariant: only this handle aborts the task, and it is then never polled again.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            })
    }
}

/// One request of the window and its answer.
struct Planned<T> {
    offset: u64,
    per_page: u64,
    answer: Result<(Vec<T>, PageInfo), GitLabError>,
}

/// Where a verified offset listing stands, and the requests asked for ahead of it.
pub(super) struct OffsetWindow<'a, T> {
    base: Url,
    /// The rows before `end` were read, every id up to `last_id` listed (the last checked
    /// request).
    end: u64,
    last_id: Option<u64>,
    /// Where the last request asked for ends, were every request asked for full.
    planned_end: u64,
    /// `X-Total` once an answer gave it.
    total: Option<u64>,
    answered: bool,
    finished: bool,
    ahead: FuturesOrdered<BoxFuture<'a, Planned<T>>>,
}

impl<'a, T> OffsetWindow<'a, T>
where
    T: DeserializeOwned + Listed + Send + 'static,
{
    pub(super) fn new(base: Url, end: u64, last_id: Option<u64>) -> Self {
        OffsetWindow {
            base,
            end,
            last_id,
            planned_end: end,
            total: None,
            answered: false,
            finished: false,
            ahead: FuturesOrdered::new(),
        }
    }

    /// The next checked request's rows not listed before and where the listing continues;
    /// `None` after the last.
    pub(super) async fn next_step(
        &mut self,
        client: &'a Client,
    ) -> Option<Result<OffsetStep<T>, GitLabError>> {
        if self.finished {
            return None;
        }
        self.fill(client);
        let Planned {
            offset,
            per_page,
            answer,
        } = self.ahead.next().await?;
        let step = match answer {
            Ok((rows, info)) => {
                self.answered = true;
                self.total = self.total.or(info.total);
                let endpoint = client.endpoint_of(&self.base);
                match offset_verdict(&endpoint, rows, offset, per_page, self.end, self.last_id) {
                    Ok(OffsetVerdict::Step(step)) => Ok(step),
                    Ok(OffsetVerdict::Shifted) => {
                        // The window was planned on rows that moved: read back from here, then
                        // plan again from where that ends.
                        self.ahead = FuturesOrdered::new();
                        client.offset_step(&self.base, offset, self.last_id).await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match &step {
            Ok(OffsetStep {
                next: Some(ListingPosition::Offset { end, last_id }),
                ..
            }) => {
                self.end = *end;
                self.last_id = *last_id;
                if self.ahead.is_empty() {
                    self.planned_end = *end;
                }
            }
            _ => {
                self.finished = true;
                self.ahead = FuturesOrdered::new();
            }
        }
        Some(step)
    }

    /// Asks for the planned requests: until the first answer tells whether GitLab counts the
    /// rows, [`Client::listing_concurrency`] of them (a guess that the rows fill that many
    /// pages: at most that many less one asked past the end of a smaller listing, where waiting
    /// for the count left most of the client idle for the first round trip); then up to the
    /// client's concurrency, none past the count but one at a time.
    fn fill(&mut self, client: &'a Client) {
        let window = if self.answered {
            client.concurrency()
        } else {
            client.listing_concurrency()
        };
        while self.ahead.len() < window {
            let (page, per_page, offset) = overlapping_page(self.planned_end);
            let past_the_count = self.total.is_some_and(|total| offset >= total);
            if !self.ahead.is_empty() && past_the_count {
                break;
            }
            let url = with_page_size(&self.base, page, per_page);
            // A task of its own: the request ends (and frees its slot of the client) when GitLab
            // answers, not when the listing's consumer takes the page.
            let request = AbortOnDrop(tokio::spawn({
                let client = client.clone();
                async move { client.get_page::<T>(&url).await }
            }));
            self.ahead.push_back(Box::pin(async move {
                Planned {
                    offset,
                    per_page,
                    answer: request.await,
                }
            }));
            self.planned_end = offset + per_page;
        }
    }
}
