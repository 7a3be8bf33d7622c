//! The DynamoDB store (`dynamodb:TABLE`), used by the Lambda functions.
//!
//! # Table schema (a contract with `infra/template.yaml`)
//!
//! One table, on-demand capacity, key `pk` (S, HASH) + `sk` (S, RANGE), TTL on `expires_at`.
//!
//! | item | `pk` | `sk` | other attributes |
//! | --- | --- | --- | --- |
//! | day record (commit point) | instance id | `DAY#<date>` | `date` S, `run` S, `parts` N, `format` N, `summary` S (the `DaySummary` as JSON) |
//! | member chunk | instance id | `PART#<date>#<run>#<part:06>#<chunk:04>` | `chunks` N (chunks in this part), `members` N, `format` N, `data` B (gzip, see below), `expires_at` N |
//! | Duo holders chunk | instance id | `DUO#<date>#<run>#<chunk:04>` | `chunks` N, `holders` N, `format` N, `data` B (gzip of one JSON object per holder per line), `expires_at` N |
//! | instance registry | `#instances` | instance id | `since` S (first committed date) |
//! | checkpoint | instance id | `CHECKPOINT#<date>` | `state` S (opaque JSON), `expires_at` N |
//!
//! Dates are `YYYY-MM-DD`, so sort keys order days chronologically. Member chunks expire
//! `retention_days` after their snapshot date (`SEATWATCH_RETENTION_DAYS`, default 400); day
//! records and the registry never expire; checkpoints expire [`CHECKPOINT_TTL_DAYS`] after their
//! date. `data` is gzip of one JSON array per member per line (format 1; see `dynamodb_codec`),
//! at most 256 KB per item.
//!
//! # Write protocol
//! `put_members` writes chunks with `BatchWriteItem`; unprocessed items are retried with
//! exponential backoff and full jitter until done or [`BatchRetry::max_attempts`]. `commit_day`
//! checks that every part of the run is complete (strongly consistent query), then writes the day
//! record and the registry item in one transaction, then deletes chunks of other runs of that
//! day. Readers find the run in the day record and read only its chunks, so stale or crashed
//! runs are invisible even before they are deleted. A reader that finds a chunk of the committed
//! run missing reports [`StoreError::Corrupt`] rather than a short member list (unless the chunks
//! are expiring by TTL, when the day simply has no members any more).
//!
//! Two runs of the same day committing at the same moment: the later commit wins, and each
//! cleanup re-reads the day record first so it never deletes the winner's chunks (a narrow window
//! remains between that read and the deletes; the scheduler runs one collection at a time).
//!
//! # IAM
//! Run time ([`SnapshotReader`](super::SnapshotReader), [`SnapshotWriter`](super::SnapshotWriter)):
//! collect needs `BatchWriteItem`, `PutItem` (also what `TransactWriteItems` needs), `GetItem`,
//! `Query`, `DeleteItem`; report needs `GetItem` and `Query`. `ensure_ready` is the provisioning step (`seatwatch setup`):
//! `DescribeTable`, `CreateTable`, `DescribeTimeToLive` and `UpdateTimeToLive`, which the Lambda
//! roles do not have: in AWS the SAM template creates the table and its TTL.
//! `tests/iam_enforced.rs` runs each function under exactly its template statements.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
    Put, PutRequest, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
    TransactWriteItem, WriteRequest,
};
use chrono::NaiveDate;
use rand::Rng;

use super::dynamodb_codec::{self, FORMAT, PackedChunk};
use super::{
    CarriedForward, RunId, SnapshotReader, SnapshotWriter, StoreError, StoreProvisioner, expires_at,
};
use seatwatch_core::duo::DuoHolder;
use seatwatch_core::snapshot::{DaySummary, InstanceId, Member};

pub type Item = HashMap<String, AttributeValue>;

/// Checkpoints only matter while their day is being collected; a week is ample.
const CHECKPOINT_TTL_DAYS: u32 = 7;

/// DynamoDB's own item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

const REGISTRY_PK: &str = "#instances";
/// `BatchWriteItem` takes at most 25 requests.
const BATCH_LIMIT: usize = 25;
const TABLE_READY_TIMEOUT: Duration = Duration::from_secs(300);

/// How hard a batch write insists on its `UnprocessedItems`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRetry {
    /// Calls per batch, the first included, before giving up with
    /// [`StoreError::UnprocessedItems`].
    pub max_attempts: u32,
    /// Backoff before retry n is random in [0, min(max_delay, base_delay * 2^n)].
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for BatchRetry {
    fn default() -> Self {
        BatchRetry {
            max_attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl BatchRetry {
    fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// The DynamoDB adapter; cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention_days: u32,
    batch_retry: BatchRetry,
    write_units: Arc<AtomicU64>,
}

impl DynamoStore {
    pub fn new(client: Client, table: String, retention_days: u32) -> Self {
        DynamoStore {
            client,
            table,
            retention_days,
            batch_retry: BatchRetry::default(),
            write_units: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Replaces the default [`BatchRetry`] (tests use short delays).
    pub fn with_batch_retry(mut self, batch_retry: BatchRetry) -> Self {
        self.batch_retry = batch_retry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Write units this store has spent on puts so far, computed from item sizes with
    /// DynamoDB's rules ([`write_units`]; transactional writes count twice). Deletes of replaced
    /// runs are not counted: they only happen when a day is collected again.
    pub fn write_units_used(&self) -> u64 {
        self.write_units.load(Ordering::Relaxed)
    }

    fn meter(&self, units: u64) {
        self.write_units.fetch_add(units, Ordering::Relaxed);
    }

    fn err<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: RawResponse + std::fmt::Debug + Send + Sync + 'static,
    {
        sdk_error(&self.table, operation, e)
    }

    /// Puts every item ([`Self::batch_write`]) and meters the write units they cost.
    async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let units: u64 = items.iter().map(write_units).sum();
        self.batch_write(items.into_iter().map(put_request).collect())
            .await?;
        self.meter(units);
        Ok(())
    }

    /// Writes (or deletes) every request, 25 per call, retrying unprocessed items.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let mut pending: Vec<WriteRequest> = requests.by_ref().take(BATCH_LIMIT).collect();
            let mut attempt = 1;
            loop {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut by_table| by_table.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= self.batch_retry.max_attempts {
                    return Err(StoreError::UnprocessedItems {
                        table: self.table.clone(),
                        attempts: attempt,
                        remaining: pending.len(),
                    });
                }
                tracing::debug!(
                    table = %self.table,
                    unprocessed = pending.len(),
                    attempt,
                    "retrying unprocessed DynamoDB items"
                );
                tokio::time::sleep(self.batch_retry.delay(attempt)).await;
                attempt += 1;
            }
        }
        Ok(())
    }

    /// Every item of one partition whose sort key starts with `prefix`, strongly consistent.
    async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()));
        // DynamoDB rejects an empty key value, so "every item" is a condition on pk alone.
        let query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
        };
        query
            .set_projection_expression(projection.map(str::to_string))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err("Query", e))
    }

    async fn get_day(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Option<DayRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", AttributeValue::S(instance.0.clone()))
            .key("sk", AttributeValue::S(day_sk(date)))
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        out.item.map(DayRecord::try_from).transpose()
    }

    /// The parts of one run whose chunks are all present (chunk 0 declares how many there are).
    async fn complete_parts(&self, run: &RunId) -> Result<BTreeSet<u32>, StoreError> {
        let items = self
            .query_prefix(&run.instance.0, &run_prefix(run), Some("sk, chunks"))
            .await?;
        let mut declared = BTreeMap::new();
        let mut chunks = Vec::with_capacity(items.len());
        for item in &items {
            let key = ChunkKey::try_from(item)?;
            if key.chunk == 0 {
                declared.insert(key.part, number(item, "chunks", &key.sk)?);
            }
            chunks.push(key);
        }
        let mut present: BTreeMap<u32, u32> = BTreeMap::new();
        for key in &chunks {
            if declared.get(&key.part).is_some_and(|&n| key.chunk < n) {
                *present.entry(key.part).or_default() += 1;
            }
        }
        Ok(declared
            .into_iter()
            .filter(|(part, n)| present.get(part) == Some(n))
            .map(|(part, _)| part)
            .collect())
    }

    /// Deletes chunks (members and Duo holders) of `date` that belong to any run but the one
    /// committed now.
    async fn delete_other_runs(&self, run: &RunId) -> Result<(), StoreError> {
        // Re-read the commit: if a later run committed meanwhile, its chunks must survive.
        let committed = match self.get_day(&run.instance, run.date).await? {
            Some(day) => day.run,
            None => return Ok(()),
        };
        let mut stale_keys = Vec::new();
        for prefix in [date_parts_prefix(run.date), date_duo_prefix(run.date)] {
            let keep = format!("{prefix}{committed}#");
            stale_keys.extend(
                self.query_prefix(&run.instance.0, &prefix, Some("pk, sk"))
                    .await?
                    .into_iter()
                    .filter(|item| matches!(item.get("sk"), Some(AttributeValue::S(sk)) if !sk.starts_with(&keep))),
            );
        }
        let stale: Vec<WriteRequest> = stale_keys
            .into_iter()
            .map(|key| {
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key))
                            .build()
                            .expect("a delete request with a key is complete"),
                    )
                    .build()
            })
            .collect();
        if !stale.is_empty() {
            tracing::debug!(table = %self.table, stale = stale.len(), "deleting chunks of replaced runs");
        }
        self.batch_write(stale).await
    }

    /// The current member chunks of a committed day, in sort-key order (empty when the day is
    /// not committed or its chunks are expiring by TTL); a missing chunk is [`StoreError::Corrupt`].
    async fn committed_member_chunks(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<Item>, StoreError> {
        let Some(day) = self.get_day(instance, date).await? else {
            return Ok(Vec::new());
        };
        let run = RunId {
            instance: instance.clone(),
            date,
            run: day.run,
        };
        let items = self
            .query_prefix(&instance.0, &run_prefix(&run), None)
            .await?;
        // The chunk count of a part is the one its chunk 0 declares: a rewritten part always
        // rewrites chunk 0, while higher chunks of an earlier, longer write may linger.
        let keys = items
            .iter()
            .map(ChunkKey::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let keyed: Vec<(ChunkKey, &Item)> = keys.into_iter().zip(items.iter()).collect();
        let declared = declared_chunks(&keyed)?;
        let current = |key: &ChunkKey| {
            key.part < day.parts && declared.get(&key.part).is_some_and(|&n| key.chunk < n)
        };
        let present: Vec<bool> = keyed.iter().map(|(key, _)| current(key)).collect();
        let found = present.iter().filter(|&&p| p).count();
        let expected: u32 = (0..day.parts)
            .map(|p| declared.get(&p).copied().unwrap_or(1))
            .sum();
        if found != expected as usize {
            // TTL deletes chunks one by one once a day passes retention; any other gap is damage.
            if ttl_expiring(&items) {
                return Ok(Vec::new());
            }
            return Err(corrupt(
                &format!("the members of {instance} on {date}"),
                format!(
                    "{found} of {expected} chunks of run {} are present",
                    run.run
                ),
            ));
        }
        drop(keyed);
        Ok(items
            .into_iter()
            .zip(present)
            .filter_map(|(item, current)| current.then_some(item))
            .collect())
    }

    /// The Duo holder chunks of a committed day: those of its run, up to the count chunk 0
    /// declares.
    async fn committed_duo_chunks(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<Item>, StoreError> {
        let Some(day) = self.get_day(instance, date).await? else {
            return Ok(Vec::new());
        };
        let prefix = format!("{}{}#", date_duo_prefix(date), day.run);
        let items = self.query_prefix(&instance.0, &prefix, None).await?;
        let chunk_of = |item: &Item| -> Result<u32, StoreError> {
            let sk = string(item, "sk", "a Duo holders chunk")?;
            sk.rsplit('#')
                .next()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| corrupt(sk, "the sort key does not end in #chunk"))
        };
        let mut declared = None;
        let mut numbered = Vec::with_capacity(items.len());
        for item in items {
            let chunk = chunk_of(&item)?;
            if chunk == 0 {
                declared = Some(number(&item, "chunks", "a Duo holders chunk")?);
            }
            numbered.push((chunk, item));
        }
        let Some(declared) = declared else {
            // No holders written by this run: a day that read no Duo seats, or one past retention.
            return Ok(Vec::new());
        };
        let current: Vec<Item> = numbered
            .into_iter()
            .filter(|(chunk, _)| *chunk < declared)
            .map(|(_, item)| item)
            .collect();
        if current.len() != declared as usize && !ttl_expiring(&current) {
            return Err(corrupt(
                &format!("the Duo holders of {instance} on {date}"),
                format!(
                    "{} of {declared} chunks of run {} are present",
                    current.len(),
                    day.run
                ),
            ));
        }
        Ok(current)
    }

    async fn ensure_ttl(&self) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.err("DescribeTimeToLive", e))?;
        let status = current
            .time_to_live_description
            .and_then(|d| d.time_to_live_status);
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .expect("name and enabled are set"),
            )
            .send()
            .await
            .map_err(|e| self.err("UpdateTimeToLive", e))?;
        Ok(())
    }
}

/// Maps an SDK failure to what the user should do about it.
fn sdk_error<E, R>(table: &str, operation: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: RawResponse + std::fmt::Debug + Send + Sync + 'static,
{
    let table = table.to_string();
    let code = e.code().unwrap_or_default().to_string();
    // The service's own code and message; the full context (raw response) only when there is none.
    let message = match (e.code(), e.message()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        _ => aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
    };
    // A 403 is a refusal whatever its body says: an IAM denial from an emulator (moto answers
    // JSON-protocol calls in XML) otherwise reads as an unparseable, retryable response.
    let forbidden = e.raw_response().and_then(RawResponse::status) == Some(403);
    let message = match (forbidden, e.code()) {
        (true, None) => e
            .raw_response()
            .and_then(RawResponse::body)
            .and_then(xml_message)
            .unwrap_or(message),
        _ => message,
    };
    match code.as_str() {
        "ResourceNotFoundException" => StoreError::TableMissing { table },
        _ if forbidden => StoreError::AccessDenied {
            table,
            operation,
            message,
        },
        "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" => {
            StoreError::AccessDenied {
                table,
                operation,
                message,
            }
        }
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StoreError::Throttled { table, operation },
        _ => {
            let retryable = matches!(
                e,
                SdkError::TimeoutError(_)
                    | SdkError::DispatchFailure(_)
                    | SdkError::ResponseError(_)
            ) || matches!(
                code.as_str(),
                "InternalServerError" | "ServiceUnavailable" | "TransactionConflictException"
            );
            StoreError::DynamoDb {
                table,
                operation,
                message,
                retryable,
            }
        }
    }
}

/// What [`sdk_error`] reads of the raw response: the SDK's HTTP response (the unit type stands
/// for "no response" in unit tests).
pub(crate) trait RawResponse {
    fn status(&self) -> Option<u16>;
    fn body(&self) -> Option<&[u8]>;
}

impl RawResponse for aws_sdk_dynamodb::config::http::HttpResponse {
    fn status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
    fn body(&self) -> Option<&[u8]> {
        self.body().bytes()
    }
}

impl RawResponse for () {
    fn status(&self) -> Option<u16> {
        None
    }
    fn body(&self) -> Option<&[u8]> {
        None
    }
}

/// The `<Code>` and `<Message>` of an XML error body, as one line.
fn xml_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (None, Some(message)) => Some(message),
        _ => None,
    }
}

/// The size DynamoDB bills for an item: attribute names plus values, per its documented rules.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        // Documents cost 3 bytes plus 1 per element on top of their contents.
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Numbers cost 1 byte per two significant digits plus 1.
fn number_size(n: &str) -> usize {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// Write units of putting one item outside a transaction: 1 per started KB.
pub fn write_units(item: &Item) -> u64 {
    u64::try_from(item_size(item).div_ceil(1024).max(1)).unwrap_or(u64::MAX)
}

/// The items `put_members` writes for one part: compressed chunks of its members. Public so
/// that sizes and costs can be checked without a table.
pub fn member_part_items(
    run: &RunId,
    part: u32,
    members: &[Member],
    retention_days: u32,
) -> Result<Vec<Item>, StoreError> {
    let chunks = dynamodb_codec::pack(members)?;
    let count = u32::try_from(chunks.len())
        .map_err(|_| StoreError::Encode("a part needs more than u32::MAX chunks".into()))?;
    let expires = expires_at(run.date, retention_days);
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(index, packed)| {
            let index = u32::try_from(index).expect("index below the u32 chunk count");
            Item::from(ChunkItem {
                run,
                part,
                chunk: index,
                chunks: count,
                expires_at: expires,
                packed,
            })
        })
        .collect())
}

fn day_sk(date: NaiveDate) -> String {
    format!("DAY#{date}")
}

fn date_parts_prefix(date: NaiveDate) -> String {
    format!("PART#{date}#")
}

fn date_duo_prefix(date: NaiveDate) -> String {
    format!("DUO#{date}#")
}

/// The items `put_duo_holders` writes: compressed chunks of the run's holders.
fn duo_holder_items(
    run: &RunId,
    holders: &[DuoHolder],
    retention_days: u32,
) -> Result<Vec<Item>, StoreError> {
    let chunks = dynamodb_codec::pack_holders(holders)?;
    let count = chunks.len();
    let expires = expires_at(run.date, retention_days);
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(index, packed)| {
            Item::from([
                ("pk".to_string(), s(run.instance.0.clone())),
                (
                    "sk".to_string(),
                    s(format!(
                        "{}{}#{index:04}",
                        date_duo_prefix(run.date),
                        run.run
                    )),
                ),
                ("chunks".to_string(), n(count)),
                ("holders".to_string(), n(packed.members)),
                ("format".to_string(), n(FORMAT)),
                (
                    "data".to_string(),
                    AttributeValue::B(Blob::new(packed.gzip)),
                ),
                ("expires_at".to_string(), n(expires)),
            ])
        })
        .collect())
}

fn run_prefix(run: &RunId) -> String {
    format!("{}{}#", date_parts_prefix(run.date), run.run)
}

fn checkpoint_sk(date: NaiveDate) -> String {
    format!("CHECKPOINT#{date}")
}

fn corrupt(what: &str, why: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what: what.to_string(),
        why: why.into(),
    }
}

fn string<'a>(item: &'a Item, name: &str, what: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(corrupt(
            what,
            format!("attribute `{name}` is missing or not a string"),
        )),
    }
}

fn number(item: &Item, name: &str, what: &str) -> Result<u32, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| corrupt(what, format!("attribute `{name}` is not a small number"))),
        _ => Err(corrupt(
            what,
            format!("attribute `{name}` is missing or not a number"),
        )),
    }
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// One member chunk on its way into the table.
struct ChunkItem<'a> {
    run: &'a RunId,
    part: u32,
    chunk: u32,
    chunks: u32,
    expires_at: i64,
    packed: PackedChunk,
}

impl From<ChunkItem<'_>> for Item {
    fn from(c: ChunkItem<'_>) -> Self {
        Item::from([
            ("pk".to_string(), s(c.run.instance.0.clone())),
            (
                "sk".to_string(),
                s(format!("{}{:06}#{:04}", run_prefix(c.run), c.part, c.chunk)),
            ),
            ("chunks".to_string(), n(c.chunks)),
            ("members".to_string(), n(c.packed.members)),
            ("format".to_string(), n(FORMAT)),
            (
                "data".to_string(),
                AttributeValue::B(Blob::new(c.packed.gzip)),
            ),
            ("expires_at".to_string(), n(c.expires_at)),
        ])
    }
}

/// How many chunks each part has: the count its chunk 0 declares.
fn declared_chunks(keyed: &[(ChunkKey, &Item)]) -> Result<BTreeMap<u32, u32>, StoreError> {
    let mut declared = BTreeMap::new();
    for (key, item) in keyed {
        if key.chunk == 0 {
            declared.insert(key.part, number(item, "chunks", &key.sk)?);
        }
    }
    Ok(declared)
}

/// Whether the day's chunks are being deleted by TTL (all gone, or some past their expiry):
/// then missing chunks are retention at work, not damage.
fn ttl_expiring(items: &[Item]) -> bool {
    let now = chrono::Utc::now().timestamp();
    items.is_empty()
        || items.iter().any(|item| {
            matches!(item.get("expires_at"), Some(AttributeValue::N(at)) if at.parse::<i64>().is_ok_and(|at| at <= now))
        })
}

/// The members of a day's current chunks, keyed by id, later parts winning: GitLab's offset
/// pagination can list a user twice.
fn unpack_chunks<'a>(
    chunks: impl Iterator<Item = &'a (ChunkKey, &'a Item)>,
) -> Result<Vec<Member>, StoreError> {
    let mut by_id = BTreeMap::new();
    for (key, item) in chunks {
        let format = number(item, "format", &key.sk)?;
        if format != FORMAT {
            return Err(corrupt(&key.sk, format!("unknown format {format}")));
        }
        let Some(AttributeValue::B(data)) = item.get("data") else {
            return Err(corrupt(
                &key.sk,
                "attribute `data` is missing or not binary",
            ));
        };
        for member in dynamodb_codec::unpack(data.as_ref(), &key.sk)? {
            by_id.insert(member.id, member);
        }
    }
    Ok(by_id.into_values().collect())
}

/// Part and chunk numbers parsed back from a chunk's sort key.
struct ChunkKey {
    sk: String,
    part: u32,
    chunk: u32,
}

impl TryFrom<&Item> for ChunkKey {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        let sk = string(item, "sk", "a member chunk")?;
        let mut tail = sk.rsplitn(3, '#');
        let chunk = tail.next().and_then(|c| c.parse().ok());
        let part = tail.next().and_then(|p| p.parse().ok());
        match (part, chunk) {
            (Some(part), Some(chunk)) => Ok(ChunkKey {
                sk: sk.to_string(),
                part,
                chunk,
            }),
            _ => Err(corrupt(sk, "the sort key does not end in #part#chunk")),
        }
    }
}

/// The day record as stored: the commit of one run.
struct DayRecord {
    run: String,
    parts: u32,
    summary: DaySummary,
}

impl TryFrom<Item> for DayRecord {
    type Error = StoreError;

    fn try_from(item: Item) -> Result<Self, Self::Error> {
        let what = string(&item, "sk", "a day record")?.to_string();
        let format = number(&item, "format", &what)?;
        if format != FORMAT {
            return Err(corrupt(&what, format!("unknown format {format}")));
        }
        let summary = serde_json::from_str(string(&item, "summary", &what)?)
            .map_err(|e| corrupt(&what, format!("summary: {e}")))?;
        Ok(DayRecord {
            run: string(&item, "run", &what)?.to_string(),
            parts: number(&item, "parts", &what)?,
            summary,
        })
    }
}

impl TryFrom<&DayRecord> for Item {
    type Error = StoreError;

    fn try_from(day: &DayRecord) -> Result<Self, Self::Error> {
        let summary = serde_json::to_string(&day.summary)
            .map_err(|e| StoreError::Encode(format!("day summary: {e}")))?;
        Ok(Item::from([
            ("pk".to_string(), s(day.summary.instance.0.clone())),
            ("sk".to_string(), s(day_sk(day.summary.date))),
            ("date".to_string(), s(day.summary.date.to_string())),
            ("run".to_string(), s(day.run.clone())),
            ("parts".to_string(), n(day.parts)),
            ("format".to_string(), n(FORMAT)),
            ("summary".to_string(), s(summary)),
        ]))
    }
}

fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("a put request with an item is complete"),
        )
        .build()
}

fn transact_put(table: &str, item: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .build()
                .expect("a put with table and item is complete"),
        )
        .build()
}

#[async_trait::async_trait]
impl StoreProvisioner for DynamoStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.err("DescribeTable", e));
        match described {
            Ok(_) => {}
            Err(StoreError::TableMissing { .. }) => {
                tracing::info!(table = %self.table, "creating the DynamoDB table");
                let key = |name: &str, key_type| {
                    KeySchemaElement::builder()
                        .attribute_name(name)
                        .key_type(key_type)
                        .build()
                        .expect("name and type are set")
                };
                let attribute = |name: &str| {
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("name and type are set")
                };
                let created = self
                    .client
                    .create_table()
                    .table_name(&self.table)
                    .billing_mode(BillingMode::PayPerRequest)
                    .key_schema(key("pk", KeyType::Hash))
                    .key_schema(key("sk", KeyType::Range))
                    .attribute_definitions(attribute("pk"))
                    .attribute_definitions(attribute("sk"))
                    .send()
                    .await;
                // Another collector creating it at the same moment is as good as us creating it.
                if let Err(e) = created
                    && e.code() != Some("ResourceInUseException")
                {
                    return Err(self.err("CreateTable", e));
                }
                self.client
                    .wait_until_table_exists()
                    .table_name(&self.table)
                    .wait(TABLE_READY_TIMEOUT)
                    .await
                    .map_err(|e| StoreError::DynamoDb {
                        table: self.table.clone(),
                        operation: "DescribeTable",
                        message: format!("the new table did not become active: {e}"),
                        retryable: true,
                    })?;
            }
            Err(e) => return Err(e),
        }
        self.ensure_ttl().await
    }
}

#[async_trait::async_trait]
impl SnapshotWriter for DynamoStore {
    async fn put_members(
        &self,
        run: &RunId,
        part: u32,
        members: &[Member],
    ) -> Result<(), StoreError> {
        self.put_all(member_part_items(run, part, members, self.retention_days)?)
            .await
    }

    async fn commit_day(
        &self,
        run: &RunId,
        parts: u32,
        summary: &DaySummary,
    ) -> Result<(), StoreError> {
        let complete = self.complete_parts(run).await?;
        let incomplete = (0..parts).find(|p| !complete.contains(p));
        if let Some(missing_part) = incomplete {
            return Err(StoreError::IncompleteRun {
                instance: run.instance.clone(),
                date: run.date,
                run: run.run.clone(),
                parts,
                missing_part,
            });
        }
        let day = Item::try_from(&DayRecord {
            run: run.run.clone(),
            parts,
            summary: summary.clone(),
        })?;
        let registry = Item::from([
            ("pk".to_string(), s(REGISTRY_PK)),
            ("sk".to_string(), s(run.instance.0.clone())),
            ("since".to_string(), s(run.date.to_string())),
        ]);
        // Transactional writes cost double.
        let units = 2 * (write_units(&day) + write_units(&registry));
        self.client
            .transact_write_items()
            .transact_items(transact_put(&self.table, day))
            .transact_items(transact_put(&self.table, registry))
            .send()
            .await
            .map_err(|e| self.err("TransactWriteItems", e))?;
        self.meter(units);
        self.delete_other_runs(run).await
    }

    async fn put_duo_holders(&self, run: &RunId, holders: &[DuoHolder]) -> Result<(), StoreError> {
        self.put_all(duo_holder_items(run, holders, self.retention_days)?)
            .await
    }

    async fn carried_forward(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<HashMap<u64, CarriedForward>, StoreError> {
        // One chunk unpacked at a time: only ids and dates outlive it.
        let mut carried = HashMap::new();
        for item in self.committed_member_chunks(instance, date).await? {
            let key = ChunkKey::try_from(&item)?;
            for member in unpack_chunks(std::iter::once(&(key, &item)))? {
                if let Some(kept) = CarriedForward::of(&member) {
                    carried.insert(member.id, kept);
                }
            }
        }
        Ok(carried)
    }

    async fn save_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
        state: &str,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            ("pk".to_string(), s(instance.0.clone())),
            ("sk".to_string(), s(checkpoint_sk(date))),
            ("state".to_string(), s(state)),
            (
                "expires_at".to_string(),
                n(expires_at(date, CHECKPOINT_TTL_DAYS)),
            ),
        ]);
        let units = write_units(&item);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        self.meter(units);
        Ok(())
    }

    async fn load_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(instance.0.clone()))
            .key("sk", s(checkpoint_sk(date)))
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        out.item
            .map(|item| string(&item, "state", "a checkpoint").map(str::to_string))
            .transpose()
    }

    async fn clear_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(instance.0.clone()))
            .key("sk", s(checkpoint_sk(date)))
            .send()
            .await
            .map_err(|e| self.err("DeleteItem", e))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SnapshotReader for DynamoStore {
    async fn latest_day(&self, instance: &InstanceId) -> Result<Option<DaySummary>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(instance.0.clone()))
            .expression_attribute_values(":prefix", s("DAY#"))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| self.err("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|item| DayRecord::try_from(item).map(|day| day.summary))
            .transpose()
    }

    async fn days(
        &self,
        instance: &InstanceId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(instance.0.clone()))
            .expression_attribute_values(":from", s(day_sk(from)))
            .expression_attribute_values(":to", s(day_sk(to)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err("Query", e))?;
        items
            .into_iter()
            .map(|item| DayRecord::try_from(item).map(|day| day.summary))
            .collect()
    }

    async fn members(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<Member>, StoreError> {
        let items = self.committed_member_chunks(instance, date).await?;
        let keyed = items
            .iter()
            .map(|item| ChunkKey::try_from(item).map(|key| (key, item)))
            .collect::<Result<Vec<_>, _>>()?;
        unpack_chunks(keyed.iter())
    }

    async fn instances(&self) -> Result<Vec<InstanceId>, StoreError> {
        let items = self.query_prefix(REGISTRY_PK, "", Some("sk")).await?;
        items
            .iter()
            .map(|item| {
                string(item, "sk", "the instance registry").map(|sk| InstanceId(sk.to_string()))
            })
            .collect()
    }

    async fn duo_holders(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<DuoHolder>, StoreError> {
        let mut holders = Vec::new();
        for item in self.committed_duo_chunks(instance, date).await? {
            let sk = string(&item, "sk", "a Duo holders chunk")?;
            let format = number(&item, "format", sk)?;
            if format != FORMAT {
                return Err(corrupt(sk, format!("unknown format {format}")));
            }
            let Some(AttributeValue::B(data)) = item.get("data") else {
                return Err(corrupt(sk, "attribute `data` is missing or not binary"));
            };
            holders.extend(dynamodb_codec::unpack_holders(data.as_ref(), sk)?);
        }
        holders.sort_by(|a, b| (&a.add_on, a.user_id).cmp(&(&b.add_on, b.user_id)));
        holders.dedup_by(|a, b| a.add_on == b.add_on && a.user_id == b.user_id);
        Ok(holders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = Item::from([
            ("pk".to_string(), s("abc")),
            ("n".to_string(), n(1_234_500)),
            ("b".to_string(), AttributeValue::B(Blob::new(vec![0u8; 10]))),
            ("t".to_string(), AttributeValue::Bool(true)),
        ]);
        // pk 2+3, n 1+(5 significant digits: 3+1), b 1+10, t 1+1
        assert_eq!(item_size(&item), 5 + 5 + 11 + 2);
        assert_eq!(write_units(&item), 1);
        let big = Item::from([("d".to_string(), s("x".repeat(1024)))]);
        assert_eq!(write_units(&big), 2);
    }

    fn service_error(code: &str) -> StoreError {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("from the service")
            .build();
        let e = SdkError::<BatchWriteItemError, ()>::service_error(
            BatchWriteItemError::generic(meta),
            (),
        );
        sdk_error("seatwatch", "BatchWriteItem", e)
    }

    #[test]
    fn service_errors_map_to_what_the_user_can_do() {
        let missing = service_error("ResourceNotFoundException");
        assert!(
            matches!(missing, StoreError::TableMissing { .. }),
            "{missing:?}"
        );
        assert!(!missing.is_retryable());
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
        ] {
            let e = service_error(code);
            assert!(matches!(e, StoreError::Throttled { .. }), "{code}: {e:?}");
            assert!(e.is_retryable());
            assert!(e.to_string().contains("on-demand"), "{e}");
        }
        let denied = service_error("AccessDeniedException");
        assert!(
            matches!(denied, StoreError::AccessDenied { .. }),
            "{denied:?}"
        );
        assert!(denied.to_string().contains("BatchWriteItem"), "{denied}");
        let internal = service_error("InternalServerError");
        assert!(internal.is_retryable(), "{internal:?}");
        let invalid = service_error("ValidationException");
        assert!(!invalid.is_retryable(), "{invalid:?}");
        assert!(
            invalid.to_string().contains("from the service"),
            "{invalid}"
        );
    }

    #[test]
    fn backoff_never_exceeds_its_cap() {
        let retry = BatchRetry {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        for attempt in 0..40 {
            assert!(retry.delay(attempt) <= Duration::from_millis(100));
        }
    }
}
