//! The one task that writes: a bounded queue, batched into transactions,
//! retried until the database takes them.
//!
//! Why it is shaped so:
//! * **The UDP loop never waits on the database.** Keepalives are handed
//!   over without awaiting anything, and do not even use the queue: the
//!   newest one per channel waits in a small map (so a
//!   slow or absent database costs one entry per channel, not one per
//!   keepalive), and one that says nothing new is not written at all unless
//!   the stored one is older than [`super::StoreOptions::state_refresh`].
//! * **Nothing that matters is dropped.** Calls and messages wait for room
//!   when the queue is full, and their callers for the commit, so the engine
//!   acks nothing that is not committed; the GoIP sends the rest again. Once
//!   queued, a write is retried until it is committed: a MariaDB restart or a
//!   full disk only delays it.
//! * **Order is kept.** All writes go through this one task in the order
//!   they were submitted, so `mark_sent` is committed before the delivery
//!   report that refers to it, and `mark_sending` before `mark_failed`.
//! * **Commit means committed once.** Each batch writes a marker row with
//!   what every write in it returned. When the connection breaks during
//!   COMMIT, the outcome is unknown; the writer then looks for the marker
//!   before trying again, so an outbound job is never stored (and later sent)
//!   twice.
//! * **Throughput comes from batching**: whatever queued up while the last
//!   transaction committed goes into the next one (up to
//!   [`super::StoreOptions::max_batch`] writes), so one fsync serves many
//!   messages.
//! * **One bad row does not block the rest**: a write the database refuses
//!   for good (not for "not now") is taken out of the batch, its caller gets
//!   the error, and the others are retried without it.
//! * **Stopping has a deadline.** "Retried until committed" would keep a
//!   stopping goippy alive for as long as the database is unreachable (until
//!   systemd kills it, with nothing said). Once [`WriterHandle::give_up_at`]
//!   names an instant, retries end there: a batch still not committed is
//!   abandoned — its callers get [`StoreError::Abandoned`], so an inbound
//!   message is not acked and the GoIP sends it again — unless its marker
//!   shows that it committed after all (an attempt cut off in its COMMIT).
//!   When the database does not even answer that, every later batch is
//!   abandoned without trying, so the rest of the shutdown is not held up
//!   either. What was abandoned is counted by kind ([`UnflushedWrites`]) and
//!   reported when the store closes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backend::Backend;
use super::error::{StoreError, is_transient};
use super::ratelimit::RateLimited;
use super::records::{
    CallRecord, InboundKind, InboundRecord, LogId, NoticeRecord, OutboundOptions, OutboundRecord,
    OutboxState, StateUpdate,
};
use super::time::Timestamp;

/// One write.
#[derive(Debug, Clone)]
pub(crate) enum WriteOp {
    /// Upsert `goippy_state` (and `goippy_gateways.msisdn` when `num` changed).
    State(StateUpdate),
    /// A call event, with the user's notice of it: stored in the same
    /// transaction, only when the event is new.
    Call {
        call: CallRecord,
        notice: Option<NoticeRecord>,
    },
    Inbound {
        record: InboundRecord,
        body_hash: i64,
        /// A delivery report's outbound row, when the caller already knows it.
        outbound: Option<LogId>,
    },
    Outbound {
        record: OutboundRecord,
        options: OutboundOptions,
    },
    /// An outbox state change; `notice` is stored with it, in the same
    /// transaction, only if the change is made.
    Transition {
        id: LogId,
        change: Transition,
        notice: Option<NoticeRecord>,
    },
    Delivered(LogId),
    /// A notice for the inbox ([`NoticeRecord`]).
    Notice(NoticeRecord),
    /// Raises a named counter to `value` (never lowers it).
    Counter {
        name: &'static str,
        value: i64,
    },
    /// Writes nothing; resolves once everything queued before it is committed.
    Barrier,
}

/// An outbox state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Sending {
        sendid: i64,
    },
    Sent {
        sms_no: Option<i64>,
        telid: Option<i64>,
    },
    Failed {
        reason: String,
        errorstatus: Option<i64>,
    },
    Unknown {
        reason: String,
    },
}

impl Transition {
    pub(crate) fn target(&self) -> OutboxState {
        match self {
            Transition::Sending { .. } => OutboxState::Sending,
            Transition::Sent { .. } => OutboxState::Sent,
            Transition::Failed { .. } => OutboxState::Failed,
            Transition::Unknown { .. } => OutboxState::Unknown,
        }
    }
}

/// The kinds of write, for counting what was not saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    State,
    Call,
    Inbound,
    Outbound,
    Transition,
    Delivered,
    Notice,
    Counter,
    Barrier,
}

const KINDS: usize = 9;

impl WriteOp {
    fn kind(&self) -> Kind {
        match self {
            WriteOp::State(_) => Kind::State,
            WriteOp::Call { .. } => Kind::Call,
            WriteOp::Inbound { .. } => Kind::Inbound,
            WriteOp::Outbound { .. } => Kind::Outbound,
            WriteOp::Transition { .. } => Kind::Transition,
            WriteOp::Delivered(_) => Kind::Delivered,
            WriteOp::Notice(_) => Kind::Notice,
            WriteOp::Counter { .. } => Kind::Counter,
            WriteOp::Barrier => Kind::Barrier,
        }
    }
}

/// Writes counted by kind.
#[derive(Default)]
struct Counts([AtomicUsize; KINDS]);

impl Counts {
    fn add(&self, kind: Kind) {
        self.0[kind as usize].fetch_add(1, Ordering::AcqRel);
    }

    fn sub(&self, kind: Kind) {
        let _ = self.0[kind as usize].fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            Some(n.saturating_sub(1))
        });
    }

    fn snapshot(&self) -> [usize; KINDS] {
        std::array::from_fn(|i| self.0[i].load(Ordering::Acquire))
    }
}

/// One write counted in [`Shared::pending`] until it is handed to the
/// writer: dropped before [`Counted::handed_over`] (refused, or the caller's
/// future dropped while it waited for room in the queue), it takes the count
/// back, so a write that never reached the queue is not reported as unsaved.
struct Counted<'a> {
    counts: &'a Counts,
    kind: Kind,
    handed_over: bool,
}

impl<'a> Counted<'a> {
    fn new(counts: &'a Counts, kind: Kind) -> Counted<'a> {
        counts.add(kind);
        Counted {
            counts,
            kind,
            handed_over: false,
        }
    }

    /// The writer has the write now; it takes the count back when it
    /// resolves it.
    fn handed_over(mut self) {
        self.handed_over = true;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if !self.handed_over {
            self.counts.sub(self.kind);
        }
    }
}

/// Writes that were not saved, by kind, and what that means for each
/// (the store's close reports it; see [`StoreError::Unflushed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnflushedWrites {
    /// Inbound SMS, USSD answers and delivery reports. Never acked to the
    /// GoIP (the ack follows the commit), so the GoIP sends them again.
    pub inbound: usize,
    /// Call events. Never acked to the GoIP (the ack follows the commit),
    /// so the GoIP sends them again.
    pub calls: usize,
    /// Keepalive states: the next keepalive writes them.
    pub states: usize,
    /// Outbound jobs: not queued, never sent (their senders are refused
    /// while the XMPP stream is up).
    pub outbound: usize,
    /// Outbox state changes: the next start settles them.
    pub transitions: usize,
    /// Inbox rows marked delivered: delivered again at the next start.
    pub delivered: usize,
    /// Notices for users.
    pub notices: usize,
    /// The saved sendid floor.
    pub counters: usize,
}

impl UnflushedWrites {
    /// From counts indexed by [`Kind`] (barriers are not writes).
    fn from_kinds(n: [usize; KINDS]) -> UnflushedWrites {
        UnflushedWrites {
            inbound: n[Kind::Inbound as usize],
            calls: n[Kind::Call as usize],
            states: n[Kind::State as usize],
            outbound: n[Kind::Outbound as usize],
            transitions: n[Kind::Transition as usize],
            delivered: n[Kind::Delivered as usize],
            notices: n[Kind::Notice as usize],
            counters: n[Kind::Counter as usize],
        }
    }

    /// All writes not saved.
    pub fn total(&self) -> usize {
        self.inbound
            + self.calls
            + self.states
            + self.outbound
            + self.transitions
            + self.delivered
            + self.notices
            + self.counters
    }
}

impl fmt::Display for UnflushedWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: [(usize, &str); 8] = [
            (
                self.inbound,
                "inbound SMS/USSD/delivery reports (none was acked: the GoIP will retransmit them)",
            ),
            (
                self.calls,
                "call events (none was acked: the GoIP will retransmit them)",
            ),
            (
                self.states,
                "keepalive states (the next keepalive writes them)",
            ),
            (
                self.outbound,
                "outbound messages (not queued, never sent: their senders are refused while the XMPP stream is up)",
            ),
            (
                self.transitions,
                "outbox state changes (the next start settles those messages)",
            ),
            (
                self.delivered,
                "delivered marks (those messages go to XMPP again at the next start)",
            ),
            (self.notices, "notices for users (not sent)"),
            (
                self.counters,
                "sendid saves (the next start uses the outbound rows instead)",
            ),
        ];
        write!(f, "{} writes not saved", self.total())?;
        let mut first = true;
        for (n, what) in parts {
            if n > 0 {
                f.write_str(if first { ": " } else { "; " })?;
                write!(f, "{n} {what}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// What one write returned. Stored (as JSON) with the batch marker, so it
/// can be recovered when the reply to COMMIT was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Done,
    Stored { id: i64, new: bool },
    Enqueued { id: i64 },
    TransitionRefused { id: i64, from: Option<String> },
    NoSuchInbound { id: i64 },
}

/// Why a batch did not commit: the error, and which write caused it (if one did).
#[derive(Debug)]
pub(crate) struct BatchFailure {
    pub op: Option<usize>,
    pub error: sqlx::Error,
}

impl BatchFailure {
    pub(crate) fn at(op: usize) -> impl FnOnce(sqlx::Error) -> BatchFailure {
        move |error| BatchFailure {
            op: Some(op),
            error,
        }
    }

    pub(crate) fn outside(error: sqlx::Error) -> BatchFailure {
        BatchFailure { op: None, error }
    }
}

/// The hash of a message body in the dedup key: the engine's
/// [`crate::engine::body_hash`] (the first 8 bytes of its SHA-256), with its
/// bits kept as the signed integer SQL columns hold.
pub(crate) fn body_hash(text: &str) -> i64 {
    i64::from_be_bytes(crate::engine::body_hash(text.as_bytes()).to_be_bytes())
}

type Reply = oneshot::Sender<Result<Outcome, StoreError>>;

struct Job {
    op: WriteOp,
    reply: Option<Reply>,
}

/// Tuning of the writer (see [`super::StoreOptions`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterConfig {
    pub capacity: usize,
    pub max_batch: usize,
    pub state_refresh: Duration,
    pub close_timeout: Duration,
}

/// How long a batch that starts after the give-up instant may take (when
/// nothing was abandoned yet, the database may well be fine: the shutdown
/// was slow for another reason).
const LAST_TRY: Duration = Duration::from_millis(500);

/// How much longer an attempt cut off at the give-up instant may run: one
/// in its COMMIT then reports what it did itself.
const CUT_OFF_GRACE: Duration = Duration::from_millis(100);

/// How long the look at a batch's marker may take once the give-up instant
/// has passed (see [`give_up`]). With [`CUT_OFF_GRACE`] it stays well
/// inside the time the shutdown leaves the store after that instant.
const MARKER_CHECK: Duration = Duration::from_millis(200);

/// What the handle and the task share.
struct Shared {
    /// The newest unwritten keepalive per channel.
    states: Mutex<HashMap<String, StateUpdate>>,
    wake: Notify,
    shutdown: Notify,
    closed: AtomicBool,
    /// Writes accepted (or keepalive states taken into a batch) and not yet
    /// resolved, by kind (for the close report).
    pending: Counts,
    /// Writes given up at the shutdown deadline, by kind.
    abandoned: Counts,
    /// When stopping: the instant retries end ([`WriterHandle::give_up_at`]).
    give_up: watch::Sender<Option<Instant>>,
    /// A batch was abandoned and the database did not answer: later ones
    /// are not even tried.
    giving_up: AtomicBool,
    config: WriterConfig,
    /// Tests: an attempt hangs after the database committed it, as when
    /// the reply to COMMIT is lost on a hanging connection.
    #[cfg(test)]
    reply_lost: AtomicBool,
    /// Tests: an attempt hangs before it reaches the database, as on a
    /// connection that stopped answering.
    #[cfg(test)]
    hangs_before_commit: AtomicBool,
}

impl Shared {
    fn new(config: WriterConfig) -> Shared {
        Shared {
            states: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            shutdown: Notify::new(),
            closed: AtomicBool::new(false),
            pending: Counts::default(),
            abandoned: Counts::default(),
            give_up: watch::Sender::new(None),
            giving_up: AtomicBool::new(false),
            config,
            #[cfg(test)]
            reply_lost: AtomicBool::new(false),
            #[cfg(test)]
            hangs_before_commit: AtomicBool::new(false),
        }
    }

    /// Everything not saved so far: abandoned, still queued or in a batch,
    /// and keepalive states still waiting.
    fn unsaved(&self) -> UnflushedWrites {
        let waiting_states = self.states.lock().unwrap_or_else(|p| p.into_inner()).len();
        let (abandoned, pending) = (self.abandoned.snapshot(), self.pending.snapshot());
        let mut unsaved: [usize; KINDS] = std::array::from_fn(|i| abandoned[i] + pending[i]);
        unsaved[Kind::State as usize] += waiting_states;
        UnflushedWrites::from_kinds(unsaved)
    }

    /// Whether the give-up instant has passed.
    fn past_give_up(&self) -> bool {
        self.give_up.borrow().is_some_and(|at| Instant::now() >= at)
    }
}

/// The submitting side, held by [`super::Store`].
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

static STATE_DROPPED: RateLimited = RateLimited::new(Duration::from_secs(10));
static DB_DOWN: RateLimited = RateLimited::new(Duration::from_secs(10));

impl WriterHandle {
    /// Starts the writer task on the current tokio runtime.
    pub(crate) fn spawn(backend: Backend, config: WriterConfig) -> WriterHandle {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let shared = Arc::new(Shared::new(config));
        let task = tokio::spawn(run(backend, rx, Arc::clone(&shared)));
        WriterHandle {
            tx,
            shared,
            task: Mutex::new(Some(task)),
        }
    }

    /// Keeps the newest keepalive of a channel for the next batch. Never waits.
    pub(crate) fn record_state(&self, update: StateUpdate) {
        if self.shared.closed.load(Ordering::Acquire) {
            return;
        }
        let cap = self.shared.config.capacity;
        let mut states = self.shared.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.len() >= cap && !states.contains_key(&update.goip_id) {
            drop(states);
            if let Some(suppressed) = STATE_DROPPED.allow() {
                tracing::warn!(
                    goip_id = %update.goip_id,
                    suppressed,
                    "keepalive state not saved: {cap} channels are already waiting for the database \
                     (the next keepalive repeats it)"
                );
            }
            return;
        }
        states.insert(update.goip_id.clone(), update);
        drop(states);
        self.shared.wake.notify_one();
    }

    /// Queues a write without waiting for room or for its commit; false
    /// when the queue is full. For tests that need a queue in a given state.
    #[cfg(test)]
    fn submit_nowait(&self, op: WriteOp) -> bool {
        let counted = Counted::new(&self.shared.pending, op.kind());
        let queued = self.tx.try_send(Job { op, reply: None }).is_ok();
        if queued {
            counted.handed_over();
        }
        queued
    }

    /// Queues a write (waiting for room) and waits until it is committed.
    pub(crate) async fn submit(&self, op: WriteOp) -> Result<Outcome, StoreError> {
        let (reply, result) = oneshot::channel();
        let kind = op.kind();
        let job = Job {
            op,
            reply: Some(reply),
        };
        // Counted before it can be resolved; uncounted if refused, and also
        // if this future is dropped while it waits for room (a caller's
        // timeout): the write was never queued, so it is nothing unsaved.
        let counted = Counted::new(&self.shared.pending, kind);
        if self.tx.send(job).await.is_err() {
            return Err(StoreError::Closed);
        }
        // Queued: from now on the writer resolves it (and uncounts it).
        counted.handed_over();
        result.await.map_err(|_| StoreError::Closed)?
    }

    /// Stopping: retrying a batch the database does not take ends at `at`
    /// (see the module documentation). An earlier instant than one already
    /// set wins.
    pub(crate) fn give_up_at(&self, at: Instant) {
        self.shared
            .give_up
            .send_if_modified(|current| match current {
                Some(set) if *set <= at => false,
                _ => {
                    *current = Some(at);
                    true
                }
            });
    }

    /// What has not been saved so far.
    pub(crate) fn unsaved(&self) -> UnflushedWrites {
        self.shared.unsaved()
    }

    /// Writes everything still queued, then stops the task. Waits at most
    /// the configured close timeout, and never past `deadline`; then (the
    /// database is unreachable) stops the task anyway. An error says what
    /// was not saved, by kind: what was abandoned at the give-up instant
    /// and what was still waiting.
    pub(crate) async fn close(&self, deadline: Option<Instant>) -> Result<(), StoreError> {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.shutdown.notify_one();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut task) = task else {
            return Ok(());
        };
        // A close timeout too large for an instant (`Duration::MAX`) means
        // no limit of its own; `deadline` still applies.
        let until = match (
            Instant::now().checked_add(self.shared.config.close_timeout),
            deadline,
        ) {
            (Some(limit), Some(deadline)) => Some(limit.min(deadline)),
            (limit, deadline) => limit.or(deadline),
        };
        let stopped = match until {
            Some(until) => tokio::time::timeout_at(until, &mut task).await.is_ok(),
            None => {
                let _ = (&mut task).await;
                true
            }
        };
        if !stopped {
            task.abort();
            let _ = task.await;
        }
        let unsaved = self.shared.unsaved();
        if unsaved.total() == 0 {
            Ok(())
        } else {
            Err(StoreError::Unflushed(unsaved))
        }
    }
}

/// The writer task.
async fn run(backend: Backend, mut rx: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    let config = shared.config;
    let mut written: HashMap<String, (StateUpdate, Timestamp)> = HashMap::new();
    let mut shutting_down = false;
    loop {
        let mut jobs: Vec<Job> = Vec::new();
        let mut finished = false;
        tokio::select! {
            biased;
            _ = shared.shutdown.notified(), if !shutting_down => {
                // No new writes from now on; what is queued is still written.
                shutting_down = true;
                rx.close();
            }
            job = rx.recv() => match job {
                Some(job) => jobs.push(job),
                None => finished = true,
            },
            _ = shared.wake.notified() => {}
        }
        while jobs.len() < config.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let now = Timestamp::now();
        let states: Vec<StateUpdate> = {
            let mut pending = shared.states.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().map(|(_, s)| s).collect()
        };
        let mut ops: Vec<WriteOp> = Vec::with_capacity(states.len() + jobs.len());
        let mut replies: Vec<Option<Reply>> = Vec::with_capacity(ops.capacity());
        for state in states {
            let unchanged = written.get(&state.goip_id).is_some_and(|(last, at)| {
                last.same_state_as(&state) && at.age_at(state.seen_at) < config.state_refresh
            });
            if !unchanged {
                shared.pending.add(Kind::State);
                ops.push(WriteOp::State(state));
                replies.push(None);
            }
        }
        for job in jobs {
            ops.push(job.op);
            replies.push(job.reply);
        }
        if !ops.is_empty() {
            // Positive, random: unique among the markers of the last day.
            let batch_id = rand::random::<i64>() & i64::MAX;
            let resolved = commit(&backend, batch_id, false, ops, replies, now, &shared).await;
            for op in resolved {
                if let WriteOp::State(s) = op {
                    let at = s.seen_at;
                    written.insert(s.goip_id.clone(), (s, at));
                }
            }
        }
        if finished {
            break;
        }
    }
    tracing::debug!("database writer stopped");
}

/// Commits one batch, retrying until the database takes it — or, once
/// stopping, until the give-up instant (see the module documentation).
/// Returns the writes that were committed.
///
/// `maybe_committed` says an earlier attempt with this `batch_id` may have
/// committed (only the tests start that way).
async fn commit(
    backend: &Backend,
    batch_id: i64,
    maybe_committed: bool,
    mut ops: Vec<WriteOp>,
    mut replies: Vec<Option<Reply>>,
    now: Timestamp,
    shared: &Shared,
) -> Vec<WriteOp> {
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u32;
    // After a failure the batch may have committed anyway (the reply to
    // COMMIT was lost): look for its marker before writing it again.
    let mut check_marker = maybe_committed;
    loop {
        if shared.giving_up.load(Ordering::Acquire) {
            abandon(ops, replies, shared, failures, true);
            return Vec::new();
        }
        if check_marker {
            let found = bounded(
                shared,
                &mut std::pin::pin!(backend.batch_outcomes(batch_id)),
            )
            .await;
            let Some(found) = found else {
                return give_up(backend, batch_id, ops, replies, shared, failures).await;
            };
            match found {
                Ok(Some(outcomes)) if outcomes.len() == ops.len() => {
                    tracing::info!(
                        batch = batch_id,
                        writes = ops.len(),
                        "a batch whose commit was not confirmed had been saved"
                    );
                    finish(&ops, replies, outcomes, shared, failures);
                    return ops;
                }
                Ok(_) => check_marker = false,
                Err(e) => {
                    failures += 1;
                    report_unreachable(&e, failures, ops.len());
                    if !pause(shared, backoff).await {
                        return give_up(backend, batch_id, ops, replies, shared, failures).await;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        let applied = {
            let mut attempt = std::pin::pin!(apply(backend, batch_id, now, &ops, shared));
            match bounded(shared, &mut attempt).await {
                Some(applied) => Some(applied),
                // Cut off at the give-up instant, perhaps in its COMMIT: a
                // moment more lets one about to finish say what it did.
                None => tokio::time::timeout(CUT_OFF_GRACE, &mut attempt).await.ok(),
            }
            // Dropped here when cut off: it stops, and its transaction is
            // rolled back unless it committed already.
        };
        let Some(applied) = applied else {
            return give_up(backend, batch_id, ops, replies, shared, failures).await;
        };
        match applied {
            Ok(outcomes) => {
                finish(&ops, replies, outcomes, shared, failures);
                return ops;
            }
            Err(BatchFailure {
                op: Some(index),
                error,
            }) if !is_transient(&error) => {
                // The database refuses this write for good: it leaves the
                // batch, its caller learns why, the rest is tried again.
                let op = ops.remove(index);
                let reply = replies.remove(index);
                tracing::error!(
                    error = %error,
                    write = %describe(&op),
                    "the database refused a write; it is not saved"
                );
                shared.pending.sub(op.kind());
                if let Some(reply) = reply {
                    let _ = reply.send(Err(StoreError::Database {
                        action: "saving a write",
                        source: error,
                    }));
                }
                if ops.is_empty() {
                    return ops;
                }
            }
            Err(failure) => {
                failures += 1;
                if is_transient(&failure.error) {
                    report_unreachable(&failure.error, failures, ops.len());
                } else {
                    // Not about one write (the marker, the commit): nothing
                    // can be left out, so it is retried until an operator acts.
                    tracing::error!(
                        error = %failure.error,
                        "cannot commit a batch of {} writes; retrying",
                        ops.len()
                    );
                }
                check_marker = true;
                if !pause(shared, backoff).await {
                    return give_up(backend, batch_id, ops, replies, shared, failures).await;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One attempt at committing a batch.
async fn apply(
    backend: &Backend,
    batch_id: i64,
    now: Timestamp,
    ops: &[WriteOp],
    shared: &Shared,
) -> Result<Vec<Outcome>, BatchFailure> {
    #[cfg(test)]
    if shared.hangs_before_commit.load(Ordering::Acquire) {
        std::future::pending::<()>().await;
    }
    let applied = backend.apply_batch(batch_id, now, ops).await;
    #[cfg(test)]
    if shared.reply_lost.load(Ordering::Acquire) {
        // As when the connection hangs after the server committed.
        std::future::pending::<()>().await;
    }
    #[cfg(not(test))]
    let _ = shared;
    applied
}

/// The give-up instant has passed and the batch is not known to be
/// committed. Its last attempt may have been (cut off in its COMMIT, or the
/// reply to it lost), and abandoning a committed write would tell its caller
/// it was not saved — the XMPP user that the database is unavailable, while
/// the job goes out at the next start. So one short look at the batch
/// marker ([`MARKER_CHECK`]) decides: committed, the callers get what their
/// writes returned; not, the batch is abandoned. Only when the database
/// does not answer that look are later batches abandoned untried.
async fn give_up(
    backend: &Backend,
    batch_id: i64,
    ops: Vec<WriteOp>,
    replies: Vec<Option<Reply>>,
    shared: &Shared,
    failures: u32,
) -> Vec<WriteOp> {
    match tokio::time::timeout(MARKER_CHECK, backend.batch_outcomes(batch_id)).await {
        Ok(Ok(Some(outcomes))) if outcomes.len() == ops.len() => {
            tracing::info!(
                batch = batch_id,
                writes = ops.len(),
                "stopping: a batch whose commit was not confirmed by the shutdown deadline \
                 had been saved"
            );
            finish(&ops, replies, outcomes, shared, failures);
            ops
        }
        Ok(Ok(_)) => {
            abandon(ops, replies, shared, failures, false);
            Vec::new()
        }
        Ok(Err(_)) | Err(_) => {
            abandon(ops, replies, shared, failures, true);
            Vec::new()
        }
    }
}

/// Runs one database attempt, cut off at the give-up instant (when one is
/// set, also while it runs). An attempt that starts after that instant
/// gets [`LAST_TRY`]. `None`: cut off; the attempt is left as it is, for
/// the caller to drop or to give a moment more.
async fn bounded<F: Future + Unpin>(shared: &Shared, attempt: &mut F) -> Option<F::Output> {
    let started = Instant::now();
    let mut give_up = shared.give_up.subscribe();
    let cut_off = async move {
        loop {
            let at = *give_up.borrow_and_update();
            match at {
                Some(at) if at > started => return tokio::time::sleep_until(at).await,
                Some(_) => return tokio::time::sleep_until(started + LAST_TRY).await,
                None => {
                    if give_up.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
        }
    };
    tokio::select! {
        biased;
        out = attempt => Some(out),
        () = cut_off => None,
    }
}

/// The pause before a retry. `false`: no retry (the give-up instant has
/// passed, or passes during the pause).
async fn pause(shared: &Shared, backoff: Duration) -> bool {
    if shared.past_give_up() {
        return false;
    }
    let mut give_up = shared.give_up.subscribe();
    let end = Instant::now() + backoff;
    loop {
        let at = *give_up.borrow_and_update();
        let until = at.map_or(end, |at| at.min(end));
        tokio::select! {
            () = tokio::time::sleep_until(until) => return until == end && !shared.past_give_up(),
            changed = give_up.changed() => if changed.is_err() {
                tokio::time::sleep_until(end).await;
                return true;
            },
        }
    }
}

/// Gives a batch up at the shutdown deadline: its callers get
/// [`StoreError::Abandoned`]. When `unreachable` (the database did not
/// answer), every later batch is given up untried too, so the rest of the
/// shutdown is not held up; when it answers, later batches still get their
/// [`LAST_TRY`] (the store's close deadline bounds them all).
fn abandon(
    ops: Vec<WriteOp>,
    replies: Vec<Option<Reply>>,
    shared: &Shared,
    failures: u32,
    unreachable: bool,
) {
    let first = unreachable && !shared.giving_up.swap(true, Ordering::AcqRel);
    let mut given_up = [0; KINDS];
    for (op, reply) in ops.iter().zip(replies) {
        let kind = op.kind();
        shared.pending.sub(kind);
        if kind != Kind::Barrier {
            shared.abandoned.add(kind);
            given_up[kind as usize] += 1;
        }
        if let Some(reply) = reply {
            let _ = reply.send(Err(StoreError::Abandoned));
        }
    }
    let given_up = UnflushedWrites::from_kinds(given_up);
    if first {
        tracing::warn!(
            failures,
            "stopping: the database has not taken queued writes by the shutdown deadline; \
             giving them up ({given_up})"
        );
    } else if !unreachable {
        tracing::warn!(
            failures,
            "stopping: a batch was not committed by the shutdown deadline; giving it up \
             ({given_up}); the database answers, so later writes are still tried"
        );
    } else if given_up.total() > 0 {
        tracing::debug!("stopping: giving up {given_up}");
    }
}

fn report_unreachable(error: &sqlx::Error, failures: u32, writes: usize) {
    if let Some(suppressed) = DB_DOWN.allow() {
        tracing::warn!(
            error = %error,
            failures,
            suppressed,
            "database unreachable; {writes} writes wait and are retried"
        );
    }
}

/// Answers the callers of a committed batch and logs each message event.
fn finish(
    ops: &[WriteOp],
    replies: Vec<Option<Reply>>,
    outcomes: Vec<Outcome>,
    shared: &Shared,
    failures: u32,
) {
    if failures > 0 {
        tracing::info!(
            failures,
            writes = ops.len(),
            "database reachable again; queued writes saved"
        );
    }
    for ((op, reply), outcome) in ops.iter().zip(replies).zip(outcomes) {
        log_committed(op, &outcome);
        shared.pending.sub(op.kind());
        if let Some(reply) = reply {
            let _ = reply.send(Ok(outcome));
        }
    }
}

/// A short description of a write for error messages (never a body).
fn describe(op: &WriteOp) -> String {
    match op {
        WriteOp::State(s) => format!("keepalive state of {}", s.goip_id),
        WriteOp::Call { call: c, .. } => format!("{} call event of {}", c.event.name(), c.goip_id),
        WriteOp::Inbound { record, .. } => format!(
            "inbound {} {} of {}",
            record.kind.tag(),
            record.recvid,
            record.goip_id
        ),
        WriteOp::Outbound { record: r, .. } => {
            format!("outbound job from {} via {}", r.xmpp_from, r.goip_id)
        }
        WriteOp::Transition { id, change, .. } => {
            format!("outbound {id} -> {}", change.target().as_str())
        }
        WriteOp::Delivered(id) => format!("inbound {id} delivered"),
        WriteOp::Notice(n) => format!("{} notice for {}", n.what, n.to),
        WriteOp::Counter { name, .. } => format!("counter {name}"),
        WriteOp::Barrier => "flush".to_string(),
    }
}

/// One log line per message event, with the ids that let an operator follow
/// it end to end. Bodies only at debug level.
fn log_committed(op: &WriteOp, outcome: &Outcome) {
    match (op, outcome) {
        (WriteOp::Inbound { record, .. }, Outcome::Stored { id, new }) => {
            let kind = record.kind.log_kind().as_str();
            let what = if *new {
                "inbound stored"
            } else {
                "inbound retransmission recognised (already stored)"
            };
            match &record.kind {
                InboundKind::DeliveryReport { sms_no, state, .. } => tracing::info!(
                    log_id = id,
                    goip_id = %record.goip_id,
                    tag = record.kind.tag(),
                    recvid = record.recvid,
                    kind,
                    sms_no,
                    state,
                    "{what}"
                ),
                _ => tracing::info!(
                    log_id = id,
                    goip_id = %record.goip_id,
                    tag = record.kind.tag(),
                    recvid = record.recvid,
                    kind,
                    "{what}"
                ),
            }
            tracing::debug!(log_id = id, body = %record.kind.dedup_text(), "inbound body");
        }
        (WriteOp::Outbound { record: r, .. }, Outcome::Enqueued { id }) => {
            tracing::info!(
                log_id = id,
                goip_id = %r.goip_id,
                ext = %r.ext,
                xmpp_id = r.xmpp_id.as_deref().unwrap_or(""),
                from = %r.xmpp_from,
                kind = r.kind.log_kind().as_str(),
                destination = %r.destination,
                "outbound queued"
            );
            tracing::debug!(log_id = id, body = %r.body, "outbound body");
        }
        (WriteOp::Notice(n), Outcome::Stored { id, .. }) => tracing::info!(
            log_id = id,
            goip_id = %n.goip_id,
            notice = %n.what,
            outbound = n.outbound.map(|o| o.0).unwrap_or(-1),
            xmpp_id = n.about.as_deref().unwrap_or(""),
            "notice queued for XMPP"
        ),
        (WriteOp::Transition { id, change, notice }, Outcome::Done) => {
            if let Some(n) = notice {
                tracing::debug!(log_id = id.0, notice = %n.what, "notice stored with the change");
            }
            match change {
                Transition::Sending { sendid } => {
                    tracing::info!(log_id = id.0, sendid, "outbound sending")
                }
                Transition::Sent { sms_no, telid } => tracing::info!(
                    log_id = id.0,
                    sms_no = sms_no.unwrap_or(-1),
                    telid = telid.unwrap_or(-1),
                    "outbound sent"
                ),
                Transition::Failed {
                    reason,
                    errorstatus,
                } => tracing::info!(
                    log_id = id.0,
                    errorstatus = errorstatus.unwrap_or(-1),
                    reason = %reason,
                    "outbound failed"
                ),
                Transition::Unknown { reason } => {
                    tracing::info!(log_id = id.0, reason = %reason, "outbound outcome unknown")
                }
            }
        }
        (WriteOp::Transition { id, change, .. }, Outcome::TransitionRefused { from, .. }) => {
            tracing::warn!(
                log_id = id.0,
                to = change.target().as_str(),
                from = from.as_deref().unwrap_or("(no such outbound message)"),
                "outbound state change refused"
            )
        }
        (WriteOp::Delivered(id), Outcome::Done) => {
            tracing::info!(log_id = id.0, "inbound written to XMPP")
        }
        (WriteOp::Call { call: c, .. }, Outcome::Stored { new: true, .. }) => tracing::info!(
            goip_id = %c.goip_id,
            recvid = c.recvid.unwrap_or(-1),
            event = c.event.name(),
            "call event logged"
        ),
        (WriteOp::State(s), _) => {
            tracing::trace!(goip_id = %s.goip_id, "keepalive state saved")
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(record: OutboundRecord) -> WriteOp {
        WriteOp::Outbound {
            record,
            options: OutboundOptions::default(),
        }
    }

    #[test]
    fn body_hash_is_stable_and_discriminates() {
        assert_eq!(body_hash("hello"), body_hash("hello"));
        assert_ne!(body_hash("hello"), body_hash("hello "));
        // SHA-256("") starts with e3b0c44298fc1c14.
        assert_eq!(
            body_hash(""),
            i64::from_be_bytes([0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14])
        );
    }

    /// The case this whole marker business is for: the batch committed but
    /// the reply to COMMIT was lost. Retrying must answer from the marker,
    /// not store the outbound job a second time.
    #[tokio::test]
    async fn a_batch_that_committed_unseen_is_not_written_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Backend::Sqlite(
            crate::store::sqlite::SqliteBackend::open(&dir.path().join("w.db"))
                .await
                .expect("open"),
        );
        backend.migrate().await.expect("migrate");
        let job = OutboundRecord {
            ext: "2001".into(),
            goip_id: "g".into(),
            xmpp_from: "a@b/c".into(),
            xmpp_id: None,
            destination: "+37255500001".into(),
            body: "once".into(),
            kind: super::super::records::OutboundKind::Sms,
        };
        let now = Timestamp::now();
        let first = backend
            .apply_batch(77, now, &[outbound(job.clone())])
            .await
            .expect("committed");
        let shared = Shared::new(WriterConfig {
            capacity: 1,
            max_batch: 1,
            state_refresh: Duration::ZERO,
            close_timeout: Duration::ZERO,
        });
        let (reply, answer) = oneshot::channel();
        commit(
            &backend,
            77,
            true,
            vec![outbound(job.clone())],
            vec![Some(reply)],
            now,
            &shared,
        )
        .await;
        assert_eq!(answer.await.expect("answered").expect("ok"), first[0]);
        assert_eq!(backend.pending_outbox().await.expect("outbox").len(), 1);
        // Without the marker the same job is a new one.
        let (reply, answer) = oneshot::channel();
        commit(
            &backend,
            78,
            true,
            vec![outbound(job)],
            vec![Some(reply)],
            now,
            &shared,
        )
        .await;
        assert_ne!(answer.await.expect("answered").expect("ok"), first[0]);
        assert_eq!(backend.pending_outbox().await.expect("outbox").len(), 2);
    }

    /// A SQLite store in `dir`, and a second connection to its file that
    /// can hold the write lock (so the writer waits, as for a slow database).
    async fn sqlite_with_blocker(dir: &tempfile::TempDir) -> (Backend, sqlx::SqliteConnection) {
        use sqlx::Connection;
        let path = dir.path().join("w.db");
        let backend = Backend::Sqlite(
            crate::store::sqlite::SqliteBackend::open(&path)
                .await
                .expect("open"),
        );
        backend.migrate().await.expect("migrate");
        let blocker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("second connection");
        (backend, blocker)
    }

    fn config(capacity: usize, close_timeout: Duration) -> WriterConfig {
        WriterConfig {
            capacity,
            max_batch: 1,
            state_refresh: Duration::ZERO,
            close_timeout,
        }
    }

    fn counter(value: i64) -> WriteOp {
        WriteOp::Counter {
            name: "writer_test",
            value,
        }
    }

    /// `Duration::MAX` as the close timeout means "no limit", not a panic
    /// computing the instant it ends.
    #[tokio::test]
    async fn a_close_timeout_without_limit_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (backend, _blocker) = sqlite_with_blocker(&dir).await;
        let writer = WriterHandle::spawn(backend.clone(), config(4, Duration::MAX));
        writer.submit(counter(1)).await.expect("saved");
        assert!(writer.submit_nowait(counter(2)), "queued");
        writer.close(None).await.expect("closed, all saved");
        let writer = WriterHandle::spawn(backend, config(4, Duration::MAX));
        assert!(writer.submit_nowait(counter(3)), "queued");
        let deadline = Instant::now() + Duration::from_secs(30);
        writer
            .close(Some(deadline))
            .await
            .expect("closed by the deadline, all saved");
    }

    fn job(body: &str) -> OutboundRecord {
        OutboundRecord {
            ext: "2001".into(),
            goip_id: "g".into(),
            xmpp_from: "a@b/c".into(),
            xmpp_id: None,
            destination: "+37255500001".into(),
            body: body.into(),
            kind: super::super::records::OutboundKind::Sms,
        }
    }

    /// An outbound job committed just before the give-up instant, whose
    /// attempt is then cut off before it returns (the reply to COMMIT lost
    /// on a hanging connection): its marker shows it was saved, so its
    /// caller is told so, not that the database is unavailable (the job
    /// goes out at the next start). And as the database answers, the
    /// writes after it are still tried.
    #[tokio::test]
    async fn a_batch_committed_as_it_was_cut_off_is_reported_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (backend, _blocker) = sqlite_with_blocker(&dir).await;
        let writer = WriterHandle::spawn(backend.clone(), config(4, Duration::from_secs(30)));
        writer.shared.reply_lost.store(true, Ordering::Release);
        writer.give_up_at(Instant::now() + Duration::from_millis(300));
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            writer.submit(outbound(job("committed"))),
        )
        .await
        .expect("answered by the deadline");
        let Ok(Outcome::Enqueued { id }) = outcome else {
            panic!("a committed job reported as {outcome:?}");
        };
        let outbox = backend.pending_outbox().await.expect("outbox");
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].id.0, id);
        writer.shared.reply_lost.store(false, Ordering::Release);
        let later = writer.submit(counter(1)).await;
        assert!(matches!(later, Ok(Outcome::Done)), "{later:?}");
        writer.close(None).await.expect("nothing unsaved");
    }

    /// A batch the database does not commit by the give-up instant (its
    /// attempt hangs) is abandoned; but the database answers the look at
    /// its marker, so the next write is tried, not abandoned untried.
    #[tokio::test]
    async fn a_batch_not_committed_by_the_deadline_does_not_abandon_the_next() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (backend, _blocker) = sqlite_with_blocker(&dir).await;
        let writer = WriterHandle::spawn(backend.clone(), config(4, Duration::from_secs(30)));
        writer
            .shared
            .hangs_before_commit
            .store(true, Ordering::Release);
        writer.give_up_at(Instant::now() + Duration::from_millis(300));
        let first = tokio::time::timeout(Duration::from_secs(5), writer.submit(counter(1)))
            .await
            .expect("answered by the deadline");
        assert!(matches!(first, Err(StoreError::Abandoned)), "{first:?}");
        writer
            .shared
            .hangs_before_commit
            .store(false, Ordering::Release);
        let later = tokio::time::timeout(Duration::from_secs(5), writer.submit(counter(2)))
            .await
            .expect("answered");
        assert!(matches!(later, Ok(Outcome::Done)), "{later:?}");
        let unsaved = match writer.close(None).await {
            Err(StoreError::Unflushed(unsaved)) => unsaved,
            other => panic!("the abandoned write is not reported: {other:?}"),
        };
        assert_eq!(
            unsaved,
            UnflushedWrites {
                counters: 1,
                ..UnflushedWrites::default()
            }
        );
    }

    /// A caller that gives up while waiting for room in a full queue (the
    /// engine's hook timeout during a database outage) never queued its
    /// write: once the database has taken everything, closing reports
    /// nothing unsaved.
    #[tokio::test]
    async fn a_write_dropped_while_waiting_for_room_is_not_counted_unsaved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (backend, mut blocker) = sqlite_with_blocker(&dir).await;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut blocker)
            .await
            .expect("take the write lock");
        let writer = WriterHandle::spawn(backend, config(1, Duration::from_secs(30)));
        assert!(writer.submit_nowait(counter(1)), "queued");
        // Once the writer has taken the first into its (waiting) batch, the
        // second fills the queue.
        let mut tries = 0;
        while !writer.submit_nowait(counter(2)) {
            tries += 1;
            assert!(tries < 500, "the writer never took the first write");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waited =
            tokio::time::timeout(Duration::from_millis(200), writer.submit(counter(3))).await;
        assert!(waited.is_err(), "the queue had room: {waited:?}");
        sqlx::query("ROLLBACK")
            .execute(&mut blocker)
            .await
            .expect("release the write lock");
        writer
            .close(None)
            .await
            .expect("everything queued was saved");
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcomes = vec![
            Outcome::Done,
            Outcome::Stored { id: 7, new: false },
            Outcome::Enqueued { id: 9 },
            Outcome::TransitionRefused {
                id: 3,
                from: Some("sent".into()),
            },
            Outcome::NoSuchInbound { id: 4 },
        ];
        let json = serde_json::to_string(&outcomes).expect("serialise");
        let back: Vec<Outcome> = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, outcomes);
    }
}
