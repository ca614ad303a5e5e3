//! Notifications about calls on a line: `STATE:` (call state changed),
//! `RECORD:` (a call started), `HANGUP:` (a call ended, with the cause),
//! `EXPIRY:` (how long it lasted) and `REMAIN:` (call-time budget left)
//! — docs/goip-protocol.md#call-events.
//!
//! goippy does not carry calls, but it logs them and shows the line state,
//! and every one of these must be acknowledged or the GoIP repeats it.

use std::fmt;

use super::error::{FormatError, Problem};
use super::fields::{FieldWriter, Fields, normalize_null, number};

/// `STATE:…;gsm_remain_state:<state>`. The raw state is kept; see
/// [`State::line_state`] for the typed reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub gsm_remain_state: String,
}

impl State {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        Ok(State {
            gsm_remain_state: fields.require("gsm_remain_state")?,
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("line state", "gsm_remain_state", &self.gsm_remain_state)
    }
}

// Test support: nothing in goippy reads a STATE notification's parts.
#[cfg(test)]
impl State {
    pub fn line_state(&self) -> LineState {
        LineState::parse(&self.gsm_remain_state)
    }
}

/// A line's call state, as STATE notifications, `voip_state` and the
/// `get_gsm_state` reply spell it: a word, then `:<remote number>` for call
/// progress (`INCOMING:+380…`, `DIALING:…`, `ALERTING:…`, `CONNECTED:…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineState {
    /// `IDLE` (the vendor document spells it `IDEL`).
    Idle,
    Busy,
    Active,
    /// An incoming call is ringing, from this number (may be empty).
    Incoming(String),
    /// Dialling out to this number.
    Dialing(String),
    /// The remote side is ringing.
    Alerting(String),
    /// The call is connected.
    Connected(String),
    /// Anything else, verbatim.
    Other(String),
}

impl LineState {
    pub fn parse(value: &str) -> LineState {
        let (word, remote) = match value.split_once(':') {
            Some((word, remote)) => (word, remote),
            None => (value, ""),
        };
        let is = |name: &str| word.trim().eq_ignore_ascii_case(name);
        let remote = remote.to_owned();
        if is("IDLE") || is("IDEL") {
            LineState::Idle
        } else if is("BUSY") {
            LineState::Busy
        } else if is("ACTIVE") {
            LineState::Active
        } else if is("INCOMING") {
            LineState::Incoming(remote)
        } else if is("DIALING") || is("DIALLING") {
            LineState::Dialing(remote)
        } else if is("ALERTING") {
            LineState::Alerting(remote)
        } else if is("CONNECTED") {
            LineState::Connected(remote)
        } else {
            LineState::Other(value.to_owned())
        }
    }

    pub fn is_idle(&self) -> bool {
        *self == LineState::Idle
    }
}

// Test support: nothing in goippy reads a STATE notification's parts.
#[cfg(test)]
impl LineState {
    /// The remote number of a call in progress, if the GoIP named one.
    pub fn remote_number(&self) -> Option<&str> {
        match self {
            LineState::Incoming(n)
            | LineState::Dialing(n)
            | LineState::Alerting(n)
            | LineState::Connected(n) => Some(n.as_str()).filter(|n| !n.is_empty()),
            _ => None,
        }
    }
}

impl fmt::Display for LineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with = |f: &mut fmt::Formatter<'_>, word: &str, n: &str| {
            if n.is_empty() {
                f.write_str(word)
            } else {
                write!(f, "{word}:{n}")
            }
        };
        match self {
            LineState::Idle => f.write_str("IDLE"),
            LineState::Busy => f.write_str("BUSY"),
            LineState::Active => f.write_str("ACTIVE"),
            LineState::Incoming(n) => with(f, "INCOMING", n),
            LineState::Dialing(n) => with(f, "DIALING", n),
            LineState::Alerting(n) => with(f, "ALERTING", n),
            LineState::Connected(n) => with(f, "CONNECTED", n),
            LineState::Other(s) => f.write_str(s),
        }
    }
}

/// Which way a call goes (`dir:1` / `dir:2`). The store keeps it too, as
/// its code in `goippy_calls.direction` and by name in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "daemon", derive(serde::Serialize, serde::Deserialize))]
pub enum CallDirection {
    Incoming,
    Outgoing,
}

impl CallDirection {
    /// The GoIP's `dir:` number, also the value in `goippy_calls.direction`.
    pub fn code(self) -> u8 {
        match self {
            CallDirection::Incoming => 1,
            CallDirection::Outgoing => 2,
        }
    }

    /// The direction a `dir:` number (or a stored code) names.
    pub fn from_code(code: i64) -> Option<CallDirection> {
        match code {
            1 => Some(CallDirection::Incoming),
            2 => Some(CallDirection::Outgoing),
            _ => None,
        }
    }
}

/// `RECORD:…;dir:<1|2>;num:<remote>`: a call started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub dir: CallDirection,
    /// The remote number; empty for a hidden caller id.
    pub num: String,
}

impl Record {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let dir = fields.require("dir")?;
        let dir = match dir.trim() {
            "1" => CallDirection::Incoming,
            "2" => CallDirection::Outgoing,
            _ => {
                return Err(Problem::invalid(
                    "dir",
                    &dir,
                    "1 (incoming) or 2 (outgoing)",
                ));
            }
        };
        Ok(Record {
            dir,
            num: fields.take("num").unwrap_or_default(),
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("call direction", "dir", &self.dir.code().to_string())?;
        w.field("remote number", "num", &self.num)
    }
}

/// `HANGUP:…;num:<remote>,cause:<text>`: a call ended. Note the **comma**
/// between `num` and `cause`; a firmware that sends `;cause:` is read too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup {
    /// The remote number; may be empty.
    pub num: String,
    /// The release cause as text: `Normal call clearing`, `User busy`, …
    pub cause: String,
}

const CAUSE_SEPARATOR: &str = ",cause:";

impl Hangup {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Self {
        let num = fields.take("num").unwrap_or_default();
        match num.split_once(CAUSE_SEPARATOR) {
            Some((num, cause)) => Hangup {
                num: normalize_null(num).to_owned(),
                cause: normalize_null(cause).to_owned(),
            },
            None => Hangup {
                num,
                cause: fields.take("cause").unwrap_or_default(),
            },
        }
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        if self.num.contains(CAUSE_SEPARATOR) {
            return Err(FormatError::Ambiguous {
                what: "remote number",
                value: super::error::shown("remote number", &self.num),
                why: "it contains \",cause:\", where the cause starts",
            });
        }
        w.field(
            "hangup",
            "num",
            &format!("{}{CAUSE_SEPARATOR}{}", self.num, self.cause),
        )
    }
}

/// `EXPIRY:…;exp:<seconds>`: the duration of the call that just ended
/// (0 = never connected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub exp: u32,
}

impl Expiry {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let exp = fields.require("exp")?;
        Ok(Expiry {
            exp: number("exp", exp.trim(), "a number of seconds")?,
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("call duration", "exp", &self.exp.to_string())
    }
}

/// `REMAIN:…;gsm_remain_time:<minutes>`: call-time budget left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remain {
    pub gsm_remain_time: RemainTime,
}

impl Remain {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let value = fields.require("gsm_remain_time")?;
        let gsm_remain_time = RemainTime::parse(&value).ok_or_else(|| {
            Problem::invalid("gsm_remain_time", &value, "minutes, or -1 for unlimited")
        })?;
        Ok(Remain { gsm_remain_time })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field(
            "remaining time",
            "gsm_remain_time",
            &self.gsm_remain_time.to_string(),
        )
    }
}

/// A call-time budget: minutes, or unlimited (`-1` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemainTime {
    Unlimited,
    Minutes(u32),
}

impl RemainTime {
    /// Reads `-1` or a non-negative number of minutes.
    pub fn parse(value: &str) -> Option<RemainTime> {
        match value.trim() {
            "-1" => Some(RemainTime::Unlimited),
            v => v.parse().ok().map(RemainTime::Minutes),
        }
    }
}

/// The wire form: `-1` or the number of minutes.
impl fmt::Display for RemainTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemainTime::Unlimited => f.write_str("-1"),
            RemainTime::Minutes(m) => write!(f, "{m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_states() {
        assert_eq!(LineState::parse("IDLE"), LineState::Idle);
        assert_eq!(LineState::parse("IDEL"), LineState::Idle);
        assert_eq!(
            LineState::parse("INCOMING:+380501234567"),
            LineState::Incoming("+380501234567".into())
        );
        assert_eq!(
            LineState::parse("INCOMING:+380501234567").remote_number(),
            Some("+380501234567")
        );
        assert_eq!(LineState::parse("CONNECTED").remote_number(), None);
        assert_eq!(
            LineState::parse("weird:x"),
            LineState::Other("weird:x".into())
        );
        for s in [
            "IDLE",
            "BUSY",
            "ACTIVE",
            "DIALING:10086",
            "ALERTING:1",
            "CONNECTED:2",
        ] {
            assert_eq!(LineState::parse(s).to_string(), s);
        }
    }

    #[test]
    fn hangup_comma_quirk_and_fixed_firmware() {
        let h = Hangup::from_fields(Fields::split("num:,cause:Normal call clearing", &[]));
        assert_eq!(h.num, "");
        assert_eq!(h.cause, "Normal call clearing");
        let h = Hangup::from_fields(Fields::split("num:10086;cause:User busy", &[]));
        assert_eq!((h.num.as_str(), h.cause.as_str()), ("10086", "User busy"));
        let h = Hangup::from_fields(Fields::split("", &[]));
        assert_eq!((h.num.as_str(), h.cause.as_str()), ("", ""));
    }

    #[test]
    fn record_direction() {
        let r = Record::from_fields(Fields::split("dir:2;num:10086", &[])).unwrap();
        assert_eq!(r.dir, CallDirection::Outgoing);
        let r = Record::from_fields(Fields::split("dir:1;num:", &[])).unwrap();
        assert_eq!((r.dir, r.num.as_str()), (CallDirection::Incoming, ""));
        assert!(Record::from_fields(Fields::split("dir:3;num:1", &[])).is_err());
        assert_eq!(
            Record::from_fields(Fields::split("num:1", &[])),
            Err(Problem::Missing("dir"))
        );
    }

    #[test]
    fn remain_time() {
        assert_eq!(RemainTime::parse("-1"), Some(RemainTime::Unlimited));
        assert_eq!(RemainTime::parse("45"), Some(RemainTime::Minutes(45)));
        assert_eq!(RemainTime::parse("-2"), None);
        assert_eq!(RemainTime::parse(""), None);
        assert_eq!(RemainTime::Unlimited.to_string(), "-1");
    }

    // Wire vectors (docs/goip-protocol.md#call-events): real captures, the documented shapes and
    // the quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::{capture, notification};
    use crate::goip::*;

    #[test]
    fn state_vectors() {
        let n = capture(
            "STATE:7568;id:goip1;password:password1;gsm_remain_state:IDLE",
            "STATE 7568 OK",
        );
        let NotificationKind::State(s) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(s.line_state(), LineState::Idle);

        let n = capture(
            "STATE:1571812793;id:goip-1;password:goip;gsm_remain_state:INCOMING:+380501234567",
            "STATE 1571812793 OK",
        );
        let NotificationKind::State(s) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(s.gsm_remain_state, "INCOMING:+380501234567");
        assert_eq!(s.line_state(), LineState::Incoming("+380501234567".into()));
        for (raw, state) in [
            ("IDEL", LineState::Idle),
            ("BUSY", LineState::Busy),
            ("ACTIVE", LineState::Active),
            ("DIALING:10086", LineState::Dialing("10086".into())),
            ("ALERTING:10086", LineState::Alerting("10086".into())),
            ("CONNECTED:10086", LineState::Connected("10086".into())),
        ] {
            let n =
                notification(format!("STATE:1;id:g;password:p;gsm_remain_state:{raw}").as_bytes());
            let NotificationKind::State(s) = &n.kind else {
                panic!("{n:?}")
            };
            assert_eq!(s.line_state(), state, "{raw}");
        }
    }

    #[test]
    fn record_vectors() {
        let n = capture(
            "RECORD:7565;id:goip2;password:password2;dir:2;num:10086",
            "RECORD 7565 OK",
        );
        let NotificationKind::Record(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(r.dir, CallDirection::Outgoing);
        assert_eq!(r.num, "10086");
        // Hidden caller id.
        let n = capture(
            "RECORD:7566;id:goip2;password:password2;dir:1;num:",
            "RECORD 7566 OK",
        );
        let NotificationKind::Record(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!((r.dir, r.num.as_str()), (CallDirection::Incoming, ""));
    }

    #[test]
    fn hangup_capture_with_the_comma_quirk() {
        let n = capture(
            "HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing",
            "HANGUP 1571812814 OK",
        );
        let NotificationKind::Hangup(h) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(h.num, "");
        assert_eq!(h.cause, "Normal call clearing");
        let n = notification(b"HANGUP:2;id:goip-1;password:goip;num:10086,cause:User busy");
        let NotificationKind::Hangup(h) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!((h.num.as_str(), h.cause.as_str()), ("10086", "User busy"));
    }

    #[test]
    fn expiry_and_remain() {
        let n = capture(
            "EXPIRY:1571812871;id:goip-1;password:goip;exp:0",
            "EXPIRY 1571812871 OK",
        );
        assert!(matches!(&n.kind, NotificationKind::Expiry(e) if e.exp == 0));
        let n = capture(
            "REMAIN:7568;id:goip-1;password:goip;gsm_remain_time:-1",
            "REMAIN 7568 OK",
        );
        assert!(matches!(
            &n.kind,
            NotificationKind::Remain(r) if r.gsm_remain_time == RemainTime::Unlimited
        ));
        let n = notification(b"REMAIN:7569;id:goip-1;password:goip;gsm_remain_time:120");
        assert!(matches!(
            &n.kind,
            NotificationKind::Remain(r) if r.gsm_remain_time == RemainTime::Minutes(120)
        ));
    }
}
