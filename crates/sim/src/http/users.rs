//! `GET /users`: the filters of `app/finders/users_finder.rb`, the orders and parameter checks of
//! `lib/api/users.rb`, and both paginations of `lib/api/helpers/pagination_strategies.rb`:
//! numbered offset pages, and keyset pages with an opaque cursor
//! (`lib/gitlab/pagination/cursor_based_keyset.rb`, `lib/gitlab/pagination/keyset/`).
//!
//! What GitLab does, and so what this does:
//! - `order_by` is one of `id name username created_at updated_at` and `sort` one of `asc desc`
//!   (Grape `values:`); anything else is a 400 `"<param> does not have a valid value"`, with or
//!   without `pagination=keyset`. Without either the order is `id desc`.
//! - Every order has `id` as its tie-breaker in the same direction, and `created_at` is replaced
//!   by `id` altogether (`order_options_with_tie_breaker` in `lib/api/helpers.rb`), so a
//!   `created_at` cursor carries only the id.
//! - `CursorBasedKeyset::SUPPORTED_MULTI_ORDERING` lists every one of those orders in both
//!   directions for `User`, so on `/users` no valid order is refused by keyset pagination (its
//!   405 "Keyset pagination is not yet available for this type of request" cannot happen).
//! - The cursor is the last row's order-by values plus the direction, as JSON in URL-safe Base64
//!   (`lib/gitlab/pagination/keyset/order.rb` `cursor_attributes_for_node`: times in Rails'
//!   `:inspect` format, everything else as a string). The next page is the rows strictly after
//!   that tuple; the filters come again from the request's parameters, which the next link
//!   repeats (`header_builder.rb`).
//! - `created_after` / `created_before` are `DateTime` parameters (a value Grape cannot parse is
//!   a 400 `"<param> is invalid"`) and inclusive bounds (`created_at >=` / `<=`,
//!   `app/models/concerns/created_at_filterable.rb`). They are removed for callers who cannot
//!   `read_all_resources` (not an admin or auditor): such callers get everyone, silently.
//! - Names and usernames order by bytes, as PostgreSQL's `C` collation does.

use super::*;

/// The `order_by` values `lib/api/users.rb` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderBy {
    Id,
    Name,
    Username,
    CreatedAt,
    UpdatedAt,
}

impl OrderBy {
    const ALL: [OrderBy; 5] = [
        OrderBy::Id,
        OrderBy::Name,
        OrderBy::Username,
        OrderBy::CreatedAt,
        OrderBy::UpdatedAt,
    ];

    fn param(self) -> &'static str {
        match self {
            OrderBy::Id => "id",
            OrderBy::Name => "name",
            OrderBy::Username => "username",
            OrderBy::CreatedAt => "created_at",
            OrderBy::UpdatedAt => "updated_at",
        }
    }

    /// The column the rows are really sorted by before the `id` tie-breaker; `None` for `id`
    /// alone. `created_at` becomes `id` (`order_options_with_tie_breaker`, `lib/api/helpers.rb`).
    fn column(self) -> Option<&'static str> {
        match self {
            OrderBy::Id | OrderBy::CreatedAt => None,
            other => Some(other.param()),
        }
    }
}

/// A sorted order of every user of one population, built on first use (sorting 200,000 names
/// per page would make the simulator the bottleneck of the benchmarks).
pub(crate) struct CachedOrder {
    order: OrderBy,
    /// Held so that the population cannot be freed and its address reused while cached.
    pop: Arc<Population>,
    sorted: Arc<Vec<u32>>,
}

/// One row's place in an order: the order's column value, then the id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    /// Ordered by id alone.
    Id,
    Text(String),
    /// Milliseconds since 0001-01-01 (UTC).
    Time(i64),
}

type Row = (SortKey, u64);

/// Rails' `Time#to_fs(:inspect)`, which the keyset cursor uses for times.
const CURSOR_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.9f %z";

fn sort_key(r: &Render, order: OrderBy, index: usize) -> SortKey {
    match order {
        OrderBy::Id | OrderBy::CreatedAt => SortKey::Id,
        OrderBy::Name => SortKey::Text(r.identity(index).name),
        OrderBy::Username => SortKey::Text(r.identity(index).username),
        OrderBy::UpdatedAt => SortKey::Time(r.pop.updated_at_ms(index)),
    }
}

fn row(r: &Render, order: OrderBy, index: usize) -> Row {
    (sort_key(r, order, index), index as u64 + 1)
}

/// The positions of one order: ids themselves, or a sorted permutation of user indices.
enum Sequence {
    Ids,
    Sorted(Arc<Vec<u32>>),
}

impl Sequence {
    fn index(&self, position: usize) -> usize {
        match self {
            Sequence::Ids => position,
            Sequence::Sorted(sorted) => sorted[position] as usize,
        }
    }
}

fn sequence(ctx: &Ctx, r: &Render, order: OrderBy) -> Sequence {
    if order.column().is_none() {
        return Sequence::Ids;
    }
    let mut cache = ctx
        .sim
        .user_orders
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let is_current = |c: &CachedOrder| std::ptr::eq(Arc::as_ptr(&c.pop), ctx.pop);
    cache.retain(is_current);
    if let Some(hit) = cache.iter().find(|c| c.order == order) {
        return Sequence::Sorted(hit.sorted.clone());
    }
    let mut rows: Vec<(Row, u32)> = (0..ctx.pop.users.len())
        .map(|i| (row(r, order, i), i as u32))
        .collect();
    rows.sort_unstable();
    let sorted = Arc::new(rows.into_iter().map(|(_, i)| i).collect::<Vec<u32>>());
    cache.push(CachedOrder {
        order,
        pop: ctx.sim.population(),
        sorted: sorted.clone(),
    });
    // The population may have changed between the request's snapshot and now: only keep the
    // entry if it describes the population the request sees.
    cache.retain(is_current);
    Sequence::Sorted(sorted)
}

/// What one `/users` request asks for, checked as Grape checks it.
struct ListRequest {
    order: OrderBy,
    ascending: bool,
    keyset: bool,
    /// `created_after` and `created_before` in microseconds since 0001-01-01 (UTC).
    created_after: Option<i64>,
    created_before: Option<i64>,
}

fn invalid_param(message: String) -> Reply {
    Reply::json(StatusCode::BAD_REQUEST, &json!({ "error": message }))
}

impl ListRequest {
    fn parse(ctx: &Ctx, admin_view: bool) -> Result<ListRequest, Reply> {
        let order = match ctx.param("order_by") {
            None => OrderBy::Id,
            Some(value) => OrderBy::ALL
                .into_iter()
                .find(|o| o.param() == value)
                .ok_or_else(|| invalid_param("order_by does not have a valid value".into()))?,
        };
        let ascending = match ctx.param("sort") {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(_) => return Err(invalid_param("sort does not have a valid value".into())),
        };
        // lib/api/helpers/pagination_strategies.rb: `keyset_pagination_enabled?` is
        // `params[:pagination] == 'keyset'`; before 16.5 lib/api/users.rb called `paginate`,
        // which never looks at it, so an older GitLab answers with offset pages.
        let keyset = ctx.param("pagination") == Some("keyset") && ctx.sim.users_keyset_pagination;
        let (mut created_after, mut created_before) = (None, None);
        if ctx.sim.users_created_filters {
            created_after = created_bound(ctx, "created_after")?;
            created_before = created_bound(ctx, "created_before")?;
            // lib/api/users.rb: `index_params.except!(:created_after, :created_before, ...)`
            // unless `current_user&.can_read_all_resources?`.
            if !admin_view {
                (created_after, created_before) = (None, None);
            }
        }
        Ok(ListRequest {
            order,
            ascending,
            keyset,
            created_after,
            created_before,
        })
    }
}

/// A `DateTime` parameter as Grape coerces it (Ruby's `DateTime.parse`: a date alone is its
/// midnight, a time without a zone is UTC); blank is absent (`present?`).
fn created_bound(ctx: &Ctx, name: &str) -> Result<Option<i64>, Reply> {
    match ctx.param(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => parse_date_time(value)
            .map(Some)
            .ok_or_else(|| invalid_param(format!("{name} is invalid"))),
    }
}

/// Microseconds since 0001-01-01 (UTC) of an ISO 8601 date or date-time.
fn parse_date_time(value: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDateTime};
    let naive = DateTime::parse_from_rfc3339(value)
        .map(|t| t.naive_utc())
        .or_else(|_| {
            DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f%z").map(|t| t.naive_utc())
        })
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        })
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let day = i64::from(day_of(naive.date()));
    let since_midnight = naive.time() - chrono::NaiveTime::MIN;
    Some(day * 86_400_000_000 + since_midnight.num_microseconds()?)
}

/// The `/users` filters of `app/finders/users_finder.rb` as one request asks for them.
struct UserFilter<'a> {
    ctx: &'a Ctx<'a>,
    r: &'a Render<'a>,
    admin_view: bool,
    /// `username` (exact) or `search` (substring), lower-cased.
    text: Option<String>,
    exact_username: bool,
    created_after: Option<i64>,
    created_before: Option<i64>,
}

impl<'a> UserFilter<'a> {
    fn new(ctx: &'a Ctx<'a>, r: &'a Render<'a>, admin_view: bool, req: &ListRequest) -> Self {
        UserFilter {
            ctx,
            r,
            admin_view,
            text: ctx
                .param("username")
                .or(ctx.param("search"))
                .map(str::to_lowercase),
            exact_username: ctx.param("username").is_some(),
            created_after: req.created_after,
            created_before: req.created_before,
        }
    }

    /// `CreatedAtFilter#by_created_at`: `created_at >= created_after`, `created_at <=
    /// created_before` (`app/models/concerns/created_at_filterable.rb`).
    fn created_in_range(&self, index: usize) -> bool {
        let created = self.r.pop.users[index].created_at_ms() * 1_000;
        self.created_after.is_none_or(|after| created >= after)
            && self.created_before.is_none_or(|before| created <= before)
    }

    fn matches(&self, index: usize) -> bool {
        let (ctx, r, pop) = (self.ctx, self.r, self.r.pop);
        if !pop.exists(index) || !self.created_in_range(index) {
            return false;
        }
        let u = &pop.users[index];
        let state = u.state_on(r.as_of);
        let checks = [
            (ctx.flag("active"), state == UserState::Active),
            (
                ctx.flag("blocked"),
                matches!(state, UserState::Blocked | UserState::LdapBlocked),
            ),
            (ctx.flag("humans"), u.kind == Kind::Human),
            (ctx.flag("exclude_humans"), u.kind != Kind::Human),
            (ctx.flag("exclude_internal"), u.kind != Kind::Internal),
            (ctx.flag("without_project_bots"), u.kind != Kind::ProjectBot),
            (ctx.flag("external"), u.has(flags::EXTERNAL)),
            (ctx.flag("exclude_external"), !u.has(flags::EXTERNAL)),
            (self.admin_view && ctx.flag("admins"), u.has(flags::ADMIN)),
            (
                self.admin_view && ctx.flag("auditors"),
                u.has(flags::AUDITOR),
            ),
        ];
        if checks.iter().any(|&(wanted, ok)| wanted && !ok) {
            return false;
        }
        match &self.text {
            None => true,
            Some(needle) => {
                let v = r.identity(index);
                if self.exact_username {
                    v.username.to_lowercase() == *needle
                } else {
                    v.username.to_lowercase().contains(needle.as_str())
                        || v.name.to_lowercase().contains(needle.as_str())
                        || (self.admin_view && v.email.to_lowercase() == *needle)
                }
            }
        }
    }

    /// No filter but the creation range: in id order every position of the narrowed range
    /// matches, so a page is found without looking at each user.
    fn only_created_range(&self) -> bool {
        self.text.is_none()
            && !self.ctx.query.iter().any(|(_, v)| v == "true")
            && self.r.pop.changes.deleted.is_empty()
    }

    /// The positions to walk: for an id order, the users the creation range can match (ids
    /// follow creation, so the range is found by bisection); otherwise every user.
    fn positions(&self, sequence: &Sequence) -> std::ops::Range<usize> {
        let pop = self.r.pop;
        let visible = pop.visible(self.r.as_of);
        match sequence {
            Sequence::Sorted(sorted) => 0..sorted.len(),
            Sequence::Ids => {
                let users = &pop.users[..visible];
                let lo = self.created_after.map_or(0, |after| {
                    users.partition_point(|u| u.created_at_ms() * 1_000 < after)
                });
                let hi = self.created_before.map_or(visible, |before| {
                    users.partition_point(|u| u.created_at_ms() * 1_000 <= before)
                });
                lo..hi.max(lo)
            }
        }
    }

    /// The users as this caller sees them: admin rows or basic rows.
    fn render(&self, indices: Vec<usize>) -> Reply {
        let r = self.r;
        let body = if self.admin_view {
            let rows: Vec<_> = indices
                .into_iter()
                .map(|i| r.admin_row(&r.user(i)))
                .collect();
            serde_json::to_vec(&rows)
        } else {
            let rows: Vec<_> = indices
                .into_iter()
                .map(|i| r.basic_row(&r.identity(i)))
                .collect();
            serde_json::to_vec(&rows)
        };
        Reply::raw_json(StatusCode::OK, body.expect("users render as JSON"))
    }
}

pub(super) fn list_users(ctx: &Ctx, r: &Render, admin_view: bool) -> Reply {
    let req = match ListRequest::parse(ctx, admin_view) {
        Ok(req) => req,
        Err(reply) => return reply,
    };
    let filter = UserFilter::new(ctx, r, admin_view, &req);
    let sequence = sequence(ctx, r, req.order);
    if req.keyset {
        users_keyset_page(ctx, &filter, &req, &sequence)
    } else {
        users_offset_page(ctx, &filter, &req, &sequence)
    }
}

/// `lib/gitlab/pagination/keyset/paginator.rb`: the next page is the rows after the cursor's
/// tuple in the requested order, so a deleted or added row moves nothing.
fn users_keyset_page(ctx: &Ctx, filter: &UserFilter, req: &ListRequest, seq: &Sequence) -> Reply {
    let r = filter.r;
    let after = match ctx.param("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => match decode_cursor(cursor, req.order) {
            Some(row) => Some(row),
            // Gitlab::Json.safe_parse of a bad cursor raises; Grape answers 400.
            None => {
                return Reply::raw_json(
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"cursor is invalid"}"#,
                );
            }
        },
    };
    let per_page = page_request(ctx).per_page;
    let (indices, more) = keyset_slice(filter, req, seq, after.as_ref(), per_page);
    let next_cursor = indices
        .last()
        .filter(|_| more)
        .map(|&last| encode_cursor(req.order, &row(r, req.order, last)));
    let reply = filter.render(indices);
    match next_cursor {
        Some(cursor) => reply.header(
            "link",
            format!("<{}>; rel=\"next\"", keyset_next_link(ctx, cursor)),
        ),
        None => reply,
    }
}

/// The user indices of one keyset page: up to `per_page` matching rows strictly after `after`
/// in the requested direction, and whether more follow.
fn keyset_slice(
    filter: &UserFilter,
    req: &ListRequest,
    seq: &Sequence,
    after: Option<&Row>,
    per_page: usize,
) -> (Vec<usize>, bool) {
    let r = filter.r;
    let visible = r.pop.visible(r.as_of);
    let range = filter.positions(seq);
    // Positions whose row sorts before the cursor (`strictly`) or not after it.
    let before_cursor = |cursor: &Row, strictly: bool| match seq {
        // ids are index + 1
        Sequence::Ids => (cursor.1 as usize).saturating_sub(usize::from(strictly)),
        Sequence::Sorted(sorted) => sorted.partition_point(|&i| {
            let here = row(r, req.order, i as usize);
            if strictly {
                here < *cursor
            } else {
                here <= *cursor
            }
        }),
    };
    let wanted = |&p: &usize| {
        let i = seq.index(p);
        i < visible && filter.matches(i)
    };
    let mut walk: Box<dyn Iterator<Item = usize>> = if req.ascending {
        let start = after.map_or(range.start, |c| before_cursor(c, false).max(range.start));
        Box::new((start..range.end.max(start)).filter(wanted))
    } else {
        let end = after.map_or(range.end, |c| before_cursor(c, true).min(range.end));
        Box::new((range.start..end.max(range.start)).rev().filter(wanted))
    };
    let page: Vec<usize> = walk.by_ref().take(per_page).map(|p| seq.index(p)).collect();
    (page, walk.next().is_some())
}

/// lib/gitlab/pagination/keyset/header_builder.rb: the request's params merged with `cursor`,
/// written by `Hash#to_query` (keys sorted). The token is left out here; GitLab would echo a
/// `private_token` query parameter.
fn keyset_next_link(ctx: &Ctx, cursor: String) -> String {
    let mut pairs: Vec<(String, String)> = ctx
        .query
        .iter()
        .filter(|(k, _)| k != "private_token" && k != "cursor")
        .cloned()
        .chain(std::iter::once(("cursor".to_string(), cursor)))
        .collect();
    pairs.sort();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}{}?{}", ctx.origin, ctx.path, query)
}

/// Numbered pages (`Gitlab::Pagination::OffsetPagination`), refused past the offset limit.
fn users_offset_page(ctx: &Ctx, filter: &UserFilter, req: &ListRequest, seq: &Sequence) -> Reply {
    let visible = filter.r.pop.visible(filter.r.as_of);
    let page_req = page_request(ctx);
    if page_req.page.saturating_mul(page_req.per_page) > OFFSET_LIMIT {
        return Reply::message(
            StatusCode::METHOD_NOT_ALLOWED,
            "Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type User. Remaining records can be retrieved using keyset pagination.",
        );
    }
    let range = filter.positions(seq);
    let skip = (page_req.page - 1) * page_req.per_page;
    let in_order: Box<dyn Iterator<Item = usize>> = if req.ascending {
        Box::new(range.clone())
    } else {
        Box::new(range.clone().rev())
    };
    let (page, total) = if matches!(seq, Sequence::Ids) && filter.only_created_range() {
        let page: Vec<usize> = in_order.skip(skip).take(page_req.per_page).collect();
        (page, range.len())
    } else {
        let mut total = 0usize;
        let mut page = Vec::with_capacity(page_req.per_page);
        for i in in_order.map(|p| seq.index(p)) {
            if i < visible && filter.matches(i) {
                if total >= skip && page.len() < page_req.per_page {
                    page.push(i);
                }
                total += 1;
            }
        }
        (page, total)
    };
    let mut reply = filter.render(page);
    reply.headers = offset_headers(ctx, page_req, total);
    reply
}

/// URL-safe Base64 with padding, as Ruby's `Base64.urlsafe_encode64`.
pub(crate) fn base64_urlsafe(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Ruby's `Base64.urlsafe_decode64` (padding optional); `None` for anything else.
pub(crate) fn base64_urlsafe_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let trimmed = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i) & 0xFF) as u8);
        }
    }
    Some(out)
}

fn cursor_time(ms: i64) -> String {
    let day = ms.div_euclid(86_400_000) as Day;
    let in_day = ms.rem_euclid(86_400_000);
    let time = chrono::NaiveTime::MIN + chrono::TimeDelta::milliseconds(in_day);
    let at = crate::population::date_of(day).and_time(time).and_utc();
    at.format(CURSOR_TIME_FORMAT).to_string()
}

fn parse_cursor_time(text: &str) -> Option<i64> {
    let at = chrono::DateTime::parse_from_str(text, CURSOR_TIME_FORMAT).ok()?;
    Some(parse_date_time(&at.to_rfc3339())? / 1_000)
}

/// The cursor GitLab puts in the `Link` after `row`, forward direction: the order's column
/// first, then the `id` tie-breaker, then the direction, in the order Ruby builds the hash.
fn encode_cursor(order: OrderBy, (key, id): &Row) -> String {
    let column = match (order.column(), key) {
        (Some(name), SortKey::Text(text)) => format!("{}:{},", json!(name), json!(text)),
        (Some(name), SortKey::Time(ms)) => format!("{}:{},", json!(name), json!(cursor_time(*ms))),
        _ => String::new(),
    };
    base64_urlsafe(format!(r#"{{{column}"id":"{id}","_kd":"n"}}"#).as_bytes())
}

/// The row in a forward cursor for this order; `None` for a cursor GitLab would refuse.
fn decode_cursor(cursor: &str, order: OrderBy) -> Option<Row> {
    let json: Value = serde_json::from_slice(&base64_urlsafe_decode(cursor)?).ok()?;
    if json.get("_kd").and_then(Value::as_str).unwrap_or("n") != "n" {
        return None;
    }
    let id = match json.get("id")? {
        Value::String(id) => id.parse().ok()?,
        Value::Number(id) => id.as_u64()?,
        _ => return None,
    };
    let key = match order {
        OrderBy::Id | OrderBy::CreatedAt => SortKey::Id,
        OrderBy::Name | OrderBy::Username => {
            SortKey::Text(json.get(order.param())?.as_str()?.to_string())
        }
        OrderBy::UpdatedAt => SortKey::Time(parse_cursor_time(json.get(order.param())?.as_str()?)?),
    };
    Some((key, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_rubys_urlsafe_base64_of_the_keyset_attributes() {
        // Base64.urlsafe_encode64('{"id":"123","_kd":"n"}') in Ruby
        let id_row = (SortKey::Id, 123);
        assert_eq!(
            encode_cursor(OrderBy::Id, &id_row),
            "eyJpZCI6IjEyMyIsIl9rZCI6Im4ifQ=="
        );
        for order in [OrderBy::Id, OrderBy::CreatedAt] {
            assert_eq!(
                decode_cursor("eyJpZCI6IjEyMyIsIl9rZCI6Im4ifQ==", order),
                Some(id_row.clone())
            );
            assert_eq!(
                decode_cursor("eyJpZCI6IjEyMyIsIl9rZCI6Im4ifQ", order),
                Some(id_row.clone())
            );
        }
        assert_eq!(decode_cursor("not a cursor!", OrderBy::Id), None);
        for n in [1u64, 9, 99_999, 262_143] {
            let row = (SortKey::Id, n);
            assert_eq!(
                decode_cursor(&encode_cursor(OrderBy::Id, &row), OrderBy::Id),
                Some(row)
            );
        }
    }

    #[test]
    fn a_cursor_carries_the_order_column_before_the_id() {
        let name_row = (SortKey::Text("Zoë \"Z\" <b>".to_string()), 7);
        let cursor = encode_cursor(OrderBy::Name, &name_row);
        let json: Value =
            serde_json::from_slice(&base64_urlsafe_decode(&cursor).expect("base64")).expect("json");
        assert_eq!(json["name"], "Zoë \"Z\" <b>");
        assert_eq!(json["id"], "7");
        let text =
            String::from_utf8(base64_urlsafe_decode(&cursor).expect("base64")).expect("utf8");
        assert!(text.find("\"name\"") < text.find("\"id\""), "{text}");
        assert_eq!(decode_cursor(&cursor, OrderBy::Name), Some(name_row));
        // a cursor without the order's column is refused
        assert_eq!(decode_cursor(&cursor, OrderBy::Username), None);
        assert_eq!(
            decode_cursor(
                &encode_cursor(OrderBy::Id, &(SortKey::Id, 7)),
                OrderBy::Name
            ),
            None
        );
    }

    #[test]
    fn a_time_cursor_uses_rails_inspect_format_and_round_trips() {
        let ms = i64::from(day_of(
            chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
        )) * 86_400_000
            + 5 * 3_600_000
            + 123;
        let row = (SortKey::Time(ms), 42);
        let cursor = encode_cursor(OrderBy::UpdatedAt, &row);
        let json: Value =
            serde_json::from_slice(&base64_urlsafe_decode(&cursor).expect("base64")).expect("json");
        assert_eq!(json["updated_at"], "2026-06-30 05:00:00.123000000 +0000");
        assert_eq!(decode_cursor(&cursor, OrderBy::UpdatedAt), Some(row));
    }

    #[test]
    fn date_times_parse_as_rubys_date_time_does() {
        let midnight = parse_date_time("2026-06-30").expect("a date");
        assert_eq!(parse_date_time("2026-06-30T00:00:00Z"), Some(midnight));
        assert_eq!(parse_date_time("2026-06-30T00:00:00"), Some(midnight));
        assert_eq!(parse_date_time("2026-06-30 00:00:00"), Some(midnight));
        assert_eq!(parse_date_time("2026-06-30T02:00:00+02:00"), Some(midnight));
        assert_eq!(
            parse_date_time("2026-06-30T00:00:00.060Z"),
            Some(midnight + 60_000)
        );
        assert_eq!(parse_date_time("yesterday-ish"), None);
        assert_eq!(parse_date_time("2026-13-01"), None);
    }
}
