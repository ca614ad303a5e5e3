//! Storage: goippy's state and history in SQLite (the embedded default) or
//! MySQL/MariaDB (for production), behind one cheap-to-clone [`Store`].
//!
//! The schema keeps the original goippy's four tables and column names
//! (`goippy_gateways`, `goippy_state`, `goippy_calls`, `goippy_log`), so
//! existing databases and the queries people run on them keep working; the
//! migrations in `migrations/<backend>/` only add to them, and a database the
//! original created is adopted in place (`store/legacy.rs`). What the bridge needs
//! to lose nothing lives in the same tables or next to them:
//!
//! * **inbox** — inbound SMS, USSD and delivery reports stay `status =
//!   'inbox'` in `goippy_log` until the bridge has written them to the XMPP
//!   stream ([`Store::undelivered_inbox`], [`Store::mark_delivered`]);
//! * **outbox** — outbound jobs are stored `queued` before anything is sent
//!   and move through `sending` to `sent`/`failed`/`unknown`
//!   ([`Store::enqueue_outbound`] and the `mark_*` methods); see
//!   [`OutboxState`] for why nothing is ever sent twice;
//! * **notices** — what goippy itself must tell a user (an outbound
//!   message's outcome, a USSD answer, a call) waits in the same inbox as a
//!   `notice` row ([`Store::store_notice`]); the `mark_*` methods and
//!   [`Store::store_call`] take one and store it in the same transaction as
//!   the outbox change or call event it reports, so a crash can lose
//!   neither without the other;
//! * **calls** — call events go to `goippy_calls`, committed before the
//!   GoIP gets its ack, as a message is ([`Store::store_call`]);
//! * **dedup** — `goippy_dedup` remembers (channel, tag, recvid, body hash)
//!   of everything received, so a retransmission is recognised also after a
//!   restart ([`Stored::Duplicate`], [`CallStored::Duplicate`]) — within
//!   [`StoreOptions::dedup_window`], as the engine's rule says. Its
//!   `log_id` is the `goippy_log` row, or for a call event (tag `RECORD`,
//!   `HANGUP`, `EXPIRY`) the `goippy_calls` row.
//!
//! Writes go through one batching writer task (`store/writer/`) so that the
//! UDP loop never waits on the database and a database outage delays writes
//! instead of losing them (into the spool, `store/spool.rs`); reads go
//! straight to the pool. The channel registry the engine authenticates
//! against is an in-memory snapshot of the enabled gateways
//! ([`GatewayDirectory`]).
//!
//! Where the rules live: what a batch of writes does in the database
//! (`store/apply.rs`; what was received from a GoIP, with its dedup, in
//! `store/received.rs`), what is read back (`store/reads.rs`), the gateway
//! table (`store/gateways.rs`), the cleanup (`store/cleanup.rs`), adopting
//! an original database (`store/legacy.rs`). Each is written once as
//! ordinary Rust over `store/db.rs`, which runs a statement on whichever of
//! the two databases the store opened; where SQLite and MySQL differ, the
//! two texts stand side by side in the file that uses them. Connecting is
//! each backend's own (`store/sqlite.rs`, `store/mysql.rs`); opening and
//! closing the store, also while the database is down, is
//! `store/lifecycle.rs`. Times are explained in `store/time.rs`.
//!
//! A read or admin method of [`Store`] is written in the file of its rule,
//! next to its SQL (`impl Store` in `reads.rs`, `gateways.rs`, `lines.rs`,
//! `alerts.rs`); this file holds the handle, the bounds every read keeps
//! (`Store::read`) and what goes through the writer.

mod alerts;
mod apply;
mod cache;
mod cleanup;
mod db;
mod directory;
mod error;
mod gateways;
mod legacy;
mod lifecycle;
mod lines;
mod mysql;
mod reads;
mod received;
mod records;
mod rows;
mod spool;
mod sqlite;
mod time;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The GoIP's own call direction, which call records keep.
pub use crate::goip::CallDirection;
pub use alerts::AlertRecord;
pub use cleanup::{DEDUP_KEEP, MARKER_KEEP};
pub use directory::{ActiveGateway, DEFAULT_REFRESH, GatewayDirectory};
pub use error::StoreError;
pub use lines::{LineChoice, LineDefinition, LineRemoved};
/// Column widths, for callers that must choose what to store by what fits.
pub(crate) use records::widths;
pub use records::{
    Backlog, CallEntry, CallEvent, CallRecord, CallStored, ChannelState, CleanupReport,
    DeliveryReportInfo, Gateway, GatewayChange, GatewayDefinition, InboundKind, InboundRecipient,
    InboundRecord, InboxItem, LineAdded, LineShare, LogId, LogKind, NoticeInfo, NoticeRecord,
    OutboundKind, OutboundOptions, OutboundRecord, OutboundRef, OutboxItem, OutboxState,
    StateUpdate, Stored, recvid_number,
};
pub use time::Timestamp;

pub use spool::RESERVE_BYTES as SPOOL_RESERVE_BYTES;
pub use writer::{GOIP_ACK_WAIT, UnflushedWrites};

use db::Db;
use spool::Spool;
use writer::{Outcome, Transition, WriteOp, WriterHandle, Written};

/// goippy's migration history table (not sqlx's default `_sqlx_migrations`:
/// the database may be shared with other applications).
pub(crate) const MIGRATIONS_TABLE: &str = "goippy_schema_migrations";

/// The `goippy_counters` row of the highest GoIP sendid used.
pub(crate) const SENDID_COUNTER: &str = "highest_sendid";

/// How far back a delivery report looks for the SMS it is about. The GoIP's
/// `sms_no` is a per-channel counter that repeats, so only recent sends count
/// (the vendor's own server uses the same hour).
pub const DELIVERY_REPORT_WINDOW: Duration = Duration::from_secs(3600);

/// Tuning; [`StoreOptions::default`] suits production.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Writes that may wait for the database (calls, messages, outbox
    /// changes); beyond this, a new one waits for room (a call or message
    /// meanwhile goes unacked, and the GoIP repeats it). Also the most
    /// channels whose keepalive state can wait.
    pub queue_capacity: usize,
    /// Most writes per transaction.
    pub max_batch: usize,
    /// An unchanged keepalive is written again only after this long, which
    /// is how current "last seen" stays.
    pub state_refresh: Duration,
    /// How long [`Store::close`] waits for queued writes.
    pub close_timeout: Duration,
    /// `DB_TIMEOUT`: the longest a read, a write transaction or a wait for
    /// a connection may take before it counts as failed — so a frozen or
    /// half-open server is noticed in seconds.
    pub db_timeout: Duration,
    /// `DB_WRITE_WAIT`: how long a write waits for the database before the
    /// spool keeps it (only with a spool; never more than
    /// [`GOIP_ACK_WAIT`] for what a GoIP waits to be acked for).
    pub write_wait: Duration,
    /// A message whose dedup key was stored less than this before it
    /// arrived is a retransmission; after it, the same key is a new message
    /// (`GOIP_DEDUP_WINDOW`; the engine applies the same rule in memory).
    pub dedup_window: Duration,
}

/// The default [`StoreOptions::dedup_window`], `GOIP_DEDUP_WINDOW`'s default.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(600);

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            queue_capacity: 10_000,
            max_batch: 512,
            state_refresh: Duration::from_secs(120),
            close_timeout: Duration::from_secs(15),
            db_timeout: Duration::from_secs(10),
            write_wait: Duration::from_secs(1),
            dedup_window: DEDUP_WINDOW,
        }
    }
}

/// Where an accepted write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved<T> {
    /// The database committed it, with this result.
    Committed(T),
    /// The database did not take it in time: it is on disk in the spool and
    /// goes into the database, in order, when the database can take it (also
    /// after a restart). Only a store opened with a spool says this.
    Spooled,
}

impl<T> Saved<T> {
    /// The result, when the database has it already.
    pub fn committed(self) -> Option<T> {
        match self {
            Saved::Committed(t) => Some(t),
            Saved::Spooled => None,
        }
    }
}

/// The store. Clones share one pool and one writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    writer: WriterHandle,
    spool: Option<Spool>,
    description: String,
    /// True once the schema is up to date; until then reads and writes do
    /// not reach the database (see [`Store::open_serving`]).
    ready: watch::Receiver<bool>,
    /// Bounds every read ([`StoreOptions::db_timeout`]).
    timeout: Duration,
    /// Tries to reach the database until it answers (serving mode only).
    connector: Mutex<Option<JoinHandle<()>>>,
}

/// A task of the store's that runs in the background (the hourly cleanup,
/// the gateway reload); it stops when this is dropped.
#[derive(Debug)]
pub struct StoreTask(JoinHandle<()>);

impl StoreTask {
    /// Tells whether the task still runs, without owning it (the task
    /// stops when this is dropped, not when the handle is).
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.0.abort_handle()
    }
}

impl Drop for StoreTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.inner.description)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Whether the database has been reached (and its schema brought up to
    /// date) since the store opened.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Waits until [`Store::is_ready`].
    pub async fn wait_ready(&self) {
        let mut ready = self.inner.ready.clone();
        if ready.wait_for(|r| *r).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Writes kept in the spool that the database has not taken yet.
    pub fn spooled(&self) -> usize {
        self.inner.writer.spooled()
    }

    /// Changes whenever writes from the spool reach the database: new inbox
    /// rows and outbox jobs may be there.
    pub fn spool_drained(&self) -> watch::Receiver<u64> {
        self.inner.writer.drained()
    }

    /// Whether the writer task still runs (for the watchdog).
    pub fn writer_running(&self) -> bool {
        self.inner.writer.is_running()
    }

    /// Bounds a read by the store's timeout; before the database was ever
    /// reached, answers unavailable at once.
    async fn read<T>(
        &self,
        what: &'static str,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if !self.is_ready() {
            return Err(StoreError::Unavailable(
                "not reached since goippy started".into(),
            ));
        }
        // Stopping: no read outlasts the instant the writes are given up,
        // so that a dead database cannot hold the shutdown up.
        let timeout = match self.inner.writer.give_up() {
            Some(at) => self
                .inner
                .timeout
                .min(at.saturating_duration_since(tokio::time::Instant::now())),
            None => self.inner.timeout,
        };
        timed(timeout, what, read).await
    }

    /// A statement bounded as [`Store::read`] bounds a read, its error as
    /// the store reports it.
    async fn run<T>(
        &self,
        what: &'static str,
        query: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        self.read(what, async { query.await.map_err(StoreError::db(what)) })
            .await
    }

    /// Which database this is, for messages (never with a password).
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The settings SQLite reports for the store's connections (WAL, the
    /// busy timeout, synchronous); `None` on MySQL/MariaDB.
    #[cfg(test)]
    pub(crate) async fn sqlite_settings(
        &self,
    ) -> Result<Option<sqlite::SqliteSettings>, StoreError> {
        match &self.inner.db {
            Db::Sqlite(pool) => sqlite::settings(pool)
                .await
                .map(Some)
                .map_err(StoreError::db("reading the SQLite settings")),
            Db::MySql(_) => Ok(None),
        }
    }

    /// What the store has not saved so far: writes given up at the
    /// shutdown deadline, and those still waiting for the database.
    pub fn unsaved(&self) -> UnflushedWrites {
        self.inner.writer.unsaved()
    }

    /// Waits until every write submitted before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.writer.submit(WriteOp::Barrier).await.map(|_| ())
    }

    /// Submits a write; once the database committed it, `committed` makes
    /// its outcome the caller's answer.
    async fn write<T>(
        &self,
        op: WriteOp,
        committed: impl FnOnce(Outcome) -> Result<T, StoreError>,
    ) -> Result<Saved<T>, StoreError> {
        match self.inner.writer.submit(op).await? {
            Written::Committed(outcome) => committed(outcome).map(Saved::Committed),
            Written::Spooled => Ok(Saved::Spooled),
        }
    }

    // ----- what the daemon needs while the database is away --------------

    /// Keeps the enabled gateways in the spool, for a start while the
    /// database is down. Without a spool, nothing.
    pub async fn cache_gateways(&self, gateways: &[Gateway]) -> Result<(), StoreError> {
        let Some(spool) = &self.inner.spool else {
            return Ok(());
        };
        let json = serde_json::to_string(gateways)
            .map_err(|e| StoreError::Internal(format!("encoding the gateway cache: {e}")))?;
        spool
            .put_cache(cache::GATEWAYS, &json)
            .await
            .map_err(|e| spool_error(spool, e))
    }

    /// The gateways [`Store::cache_gateways`] kept, if any.
    pub async fn cached_gateways(&self) -> Result<Option<Vec<Gateway>>, StoreError> {
        let Some(spool) = &self.inner.spool else {
            return Ok(None);
        };
        let Some(json) = spool
            .get_cache(cache::GATEWAYS)
            .await
            .map_err(|e| spool_error(spool, e))?
        else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| spool_error(spool, sqlx::Error::Decode(e.into())))
    }

    // ----- the hot path ----------------------------------------------------

    /// Saves a keepalive without waiting. Per channel only the newest waits;
    /// an unchanged one is not written (see [`StoreOptions::state_refresh`]).
    /// A non-empty `num` also updates the gateway's `msisdn`.
    pub fn record_keepalive(&self, update: StateUpdate) {
        self.inner.writer.record_state(update.fitted());
    }

    /// Logs a call event and returns once it is saved (committed, or kept by
    /// the spool); only then may the GoIP get its ack (an ack for a write
    /// that is merely queued would be lost with it in a crash, and the GoIP
    /// would not send it again). A
    /// retransmission — also one that arrives after a restart — comes back
    /// as [`CallStored::Duplicate`], recognised by (channel, event, recvid,
    /// what it says) in `goippy_dedup` as an SMS is (see [`recvid_number`]
    /// for a recvid that is no number). An event with no recvid has no such
    /// key: it is logged each time it comes.
    ///
    /// `notices`, the users' messages about it (one per user of a shared
    /// line), are stored in the same transaction when the event is new (a
    /// retransmission stores none), so that no commit can leave a logged
    /// call untold: its resends are all duplicates, which are never told.
    pub async fn store_call(
        &self,
        call: CallRecord,
        notices: Vec<NoticeRecord>,
    ) -> Result<Saved<CallStored>, StoreError> {
        let mut notices = notices.into_iter().map(NoticeRecord::fitted);
        self.write(
            WriteOp::Call {
                call: call.fitted(),
                notice: notices.next(),
                also_told: notices.collect(),
            },
            |outcome| match outcome {
                Outcome::Stored { id, new: true } => Ok(CallStored::New(id)),
                Outcome::Stored { id, new: false } => Ok(CallStored::Duplicate(id)),
                other => Err(unexpected(other)),
            },
        )
        .await
    }

    /// Stores something received and returns once it is saved (committed,
    /// or kept by the spool); only then may the GoIP get its ack. A
    /// retransmission — also one that arrives after a restart — comes back
    /// as [`Stored::Duplicate`] with the id of the first copy. New rows wait
    /// in the inbox.
    ///
    /// `outbound`: for a delivery report whose outbound SMS the caller
    /// already knows (the engine matched its `sms_no`), the report is linked
    /// to that row even when its `sent` state is not committed yet. Without
    /// it the store matches the report itself (see
    /// [`InboundKind::DeliveryReport`]); other kinds ignore it.
    pub async fn store_inbound(
        &self,
        record: InboundRecord,
        outbound: Option<LogId>,
    ) -> Result<Saved<Stored>, StoreError> {
        let record = record.fitted();
        let body_hash = crate::util::body_hash_column(&record.kind.dedup_text());
        self.write(
            WriteOp::Inbound {
                record,
                body_hash,
                outbound,
            },
            |outcome| match outcome {
                Outcome::Stored { id, new: true } => Ok(Stored::New(LogId(id))),
                Outcome::Stored { id, new: false } => Ok(Stored::Duplicate(LogId(id))),
                other => Err(unexpected(other)),
            },
        )
        .await
    }

    // ----- inbox -----------------------------------------------------------

    /// Stores a notice for a user in the inbox (see [`NoticeRecord`]);
    /// returns once it is saved.
    pub async fn store_notice(&self, notice: NoticeRecord) -> Result<Saved<LogId>, StoreError> {
        self.write(WriteOp::Notice(notice.fitted()), |outcome| match outcome {
            Outcome::Stored { id, .. } => Ok(LogId(id)),
            other => Err(unexpected(other)),
        })
        .await
    }

    /// Stores a line's alert state with the notices that tell its users
    /// about the change, in one transaction; returns once saved (committed,
    /// or kept by the spool). See `store/alerts.rs`.
    pub async fn save_alert(
        &self,
        state: AlertRecord,
        notices: Vec<NoticeRecord>,
    ) -> Result<Saved<()>, StoreError> {
        self.write(
            WriteOp::Alert {
                state: state.fitted(),
                notices: notices.into_iter().map(NoticeRecord::fitted).collect(),
            },
            |outcome| match outcome {
                Outcome::Done => Ok(()),
                other => Err(unexpected(other)),
            },
        )
        .await
    }

    /// Takes a row out of the inbox once it has been written to the XMPP
    /// stream. Marking it again is harmless. From the moment this is
    /// called, the inbox no longer hands the row out, also while the mark
    /// waits in the spool.
    pub async fn mark_delivered(&self, id: LogId) -> Result<(), StoreError> {
        let delivered = self.write(WriteOp::Delivered(id), |outcome| match outcome {
            Outcome::Done => Ok(()),
            Outcome::NoSuchInbound { .. } => Err(StoreError::UnknownMessage(id)),
            other => Err(unexpected(other)),
        });
        delivered.await.map(|_| ())
    }

    // ----- outbox ----------------------------------------------------------

    /// Stores an outbound job as `queued`; returns once it is saved
    /// (committed, or kept by the spool, whence it enters the outbox when
    /// the database can take it), before anything may be sent. `options`
    /// keep what the bridge needs to answer the sender later (the receipt
    /// request, the address written to).
    pub async fn enqueue_outbound(
        &self,
        record: OutboundRecord,
        options: OutboundOptions,
    ) -> Result<Saved<LogId>, StoreError> {
        self.write(
            WriteOp::Outbound {
                record: record.fitted(),
                options: options.fitted(),
            },
            |outcome| match outcome {
                Outcome::Enqueued { id } => Ok(LogId(id)),
                other => Err(unexpected(other)),
            },
        )
        .await
    }

    /// `queued` → `sending`, with the session's sendid. Call it (and wait for
    /// it) before the first SEND datagram goes out; it fails for a job that
    /// is not `queued`, which is what keeps a job from being sent twice.
    /// It waits for the database itself: the spool cannot say whether the
    /// job is still queued.
    pub async fn mark_sending(&self, id: LogId, sendid: i64) -> Result<(), StoreError> {
        self.transition(id, Transition::Sending { sendid }, None)
            .await
    }

    /// `sending` (or `unknown`) → `sent`, with the GoIP's `sms_no` and
    /// `telid`. `notice` (for this and the other outcomes below) is stored
    /// in the same transaction, only if the change is made, so the user
    /// hears of it even across a crash.
    pub async fn mark_sent(
        &self,
        id: LogId,
        sms_no: Option<i64>,
        telid: Option<i64>,
        notice: Option<NoticeRecord>,
    ) -> Result<(), StoreError> {
        self.transition(id, Transition::Sent { sms_no, telid }, notice)
            .await
    }

    /// → `failed`, with why and the GoIP's `errorstatus` if it gave one.
    pub async fn mark_failed(
        &self,
        id: LogId,
        reason: &str,
        errorstatus: Option<i64>,
        notice: Option<NoticeRecord>,
    ) -> Result<(), StoreError> {
        let reason = reason.to_string();
        let change = Transition::Failed {
            reason,
            errorstatus,
        };
        self.transition(id, change, notice).await
    }

    /// Back to `queued`, on line `goip_id` (failover: the GoIP refused it
    /// for a reason of its line, so nothing went out). `tried` (kept as the
    /// row's detail) names the lines tried, so a job never comes back to
    /// one. Needs the database: a move only the spool holds would leave the
    /// new line's runner without the job.
    pub async fn move_outbound(
        &self,
        id: LogId,
        goip_id: &str,
        tried: &str,
        notice: Option<NoticeRecord>,
    ) -> Result<(), StoreError> {
        let change = Transition::Moved {
            goip_id: goip_id.to_string(),
            tried: tried.to_string(),
        };
        self.transition(id, change, notice).await
    }

    /// `sending` → `unknown`: the SMS may or may not have gone out (a
    /// timeout, or goippy stopped in the middle). Never sent again.
    pub async fn mark_unknown(
        &self,
        id: LogId,
        reason: &str,
        notice: Option<NoticeRecord>,
    ) -> Result<(), StoreError> {
        let reason = reason.to_string();
        self.transition(id, Transition::Unknown { reason }, notice)
            .await
    }

    async fn transition(
        &self,
        id: LogId,
        change: Transition,
        notice: Option<NoticeRecord>,
    ) -> Result<(), StoreError> {
        let to = change.target().as_str();
        let op = WriteOp::Transition {
            id,
            change: change.fitted(),
            notice: notice.map(NoticeRecord::fitted),
        };
        // Kept by the spool: it is applied in order when the database is
        // back; a refusal then is logged (outcomes other than `sending` are
        // never refused for a job this process ran).
        let moved = self.write(op, |outcome| match outcome {
            Outcome::Done => Ok(()),
            Outcome::TransitionRefused { from, .. } => Err(StoreError::Transition { id, to, from }),
            other => Err(unexpected(other)),
        });
        moved.await.map(|_| ())
    }

    // ----- counters --------------------------------------------------------

    /// The USSD sendid the engine must stay above after a restart: the
    /// largest one saved with [`Store::save_sendid_floor`] or recorded on a
    /// USSD outbox row, whichever is larger (0 for a new database). While
    /// the database is unavailable, the spool's copy of the last one saved.
    pub async fn sendid_floor(&self) -> Result<u32, StoreError> {
        let cached = self.cached_sendid_floor().await;
        let db = &self.inner.db;
        let read = async {
            let saved: Option<i64> = db
                .query("SELECT value FROM goippy_counters WHERE name = ?")
                .bind(SENDID_COUNTER)
                .scalar_optional()
                .await?;
            // USSD rows only: an SMS session's sendid is random (up to 31
            // bits) and must not become the floor of USSD ones.
            let recorded: Option<i64> = db
                .query(
                    "SELECT CAST(MAX(sendid) AS SIGNED INTEGER) FROM goippy_log \
                     WHERE dir = 'out' AND kind = 'ussd' AND sendid IS NOT NULL",
                )
                .scalar_one()
                .await?;
            Ok(saved.unwrap_or(0).max(recorded.unwrap_or(0)))
        };
        let highest = match self.run("reading the sendid floor", read).await {
            Ok(highest) => highest.max(cached.unwrap_or(0)),
            Err(e) if e.is_unavailable() => match cached {
                Some(cached) => {
                    tracing::warn!(
                        "the database is unavailable ({e}): using the sendid floor kept in the spool"
                    );
                    cached
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        Ok(u32::try_from(highest.clamp(0, i64::from(u32::MAX))).unwrap_or(0))
    }

    async fn cached_sendid_floor(&self) -> Option<i64> {
        let spool = self.inner.spool.as_ref()?;
        spool
            .get_cache(SENDID_COUNTER)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
    }

    /// Raises the saved sendid floor to `sendid` (it never goes down);
    /// returns once saved (the spool also keeps a copy of its own, which a
    /// start while the database is down reads).
    pub async fn save_sendid_floor(&self, sendid: u32) -> Result<(), StoreError> {
        if let Some(spool) = &self.inner.spool {
            let higher = self
                .cached_sendid_floor()
                .await
                .is_none_or(|cached| cached < i64::from(sendid));
            if higher && let Err(e) = spool.put_cache(SENDID_COUNTER, &sendid.to_string()).await {
                tracing::warn!("cannot keep the sendid floor in the spool: {e}");
            }
        }
        let op = WriteOp::Counter {
            name: SENDID_COUNTER.to_string(),
            value: i64::from(sendid),
        };
        let saved = self.write(op, |outcome| match outcome {
            Outcome::Done => Ok(()),
            other => Err(unexpected(other)),
        });
        saved.await.map(|_| ())
    }

    // ----- metrics ---------------------------------------------------------

    /// How long the writer's committed batches took, from the attempt's
    /// start to the database's answer (spooled batches are not in it).
    pub fn commit_times(&self) -> crate::util::HistogramSnapshot {
        self.inner.writer.commit_times()
    }

    // ----- maintenance -----------------------------------------------------

    /// One cleanup pass (see `store/cleanup.rs`): `goippy_log` rows older than
    /// `log_days` days (0 keeps them), except undelivered inbox and
    /// unfinished outbox rows; dedup keys older than [`DEDUP_KEEP`]; batch
    /// markers older than [`MARKER_KEEP`].
    pub async fn cleanup(&self, log_days: u32) -> Result<CleanupReport, StoreError> {
        let keep_markers = self.spooled() > 0;
        self.read(
            "cleaning up",
            cleanup::run_once(&self.inner.db, log_days, Timestamp::now(), keep_markers),
        )
        .await
    }

    /// [`Store::cleanup`] now and then every hour, until the task is dropped
    /// or the store is closed.
    pub fn spawn_cleanup(&self, log_days: u32) -> StoreTask {
        cleanup::spawn(self, log_days)
    }
}

/// Bounds `work` by `timeout`: past it, the database counts as unavailable.
async fn timed<T>(
    timeout: Duration,
    what: &'static str,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} s while {what}",
            timeout.as_secs_f32()
        ))),
    }
}

fn spool_error(spool: &Spool, e: sqlx::Error) -> StoreError {
    StoreError::Spool {
        path: spool.path().to_path_buf(),
        reason: e.to_string(),
    }
}

fn unexpected(outcome: Outcome) -> StoreError {
    StoreError::Internal(format!(
        "the writer answered {outcome:?} to a write of another kind"
    ))
}
