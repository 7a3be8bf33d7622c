//! Renewal sizing (issue 13 §3): how many base seats and Duo seats to renew, by when to act, and
//! what that saves against renewing at today's purchased quantities.
//!
//! The renewal date is the term end (`seats.term_end`: the GitLab.com namespace's `end_date`, the
//! licence's `expires_at` on self-managed). Without it nothing is recommended.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::duo_seats::{DuoReport, with_buffer};
use super::{Forecast, Policy, Seats, round_money};
use crate::snapshot::LicenceState;

/// Why there is, or is not, a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewalBasis {
    /// A renewal date is known: the figures below apply.
    Recommended,
    /// GitLab reported no term end: nothing is recommended.
    DateUnknown,
}

/// The base-seat recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseSeatsRenewal {
    /// Today's purchased seats; `None` where GitLab does not report them.
    pub purchased: Option<u64>,
    /// Seats in use projected at the renewal date by the trend (today's without one).
    pub projected_in_use: u64,
    /// The listed reclaimable seats, removed from the projection.
    pub reclaimable: u64,
    /// `ceil((projected_in_use - reclaimable) × (1 + buffer%))`.
    pub recommended: u64,
    /// Seats fewer than today's purchased (negative: more are needed).
    pub seats_saved: Option<i64>,
    /// `seats_saved × seat price × 12`, when a price is set.
    pub saving_yearly: Option<f64>,
}

/// One Duo add-on's recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuoRenewal {
    pub add_on: String,
    pub purchased: u64,
    /// Assigned seats minus idle and never used ones.
    pub kept: u64,
    /// `ceil(kept × (1 + buffer%))`.
    pub recommended: u64,
    pub seats_saved: i64,
    pub saving_yearly: Option<f64>,
}

/// The report's `renewal` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Renewal {
    pub basis: RenewalBasis,
    pub renewal_on: Option<NaiveDate>,
    /// The renewal date minus `SEATWATCH_RENEWAL_NOTICE_DAYS`.
    pub act_by: Option<NaiveDate>,
    pub buffer_percent: u32,
    pub notice_days: u32,
    /// `None` without a date, or when the licence has no seat limit (or there is no licence):
    /// then base seats are not bought by number.
    pub base: Option<BaseSeatsRenewal>,
    /// Per-user Duo add-ons; empty without a date or without Duo seats.
    pub duo: Vec<DuoRenewal>,
}

/// Seats fewer at `recommended` than at `purchased`, and what that is worth in a year.
fn saving(purchased: u64, recommended: u64, price: Option<f64>) -> (i64, Option<f64>) {
    let seats = i64::try_from(purchased).unwrap_or(i64::MAX)
        - i64::try_from(recommended).unwrap_or(i64::MAX);
    (seats, price.map(|p| round_money(p * seats as f64 * 12.0)))
}

impl Renewal {
    pub fn of(
        seats: &Seats,
        forecast: &Forecast,
        duo: Option<&DuoReport>,
        policy: &Policy,
    ) -> Renewal {
        let buffer = policy.renewal_buffer_percent;
        let mut renewal = Renewal {
            basis: RenewalBasis::DateUnknown,
            renewal_on: seats.term_end,
            act_by: None,
            buffer_percent: buffer,
            notice_days: policy.renewal_notice_days,
            base: None,
            duo: Vec::new(),
        };
        let Some(end) = seats.term_end else {
            return renewal;
        };
        renewal.basis = RenewalBasis::Recommended;
        renewal.act_by = end.checked_sub_days(Days::new(u64::from(policy.renewal_notice_days)));
        if seats.licence == LicenceState::Licensed {
            let projected = forecast
                .projected_in_use_at_term_end
                .unwrap_or(seats.in_use);
            let recommended = with_buffer(projected.saturating_sub(seats.reclaimable), buffer);
            let (seats_saved, saving_yearly) = match seats.purchased {
                Some(p) => {
                    let (n, money) = saving(p, recommended, policy.seat_price);
                    (Some(n), money)
                }
                None => (None, None),
            };
            renewal.base = Some(BaseSeatsRenewal {
                purchased: seats.purchased,
                projected_in_use: projected,
                reclaimable: seats.reclaimable,
                recommended,
                seats_saved,
                saving_yearly,
            });
        }
        renewal.duo = duo.map_or_else(Vec::new, |d| duo_renewals(d, policy));
        renewal
    }
}

fn duo_renewals(duo: &DuoReport, policy: &Policy) -> Vec<DuoRenewal> {
    duo.add_ons
        .iter()
        .filter_map(|a| {
            let (purchased, assigned, counts, recommended) =
                (a.purchased?, a.assigned?, a.counts?, a.recommended_at_renewal?);
            let price = policy.duo_prices.get(&a.add_on).copied();
            let (seats_saved, saving_yearly) = saving(purchased, recommended, price);
            Some(DuoRenewal {
                add_on: a.add_on.clone(),
                purchased,
                kept: assigned.saturating_sub(counts.unused()),
                recommended,
                seats_saved,
                saving_yearly,
            })
        })
        .collect()
}
