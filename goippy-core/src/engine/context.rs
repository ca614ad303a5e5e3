//! [`JobContext`]: everything a running job may touch, and nothing more.
//!
//! A job (an SMS in `sms_session.rs` or `sms_oneshot.rs`, a USSD request in
//! `ussd.rs`) works for one channel. It may send commands to that channel,
//! open exchanges under fresh sendids and wait for their replies, remember a
//! finished exchange so a late reply is still reported, record a sent SMS
//! for its delivery report, and watch the stop signal. Those are the methods
//! below; the job files see the rest of the engine only through them.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::config::EngineConfig;
use super::ledger::SentSms;
use super::pending::{Exchange, Finished};
use super::request::{CommandError, MessageRef};
use super::shared::Shared;
use crate::config::Secret;
use crate::goip::Command;

/// One job's view of the engine: its channel, the channel's password, and
/// the stop signal.
pub(crate) struct JobContext {
    shared: Arc<Shared>,
    goip_id: String,
    /// Looked up when the job starts: it may have changed while it waited.
    password: Secret,
    stopping: watch::Receiver<bool>,
}

impl JobContext {
    pub(crate) fn new(
        shared: Arc<Shared>,
        goip_id: String,
        password: Secret,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        JobContext {
            shared,
            goip_id,
            password,
            stopping,
        }
    }

    /// The channel the job runs on.
    pub(crate) fn goip_id(&self) -> &str {
        &self.goip_id
    }

    pub(crate) fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The channel password, for the one command that carries it.
    pub(crate) fn password(&self) -> Secret {
        self.password.clone()
    }

    /// Starts an exchange under a new random sendid (an SMS session): see
    /// `sendid`.
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

    /// Remembers a finished exchange for a while, so that a reply that still
    /// comes is reported as an event instead of being dropped.
    pub(crate) fn remember_finished(&self, sendid: u32, finished: Finished) {
        self.shared
            .pending
            .remember(sendid, finished, Instant::now());
    }

    /// Records that the GoIP sent `message_ref` to `recipient` as `sms_no`,
    /// so the delivery report that names `sms_no` can be matched.
    pub(crate) fn record_sent(&self, sms_no: u32, recipient: &str, message_ref: MessageRef) {
        self.shared.record_sent(SentSms {
            goip_id: self.goip_id.clone(),
            sms_no,
            recipient: recipient.to_owned(),
            tag: message_ref,
            sent_at: Instant::now(),
        });
    }

    /// Sends a command to the job's channel (never while it is offline).
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
