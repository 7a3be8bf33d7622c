//! Display wrappers for figures on the pages.
//!
//! They write straight into the page buffer (no intermediate `String`) and are marked
//! [`HtmlSafe`]: their output is digits, dates and fixed words, so askama need not escape it. Text
//! that comes from GitLab never goes through these.

use std::fmt::{self, Display, Formatter, Write};

use askama::filters::HtmlSafe;
use chrono::NaiveDate;

/// What a missing figure shows as.
pub const NONE: &str = "—";

/// An integer with thousands separators: `12,345`.
#[derive(Clone, Copy)]
pub struct Count(pub u64);

impl Display for Count {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_grouped(f, self.0)
    }
}
impl HtmlSafe for Count {}

fn write_grouped(f: &mut Formatter<'_>, n: u64) -> fmt::Result {
    if n < 1000 {
        return write!(f, "{n}");
    }
    write_grouped(f, n / 1000)?;
    write!(f, ",{:03}", n % 1000)
}

/// A count that may be unknown.
#[derive(Clone, Copy)]
pub struct OptCount(pub Option<u64>);

impl Display for OptCount {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write_grouped(f, n),
            None => f.write_str(NONE),
        }
    }
}
impl HtmlSafe for OptCount {}

/// A day count that may be unknown (small numbers: no grouping needed).
#[derive(Clone, Copy)]
pub struct OptDays(pub Option<u32>);

impl Display for OptDays {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str(NONE),
        }
    }
}
impl HtmlSafe for OptDays {}

/// An ISO date (`2026-06-30`) or a dash.
#[derive(Clone, Copy)]
pub struct OptDate(pub Option<NaiveDate>);

impl Display for OptDate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            // NaiveDate's Display is ISO 8601 and skips parsing a format string per call
            Some(d) => write!(f, "{d}"),
            None => f.write_str(NONE),
        }
    }
}
impl HtmlSafe for OptDate {}

/// An amount with two decimals and thousands separators: `1,234.50`. No currency sign: the
/// price is in whatever currency the licence is billed in.
#[derive(Clone, Copy)]
pub struct Amount(pub f64);

impl Display for Amount {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let cents = (self.0.abs() * 100.0).round() as u64;
        if self.0 < 0.0 && cents > 0 {
            f.write_char('-')?;
        }
        write_grouped(f, cents / 100)?;
        write!(f, ".{:02}", cents % 100)
    }
}
impl HtmlSafe for Amount {}

/// An amount that may be unknown.
#[derive(Clone, Copy)]
pub struct OptAmount(pub Option<f64>);

impl Display for OptAmount {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => Amount(a).fmt(f),
            None => f.write_str(NONE),
        }
    }
}
impl HtmlSafe for OptAmount {}

/// Days relative to the snapshot: "in 63 days", "today", "12 days ago".
#[derive(Clone, Copy)]
pub struct Relative(pub i64);

impl Display for Relative {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("today"),
            1 => f.write_str("tomorrow"),
            -1 => f.write_str("yesterday"),
            n if n > 0 => write!(f, "in {n} days"),
            n => write!(f, "{} days ago", -n),
        }
    }
}
impl HtmlSafe for Relative {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_and_dashed_when_unknown() {
        assert_eq!(Count(0).to_string(), "0");
        assert_eq!(Count(999).to_string(), "999");
        assert_eq!(Count(1000).to_string(), "1,000");
        assert_eq!(Count(1_234_567).to_string(), "1,234,567");
        assert_eq!(OptCount(None).to_string(), NONE);
        assert_eq!(Amount(1234.5).to_string(), "1,234.50");
        assert_eq!(Amount(0.004).to_string(), "0.00");
        assert_eq!(Amount(-2.5).to_string(), "-2.50");
        assert_eq!(
            OptDate(NaiveDate::from_ymd_opt(2026, 6, 3)).to_string(),
            "2026-06-03"
        );
        assert_eq!(Relative(63).to_string(), "in 63 days");
        assert_eq!(Relative(-3).to_string(), "3 days ago");
    }
}
