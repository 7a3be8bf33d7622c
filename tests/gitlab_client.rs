//! The GitLab client against the simulated GitLab (`seatwatch_sim`), a real HTTP server on
//! 127.0.0.1: every token behaviour, every fault, paging, and that no error shows the token.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Days;
use futures_util::StreamExt;
use seatwatch_gitlab::{
    BillableMember, Client, ClientOptions, GitLabError, Token, User, UsersPage,
};
use seatwatch_sim::Flavour;
use seatwatch_sim::{Faults, LicenceMode, RetryAfterMode, SimConfig, SimHandle, Throttle, tokens};
use seatwatch_testkit::gitlab::{self, client_with, quick_options as opts};

const ALL_TOKENS: &[&str] = &[
    tokens::ADMIN,
    tokens::EXPIRING_SOON,
    tokens::EXPIRED,
    tokens::REVOKED,
    tokens::READ_USER_ONLY,
    tokens::READ_API_ONLY,
    tokens::DEACTIVATED_OWNER,
    tokens::NON_ADMIN,
    "glpat-fake-test-token-0000",
];

async fn start(flavour: Flavour, users: u32) -> SimHandle {
    gitlab::start(SimConfig::new(flavour, users)).await
}

fn client(sim: &SimHandle, token: &str) -> Client {
    client_with(sim, token, opts())
}

/// Every item of a paged listing, or the first page's error.
async fn all_pages<T>(
    pages: impl futures_util::Stream<Item = Result<Vec<T>, GitLabError>>,
) -> Result<Vec<T>, GitLabError> {
    let mut pages = std::pin::pin!(pages);
    let mut items = Vec::new();
    while let Some(page) = pages.next().await {
        items.extend(page?);
    }
    Ok(items)
}

async fn all_users(client: &Client) -> Result<Vec<User>, GitLabError> {
    all_pages(client.users()).await
}

async fn all_billable(client: &Client, group: &str) -> Result<Vec<BillableMember>, GitLabError> {
    all_pages(client.billable_members(group)).await
}

/// What `GET /user` with `token` fails with; `why` says why it must fail.
async fn user_refused(sim: &SimHandle, token: &str, why: &str) -> GitLabError {
    client(sim, token).current_user().await.expect_err(why)
}

fn assert_no_token(err: &GitLabError) {
    let shown = format!("{err} {err:?} {}", err.hint());
    for token in ALL_TOKENS {
        assert!(!shown.contains(token), "token leaked: {shown}");
    }
    assert!(!shown.contains("glpat-"), "token-like text leaked: {shown}");
}

// ---- paging ---------------------------------------------------------------------------------

#[tokio::test]
async fn keyset_users_are_complete_without_duplicates() {
    let sim = start(Flavour::SelfManaged, 250).await;
    let client = client(&sim, tokens::ADMIN);
    let users = all_users(&client).await.expect("all users");
    let ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicates");
    assert_eq!(ids.len() as u64, sim.expected().users, "gaps");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "keyset order is by id");
    assert!(
        users.iter().any(|u| u.using_license_seat.is_some()),
        "admin view"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn users_resume_from_a_checkpoint() {
    let sim = start(Flavour::SelfManaged, 250).await;
    let client = client(&sim, tokens::ADMIN);
    let first: UsersPage = {
        let mut pages = std::pin::pin!(client.users_from(None));
        pages.next().await.expect("a page").expect("ok")
    };
    let next = first.next.clone().expect("more than one page");
    assert!(!format!("{next:?}").contains("glpat-"));
    let mut ids: Vec<u64> = first.users.iter().map(|u| u.id).collect();
    let mut rest = std::pin::pin!(client.users_from(Some(next)));
    while let Some(page) = rest.next().await {
        ids.extend(page.expect("page").users.iter().map(|u| u.id));
    }
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len() as u64, sim.expected().users);
    sim.shutdown().await;
}

#[tokio::test]
async fn billable_members_are_complete_without_duplicates() {
    let sim = start(Flavour::GitLabCom, 250).await;
    let client = client(&sim, tokens::ADMIN);
    let members = all_billable(&client, "acme").await.expect("members");
    let unique: HashSet<u64> = members.iter().map(|m| m.id).collect();
    assert_eq!(unique.len(), members.len());
    assert_eq!(members.len() as u64, sim.expected().billable_members);
    let namespace = client.namespace("acme").await.expect("namespace");
    assert_eq!(
        namespace.seats_in_use,
        Some(sim.expected().billable_members)
    );
    let group = client.group("acme").await.expect("group");
    assert!(group.is_top_level());
    sim.shutdown().await;
}

#[tokio::test]
async fn group_members_by_ids_are_the_direct_members_asked_for_with_their_membership_dates() {
    let cfg = SimConfig::new(Flavour::GitLabCom, 300);
    let today = cfg.as_of;
    let sim = gitlab::start(cfg).await;
    let group_since = today - Days::new(300);
    let both =
        sim.create_user_with_memberships(None, Some(group_since), Some(today - Days::new(30)));
    let project_only = sim.create_user_with_memberships(None, None, Some(today - Days::new(10)));
    let client = client(&sim, tokens::ADMIN);
    let billable = all_billable(&client, "acme").await.expect("members");
    let mut direct: Vec<u64> = billable
        .iter()
        .filter(|m| m.membership_type.as_deref() == Some("group_member"))
        .map(|m| m.id)
        .collect();
    direct.sort_unstable();
    assert!(direct.contains(&both) && !direct.contains(&project_only));
    assert!(
        billable.len() > direct.len(),
        "invited and project members too"
    );
    // Everyone billed, a user without a seat, and one id twice: more than two requests' worth.
    let mut asked: Vec<u64> = billable.iter().map(|m| m.id).collect();
    let not_billed = (1..)
        .find(|id| !asked.contains(id))
        .expect("a user without a seat");
    asked.extend([not_billed, asked[0]]);
    let distinct = asked.iter().collect::<HashSet<_>>().len();
    assert!(distinct > 200);

    let before = client.requests_made();
    let members = client
        .group_members_by_ids("acme", &asked)
        .await
        .expect("members");
    assert_eq!(
        client.requests_made() - before,
        distinct.div_ceil(100) as u64,
        "a hundred ids a request, one page each"
    );
    let mut ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids, direct,
        "exactly the direct members asked for, each once"
    );
    let owner = client.current_user().await.expect("me").id;
    let level = |id: u64| members.iter().find(|m| m.id == id).map(|m| m.access_level);
    assert_eq!((level(owner), level(both)), (Some(50), Some(30)));

    // Each date is the member's group membership, as billable_members/:id/memberships has it.
    for member in members.iter().filter(|m| m.id % 7 == 0 || m.id == both) {
        let memberships = client
            .billable_member_memberships("acme", member.id)
            .await
            .expect("memberships");
        let group_row = if member.id == both {
            assert_eq!(memberships.len(), 2, "group and project");
            let earliest = memberships.iter().filter_map(|m| m.created_at).min();
            assert_eq!(earliest.map(|t| t.date_naive()), Some(group_since));
            earliest
        } else {
            assert_eq!(memberships.len(), 1, "member {}", member.id);
            memberships[0].created_at
        };
        assert!(member.created_at.is_some());
        assert_eq!(member.created_at, group_row, "member {}", member.id);
    }

    // Nothing to ask: no request (GitLab would list every member).
    let before = client.requests_made();
    assert!(
        client
            .group_members_by_ids("acme", &[])
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(client.requests_made(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn self_managed_identity_and_license() {
    let sim = start(Flavour::SelfManaged, 120).await;
    let client = client(&sim, tokens::ADMIN);
    let metadata = client.metadata().await.expect("metadata");
    assert!(!metadata.version.is_empty());
    let me = client.current_user().await.expect("user");
    assert!(me.is_admin());
    let token = client.token_self().await.expect("token");
    assert!(token.active);
    let license = client
        .license()
        .await
        .expect("license")
        .expect("the default simulator is licensed");
    assert_eq!(license.active_users, Some(sim.expected().seat_holders));
    assert_eq!(license.user_limit, Some(sim.expected().user_limit));
    sim.shutdown().await;
}

#[tokio::test]
async fn expiring_token_reports_its_date() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let client = client(&sim, tokens::EXPIRING_SOON);
    let token = client.token_self().await.expect("token");
    let as_of = SimConfig::new(Flavour::SelfManaged, 50).as_of;
    assert_eq!(token.expires_at, as_of.checked_add_days(Days::new(5)));
    sim.shutdown().await;
}

#[tokio::test]
async fn user_events_stay_within_the_exclusive_day_bounds() {
    let sim = start(Flavour::SelfManaged, 200).await;
    let client = client(&sim, tokens::ADMIN);
    let as_of = SimConfig::new(Flavour::SelfManaged, 200).as_of;
    let active: Vec<User> = all_users(&client)
        .await
        .expect("users")
        .into_iter()
        .filter(|u| u.last_activity_on == Some(as_of))
        .take(5)
        .collect();
    assert!(
        !active.is_empty(),
        "the simulator has users active on its as_of date"
    );
    let after = as_of.pred_opt().expect("date");
    let before = as_of.succ_opt().expect("date");
    let mut total = 0;
    for user in &active {
        let events = client
            .user_events(user.id, after, before)
            .await
            .expect("events");
        let ids: HashSet<u64> = events.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), events.len(), "duplicate events");
        for event in &events {
            assert_eq!(
                event.created_at.date_naive(),
                as_of,
                "outside (after, before)"
            );
        }
        total += events.len();
    }
    assert!(total > 0, "active users have events on their active day");
    sim.shutdown().await;
}

// ---- tokens ---------------------------------------------------------------------------------

#[tokio::test]
async fn token_failures_are_typed() {
    let sim = start(Flavour::SelfManaged, 50).await;

    let expired = user_refused(&sim, tokens::EXPIRED, "expired").await;
    assert_eq!(
        expired,
        GitLabError::TokenExpired {
            endpoint: "/user".into()
        }
    );

    let revoked = user_refused(&sim, tokens::REVOKED, "revoked").await;
    assert_eq!(
        revoked,
        GitLabError::TokenRevoked {
            endpoint: "/user".into()
        }
    );

    let unknown = user_refused(&sim, "glpat-fake-test-token-0000", "unknown").await;
    assert_eq!(
        unknown,
        GitLabError::Unauthorized {
            endpoint: "/user".into()
        }
    );

    let read_user = client(&sim, tokens::READ_USER_ONLY);
    read_user
        .current_user()
        .await
        .expect("read_user may read /user");
    let scope = read_user.license().await.expect_err("needs read_api");
    match &scope {
        GitLabError::InsufficientScope { endpoint, required } => {
            assert_eq!(endpoint, "/license");
            assert!(required.iter().any(|s| s == "read_api"), "{required:?}");
        }
        other => panic!("expected InsufficientScope, got {other:?}"),
    }

    let non_admin = client(&sim, tokens::NON_ADMIN);
    let forbidden = non_admin.license().await.expect_err("not an admin");
    assert!(
        matches!(forbidden, GitLabError::Forbidden { ref endpoint, .. } if endpoint == "/license")
    );

    for err in [&expired, &revoked, &unknown, &scope, &forbidden] {
        assert_no_token(err);
    }
    assert!(expired.is_auth() && revoked.is_auth() && unknown.is_auth());
    assert!(!scope.is_auth() && !forbidden.is_auth());
    sim.shutdown().await;
}

#[tokio::test]
async fn billable_members_without_owner_is_bad_request() {
    let sim = start(Flavour::GitLabCom, 50).await;
    let err = all_billable(&client(&sim, tokens::NON_ADMIN), "acme")
        .await
        .expect_err("not the Owner");
    assert!(
        matches!(err, GitLabError::BadRequest { ref endpoint, .. } if endpoint == "/groups/acme/billable_members"),
        "{err:?}"
    );
    assert!(err.hint().contains("Owner"));
    assert_no_token(&err);
    sim.shutdown().await;
}

#[tokio::test]
async fn rotated_token_is_used_for_later_requests() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let client = client(&sim, tokens::ADMIN);
    client.current_user().await.expect("admin");
    let rotated = "glpat-fake-test-rotated-0000";
    sim.add_token(rotated, tokens::ADMIN);
    client.set_token(Token::new(rotated));
    sim.revoke_token(tokens::ADMIN);
    client.current_user().await.expect("the new token works");
    client.set_token(Token::new(tokens::ADMIN));
    let err = client
        .current_user()
        .await
        .expect_err("the old one is revoked");
    assert!(err.is_auth());
    sim.shutdown().await;
}

// ---- faults ---------------------------------------------------------------------------------

/// `GET /user` on a fresh simulator answering with `faults`, which the client must get through
/// (`what` names the case); the client, to count what it took.
async fn user_through(faults: Faults, what: &str) -> Client {
    let sim = start(Flavour::SelfManaged, 50).await;
    sim.set_faults(faults);
    let client = client(&sim, tokens::ADMIN);
    client
        .current_user()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    sim.shutdown().await;
    client
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_succeeds() {
    let client = user_through(
        gitlab::throttled(2, RetryAfterMode::Seconds(1)),
        "after the 429s",
    )
    .await;
    assert_eq!(client.responses_429(), 2);
    assert_eq!(client.requests_made(), 3);
}

#[tokio::test]
async fn rate_limited_with_reset_only_or_no_headers_then_succeeds() {
    for mode in [RetryAfterMode::ResetOnly, RetryAfterMode::NoHeaders] {
        let client = user_through(gitlab::throttled(2, mode), &format!("{mode:?}")).await;
        assert_eq!(client.responses_429(), 2, "{mode:?}");
    }
}

#[tokio::test]
async fn server_error_bursts_are_retried() {
    for status in [500, 502, 503, 504] {
        let client = user_through(gitlab::status_burst(status, 2), &status.to_string()).await;
        assert_eq!(client.requests_made(), 3, "{status}");
    }
}

#[tokio::test]
async fn gives_up_after_the_retry_budget() {
    let sim = start(Flavour::SelfManaged, 50).await;
    sim.set_faults(gitlab::status_burst(503, 10_000));
    let client = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            max_retry_time: Duration::from_secs(2),
            ..opts()
        },
    );
    let err = client.current_user().await.expect_err("gives up");
    match &err {
        GitLabError::Server {
            endpoint,
            status,
            attempts,
        } => {
            assert_eq!(endpoint, "/user");
            assert_eq!(*status, 503);
            assert!(*attempts >= 2);
        }
        other => panic!("expected Server, got {other:?}"),
    }
    assert_no_token(&err);

    sim.set_faults(gitlab::throttled(10_000, RetryAfterMode::NoHeaders));
    let limited = client.current_user().await.expect_err("gives up on 429s");
    assert!(
        matches!(limited, GitLabError::RateLimited { attempts, .. } if attempts >= 2),
        "{limited:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_responses_beyond_the_timeout_are_retried() {
    let sim = start(Flavour::SelfManaged, 50).await;
    sim.set_faults(gitlab::slow_answers(Duration::from_secs(3), 1));
    let client = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            request_timeout: Duration::from_millis(500),
            ..opts()
        },
    );
    client.current_user().await.expect("second attempt is fast");
    assert_eq!(client.requests_made(), 2);

    sim.set_faults(gitlab::slow_answers(Duration::from_secs(3), 10_000));
    let short = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            request_timeout: Duration::from_millis(300),
            max_retry_time: Duration::from_secs(1),
            ..opts()
        },
    );
    let err = short.current_user().await.expect_err("always slow");
    assert!(
        matches!(err, GitLabError::Timeout { ref endpoint, .. } if endpoint == "/user"),
        "{err:?}"
    );
    assert_no_token(&err);
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let sim = start(Flavour::SelfManaged, 50).await;
    sim.set_faults(gitlab::dropped_connections(2));
    let client = client(&sim, tokens::ADMIN);
    client.current_user().await.expect("after the resets");
    assert_eq!(client.requests_made(), 3);

    sim.set_faults(gitlab::dropped_connections(10_000));
    let short = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            max_retry_time: Duration::from_secs(1),
            ..opts()
        },
    );
    let err = short.current_user().await.expect_err("always dropped");
    assert!(matches!(err, GitLabError::Connection { .. }), "{err:?}");
    assert_no_token(&err);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_short_burst_of_cut_or_garbled_bodies_is_retried_through() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let client = client(&sim, tokens::ADMIN);

    sim.set_faults(gitlab::malformed_json(2));
    client.current_user().await.expect("third answer is whole");
    assert_eq!(client.requests_made(), 3);

    sim.set_faults(gitlab::truncated_body(1));
    client.license().await.expect("second answer is whole");

    sim.set_faults(gitlab::truncated_body(1));
    let users = all_users(&client)
        .await
        .expect("a cut page is fetched again");
    assert_eq!(users.len() as u64, sim.expected().users);
    sim.shutdown().await;
}

#[tokio::test]
async fn persistent_malformed_and_truncated_bodies_fail_naming_the_endpoint() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let client = client(&sim, tokens::ADMIN);

    sim.set_faults(gitlab::malformed_json(10_000));
    let before = client.requests_made();
    let malformed = client.current_user().await.expect_err("malformed");
    assert!(
        matches!(malformed, GitLabError::BadBody { ref endpoint, attempts, .. } if endpoint == "/user" && attempts > 1),
        "{malformed:?}"
    );
    // bounded: a handful of attempts, not the whole time budget
    let attempts = client.requests_made() - before;
    assert!((2..=5).contains(&attempts), "{attempts} attempts");
    assert!(malformed.to_string().contains("/user"));

    sim.set_faults(gitlab::truncated_body(10_000));
    let truncated = client.license().await.expect_err("truncated");
    assert!(
        matches!(truncated, GitLabError::BadBody { ref endpoint, .. } if endpoint == "/license"),
        "{truncated:?}"
    );
    let paged = all_users(&client).await.expect_err("truncated page");
    assert!(
        matches!(paged, GitLabError::BadBody { ref endpoint, .. } if endpoint == "/users"),
        "{paged:?}"
    );

    for err in [&malformed, &truncated, &paged] {
        assert_no_token(err);
    }
    // nothing sticks: the next call is fine
    sim.set_faults(Faults::default());
    client.current_user().await.expect("healthy again");
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_headers_are_exposed() {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 250);
    cfg.rate_limit = Some(Throttle::per_minute(1_000));
    cfg.rate_limit_headers_always = true;
    let sim = gitlab::start(cfg).await;
    let client = client(&sim, tokens::ADMIN);
    all_users(&client).await.expect("users");
    let rate_limit = client.last_rate_limit().expect("headers seen");
    assert_eq!(rate_limit.limit, Some(1_000));
    assert!(rate_limit.remaining.is_some_and(|r| r < 1_000));
    assert!(rate_limit.reset_at.is_some());
    assert_eq!(client.responses_429(), 0);
    let probe = client.probe("/users").await.expect("probe");
    assert!(probe.rate_limit.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_headers_only_on_the_429_by_default_quirk() {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 250);
    cfg.rate_limit = Some(Throttle::per_minute(1_000));
    let sim = gitlab::start(cfg).await;
    let client = client(&sim, tokens::ADMIN);
    all_users(&client).await.expect("users");
    assert_eq!(client.last_rate_limit(), None, "no header below the limit");
    sim.shutdown().await;
}

#[tokio::test]
async fn application_limit_429_without_headers_is_backed_off_and_retried_quirk() {
    let client = user_through(
        gitlab::throttled(2, RetryAfterMode::ApplicationLimit),
        "after the 429s",
    )
    .await;
    assert_eq!(client.responses_429(), 2);
    assert_eq!(client.last_rate_limit(), None);
}

#[tokio::test]
async fn a_429_without_headers_halves_concurrency_which_comes_back_when_they_stop() {
    let sim = start(Flavour::SelfManaged, 900).await;
    let client = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            concurrency: 8,
            ..opts()
        },
    );
    assert_eq!(client.allowed_in_flight(), 8);
    sim.set_faults(gitlab::throttled(1, RetryAfterMode::NoHeaders));
    client.current_user().await.expect("after the 429");
    assert_eq!(
        client.allowed_in_flight(),
        4,
        "the first 429 halves the window"
    );
    // the 429s stop: successes widen the window again, one slot at a time
    let mut calls = 0;
    while client.allowed_in_flight() < 8 {
        client.metadata().await.expect("metadata");
        calls += 1;
        assert!(calls < 100, "concurrency never came back");
    }
    assert!(calls >= 4, "additive increase, not a jump: {calls}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wait_longer_than_the_retry_budget_is_retry_later_not_lost() {
    let sim = start(Flavour::SelfManaged, 50).await;
    // a self-managed hourly throttle answers Retry-After up to 3600
    sim.set_faults(gitlab::throttled(1, RetryAfterMode::Seconds(3_600)));
    let client = client(&sim, tokens::ADMIN);
    let started = std::time::Instant::now();
    let err = client
        .current_user()
        .await
        .expect_err("an hour is past the budget");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not sit out the wait"
    );
    match &err {
        GitLabError::RetryLater { endpoint, wait } => {
            assert_eq!(endpoint, "/user");
            assert!(*wait >= Duration::from_secs(3_600), "{wait:?}");
        }
        other => panic!("expected RetryLater, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(!err.is_auth());
    assert_no_token(&err);
    sim.shutdown().await;
}

#[tokio::test]
async fn after_a_wait_past_the_budget_every_request_is_retry_later_at_once_quirk() {
    let sim = start(Flavour::SelfManaged, 50).await;
    sim.set_faults(gitlab::throttled(1, RetryAfterMode::Seconds(3_600)));
    let client = client(&sim, tokens::ADMIN);
    let refused = client
        .current_user()
        .await
        .expect_err("an hour is past the budget");
    assert!(
        matches!(refused, GitLabError::RetryLater { .. }),
        "{refused:?}"
    );
    let sent = client.requests_made();
    // The throttle is over (one 429 only), but the client was told to wait an hour: the next
    // request on it must not be sent, nor sit the hour out. The timeout turns a wait into a
    // failure; it is not how the test synchronises.
    let next = tokio::time::timeout(Duration::from_secs(60), client.metadata())
        .await
        .expect("returns at once, not after the hour");
    match next {
        Err(GitLabError::RetryLater { endpoint, wait }) => {
            assert_eq!(endpoint, "/metadata");
            assert!(wait > Duration::from_secs(3_500), "the hour left: {wait:?}");
        }
        other => panic!("expected RetryLater, got {other:?}"),
    }
    assert_eq!(
        client.requests_made(),
        sent,
        "nothing sent while told to wait"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn hourly_throttle_headers_follow_request_throttle_data_quirk() {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 50);
    cfg.rate_limit = Some(Throttle {
        requests: 3,
        period: Duration::from_secs(3_600),
    });
    let sim = gitlab::start(cfg).await;
    let client = client(&sim, tokens::ADMIN);
    for _ in 0..3 {
        client.current_user().await.expect("within the limit");
    }
    let err = client
        .current_user()
        .await
        .expect_err("over the hourly limit");
    assert!(matches!(err, GitLabError::RetryLater { .. }), "{err:?}");
    let rl = client.last_rate_limit().expect("headers on the 429");
    // 3 per 3600 s normalised to 60 s and rounded up
    assert_eq!(rl.limit, Some(1));
    assert_eq!(rl.remaining, Some(0));
    let now = chrono::Utc::now().timestamp();
    let reset = rl.reset_at.expect("reset");
    assert_eq!(reset % 3_600, 0, "epoch-aligned period end");
    assert!(reset > now && reset <= now + 3_600);
    sim.shutdown().await;
}

// ---- licences and tokens as GitLab's source has them ----------------------------------------

async fn licence_sim(mode: LicenceMode) -> SimHandle {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 80);
    cfg.licence = mode;
    gitlab::start(cfg).await
}

#[tokio::test]
async fn user_limit_zero_means_no_seat_limit_quirk() {
    let sim = licence_sim(LicenceMode::NoSeatLimit).await;
    let licence = client(&sim, tokens::ADMIN)
        .license()
        .await
        .expect("license")
        .expect("a licence");
    assert_eq!(licence.user_limit, Some(0));
    assert_eq!(licence.overage, Some(0));
    assert!(licence.active_users.is_some_and(|n| n > 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn ee_without_licence_answers_null_quirk() {
    let sim = licence_sim(LicenceMode::NoLicence).await;
    let client = client(&sim, tokens::ADMIN);
    assert_eq!(client.license().await.expect("200 null"), None);
    let users = all_users(&client).await.expect("users");
    assert!(!users.is_empty());
    assert!(
        users.iter().all(|u| u.using_license_seat == Some(false)),
        "nobody holds a seat without a licence"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn community_edition_has_no_license_route_quirk() {
    let sim = licence_sim(LicenceMode::CommunityEdition).await;
    let client = client(&sim, tokens::ADMIN);
    assert!(!client.metadata().await.expect("metadata").is_enterprise());
    let err = client.license().await.expect_err("404");
    assert!(matches!(err, GitLabError::NotFound { .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn read_api_alone_reads_every_get_endpoint_quirk() {
    for flavour in [Flavour::SelfManaged, Flavour::GitLabCom] {
        let sim = start(flavour, 60).await;
        let client = client(&sim, tokens::READ_API_ONLY);
        let token = client.token_self().await.expect("token");
        assert_eq!(token.scopes, vec!["read_api".to_string()]);
        let me = client.current_user().await.expect("user");
        client.metadata().await.expect("metadata");
        all_users(&client).await.expect("users");
        let as_of = SimConfig::new(flavour, 60).as_of;
        client
            .user_events(me.id, as_of - Days::new(7), as_of)
            .await
            .expect("events");
        match flavour {
            Flavour::SelfManaged => {
                client.license().await.expect("license");
            }
            Flavour::GitLabCom => {
                client.namespace("acme").await.expect("namespace");
                all_billable(&client, "acme")
                    .await
                    .expect("billable members");
                let access = client
                    .group_member_access("acme", me.id)
                    .await
                    .expect("membership");
                assert!(access.is_owner());
            }
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn deactivated_token_owner_gets_403_with_the_reason_quirk() {
    let sim = start(Flavour::SelfManaged, 50).await;
    let err = user_refused(&sim, tokens::DEACTIVATED_OWNER, "deactivated").await;
    match &err {
        GitLabError::AccountBlocked { message, .. } => {
            assert!(message.contains("deactivated"), "{message}")
        }
        other => panic!("expected AccountBlocked, got {other:?}"),
    }
    assert!(err.is_auth());
    assert!(err.hint().contains("reactivate"), "{}", err.hint());
    assert!(
        !err.hint().contains("administrator's token"),
        "{}",
        err.hint()
    );
    assert_no_token(&err);
    sim.shutdown().await;
}

/// A throttle with GitLab's default of headers only on the 429: after the first refusal the
/// client paces at the rate the 429 named, so later periods see few or no 429s, and the run
/// takes about as long as the limit allows. (A 2 s period keeps the test short.)
#[tokio::test(flavor = "multi_thread")]
async fn pacing_without_headers_keeps_near_the_limit_with_few_429s() {
    let mut cfg = SimConfig::new(Flavour::SelfManaged, 50);
    cfg.rate_limit = Some(Throttle {
        requests: 20,
        period: Duration::from_secs(2),
    });
    let sim = gitlab::start(cfg).await;
    let client = client_with(
        &sim,
        tokens::ADMIN,
        ClientOptions {
            concurrency: 8,
            ..opts()
        },
    );
    let started = std::time::Instant::now();
    let calls = (0..8).map(|_| {
        let client = client.clone();
        async move {
            for _ in 0..10 {
                client.current_user().await.expect("paced through");
            }
        }
    });
    futures_util::future::join_all(calls).await;
    let wall = started.elapsed().as_secs_f64();
    let served = sim.requests_served();
    let refused = sim.responses_429();
    // 80 answers at 20 per 2 s cannot take less than ~6 s (the first period may be partial)
    let floor = (80.0 / 20.0 - 1.0) * 2.0;
    assert!(wall >= floor * 0.9, "faster than the limit? {wall:.1} s");
    assert!(
        wall <= floor * 1.6 + 2.0,
        "too slow: {wall:.1} s for floor {floor:.1} s"
    );
    // the first flight is refused (up to 8), then the client keeps to the rate
    assert!(refused <= 8 + 4, "{refused} of {served} answered 429");
    eprintln!("paced: {served} requests, {refused} answered 429, {wall:.1} s (floor {floor:.1} s)");
    assert!(refused >= 1, "the throttle was reached");
    sim.shutdown().await;
}
