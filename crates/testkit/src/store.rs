//! Snapshot stores for tests: SQLite in a temporary folder, DynamoDB on moto.

use std::path::Path;

use seatwatch::store::{DynamoStore, SqliteStore, StoreProvisioner};
use tempfile::TempDir;

/// The retention every test store keeps: longer than any history a test writes, so that nothing
/// a test reads back has expired.
pub const RETENTION_DAYS: u32 = seatwatch::store::DEFAULT_RETENTION_DAYS;

/// A SQLite store in the file `name` of `dir`.
pub fn sqlite_in(dir: &Path, name: &str) -> SqliteStore {
    SqliteStore::open(&dir.join(name), RETENTION_DAYS).expect("store opens")
}

/// A SQLite store in a fresh temporary folder; the folder lives as long as the returned guard.
pub fn temp_sqlite() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_in(dir.path(), "t.db");
    (dir, store)
}

/// A DynamoDB store on `aws` (moto) in `table`, which may not exist yet.
pub fn dynamo(aws: &aws_config::SdkConfig, table: &str, retention_days: u32) -> DynamoStore {
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        table.to_string(),
        retention_days,
    )
}

/// A DynamoDB store on `aws` (moto) in `table`, created as `seatwatch setup` creates it.
pub async fn ready_dynamo(
    aws: &aws_config::SdkConfig,
    table: &str,
    retention_days: u32,
) -> DynamoStore {
    let store = dynamo(aws, table, retention_days);
    store.ensure_ready().await.expect("ensure_ready");
    store
}
