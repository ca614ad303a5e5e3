//! Who asked a USSD request that has no outbox row: an ad-hoc command's
//! (`adhoc/ussd.rs`) or a balance check's (`alerts/balance.rs`).
//!
//! The console's request is an outbox row that carries its sendid, so the
//! store finds who asked when an answer comes after the timeout
//! (`store/received.rs`). These two have no row; without this memory a late
//! answer went to the line's default owner or first user — on a shared
//! line, maybe not the user who asked, and for a balance check a chat
//! message nobody asked for. Each is remembered under the sendid it went
//! out with, just before it is sent; the channel's USSD turn
//! (`ussd_turn.rs`) lets one request per channel be out at a time, so one
//! slot per channel is enough: the next request on the channel replaces
//! it. Bounded by the configured channels. In memory only: after a restart
//! a late answer goes where it always went.

use std::collections::HashMap;
use std::sync::Mutex;

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

#[derive(Debug, Default)]
pub(crate) struct UssdAskers {
    /// goip_id → the sendid of the channel's latest such request, and who
    /// sent it.
    latest: Mutex<HashMap<String, (u32, Asker)>>,
}

impl UssdAskers {
    /// Remembers who sends the request `sendid` on `goip_id`.
    pub(crate) fn remember(&self, goip_id: &str, sendid: u32, asker: Asker) {
        lock(&self.latest).insert(goip_id.to_owned(), (sendid, asker));
    }

    /// Who sent the request a late answer on `goip_id` answers, if it was
    /// the channel's latest one remembered here.
    pub(crate) fn of(&self, goip_id: &str, sendid: u32) -> Option<Asker> {
        lock(&self.latest)
            .get(goip_id)
            .filter(|(latest, _)| *latest == sendid)
            .map(|(_, asker)| asker.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_per_channel_is_remembered() {
        let askers = UssdAskers::default();
        let jid: BareJid = "2002@users.example.org".parse().expect("jid");
        let user = Asker::User {
            ext: "2002".into(),
            jid,
        };
        askers.remember("g1", 10, user.clone());
        askers.remember("g2", 11, Asker::BalanceCheck);
        assert_eq!(askers.of("g1", 10), Some(user));
        assert_eq!(askers.of("g2", 11), Some(Asker::BalanceCheck));
        // Another sendid, another channel: nobody known.
        assert_eq!(askers.of("g1", 11), None);
        assert_eq!(askers.of("g3", 10), None);
        // The next request on the channel replaces the slot.
        askers.remember("g1", 12, Asker::BalanceCheck);
        assert_eq!(askers.of("g1", 10), None);
        assert_eq!(askers.of("g1", 12), Some(Asker::BalanceCheck));
    }
}
