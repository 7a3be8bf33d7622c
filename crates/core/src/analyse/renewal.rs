//! Renewal sizing (issue 13 §3): how many base seats and Duo seats to renew, by when to act, and
//! what that saves against renewing at today's purchased quantities.
//!
//! The renewal date is the term end (`seats.term_end`: the GitLab.com namespace's `end_date`, the
//! licence's `expires_at` on self-managed). Without it nothing is recommended. A licence without
//! a seat limit (or no licence) buys no base seats by number, so none are recommended then; Duo
//! add-ons are bought by quantity whatever the licence, so they are still sized.
//!
//! Duo quantity: the assigned seats less the idle and never-used ones (new and unknown seats are
//! kept: a seat is never taken for a use seatwatch cannot see), plus the same buffer as base
//! seats, rounded up ([`with_buffer`]).

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
            let (purchased, assigned, counts, recommended) = (
                a.purchased?,
                a.assigned?,
                a.counts?,
                a.recommended_at_renewal?,
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::build_report;
    use crate::duo::{DuoAddOn, DuoHolder, DuoSnapshot, DuoUse};
    use crate::snapshot::{DaySummary, Flavour, InstanceId, Member, SeatCounts, Source};
    use chrono::{DateTime, Utc};

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    const TODAY: &str = "2026-06-30";
    const TERM_END: &str = "2026-12-31";

    fn at(d: NaiveDate) -> DateTime<Utc> {
        d.and_hms_opt(3, 0, 0).expect("time").and_utc()
    }

    fn day(d: NaiveDate, in_use: u64) -> DaySummary {
        DaySummary {
            instance: InstanceId::new("gitlab.example.com", None),
            date: d,
            collected_at: at(d),
            source: Source {
                flavour: Flavour::SelfManaged,
                gitlab_version: None,
            },
            seats: SeatCounts {
                purchased: Some(100),
                in_use,
                max_used: Some(in_use),
                term_end: Some(date(TERM_END)),
                plan: Some("premium".into()),
                ..Default::default()
            },
            aggregates: Default::default(),
            token_expires_at: None,
            requests: 0,
            activity: Default::default(),
            contributions_known_since: None,
            duo: None,
        }
    }

    fn inactive(id: u64) -> Member {
        let long_ago = date(TODAY) - Days::new(400);
        Member {
            last_activity_on: Some(long_ago),
            created_at: Some(at(long_ago)),
            ..Member::seat_holder(id, format!("user{id}"), "User")
        }
    }

    fn policy() -> Policy {
        Policy {
            seat_price: Some(29.0),
            duo_prices: [("CODE_SUGGESTIONS".to_string(), 19.0)].into(),
            ..Policy::default()
        }
    }

    #[test]
    fn base_seats_are_the_projection_less_the_reclaimable_plus_the_buffer_rounded_up() {
        // a flat history of 80 seats in use: the projection at the term end is 80
        let today = date(TODAY);
        let history: Vec<DaySummary> = (0..30).map(|n| day(today - Days::new(n), 80)).collect();
        let members = [inactive(1), inactive(2), inactive(3)];
        let r = build_report(&history[0], &members, &history, &[], &policy(), at(today));
        let renewal = &r.renewal;
        assert_eq!(renewal.basis, RenewalBasis::Recommended);
        assert_eq!(renewal.renewal_on, Some(date(TERM_END)));
        let notice = Days::new(u64::from(Policy::default().renewal_notice_days));
        assert_eq!(renewal.act_by, Some(date(TERM_END) - notice));
        let base = renewal.base.as_ref().expect("licensed with a date");
        assert_eq!(
            base.projected_in_use,
            r.forecast.projected_in_use_at_term_end.expect("trend")
        );
        assert_eq!(base.reclaimable, 3);
        assert_eq!(
            base.recommended,
            with_buffer(80 - 3, policy().renewal_buffer_percent)
        );
        let saved = 100 - base.recommended as i64;
        assert_eq!(base.seats_saved, Some(saved));
        assert_eq!(base.saving_yearly, Some(saved as f64 * 29.0 * 12.0));
    }

    #[test]
    fn an_unknown_renewal_date_recommends_nothing() {
        let mut latest = day(date(TODAY), 80);
        latest.seats.term_end = None;
        let r = build_report(&latest, &[], &[], &[], &policy(), at(date(TODAY)));
        assert_eq!(r.renewal.basis, RenewalBasis::DateUnknown);
        assert_eq!(r.renewal.act_by, None);
        assert!(r.renewal.base.is_none() && r.renewal.duo.is_empty());
    }

    #[test]
    fn no_seat_limit_recommends_no_base_seats() {
        for licence in [LicenceState::NoSeatLimit, LicenceState::NoLicence] {
            let mut latest = day(date(TODAY), 80);
            latest.seats.licence = licence;
            latest.seats.purchased = None;
            let r = build_report(&latest, &[], &[], &[], &policy(), at(date(TODAY)));
            assert_eq!(r.renewal.basis, RenewalBasis::Recommended, "{licence:?}");
            assert!(r.renewal.base.is_none(), "{licence:?}");
        }
    }

    #[test]
    fn duo_add_ons_are_sized_apart_from_base_seats() {
        let today = date(TODAY);
        let mut latest = day(today, 80);
        let tracked_since = today - Days::new(100);
        latest.duo = Some(DuoSnapshot {
            add_ons: vec![DuoAddOn {
                add_on: "CODE_SUGGESTIONS".into(),
                purchased: 20,
                assigned: 12,
            }],
            activity_exposed: true,
            tracked_since,
        });
        let holders: Vec<DuoHolder> = (0..12)
            .map(|i| DuoHolder {
                add_on: "CODE_SUGGESTIONS".into(),
                user_id: i,
                username: format!("user{i}"),
                // two never used, two idle, eight active
                last_duo_use: match i {
                    0 | 1 => DuoUse::Never,
                    2 | 3 => DuoUse::On(today - Days::new(90)),
                    _ => DuoUse::On(today - Days::new(1)),
                },
                last_activity_on: Some(today),
                last_login_at: None,
                first_seen_assigned: tracked_since,
            })
            .collect();
        let r = build_report(&latest, &[], &[], &holders, &policy(), at(today));
        let [duo] = &r.renewal.duo[..] else {
            panic!("one Duo add-on: {:?}", r.renewal.duo)
        };
        assert_eq!(duo.kept, 8);
        assert_eq!(
            duo.recommended,
            with_buffer(8, policy().renewal_buffer_percent)
        );
        assert_eq!(duo.seats_saved, 20 - duo.recommended as i64);
        assert_eq!(
            duo.saving_yearly,
            Some(duo.seats_saved as f64 * 19.0 * 12.0)
        );
    }
}
