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
//! The queries themselves are shared with MySQL (`store/db.rs` says how);
//! this file holds what only SQLite does: the file and its connection
//! settings.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::error::{StoreError, is_transient};

/// How long a statement waits for another writer's lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings a connection of the store runs with, as SQLite reports them
/// ([`super::Store::sqlite_settings`]): what the options above asked for is
/// only a request until the database says so.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqliteSettings {
    /// `PRAGMA journal_mode`, lower case: `wal`.
    pub journal_mode: String,
    /// `PRAGMA busy_timeout`.
    pub busy_timeout: Duration,
    /// `PRAGMA synchronous`: 2 is FULL.
    pub synchronous: i64,
}

/// Opens (creating) the file. Waiting for a pooled connection is bounded
/// by `timeout`. With `serve_while_down`, a file that is locked or on a full
/// disk right now is not an error: the pool connects later and `reachable`
/// is false (see [`super::Store::open_serving`]).
pub(crate) async fn open(
    path: &Path,
    timeout: Duration,
    serve_while_down: bool,
) -> Result<(SqlitePool, bool), StoreError> {
    let open_error = |reason: String| StoreError::Open {
        path: path.to_path_buf(),
        reason,
    };
    let options = file_options(path, SqliteJournalMode::Wal, BUSY_TIMEOUT)
        .map_err(|e| open_error(e.to_string()))?;
    let pool_options = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(timeout);
    let reason =
        match tokio::time::timeout(timeout, pool_options.clone().connect_with(options.clone()))
            .await
        {
            Ok(Ok(pool)) => return Ok((pool, true)),
            Ok(Err(e)) if is_transient(&e) => e.to_string(),
            Ok(Err(e)) => return Err(open_error(e.to_string())),
            Err(_) => format!("no answer within {} s", timeout.as_secs_f32()),
        };
    if !serve_while_down {
        return Err(open_error(reason));
    }
    tracing::warn!("{}; starting anyway", open_error(reason));
    Ok((pool_options.connect_lazy_with(options), false))
}

/// Reads [`SqliteSettings`] back from one of the pool's connections (all are
/// opened with the same options).
#[cfg(test)]
pub(crate) async fn settings(pool: &SqlitePool) -> Result<SqliteSettings, sqlx::Error> {
    let mut conn = pool.acquire().await?;
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

/// The connect options of a SQLite file of goippy's (the store, the
/// spool), which [`prepare_file`] creates private first: every commit
/// fsynced (`synchronous=FULL`), no foreign keys.
pub(crate) fn file_options(
    path: &Path,
    journal: SqliteJournalMode,
    busy_timeout: Duration,
) -> io::Result<SqliteConnectOptions> {
    prepare_file(path)?;
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(journal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(busy_timeout)
        .foreign_keys(false))
}

/// Creates the directory (0750) and the file (0600) when missing: the
/// database holds the GoIP passwords.
fn prepare_file(path: &Path) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;
    use sqlx::sqlite::SqliteConnection;

    use super::*;
    use crate::config::DbSettings;
    use crate::store::{GatewayDefinition, Store};

    /// WAL and the busy timeout, as SQLite itself reports them: asked for in
    /// the connect options, they are only in force if the database says so.
    #[tokio::test]
    async fn sqlite_runs_in_wal_with_a_busy_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("goippy.db");
        let store = Store::open(&DbSettings::Sqlite { file: file.clone() })
            .await
            .expect("store opens");
        let settings = store.sqlite_settings().await.expect("settings");
        let settings = settings.expect("a SQLite store reports its settings");
        assert_eq!(settings.journal_mode, "wal");
        assert!(!BUSY_TIMEOUT.is_zero());
        assert_eq!(settings.busy_timeout, BUSY_TIMEOUT);
        assert_eq!(settings.synchronous, 2, "synchronous=FULL");

        // WAL belongs to the file: a connection of our own, which asks for no
        // journal mode, finds it too.
        let options = SqliteConnectOptions::new().filename(&file);
        let mut other = SqliteConnection::connect_with(&options)
            .await
            .expect("a second connection");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut other)
            .await
            .expect("journal_mode");
        assert_eq!(mode.to_ascii_lowercase(), "wal");

        // The timeout at work: while another connection holds the write lock,
        // an admin write waits for it instead of failing with "database is locked".
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("take the write lock");
        let held = Duration::from_millis(600);
        let release = tokio::spawn(async move {
            tokio::time::sleep(held).await;
            sqlx::raw_sql("COMMIT")
                .execute(&mut other)
                .await
                .expect("release the write lock");
            other.close().await.expect("close");
        });
        let started = std::time::Instant::now();
        let gateway = GatewayDefinition {
            ext: "2001",
            password: "pw",
            goip_id: None,
            channel: None,
            allow_regex: None,
        };
        store
            .save_gateway(&gateway)
            .await
            .expect("waits for the lock instead of failing");
        assert!(
            started.elapsed() >= held - Duration::from_millis(100),
            "the write did not wait: {:?}",
            started.elapsed()
        );
        release.await.expect("release task");
        store.close().await.expect("close");
    }
}
