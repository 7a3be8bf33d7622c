//! The simulated GitLab's GraphQL endpoint seen from a plain HTTP client (reqwest, no seatwatch
//! code): the Duo queries answered over GET as the ground truth says, on both flavours and over
//! several pages; mutations refused over GET; what GitLab's schema rejects rejected here with a
//! 200 and `errors`; the version without `lastDuoActivityOn`; and who may read what.

use chrono::{Days, NaiveDate};
use seatwatch_sim::{DuoExpected, Flavour, SimConfig, SimHandle, tokens};
use seatwatch_testkit::gitlab::{RawAnswer, get_url};
use serde_json::{Value, json};

/// `Gitlab::Graphql::Authorize::AuthorizeResource::RESOURCE_ACCESS_ERROR`.
const RESOURCE_NOT_AVAILABLE: &str = "The resource that you are attempting to access does not exist or you don't have permission to perform this action";

/// Small enough to start fast, large enough for several pages of holders at `first: 7`.
const USERS: u32 = 300;
const PAGE: u32 = 7;

const PURCHASES: &str = "query($ns: NamespaceID) { addOnPurchases(namespaceId: $ns) { id name purchasedQuantity assignedQuantity } }";

async fn start(flavour: Flavour) -> SimHandle {
    start_with(SimConfig::new(flavour, USERS)).await
}

async fn start_with(cfg: SimConfig) -> SimHandle {
    SimHandle::start(cfg).await.expect("simulator starts")
}

/// `GET /api/graphql?query=…&variables=…` with `token` (if any) in `PRIVATE-TOKEN`.
async fn graphql_get(
    sim: &SimHandle,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> RawAnswer {
    let mut url = url::Url::parse(&format!("{}/api/graphql", sim.base_url())).expect("url");
    url.query_pairs_mut()
        .append_pair("query", query)
        .append_pair("variables", &variables.to_string());
    get_url(url.as_str(), token).await
}

/// A GET query as the group Owner (instance admin on self-managed), answered 200.
async fn query_ok(sim: &SimHandle, query: &str, variables: Value) -> Value {
    let answer = graphql_get(sim, Some(tokens::ADMIN), query, variables).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// The `namespaceId` GitLab.com needs; none on self-managed (instance purchases).
async fn purchases_variables(sim: &SimHandle, flavour: Flavour) -> Value {
    match flavour {
        Flavour::GitLabCom => {
            let group = seatwatch_testkit::gitlab::get(sim, "/groups/acme", tokens::ADMIN).await;
            json!({ "ns": format!("gid://gitlab/Group/{}", group.json()["id"]) })
        }
        Flavour::SelfManaged => json!({}),
    }
}

fn messages(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The holders query of each flavour, with a page size and a cursor.
fn holders_query(flavour: Flavour, fields: &str) -> String {
    let args = format!(
        "addOnType: $type, addOnPurchaseIds: $ids, filterByAssignedSeat: \"true\", first: {PAGE}, after: $after"
    );
    let selection = format!("{{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }}");
    let vars = "$type: GitlabSubscriptionsAddOnType!, $ids: [GitlabSubscriptionsAddOnPurchaseID!]!, $after: String";
    match flavour {
        Flavour::GitLabCom => format!(
            "query({vars}) {{ namespace(fullPath: \"acme\") {{ addOnEligibleUsers({args}) {selection} }} }}"
        ),
        Flavour::SelfManaged => {
            format!("query({vars}) {{ selfManagedAddOnEligibleUsers({args}) {selection} }}")
        }
    }
}

fn connection(flavour: Flavour, data: &Value) -> &Value {
    match flavour {
        Flavour::GitLabCom => &data["namespace"]["addOnEligibleUsers"],
        Flavour::SelfManaged => &data["selfManagedAddOnEligibleUsers"],
    }
}

/// Every holder of one purchase, following `endCursor` until `hasNextPage` is false; also
/// returns how many pages that took.
async fn all_holders(
    sim: &SimHandle,
    flavour: Flavour,
    add_on: &str,
    purchase_id: &str,
    fields: &str,
) -> (Vec<Value>, usize) {
    let query = holders_query(flavour, fields);
    let mut after = Value::Null;
    let mut nodes = Vec::new();
    let mut pages = 0;
    loop {
        let body = query_ok(
            sim,
            &query,
            json!({ "type": add_on, "ids": [purchase_id], "after": after }),
        )
        .await;
        assert!(messages(&body).is_empty(), "{body}");
        let page = connection(flavour, &body["data"]);
        let page_nodes = page["nodes"].as_array().expect("nodes");
        assert!(page_nodes.len() <= PAGE as usize);
        nodes.extend(page_nodes.iter().cloned());
        pages += 1;
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return (nodes, pages);
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "a next page has a cursor: {page}");
    }
}

#[tokio::test]
async fn get_query_answers_the_add_on_purchases_of_the_ground_truth() {
    for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
        let sim = start(flavour).await;
        let body = query_ok(&sim, PURCHASES, purchases_variables(&sim, flavour).await).await;
        let expected = sim.duo_expected();
        let got: Vec<(String, String, u64, u64)> = body["data"]["addOnPurchases"]
            .as_array()
            .unwrap_or_else(|| panic!("a list: {body}"))
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().expect("id").to_string(),
                    p["name"].as_str().expect("name").to_string(),
                    p["purchasedQuantity"].as_u64().expect("purchased"),
                    p["assignedQuantity"].as_u64().expect("assigned"),
                )
            })
            .collect();
        let want: Vec<(String, String, u64, u64)> = expected
            .add_ons
            .iter()
            .map(|a| {
                (
                    a.purchase_id.clone(),
                    a.name.to_string(),
                    a.purchased,
                    a.assigned,
                )
            })
            .collect();
        assert_eq!(got, want, "{flavour:?}");
        // The other scope has no purchases: instance ones on GitLab.com, a group's on
        // self-managed (add_on_purchases_resolver.rb `by_namespace`).
        let other = match flavour {
            Flavour::GitLabCom => json!({}),
            Flavour::SelfManaged => json!({ "ns": "gid://gitlab/Group/1" }),
        };
        let body = query_ok(&sim, PURCHASES, other).await;
        assert_eq!(body["data"]["addOnPurchases"], json!([]), "{flavour:?}");
        sim.shutdown().await;
    }
}

/// The holder fields seatwatch reads, compared with the ground truth for every per-user add-on.
#[tokio::test]
async fn holders_over_every_page_match_the_ground_truth_on_both_flavours() {
    for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
        let sim = start(flavour).await;
        let expected = sim.duo_expected();
        let per_user: Vec<_> = expected
            .add_ons
            .iter()
            .filter(|a| !a.holders.is_empty())
            .collect();
        assert!(!per_user.is_empty(), "{flavour:?} has seats to read");
        for add_on in per_user {
            let (nodes, pages) = all_holders(
                &sim,
                flavour,
                add_on.name,
                &add_on.purchase_id,
                "id username lastActivityOn lastDuoActivityOn",
            )
            .await;
            assert!(
                pages > 1,
                "{} holders fill several pages",
                add_on.holders.len()
            );
            let got: Vec<(String, Value, Value)> = nodes
                .iter()
                .map(|n| {
                    (
                        n["username"].as_str().expect("username").to_string(),
                        n["lastDuoActivityOn"].clone(),
                        n["lastActivityOn"].clone(),
                    )
                })
                .collect();
            let date = |d: Option<NaiveDate>| d.map_or(Value::Null, |d| Value::from(d.to_string()));
            let want: Vec<(String, Value, Value)> = add_on
                .holders
                .iter()
                .map(|h| {
                    (
                        h.username.clone(),
                        date(h.last_duo_activity_on),
                        date(h.last_activity_on),
                    )
                })
                .collect();
            assert_eq!(got, want, "{flavour:?} {}", add_on.name);
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn add_on_assignments_name_the_purchase_each_holder_holds() {
    let sim = start(Flavour::GitLabCom).await;
    let expected = sim.duo_expected();
    let add_on = &expected.add_ons[0];
    let fields = format!(
        "username state addOnAssignments(addOnPurchaseIds: [\"{}\"]) {{ nodes {{ addOnPurchase {{ id name }} }} }}",
        add_on.purchase_id
    );
    let (nodes, _) = all_holders(
        &sim,
        Flavour::GitLabCom,
        add_on.name,
        &add_on.purchase_id,
        &fields,
    )
    .await;
    assert_eq!(nodes.len(), add_on.holders.len());
    for node in nodes {
        // GitLab's daily cleanup unassigns blocked, banned and deactivated users
        assert_eq!(node["state"], json!("active"), "{node}");
        assert_eq!(
            node["addOnAssignments"]["nodes"],
            json!([{ "addOnPurchase": { "id": add_on.purchase_id, "name": add_on.name } }]),
            "{node}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn pagination_cursors_resume_after_the_last_node_and_cap_pages_at_100() {
    let sim = start(Flavour::SelfManaged).await;
    let expected = sim.duo_expected();
    let add_on = &expected.add_ons[0];
    let query = "query($ids: [GitlabSubscriptionsAddOnPurchaseID!]!, $after: String, $first: Int) { selfManagedAddOnEligibleUsers(addOnType: DUO_ENTERPRISE, addOnPurchaseIds: $ids, first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let page = |first: u32, after: Value| {
        let sim = &sim;
        let ids = json!([add_on.purchase_id]);
        async move {
            let body = query_ok(
                sim,
                query,
                json!({ "ids": ids, "first": first, "after": after }),
            )
            .await;
            body["data"]["selfManagedAddOnEligibleUsers"].clone()
        }
    };
    // Without the seat filter every eligible user is listed: more than a page of 100.
    let capped = page(500, Value::Null).await;
    assert_eq!(capped["nodes"].as_array().expect("nodes").len(), 100);
    assert_eq!(capped["pageInfo"]["hasNextPage"], json!(true));
    let first_ten = page(10, Value::Null).await;
    let next_five = page(5, first_ten["pageInfo"]["endCursor"].clone()).await;
    let fifteen = page(15, Value::Null).await;
    let ids = |v: &Value| -> Vec<Value> { v["nodes"].as_array().expect("nodes").clone() };
    assert_eq!([ids(&first_ten), ids(&next_five)].concat(), ids(&fifteen));
    let bad = graphql_get(
        &sim,
        Some(tokens::ADMIN),
        query,
        json!({ "ids": [add_on.purchase_id], "first": 5, "after": "not a cursor" }),
    )
    .await;
    assert_eq!(bad.status, 200);
    assert!(!messages(&bad.json()).is_empty(), "{}", bad.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn mutation_over_get_is_refused_as_graphql_controller_does() {
    let sim = start(Flavour::GitLabCom).await;
    let before = sim.duo_expected();
    let purchase = &before.add_ons[0].purchase_id;
    let mutation = format!(
        "mutation {{ userAddOnAssignmentCreate(input: {{ addOnPurchaseId: \"{purchase}\", userId: \"gid://gitlab/User/42\" }}) {{ errors }} }}"
    );
    let answer = graphql_get(&sim, Some(tokens::ADMIN), &mutation, json!({})).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(
        messages(&answer.json()),
        ["Mutations are forbidden in GET requests"]
    );
    // The mutation is a real one of the schema: sent by POST it runs (and changes nothing here).
    let posted = reqwest::Client::new()
        .post(format!("{}/api/graphql", sim.base_url()))
        .header("PRIVATE-TOKEN", tokens::ADMIN)
        .header("content-type", "application/json")
        .body(json!({ "query": mutation }).to_string())
        .send()
        .await
        .expect("POST answered");
    assert_eq!(posted.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&posted.text().await.expect("body")).expect("JSON");
    assert!(
        body["data"]["userAddOnAssignmentCreate"]["errors"].is_array(),
        "{body}"
    );
    assert_eq!(sim.duo_expected(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn queries_gitlab_would_reject_are_rejected_with_200_and_errors() {
    let sim = start(Flavour::SelfManaged).await;
    let cases = [
        (
            "{ addOnPurchases { id seatCount } }",
            "Field 'seatCount' doesn't exist on type 'AddOnPurchase'",
        ),
        (
            "{ selfManagedAddOnEligibleUsers(addOnType: DUO_ENTERPRISE) { nodes { id } } }",
            "Field 'selfManagedAddOnEligibleUsers' is missing required arguments: addOnPurchaseIds",
        ),
        (
            "{ selfManagedAddOnEligibleUsers(addOnType: DUO_ENTERPRISE, addOnPurchaseIds: [], filterByAssignedSeat: true) { nodes { id } } }",
            "Argument 'filterByAssignedSeat' has an invalid value. Expected type 'String'.",
        ),
        (
            "{ selfManagedAddOnEligibleUsers(addOnType: DUO_PRO, addOnPurchaseIds: []) { nodes { id } } }",
            "Argument 'addOnType' has an invalid value. Expected type 'GitlabSubscriptionsAddOnType'.",
        ),
        (
            "{ addOnPurchases(namespaceId: \"acme\") { id } }",
            "Argument 'namespaceId' has an invalid value. Expected type 'NamespaceID'.",
        ),
        (
            "{ addOnPurchases(groupId: \"gid://gitlab/Group/1\") { id } }",
            "Field 'addOnPurchases' doesn't accept argument 'groupId'",
        ),
    ];
    for (query, message) in cases {
        let answer = graphql_get(&sim, Some(tokens::ADMIN), query, json!({})).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.body);
        let body = answer.json();
        assert_eq!(messages(&body), [message], "{query}");
        assert!(
            body.get("data").is_none(),
            "a query that never ran has no data: {body}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn query_too_large_is_refused_by_the_controller() {
    let sim = start(Flavour::SelfManaged).await;
    let query = format!("{{ addOnPurchases {{ id }} }} #{}", "x".repeat(10_000));
    let answer = graphql_get(&sim, Some(tokens::ADMIN), &query, json!({})).await;
    assert_eq!(answer.status, 422);
    assert_eq!(messages(&answer.json()), ["Query too large"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn older_version_lacks_last_duo_activity_on_in_the_schema() {
    for flavour in [Flavour::GitLabCom, Flavour::SelfManaged] {
        let sim = start_with(SimConfig {
            duo_activity_field: false,
            ..SimConfig::new(flavour, USERS)
        })
        .await;
        let metadata = seatwatch_testkit::gitlab::get(&sim, "/metadata", tokens::ADMIN).await;
        let version = metadata.json()["version"]
            .as_str()
            .expect("version")
            .to_string();
        assert!(version.starts_with("17."), "{version}");
        let expected = sim.duo_expected();
        assert!(!expected.activity_exposed);
        assert!(
            expected.add_ons.iter().all(|a| a.name != "DUO_CORE"),
            "Duo Core came with 18.0"
        );
        let add_on = &expected.add_ons[0];
        let query = holders_query(flavour, "username lastDuoActivityOn");
        let answer = graphql_get(
            &sim,
            Some(tokens::ADMIN),
            &query,
            json!({ "type": add_on.name, "ids": [add_on.purchase_id], "after": null }),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            messages(&answer.json()),
            ["Field 'lastDuoActivityOn' doesn't exist on type 'AddOnUser'"]
        );
        // The same query without the field reads every holder.
        let (nodes, _) = all_holders(
            &sim,
            flavour,
            add_on.name,
            &add_on.purchase_id,
            "username lastLoginAt",
        )
        .await;
        assert_eq!(nodes.len(), add_on.holders.len());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn tokens_the_controller_refuses_get_its_own_json() {
    let sim = start(Flavour::GitLabCom).await;
    for token in [
        tokens::EXPIRED,
        tokens::REVOKED,
        tokens::READ_USER_ONLY,
        "glpat-fake-unknown-0000",
    ] {
        let answer = graphql_get(&sim, Some(token), PURCHASES, json!({})).await;
        assert_eq!(answer.status, 401, "{token}");
        assert_eq!(messages(&answer.json()), ["Invalid token"]);
    }
    let answer = graphql_get(&sim, Some(tokens::DEACTIVATED_OWNER), PURCHASES, json!({})).await;
    assert_eq!(answer.status, 403);
    assert_eq!(messages(&answer.json()), ["API not accessible for user"]);
    // read_api is enough, as on REST
    let vars = purchases_variables(&sim, Flavour::GitLabCom).await;
    let answer = graphql_get(&sim, Some(tokens::READ_API_ONLY), PURCHASES, vars).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json()["data"]["addOnPurchases"]
            .as_array()
            .map(Vec::len),
        Some(sim.duo_expected().add_ons.len())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn gitlab_com_seats_are_for_the_group_owner_only() {
    let sim = start(Flavour::GitLabCom).await;
    let expected: DuoExpected = sim.duo_expected();
    let add_on = &expected.add_ons[0];
    let vars = json!({ "type": add_on.name, "ids": [add_on.purchase_id], "after": null });
    let query = holders_query(Flavour::GitLabCom, "username");
    // a member who is not an Owner: the resolver's resource error, the field null
    let body = graphql_get(&sim, Some(tokens::NON_ADMIN), &query, vars.clone())
        .await
        .json();
    assert_eq!(messages(&body), [RESOURCE_NOT_AVAILABLE]);
    assert_eq!(body["data"]["namespace"]["addOnEligibleUsers"], Value::Null);
    let purchases = graphql_get(
        &sim,
        Some(tokens::NON_ADMIN),
        PURCHASES,
        purchases_variables(&sim, Flavour::GitLabCom).await,
    )
    .await
    .json();
    // add_on_purchases_spec.rb: purchases the caller may not read are left out, not refused
    assert_eq!(
        purchases["data"]["addOnPurchases"],
        json!([]),
        "{purchases}"
    );
    assert!(messages(&purchases).is_empty(), "{purchases}");
    // anonymous: the private group is not found
    let body = graphql_get(&sim, None, &query, vars.clone()).await.json();
    assert_eq!(body["data"]["namespace"], Value::Null, "{body}");
    // the self-managed query is refused on GitLab.com, even to the Owner
    let body = query_ok(&sim, &holders_query(Flavour::SelfManaged, "username"), vars).await;
    assert_eq!(messages(&body), [RESOURCE_NOT_AVAILABLE]);
    sim.shutdown().await;
}

#[tokio::test]
async fn self_managed_seats_are_for_administrators_only() {
    let sim = start(Flavour::SelfManaged).await;
    let expected = sim.duo_expected();
    let add_on = &expected.add_ons[0];
    let vars = json!({ "type": add_on.name, "ids": [add_on.purchase_id], "after": null });
    let body = graphql_get(
        &sim,
        Some(tokens::NON_ADMIN),
        &holders_query(Flavour::SelfManaged, "username"),
        vars,
    )
    .await
    .json();
    assert_eq!(messages(&body), [RESOURCE_NOT_AVAILABLE]);
    assert_eq!(body["data"]["selfManagedAddOnEligibleUsers"], Value::Null);
    let purchases = graphql_get(&sim, Some(tokens::NON_ADMIN), PURCHASES, json!({}))
        .await
        .json();
    assert_eq!(
        purchases["data"]["addOnPurchases"],
        json!([]),
        "{purchases}"
    );
    sim.shutdown().await;
}

/// A backfill over past days sees the assignments of each day: people arrive and leave.
#[tokio::test]
async fn assignments_follow_the_simulated_clock() {
    let sim = start(Flavour::GitLabCom).await;
    let today = SimConfig::new(Flavour::GitLabCom, USERS).as_of;
    let usernames = |e: &DuoExpected| -> Vec<Vec<String>> {
        e.add_ons
            .iter()
            .map(|a| a.holders.iter().map(|h| h.username.clone()).collect())
            .collect()
    };
    let now = sim.duo_expected();
    sim.set_as_of(today.checked_sub_days(Days::new(30)).expect("date"));
    let earlier = sim.duo_expected();
    assert_ne!(
        usernames(&now),
        usernames(&earlier),
        "assignments changed over 30 days"
    );
    let add_on = &earlier.add_ons[0];
    let (nodes, _) = all_holders(
        &sim,
        Flavour::GitLabCom,
        add_on.name,
        &add_on.purchase_id,
        "username",
    )
    .await;
    let got: Vec<String> = nodes
        .iter()
        .map(|n| n["username"].as_str().expect("username").to_string())
        .collect();
    assert_eq!(got, usernames(&earlier)[0]);
    sim.shutdown().await;
}

/// `lastLoginAt` is `current_sign_in_at` (`add_on_user_type.rb`), rendered by `Types::TimeType`
/// in whole seconds: the same instant the REST admin view gives.
#[tokio::test]
async fn last_login_at_is_the_rest_current_sign_in_at() {
    let sim = start(Flavour::SelfManaged).await;
    let expected = sim.duo_expected();
    let add_on = &expected.add_ons[0];
    let (nodes, _) = all_holders(
        &sim,
        Flavour::SelfManaged,
        add_on.name,
        &add_on.purchase_id,
        "id lastLoginAt",
    )
    .await;
    let mut compared = 0;
    for node in &nodes {
        let id = node["id"]
            .as_str()
            .expect("id")
            .rsplit('/')
            .next()
            .expect("model id")
            .to_string();
        let rest = seatwatch_testkit::gitlab::get(&sim, &format!("/users/{id}"), tokens::ADMIN)
            .await
            .json();
        let instant = |v: &Value| {
            v.as_str().map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .expect("ISO 8601")
                    .timestamp()
            })
        };
        assert_eq!(
            instant(&node["lastLoginAt"]),
            instant(&rest["current_sign_in_at"]),
            "{node}"
        );
        if let Some(text) = node["lastLoginAt"].as_str() {
            assert!(!text.contains('.'), "whole seconds: {text}");
            compared += 1;
        }
    }
    assert!(compared > 0);
    sim.shutdown().await;
}

/// The switchable faults reach GraphQL as every API endpoint, so the client's retries can be
/// tested on it.
#[tokio::test]
async fn faults_apply_to_the_graphql_endpoint() {
    let sim = start(Flavour::SelfManaged).await;
    sim.set_faults(seatwatch_sim::Faults {
        status_burst: Some((503, 1)),
        ..seatwatch_sim::Faults::default()
    });
    let served = sim.requests_served();
    let first = graphql_get(&sim, Some(tokens::ADMIN), PURCHASES, json!({})).await;
    assert_eq!(first.status, 503);
    let second = graphql_get(&sim, Some(tokens::ADMIN), PURCHASES, json!({})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(sim.requests_served(), served + 2);
    sim.shutdown().await;
}
