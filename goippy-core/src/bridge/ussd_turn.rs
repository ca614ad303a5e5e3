//! One USSD request per channel at a time, whoever sends it: the console
//! (`ussd.rs`) and the balance check (`alerts/balance.rs`).
//!
//! The engine runs one job per channel at a time, but a USSD sendid is
//! drawn (and stored) *before* its job is queued, and the GoIP answers a
//! USSD whose sendid is not above its last one from its cache. Two senders
//! that drew ids in one order and queued them in the other would get a
//! stale answer; holding the channel's turn from the draw to the answer
//! keeps the order. Bounded by the configured channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::util::lock;

#[derive(Debug, Default)]
pub(crate) struct UssdTurns {
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl UssdTurns {
    /// Waits for the channel's turn; it is held until the guard is dropped.
    pub(crate) async fn take(&self, goip_id: &str) -> OwnedMutexGuard<()> {
        let turn = lock(&self.turns)
            .entry(goip_id.to_owned())
            .or_default()
            .clone();
        turn.lock_owned().await
    }
}
