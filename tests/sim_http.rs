//! The simulated GitLab seen from a plain HTTP client (reqwest, no seatwatch code): shapes of every
//! endpoint in both flavours, token behaviours, pagination, `after`/`before`, determinism, rate
//! limiting and each fault switch.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, LicenceMode, RetryAfterMode, SimConfig, SimHandle, Throttle, tokens};
use seatwatch_testkit::gitlab::{self, RawAnswer, get, get_url, try_get};
use serde_json::Value;

/// Keys of the real bodies in `shared/fixtures/gitlab/` (plus the EE fields the task names).
const ADMIN_USER_KEYS: &[&str] = &[
    "id",
    "username",
    "email",
    "name",
    "state",
    "locked",
    "avatar_url",
    "web_url",
    "created_at",
    "is_admin",
    "bio",
    "location",
    "linkedin",
    "twitter",
    "discord",
    "github",
    "website_url",
    "organization",
    "job_title",
    "last_sign_in_at",
    "confirmed_at",
    "theme_id",
    "last_activity_on",
    "color_scheme_id",
    "projects_limit",
    "current_sign_in_at",
    "note",
    "identities",
    "can_create_group",
    "can_create_project",
    "two_factor_enabled",
    "external",
    "private_profile",
    "current_sign_in_ip",
    "last_sign_in_ip",
    "namespace_id",
    "created_by",
    "bot",
    "is_auditor",
    "using_license_seat",
];
const BASIC_USER_KEYS: &[&str] = &[
    "id",
    "username",
    "name",
    "state",
    "locked",
    "avatar_url",
    "web_url",
];
const REGULAR_CURRENT_USER_KEYS: &[&str] = &[
    "id",
    "username",
    "email",
    "name",
    "state",
    "locked",
    "avatar_url",
    "web_url",
    "created_at",
    "bio",
    "location",
    "public_email",
    "linkedin",
    "twitter",
    "discord",
    "github",
    "website_url",
    "organization",
    "job_title",
    "pronouns",
    "bot",
    "work_information",
    "followers",
    "following",
    "local_time",
    "last_sign_in_at",
    "confirmed_at",
    "theme_id",
    "last_activity_on",
    "color_scheme_id",
    "projects_limit",
    "current_sign_in_at",
    "identities",
    "can_create_group",
    "can_create_project",
    "two_factor_enabled",
    "external",
    "private_profile",
    "commit_email",
    "preferred_language",
];
const BILLABLE_MEMBER_KEYS: &[&str] = &[
    "id",
    "username",
    "name",
    "state",
    "avatar_url",
    "web_url",
    "last_activity_on",
    "membership_type",
    "removable",
    "created_at",
    "last_login_at",
];
const LICENSE_KEYS: &[&str] = &[
    "id",
    "plan",
    "created_at",
    "starts_at",
    "expires_at",
    "historical_max",
    "maximum_user_count",
    "expired",
    "overage",
    "user_limit",
    "active_users",
    "licensee",
    "add_ons",
];
const NAMESPACE_KEYS: &[&str] = &[
    "id",
    "name",
    "path",
    "kind",
    "full_path",
    "parent_id",
    "avatar_url",
    "web_url",
    "members_count_with_descendants",
    "billable_members_count",
    "max_seats_used",
    "seats_in_use",
    "plan",
    "end_date",
    "trial_ends_on",
    "trial",
    "root_repository_size",
    "projects_count",
];
const METADATA_KEYS: &[&str] = &["version", "revision", "kas", "enterprise"];
const TOKEN_SELF_KEYS: &[&str] = &[
    "id",
    "name",
    "revoked",
    "created_at",
    "description",
    "scopes",
    "user_id",
    "last_used_at",
    "active",
    "granular",
    "expires_at",
    "last_used_ips",
];
const EVENT_KEYS: &[&str] = &[
    "id",
    "title",
    "project_id",
    "action_name",
    "target_id",
    "target_iid",
    "target_type",
    "author_id",
    "target_title",
    "created_at",
    "author",
    "author_username",
    "imported",
    "imported_from",
];
const PUSH_DATA_KEYS: &[&str] = &[
    "commit_count",
    "action",
    "ref_type",
    "commit_from",
    "commit_to",
    "ref",
    "commit_title",
];

const EXPIRED_BODY: &str = r#"{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}"#;
const REVOKED_BODY: &str = r#"{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}"#;
const UNAUTHORIZED_BODY: &str = r#"{"message":"401 Unauthorized"}"#;
const SCOPE_BODY: &str = r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}"#;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test dates are valid")
}

fn as_of() -> NaiveDate {
    day("2026-06-30")
}

async fn start(flavour: Flavour, users: u32) -> SimHandle {
    gitlab::start(SimConfig::new(flavour, users)).await
}

fn assert_keys(value: &Value, keys: &[&str], what: &str) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for key in keys {
        assert!(object.contains_key(*key), "{what} lacks `{key}`: {value}");
    }
}

fn array(got: &RawAnswer) -> Vec<Value> {
    got.json()
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not an array: {}", got.body))
}

#[tokio::test]
async fn self_managed_admin_sees_gitlabs_admin_shapes() {
    let sim = start(Flavour::SelfManaged, 300).await;
    let users = get(&sim, "/users?per_page=100", tokens::ADMIN).await;
    assert_eq!(users.status, 200);
    let users = array(&users);
    assert_eq!(users.len(), 100);
    for user in &users {
        assert_keys(user, ADMIN_USER_KEYS, "admin /users row");
        assert!(
            user["last_activity_on"].is_null()
                || user["last_activity_on"]
                    .as_str()
                    .is_some_and(|d| d.len() == 10)
        );
    }

    let me = get(&sim, "/user", tokens::ADMIN).await.json();
    assert_eq!(me["is_admin"], true);
    assert_eq!(me["username"], "root");

    let license = get(&sim, "/license", tokens::ADMIN).await.json();
    assert_keys(&license, LICENSE_KEYS, "/license");
    let expected = sim.expected();
    assert_eq!(license["active_users"], expected.seat_holders);
    assert_eq!(license["user_limit"], expected.user_limit);
    assert_eq!(license["historical_max"], expected.max_seats_used);
    assert!(
        expected.user_limit > expected.seat_holders,
        "purchased is somewhat above use"
    );
    let starts: NaiveDate = license["starts_at"].as_str().unwrap().parse().unwrap();
    let expires: NaiveDate = license["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(starts <= as_of() && as_of() <= expires);

    let metadata = get(&sim, "/metadata", tokens::ADMIN).await;
    assert_keys(&metadata.json(), METADATA_KEYS, "/metadata");
    assert!(
        metadata.json()["version"]
            .as_str()
            .unwrap()
            .ends_with("-ee")
    );
    assert_eq!(
        get(&sim, "/version", tokens::ADMIN).await.body,
        metadata.body
    );

    let pat = get(&sim, "/personal_access_tokens/self", tokens::ADMIN)
        .await
        .json();
    assert_keys(&pat, TOKEN_SELF_KEYS, "/personal_access_tokens/self");
    assert_eq!(pat["scopes"], serde_json::json!(["read_api", "read_user"]));
    assert_eq!(pat["active"], true);
    assert_eq!(pat["expires_at"], (as_of() + Days::new(365)).to_string());

    // Self-managed namespaces carry no subscription fields.
    let namespace = get(&sim, "/namespaces/acme", tokens::ADMIN).await.json();
    assert!(namespace.get("seats_in_use").is_none(), "{namespace}");
}

#[tokio::test]
async fn gitlab_com_owner_sees_billable_members_and_the_namespace() {
    let sim = start(Flavour::GitLabCom, 300).await;
    let users = array(&get(&sim, "/users?per_page=50", tokens::ADMIN).await);
    for user in &users {
        let keys: HashSet<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BASIC_USER_KEYS.iter().copied().collect(),
            "UserBasic only on GitLab.com"
        );
    }
    let me = get(&sim, "/user", tokens::ADMIN).await.json();
    assert_keys(&me, REGULAR_CURRENT_USER_KEYS, "/user (regular)");
    assert!(
        me.get("is_admin").is_none(),
        "a group owner is no instance admin"
    );

    let members = get(
        &sim,
        "/groups/acme/billable_members?per_page=100",
        tokens::ADMIN,
    )
    .await;
    assert_eq!(members.status, 200);
    let expected = sim.expected();
    assert_eq!(
        members.header("x-total"),
        Some(expected.billable_members.to_string().as_str())
    );
    for member in array(&members) {
        assert_keys(&member, BILLABLE_MEMBER_KEYS, "billable member");
        assert_eq!(member["state"], "active");
        let membership = member["membership_type"].as_str().unwrap();
        assert!(["group_member", "group_invite"].contains(&membership));
        assert_eq!(member["removable"], membership == "group_member");
    }
    let by_id = get(
        &sim,
        "/groups/4242/billable_members?per_page=1",
        tokens::ADMIN,
    )
    .await;
    assert_eq!(by_id.header("x-total"), members.header("x-total"));

    let namespace = get(&sim, "/namespaces/acme", tokens::ADMIN).await.json();
    assert_keys(&namespace, NAMESPACE_KEYS, "/namespaces/acme");
    assert_eq!(namespace["seats_in_use"], expected.seat_holders);
    assert_eq!(
        namespace["billable_members_count"],
        expected.billable_members
    );
    assert_eq!(namespace["max_seats_used"], expected.max_seats_used);
    assert_eq!(namespace["plan"], "ultimate");
    assert!(namespace["end_date"].is_string());

    assert_eq!(
        get(&sim, "/groups/acme", tokens::ADMIN).await.json()["full_path"],
        "acme"
    );
    // Paths arrive URL-encoded, as clients encode `group/subgroup`.
    assert_eq!(
        get(&sim, "/namespaces/%61cme", tokens::ADMIN).await.status,
        200
    );
    let subgroup = get(&sim, "/groups/acme%2Fchild/billable_members", tokens::ADMIN).await;
    assert_eq!(
        (subgroup.status, subgroup.body.as_str()),
        (404, r#"{"message":"404 Group Not Found"}"#)
    );
    assert_eq!(
        get(&sim, "/groups/other", tokens::ADMIN).await.body,
        r#"{"message":"404 Group Not Found"}"#
    );
    let license = get(&sim, "/license", tokens::ADMIN).await;
    assert_eq!(
        (license.status, license.body.as_str()),
        (403, r#"{"message":"403 Forbidden"}"#)
    );
}

#[tokio::test]
async fn events_have_gitlabs_shape_and_realistic_actions() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let mut actions = HashSet::new();
    let mut target_types = HashSet::new();
    let mut page = 1;
    loop {
        let got = get(
            &sim,
            &format!("/users/1/events?per_page=100&page={page}"),
            tokens::ADMIN,
        )
        .await;
        assert_eq!(got.status, 200);
        for event in array(&got) {
            assert_keys(&event, EVENT_KEYS, "event");
            assert_eq!(event["author_id"], 1);
            assert_eq!(event["author_username"], "root");
            let action = event["action_name"].as_str().unwrap().to_string();
            if action.starts_with("pushed") {
                assert!(event["target_type"].is_null());
                assert_keys(&event["push_data"], PUSH_DATA_KEYS, "push_data");
                assert!(event["push_data"]["commit_count"].is_u64());
            }
            if action == "commented on" {
                assert!(event["note"].is_object());
            }
            target_types.insert(event["target_type"].as_str().map(str::to_string));
            actions.insert(action);
        }
        match got.header("x-next-page") {
            Some(next) if !next.is_empty() => page = next.parse().unwrap(),
            _ => break,
        }
    }
    for action in [
        "pushed to",
        "pushed new",
        "opened",
        "accepted",
        "approved",
        "commented on",
        "closed",
    ] {
        assert!(
            actions.contains(action),
            "no `{action}` in three years of a busy admin: {actions:?}"
        );
    }
    for target in [
        None,
        Some("MergeRequest"),
        Some("Issue"),
        Some("Note"),
        Some("DiffNote"),
    ] {
        assert!(
            target_types.contains(&target.map(str::to_string)),
            "no target_type {target:?}"
        );
    }
    let unknown = get(&sim, "/users/999/events", tokens::ADMIN).await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (404, r#"{"message":"404 User Not Found"}"#)
    );
    let by_username = get(&sim, "/users/root/events?per_page=5", tokens::ADMIN).await;
    assert_eq!(
        by_username.body,
        get(&sim, "/users/1/events?per_page=5", tokens::ADMIN)
            .await
            .body
    );
}

#[tokio::test]
async fn each_token_behaviour_answers_like_gitlab() {
    let sim = start(Flavour::SelfManaged, 40).await;
    let cases: &[(Option<&str>, &str, u16, Option<&str>)] = &[
        (None, "/user", 401, Some(UNAUTHORIZED_BODY)),
        (
            Some("glpat-fake-unknown-0000"),
            "/user",
            401,
            Some(UNAUTHORIZED_BODY),
        ),
        (Some(tokens::EXPIRED), "/user", 401, Some(EXPIRED_BODY)),
        (Some(tokens::REVOKED), "/users", 401, Some(REVOKED_BODY)),
        (
            Some(tokens::READ_USER_ONLY),
            "/license",
            403,
            Some(SCOPE_BODY),
        ),
        (
            Some(tokens::READ_USER_ONLY),
            "/namespaces/acme",
            403,
            Some(SCOPE_BODY),
        ),
        (
            Some(tokens::READ_USER_ONLY),
            "/groups/acme/billable_members",
            403,
            Some(SCOPE_BODY),
        ),
        (Some(tokens::READ_USER_ONLY), "/user", 200, None),
        (Some(tokens::READ_USER_ONLY), "/users", 200, None),
        (Some(tokens::READ_USER_ONLY), "/metadata", 200, None),
        (Some(tokens::READ_USER_ONLY), "/version", 200, None),
        (
            Some(tokens::READ_USER_ONLY),
            "/personal_access_tokens/self",
            200,
            None,
        ),
        (Some(tokens::READ_USER_ONLY), "/users/1/events", 200, None),
        (
            Some(tokens::NON_ADMIN),
            "/license",
            403,
            Some(r#"{"message":"403 Forbidden"}"#),
        ),
        (
            Some(tokens::NON_ADMIN),
            "/groups/acme/billable_members",
            400,
            Some(r#"{"message":"400 Bad request"}"#),
        ),
        (Some(tokens::EXPIRING_SOON), "/license", 200, None),
        (Some(tokens::READ_API_ONLY), "/license", 200, None),
        (Some(tokens::READ_API_ONLY), "/users", 200, None),
        (Some(tokens::READ_API_ONLY), "/namespaces/acme", 200, None),
        (Some(tokens::READ_API_ONLY), "/users/1/events", 200, None),
        (
            Some(tokens::DEACTIVATED_OWNER),
            "/user",
            403,
            Some(
                r#"{"message":"403 Forbidden - Your account has been deactivated by your administrator. Please log back in from a web browser to reactivate your account at http://ORIGIN"}"#,
            ),
        ),
        (
            Some(tokens::ADMIN),
            "/no/such/route",
            404,
            Some(r#"{"error":"404 Not Found"}"#),
        ),
    ];
    let origin = sim.base_url();
    for (token, path, status, body) in cases {
        let got = get_url(&format!("{}/api/v4{path}", sim.base_url()), *token).await;
        assert_eq!(got.status, *status, "{token:?} {path}: {}", got.body);
        if let Some(body) = body {
            let body = body.replace("http://ORIGIN", &origin);
            assert_eq!(got.body, body, "{token:?} {path}");
        }
    }

    let read_user = get(&sim, "/personal_access_tokens/self", tokens::READ_USER_ONLY)
        .await
        .json();
    assert_eq!(read_user["scopes"], serde_json::json!(["read_user"]));
    let soon = get(&sim, "/personal_access_tokens/self", tokens::EXPIRING_SOON)
        .await
        .json();
    assert_eq!(soon["expires_at"], (as_of() + Days::new(5)).to_string());

    // A regular user gets UserBasic and a /user without is_admin.
    let basic = array(&get(&sim, "/users", tokens::NON_ADMIN).await);
    assert!(basic.iter().all(|u| u.get("last_activity_on").is_none()));
    let me = get(&sim, "/user", tokens::NON_ADMIN).await.json();
    assert!(me.get("is_admin").is_none());
    assert_eq!(me["id"], 2);

    // The other ways GitLab accepts a token.
    let bearer = reqwest::Client::new()
        .get(format!("{}/api/v4/user", sim.base_url()))
        .bearer_auth(tokens::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let query = get_url(
        &format!(
            "{}/api/v4/user?private_token={}",
            sim.base_url(),
            tokens::ADMIN
        ),
        None,
    )
    .await;
    assert_eq!(query.status, 200);
}

#[tokio::test]
async fn tokens_can_be_revoked_and_added_at_runtime() {
    let sim = start(Flavour::SelfManaged, 40).await;
    let fresh = "glpat-fake-rotated-test-0000";
    assert_eq!(get(&sim, "/user", fresh).await.status, 401);
    sim.add_token(fresh, tokens::ADMIN);
    let me = get(&sim, "/user", fresh).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["is_admin"], true);
    let pat = get(&sim, "/personal_access_tokens/self", fresh)
        .await
        .json();
    let admin_pat = get(&sim, "/personal_access_tokens/self", tokens::ADMIN)
        .await
        .json();
    assert_ne!(pat["id"], admin_pat["id"], "a new token has its own id");
    assert_eq!(pat["scopes"], admin_pat["scopes"]);

    sim.revoke_token(fresh);
    let revoked = get(&sim, "/user", fresh).await;
    assert_eq!((revoked.status, revoked.body.as_str()), (401, REVOKED_BODY));
    assert_eq!(
        get(&sim, "/user", tokens::ADMIN).await.status,
        200,
        "only that token is revoked"
    );

    sim.add_token("glpat-fake-like-regular-0000", tokens::NON_ADMIN);
    let license = get(&sim, "/license", "glpat-fake-like-regular-0000").await;
    assert_eq!(license.status, 403);
}

/// Follows `Link: rel="next"` from `first`, returning every row's id.
async fn follow_links(first: String, token: &str) -> (Vec<u64>, Vec<RawAnswer>) {
    let mut ids = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let got = get_url(&url, Some(token)).await;
        assert_eq!(got.status, 200, "{url}: {}", got.body);
        ids.extend(array(&got).iter().map(|u| u["id"].as_u64().unwrap()));
        next = got.link("next");
        if let Some(link) = &next {
            assert!(
                link.starts_with("http://127.0.0.1:"),
                "absolute links: {link}"
            );
            assert!(!link.contains("glpat"), "a link carries the token: {link}");
        }
        pages.push(got);
        assert!(pages.len() < 2_000, "pagination never ends");
    }
    (ids, pages)
}

fn assert_all_once(ids: &[u64], count: u64) {
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicates");
    assert_eq!(ids.len() as u64, count);
}

#[tokio::test]
async fn offset_pagination_lists_every_user_once_with_gitlabs_headers() {
    let sim = start(Flavour::SelfManaged, 250).await;
    // private_token in the query must not leak into the links.
    let first = format!(
        "{}/api/v4/users?per_page=100&private_token={}",
        sim.base_url(),
        tokens::ADMIN
    );
    let (ids, pages) = follow_links(first, tokens::ADMIN).await;
    assert_all_once(&ids, sim.expected().users);
    assert_eq!(pages.len(), 3);
    let p1 = &pages[0];
    assert_eq!(p1.header("x-total"), Some("250"));
    assert_eq!(p1.header("x-total-pages"), Some("3"));
    assert_eq!(p1.header("x-page"), Some("1"));
    assert_eq!(p1.header("x-per-page"), Some("100"));
    assert_eq!(p1.header("x-next-page"), Some("2"));
    assert_eq!(p1.header("x-prev-page"), Some(""));
    assert!(p1.link("first").is_some() && p1.link("last").unwrap().contains("page=3"));
    assert!(p1.link("prev").is_none());
    let p3 = &pages[2];
    assert_eq!(p3.header("x-next-page"), Some(""));
    assert_eq!(p3.header("x-prev-page"), Some("2"));
    assert!(p3.link("prev").is_some());
    assert_eq!(ids.first(), Some(&250), "GitLab's default order is id desc");
    // A total that fills the last page exactly: no next page, no empty extra page.
    let exact = format!("{}/api/v4/users?per_page=50", sim.base_url());
    let (ids, pages) = follow_links(exact, tokens::ADMIN).await;
    assert_all_once(&ids, 250);
    assert_eq!(pages.len(), 5);
    assert_eq!(pages[4].header("x-next-page"), Some(""));
    // per_page is capped at 100, defaults to 20.
    assert_eq!(
        array(&get(&sim, "/users?per_page=500", tokens::ADMIN).await).len(),
        100
    );
    assert_eq!(array(&get(&sim, "/users", tokens::ADMIN).await).len(), 20);
}

#[tokio::test]
async fn keyset_pagination_lists_every_user_once() {
    let sim = start(Flavour::SelfManaged, 250).await;
    let first = format!(
        "{}/api/v4/users?pagination=keyset&order_by=id&sort=asc&per_page=100",
        sim.base_url()
    );
    let (ids, pages) = follow_links(first, tokens::ADMIN).await;
    assert_all_once(&ids, 250);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending ids");
    assert_eq!(pages.len(), 3);
    // lib/gitlab/pagination/keyset: an opaque cursor, Base64 of {"id":"100","_kd":"n"}
    let next = pages[0].link("next").unwrap();
    assert!(
        next.contains("cursor=eyJpZCI6IjEwMCIsIl9rZCI6Im4ifQ%3D%3D"),
        "{next}"
    );
    assert!(!next.contains("id_after"), "{next}");
    assert!(
        pages[0].header("x-total").is_none(),
        "keyset exposes no counters"
    );
    assert!(
        pages[2].header("link").is_none(),
        "no Link on the last page"
    );
}

#[tokio::test]
async fn totals_are_omitted_above_ten_thousand_rows() {
    let sim = start(Flavour::SelfManaged, 10_050).await;
    let first = format!("{}/api/v4/users?per_page=100", sim.base_url());
    let (ids, pages) = follow_links(first, tokens::NON_ADMIN).await;
    assert_all_once(&ids, 10_050);
    for page in &pages {
        assert!(page.header("x-total").is_none() && page.header("x-total-pages").is_none());
        assert!(page.link("last").is_none());
        assert!(page.link("first").is_some());
    }
    let keyset = format!(
        "{}/api/v4/users?pagination=keyset&order_by=id&sort=asc&per_page=100",
        sim.base_url()
    );
    let (ids, _) = follow_links(keyset, tokens::NON_ADMIN).await;
    assert_all_once(&ids, 10_050);
}

fn event_days(events: &[Value]) -> Vec<NaiveDate> {
    events
        .iter()
        .map(|e| e["created_at"].as_str().unwrap()[..10].parse().unwrap())
        .collect()
}

#[tokio::test]
async fn events_after_and_before_are_exclusive_and_paginate_cleanly() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let all = array(
        &get(
            &sim,
            "/users/1/events?after=2026-05-31&before=2026-07-01&per_page=100",
            tokens::ADMIN,
        )
        .await,
    );
    assert!(all.len() > 20, "a busy admin has events in June");
    let days = event_days(&all);
    assert!(
        days.iter()
            .all(|d| *d >= day("2026-06-01") && *d <= day("2026-06-30"))
    );
    assert!(
        days.windows(2).all(|w| w[0] >= w[1]),
        "newest first by default"
    );

    // Pick a day with events; the window (day-1, day+1) holds exactly that day's events.
    let busy = days[days.len() / 2];
    let on_busy = days.iter().filter(|d| **d == busy).count();
    let window = format!(
        "/users/1/events?after={}&before={}&per_page=100",
        busy - Days::new(1),
        busy + Days::new(1)
    );
    let only = event_days(&array(&get(&sim, &window, tokens::ADMIN).await));
    assert_eq!(only.len(), on_busy);
    assert!(only.iter().all(|d| *d == busy));
    let same_day = format!(
        "/users/1/events?after={busy}&before={}",
        busy + Days::new(1)
    );
    assert!(
        array(&get(&sim, &same_day, tokens::ADMIN).await).is_empty(),
        "bounds are exclusive"
    );

    // Small pages, ascending: together they are the whole window, once.
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let got = get(
            &sim,
            &format!(
                "/users/1/events?after=2026-05-31&before=2026-07-01&per_page=7&sort=asc&page={page}"
            ),
            tokens::ADMIN,
        )
        .await;
        assert_eq!(got.header("x-total"), Some(all.len().to_string().as_str()));
        ids.extend(array(&got).iter().map(|e| e["id"].as_u64().unwrap()));
        match got.header("x-next-page") {
            Some(next) if !next.is_empty() => page = next.parse().unwrap(),
            _ => break,
        }
    }
    let mut expected: Vec<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    expected.reverse();
    assert_eq!(ids, expected);

    let pushes = array(
        &get(
            &sim,
            "/users/1/events?action=pushed&per_page=100",
            tokens::ADMIN,
        )
        .await,
    );
    assert!(!pushes.is_empty());
    assert!(
        pushes
            .iter()
            .all(|e| e["action_name"].as_str().unwrap() != "opened")
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_bodies() {
    let a = start(Flavour::SelfManaged, 500).await;
    let b = start(Flavour::SelfManaged, 500).await;
    let mut other = SimConfig::new(Flavour::SelfManaged, 500);
    other.seed = 7;
    let c = gitlab::start(other).await;
    for path in [
        "/users?per_page=100&page=2",
        "/users/1/events?per_page=50",
        "/license",
    ] {
        let body_a = get(&a, path, tokens::ADMIN).await.body;
        let body_b = get(&b, path, tokens::ADMIN).await.body;
        // Bodies embed the host (web_url), which differs by port only.
        let normalise = |s: &str, sim: &SimHandle| s.replace(&sim.base_url(), "http://HOST");
        assert_eq!(normalise(&body_a, &a), normalise(&body_b, &b), "{path}");
        if path.starts_with("/users?") {
            let body_c = get(&c, path, tokens::ADMIN).await.body;
            assert_ne!(
                normalise(&body_a, &a),
                normalise(&body_c, &c),
                "another seed, another population"
            );
        }
    }
    assert_eq!(a.expected(), b.expected());
}

async fn all_users_admin(sim: &SimHandle) -> Vec<Value> {
    let first = format!(
        "{}/api/v4/users?pagination=keyset&order_by=id&sort=asc&per_page=100",
        sim.base_url()
    );
    let mut rows = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let got = get_url(&url, Some(tokens::ADMIN)).await;
        rows.extend(array(&got));
        next = got.link("next");
    }
    rows
}

#[tokio::test]
async fn moving_as_of_forward_replays_one_history() {
    let sim = start(Flavour::SelfManaged, 400).await;
    let start_day = day("2026-05-20");
    let mut previous: Vec<Value> = Vec::new();
    for offset in 0..12 {
        let date = start_day + Days::new(offset * 4);
        sim.set_as_of(date);
        let rows = all_users_admin(&sim).await;
        let expected = sim.expected();
        assert_eq!(rows.len() as u64, expected.users);
        assert!(rows.len() >= previous.len(), "the population only grows");
        for (old, new) in previous.iter().zip(&rows) {
            assert_eq!(old["id"], new["id"]);
            let (old_day, new_day) = (
                old["last_activity_on"].as_str(),
                new["last_activity_on"].as_str(),
            );
            assert!(
                new_day >= old_day,
                "user {}: {old_day:?} -> {new_day:?}",
                new["id"]
            );
            assert!(
                new_day.is_none_or(|d| d <= date.to_string().as_str()),
                "activity in the future"
            );
        }
        let seats = rows
            .iter()
            .filter(|u| u["using_license_seat"] == true)
            .count() as u64;
        assert_eq!(seats, expected.seat_holders, "{date}");
        let active = rows
            .iter()
            .filter(|u| u["last_activity_on"].as_str() == Some(date.to_string().as_str()))
            .count() as u64;
        assert_eq!(active, expected.active_on_as_of, "{date}");
        previous = rows;
    }
}

#[tokio::test]
async fn the_population_is_realistic() {
    let sim = start(Flavour::SelfManaged, 3_000).await;
    let rows = all_users_admin(&sim).await;
    let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|u| f(u)).count();
    let date = as_of();
    let inactive_days = |u: &Value| {
        u["last_activity_on"]
            .as_str()
            .map(|d| (date - d.parse::<NaiveDate>().unwrap()).num_days())
    };
    assert!(count(&|u| u["bot"] == true) > 20, "bots");
    assert!(
        count(&|u| u["username"].as_str().unwrap().starts_with("project_")) > 10,
        "project bots"
    );
    for state in ["blocked", "deactivated", "banned"] {
        assert!(count(&|u| u["state"] == state) > 0, "{state}");
    }
    assert!(
        count(&|u| u["state"] == "active" && u["bot"] == false && u["using_license_seat"] == false)
            > 50,
        "Guests"
    );
    assert!(count(&|u| u["is_admin"] == true) > 1 && count(&|u| u["is_auditor"] == true) > 0);
    assert!(count(&|u| u["external"] == true) > 10);
    assert!(
        count(&|u| u["current_sign_in_at"].is_null() && u["bot"] == false) > 50,
        "never signed in"
    );
    assert!(
        count(&|u| u["using_license_seat"] == true && inactive_days(u).is_some_and(|d| d >= 90))
            > 50,
        "dormant"
    );
    assert!(
        count(&|u| inactive_days(u) == Some(0)) > 100,
        "active today"
    );
    assert!(
        count(&|u| u["name"].as_str().unwrap().contains('<')) > 0,
        "markup in names"
    );
    assert!(
        count(&|u| u["name"].as_str().unwrap().contains('\u{202E}')) > 0,
        "RTL override"
    );
    assert!(
        count(&|u| u["name"].as_str().unwrap().chars().count() > 200) > 0,
        "very long names"
    );
    let new_hires = count(&|u| {
        let created: NaiveDate = u["created_at"].as_str().unwrap()[..10].parse().unwrap();
        (date - created).num_days() < 14
    });
    assert!(new_hires > 10, "new hires");
    // Signing in counts as activity: no sign-in after the last activity day.
    for u in &rows {
        if let (Some(sign_in), Some(active)) = (
            u["current_sign_in_at"].as_str(),
            u["last_activity_on"].as_str(),
        ) {
            assert!(&sign_in[..10] <= active, "{u}");
            assert!(u["last_sign_in_at"].as_str().unwrap() <= sign_in);
        }
    }
}

#[tokio::test]
async fn rate_limit_sends_gitlabs_headers_and_429_when_exceeded() {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 20);
    cfg.rate_limit = Some(Throttle::per_minute(5));
    // the 18.6 flag rate_limiting_headers_for_unthrottled_requests
    cfg.rate_limit_headers_always = true;
    let sim = gitlab::start(cfg).await;
    // The window is fixed on the wall clock; if it rolls over mid-run, run again in the next one.
    for _attempt in 0..3 {
        let mut responses = Vec::new();
        for _ in 0..7 {
            responses.push(get(&sim, "/user", tokens::ADMIN).await);
        }
        let resets: HashSet<&str> = responses
            .iter()
            .map(|r| r.header("ratelimit-reset").unwrap())
            .collect();
        if resets.len() > 1 {
            continue;
        }
        let observed: Vec<u64> = responses
            .iter()
            .map(|r| r.header("ratelimit-observed").unwrap().parse().unwrap())
            .collect();
        assert!(
            observed.windows(2).all(|w| w[1] == w[0] + 1),
            "{observed:?}"
        );
        for r in &responses {
            assert_eq!(r.header("ratelimit-limit"), Some("5"));
            assert_eq!(
                r.header("ratelimit-name"),
                Some("throttle_authenticated_api")
            );
            let seen: u64 = r.header("ratelimit-observed").unwrap().parse().unwrap();
            let remaining: u64 = r.header("ratelimit-remaining").unwrap().parse().unwrap();
            assert_eq!(remaining, 5u64.saturating_sub(seen));
            let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
            assert_eq!(reset % 60, 0, "windows are aligned on the minute");
            if seen > 5 {
                assert_eq!(r.status, 429);
                // Gitlab::Throttle.rate_limiting_response_text: "Retry later" + "\n"
                assert_eq!(r.body, "Retry later\n");
                let retry_after: u64 = r.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry_after));
                assert!(r.header("ratelimit-resettime").unwrap().ends_with(" GMT"));
            } else {
                assert_eq!(r.status, 200);
                assert!(r.header("retry-after").is_none());
            }
        }
        assert!(sim.responses_429() >= 1);
        assert!(sim.requests_served() >= 7);
        return;
    }
    panic!("the rate-limit window rolled over three times in a row");
}

#[tokio::test]
async fn status_bursts_count_down_and_follow_the_retry_after_mode() {
    let sim = start(Flavour::SelfManaged, 20).await;
    sim.set_faults(gitlab::status_burst(503, 2));
    assert_eq!(get(&sim, "/user", tokens::ADMIN).await.status, 503);
    // /metadata stays healthy and does not consume the burst.
    assert_eq!(get(&sim, "/metadata", tokens::ADMIN).await.status, 200);
    assert_eq!(get(&sim, "/user", tokens::ADMIN).await.status, 503);
    assert_eq!(get(&sim, "/user", tokens::ADMIN).await.status, 200);

    for status in [500, 502, 504] {
        sim.set_faults(gitlab::status_burst(status, 1));
        assert_eq!(get(&sim, "/users", tokens::ADMIN).await.status, status);
    }

    let before = sim.responses_429();
    sim.set_faults(gitlab::throttled(1, RetryAfterMode::Seconds(7)));
    let limited = get(&sim, "/users", tokens::ADMIN).await;
    assert_eq!(
        (limited.status, limited.body.as_str()),
        (429, "Retry later")
    );
    assert_eq!(limited.header("retry-after"), Some("7"));

    sim.set_faults(gitlab::throttled(1, RetryAfterMode::ResetOnly));
    let reset_only = get(&sim, "/users", tokens::ADMIN).await;
    assert_eq!(reset_only.status, 429);
    assert!(reset_only.header("retry-after").is_none());
    assert!(
        reset_only
            .header("ratelimit-reset")
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );

    sim.set_faults(gitlab::throttled(1, RetryAfterMode::NoHeaders));
    let bare = get(&sim, "/users", tokens::ADMIN).await;
    assert_eq!(bare.status, 429);
    assert!(bare.header("retry-after").is_none() && bare.header("ratelimit-reset").is_none());
    assert_eq!(sim.responses_429() - before, 3);
    assert_eq!(get(&sim, "/users", tokens::ADMIN).await.status, 200);
}

#[tokio::test]
async fn slow_responses_outlast_a_short_client_timeout() {
    let sim = start(Flavour::SelfManaged, 20).await;
    sim.set_faults(gitlab::slow_answers(Duration::from_secs(3), 1));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/api/v4/user", sim.base_url());
    let err = try_get(&impatient, &url, Some(tokens::ADMIN))
        .await
        .err()
        .expect("the slow response times out");
    assert!(err.is_timeout(), "{err}");
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert_eq!(
        try_get(&patient, &url, Some(tokens::ADMIN))
            .await
            .unwrap()
            .status,
        200,
        "only one was slow"
    );
}

#[tokio::test]
async fn dropped_connections_leave_the_client_without_a_response() {
    let sim = start(Flavour::SelfManaged, 20).await;
    sim.set_faults(gitlab::dropped_connections(2));
    let client = reqwest::Client::new();
    let url = format!("{}/api/v4/users", sim.base_url());
    for _ in 0..2 {
        let result = try_get(&client, &url, Some(tokens::ADMIN)).await;
        assert!(
            result.is_err(),
            "a dropped connection must not look like a response"
        );
    }
    assert_eq!(
        try_get(&client, &url, Some(tokens::ADMIN))
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_not_json() {
    let sim = start(Flavour::SelfManaged, 30).await;
    let whole = get(&sim, "/users?per_page=10", tokens::ADMIN).await;
    sim.set_faults(Faults {
        malformed_json: 1,
        truncated_body: 1,
        ..Faults::default()
    });
    let malformed = get(&sim, "/users?per_page=10", tokens::ADMIN).await;
    assert_eq!(malformed.status, 200);
    assert!(serde_json::from_str::<Value>(&malformed.body).is_err());
    let truncated = get(&sim, "/users?per_page=10", tokens::ADMIN).await;
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());
    assert_eq!(truncated.body.len(), whole.body.len() / 2);
    assert!(whole.body.starts_with(&truncated.body));
    assert_eq!(
        get(&sim, "/users?per_page=10", tokens::ADMIN).await.body,
        whole.body,
        "faults used up"
    );
}

#[tokio::test]
async fn faults_given_at_start_apply_to_the_first_responses() {
    let mut cfg = SimConfig::new(Flavour::GitLabCom, 20);
    cfg.faults = gitlab::status_burst(500, 1);
    let sim = gitlab::start(cfg).await;
    let first = get(&sim, "/groups/acme/billable_members", tokens::ADMIN).await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (500, r#"{"message":"500 Internal Server Error"}"#)
    );
    assert_eq!(
        get(&sim, "/groups/acme/billable_members", tokens::ADMIN)
            .await
            .status,
        200
    );
    assert_eq!(sim.requests_served(), 2);
}

#[tokio::test]
async fn a_hundred_thousand_users_start_and_serve_the_last_page() {
    let sim = start(Flavour::SelfManaged, 100_000).await;
    let expected = sim.expected();
    assert_eq!(expected.users, 100_000);
    let last = get(
        &sim,
        // cursor = Base64 of {"id":"99950","_kd":"n"}
        "/users?pagination=keyset&order_by=id&sort=asc&per_page=100&cursor=eyJpZCI6Ijk5OTUwIiwiX2tkIjoibiJ9",
        tokens::ADMIN,
    )
    .await;
    let rows = array(&last);
    assert_eq!(rows.len(), 50);
    assert_eq!(rows.last().unwrap()["id"], 100_000);
    assert!(last.header("link").is_none());
    // Offset pagination stops at GitLab's limit and points to keyset.
    let deep = get(&sim, "/users?per_page=100&page=501", tokens::ADMIN).await;
    assert_eq!(deep.status, 405);
    assert!(deep.body.contains("keyset"));
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let sim = start(Flavour::SelfManaged, 10).await;
    let url = format!("{}/api/v4/metadata", sim.base_url());
    assert_eq!(get_url(&url, Some(tokens::ADMIN)).await.status, 200);
    sim.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(try_get(&fresh, &url, Some(tokens::ADMIN)).await.is_err());
}

#[tokio::test]
async fn rate_limit_headers_only_on_the_429_by_default_quirk() {
    // lib/gitlab/rack_attack.rb: the headers come from throttled_response only
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 20);
    cfg.rate_limit = Some(Throttle {
        requests: 2,
        period: Duration::from_secs(3_600),
    });
    let sim = gitlab::start(cfg).await;
    let mut responses = Vec::new();
    for _ in 0..3 {
        responses.push(get(&sim, "/user", tokens::ADMIN).await);
    }
    for ok in &responses[..2] {
        assert_eq!(ok.status, 200);
        assert!(ok.header("ratelimit-limit").is_none(), "{:?}", ok.headers);
        assert!(ok.header("retry-after").is_none());
    }
    let refused = &responses[2];
    assert_eq!(refused.status, 429);
    // request_throttle_data.rb: limit normalised to 60 s (2 per hour rounds up to 1), remaining
    // over the real period, Retry-After and Reset at the end of the epoch-aligned hour
    assert_eq!(refused.header("ratelimit-limit"), Some("1"));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(refused.header("ratelimit-observed"), Some("3"));
    let reset: u64 = refused.header("ratelimit-reset").unwrap().parse().unwrap();
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(reset % 3_600, 0);
    assert!((1..=3_600).contains(&retry_after));
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(reset.abs_diff(now + retry_after) <= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn application_limit_answers_json_without_headers_quirk() {
    let sim = start(Flavour::SelfManaged, 20).await;
    sim.set_faults(gitlab::throttled(1, RetryAfterMode::ApplicationLimit));
    let limited = get(&sim, "/users", tokens::ADMIN).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.json(),
        serde_json::json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}})
    );
    assert!(limited.header("retry-after").is_none());
    assert!(limited.header("ratelimit-reset").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn license_answers_each_licence_mode_like_gitlab() {
    for mode in [
        LicenceMode::SeatLimit,
        LicenceMode::NoSeatLimit,
        LicenceMode::NoLicence,
        LicenceMode::CommunityEdition,
    ] {
        let mut cfg = SimConfig::new(Flavour::SelfManaged, 40);
        cfg.licence = mode;
        let sim = gitlab::start(cfg).await;
        let got = get(&sim, "/license", tokens::ADMIN).await;
        let users = array(&get(&sim, "/users?per_page=100", tokens::ADMIN).await);
        let holders = users
            .iter()
            .filter(|u| u["using_license_seat"] == true)
            .count();
        let enterprise = get(&sim, "/metadata", tokens::ADMIN).await.json()["enterprise"].clone();
        match mode {
            LicenceMode::SeatLimit => {
                assert_eq!(got.status, 200);
                assert!(got.json()["user_limit"].as_u64().unwrap() > 0);
                assert!(holders > 0);
            }
            LicenceMode::NoSeatLimit => {
                assert_eq!(got.status, 200);
                assert_eq!(got.json()["user_limit"], 0);
                assert_eq!(got.json()["overage"], 0);
                assert!(holders > 0);
            }
            LicenceMode::NoLicence => {
                assert_eq!((got.status, got.body.as_str()), (200, "null"));
                assert_eq!(holders, 0, "no licence, no seat");
                assert_eq!(sim.expected().seat_holders, 0);
            }
            LicenceMode::CommunityEdition => {
                assert_eq!(got.status, 404);
                assert_eq!(enterprise, false);
            }
        }
        if mode != LicenceMode::CommunityEdition {
            assert_eq!(enterprise, true);
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn group_member_all_gives_the_highest_role_or_404() {
    let sim = start(Flavour::GitLabCom, 40).await;
    let me = get(&sim, "/user", tokens::ADMIN).await.json();
    let owner = get(
        &sim,
        &format!("/groups/acme/members/all/{}", me["id"]),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    assert_eq!(owner.json()["access_level"], 50);
    assert_eq!(owner.json()["username"], me["username"]);
    let missing = get(&sim, "/groups/acme/members/all/999999", tokens::ADMIN).await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, r#"{"message":"404 Not found"}"#)
    );
    sim.shutdown().await;
}

/// Every row of `/groups/acme/billable_members` (the sim's own account of who is billed how).
async fn billable_rows(sim: &SimHandle) -> Vec<Value> {
    every_row(sim, "/groups/acme/billable_members?per_page=100").await
}

/// Every row of an offset listing, following `Link: rel="next"`.
async fn every_row(sim: &SimHandle, path: &str) -> Vec<Value> {
    let first = format!("{}/api/v4{path}", sim.base_url());
    let mut rows = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let got = get_url(&url, Some(tokens::ADMIN)).await;
        assert_eq!(got.status, 200, "{}", got.body);
        rows.extend(array(&got));
        next = got.link("next");
    }
    rows
}

/// Ids of the billable rows whose `membership_type` is `kind`, ascending.
fn ids_of_type(rows: &[Value], kind: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = rows
        .iter()
        .filter(|m| m["membership_type"] == kind)
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn ids_of(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(|m| m["id"].as_u64().unwrap()).collect()
}

/// The rows of `/groups/acme/billable_members/:id/memberships`.
async fn memberships_of(sim: &SimHandle, id: u64) -> Vec<Value> {
    let got = get(
        sim,
        &format!("/groups/acme/billable_members/{id}/memberships"),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.body);
    array(&got)
}

#[tokio::test]
async fn group_members_filter_by_user_ids_in_either_form_like_grape() {
    let sim = start(Flavour::GitLabCom, 300).await;
    let billable = billable_rows(&sim).await;
    let direct = ids_of_type(&billable, "group_member");
    let invited = ids_of_type(&billable, "group_invite");
    assert!(
        direct.len() > 10 && !invited.is_empty(),
        "the sim has both kinds"
    );
    let all_billable: HashSet<u64> = ids_of(&billable).into_iter().collect();
    let not_billable = (1..=sim.expected().users)
        .find(|id| !all_billable.contains(id))
        .expect("the sim has users without a seat");
    // Asked for out of order, with an invited member and a user without a seat among them.
    let asked = [direct[7], invited[0], direct[2], not_billable, direct[5]];
    let mut expected = vec![direct[2], direct[5], direct[7]];
    expected.sort_unstable();
    let repeated: String = asked.iter().map(|id| format!("&user_ids[]={id}")).collect();
    let comma = asked.map(|id| id.to_string()).join(",");
    for query in [
        format!("per_page=100{repeated}"),
        format!("per_page=100&user_ids={comma}"),
        // CommaSeparatedToArray splits array items on commas too
        format!("per_page=100&user_ids[]={comma}"),
    ] {
        let got = get(
            &sim,
            &format!("/groups/acme/members?{query}"),
            tokens::ADMIN,
        )
        .await;
        assert_eq!(got.status, 200, "{query}: {}", got.body);
        assert_eq!(ids_of(&array(&got)), expected, "{query}");
        assert_eq!(
            got.header("x-total"),
            Some(expected.len().to_string().as_str())
        );
    }
    // CommaSeparatedToIntegerArray maps `to_i`: a word is id 0, which no user has (200, not
    // 400); an id with trailing junk is its leading number.
    let word = get(&sim, "/groups/acme/members?user_ids=abc", tokens::ADMIN).await;
    assert_eq!((word.status, word.body.as_str()), (200, "[]"));
    let junk = get(
        &sim,
        &format!("/groups/acme/members?user_ids={}abc", direct[0]),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(ids_of(&array(&junk)), vec![direct[0]]);
    // An empty list is not `present?`: no filter at all. skip_users (EE) leaves users out.
    let unfiltered = get(&sim, "/groups/acme/members?user_ids=", tokens::ADMIN).await;
    assert_eq!(
        unfiltered.header("x-total"),
        Some(direct.len().to_string().as_str())
    );
    let skipped = get(
        &sim,
        &format!(
            "/groups/acme/members?user_ids={},{}&skip_users[]={}",
            direct[0], direct[1], direct[0]
        ),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(ids_of(&array(&skipped)), vec![direct[1]]);
    sim.shutdown().await;
}

#[tokio::test]
async fn group_members_are_the_direct_members_paginated_by_membership_id() {
    for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
        let sim = start(flavour, 300).await;
        let direct = ids_of_type(&billable_rows(&sim).await, "group_member");
        let first = format!("{}/api/v4/groups/acme/members?per_page=40", sim.base_url());
        let (ids, pages) = follow_links(first, tokens::ADMIN).await;
        // The Owner holds a seat through the group itself: one of the direct members.
        assert_eq!(
            ids, direct,
            "{flavour:?}: ascending, each direct member once"
        );
        let p1 = &pages[0];
        assert_eq!(
            p1.header("x-total"),
            Some(direct.len().to_string().as_str())
        );
        assert_eq!(
            p1.header("x-total-pages"),
            Some(direct.len().div_ceil(40).to_string().as_str())
        );
        assert_eq!(p1.header("x-per-page"), Some("40"));
        assert_eq!(p1.header("x-next-page"), Some("2"));
        let row = &array(p1)[0];
        assert_keys(
            row,
            &[
                "id",
                "username",
                "name",
                "state",
                "avatar_url",
                "web_url",
                "access_level",
                "created_at",
                "expires_at",
            ],
            "a member",
        );
        assert!(
            row.get("is_using_seat").is_none(),
            "only with show_seat_info"
        );
        let me = get(&sim, "/user", tokens::ADMIN).await.json();
        let owner = array(
            &get(
                &sim,
                &format!(
                    "/groups/acme/members?user_ids={}&show_seat_info=true",
                    me["id"]
                ),
                tokens::ADMIN,
            )
            .await,
        );
        assert_eq!(owner.len(), 1);
        assert_eq!(owner[0]["access_level"], 50);
        assert_eq!(owner[0]["is_using_seat"], true);
        // Like every group endpoint: another group is GitLab's 404.
        let other = get(&sim, "/groups/other/members", tokens::ADMIN).await;
        assert_eq!(
            (other.status, other.body.as_str()),
            (404, r#"{"message":"404 Group Not Found"}"#)
        );
        // read_group_member: the non-admin token's owner is a member of the group, so it reads.
        let member = get(&sim, "/groups/acme/members?per_page=1", tokens::NON_ADMIN).await;
        assert_eq!(member.status, 200, "{}", member.body);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn group_members_created_at_is_the_group_membership_of_billable_memberships() {
    let sim = start(Flavour::GitLabCom, 300).await;
    let group_id = get(&sim, "/groups/acme", tokens::ADMIN).await.json()["id"].clone();
    let direct = ids_of_type(&billable_rows(&sim).await, "group_member");
    let sample: Vec<u64> = direct.iter().step_by(9).copied().collect();
    let query: String = sample
        .iter()
        .map(|id| format!("&user_ids[]={id}"))
        .collect();
    let rows = array(
        &get(
            &sim,
            &format!("/groups/acme/members?per_page=100{query}"),
            tokens::ADMIN,
        )
        .await,
    );
    assert_eq!(ids_of(&rows), sample);
    for row in &rows {
        let id = row["id"].as_u64().unwrap();
        let memberships = memberships_of(&sim, id).await;
        let group_row = memberships
            .iter()
            .find(|m| m["source_id"] == group_id)
            .unwrap_or_else(|| panic!("member {id} has a group membership row"));
        assert_eq!(row["created_at"], group_row["created_at"], "member {id}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn created_members_have_the_chosen_group_and_project_memberships() {
    let sim = start(Flavour::GitLabCom, 200).await;
    let group_id = get(&sim, "/groups/acme", tokens::ADMIN).await.json()["id"].clone();
    let (g, p) = (as_of() - Days::new(400), as_of() - Days::new(90));
    let both = sim.create_user_with_memberships(Some(as_of() - Days::new(900)), Some(g), Some(p));
    let project_only = sim.create_user_with_memberships(None, None, Some(p));
    let group_only = sim.create_user_with_memberships(None, Some(g), None);
    assert_eq!(
        (project_only, group_only),
        (both + 1, both + 2),
        "ids follow creation"
    );
    let starts = |row: &Value, date: NaiveDate| {
        row["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with(&date.to_string()))
    };

    // billable_members: all three are billed, the project-only one as a project member.
    let billable = billable_rows(&sim).await;
    let type_of = |id: u64| {
        billable
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| (m["membership_type"].clone(), m["removable"].clone()))
            .unwrap_or_else(|| panic!("{id} is billable"))
    };
    assert_eq!(type_of(both), ("group_member".into(), true.into()));
    assert_eq!(
        type_of(project_only),
        ("project_member".into(), true.into())
    );
    assert_eq!(type_of(group_only), ("group_member".into(), true.into()));
    assert_eq!(sim.expected().billable_members, billable.len() as u64);

    // Their memberships: the group's row and the project's, each from its own day.
    let projects = every_row(&sim, "/groups/acme/projects?include_subgroups=true").await;
    let rows = memberships_of(&sim, both).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let group_row = rows.iter().find(|m| m["source_id"] == group_id).unwrap();
    assert!(starts(group_row, g), "{group_row}");
    assert!(
        group_row["source_members_url"]
            .as_str()
            .unwrap()
            .ends_with("/groups/acme/-/group_members")
    );
    let project_row = rows.iter().find(|m| m["source_id"] != group_id).unwrap();
    assert!(starts(project_row, p), "{project_row}");
    let project = projects
        .iter()
        .find(|project| project["id"] == project_row["source_id"])
        .expect("the membership is in one of the group's projects");
    assert_eq!(
        project_row["source_full_name"],
        project["name_with_namespace"]
    );
    assert_eq!(
        project_row["source_members_url"],
        format!("{}/-/project_members", project["web_url"].as_str().unwrap())
    );
    let project_rows = memberships_of(&sim, project_only).await;
    assert_eq!(project_rows.len(), 1);
    assert!(project_rows[0]["source_id"] != group_id && starts(&project_rows[0], p));
    let group_rows = memberships_of(&sim, group_only).await;
    assert_eq!(group_rows.len(), 1);
    assert!(group_rows[0]["source_id"] == group_id && starts(&group_rows[0], g));

    // /groups/:id/members: the group's own memberships only.
    let members = array(
        &get(
            &sim,
            &format!("/groups/acme/members?user_ids={both},{project_only},{group_only}"),
            tokens::ADMIN,
        )
        .await,
    );
    assert_eq!(ids_of(&members), vec![both, group_only]);
    assert_eq!(members[0]["created_at"], group_row["created_at"]);
    assert_eq!(members[1]["created_at"], group_rows[0]["created_at"]);
    // A project's member is no member of the group, inherited or otherwise.
    let all = get(
        &sim,
        &format!("/groups/acme/members/all/{project_only}"),
        tokens::ADMIN,
    )
    .await;
    assert_eq!(all.status, 404, "{}", all.body);
    sim.shutdown().await;
}
