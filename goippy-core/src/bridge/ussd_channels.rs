//! What goippy keeps per channel about USSD requests: whose turn it is to
//! send one, and who asked the latest request that has no outbox row.
//!
//! One USSD request per channel at a time, whoever sends it: the console
//! (`ussd.rs`), the ad-hoc command (`adhoc/ussd.rs`) and the balance check
//! (`alerts/balance.rs`). The engine runs one job per channel at a time,
//! but a USSD sendid is drawn (and stored) *before* its job is queued, and
//! the GoIP answers a USSD whose sendid is not above its last one from its
//! cache. Two senders that drew ids in one order and queued them in the
//! other would get a stale answer; holding the channel's turn from the draw
//! to the answer keeps the order.
//!
//! Who asked: the console's request is an outbox row that carries its
//! sendid, so the store finds who asked when an answer comes after the
//! timeout (`store/received.rs`). An ad-hoc command's and a balance check's
//! have no row; without this memory a late answer went to the line's
//! default owner or first user — on a shared line, maybe not the user who
//! asked, and for a balance check a chat message nobody asked for. Each is
//! remembered under the sendid it went out with, just before it is sent;
//! since the turn lets one request per channel be out at a time, one slot
//! per channel is enough: the next request on the channel replaces it. In
//! memory only: after a restart a late answer goes where it always went.
//!
//! Both are bounded by the configured channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use tokio_xmpp::jid::BareJid;

use crate::util::lock;

/// Who is waiting for a USSD answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Asker {
    /// A user, through an ad-hoc command: `ext` is theirs.
    User { ext: String, jid: BareJid },
    /// goippy's scheduled balance check.
    BalanceCheck,
}

/// Both std mutexes guard a map lookup, never held across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct UssdChannels {
    /// goip_id → the channel's turn.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// goip_id → the sendid of the channel's latest request without an
    /// outbox row, and who sent it.
    askers: Mutex<HashMap<String, (u32, Asker)>>,
}

impl UssdChannels {
    /// Waits for the channel's turn; it is held until the guard is dropped.
    pub(crate) async fn take_turn(&self, goip_id: &str) -> OwnedMutexGuard<()> {
        let turn = lock(&self.turns)
            .entry(goip_id.to_owned())
            .or_default()
            .clone();
        turn.lock_owned().await
    }

    /// Remembers who sends the request `sendid` on `goip_id`.
    pub(crate) fn remember(&self, goip_id: &str, sendid: u32, asker: Asker) {
        lock(&self.askers).insert(goip_id.to_owned(), (sendid, asker));
    }

    /// Who sent the request a late answer on `goip_id` answers, if it was
    /// the channel's latest one remembered here.
    pub(crate) fn asker(&self, goip_id: &str, sendid: u32) -> Option<Asker> {
        lock(&self.askers)
            .get(goip_id)
            .filter(|(latest, _)| *latest == sendid)
            .map(|(_, asker)| asker.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_per_channel() {
        let turns = Arc::new(UssdChannels::default());
        let first = turns.take_turn("g1").await;
        // Another channel is not held up.
        let other = tokio::time::timeout(Duration::from_secs(1), turns.take_turn("g2")).await;
        assert!(other.is_ok());
        // The same channel waits for the first to finish.
        let waiting = {
            let turns = turns.clone();
            tokio::spawn(async move { turns.take_turn("g1").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(matches!(second, Ok(Ok(_))));
    }

    #[test]
    fn one_request_per_channel_is_remembered() {
        let askers = UssdChannels::default();
        let jid: BareJid = "2002@users.example.org".parse().expect("jid");
        let user = Asker::User {
            ext: "2002".into(),
            jid,
        };
        askers.remember("g1", 10, user.clone());
        askers.remember("g2", 11, Asker::BalanceCheck);
        assert_eq!(askers.asker("g1", 10), Some(user));
        assert_eq!(askers.asker("g2", 11), Some(Asker::BalanceCheck));
        // Another sendid, another channel: nobody known.
        assert_eq!(askers.asker("g1", 11), None);
        assert_eq!(askers.asker("g3", 10), None);
        // The next request on the channel replaces the slot.
        askers.remember("g1", 12, Asker::BalanceCheck);
        assert_eq!(askers.asker("g1", 10), None);
        assert_eq!(askers.asker("g1", 12), Some(Asker::BalanceCheck));
    }
}
