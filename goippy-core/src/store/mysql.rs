//! The MySQL/MariaDB backend, for production.
//!
//! Connections speak utf8mb4 and UTC (sqlx sets `NAMES utf8mb4` and
//! `time_zone='+00:00'` on every connection), so SMS text in any script
//! survives and `FROM_UNIXTIME`/`UNIX_TIMESTAMP` are exact. The pool tests a
//! connection before handing it out, so after a server restart the dead ones
//! are replaced; the writer retries what failed meanwhile (see
//! [`super::writer`]). At start-up, failing to connect is an error that
//! names host, port, database and user — never the password.
//!
//! TLS (`DB_TLS`, `DB_TLS_CA`): see [`tls`].
//!
//! Times: see [`super::time`]; the original's TIMESTAMP columns are written
//! with `FROM_UNIXTIME(?)` and read with `UNIX_TIMESTAMP()`.
//!
//! The queries themselves are shared with SQLite (`store/queries.rs`, in the
//! MySQL dialect of `store/dialect.rs`); this file holds what only MySQL
//! does: connecting, its write transaction, and adopting an original
//! database.

use std::time::Duration;

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Transaction};

use crate::config::{DbTls, Secret};

use super::error::{StoreError, is_transient};
use super::legacy::{BaselineColumn, LegacySchema};

mod tls;

#[derive(Debug, Clone)]
pub(crate) struct MySqlBackend {
    pool: MySqlPool,
    /// See [`super::StoreOptions::dedup_window`].
    pub(super) dedup_window: Duration,
}

/// Where and as whom to connect (`DB_HOST`, `DB_PORT`, `DB_BASE`,
/// `DB_USER`, `DB_PASS`, `DB_TLS`).
pub(crate) struct MySqlTarget<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
    pub password: &'a Secret,
    pub tls: &'a DbTls,
}

impl MySqlBackend {
    fn new(pool: MySqlPool) -> MySqlBackend {
        MySqlBackend {
            pool,
            dedup_window: super::DEDUP_WINDOW,
        }
    }

    /// Connects to `database` on `host:port` as `user` (the password only
    /// goes to the driver), over TLS as `tls` says. Every connection
    /// attempt and every wait for a pooled connection is bounded by
    /// `timeout`.
    ///
    /// With `serve_while_down`, a server that cannot be reached now (refused,
    /// no answer, restarting, too many connections) is not an error: the
    /// pool is made without connecting and `reachable` is false — the
    /// daemon serves from its spool and tries again. A refusal that waiting
    /// will not cure (wrong password, unknown database, no privileges, a
    /// certificate it cannot trust) is always an error, named so the
    /// operator can fix it.
    pub(crate) async fn open(
        target: &MySqlTarget<'_>,
        timeout: Duration,
        serve_while_down: bool,
    ) -> Result<(MySqlBackend, bool), StoreError> {
        let MySqlTarget {
            host,
            port,
            database,
            user,
            password,
            tls,
        } = *target;
        let options = MySqlConnectOptions::new()
            .host(host)
            .port(port)
            .database(database)
            .username(user)
            .password(password.expose())
            .charset("utf8mb4");
        let options = tls::apply(options, tls);
        let connect_error = |reason: String| StoreError::Connect {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            user: user.to_owned(),
            reason,
        };
        let pool_options = MySqlPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(timeout)
            .test_before_acquire(true);
        // One direct attempt first: the pool would keep retrying a refused
        // connection for its whole acquire timeout, and at start-up the
        // operator wants the reason at once.
        let reason = match tokio::time::timeout(timeout, options.connect()).await {
            Ok(Ok(mut conn)) => {
                match tls::cipher(&mut conn).await {
                    Ok(cipher) => tls::report(host, port, tls, cipher.as_deref()),
                    Err(e) => tracing::debug!("cannot tell whether the connection uses TLS: {e}"),
                }
                let _ = conn.close().await;
                let pool = pool_options
                    .connect_with(options)
                    .await
                    .map_err(|e| connect_error(tls::explain(&e, tls, host)))?;
                return Ok((MySqlBackend::new(pool), true));
            }
            Ok(Err(e)) if !is_transient(&e) => {
                return Err(connect_error(tls::explain(&e, tls, host)));
            }
            Ok(Err(e)) => tls::explain(&e, tls, host),
            Err(_) => format!("no answer within {} s", timeout.as_secs_f32()),
        };
        if !serve_while_down {
            return Err(connect_error(reason));
        }
        tracing::warn!(
            "{}; starting anyway: what arrives is kept in the spool until the server answers",
            connect_error(reason)
        );
        let pool = pool_options.connect_lazy_with(options);
        Ok((MySqlBackend::new(pool), false))
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction.
    async fn begin_write(&self) -> Result<Transaction<'static, MySql>, sqlx::Error> {
        self.pool
            .begin_with(super::dialect::sql!(mysql, begin_write))
            .await
    }
}

/// The queries both backends share, in the MySQL dialect.
mod shared {
    crate::store::queries::shared_queries! {
        dialect: mysql,
        backend: MySqlBackend,
        connection: sqlx::mysql::MySqlConnection,
        migrations: "migrations/mysql",
    }
}

impl LegacySchema for MySqlBackend {
    async fn is_managed(&self) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(super::MIGRATIONS_TABLE)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn columns(&self, table: &str) -> Result<Option<Vec<String>>, sqlx::Error> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        )
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
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER TABLE {table} ADD COLUMN {column} {}",
            ddl.mysql
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn has_unique_index(&self, table: &str, column: &str) -> Result<bool, sqlx::Error> {
        // Unique indexes (the primary key and inline UNIQUE included) of exactly one column.
        let n: i64 = sqlx::query_scalar(concat!(
            "SELECT COUNT(*) FROM (SELECT INDEX_NAME FROM information_schema.STATISTICS ",
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 ",
            "GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND CAST(MAX(COLUMN_NAME) AS CHAR) = ?) AS u"
        ))
        .bind(table)
        .bind(column)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn duplicates(&self, table: &str, column: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT CAST({column} AS CHAR) FROM {table} WHERE {column} IS NOT NULL \
             GROUP BY {column} HAVING COUNT(*) > 1 ORDER BY {column} LIMIT 20"
        )))
        .fetch_all(&self.pool)
        .await
    }

    async fn keep_newest(&self, table: &str, column: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE t FROM {table} t JOIN (SELECT {column} AS k, MAX(id) AS keep_id FROM {table} \
             WHERE {column} IS NOT NULL GROUP BY {column}) m ON t.{column} = m.k AND t.id <> m.keep_id"
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
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER TABLE {table} ADD UNIQUE INDEX {name} ({column})"
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn ensure_utf8mb4(&self, table: &str) -> Result<(), sqlx::Error> {
        let collation: Option<Option<String>> = sqlx::query_scalar(
            "SELECT CAST(TABLE_COLLATION AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(table)
        .fetch_optional(&self.pool)
        .await?;
        let collation = collation.flatten().unwrap_or_default();
        if collation.starts_with("utf8mb4") {
            return Ok(());
        }
        tracing::info!(table, collation = %collation, "converting to utf8mb4");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4"
        )))
        .execute(&self.pool)
        .await
        .map(|_| ())
    }
}
