//! Where snapshots live: one contract in three capabilities ([`SnapshotReader`],
//! [`SnapshotWriter`], [`StoreProvisioner`]), two adapters, each a cargo feature.
//!
//! - [`SqliteStore`] (`sqlite:PATH`): the embedded default. Members are real columns, so a user can
//!   open the file with `sqlite3` and query it (see [`sqlite`] for the schema).
//! - [`DynamoStore`] (`dynamodb:TABLE`): what the Lambda functions use (see [`dynamodb`] for the
//!   table schema, which is a contract with `infra/template.yaml`).
//!
//! Both follow the same write protocol, which is what keeps reports safe:
//! 1. [`SnapshotWriter::put_members`] writes the members of one run in numbered parts, keyed by the
//!    run's id. Nothing reads them yet.
//! 2. [`SnapshotWriter::commit_day`] writes the day record, naming its run and part count. This is
//!    the commit point: readers only ever read the members of the run the day record names.
//!    After the commit the adapter deletes the parts of any other run of that day.
//!
//! A run that read GitLab Duo seats also writes its holders ([`SnapshotWriter::put_duo_holders`])
//! before step 2; they follow the members' rules (keyed by run, read only for the committed run,
//! other runs' deleted after the commit, kept as long as the members).
//!
//! A crash between 1 and 2 leaves the previous commit (and its report) intact; re-running a day
//! replaces it without duplicates or stale members from an earlier, larger run.

#[cfg(feature = "dynamodb")]
mod dynamodb_codec;
mod error;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::collections::HashMap;
#[cfg(feature = "sqlite")]
use std::path::Path;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoStore;
pub use error::StoreError;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use seatwatch_core::duo::DuoHolder;
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

/// What reading a report needs: committed days and their members. The `report` function holds
/// only this, so nothing it runs can write or provision.
#[async_trait::async_trait]
pub trait SnapshotReader: Send + Sync {
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
    /// The GitLab Duo seat holders of one committed day, ordered by add-on and user id (empty
    /// when the day is not committed, read no Duo seats, or is past retention).
    async fn duo_holders(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<DuoHolder>, StoreError>;
}

/// What `collect` needs: the write protocol of the module doc and the checkpoint a long run
/// resumes from. A reader too, because collect counts activity from the previous committed day.
#[async_trait::async_trait]
pub trait SnapshotWriter: SnapshotReader {
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
    /// Writes the run's Duo seat holders, all at once, before [`SnapshotWriter::commit_day`].
    /// Writing them again for the same run replaces them.
    async fn put_duo_holders(&self, run: &RunId, holders: &[DuoHolder]) -> Result<(), StoreError>;
    /// What the next snapshot carries forward from the committed day `date`, by user id, for the
    /// members that have something to carry ([`CarriedForward`]). Only ids and dates are held,
    /// so a 200,000-member day stays a few megabytes.
    async fn carried_forward(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<HashMap<u64, CarriedForward>, StoreError>;
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

/// What one member's row of a committed day carries into the next snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarriedForward {
    /// [`Member::last_contribution_on`]: moved forward by the days the next snapshot counts.
    pub last_contribution_on: Option<NaiveDate>,
    /// [`Member::member_since`] (GitLab.com): the earliest direct membership does not change
    /// while the member stays, so it is asked of GitLab once, not every day.
    pub member_since: Option<DateTime<Utc>>,
}

impl CarriedForward {
    /// What `member` carries forward; `None` when it carries nothing.
    pub fn of(member: &Member) -> Option<CarriedForward> {
        let carried = CarriedForward {
            last_contribution_on: member.last_contribution_on,
            member_since: member.member_since,
        };
        (carried != CarriedForward::default()).then_some(carried)
    }
}

/// Creating the store. The app calls it for SQLite on open (the schema is part of the file), but
/// for DynamoDB only from `seatwatch setup` (in AWS the template creates the table), so no
/// function needs control-plane permissions.
#[async_trait::async_trait]
pub trait StoreProvisioner: Send + Sync {
    /// Creates tables / schema when missing (idempotent).
    async fn ensure_ready(&self) -> Result<(), StoreError>;
}

/// A store with every capability: what [`open`] returns and what the CLI and the store contract
/// test hold. Code that needs less takes the smaller trait (`&dyn SnapshotStore` coerces to it).
pub trait SnapshotStore: SnapshotWriter + StoreProvisioner {}

impl<T: SnapshotWriter + StoreProvisioner + ?Sized> SnapshotStore for T {}

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

impl StoreUrl {
    /// The backend this URL needs, named as its cargo feature.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            StoreUrl::Sqlite(_) => "sqlite",
            StoreUrl::DynamoDb(_) => "dynamodb",
        }
    }
}

/// The backends this build holds, named as their cargo features: a store URL is parsed whatever
/// the build, and [`open`] refuses one whose backend is not here.
const BACKENDS: &[&str] = &[
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "dynamodb")]
    "dynamodb",
];

/// Opens the store a [`StoreUrl`] names. DynamoDB needs the AWS settings (`AWS_REGION`,
/// `AWS_ENDPOINT_URL`, credentials) already loaded into `aws`.
pub async fn open(
    url: &StoreUrl,
    aws: Option<&aws_config::SdkConfig>,
    retention_days: u32,
) -> Result<Box<dyn SnapshotStore>, StoreError> {
    match url {
        #[cfg(feature = "sqlite")]
        StoreUrl::Sqlite(path) => Ok(Box::new(open_sqlite(path, retention_days).await?)),
        #[cfg(feature = "dynamodb")]
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
        // Only reachable in a build without every backend.
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (aws, retention_days);
            Err(not_built(url))
        }
    }
}

/// The error for a store URL whose backend this build does not hold.
fn not_built(url: &StoreUrl) -> StoreError {
    StoreError::BackendNotBuilt {
        url: url.to_string(),
        backend: url.backend(),
        built: if BACKENDS.is_empty() {
            "none".to_string()
        } else {
            BACKENDS.join(", ")
        },
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &Path, retention_days: u32) -> Result<SqliteStore, StoreError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || SqliteStore::open(&path, retention_days))
        .await
        .map_err(|e| StoreError::Internal(format!("the SQLite open task failed: {e}")))?
}

/// Epoch seconds at which data of `date` passes retention: a pure function of the snapshot date
/// (not of the wall clock) so that back-filled days expire like live ones.
#[cfg(feature = "dynamodb")]
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
    fn a_backend_not_built_in_is_named_with_its_setting() {
        for url in [
            StoreUrl::Sqlite(PathBuf::from("seatwatch.db")),
            StoreUrl::DynamoDb("seatwatch-snapshots".into()),
        ] {
            let message = not_built(&url).to_string();
            for part in [
                "SEATWATCH_STORE",
                "--store",
                "no such backend",
                &url.to_string(),
                &format!("feature `{}`", url.backend()),
            ] {
                assert!(message.contains(part), "{part:?} missing from: {message}");
            }
        }
    }

    /// Only in a build without SQLite (`scripts/test.sh` runs it with `--no-default-features`).
    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn opening_a_backend_not_built_in_fails_before_touching_anything() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("never.db");
        let err = open(
            &StoreUrl::Sqlite(path.clone()),
            None,
            DEFAULT_RETENTION_DAYS,
        )
        .await
        .err()
        .expect("a build without sqlite cannot open it");
        assert!(
            matches!(
                err,
                StoreError::BackendNotBuilt {
                    backend: "sqlite",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!path.exists(), "nothing was created");
    }

    #[cfg(feature = "dynamodb")]
    #[test]
    fn expiry_counts_retention_days_from_the_snapshot_date() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        // 2026-01-11T00:00:00Z
        assert_eq!(expires_at(date, 10), 1_768_089_600);
    }
}
