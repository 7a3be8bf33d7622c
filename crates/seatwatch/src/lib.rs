//! seatwatch, the application: which paid GitLab seats nobody uses, what they cost, and how use
//! is trending.
//!
//! Data flows one way: `seatwatch_gitlab` → [`collect`] → [`store`] (with [`contributions`] and [`duo`]) → `seatwatch_core::analyse`
//! → `seatwatch_core::site` → [`publish`]. This crate wires them together ([`app`]), reads the
//! settings ([`config`]) and the token ([`secrets`]), checks the connection ([`check`]) and holds
//! the Lambda contracts ([`lambda`], [`emf`]); the Lambda binaries in `functions/` and the CLI in
//! `crates/cli` only build clients and call into it.

pub mod app;
pub mod check;
pub mod collect;
pub mod config;
pub mod contributions;
pub mod duo;
pub mod emf;
pub mod lambda;
mod membership_age;
pub mod publish;
pub mod secrets;
pub mod store;
