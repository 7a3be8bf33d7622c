//! seatwatch: which paid GitLab seats nobody uses, what they cost, and how use is trending.
//!
//! Data flows one way: [`gitlab`] → [`collect`] → [`store`] → [`analyse`] → [`site`] →
//! [`publish`]. `analyse` and `site` know nothing of HTTP or AWS; the Lambda binaries in
//! `functions/` and the CLI in `main.rs` only build clients and call into this library.

pub mod analyse;
pub mod app;
pub mod check;
pub mod collect;
pub mod config;
pub mod demo;
pub mod emf;
pub mod gitlab;
pub mod lambda;
pub mod publish;
pub mod secrets;
pub mod sim;
pub mod site;
pub mod snapshot;
pub mod store;
