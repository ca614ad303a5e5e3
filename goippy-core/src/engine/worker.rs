//! One job at a time per channel: the task that takes a channel's jobs out of
//! its queue (`queue.rs`) and runs them.
//!
//! A channel is one SIM, and a SIM cannot send an SMS while it runs a USSD
//! session (docs/goip-protocol.md#sms-session, "One job per channel at a
//! time"), so a channel's
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

use super::context::JobContext;
use super::queue::{Job, Queued};
use super::registry::Presence;
use super::request::NotStarted;
use super::shared::Shared;
use super::tracker::TaskToken;
use super::{sms_oneshot, sms_session, ussd};
use crate::config::SmsMode;

/// Waits until the channel is online; or else why the job cannot start.
async fn wait_online(
    presence: &mut watch::Receiver<Presence>,
    stopping: &mut watch::Receiver<bool>,
    deadline: Instant,
) -> Result<(), NotStarted> {
    tokio::select! {
        biased;
        online = presence.wait_for(Presence::is_online) => {
            online.map(drop).map_err(|_| NotStarted::ChannelOffline)
        }
        _ = stopping.wait_for(|s| *s) => Err(NotStarted::Stopping),
        () = sleep_until(deadline.into()) => Err(NotStarted::ChannelOffline),
    }
}

/// The worker of channel `goip_id`: runs the jobs of its `queue` until the
/// queue closes.
pub(crate) async fn run(
    shared: Arc<Shared>,
    goip_id: String,
    mut queue: mpsc::Receiver<Queued>,
    _token: TaskToken,
) {
    let mut presence = shared.registry.watch(&goip_id);
    let mut stopping = shared.stop_signal();
    while let Some(Queued { job, submitted }) = queue.recv().await {
        if *stopping.borrow() {
            job.not_started(NotStarted::Stopping);
            continue;
        }
        let deadline = submitted + shared.config.offline_wait;
        if let Err(why) = wait_online(&mut presence, &mut stopping, deadline).await {
            if why == NotStarted::ChannelOffline {
                tracing::info!(goip_id, job = job.kind(), "channel offline: job not sent");
            }
            job.not_started(why);
            continue;
        }
        // Looked up now: the password may have changed while the job waited.
        let Some(credentials) = shared.credentials.lookup(&goip_id) else {
            job.not_started(NotStarted::UnknownChannel);
            continue;
        };
        let mut ctx = JobContext::new(
            shared.clone(),
            goip_id.clone(),
            credentials.password,
            stopping.clone(),
        );
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
            Job::UssdExit { done } => {
                let _ = done.send(ussd::exit(&mut ctx).await);
            }
        }
    }
}
