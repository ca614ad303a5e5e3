//! The per-channel job queues: where a job waits for its channel's worker.
//!
//! Every job for a channel — SMS, USSD request or exit — waits in that
//! channel's queue and runs after the one before it has finished (the run
//! loop that takes them out is in `worker.rs`). A queue holds
//! `job_queue_capacity` jobs; when it is full, `send_*` waits too.
//!
//! A queue and its worker are created on a channel's first job and live until
//! shutdown; only channels the credential source knows get one, so their
//! number is bounded by the configuration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::request::{NotStarted, SmsOutcome, SmsRequest, UssdOutcome};
use super::tracker::{TaskToken, TaskTracker};
use crate::util::lock;

/// A job and where its outcome goes.
pub(crate) enum Job {
    Sms {
        request: SmsRequest,
        done: oneshot::Sender<SmsOutcome>,
    },
    Ussd {
        code: String,
        /// The sendid the caller reserved and recorded for it.
        sendid: u32,
        done: oneshot::Sender<UssdOutcome>,
    },
    /// `USSDEXIT`: ends the channel's USSD session (a menu left open).
    UssdExit { done: oneshot::Sender<UssdOutcome> },
}

impl Job {
    /// Ends the job without running it.
    pub(crate) fn not_started(self, why: NotStarted) {
        match self {
            Job::Sms { done, .. } => {
                let _ = done.send(SmsOutcome::NotSent(why.into()));
            }
            Job::Ussd { done, .. } | Job::UssdExit { done } => {
                let _ = done.send(why.into());
            }
        }
    }

    /// The kind of job, for log lines.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Job::Sms { .. } => "sms",
            Job::Ussd { .. } => "ussd",
            Job::UssdExit { .. } => "ussd exit",
        }
    }
}

/// A job in a queue: a message from `send_*` to the worker, nothing more.
pub(crate) struct Queued {
    pub(crate) job: Job,
    /// The offline wait counts from here.
    pub(crate) submitted: Instant,
}

#[derive(Default)]
struct Queues {
    by_channel: HashMap<String, mpsc::Sender<Queued>>,
    closed: bool,
}

/// The queues of every channel, and the workers that drain them.
#[derive(Default)]
pub(crate) struct JobQueues {
    /// A std mutex: held only to look up or add a queue, never across an
    /// `.await` (a job is sent to its queue after the lock is released).
    queues: Mutex<Queues>,
    /// A token per worker: shutdown waits until every worker has exited.
    pub(crate) workers: TaskTracker,
}

impl JobQueues {
    /// Queues `job` for `goip_id` (a configured channel). On the channel's
    /// first job its queue is created, holding `capacity` jobs, and `start`
    /// gets the queue's receiving end and the token its worker holds until it
    /// exits. Gives the job back when no more jobs are taken.
    pub(crate) async fn submit(
        &self,
        goip_id: &str,
        job: Job,
        capacity: usize,
        start: impl FnOnce(mpsc::Receiver<Queued>, TaskToken),
    ) -> Result<(), Job> {
        let queue = {
            let mut queues = lock(&self.queues);
            if queues.closed {
                return Err(job);
            }
            match queues.by_channel.get(goip_id) {
                Some(queue) => queue.clone(),
                None => {
                    let (tx, rx) = mpsc::channel(capacity.max(1));
                    start(rx, self.workers.token());
                    queues.by_channel.insert(goip_id.to_owned(), tx.clone());
                    tx
                }
            }
        };
        let queued = Queued {
            job,
            submitted: Instant::now(),
        };
        queue.send(queued).await.map_err(|e| e.0.job)
    }

    /// How many channels have a queue (and a worker).
    pub(crate) fn len(&self) -> usize {
        lock(&self.queues).by_channel.len()
    }

    /// Takes no more jobs. Each worker finishes its current job, ends the
    /// ones still queued as Stopping, and exits.
    pub(crate) fn close(&self) {
        let mut queues = lock(&self.queues);
        queues.closed = true;
        queues.by_channel.clear();
    }
}
