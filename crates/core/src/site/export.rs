//! The site's CSV downloads, written with the `csv` crate (quoting is its job).
//!
//! Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (or a tab / carriage return that
//! hides one) as a formula, so every cell whose text GitLab users control is neutralised with a
//! leading `'` before it is written (OWASP "CSV injection").

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::analyse::{Report, classify, days_inactive};
use crate::snapshot::Member;

/// Prefixes `'` to text a spreadsheet would otherwise evaluate.
fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Dates and numbers are ours, not GitLab users': written as they are (a day count is never
/// negative, so never mistaken for a formula).
fn date_cell(d: Option<NaiveDate>, buf: &mut String) -> &str {
    use std::fmt::Write;
    buf.clear();
    if let Some(d) = d {
        let _ = write!(buf, "{d}");
    }
    buf
}

fn num_cell<T: std::fmt::Display>(n: Option<T>, buf: &mut String) -> &str {
    use std::fmt::Write;
    buf.clear();
    if let Some(n) = n {
        let _ = write!(buf, "{n}");
    }
    buf
}

/// `unused.csv`: the reclaimable seats, then the exempt members marked as such.
pub fn unused_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(
        128 + (report.reclaimable.len() + report.exempt.len()) * 96,
    ));
    out.write_record([
        "username",
        "name",
        "reason",
        "last_activity_on",
        "last_sign_in",
        "created_on",
        "days_inactive",
        "monthly_cost",
    ])?;
    let (mut a, mut b, mut c, mut d, mut e) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for s in &report.reclaimable {
        out.write_record([
            &*neutralise(&s.username),
            &*neutralise(&s.name),
            s.reason.as_str(),
            date_cell(s.last_activity_on, &mut a),
            date_cell(s.last_sign_in, &mut b),
            date_cell(s.created_on, &mut c),
            num_cell(s.days_inactive, &mut d),
            num_cell(s.monthly_cost, &mut e),
        ])?;
    }
    for x in &report.exempt {
        out.write_record([
            &*neutralise(&x.username),
            &*neutralise(&x.name),
            "exempt",
            date_cell(x.last_activity_on, &mut a),
            date_cell(x.last_sign_in, &mut b),
            "",
            num_cell(x.days_inactive, &mut d),
            "",
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// `members.csv`: every member of the snapshot with where they stand under the rule.
pub fn members_csv(report: &Report, members: &[Member]) -> Result<Vec<u8>, csv::Error> {
    let date = report.snapshot_date;
    let mut out = csv::Writer::from_writer(Vec::with_capacity(256 + members.len() * 160));
    out.write_record([
        "id",
        "username",
        "name",
        "email",
        "state",
        "standing",
        "holds_seat",
        "bot",
        "admin",
        "external",
        "membership_type",
        "created_on",
        "last_activity_on",
        "last_sign_in",
        "days_inactive",
        // the complete days the snapshot counted; "unknown" where GitLab hides a member's events
        "events_on_counted_days",
        "last_contribution_on",
        "guest_candidate",
    ])?;
    let candidates: std::collections::HashSet<u64> = report
        .guest_candidates
        .candidates
        .iter()
        .map(|c| c.id)
        .collect();
    let mut bufs: [String; 7] = Default::default();
    let [id, created, activity, sign_in, days, events, contribution] = &mut bufs;
    for m in members {
        let standing = classify(m, date, &report.policy);
        out.write_record([
            num_cell(Some(m.id), id),
            &*neutralise(&m.username),
            &*neutralise(&m.name),
            &*neutralise(m.email.as_deref().unwrap_or("")),
            &*neutralise(m.state.as_str()),
            standing.as_str(),
            flag(m.holds_seat),
            flag(m.bot),
            flag(m.admin),
            flag(m.external),
            &*neutralise(m.membership_type.as_deref().unwrap_or("")),
            date_cell(m.created_at.map(|t| t.date_naive()), created),
            date_cell(m.last_activity_on, activity),
            date_cell(m.last_sign_in().map(|t| t.date_naive()), sign_in),
            num_cell(days_inactive(m, date), days),
            if m.activity_unknown {
                "unknown"
            } else {
                num_cell(Some(m.activity.total_events()), events)
            },
            date_cell(m.last_contribution_on, contribution),
            flag(candidates.contains(&m.id)),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `duo.csv`: every holder of every per-user Duo add-on, with their status, whether they are on
/// the enablement list and whether GitLab would unassign them at the recommended quantity.
pub fn duo_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let add_ons = report.duo.as_ref().map_or(&[][..], |d| &d.add_ons[..]);
    let mut out = csv::Writer::from_writer(Vec::with_capacity(4096));
    out.write_record([
        "add_on",
        "username",
        "status",
        "last_duo_activity_on",
        "last_activity_on",
        "first_seen_assigned",
        "assignment_date_unknown",
        "enablement",
        "unassigned_by_gitlab_at_renewal",
        "monthly_cost",
    ])?;
    let (mut a, mut b, mut c, mut d) = (String::new(), String::new(), String::new(), String::new());
    for add_on in add_ons {
        let Some(holders) = &add_on.holders else {
            continue;
        };
        let listed = |list: &Option<Vec<_>>, id: u64| {
            list.as_ref()
                .is_some_and(|l: &Vec<crate::analyse::DuoSeatHolder>| {
                    l.iter().any(|h| h.user_id == id)
                })
        };
        let price = add_on.money.as_ref().map(|m| m.seat_price_monthly);
        for h in holders {
            out.write_record([
                &*neutralise(&add_on.add_on),
                &*neutralise(&h.username),
                h.status.as_str(),
                date_cell(h.last_duo_activity_on, &mut a),
                date_cell(h.last_activity_on, &mut b),
                date_cell(Some(h.first_seen_assigned), &mut c),
                flag(h.assignment_date_unknown),
                flag(listed(&add_on.enablement, h.user_id)),
                flag(listed(&add_on.unassigned_by_gitlab_at_renewal, h.user_id)),
                num_cell(price, &mut d),
            ])?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// `guest-candidates.csv`: the seat holders who could be Guests (empty off Ultimate).
pub fn guest_candidates_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let g = &report.guest_candidates;
    let mut out = csv::Writer::from_writer(Vec::with_capacity(128 + g.candidates.len() * 96));
    out.write_record([
        "username",
        "name",
        "last_contribution_on",
        "last_activity_on",
        "last_sign_in",
        "monthly_saving",
    ])?;
    let (mut a, mut b, mut c, mut d) = (String::new(), String::new(), String::new(), String::new());
    for x in &g.candidates {
        out.write_record([
            &*neutralise(&x.username),
            &*neutralise(&x.name),
            date_cell(x.last_contribution_on, &mut a),
            date_cell(x.last_activity_on, &mut b),
            date_cell(x.last_sign_in, &mut c),
            num_cell(x.monthly_saving, &mut d),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_plain_text_is_not() {
        for hostile in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\t=x", "\r=x"] {
            let out = neutralise(hostile);
            assert_eq!(out, format!("'{hostile}"));
        }
        assert!(matches!(neutralise("alice"), Cow::Borrowed("alice")));
        assert_eq!(neutralise(""), "");
        assert_eq!(neutralise("a=b"), "a=b");
    }
}
