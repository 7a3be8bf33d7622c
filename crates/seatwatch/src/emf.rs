//! CloudWatch Embedded Metric Format: metrics as one JSON log line, which Lambda's log pipeline
//! turns into CloudWatch metrics with no SDK call and no extra permission.
//!
//! The alarm in infra/template.yaml watches `Seatwatch/TokenDaysLeft` with `Service = seatwatch`;
//! changing a name here is a change to that contract.

use chrono::{NaiveDate, Utc};
use serde_json::json;

const NAMESPACE: &str = "Seatwatch";
const TOKEN_DAYS_LEFT: &str = "TokenDaysLeft";

/// The EMF line for the token's days to expiry (negative once expired); `None` when the token
/// has no expiry date, since a metric of "forever" would only confuse the alarm.
pub(crate) fn token_days_left(expires_at: Option<NaiveDate>, today: NaiveDate) -> Option<String> {
    let days = (expires_at? - today).num_days();
    Some(
        json!({
            "_aws": {
                "Timestamp": Utc::now().timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": TOKEN_DAYS_LEFT, "Unit": "Count"}],
                }],
            },
            "Service": "seatwatch",
            TOKEN_DAYS_LEFT: days,
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_days_left_is_a_valid_emf_document() {
        let today: NaiveDate = "2026-11-23".parse().unwrap();
        let line = token_days_left(Some("2026-12-03".parse().unwrap()), today).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["TokenDaysLeft"], 10);
        assert_eq!(v["Service"], "seatwatch");
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "Seatwatch");
        assert_eq!(m["Metrics"][0]["Name"], "TokenDaysLeft");
        assert_eq!(m["Dimensions"][0][0], "Service");
        assert!(!line.contains('\n'), "EMF must be one line");
        assert!(token_days_left(None, today).is_none());
    }
}
