//! The outbox: one runner per GoIP channel, and what a start-up does with
//! the jobs the previous run left.
//!
//! The store *is* the queue. The router commits a job as `queued` and pokes
//! its channel's runner; the runner reads that channel's queued jobs, oldest
//! first, and runs them one after the other (`sms.rs`, `ussd.rs`). So the
//! order of a user's messages is kept, memory does not grow with a flood
//! (the jobs wait in the database), and a job queued while goippy stops is
//! simply there at the next start. The engine runs one job per channel at a
//! time anyway, so a sequential runner costs nothing; channels run in
//! parallel. There are at most as many runners as channels that got jobs.
//!
//! Start-up ([`recover`]), before anything new is accepted:
//! * `sending` SMS: the GoIP may have sent it → `unknown`, and the user gets
//!   "goippy restarted while this SMS was being sent: it may or may not have
//!   been sent". Never sent again.
//! * `sending` USSD: the same, as "The USSD request failed: goippy
//!   restarted …".
//! * `queued` SMS: nothing was sent → its channel's runner sends it.
//! * `queued` USSD: failed, and the user is told it was not sent — an
//!   interactive request answered minutes later only confuses.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::store::{LogId, OutboundKind, OutboxState, StoreError, Timestamp};
use crate::util::{Backoff, SharedWarnLimiter, lock};

use super::Context;
use super::notice::{self, Notice};

static OUTBOX_UNREADABLE: SharedWarnLimiter = SharedWarnLimiter::new(Duration::from_secs(60));

/// How many queued jobs a runner reads at a time.
const PAGE: u32 = 16;
/// Pause after a round that made no progress (the database is down, a
/// job's state could not be recorded), doubling up to the maximum.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// How a job ended, for the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobEnd {
    /// It left the queue (whatever its outcome).
    Done,
    /// Nothing was sent and goippy stops: it stays queued.
    StaysQueued,
    /// Its state could not be recorded: try again later.
    Retry,
}

struct Runner {
    poke: Arc<Notify>,
    phase: watch::Receiver<Phase>,
    task: JoinHandle<()>,
}

/// Whether a runner is in the middle of a job, and how many it finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Phase {
    busy: bool,
    finished: u64,
}

/// The runners, by GoIP id.
#[derive(Default)]
pub(crate) struct Outbox {
    runners: Mutex<HashMap<String, Runner>>,
}

impl Outbox {
    /// There is a new job for `goip_id`: wakes its runner, starting one if
    /// needed (not once the bridge stops).
    pub fn poke(&self, ctx: &Arc<Context>, goip_id: &str) {
        let mut runners = lock(&self.runners);
        if let Some(runner) = runners.get(goip_id)
            && !runner.task.is_finished()
        {
            runner.poke.notify_one();
            return;
        }
        if ctx.is_stopping() || !*ctx.recovered.borrow() {
            // Recovery pokes every channel with queued jobs once it is done.
            return;
        }
        let poke = Arc::new(Notify::new());
        let (phase_tx, phase) = watch::channel(Phase::default());
        let task = tokio::spawn(run(
            ctx.clone(),
            goip_id.to_string(),
            poke.clone(),
            phase_tx,
        ));
        runners.insert(goip_id.to_string(), Runner { poke, phase, task });
    }

    /// Waits (at most `limit`) until the job `goip_id`'s runner is running,
    /// if any, has been recorded. A delivery report the engine could not
    /// match may be for that very job, whose `sent` state (with the
    /// `sms_no` the report is matched by) is only being committed: a GoIP
    /// can send the report right after its OK.
    pub async fn settled(&self, goip_id: &str, limit: Duration) {
        let phase = lock(&self.runners).get(goip_id).map(|r| r.phase.clone());
        let Some(mut phase) = phase else { return };
        let now = *phase.borrow_and_update();
        if !now.busy {
            return;
        }
        let _ = tokio::time::timeout(
            limit,
            phase.wait_for(|p| !p.busy || p.finished > now.finished),
        )
        .await;
    }

    /// Waits for every runner to finish (after the bridge set `stopping`).
    pub async fn join(&self) {
        let runners: Vec<Runner> = lock(&self.runners).drain().map(|(_, r)| r).collect();
        for runner in runners {
            runner.poke.notify_one();
            let _ = runner.task.await;
        }
    }
}

/// One channel's runner.
async fn run(ctx: Arc<Context>, goip_id: String, poke: Arc<Notify>, phase: watch::Sender<Phase>) {
    let mut stopping = ctx.stopping.subscribe();
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    'rounds: loop {
        if ctx.is_stopping() {
            break;
        }
        // Idle: the queue is empty, so only a poke brings work. A failed
        // read is no empty queue: it is tried again after a pause.
        let (idle, jobs) = match ctx.store.queued_outbound(&goip_id, PAGE).await {
            Ok(jobs) => (jobs.is_empty(), jobs),
            Err(StoreError::Closed) => break,
            Err(e) => {
                if let Some(suppressed) = OUTBOX_UNREADABLE.allow() {
                    tracing::warn!(
                        goip_id,
                        suppressed,
                        "cannot read the outbox (tried again later): {e}"
                    );
                }
                (false, Vec::new())
            }
        };
        let full_page = jobs.len() == PAGE as usize;
        let mut progress = !jobs.is_empty();
        for job in jobs {
            if ctx.is_stopping() {
                break 'rounds;
            }
            phase.send_modify(|p| p.busy = true);
            let end = match job.kind {
                OutboundKind::Sms => super::sms::run(&ctx, job).await,
                OutboundKind::Ussd => super::ussd::run(&ctx, job).await,
            };
            phase.send_modify(|p| {
                p.busy = false;
                p.finished += 1;
            });
            match end {
                JobEnd::Done => {}
                JobEnd::StaysQueued => break 'rounds,
                JobEnd::Retry => {
                    progress = false;
                    break;
                }
            }
        }
        if progress {
            backoff.reset();
            // A full page may have more behind it. A shorter one was the
            // whole queue: whatever was queued since has poked this runner,
            // so asking the database again would only find nothing.
            if full_page {
                continue;
            }
        }
        let wait = (!idle && !progress).then(|| backoff.next_delay());
        tokio::select! {
            () = poke.notified() => {}
            _ = stopping.wait_for(|s| *s) => break,
            () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
        }
    }
    tracing::debug!(goip_id, "outbox runner stopped");
}

/// How a job ends once its outcome went to the store: done (its notice waits
/// in the inbox, and the pump is poked), or, when the database failed, to
/// be tried again: the channel's runner backs off instead of taking the next
/// job straight away, and a row left `sending` is settled as unknown at the
/// next start.
pub(crate) fn recorded(
    ctx: &Context,
    id: LogId,
    what: &str,
    result: Result<(), StoreError>,
) -> JobEnd {
    match result {
        Ok(()) => {
            ctx.inbox.notify_one();
            JobEnd::Done
        }
        Err(e) => {
            tracing::error!(log_id = id.0, "cannot record the outcome of {what}: {e}");
            JobEnd::Retry
        }
    }
}

/// Settles what the previous run left unfinished (see the module docs);
/// returns the channels with queued SMS, whose runners must start.
///
/// `started`: when this run started, if jobs of its own may be queued
/// already (a recovery that had to wait for the database): those are not
/// the previous run's, and are only handed to their runners.
pub(crate) async fn recover(
    ctx: &Arc<Context>,
    started: Option<Timestamp>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut channels = BTreeSet::new();
    for item in ctx.store.pending_outbox().await? {
        let id = item.id;
        let xmpp_id = item.xmpp_id.clone().unwrap_or_default();
        if item.state == OutboxState::Queued && started.is_some_and(|s| item.created_at >= s) {
            // Accepted by this run while recovery waited (no runner ran,
            // so nothing of this run can be `sending`).
            channels.insert(item.goip_id.clone());
            continue;
        }
        // What the user is told, and whether the job failed (with why) or
        // its outcome is unknown.
        let (what, text, failed) = match (item.kind, item.state) {
            (OutboundKind::Sms, OutboxState::Queued) => {
                tracing::info!(
                    log_id = id.0,
                    goip_id = %item.goip_id,
                    xmpp_id,
                    "outbound sms queued before the restart: it will be sent"
                );
                channels.insert(item.goip_id.clone());
                continue;
            }
            (OutboundKind::Sms, _) => {
                tracing::warn!(
                    log_id = id.0,
                    goip_id = %item.goip_id,
                    xmpp_id,
                    "outbound sms was being sent when goippy stopped: outcome unknown, not sent again"
                );
                (Notice::SmsInterrupted, "", None)
            }
            (OutboundKind::Ussd, OutboxState::Queued) => {
                tracing::info!(
                    log_id = id.0,
                    goip_id = %item.goip_id,
                    xmpp_id,
                    "ussd request queued before the restart: not sent, the user is told"
                );
                (
                    Notice::UssdNotSent,
                    "goippy restarted before sending it",
                    Some("goippy restarted before sending"),
                )
            }
            (OutboundKind::Ussd, _) => {
                tracing::warn!(
                    log_id = id.0,
                    goip_id = %item.goip_id,
                    xmpp_id,
                    "ussd request was being sent when goippy stopped: outcome unknown"
                );
                (
                    Notice::UssdFailed,
                    "goippy restarted before the network answered; the request may or may not have reached it",
                    None,
                )
            }
        };
        let n = Some(notice::for_outbound(&item, what, text.into(), None));
        let marked = match failed {
            Some(reason) => ctx.store.mark_failed(id, reason, None, n).await,
            None => {
                ctx.store
                    .mark_unknown(id, "goippy restarted while sending", n)
                    .await
            }
        };
        // A refused change means the row moved on meanwhile (nothing to do).
        match marked {
            Ok(()) | Err(StoreError::Transition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(channels)
}

/// [`recover`] for a start while the database was unavailable or the spool
/// held writes: waits until the database is reached and everything the
/// spool held is in it (a flush: the previous run's last outcomes come
/// first), settles, then lets the runners start. Retried with a growing
/// pause while the database fails again.
pub(crate) async fn recover_later(ctx: Arc<Context>, started: Timestamp) {
    tracing::info!(
        "the outbox the previous run left is settled once the database takes writes again; \
         no SMS is sent until then"
    );
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    loop {
        ctx.store.wait_ready().await;
        let settled = async {
            ctx.store.flush().await?;
            recover(&ctx, Some(started)).await
        };
        match settled.await {
            Ok(channels) => {
                ctx.recovered.send_replace(true);
                tracing::info!(
                    channels = channels.len(),
                    "the previous run's outbox is settled; sending resumes"
                );
                for goip_id in channels {
                    ctx.outbox.poke(&ctx, &goip_id);
                }
                return;
            }
            Err(StoreError::Closed | StoreError::Abandoned) => return,
            Err(e) => {
                tracing::warn!("cannot settle the previous run's outbox yet: {e}");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}
