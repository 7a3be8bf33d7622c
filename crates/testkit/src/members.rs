//! A [`Member`] builder: [`member`] is a plain member (active, holds a seat, no dates, no
//! activity) that a test changes only in what it is about, `Member { bot: true, ..member(7) }`,
//! so that a new field of `Member` is added here once, not in every test.

use seatwatch_core::snapshot::{Activity, Member, UserState};

/// An active seat holder `user{id}` with nothing else set.
pub fn member(id: u64) -> Member {
    Member {
        id,
        username: format!("user{id}"),
        name: format!("User {id}"),
        email: None,
        state: UserState::Active,
        bot: false,
        admin: false,
        auditor: false,
        external: false,
        holds_seat: true,
        membership_type: None,
        created_at: None,
        last_activity_on: None,
        last_sign_in_at: None,
        current_sign_in_at: None,
        last_login_at: None,
        member_since: None,
        activity: Activity::default(),
        activity_unknown: false,
    }
}
