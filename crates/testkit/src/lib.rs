//! Shared helpers for integration tests: real servers on free loopback ports, stopped on drop
//! (the simulated GitLab, moto, a fault proxy), the client, stores and the CLI set up as every test
//! needs them, a `Member` builder and synthetic data.

pub mod browser;
pub mod cli;
pub mod gitlab;
pub mod members;
pub mod moto;
pub mod proxy;
pub mod store;
pub mod synthetic;
pub mod template;

use std::path::PathBuf;

/// The repository's root, where `infra/`, `tests/` and `.venv` are.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
