//! The space-separated shape (`VERB <sendid> args…`) of commands, replies and
//! acks: reading tokens, and checking values before they become tokens.
//!
//! The GoIP splits these packets on whitespace, so a number, password or code
//! that contains a space (or CR/LF) would inject an extra token; every value
//! that becomes a token goes through [`check_token`] first. Free text (the
//! USSD reply, an error message, the SMS body after its byte length) is the
//! *rest* of the datagram and is taken verbatim.

use super::error::{FormatError, Problem, shown};
use super::{MAX_SENDID, MAX_SMS_BYTES};

/// Reads whitespace-separated tokens from the front of a packet.
pub(crate) struct Tokens<'a> {
    text: &'a str,
    rest: &'a str,
}

fn is_separator(c: char) -> bool {
    c.is_ascii_whitespace()
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Tokens { text, rest: text }
    }

    /// The next token, skipping any run of separators before it.
    pub(crate) fn next_token(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(is_separator);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let end = s.find(is_separator).unwrap_or(s.len());
        let (token, rest) = s.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// Everything after the last token read, minus the one separator that
    /// ends that token: free text, kept verbatim.
    pub(crate) fn rest_text(&mut self) -> &'a str {
        let mut chars = self.rest.chars();
        let rest = match chars.next() {
            Some(c) if is_separator(c) => chars.as_str(),
            _ => self.rest,
        };
        self.rest = "";
        rest
    }

    /// What is left, verbatim (separators included).
    pub(crate) fn remaining(&self) -> &'a str {
        self.rest
    }

    /// Byte offset into the packet where [`Tokens::rest_text`] would start.
    pub(crate) fn rest_offset(&self) -> usize {
        let consumed = self.text.len() - self.rest.len();
        match self.rest.chars().next() {
            Some(c) if is_separator(c) => consumed + c.len_utf8(),
            _ => consumed,
        }
    }

    /// Succeeds if nothing but separators is left.
    pub(crate) fn finish(&mut self) -> Result<(), Problem> {
        match self.next_token() {
            None => Ok(()),
            Some(extra) => Err(Problem::Trailing(super::error::excerpt(extra))),
        }
    }

    /// The next token, which must be there.
    pub(crate) fn require(&mut self, what: &'static str) -> Result<&'a str, Problem> {
        self.next_token().ok_or(Problem::Missing(what))
    }

    /// The next token as a number.
    pub(crate) fn number<T: std::str::FromStr>(
        &mut self,
        what: &'static str,
        expected: &'static str,
    ) -> Result<T, Problem> {
        let token = self.require(what)?;
        token
            .parse()
            .map_err(|_| Problem::invalid(what, token, expected))
    }

    /// The next token as a sendid (any u32: replies echo whatever was sent).
    pub(crate) fn sendid(&mut self) -> Result<u32, Problem> {
        self.number("sendid", "a number")
    }
}

/// True for a character that may appear in a token.
pub(crate) fn is_token_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control()
}

/// A value that becomes one token: non-empty, no whitespace or control
/// characters.
pub(crate) fn check_token(what: &'static str, value: &str) -> Result<(), FormatError> {
    if value.is_empty() {
        return Err(FormatError::EmptyToken { what });
    }
    if !value.chars().all(is_token_char) {
        return Err(FormatError::BadToken {
            what,
            value: shown(what, value),
        });
    }
    Ok(())
}

/// A sendid the GoIP reads correctly: `1..=i32::MAX`.
pub(crate) fn check_sendid(sendid: u32) -> Result<(), FormatError> {
    if (1..=MAX_SENDID).contains(&sendid) {
        Ok(())
    } else {
        Err(FormatError::SendIdOutOfRange(sendid))
    }
}

/// A telid the GoIP reads correctly: `1..=i32::MAX`.
pub(crate) fn check_telid(telid: u32) -> Result<(), FormatError> {
    if (1..=MAX_SENDID).contains(&telid) {
        Ok(())
    } else {
        Err(FormatError::TelIdOutOfRange(telid))
    }
}

/// An SMS body: non-empty and at most [`MAX_SMS_BYTES`] bytes of UTF-8.
pub(crate) fn check_sms_text(text: &str) -> Result<(), FormatError> {
    if text.is_empty() {
        return Err(FormatError::EmptyText);
    }
    if text.len() > MAX_SMS_BYTES {
        return Err(FormatError::TextTooLong { len: text.len() });
    }
    Ok(())
}

/// True if `code` is a USSD code the GoIP can take: digits, `*`, `#`, `+`.
pub fn is_valid_ussd_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+'))
}

pub(crate) fn check_ussd_code(code: &str) -> Result<(), FormatError> {
    if is_valid_ussd_code(code) {
        Ok(())
    } else {
        Err(FormatError::BadUssdCode {
            code: super::error::excerpt(code),
        })
    }
}

/// Reads a sendid (or telid) in a command, with the same range the formatter
/// enforces.
pub(crate) fn command_sendid(tokens: &mut Tokens<'_>, what: &'static str) -> Result<u32, Problem> {
    command_id(what, tokens.require(what)?)
}

/// Reads one id token of a command: `1..=i32::MAX`.
pub(crate) fn command_id(what: &'static str, token: &str) -> Result<u32, Problem> {
    match token.parse::<u32>() {
        Ok(n) if (1..=MAX_SENDID).contains(&n) => Ok(n),
        _ => Err(Problem::invalid(what, token, "a number in 1..=2147483647")),
    }
}

/// Maps a formatting rule onto a parsing problem, so the simulator refuses
/// exactly what the engine refuses to send.
pub(crate) fn format_rule(
    what: &'static str,
    value: &str,
    check: Result<(), FormatError>,
) -> Result<(), Problem> {
    check.map_err(|e| Problem::Invalid {
        what,
        value: if what.contains("password") {
            "(hidden)".to_owned()
        } else {
            super::error::excerpt(value)
        },
        expected: match e {
            FormatError::EmptyToken { .. } | FormatError::BadToken { .. } => {
                "one token without spaces or control characters"
            }
            FormatError::EmptyText => "a non-empty text",
            FormatError::TextTooLong { .. } => "at most 3000 bytes of text",
            FormatError::BadUssdCode { .. } => {
                "only digits, '*', '#' and '+' (a trailing line break ends up in the code)"
            }
            FormatError::InvalidValue { expected, .. } => expected,
            _ => "a valid value",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_rest() {
        let mut t = Tokens::new("USSD 111 Your balance:  10.00\r\n");
        assert_eq!(t.next_token(), Some("USSD"));
        assert_eq!(t.sendid(), Ok(111));
        assert_eq!(t.rest_offset(), 9);
        assert_eq!(t.rest_text(), "Your balance:  10.00\r\n");
        assert_eq!(t.next_token(), None);
    }

    #[test]
    fn tokens_skip_runs_of_whitespace_and_line_ends() {
        let mut t = Tokens::new("  DONE   11\r\n");
        assert_eq!(t.next_token(), Some("DONE"));
        assert_eq!(t.next_token(), Some("11"));
        assert_eq!(t.finish(), Ok(()));
        let mut t = Tokens::new("DONE 11 x");
        t.next_token();
        t.next_token();
        assert_eq!(t.finish(), Err(Problem::Trailing("x".into())));
    }

    #[test]
    fn rest_without_separator_is_empty() {
        let mut t = Tokens::new("USSD 5");
        t.next_token();
        t.next_token();
        assert_eq!(t.rest_offset(), 6);
        assert_eq!(t.rest_text(), "");
    }

    #[test]
    fn token_rules() {
        assert!(check_token("number", "+37255512345").is_ok());
        assert_eq!(
            check_token("number", ""),
            Err(FormatError::EmptyToken { what: "number" })
        );
        for bad in ["+1 2", "x\n", "x\r", "\tx", "a\u{a0}b", "a\u{0}b"] {
            assert!(check_token("number", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ussd_code_rules() {
        for good in ["*100#", "#111*1#", "+1", "1"] {
            assert!(is_valid_ussd_code(good), "{good}");
        }
        for bad in ["", "*100# ", "*100#\n", "*1 00#", "*100#a", "１"] {
            assert!(!is_valid_ussd_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn id_ranges() {
        assert!(check_sendid(1).is_ok());
        assert!(check_sendid(i32::MAX as u32).is_ok());
        assert_eq!(check_sendid(0), Err(FormatError::SendIdOutOfRange(0)));
        assert!(check_sendid(i32::MAX as u32 + 1).is_err());
        assert!(check_telid(0).is_err());
    }

    // Wire vectors (docs/goip-protocol.md#quirks): real captures, the documented shapes and the
    // quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::*;

    #[test]
    fn tokens_with_whitespace_are_refused_everywhere() {
        let bad = "pass word";
        let refused = |cmd: Command| {
            let result = cmd.encode();
            assert!(
                matches!(
                    result,
                    Err(FormatError::BadToken { .. } | FormatError::InvalidValue { .. })
                ),
                "{cmd:?} gave {result:?}"
            );
            // Passwords are never quoted in the error.
            if let Err(e) = result {
                assert!(!e.to_string().contains("pass word"), "{e}");
            }
        };
        refused(Command::Password {
            sendid: 1,
            password: bad.into(),
        });
        refused(Command::Ussd {
            sendid: 1,
            password: bad.into(),
            code: "*100#".into(),
        });
        refused(Command::UssdExit {
            sendid: 1,
            password: bad.into(),
        });
        refused(Command::Gsm {
            sendid: 1,
            password: "p\n".into(),
        });
        refused(Command::Control {
            sendid: 1,
            kind: ControlKind::GetImei,
            value: None,
            password: bad.into(),
        });
        refused(Command::Cf {
            sendid: 1,
            password: bad.into(),
            reason: CfReason::Busy,
            mode: CfMode::Query,
            number: None,
            ftime: None,
        });
        refused(Command::OneshotSms {
            stamp: 1,
            line: 1,
            password: bad.into(),
            number: "1".into(),
            text: "x".into(),
        });
        for number in ["+372 555", "+372\r\n", "\t1", ""] {
            let result = Command::Send {
                sendid: 1,
                telid: 1,
                number: number.into(),
            }
            .encode();
            assert!(
                matches!(
                    result,
                    Err(FormatError::BadToken { .. } | FormatError::EmptyToken { .. })
                ),
                "{number:?}: {result:?}"
            );
        }
        let value_with_space = Command::Control {
            sendid: 1,
            kind: ControlKind::SetGsmNum,
            value: Some("138 0013".into()),
            password: "p".into(),
        };
        assert!(value_with_space.encode().is_err());
        let cf_number = Command::Cf {
            sendid: 1,
            password: "p".into(),
            reason: CfReason::Busy,
            mode: CfMode::Register,
            number: Some("1 2".into()),
            ftime: None,
        };
        assert!(cf_number.encode().is_err());
    }
}
