//! How a [`Store`] comes up and goes down: the strict open the admin
//! commands use, the daemon's open that serves while the database is down
//! (spool first, then a background task that keeps trying the database),
//! and closing within a shutdown deadline.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::apply::Batches;
use super::db::Db;
use super::spool::Spool;
use super::writer::{WriterHandle, WriterStart};
use super::{Inner, Store, StoreError, StoreOptions, mysql, sqlite, timed};
use crate::config::DbSettings;
use crate::util::{Backoff, SharedWarnLimiter, lock};

impl Store {
    /// Opens the database (creating a SQLite file and its directory when
    /// missing), brings the schema up to date and starts the writer. Must be
    /// called inside a tokio runtime. Strict: an unreachable database is an
    /// error (what the admin commands want); the daemon uses
    /// [`Store::open_serving`].
    pub async fn open(settings: &DbSettings) -> Result<Store, StoreError> {
        Store::open_with(settings, StoreOptions::default()).await
    }

    /// [`Store::open`] with tuning.
    pub async fn open_with(
        settings: &DbSettings,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let (db, description, _) = connect(settings, &options, false).await?;
        if let Err(e) = timed(options.db_timeout, "migrating", db.migrate()).await {
            db.close().await;
            return Err(e);
        }
        tracing::debug!(database = %description, "store open");
        Ok(Store::start(
            db,
            WriterStart::without_spool(),
            description,
            options,
        ))
    }

    /// Opens the store for the daemon, which must start and serve while its
    /// database is down: the spool at `spool_path` is opened first (its
    /// failure is an error: without it nothing could be acked durably); a
    /// database that cannot be reached *now* (refused, no answer, locked,
    /// full) is not an error: writes go to the spool, reads answer
    /// [`StoreError::Unavailable`], and a background task tries the
    /// database with a growing pause (1 s up to 30 s), brings its schema up
    /// to date once it answers, and from then on the writer moves the
    /// spool's writes into it. What waiting will not cure (a wrong
    /// password, an unknown database, a schema conflict) is still an error.
    pub async fn open_serving(
        settings: &DbSettings,
        spool_path: &Path,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let spool = Spool::open(spool_path).await?;
        let spool_error = |e| super::spool_error(&spool, e);
        let backlog = spool.entries().await.map_err(spool_error)?;
        let marking = spool.delivered_marks().await.map_err(spool_error)?;
        let dead = spool.dead_writes().await.map_err(spool_error)?;
        if dead > 0 {
            tracing::error!(
                spool = %spool_path.display(),
                "the spool keeps {dead} writes the database refused for good (table dead_writes): \
                 repair and re-apply them by hand, then delete them"
            );
        }
        if !backlog.is_empty() {
            tracing::info!(
                spool = %spool_path.display(),
                batches = backlog.len(),
                writes = backlog.iter().map(|e| e.writes).sum::<usize>(),
                "the spool holds writes a previous run could not give the database; \
                 they go in first"
            );
        }
        let (db, description, reachable) = connect(settings, &options, true).await?;
        let (ready_tx, ready) = watch::channel(false);
        let mut connector = None;
        let migrated = if reachable {
            timed(options.db_timeout, "migrating", db.migrate()).await
        } else {
            Err(StoreError::Unavailable("not reachable at start-up".into()))
        };
        match migrated {
            Ok(()) => {
                ready_tx.send_replace(true);
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(
                    database = %description,
                    spool = %spool_path.display(),
                    "the database is unavailable ({e}); serving anyway: writes are kept in the \
                     spool and go into the database when it answers"
                );
                connector = Some(tokio::spawn(connect_later(
                    db.clone(),
                    description.clone(),
                    ready_tx,
                    options.db_timeout,
                )));
            }
            Err(e) => {
                db.close().await;
                spool.close().await;
                return Err(e);
            }
        }
        tracing::debug!(database = %description, spool = %spool_path.display(), "store open");
        let start = WriterStart {
            spool: Some(spool),
            backlog,
            marking,
            ready,
        };
        let store = Store::start(db, start, description, options);
        *lock(&store.inner.connector) = connector;
        Ok(store)
    }

    /// The store over `db`, with its writer started.
    fn start(db: Db, start: WriterStart, description: String, options: StoreOptions) -> Store {
        let (spool, ready) = (start.spool.clone(), start.ready.clone());
        let batches = Batches {
            db: db.clone(),
            dedup_window: options.dedup_window,
        };
        Store {
            inner: Arc::new(Inner {
                db,
                writer: WriterHandle::spawn(batches, options, start),
                spool,
                description,
                ready,
                timeout: options.db_timeout,
                connector: Mutex::new(None),
            }),
        }
    }

    /// Writes everything queued, stops the writer and closes the pool. Other
    /// clones fail with [`StoreError::Closed`] afterwards. Waits at most
    /// [`StoreOptions::close_timeout`] for the database; then
    /// [`StoreError::Unflushed`] says what was not saved.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.close_within(None).await
    }

    /// Stopping: from now on a write the database has not taken by `at` is
    /// no longer waited for, so that an unreachable database cannot hold the
    /// shutdown up: with a spool it is kept there for the next start;
    /// without one it is given up (its caller gets
    /// [`StoreError::Abandoned`]), and so is every write after it. Nothing
    /// changes while the database answers. Call it at the start of a
    /// shutdown, with an instant that leaves time for the rest of it.
    pub fn give_up_at(&self, at: Instant) {
        self.inner.writer.give_up_at(at);
    }

    /// [`Store::close`], but never past `deadline` (the pool's own closing
    /// included).
    pub async fn close_by(&self, deadline: Instant) -> Result<(), StoreError> {
        self.close_within(Some(deadline)).await
    }

    async fn close_within(&self, deadline: Option<Instant>) -> Result<(), StoreError> {
        if let Some(task) = lock(&self.inner.connector).take() {
            task.abort();
        }
        let flushed = self.inner.writer.close(deadline).await;
        if let Some(spool) = &self.inner.spool
            && !within(deadline, spool.close()).await
        {
            tracing::debug!("the spool did not close by the deadline");
        }
        // Everything is written (or kept, or counted as not saved) by now;
        // closing the connections is a courtesy to the server, and a frozen
        // one, or a read still waiting on it, must not hold the stop up.
        let courtesy = deadline.map(|d| d.min(Instant::now() + POOL_CLOSE));
        if !within(courtesy, self.inner.db.close()).await {
            tracing::debug!("the database connections did not close in time; left to the OS");
        }
        flushed
    }
}

/// Runs `work` to its end, or until `deadline` (if any); whether it ended.
async fn within(deadline: Option<Instant>, work: impl Future<Output = ()>) -> bool {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, work).await.is_ok(),
        None => {
            work.await;
            true
        }
    }
}

/// How long a stopping store waits for its database connections to close
/// once its writes are settled (see [`Store::close_by`]).
const POOL_CLOSE: Duration = Duration::from_secs(1);

/// Opens the database of `settings`: (its pool, a description without a
/// password, whether the database answered). `serve_while_down`: see
/// [`Store::open_serving`].
async fn connect(
    settings: &DbSettings,
    options: &StoreOptions,
    serve_while_down: bool,
) -> Result<(Db, String, bool), StoreError> {
    match settings {
        DbSettings::Sqlite { file } => {
            let (pool, reachable) =
                sqlite::open(file, options.db_timeout, serve_while_down).await?;
            Ok((
                Db::Sqlite(pool),
                format!("SQLite {}", file.display()),
                reachable,
            ))
        }
        DbSettings::MySql(my) => {
            let (pool, reachable) = mysql::open(my, options.db_timeout, serve_while_down).await?;
            Ok((
                Db::MySql(pool),
                format!("MySQL {}@{}:{}/{}", my.user, my.host, my.port, my.database),
                reachable,
            ))
        }
    }
}

/// Tries the database until it answers and its schema is up to date, then
/// says so on `ready` (and the writer starts moving the spool into it).
async fn connect_later(db: Db, description: String, ready: watch::Sender<bool>, timeout: Duration) {
    static STILL_DOWN: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut attempts = 0u32;
    loop {
        tokio::time::sleep(backoff.next_delay()).await;
        attempts += 1;
        match timed(timeout, "migrating", db.migrate()).await {
            Ok(()) => {
                tracing::info!(
                    database = %description,
                    attempts,
                    "the database answers: schema up to date, the spool goes into it now"
                );
                ready.send_replace(true);
                return;
            }
            Err(e) => {
                let Some(suppressed) = STILL_DOWN.allow() else {
                    continue;
                };
                if e.is_unavailable() {
                    tracing::warn!(database = %description, attempts, suppressed, "the database is still unavailable: {e}");
                } else {
                    tracing::error!(database = %description, attempts, suppressed, "the database cannot be used: {e}; trying again");
                }
            }
        }
    }
}
