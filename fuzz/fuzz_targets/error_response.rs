//! Fuzzes `GitLabError::from_response`: whatever status and body a server sends, the error is
//! built, prints, and classifies without panicking, and its message stays one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatwatch_gitlab::GitLabError;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let body = &data[2..];
    let err = GitLabError::from_response("/users", status, body);
    let message = err.to_string();
    assert!(!message.contains('\n'), "multi-line error: {message:?}");
    let _ = err.hint();
    let _ = err.is_auth();
    let _ = err.is_retryable();
    let _ = err.endpoint();
    let _ = format!("{err:?}");
});
