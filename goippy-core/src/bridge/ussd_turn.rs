//! One USSD request per channel at a time, whoever sends it: the console
//! (`ussd.rs`), the ad-hoc command (`adhoc/ussd.rs`) and the balance check
//! (`alerts/balance.rs`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_per_channel() {
        let turns = Arc::new(UssdTurns::default());
        let first = turns.take("g1").await;
        // Another channel is not held up.
        let other = tokio::time::timeout(Duration::from_secs(1), turns.take("g2")).await;
        assert!(other.is_ok());
        // The same channel waits for the first to finish.
        let waiting = {
            let turns = turns.clone();
            tokio::spawn(async move { turns.take("g1").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(matches!(second, Ok(Ok(_))));
    }
}
