//! The GraphQL reads: the documents themselves (queries only, GitLab's names), what GitLab's
//! answers are taken to mean (bodies shaped as graphql-ruby and GitLab's resolvers write them),
//! and the same over HTTP against the local stub of `client_tests.rs`.

use super::*;
use crate::client_tests::{FAKE_TOKEN, Seen, Stub, fast_opts, json};
use crate::{BaseUrl, Token};

const GROUP_PATH: &str = "acme";

/// GitLab refuses longer documents (`graphql_controller.rb` `MAX_QUERY_SIZE`, "Query too large").
const GITLAB_MAX_QUERY_SIZE: usize = 10_000;
const GROUP_ID: u64 = 42;

fn gitlab_com() -> AddOnScope<'static> {
    AddOnScope::GitLabCom {
        group_id: GROUP_ID,
        full_path: GROUP_PATH,
    }
}

fn purchase() -> AddOnPurchase {
    AddOnPurchase {
        id: "gid://gitlab/GitlabSubscriptions::AddOnPurchase/7".into(),
        name: "DUO_ENTERPRISE".into(),
        purchased_quantity: 10,
        assigned_quantity: 3,
    }
}

/// graphql-ruby's `FieldsAreDefinedOnTypeError` as GitLab renders it: status 200, no `data`.
fn undefined_field(type_name: &str, field: &str) -> String {
    serde_json::json!({"errors": [{
        "message": format!("Field '{field}' doesn't exist on type '{type_name}'"),
        "locations": [{"line": 1, "column": 60}],
        "path": ["query seatwatchAddOnHolders", field],
        "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": field}
    }]})
    .to_string()
}

/// `raise_resource_not_available_error!` on a field: `null` there, the reason in `errors`.
fn refused(data: serde_json::Value, message: &str) -> String {
    serde_json::json!({"data": data, "errors": [{
        "message": message,
        "locations": [{"line": 1, "column": 1}],
        "path": ["selfManagedAddOnEligibleUsers"]
    }]})
    .to_string()
}

fn node(id: u64, duo: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": format!("gid://gitlab/User/{id}"),
        "username": format!("u{id}"),
        "lastActivityOn": "2026-11-20",
        "lastLoginAt": "2026-11-19T08:30:00Z",
        "lastDuoActivityOn": duo,
    })
}

/// A self-managed holders page; `next` is the cursor of the page after it.
fn sm_page(nodes: Vec<serde_json::Value>, next: Option<&str>) -> String {
    serde_json::json!({"data": {"selfManagedAddOnEligibleUsers": {
        "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next},
        "nodes": nodes
    }}})
    .to_string()
}

/// A GitLab.com holders page, under `namespace`.
fn com_page(nodes: Vec<serde_json::Value>, next: Option<&str>) -> String {
    serde_json::json!({"data": {"namespace": {"addOnEligibleUsers": {
        "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next},
        "nodes": nodes
    }}}})
    .to_string()
}

fn variables(seen: &Seen) -> serde_json::Value {
    serde_json::from_str(&seen.param("variables").expect("variables sent")).expect("JSON variables")
}

/// Every request went out as a GET of `/api/graphql` with the token in its header only.
fn assert_graphql_gets(seen: &[Seen]) {
    assert!(!seen.is_empty());
    for request in seen {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/api/graphql");
        assert_eq!(request.token.as_deref(), Some(FAKE_TOKEN));
        assert!(!request.query.contains(FAKE_TOKEN));
    }
}

/// The operations of a GraphQL document: the keyword that starts each top-level definition,
/// strings and comments skipped. Hand-written because the client's documents are few and
/// simple; the simulator's real GraphQL server validates them in `tests/gitlab_graphql.rs`.
fn operation_keywords(document: &str) -> Vec<String> {
    let mut keywords = Vec::new();
    let mut depth = 0i32;
    let mut chars = document.chars().peekable();
    let mut word = String::new();
    let mut at_definition_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(s) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '#' => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            '{' | '(' => depth += 1,
            '}' | ')' => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced: {document}");
                at_definition_start = depth == 0;
            }
            c if c.is_alphanumeric() || c == '_' => {
                word.push(c);
                if !chars
                    .peek()
                    .is_some_and(|n| n.is_alphanumeric() || *n == '_')
                {
                    if depth == 0 && at_definition_start {
                        keywords.push(std::mem::take(&mut word));
                        at_definition_start = false;
                    }
                    word.clear();
                }
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced: {document}");
    keywords
}

#[test]
fn every_document_is_a_single_query() {
    let documents = documents();
    assert_eq!(documents.len(), Document::ALL.len());
    for (field, text) in documents {
        assert_eq!(operation_keywords(&text), ["query"], "{text}");
        assert!(text.contains(field), "{field} not read by {text}");
        // nor anywhere as a word (`GitlabSubscriptionsAddOnType` is a type name, not one)
        assert!(
            text.split(|c: char| !c.is_alphanumeric() && c != '_')
                .all(|word| word != "mutation" && word != "subscription"),
            "{text}"
        );
    }
}

#[test]
fn the_operation_check_sees_mutations_and_shorthand() {
    // the check above must be able to fail
    assert_eq!(
        operation_keywords("mutation m { userAddOnAssignmentCreate(input: {}) { errors } }"),
        ["mutation"]
    );
    assert_eq!(
        operation_keywords("query a { x } subscription b { y(s: \"{\") }"),
        ["query", "subscription"]
    );
    assert!(operation_keywords("{ x }").is_empty());
}

#[test]
fn every_document_fits_gitlabs_query_size_limit() {
    for document in Document::ALL {
        assert!(document.text().len() < GITLAB_MAX_QUERY_SIZE);
    }
}

#[test]
fn documents_use_gitlabs_argument_names() {
    for document in Document::ALL {
        let text = document.text();
        match document {
            Document::Purchases(Flavour::GitLabCom) => {
                assert!(text.contains("addOnPurchases(namespaceId: $namespaceId)"));
                assert!(text.contains("$namespaceId: NamespaceID!"));
            }
            Document::Purchases(Flavour::SelfManaged) => {
                assert!(!text.contains("namespaceId"));
            }
            Document::Holders {
                flavour,
                duo_activity,
            } => {
                for argument in [
                    "addOnType: $addOnType",
                    "addOnPurchaseIds: $addOnPurchaseIds",
                    "filterByAssignedSeat: \"true\"",
                    "pageInfo { hasNextPage endCursor }",
                    // graphql-ruby's connection arguments
                    "first: $first, after: $after",
                    "$first: Int, $after: String",
                ] {
                    assert!(text.contains(argument), "{argument} missing from {text}");
                }
                assert_eq!(text.contains("lastDuoActivityOn"), duo_activity);
                assert_eq!(
                    text.contains("namespace(fullPath: $fullPath)"),
                    flavour == Flavour::GitLabCom
                );
            }
        }
    }
}

#[test]
fn the_undefined_field_error_is_recognised_in_both_wordings() {
    let ruby: Envelope<serde_json::Value> =
        serde_json::from_str(&undefined_field("AddOnUser", "lastDuoActivityOn")).expect("body");
    assert!(ruby.errors[0].is_undefined_field("AddOnUser", "lastDuoActivityOn"));
    assert!(!ruby.errors[0].is_undefined_field("AddOnUser", "lastLoginAt"));
    // newer graphql-ruby appends a suggestion; older ones send no extensions
    let suggested = GraphQlError {
        message: "Field 'lastDuoActivityOn' doesn't exist on type 'AddOnUser' (Did you mean `lastActivityOn`?)".into(),
        extensions: None,
    };
    assert!(suggested.is_undefined_field("AddOnUser", "lastDuoActivityOn"));
    assert!(!suggested.is_undefined_field("Query", "lastDuoActivityOn"));
}

#[test]
fn user_ids_come_from_global_ids() {
    assert_eq!(user_id_of("gid://gitlab/User/42"), Some(42));
    assert_eq!(user_id_of("gid://gitlab/Group/42"), None);
    assert_eq!(user_id_of("42"), None);
}

#[tokio::test]
async fn purchases_on_gitlab_com_are_a_get_with_the_group_global_id() {
    let body = serde_json::json!({"data": {"addOnPurchases": [
        {"id": "gid://gitlab/GitlabSubscriptions::AddOnPurchase/7", "name": "DUO_ENTERPRISE",
         "purchasedQuantity": 10, "assignedQuantity": 3},
        {"id": "gid://gitlab/GitlabSubscriptions::AddOnPurchase/8", "name": "DUO_CORE",
         "purchasedQuantity": 25, "assignedQuantity": 0}
    ]}})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let purchases = client
        .add_on_purchases(gitlab_com())
        .await
        .expect("purchases")
        .expect("field exists");
    assert_eq!(purchases[0], purchase());
    assert_eq!(purchases[1].name, "DUO_CORE");
    let seen = stub.seen();
    assert_graphql_gets(&seen);
    assert_eq!(
        seen[0].param("query"),
        Some(Document::Purchases(Flavour::GitLabCom).text())
    );
    assert_eq!(
        variables(&seen[0])["namespaceId"],
        format!("gid://gitlab/Group/{GROUP_ID}")
    );
    assert_eq!(client.requests_made(), 1);
    stub.stop().await;
}

#[tokio::test]
async fn purchases_on_self_managed_name_no_namespace() {
    let stub = Stub::start(|_, _| (None, json(200, r#"{"data":{"addOnPurchases":[]}}"#))).await;
    let client = stub.client(fast_opts());
    let purchases = client.add_on_purchases(AddOnScope::SelfManaged).await;
    assert_eq!(purchases, Ok(Some(vec![])));
    let seen = stub.seen();
    assert_eq!(
        seen[0].param("query"),
        Some(Document::Purchases(Flavour::SelfManaged).text())
    );
    assert_eq!(variables(&seen[0]), serde_json::json!({}));
    stub.stop().await;
}

#[tokio::test]
async fn add_on_purchases_missing_means_no_duo_in_this_gitlab() {
    let body = undefined_field("Query", "addOnPurchases");
    let (stub, client) = Stub::answering(body).await;
    assert_eq!(
        client.add_on_purchases(AddOnScope::SelfManaged).await,
        Ok(None)
    );
    stub.stop().await;
}

#[tokio::test]
async fn graphql_errors_with_status_200_are_typed_keep_the_message_and_never_the_token() {
    // a hostile or buggy server echoing the token must not carry it into the error
    let body = serde_json::json!({"errors": [{
        "message": format!("Internal server error near {FAKE_TOKEN}")
    }]})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_purchases(AddOnScope::SelfManaged)
        .await
        .expect_err("errors are an error");
    match &err {
        GitLabError::GraphQl { field, message, .. } => {
            assert_eq!(field, "addOnPurchases");
            assert!(
                message.starts_with("Internal server error near"),
                "{message}"
            );
        }
        other => panic!("expected GraphQl, got {other:?}"),
    }
    assert!(!err.is_permission_refusal());
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(FAKE_TOKEN), "{shown}");
    }
    // one request: a GraphQL error is an answer, not a fault to retry
    assert_eq!(stub.seen().len(), 1);
    stub.stop().await;
}

#[tokio::test]
async fn holders_are_read_across_cursor_pages() {
    let stub = Stub::start(|seen, _| {
        let after = variables(seen)["after"].clone();
        let body = match after.as_str() {
            None => sm_page(vec![node(3, Some("2026-11-30")), node(5, None)], Some("MQ")),
            Some("MQ") => sm_page(vec![node(5, None), node(8, Some("2026-10-01"))], Some("Mg")),
            Some("Mg") => sm_page(vec![node(13, None)], None),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        (None, json(200, body))
    })
    .await;
    let client = stub.client(fast_opts());
    let read = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect("holders");
    assert!(read.duo_activity_exposed);
    let ids: Vec<u64> = read.holders.iter().map(|h| h.user_id).collect();
    // 5 came twice (a page shifted): listed once
    assert_eq!(ids, [3, 5, 8, 13]);
    let seen = stub.seen();
    assert_graphql_gets(&seen);
    // Cursors that are not offsets (a page of 2 ends at "MQ", not at 100's): one after another.
    let asked: Vec<serde_json::Value> =
        seen.iter().map(|s| variables(s)["after"].clone()).collect();
    assert_eq!(asked, [serde_json::Value::Null, "MQ".into(), "Mg".into()]);
    let first = variables(&seen[0]);
    assert_eq!(first["addOnType"], "DUO_ENTERPRISE");
    assert_eq!(
        first["addOnPurchaseIds"],
        serde_json::json!([purchase().id])
    );
    stub.stop().await;
}

/// Quirk: GitLab's holders connection is an offset connection (`offset_pagination`), whose
/// cursors are graphql-ruby's Base64 offsets. Where the first page ends at offset 100's cursor,
/// the pages the purchase counts are asked at once, each at its offset, not after the cursor
/// the page before gave; GitLab saying more follow the last is still followed.
#[tokio::test]
async fn counted_holders_are_asked_at_their_offsets_at_once_quirk() {
    let page = |from: u64, to: u64| (from..=to).map(|id| node(id, None)).collect::<Vec<_>>();
    let stub = Stub::start(move |seen, _| {
        let body = match variables(seen)["after"].as_str() {
            // base64 "100", "200", "300"
            None => sm_page(page(1, 100), Some("MTAw")),
            Some("MTAw") => sm_page(page(101, 200), Some("not-an-offset")),
            Some("MjAw") => sm_page(page(201, 300), Some("MzAw")),
            Some("MzAw") => sm_page(page(301, 305), None),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        (None, json(200, body))
    })
    .await;
    let client = stub.client(fast_opts());
    let counted = AddOnPurchase {
        assigned_quantity: 250,
        ..purchase()
    };
    let read = client
        .add_on_holders(AddOnScope::SelfManaged, &counted)
        .await
        .expect("holders");
    let ids: Vec<u64> = read.holders.iter().map(|h| h.user_id).collect();
    assert_eq!(ids, (1..=305).collect::<Vec<_>>());
    let mut asked: Vec<String> = stub
        .seen()
        .iter()
        .map(|s| variables(s)["after"].to_string())
        .collect();
    asked.sort();
    // 250 counted: three pages at once; then the one GitLab said follows.
    assert_eq!(asked, ["\"MTAw\"", "\"MjAw\"", "\"MzAw\"", "null"]);
    assert_eq!(
        holder_requests(counted.assigned_quantity),
        3,
        "the bound the bench and the sim test use"
    );
    stub.stop().await;
}

#[tokio::test]
async fn null_last_duo_activity_on_is_never_and_a_date_is_that_day() {
    let body = sm_page(vec![node(3, Some("2026-11-30")), node(5, None)], None);
    let (stub, client) = Stub::answering(body).await;
    let read = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect("holders");
    let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
    assert_eq!(read.holders[0].last_duo_activity_on, DuoActivity::On(day));
    assert_eq!(read.holders[1].last_duo_activity_on, DuoActivity::Never);
    assert_eq!(read.holders[1].username, "u5");
    assert_eq!(
        read.holders[1].last_activity_on,
        NaiveDate::from_ymd_opt(2026, 11, 20)
    );
    assert_eq!(
        read.holders[1].last_login_at.map(|t| t.to_rfc3339()),
        Some("2026-11-19T08:30:00+00:00".to_string())
    );
    stub.stop().await;
}

#[tokio::test]
async fn missing_last_duo_activity_on_reasks_without_it_and_reports_it_unknown() {
    let stub = Stub::start(|seen, _| {
        let query = seen.param("query").unwrap_or_default();
        let body = if query.contains("lastDuoActivityOn") {
            undefined_field("AddOnUser", "lastDuoActivityOn")
        } else {
            // an older GitLab sends no such key at all
            let mut old = node(3, None);
            old.as_object_mut()
                .expect("object")
                .remove("lastDuoActivityOn");
            sm_page(vec![old], None)
        };
        (None, json(200, body))
    })
    .await;
    let client = stub.client(fast_opts());
    let read = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect("holders");
    assert!(!read.duo_activity_exposed);
    assert_eq!(read.holders.len(), 1);
    assert_eq!(
        read.holders[0].last_duo_activity_on,
        DuoActivity::NotExposed
    );
    let queries: Vec<String> = stub
        .seen()
        .iter()
        .map(|s| s.param("query").unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        [
            Document::Holders {
                flavour: Flavour::SelfManaged,
                duo_activity: true
            }
            .text(),
            Document::Holders {
                flavour: Flavour::SelfManaged,
                duo_activity: false
            }
            .text()
        ]
    );
    stub.stop().await;
}

#[tokio::test]
async fn a_non_admin_on_self_managed_is_a_permission_refusal() {
    let body = refused(
        serde_json::json!({"selfManagedAddOnEligibleUsers": null}),
        RESOURCE_ACCESS_ERROR,
    );
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, GitLabError::GraphQlForbidden { field, .. } if field == "selfManagedAddOnEligibleUsers"),
        "{err:?}"
    );
    assert!(err.is_permission_refusal());
    assert!(err.to_string().contains("administrator"), "{err}");
    stub.stop().await;
}

#[tokio::test]
async fn a_non_owner_on_gitlab_com_is_a_permission_refusal() {
    let body = refused(
        serde_json::json!({"namespace": {"addOnEligibleUsers": null}}),
        RESOURCE_ACCESS_ERROR,
    );
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_holders(gitlab_com(), &purchase())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, GitLabError::GraphQlForbidden { field, .. } if field == "addOnEligibleUsers"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Owner"), "{err}");
    assert_eq!(variables(&stub.seen()[0])["fullPath"], GROUP_PATH);
    stub.stop().await;
}

#[tokio::test]
async fn a_group_gitlab_does_not_show_is_a_permission_refusal() {
    let stub = Stub::start(|_, _| (None, json(200, r#"{"data":{"namespace":null}}"#))).await;
    let client = stub.client(fast_opts());
    let err = client
        .add_on_holders(gitlab_com(), &purchase())
        .await
        .expect_err("no group");
    assert!(err.is_permission_refusal(), "{err:?}");
    assert!(err.to_string().contains(GROUP_PATH), "{err}");
    stub.stop().await;
}

#[tokio::test]
async fn a_subgroup_is_refused_with_the_top_level_group_hint() {
    let body = refused(
        serde_json::json!({"namespace": {"addOnEligibleUsers": null}}),
        "Add on eligible users can only be queried on a root namespace",
    );
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_holders(gitlab_com(), &purchase())
        .await
        .expect_err("subgroup");
    assert!(matches!(err, GitLabError::GraphQl { .. }), "{err:?}");
    assert!(!err.is_permission_refusal());
    assert!(err.hint().contains("top-level group"), "{err}");
    stub.stop().await;
}

#[tokio::test]
async fn a_null_connection_without_errors_is_an_error_not_an_empty_list() {
    let stub = Stub::start(|_, _| {
        (
            None,
            json(200, r#"{"data":{"selfManagedAddOnEligibleUsers":null}}"#),
        )
    })
    .await;
    let client = stub.client(fast_opts());
    let err = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect_err("null is unknown");
    assert!(
        matches!(&err, GitLabError::GraphQl { message, .. } if message.contains("null")),
        "{err:?}"
    );
    stub.stop().await;
}

#[tokio::test]
async fn null_purchases_without_errors_are_an_error_not_an_empty_list() {
    let stub = Stub::start(|_, _| (None, json(200, r#"{"data":{"addOnPurchases":null}}"#))).await;
    let client = stub.client(fast_opts());
    let err = client
        .add_on_purchases(AddOnScope::SelfManaged)
        .await
        .expect_err("null is unknown");
    assert!(matches!(err, GitLabError::GraphQl { .. }), "{err:?}");
    stub.stop().await;
}

#[tokio::test]
async fn nodes_hidden_as_null_are_skipped() {
    let body = serde_json::json!({"data": {"selfManagedAddOnEligibleUsers": {
        "pageInfo": {"hasNextPage": false, "endCursor": null},
        "nodes": [node(3, None), null]
    }}})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let read = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect("holders");
    assert_eq!(read.holders.len(), 1);
    stub.stop().await;
}

#[tokio::test]
async fn a_cursor_that_loops_back_ends_the_listing_with_an_error() {
    let stub = Stub::start(|seen, _| match variables(seen)["after"].as_str() {
        Some(_) => (None, json(200, sm_page(vec![node(99, None)], Some("MQ")))),
        None => (None, json(200, sm_page(vec![node(3, None)], Some("MQ")))),
    })
    .await;
    let client = stub.client(fast_opts());
    let err = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect_err("loop");
    assert!(matches!(err, GitLabError::BadBody { .. }), "{err:?}");
    // first page, then the page at MQ, which points at MQ again
    assert_eq!(stub.seen().len(), 2);
    stub.stop().await;
}

#[tokio::test]
async fn more_pages_without_a_cursor_is_an_error() {
    let body = serde_json::json!({"data": {"selfManagedAddOnEligibleUsers": {
        "pageInfo": {"hasNextPage": true, "endCursor": null},
        "nodes": [node(3, None)]
    }}})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect_err("no cursor");
    assert!(matches!(err, GitLabError::BadBody { .. }), "{err:?}");
    stub.stop().await;
}

#[tokio::test]
async fn graphql_reads_are_retried_like_every_get() {
    let stub = Stub::start(|_, n| match n {
        0 => (None, json(502, "bad gateway")),
        _ => (None, json(200, r#"{"data":{"addOnPurchases":[]}}"#)),
    })
    .await;
    let client = stub.client(fast_opts());
    let purchases = client.add_on_purchases(AddOnScope::SelfManaged).await;
    assert_eq!(purchases, Ok(Some(vec![])));
    assert_eq!(client.requests_made(), 2);
    stub.stop().await;
}

#[tokio::test]
async fn the_graphql_controllers_own_refusals_keep_their_message() {
    // graphql_controller.rb `authorize_access_api!` / `render_error`
    let stub = Stub::start(|_, n| match n {
        0 => (
            None,
            json(401, r#"{"errors":[{"message":"Invalid token"}]}"#),
        ),
        _ => (
            None,
            json(
                403,
                r#"{"errors":[{"message":"API not accessible for user"}]}"#,
            ),
        ),
    })
    .await;
    let client = stub.client(fast_opts());
    let unknown = client.add_on_purchases(AddOnScope::SelfManaged).await;
    assert!(
        matches!(unknown, Err(GitLabError::Unauthorized { .. })),
        "{unknown:?}"
    );
    let blocked = client
        .add_on_purchases(AddOnScope::SelfManaged)
        .await
        .expect_err("403");
    assert!(
        matches!(&blocked, GitLabError::Forbidden { message, .. } if message == "API not accessible for user"),
        "{blocked:?}"
    );
    stub.stop().await;
}

#[tokio::test]
async fn a_relative_root_keeps_its_path() {
    let stub = Stub::start(|_, _| (None, json(200, r#"{"data":{"addOnPurchases":[]}}"#))).await;
    let base = BaseUrl::parse(&format!("http://{}/gitlab", stub.addr), false).expect("url");
    let client = Client::new(base, Token::new(FAKE_TOKEN), fast_opts()).expect("client");
    client
        .add_on_purchases(AddOnScope::SelfManaged)
        .await
        .expect("purchases");
    assert_eq!(stub.seen()[0].path, "/gitlab/api/graphql");
    stub.stop().await;
}

#[tokio::test]
async fn a_gitlab_whose_holders_field_lacks_an_argument_is_named_too_old() {
    // GitLab 16.x had addOnEligibleUsers without addOnPurchaseIds/filterByAssignedSeat
    let body = serde_json::json!({"errors": [{
        "message": "Field 'selfManagedAddOnEligibleUsers' doesn't accept argument 'filterByAssignedSeat'",
        "locations": [{"line": 1, "column": 120}],
        "path": ["query seatwatchAddOnHolders", "selfManagedAddOnEligibleUsers", "filterByAssignedSeat"],
        "extensions": {"code": "argumentNotAccepted", "name": "selfManagedAddOnEligibleUsers",
                       "typeName": "Field", "argumentName": "filterByAssignedSeat"}
    }]})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_holders(AddOnScope::SelfManaged, &purchase())
        .await
        .expect_err("too old");
    assert!(
        matches!(&err, GitLabError::GraphQl { message, .. } if message.contains("filterByAssignedSeat")),
        "{err:?}"
    );
    assert!(err.hint().contains("older"), "{err}");
    // not mistaken for the missing Duo activity field: asked once
    assert_eq!(stub.seen().len(), 1);
    stub.stop().await;
}

#[tokio::test]
async fn add_on_access_reads_one_page_of_no_purchase_in_particular() {
    let stub =
        Stub::start(|_, _| (None, json(200, sm_page(vec![node(1, None)], Some("MQ"))))).await;
    let client = stub.client(fast_opts());
    let access = client.add_on_access(AddOnScope::SelfManaged).await;
    assert_eq!(
        access,
        Ok(AddOnAccess {
            duo_activity_exposed: true
        })
    );
    let seen = stub.seen();
    assert_graphql_gets(&seen);
    // one page only, whatever follows it
    assert_eq!(seen.len(), 1);
    assert_eq!(
        variables(&seen[0])["addOnPurchaseIds"],
        serde_json::json!([])
    );
    stub.stop().await;
}

#[tokio::test]
async fn add_on_access_on_a_gitlab_without_duo_activity_asks_again_without_it() {
    let stub = Stub::start(|seen, _| {
        let query = seen.param("query").unwrap_or_default();
        let body = if query.contains("lastDuoActivityOn") {
            undefined_field("AddOnUser", "lastDuoActivityOn")
        } else {
            com_page(vec![], None)
        };
        (None, json(200, body))
    })
    .await;
    let client = stub.client(fast_opts());
    let access = client.add_on_access(gitlab_com()).await;
    assert_eq!(
        access,
        Ok(AddOnAccess {
            duo_activity_exposed: false
        })
    );
    assert_eq!(stub.seen().len(), 2);
    stub.stop().await;
}

#[tokio::test]
async fn add_on_access_without_the_role_is_a_permission_refusal() {
    let body = refused(
        serde_json::json!({"selfManagedAddOnEligibleUsers": null}),
        RESOURCE_ACCESS_ERROR,
    );
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_access(AddOnScope::SelfManaged)
        .await
        .expect_err("refused");
    assert!(err.is_permission_refusal(), "{err:?}");
    stub.stop().await;
}

#[tokio::test]
async fn gitlab_com_holders_are_read_under_the_namespace_across_pages() {
    let stub = Stub::start(|seen, _| {
        let body = match variables(seen)["after"].as_str() {
            Some(_) => com_page(vec![node(9, Some("2026-11-02"))], None),
            None => com_page(vec![node(2, None)], Some("MQ")),
        };
        (None, json(200, body))
    })
    .await;
    let client = stub.client(fast_opts());
    let read = client
        .add_on_holders(gitlab_com(), &purchase())
        .await
        .expect("holders");
    let ids: Vec<u64> = read.holders.iter().map(|h| h.user_id).collect();
    assert_eq!(ids, [2, 9]);
    let seen = stub.seen();
    assert_graphql_gets(&seen);
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| variables(s)["fullPath"] == GROUP_PATH));
    assert!(seen.iter().any(|s| variables(s)["after"] == "MQ"));
    stub.stop().await;
}

#[tokio::test]
async fn purchases_nulled_by_type_authorisation_are_a_permission_refusal() {
    let body = serde_json::json!({"data": {"addOnPurchases": null}, "errors": [{
        "message": "Cannot return null for non-nullable element of type 'AddOnPurchase!' for Query.addOnPurchases",
        "locations": [{"line": 1, "column": 32}],
        "path": ["addOnPurchases", 0]
    }]})
    .to_string();
    let (stub, client) = Stub::answering(body).await;
    let err = client
        .add_on_purchases(AddOnScope::SelfManaged)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, GitLabError::GraphQlForbidden { field, .. } if field == "addOnPurchases"),
        "{err:?}"
    );
    stub.stop().await;
}
