//! The device side of the MSG / PASSWORD / SEND / DONE session (protocol
//! notes §3.1), as pure state: the channel feeds it commands with the current
//! time and sends the replies it returns; nothing here touches a socket.
//!
//! What it keeps to, from the vendor documents:
//! * `MSG` opens a session and asks for the password (`PASSWORD <sendid>`);
//!   at most [`MAX_SESSIONS`] are open at once, beyond that
//!   `ERROR <sendid> too_many_sends_in_server`;
//! * a wrong password gets `ERROR <sendid> PASSWORD`, and the session waits
//!   for another PASSWORD or DONE;
//! * each `SEND` with a new telid is queued and answered `WAIT` at once; the
//!   modem sends one SMS at a time, and the `OK <sendid> <telid> <sms_no>` or
//!   `ERROR <sendid> <telid> errorstatus:<n>` follows on its own;
//! * the status of the last [`TELID_MEMORY`] telids is kept per session, and
//!   a repeated SEND with a known telid is answered with that status
//!   **without sending again** — exactly what the documents promise, so a
//!   server that resends SEND during WAIT can be tested against the promise
//!   (a firmware that breaks it is a different device);
//! * a session with no traffic from the server for the idle time (90 s) is
//!   released.
//!
//! Memory is bounded by those limits: at most 5 sessions of at most 10
//! telids each.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use goippy_core::goip::{ErrorReply, Reply};

/// Concurrent sessions a GoIP allows.
pub const MAX_SESSIONS: usize = 5;
/// Telids whose status a session remembers.
pub const TELID_MEMORY: usize = 10;
/// How long a session lives without traffic from the server.
pub const SESSION_IDLE: Duration = Duration::from_secs(90);
/// The vendor's text for a refused MSG.
pub const TOO_MANY_SENDS: &str = "too_many_sends_in_server";

/// Where one recipient of a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelStatus {
    /// Queued or being sent.
    Waiting,
    /// Sent; the GoIP gave it this number.
    Sent { sms_no: u32 },
    /// The network refused it.
    Failed { errorstatus: i32 },
}

impl TelStatus {
    /// The reply that reports this status.
    pub fn reply(self, sendid: u32, telid: u32) -> Reply {
        match self {
            TelStatus::Waiting => Reply::Wait { sendid, telid },
            TelStatus::Sent { sms_no } => Reply::Ok {
                sendid,
                telid,
                sms_no: Some(sms_no),
            },
            TelStatus::Failed { errorstatus } => Reply::Error(ErrorReply::Recipient {
                sendid,
                telid,
                errorstatus,
            }),
        }
    }
}

#[derive(Debug)]
struct Recipient {
    telid: u32,
    status: TelStatus,
}

#[derive(Debug)]
struct Session {
    sendid: u32,
    text: String,
    authenticated: bool,
    last_activity: Instant,
    recipients: VecDeque<Recipient>,
}

impl Session {
    fn recipient_mut(&mut self, telid: u32) -> Option<&mut Recipient> {
        self.recipients.iter_mut().find(|r| r.telid == telid)
    }
}

/// The answer to `MSG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgOutcome {
    /// A new session: reply `PASSWORD <sendid>`.
    Opened,
    /// The MSG of an open session came again (the server lost our
    /// PASSWORD): reply `PASSWORD <sendid>` again. The text is replaced.
    Repeated,
    /// Refused: reply `ERROR <sendid> too_many_sends_in_server`.
    TooMany,
}

/// The answer to `PASSWORD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// Reply `SEND <sendid>`.
    Accepted,
    /// Reply `ERROR <sendid> PASSWORD`.
    Rejected,
    /// No such session (never opened, released, or idle too long).
    NoSession,
}

/// The answer to `SEND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// A new telid: reply `WAIT`. The SMS is sent at `due` (`None`: never,
    /// the `no-result` failure), with this text.
    Queued { text: String, due: Option<Instant> },
    /// A telid the session knows: reply with its status, send nothing.
    Known(TelStatus),
    /// No such session.
    NoSession,
    /// The session has not been given the right password yet.
    NotAuthenticated,
}

/// How long sending one SMS takes, and whether this one is slow.
#[derive(Debug, Clone, Copy)]
pub struct SendTiming {
    /// The modem's time per SMS (2–5 s on real devices).
    pub send_time: Duration,
    /// `slow-wait`: this SMS's result comes only after this long.
    pub slow_wait: Option<Duration>,
    /// `no-result`: this SMS's result never comes.
    pub never: bool,
}

/// One channel's SMS sessions and send counter.
#[derive(Debug)]
pub struct SmsSessions {
    sessions: Vec<Session>,
    idle: Duration,
    last_sms_no: u32,
    /// When the modem finishes the SMS it is sending (it sends one at a time).
    modem_free_at: Option<Instant>,
}

impl SmsSessions {
    /// No sessions; `idle` is the release time (normally [`SESSION_IDLE`]).
    pub fn new(idle: Duration) -> Self {
        SmsSessions {
            sessions: Vec::new(),
            idle,
            last_sms_no: 0,
            modem_free_at: None,
        }
    }

    fn session_mut(&mut self, sendid: u32) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.sendid == sendid)
    }

    /// Sessions open now.
    pub fn open(&self) -> usize {
        self.sessions.len()
    }

    /// Handles `MSG <sendid> <len> <text>`. `refuse` is the `too-many`
    /// failure: refuse even when there is room.
    pub fn msg(&mut self, now: Instant, sendid: u32, text: &str, refuse: bool) -> MsgOutcome {
        if refuse {
            return MsgOutcome::TooMany;
        }
        if let Some(session) = self.session_mut(sendid) {
            session.text = text.to_owned();
            session.last_activity = now;
            return MsgOutcome::Repeated;
        }
        if self.sessions.len() >= MAX_SESSIONS {
            return MsgOutcome::TooMany;
        }
        self.sessions.push(Session {
            sendid,
            text: text.to_owned(),
            authenticated: false,
            last_activity: now,
            recipients: VecDeque::new(),
        });
        MsgOutcome::Opened
    }

    /// Handles `PASSWORD <sendid> <password>`.
    pub fn password(
        &mut self,
        now: Instant,
        sendid: u32,
        given: &str,
        expected: &str,
    ) -> PasswordOutcome {
        let Some(session) = self.session_mut(sendid) else {
            return PasswordOutcome::NoSession;
        };
        session.last_activity = now;
        if given == expected {
            session.authenticated = true;
            PasswordOutcome::Accepted
        } else {
            PasswordOutcome::Rejected
        }
    }

    /// Handles `SEND <sendid> <telid> <number>`.
    pub fn send(
        &mut self,
        now: Instant,
        sendid: u32,
        telid: u32,
        timing: SendTiming,
    ) -> SendOutcome {
        let modem_free_at = self.modem_free_at;
        let Some(session) = self.session_mut(sendid) else {
            return SendOutcome::NoSession;
        };
        session.last_activity = now;
        if !session.authenticated {
            return SendOutcome::NotAuthenticated;
        }
        if let Some(known) = session.recipient_mut(telid) {
            return SendOutcome::Known(known.status);
        }
        if session.recipients.len() >= TELID_MEMORY {
            session.recipients.pop_front();
        }
        session.recipients.push_back(Recipient {
            telid,
            status: TelStatus::Waiting,
        });
        let text = session.text.clone();
        let due = if timing.never {
            None
        } else if let Some(slow) = timing.slow_wait {
            Some(now + slow)
        } else {
            let start = modem_free_at.filter(|t| *t > now).unwrap_or(now);
            let due = start + timing.send_time;
            self.modem_free_at = Some(due);
            Some(due)
        };
        SendOutcome::Queued { text, due }
    }

    /// The modem finished one SMS: `errorstatus` is `None` when it went out.
    /// Returns the new status (with the SMS's number when sent). The SMS
    /// counts even when its session was released meanwhile: it was sent.
    pub fn complete(&mut self, sendid: u32, telid: u32, errorstatus: Option<i32>) -> TelStatus {
        let status = match errorstatus {
            Some(errorstatus) => TelStatus::Failed { errorstatus },
            None => {
                self.last_sms_no = self.last_sms_no.wrapping_add(1);
                TelStatus::Sent {
                    sms_no: self.last_sms_no,
                }
            }
        };
        if let Some(recipient) = self
            .session_mut(sendid)
            .and_then(|s| s.recipient_mut(telid))
        {
            recipient.status = status;
        }
        status
    }

    /// Handles `DONE <sendid>`: true if a session was open.
    pub fn done(&mut self, sendid: u32) -> bool {
        let before = self.sessions.len();
        self.sessions.retain(|s| s.sendid != sendid);
        self.sessions.len() != before
    }

    /// Releases the sessions idle for too long; returns their sendids.
    pub fn expire(&mut self, now: Instant) -> Vec<u32> {
        let idle = self.idle;
        let (gone, kept) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|s| now.saturating_duration_since(s.last_activity) >= idle);
        self.sessions = kept;
        gone.into_iter().map(|s: Session| s.sendid).collect()
    }

    /// Drops every session (a module reboot).
    pub fn clear(&mut self) -> Vec<u32> {
        self.modem_free_at = None;
        self.sessions.drain(..).map(|s| s.sendid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: SendTiming = SendTiming {
        send_time: Duration::from_secs(2),
        slow_wait: None,
        never: false,
    };

    fn opened(now: Instant, sendid: u32) -> SmsSessions {
        let mut s = SmsSessions::new(SESSION_IDLE);
        assert_eq!(s.msg(now, sendid, "hello", false), MsgOutcome::Opened);
        assert_eq!(
            s.password(now, sendid, "pw", "pw"),
            PasswordOutcome::Accepted
        );
        s
    }

    #[test]
    fn a_clean_session() {
        let now = Instant::now();
        let mut s = opened(now, 11);
        let SendOutcome::Queued { text, due } = s.send(now, 11, 1, QUICK) else {
            panic!()
        };
        assert_eq!(text, "hello");
        assert_eq!(due, Some(now + Duration::from_secs(2)));
        assert_eq!(s.complete(11, 1, None), TelStatus::Sent { sms_no: 1 });
        let SendOutcome::Queued { .. } = s.send(now, 11, 2, QUICK) else {
            panic!()
        };
        assert_eq!(s.complete(11, 2, None), TelStatus::Sent { sms_no: 2 });
        assert!(s.done(11));
        assert!(!s.done(11));
        assert_eq!(s.open(), 0);
    }

    #[test]
    fn the_modem_sends_one_at_a_time() {
        let now = Instant::now();
        let mut s = opened(now, 11);
        assert!(matches!(s.msg(now, 12, "b", false), MsgOutcome::Opened));
        s.password(now, 12, "pw", "pw");
        let due = |o| match o {
            SendOutcome::Queued { due, .. } => due,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            due(s.send(now, 11, 1, QUICK)),
            Some(now + Duration::from_secs(2))
        );
        assert_eq!(
            due(s.send(now, 12, 1, QUICK)),
            Some(now + Duration::from_secs(4))
        );
        let slow = SendTiming {
            slow_wait: Some(Duration::from_secs(30)),
            ..QUICK
        };
        assert_eq!(
            due(s.send(now, 12, 2, slow)),
            Some(now + Duration::from_secs(30))
        );
        let never = SendTiming {
            never: true,
            ..QUICK
        };
        assert_eq!(due(s.send(now, 12, 3, never)), None);
    }

    #[test]
    fn a_repeated_send_reports_without_sending() {
        let now = Instant::now();
        let mut s = opened(now, 11);
        assert!(matches!(
            s.send(now, 11, 1, QUICK),
            SendOutcome::Queued { .. }
        ));
        assert_eq!(
            s.send(now, 11, 1, QUICK),
            SendOutcome::Known(TelStatus::Waiting)
        );
        s.complete(11, 1, None);
        assert_eq!(
            s.send(now, 11, 1, QUICK),
            SendOutcome::Known(TelStatus::Sent { sms_no: 1 })
        );
        assert!(matches!(
            s.send(now, 11, 2, QUICK),
            SendOutcome::Queued { .. }
        ));
        s.complete(11, 2, Some(38));
        assert_eq!(
            s.send(now, 11, 2, QUICK),
            SendOutcome::Known(TelStatus::Failed { errorstatus: 38 })
        );
    }

    #[test]
    fn only_the_last_ten_telids_are_remembered() {
        let now = Instant::now();
        let mut s = opened(now, 11);
        for telid in 1..=11 {
            assert!(matches!(
                s.send(now, 11, telid, QUICK),
                SendOutcome::Queued { .. }
            ));
        }
        // telid 1 was forgotten: it is queued (and sent) again.
        assert!(matches!(
            s.send(now, 11, 1, QUICK),
            SendOutcome::Queued { .. }
        ));
        assert_eq!(
            s.send(now, 11, 11, QUICK),
            SendOutcome::Known(TelStatus::Waiting)
        );
    }

    #[test]
    fn at_most_five_sessions() {
        let now = Instant::now();
        let mut s = SmsSessions::new(SESSION_IDLE);
        for sendid in 1..=5 {
            assert_eq!(s.msg(now, sendid, "x", false), MsgOutcome::Opened);
        }
        assert_eq!(s.msg(now, 6, "x", false), MsgOutcome::TooMany);
        assert_eq!(s.msg(now, 3, "y", false), MsgOutcome::Repeated);
        s.done(1);
        assert_eq!(s.msg(now, 6, "x", false), MsgOutcome::Opened);
        assert_eq!(s.msg(now, 7, "x", true), MsgOutcome::TooMany);
    }

    #[test]
    fn password_rules() {
        let now = Instant::now();
        let mut s = SmsSessions::new(SESSION_IDLE);
        assert_eq!(s.password(now, 1, "pw", "pw"), PasswordOutcome::NoSession);
        s.msg(now, 1, "x", false);
        assert_eq!(s.send(now, 1, 1, QUICK), SendOutcome::NotAuthenticated);
        assert_eq!(s.password(now, 1, "no", "pw"), PasswordOutcome::Rejected);
        assert_eq!(s.send(now, 1, 1, QUICK), SendOutcome::NotAuthenticated);
        assert_eq!(s.password(now, 1, "pw", "pw"), PasswordOutcome::Accepted);
        assert!(matches!(
            s.send(now, 1, 1, QUICK),
            SendOutcome::Queued { .. }
        ));
        assert_eq!(s.send(now, 2, 1, QUICK), SendOutcome::NoSession);
    }

    #[test]
    fn idle_sessions_are_released() {
        let now = Instant::now();
        let mut s = opened(now, 11);
        s.msg(now + Duration::from_secs(60), 12, "x", false);
        assert!(s.expire(now + Duration::from_secs(89)).is_empty());
        assert_eq!(s.expire(now + Duration::from_secs(90)), vec![11]);
        assert_eq!(s.expire(now + Duration::from_secs(150)), vec![12]);
        // The send counter survives the sessions.
        assert_eq!(s.complete(11, 1, None), TelStatus::Sent { sms_no: 1 });
    }

    #[test]
    fn status_replies() {
        assert_eq!(
            TelStatus::Sent { sms_no: 3 }.reply(11, 1).encode().unwrap(),
            b"OK 11 1 3"
        );
        assert_eq!(
            TelStatus::Failed { errorstatus: 38 }
                .reply(11, 2)
                .encode()
                .unwrap(),
            b"ERROR 11 2 errorstatus:38"
        );
        assert_eq!(
            TelStatus::Waiting.reply(11, 3).encode().unwrap(),
            b"WAIT 11 3"
        );
    }
}
