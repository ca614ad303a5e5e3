//! The one task that writes: a bounded queue, batched into transactions,
//! and — when the database does not take a batch in time — the spool.
//!
//! Why it is shaped so:
//! * **The UDP loop never waits on the database.** Keepalives are handed
//!   over without awaiting anything, and do not even use the queue: the
//!   newest one per channel waits in a small map (so a slow or absent
//!   database costs one entry per channel, not one per keepalive), and one
//!   that says nothing new is not written at all unless the stored one is
//!   older than [`super::StoreOptions::state_refresh`].
//! * **Durable, not necessarily committed, within a bound.** A caller is
//!   answered once its write is committed — or, when the database has not
//!   committed it within `DB_WRITE_WAIT` (at most [`GOIP_ACK_WAIT`] for
//!   what a GoIP waits to be acked for), once the whole batch is on disk in
//!   the spool (`store/spool.rs`; [`Written::Spooled`]). The GoIP gets its
//!   ack, the user's SMS is accepted, and the batch goes into the database
//!   when it can, also after a restart. A stalled database (MariaDB
//!   restarting or frozen, a backup's read lock, an admin's SQLite shell
//!   holding the write lock, a full disk) costs a second, never the
//!   message. Two writes are never answered from the spool, because they
//!   promise something about the database itself: `queued → sending` and
//!   the flush barrier ([`WriteOp::kept_by_spool`]).
//! * **Order is kept.** All writes go through this one task, batches reach
//!   the database strictly in the order they were formed, and once a batch
//!   is in the spool every later one goes there too until the spool has
//!   been drained, so `mark_sent` is committed before the delivery report
//!   that refers to it, and `mark_sending` before `mark_failed`.
//! * **Committed once.** Each batch writes a marker row with what every
//!   write in it returned, in the same transaction. When an attempt is cut
//!   off or fails after it started, it may have committed; the writer then
//!   looks for the marker before writing the batch again — also for a
//!   spooled batch after a restart — so an outbound job is never stored (and
//!   later sent) twice.
//! * **Every attempt has a deadline** (`DB_TIMEOUT`): a frozen or half-open
//!   database connection is given up after seconds, not after TCP's
//!   fifteen minutes, and retried on a new connection with a growing pause.
//! * **Throughput comes from batching**: whatever queued up while the last
//!   transaction committed goes into the next one (up to
//!   [`super::StoreOptions::max_batch`] writes), so one fsync serves many
//!   messages.
//! * **One bad row does not block the rest**: a write the database refuses
//!   for good (not for "not now") is taken out of the batch, its caller gets
//!   the error, and the others are retried without it. One that the spool
//!   had already kept (and so was acked) is moved to the spool's
//!   `dead_writes` table and logged as an error: nothing is dropped silently.
//! * **Stopping has a deadline.** Once [`WriterHandle::give_up_at`] names an
//!   instant, the writer stops waiting for the database there: with a spool,
//!   what is not committed is spooled for the next start; without one (the
//!   admin commands, some tests) a batch still not committed is abandoned —
//!   its callers get [`StoreError::Abandoned`], so an inbound message is not
//!   acked and the GoIP sends it again — unless its marker shows that it
//!   committed after all. When the database does not even answer that,
//!   every later batch is abandoned without trying, so the rest of the
//!   shutdown is not held up either. What was abandoned is counted by kind
//!   ([`UnflushedWrites`]) and reported when the store closes.
//!
//! This file is the task itself: the batching loop and what it does with an
//! attempt's result. Around it: the write vocabulary (`op.rs`), the
//! submitting handle and the state it shares with the task (`handle.rs`),
//! the counts of what is not saved yet (`unsaved.rs`), the spool's side
//! (`spooling.rs`), stopping at the give-up instant (`give_up.rs`), and the
//! log line of each committed write (`events.rs`).

mod events;
mod give_up;
mod handle;
mod op;
mod spooling;
mod unsaved;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::error::{StoreError, is_transient};
use super::records::StateUpdate;
use super::spool::Spool;
use super::time::Timestamp;
use crate::util::{Backoff, SharedWarnLimiter, lock};

pub(crate) use handle::{WriterHandle, WriterStart};
pub(crate) use op::{BatchFailure, Outcome, Transition, WriteOp, Written};
pub use unsaved::UnflushedWrites;

use events::{describe, log_committed};
use handle::{Shared, WriteJob, WriteReply};
use op::Kind;
use spooling::sub_spooled;

/// The longest a write a GoIP waits on (an SMS, a delivery report, a call
/// event) waits for the database before the spool keeps it: the engine
/// gives the store 2 s before it stops waiting to ack, and the spool's own
/// fsync must fit in what is left.
pub const GOIP_ACK_WAIT: Duration = Duration::from_secs(1);

/// What the writer needs from the database: commit a batch together with
/// its marker, and look a batch up by its marker. `store/apply.rs` is the
/// real one; the writer's tests wrap it in one that can hang where a real
/// server does.
pub(crate) trait Database: Clone + Send + Sync + 'static {
    /// Writes `ops` in one transaction with the marker `batch_id`; what
    /// each write returned.
    fn apply_batch(
        &self,
        batch_id: i64,
        now: Timestamp,
        ops: &[WriteOp],
    ) -> impl Future<Output = Result<Vec<Outcome>, BatchFailure>> + Send;

    /// What the writes of batch `batch_id` returned, if it committed.
    fn batch_outcomes(
        &self,
        batch_id: i64,
    ) -> impl Future<Output = Result<Option<Vec<Outcome>>, sqlx::Error>> + Send;
}

/// The pauses between attempts at a database that fails.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

static DB_DOWN: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(10));

/// A batch on its way to the database. `Writer::batches` holds them oldest
/// first; only the oldest is ever attempted, so they commit in order.
struct Batch {
    /// The id of its marker row.
    batch_id: i64,
    /// When it was formed: every write in it is stamped with this time,
    /// also when it reaches the database from the spool much later.
    at: Timestamp,
    /// Its writes while they are in memory; a spooled batch drops them and
    /// reads them back from the spool when its turn comes.
    ops: Option<Arc<Vec<WriteOp>>>,
    /// The callers still waiting, by index.
    replies: Vec<Option<WriteReply>>,
    /// Its place in the spool, once it is there.
    spooled: Option<i64>,
    /// How many writes of it the spool holds.
    spooled_writes: usize,
    /// An attempt may have committed it: its marker is looked for first.
    maybe_committed: bool,
    /// When the spool keeps it if the database has not taken it.
    spool_by: Instant,
}

/// How an attempt at the oldest batch ended.
enum Attempted {
    /// Committed now, or found committed by its marker (`found`).
    Committed {
        ops: Arc<Vec<WriteOp>>,
        outcomes: Vec<Outcome>,
        found: bool,
    },
    /// The database refused write `index` for good.
    Refused {
        ops: Arc<Vec<WriteOp>>,
        index: usize,
        error: sqlx::Error,
    },
    /// Failed for a reason that may clear up (`transient`; also no answer
    /// within the attempt's deadline), or for none we can blame on one write.
    Failed {
        writes: usize,
        why: String,
        transient: bool,
    },
}

struct Writer<D> {
    database: D,
    spool: Option<Spool>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<WriteJob>,
    ready: watch::Receiver<bool>,
    batches: VecDeque<Batch>,
    /// The attempt in flight (always at the oldest batch), and when it started.
    attempt: Option<(BoxFuture<'static, Attempted>, Instant)>,
    /// No attempt before this (after a failure).
    retry_at: Option<Instant>,
    backoff: Backoff,
    /// Failed attempts in a row.
    failures: u32,
    /// The keepalive state last written per channel, and when.
    written: HashMap<String, (StateUpdate, Timestamp)>,
    /// The queue is closed and empty: no write will come any more.
    intake_closed: bool,
    /// When the shutdown closed the queue.
    shutting_down: Option<Instant>,
    /// Tells when the shutdown names (or moves) the give-up instant.
    give_up_rx: watch::Receiver<Option<Instant>>,
}

impl<D: Database> Writer<D> {
    /// The task's state at its start: the spool's backlog (from a previous
    /// run) comes first, in order.
    pub(super) fn new(
        database: D,
        shared: Arc<Shared>,
        rx: mpsc::Receiver<WriteJob>,
        start: WriterStart,
    ) -> Self {
        let WriterStart {
            spool,
            backlog,
            ready,
            ..
        } = start;
        let spooled: usize = backlog.iter().map(|e| e.writes).sum();
        shared.spooled.store(spooled, Ordering::Release);
        let batches = backlog
            .into_iter()
            .map(|e| Batch {
                batch_id: e.batch_id,
                at: e.at,
                ops: None,
                replies: Vec::new(),
                spooled: Some(e.seq),
                spooled_writes: e.writes,
                maybe_committed: e.maybe_committed,
                spool_by: Instant::now(),
            })
            .collect();
        Writer {
            database,
            spool,
            give_up_rx: shared.give_up.subscribe(),
            shared,
            rx,
            ready,
            batches,
            attempt: None,
            retry_at: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
            failures: 0,
            written: HashMap::new(),
            intake_closed: false,
            shutting_down: None,
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            self.advance().await;
            if self.done() {
                break;
            }
            let cut_off = self.cut_off_at();
            let spool_at = self.spool_due();
            let retry_at = self.retry_at;
            let wants_jobs = self.wants_jobs();
            let ready_known = self.ready.has_changed().is_ok();
            let give_up_ahead = self.shared.give_up().filter(|at| *at > Instant::now());
            tokio::select! {
                biased;
                _ = self.shared.shutdown.notified(), if self.shutting_down.is_none() => {
                    // No new writes from now on; what is queued is still written.
                    self.shutting_down = Some(Instant::now());
                    self.rx.close();
                }
                attempted = poll_attempt(&mut self.attempt), if self.attempt.is_some() => {
                    if let (Some((_, started)), Attempted::Committed { found: false, .. }) =
                        (self.attempt.take(), &attempted)
                    {
                        self.shared.commit_times.record(started.elapsed());
                    }
                    self.attempted(attempted).await;
                }
                () = sleep_until(cut_off), if cut_off.is_some() => self.cut_off().await,
                () = sleep_until(spool_at), if spool_at.is_some() => self.spool_oldest_due().await,
                job = self.rx.recv(), if wants_jobs => match job {
                    Some(job) => self.take(vec![job]).await,
                    None => self.intake_closed = true,
                },
                () = sleep_until(retry_at), if retry_at.is_some() => self.retry_at = None,
                () = self.shared.wake.notified() => {}
                _ = self.ready.changed(), if ready_known => {}
                _ = self.give_up_rx.changed() => {}
                () = sleep_until(give_up_ahead), if give_up_ahead.is_some() => {}
            }
        }
        tracing::debug!("database writer stopped");
    }

    /// Whether the writer has nothing left to do: no write will come, and
    /// every batch is committed (or, stopping with a spool, kept in it).
    fn done(&self) -> bool {
        if !self.intake_closed || self.attempt.is_some() {
            return false;
        }
        let states_waiting = !lock(&self.shared.states).is_empty();
        if self.spool.is_some() {
            self.batches.iter().all(|b| b.spooled.is_some())
                && !(states_waiting && self.batches.is_empty() && !self.shared.past_give_up())
        } else {
            self.batches.is_empty() && (!states_waiting || self.shared.past_give_up())
        }
    }

    /// Whether to take writes from the queue now: to spool them at once,
    /// or to form the next batch when none is in flight. Otherwise they
    /// wait in the queue, to go into the next batch together.
    fn wants_jobs(&self) -> bool {
        !self.intake_closed && (self.spooling() || self.batches.is_empty())
    }

    /// Forms a new batch of `jobs` and what else is queued, up to a batch
    /// (with the keepalive states waiting, unless [`Writer::spooling`]:
    /// then it is spooled at once).
    async fn take(&mut self, jobs: Vec<WriteJob>) {
        let jobs = self.queued(jobs);
        let with_states = !self.spooling();
        self.form_batch(jobs, with_states);
        if self.spooling()
            && let Some(index) = self.batches.len().checked_sub(1)
        {
            self.keep(index).await;
        }
    }

    /// `jobs` and what else waits in the queue, up to a batch.
    fn queued(&mut self, mut jobs: Vec<WriteJob>) -> Vec<WriteJob> {
        while jobs.len() < self.shared.config.max_batch {
            match self.rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        jobs
    }

    /// Appends a batch of `jobs`, and of the waiting keepalive states when
    /// `with_states` (they stay in memory while the database is away).
    fn form_batch(&mut self, jobs: Vec<WriteJob>, with_states: bool) {
        let mut ops = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let spool_by = jobs.iter().map(|job| job.spool_by).min();
        if with_states {
            let states: Vec<StateUpdate> =
                lock(&self.shared.states).drain().map(|(_, s)| s).collect();
            let refresh = self.shared.config.state_refresh;
            for state in states {
                let unchanged = self.written.get(&state.goip_id).is_some_and(|(last, at)| {
                    last.same_state_as(&state) && at.age_at(state.seen_at) < refresh
                });
                if !unchanged {
                    self.shared.unsaved.add(Kind::State);
                    ops.push(WriteOp::State(state));
                    replies.push(None);
                }
            }
        }
        for job in jobs {
            ops.push(job.op);
            replies.push(job.reply);
        }
        if ops.is_empty() {
            return;
        }
        self.batches.push_back(Batch {
            // Positive, random: unique among the markers of the last day.
            batch_id: rand::random::<i64>() & i64::MAX,
            at: Timestamp::now(),
            ops: Some(Arc::new(ops)),
            replies,
            spooled: None,
            spooled_writes: 0,
            maybe_committed: false,
            spool_by: spool_by.unwrap_or_else(|| Instant::now() + self.shared.config.write_wait),
        });
    }

    /// Starts what can be started: the next batch, an attempt at the oldest
    /// one, or (stopping) settles what the database no longer gets.
    async fn advance(&mut self) {
        if self.attempt.is_some() {
            return;
        }
        if self.shared.past_give_up() {
            self.settle_at_give_up().await;
            return;
        }
        if self.batches.is_empty() {
            // Nothing in flight: the keepalive states waiting, or writes
            // already in the queue, make the next batch.
            self.take(Vec::new()).await;
        }
        // Not before a failed attempt's pause, nor before the database is ready.
        if self.retry_at.is_some() || !*self.ready.borrow() {
            return;
        }
        // A stopping writer leaves what the spool holds for the next start.
        if self.shutting_down.is_some() && self.batches.front().is_some_and(|b| b.spooled.is_some())
        {
            return;
        }
        self.start_attempt().await;
    }

    /// Starts an attempt at the oldest batch (reading it back from the
    /// spool if it is only there).
    async fn start_attempt(&mut self) {
        let Some(ops) = self.front_ops().await else {
            return;
        };
        let Some(front) = self.batches.front() else {
            return;
        };
        let database = self.database.clone();
        let (batch_id, at, check_marker) = (front.batch_id, front.at, front.maybe_committed);
        let timeout = self.shared.config.db_timeout;
        let attempt = async move {
            let run = async {
                if check_marker {
                    match database.batch_outcomes(batch_id).await {
                        Ok(Some(outcomes)) if outcomes.len() == ops.len() => {
                            return Ok((outcomes, true));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(BatchFailure::outside(e)),
                    }
                }
                let applied = database.apply_batch(batch_id, at, &ops).await;
                applied.map(|outcomes| (outcomes, false))
            };
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok((outcomes, found))) => Attempted::Committed {
                    ops,
                    outcomes,
                    found,
                },
                Ok(Err(BatchFailure {
                    op: Some(index),
                    error,
                })) if index < ops.len() && !is_transient(&error) => {
                    Attempted::Refused { ops, index, error }
                }
                Ok(Err(BatchFailure { error, .. })) => Attempted::Failed {
                    writes: ops.len(),
                    why: error.to_string(),
                    transient: is_transient(&error),
                },
                Err(_) => Attempted::Failed {
                    writes: ops.len(),
                    why: format!("no answer within {} s", timeout.as_secs_f32()),
                    transient: true,
                },
            }
        };
        self.attempt = Some((Box::pin(attempt), Instant::now()));
    }

    /// Acts on how the attempt at the oldest batch ended.
    async fn attempted(&mut self, attempted: Attempted) {
        match attempted {
            Attempted::Committed {
                ops,
                outcomes,
                found,
            } => {
                if found {
                    tracing::info!(
                        writes = ops.len(),
                        "a batch whose commit was not confirmed had been saved"
                    );
                }
                self.committed(&ops, outcomes).await;
            }
            Attempted::Refused { ops, index, error } => self.refused(ops, index, error).await,
            Attempted::Failed {
                writes,
                why,
                transient,
            } => self.failed(writes, &why, transient).await,
        }
    }

    /// The oldest batch is in the database: its callers get what their
    /// writes returned, and the spool forgets it.
    async fn committed(&mut self, ops: &[WriteOp], outcomes: Vec<Outcome>) {
        let Some(mut batch) = self.batches.pop_front() else {
            return;
        };
        // Every write is settled below, also when the spool answered every
        // caller while the attempt ran and dropped their (then empty) list.
        batch.replies.resize_with(ops.len(), || None);
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                writes = ops.len(),
                "database reachable again; queued writes saved"
            );
        }
        self.failures = 0;
        self.backoff.reset();
        let from_spool = batch.spooled.is_some();
        for ((op, reply), outcome) in ops.iter().zip(batch.replies).zip(outcomes) {
            log_committed(op, &outcome);
            self.shared.unmark(op);
            if !from_spool {
                self.shared.unsaved.sub(op.kind());
            }
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Written::Committed(outcome)));
            }
            if let WriteOp::State(s) = op {
                self.written
                    .insert(s.goip_id.clone(), (s.clone(), s.seen_at));
            }
        }
        if let Some(seq) = batch.spooled {
            sub_spooled(&self.shared, batch.spooled_writes);
            if let Some(spool) = &self.spool
                && let Err(e) = spool.remove(seq).await
            {
                // It is in the database; left in the spool, its marker
                // makes the next start recognise it instead of writing it
                // again.
                tracing::warn!(
                    seq,
                    "a drained batch could not be removed from the spool: {e}"
                );
            }
            self.shared.drained.send_modify(|n| *n = n.wrapping_add(1));
            if self.shared.spooled.load(Ordering::Acquire) == 0 {
                tracing::info!("the spool is drained: every kept write is in the database");
            }
        }
    }

    /// The database refused write `index` of the oldest batch for good: it
    /// leaves the batch, and the rest is tried again at once.
    async fn refused(&mut self, ops: Arc<Vec<WriteOp>>, index: usize, error: sqlx::Error) {
        let Some(batch) = self.batches.front_mut() else {
            return;
        };
        let mut ops = Arc::unwrap_or_clone(ops);
        // The spool may have answered every caller while the attempt ran
        // and dropped their (then empty) list.
        batch.replies.resize_with(ops.len(), || None);
        let op = ops.remove(index);
        let reply = batch.replies.remove(index);
        self.shared.unmark(&op);
        // The failed attempt rolled back: the batch is known not committed.
        batch.maybe_committed = false;
        match (batch.spooled, &self.spool) {
            (Some(seq), Some(spool)) => {
                tracing::error!(
                    error = %error,
                    write = %describe(&op),
                    spool = %spool.path().display(),
                    "the database refused a write the spool had kept; it is moved to the spool's \
                     dead_writes table, not into the database"
                );
                if let Err(e) = spool.bury(batch.batch_id, &op, &error.to_string()).await {
                    tracing::error!("cannot keep the refused write in the spool: {e}");
                }
                if let Err(e) = spool.replace(seq, batch.batch_id, &ops).await {
                    tracing::error!("cannot rewrite a spooled batch: {e}");
                }
                batch.spooled_writes = batch.spooled_writes.saturating_sub(1);
                sub_spooled(&self.shared, 1);
            }
            _ => {
                tracing::error!(
                    error = %error,
                    write = %describe(&op),
                    "the database refused a write; it is not saved"
                );
                self.shared.unsaved.sub(op.kind());
            }
        }
        if let Some(reply) = reply {
            let _ = reply.send(Err(StoreError::Database {
                action: "saving a write",
                source: error,
            }));
        }
        if !ops.is_empty() {
            batch.ops = Some(Arc::new(ops));
            return;
        }
        if let (Some(seq), Some(spool)) = (batch.spooled, &self.spool) {
            let _ = spool.remove(seq).await;
        }
        self.batches.pop_front();
    }

    /// An attempt failed for a reason that may clear up (or none we can
    /// blame on one write): it may have committed, so the marker decides
    /// next time; meanwhile the spool keeps the batch, and the next attempt
    /// waits a little longer each time.
    async fn failed(&mut self, writes: usize, error: &str, transient: bool) {
        self.failures += 1;
        if transient {
            if let Some(suppressed) = DB_DOWN.allow() {
                tracing::warn!(
                    error,
                    failures = self.failures,
                    suppressed,
                    "database unreachable or too slow; {writes} writes wait and are retried{}",
                    if self.spool.is_some() {
                        " (the spool keeps them meanwhile)"
                    } else {
                        ""
                    }
                );
            }
        } else {
            // Not about one write (the marker, the commit): nothing can be
            // left out, so it is retried until an operator acts.
            tracing::error!(error, "cannot commit a batch of {writes} writes; retrying");
        }
        self.front_maybe_committed().await;
        // The database failed: what waits for it goes to the spool now
        // rather than at its deadline.
        self.keep_all().await;
        self.retry_at = Some(Instant::now() + self.backoff.next_delay());
    }

    /// An attempt at the oldest batch may have committed it: its marker is
    /// looked for first next time — also after a restart, so a spooled batch
    /// says so in the spool too.
    async fn front_maybe_committed(&mut self) {
        if let Some(batch) = self.batches.front_mut() {
            batch.maybe_committed = true;
            if let (Some(seq), Some(spool)) = (batch.spooled, &self.spool)
                && let Err(e) = spool.set_maybe_committed(seq).await
            {
                tracing::warn!(seq, "cannot update a spooled batch: {e}");
            }
        }
    }
}

async fn poll_attempt(attempt: &mut Option<(BoxFuture<'static, Attempted>, Instant)>) -> Attempted {
    match attempt {
        Some((future, _)) => future.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
