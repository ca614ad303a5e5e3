//! What can go wrong in the store, and which database errors are worth a retry.
//!
//! Messages name what the operator needs (host, port, database and user of a
//! server goippy cannot reach; the file it cannot open; the extension that
//! does not exist) and never a password: [`crate::config::Secret`] is only
//! exposed to the database driver.

use std::path::PathBuf;

use crate::config::gateway::InvalidGateway;

use super::records::LogId;
use super::writer::UnflushedWrites;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "cannot connect to the MySQL/MariaDB server at {host}:{port} (database {database:?}, user {user:?}): {reason}"
    )]
    Connect {
        host: String,
        port: u16,
        database: String,
        user: String,
        reason: String,
    },
    #[error("cannot open the SQLite database {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(String),
    /// The database did not answer in time, or cannot be reached now:
    /// worth trying again later (see [`StoreError::is_unavailable`]).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot use the spool {}: {reason}", path.display())]
    Spool { path: PathBuf, reason: String },
    #[error("database error while {action}: {source}")]
    Database {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("the store is closed")]
    Closed,
    /// The store closed with writes the database had not taken (it was
    /// unreachable at the shutdown deadline or the close timeout).
    #[error("the database did not take every write before the store closed: {0}")]
    Unflushed(UnflushedWrites),
    /// This write was given up at the shutdown deadline, not saved.
    #[error("not saved: the database did not take it before the shutdown deadline")]
    Abandoned,
    #[error("unknown extension {0:?}")]
    UnknownExtension(String),
    #[error(
        "unknown line {0:?} (no gateway has this goip_id; make it with goippy --add-line <ext> {0} <password>)"
    )]
    UnknownLine(String),
    #[error("invalid allow_regex {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("goip_id {goip_id:?} is already used by extension {other_ext:?}")]
    GoipIdInUse { goip_id: String, other_ext: String },
    #[error("outbound message {id} cannot become {to}: {}", describe_from(.from))]
    Transition {
        id: LogId,
        to: &'static str,
        from: Option<String>,
    },
    #[error("there is no inbound message {0}")]
    UnknownMessage(LogId),
    #[error("internal error in the store: {0}")]
    Internal(String),
}

fn describe_from(from: &Option<String>) -> String {
    match from {
        Some(state) => format!("it is {state}"),
        None => "there is no such outbound message".to_string(),
    }
}

impl StoreError {
    pub(crate) fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| match source {
            sqlx::Error::PoolClosed => StoreError::Closed,
            source => StoreError::Database { action, source },
        }
    }

    /// Whether this says "not now" (the database is down, frozen, locked,
    /// its disk full) rather than "not this": the caller may try again
    /// later, and a daemon keeps serving meanwhile.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database { source, .. } => is_transient(source),
            _ => false,
        }
    }

    /// A failed step of bringing the schema up to date: unavailable when
    /// the database did not answer, else a migration error.
    pub(crate) fn migrating(what: &str, e: sqlx::Error) -> StoreError {
        if is_transient(&e) {
            StoreError::Unavailable(format!("{what}: {e}"))
        } else {
            StoreError::Migrate(format!("{what}: {e}"))
        }
    }

    pub(crate) fn from_migration(e: sqlx::migrate::MigrateError) -> StoreError {
        use sqlx::migrate::MigrateError;
        match e {
            MigrateError::Execute(e) => StoreError::migrating("running the migrations", e),
            MigrateError::ExecuteMigration(e, version) => {
                StoreError::migrating(&format!("running migration {version}"), e)
            }
            other => StoreError::Migrate(other.to_string()),
        }
    }
}

/// A gateway definition the store refuses to save, with the same message.
impl From<InvalidGateway> for StoreError {
    fn from(e: InvalidGateway) -> StoreError {
        match e {
            InvalidGateway::Field { field, reason } => StoreError::InvalidInput { field, reason },
            InvalidGateway::Regex { pattern, reason } => {
                StoreError::InvalidRegex { pattern, reason }
            }
        }
    }
}

/// Whether an error is about reaching the database (retry later: the server
/// restarts, the disk fills, a lock is held) rather than about the statement
/// (retrying the same statement would fail the same way).
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return mysql_transient(my.number());
            }
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                let code = db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .unwrap_or_default();
                return sqlite_transient(code);
            }
            false
        }
        _ => false,
    }
}

/// MySQL/MariaDB server errors that say "not now" rather than "not this".
fn mysql_transient(number: u16) -> bool {
    matches!(
        number,
        1040 // too many connections
        | 1053 // server shutdown in progress
        | 1077 | 1078 | 1079 | 1080 // shutdown
        | 1152
            ..=1161 // aborted connection, network read/write errors
        | 1205 // lock wait timeout
        | 1213 // deadlock
        | 1290 // --read-only
        | 1836 // read-only mode
        | 1927 // connection killed
        | 2002 | 2003 | 2006 | 2013 // client: cannot connect, server gone, lost connection
        | 4031 // disconnected by the server for inactivity
    )
}

/// SQLite result codes (primary code in the low byte) that clear up by themselves.
fn sqlite_transient(code: i32) -> bool {
    matches!(
        code & 0xff,
        5 // SQLITE_BUSY
        | 6 // SQLITE_LOCKED
        | 7 // SQLITE_NOMEM
        | 8 // SQLITE_READONLY (e.g. a read-only remount)
        | 10 // SQLITE_IOERR
        | 13 // SQLITE_FULL
        | 14 // SQLITE_CANTOPEN
        | 15 // SQLITE_PROTOCOL
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        assert!(mysql_transient(1213));
        assert!(mysql_transient(2013));
        assert!(!mysql_transient(1062)); // duplicate key
        assert!(!mysql_transient(1406)); // data too long
        assert!(sqlite_transient(5));
        assert!(sqlite_transient(13));
        assert!(sqlite_transient(10 | (1 << 8))); // SQLITE_IOERR_READ
        assert!(!sqlite_transient(19)); // constraint
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn transition_messages() {
        let e = StoreError::Transition {
            id: LogId(7),
            to: "sending",
            from: Some("sent".into()),
        };
        assert_eq!(
            e.to_string(),
            "outbound message 7 cannot become sending: it is sent"
        );
        let e = StoreError::Transition {
            id: LogId(8),
            to: "sent",
            from: None,
        };
        assert_eq!(
            e.to_string(),
            "outbound message 8 cannot become sent: there is no such outbound message"
        );
    }
}
