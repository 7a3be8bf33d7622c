//! A [`Member`] builder: [`member`] is a plain member (active, holds a seat, no dates, no
//! activity) that a test changes only in what it is about, `Member { bot: true, ..member(7) }`,
//! so that a new field of `Member` is added once (in `Member::seat_holder`), not in every test.

use seatwatch_core::snapshot::Member;

/// An active seat holder `user{id}` with nothing else set.
pub fn member(id: u64) -> Member {
    Member::seat_holder(id, format!("user{id}"), format!("User {id}"))
}
