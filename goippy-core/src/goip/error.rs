//! What can go wrong reading or writing a GoIP packet, in words an operator
//! understands.
//!
//! Reading ([`ParseError`]) fails on datagrams that are not GoIP packets or
//! that lack something the packet kind cannot do without; the message names
//! the packet (tag and id, or verb) and the field, and quotes a short excerpt
//! of the offending value so a log line is enough to find the device at fault.
//! Writing ([`FormatError`]) fails before anything reaches the wire: a value
//! that would shift tokens, split fields or be read back differently.
//! Passwords are never quoted in either.

use super::MAX_SMS_BYTES;

/// How many characters of outside data an error message quotes at most, so
/// one hostile datagram cannot flood the log.
const EXCERPT_CHARS: usize = 48;

/// A short, log-safe excerpt of `s` (printed with `{:?}`, so control
/// characters show as escapes). Password values are redacted first: the
/// start of a malformed notification quoted as "not a GoIP packet", or a
/// recvid run into its fields, can hold its `password:`.
pub(crate) fn excerpt(s: &str) -> String {
    let s = super::datagram::redact_passwords_in(s);
    let mut out: String = s.chars().take(EXCERPT_CHARS).collect();
    if s.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// What is wrong with one part of a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{what} is {value:?}, expected {expected}")]
    Invalid {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("unexpected {0:?} after the last token")]
    Trailing(String),
    #[error("the declared length is {declared} bytes but {actual} bytes follow")]
    LengthMismatch { declared: usize, actual: usize },
}

impl Problem {
    pub(crate) fn invalid(what: &'static str, value: &str, expected: &'static str) -> Self {
        Problem::Invalid {
            what,
            value: excerpt(value),
            expected,
        }
    }
}

/// Why a datagram could not be read as a GoIP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty datagram")]
    Empty,
    #[error("not a GoIP packet (it starts {start:?})")]
    NotGoip { start: String },
    #[error(
        "{tag} notification with an unusable id {recvid:?}: it must be non-empty and without \
         spaces, because the ack echoes it back as one token"
    )]
    BadRecvid { tag: String, recvid: String },
    /// A notification whose tag and id were readable but whose fields were
    /// not. The engine may still acknowledge it (the GoIP would otherwise
    /// resend the same bytes three more times), so both are kept exactly;
    /// the message quotes only an excerpt.
    #[error("{}:{} notification: {problem}", excerpt(tag), excerpt(recvid))]
    Notification {
        tag: String,
        recvid: String,
        problem: Problem,
    },
    #[error("expected a notification, but this is a reply (it starts {start:?})")]
    NotANotification { start: String },
    #[error("`{verb}` reply: {problem}")]
    Reply { verb: String, problem: Problem },
    #[error("`{verb}` command: {problem}")]
    Command { verb: String, problem: Problem },
    #[error("ack: {problem}")]
    Ack { problem: Problem },
}

impl ParseError {
    pub(crate) fn not_goip(text: &str) -> Self {
        ParseError::NotGoip {
            start: excerpt(text),
        }
    }
}

/// Why a packet could not be written. Nothing is sent when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{what} is empty; an empty token would shift every token after it")]
    EmptyToken { what: &'static str },
    #[error(
        "{what} {value} contains whitespace or a control character, which would split it into \
         several tokens on the wire"
    )]
    BadToken { what: &'static str, value: String },
    #[error(
        "sendid {0} is out of range: the GoIP reads it as a signed 32-bit number and 0 collides \
         with its USSD cache, so use 1..=2147483647"
    )]
    SendIdOutOfRange(u32),
    #[error("telid {0} is out of range: use 1..=2147483647")]
    TelIdOutOfRange(u32),
    #[error("the SMS text is empty")]
    EmptyText,
    #[error("the SMS text is {len} bytes of UTF-8; a GoIP accepts at most {MAX_SMS_BYTES}")]
    TextTooLong { len: usize },
    #[error("USSD code {code:?} may only contain digits, '*', '#' and '+'")]
    BadUssdCode { code: String },
    #[error("`{verb}` needs a value")]
    MissingValue { verb: &'static str },
    #[error("`{verb}` takes no value")]
    UnexpectedValue { verb: &'static str },
    #[error("{what} {value:?} is invalid: expected {expected}")]
    InvalidValue {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{what} {value} contains {separator:?}, which separates fields in a notification")]
    Separator {
        what: &'static str,
        value: String,
        separator: char,
    },
    #[error("{what} {value} would be read back differently: {why}")]
    Ambiguous {
        what: &'static str,
        value: String,
        why: &'static str,
    },
}

impl FormatError {
    /// [`FormatError::InvalidValue`], quoting an excerpt of `value`.
    pub(crate) fn invalid(what: &'static str, value: &str, expected: &'static str) -> Self {
        FormatError::InvalidValue {
            what,
            value: excerpt(value),
            expected,
        }
    }
}

/// Quotes `value` for a [`FormatError`], unless it is a secret.
pub(crate) fn shown(what: &'static str, value: &str) -> String {
    if what.contains("password") {
        "(hidden)".to_owned()
    } else {
        format!("{:?}", excerpt(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded() {
        let long = "x".repeat(1000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn passwords_are_never_quoted() {
        assert_eq!(shown("password", "hunter2"), "(hidden)");
        assert_eq!(shown("number", "+1 2"), "\"+1 2\"");
        let e = FormatError::BadToken {
            what: "password",
            value: shown("password", "hunter 2"),
        };
        assert!(!e.to_string().contains("hunter"));
    }

    #[test]
    fn parse_errors_never_quote_a_password() {
        // Real captures (docs/goip-protocol.md#keepalive, #receive), broken
        // the way a datagram can be: junk before the tag, a space in it, a
        // recvid run into fields.
        for datagram in [
            &b"\r;RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:x"[..],
            b"RECEIVE 1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:x",
            b"req 27;id:gw1_ch1;pass:goip;num:;signal:29;gsm_status:LOGIN;",
            b"STATE:7568 id:goip1 password:goip;gsm_remain_state:IDLE",
            b"DELIVER:1571812803;id:goip-1;password:goip;sms_no:x;state:0",
        ] {
            let e =
                super::super::parse_packet(datagram).expect_err(&String::from_utf8_lossy(datagram));
            let shown = e.to_string();
            assert!(!shown.contains("goip;"), "{shown}");
            assert!(!shown.contains("goip\""), "{shown}");
        }
        assert_eq!(
            excerpt("RECEIVE 1;id:g;password:secret;msg:x"),
            "RECEIVE 1;id:g;password:***;msg:x"
        );
    }

    #[test]
    fn messages_name_the_packet() {
        let e = ParseError::Notification {
            tag: "DELIVER".into(),
            recvid: "17".into(),
            problem: Problem::invalid("sms_no", "x1", "a number"),
        };
        assert_eq!(
            e.to_string(),
            "DELIVER:17 notification: sms_no is \"x1\", expected a number"
        );
    }
}
