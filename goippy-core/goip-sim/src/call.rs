//! A simulated voice call, as the notifications a GoIP sends about it
//! (protocol notes §2.4–§2.8). goippy does not carry calls, but it logs
//! them and must acknowledge every one of these packets.
//!
//! The sequence, built from the vendor documents and the call progress seen
//! in other projects' logs:
//! * start: `RECORD` (dir 1 incoming / 2 outgoing), then `STATE` with
//!   `INCOMING:<n>`, or `DIALING:<n>` and `ALERTING:<n>`, then
//!   `CONNECTED:<n>` when the call is answered (it lasts some seconds);
//! * end, after those seconds: `HANGUP` (`num:<n>,cause:<text>`, with the
//!   comma), `STATE` `IDLE`, `EXPIRY` (`exp:<seconds>`, 0 when it was never
//!   connected) and `REMAIN` (the call-time budget left).

use serde::Serialize;

use goippy_core::goip::{
    CallDirection, Expiry, Hangup, LineState, NotificationKind, Record, Remain, RemainTime, State,
};

/// The cause a call ends with unless told otherwise.
pub const DEFAULT_CAUSE: &str = "Normal call clearing";

/// Which way a simulated call goes (`in` / `out` in the script and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallWay {
    In,
    Out,
}

/// A call to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    pub way: CallWay,
    /// The remote number; empty for a hidden caller id.
    pub number: String,
    /// How long it is connected; 0 = never answered.
    pub seconds: u32,
    /// The HANGUP cause text.
    pub cause: String,
}

fn state(line: LineState) -> NotificationKind {
    NotificationKind::State(State {
        gsm_remain_state: line.to_string(),
    })
}

impl CallSpec {
    /// The notifications that start the call, and the line state after them.
    pub fn start(&self) -> (Vec<NotificationKind>, LineState) {
        let n = self.number.clone();
        let (dir, progress) = match self.way {
            CallWay::In => (
                CallDirection::Incoming,
                vec![LineState::Incoming(n.clone())],
            ),
            CallWay::Out => (
                CallDirection::Outgoing,
                vec![
                    LineState::Dialing(n.clone()),
                    LineState::Alerting(n.clone()),
                ],
            ),
        };
        let mut kinds = vec![NotificationKind::Record(Record {
            dir,
            num: n.clone(),
        })];
        let mut line = LineState::Idle;
        for step in progress
            .into_iter()
            .chain((self.seconds > 0).then(|| LineState::Connected(n.clone())))
        {
            line = step.clone();
            kinds.push(state(step));
        }
        (kinds, line)
    }

    /// The notifications that end the call after `seconds` connected, given
    /// the budget left before it; returns the budget left after it too.
    pub fn end(
        &self,
        seconds: u32,
        cause: &str,
        budget: RemainTime,
    ) -> (Vec<NotificationKind>, RemainTime) {
        let left = match budget {
            RemainTime::Unlimited => RemainTime::Unlimited,
            RemainTime::Minutes(m) => RemainTime::Minutes(m.saturating_sub(seconds.div_ceil(60))),
        };
        let kinds = vec![
            NotificationKind::Hangup(Hangup {
                num: self.number.clone(),
                cause: cause.to_owned(),
            }),
            state(LineState::Idle),
            NotificationKind::Expiry(Expiry { exp: seconds }),
            NotificationKind::Remain(Remain {
                gsm_remain_time: left,
            }),
        ];
        (kinds, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goippy_core::goip::Notification;

    fn wire(kinds: &[NotificationKind]) -> Vec<String> {
        kinds
            .iter()
            .map(|k| {
                let n = Notification::new("7", "g", Some("p".into()), k.clone());
                String::from_utf8(n.encode().unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn an_answered_incoming_call() {
        let spec = CallSpec {
            way: CallWay::In,
            number: "+3725551".into(),
            seconds: 61,
            cause: DEFAULT_CAUSE.into(),
        };
        let (kinds, line) = spec.start();
        assert_eq!(
            wire(&kinds),
            [
                "RECORD:7;id:g;password:p;dir:1;num:+3725551",
                "STATE:7;id:g;password:p;gsm_remain_state:INCOMING:+3725551",
                "STATE:7;id:g;password:p;gsm_remain_state:CONNECTED:+3725551",
            ]
        );
        assert_eq!(line, LineState::Connected("+3725551".into()));
        let (kinds, left) = spec.end(61, DEFAULT_CAUSE, RemainTime::Minutes(10));
        assert_eq!(left, RemainTime::Minutes(8));
        assert_eq!(
            wire(&kinds),
            [
                "HANGUP:7;id:g;password:p;num:+3725551,cause:Normal call clearing",
                "STATE:7;id:g;password:p;gsm_remain_state:IDLE",
                "EXPIRY:7;id:g;password:p;exp:61",
                "REMAIN:7;id:g;password:p;gsm_remain_time:8",
            ]
        );
    }

    #[test]
    fn an_unanswered_outgoing_call() {
        let spec = CallSpec {
            way: CallWay::Out,
            number: String::new(),
            seconds: 0,
            cause: "User busy".into(),
        };
        let (kinds, line) = spec.start();
        assert_eq!(
            wire(&kinds),
            [
                "RECORD:7;id:g;password:p;dir:2;num:",
                "STATE:7;id:g;password:p;gsm_remain_state:DIALING",
                "STATE:7;id:g;password:p;gsm_remain_state:ALERTING",
            ]
        );
        assert_eq!(line, LineState::Alerting(String::new()));
        let (kinds, left) = spec.end(0, "User busy", RemainTime::Unlimited);
        assert_eq!(left, RemainTime::Unlimited);
        assert_eq!(
            wire(&kinds)[0],
            "HANGUP:7;id:g;password:p;num:,cause:User busy"
        );
    }
}
