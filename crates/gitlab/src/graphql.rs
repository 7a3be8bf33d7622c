//! GitLab's GraphQL API, read over GET: the Duo add-on purchases and who holds their seats.
//!
//! GitLab has no customer REST API for Duo seats (`gitlab-api.md` §10), only GraphQL. GitLab's
//! `app/controllers/graphql_controller.rb` executes queries sent as `GET /api/graphql?query=…&
//! variables=…` and refuses mutations over GET (`disallow_mutations_for_get`), so this module
//! reads GraphQL through the client's one GET path ([`Client::get_json`]: same token header,
//! pacing, retries, request counting) and stays read-only by construction: the only documents it
//! can send are the [`Document`] variants, each a `query`.
//!
//! The documents follow GitLab's schema source (gitlab-org/gitlab):
//! - `ee/app/graphql/ee/types/query_type.rb`: `addOnPurchases`, `selfManagedAddOnEligibleUsers`;
//! - `ee/app/graphql/ee/types/namespace_type.rb`: `Namespace.addOnEligibleUsers`;
//! - `ee/app/graphql/resolvers/gitlab_subscriptions/add_on_purchases_resolver.rb`
//!   (`namespaceId: NamespaceID`, active purchases only; unauthorised purchases are dropped from the
//!   list by `AddOnPurchaseType`'s `authorize :admin_add_on_purchase`, so a token without the role
//!   sees an empty list, never an error);
//! - `ee/app/graphql/resolvers/gitlab_subscriptions/add_on_eligible_users_resolver.rb` and
//!   `…/self_managed/add_on_eligible_users_resolver.rb` (`addOnType!`, `addOnPurchaseIds!`,
//!   `filterByAssignedSeat: String`, `sort`; `raise_resource_not_available_error!` for a
//!   non-Owner, a subgroup, or a non-admin: the field is `null` and `errors` says why);
//! - `ee/app/graphql/types/gitlab_subscriptions/add_on_user_type.rb` (`AddOnUser`: `lastLoginAt`,
//!   `lastDuoActivityOn`, the latter absent before GitLab 18.0),
//!   `add_on_purchase_type.rb` (`AddOnPurchase`), `add_on_type_enum.rb`
//!   (`GitlabSubscriptionsAddOnType`), `user_sort_enum.rb` (`GitlabSubscriptionsUserSort`).
//!
//! A field that an older GitLab lacks is rejected by graphql-ruby's static validation
//! (`GraphQL::StaticValidation::FieldsAreDefinedOnType`: "Field 'x' doesn't exist on type 'Y'",
//! extensions `code: undefinedField`), with status 200 and no `data`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::Client;
use super::error::GitLabError;

/// Holders asked for per request: GitLab's GraphQL `max_page_size` (100).
pub const HOLDERS_PER_PAGE: u32 = 100;

/// What GitLab's `Gitlab::Graphql::Authorize::AuthorizeResource::RESOURCE_ACCESS_ERROR` says when
/// `raise_resource_not_available_error!` refuses a field to this user.
const RESOURCE_ACCESS_ERROR: &str = "The resource that you are attempting to access does not exist or you don't have permission to perform this action";

/// Where the add-ons were bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOnScope<'a> {
    /// GitLab.com: the top-level group (its numeric id and its full path).
    GitLabCom { group_id: u64, full_path: &'a str },
    /// A self-managed or Dedicated instance.
    SelfManaged,
}

/// One active add-on purchase (`AddOnPurchase`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOnPurchase {
    /// `gid://gitlab/GitlabSubscriptions::AddOnPurchase/N`.
    pub id: String,
    /// GitLab's upper-case add-on name, e.g. `CODE_SUGGESTIONS` (Duo Pro), `DUO_ENTERPRISE`.
    pub name: String,
    pub purchased_quantity: u64,
    pub assigned_quantity: u64,
}

/// A holder's last use of Duo, as far as this GitLab tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuoActivity {
    /// This GitLab has no `lastDuoActivityOn` (older than 18.0): unknown, never "unused".
    NotExposed,
    /// `lastDuoActivityOn: null`: no Duo activity recorded.
    Never,
    On(NaiveDate),
}

/// A user holding a seat of an add-on (`AddOnUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOnHolder {
    pub user_id: u64,
    pub username: String,
    pub last_activity_on: Option<NaiveDate>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_duo_activity_on: DuoActivity,
}

/// Every holder of one purchase's seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOnHolders {
    /// In ascending user id order, each user once.
    pub holders: Vec<AddOnHolder>,
    /// False when this GitLab has no `lastDuoActivityOn` (every holder is then
    /// [`DuoActivity::NotExposed`]).
    pub duo_activity_exposed: bool,
}

/// What [`Client::add_on_access`] found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOnAccess {
    /// False on a GitLab without `lastDuoActivityOn` (older than 18.0).
    pub duo_activity_exposed: bool,
}

/// Which GitLab the document is for: the two flavours have different fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    GitLabCom,
    SelfManaged,
}

impl AddOnScope<'_> {
    fn flavour(&self) -> Flavour {
        match self {
            AddOnScope::GitLabCom { .. } => Flavour::GitLabCom,
            AddOnScope::SelfManaged => Flavour::SelfManaged,
        }
    }
}

/// Every GraphQL document the client can send. There is no other way to put a document on the
/// wire ([`Client::graphql`] takes a `Document`), and each one is a `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    Purchases(Flavour),
    /// `duo_activity`: whether `lastDuoActivityOn` is asked for (not on GitLab before 18.0).
    Holders {
        flavour: Flavour,
        duo_activity: bool,
    },
}

impl Document {
    /// All of them ([`documents`] lists them for the tests that prove each is a query).
    pub(crate) const ALL: [Document; 6] = [
        Document::Purchases(Flavour::GitLabCom),
        Document::Purchases(Flavour::SelfManaged),
        Document::Holders {
            flavour: Flavour::GitLabCom,
            duo_activity: true,
        },
        Document::Holders {
            flavour: Flavour::GitLabCom,
            duo_activity: false,
        },
        Document::Holders {
            flavour: Flavour::SelfManaged,
            duo_activity: true,
        },
        Document::Holders {
            flavour: Flavour::SelfManaged,
            duo_activity: false,
        },
    ];

    /// The field of `Query`/`Namespace` the document reads: what errors name.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Document::Purchases(_) => "addOnPurchases",
            Document::Holders {
                flavour: Flavour::GitLabCom,
                ..
            } => "addOnEligibleUsers",
            Document::Holders {
                flavour: Flavour::SelfManaged,
                ..
            } => "selfManagedAddOnEligibleUsers",
        }
    }

    /// The document's text, whitespace collapsed (it travels in the URL).
    pub(crate) fn text(self) -> String {
        let text = match self {
            Document::Purchases(Flavour::GitLabCom) => format!(
                "query seatwatchAddOnPurchases($namespaceId: NamespaceID!) {{ addOnPurchases(namespaceId: $namespaceId) {{ {PURCHASE_FIELDS} }} }}"
            ),
            Document::Purchases(Flavour::SelfManaged) => {
                format!(
                    "query seatwatchAddOnPurchases {{ addOnPurchases {{ {PURCHASE_FIELDS} }} }}"
                )
            }
            Document::Holders {
                flavour,
                duo_activity,
            } => holders_text(flavour, duo_activity),
        };
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Every GraphQL document this client can send, as `(field read, document text)`: for tests that
/// check each against a GraphQL server (the simulator's schema) and that each is a query.
pub fn documents() -> Vec<(&'static str, String)> {
    Document::ALL
        .iter()
        .map(|document| (document.field(), document.text()))
        .collect()
}

const PURCHASE_FIELDS: &str = "id name purchasedQuantity assignedQuantity";

/// `filterByAssignedSeat` is a String argument that GitLab reads with
/// `Gitlab::Utils.to_boolean`; `ID_ASC` keeps GitLab's offset-backed cursor pages in a stable
/// order (a holder removed mid-listing can then only cause a repeat, which is dropped, or a
/// shift that the assigned count shows). `first`/`after` are graphql-ruby's connection
/// arguments, which every GitLab connection takes.
fn holders_text(flavour: Flavour, duo_activity: bool) -> String {
    let duo = if duo_activity {
        " lastDuoActivityOn"
    } else {
        ""
    };
    let arguments = "addOnType: $addOnType, addOnPurchaseIds: $addOnPurchaseIds, filterByAssignedSeat: \"true\", sort: ID_ASC, first: $first, after: $after";
    let selection = format!(
        "pageInfo {{ hasNextPage endCursor }} nodes {{ id username lastActivityOn lastLoginAt{duo} }}"
    );
    let variables = "$addOnType: GitlabSubscriptionsAddOnType!, $addOnPurchaseIds: [GitlabSubscriptionsAddOnPurchaseID!]!, $first: Int, $after: String";
    match flavour {
        Flavour::GitLabCom => format!(
            "query seatwatchAddOnHolders($fullPath: ID!, {variables}) {{ namespace(fullPath: $fullPath) {{ addOnEligibleUsers({arguments}) {{ {selection} }} }} }}"
        ),
        Flavour::SelfManaged => format!(
            "query seatwatchAddOnHolders({variables}) {{ selfManagedAddOnEligibleUsers({arguments}) {{ {selection} }} }}"
        ),
    }
}

/// GraphQL's answer: `data` may be missing (validation errors) or partly `null` (field errors).
#[derive(Debug, Deserialize)]
struct Envelope<D> {
    data: Option<D>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

/// One entry of `errors`; everything but the message is optional.
#[derive(Debug, Clone, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<GraphQlErrorExtensions>,
}

/// graphql-ruby's static validation extensions (`FieldsAreDefinedOnTypeError#to_h`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphQlErrorExtensions {
    code: Option<String>,
    type_name: Option<String>,
    field_name: Option<String>,
}

impl GraphQlError {
    /// Whether this is graphql-ruby's "Field 'field' doesn't exist on type 'type_name'" (with or
    /// without the did-you-mean suggestion newer versions append).
    fn is_undefined_field(&self, type_name: &str, field: &str) -> bool {
        if let Some(ext) = &self.extensions
            && ext.code.as_deref() == Some("undefinedField")
            && ext.field_name.is_some()
        {
            return ext.field_name.as_deref() == Some(field)
                && ext.type_name.as_deref().is_none_or(|t| t == type_name);
        }
        self.message.starts_with(&format!(
            "Field '{field}' doesn't exist on type '{type_name}'"
        ))
    }

    /// GitLab's refusal message, or graphql-ruby's null-in-a-non-null-list error for an
    /// `AddOnPurchase` its type authorisation replaced by `null`. GitLab itself filters such
    /// purchases out (its `add_on_purchases_spec.rb` expects an empty list for a non-admin), but
    /// a schema that lets graphql-ruby's default through says it this way.
    fn is_access_refusal(&self) -> bool {
        self.message.starts_with(RESOURCE_ACCESS_ERROR)
            || self
                .message
                .starts_with("Cannot return null for non-nullable element of type 'AddOnPurchase!'")
    }
}

#[derive(Debug, Deserialize)]
struct PurchasesData {
    #[serde(rename = "addOnPurchases")]
    add_on_purchases: Option<Vec<Option<RawPurchase>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPurchase {
    id: String,
    name: String,
    purchased_quantity: u64,
    assigned_quantity: u64,
}

#[derive(Debug, Deserialize)]
struct NamespaceHoldersData {
    namespace: Option<NamespaceHolders>,
}

#[derive(Debug, Deserialize)]
struct NamespaceHolders {
    #[serde(rename = "addOnEligibleUsers")]
    users: Option<Connection>,
}

#[derive(Debug, Deserialize)]
struct SelfManagedHoldersData {
    #[serde(rename = "selfManagedAddOnEligibleUsers")]
    users: Option<Connection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: ConnectionPageInfo,
    /// Nodes the user may not read come back `null` (`AddOnUser` has `authorize :read_user`).
    #[serde(default)]
    nodes: Vec<Option<RawHolder>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionPageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHolder {
    id: String,
    username: String,
    last_activity_on: Option<NaiveDate>,
    last_login_at: Option<DateTime<Utc>>,
    last_duo_activity_on: Option<NaiveDate>,
}

/// One page of holders as read, before de-duplication.
struct HoldersPage {
    holders: Vec<AddOnHolder>,
    /// The cursor of the next page; `None` after the last.
    next: Option<String>,
}

/// Requests [`Client::add_on_holders`] takes for `holders` holders when the purchase's
/// `assignedQuantity` counts them (GitLab answering as documented, nothing changing meanwhile):
/// one per page, the first alone and then the others at once.
pub fn holder_requests(holders: u64) -> u64 {
    holders.div_ceil(u64::from(HOLDERS_PER_PAGE)).max(1)
}

/// graphql-ruby's cursor of an offset connection, which GitLab's `offset_pagination` connections
/// are (`GraphQL::Pagination::RelationConnection`: `encode(offset.to_s)` with the schema's
/// `Base64Encoder`, URL-safe without padding; `after` is read back as `decode(cursor).to_i`):
/// the position of the last node before the page.
fn offset_cursor(offset: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(offset.to_string())
}

/// Where a holders page is read from.
#[derive(Debug, Clone, Copy)]
enum PageAt<'a> {
    /// The first [`HOLDERS_PER_PAGE`] holders.
    First,
    /// The page after this cursor.
    After(&'a str),
}

/// What a holders request came back with.
enum HoldersAnswer {
    Page(HoldersPage),
    /// This GitLab has no `lastDuoActivityOn`.
    NoDuoActivityField,
}

impl Client {
    /// The active add-on purchases. `Ok(None)`: this GitLab has no add-on purchases field (older
    /// than Duo). A token without the role sees an empty list (GitLab filters unauthorised
    /// purchases out rather than refusing), so `Ok(Some(vec![]))` does not prove the token may
    /// read them: [`Client::add_on_holders`] does refuse, with [`GitLabError::GraphQlForbidden`].
    pub async fn add_on_purchases(
        &self,
        scope: AddOnScope<'_>,
    ) -> Result<Option<Vec<AddOnPurchase>>, GitLabError> {
        let document = Document::Purchases(scope.flavour());
        let variables = match scope {
            AddOnScope::GitLabCom { group_id, .. } => {
                serde_json::json!({ "namespaceId": format!("gid://gitlab/Group/{group_id}") })
            }
            AddOnScope::SelfManaged => serde_json::json!({}),
        };
        let (endpoint, answer) = self.graphql::<PurchasesData>(document, &variables).await?;
        if answer
            .errors
            .iter()
            .any(|e| e.is_undefined_field("Query", document.field()))
        {
            return Ok(None);
        }
        let purchases = answer.data.and_then(|data| data.add_on_purchases);
        let Some(purchases) = purchases else {
            return Err(self.refusal(&endpoint, document, &answer.errors));
        };
        if let Some(first) = answer.errors.first() {
            // a list with errors beside it is not known whole
            return Err(self.graphql_error(&endpoint, document, &first.message));
        }
        Ok(Some(
            purchases
                .into_iter()
                .flatten()
                .map(|p| AddOnPurchase {
                    id: p.id,
                    name: p.name,
                    purchased_quantity: p.purchased_quantity,
                    assigned_quantity: p.assigned_quantity,
                })
                .collect(),
        ))
    }

    /// Every holder of one purchase's seats, all cursor pages, in ascending user id order. On a
    /// GitLab without `lastDuoActivityOn` the holders are read again without it and
    /// `duo_activity_exposed` is false.
    ///
    /// `purchase.name` is sent as the `GitlabSubscriptionsAddOnType` to filter by, so ask only
    /// for add-ons with per-user seats (`CODE_SUGGESTIONS`, `DUO_ENTERPRISE`): Duo with Amazon Q
    /// has no per-user assignment and Duo Core no seats. A name GitLab's enum lacks comes back
    /// as [`GitLabError::GraphQl`].
    pub async fn add_on_holders(
        &self,
        scope: AddOnScope<'_>,
        purchase: &AddOnPurchase,
    ) -> Result<AddOnHolders, GitLabError> {
        match self.holders_pages(scope, purchase, true).await? {
            Some(holders) => Ok(AddOnHolders {
                holders,
                duo_activity_exposed: true,
            }),
            None => {
                tracing::info!(
                    "this GitLab has no lastDuoActivityOn (older than 18.0): Duo use is unknown"
                );
                let holders = self
                    .holders_pages(scope, purchase, false)
                    .await?
                    .unwrap_or_default();
                Ok(AddOnHolders {
                    holders,
                    duo_activity_exposed: false,
                })
            }
        }
    }

    /// Whether this token may read add-on seat holders, and whether this GitLab exposes
    /// `lastDuoActivityOn`, before any purchase is known (`check`): an empty purchase list does
    /// not tell, because GitLab drops the purchases a user may not read instead of refusing.
    ///
    /// Asks for the first page of the Duo Pro (`CODE_SUGGESTIONS`) eligible users of no purchase
    /// in particular: the resolvers authorise before anything else (a refusal is
    /// [`GitLabError::GraphQlForbidden`]), and without a purchase id GitLab's
    /// `AddOnEligibleUsersFinder` lists eligible users unfiltered. One request, two on a GitLab
    /// without the field (static validation rejects it before authorisation is looked at).
    pub async fn add_on_access(&self, scope: AddOnScope<'_>) -> Result<AddOnAccess, GitLabError> {
        const PROBED_ADD_ON: &str = "CODE_SUGGESTIONS";
        let mut duo_activity_exposed = true;
        loop {
            match self
                .holders_page(
                    scope,
                    PROBED_ADD_ON,
                    &[],
                    duo_activity_exposed,
                    PageAt::First,
                )
                .await?
            {
                HoldersAnswer::Page(_) => {
                    return Ok(AddOnAccess {
                        duo_activity_exposed,
                    });
                }
                // asked again without the field, which cannot be missing then: two rounds at most
                HoldersAnswer::NoDuoActivityField => duo_activity_exposed = false,
            }
        }
    }

    /// Every page of holders; `None` when GitLab lacks `lastDuoActivityOn` and it was asked for.
    ///
    /// The first page alone; then, where its end cursor is graphql-ruby's offset cursor
    /// ([`offset_cursor`]), the other pages the purchase's `assignedQuantity` counts, all at
    /// once, each after the cursor of its offset; then page by page from the last one's cursor
    /// while GitLab says more follow (more holders than counted, or a GitLab whose cursors are
    /// not offsets). A chain of cursor pages was the longest wait of a quiet group's run (issue
    /// 14: 3,100 holders, 16 round trips even from both ends). The pages are offset pages either
    /// way: a holder removed while they are read may shift another across a page boundary, as
    /// one after the other would, only over one round trip instead of many; one read twice is
    /// kept once.
    async fn holders_pages(
        &self,
        scope: AddOnScope<'_>,
        purchase: &AddOnPurchase,
        duo_activity: bool,
    ) -> Result<Option<Vec<AddOnHolder>>, GitLabError> {
        let Some(first) = self
            .purchase_holders_page(scope, purchase, duo_activity, PageAt::First)
            .await?
        else {
            return Ok(None);
        };
        let mut holders: BTreeMap<u64, AddOnHolder> = BTreeMap::new();
        keep_first(&mut holders, first.holders);
        let mut next = first.next;
        let page = u64::from(HOLDERS_PER_PAGE);
        if next.as_deref() == Some(offset_cursor(page).as_str()) {
            let cursors: Vec<String> = (1..holder_requests(purchase.assigned_quantity))
                .map(|k| offset_cursor(k * page))
                .collect();
            let pages = futures_util::future::join_all(cursors.iter().map(|cursor| {
                self.purchase_holders_page(scope, purchase, duo_activity, PageAt::After(cursor))
            }))
            .await;
            for answer in pages {
                let Some(read) = answer? else {
                    return Ok(None);
                };
                keep_first(&mut holders, read.holders);
                next = read.next;
            }
        }
        let mut seen = HashSet::new();
        while let Some(after) = next.take() {
            if !seen.insert(after.clone()) {
                return Err(self.looping_cursor());
            }
            let Some(read) = self
                .purchase_holders_page(scope, purchase, duo_activity, PageAt::After(&after))
                .await?
            else {
                return Ok(None);
            };
            keep_first(&mut holders, read.holders);
            next = read.next;
        }
        Ok(Some(holders.into_values().collect()))
    }

    /// One page of `purchase`'s holders; `None` when GitLab lacks `lastDuoActivityOn`.
    async fn purchase_holders_page(
        &self,
        scope: AddOnScope<'_>,
        purchase: &AddOnPurchase,
        duo_activity: bool,
        at: PageAt<'_>,
    ) -> Result<Option<HoldersPage>, GitLabError> {
        let ids = [purchase.id.as_str()];
        match self
            .holders_page(scope, &purchase.name, &ids, duo_activity, at)
            .await?
        {
            HoldersAnswer::Page(page) => Ok(Some(page)),
            HoldersAnswer::NoDuoActivityField => Ok(None),
        }
    }

    fn looping_cursor(&self) -> GitLabError {
        GitLabError::BadBody {
            endpoint: self.graphql_endpoint(),
            reason: "the next-page cursor points back at a page already read".into(),
            attempts: 1,
        }
    }

    /// One page of the holders of `purchase_ids` (of add-on `add_on_type`) after `after`.
    async fn holders_page(
        &self,
        scope: AddOnScope<'_>,
        add_on_type: &str,
        purchase_ids: &[&str],
        duo_activity: bool,
        at: PageAt<'_>,
    ) -> Result<HoldersAnswer, GitLabError> {
        let document = Document::Holders {
            flavour: scope.flavour(),
            duo_activity,
        };
        let after = match at {
            PageAt::First => None,
            PageAt::After(cursor) => Some(cursor),
        };
        let mut variables = serde_json::json!({
            "addOnType": add_on_type,
            "addOnPurchaseIds": purchase_ids,
            "first": HOLDERS_PER_PAGE,
            "after": after,
        });
        let connection = match scope {
            AddOnScope::GitLabCom { full_path, .. } => {
                variables["fullPath"] = full_path.into();
                let (endpoint, answer) = self
                    .graphql::<NamespaceHoldersData>(document, &variables)
                    .await?;
                if missing_duo_field(&answer.errors, duo_activity) {
                    return Ok(HoldersAnswer::NoDuoActivityField);
                }
                let Some(data) = answer.data else {
                    return Err(self.refusal(&endpoint, document, &answer.errors));
                };
                let Some(namespace) = data.namespace else {
                    // `Namespace` is authorised with :read_namespace: unknown and hidden look alike
                    return Err(GitLabError::GraphQlForbidden {
                        endpoint,
                        field: "namespace".into(),
                        message: format!(
                            "GitLab knows no group `{full_path}` that this token can see"
                        ),
                    });
                };
                self.complete(&endpoint, document, namespace.users, &answer.errors)?
            }
            AddOnScope::SelfManaged => {
                let (endpoint, answer) = self
                    .graphql::<SelfManagedHoldersData>(document, &variables)
                    .await?;
                if missing_duo_field(&answer.errors, duo_activity) {
                    return Ok(HoldersAnswer::NoDuoActivityField);
                }
                let users = answer.data.and_then(|d| d.users);
                self.complete(&endpoint, document, users, &answer.errors)?
            }
        };
        let endpoint = self.graphql_endpoint();
        holders_of(connection, duo_activity, &endpoint).map(HoldersAnswer::Page)
    }

    /// The connection if GitLab answered it whole, else the error that says why not.
    fn complete(
        &self,
        endpoint: &str,
        document: Document,
        connection: Option<Connection>,
        errors: &[GraphQlError],
    ) -> Result<Connection, GitLabError> {
        match (connection, errors.first()) {
            (Some(connection), None) => Ok(connection),
            (Some(_), Some(first)) => Err(self.graphql_error(endpoint, document, &first.message)),
            (None, _) => Err(self.refusal(endpoint, document, errors)),
        }
    }

    /// The error for a `null` (or missing) field: a permission refusal when GitLab said so.
    fn refusal(&self, endpoint: &str, document: Document, errors: &[GraphQlError]) -> GitLabError {
        if let Some(refusal) = errors.iter().find(|e| e.is_access_refusal()) {
            return GitLabError::GraphQlForbidden {
                endpoint: endpoint.to_string(),
                field: document.field().into(),
                message: self.scrubbed(&refusal.message),
            };
        }
        match errors.first() {
            Some(first) => self.graphql_error(endpoint, document, &first.message),
            None => self.graphql_error(
                endpoint,
                document,
                "GitLab answered null without saying why",
            ),
        }
    }

    fn graphql_error(&self, endpoint: &str, document: Document, message: &str) -> GitLabError {
        GitLabError::GraphQl {
            endpoint: endpoint.to_string(),
            field: document.field().into(),
            message: self.scrubbed(message),
        }
    }

    /// GitLab's message with the token cut out, should a proxy or a GitLab bug ever echo it.
    fn scrubbed(&self, message: &str) -> String {
        let token = self.token_text();
        if token.is_empty() {
            message.to_string()
        } else {
            message.replace(&token, "<redacted>")
        }
    }

    /// `GET /api/graphql?query=…&variables=…` through the client's one GET path.
    async fn graphql<D: DeserializeOwned>(
        &self,
        document: Document,
        variables: &serde_json::Value,
    ) -> Result<(String, Envelope<D>), GitLabError> {
        let url = self.graphql_url(document, variables)?;
        let endpoint = self.graphql_endpoint();
        let answer = self.get_json::<Envelope<D>>(&url).await?;
        Ok((endpoint, answer))
    }

    fn graphql_url(
        &self,
        document: Document,
        variables: &serde_json::Value,
    ) -> Result<Url, GitLabError> {
        let mut url =
            self.base()
                .web_root()
                .join("api/graphql")
                .map_err(|e| GitLabError::Config {
                    reason: format!("cannot form the GraphQL URL: {e}"),
                })?;
        url.query_pairs_mut()
            .append_pair("query", &document.text())
            .append_pair("variables", &variables.to_string());
        Ok(url)
    }

    /// What errors name for the GraphQL endpoint (its path; the query string holds no secret,
    /// but it is long).
    fn graphql_endpoint(&self) -> String {
        let path = self.base().web_root().path().trim_end_matches('/');
        format!("{path}/api/graphql")
    }
}

fn missing_duo_field(errors: &[GraphQlError], asked: bool) -> bool {
    asked
        && errors
            .iter()
            .any(|e| e.is_undefined_field("AddOnUser", "lastDuoActivityOn"))
}

/// The holders of one page and the cursor of the next.
fn holders_of(
    connection: Connection,
    duo_activity: bool,
    endpoint: &str,
) -> Result<HoldersPage, GitLabError> {
    let hidden = connection.nodes.iter().filter(|n| n.is_none()).count();
    if hidden > 0 {
        tracing::warn!(
            hidden,
            "GitLab hid some add-on seat holders from this token"
        );
    }
    let holders = connection
        .nodes
        .into_iter()
        .flatten()
        .map(|raw| holder(raw, duo_activity, endpoint))
        .collect::<Result<Vec<_>, _>>()?;
    let info = connection.page_info;
    let next = page_cursor(info.has_next_page, info.end_cursor, endpoint)?;
    Ok(HoldersPage { holders, next })
}

/// The cursor to the page after one, `None` where GitLab says there is none; an error where it
/// says there is one but gives no cursor.
fn page_cursor(
    more: bool,
    cursor: Option<String>,
    endpoint: &str,
) -> Result<Option<String>, GitLabError> {
    match (more, cursor) {
        (false, _) => Ok(None),
        (true, Some(cursor)) if !cursor.is_empty() => Ok(Some(cursor)),
        (true, _) => Err(GitLabError::BadBody {
            endpoint: endpoint.to_string(),
            reason: "GitLab says more holders follow but gives no cursor to them".into(),
            attempts: 1,
        }),
    }
}

/// Adds `page` to `holders`, keeping the first answer for an id read twice (a page that
/// shifted).
fn keep_first(holders: &mut BTreeMap<u64, AddOnHolder>, page: Vec<AddOnHolder>) {
    for holder in page {
        holders.entry(holder.user_id).or_insert(holder);
    }
}

fn holder(raw: RawHolder, duo_activity: bool, endpoint: &str) -> Result<AddOnHolder, GitLabError> {
    let user_id = user_id_of(&raw.id).ok_or_else(|| GitLabError::BadBody {
        endpoint: endpoint.to_string(),
        reason: format!("`{}` is not a GitLab user id", raw.id),
        attempts: 1,
    })?;
    let last_duo_activity_on = match (duo_activity, raw.last_duo_activity_on) {
        (false, _) => DuoActivity::NotExposed,
        (true, None) => DuoActivity::Never,
        (true, Some(day)) => DuoActivity::On(day),
    };
    Ok(AddOnHolder {
        user_id,
        username: raw.username,
        last_activity_on: raw.last_activity_on,
        last_login_at: raw.last_login_at,
        last_duo_activity_on,
    })
}

/// `gid://gitlab/User/42` → 42.
fn user_id_of(global_id: &str) -> Option<u64> {
    global_id.strip_prefix("gid://gitlab/User/")?.parse().ok()
}

#[cfg(test)]
#[path = "graphql_tests.rs"]
mod tests;
