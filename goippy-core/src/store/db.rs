//! The one place that knows there are two databases.
//!
//! SQLite and MySQL/MariaDB sit behind two concrete sqlx pools rather than
//! `AnyPool`: the original goippy's MySQL columns (TINYINT(1), TIMESTAMP,
//! ENUM) are outside what `Any` can decode, each backend needs its own
//! connection settings (WAL and a busy timeout; utf8mb4 and UTC; see
//! `store/sqlite.rs` and `store/mysql.rs`), and a generic `DB: Database`
//! would carry sqlx's trait bounds through every query.
//!
//! So the rules of the store (`store/apply.rs`, `store/reads.rs`,
//! `store/gateways.rs`, …) are ordinary Rust over [`Db`] and [`Tx`], with a
//! query builder that reads like sqlx's own:
//!
//! ```text
//! tx.query(MARK_DELIVERED).bind(now.unix()).bind(id).execute().await?
//! ```
//!
//! A statement is a `&'static str` when both dialects accept the same text,
//! or an [`Sql`] that spells out each dialect's text side by side (upserts,
//! time conversions, casts, `DELETE … LIMIT`). Bound values are the two
//! kinds both drivers store alike: integers and text ([`Value`]). Rows
//! decode into `#[derive(sqlx::FromRow)]` types, which serve both drivers
//! ([`FromDbRow`]). Every query stays a `'static` string or one joined from
//! two of them, as sqlx 0.9's `query()` wants.

use std::borrow::Cow;

use sqlx::mysql::{MySql, MySqlConnection, MySqlPool, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Encode, FromRow, Transaction, Type};

use super::error::StoreError;

/// The store's database: a pool of one of the two kinds. Clones share it.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
}

/// Which SQL dialect a database speaks (for the few statements that are
/// built at run time, in `store/legacy.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    MySql,
}

/// One statement in each dialect. A plain `&'static str` converts into one
/// whose two texts are the same.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    pub sqlite: &'static str,
    pub mysql: &'static str,
}

impl Sql {
    pub(crate) fn text(self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::MySql => self.mysql,
        }
    }
}

impl From<&'static str> for Sql {
    fn from(both: &'static str) -> Sql {
        Sql {
            sqlite: both,
            mysql: both,
        }
    }
}

/// Starts a transaction that will write. SQLite takes its one write lock at
/// once: a plain BEGIN would fail with SQLITE_BUSY at the first write
/// instead of waiting its busy timeout.
const BEGIN_WRITE: Sql = Sql {
    sqlite: "BEGIN IMMEDIATE",
    mysql: "BEGIN",
};

/// A value to bind: the two kinds both drivers store alike.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Int(Option<i64>),
    Text(Option<Cow<'a, str>>),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

/// As 0 or 1: what both the original's TINYINT(1) and SQLite hold.
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(Some(i64::from(v)))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::Text(v.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::Text(v.as_deref().map(Cow::Borrowed))
    }
}

/// A row type both drivers can decode: what `#[derive(sqlx::FromRow)]`
/// makes of a struct whose fields are integers, text and their `Option`s,
/// and tuples of those.
pub(crate) trait FromDbRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, MySqlRow> + Send + Unpin
{
}

impl<T> FromDbRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, MySqlRow> + Send + Unpin
{
}

/// What an INSERT, UPDATE or DELETE did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    pub rows_affected: u64,
    /// The id of the row an INSERT created.
    pub inserted_id: i64,
}

/// The SQL text of one query.
enum Text {
    Static(&'static str),
    /// Joined at run time from constants ([`Query::then`]), or built from
    /// the schema's own table names (`store/legacy.rs`).
    Built(String),
}

/// Where a query runs.
enum On<'q> {
    SqlitePool(&'q SqlitePool),
    MySqlPool(&'q MySqlPool),
    Sqlite(&'q mut SqliteConnection),
    MySql(&'q mut MySqlConnection),
}

impl On<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            On::SqlitePool(_) | On::Sqlite(_) => Dialect::Sqlite,
            On::MySqlPool(_) | On::MySql(_) => Dialect::MySql,
        }
    }
}

/// One statement with its values, ready to run on a pool or in a
/// transaction. Built by [`Db::query`] or [`Tx::query`].
#[must_use = "a query does nothing until it is run"]
pub(crate) struct Query<'q> {
    on: On<'q>,
    text: Text,
    args: Vec<Value<'q>>,
}

impl<'q> Query<'q> {
    fn new(on: On<'q>, sql: Sql) -> Query<'q> {
        let text = Text::Static(sql.text(on.dialect()));
        Query {
            on,
            text,
            args: Vec::new(),
        }
    }

    /// Binds the next `?`.
    pub(crate) fn bind(mut self, value: impl Into<Value<'q>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Appends `rest` to the statement: one SELECT, several WHERE clauses.
    pub(crate) fn then(mut self, rest: &'static str) -> Self {
        self.text = match self.text {
            Text::Static(start) => Text::Built(format!("{start}{rest}")),
            Text::Built(start) => Text::Built(start + rest),
        };
        self
    }

    pub(crate) async fn execute(self) -> Result<Done, sqlx::Error> {
        let (text, args) = (self.text, self.args);
        match self.on {
            On::SqlitePool(pool) => bound(text, args).execute(pool).await.map(sqlite_done),
            On::Sqlite(conn) => bound(text, args).execute(conn).await.map(sqlite_done),
            On::MySqlPool(pool) => bound(text, args).execute(pool).await.map(mysql_done),
            On::MySql(conn) => bound(text, args).execute(conn).await.map(mysql_done),
        }
    }

    pub(crate) async fn fetch_optional<T: FromDbRow>(self) -> Result<Option<T>, sqlx::Error> {
        let (text, args) = (self.text, self.args);
        match self.on {
            On::SqlitePool(pool) => bound(text, args).fetch_optional(pool).await?.map(decode),
            On::Sqlite(conn) => bound(text, args).fetch_optional(conn).await?.map(decode),
            On::MySqlPool(pool) => bound(text, args).fetch_optional(pool).await?.map(decode),
            On::MySql(conn) => bound(text, args).fetch_optional(conn).await?.map(decode),
        }
        .transpose()
    }

    pub(crate) async fn fetch_all<T: FromDbRow>(self) -> Result<Vec<T>, sqlx::Error> {
        let (text, args) = (self.text, self.args);
        match self.on {
            On::SqlitePool(pool) => decode_all(bound(text, args).fetch_all(pool).await?),
            On::Sqlite(conn) => decode_all(bound(text, args).fetch_all(conn).await?),
            On::MySqlPool(pool) => decode_all(bound(text, args).fetch_all(pool).await?),
            On::MySql(conn) => decode_all(bound(text, args).fetch_all(conn).await?),
        }
    }

    /// The one row (sqlx's `fetch_one`: none is `RowNotFound`).
    pub(crate) async fn fetch_one<T: FromDbRow>(self) -> Result<T, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the row, if there is one (sqlx's `query_scalar`).
    pub(crate) async fn scalar_optional<T>(self) -> Result<Option<T>, sqlx::Error>
    where
        (T,): FromDbRow,
    {
        Ok(self.fetch_optional::<(T,)>().await?.map(|(v,)| v))
    }

    /// The first column of the one row.
    pub(crate) async fn scalar_one<T>(self) -> Result<T, sqlx::Error>
    where
        (T,): FromDbRow,
    {
        Ok(self.fetch_one::<(T,)>().await?.0)
    }

    /// The first column of every row.
    pub(crate) async fn scalar_all<T>(self) -> Result<Vec<T>, sqlx::Error>
    where
        (T,): FromDbRow,
    {
        Ok(self
            .fetch_all::<(T,)>()
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }
}

fn decode<R: sqlx::Row, T: for<'r> FromRow<'r, R>>(row: R) -> Result<T, sqlx::Error> {
    T::from_row(&row)
}

fn decode_all<R: sqlx::Row, T: for<'r> FromRow<'r, R>>(
    rows: Vec<R>,
) -> Result<Vec<T>, sqlx::Error> {
    rows.iter().map(T::from_row).collect()
}

fn sqlite_done(r: sqlx::sqlite::SqliteQueryResult) -> Done {
    Done {
        rows_affected: r.rows_affected(),
        inserted_id: r.last_insert_rowid(),
    }
}

fn mysql_done(r: sqlx::mysql::MySqlQueryResult) -> Done {
    Done {
        rows_affected: r.rows_affected(),
        inserted_id: r.last_insert_id() as i64,
    }
}

/// The statement with its arguments bound, for the driver of the
/// executor it runs on (inferred there).
fn bound<DB: sqlx::Database>(
    text: Text,
    args: Vec<Value<'_>>,
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
{
    let mut query = match text {
        Text::Static(sql) => sqlx::query(sql),
        Text::Built(sql) => sqlx::query(AssertSqlSafe(sql)),
    };
    for arg in &args {
        query = match arg {
            Value::Int(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.as_deref()),
        };
    }
    query
}

impl Db {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::MySql(_) => Dialect::MySql,
        }
    }

    /// A connection the pool lends for one statement.
    fn pooled(&self) -> On<'_> {
        match self {
            Db::Sqlite(pool) => On::SqlitePool(pool),
            Db::MySql(pool) => On::MySqlPool(pool),
        }
    }

    /// A statement run on a connection the pool lends for it.
    pub(crate) fn query(&self, sql: impl Into<Sql>) -> Query<'_> {
        Query::new(self.pooled(), sql.into())
    }

    /// A statement whose text was built at run time from the schema's own
    /// names (never from outside input).
    pub(crate) fn query_built(&self, sql: String) -> Query<'_> {
        Query {
            on: self.pooled(),
            text: Text::Built(sql),
            args: Vec::new(),
        }
    }

    /// Runs DDL built from the schema's own names. MySQL gets it as plain
    /// text, not as a prepared statement.
    pub(crate) async fn execute_ddl(&self, sql: String) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
            Db::MySql(pool) => sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
        }
    }

    /// A write transaction (see [`BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with(BEGIN_WRITE.sqlite).await?),
            Db::MySql(pool) => Tx::MySql(pool.begin_with(BEGIN_WRITE.mysql).await?),
        })
    }

    /// A connection of the pool's own, until it is dropped.
    pub(crate) async fn acquire(&self) -> Result<Pooled, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Pooled::Sqlite(pool.acquire().await?),
            Db::MySql(pool) => Pooled::MySql(pool.acquire().await?),
        })
    }

    /// Adopts a database of the original goippy (`store/legacy.rs`), then
    /// runs the migrations of this dialect.
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        // COMPAT: an original goippy's database is first brought to migration
        // 0001's starting point; see store/legacy.rs for when this can go.
        super::legacy::adopt(self).await?;
        let run = match self {
            Db::Sqlite(pool) => {
                let mut migrator = sqlx::migrate!("migrations/sqlite");
                migrator.dangerous_set_table_name(super::MIGRATIONS_TABLE);
                migrator.run(pool).await
            }
            Db::MySql(pool) => {
                let mut migrator = sqlx::migrate!("migrations/mysql");
                migrator.dangerous_set_table_name(super::MIGRATIONS_TABLE);
                migrator.run(pool).await
            }
        };
        run.map_err(StoreError::from_migration)
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::MySql(pool) => pool.close().await,
        }
    }
}

/// A connection taken from the pool; back to it when dropped, unless
/// [`Pooled::close_on_drop`].
pub(crate) enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    MySql(PoolConnection<MySql>),
}

impl Pooled {
    /// When dropped, the connection is closed instead of going back to the
    /// pool: it may be in an unknown state.
    pub(crate) fn close_on_drop(&mut self) {
        match self {
            Pooled::Sqlite(conn) => conn.close_on_drop(),
            Pooled::MySql(conn) => conn.close_on_drop(),
        }
    }

    /// A write transaction on this connection (see [`BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            Pooled::Sqlite(conn) => Tx::Sqlite(conn.begin_with(BEGIN_WRITE.sqlite).await?),
            Pooled::MySql(conn) => Tx::MySql(conn.begin_with(BEGIN_WRITE.mysql).await?),
        })
    }
}

/// A transaction; rolled back if dropped before [`Tx::commit`].
pub(crate) enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    MySql(Transaction<'c, MySql>),
}

impl Tx<'_> {
    /// A statement run inside the transaction.
    pub(crate) fn query(&mut self, sql: impl Into<Sql>) -> Query<'_> {
        let on = match self {
            Tx::Sqlite(tx) => On::Sqlite(tx),
            Tx::MySql(tx) => On::MySql(tx),
        };
        Query::new(on, sql.into())
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::MySql(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::MySql(tx) => tx.rollback().await,
        }
    }
}

/// A pooled connection that is closed, not handed back to the pool, when
/// the future using it is dropped before [`CutOffGuard::finished`]: a
/// statement cut off by a timeout leaves the connection in an unknown state
/// (inside a transaction, a reply unread, a server that stopped answering).
pub(crate) struct CutOffGuard {
    conn: Pooled,
    finished: bool,
}

impl CutOffGuard {
    pub(crate) fn new(conn: Pooled) -> Self {
        CutOffGuard {
            conn,
            finished: false,
        }
    }

    pub(crate) fn connection(&mut self) -> &mut Pooled {
        &mut self.conn
    }

    /// The work ran to its end: the connection may go back to the pool.
    pub(crate) fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for CutOffGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}
