//! GitLab's GraphQL endpoint (`/api/graphql`) for the Duo add-on queries, served by a real GraphQL
//! server library (async-graphql) so that a query GitLab would reject is rejected here too.
//!
//! The schema follows GitLab's own, file by file:
//! - `ee/app/graphql/ee/types/query_type.rb`: `addOnPurchases(namespaceId)`,
//!   `selfManagedAddOnEligibleUsers(...)`; `app/graphql/types/query_type.rb`: `namespace(fullPath)`;
//! - `ee/app/graphql/ee/types/namespace_type.rb`: `Namespace.addOnEligibleUsers(...)`;
//! - `ee/app/graphql/types/gitlab_subscriptions/add_on_user_type.rb` (`AddOnUser`, a `UserType`),
//!   `add_on_purchase_type.rb`, `user_add_on_assignment_type.rb`, `add_on_type_enum.rb`,
//!   `user_sort_enum.rb`;
//! - the resolvers `ee/app/graphql/resolvers/gitlab_subscriptions/add_on_purchases_resolver.rb`,
//!   `add_on_eligible_users_resolver.rb`, `self_managed/add_on_eligible_users_resolver.rb` (the
//!   arguments and their types: `filterByAssignedSeat` is a String, `addOnPurchaseIds` global ids)
//!   and `user_add_on_assignments_resolver.rb`;
//! - `ee/app/graphql/mutations/gitlab_subscriptions/user_add_on_assignments/create.rb`: one real Duo
//!   mutation, so that refusing mutations over GET is tested against a mutation that exists.
//!
//! The controller (`app/controllers/graphql_controller.rb`) answers before the schema runs: a bad
//! token is a 401 `Invalid token`, an owner who may not use the API a 403, a query over 10,000
//! characters and a mutation sent by GET are 422s; everything the schema rejects is a 200 with
//! `errors`, in graphql-ruby's words. `lastDuoActivityOn` and `DUO_CORE` exist from GitLab 18.0
//! only: on an older simulated version the field is not in the schema at all.
//!
//! Connections paginate as GitLab's offset connections do (graphql-ruby's cursor is the
//! position, Base64 without padding), at most 100 nodes per page.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, TypeRef,
};
use async_graphql::{Error, Value as GqlValue};
use serde_json::{Value, json};

use crate::Flavour;
use crate::duo::{AddOn, Duo, PURCHASE_GID_PREFIX, Purchase};
use crate::entities::{GROUP_ID, Render};
use crate::population::{Day, Population, date_of, flags};

/// Where GitLab serves GraphQL.
pub(crate) const PATH: &str = "/api/graphql";

/// `GraphqlController::MAX_QUERY_SIZE`.
const MAX_QUERY_SIZE: usize = 10_000;
/// `GitlabSchema` `default_max_page_size`.
const MAX_PAGE_SIZE: usize = 100;
/// `Gitlab::Graphql::Authorize::AuthorizeResource::RESOURCE_ACCESS_ERROR`.
pub(crate) const RESOURCE_NOT_AVAILABLE: &str = "The resource that you are attempting to access does not exist or you don't have permission to perform this action";
const USER_GID_PREFIX: &str = "gid://gitlab/User/";

/// Who is asking, once the controller let the request through.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller {
    /// No token: GitLab runs the query for an anonymous user (public data only).
    Anonymous,
    User {
        /// Self-managed administrator (`can_admin_all_resources?`).
        instance_admin: bool,
        /// Owner of the simulated top-level group (`owner_access`).
        group_owner: bool,
    },
}

impl Caller {
    /// `owner_access` on the group: its Owner, or an administrator.
    fn owns_group(self) -> bool {
        match self {
            Caller::User {
                instance_admin,
                group_owner,
            } => instance_admin || group_owner,
            Caller::Anonymous => false,
        }
    }

    fn instance_admin(self) -> bool {
        matches!(self, Caller::User { instance_admin, .. } if instance_admin)
    }
}

/// One GraphQL request as the controller reads it (`query`, `variables`, `operationName`).
#[derive(Debug, Default)]
pub(crate) struct Call {
    pub query: String,
    /// A JSON object, or a JSON string holding one (as GET sends it).
    pub variables: Option<Value>,
    pub operation_name: Option<String>,
}

/// What one request's resolvers read: the simulator's state at the request's clock.
pub(crate) struct Scope {
    pub pop: Arc<Population>,
    pub duo: Arc<Duo>,
    pub flavour: Flavour,
    pub group_path: String,
    pub origin: String,
    pub as_of: Day,
    pub now: u32,
    pub utc_offset_seconds: i32,
    pub licensed: bool,
    pub caller: Caller,
}

impl Scope {
    fn render(&self) -> Render<'_> {
        Render {
            pop: &self.pop,
            flavour: self.flavour,
            group_path: &self.group_path,
            origin: &self.origin,
            as_of: self.as_of,
            now: self.now,
            utc_offset_seconds: self.utc_offset_seconds,
            licensed: self.licensed,
        }
    }
}

/// Answers one call: (HTTP status, JSON body).
pub(crate) async fn serve(
    schema: &Schema,
    call: Call,
    read_only_method: Option<&str>,
    scope: Scope,
) -> (u16, Value) {
    let controller_error = |message: &str| (422, json!({ "errors": [{ "message": message }] }));
    // graphql_controller.rb: limit_query_size, then disallow_mutations_for_get
    if call.query.chars().count() > MAX_QUERY_SIZE {
        return controller_error("Query too large");
    }
    if let Some(method) = read_only_method
        && is_mutation(&call.query, call.operation_name.as_deref())
    {
        return controller_error(&format!("Mutations are forbidden in {method} requests"));
    }
    let variables = match call.variables {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(text)) if text.trim().is_empty() => json!({}),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(parsed @ Value::Object(_)) => parsed,
            // Gitlab::Graphql::Variables::Invalid
            _ => return controller_error(&format!("Unexpected end of input: {text}")),
        },
        Some(object @ Value::Object(_)) => object,
        Some(other) => return controller_error(&format!("Unexpected parameter: {other}")),
    };
    let mut request = async_graphql::Request::new(call.query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(scope);
    if let Some(name) = call.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    let response = schema.execute(request).await;
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if let Some(map) = body.as_object_mut() {
        // graphql-ruby leaves `data` out when the query never ran (parse or validation errors).
        if map.get("data").is_some_and(Value::is_null) {
            map.remove("data");
        }
        if let Some(Value::Array(errors)) = map.get_mut("errors") {
            for error in errors {
                if let Some(message) = error.get_mut("message")
                    && let Some(text) = message.as_str()
                {
                    *message = Value::from(graphql_ruby_message(text));
                }
            }
        }
    }
    (200, body)
}

/// `GraphQL::Query#mutation?` for the operation that would run; a query that does not parse is
/// not a mutation (the schema then answers its parse error).
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match (
        &document.operations,
        operation_name.filter(|n| !n.is_empty()),
    ) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
}

/// The validation messages GitLab (graphql-ruby's static validation) gives for the mistakes a
/// client makes, in place of async-graphql's wording of the same rule.
fn graphql_ruby_message(message: &str) -> String {
    let quoted: Vec<&str> = message.split('"').skip(1).step_by(2).collect();
    if message.starts_with("Unknown field ") && quoted.len() >= 2 {
        format!(
            "Field '{}' doesn't exist on type '{}'",
            quoted[0], quoted[1]
        )
    } else if message.starts_with("Unknown argument ") && quoted.len() >= 2 {
        format!(
            "Field '{}' doesn't accept argument '{}'",
            quoted[1], quoted[0]
        )
    } else if message.ends_with("is required but not provided") && quoted.len() >= 2 {
        format!(
            "Field '{}' is missing required arguments: {}",
            quoted[0], quoted[1]
        )
    } else if message.starts_with("Invalid value for argument ") {
        // async-graphql names the expected type after "expected type" or "enumeration type"
        let expected = ["expected type \"", "enumeration type \""]
            .iter()
            .find_map(|marker| message.split_once(marker))
            .and_then(|(_, rest)| rest.split('"').next());
        match (quoted.first(), expected) {
            (Some(argument), Some(expected)) => format!(
                "Argument '{}' has an invalid value. Expected type '{expected}'.",
                argument.rsplit('.').next().unwrap_or(argument)
            ),
            _ => message.to_string(),
        }
    } else {
        message.to_string()
    }
}

/// The schema of one simulated GitLab: `activity_field` is GitLab 18.0 or later.
pub(crate) fn schema(activity_field: bool) -> Schema {
    let mut builder = Schema::build("Query", Some("Mutation"), None)
        // graphql-ruby makes no "did you mean" suggestions in these messages
        .disable_suggestions();
    for scalar in scalars() {
        builder = builder.register(scalar);
    }
    for object in connection::<UserNode>("AddOnUser")
        .into_iter()
        .chain(connection::<AssignmentNode>("UserAddOnAssignment"))
    {
        builder = builder.register(object);
    }
    builder
        .register(add_on_type_enum(activity_field))
        .register(user_sort_enum())
        .register(user_state_enum())
        .register(page_info())
        .register(add_on_purchase_type())
        .register(user_add_on_assignment_type())
        .register(add_on_user_type(activity_field))
        .register(namespace_type())
        .register(query_type())
        .register(assignment_create_input())
        .register(assignment_create_payload())
        .register(mutation_type())
        .finish()
        .expect("the simulated GitLab GraphQL schema is consistent")
}

/// GitLab's scalars used here: `Date`, `Time` and the global id types (`Types::GlobalIDType`),
/// which accept only a global id of their model.
fn scalars() -> Vec<Scalar> {
    let gid = |name: &str, prefixes: &'static [&'static str]| {
        Scalar::new(name).validator(move |value| match value {
            GqlValue::String(s) => prefixes.iter().any(|p| {
                s.strip_prefix(p)
                    .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            }),
            _ => false,
        })
    };
    vec![
        Scalar::new("Date").description("Date represented in ISO 8601"),
        Scalar::new("Time").description("Time represented in ISO 8601."),
        gid("UserID", &[USER_GID_PREFIX]),
        gid("GitlabSubscriptionsAddOnPurchaseID", &[PURCHASE_GID_PREFIX]),
        gid(
            "NamespaceID",
            &["gid://gitlab/Namespace/", "gid://gitlab/Group/"],
        ),
    ]
}

fn add_on_type_enum(activity_field: bool) -> Enum {
    // DUO_CORE came with 18.0 (`experiment: { milestone: '18.0' }`).
    Enum::new("GitlabSubscriptionsAddOnType").items(
        AddOn::ALL
            .into_iter()
            .filter(|a| activity_field || *a != AddOn::DuoCore)
            .map(AddOn::graphql_name),
    )
}

/// The sort orders of `GitlabSubscriptionsUserSort`.
const USER_SORTS: [&str; 6] = [
    "ID_ASC",
    "ID_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "LAST_ACTIVITY_ON_ASC",
    "LAST_ACTIVITY_ON_DESC",
];

/// `app/graphql/types/user_state_enum.rb`: the values are GitLab's state names.
fn user_state_enum() -> Enum {
    Enum::new("UserState").items([
        "active",
        "blocked",
        "deactivated",
        "banned",
        "ldap_blocked",
        "blocked_pending_approval",
    ])
}

fn user_sort_enum() -> Enum {
    Enum::new("GitlabSubscriptionsUserSort").items(USER_SORTS)
}

/// A resolver's result, ready now.
fn ready<'a>(result: async_graphql::Result<Option<FieldValue<'a>>>) -> FieldFuture<'a> {
    match result {
        Ok(value) => FieldFuture::Value(value),
        Err(error) => FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(error) }),
    }
}

fn scope<'a>(ctx: &ResolverContext<'a>) -> async_graphql::Result<&'a Scope> {
    ctx.ctx.data::<Scope>()
}

/// A field computed from the parent object `T` and the request's scope.
fn field_of<T: 'static + Send + Sync>(
    name: &str,
    ty: TypeRef,
    get: impl Fn(&T, &Scope) -> Option<GqlValue> + Send + Sync + 'static,
) -> Field {
    Field::new(name, ty, move |ctx| {
        ready((|| {
            let parent = ctx.parent_value.try_downcast_ref::<T>()?;
            Ok(get(parent, scope(&ctx)?).map(FieldValue::value))
        })())
    })
}

/// An `AddOnPurchase` node.
struct PurchaseNode(u64);
/// An `AddOnUser` node: the user's index.
#[derive(Clone, Copy)]
struct UserNode(usize);
/// A `UserAddOnAssignment` node: the purchase's id.
#[derive(Clone, Copy)]
struct AssignmentNode(u64);

fn purchase_of<'s>(scope: &'s Scope, node: &PurchaseNode) -> Option<&'s Purchase> {
    scope.duo.purchase(node.0)
}

fn add_on_purchase_type() -> Object {
    Object::new("AddOnPurchase")
        .description("Represents AddOn purchase for Namespace")
        .field(field_of::<PurchaseNode>(
            "id",
            TypeRef::named_nn("GitlabSubscriptionsAddOnPurchaseID"),
            |p, s| purchase_of(s, p).map(|p| GqlValue::from(p.gid())),
        ))
        .field(field_of::<PurchaseNode>(
            "name",
            TypeRef::named_nn(TypeRef::STRING),
            |p, s| purchase_of(s, p).map(|p| GqlValue::from(p.add_on.graphql_name())),
        ))
        .field(field_of::<PurchaseNode>(
            "purchasedQuantity",
            TypeRef::named_nn(TypeRef::INT),
            |p, s| purchase_of(s, p).map(|p| GqlValue::from(p.quantity)),
        ))
        .field(field_of::<PurchaseNode>(
            "assignedQuantity",
            TypeRef::named_nn(TypeRef::INT),
            |p, s| {
                purchase_of(s, p)
                    .map(|p| GqlValue::from(s.duo.holders(&s.pop, p, s.as_of).len() as u64))
            },
        ))
}

fn user_add_on_assignment_type() -> Object {
    Object::new("UserAddOnAssignment").field(Field::new(
        "addOnPurchase",
        TypeRef::named_nn("AddOnPurchase"),
        |ctx| {
            ready((|| {
                let node = ctx.parent_value.try_downcast_ref::<AssignmentNode>()?;
                Ok(Some(FieldValue::owned_any(PurchaseNode(node.0))))
            })())
        },
    ))
}

/// `AddOnUser`: a `UserType` with add-on data. `lastDuoActivityOn` only from 18.0.
fn add_on_user_type(activity_field: bool) -> Object {
    let mut object = Object::new("AddOnUser")
        .description("A user with add-on data")
        .field(add_on_assignments_field());
    for field in user_fields() {
        object = object.field(field);
    }
    if activity_field {
        object = object.field(field_of::<UserNode>(
            "lastDuoActivityOn",
            TypeRef::named("Date"),
            |u, s| {
                s.duo
                    .last_duo_activity_on(&s.pop, u.0, s.as_of, s.now)
                    .map(|d| GqlValue::from(date_of(d).to_string()))
            },
        ));
    }
    object
}

/// The `UserType` fields seatwatch may read, and `lastLoginAt`.
fn user_fields() -> Vec<Field> {
    let user = |name: &str, ty: TypeRef, get: fn(&Render, usize) -> Option<GqlValue>| {
        field_of::<UserNode>(name, ty, move |u, s| get(&s.render(), u.0))
    };
    vec![
        user("id", TypeRef::named_nn("UserID"), |_, i| {
            Some(GqlValue::from(format!("{USER_GID_PREFIX}{}", i + 1)))
        }),
        user("username", TypeRef::named_nn(TypeRef::STRING), |r, i| {
            Some(GqlValue::from(r.identity(i).username))
        }),
        user("name", TypeRef::named_nn(TypeRef::STRING), |r, i| {
            Some(GqlValue::from(r.identity(i).name))
        }),
        user("publicEmail", TypeRef::named(TypeRef::STRING), |r, i| {
            r.pop.users[i]
                .has(flags::PUBLIC_EMAIL)
                .then(|| GqlValue::from(r.identity(i).email))
        }),
        user("webUrl", TypeRef::named_nn(TypeRef::STRING), |r, i| {
            Some(GqlValue::from(r.web_url(&r.identity(i))))
        }),
        user("state", TypeRef::named_nn("UserState"), |r, i| {
            Some(GqlValue::Enum(async_graphql::Name::new(
                r.identity(i).state,
            )))
        }),
        user("lastActivityOn", TypeRef::named("Date"), |r, i| {
            r.pop
                .last_activity_on(i, r.as_of, r.now)
                .map(|d| GqlValue::from(date_of(d).to_string()))
        }),
        // add_on_user_type.rb: `method: :current_sign_in_at`
        user("lastLoginAt", TypeRef::named("Time"), |r, i| {
            r.user(i)
                .sign_ins
                .map(|(current, _)| GqlValue::from(iso8601_seconds(&current)))
        }),
    ]
}

fn add_on_assignments_field() -> Field {
    paginated(
        Field::new(
            "addOnAssignments",
            TypeRef::named("UserAddOnAssignmentConnection"),
            |ctx| ready(add_on_assignments(&ctx)),
        )
        .argument(InputValue::new(
            "addOnPurchaseIds",
            TypeRef::named_nn_list_nn("GitlabSubscriptionsAddOnPurchaseID"),
        )),
    )
}

/// `Types::TimeType` renders `Time#iso8601`: whole seconds, so the REST timestamp's
/// milliseconds go.
fn iso8601_seconds(timestamp: &str) -> String {
    match timestamp.split_once('.') {
        Some((seconds, rest)) if rest.ends_with('Z') => format!("{seconds}Z"),
        _ => timestamp.to_string(),
    }
}

/// `user_add_on_assignments_resolver.rb`: the user's assignments to the given active purchases.
fn add_on_assignments<'a>(
    ctx: &ResolverContext<'a>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    let s = scope(ctx)?;
    let user = ctx.parent_value.try_downcast_ref::<UserNode>()?;
    let ids = purchase_ids(ctx)?;
    let nodes: Vec<AssignmentNode> = s
        .duo
        .purchases
        .iter()
        .filter(|p| ids.contains(&p.id) && s.duo.holds(&s.pop, p, user.0, s.as_of))
        .map(|p| AssignmentNode(p.id))
        .collect();
    Connection::page(nodes, ctx).map(|c| Some(FieldValue::owned_any(c)))
}

/// The model ids of `addOnPurchaseIds` (`GitlabSchema.parse_gids`).
fn purchase_ids(ctx: &ResolverContext) -> async_graphql::Result<Vec<u64>> {
    ctx.args
        .try_get("addOnPurchaseIds")?
        .list()?
        .iter()
        .map(|v| {
            let gid = v.string()?;
            gid.strip_prefix(PURCHASE_GID_PREFIX)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| {
                    Error::new(format!(
                        "{gid} is not a valid ID for GitlabSubscriptions::AddOnPurchase."
                    ))
                })
        })
        .collect()
}

/// The arguments of GitLab's eligible-users resolvers.
fn eligible_users_field(
    name: &str,
    description: &str,
    resolve: fn(&Scope) -> Result<(), Error>,
) -> Field {
    paginated(Field::new(
        name,
        TypeRef::named("AddOnUserConnection"),
        move |ctx| {
            ready((|| {
                let s = scope(&ctx)?;
                resolve(s)?;
                eligible_users(&ctx, s).map(|c| Some(FieldValue::owned_any(c)))
            })())
        },
    ))
    .description(description)
    .argument(InputValue::new(
        "addOnType",
        TypeRef::named_nn("GitlabSubscriptionsAddOnType"),
    ))
    .argument(InputValue::new(
        "addOnPurchaseIds",
        TypeRef::named_nn_list_nn("GitlabSubscriptionsAddOnPurchaseID"),
    ))
    .argument(InputValue::new(
        "filterByAssignedSeat",
        TypeRef::named(TypeRef::STRING),
    ))
    .argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new(
        "sort",
        TypeRef::named("GitlabSubscriptionsUserSort"),
    ))
}

/// `Gitlab::Utils.to_boolean`.
fn to_boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// `AddOnEligibleUsersFinder` (both flavours): the users who may hold the add-on (humans who are
/// active), or with `filterByAssignedSeat` true only those holding a seat of the first purchase
/// given; searched by username or name, sorted.
fn eligible_users(ctx: &ResolverContext, s: &Scope) -> async_graphql::Result<Connection<UserNode>> {
    let ids = purchase_ids(ctx)?;
    let assigned_only = ctx
        .args
        .get("filterByAssignedSeat")
        .and_then(|v| v.string().ok())
        .and_then(to_boolean)
        == Some(true);
    let r = s.render();
    let mut users: Vec<usize> = if assigned_only {
        match ids.first().and_then(|&id| s.duo.purchase(id)) {
            Some(purchase) => s.duo.holders(&s.pop, purchase, s.as_of),
            None => Vec::new(),
        }
    } else {
        (0..s.pop.visible(s.as_of))
            .filter(|&i| s.duo.eligible_on(&s.pop, i, s.as_of))
            .collect()
    };
    if let Some(needle) = ctx
        .args
        .get("search")
        .and_then(|v| v.string().ok())
        .filter(|n| !n.is_empty())
    {
        let needle = needle.to_lowercase();
        users.retain(|&i| {
            let v = r.identity(i);
            v.username.to_lowercase().contains(&needle) || v.name.to_lowercase().contains(&needle)
        });
    }
    let sort_arg = ctx.args.get("sort");
    let sort = sort_arg
        .as_ref()
        .and_then(|v| v.enum_name().ok())
        .unwrap_or("ID_ASC");
    sort_users(&mut users, sort, &r);
    let nodes = users.into_iter().map(UserNode).collect();
    Connection::page(nodes, ctx)
}

/// `sort_by_attribute`: ids ascending by default; PostgreSQL puts NULLs last ascending and first
/// descending.
fn sort_users(users: &mut [usize], sort: &str, r: &Render) {
    match sort {
        "ID_DESC" => users.sort_unstable_by(|a, b| b.cmp(a)),
        "NAME_ASC" | "NAME_DESC" => {
            users.sort_by_cached_key(|&i| (r.identity(i).name, i));
            if sort == "NAME_DESC" {
                users.reverse();
            }
        }
        "LAST_ACTIVITY_ON_ASC" | "LAST_ACTIVITY_ON_DESC" => {
            // None sorts after every day ascending.
            users.sort_by_cached_key(|&i| {
                (
                    r.pop
                        .last_activity_on(i, r.as_of, r.now)
                        .unwrap_or(Day::MAX),
                    i,
                )
            });
            if sort == "LAST_ACTIVITY_ON_DESC" {
                users.reverse();
            }
        }
        _ => users.sort_unstable(),
    }
}

fn namespace_type() -> Object {
    let group = |name: &str, ty: TypeRef, get: fn(&Scope) -> GqlValue| {
        field_of::<NamespaceMarker>(name, ty, move |_, s| Some(get(s)))
    };
    // add_on_eligible_users_resolver.rb: Owner of a root namespace only.
    let owner_only: fn(&Scope) -> Result<(), Error> = |s| {
        if s.caller.owns_group() {
            Ok(())
        } else {
            Err(Error::new(RESOURCE_NOT_AVAILABLE))
        }
    };
    Object::new("Namespace")
        .field(group("id", TypeRef::named_nn(TypeRef::ID), |_| {
            GqlValue::from(format!("gid://gitlab/Group/{GROUP_ID}"))
        }))
        .field(group("fullPath", TypeRef::named_nn(TypeRef::ID), |s| {
            GqlValue::from(s.group_path.clone())
        }))
        .field(group("name", TypeRef::named_nn(TypeRef::STRING), |s| {
            GqlValue::from(s.group_path.clone())
        }))
        .field(eligible_users_field(
            "addOnEligibleUsers",
            "Users in the namespace hierarchy that add ons are applicable for. This only applies to root namespaces.",
            owner_only,
        ))
}

/// `namespace(fullPath:)` finds the simulated group for anyone signed in (its members; an
/// anonymous caller cannot see a private group: `null`).
fn namespace_field() -> Field {
    Field::new("namespace", TypeRef::named("Namespace"), |ctx| {
        ready((|| {
            let s = scope(&ctx)?;
            let path = ctx.args.try_get("fullPath")?.string()?;
            let found = path == s.group_path && !matches!(s.caller, Caller::Anonymous);
            Ok(found.then(|| FieldValue::owned_any(NamespaceMarker)))
        })())
    })
    .argument(InputValue::new("fullPath", TypeRef::named_nn(TypeRef::ID)))
}

/// The parent value of `Namespace` fields: the simulated group, the only namespace.
struct NamespaceMarker;

fn query_type() -> Object {
    // self_managed/add_on_eligible_users_resolver.rb: refused on GitLab.com and to non-admins.
    let admin_only: fn(&Scope) -> Result<(), Error> = |s| {
        if s.flavour == Flavour::SelfManaged && s.caller.instance_admin() {
            Ok(())
        } else {
            Err(Error::new(RESOURCE_NOT_AVAILABLE))
        }
    };
    Object::new("Query")
        .field(
            Field::new(
                "addOnPurchases",
                TypeRef::named_nn_list("AddOnPurchase"),
                |ctx| ready(add_on_purchases(&ctx)),
            )
            .argument(InputValue::new(
                "namespaceId",
                TypeRef::named("NamespaceID"),
            )),
        )
        .field(namespace_field())
        .field(eligible_users_field(
            "selfManagedAddOnEligibleUsers",
            "Users within the self-managed instance who are eligible for add-ons.",
            admin_only,
        ))
}

/// `add_on_purchases_resolver.rb`: the active purchases of the namespace given, or the
/// instance's without one. `AddOnPurchaseType` is `authorize :admin_add_on_purchase`: for anyone
/// else graphql-ruby replaces each purchase by `null`, which the non-null list element refuses,
/// so the whole list is `null` with graphql-ruby's error.
fn add_on_purchases<'a>(
    ctx: &ResolverContext<'a>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    let s = scope(ctx)?;
    let namespace = ctx
        .args
        .get("namespaceId")
        .and_then(|v| v.string().ok())
        .map(|gid| gid.rsplit('/').next().and_then(|id| id.parse::<u64>().ok()));
    let ours = match (s.flavour, namespace) {
        (Flavour::GitLabCom, Some(id)) => id == Some(GROUP_ID),
        (Flavour::SelfManaged, None) => true,
        _ => false,
    };
    if !ours || s.duo.purchases.is_empty() {
        return Ok(Some(FieldValue::list(Vec::<FieldValue>::new())));
    }
    if !s.caller.owns_group() {
        return Err(Error::new(
            "Cannot return null for non-nullable element of type 'AddOnPurchase!' for Query.addOnPurchases",
        ));
    }
    Ok(Some(FieldValue::list(
        s.duo
            .purchases
            .iter()
            .map(|p| FieldValue::owned_any(PurchaseNode(p.id))),
    )))
}

fn assignment_create_input() -> InputObject {
    InputObject::new("UserAddOnAssignmentCreateInput")
        .field(InputValue::new(
            "clientMutationId",
            TypeRef::named(TypeRef::STRING),
        ))
        .field(InputValue::new(
            "addOnPurchaseId",
            TypeRef::named_nn("GitlabSubscriptionsAddOnPurchaseID"),
        ))
        .field(InputValue::new("userId", TypeRef::named_nn("UserID")))
}

/// The payload of `userAddOnAssignmentCreate`.
struct CreatePayload {
    client_mutation_id: Option<String>,
}

fn assignment_create_payload() -> Object {
    Object::new("UserAddOnAssignmentCreatePayload")
        .field(field_of::<CreatePayload>(
            "clientMutationId",
            TypeRef::named(TypeRef::STRING),
            |p, _| p.client_mutation_id.clone().map(GqlValue::from),
        ))
        .field(field_of::<CreatePayload>(
            "errors",
            TypeRef::named_nn_list_nn(TypeRef::STRING),
            |_, _| {
                Some(GqlValue::List(vec![GqlValue::from(
                    "The simulated GitLab is read-only: seats are not assigned.",
                )]))
            },
        ))
        .field(Field::new(
            "addOnPurchase",
            TypeRef::named("AddOnPurchase"),
            |_| FieldFuture::Value(None),
        ))
        .field(Field::new("user", TypeRef::named("AddOnUser"), |_| {
            FieldFuture::Value(None)
        }))
}

/// `Mutation.userAddOnAssignmentCreate`. Over POST an Owner (admin) gets a payload that says the
/// simulator changes nothing; anyone else GitLab's resource error.
fn mutation_type() -> Object {
    Object::new("Mutation").field(
        Field::new(
            "userAddOnAssignmentCreate",
            TypeRef::named("UserAddOnAssignmentCreatePayload"),
            |ctx| {
                ready((|| {
                    if !scope(&ctx)?.caller.owns_group() {
                        return Err(Error::new(RESOURCE_NOT_AVAILABLE));
                    }
                    let input = ctx.args.try_get("input")?.object()?;
                    let client_mutation_id = input
                        .get("clientMutationId")
                        .and_then(|v| v.string().ok())
                        .map(str::to_string);
                    Ok(Some(FieldValue::owned_any(CreatePayload {
                        client_mutation_id,
                    })))
                })())
            },
        )
        .argument(InputValue::new(
            "input",
            TypeRef::named_nn("UserAddOnAssignmentCreateInput"),
        )),
    )
}

fn page_info() -> Object {
    let info = |name: &str, ty: TypeRef, get: fn(&PageInfo) -> GqlValue| {
        field_of::<PageInfo>(name, ty, move |p, _| Some(get(p)))
    };
    Object::new("PageInfo")
        .field(info(
            "hasNextPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |p| GqlValue::from(p.has_next_page),
        ))
        .field(info(
            "hasPreviousPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |p| GqlValue::from(p.has_previous_page),
        ))
        .field(info("startCursor", TypeRef::named(TypeRef::STRING), |p| {
            p.start_cursor
                .clone()
                .map_or(GqlValue::Null, GqlValue::from)
        }))
        .field(info("endCursor", TypeRef::named(TypeRef::STRING), |p| {
            p.end_cursor.clone().map_or(GqlValue::Null, GqlValue::from)
        }))
}

#[derive(Clone)]
struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

/// One page of a connection: the nodes with their positions (1-based, as the cursors count).
struct Connection<T> {
    nodes: Vec<(usize, T)>,
    info: PageInfo,
}

/// graphql-ruby's offset cursor: the 1-based position, `Base64.urlsafe_encode64(.., padding: false)`.
fn encode_cursor(position: usize) -> String {
    let text = position.to_string();
    crate::http::base64_urlsafe(text.as_bytes())
        .trim_end_matches('=')
        .to_string()
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = crate::http::base64_urlsafe_decode(cursor)?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

impl<T> Connection<T> {
    /// `first`/`after` and `last`/`before` over `all`, at most [`MAX_PAGE_SIZE`] nodes.
    fn page(all: Vec<T>, ctx: &ResolverContext) -> async_graphql::Result<Connection<T>> {
        let int = |name: &str| -> async_graphql::Result<Option<usize>> {
            match ctx.args.get(name) {
                Some(v) if !v.is_null() => Ok(Some(usize::try_from(v.i64()?.max(0)).unwrap_or(0))),
                _ => Ok(None),
            }
        };
        let cursor = |name: &str| -> async_graphql::Result<Option<usize>> {
            match ctx.args.get(name).filter(|v| !v.is_null()) {
                Some(v) => decode_cursor(v.string()?)
                    .map(Some)
                    .ok_or_else(|| Error::new("Invalid cursor provided")),
                None => Ok(None),
            }
        };
        let total = all.len();
        // positions after `after` and before `before` (1-based, exclusive)
        let lo = cursor("after")?.unwrap_or(0).min(total);
        let hi = cursor("before")?
            .map_or(total, |b| b.saturating_sub(1))
            .clamp(lo, total);
        let (first, last) = (int("first")?, int("last")?);
        let (start, end) = match (first, last) {
            (_, Some(last)) if first.is_none() => {
                (hi.saturating_sub(last.min(MAX_PAGE_SIZE)).max(lo), hi)
            }
            (first, _) => (
                lo,
                (lo + first.unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)).min(hi),
            ),
        };
        let nodes: Vec<(usize, T)> = all
            .into_iter()
            .enumerate()
            .skip(start)
            .take(end - start)
            .map(|(i, node)| (i + 1, node))
            .collect();
        let info = PageInfo {
            has_next_page: end < hi,
            has_previous_page: start > lo,
            start_cursor: nodes.first().map(|(p, _)| encode_cursor(*p)),
            end_cursor: nodes.last().map(|(p, _)| encode_cursor(*p)),
        };
        Ok(Connection { nodes, info })
    }
}

/// GitLab's connection arguments (graphql-ruby's `connection_type` fields).
fn paginated(field: Field) -> Field {
    field
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
}

/// A node of a connection and its cursor.
struct Edge<T> {
    position: usize,
    node: T,
}

/// `<Node>Connection` and `<Node>Edge` for the node type `node` (whose values are `T`).
fn connection<T: Clone + Send + Sync + 'static>(node: &str) -> [Object; 2] {
    let node_name = node.to_string();
    let edge_node = node_name.clone();
    let connection = Object::new(format!("{node}Connection"))
        .field(Field::new("nodes", TypeRef::named_list(node_name), |ctx| {
            ready((|| {
                let c = ctx.parent_value.try_downcast_ref::<Connection<T>>()?;
                Ok(Some(FieldValue::list(
                    c.nodes
                        .iter()
                        .map(|(_, n)| FieldValue::owned_any(n.clone())),
                )))
            })())
        }))
        .field(Field::new(
            "edges",
            TypeRef::named_list(format!("{node}Edge")),
            |ctx| {
                ready((|| {
                    let c = ctx.parent_value.try_downcast_ref::<Connection<T>>()?;
                    Ok(Some(FieldValue::list(c.nodes.iter().map(|(p, n)| {
                        FieldValue::owned_any(Edge {
                            position: *p,
                            node: n.clone(),
                        })
                    }))))
                })())
            },
        ))
        .field(Field::new(
            "pageInfo",
            TypeRef::named_nn("PageInfo"),
            |ctx| {
                ready((|| {
                    let c = ctx.parent_value.try_downcast_ref::<Connection<T>>()?;
                    Ok(Some(FieldValue::owned_any(c.info.clone())))
                })())
            },
        ));
    let edge = Object::new(format!("{node}Edge"))
        .field(Field::new(
            "cursor",
            TypeRef::named_nn(TypeRef::STRING),
            |ctx| {
                ready((|| {
                    let e = ctx.parent_value.try_downcast_ref::<Edge<T>>()?;
                    Ok(Some(FieldValue::value(encode_cursor(e.position))))
                })())
            },
        ))
        .field(Field::new("node", TypeRef::named(edge_node), |ctx| {
            ready((|| {
                let e = ctx.parent_value.try_downcast_ref::<Edge<T>>()?;
                Ok(Some(FieldValue::owned_any(e.node.clone())))
            })())
        }));
    [connection, edge]
}
