//! What the simulator reports: one [`Event`] per thing that happened, shown
//! to people as a line of text ([`Event::human`]) and to programs as one
//! JSON object per line ([`Event::to_json`]).
//!
//! # The JSON event contract
//!
//! `goip-sim --json` prints each event as a single-line JSON object. Other
//! programs (the prosody-test harness, which cannot link this crate) drive
//! the simulator over stdin/stdout and match on these objects, so the schema
//! below is a **stable contract**: fields may be added, but existing names,
//! types and meanings do not change.
//!
//! Every object has `"event"` (its name). Events about one channel have
//! `"channel"`: the channel's number, counting from 1 in the order the
//! channels were configured. `recvid`s and keepalive counts the server
//! echoes are strings (opaque ids); sendids, telids and `sms_no` are
//! numbers. Fields marked *optional* are left out when they have no value.
//!
//! | `event` | fields | when |
//! |---|---|---|
//! | `ready` | `server`, `channels`: [{`channel`, `id`, `local_addr`, `number`}] | once, when every channel's socket is bound and before anything is sent |
//! | `stopped` | — | once, last, after every channel closed its socket |
//! | `wire` | `channel`, `dir` (`"in"`/`"out"`), `peer` (`ip:port`), `text` | every datagram received or sent (invalid UTF-8 shown as U+FFFD) |
//! | `keepalive` | `channel`, `count` (number), `sms_login` (bool) | a keepalive `req:<count>;…` was sent |
//! | `keepalive_ack` | `channel`, `count` (string), `status` (number), `prefix` (`"reg"`/`"req"`), `sms_login` (bool, after this ack) | the server answered a keepalive |
//! | `sms_login` | `channel`, `value` (bool) | SMS_LOGIN changed (Y after the first accepted `reg:` ack) |
//! | `notify` | `channel`, `tag`, `recvid`, `attempt` (1 = first send, 2–4 = retransmissions) | a notification (RECEIVE, DELIVER, USSN, RECORD, STATE, HANGUP, EXPIRY, REMAIN, CELLS) was sent |
//! | `ack` | `channel`, `tag`, `recvid`, `attempts` | the server acked it (`<TAG> <recvid> OK`) after that many sends |
//! | `ack_error` | `channel`, `tag`, `recvid`, `attempts`, `text` | the server answered `<TAG> <recvid> ERROR <text>`; no more retransmissions |
//! | `not_acked` | `channel`, `tag`, `recvid`, `attempts` | no ack after the last retransmission; the device gives up |
//! | `session_opened` | `channel`, `sendid`, `text` | `MSG` opened an SMS session |
//! | `session_rejected` | `channel`, `sendid`, `reason` | `MSG` refused (`too_many_sends_in_server`) |
//! | `password_rejected` | `channel`, `sendid` | `PASSWORD` was wrong (`ERROR <sendid> PASSWORD`) |
//! | `send_queued` | `channel`, `sendid`, `telid`, `to` | a new `SEND` was answered `WAIT` |
//! | `sms_sent` | `channel`, `to`, `text`, `sms_no`, `sendid`, `telid` | the "network" took the SMS; `OK` was sent |
//! | `sms_failed` | `channel`, `to`, `text`, `sendid`, `telid`, `errorstatus` | the send failed; `ERROR … errorstatus:N` was sent |
//! | `send_repeated` | `channel`, `sendid`, `telid`, `reply` | a `SEND` with a known telid was answered from memory (`reply` is the wire text); nothing was sent again |
//! | `session_closed` | `channel`, `sendid`, `reason` (`"done"`/`"idle"`/`"reboot"`) | an SMS session ended |
//! | `ussd` | `channel`, `sendid`, `code`, `reply`, `cached` (bool) | a `USSD` reply was sent; `cached` = answered from the device cache without a network query (`reply` is without `@` padding) |
//! | `ussd_error` | `channel`, `sendid`, `reply` | a `USSD`/`USSDEXIT` was refused (wrong password); `reply` is the wire text |
//! | `ussd_superseded` | `channel`, `sendid`, `by` | a USSD still waiting for the network will never be answered: a newer one (`by`) replaced it |
//! | `ussd_exit` | `channel`, `sendid` | `USSDEXIT` was answered |
//! | `command` | `channel`, `verb`, `sendid`, `value` (optional), `reply` | a status/control command (`get_*`, `set_*`, `GSM`, `CF`, …) was answered; `reply` is the wire text |
//! | `call_started` | `channel`, `direction` (`"in"`/`"out"`), `number` | a simulated call began (RECORD and STATE sent) |
//! | `call_ended` | `channel`, `direction`, `number`, `seconds`, `cause` | it ended (HANGUP, STATE, EXPIRY, REMAIN sent) |
//! | `failures` | `channel`, `active` (list of modes in script words) | the failure modes changed |
//! | `dropped` | `channel`, `verb`, `sendid` (optional), `reason` | a datagram was deliberately not answered or not sent (a failure mode: `drop-msg`, `no-answer`, `silence`) |
//! | `ignored` | `channel`, `peer`, `reason`, `text` | a received datagram the device could not use (unparseable, no such session, an ack for nothing pending) |
//! | `status` | `channel`, `id`, `number`, `local_addr`, `server`, `sms_login`, `keepalives`, `line_state`, `module_enabled`, `open_sessions`, `pending_notifications`, `sms_sent`, `ussd_queries`, `failures` (list) | the answer to the `status` command |
//! | `help` | `text` | the answer to `help` |
//! | `error` | `message`, `channel` (optional), `line` (optional: script line number) | a script line could not be run, or a send failed |
//! | `lagged` | `missed` | the reader fell behind and that many events were lost |

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use goippy_core::goip::escape_for_log;

use super::call::CallWay;

/// How many events may wait for a slow reader before the oldest are lost
/// (and reported as [`Event::Lagged`]).
pub const EVENT_BUFFER: usize = 4096;

/// Which way a datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    In,
    Out,
}

/// Why an SMS session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseReason {
    /// The server sent `DONE`.
    Done,
    /// No traffic from the server for the idle time (90 s).
    Idle,
    /// `svr_reboot_module` / `svr_reboot_dev`.
    Reboot,
}

/// A channel as `ready` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelInfo {
    pub channel: usize,
    pub id: String,
    pub local_addr: String,
    pub number: String,
}

/// One channel's state, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    pub channel: usize,
    pub id: String,
    pub number: String,
    pub local_addr: String,
    pub server: String,
    pub sms_login: bool,
    /// Keepalives sent since start (or the last reboot).
    pub keepalives: u64,
    pub line_state: String,
    pub module_enabled: bool,
    pub open_sessions: usize,
    pub pending_notifications: usize,
    /// SMS the "network" took since start.
    pub sms_sent: u64,
    /// USSD requests that were not answered from the cache.
    pub ussd_queries: u64,
    /// Active failure modes, in script words.
    pub failures: Vec<String>,
}

/// Something that happened; see the module docs for the JSON contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Ready {
        server: String,
        channels: Vec<ChannelInfo>,
    },
    Stopped,
    Wire {
        channel: usize,
        dir: Dir,
        peer: String,
        text: String,
    },
    Keepalive {
        channel: usize,
        count: u32,
        sms_login: bool,
    },
    KeepaliveAck {
        channel: usize,
        count: String,
        status: u16,
        prefix: String,
        sms_login: bool,
    },
    SmsLogin {
        channel: usize,
        value: bool,
    },
    Notify {
        channel: usize,
        tag: String,
        recvid: String,
        attempt: u32,
    },
    Ack {
        channel: usize,
        tag: String,
        recvid: String,
        attempts: u32,
    },
    AckError {
        channel: usize,
        tag: String,
        recvid: String,
        attempts: u32,
        text: String,
    },
    NotAcked {
        channel: usize,
        tag: String,
        recvid: String,
        attempts: u32,
    },
    SessionOpened {
        channel: usize,
        sendid: u32,
        text: String,
    },
    SessionRejected {
        channel: usize,
        sendid: u32,
        reason: String,
    },
    PasswordRejected {
        channel: usize,
        sendid: u32,
    },
    SendQueued {
        channel: usize,
        sendid: u32,
        telid: u32,
        to: String,
    },
    SmsSent {
        channel: usize,
        to: String,
        text: String,
        sms_no: u32,
        sendid: u32,
        telid: u32,
    },
    SmsFailed {
        channel: usize,
        to: String,
        text: String,
        sendid: u32,
        telid: u32,
        errorstatus: i32,
    },
    SendRepeated {
        channel: usize,
        sendid: u32,
        telid: u32,
        reply: String,
    },
    SessionClosed {
        channel: usize,
        sendid: u32,
        reason: CloseReason,
    },
    Ussd {
        channel: usize,
        sendid: u32,
        code: String,
        reply: String,
        cached: bool,
    },
    UssdError {
        channel: usize,
        sendid: u32,
        reply: String,
    },
    UssdSuperseded {
        channel: usize,
        sendid: u32,
        by: u32,
    },
    UssdExit {
        channel: usize,
        sendid: u32,
    },
    Command {
        channel: usize,
        verb: String,
        sendid: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        reply: String,
    },
    CallStarted {
        channel: usize,
        direction: CallWay,
        number: String,
    },
    CallEnded {
        channel: usize,
        direction: CallWay,
        number: String,
        seconds: u32,
        cause: String,
    },
    Failures {
        channel: usize,
        active: Vec<String>,
    },
    Dropped {
        channel: usize,
        verb: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        sendid: Option<u32>,
        reason: String,
    },
    Ignored {
        channel: usize,
        peer: String,
        reason: String,
        text: String,
    },
    Status(ChannelStatus),
    Help {
        text: String,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        message: String,
    },
    Lagged {
        missed: u64,
    },
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn yn(b: bool) -> char {
    if b { 'Y' } else { 'N' }
}

impl Event {
    /// The event's name, as `"event"` has it in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Ready { .. } => "ready",
            Event::Stopped => "stopped",
            Event::Wire { .. } => "wire",
            Event::Keepalive { .. } => "keepalive",
            Event::KeepaliveAck { .. } => "keepalive_ack",
            Event::SmsLogin { .. } => "sms_login",
            Event::Notify { .. } => "notify",
            Event::Ack { .. } => "ack",
            Event::AckError { .. } => "ack_error",
            Event::NotAcked { .. } => "not_acked",
            Event::SessionOpened { .. } => "session_opened",
            Event::SessionRejected { .. } => "session_rejected",
            Event::PasswordRejected { .. } => "password_rejected",
            Event::SendQueued { .. } => "send_queued",
            Event::SmsSent { .. } => "sms_sent",
            Event::SmsFailed { .. } => "sms_failed",
            Event::SendRepeated { .. } => "send_repeated",
            Event::SessionClosed { .. } => "session_closed",
            Event::Ussd { .. } => "ussd",
            Event::UssdError { .. } => "ussd_error",
            Event::UssdSuperseded { .. } => "ussd_superseded",
            Event::UssdExit { .. } => "ussd_exit",
            Event::Command { .. } => "command",
            Event::CallStarted { .. } => "call_started",
            Event::CallEnded { .. } => "call_ended",
            Event::Failures { .. } => "failures",
            Event::Dropped { .. } => "dropped",
            Event::Ignored { .. } => "ignored",
            Event::Status(_) => "status",
            Event::Help { .. } => "help",
            Event::Error { .. } => "error",
            Event::Lagged { .. } => "lagged",
        }
    }

    /// The channel the event is about, if it is about one.
    pub fn channel(&self) -> Option<usize> {
        match self {
            Event::Ready { .. } | Event::Stopped | Event::Help { .. } | Event::Lagged { .. } => {
                None
            }
            Event::Error { channel, .. } => *channel,
            Event::Status(s) => Some(s.channel),
            Event::Wire { channel, .. }
            | Event::Keepalive { channel, .. }
            | Event::KeepaliveAck { channel, .. }
            | Event::SmsLogin { channel, .. }
            | Event::Notify { channel, .. }
            | Event::Ack { channel, .. }
            | Event::AckError { channel, .. }
            | Event::NotAcked { channel, .. }
            | Event::SessionOpened { channel, .. }
            | Event::SessionRejected { channel, .. }
            | Event::PasswordRejected { channel, .. }
            | Event::SendQueued { channel, .. }
            | Event::SmsSent { channel, .. }
            | Event::SmsFailed { channel, .. }
            | Event::SendRepeated { channel, .. }
            | Event::SessionClosed { channel, .. }
            | Event::Ussd { channel, .. }
            | Event::UssdError { channel, .. }
            | Event::UssdSuperseded { channel, .. }
            | Event::UssdExit { channel, .. }
            | Event::Command { channel, .. }
            | Event::CallStarted { channel, .. }
            | Event::CallEnded { channel, .. }
            | Event::Failures { channel, .. }
            | Event::Dropped { channel, .. }
            | Event::Ignored { channel, .. } => Some(*channel),
        }
    }

    /// True for the raw datagram events (`wire`), which `--no-wire` hides.
    pub fn is_wire(&self) -> bool {
        matches!(self, Event::Wire { .. })
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serializing these plain types cannot fail; the fallback keeps the
        // output a valid JSON line anyway.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"event\":\"error\",\"message\":{}}}",
                serde_json::Value::String(format!("cannot serialize an event: {e}"))
            )
        })
    }

    /// The event for a person, or `None` for the routine ones a person does
    /// not need to see (keepalives and their acks; a change of SMS_LOGIN is
    /// shown, and the datagrams themselves are `wire` lines).
    pub fn human(&self) -> Option<String> {
        let ch = |c: &usize| format!("[ch{c}]");
        Some(match self {
            Event::Ready { server, channels } => {
                let mut s = format!(
                    "goip-sim: {} for server {server} (type `help` for commands)",
                    match channels.len() {
                        1 => "1 channel".to_owned(),
                        n => format!("{n} channels"),
                    }
                );
                for c in channels {
                    let number = if c.number.is_empty() {
                        "no number set".to_owned()
                    } else {
                        format!("number {}", c.number)
                    };
                    let _ = write!(
                        s,
                        "\n{} id {} on {} ({number})",
                        ch(&c.channel),
                        c.id,
                        c.local_addr
                    );
                }
                s
            }
            Event::Stopped => "goip-sim stopped".to_owned(),
            Event::Wire {
                channel, dir, text, ..
            } => {
                let arrow = match dir {
                    Dir::In => '←',
                    Dir::Out => '→',
                };
                format!(
                    "{} {arrow} {}",
                    ch(channel),
                    escape_for_log(text.as_bytes())
                )
            }
            Event::Keepalive { .. } => return None,
            Event::KeepaliveAck {
                channel,
                count,
                status,
                prefix,
                ..
            } => {
                if prefix != "reg" {
                    format!(
                        "{} keepalive {count} acked with `{prefix}:` instead of `reg:`; \
                         a GoIP stays SMS_LOGIN:N",
                        ch(channel)
                    )
                } else if *status != 200 && *status != 0 {
                    format!(
                        "{} keepalive {count} refused with status {status}",
                        ch(channel)
                    )
                } else {
                    return None;
                }
            }
            Event::SmsLogin { channel, value } => {
                format!("{} SMS_LOGIN is now {}", ch(channel), yn(*value))
            }
            Event::Notify {
                channel,
                tag,
                recvid,
                attempt,
            } => {
                if *attempt == 1 {
                    format!("{} sending {tag} {recvid}", ch(channel))
                } else {
                    format!(
                        "{} {tag} {recvid} not acked yet: sent again (try {attempt})",
                        ch(channel)
                    )
                }
            }
            Event::Ack {
                channel,
                tag,
                recvid,
                attempts,
            } => format!(
                "{} {tag} {recvid} acked after {}",
                ch(channel),
                plural(*attempts, "try", "tries")
            ),
            Event::AckError {
                channel,
                tag,
                recvid,
                text,
                ..
            } => format!(
                "{} {tag} {recvid} refused by the server: {text}",
                ch(channel)
            ),
            Event::NotAcked {
                channel,
                tag,
                recvid,
                attempts,
            } => format!(
                "{} {tag} {recvid} was never acked ({}); giving up",
                ch(channel),
                plural(*attempts, "try", "tries")
            ),
            Event::SessionOpened {
                channel,
                sendid,
                text,
            } => format!("{} SMS session {sendid} opened: {text:?}", ch(channel)),
            Event::SessionRejected {
                channel,
                sendid,
                reason,
            } => format!("{} SMS session {sendid} refused: {reason}", ch(channel)),
            Event::PasswordRejected { channel, sendid } => {
                format!("{} SMS session {sendid}: wrong password", ch(channel))
            }
            Event::SendQueued {
                channel,
                sendid,
                telid,
                to,
            } => format!(
                "{} SMS to {to} queued (session {sendid}, telid {telid})",
                ch(channel)
            ),
            Event::SmsSent {
                channel,
                to,
                text,
                sms_no,
                ..
            } => format!(
                "{} SMS to {to} sent as sms_no {sms_no}: {text:?}",
                ch(channel)
            ),
            Event::SmsFailed {
                channel,
                to,
                text,
                errorstatus,
                ..
            } => format!(
                "{} SMS to {to} failed with errorstatus {errorstatus}: {text:?}",
                ch(channel)
            ),
            Event::SendRepeated {
                channel,
                sendid,
                telid,
                reply,
            } => format!(
                "{} SEND {sendid} {telid} repeated: answered {reply:?} from memory, not sent again",
                ch(channel)
            ),
            Event::SessionClosed {
                channel,
                sendid,
                reason,
            } => {
                let why = match reason {
                    CloseReason::Done => "DONE",
                    CloseReason::Idle => "idle too long",
                    CloseReason::Reboot => "reboot",
                };
                format!("{} SMS session {sendid} closed ({why})", ch(channel))
            }
            Event::Ussd {
                channel,
                sendid,
                code,
                reply,
                cached,
            } => format!(
                "{} USSD {code} (sendid {sendid}) answered{}: {reply:?}",
                ch(channel),
                if *cached {
                    " from the device cache"
                } else {
                    ""
                }
            ),
            Event::UssdError {
                channel,
                sendid,
                reply,
            } => format!("{} USSD {sendid} refused: {reply}", ch(channel)),
            Event::UssdSuperseded {
                channel,
                sendid,
                by,
            } => format!(
                "{} USSD {sendid} will not be answered: USSD {by} replaced it",
                ch(channel)
            ),
            Event::UssdExit { channel, sendid } => {
                format!("{} USSD session {sendid} closed", ch(channel))
            }
            Event::Command {
                channel,
                verb,
                sendid,
                reply,
                ..
            } => format!(
                "{} {verb} (sendid {sendid}) answered: {}",
                ch(channel),
                escape_for_log(reply.as_bytes())
            ),
            Event::CallStarted {
                channel,
                direction,
                number,
            } => match direction {
                CallWay::In => format!("{} incoming call from {}", ch(channel), shown(number)),
                CallWay::Out => format!("{} outgoing call to {}", ch(channel), shown(number)),
            },
            Event::CallEnded {
                channel,
                number,
                seconds,
                cause,
                ..
            } => format!(
                "{} call with {} ended after {} s: {cause}",
                ch(channel),
                shown(number),
                seconds
            ),
            Event::Failures { channel, active } => {
                if active.is_empty() {
                    format!("{} no failure modes", ch(channel))
                } else {
                    format!("{} failure modes: {}", ch(channel), active.join(", "))
                }
            }
            Event::Dropped {
                channel,
                verb,
                sendid,
                reason,
            } => match sendid {
                Some(id) => format!("{} {verb} {id} dropped ({reason})", ch(channel)),
                None => format!("{} {verb} dropped ({reason})", ch(channel)),
            },
            Event::Ignored {
                channel,
                peer,
                reason,
                ..
            } => format!("{} ignored a datagram from {peer}: {reason}", ch(channel)),
            Event::Status(s) => format!(
                "{} {} {} → {} number={} SMS_LOGIN={} keepalives={} line={}{} sessions={} \
                 unacked={} sent={} ussd_queries={} failures={}",
                ch(&s.channel),
                s.id,
                s.local_addr,
                s.server,
                shown(&s.number),
                yn(s.sms_login),
                s.keepalives,
                s.line_state,
                if s.module_enabled {
                    ""
                } else {
                    " module=disabled"
                },
                s.open_sessions,
                s.pending_notifications,
                s.sms_sent,
                s.ussd_queries,
                if s.failures.is_empty() {
                    "none".to_owned()
                } else {
                    s.failures.join(",")
                }
            ),
            Event::Help { text } => text.clone(),
            Event::Error {
                channel,
                line,
                message,
            } => {
                let mut s = "error".to_owned();
                if let Some(line) = line {
                    let _ = write!(s, " (line {line})");
                }
                if let Some(channel) = channel {
                    let _ = write!(s, " {}", ch(channel));
                }
                format!("{s}: {message}")
            }
            Event::Lagged { missed } => {
                format!("({missed} events were lost: the output was read too slowly)")
            }
        })
    }
}

fn shown(number: &str) -> &str {
    if number.is_empty() { "(none)" } else { number }
}

/// Where events go: every subscriber gets every event, and a subscriber
/// that falls more than [`EVENT_BUFFER`] events behind loses the oldest
/// (memory stays bounded even if nobody reads).
#[derive(Debug, Clone)]
pub(crate) struct EventSink(broadcast::Sender<Event>);

impl EventSink {
    pub(crate) fn emit(&self, event: Event) {
        // No subscriber is not an error: events are for whoever listens.
        let _ = self.0.send(event);
    }

    pub(crate) fn subscribe(&self) -> Events {
        Events(self.0.subscribe())
    }
}

/// A sink and a first subscriber, created together so that the subscriber
/// sees everything from the first event on.
pub(crate) fn channel() -> (EventSink, Events) {
    let (tx, rx) = broadcast::channel(EVENT_BUFFER);
    (EventSink(tx), Events(rx))
}

/// A subscription to a device's events.
#[derive(Debug)]
pub struct Events(broadcast::Receiver<Event>);

impl Events {
    /// The next event; `None` once the device has stopped and every event
    /// was read. A subscriber that fell behind gets [`Event::Lagged`].
    pub async fn next(&mut self) -> Option<Event> {
        match self.0.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The first event (from now) that satisfies `wanted`, skipping the
    /// others; `None` if none came within `timeout` or the device stopped.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut wanted: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        tokio::time::timeout(timeout, async {
            while let Some(event) = self.next().await {
                if wanted(&event) {
                    return Some(event);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }
}

/// `ip:port` for events.
pub(crate) fn addr(a: SocketAddr) -> String {
    a.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes_of_the_contract() {
        let e = Event::SmsSent {
            channel: 1,
            to: "+37255512345".into(),
            text: "hi; there\n".into(),
            sms_no: 3,
            sendid: 17,
            telid: 1,
        };
        assert_eq!(
            e.to_json(),
            r#"{"event":"sms_sent","channel":1,"to":"+37255512345","text":"hi; there\n","sms_no":3,"sendid":17,"telid":1}"#
        );
        let e = Event::Command {
            channel: 2,
            verb: "get_gsm_num".into(),
            sendid: 5,
            value: None,
            reply: "get_gsm_num 5 (null)".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"event":"command","channel":2,"verb":"get_gsm_num","sendid":5,"reply":"get_gsm_num 5 (null)"}"#
        );
        assert_eq!(Event::Stopped.to_json(), r#"{"event":"stopped"}"#);
        let status = Event::Status(ChannelStatus {
            channel: 1,
            id: "goip1".into(),
            number: String::new(),
            local_addr: "127.0.0.1:1".into(),
            server: "127.0.0.1:2".into(),
            sms_login: true,
            keepalives: 2,
            line_state: "IDLE".into(),
            module_enabled: true,
            open_sessions: 0,
            pending_notifications: 0,
            sms_sent: 0,
            ussd_queries: 0,
            failures: vec!["silence".into()],
        });
        let json = status.to_json();
        assert!(
            json.starts_with(r#"{"event":"status","channel":1,"id":"goip1""#),
            "{json}"
        );
        assert!(json.ends_with(r#""failures":["silence"]}"#), "{json}");
        let call = Event::CallStarted {
            channel: 1,
            direction: CallWay::In,
            number: "+1".into(),
        };
        assert_eq!(
            call.to_json(),
            r#"{"event":"call_started","channel":1,"direction":"in","number":"+1"}"#
        );
    }

    #[test]
    fn every_name_matches_its_json_tag() {
        let samples = [
            Event::Stopped,
            Event::Lagged { missed: 1 },
            Event::Help { text: "x".into() },
            Event::Error {
                channel: Some(1),
                line: None,
                message: "m".into(),
            },
            Event::SessionClosed {
                channel: 1,
                sendid: 1,
                reason: CloseReason::Idle,
            },
            Event::KeepaliveAck {
                channel: 1,
                count: "1".into(),
                status: 200,
                prefix: "reg".into(),
                sms_login: true,
            },
        ];
        for e in samples {
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(v["event"], e.name());
        }
    }

    #[test]
    fn human_lines() {
        let e = Event::Wire {
            channel: 1,
            dir: Dir::In,
            peer: "127.0.0.1:44444".into(),
            text: "MSG 17 5 hello".into(),
        };
        assert_eq!(e.human().unwrap(), "[ch1] ← MSG 17 5 hello");
        let e = Event::Ack {
            channel: 1,
            tag: "RECEIVE".into(),
            recvid: "1732000000".into(),
            attempts: 1,
        };
        assert_eq!(
            e.human().unwrap(),
            "[ch1] RECEIVE 1732000000 acked after 1 try"
        );
        let e = Event::SmsSent {
            channel: 1,
            to: "+37255512345".into(),
            text: "hello".into(),
            sms_no: 3,
            sendid: 17,
            telid: 1,
        };
        assert_eq!(
            e.human().unwrap(),
            "[ch1] SMS to +37255512345 sent as sms_no 3: \"hello\""
        );
        let e = Event::Keepalive {
            channel: 1,
            count: 1,
            sms_login: false,
        };
        assert_eq!(e.human(), None);
    }

    #[tokio::test]
    async fn lagging_readers_are_told() {
        let (sink, mut events) = channel();
        for _ in 0..EVENT_BUFFER + 3 {
            sink.emit(Event::Stopped);
        }
        assert_eq!(events.next().await, Some(Event::Lagged { missed: 3 }));
        assert_eq!(events.next().await, Some(Event::Stopped));
        drop(sink);
        let got = events
            .wait_for(Duration::from_secs(5), |e| *e != Event::Stopped)
            .await;
        assert_eq!(got, None);
    }
}
