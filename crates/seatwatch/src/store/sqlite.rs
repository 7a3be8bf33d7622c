//! The embedded store (`sqlite:PATH`): one file, WAL mode, a schema people can query.
//!
//! ```sql
//! days(instance, date, run, parts, collected_at, seats_purchased, seats_in_use, seats_max_used,
//!      members, seat_holders, summary)          -- one row per committed day; `summary` is the
//!                                               -- whole DaySummary as JSON (json_extract works)
//! member_parts(instance, date, run, part, members) -- which parts a run wrote
//! members(instance, date, run, part, id, username, name, email, state, bot, admin, auditor,
//!         external, holds_seat, membership_type, created_at, last_activity_on, last_sign_in_at,
//!         current_sign_in_at, last_login_at, pushes, commits, mrs_opened, ..., other_events,
//!         activity_unknown, member_since, last_contribution_on)
//!                                               -- one column per activity kind, see `activity_column`
//! committed_members                             -- view: members of committed runs only
//! duo_holders(instance, date, run, add_on, user_id, username, last_duo_use, last_duo_activity_on,
//!             last_activity_on, last_login_at, first_seen_assigned)
//!                                               -- GitLab Duo seat holders; `last_duo_use` is
//!                                               -- `unknown`, `never` or `on` (then the date)
//! committed_duo_holders                         -- view: holders of committed runs only
//! checkpoints(instance, date, state)
//! ```
//! Dates are `YYYY-MM-DD`, timestamps RFC 3339 in UTC, flags 0/1, so `sqlite3 seatwatch.db
//! "select username from committed_members where date = '2026-03-01' and holds_seat"` just works.
//!
//! The commit (day row, removal of other runs' members of that day, retention pruning) is one
//! transaction. rusqlite is synchronous, so every call runs on tokio's blocking pool with the
//! connection behind a mutex.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params, params_from_iter};

use super::{CarriedForward, RunId, SnapshotReader, SnapshotWriter, StoreError, StoreProvisioner};
use seatwatch_core::duo::{DuoHolder, DuoUse};
use seatwatch_core::snapshot::{Activity, ActivityKind, DaySummary, InstanceId, Member, UserState};

const SCHEMA_VERSION: i64 = 1;

/// The tables; `{activity_columns}` stands for the activity kinds' columns ([`schema`]).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS days (
    instance        TEXT    NOT NULL,
    date            TEXT    NOT NULL,
    run             TEXT    NOT NULL,
    parts           INTEGER NOT NULL,
    collected_at    TEXT    NOT NULL,
    seats_purchased INTEGER,
    seats_in_use    INTEGER NOT NULL,
    seats_max_used  INTEGER,
    members         INTEGER NOT NULL,
    seat_holders    INTEGER NOT NULL,
    summary         TEXT    NOT NULL,
    PRIMARY KEY (instance, date)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS member_parts (
    instance TEXT    NOT NULL,
    date     TEXT    NOT NULL,
    run      TEXT    NOT NULL,
    part     INTEGER NOT NULL,
    members  INTEGER NOT NULL,
    PRIMARY KEY (instance, date, run, part)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS members (
    instance           TEXT    NOT NULL,
    date               TEXT    NOT NULL,
    run                TEXT    NOT NULL,
    part               INTEGER NOT NULL,
    id                 INTEGER NOT NULL,
    username           TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    email              TEXT,
    state              TEXT    NOT NULL,
    bot                INTEGER NOT NULL,
    admin              INTEGER NOT NULL,
    auditor            INTEGER NOT NULL,
    external           INTEGER NOT NULL,
    holds_seat         INTEGER NOT NULL,
    membership_type    TEXT,
    created_at         TEXT,
    last_activity_on   TEXT,
    last_sign_in_at    TEXT,
    current_sign_in_at TEXT,
    last_login_at      TEXT,
    {activity_columns}
    activity_unknown   INTEGER NOT NULL DEFAULT 0,
    member_since       TEXT,
    last_contribution_on TEXT,
    PRIMARY KEY (instance, date, run, id)
) WITHOUT ROWID;

CREATE VIEW IF NOT EXISTS committed_members AS
    SELECT m.* FROM members m JOIN days d USING (instance, date, run);

CREATE TABLE IF NOT EXISTS duo_holders (
    instance             TEXT    NOT NULL,
    date                 TEXT    NOT NULL,
    run                  TEXT    NOT NULL,
    add_on               TEXT    NOT NULL,
    user_id              INTEGER NOT NULL,
    username             TEXT    NOT NULL,
    last_duo_use         TEXT    NOT NULL,
    last_duo_activity_on TEXT,
    last_activity_on     TEXT,
    last_login_at        TEXT,
    first_seen_assigned  TEXT    NOT NULL,
    PRIMARY KEY (instance, date, run, add_on, user_id)
) WITHOUT ROWID;

CREATE VIEW IF NOT EXISTS committed_duo_holders AS
    SELECT h.* FROM duo_holders h JOIN days d USING (instance, date, run);

CREATE TABLE IF NOT EXISTS checkpoints (
    instance TEXT NOT NULL,
    date     TEXT NOT NULL,
    state    TEXT NOT NULL,
    PRIMARY KEY (instance, date)
) WITHOUT ROWID;
";

/// [`SCHEMA`] with one `members` column per activity kind.
fn schema() -> String {
    let columns: Vec<String> = ActivityKind::ALL
        .into_iter()
        .map(|kind| format!("{:<18} INTEGER NOT NULL DEFAULT 0,", activity_column(kind)))
        .collect();
    SCHEMA.replace("{activity_columns}", &columns.join("\n    "))
}

/// The `members` column of an activity kind: its name, but `other_events` for `other`, which
/// reads as "other" anything in SQL.
fn activity_column(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Other => "other_events",
        kind => kind.name(),
    }
}

/// The member columns read and written, in [`MemberRow::values`] and [`member_from_row`] order:
/// the fixed ones, then one per activity kind, then those added later.
fn member_columns() -> String {
    let mut columns: Vec<&str> = MEMBER_COLUMNS_BEFORE_ACTIVITY.to_vec();
    columns.extend(ActivityKind::ALL.map(activity_column));
    columns.extend(MEMBER_COLUMNS_AFTER_ACTIVITY);
    columns.join(", ")
}

const MEMBER_COLUMNS_BEFORE_ACTIVITY: [&str; 16] = [
    "id",
    "username",
    "name",
    "email",
    "state",
    "bot",
    "admin",
    "auditor",
    "external",
    "holds_seat",
    "membership_type",
    "created_at",
    "last_activity_on",
    "last_sign_in_at",
    "current_sign_in_at",
    "last_login_at",
];
const MEMBER_COLUMNS_AFTER_ACTIVITY: [&str; 3] =
    ["activity_unknown", "member_since", "last_contribution_on"];

/// Where the activity columns start in [`member_columns`].
const FIRST_ACTIVITY_COLUMN: usize = MEMBER_COLUMNS_BEFORE_ACTIVITY.len();
/// Where the columns after the activity start in [`member_columns`].
const AFTER_ACTIVITY_COLUMN: usize = FIRST_ACTIVITY_COLUMN + ActivityKind::ALL.len();

/// Columns added after a database may have been created: (table, column, definition). Each is
/// added when missing, so an older `seatwatch.db` opens with its rows intact (old rows read the
/// default, or NULL).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("members", "activity_unknown", "INTEGER NOT NULL DEFAULT 0"),
    ("members", "member_since", "TEXT"),
    ("members", "last_contribution_on", "TEXT"),
];

/// The embedded store; cheap to clone (the connection is shared).
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    retention_days: u32,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("retention_days", &self.retention_days)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and its schema. Blocking: call it from
    /// `spawn_blocking` in async code, or use [`super::open`].
    pub fn open(path: &Path, retention_days: u32) -> Result<Self, StoreError> {
        let err = |e| StoreError::sqlite(path, e);
        let conn = Connection::open(path).map_err(err)?;
        // WAL lets the report read while a collection writes; NORMAL is durable at each commit
        // in WAL mode, which is the only durability point the protocol needs.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        create_schema(&conn).map_err(err)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            retention_days,
        })
    }

    /// Runs `work` on the blocking pool with the connection locked.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| {
                StoreError::Internal(
                    "an earlier SQLite call panicked while holding the connection; restart seatwatch"
                        .into(),
                )
            })?;
            work(&mut conn).map_err(|e| StoreError::sqlite(&path, e))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("the SQLite task failed: {e}")))?
    }
}

fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&schema())?;
    for (table, column, definition) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |row| row.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn conversion_error(
    column: usize,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}

fn get_date(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<NaiveDate>> {
    row.get::<_, Option<String>>(column)?
        .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| conversion_error(column, e)))
        .transpose()
}

fn get_time(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<String>>(column)?
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| conversion_error(column, e))
        })
        .transpose()
}

/// Reads a row selected with [`member_columns`], in that order.
fn member_from_row(row: &Row<'_>) -> rusqlite::Result<Member> {
    let id: i64 = row.get(0)?;
    let state: String = row.get(4)?;
    let mut activity = [0; ActivityKind::ALL.len()];
    for (i, count) in activity.iter_mut().enumerate() {
        *count = row.get(FIRST_ACTIVITY_COLUMN + i)?;
    }
    Ok(Member {
        id: u64::try_from(id).map_err(|e| conversion_error(0, e))?,
        username: row.get(1)?,
        name: row.get(2)?,
        email: row.get(3)?,
        state: serde_json::from_value(serde_json::Value::String(state))
            .map_err(|e| conversion_error(4, e))?,
        bot: row.get(5)?,
        admin: row.get(6)?,
        auditor: row.get(7)?,
        external: row.get(8)?,
        holds_seat: row.get(9)?,
        membership_type: row.get(10)?,
        created_at: get_time(row, 11)?,
        last_activity_on: get_date(row, 12)?,
        last_sign_in_at: get_time(row, 13)?,
        current_sign_in_at: get_time(row, 14)?,
        last_login_at: get_time(row, 15)?,
        member_since: get_time(row, AFTER_ACTIVITY_COLUMN + 1)?,
        activity: Activity::from_counts(activity),
        activity_unknown: row.get(AFTER_ACTIVITY_COLUMN)?,
        last_contribution_on: get_date(row, AFTER_ACTIVITY_COLUMN + 2)?,
    })
}

/// A member as the values of one `members` row after (instance, date, run, part).
struct MemberRow {
    id: i64,
    username: String,
    name: String,
    email: Option<String>,
    state: String,
    flags: [bool; 5],
    membership_type: Option<String>,
    created_at: Option<String>,
    last_activity_on: Option<String>,
    last_sign_in_at: Option<String>,
    current_sign_in_at: Option<String>,
    last_login_at: Option<String>,
    activity: [u32; ActivityKind::ALL.len()],
    activity_unknown: bool,
    member_since: Option<String>,
    last_contribution_on: Option<String>,
}

impl TryFrom<&Member> for MemberRow {
    type Error = StoreError;

    fn try_from(m: &Member) -> Result<Self, Self::Error> {
        Ok(MemberRow {
            id: i64::try_from(m.id).map_err(|_| {
                StoreError::Encode(format!("user id {} does not fit SQLite's INTEGER", m.id))
            })?,
            username: m.username.clone(),
            name: m.name.clone(),
            email: m.email.clone(),
            state: state_text(&m.state),
            flags: [m.bot, m.admin, m.auditor, m.external, m.holds_seat],
            membership_type: m.membership_type.clone(),
            created_at: m.created_at.map(time_text),
            last_activity_on: m.last_activity_on.map(date_text),
            last_sign_in_at: m.last_sign_in_at.map(time_text),
            current_sign_in_at: m.current_sign_in_at.map(time_text),
            last_login_at: m.last_login_at.map(time_text),
            member_since: m.member_since.map(time_text),
            activity: m.activity.counts(),
            activity_unknown: m.activity_unknown,
            last_contribution_on: m.last_contribution_on.map(date_text),
        })
    }
}

impl MemberRow {
    /// The values of [`member_columns`], in that order.
    fn values(&self) -> Vec<&dyn ToSql> {
        let mut values: Vec<&dyn ToSql> = vec![
            &self.id,
            &self.username,
            &self.name,
            &self.email,
            &self.state,
        ];
        values.extend(self.flags.iter().map(|flag| flag as &dyn ToSql));
        values.extend::<[&dyn ToSql; 6]>([
            &self.membership_type,
            &self.created_at,
            &self.last_activity_on,
            &self.last_sign_in_at,
            &self.current_sign_in_at,
            &self.last_login_at,
        ]);
        values.extend(self.activity.iter().map(|count| count as &dyn ToSql));
        values.extend::<[&dyn ToSql; 3]>([
            &self.activity_unknown,
            &self.member_since,
            &self.last_contribution_on,
        ]);
        values
    }
}

fn state_text(state: &UserState) -> String {
    state.as_str().to_string()
}

/// The columns of `days` besides the key and run, taken from the summary.
struct DayRow {
    collected_at: String,
    seats_purchased: Option<i64>,
    seats_in_use: i64,
    seats_max_used: Option<i64>,
    members: i64,
    seat_holders: i64,
    summary: String,
}

impl TryFrom<&DaySummary> for DayRow {
    type Error = StoreError;

    fn try_from(s: &DaySummary) -> Result<Self, Self::Error> {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(DayRow {
            collected_at: time_text(s.collected_at),
            seats_purchased: s.seats.purchased.map(int),
            seats_in_use: int(s.seats.in_use),
            seats_max_used: s.seats.max_used.map(int),
            members: int(s.aggregates.members),
            seat_holders: int(s.aggregates.seat_holders),
            summary: serde_json::to_string(s)
                .map_err(|e| StoreError::Encode(format!("day summary: {e}")))?,
        })
    }
}

/// Inserts one part's member rows; the part's old rows are already gone.
fn insert_members(
    tx: &Connection,
    instance: &str,
    date: &str,
    run_id: &str,
    part: u32,
    rows: &[MemberRow],
) -> rusqlite::Result<()> {
    let columns = member_columns();
    let placeholders: Vec<String> = (1..=4 + columns.split(", ").count())
        .map(|i| format!("?{i}"))
        .collect();
    let mut insert = tx.prepare(&format!(
        "INSERT OR REPLACE INTO members (instance, date, run, part, {columns}) \
         VALUES ({})",
        placeholders.join(", ")
    ))?;
    for r in rows {
        let key: [&dyn ToSql; 4] = [&instance, &date, &run_id, &part];
        insert.execute(params_from_iter(key.into_iter().chain(r.values())))?;
    }
    Ok(())
}

/// The first of a run's `parts` not written yet, if any: a day record must never name a part
/// that is not there.
fn missing_part(tx: &Connection, run: &RunId, parts: u32) -> rusqlite::Result<Option<u32>> {
    let instance = run.instance.0.as_str();
    let date = date_text(run.date);
    let written: u32 = tx.query_row(
        "SELECT count(*) FROM member_parts \
         WHERE instance = ?1 AND date = ?2 AND run = ?3 AND part < ?4",
        params![instance, date, run.run, parts],
        |row| row.get(0),
    )?;
    if written >= parts {
        return Ok(None);
    }
    let mut stmt =
        tx.prepare("SELECT part FROM member_parts WHERE instance = ?1 AND date = ?2 AND run = ?3")?;
    let present = stmt
        .query_map(params![instance, date, run.run], |row| row.get::<_, u32>(0))?
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    Ok((0..parts).find(|p| !present.contains(p)))
}

/// Writes the day record, which makes the run's parts the day's members.
fn insert_day(tx: &Connection, run: &RunId, parts: u32, day: &DayRow) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO days (instance, date, run, parts, collected_at, \
         seats_purchased, seats_in_use, seats_max_used, members, seat_holders, summary) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            run.instance.0.as_str(),
            date_text(run.date),
            run.run,
            parts,
            day.collected_at,
            day.seats_purchased,
            day.seats_in_use,
            day.seats_max_used,
            day.members,
            day.seat_holders,
            day.summary
        ],
    )?;
    Ok(())
}

/// Deletes what the committed day makes garbage: other runs of the day (earlier commits,
/// crashed attempts), parts beyond the count the day record names, and members older than
/// the retention.
fn delete_superseded(
    tx: &Connection,
    run: &RunId,
    parts: u32,
    retention_days: u32,
) -> rusqlite::Result<()> {
    let instance = run.instance.0.as_str();
    let date = date_text(run.date);
    for table in ["members", "member_parts"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE instance = ?1 AND date = ?2 \
                 AND (run <> ?3 OR part >= ?4)"
            ),
            params![instance, date, run.run, parts],
        )?;
    }
    tx.execute(
        "DELETE FROM duo_holders WHERE instance = ?1 AND date = ?2 AND run <> ?3",
        params![instance, date, run.run],
    )?;
    // Retention counts from the committed snapshot's date, like DynamoDB's TTL.
    let cutoff = date_text(run.date - chrono::Days::new(u64::from(retention_days)));
    for table in ["members", "member_parts", "duo_holders"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE instance = ?1 AND date <= ?2"),
            params![instance, cutoff],
        )?;
    }
    Ok(())
}

/// The `duo_holders` columns after (instance, date, run), in [`duo_holder_values`] and
/// [`duo_holder_from_row`] order.
const DUO_HOLDER_COLUMNS: &str = "add_on, user_id, username, last_duo_use, \
     last_duo_activity_on, last_activity_on, last_login_at, first_seen_assigned";

/// `last_duo_use`'s words, as the report names the same facts.
const DUO_USE_UNKNOWN: &str = "unknown";
const DUO_USE_NEVER: &str = "never";
const DUO_USE_ON: &str = "on";

/// A holder as the values of [`DUO_HOLDER_COLUMNS`].
fn duo_holder_values(h: &DuoHolder) -> Result<[Box<dyn ToSql + Send>; 8], StoreError> {
    let user_id = i64::try_from(h.user_id).map_err(|_| {
        StoreError::Encode(format!(
            "user id {} does not fit SQLite's INTEGER",
            h.user_id
        ))
    })?;
    let (kind, on) = match h.last_duo_use {
        DuoUse::Unknown => (DUO_USE_UNKNOWN, None),
        DuoUse::Never => (DUO_USE_NEVER, None),
        DuoUse::On(date) => (DUO_USE_ON, Some(date_text(date))),
    };
    Ok([
        Box::new(h.add_on.clone()),
        Box::new(user_id),
        Box::new(h.username.clone()),
        Box::new(kind),
        Box::new(on),
        Box::new(h.last_activity_on.map(date_text)),
        Box::new(h.last_login_at.map(time_text)),
        Box::new(date_text(h.first_seen_assigned)),
    ])
}

/// Reads a row selected with [`DUO_HOLDER_COLUMNS`].
fn duo_holder_from_row(row: &Row<'_>) -> rusqlite::Result<DuoHolder> {
    let user_id: i64 = row.get(1)?;
    let kind: String = row.get(3)?;
    let last_duo_use = match (kind.as_str(), get_date(row, 4)?) {
        (DUO_USE_UNKNOWN, _) => DuoUse::Unknown,
        (DUO_USE_NEVER, _) => DuoUse::Never,
        (DUO_USE_ON, Some(date)) => DuoUse::On(date),
        (other, _) => {
            return Err(conversion_error(
                3,
                StoreError::Corrupt {
                    what: "a Duo holder".into(),
                    why: format!("last_duo_use {other:?} without its date, or unknown"),
                },
            ));
        }
    };
    Ok(DuoHolder {
        add_on: row.get(0)?,
        user_id: u64::try_from(user_id).map_err(|e| conversion_error(1, e))?,
        username: row.get(2)?,
        last_duo_use,
        last_activity_on: get_date(row, 5)?,
        last_login_at: get_time(row, 6)?,
        first_seen_assigned: get_date(row, 7)?
            .ok_or_else(|| conversion_error(7, StoreError::Internal("no date".into())))?,
    })
}

fn parse_summary(json: &str) -> rusqlite::Result<DaySummary> {
    serde_json::from_str(json).map_err(|e| conversion_error(0, e))
}

#[async_trait::async_trait]
impl StoreProvisioner for SqliteStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| create_schema(conn)).await
    }
}

#[async_trait::async_trait]
impl SnapshotWriter for SqliteStore {
    async fn put_members(
        &self,
        run: &RunId,
        part: u32,
        members: &[Member],
    ) -> Result<(), StoreError> {
        let rows = members
            .iter()
            .map(MemberRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let instance = run.instance.0.clone();
        let date = date_text(run.date);
        let run_id = run.run.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            // Writing a part again replaces it, so a retried part cannot leave extra members.
            tx.execute(
                "DELETE FROM members WHERE instance = ?1 AND date = ?2 AND run = ?3 AND part = ?4",
                params![instance, date, run_id, part],
            )?;
            insert_members(&tx, &instance, &date, &run_id, part, &rows)?;
            tx.execute(
                "INSERT OR REPLACE INTO member_parts (instance, date, run, part, members) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![instance, date, run_id, part, rows.len()],
            )?;
            tx.commit()
        })
        .await
    }

    async fn commit_day(
        &self,
        run: &RunId,
        parts: u32,
        summary: &DaySummary,
    ) -> Result<(), StoreError> {
        let day = DayRow::try_from(summary)?;
        let run_for_error = run.clone();
        let run = run.clone();
        let retention_days = self.retention_days;
        let missing = self
            .with_conn(move |conn| {
                let tx = conn.transaction()?;
                if let Some(missing) = missing_part(&tx, &run, parts)? {
                    return Ok(Some(missing));
                }
                insert_day(&tx, &run, parts, &day)?;
                delete_superseded(&tx, &run, parts, retention_days)?;
                tx.commit()?;
                Ok(None)
            })
            .await?;
        match missing {
            None => Ok(()),
            Some(missing_part) => Err(StoreError::IncompleteRun {
                instance: run_for_error.instance,
                date: run_for_error.date,
                run: run_for_error.run,
                parts,
                missing_part,
            }),
        }
    }

    async fn put_duo_holders(&self, run: &RunId, holders: &[DuoHolder]) -> Result<(), StoreError> {
        let rows = holders
            .iter()
            .map(duo_holder_values)
            .collect::<Result<Vec<_>, _>>()?;
        let (instance, date, run_id) =
            (run.instance.0.clone(), date_text(run.date), run.run.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            // Writing them again replaces them, so a retried run cannot hold a holder twice.
            tx.execute(
                "DELETE FROM duo_holders WHERE instance = ?1 AND date = ?2 AND run = ?3",
                params![instance, date, run_id],
            )?;
            {
                let mut insert = tx.prepare(&format!(
                    "INSERT INTO duo_holders (instance, date, run, {DUO_HOLDER_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))?;
                for values in &rows {
                    let key: [&dyn ToSql; 3] = [&instance, &date, &run_id];
                    let rest = values.iter().map(|v| v.as_ref() as &dyn ToSql);
                    insert.execute(params_from_iter(key.into_iter().chain(rest)))?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn carried_forward(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<HashMap<u64, CarriedForward>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, last_contribution_on, member_since FROM committed_members \
                 WHERE instance = ?1 AND date = ?2 \
                 AND (last_contribution_on IS NOT NULL OR member_since IS NOT NULL)",
            )?;
            stmt.query_map(params![instance, date_text(date)], |row| {
                let id: i64 = row.get(0)?;
                let id = u64::try_from(id).map_err(|e| conversion_error(0, e))?;
                let carried = CarriedForward {
                    last_contribution_on: get_date(row, 1)?,
                    member_since: get_time(row, 2)?,
                };
                Ok((id, carried))
            })?
            .collect()
        })
        .await
    }

    async fn save_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
        state: &str,
    ) -> Result<(), StoreError> {
        let (instance, state) = (instance.0.clone(), state.to_string());
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (instance, date, state) VALUES (?1, ?2, ?3)",
                params![instance, date_text(date), state],
            )
            .map(drop)
        })
        .await
    }

    async fn load_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Option<String>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT state FROM checkpoints WHERE instance = ?1 AND date = ?2",
                params![instance, date_text(date)],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }

    async fn clear_checkpoint(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<(), StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "DELETE FROM checkpoints WHERE instance = ?1 AND date = ?2",
                params![instance, date_text(date)],
            )
            .map(drop)
        })
        .await
    }
}

#[async_trait::async_trait]
impl SnapshotReader for SqliteStore {
    async fn latest_day(&self, instance: &InstanceId) -> Result<Option<DaySummary>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT summary FROM days WHERE instance = ?1 ORDER BY date DESC LIMIT 1",
                params![instance],
                |row| row.get::<_, String>(0),
            )
            .optional()?
            .map(|json| parse_summary(&json))
            .transpose()
        })
        .await
    }

    async fn days(
        &self,
        instance: &InstanceId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DaySummary>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT summary FROM days WHERE instance = ?1 AND date BETWEEN ?2 AND ?3 \
                 ORDER BY date",
            )?;
            stmt.query_map(params![instance, date_text(from), date_text(to)], |row| {
                parse_summary(&row.get::<_, String>(0)?)
            })?
            .collect()
        })
        .await
    }

    async fn members(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<Member>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            let columns = member_columns();
            let mut stmt = conn.prepare(&format!(
                "SELECT {columns} FROM committed_members \
                 WHERE instance = ?1 AND date = ?2 ORDER BY id"
            ))?;
            stmt.query_map(params![instance, date_text(date)], |row| {
                member_from_row(row)
            })?
            .collect()
        })
        .await
    }

    async fn instances(&self) -> Result<Vec<InstanceId>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare("SELECT DISTINCT instance FROM days ORDER BY instance")?;
            stmt.query_map([], |row| row.get::<_, String>(0).map(InstanceId))?
                .collect()
        })
        .await
    }

    async fn duo_holders(
        &self,
        instance: &InstanceId,
        date: NaiveDate,
    ) -> Result<Vec<DuoHolder>, StoreError> {
        let instance = instance.0.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {DUO_HOLDER_COLUMNS} FROM committed_duo_holders \
                 WHERE instance = ?1 AND date = ?2 ORDER BY add_on, user_id"
            ))?;
            stmt.query_map(params![instance, date_text(date)], duo_holder_from_row)?
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_core::snapshot::ActivityKind;

    /// The `members` columns as the database itself reports them.
    fn table_columns(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('members')")
            .unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn the_members_table_has_a_column_for_every_activity_kind() {
        let conn = Connection::open_in_memory().unwrap();
        create_schema(&conn).unwrap();
        let table = table_columns(&conn);
        for kind in ActivityKind::ALL {
            assert!(table.iter().any(|c| c == activity_column(kind)), "{kind:?}");
        }
        let read_and_written = member_columns();
        for column in read_and_written.split(", ") {
            assert!(
                table.iter().any(|c| c == column),
                "{column} is not in the table"
            );
        }
        let mut distinct: Vec<&str> = read_and_written.split(", ").collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), read_and_written.split(", ").count());
    }

    #[tokio::test]
    async fn each_activity_kind_is_stored_in_its_own_column() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kinds.db"), 30).unwrap();
        let run = RunId {
            instance: InstanceId("gitlab.example.com".into()),
            date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            run: "r1".into(),
        };
        // A distinct count per kind, so a kind stored in another's column shows.
        let mut counts = [0; ActivityKind::ALL.len()];
        for (n, count) in (10..).zip(&mut counts) {
            *count = n;
        }
        let member = Member {
            activity: Activity::from_counts(counts),
            ..Member::seat_holder(7, "u", "U")
        };
        store
            .put_members(&run, 0, std::slice::from_ref(&member))
            .await
            .unwrap();
        let conn = store.conn.lock().unwrap();
        for kind in ActivityKind::ALL {
            let column = activity_column(kind);
            let stored: u32 = conn
                .query_row(&format!("SELECT {column} FROM members"), [], |row| {
                    row.get(0)
                })
                .unwrap();
            assert_eq!(stored, member.activity.get(kind), "{kind:?} in {column}");
        }
    }
}
