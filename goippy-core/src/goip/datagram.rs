//! The bytes of one received datagram, and how they become text.
//!
//! GoIPs speak UTF-8, but odd handsets and carriers do produce invalid
//! sequences. Those are decoded with U+FFFD replacement so the packet is still
//! handled (and acknowledged), while the exact bytes stay available for the
//! log: [`Datagram`] keeps both facts together.

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

    /// A one-line, printable rendering for logs: see [`escape_for_log`].
    pub fn escaped(&self) -> String {
        escape_for_log(&self.bytes)
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Datagram(\"{}\")", self.escaped())
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
    fn line_ends_are_stripped_only_at_the_end() {
        assert_eq!(strip_line_end("a\r\nb\r\n\n"), "a\r\nb");
        assert_eq!(strip_line_end("a"), "a");
        assert!(ends_with_line_break("a\r"));
        assert!(!ends_with_line_break("a\r b"));
    }
}
