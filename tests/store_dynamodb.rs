//! DynamoDB-only properties: unprocessed items, item sizes, write cost, table creation.
//!
//! `UnprocessedItems` are produced by the fault proxy in front of moto (`seatwatch_testkit::proxy`; moto
//! itself never returns any): it forwards every call, except that a `BatchWriteItem` only gets part
//! of its requests forwarded and the rest handed back as unprocessed, exactly as a throttled table
//! does.
//! Items really land in moto, so the tests read back what was written.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use chrono::{DateTime, Days, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seatwatch::store::dynamodb::{self, BatchRetry, MAX_ITEM_BYTES};
use seatwatch::store::{RunId, SnapshotStore, StoreError};
use seatwatch::store::{SnapshotReader, SnapshotWriter, StoreProvisioner};
use seatwatch_core::snapshot::{
    Activity, ActivityCoverage, DaySummary, Flavour, InstanceId, Member, SeatCounts, Source,
    UserState,
};
use seatwatch_testkit::members::member;
use seatwatch_testkit::moto;
use seatwatch_testkit::proxy::{Fault, Proxy};
use seatwatch_testkit::store::{RETENTION_DAYS, dynamo, ready_dynamo};
use seatwatch_testkit::synthetic;

fn snapshot_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date")
}

fn instance() -> InstanceId {
    InstanceId("gitlab.example.com".into())
}

// ---- realistic members ----------------------------------------------------------------------

const FIRST: &[&str] = &[
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Charlotte",
    "James",
    "Mia",
    "Lucas",
    "Harper",
    "Mateo",
    "Evelyn",
    "Benjamin",
    "Aarav",
    "Priya",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Olga",
    "Dmitri",
    "Zoë",
    "Łukasz",
    "Søren",
    "Chloé",
    "Fatima",
    "Omar",
    "Ngozi",
    "Chinedu",
    "Isabella",
    "Diego",
    "Camila",
    "Jonas",
    "Lena",
    "Mohammed",
    "Aisha",
    "Kwame",
    "Ingrid",
    "Tomás",
    "Siobhan",
    "Raj",
    "Anjali",
    "Kenji",
    "Ana",
    "João",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernández",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Nguyen",
    "Kim",
    "Patel",
    "Singh",
    "Kowalski",
    "Müller",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Yamamoto",
    "Tanaka",
    "Ivanov",
    "O'Connor",
    "Okafor",
    "Mensah",
    "Haddad",
    "Andersson",
    "Nielsen",
    "Fernández",
    "Silva",
    "Costa",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Novák",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "corp.example.com",
    "gmail.com",
    "contractor.example.net",
];

fn timestamp(rng: &mut StdRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds().max(1);
    from + chrono::Duration::milliseconds(rng.random_range(0..span))
}

/// Members as a large self-managed instance lists them: varied names, mostly company emails,
/// accounts created over six years, a long tail of inactive ones, some activity on the day.
fn realistic_members(count: u64, seed: u64) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(seed);
    let day = snapshot_date();
    let now = day.and_hms_opt(2, 0, 0).expect("valid time").and_utc();
    let six_years_ago = now - chrono::Duration::days(6 * 365);
    let mut id = 1000u64;
    (0..count)
        .map(|_| {
            id += rng.random_range(1..40);
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let suffix = if rng.random_bool(0.3) {
                rng.random_range(1..100).to_string()
            } else {
                String::new()
            };
            let username = format!("{}.{}{suffix}", first.to_lowercase(), last.to_lowercase())
                .replace(['\'', ' '], "");
            let bot = rng.random_bool(0.02);
            let created_at = timestamp(&mut rng, six_years_ago, now);
            let never_signed_in = rng.random_bool(0.05);
            let last_seen_days = rng.random_range(0..500u64).min(rng.random_range(0..500u64));
            let last_seen = now - chrono::Duration::days(last_seen_days as i64);
            let last_sign_in = (!never_signed_in).then(|| {
                timestamp(
                    &mut rng,
                    created_at.max(last_seen - chrono::Duration::days(30)),
                    now.max(created_at),
                )
            });
            let active_today = last_seen_days == 0 || rng.random_bool(0.15);
            let activity = if active_today {
                Activity {
                    pushes: rng.random_range(0..6),
                    commits: rng.random_range(0..25),
                    mrs_opened: rng.random_range(0..3),
                    mrs_merged: rng.random_range(0..3),
                    mrs_approved: rng.random_range(0..4),
                    issues_opened: rng.random_range(0..2),
                    issues_closed: rng.random_range(0..2),
                    comments: rng.random_range(0..10),
                    other: rng.random_range(0..3),
                }
            } else {
                Activity::default()
            };
            Member {
                id,
                email: (!bot)
                    .then(|| format!("{username}@{}", DOMAINS[rng.random_range(0..DOMAINS.len())])),
                name: format!("{first} {last}"),
                username: if bot {
                    format!("project_{id}_bot_{:x}", rng.random::<u32>())
                } else {
                    username
                },
                state: match rng.random_range(0..100) {
                    0..90 => UserState::Active,
                    90..95 => UserState::Blocked,
                    95..98 => UserState::Deactivated,
                    _ => UserState::LdapBlocked,
                },
                bot,
                admin: rng.random_bool(0.01),
                auditor: rng.random_bool(0.005),
                external: rng.random_bool(0.1),
                holds_seat: !bot && rng.random_bool(0.9),
                created_at: Some(created_at),
                last_activity_on: (!never_signed_in).then(|| last_seen.date_naive()),
                last_sign_in_at: last_sign_in,
                current_sign_in_at: last_sign_in
                    .map(|t| timestamp(&mut rng, t, now.max(t + chrono::Duration::seconds(1)))),
                activity,
                activity_unknown: id.is_multiple_of(17),
                ..member(id)
            }
        })
        .collect()
}

fn summary(members: &[Member]) -> DaySummary {
    let day = snapshot_date();
    let (counted, aggregates) = synthetic::two_day_aggregates(members, day);
    DaySummary {
        instance: instance(),
        date: day,
        collected_at: day.and_hms_opt(2, 30, 0).expect("valid time").and_utc(),
        source: Source {
            flavour: Flavour::SelfManaged,
            gitlab_version: Some("18.1.1-ee".into()),
        },
        seats: SeatCounts {
            purchased: Some(10_000),
            in_use: aggregates.seat_holders,
            max_used: Some(aggregates.seat_holders + 12),
            owed: None,
            plan: Some("ultimate".into()),
            term_start: NaiveDate::from_ymd_opt(2025, 7, 1),
            term_end: NaiveDate::from_ymd_opt(2026, 6, 30),
            licence: Default::default(),
        },
        aggregates,
        token_expires_at: Some(day + Days::new(200)),
        requests: 150,
        activity: ActivityCoverage::Days(counted),
        contributions_known_since: None,
        duo: None,
    }
}

async fn write_day(store: &dyn SnapshotStore, members: &[Member], part_size: usize) -> RunId {
    let run = RunId::new(instance(), snapshot_date());
    let mut parts = 0;
    for page in members.chunks(part_size) {
        store
            .put_members(&run, parts, page)
            .await
            .expect("put_members");
        parts += 1;
    }
    store
        .commit_day(&run, parts, &summary(members))
        .await
        .expect("commit_day");
    run
}

/// The committed members of the test's day.
async fn read_day(store: &impl SnapshotReader) -> Vec<Member> {
    store
        .members(&instance(), snapshot_date())
        .await
        .expect("read")
}

/// Every item in `table` now.
async fn scan_all(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<dynamodb::Item> {
    client
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("scan")
}

/// The table's TTL is on and reads `expires_at`.
async fn assert_ttl_on_expires_at(client: &aws_sdk_dynamodb::Client, table: &str) {
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .expect("describe ttl")
        .time_to_live_description
        .expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

// ---- sizes and cost -------------------------------------------------------------------------

#[test]
fn items_stay_under_the_item_limit_for_100k_members() {
    let members = realistic_members(100_000, 7);
    let run = RunId::new(instance(), snapshot_date());
    let items = dynamodb::member_part_items(&run, 0, &members, RETENTION_DAYS).expect("encode");
    let sizes: Vec<usize> = items.iter().map(dynamodb::item_size).collect();
    let largest = sizes.iter().copied().max().expect("at least one item");
    println!(
        "100,000 members in one part: {} items, largest {largest} bytes, total {} bytes",
        items.len(),
        sizes.iter().sum::<usize>()
    );
    assert!(items.len() > 1, "100,000 members cannot fit one item");
    assert!(largest <= MAX_ITEM_BYTES, "largest item {largest} bytes");
    // "Well under": a quarter of headroom for attribute overhead and future fields.
    assert!(
        largest <= MAX_ITEM_BYTES * 3 / 4,
        "largest item {largest} bytes"
    );
}

/// Sums write units over the items in the table now, with DynamoDB's size rules; the day record
/// and registry were written in a transaction, which costs double.
async fn table_write_units(client: &aws_sdk_dynamodb::Client, table: &str) -> (u64, usize) {
    let items: Vec<dynamodb::Item> = scan_all(client, table).await;
    let units = items
        .iter()
        .map(|item| {
            let transactional = matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("DAY#"))
                || matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk == "#instances");
            dynamodb::write_units(item) * if transactional { 2 } else { 1 }
        })
        .sum();
    (units, items.len())
}

#[tokio::test]
async fn write_units_per_member_for_10k_members() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let members = realistic_members(10_000, 11);

    // Parts of 100: one GitLab page each, the smallest parts a collector writes.
    for part_size in [100, 10_000] {
        let table = moto::unique("wcu");
        let store = ready_dynamo(&aws, &table, RETENTION_DAYS).await;
        write_day(&store, &members, part_size).await;
        assert_eq!(read_day(&store).await, members);

        let (stored_units, items) = table_write_units(&client, &table).await;
        let metered = store.write_units_used();
        let per_member = stored_units as f64 / members.len() as f64;
        println!(
            "10,000 members in parts of {part_size}: {items} items, {stored_units} WCU from stored \
             item sizes ({metered} metered by the store) = {per_member:.4} WCU per member"
        );
        assert_eq!(
            stored_units, metered,
            "the store's meter matches the stored items"
        );
        assert!(
            per_member <= 0.1,
            "{per_member:.4} WCU per member exceeds 0.1"
        );
    }
}

// ---- table creation -------------------------------------------------------------------------

#[tokio::test]
async fn table_creation_is_idempotent_with_the_documented_schema() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = moto::unique("create");
    let store = dynamo(&aws, &table, RETENTION_DAYS);

    // Before: reads say the table is missing, with a hint.
    let err = store
        .latest_day(&instance())
        .await
        .expect_err("no table yet");
    assert!(matches!(err, StoreError::TableMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("seatwatch setup"), "{err}");
    assert!(err.to_string().contains("infra/template.yaml"), "{err}");

    // Two `seatwatch setup` runs together, then a third later.
    let (a, b) = tokio::join!(store.ensure_ready(), store.ensure_ready());
    a.expect("first ensure_ready");
    b.expect("concurrent ensure_ready");
    store.ensure_ready().await.expect("repeated ensure_ready");

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table description");
    let keys: Vec<(String, String)> = described
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );
    assert_ttl_on_expires_at(&client, &table).await;
}

#[tokio::test]
async fn member_chunks_expire_after_retention_and_day_records_never() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = moto::unique("ttl");
    let store = ready_dynamo(&aws, &table, 30).await;
    write_day(&store, &realistic_members(50, 3), 100).await;

    let items: Vec<dynamodb::Item> = scan_all(&client, &table).await;
    let expected = (snapshot_date() + Days::new(30))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        .to_string();
    for item in &items {
        let Some(AttributeValue::S(sk)) = item.get("sk") else {
            panic!("item without sk: {item:?}");
        };
        match item.get("expires_at") {
            Some(AttributeValue::N(at)) => {
                assert!(sk.starts_with("PART#"), "{sk} must not expire");
                assert_eq!(at, &expected, "{sk}");
            }
            None => assert!(!sk.starts_with("PART#"), "{sk} must expire"),
            Some(other) => panic!("{sk}: expires_at is {other:?}"),
        }
    }
    assert!(items.iter().any(|i| i.contains_key("expires_at")));
}

// ---- UnprocessedItems -----------------------------------------------------------------------

fn fast_retry(max_attempts: u32) -> BatchRetry {
    BatchRetry {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

/// A ready `table` on moto and a store that reaches it through a proxy answering with `fault`,
/// retrying a batch `max_attempts` times. The table is created directly on moto, so the proxy
/// only sees the writes.
async fn behind_proxy(
    moto: &moto::Moto,
    aws: &aws_config::SdkConfig,
    table: &str,
    fault: Fault,
    max_attempts: u32,
) -> (Proxy, seatwatch::store::DynamoStore) {
    ready_dynamo(aws, table, RETENTION_DAYS).await;
    let proxy = Proxy::start(moto, fault).await;
    let proxied = aws.to_builder().endpoint_url(&proxy.endpoint).build();
    let store = dynamo(&proxied, table, RETENTION_DAYS).with_batch_retry(fast_retry(max_attempts));
    (proxy, store)
}

/// Members with long random names: they barely compress, so one part spans several items.
fn bulky_members(count: u64) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut members = realistic_members(count, 5);
    for m in &mut members {
        m.name = (0..1500)
            .map(|_| char::from(rng.random_range(b'!'..=b'~')))
            .collect();
    }
    members
}

#[tokio::test]
async fn unprocessed_items_are_retried_until_done() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let table = moto::unique("unprocessed");
    let (proxy, store) = behind_proxy(&moto, &aws, &table, Fault::OnePerBatch, 50).await;

    let members = bulky_members(1200);
    let run = RunId::new(instance(), snapshot_date());
    let items = dynamodb::member_part_items(&run, 0, &members, RETENTION_DAYS).expect("encode");
    assert!(items.len() >= 3, "the part spans {} items", items.len());

    // First run: two parts; re-run: the commit then deletes the first run's items, also batched.
    write_day(&store, &members, 600).await;
    let rerun = members[..700].to_vec();
    write_day(&store, &rerun, 350).await;

    assert_eq!(read_day(&store).await, rerun);
    let handed_back = proxy.counters().handed_back.load(Ordering::SeqCst);
    let calls = proxy.counters().batch_calls.load(Ordering::SeqCst);
    println!("{calls} BatchWriteItem calls, {handed_back} requests handed back unprocessed");
    assert!(
        handed_back >= 2 * (items.len() - 1),
        "the proxy throttled ({handed_back})"
    );

    // Nothing of the first run is left behind: every stored chunk belongs to the committed run.
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let chunks: Vec<dynamodb::Item> = scan_all(&client, store.table()).await;
    let runs: std::collections::BTreeSet<String> = chunks
        .iter()
        .filter_map(|item| match item.get("sk") {
            Some(AttributeValue::S(sk)) if sk.starts_with("PART#") => {
                sk.split('#').nth(2).map(str::to_string)
            }
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 1, "chunks of {runs:?} remain");
}

#[tokio::test]
async fn unprocessed_items_that_never_drain_give_a_clear_retryable_error() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let table = moto::unique("stuck");
    let (proxy, store) = behind_proxy(&moto, &aws, &table, Fault::HandBackForever, 4).await;

    let members = bulky_members(1200);
    let run = RunId::new(instance(), snapshot_date());
    let expected = dynamodb::member_part_items(&run, 0, &members, RETENTION_DAYS)
        .expect("encode")
        .len();
    let err = store
        .put_members(&run, 0, &members)
        .await
        .expect_err("nothing is ever processed");
    match &err {
        StoreError::UnprocessedItems {
            table: t,
            attempts,
            remaining,
        } => {
            assert_eq!(t, &table);
            assert_eq!(*attempts, 4);
            assert_eq!(*remaining, expected);
        }
        other => panic!("expected UnprocessedItems, got {other:?}"),
    }
    assert!(err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains("on-demand") && message.contains(&table),
        "{message}"
    );
    assert_eq!(proxy.counters().batch_calls.load(Ordering::SeqCst), 4);
    assert_eq!(store.write_units_used(), 0, "nothing was written");
}

// ---- reading back what was committed, and only that ----------------------------------------

#[tokio::test]
async fn a_part_rewritten_with_fewer_chunks_reads_only_its_new_chunks() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let store = ready_dynamo(&aws, &moto::unique("rewrite"), RETENTION_DAYS).await;
    let run = RunId::new(instance(), snapshot_date());
    let bulky = bulky_members(1200);
    let chunks = dynamodb::member_part_items(&run, 0, &bulky, RETENTION_DAYS)
        .expect("encode")
        .len();
    assert!(chunks >= 3, "the first write spans {chunks} items");
    store
        .put_members(&run, 0, &bulky)
        .await
        .expect("first write");
    let retried = realistic_members(10, 1);
    store.put_members(&run, 0, &retried).await.expect("rewrite");
    store
        .commit_day(&run, 1, &summary(&retried))
        .await
        .expect("commit");
    assert_eq!(read_day(&store).await, retried);
}

#[tokio::test]
async fn a_committed_day_missing_a_chunk_is_an_error_not_a_short_list() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = moto::unique("damaged");
    // Retention long enough that the chunks cannot count as expiring whenever this runs.
    let store = ready_dynamo(&aws, &table, 100_000).await;
    let run = write_day(&store, &bulky_members(1200), 1200).await;

    let lost = format!("PART#{}#{}#000000#0001", run.date, run.run);
    client
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(instance().0))
        .key("sk", AttributeValue::S(lost.clone()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .send()
        .await
        .expect("delete a chunk")
        .attributes
        .unwrap_or_else(|| panic!("{lost} existed"));
    let err = store
        .members(&instance(), snapshot_date())
        .await
        .expect_err("a chunk is gone");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("collect the day again"), "{err}");
}

// ---- provisioning is an explicit step --------------------------------------------------------

/// `seatwatch report` / `collect` on a missing table fail with the way out and create nothing;
/// `seatwatch setup` creates the table with its TTL (what the SAM template does in AWS).
#[tokio::test]
async fn only_setup_creates_the_table_the_commands_never_do() {
    let moto = moto::start();
    let aws = moto::sdk_config(&moto).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = moto::unique("setup");
    let cli = |command: &str| {
        seatwatch_testkit::cli::command(env!("CARGO_BIN_EXE_seatwatch"))
            .envs(moto::aws_env(&moto))
            .env("SEATWATCH_STORE", format!("dynamodb:{table}"))
            .env("SEATWATCH_SITE", "unused-site-folder-never-written")
            .arg(command)
            .output()
            .expect("the CLI runs")
    };

    let report = cli("report");
    assert!(!report.status.success());
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(stderr.contains("seatwatch setup"), "{stderr}");
    let tables = client.list_tables().send().await.expect("list tables");
    assert!(
        !tables.table_names().contains(&table),
        "report created the table"
    );

    let setup = cli("setup");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    assert_ttl_on_expires_at(&client, &table).await;
    // Idempotent: a second setup is fine.
    assert!(cli("setup").status.success());
}
