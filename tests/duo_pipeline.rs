//! Duo seats and contributions through collect, the store and the report, against the simulator
//! over HTTP on both flavours: the Duo snapshot is the simulator's ground truth, first-seen dates
//! are carried from day to day, every Duo status shows across days of history, a GitLab without
//! `lastDuoActivityOn` reads as unknown, holder pages are followed, and nothing but GET is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{Days, NaiveDate, NaiveTime};
use seatwatch::collect::{self, CollectOptions};
use seatwatch::store::{SnapshotReader, SnapshotStore, SqliteStore, StoreProvisioner};
use seatwatch_core::analyse::{self, DuoStatus, Policy};
use seatwatch_core::duo::{AddOnSeats, DuoHolder, DuoUse};
use seatwatch_gitlab::{BaseUrl, Client, Token};
use seatwatch_sim::{Flavour, SimHandle, tokens};
use seatwatch_testkit::gitlab;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("duo.db"), 400).expect("open");
    (dir, store)
}

fn options(flavour: Flavour, date: NaiveDate) -> CollectOptions {
    let mut opts = CollectOptions::new(date);
    if flavour == Flavour::GitLabCom {
        opts.group = Some(seatwatch_testkit::gitlab::config_on(flavour, 1, date).group_path);
        opts.seats_purchased = Some(1000);
    }
    opts
}

/// Collects every day in first..=last at 05:30 on the simulator's clock.
async fn collect_days(
    sim: &SimHandle,
    client: &Client,
    store: &dyn SnapshotStore,
    flavour: Flavour,
    first: NaiveDate,
    last: NaiveDate,
) {
    let run_at = NaiveTime::from_hms_opt(5, 30, 0).expect("time");
    let mut date = first;
    while date <= last {
        sim.set_clock(date, run_at);
        let outcome = collect::collect(
            client,
            store,
            &options(flavour, date),
            date.and_time(run_at).and_utc(),
        )
        .await
        .unwrap_or_else(|e| panic!("collect {date}: {e}"));
        assert!(outcome.is_committed());
        date = date + Days::new(1);
    }
}

async fn sim_on(flavour: Flavour, users: u32, as_of: NaiveDate, duo_field: bool) -> SimHandle {
    let mut cfg = gitlab::config_on(flavour, users, as_of);
    cfg.duo_activity_field = duo_field;
    gitlab::start(cfg).await
}

/// The stored Duo day equals the simulator's ground truth: purchases, holders, their use.
async fn duo_matches_the_simulator(flavour: Flavour) {
    let date = day("2026-06-30");
    let sim = sim_on(flavour, 1500, date, true).await;
    let client = gitlab::client(&sim, tokens::ADMIN);
    let (_dir, store) = temp_store();
    store.ensure_ready().await.expect("ready");
    collect_days(&sim, &client, &store, flavour, date, date).await;

    let expected = sim.duo_expected();
    let instance = collect::instance_id(&client, options(flavour, date).group.as_deref());
    let dayrec = store
        .latest_day(&instance)
        .await
        .expect("day")
        .expect("one");
    let duo = dayrec.duo.expect("Duo seats were read");
    assert!(duo.activity_exposed);
    assert_eq!(duo.tracked_since, date);
    let stored: Vec<(String, u64, u64)> = duo
        .add_ons
        .iter()
        .map(|a| (a.add_on.clone(), a.purchased, a.assigned))
        .collect();
    let truth: Vec<(String, u64, u64)> = expected
        .add_ons
        .iter()
        .map(|a| (a.name.to_string(), a.purchased, a.assigned))
        .collect();
    assert_eq!(stored, truth, "{flavour:?}");

    let holders = store.duo_holders(&instance, date).await.expect("holders");
    let mut truth_holders: Vec<DuoHolder> = expected
        .add_ons
        .iter()
        .filter(|a| AddOnSeats::of(a.name) == AddOnSeats::PerUser)
        .flat_map(|a| {
            a.holders.iter().map(|h| DuoHolder {
                add_on: a.name.to_string(),
                user_id: h.user_id,
                username: h.username.clone(),
                last_duo_use: h.last_duo_activity_on.map_or(DuoUse::Never, DuoUse::On),
                last_activity_on: h.last_activity_on,
                last_login_at: None,
                first_seen_assigned: date,
            })
        })
        .collect();
    truth_holders.sort_by(|a, b| (&a.add_on, a.user_id).cmp(&(&b.add_on, b.user_id)));
    let without_login: Vec<DuoHolder> = holders
        .iter()
        .cloned()
        .map(|h| DuoHolder {
            last_login_at: None,
            ..h
        })
        .collect();
    assert_eq!(without_login, truth_holders, "{flavour:?}");
    // More than a page of holders of one add-on: the cursor pages were followed.
    let mut per_add_on: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &holders {
        *per_add_on.entry(h.add_on.as_str()).or_default() += 1;
    }
    assert!(
        per_add_on.values().any(|&n| n > 100),
        "no add-on spans two pages: {per_add_on:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duo_seats_match_the_simulator_self_managed() {
    duo_matches_the_simulator(Flavour::SelfManaged).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duo_seats_match_the_simulator_gitlab_com() {
    duo_matches_the_simulator(Flavour::GitLabCom).await;
}

/// Days of history: first-seen dates are carried, new holders dated the day they appear, and the
/// report shows every Duo status a GitLab 18 can give.
async fn every_status_across_days(flavour: Flavour) {
    let first = day("2026-06-01");
    let last = day("2026-06-30");
    let sim = sim_on(flavour, 1500, last, true).await;
    let client = gitlab::client(&sim, tokens::ADMIN);
    let (_dir, store) = temp_store();
    store.ensure_ready().await.expect("ready");
    collect_days(&sim, &client, &store, flavour, first, last).await;

    let instance = collect::instance_id(&client, options(flavour, last).group.as_deref());
    let latest = store
        .latest_day(&instance)
        .await
        .expect("day")
        .expect("one");
    let duo = latest.duo.clone().expect("Duo read");
    assert_eq!(duo.tracked_since, first, "tracked_since is carried");
    let holders = store.duo_holders(&instance, last).await.expect("holders");
    let assigned_on: BTreeMap<(String, u64), NaiveDate> = sim
        .duo_expected()
        .add_ons
        .iter()
        .flat_map(|a| {
            a.holders
                .iter()
                .map(move |h| ((a.name.to_string(), h.user_id), h.assigned_on))
        })
        .collect();
    for h in &holders {
        let assigned = assigned_on[&(h.add_on.clone(), h.user_id)];
        assert_eq!(
            h.first_seen_assigned,
            assigned.max(first),
            "{} of {}: first seen on the first snapshot that held it",
            h.username,
            h.add_on
        );
    }

    let members = store.members(&instance, last).await.expect("members");
    let history = store.days(&instance, first, last).await.expect("days");
    let policy = Policy::default();
    let report = analyse::build_report(
        &latest,
        &members,
        &history,
        &holders,
        &policy,
        last.and_hms_opt(6, 0, 0).unwrap().and_utc(),
    );
    let statuses: BTreeSet<String> = report
        .duo
        .as_ref()
        .expect("the report's Duo section")
        .add_ons
        .iter()
        .flat_map(|a| a.holders.iter().flatten())
        .map(|h| format!("{:?}", h.status))
        .collect();
    for status in [
        DuoStatus::Active,
        DuoStatus::Idle,
        DuoStatus::NeverUsed,
        DuoStatus::Grace,
    ] {
        assert!(
            statuses.contains(&format!("{status:?}")),
            "{flavour:?}: no {status:?} holder in {statuses:?}"
        );
    }
    assert!(!statuses.contains(&format!("{:?}", DuoStatus::Unknown)));
    // Contributions are tracked across the same days, from the first snapshot on.
    assert!(latest.contributions_known_since.is_some_and(|k| k <= first));
    assert!(members.iter().any(|m| m.last_contribution_on.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_duo_status_across_days_self_managed() {
    every_status_across_days(Flavour::SelfManaged).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_duo_status_across_days_gitlab_com() {
    every_status_across_days(Flavour::GitLabCom).await;
}

/// GitLab before 18.0 has no `lastDuoActivityOn`: every holder's use is unknown, never unused.
#[tokio::test(flavor = "multi_thread")]
async fn a_gitlab_without_last_duo_activity_reads_every_holder_as_unknown_quirk() {
    for flavour in [Flavour::SelfManaged, Flavour::GitLabCom] {
        let date = day("2026-06-30");
        let sim = sim_on(flavour, 600, date, false).await;
        let client = gitlab::client(&sim, tokens::ADMIN);
        let (_dir, store) = temp_store();
        store.ensure_ready().await.expect("ready");
        collect_days(&sim, &client, &store, flavour, date, date).await;
        let instance = collect::instance_id(&client, options(flavour, date).group.as_deref());
        let latest = store
            .latest_day(&instance)
            .await
            .expect("day")
            .expect("one");
        assert!(!latest.duo.as_ref().expect("Duo read").activity_exposed);
        let holders = store.duo_holders(&instance, date).await.expect("holders");
        assert!(!holders.is_empty(), "{flavour:?}");
        assert!(
            holders.iter().all(|h| h.last_duo_use == DuoUse::Unknown),
            "{flavour:?}"
        );
        let members = store.members(&instance, date).await.expect("members");
        let at = date.and_hms_opt(6, 0, 0).unwrap().and_utc();
        let report =
            analyse::build_report(&latest, &members, &[], &holders, &Policy::default(), at);
        let all_unknown = report
            .duo
            .expect("Duo section")
            .add_ons
            .iter()
            .flat_map(|a| a.holders.iter().flatten())
            .all(|h| h.status == DuoStatus::Unknown);
        assert!(all_unknown, "{flavour:?}");
    }
}

/// Every method that reached the GitLab, through a recording proxy in front of the simulator.
struct MethodLog {
    methods: Arc<Mutex<BTreeMap<String, u64>>>,
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MethodLog {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn recording_proxy(upstream: String) -> MethodLog {
    use axum::extract::{Request, State};
    type Shared = (String, reqwest::Client, Arc<Mutex<BTreeMap<String, u64>>>);
    async fn forward(State(state): State<Arc<Shared>>, req: Request) -> axum::response::Response {
        let (upstream, http, methods) = &*state;
        *methods
            .lock()
            .unwrap()
            .entry(req.method().to_string())
            .or_default() += 1;
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut out = http.request(req.method().clone(), format!("{upstream}{path}"));
        for (name, value) in req.headers() {
            if name != "host" {
                out = out.header(name, value);
            }
        }
        let body = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .expect("body");
        let answer = out.body(body).send().await.expect("upstream answers");
        let mut reply = axum::response::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != "content-length" && name != "transfer-encoding" {
                reply = reply.header(name, value);
            }
        }
        reply
            .body(axum::body::Body::from(answer.bytes().await.expect("bytes")))
            .expect("response")
    }
    let methods = Arc::new(Mutex::new(BTreeMap::new()));
    let state = Arc::new((upstream, reqwest::Client::new(), Arc::clone(&methods)));
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("free port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("proxy serves");
    });
    MethodLog {
        methods,
        url,
        server,
    }
}

/// Collecting with Duo and contributions (first snapshot with its backfill, then a daily one)
/// and the `duo` check send GET and nothing else, on both flavours.
#[tokio::test(flavor = "multi_thread")]
async fn no_request_but_get_ever_reaches_gitlab() {
    for flavour in [Flavour::SelfManaged, Flavour::GitLabCom] {
        let date = day("2026-06-30");
        let sim = sim_on(flavour, 400, date, true).await;
        let proxy = recording_proxy(sim.base_url()).await;
        let base = BaseUrl::parse(&proxy.url, false).expect("loopback URL");
        let client =
            Client::new(base, Token::new(tokens::ADMIN), gitlab::quick_options()).expect("client");
        let (_dir, store) = temp_store();
        store.ensure_ready().await.expect("ready");
        collect_days(&sim, &client, &store, flavour, date - Days::new(1), date).await;
        let methods = proxy.methods.lock().unwrap().clone();
        assert!(methods.get("GET").is_some_and(|&n| n > 10), "{methods:?}");
        assert_eq!(methods.keys().collect::<Vec<_>>(), ["GET"], "{flavour:?}");
    }
}
