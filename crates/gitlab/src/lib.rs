//! The only code that speaks to GitLab: a read-only client for its REST API (`/api/v4`) and, for
//! the Duo seats that only GraphQL exposes, its GraphQL API read over GET.
//!
//! - [`BaseUrl`] normalises what the user configured (relative roots, `/api/v4` suffixes) and
//!   refuses plain http:// to remote hosts.
//! - [`Token`] never prints itself; it travels only in the `PRIVATE-TOKEN` header.
//! - [`Client`] can only send GET. It paginates (keyset for `/users`, offset elsewhere), retries
//!   429/5xx/timeouts/resets within a time budget, paces itself against GitLab's rate-limit
//!   headers and bounds the requests in flight.
//! - [`GitLabError`] names every failure GitLab sends and says what to do about it.
//! - [`graphql`] reads GitLab's GraphQL API over the same GET path (queries only): the Duo
//!   add-on purchases and their seat holders.
//! - [`types`] holds the serde types, tolerant of fields GitLab adds or omits.

mod base_url;
mod client;
mod error;
pub mod graphql;
pub mod headers;
pub mod partition;
mod token;
pub mod types;

pub use base_url::{BaseUrl, UrlError};
pub use client::{
    Client, ClientOptions, GROUP_MEMBER_IDS_PER_REQUEST, ListingPosition, Priority, Probe,
    UsersPage,
};
pub use error::GitLabError;
pub use graphql::{AddOnAccess, AddOnHolder, AddOnHolders, AddOnPurchase, AddOnScope, DuoActivity};
pub use headers::RateLimit;
pub use token::Token;
pub use types::MemberAccess;
pub use types::{
    BillableMember, CurrentUser, Event, Group, GroupMember, License, Metadata, Namespace,
    PersonalAccessToken, User,
};

#[cfg(test)]
mod client_tests;
