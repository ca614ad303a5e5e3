//! The writer's side of the spool: which batches go there and when, putting
//! one there (and answering the callers whose writes the spool keeps), and
//! reading one back when its turn comes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::handle::Shared;
use super::op::{WriteOp, Written};
use super::{Database, RETRY_MAX, Writer};
use crate::util::SharedWarnLimiter;

static SPOOLING: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(10));
static SPOOL_BROKEN: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(10));

impl<D: Database> Writer<D> {
    /// Whether new writes go straight to the spool: something older is
    /// there (order), the database is not ready, or the shutdown no longer
    /// waits for it.
    pub(super) fn spooling(&self) -> bool {
        self.spool.is_some()
            && (self.batches.iter().any(|b| b.spooled.is_some())
                || !*self.ready.borrow()
                || self.shared.past_give_up())
    }

    /// When the oldest batch not yet in the spool must go there.
    pub(super) fn spool_due(&self) -> Option<Instant> {
        self.spool.as_ref()?;
        self.batches
            .iter()
            .filter(|b| b.spooled.is_none())
            .map(|b| b.spool_by)
            .min()
    }

    /// The writes of the oldest batch, read back from the spool when only
    /// the spool has them. `None`: nothing to attempt now (no batch; one
    /// that is gone from the spool is dropped; a spool that cannot be read
    /// is retried after a pause).
    pub(super) async fn front_ops(&mut self) -> Option<Arc<Vec<WriteOp>>> {
        let front = self.batches.front_mut()?;
        match (&front.ops, front.spooled, &self.spool) {
            (Some(ops), _, _) => Some(Arc::clone(ops)),
            (None, Some(seq), Some(spool)) => match spool.load(seq).await {
                Ok(Some(ops)) => {
                    let ops = Arc::new(ops);
                    front.replies.resize_with(ops.len(), || None);
                    front.ops = Some(Arc::clone(&ops));
                    Some(ops)
                }
                Ok(None) => {
                    // Gone from the spool (edited by hand): nothing to write.
                    tracing::warn!(seq, "a spooled batch is no longer in the spool; skipped");
                    self.batches.pop_front();
                    None
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
                    None
                }
            },
            (None, _, _) => {
                tracing::error!("a batch without its writes and not in the spool; skipped");
                self.batches.pop_front();
                None
            }
        }
    }

    /// The oldest batches whose spool deadline has come go to the spool.
    pub(super) async fn spool_oldest_due(&mut self) {
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

    /// Puts every batch not in the spool yet there (with a spool).
    pub(super) async fn keep_all(&mut self) {
        for index in 0..self.batches.len() {
            if self.batches[index].spooled.is_none() {
                self.keep(index).await;
            }
        }
    }

    /// Puts batch `index` into the spool and answers the callers whose
    /// writes the spool keeps. False when there is no spool or it failed
    /// (the writes then wait in memory, and the callers with them).
    pub(super) async fn keep(&mut self, index: usize) -> bool {
        let (Some(spool), Some(batch)) = (&self.spool, self.batches.get_mut(index)) else {
            return false;
        };
        if batch.spooled.is_some() {
            return true;
        }
        let Some(ops) = batch.ops.clone() else {
            return false;
        };
        match spool
            .append(batch.batch_id, batch.at, batch.maybe_committed, &ops)
            .await
        {
            Ok(seq) => {
                batch.spooled = Some(seq);
                batch.spooled_writes = ops.len();
                self.shared.spooled.fetch_add(ops.len(), Ordering::AcqRel);
                for (op, reply) in ops.iter().zip(&mut batch.replies) {
                    self.shared.unsaved.sub(op.kind());
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

pub(super) fn sub_spooled(shared: &Shared, n: usize) {
    let _ = shared
        .spooled
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            Some(s.saturating_sub(n))
        });
}
