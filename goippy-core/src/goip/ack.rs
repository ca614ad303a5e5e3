//! Acks: what the server answers to a notification
//! (docs/goip-protocol.md#acks-and-retransmission).
//!
//! * `req:<count>;…` is answered `reg:<count>;status:200;` — with a **g**,
//!   and `200` as the newer vendor document and goipcron have it (the GoIP
//!   ignores the value, but only the `reg:` form makes `SMS_LOGIN` Y);
//! * every other tag but `AT:` is answered `<TAG> <recvid> OK`, or
//!   `<TAG> <recvid> ERROR <text>` when the id or password is wrong.
//!
//! The tag and recvid are copied back exactly as they came; no newline is
//! added (it is optional, and nothing needs it).

use super::datagram::{decode, strip_line_end};
use super::error::{ParseError, Problem, excerpt};
use super::fields::{Fields, is_valid_recvid, is_valid_tag, number};
use super::tokens::Tokens;

/// `status:200`: registration accepted.
pub const REG_STATUS_OK: u16 = 200;
/// `status:404`: unknown channel id or wrong password (goipcron's code).
pub(crate) const REG_STATUS_REJECTED: u16 = 404;

/// The server's answer to one notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ack {
    /// `reg:<count>;status:<status>;`, the keepalive ack. Older documents
    /// use `status:0` for OK; the parser accepts any number, and `req:` too.
    Registration { count: String, status: u16 },
    /// `<TAG> <recvid> OK`.
    Ok { tag: String, recvid: String },
    /// `<TAG> <recvid> ERROR <text>`.
    Error {
        tag: String,
        recvid: String,
        text: String,
    },
}

/// goipcron's text for a refused notification.
pub(crate) fn auth_error_text(id: &str) -> String {
    format!("not find this id:{id}, or password error")
}

impl Ack {
    /// The bytes to send back.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Ack::Registration { count, status } => format!("reg:{count};status:{status};"),
            Ack::Ok { tag, recvid } => format!("{tag} {recvid} OK"),
            Ack::Error { tag, recvid, text } if text.is_empty() => {
                format!("{tag} {recvid} ERROR")
            }
            Ack::Error { tag, recvid, text } => format!("{tag} {recvid} ERROR {text}"),
        }
        .into_bytes()
    }

    /// Reads an ack (for the simulator). Accepts `reg:` and `req:`, extra
    /// fields after `status` (`v:1`), and a trailing line break.
    pub fn parse(bytes: &[u8]) -> Result<Ack, ParseError> {
        let text = decode(bytes);
        let text = strip_line_end(&text);
        let problem = |problem| ParseError::Ack { problem };
        if let Some(rest) = text
            .strip_prefix("reg:")
            .or_else(|| text.strip_prefix("req:"))
        {
            let (count, fields) = rest.split_once(';').unwrap_or((rest, ""));
            if !is_valid_recvid(count) {
                return Err(problem(Problem::invalid(
                    "count",
                    count,
                    "the keepalive counter",
                )));
            }
            let status = Fields::split(fields, &[])
                .require("status")
                .map_err(problem)?;
            let status = number("status", status.trim(), "a status code").map_err(problem)?;
            return Ok(Ack::Registration {
                count: count.to_owned(),
                status,
            });
        }
        let mut tokens = Tokens::new(text);
        let (Some(tag), Some(recvid), Some(word)) = (
            tokens.next_token(),
            tokens.next_token(),
            tokens.next_token(),
        ) else {
            return Err(ParseError::not_goip(text));
        };
        // Only a real notification tag and id can be acknowledged; anything
        // else (a `req:…` behind leading whitespace, say) is not an ack.
        if !is_valid_tag(tag) || !is_valid_recvid(recvid) {
            return Err(ParseError::not_goip(text));
        }
        let (tag, recvid) = (tag.to_owned(), recvid.to_owned());
        match word {
            "OK" => {
                tokens.finish().map_err(problem)?;
                Ok(Ack::Ok { tag, recvid })
            }
            "ERROR" => Ok(Ack::Error {
                tag,
                recvid,
                text: tokens.rest_text().to_owned(),
            }),
            _ => Err(ParseError::NotGoip {
                start: excerpt(text),
            }),
        }
    }

    /// The tag acknowledged (`reg` for the keepalive).
    pub fn tag(&self) -> &str {
        match self {
            Ack::Registration { .. } => "reg",
            Ack::Ok { tag, .. } | Ack::Error { tag, .. } => tag,
        }
    }

    /// The id acknowledged (the keepalive counter for `reg:`).
    pub fn recvid(&self) -> &str {
        match self {
            Ack::Registration { count, .. } => count,
            Ack::Ok { recvid, .. } | Ack::Error { recvid, .. } => recvid,
        }
    }

    /// True unless the server refused the notification (`ERROR`, or a
    /// registration status other than 200 or the old 0).
    pub fn is_accepted(&self) -> bool {
        match self {
            Ack::Registration { status, .. } => *status == REG_STATUS_OK || *status == 0,
            Ack::Ok { .. } => true,
            Ack::Error { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let reg = Ack::Registration {
            count: "10".into(),
            status: REG_STATUS_OK,
        };
        assert_eq!(reg.encode(), b"reg:10;status:200;");
        let ok = Ack::Ok {
            tag: "RECEIVE".into(),
            recvid: "1571812849".into(),
        };
        assert_eq!(ok.encode(), b"RECEIVE 1571812849 OK");
        let err = Ack::Error {
            tag: "RECEIVE".into(),
            recvid: "1270197307".into(),
            text: auth_error_text("goipid1"),
        };
        assert_eq!(
            err.encode(),
            b"RECEIVE 1270197307 ERROR not find this id:goipid1, or password error"
        );
    }

    #[test]
    fn parses_what_other_servers_send() {
        assert_eq!(
            Ack::parse(b"reg:10;status:200;v:1;"),
            Ok(Ack::Registration {
                count: "10".into(),
                status: 200
            })
        );
        let old = Ack::parse(b"req:10;status:0").unwrap();
        assert!(old.is_accepted());
        assert_eq!(
            Ack::parse(b"RECEIVE 5 OK\n"),
            Ok(Ack::Ok {
                tag: "RECEIVE".into(),
                recvid: "5".into()
            })
        );
        assert!(Ack::parse(b"reg:10;").is_err());
        assert!(Ack::parse(b"RECEIVE 5 MAYBE").is_err());
        assert!(Ack::parse(b"RECEIVE 5 OK extra").is_err());
        assert!(Ack::parse(b"RECEIVEOK:5;id:x;status:0;").is_err());
        // Found by the fuzzer: a keepalive ack behind leading whitespace is
        // not a space-style ack whose tag is `req:27;…`.
        assert!(Ack::parse(b"\x0creq:27;id 08 ERROR x").is_err());
        assert!(Ack::parse(b"A;B 1 OK").is_err());
    }

    // Wire vectors (docs/goip-protocol.md#keepalive and docs/goip-protocol.md#acks-and-
    // retransmission): real captures, the documented shapes and the quirks. A capture must read
    // back and re-encode byte for byte.

    use crate::goip::tests::{notification, ok_ack, server_ack};
    use crate::goip::*;

    #[test]
    fn keepalive_acks_other_servers_send_are_read_by_the_simulator() {
        assert_eq!(
            server_ack("reg:10;status:200;"),
            Ack::Registration {
                count: "10".into(),
                status: 200
            }
        );
        assert_eq!(
            server_ack("reg:10;status:200;v:1;"),
            Ack::Registration {
                count: "10".into(),
                status: 200
            }
        );
        let old = server_ack("req:10;status:0;");
        assert!(old.is_accepted());
        assert!(!server_ack("reg:10;status:404;").is_accepted());
        // goippy's old made-up ack is not an ack.
        assert!(parse_server_datagram(b"RECEIVEOK:1;id:g;status:0;").is_err());
    }

    #[test]
    fn acks_are_read_back_by_the_simulator() {
        for wire in [
            "RECEIVE 1571812849 OK",
            "DELIVER 1571812803 OK",
            "STATE 7568 OK",
            "RECORD 7565 OK",
            "REMAIN 7568 OK",
            "CELLS 34347 OK",
            "RECEIVE 1270197307 ERROR not find this id:goipid1, or password error",
            "RECEIVE 5 OK\n",
        ] {
            let ack = server_ack(wire);
            assert_eq!(
                String::from_utf8(ack.encode()).expect("UTF-8"),
                wire.trim_end(),
                "{wire:?}"
            );
        }
        assert_eq!(
            server_ack("RECEIVE 1270197307 ERROR not find this id:goipid1, or password error"),
            Ack::Error {
                tag: "RECEIVE".into(),
                recvid: "1270197307".into(),
                text: "not find this id:goipid1, or password error".into()
            }
        );
    }

    #[test]
    fn recvids_are_opaque_and_echoed_exactly() {
        for recvid in ["-1571812849", "0", "7", "abc-1", "0x1F"] {
            let wire = format!("RECEIVE:{recvid};id:g;password:p;srcnum:1;msg:x");
            let n = notification(wire.as_bytes());
            assert_eq!(n.recvid, recvid);
            assert_eq!(ok_ack(&n), format!("RECEIVE {recvid} OK"));
            let k = notification(format!("req:{recvid};id:g;pass:p;").as_bytes());
            assert_eq!(ok_ack(&k), format!("reg:{recvid};status:200;"));
        }
    }
}
