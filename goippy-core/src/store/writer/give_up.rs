//! Stopping with a deadline: once the shutdown names the give-up instant,
//! the writer stops waiting for the database there. With a spool, what is
//! not committed is spooled for the next start; without one (the admin
//! commands, some tests) a batch still not committed is abandoned — unless
//! its marker shows that it committed after all — and when the database
//! does not even answer that, every later batch is abandoned untried, so
//! the rest of the shutdown is not held up either.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::super::error::StoreError;
use super::unsaved::UnflushedWrites;
use super::{Database, Writer};
use crate::util::lock;

/// How long a batch that starts after the give-up instant may take (when
/// nothing was abandoned yet, the database may well be fine: the shutdown
/// was slow for another reason).
const LAST_TRY: Duration = Duration::from_millis(500);

/// How much longer an attempt cut off at the give-up instant may run: one
/// in its COMMIT then reports what it did itself.
const CUT_OFF_GRACE: Duration = Duration::from_millis(100);

/// How long an attempt in flight may still run once the shutdown has begun
/// and the spool holds everything (see `Writer::all_kept_at`).
const KEPT_GRACE: Duration = Duration::from_millis(500);

/// How long the look at a batch's marker may take once the give-up instant
/// has passed (without a spool). With [`CUT_OFF_GRACE`] it stays well
/// inside the time the shutdown leaves the store after that instant.
const MARKER_CHECK: Duration = Duration::from_millis(200);

impl<D: Database> Writer<D> {
    /// When the attempt in flight is cut off because the shutdown's
    /// give-up instant has come.
    pub(super) fn cut_off_at(&self) -> Option<Instant> {
        let (_, started) = self.attempt.as_ref()?;
        let at_give_up = self.shared.give_up().map(|at| {
            if *started < at {
                at + CUT_OFF_GRACE
            } else {
                *started + LAST_TRY
            }
        });
        [at_give_up, self.all_kept_at()].into_iter().flatten().min()
    }

    /// Stopping, with nothing left to write that the spool does not
    /// already hold: the attempt in flight is all that holds the stop up,
    /// and whatever it does, the spool keeps its batch for the next start
    /// (its marker then says whether it committed). So it gets [`KEPT_GRACE`]
    /// to finish, not the rest of the database's timeout — a frozen server
    /// would otherwise hold every stop up until the give-up instant.
    fn all_kept_at(&self) -> Option<Instant> {
        let (_, started) = self.attempt.as_ref()?;
        let stopping = self.shutting_down?;
        let all_kept = self.intake_closed
            && self.spool.is_some()
            && self.batches.iter().all(|b| b.spooled.is_some());
        all_kept.then(|| stopping.max(*started) + KEPT_GRACE)
    }

    /// The attempt in flight ran into the give-up instant (or, all kept by
    /// the spool, into [`KEPT_GRACE`]). It may have committed: its batch's
    /// marker is looked for before it is written again — also at the next
    /// start, so a spooled batch says so in the spool too.
    pub(super) async fn cut_off(&mut self) {
        self.attempt = None;
        self.front_maybe_committed().await;
        self.settle_at_give_up().await;
    }

    /// Stopping, past the give-up instant, with no attempt in flight: what
    /// is not committed goes to the spool; without a spool the oldest batch
    /// is looked up by its marker (it may have committed) and otherwise
    /// abandoned.
    pub(super) async fn settle_at_give_up(&mut self) {
        if self.spool.is_some() {
            // The keepalive states waiting go along, so that nothing is
            // left unsaved (the next keepalive would repeat them anyway).
            if !lock(&self.shared.states).is_empty() {
                self.form_batch(Vec::new(), true);
            }
            self.keep_all().await;
            // What only the database could answer gets no answer now.
            for batch in &mut self.batches {
                for reply in batch.replies.iter_mut().filter_map(Option::take) {
                    let _ = reply.send(Err(StoreError::Abandoned));
                }
            }
            return;
        }
        if self.batches.is_empty() && !self.intake_closed {
            // Nothing formed; writes still queued make batches as they come.
            let jobs = self.queued(Vec::new());
            if !jobs.is_empty() {
                self.form_batch(jobs, true);
            }
        }
        let Some(batch) = self.batches.front() else {
            return;
        };
        if self.shared.giving_up.load(Ordering::Acquire) {
            self.abandon_oldest(true);
            return;
        }
        if !batch.maybe_committed {
            // Never tried, or known not committed: one last short try of
            // LAST_TRY (`cut_off_at` gives an attempt started after the
            // give-up instant that long; if it is cut off too, its marker
            // decides).
            self.start_attempt().await;
            return;
        }
        let (batch_id, ops) = (batch.batch_id, batch.ops.clone().unwrap_or_default());
        match tokio::time::timeout(MARKER_CHECK, self.database.batch_outcomes(batch_id)).await {
            Ok(Ok(Some(outcomes))) if outcomes.len() == ops.len() => {
                tracing::info!(
                    batch = batch_id,
                    writes = ops.len(),
                    "stopping: a batch whose commit was not confirmed by the shutdown deadline \
                     had been saved"
                );
                self.committed(&ops, outcomes).await;
            }
            Ok(Ok(_)) => self.abandon_oldest(false),
            Ok(Err(_)) | Err(_) => self.abandon_oldest(true),
        }
    }

    /// Gives the oldest batch up at the shutdown deadline: its callers get
    /// [`StoreError::Abandoned`]. When `unreachable` (the database did not
    /// answer), every later batch is given up untried too, so the rest of
    /// the shutdown is not held up; when it answers, later batches still
    /// get their [`LAST_TRY`] (the store's close deadline bounds them all).
    pub(super) fn abandon_oldest(&mut self, unreachable: bool) {
        let Some(batch) = self.batches.pop_front() else {
            return;
        };
        let first = unreachable && !self.shared.giving_up.swap(true, Ordering::AcqRel);
        // Without a spool (the only case that abandons) a batch keeps its
        // writes in memory. They stay counted as not saved.
        let mut given_up = UnflushedWrites::default();
        let ops = batch.ops.unwrap_or_default();
        for (op, reply) in ops.iter().zip(batch.replies) {
            if let Some(n) = given_up.count_of(op.kind()) {
                *n += 1;
            }
            if let Some(reply) = reply {
                let _ = reply.send(Err(StoreError::Abandoned));
            }
            self.shared.unmark(op);
        }
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
}
