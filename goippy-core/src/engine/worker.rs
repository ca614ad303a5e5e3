//! One job at a time per channel: the task that takes a channel's jobs out of
//! its queue (`queue.rs`) and runs them.
//!
//! A channel is one SIM, and a SIM cannot send an SMS while it runs a USSD
//! session (protocol notes §3.1, "Serialize per channel"), so a channel's
//! jobs run one after the other. Different channels have different workers
//! and run in parallel.
//!
//! Before a job runs, its channel must be online: the worker waits for the
//! registry to say so, until `offline_wait` after the job was submitted,
//! and then ends the job as ChannelOffline without sending anything.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use super::config::EngineConfig;
use super::pending::Exchange;
use super::queue::{Job, JobQueues, Queued};
use super::registry::Presence;
use super::request::{CommandError, NotStarted};
use super::shared::Shared;
use super::tracker::TaskToken;
use super::{control, sms_oneshot, sms_session, ussd};
use crate::config::{Secret, SmsMode};
use crate::goip::Command;

/// Queues `job` for `goip_id` (a configured channel), starting the
/// channel's worker on its first job. Gives the job back when the engine no
/// longer takes jobs.
pub(crate) async fn submit(
    shared: &Arc<Shared>,
    queues: &JobQueues,
    goip_id: &str,
    job: Job,
) -> Result<(), Job> {
    let capacity = shared.config.job_queue_capacity;
    queues
        .submit(goip_id, job, capacity, |queue, token| {
            tokio::spawn(run(shared.clone(), goip_id.to_owned(), queue, token));
        })
        .await
}

enum Ready {
    Online,
    Offline,
    Stopping,
}

async fn wait_online(
    presence: &mut watch::Receiver<Presence>,
    stopping: &mut watch::Receiver<bool>,
    deadline: Instant,
) -> Ready {
    tokio::select! {
        biased;
        online = presence.wait_for(Presence::is_online) => match online {
            Ok(_) => Ready::Online,
            Err(_) => Ready::Offline,
        },
        _ = stopping.wait_for(|s| *s) => Ready::Stopping,
        () = sleep_until(deadline.into()) => Ready::Offline,
    }
}

async fn run(
    shared: Arc<Shared>,
    goip_id: String,
    mut queue: mpsc::Receiver<Queued>,
    _token: TaskToken,
) {
    let mut presence = shared.registry.watch(&goip_id);
    let mut stopping = shared.stopping.subscribe();
    while let Some(Queued { job, submitted }) = queue.recv().await {
        if *stopping.borrow() {
            job.not_started(NotStarted::Stopping);
            continue;
        }
        let deadline = submitted + shared.config.offline_wait;
        match wait_online(&mut presence, &mut stopping, deadline).await {
            Ready::Online => {}
            Ready::Offline => {
                tracing::info!(goip_id, job = job.kind(), "channel offline: job not sent");
                job.not_started(NotStarted::ChannelOffline);
                continue;
            }
            Ready::Stopping => {
                job.not_started(NotStarted::Stopping);
                continue;
            }
        }
        // Looked up now: the password may have changed while the job waited.
        let Some(credentials) = shared.credentials.lookup(&goip_id) else {
            job.not_started(NotStarted::UnknownChannel);
            continue;
        };
        let mut ctx = JobContext {
            shared: shared.clone(),
            goip_id: goip_id.clone(),
            password: credentials.password,
            stopping: stopping.clone(),
        };
        match job {
            Job::Sms { request, done } => {
                let outcome = match shared.config.sms_mode {
                    SmsMode::Session => sms_session::run(&mut ctx, request).await,
                    SmsMode::Oneshot => sms_oneshot::run(&mut ctx, request).await,
                };
                let _ = done.send(outcome);
            }
            Job::Ussd { code, sendid, done } => {
                let _ = done.send(ussd::run(&mut ctx, &code, sendid).await);
            }
            Job::Control { request, done } => {
                let _ = done.send(control::run(&mut ctx, &request).await);
            }
        }
    }
}

/// What a running job needs: its channel, the password, the socket (through
/// [`Shared`]) and the stop signal.
pub(crate) struct JobContext {
    pub shared: Arc<Shared>,
    pub goip_id: String,
    password: Secret,
    stopping: watch::Receiver<bool>,
}

impl JobContext {
    pub(crate) fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The channel password, for the one command that carries it.
    pub(crate) fn password(&self) -> String {
        self.password.expose().to_owned()
    }

    /// Starts an exchange under a new random sendid (an SMS session, a
    /// control command): see `sendid`.
    pub(crate) fn open_exchange(&self) -> Exchange {
        let sendids = &self.shared.sendids;
        self.shared
            .pending
            .open_new(&self.goip_id, || sendids.random())
    }

    /// Starts a USSD exchange under `reserved` (drawn for this request by
    /// the caller, who recorded it), or else under a sendid larger than
    /// every USSD sendid before it (the GoIP answers a smaller one from its
    /// cache). Only if `reserved` is in use by another exchange — a random
    /// SMS or command sendid that happens to equal it — is a new one drawn.
    pub(crate) fn open_ussd_exchange(&self, reserved: Option<u32>) -> Exchange {
        let sendids = &self.shared.sendids;
        let mut reserved = reserved;
        self.shared.pending.open_new(&self.goip_id, || {
            reserved.take().unwrap_or_else(|| sendids.next_ussd())
        })
    }

    /// A random stamp for a datagram that is never answered (one-shot SMS).
    pub(crate) fn random_stamp(&self) -> u32 {
        self.shared.sendids.random()
    }

    pub(crate) async fn send(&self, command: &Command) -> Result<(), CommandError> {
        self.shared
            .send_command(&self.goip_id, command)
            .await
            .map(drop)
    }

    /// Sends `DONE <sendid>`, releasing the exchange on the GoIP. Best
    /// effort: a GoIP that misses it releases the session by itself.
    pub(crate) async fn done(&self, sendid: u32) {
        let _ = self.send(&Command::Done { sendid }).await;
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The stop signal, for [`Exchange::next`].
    pub(crate) fn stop_signal(&mut self) -> &mut watch::Receiver<bool> {
        &mut self.stopping
    }
}
