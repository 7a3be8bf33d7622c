//! Shared helpers for integration tests: real servers on free loopback ports, stopped on drop.

pub mod moto;
pub mod proxy;
pub mod synthetic;
pub mod template;

use std::path::PathBuf;

/// The repository's root, where `infra/`, `tests/` and `.venv` are.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
