//! The bytes of one received datagram, and how they become text.
//!
//! GoIPs speak UTF-8, but odd handsets and carriers do produce invalid
//! sequences. Those are decoded with U+FFFD replacement so the packet is still
//! handled (and acknowledged), while the exact bytes stay available for the
//! log: [`Datagram`] keeps both facts together.
//!
//! A datagram that reaches a log line whole (one that could not be parsed,
//! or was rejected) may carry the channel password in its `pass:` or
//! `password:` field; [`redacted_for_log`] is the rendering for those, so
//! raising the log level never puts a password into the journal.

use std::borrow::Cow;
use std::fmt;

/// The exact bytes a packet was parsed from, and whether decoding them as
/// UTF-8 had to replace anything.
///
/// Empty for packets built in code (the simulator's, or a test's).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Datagram {
    bytes: Vec<u8>,
    lossy: bool,
}

impl Datagram {
    /// Keeps a copy of `bytes` and notes whether they are valid UTF-8.
    pub fn new(bytes: &[u8]) -> Self {
        Datagram {
            bytes: bytes.to_vec(),
            lossy: std::str::from_utf8(bytes).is_err(),
        }
    }

    /// The bytes exactly as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True if the bytes were not valid UTF-8, so the parsed text contains
    /// U+FFFD replacement characters. Log [`Datagram::escaped`] when it is.
    pub fn is_lossy(&self) -> bool {
        self.lossy
    }

    /// The bytes as text, with U+FFFD for invalid sequences.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

// Test support: goippy logs a datagram only redacted (`redacted_for_log`).
#[cfg(test)]
impl Datagram {
    /// A one-line, printable rendering for logs: see [`escape_for_log`].
    pub fn escaped(&self) -> String {
        escape_for_log(&self.bytes)
    }
}

/// Without the password: a `Notification` (which holds its `Datagram`) may
/// end up in a `{:?}`.
impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Datagram(\"{}\")", redacted_for_log(&self.bytes))
    }
}

/// Renders bytes on one printable line: valid UTF-8 as text (so Chinese or
/// Cyrillic stays readable), control characters as `\r`, `\n`, `\u{..}`, and
/// every byte of an invalid sequence as `\xNN`.
pub fn escape_for_log(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' || c == '"' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What a redacted password value reads as.
const REDACTED: &[u8] = b"***";

/// [`escape_for_log`] with the value of every `pass:` and `password:` field
/// (up to the next `;`, or the end) replaced by `***`: the rendering for a
/// datagram from outside that goes into a log line whole.
///
/// The key is matched in any case and wherever it starts a word (after the
/// start, a `;`, a space, …), not only where a well-formed packet has it: the
/// datagrams logged whole are the malformed ones. An empty value stays empty,
/// so a missing password still shows. Redacting too much (a `pass:` inside
/// an SMS text) only costs a log line some detail.
pub fn redacted_for_log(bytes: &[u8]) -> String {
    escape_for_log(&redact_passwords(bytes))
}

/// `text` with password values replaced as in [`redacted_for_log`], still
/// unescaped (for error messages that quote an excerpt).
pub(crate) fn redact_passwords_in(text: &str) -> Cow<'_, str> {
    match redact_passwords(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // Only whole runs between ASCII bytes were replaced, so this is
        // UTF-8; the lossy path is never taken.
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

fn redact_passwords(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0
            || bytes
                .get(i - 1)
                .is_some_and(|b| !b.is_ascii_alphanumeric() && *b != b'_');
        let key_len = if starts_word {
            password_key_len(bytes.get(i..).unwrap_or_default())
        } else {
            None
        };
        let Some(key_len) = key_len else {
            i += 1;
            continue;
        };
        let value_start = i + key_len;
        let value_end = bytes
            .get(value_start..)
            .and_then(|rest| rest.iter().position(|b| *b == b';'))
            .map_or(bytes.len(), |at| value_start + at);
        if value_end > value_start {
            let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(bytes.get(copied..value_start).unwrap_or_default());
            out.extend_from_slice(REDACTED);
            copied = value_end;
        }
        i = value_end;
    }
    match out {
        None => Cow::Borrowed(bytes),
        Some(mut out) => {
            out.extend_from_slice(bytes.get(copied..).unwrap_or_default());
            Cow::Owned(out)
        }
    }
}

/// The length of `password:` or `pass:` (in any case) if `s` starts with it.
fn password_key_len(s: &[u8]) -> Option<usize> {
    [&b"password:"[..], &b"pass:"[..]]
        .into_iter()
        .find_map(|key| {
            s.get(..key.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(key))
                .then_some(key.len())
        })
}

/// Decodes a datagram as UTF-8, replacing invalid sequences.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `s` without the CR/LF characters at its end. Only ever applied to what is
/// outside a message body.
pub(crate) fn strip_line_end(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// True if `s` ends with CR or LF.
pub(crate) fn ends_with_line_break(s: &str) -> bool {
    s.ends_with(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_not_lossy() {
        let d = Datagram::new("msg:测试".as_bytes());
        assert!(!d.is_lossy());
        assert_eq!(d.text(), "msg:测试");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_kept() {
        let d = Datagram::new(b"msg:a\xffb");
        assert!(d.is_lossy());
        assert_eq!(d.text(), "msg:a\u{fffd}b");
        assert_eq!(d.bytes(), b"msg:a\xffb");
        assert_eq!(d.escaped(), "msg:a\\xffb");
    }

    #[test]
    fn log_rendering_is_one_line_and_readable() {
        assert_eq!(
            escape_for_log("a;b\r\nПривет\t\"x\"".as_bytes()),
            "a;b\\r\\nПривет\\t\\\"x\\\""
        );
        assert_eq!(format!("{:?}", Datagram::new(b"x\n")), "Datagram(\"x\\n\")");
    }

    #[test]
    fn passwords_are_redacted_in_real_captures() {
        // A keepalive (`pass:`) and notifications (`password:`), as real
        // devices send them (docs/goip-protocol.md#keepalive, #receive).
        for (capture, expected) in [
            (
                "req:27;id:gw1_ch1;pass:secret;num:;signal:29;gsm_status:LOGIN;\
                 voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:860000000000000;\
                 CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;",
                "req:27;id:gw1_ch1;pass:***;num:;signal:29;gsm_status:LOGIN;\
                 voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:860000000000000;\
                 CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;",
            ),
            (
                "req:10;id:goipid1;pass:password1;num:;signal:",
                "req:10;id:goipid1;pass:***;num:;signal:",
            ),
            (
                "RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试",
                "RECEIVE:1571812849;id:goip-1;password:***;srcnum:1380013800;msg:测试",
            ),
            (
                "DELIVER:1571812803;id:goip-1;password:goip;sms_no:32;state:0;num:+861380013800",
                "DELIVER:1571812803;id:goip-1;password:***;sms_no:32;state:0;num:+861380013800",
            ),
            (
                "HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing",
                "HANGUP:1571812814;id:goip-1;password:***;num:,cause:Normal call clearing",
            ),
            (
                "AT:20;count:1;id:goip-1;password:goip;receive:write:AT+CREG?",
                "AT:20;count:1;id:goip-1;password:***;receive:write:AT+CREG?",
            ),
        ] {
            assert_eq!(redacted_for_log(capture.as_bytes()), expected);
        }
    }

    #[test]
    fn passwords_are_redacted_in_malformed_datagrams() {
        for (datagram, expected) in [
            // Malformed: no id, a space in the tag, junk before it, the
            // password last (with a line break) or as the whole datagram.
            (
                &b"RECEIVE:1;password:secret;msg:x"[..],
                "RECEIVE:1;password:***;msg:x",
            ),
            (
                b"RECEIVE 1;id:g;password:secret",
                "RECEIVE 1;id:g;password:***",
            ),
            (b"\x00\xffpass:secret;x", "\\u{0}\\xffpass:***;x"),
            (b"req:1;id:g;pass:se\xffcret\r\n", "req:1;id:g;pass:***"),
            (b"password:secret", "password:***"),
            (b"x;PASSWORD:Secret;Pass:other", "x;PASSWORD:***;Pass:***"),
            // An empty password stays visible as empty.
            (b"req:1;id:g;pass:;num:", "req:1;id:g;pass:;num:"),
            // Not a password key: left alone.
            (b"bypass:x;passwd:y;password", "bypass:x;passwd:y;password"),
        ] {
            assert_eq!(redacted_for_log(datagram), expected);
            assert!(!redacted_for_log(datagram).contains("ecret"));
        }
        assert_eq!(
            redact_passwords_in("RECEIVE 1;id:g;password:secret;msg:Привет"),
            "RECEIVE 1;id:g;password:***;msg:Привет"
        );
        assert!(matches!(
            redact_passwords_in("RECEIVE:1;id:g;msg:x"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            format!("{:?}", Datagram::new(b"STATE:1;id:g;password:secret;x:1\n")),
            "Datagram(\"STATE:1;id:g;password:***;x:1\\n\")"
        );
    }

    #[test]
    fn line_ends_are_stripped_only_at_the_end() {
        assert_eq!(strip_line_end("a\r\nb\r\n\n"), "a\r\nb");
        assert_eq!(strip_line_end("a"), "a");
        assert!(ends_with_line_break("a\r"));
        assert!(!ends_with_line_break("a\r b"));
    }

    // Wire vectors (docs/goip-protocol.md#encoding): real captures, the documented shapes and the
    // quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::{notification, ok_ack, reply_bytes};
    use crate::goip::*;

    #[test]
    fn invalid_utf8_is_replaced_and_the_raw_bytes_kept() {
        let wire = b"RECEIVE:9;id:g;password:p;srcnum:1;msg:caf\xe9 \xff!";
        let n = notification(wire);
        assert!(n.raw.is_lossy());
        assert_eq!(n.raw.bytes(), wire);
        assert_eq!(
            n.raw.escaped(),
            "RECEIVE:9;id:g;password:p;srcnum:1;msg:caf\\xe9 \\xff!"
        );
        let NotificationKind::Receive(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(r.msg, "caf\u{fffd} \u{fffd}!");
        assert_eq!(ok_ack(&n), "RECEIVE 9 OK");
        assert_eq!(selfcheck::check_packet(wire), Ok(()));

        let Reply::Ussd { text, .. } = reply_bytes(b"USSD 5 Bal\xc3ance") else {
            panic!()
        };
        assert_eq!(text, "Bal\u{fffd}ance");
    }
}
