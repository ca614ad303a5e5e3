//! The submitting side of the writer, and what it shares with the task:
//! the queue, the keepalive states waiting, the counts of what is not saved
//! yet, the give-up instant, the spool's count and the inbox rows whose
//! delivered mark is on its way.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::super::error::StoreError;
use super::super::records::StateUpdate;
use super::super::spool::{Spool, SpoolEntry};
use super::op::{Kind, WriteOp, Written};
use super::unsaved::{Counted, Counts, UnflushedWrites};
use super::{Database, GOIP_ACK_WAIT, Writer};
use crate::store::StoreOptions;
use crate::util::{DurationHistogram, HistogramSnapshot, SharedWarnLimiter, lock};

pub(super) type WriteReply = oneshot::Sender<Result<Written, StoreError>>;

/// A write in the queue, with the caller waiting for it.
pub(super) struct WriteJob {
    pub op: WriteOp,
    pub reply: Option<WriteReply>,
    /// When the spool keeps it if the database has not taken it.
    pub spool_by: Instant,
}

/// What the handle and the task share.
#[derive(Default)]
pub(super) struct Shared {
    /// The newest unwritten keepalive per channel.
    pub(super) states: Mutex<HashMap<String, StateUpdate>>,
    pub(super) wake: Notify,
    pub(super) shutdown: Notify,
    pub(super) closed: AtomicBool,
    /// Writes not saved, by kind (for the close report): accepted (or
    /// keepalive states taken into a batch) and neither committed nor in
    /// the spool — also those given up at the shutdown deadline.
    pub(super) unsaved: Counts,
    /// When stopping: the instant retries end ([`WriterHandle::give_up_at`]).
    pub(super) give_up: watch::Sender<Option<Instant>>,
    /// A batch was abandoned and the database did not answer: later ones
    /// are not even tried.
    pub(super) giving_up: AtomicBool,
    /// Writes in the spool the database has not taken yet.
    pub(super) spooled: AtomicUsize,
    /// Bumped whenever writes from the spool reach the database: whoever
    /// delivers what they brought (the inbox, the outbox) looks again.
    pub(super) drained: watch::Sender<u64>,
    /// Inbox rows whose delivered mark is not in the database yet (queued,
    /// or kept in the spool): the inbox must not hand them out again.
    pub(super) marking: Mutex<HashSet<i64>>,
    /// How long committed batches took (for the metrics).
    pub(super) commit_times: DurationHistogram,
    /// The writer's tuning, `queue_capacity` and `max_batch` at least 1.
    pub(super) config: StoreOptions,
}

impl Shared {
    /// The give-up instant, once one is set.
    pub(super) fn give_up(&self) -> Option<Instant> {
        *self.give_up.borrow()
    }

    /// Whether the give-up instant has passed.
    pub(super) fn past_give_up(&self) -> bool {
        self.give_up().is_some_and(|at| Instant::now() >= at)
    }

    pub(super) fn unmark(&self, op: &WriteOp) {
        if let WriteOp::Delivered(id) = op {
            lock(&self.marking).remove(&id.0);
        }
    }
}

/// The submitting side, held by [`super::Store`].
pub(crate) struct WriterHandle {
    pub(super) tx: mpsc::Sender<WriteJob>,
    pub(super) shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

static STATE_DROPPED: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(10));
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
        mut config: StoreOptions,
        mut start: WriterStart,
    ) -> WriterHandle {
        config.queue_capacity = config.queue_capacity.max(1);
        config.max_batch = config.max_batch.max(1);
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let shared = Arc::new(Shared {
            marking: Mutex::new(std::mem::take(&mut start.marking)),
            config,
            ..Shared::default()
        });
        let writer = Writer::new(database, Arc::clone(&shared), rx, start);
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
        let cap = self.shared.config.queue_capacity;
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

    pub(super) fn job(&self, op: WriteOp, reply: Option<WriteReply>) -> WriteJob {
        let wait = match op.kind() {
            Kind::Inbound | Kind::Call => self.shared.config.write_wait.min(GOIP_ACK_WAIT),
            _ => self.shared.config.write_wait,
        };
        if let WriteOp::Delivered(id) = &op {
            lock(&self.shared.marking).insert(id.0);
        }
        WriteJob {
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
        let counted = Counted::new(&self.shared.unsaved, op.kind());
        if let Err(mpsc::error::SendError(job)) = self.tx.send(self.job(op, Some(reply))).await {
            self.shared.unmark(&job.op);
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

    /// Everything not saved so far: abandoned, still queued or in a batch,
    /// and keepalive states still waiting. What the spool keeps is saved.
    pub(crate) fn unsaved(&self) -> UnflushedWrites {
        let mut unsaved = self.shared.unsaved.snapshot();
        if let Some(states) = unsaved.count_of(Kind::State) {
            *states += lock(&self.shared.states).len();
        }
        unsaved
    }

    /// Writes kept in the spool that the database has not taken yet.
    pub(crate) fn commit_times(&self) -> HistogramSnapshot {
        self.shared.commit_times.snapshot()
    }

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
        let Some(mut task) = lock(&self.task).take() else {
            return Ok(());
        };
        // A close timeout too large for an instant (`Duration::MAX`) means
        // no limit of its own; `deadline` still applies.
        let limit = Instant::now().checked_add(self.shared.config.close_timeout);
        match [limit, deadline].into_iter().flatten().min() {
            Some(until) => {
                // The task stops waiting for the database there; with a
                // spool it then keeps the rest, which must fit before `until`.
                self.give_up_at(until.checked_sub(SPOOL_RESERVE).unwrap_or(until));
                if tokio::time::timeout_at(until, &mut task).await.is_err() {
                    task.abort();
                    let _ = task.await;
                }
            }
            None => {
                let _ = task.await;
            }
        }
        let unsaved = self.unsaved();
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
