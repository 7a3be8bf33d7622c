//! Where snapshots live: one [`SnapshotStore`] contract, two adapters.
//!
//! - [`SqliteStore`] (`sqlite:PATH`): the embedded default. Members are real columns, so a user can
//!   open the file with `sqlite3` and query it (see [`sqlite`] for the schema).
//! - [`DynamoStore`] (`dynamodb:TABLE`): what the Lambda functions use (see [`dynamodb`] for the
//!   table schema, which is a contract with `infra/template.yaml`).
//!
//! Both follow the same write protocol, which is what keeps reports safe:
//! 1. [`SnapshotStore::put_members`] writes the members of one run in numbered parts, keyed by the
//!    run's id. Nothing reads them yet.
//! 2. [`SnapshotStore::commit_day`] writes the day record, naming its run and part count. This is
//!    the commit point: readers only ever read the members of the run the day record names.
//!    After the commit the adapter deletes the parts of any other run of that day.
//!
//! A crash between 1 and 2 leaves the previous commit (and its report) intact; re-running a day
//! replaces it without duplicates or stale members from an earlier, larger run.

mod dynamodb_codec;
mod error;

pub mod dynamodb;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use dynamodb::DynamoStore;
pub use error::StoreError;
pub use sqlite::SqliteStore;

use seatwatch_core::snapshot::{DaySummary, InstanceId, Member};

/// How long member parts are kept when `SEATWATCH_RETENTION_DAYS` is not set; day records stay.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

/// Write side of one snapshot run. Run ids are unique per run, so parts of two runs of the same
/// day never overwrite each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    pub instance: InstanceId,
    pub date: NaiveDate,
    pub run: String,
}

impl RunId {
    /// A fresh run: wall-clock nanoseconds (fixed-width hex, so later runs sort later) plus
    /// random bits, so two runs started in the same nanosecond still differ.
    pub fn new(instance: InstanceId, date: NaiveDate) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let salt: u32 = rand::random();
        RunId {
            instance,
            date,
            run: format!("{nanos:024x}-{salt:08x}"),
        }
    }
}

/// The store contract every adapter implements; see the module doc for the write protocol.
#[async_trait::async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Creates tables / schema when missing (idempotent). The provisioning step: the app calls
    /// it for SQLite on open, but for DynamoDB only from `seatwatch setup` (in AWS the template
    /// creates the table), so no function needs control-plane permissions.
    async fn ensure_ready(&self) -> Result<(), StoreError>;
    /// Writes one part of the run's members (parts numbered from 0; a part may be any size, the
    /// adapter splits it to fit). Writing the same part again replaces it.
    async fn put_members(
        &self,
        run: &RunId,
        part: u32,
        members: &[Member],
    ) -> Result<(), StoreError>;
    /// The commit point: after this the day is visible and replaces any earlier run of the same
    /// day. Fails with [`StoreError::IncompleteRun`] when a part in `0..parts` was never written.
    async fn commit_day(
        &self,
        run: &RunId,
        parts: u32,
        summary: &DaySummary,
    ) -> Result<(), StoreError>;
    async fn latest_day(&self, instance: &InstanceId) -> Result<Option<DaySummary>, StoreError>;
    /// Committed days in [from, to], oldest first.
    async fn days(
        &self,
        instance: &InstanceId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError>;
    /// The committed members of one day, ordered by GitLab user id, one entry per id (empty when
    /// the day is not committed, or its members are past retention).
    async fn members(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<Member>, StoreError>;
    /// Every instance with at least one committed day.
    async fn instances(&self) -> Result<Vec<InstanceId>, StoreError>;
    async fn save_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
        state: &str,
    ) -> Result<(), StoreError>;
    async fn load_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Option<String>, StoreError>;
    async fn clear_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<(), StoreError>;
}

/// Where the store is, as `SEATWATCH_STORE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`
    Sqlite(PathBuf),
    /// `dynamodb:TABLE`
    DynamoDb(String),
}

impl FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| StoreError::BadStoreUrl {
            url: s.to_string(),
            why: why.to_string(),
        };
        match s.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => Ok(StoreUrl::Sqlite(PathBuf::from(path))),
            Some(("sqlite", _)) => Err(bad("the path after `sqlite:` is empty")),
            Some(("dynamodb", table)) if is_valid_table_name(table) => {
                Ok(StoreUrl::DynamoDb(table.to_string()))
            }
            Some(("dynamodb", _)) => Err(bad(
                "a DynamoDB table name is 3-255 characters of a-z, A-Z, 0-9, '_', '-' and '.'",
            )),
            _ => Err(bad("it must start with `sqlite:` or `dynamodb:`")),
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::DynamoDb(table) => write!(f, "dynamodb:{table}"),
        }
    }
}

fn is_valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Opens the store a [`StoreUrl`] names. DynamoDB needs the AWS settings (`AWS_REGION`,
/// `AWS_ENDPOINT_URL`, credentials) already loaded into `aws`.
pub async fn open(
    url: &StoreUrl,
    aws: Option<&aws_config::SdkConfig>,
    retention_days: u32,
) -> Result<Box<dyn SnapshotStore>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Box::new(open_sqlite(path, retention_days).await?)),
        StoreUrl::DynamoDb(table) => {
            let aws = aws.ok_or_else(|| StoreError::AwsConfigMissing {
                table: table.clone(),
            })?;
            let client = aws_sdk_dynamodb::Client::new(aws);
            Ok(Box::new(DynamoStore::new(
                client,
                table.clone(),
                retention_days,
            )))
        }
    }
}

async fn open_sqlite(path: &Path, retention_days: u32) -> Result<SqliteStore, StoreError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || SqliteStore::open(&path, retention_days))
        .await
        .map_err(|e| StoreError::Internal(format!("the SQLite open task failed: {e}")))?
}

/// Epoch seconds at which data of `date` passes retention: a pure function of the snapshot date
/// (not of the wall clock) so that back-filled days expire like live ones.
pub(crate) fn expires_at(date: NaiveDate, retention_days: u32) -> i64 {
    let end = date + chrono::Days::new(u64::from(retention_days));
    end.and_hms_opt(0, 0, 0)
        .expect("midnight exists every day")
        .and_utc()
        .timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse_and_reject_with_a_reason() {
        assert_eq!(
            "sqlite:data/seatwatch.db".parse::<StoreUrl>().unwrap(),
            StoreUrl::Sqlite(PathBuf::from("data/seatwatch.db"))
        );
        assert_eq!(
            "dynamodb:seatwatch-snapshots".parse::<StoreUrl>().unwrap(),
            StoreUrl::DynamoDb("seatwatch-snapshots".into())
        );
        for bad in [
            "",
            "seatwatch.db",
            "sqlite:",
            "dynamodb:x",
            "dynamodb:a b c",
            "s3:bucket",
        ] {
            let err = bad.parse::<StoreUrl>().unwrap_err();
            assert!(
                matches!(err, StoreError::BadStoreUrl { .. }),
                "{bad:?} gave {err:?}"
            );
            assert!(err.to_string().contains("SEATWATCH_STORE"), "{err}");
        }
    }

    #[test]
    fn run_ids_differ_and_sort_by_start_time() {
        let instance = InstanceId("gitlab.example.com".into());
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let a = RunId::new(instance.clone(), date);
        let b = RunId::new(instance, date);
        assert_ne!(a.run, b.run);
        assert!(a.run[..24] <= b.run[..24]);
        assert!(!a.run.contains('#'), "run ids are part of sort keys");
    }

    #[test]
    fn expiry_counts_retention_days_from_the_snapshot_date() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        // 2026-01-11T00:00:00Z
        assert_eq!(expires_at(date, 10), 1_768_089_600);
    }
}
