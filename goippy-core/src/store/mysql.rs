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
//! The queries themselves are shared with SQLite (`store/db.rs` says how);
//! this file holds what only MySQL does: connecting.

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::MySqlSettings;

use super::error::{StoreError, is_transient};

mod tls;

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
    target: &MySqlSettings,
    timeout: Duration,
    serve_while_down: bool,
) -> Result<(MySqlPool, bool), StoreError> {
    let (host, port, tls) = (target.host.as_str(), target.port, &target.tls);
    let options = MySqlConnectOptions::new()
        .host(host)
        .port(port)
        .database(&target.database)
        .username(&target.user)
        .password(target.password.expose())
        .charset("utf8mb4");
    let options = tls::apply(options, tls);
    let connect_error = |reason: String| StoreError::Connect {
        host: host.to_owned(),
        port,
        database: target.database.clone(),
        user: target.user.clone(),
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
            return Ok((pool, true));
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
    Ok((pool_options.connect_lazy_with(options), false))
}
