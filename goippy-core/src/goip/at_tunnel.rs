//! `AT:` packets: the modem traffic the GoIP forwards after `ATSTART`
//! (docs/goip-protocol.md#at-tunnel-and-other-tags). They are not
//! acknowledged.
//!
//! The line after `receive:` is the rest of the datagram, like an SMS body:
//! AT command lines contain `;` (`ATD123;`) and `:` (`+CREG: 0,1`).

use super::error::{FormatError, Problem};
use super::fields::{FieldWriter, Fields, number};

/// `AT:<sendid>;count:<n>;id:…;password:…;receive:<line>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtOutput {
    /// Counts up from 1 after `ATSTART`.
    pub count: u32,
    /// The line verbatim: `write:<cmd>` for what the GoIP wrote to the
    /// modem, anything else is modem output.
    pub receive: String,
}

impl AtOutput {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let count = fields.require("count")?;
        Ok(AtOutput {
            count: number("count", count.trim(), "a number")?,
            receive: fields.require("receive")?,
        })
    }

    /// The fields before `id` (the AT packet puts `count` first).
    pub(crate) fn write_head(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("count", "count", &self.count.to_string())
    }

    pub(crate) fn write_tail(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.tail("receive", &self.receive)
    }
}

// Test support: goippy passes AT lines on as they are.
#[cfg(test)]
impl AtOutput {
    /// The line without its line break.
    pub fn line(&self) -> &str {
        super::datagram::strip_line_end(&self.receive)
    }

    /// What the GoIP wrote to the modem, for a `write:` line.
    pub fn written_command(&self) -> Option<&str> {
        self.line().strip_prefix("write:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_output_lines() {
        let a = AtOutput::from_fields(Fields::split(
            "count:1;receive:write:AT+CREG?",
            &["receive"],
        ))
        .unwrap();
        assert_eq!(a.count, 1);
        assert_eq!(a.written_command(), Some("AT+CREG?"));
        let a = AtOutput::from_fields(Fields::split(
            "count:2;receive:+CREG: 0,1\r\n",
            &["receive"],
        ))
        .unwrap();
        assert_eq!(a.receive, "+CREG: 0,1\r\n");
        assert_eq!(a.line(), "+CREG: 0,1");
        assert_eq!(a.written_command(), None);
    }

    // Wire vectors (docs/goip-protocol.md#at-tunnel-and-other-tags): real captures, the documented
    // shapes and the quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::{encoded, notification};
    use crate::goip::*;

    #[test]
    fn at_tunnel_output_is_not_acked() {
        let wire = "AT:20;count:1;id:goip-1;password:goip;receive:write:AT+CREG?";
        let n = notification(wire.as_bytes());
        assert_eq!(n.recvid, "20");
        assert_eq!(n.ack(true), None);
        assert_eq!(n.ack(false), None);
        let NotificationKind::At(a) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(a.count, 1);
        assert_eq!(a.written_command(), Some("AT+CREG?"));
        assert_eq!(encoded(&n), wire);
        // AT lines contain `;` (ATD123;) and `:`.
        let n = notification(b"AT:20;count:2;id:goip-1;password:goip;receive:+CREG: 0,1;x\r\n");
        let NotificationKind::At(a) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(a.receive, "+CREG: 0,1;x\r\n");
        assert_eq!(a.line(), "+CREG: 0,1;x");
    }
}
