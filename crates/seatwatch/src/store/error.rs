//! What can go wrong in a store, phrased so the user knows what to do next.

use chrono::NaiveDate;

use seatwatch_core::snapshot::InstanceId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "SEATWATCH_STORE `{url}` is not valid: {why}; use `sqlite:PATH` (e.g. `sqlite:seatwatch.db`) or `dynamodb:TABLE`"
    )]
    BadStoreUrl { url: String, why: String },

    #[error(
        "SEATWATCH_STORE (--store) `{url}` needs the {backend} backend, but this build of seatwatch has no such backend (built without the cargo feature `{backend}`); backends in this build: {built}"
    )]
    BackendNotBuilt {
        url: String,
        backend: &'static str,
        built: String,
    },

    #[error(
        "dynamodb:{table} needs AWS settings: load them (AWS_REGION, credentials) before opening the store"
    )]
    AwsConfigMissing { table: String },

    #[cfg(feature = "sqlite")]
    #[error(
        "SQLite store {path}: {cause}; check that the file and its folder are writable and that it is a seatwatch database"
    )]
    Sqlite {
        path: String,
        // in the message, so deliberately not a `source()`: each cause prints once
        cause: rusqlite::Error,
    },

    #[error(
        "SQLite store {path} is busy (another seatwatch process holds it); retry when that process is done"
    )]
    SqliteBusy { path: String },

    #[error(
        "DynamoDB table {table} does not exist in this account and region: deploy infra/template.yaml (it creates the table), or run `seatwatch setup` once to create it; else check AWS_REGION"
    )]
    TableMissing { table: String },

    #[error(
        "DynamoDB refused {operation} on table {table}: grant the role that action on the table ({message})"
    )]
    AccessDenied {
        table: String,
        operation: &'static str,
        message: String,
    },

    #[error(
        "DynamoDB throttled {operation} on table {table}: retry later, or switch the table to on-demand capacity"
    )]
    Throttled {
        table: String,
        operation: &'static str,
    },

    #[error(
        "DynamoDB left {remaining} item(s) unprocessed on table {table} after {attempts} attempts: the table is throttled; retry later or switch it to on-demand capacity"
    )]
    UnprocessedItems {
        table: String,
        attempts: u32,
        remaining: usize,
    },

    #[error(
        "DynamoDB {operation} on table {table} failed: {message}; check AWS_REGION, AWS_ENDPOINT_URL and network access, then retry"
    )]
    DynamoDb {
        table: String,
        operation: &'static str,
        message: String,
        retryable: bool,
    },

    #[error(
        "the run {run} of {instance} on {date} is missing member part {missing_part} of {parts}: write every part before committing (the previous report is untouched)"
    )]
    IncompleteRun {
        instance: InstanceId,
        date: NaiveDate,
        run: String,
        parts: u32,
        missing_part: u32,
    },

    #[error(
        "stored data for {what} cannot be read ({why}); it was not written by this version of seatwatch or was damaged: collect the day again"
    )]
    Corrupt { what: String, why: String },

    #[error("a member list cannot be stored: {0}")]
    Encode(String),

    #[error("internal store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the same call may succeed if tried again later (throttling, busy file, network).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::SqliteBusy { .. }
            | StoreError::Throttled { .. }
            | StoreError::UnprocessedItems { .. } => true,
            StoreError::DynamoDb { retryable, .. } => *retryable,
            _ => false,
        }
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(path: &std::path::Path, source: rusqlite::Error) -> Self {
        let path = path.display().to_string();
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::SqliteBusy { path }
            }
            _ => StoreError::Sqlite {
                path,
                cause: source,
            },
        }
    }
}
