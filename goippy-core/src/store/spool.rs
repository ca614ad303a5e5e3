//! The spool: a small local SQLite file that keeps writes the database has
//! not taken in time, so that what goippy acknowledges survives an outage of
//! the database *and* a restart of goippy in the middle of it.
//!
//! Why it exists: a GoIP resends an unacknowledged RECEIVE only three times,
//! about 3 s apart, then gives up for good. When MySQL restarts, a backup
//! holds FLUSH TABLES WITH READ LOCK, or an admin's shell holds SQLite's
//! write lock for longer than that, an SMS that waits for the database is
//! lost — and keeping it only in goippy's memory loses it with the next
//! crash or restart. So the writer (`store/writer/`) puts every batch the
//! database has not committed within `DB_WRITE_WAIT` into this file
//! (fsynced), answers its callers "kept" (the GoIP gets its ack, the user's
//! SMS is accepted), and moves the batch into the database, in order and
//! exactly once, when the database is back — also after a restart.
//!
//! Exactly once, across two databases with no shared transaction: every
//! batch keeps the random id of its write-batch marker
//! (`goippy_write_batches`), which the main database commits in the same
//! transaction as the batch. A batch that may have committed (an attempt
//! was cut off, or failed after it started) is looked up by that marker
//! before it is written again; a crash between the commit and the removal
//! from the spool is settled the same way at the next start.
//!
//! The file is one SQLite database, chosen over a hand-written journal
//! because SQLite already gives atomic, checksummed, crash-safe appends.
//! `synchronous=FULL` makes an append durable before the caller is
//! answered. It keeps no WAL: a rollback journal in `PERSIST` mode is never
//! deleted or shrunk, which is what makes the **reserve** work:
//!
//! * On a full disk (the SQLite main store's equivalent of "MySQL is
//!   down") the main database cannot grow, and neither could a fresh spool.
//!   So the spool keeps a reserve: at open it grows its file by
//!   [`RESERVE_BYTES`] and its journal to 1 MiB, and frees the pages again. Appends then reuse those
//!   free pages and the journal's existing blocks, which needs no new disk
//!   blocks on ordinary file systems (ext4, xfs, tmpfs; not on
//!   copy-on-write ones such as btrfs or zfs). 8 MiB hold a few thousand
//!   SMS. Rows removed after the drain give their pages back, so the
//!   reserve refills itself.
//!
//! The spool also keeps a small **cache** of what goippy needs to start and
//! serve while the database is down: the enabled gateways (their passwords
//! included — the file is created 0600, like the SQLite store) and the
//! highest sendid.
//!
//! A write the database refuses for good when its batch is finally applied
//! (a constraint, a value too long for a column edited by hand) cannot be
//! handed back to a GoIP that was acked long ago: it moves to the
//! `dead_writes` table with the error, and the error is logged, so an
//! operator can see and repair it. Nothing the spool held is dropped
//! silently.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::error::StoreError;
use super::time::Timestamp;
use super::writer::WriteOp;

/// How much free space the spool keeps inside its own file for a full disk.
pub const RESERVE_BYTES: i64 = 8 * 1024 * 1024;

/// The reserve is written in rows of this size (see `top_up_reserve`).
const RESERVE_CHUNK: i64 = 64 * 1024;

/// The spool's page cache, in KiB (SQLite's default is 2,000): it appends
/// small batches and reads back only the few not yet applied, so a large
/// cache would only hold the reserve's pages from the start.
const CACHE_KIB: i64 = 256;

/// How large the spool's journal is kept: one batch's transaction journals
/// only the few pages it changes.
const JOURNAL_RESERVE_BYTES: i64 = 1024 * 1024;

/// How long a spool statement waits for a lock (only goippy uses the file;
/// a second goippy on the same file would be a mistake that this reports).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The format of the `ops` column; a spool written by another format is
/// refused at open rather than misread.
const FORMAT: &str = "1";

/// The spool file.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    pool: SqlitePool,
    path: PathBuf,
}

/// What the spool holds about a batch, without its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct SpoolEntry {
    pub seq: i64,
    pub batch_id: i64,
    pub at: Timestamp,
    pub maybe_committed: bool,
    #[sqlx(try_from = "i64")]
    pub writes: usize,
}

impl Spool {
    /// Opens (creating it, 0600, in a 0750 directory when missing) the spool
    /// at `path`, and tops its reserve up when the disk allows.
    pub(crate) async fn open(path: &Path) -> Result<Spool, StoreError> {
        let open_error = |reason: String| StoreError::Spool {
            path: path.to_path_buf(),
            reason,
        };
        let options = super::sqlite::file_options(path, SqliteJournalMode::Persist, BUSY_TIMEOUT)
            .map_err(|e| open_error(e.to_string()))?
            .pragma("journal_size_limit", "-1")
            .pragma("cache_size", format!("-{CACHE_KIB}"));
        // One connection: the writer is the only one who appends, and the
        // few reads (the cache) may as well queue behind it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        let spool = Spool {
            pool,
            path: path.to_path_buf(),
        };
        spool
            .create_schema()
            .await
            .map_err(|e| open_error(e.to_string()))?;
        match spool.get_cache("format").await {
            Ok(Some(f)) if f == FORMAT => {}
            Ok(Some(other)) => {
                return Err(open_error(format!(
                    "it was written in format {other:?}, this goippy reads format {FORMAT}: \
                     start the goippy that wrote it until the spool is empty"
                )));
            }
            Ok(None) => spool
                .put_cache("format", FORMAT)
                .await
                .map_err(|e| open_error(e.to_string()))?,
            Err(e) => return Err(open_error(e.to_string())),
        }
        if let Err(e) = spool.top_up_reserve().await {
            tracing::warn!(
                spool = %path.display(),
                "cannot set aside the spool's reserve for a full disk: {e}"
            );
        }
        Ok(spool)
    }

    /// Where the file is, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    async fn create_schema(&self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS batches (\n\
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,\n\
                 batch_id INTEGER NOT NULL,\n\
                 at INTEGER NOT NULL,\n\
                 maybe_committed INTEGER NOT NULL,\n\
                 writes INTEGER NOT NULL,\n\
                 ops TEXT NOT NULL\n\
             );\n\
             CREATE TABLE IF NOT EXISTS dead_writes (\n\
                 id INTEGER PRIMARY KEY AUTOINCREMENT,\n\
                 batch_id INTEGER NOT NULL,\n\
                 failed_at INTEGER NOT NULL,\n\
                 error TEXT NOT NULL,\n\
                 op TEXT NOT NULL\n\
             );\n\
             CREATE TABLE IF NOT EXISTS cache (\n\
                 name TEXT PRIMARY KEY,\n\
                 value TEXT NOT NULL\n\
             );\n\
             CREATE TABLE IF NOT EXISTS reserve (filler BLOB);",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Grows the file by what is missing of the reserve and the journal to
    /// [`JOURNAL_RESERVE_BYTES`], then frees the pages again (see the module
    /// documentation).
    async fn top_up_reserve(&self) -> Result<(), sqlx::Error> {
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.pool)
            .await?;
        let missing = RESERVE_BYTES - free * page_size.max(1);
        if missing <= 0 {
            return Ok(());
        }
        // The inserts grow the file; rewriting the small blob copies its
        // pages into the journal, which PERSIST keeps at that size (a
        // batch's transaction needs far less); the delete puts every page
        // on the free list.
        //
        // In rows of RESERVE_CHUNK: one blob of the whole reserve was built
        // in memory, twice (its zeroes, then its record), 14 MiB of the
        // daemon's peak at every start that topped the reserve up.
        let journal = JOURNAL_RESERVE_BYTES.min(missing);
        let rows = |bytes: i64| (bytes + RESERVE_CHUNK - 1) / RESERVE_CHUNK;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
             INSERT INTO reserve (filler) SELECT zeroblob(?) FROM n",
        )
        .bind(rows(missing))
        .bind(RESERVE_CHUNK)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE reserve SET filler = ? \
             WHERE rowid IN (SELECT rowid FROM reserve ORDER BY rowid LIMIT ?)",
        )
        .bind(vec![1u8; usize::try_from(RESERVE_CHUNK).unwrap_or(0)])
        // One more: part of each row lies on a page shared with others.
        .bind(rows(journal) + 1)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM reserve")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a batch; returns its place once it is on disk.
    pub(crate) async fn append(
        &self,
        batch_id: i64,
        at: Timestamp,
        maybe_committed: bool,
        ops: &[WriteOp],
    ) -> Result<i64, sqlx::Error> {
        let json = serde_json::to_string(ops).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO batches (batch_id, at, maybe_committed, writes, ops) \
             VALUES (?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(batch_id)
        .bind(at.unix())
        .bind(maybe_committed)
        .bind(i64::try_from(ops.len()).unwrap_or(i64::MAX))
        .bind(json)
        .fetch_one(&self.pool)
        .await?;
        Ok(seq)
    }

    /// An attempt at the batch may have committed it.
    pub(crate) async fn set_maybe_committed(&self, seq: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE batches SET maybe_committed = 1 WHERE seq = ?")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The batch's writes are now `ops` (one the database refused for good
    /// has left it), in a new batch id: the old id's marker was never
    /// written (the refused attempt rolled back).
    pub(crate) async fn replace(
        &self,
        seq: i64,
        batch_id: i64,
        ops: &[WriteOp],
    ) -> Result<(), sqlx::Error> {
        let json = serde_json::to_string(ops).map_err(|e| sqlx::Error::Encode(e.into()))?;
        sqlx::query(
            "UPDATE batches SET batch_id = ?, maybe_committed = 0, writes = ?, ops = ? WHERE seq = ?",
        )
        .bind(batch_id)
        .bind(i64::try_from(ops.len()).unwrap_or(i64::MAX))
        .bind(json)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The batch is in the main database: forget it.
    pub(crate) async fn remove(&self, seq: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM batches WHERE seq = ?")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every batch, oldest first, without its writes.
    pub(crate) async fn entries(&self) -> Result<Vec<SpoolEntry>, sqlx::Error> {
        // A count edited below zero reads as none, as `usize` needs.
        sqlx::query_as(
            "SELECT seq, batch_id, at, maybe_committed, MAX(writes, 0) AS writes \
             FROM batches ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// The writes of one batch. A row that cannot be read back (the file
    /// was edited) is an error.
    pub(crate) async fn load(&self, seq: i64) -> Result<Option<Vec<WriteOp>>, sqlx::Error> {
        let json: Option<String> = sqlx::query_scalar("SELECT ops FROM batches WHERE seq = ?")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| sqlx::Error::Decode(e.into())))
            .transpose()
    }

    /// The inbox rows whose delivered mark the spool holds (the inbox must
    /// not hand them out again while the marks wait).
    pub(crate) async fn delivered_marks(
        &self,
    ) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
        let mut marks = std::collections::HashSet::new();
        for entry in self.entries().await? {
            if let Some(ops) = self.load(entry.seq).await? {
                marks.extend(ops.iter().filter_map(|op| match op {
                    WriteOp::Delivered(id) => Some(id.0),
                    _ => None,
                }));
            }
        }
        Ok(marks)
    }

    /// Keeps a write the database refused for good, with why.
    pub(crate) async fn bury(
        &self,
        batch_id: i64,
        op: &WriteOp,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        let json = serde_json::to_string(op).map_err(|e| sqlx::Error::Encode(e.into()))?;
        sqlx::query("INSERT INTO dead_writes (batch_id, failed_at, error, op) VALUES (?, ?, ?, ?)")
            .bind(batch_id)
            .bind(Timestamp::now().unix())
            .bind(error)
            .bind(json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many refused writes the spool keeps.
    pub(crate) async fn dead_writes(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM dead_writes")
            .fetch_one(&self.pool)
            .await
    }

    pub(crate) async fn put_cache(&self, name: &str, value: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO cache (name, value) VALUES (?, ?) \
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn get_cache(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT value FROM cache WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer::WriteOp;

    fn counter(value: i64) -> WriteOp {
        WriteOp::Counter {
            name: "spool_test".into(),
            value,
        }
    }

    #[tokio::test]
    async fn batches_come_back_in_order_across_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.db");
        let spool = Spool::open(&path).await.expect("open");
        let at = Timestamp::from_unix(1_700_000_000);
        let first = spool.append(11, at, false, &[counter(1)]).await.expect("1");
        let second = spool
            .append(12, at, true, &[counter(2), counter(3)])
            .await
            .expect("2");
        assert!(first < second);
        spool.close().await;

        let spool = Spool::open(&path).await.expect("reopen");
        let entries = spool.entries().await.expect("entries");
        assert_eq!(
            entries,
            vec![
                SpoolEntry {
                    seq: first,
                    batch_id: 11,
                    at,
                    maybe_committed: false,
                    writes: 1
                },
                SpoolEntry {
                    seq: second,
                    batch_id: 12,
                    at,
                    maybe_committed: true,
                    writes: 2
                },
            ]
        );
        let ops = spool.load(second).await.expect("load").expect("there");
        assert_eq!(ops.len(), 2);
        spool.remove(first).await.expect("remove");
        assert_eq!(spool.entries().await.expect("entries").len(), 1);
    }

    #[tokio::test]
    async fn the_file_is_private_and_keeps_a_reserve() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("spool.db");
        let spool = Spool::open(&path).await.expect("open");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&spool.pool)
            .await
            .expect("page size");
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&spool.pool)
            .await
            .expect("free");
        assert!(free * page_size >= RESERVE_BYTES, "{free} free pages");
        let journal = dir.path().join("sub").join("spool.db-journal");
        let journal_len = std::fs::metadata(&journal).expect("journal kept").len();
        assert!(
            i64::try_from(journal_len).expect("len") >= JOURNAL_RESERVE_BYTES,
            "journal {journal_len} bytes"
        );
    }

    #[tokio::test]
    async fn a_spool_of_another_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.db");
        let spool = Spool::open(&path).await.expect("open");
        spool.put_cache("format", "99").await.expect("set");
        spool.close().await;
        let err = Spool::open(&path).await.expect_err("refused");
        assert!(err.to_string().contains("format \"99\""), "{err}");
    }
}
