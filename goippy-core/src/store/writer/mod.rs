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

mod events;
mod op;
mod unsaved;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::xmpp::backoff::Backoff;

use super::error::{StoreError, is_transient};
use super::ratelimit::RateLimited;
use super::records::StateUpdate;
use super::spool::{Spool, SpoolEntry};
use super::time::Timestamp;

pub(crate) use op::{BatchFailure, Outcome, Transition, WriteOp, Written, body_hash};
pub use unsaved::UnflushedWrites;

use events::{describe, log_committed};
use op::{KINDS, Kind};
use unsaved::{Counted, Counts};

/// The longest a write a GoIP waits on (an SMS, a delivery report, a call
/// event) waits for the database before the spool keeps it: the engine
/// gives the store 2 s before it stops waiting to ack, and the spool's own
/// fsync must fit in what is left.
pub const GOIP_ACK_WAIT: Duration = Duration::from_secs(1);

type Reply = oneshot::Sender<Result<Written, StoreError>>;

struct Job {
    op: WriteOp,
    reply: Option<Reply>,
    /// When the spool keeps it if the database has not taken it.
    spool_by: Instant,
}

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

/// Tuning of the writer (see [`super::StoreOptions`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterConfig {
    pub capacity: usize,
    pub max_batch: usize,
    pub state_refresh: Duration,
    pub close_timeout: Duration,
    /// How long a write waits for the database before the spool keeps it.
    pub write_wait: Duration,
    /// How long one attempt at the database may take.
    pub attempt_timeout: Duration,
}

/// How long a batch that starts after the give-up instant may take (when
/// nothing was abandoned yet, the database may well be fine: the shutdown
/// was slow for another reason).
const LAST_TRY: Duration = Duration::from_millis(500);

/// How much longer an attempt cut off at the give-up instant may run: one
/// in its COMMIT then reports what it did itself.
const CUT_OFF_GRACE: Duration = Duration::from_millis(100);

/// How long the look at a batch's marker may take once the give-up instant
/// has passed (without a spool). With [`CUT_OFF_GRACE`] it stays well
/// inside the time the shutdown leaves the store after that instant.
const MARKER_CHECK: Duration = Duration::from_millis(200);

/// The pauses between attempts at a database that fails.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the handle and the task share.
struct Shared {
    /// The newest unwritten keepalive per channel.
    states: Mutex<HashMap<String, StateUpdate>>,
    wake: Notify,
    shutdown: Notify,
    closed: AtomicBool,
    /// Writes accepted (or keepalive states taken into a batch) and neither
    /// committed nor in the spool, by kind (for the close report).
    pending: Counts,
    /// Writes given up at the shutdown deadline, by kind.
    abandoned: Counts,
    /// When stopping: the instant retries end ([`WriterHandle::give_up_at`]).
    give_up: watch::Sender<Option<Instant>>,
    /// A batch was abandoned and the database did not answer: later ones
    /// are not even tried.
    giving_up: AtomicBool,
    /// Writes in the spool the database has not taken yet.
    spooled: AtomicUsize,
    /// Bumped whenever writes from the spool reach the database: whoever
    /// delivers what they brought (the inbox, the outbox) looks again.
    drained: watch::Sender<u64>,
    /// Inbox rows whose delivered mark is not in the database yet (queued,
    /// or kept in the spool): the inbox must not hand them out again.
    marking: Mutex<HashSet<i64>>,
    config: WriterConfig,
}

impl Shared {
    fn new(config: WriterConfig, marking: HashSet<i64>) -> Shared {
        Shared {
            states: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            shutdown: Notify::new(),
            closed: AtomicBool::new(false),
            pending: Counts::default(),
            abandoned: Counts::default(),
            give_up: watch::Sender::new(None),
            giving_up: AtomicBool::new(false),
            spooled: AtomicUsize::new(0),
            drained: watch::Sender::new(0),
            marking: Mutex::new(marking),
            config,
        }
    }

    /// Everything not saved so far: abandoned, still queued or in a batch,
    /// and keepalive states still waiting. What the spool keeps is saved.
    fn unsaved(&self) -> UnflushedWrites {
        let waiting_states = lock(&self.states).len();
        let (abandoned, pending) = (self.abandoned.snapshot(), self.pending.snapshot());
        let mut unsaved: [usize; KINDS] = std::array::from_fn(|i| abandoned[i] + pending[i]);
        unsaved[Kind::State as usize] += waiting_states;
        UnflushedWrites::from_kinds(unsaved)
    }

    /// The give-up instant, once one is set.
    fn give_up(&self) -> Option<Instant> {
        *self.give_up.borrow()
    }

    /// Whether the give-up instant has passed.
    fn past_give_up(&self) -> bool {
        self.give_up().is_some_and(|at| Instant::now() >= at)
    }

    fn unmark(&self, op: &WriteOp) {
        if let WriteOp::Delivered(id) = op {
            lock(&self.marking).remove(&id.0);
        }
    }
}

/// A std mutex shared with the task: held only for a map operation, never
/// across an await, so a poisoned one (a panic elsewhere) is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The submitting side, held by [`super::Store`].
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

static STATE_DROPPED: RateLimited = RateLimited::new(Duration::from_secs(10));
static DB_DOWN: RateLimited = RateLimited::new(Duration::from_secs(10));
static SPOOLING: RateLimited = RateLimited::new(Duration::from_secs(10));
static SPOOL_BROKEN: RateLimited = RateLimited::new(Duration::from_secs(10));

/// How the writer starts: the spool and what it already holds (batches a
/// previous run left), and whether the database is ready for writes.
pub(crate) struct WriterStart {
    pub spool: Option<Spool>,
    /// The spool's batches, oldest first.
    pub backlog: Vec<SpoolEntry>,
    /// Inbox rows whose delivered mark waits in the spool.
    pub marking: HashSet<i64>,
    /// True once the database's schema is up to date; nothing is written
    /// to it before.
    pub ready: watch::Receiver<bool>,
}

impl WriterStart {
    /// No spool, and a database that is ready.
    pub(crate) fn without_spool() -> WriterStart {
        let (_, ready) = watch::channel(true);
        WriterStart {
            spool: None,
            backlog: Vec::new(),
            marking: HashSet::new(),
            ready,
        }
    }
}

impl WriterHandle {
    /// Starts the writer task on the current tokio runtime.
    pub(crate) fn spawn(
        database: impl Database,
        config: WriterConfig,
        start: WriterStart,
    ) -> WriterHandle {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let shared = Arc::new(Shared::new(config, start.marking));
        let spooled: usize = start.backlog.iter().map(|e| e.writes).sum();
        shared.spooled.store(spooled, Ordering::Release);
        let batches = start
            .backlog
            .into_iter()
            .map(|e| Batch {
                batch_id: e.batch_id,
                at: e.at,
                ops: None,
                kinds: Vec::new(),
                replies: Vec::new(),
                spooled: Some(e.seq),
                spooled_writes: e.writes,
                maybe_committed: e.maybe_committed,
                spool_by: Instant::now(),
            })
            .collect();
        let writer = Writer {
            database,
            spool: start.spool,
            shared: Arc::clone(&shared),
            rx,
            ready: start.ready,
            batches,
            attempt: None,
            retry_at: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
            failures: 0,
            written: HashMap::new(),
            intake_closed: false,
            shutting_down: false,
            give_up_rx: shared.give_up.subscribe(),
        };
        let task = tokio::spawn(writer.run());
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
        let mut states = lock(&self.shared.states);
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

    fn job(&self, op: WriteOp, reply: Option<Reply>) -> Job {
        let wait = match op.kind() {
            Kind::Inbound | Kind::Call => self.shared.config.write_wait.min(GOIP_ACK_WAIT),
            _ => self.shared.config.write_wait,
        };
        if let WriteOp::Delivered(id) = &op {
            lock(&self.shared.marking).insert(id.0);
        }
        Job {
            op,
            reply,
            spool_by: Instant::now() + wait,
        }
    }

    /// Queues a write (waiting for room) and waits until it is committed or
    /// kept by the spool.
    pub(crate) async fn submit(&self, op: WriteOp) -> Result<Written, StoreError> {
        let (reply, result) = oneshot::channel();
        // Counted before it can be resolved; uncounted if refused, and also
        // if this future is dropped while it waits for room (a caller's
        // timeout): the write was never queued, so it is nothing unsaved.
        let counted = Counted::new(&self.shared.pending, op.kind());
        let job = self.job(op, Some(reply));
        let marked = match &job.op {
            WriteOp::Delivered(id) => Some(id.0),
            _ => None,
        };
        if self.tx.send(job).await.is_err() {
            if let Some(id) = marked {
                lock(&self.shared.marking).remove(&id);
            }
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

    /// The instant the shutdown stops waiting for the database, once set.
    pub(crate) fn give_up(&self) -> Option<Instant> {
        self.shared.give_up()
    }

    /// What has not been saved so far.
    pub(crate) fn unsaved(&self) -> UnflushedWrites {
        self.shared.unsaved()
    }

    /// Writes kept in the spool that the database has not taken yet.
    pub(crate) fn spooled(&self) -> usize {
        self.shared.spooled.load(Ordering::Acquire)
    }

    /// Changes whenever writes from the spool reach the database.
    pub(crate) fn drained(&self) -> watch::Receiver<u64> {
        self.shared.drained.subscribe()
    }

    /// The inbox rows whose delivered mark is still on its way, now.
    pub(crate) fn marking(&self) -> HashSet<i64> {
        lock(&self.shared.marking).clone()
    }

    /// Whether the delivered mark of inbox row `id` is still on its way.
    pub(crate) fn is_marking(&self, id: i64) -> bool {
        lock(&self.shared.marking).contains(&id)
    }

    /// Whether the task still runs (for the watchdog): it ends only when
    /// the store closes.
    pub(crate) fn is_running(&self) -> bool {
        lock(&self.task)
            .as_ref()
            .is_some_and(|task| !task.is_finished())
    }

    /// Writes everything still queued, then stops the task. Waits at most
    /// the configured close timeout, and never past `deadline`; then (the
    /// database is unreachable) stops the task anyway. With a spool, what
    /// the database has not taken by then stays in the spool for the next
    /// start. An error says what was not saved, by kind: what was abandoned
    /// at the give-up instant and what was still waiting.
    pub(crate) async fn close(&self, deadline: Option<Instant>) -> Result<(), StoreError> {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.shutdown.notify_one();
        let task = lock(&self.task).take();
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
        if let Some(until) = until {
            // The task stops waiting for the database there; with a spool it
            // then keeps the rest, which must fit before `until`.
            self.give_up_at(until.checked_sub(SPOOL_RESERVE).unwrap_or(until));
        }
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

/// How long before the close deadline the writer stops waiting for the
/// database, so that it can still put what is left into the spool.
const SPOOL_RESERVE: Duration = Duration::from_millis(300);

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
    /// The kind of each write (for the counts), by index.
    kinds: Vec<Kind>,
    /// The callers still waiting, by index.
    replies: Vec<Option<Reply>>,
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
    Failed {
        ops: Arc<Vec<WriteOp>>,
        failure: BatchFailure,
    },
    /// No answer within the attempt's deadline.
    TimedOut { ops: Arc<Vec<WriteOp>> },
}

struct Writer<D> {
    database: D,
    spool: Option<Spool>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Job>,
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
    shutting_down: bool,
    /// Tells when the shutdown names (or moves) the give-up instant.
    give_up_rx: watch::Receiver<Option<Instant>>,
}

impl<D: Database> Writer<D> {
    async fn run(mut self) {
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
                _ = self.shared.shutdown.notified(), if !self.shutting_down => {
                    // No new writes from now on; what is queued is still written.
                    self.shutting_down = true;
                    self.rx.close();
                }
                attempted = poll_attempt(&mut self.attempt), if self.attempt.is_some() => {
                    self.attempt = None;
                    self.attempted(attempted).await;
                }
                () = sleep_until(cut_off), if cut_off.is_some() => self.cut_off().await,
                () = sleep_until(spool_at), if spool_at.is_some() => self.spool_oldest_due().await,
                job = self.rx.recv(), if wants_jobs => match job {
                    Some(job) => self.take(job).await,
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

    /// Whether the database may be written to now.
    fn database_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Whether new writes go straight to the spool: something older is
    /// there (order), the database is not ready, or the shutdown no longer
    /// waits for it.
    fn spooling(&self) -> bool {
        self.spool.is_some()
            && (self.batches.iter().any(|b| b.spooled.is_some())
                || !self.database_ready()
                || self.shared.past_give_up())
    }

    /// Whether to take writes from the queue now: to spool them at once,
    /// or to form the next batch when none is in flight. Otherwise they
    /// wait in the queue, to go into the next batch together.
    fn wants_jobs(&self) -> bool {
        !self.intake_closed && (self.spooling() || self.batches.is_empty())
    }

    /// When the oldest batch not yet in the spool must go there.
    fn spool_due(&self) -> Option<Instant> {
        self.spool.as_ref()?;
        self.batches
            .iter()
            .filter(|b| b.spooled.is_none())
            .map(|b| b.spool_by)
            .min()
    }

    /// When the attempt in flight is cut off because the shutdown's
    /// give-up instant has come.
    fn cut_off_at(&self) -> Option<Instant> {
        let (_, started) = self.attempt.as_ref()?;
        let at = self.shared.give_up()?;
        Some(if *started < at {
            at + CUT_OFF_GRACE
        } else {
            *started + LAST_TRY
        })
    }

    /// Takes a write from the queue (and what else is queued, up to a
    /// batch): into a new batch, spooled at once when [`Writer::spooling`].
    async fn take(&mut self, first: Job) {
        let jobs = self.queued(vec![first]);
        let with_states = !self.spooling();
        self.form_batch(jobs, with_states);
        if self.spooling()
            && let Some(index) = self.batches.len().checked_sub(1)
        {
            self.keep(index).await;
        }
    }

    /// `jobs` and what else waits in the queue, up to a batch.
    fn queued(&mut self, mut jobs: Vec<Job>) -> Vec<Job> {
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
    fn form_batch(&mut self, jobs: Vec<Job>, with_states: bool) {
        let mut ops = Vec::with_capacity(jobs.len());
        let mut kinds = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut spool_by: Option<Instant> = None;
        if with_states {
            let states: Vec<StateUpdate> =
                lock(&self.shared.states).drain().map(|(_, s)| s).collect();
            let refresh = self.shared.config.state_refresh;
            for state in states {
                let unchanged = self.written.get(&state.goip_id).is_some_and(|(last, at)| {
                    last.same_state_as(&state) && at.age_at(state.seen_at) < refresh
                });
                if !unchanged {
                    self.shared.pending.add(Kind::State);
                    kinds.push(Kind::State);
                    ops.push(WriteOp::State(state));
                    replies.push(None);
                }
            }
        }
        for job in jobs {
            spool_by = Some(spool_by.map_or(job.spool_by, |t| t.min(job.spool_by)));
            kinds.push(job.op.kind());
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
            kinds,
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
            let jobs = self.queued(Vec::new());
            let with_states = !self.spooling();
            self.form_batch(jobs, with_states);
            if self.spooling() && !self.batches.is_empty() {
                self.keep(0).await;
            }
        }
        if self.retry_at.is_some() || !self.database_ready() {
            return;
        }
        // A stopping writer leaves what the spool holds for the next start.
        if self.shutting_down && self.batches.front().is_some_and(|b| b.spooled.is_some()) {
            return;
        }
        self.start_attempt().await;
    }

    /// Starts an attempt at the oldest batch (reading it back from the
    /// spool if it is only there).
    async fn start_attempt(&mut self) {
        let Some(front) = self.batches.front_mut() else {
            return;
        };
        let ops = match (&front.ops, front.spooled, &self.spool) {
            (Some(ops), _, _) => Arc::clone(ops),
            (None, Some(seq), Some(spool)) => match spool.load(seq).await {
                Ok(Some(ops)) => {
                    let ops = Arc::new(ops);
                    if front.kinds.len() != ops.len() {
                        front.kinds = ops.iter().map(WriteOp::kind).collect();
                        front.replies.resize_with(ops.len(), || None);
                    }
                    front.ops = Some(Arc::clone(&ops));
                    ops
                }
                Ok(None) => {
                    // Gone from the spool (edited by hand): nothing to write.
                    tracing::warn!(seq, "a spooled batch is no longer in the spool; skipped");
                    self.batches.pop_front();
                    return;
                }
                Err(e) => {
                    if let Some(suppressed) = SPOOL_BROKEN.allow() {
                        tracing::error!(
                            spool = %spool.path().display(),
                            seq,
                            suppressed,
                            "cannot read a batch back from the spool: {e}; retrying"
                        );
                    }
                    self.retry_at = Some(Instant::now() + self.backoff.next_delay());
                    return;
                }
            },
            (None, _, _) => {
                tracing::error!("a batch without its writes and not in the spool; skipped");
                self.batches.pop_front();
                return;
            }
        };
        let database = self.database.clone();
        let (batch_id, at, check_marker) = (front.batch_id, front.at, front.maybe_committed);
        let timeout = self.shared.config.attempt_timeout;
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
                Ok(Err(failure)) => Attempted::Failed { ops, failure },
                Err(_) => Attempted::TimedOut { ops },
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
            Attempted::Failed {
                ops,
                failure:
                    BatchFailure {
                        op: Some(index),
                        error,
                    },
            } if !is_transient(&error) => self.refused(ops, index, error).await,
            Attempted::Failed { ops, failure } => {
                self.failed(
                    ops.len(),
                    &failure.error.to_string(),
                    is_transient(&failure.error),
                )
                .await
            }
            Attempted::TimedOut { ops } => {
                let why = format!(
                    "no answer within {} s",
                    self.shared.config.attempt_timeout.as_secs_f32()
                );
                self.failed(ops.len(), &why, true).await;
            }
        }
    }

    /// The oldest batch is in the database: its callers get what their
    /// writes returned, and the spool forgets it.
    async fn committed(&mut self, ops: &[WriteOp], outcomes: Vec<Outcome>) {
        let Some(batch) = self.batches.pop_front() else {
            return;
        };
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
                self.shared.pending.sub(op.kind());
            }
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Written::Committed(outcome)));
            }
        }
        for op in ops {
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
        if index >= ops.len() {
            return self.failed(ops.len(), &error.to_string(), false).await;
        }
        let op = ops.remove(index);
        let kind = batch.kinds.remove(index);
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
                self.shared.pending.sub(kind);
            }
        }
        if let Some(reply) = reply {
            let _ = reply.send(Err(StoreError::Database {
                action: "saving a write",
                source: error,
            }));
        }
        if ops.is_empty() {
            let batch = self.batches.pop_front();
            if let (
                Some(Batch {
                    spooled: Some(seq), ..
                }),
                Some(spool),
            ) = (batch, &self.spool)
            {
                let _ = spool.remove(seq).await;
            }
        } else if let Some(batch) = self.batches.front_mut() {
            batch.ops = Some(Arc::new(ops));
        }
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
        if let Some(batch) = self.batches.front_mut() {
            batch.maybe_committed = true;
            if let (Some(seq), Some(spool)) = (batch.spooled, &self.spool)
                && let Err(e) = spool.set_maybe_committed(seq).await
            {
                tracing::warn!(seq, "cannot update a spooled batch: {e}");
            }
        }
        // The database failed: what waits for it goes to the spool now
        // rather than at its deadline.
        if self.spool.is_some() {
            for index in 0..self.batches.len() {
                if self.batches[index].spooled.is_none() {
                    self.keep(index).await;
                }
            }
        }
        self.retry_at = Some(Instant::now() + self.backoff.next_delay());
    }

    /// The attempt in flight ran into the give-up instant.
    async fn cut_off(&mut self) {
        self.attempt = None;
        if let Some(batch) = self.batches.front_mut() {
            batch.maybe_committed = true;
        }
        self.settle_at_give_up().await;
    }

    /// Stopping, past the give-up instant, with no attempt in flight: what
    /// is not committed goes to the spool; without a spool the oldest batch
    /// is looked up by its marker (it may have committed) and otherwise
    /// abandoned.
    async fn settle_at_give_up(&mut self) {
        if self.spool.is_some() {
            // The keepalive states waiting go along, so that nothing is
            // left unsaved (the next keepalive would repeat them anyway).
            if !lock(&self.shared.states).is_empty() {
                self.form_batch(Vec::new(), true);
            }
            for index in 0..self.batches.len() {
                if self.batches[index].spooled.is_none() {
                    self.keep(index).await;
                }
            }
            // What only the database could answer gets no answer now.
            for batch in &mut self.batches {
                for reply in batch.replies.iter_mut().filter_map(Option::take) {
                    let _ = reply.send(Err(StoreError::Abandoned));
                }
            }
            return;
        }
        let Some(batch) = self.batches.front() else {
            // Nothing formed; writes still queued make batches as they come.
            if !self.intake_closed {
                let jobs = self.queued(Vec::new());
                if !jobs.is_empty() {
                    self.form_batch(jobs, true);
                    if self.shared.giving_up.load(Ordering::Acquire) {
                        self.abandon_oldest(true);
                    } else {
                        self.start_last_try().await;
                    }
                }
            }
            return;
        };
        if self.shared.giving_up.load(Ordering::Acquire) {
            self.abandon_oldest(true);
            return;
        }
        if !batch.maybe_committed {
            // Never tried, or known not committed: one last short try (if
            // it is cut off too, its marker decides).
            self.start_last_try().await;
            return;
        }
        let batch_id = batch.batch_id;
        let writes = batch.ops.as_ref().map_or(0, |o| o.len());
        match tokio::time::timeout(MARKER_CHECK, self.database.batch_outcomes(batch_id)).await {
            Ok(Ok(Some(outcomes))) if outcomes.len() == writes => {
                tracing::info!(
                    batch = batch_id,
                    writes,
                    "stopping: a batch whose commit was not confirmed by the shutdown deadline \
                     had been saved"
                );
                let ops = batch.ops.clone().unwrap_or_default();
                self.committed(&ops, outcomes).await;
            }
            Ok(Ok(_)) => self.abandon_oldest(false),
            Ok(Err(_)) | Err(_) => self.abandon_oldest(true),
        }
    }

    /// Past the give-up instant: one attempt of [`LAST_TRY`] at the oldest
    /// batch (the database may be fine; the shutdown was slow for another
    /// reason).
    async fn start_last_try(&mut self) {
        // Started after the give-up instant, `cut_off_at` gives it LAST_TRY;
        // a batch that may have committed is looked up by its marker first.
        self.start_attempt().await;
    }

    /// Gives the oldest batch up at the shutdown deadline: its callers get
    /// [`StoreError::Abandoned`]. When `unreachable` (the database did not
    /// answer), every later batch is given up untried too, so the rest of
    /// the shutdown is not held up; when it answers, later batches still
    /// get their [`LAST_TRY`] (the store's close deadline bounds them all).
    fn abandon_oldest(&mut self, unreachable: bool) {
        let Some(batch) = self.batches.pop_front() else {
            return;
        };
        let first = unreachable && !self.shared.giving_up.swap(true, Ordering::AcqRel);
        let mut given_up = [0; KINDS];
        for (kind, reply) in batch.kinds.iter().zip(batch.replies) {
            self.shared.pending.sub(*kind);
            if *kind != Kind::Barrier {
                self.shared.abandoned.add(*kind);
                given_up[*kind as usize] += 1;
            }
            if let Some(reply) = reply {
                let _ = reply.send(Err(StoreError::Abandoned));
            }
        }
        if let Some(ops) = &batch.ops {
            for op in ops.iter() {
                self.shared.unmark(op);
            }
        }
        let given_up = UnflushedWrites::from_kinds(given_up);
        if first {
            tracing::warn!(
                failures = self.failures,
                "stopping: the database has not taken queued writes by the shutdown deadline; \
                 giving them up ({given_up})"
            );
        } else if !unreachable {
            tracing::warn!(
                failures = self.failures,
                "stopping: a batch was not committed by the shutdown deadline; giving it up \
                 ({given_up}); the database answers, so later writes are still tried"
            );
        } else if given_up.total() > 0 {
            tracing::debug!("stopping: giving up {given_up}");
        }
    }

    /// The oldest batches whose spool deadline has come go to the spool.
    async fn spool_oldest_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.batches.len() {
            if self.batches[index].spooled.is_none() && self.batches[index].spool_by <= now {
                // The attempt in flight may still commit it; the marker
                // will tell.
                self.batches[index].maybe_committed |= index == 0 && self.attempt.is_some();
                if !self.keep(index).await {
                    // The spool cannot take it; the deadline is retried
                    // after a pause rather than in a busy loop.
                    self.batches[index].spool_by = now + RETRY_MAX;
                }
            }
        }
    }

    /// Puts batch `index` into the spool and answers the callers whose
    /// writes the spool keeps. False when there is no spool or it failed
    /// (the writes then wait in memory, and the callers with them).
    async fn keep(&mut self, index: usize) -> bool {
        let Some(spool) = &self.spool else {
            return false;
        };
        let Some(batch) = self.batches.get_mut(index) else {
            return false;
        };
        let Some(ops) = batch.ops.clone() else {
            return batch.spooled.is_some();
        };
        if batch.spooled.is_some() {
            return true;
        }
        match spool
            .append(batch.batch_id, batch.at, batch.maybe_committed, &ops)
            .await
        {
            Ok(seq) => {
                batch.spooled = Some(seq);
                batch.spooled_writes = ops.len();
                self.shared.spooled.fetch_add(ops.len(), Ordering::AcqRel);
                for ((op, kind), reply) in ops.iter().zip(&batch.kinds).zip(&mut batch.replies) {
                    self.shared.pending.sub(*kind);
                    if op.kept_by_spool()
                        && let Some(reply) = reply.take()
                    {
                        let _ = reply.send(Ok(Written::Spooled));
                    }
                }
                // Only the attempt (if any) still needs the writes in memory,
                // and the bookkeeping only while a caller still waits.
                batch.ops = None;
                if batch.replies.iter().all(Option::is_none) {
                    batch.kinds = Vec::new();
                    batch.replies = Vec::new();
                }
                if let Some(suppressed) = SPOOLING.allow() {
                    tracing::warn!(
                        spool = %spool.path().display(),
                        writes = ops.len(),
                        waiting = self.shared.spooled.load(Ordering::Acquire),
                        suppressed,
                        "the database has not taken writes in time: kept in the spool, \
                         they go into the database when it can take them"
                    );
                }
                true
            }
            Err(e) => {
                if let Some(suppressed) = SPOOL_BROKEN.allow() {
                    tracing::error!(
                        spool = %spool.path().display(),
                        suppressed,
                        "cannot keep writes in the spool: {e}; they wait for the database \
                         in memory (an inbound message is acked only once one of them takes it)"
                    );
                }
                false
            }
        }
    }
}

fn sub_spooled(shared: &Shared, n: usize) {
    let _ = shared
        .spooled
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            Some(s.saturating_sub(n))
        });
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
