//! Every real GitLab body in `tests/fixtures/gitlab/` parses into the type the client uses for it
//! (or classifies into the right error), and each quirk found in them has a regression test named
//! after it. A new fixture without a parser here fails `every_fixture_is_covered`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use seatwatch::collect::count_activity;
use seatwatch_gitlab::headers::{PageInfo, RateLimit, parse_link, retry_after};
use seatwatch_gitlab::types::{BillableMembership, UserState, parse_events};
use seatwatch_gitlab::{
    BillableMember, CurrentUser, Event, GitLabError, GroupMember, License, Metadata, Namespace,
    PersonalAccessToken, User,
};
use serde::de::DeserializeOwned;

fn dir() -> PathBuf {
    seatwatch_testkit::repo_root().join("tests/fixtures/gitlab")
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("read fixture {name}: {e}"))
}

fn parse<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_slice(&bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Fixtures and what reads them; `every_fixture_is_covered` keeps this list complete.
const COVERED: &[&str] = &[
    "audit_events_group.json",
    "audit_events_instance.json",
    "billable_member_indirect.json",
    "billable_member_memberships.json",
    "billable_members.json",
    "billable_members_goclient.json",
    "error_400_billable_members_subgroup_or_not_owner.json",
    "error_401.json",
    "error_401_expired_token.json",
    "error_401_impersonation_disabled.json",
    "error_401_revoked_token.json",
    "error_403_forbidden.json",
    "error_403_insufficient_scope.json",
    "error_403_insufficient_scope_api.json",
    "error_403_sudo_not_admin.json",
    "error_404_group.json",
    "error_404_sudo_user.json",
    "error_429_body.txt",
    "events_current_user.json",
    "group_members.json",
    "group_members_all.json",
    "group_pending_members.json",
    "headers_offset_pagination.txt",
    "headers_rate_limit.txt",
    "license.json",
    "license_refresh_billable_users.json",
    "license_usage_export.csv",
    "licenses.json",
    "metadata.json",
    "namespace.json",
    "namespace_v19_with_ci_minutes.json",
    "namespaces.json",
    "personal_access_token_self.json",
    "personal_access_token_self_associations.json",
    "personal_access_token_self_selfmanaged_bot.json",
    "personal_access_tokens_list.json",
    "project_events.json",
    "user_activities.json",
    "user_associations_count.json",
    "user_current_admin.json",
    "user_current_regular.json",
    "user_events.json",
    "user_memberships_admin.json",
    "user_single_admin.json",
    "user_single_regular.json",
    "users_admin.json",
    "users_regular_list.json",
    "version_legacy.json",
];

#[test]
fn every_fixture_is_covered() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "SOURCES.md")
        .collect();
    let covered: BTreeSet<String> = COVERED.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, covered, "add a parser test for new fixtures");
    assert!(
        dir().join("SOURCES.md").exists(),
        "keep SOURCES.md with the fixtures"
    );
}

// ---- the endpoints the client reads -------------------------------------------------------

#[test]
fn metadata_parses() {
    let m: Metadata = parse("metadata.json");
    assert_eq!(m.version, "18.1.1-ee");
    assert_eq!(m.enterprise, Some(true));
    assert!(m.is_enterprise());
}

#[test]
fn legacy_version_without_enterprise() {
    let m: Metadata = parse("version_legacy.json");
    assert_eq!(m.version, "11.3.4-ee");
    assert_eq!(m.enterprise, None);
    assert!(m.is_enterprise(), "the -ee suffix says enterprise");
    let ce: Metadata = serde_json::from_str(r#"{"version":"16.0.0","revision":"x"}"#).expect("ce");
    assert!(!ce.is_enterprise());
}

#[test]
fn current_user_admin_parses() {
    let u: CurrentUser = parse("user_current_admin.json");
    assert_eq!(u.id, 1);
    assert_eq!(u.username, "john_smith");
    assert_eq!(u.state, UserState::Active);
    assert_eq!(u.is_admin, Some(true));
    assert!(u.is_admin());
    assert_eq!(u.last_activity_on, Some(date(2012, 5, 23)));
}

#[test]
fn missing_is_admin_for_regular_users() {
    let u: CurrentUser = parse("user_current_regular.json");
    assert_eq!(u.is_admin, None);
    assert!(!u.is_admin());
    assert_eq!(u.bot, Some(false));
    // the single-user views parse too, as users
    let single_admin: User = parse("user_single_admin.json");
    assert_eq!(single_admin.is_admin, Some(false));
    let single_regular: User = parse("user_single_regular.json");
    assert_eq!(single_regular.is_admin, None);
    assert_eq!(single_regular.last_activity_on, None);
    assert_eq!(single_regular.bot, Some(false));
}

#[test]
fn personal_access_token_self_parses() {
    let t: PersonalAccessToken = parse("personal_access_token_self.json");
    assert_eq!(t.id, 21_657_241);
    assert!(t.active);
    assert!(!t.revoked);
    assert!(t.has_scope("read_api"));
    assert_eq!(t.user_id, 34_625_897);
    assert_eq!(t.expires_at, Some(date(2026, 4, 28)));
    let bot: PersonalAccessToken = parse("personal_access_token_self_selfmanaged_bot.json");
    assert_eq!(bot.scopes, ["self_rotate", "read_repository"]);
    assert!(!bot.has_scope("read_api"));
}

#[test]
fn non_expiring_token_has_null_expires_at() {
    let list: Vec<PersonalAccessToken> = parse("personal_access_tokens_list.json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].expires_at, None);
    assert_eq!(list[0].scopes, ["api"]);
}

#[test]
fn license_parses() {
    let l: License = parse("license.json");
    assert_eq!(l.id, 2);
    assert_eq!(l.plan.as_deref(), Some("ultimate"));
    assert_eq!(l.user_limit, Some(100));
    assert_eq!(l.active_users, Some(300));
    assert_eq!(l.historical_max, Some(300));
    assert_eq!(l.maximum_user_count, Some(300));
    assert_eq!(l.overage, Some(200));
    assert_eq!(l.expired, Some(false));
    assert_eq!(l.starts_at, Some(date(2018, 1, 27)));
    assert_eq!(l.expires_at, Some(date(2022, 1, 27)));
}

#[test]
fn licenses_list_items_lack_active_users() {
    let list: Vec<License> = parse("licenses.json");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|l| l.active_users.is_none()));
    assert_eq!(list[0].plan.as_deref(), Some("premium"));
}

#[test]
fn namespace_parses() {
    let n: Namespace = parse("namespace.json");
    assert_eq!(n.full_path, "group1");
    assert_eq!(n.kind, "group");
    assert_eq!(n.parent_id, None);
    assert_eq!(n.billable_members_count, Some(2));
    assert_eq!(n.seats_in_use, Some(0));
    assert_eq!(n.max_seats_used, Some(0));
    assert_eq!(n.end_date, None);
    assert_eq!(n.plan.as_deref(), Some("default"));
}

#[test]
fn namespace_with_new_fields_still_parses() {
    let n: Namespace = parse("namespace_v19_with_ci_minutes.json");
    assert_eq!(n, parse::<Namespace>("namespace.json"));
}

#[test]
fn namespaces_list_without_seat_fields() {
    let list: Vec<Namespace> = parse("namespaces.json");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].kind, "user");
    assert!(list.iter().all(|n| n.seats_in_use.is_none()));
    assert_eq!(list[2].parent_id, Some(9));
    assert_eq!(list[2].plan, None);
}

#[test]
fn admin_users_parse() {
    let users: Vec<User> = parse("users_admin.json");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].state, UserState::Active);
    assert_eq!(users[1].state, UserState::Blocked);
    assert_eq!(users[0].email.as_deref(), Some("john@example.com"));
    assert_eq!(users[0].last_activity_on, Some(date(2012, 5, 23)));
    assert_eq!(users[1].last_sign_in_at, None);
    assert!(users[1].current_sign_in_at.is_some());
}

#[test]
fn admin_users_doc_example_lacks_ee_seat_fields() {
    let users: Vec<User> = parse("users_admin.json");
    assert!(users.iter().all(|u| u.using_license_seat.is_none()));
    assert!(
        users
            .iter()
            .all(|u| u.bot.is_none() && u.is_auditor.is_none())
    );
}

#[test]
fn regular_users_list_is_user_basic() {
    let users: Vec<User> = parse("users_regular_list.json");
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .all(|u| u.email.is_none() && u.last_activity_on.is_none())
    );
    assert_eq!(users[1].state, UserState::Blocked);
}

#[test]
fn unknown_user_state_is_kept() {
    let u: User = serde_json::from_str(
        r#"{"id":7,"username":"x","name":"X","state":"quarantined_by_new_feature"}"#,
    )
    .expect("unknown state is not fatal");
    assert_eq!(
        u.state,
        UserState::Other("quarantined_by_new_feature".into())
    );
}

#[test]
fn billable_members_parse() {
    let members: Vec<BillableMember> = parse("billable_members.json");
    assert_eq!(members.len(), 3);
    assert_eq!(members[0].email, None);
    assert_eq!(members[1].email.as_deref(), Some("john@example.com"));
    assert_eq!(members[2].membership_type.as_deref(), Some("group_invite"));
    assert_eq!(members[0].last_activity_on, Some(date(2021, 1, 27)));
    let go: Vec<BillableMember> = parse("billable_members_goclient.json");
    assert!(!go.is_empty());
}

#[test]
fn group_members_parse() {
    // `GET /groups/:id/members`: the user's fields merged with the membership's; `created_at`
    // is the membership's, `created_by` another user (whose `id` must not be read as the row's).
    let members: Vec<GroupMember> = parse("group_members.json");
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 2]);
    assert!(members.iter().all(|m| m.access_level == 30));
    assert_eq!(
        members[0].created_at,
        Some(
            "2012-09-22T14:13:35Z"
                .parse::<DateTime<Utc>>()
                .expect("utc")
        )
    );
}

#[test]
fn dates_in_three_formats() {
    // `2012-05-23T08:00:58Z`
    let u: CurrentUser = parse("user_current_admin.json");
    let plain = u.created_at.expect("created_at");
    assert_eq!((plain.year(), plain.hour(), plain.second()), (2012, 8, 58));
    // `2021-01-03T12:16:02.000Z`
    let members: Vec<BillableMember> = parse("billable_members.json");
    let millis_zero = members[0].created_at.expect("created_at");
    assert_eq!(
        millis_zero,
        "2021-01-03T12:16:02Z"
            .parse::<DateTime<Utc>>()
            .expect("utc")
    );
    // `2018-02-27T23:21:58.674Z`
    let l: License = parse("license.json");
    let millis = l.created_at.expect("created_at");
    assert_eq!(millis.timestamp_subsec_millis(), 674);
}

#[test]
fn events_parse() {
    for name in ["events_current_user.json", "project_events.json"] {
        let events: Vec<Event> = parse(name);
        assert!(!events.is_empty(), "{name}");
        assert!(events.iter().all(|e| !e.action_name.is_empty()));
    }
    let project: Vec<Event> = parse("project_events.json");
    assert_eq!(project[2].action_name, "commented on");
    assert_eq!(project[2].target_type.as_deref(), Some("Note"));
}

#[test]
fn events_without_created_at_are_skipped() {
    // GitLab's own documentation example omits created_at on three of its four events
    let strict: Result<Vec<Event>, _> = serde_json::from_slice(&bytes("user_events.json"));
    assert!(
        strict.is_err(),
        "an event without created_at cannot be put on a day"
    );
    let events = parse_events(&bytes("user_events.json")).expect("lenient parse");
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [7]);
    assert_eq!(events[0].action_name, "commented on");
}

#[test]
fn action_name_pushed_vs_pushed_to() {
    // docs say `pushed`, real GitLab says `pushed to` / `pushed new`
    let raw: Vec<serde_json::Value> = parse("user_events.json");
    let mut docs_push = raw[1].clone();
    docs_push["created_at"] = "2015-12-04T10:33:58.089Z".into();
    let docs_push: Event = serde_json::from_value(docs_push).expect("push event");
    assert_eq!(docs_push.action_name, "pushed");
    let push_data = docs_push.push_data.as_ref().expect("push_data");
    assert_eq!(push_data.commit_count, Some(1));
    assert_eq!(count_activity(std::slice::from_ref(&docs_push)).pushes, 1);
    for spelling in ["pushed to", "pushed new"] {
        let e: Event = serde_json::from_value(serde_json::json!({
            "id": 1, "action_name": spelling, "created_at": "2026-01-01T00:00:00Z"
        }))
        .expect("event");
        assert_eq!(count_activity(&[e]).pushes, 1, "{spelling}");
    }
    let comment: Event = serde_json::from_value(serde_json::json!({
        "id": 2, "action_name": "commented on", "created_at": "2026-01-01T00:00:00Z"
    }))
    .expect("event");
    assert_eq!(count_activity(&[comment]).pushes, 0);
}

// ---- bodies of endpoints the client does not call (yet), parsed for their quirks ------------

#[test]
fn bodies_of_endpoints_the_client_does_not_call_are_json() {
    // Kept as a record of what GitLab sends; the client has no types for them.
    for name in [
        "user_memberships_admin.json",
        "group_members_all.json",
        "group_pending_members.json",
        "billable_member_indirect.json",
        "user_activities.json",
        "user_associations_count.json",
        "personal_access_token_self_associations.json",
        "audit_events_instance.json",
        "audit_events_group.json",
    ] {
        let body: serde_json::Value = parse(name);
        assert!(body.is_array() || body.is_object(), "{name}");
    }
}

#[test]
fn billable_member_memberships_parse() {
    let billable: Vec<BillableMembership> = parse("billable_member_memberships.json");
    assert!(billable.iter().all(|m| m.created_at.is_some()));
}

#[test]
fn write_and_csv_endpoints_are_not_read_by_the_client() {
    // PUT /license/:id/refresh_billable_users: the client only sends GET; the body is still JSON
    let refresh: serde_json::Value = parse("license_refresh_billable_users.json");
    assert_eq!(refresh["success"], true);
    // GET /license/usage_export.csv is CSV, not JSON: a JSON parse must fail cleanly
    let csv = bytes("license_usage_export.csv");
    assert!(serde_json::from_slice::<License>(&csv).is_err());
    assert!(String::from_utf8_lossy(&csv).contains("Billable User Count"));
}

// ---- error bodies ----------------------------------------------------------------------------

#[test]
fn error_bodies_classify() {
    type Expect = fn(&GitLabError) -> bool;
    let cases: &[(&str, u16, Expect)] = &[
        ("error_401.json", 401, |e| {
            matches!(e, GitLabError::Unauthorized { .. })
        }),
        ("error_401_expired_token.json", 401, |e| {
            matches!(e, GitLabError::TokenExpired { .. })
        }),
        ("error_401_revoked_token.json", 401, |e| {
            matches!(e, GitLabError::TokenRevoked { .. })
        }),
        (
            "error_401_impersonation_disabled.json",
            401,
            |e| matches!(e, GitLabError::InvalidToken { description, .. } if description.contains("impersonation")),
        ),
        (
            "error_403_insufficient_scope.json",
            403,
            |e| matches!(e, GitLabError::InsufficientScope { required, .. } if required == &["sudo"]),
        ),
        (
            "error_403_insufficient_scope_api.json",
            403,
            |e| matches!(e, GitLabError::InsufficientScope { required, .. } if required == &["api"]),
        ),
        ("error_403_forbidden.json", 403, |e| {
            matches!(e, GitLabError::Forbidden { .. })
        }),
        (
            "error_403_sudo_not_admin.json",
            403,
            |e| matches!(e, GitLabError::Forbidden { message, .. } if message.contains("Must be admin")),
        ),
        (
            "error_400_billable_members_subgroup_or_not_owner.json",
            400,
            |e| matches!(e, GitLabError::BadRequest { .. }),
        ),
        (
            "error_404_group.json",
            404,
            |e| matches!(e, GitLabError::NotFound { message, .. } if message == "404 Group Not Found"),
        ),
        ("error_404_sudo_user.json", 404, |e| {
            matches!(e, GitLabError::NotFound { .. })
        }),
        ("error_429_body.txt", 429, |e| {
            matches!(e, GitLabError::RateLimited { .. })
        }),
    ];
    for (name, status, expected) in cases {
        let err = GitLabError::from_response("/endpoint", *status, &bytes(name));
        assert!(expected(&err), "{name}: got {err:?}");
        assert_eq!(err.endpoint(), Some("/endpoint"));
        assert!(!err.hint().is_empty());
    }
}

#[test]
fn plain_text_429_body() {
    let err = GitLabError::from_response("/users", 429, &bytes("error_429_body.txt"));
    assert!(err.is_retryable());
    assert!(!err.is_auth());
}

// ---- headers -------------------------------------------------------------------------------

fn header_file(name: &str) -> HeaderMap {
    let text = String::from_utf8(bytes(name)).expect("utf-8");
    let mut map = HeaderMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("HTTP/") {
            continue;
        }
        let (k, v) = line.split_once(':').expect("name: value");
        map.append(
            HeaderName::from_bytes(k.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(v.trim()).expect("header value"),
        );
    }
    map
}

#[test]
fn offset_pagination_headers() {
    let headers = header_file("headers_offset_pagination.txt");
    let info = PageInfo::from_headers(&headers);
    assert_eq!(
        info.next_link.as_deref(),
        Some("https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=3&per_page=3")
    );
    assert_eq!(info.next_page, Some(3));
    assert_eq!(info.total_pages, Some(3));
    assert_eq!(info.total, Some(8));
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("link");
    let rels: Vec<String> = parse_link(link).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, ["prev", "next", "first", "last"]);
}

#[test]
fn rate_limit_headers() {
    let headers = header_file("headers_rate_limit.txt");
    let rl = RateLimit::from_headers(&headers).expect("rate limit headers");
    assert_eq!(
        rl,
        RateLimit {
            limit: Some(60),
            remaining: Some(33),
            reset_at: Some(1_609_844_400),
            observed: Some(67),
            name: Some("throttle_authenticated_api".into()),
        }
    );
    assert_eq!(
        retry_after(&headers, 1_609_844_400.0),
        Some(Duration::from_secs(30))
    );
}
