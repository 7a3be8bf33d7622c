//! Fuzzes the typed GitLab responses (`types.rs`): every body either parses or is refused with
//! an error, never a panic. (What the collector makes of them is `seatwatch`'s to test; this
//! fuzz workspace depends on the gitlab crate alone.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatwatch_gitlab::types::{BillableMembership, parse_events};
use seatwatch_gitlab::{
    BillableMember, CurrentUser, Group, License, MemberAccess, Metadata, Namespace,
    PersonalAccessToken, User,
};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Vec<User>>(data);
    let _ = serde_json::from_slice::<Vec<BillableMember>>(data);
    let _ = serde_json::from_slice::<Vec<BillableMembership>>(data);
    let _ = parse_events(data);
    let _ = serde_json::from_slice::<License>(data);
    let _ = serde_json::from_slice::<Namespace>(data);
    let _ = serde_json::from_slice::<Group>(data);
    if let Ok(m) = serde_json::from_slice::<Metadata>(data) {
        let _ = m.is_enterprise();
    }
    let _ = serde_json::from_slice::<CurrentUser>(data);
    if let Ok(access) = serde_json::from_slice::<MemberAccess>(data) {
        let _ = access.role();
    }
    if let Ok(pat) = serde_json::from_slice::<PersonalAccessToken>(data) {
        let _ = pat.has_scope("read_api");
    }
});
