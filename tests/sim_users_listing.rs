//! The simulator's `/users` listing at scale, seen from a plain HTTP client: `created_after` /
//! `created_before` as `app/finders/users_finder.rb` applies them, keyset pagination in every
//! order `lib/api/users.rb` allows, the creation timeline (bulk imports, shared seconds) and the
//! activity knob. Expected values come from the listing itself (the `created_at`, `name`,
//! `username` each row carries), never from the simulator's code.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use seatwatch_sim::{Flavour, SimConfig, SimHandle, tokens};
use seatwatch_testkit::gitlab::{self, RawAnswer, get, get_url};
use serde_json::Value;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 30).expect("test date")
}

fn config(users: u32) -> SimConfig {
    gitlab::config_on(Flavour::SelfManaged, users, as_of())
}

async fn start(users: u32) -> SimHandle {
    gitlab::start(config(users)).await
}

fn rows(got: &RawAnswer) -> Vec<Value> {
    assert_eq!(got.status, 200, "{}", got.body);
    got.json().as_array().expect("an array of users").clone()
}

/// Follows `Link: rel="next"` from `path`, returning every row.
async fn walk(sim: &SimHandle, path: &str, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut next = Some(format!("{}/api/v4{path}", sim.base_url()));
    let mut pages = 0;
    while let Some(url) = next {
        let got = get_url(&url, Some(token)).await;
        all.extend(rows(&got));
        next = got.link("next");
        pages += 1;
        assert!(pages < 5_000, "pagination never ends");
    }
    all
}

fn id(row: &Value) -> u64 {
    row["id"].as_u64().expect("an id")
}

fn created_at(row: &Value) -> DateTime<Utc> {
    row["created_at"]
        .as_str()
        .expect("created_at")
        .parse()
        .expect("an ISO 8601 created_at")
}

fn ids(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(id).collect()
}

fn assert_each_once(got: &[u64], expected: &[u64]) {
    let unique: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "a user was listed twice");
    let wanted: HashSet<u64> = expected.iter().copied().collect();
    let missing: Vec<_> = wanted.difference(&unique).take(10).collect();
    let extra: Vec<_> = unique.difference(&wanted).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

/// Every user as the admin sees them, ascending ids.
async fn everyone(sim: &SimHandle) -> Vec<Value> {
    walk(
        sim,
        "/users?pagination=keyset&order_by=id&sort=asc&per_page=100",
        tokens::ADMIN,
    )
    .await
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[tokio::test]
async fn created_after_and_created_before_are_inclusive_quirk() {
    let sim = start(600).await;
    let all = everyone(&sim).await;
    let pivot = &all[300];
    let at = timestamp(created_at(pivot));
    let path = |param: &str| format!("/users?{param}={at}&pagination=keyset&per_page=100");
    let after = ids(&walk(&sim, &path("created_after"), tokens::ADMIN).await);
    let before = ids(&walk(&sim, &path("created_before"), tokens::ADMIN).await);
    let pivot_at = created_at(pivot);
    let expect = |keep: &dyn Fn(DateTime<Utc>) -> bool| -> Vec<u64> {
        all.iter().filter(|r| keep(created_at(r))).map(id).collect()
    };
    assert_each_once(&after, &expect(&|t| t >= pivot_at));
    assert_each_once(&before, &expect(&|t| t <= pivot_at));
    assert!(after.contains(&id(pivot)) && before.contains(&id(pivot)));
    // A date alone is its midnight (UTC), as Ruby's DateTime.parse reads it.
    let day = pivot_at.date_naive();
    let next_day = day + TimeDelta::days(1);
    let on_the_day = walk(
        &sim,
        &format!("/users?created_after={day}&created_before={next_day}&per_page=100"),
        tokens::ADMIN,
    )
    .await;
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let day_rows = expect(&|t| midnight(day) <= t && t <= midnight(next_day));
    assert!(day_rows.contains(&id(pivot)));
    assert_each_once(&ids(&on_the_day), &day_rows);
}

#[tokio::test]
async fn creation_windows_partition_the_listing_even_inside_a_burst() {
    let sim = start(3_000).await;
    let all = everyone(&sim).await;
    let times: Vec<DateTime<Utc>> = all.iter().map(created_at).collect();
    // Boundaries at every 250th user's creation time: inside bulk imports some of them fall
    // within a second shared with their neighbours.
    let mut bounds: Vec<DateTime<Utc>> = times.iter().step_by(250).copied().collect();
    bounds.dedup();
    let mut listed = Vec::new();
    for (k, from) in bounds.iter().enumerate() {
        let mut path = format!(
            "/users?pagination=keyset&order_by=id&sort=asc&per_page=100&created_after={}",
            timestamp(*from)
        );
        if let Some(next) = bounds.get(k + 1) {
            // inclusive bounds: the window ends one millisecond before the next one starts
            let last = *next - TimeDelta::milliseconds(1);
            path.push_str(&format!("&created_before={}", timestamp(last)));
        }
        listed.extend(ids(&walk(&sim, &path, tokens::ADMIN).await));
    }
    assert_each_once(&listed, &ids(&all));
}

#[tokio::test]
async fn created_filters_are_dropped_for_a_non_admin_quirk() {
    let sim = start(150).await;
    let future = "/users?created_after=2099-01-01T00:00:00Z&per_page=100";
    let admin = rows(&get(&sim, future, tokens::ADMIN).await);
    assert!(admin.is_empty(), "the admin's filter applies");
    let regular = get(&sim, future, tokens::NON_ADMIN).await;
    assert_eq!(regular.header("x-total"), Some("150"));
    assert_eq!(rows(&regular).len(), 100);
}

#[tokio::test]
async fn a_created_after_grape_cannot_parse_is_a_400() {
    let sim = start(50).await;
    for (query, param) in [
        ("created_after=last-tuesday", "created_after"),
        ("created_before=2026-13-40", "created_before"),
    ] {
        // Grape validates declared parameters before the endpoint runs: every caller gets it.
        for token in [tokens::ADMIN, tokens::NON_ADMIN] {
            let got = get(&sim, &format!("/users?{query}"), token).await;
            assert_eq!(got.status, 400, "{query}");
            assert_eq!(got.json()["error"], format!("{param} is invalid"));
        }
    }
    let blank = get(&sim, "/users?created_after=&per_page=100", tokens::ADMIN).await;
    assert_eq!(
        blank.header("x-total"),
        Some("50"),
        "a blank value is absent"
    );
}

#[tokio::test]
async fn older_gitlab_ignores_created_after_quirk() {
    let mut cfg = config(120);
    cfg.users_created_filters = false;
    let sim = gitlab::start(cfg).await;
    let got = get(
        &sim,
        "/users?created_after=2099-01-01T00:00:00Z&per_page=100",
        tokens::ADMIN,
    )
    .await;
    assert_eq!(got.header("x-total"), Some("120"), "everyone, unfiltered");
    let bad = get(&sim, "/users?created_after=nonsense", tokens::ADMIN).await;
    assert_eq!(bad.status, 200, "an undeclared parameter is not validated");
}

/// The decoded JSON of the `cursor` in a next link.
fn cursor_of(link: &str) -> Value {
    let url = url::Url::parse(link).expect("an absolute link");
    let cursor = url
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .expect("a cursor")
        .1
        .into_owned();
    let bytes = base64_urlsafe_decode(&cursor);
    serde_json::from_slice(&bytes).expect("the cursor is JSON")
}

/// Test-side decoder (Ruby's `Base64.urlsafe_decode64`), so the check does not reuse the
/// simulator's encoder.
fn base64_urlsafe_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[tokio::test]
async fn keyset_walks_every_order_gitlab_allows_once_each() {
    let sim = start(700).await;
    let all_ids = ids(&everyone(&sim).await);
    for order in ["id", "name", "username", "created_at", "updated_at"] {
        for sort in ["asc", "desc"] {
            let path =
                format!("/users?pagination=keyset&order_by={order}&sort={sort}&per_page=100");
            let listed = walk(&sim, &path, tokens::ADMIN).await;
            assert_each_once(&ids(&listed), &all_ids);
            let first = get(&sim, &path, tokens::ADMIN).await;
            let cursor = cursor_of(&first.link("next").expect("a next page"));
            assert_eq!(cursor["_kd"], "n");
            assert_eq!(cursor["id"], id(&rows(&first)[99]).to_string());
            // lib/api/helpers.rb orders created_at by id: its cursor has only the id.
            let column = match order {
                "id" | "created_at" => None,
                other => Some(other),
            };
            let keys: Vec<&String> = cursor.as_object().expect("object").keys().collect();
            assert_eq!(keys.len(), 2 + usize::from(column.is_some()), "{cursor}");
            // Every order ends on the id, in the same direction.
            let tuple = |r: &Value| {
                let text = column
                    .filter(|c| *c != "updated_at")
                    .map(|c| r[c].as_str().expect("text").to_string());
                (text, id(r))
            };
            let ordered = listed.windows(2).all(|w| {
                let (a, b) = (tuple(&w[0]), tuple(&w[1]));
                if column == Some("updated_at") {
                    return true; // not in the admin row: its order is checked by the walk only
                }
                if sort == "asc" { a < b } else { a > b }
            });
            assert!(ordered, "order_by={order}&sort={sort}");
            if let Some(c) = column {
                assert!(cursor[c].is_string(), "{cursor}");
            }
        }
    }
}

#[tokio::test]
async fn an_order_gitlab_does_not_allow_is_a_400_with_or_without_keyset() {
    let sim = start(30).await;
    for pagination in ["", "&pagination=keyset"] {
        for (query, message) in [
            ("order_by=email", "order_by does not have a valid value"),
            (
                "order_by=last_activity_on",
                "order_by does not have a valid value",
            ),
            ("sort=up", "sort does not have a valid value"),
        ] {
            let got = get(&sim, &format!("/users?{query}{pagination}"), tokens::ADMIN).await;
            assert_eq!(got.status, 400, "{query}{pagination}");
            assert_eq!(got.json()["error"], message);
        }
    }
}

#[tokio::test]
async fn a_keyset_cursor_reapplies_the_filters_from_the_parameters() {
    let sim = start(900).await;
    let all = everyone(&sim).await;
    let from = created_at(&all[200]);
    let to = created_at(&all[700]);
    let path = format!(
        "/users?pagination=keyset&order_by=username&sort=asc&per_page=20&humans=true&created_after={}&created_before={}",
        timestamp(from),
        timestamp(to)
    );
    let listed = walk(&sim, &path, tokens::ADMIN).await;
    // bots are the rows with `bot: true`; GitLab's internal users are not humans either
    let human = |r: &Value| {
        r["bot"] == false
            && !["ghost", "support-bot", "alert-bot"]
                .contains(&r["username"].as_str().unwrap_or(""))
    };
    let expected: Vec<u64> = all
        .iter()
        .filter(|r| human(r) && (from..=to).contains(&created_at(r)))
        .map(id)
        .collect();
    assert!(expected.len() > 300);
    assert_each_once(&ids(&listed), &expected);
}

#[tokio::test]
async fn creation_has_bulk_imports_and_shared_seconds() {
    let sim = start(10_000).await;
    let all = everyone(&sim).await;
    let times: Vec<DateTime<Utc>> = all.iter().map(created_at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "ids follow creation"
    );
    let mut busiest = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= TimeDelta::hours(1) {
            start += 1;
        }
        busiest = busiest.max(end - start + 1);
    }
    assert!(busiest >= 1_000, "busiest hour: {busiest} accounts");
    let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &times {
        *per_second.entry(t.timestamp()).or_default() += 1;
    }
    let shared = per_second.values().filter(|&&n| n > 1).count();
    assert!(
        shared >= 100,
        "seconds shared by several accounts: {shared}"
    );
    // and quiet stretches: some 30-day window of the last four years with almost nobody
    let mut per_month: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &times {
        *per_month.entry(t.timestamp() / (30 * 86_400)).or_default() += 1;
    }
    let months: Vec<usize> = per_month.values().copied().collect();
    let quiet = months
        .iter()
        .filter(|&&n| n * 10 < 10_000 / months.len())
        .count();
    assert!(quiet >= 2, "months: {months:?}");
}

/// Of everyone listed: the share of members (not bots) active since the day before `as_of`, and
/// the share of members GitLab never saw active (`last_activity_on` null).
async fn activity_shares(activity: f64) -> (f64, f64) {
    let mut cfg = config(5_000);
    cfg.activity = activity;
    let sim = gitlab::start(cfg).await;
    let all = everyone(&sim).await;
    let since = (as_of() - TimeDelta::days(1)).to_string();
    let members: Vec<&Value> = all.iter().filter(|r| r["bot"] == false).collect();
    let active = members
        .iter()
        .filter(|r| {
            r["last_activity_on"]
                .as_str()
                .is_some_and(|d| d >= since.as_str())
        })
        .count();
    let never = members
        .iter()
        .filter(|r| r["last_activity_on"].is_null())
        .count();
    assert_eq!(active as u64, sim.expected().active_since_yesterday);
    let share = |n: usize| n as f64 / all.len() as f64;
    (share(active), share(never))
}

#[tokio::test]
async fn the_activity_knob_gives_both_shapes_of_issue_14() {
    let (default, default_never) =
        activity_shares(SimConfig::new(Flavour::SelfManaged, 1).activity).await;
    assert!((0.2..=0.4).contains(&default), "default: {default}");
    let (quiet, quiet_never) = activity_shares(0.03).await;
    assert!((0.005..=0.02).contains(&quiet), "0.03: {quiet}");
    // A quiet instance is one of dormant members, not of members who never signed in.
    assert!(
        quiet_never <= default_never + 0.02,
        "never active: {quiet_never} (default {default_never})"
    );
}
