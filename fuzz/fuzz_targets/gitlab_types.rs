//! Fuzzes the typed GitLab responses (`types.rs`) and what the collector makes of them: every
//! body either parses or is refused with an error, never a panic; parsed users and billable
//! members convert to snapshot members and events count into activity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatwatch::collect::count_activity;
use seatwatch_gitlab::types::parse_events;
use seatwatch_gitlab::{
    BillableMember, CurrentUser, Group, License, Metadata, Namespace, PersonalAccessToken, User,
};
use seatwatch_core::snapshot::Member;

fuzz_target!(|data: &[u8]| {
    if let Ok(users) = serde_json::from_slice::<Vec<User>>(data) {
        for u in users {
            let _ = Member::from(u);
        }
    }
    if let Ok(members) = serde_json::from_slice::<Vec<BillableMember>>(data) {
        for m in members {
            let _ = Member::from(m);
        }
    }
    if let Ok(events) = parse_events(data) {
        let _ = count_activity(&events);
    }
    let _ = serde_json::from_slice::<License>(data);
    let _ = serde_json::from_slice::<Namespace>(data);
    let _ = serde_json::from_slice::<Group>(data);
    let _ = serde_json::from_slice::<Metadata>(data);
    let _ = serde_json::from_slice::<CurrentUser>(data);
    if let Ok(pat) = serde_json::from_slice::<PersonalAccessToken>(data) {
        let _ = pat.has_scope("read_api");
    }
});
