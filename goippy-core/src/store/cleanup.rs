//! Keeping the database small: `LOG_DAYS`, and the store's own bookkeeping.
//!
//! As in the original goippy, `goippy_log` rows older than `LOG_DAYS` days
//! are deleted at start-up and then hourly, and `LOG_DAYS = 0` keeps them
//! forever. Unlike the original, a row that still has work attached — an
//! inbound message not yet written to XMPP (`inbox`), an outbound job not
//! finished (`queued`, `sending`) — is never deleted, however old. The
//! store's own bookkeeping is expired whatever `LOG_DAYS` says: dedup keys
//! after [`DEDUP_KEEP`] (longer than any dedup window) and
//! write-batch markers after [`MARKER_KEEP`]. Deletes run in small chunks so
//! that the writer never waits long behind them.

use std::sync::Arc;
use std::time::Duration;

use super::db::{Db, Sql};
use super::error::StoreError;
use super::records::CleanupReport;
use super::time::Timestamp;
use super::{Store, StoreTask};

/// How long a dedup key is kept. Only one younger than the dedup window
/// (`GOIP_DEDUP_WINDOW`, at most a day) makes a copy a retransmission, and
/// the lookup replaces an older one it meets; this is past any window, with
/// room for a write that waited in the queue while the database was down.
pub const DEDUP_KEEP: Duration = Duration::from_secs(2 * 86_400);
/// How long a write-batch marker is kept (it is only read right after a
/// failed commit).
pub const MARKER_KEEP: Duration = Duration::from_secs(86_400);
/// How often the cleanup runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Rows per DELETE, to keep each write lock (SQLite) or transaction
/// (MySQL) short.
const CHUNK: i64 = 2000;

/// Deletes, in small transactions, `goippy_log` rows older than `log_days`
/// days (never undelivered inbox or unfinished outbox rows), old dedup keys
/// and old batch markers. `keep_markers`: the spool holds batches whose
/// markers may decide whether they committed; no marker is deleted then,
/// however old.
pub(crate) async fn run_once(
    db: &Db,
    log_days: u32,
    now: Timestamp,
    keep_markers: bool,
) -> Result<CleanupReport, StoreError> {
    let mut report = CleanupReport::default();
    if log_days > 0 {
        let cutoff = now.minus(Duration::from_secs(u64::from(log_days) * 86_400));
        report.log_rows = delete_in_chunks(db, OLD_LOG_ROWS, cutoff).await?;
    }
    report.dedup_keys = delete_in_chunks(db, OLD_DEDUP_KEYS, now.minus(DEDUP_KEEP)).await?;
    let marker_cutoff = if keep_markers {
        Timestamp::from_unix(i64::MIN)
    } else {
        now.minus(MARKER_KEEP)
    };
    report.batch_markers = delete_in_chunks(db, OLD_BATCH_MARKERS, marker_cutoff).await?;
    Ok(report)
}

/// Runs `sql` (a cutoff, then a chunk size) until it deletes less than a chunk.
async fn delete_in_chunks(db: &Db, sql: Sql, cutoff: Timestamp) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let n = db
            .query(sql)
            .bind(cutoff.unix())
            .bind(CHUNK)
            .execute()
            .await
            .map_err(StoreError::db("cleaning up"))?
            .rows_affected;
        total += n;
        if n < CHUNK as u64 {
            return Ok(total);
        }
    }
}

// Each deletes at most `?` (the last parameter) rows. SQLite is built
// without DELETE … LIMIT, so it picks the ids first.

const OLD_LOG_ROWS: Sql = Sql {
    sqlite: "DELETE FROM goippy_log WHERE id IN (SELECT id FROM goippy_log \
             WHERE created_at < datetime(?, 'unixepoch') \
             AND (status IS NULL OR status NOT IN ('inbox', 'queued', 'sending')) LIMIT ?)",
    mysql: "DELETE FROM goippy_log WHERE created_at < FROM_UNIXTIME(?) \
            AND (status IS NULL OR status NOT IN ('inbox', 'queued', 'sending')) LIMIT ?",
};

const OLD_DEDUP_KEYS: Sql = Sql {
    sqlite: "DELETE FROM goippy_dedup WHERE id IN \
             (SELECT id FROM goippy_dedup WHERE created_unix < ? LIMIT ?)",
    mysql: "DELETE FROM goippy_dedup WHERE created_unix < ? LIMIT ?",
};

const OLD_BATCH_MARKERS: Sql = Sql {
    sqlite: "DELETE FROM goippy_write_batches WHERE id IN \
             (SELECT id FROM goippy_write_batches WHERE created_unix < ? LIMIT ?)",
    mysql: "DELETE FROM goippy_write_batches WHERE created_unix < ? LIMIT ?",
};

/// The hourly cleanup; stops when dropped or when the store is closed or gone.
pub(crate) fn spawn(store: &Store, log_days: u32) -> StoreTask {
    // A weak reference: the cleanup must not keep a dropped store alive.
    let weak = Arc::downgrade(&store.inner);
    if log_days == 0 {
        tracing::info!("LOG_DAYS = 0: goippy_log is kept forever");
    }
    let handle = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            let store = Store { inner };
            match store.cleanup(log_days).await {
                Ok(report) if report != CleanupReport::default() => tracing::info!(
                    log_rows = report.log_rows,
                    dedup_keys = report.dedup_keys,
                    batch_markers = report.batch_markers,
                    log_days,
                    "cleanup done"
                ),
                Ok(_) => tracing::debug!(log_days, "cleanup: nothing to delete"),
                Err(StoreError::Closed) => break,
                Err(e) => tracing::warn!("cleanup failed (tried again in an hour): {e}"),
            }
        }
    });
    StoreTask(handle)
}
