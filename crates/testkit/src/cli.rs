//! The `seatwatch` binary as tests run it: a clean environment, so that only what a test gives it
//! (and no credential or setting of the machine's) reaches it.
//!
//! Cargo gives the binary's path only to the root package's own integration tests, so they pass
//! `env!("CARGO_BIN_EXE_seatwatch")` in.

use std::path::Path;

/// `bin` with an empty environment but `PATH`.
pub fn command(bin: impl AsRef<Path>) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin.as_ref());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// [`command`] for a test that awaits the process.
pub fn async_command(bin: impl AsRef<Path>) -> tokio::process::Command {
    command(bin).into()
}
