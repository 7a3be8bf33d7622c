//! Who gets the next in-flight slot when every one is taken: the request of the highest
//! [`Priority`], and of those the one that asked first.
//!
//! A run is bound by its requests in flight, and not all of them are alike: every later request
//! waits on the member listing's pages, while the Duo seats are read for the day record and
//! nothing waits on them. Handed out in the order asked, a read of thirty Duo pages asked at
//! once took every slot for three round trips and the listing's end, and everything that
//! follows it, moved back by as much (issue 14: on a first snapshot of a quiet GitLab.com group,
//! two round trips after the last page were the difference to the 10x target). Handed out by
//! priority, the background read takes the slots the listing and its members leave free.
//!
//! tokio's `Semaphore` is fair but has one queue; this is the same thing with one queue per
//! priority. The pacer's window ([`crate::headers`]) still decides how many slots there are.
//!
//! Only handles given a priority ([`super::Client::with_priority`]) stand in this line; the
//! collector gives them on GitLab.com only. Handles without one take whichever slot frees first:
//! the self-managed partition walkers hold their slot until their page is taken, and any fixed
//! order made those runs slower (docs/DECISIONS.md).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Which requests go first when every in-flight slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Member listings: every later request of a run waits on their pages.
    Listing,
    /// Requests about members already listed (events, membership ages) and the day header.
    Members,
    /// Reads nothing else waits on (the Duo seats): they take the slots nobody else wants.
    Background,
}

const PRIORITIES: usize = 3;

/// A fixed number of places, handed out by priority, then in the order asked.
pub(super) struct Queue {
    state: Mutex<State>,
}

struct State {
    free: usize,
    /// One line per [`Priority`], in its order; a sender is a waiting request.
    waiting: [VecDeque<oneshot::Sender<()>>; PRIORITIES],
}

/// A place taken in the [`Queue`], given back when dropped.
pub(super) struct Place<'a> {
    queue: &'a Queue,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.queue.give_back();
    }
}

/// A request waiting in line; if it is dropped (cancelled) after a place was handed to it, the
/// place goes to the next in line.
struct Waiting<'a> {
    queue: &'a Queue,
    answer: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut answer) = self.answer.take() {
            answer.close();
            if answer.try_recv().is_ok() {
                self.queue.give_back();
            }
        }
    }
}

impl Queue {
    pub(super) fn new(places: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                free: places,
                waiting: Default::default(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a place: at once if one is free, else after every request of a higher
    /// priority and every earlier one of the same.
    pub(super) async fn enter(&self, priority: Priority) -> Place<'_> {
        let answer = {
            let mut state = self.state();
            if state.free > 0 {
                state.free -= 1;
                return Place { queue: self };
            }
            let (give, answer) = oneshot::channel();
            state.waiting[priority as usize].push_back(give);
            answer
        };
        let mut waiting = Waiting {
            queue: self,
            answer: Some(answer),
        };
        if let Some(answer) = waiting.answer.as_mut() {
            // Invariant: a waiting request's sender is only dropped by sending to it (the queue
            // lives as long as the client that waits on it).
            answer.await.expect("the queue outlives its waiters");
        }
        waiting.answer = None;
        Place { queue: self }
    }

    /// Hands a place to the first request in line, or frees it.
    fn give_back(&self) {
        let mut state = self.state();
        for line in state.waiting.iter_mut() {
            while let Some(next) = line.pop_front() {
                if next.send(()).is_ok() {
                    return;
                }
                // that request was cancelled while it waited
            }
        }
        state.free += 1;
    }

    /// Places free now (for tests).
    #[cfg(test)]
    fn free(&self) -> usize {
        self.state().free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Starts a task that enters `queue` at `priority`, records its name once in, and holds
    /// its place until told to go.
    fn waiter(
        queue: &Arc<Queue>,
        priority: Priority,
        name: &'static str,
        order: &Arc<Mutex<Vec<&'static str>>>,
    ) -> (tokio::task::JoinHandle<()>, oneshot::Sender<()>) {
        let (go, leave) = oneshot::channel::<()>();
        let queue = queue.clone();
        let order = order.clone();
        let task = tokio::spawn(async move {
            let _place = queue.enter(priority).await;
            order.lock().unwrap().push(name);
            let _ = leave.await;
        });
        (task, go)
    }

    async fn until_waiting(queue: &Queue, n: usize) {
        while queue
            .state()
            .waiting
            .iter()
            .map(VecDeque::len)
            .sum::<usize>()
            < n
        {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn places_go_by_priority_then_in_the_order_asked() {
        let queue = Arc::new(Queue::new(1));
        let order = Arc::new(Mutex::new(Vec::new()));
        let (first, go_first) = waiter(&queue, Priority::Background, "holder", &order);
        while queue.free() > 0 {
            tokio::task::yield_now().await;
        }
        let mut rest = Vec::new();
        for (i, (priority, name)) in [
            (Priority::Background, "duo-1"),
            (Priority::Members, "events-1"),
            (Priority::Background, "duo-2"),
            (Priority::Listing, "page-1"),
            (Priority::Members, "events-2"),
            (Priority::Listing, "page-2"),
        ]
        .into_iter()
        .enumerate()
        {
            rest.push(waiter(&queue, priority, name, &order));
            until_waiting(&queue, i + 1).await;
        }
        go_first.send(()).unwrap();
        first.await.unwrap();
        for (task, go) in rest {
            // each leaves as soon as it is in; the order they entered is what counts
            let _ = go.send(());
            drop(task);
        }
        while order.lock().unwrap().len() < 7 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                "holder", "page-1", "page-2", "events-1", "events-2", "duo-1", "duo-2"
            ]
        );
    }

    #[tokio::test]
    async fn a_cancelled_waiter_passes_its_place_on() {
        let queue = Arc::new(Queue::new(1));
        let held = queue.enter(Priority::Members).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let cancelled = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let _place = queue.enter(Priority::Listing).await;
            })
        };
        until_waiting(&queue, 1).await;
        let (next, go) = waiter(&queue, Priority::Background, "next", &order);
        until_waiting(&queue, 2).await;
        cancelled.abort();
        let _ = cancelled.await;
        drop(held);
        while order.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        go.send(()).unwrap();
        next.await.unwrap();
        assert_eq!(queue.free(), 1, "every place is back");
    }
}
