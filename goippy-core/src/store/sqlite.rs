//! The SQLite backend: the embedded default.
//!
//! One file, created (with its directory) when missing, readable only by
//! goippy (it holds the GoIP passwords). WAL lets the bridge read while the
//! writer writes; `synchronous=FULL` makes a commit survive a power cut,
//! which is what "stored before acked" promises — batching keeps that to one
//! fsync per batch. Write transactions start with `BEGIN IMMEDIATE`, so a
//! second writer (an admin command, the cleanup) waits for the busy timeout
//! instead of failing half-way.
//!
//! Times: see [`super::time`]; the original's TEXT timestamps are written
//! with `datetime(?, 'unixepoch')` and read with `unixepoch()`.
//!
//! The queries themselves are shared with MySQL (`store/queries.rs`, in the
//! SQLite dialect of `store/dialect.rs`); this file holds what only SQLite
//! does: the file, its connection settings and write transaction, and
//! adopting an original database.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Transaction};

use super::error::{StoreError, is_transient};
use super::legacy::{BaselineColumn, LegacySchema};

/// How long a statement waits for another writer's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings a connection of the store runs with, as SQLite reports them
/// ([`super::Store::sqlite_settings`]): what the options above asked for is
/// only a request until the database says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSettings {
    /// `PRAGMA journal_mode`, lower case: `wal`.
    pub journal_mode: String,
    /// `PRAGMA busy_timeout`.
    pub busy_timeout: Duration,
    /// `PRAGMA synchronous`: 2 is FULL.
    pub synchronous: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    /// See [`super::StoreOptions::dedup_window`].
    pub(super) dedup_window: Duration,
}

impl SqliteBackend {
    fn new(pool: SqlitePool) -> SqliteBackend {
        SqliteBackend {
            pool,
            dedup_window: super::DEDUP_WINDOW,
        }
    }

    /// Opens (creating) the file. Waiting for a pooled connection is
    /// bounded by `timeout`. With `serve_while_down`, a file that is locked
    /// or on a full disk right now is not an error: the pool connects later
    /// and `reachable` is false (see [`super::Store::open_serving`]).
    pub(crate) async fn open(
        path: &Path,
        timeout: Duration,
        serve_while_down: bool,
    ) -> Result<(SqliteBackend, bool), StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        prepare_file(path).map_err(|e| open_error(e.to_string()))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(false);
        let pool_options = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(timeout);
        match tokio::time::timeout(timeout, pool_options.clone().connect_with(options.clone()))
            .await
        {
            Ok(Ok(pool)) => Ok((SqliteBackend::new(pool), true)),
            Ok(Err(e)) if !serve_while_down || !is_transient(&e) => Err(open_error(e.to_string())),
            Ok(Err(e)) => {
                tracing::warn!("{}; starting anyway", open_error(e.to_string()));
                Ok((
                    SqliteBackend::new(pool_options.connect_lazy_with(options)),
                    false,
                ))
            }
            Err(_) if serve_while_down => {
                tracing::warn!(
                    "{}; starting anyway",
                    open_error(format!("no answer within {} s", timeout.as_secs_f32()))
                );
                Ok((
                    SqliteBackend::new(pool_options.connect_lazy_with(options)),
                    false,
                ))
            }
            Err(_) => Err(open_error(format!(
                "no answer within {} s",
                timeout.as_secs_f32()
            ))),
        }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Reads [`SqliteSettings`] back from one of the pool's connections (all
    /// are opened with the same options).
    pub(crate) async fn settings(&self) -> Result<SqliteSettings, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await?;
        let busy_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await?;
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await?;
        Ok(SqliteSettings {
            journal_mode: journal_mode.to_ascii_lowercase(),
            busy_timeout: Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)),
            synchronous,
        })
    }

    /// A write transaction that takes the write lock at once (see above).
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool
            .begin_with(super::dialect::sql!(sqlite, begin_write))
            .await
    }
}

/// The queries both backends share, in the SQLite dialect.
mod shared {
    crate::store::queries::shared_queries! {
        dialect: sqlite,
        backend: SqliteBackend,
        connection: sqlx::sqlite::SqliteConnection,
        migrations: "migrations/sqlite",
    }
}

/// Creates the directory (0750) and the file (0600) when missing: the
/// database holds the GoIP passwords.
pub(crate) fn prepare_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl LegacySchema for SqliteBackend {
    async fn is_managed(&self) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(super::MIGRATIONS_TABLE)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn columns(&self, table: &str) -> Result<Option<Vec<String>>, sqlx::Error> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&self.pool)
                .await?;
        Ok((!names.is_empty()).then_some(names))
    }

    async fn add_column(
        &self,
        table: &str,
        column: &str,
        ddl: &BaselineColumn,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "ALTER TABLE {table} ADD COLUMN {column} {}",
            ddl.sqlite
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn has_unique_index(&self, table: &str, column: &str) -> Result<bool, sqlx::Error> {
        // Unique indexes (inline UNIQUE constraints included) of exactly one column.
        let n: i64 = sqlx::query_scalar(concat!(
            "SELECT COUNT(*) FROM pragma_index_list(?) AS il ",
            "WHERE il.\"unique\" = 1 AND (SELECT COUNT(*) FROM pragma_index_info(il.name)) = 1 ",
            "AND (SELECT name FROM pragma_index_info(il.name)) = ?"
        ))
        .bind(table)
        .bind(column)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn duplicates(&self, table: &str, column: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT CAST({column} AS TEXT) FROM {table} WHERE {column} IS NOT NULL \
             GROUP BY {column} HAVING COUNT(*) > 1 ORDER BY {column} LIMIT 20"
        )))
        .fetch_all(&self.pool)
        .await
    }

    async fn keep_newest(&self, table: &str, column: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {column} IS NOT NULL AND id NOT IN \
             (SELECT MAX(id) FROM {table} WHERE {column} IS NOT NULL GROUP BY {column})"
        )))
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
    }

    async fn add_unique_index(
        &self,
        table: &str,
        column: &str,
        name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE UNIQUE INDEX {name} ON {table} ({column})"
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn ensure_utf8mb4(&self, _table: &str) -> Result<(), sqlx::Error> {
        // SQLite text is UTF-8 already.
        Ok(())
    }
}
