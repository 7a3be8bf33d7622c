//! The only code that speaks to GitLab: a read-only REST client for `/api/v4`.
//!
//! - [`BaseUrl`] normalises what the user configured (relative roots, `/api/v4` suffixes) and
//!   refuses plain http:// to remote hosts.
//! - [`Token`] never prints itself; it travels only in the `PRIVATE-TOKEN` header.
//! - [`Client`] can only send GET. It paginates (keyset for `/users`, offset elsewhere), retries
//!   429/5xx/timeouts/resets within a time budget, paces itself against GitLab's rate-limit
//!   headers and bounds the requests in flight.
//! - [`GitLabError`] names every failure GitLab sends and says what to do about it.
//! - [`types`] holds the serde types, tolerant of fields GitLab adds or omits.

mod base_url;
mod client;
mod error;
pub mod headers;
pub mod partition;
mod token;
pub mod types;

pub use base_url::{BaseUrl, UrlError};
pub use client::{Client, ClientOptions, ListingPosition, Probe, UsersPage};
pub use error::GitLabError;
pub use headers::RateLimit;
pub use token::Token;
pub use types::MemberAccess;
pub use types::{
    BillableMember, CurrentUser, Event, Group, License, Metadata, Namespace, PersonalAccessToken,
    User,
};

#[cfg(test)]
mod client_tests;
