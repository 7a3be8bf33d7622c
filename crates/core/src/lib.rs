//! seatwatch's core: plain data and pure logic, with no tokio, HTTP, AWS or clock.
//!
//! - [`snapshot`]: what one day's collection holds (members, seats, activity counts).
//! - [`analyse`]: snapshots in, the report out (reclaimable seats and why, cost, forecast, trends,
//!   Duo seats, Guest candidates, renewal sizing).
//! - [`duo`]: GitLab Duo add-on seats as a snapshot records them.
//! - [`site`]: the report rendered as the static site's files (HTML, SVG charts, CSV, JSON).

pub mod analyse;
pub mod duo;
pub mod site;
pub mod snapshot;
