//! The `key:value;key:value` part of colon-style packets (notifications and
//! the `GSM:` reply), read and written by the same rules.
//!
//! The rules come from what real firmware sends
//! (docs/goip-protocol.md#reading-a-notification and #quirks):
//! * fields are separated by `;` and split on their **first** `:` only,
//!   because values contain colons and spaces (`CELLINFO:LAC:7E5,CELL ID:5E5B`,
//!   `gsm_remain_state:INCOMING:+380…`, `pro:CHINA UNICOM GSM`);
//! * a *tail* key (`msg`, and `receive` in the AT tunnel) takes the whole rest
//!   of the datagram as its value, untouched: message bodies are not escaped
//!   and contain `;`, `:`, CR and LF;
//! * `(null)` and `<NULL>` mean an empty value (never applied to a tail);
//! * a CR/LF at the very end of the datagram is not part of the last value,
//!   unless that value is a tail.
//!
//! Unknown fields are kept, in order, as [`Field`]s.

use super::datagram::{ends_with_line_break, strip_line_end};
use super::error::{FormatError, Problem, shown};
use super::tokens::is_token_char;

/// One `key:value` field, as it appeared on the wire (after `(null)` and
/// `<NULL>` were read as empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub key: String,
    pub value: String,
}

impl Field {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Field {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// `(null)` and `<NULL>`, which GoIP firmware prints for unset values, read
/// as the empty string; everything else is returned unchanged.
pub(crate) fn normalize_null(value: &str) -> &str {
    if value.eq_ignore_ascii_case("(null)") || value.eq_ignore_ascii_case("<null>") {
        ""
    } else {
        value
    }
}

/// Splits the fields that follow `TAG:<id>;`. `tail_keys` are the keys whose
/// value is the rest of the datagram. (Packets use [`Fields`], which borrows.)
#[cfg(test)]
pub(crate) fn split_fields(text: &str, tail_keys: &[&str]) -> Vec<Field> {
    Fields::split(text, tail_keys).into_vec()
}

/// The fields of `text` as slices of it, in order, by the rules above.
fn split_borrowed<'a>(text: &'a str, tail_keys: &[&str]) -> Vec<(&'a str, &'a str)> {
    let mut fields = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((key, body)) = tail_keys.iter().find_map(|key| {
            rest.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(|body| (&rest[..key.len()], body))
        }) {
            fields.push((key, body));
            break;
        }
        let (segment, next) = match rest.split_once(';') {
            Some((segment, next)) => (segment, next),
            // The last field: a line break after it belongs to the datagram.
            None => (strip_line_end(rest), ""),
        };
        rest = next;
        if segment.is_empty() {
            continue;
        }
        let (key, value) = segment.split_once(':').unwrap_or((segment, ""));
        fields.push((key, normalize_null(value)));
    }
    fields
}

/// Parsed fields, consumed by key as a packet kind picks out what it knows;
/// whatever is left over is the packet's unknown fields.
///
/// They borrow the datagram's text: only a value a packet keeps is copied
/// (a keepalive has ~17 fields; owning each key and value cost two
/// allocations a field on every datagram).
#[derive(Debug)]
pub(crate) struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    pub(crate) fn split(text: &'a str, tail_keys: &[&str]) -> Self {
        Fields(split_borrowed(text, tail_keys))
    }

    /// Removes and returns the first field named `key`.
    pub(crate) fn take(&mut self, key: &str) -> Option<String> {
        let index = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.remove(index).1.to_owned())
    }

    /// Removes and returns the first field named any of `keys`.
    pub(crate) fn take_any(&mut self, keys: &[&str]) -> Option<String> {
        let index = self.0.iter().position(|(k, _)| keys.contains(k))?;
        Some(self.0.remove(index).1.to_owned())
    }

    pub(crate) fn require(&mut self, key: &'static str) -> Result<String, Problem> {
        self.take(key).ok_or(Problem::Missing(key))
    }

    /// What is left, owned.
    pub(crate) fn into_vec(self) -> Vec<Field> {
        self.0
            .into_iter()
            .map(|(key, value)| Field::new(key, value))
            .collect()
    }
}

/// Parses a required numeric field.
pub(crate) fn number<T: std::str::FromStr>(
    what: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<T, Problem> {
    value
        .parse()
        .map_err(|_| Problem::invalid(what, value, expected))
}

/// Writes `TAG:<id>;key:value;…`, refusing anything that would be read back
/// differently (a `;` inside a value, a `:` inside a key, a line break at the
/// very end of a non-tail value, a field after a tail).
pub(crate) struct FieldWriter {
    out: String,
    /// The last plain value written ends with CR/LF.
    last_value_ends_with_line_break: bool,
    tail_written: bool,
}

impl FieldWriter {
    pub(crate) fn new(tag: &str, recvid: &str) -> Result<Self, FormatError> {
        if !is_valid_tag(tag) {
            let expected = "a non-empty word without spaces, ':' or ';'";
            return Err(FormatError::invalid("notification tag", tag, expected));
        }
        if !is_valid_recvid(recvid) {
            let expected = "a non-empty token without spaces or ';'";
            return Err(FormatError::invalid("notification id", recvid, expected));
        }
        Ok(FieldWriter {
            out: format!("{tag}:{recvid}"),
            last_value_ends_with_line_break: false,
            tail_written: false,
        })
    }

    /// Writes `;key:value`. `what` names the value in errors.
    pub(crate) fn field(
        &mut self,
        what: &'static str,
        key: &str,
        value: &str,
    ) -> Result<(), FormatError> {
        self.check_not_after_tail(key)?;
        check_key(key)?;
        if value.contains(';') {
            return Err(FormatError::Separator {
                what,
                value: shown(what, value),
                separator: ';',
            });
        }
        self.out.push(';');
        self.out.push_str(key);
        self.out.push(':');
        self.out.push_str(value);
        self.last_value_ends_with_line_break = ends_with_line_break(value);
        Ok(())
    }

    /// Writes `;key:value` where the value is the rest of the datagram.
    pub(crate) fn tail(&mut self, key: &str, value: &str) -> Result<(), FormatError> {
        self.check_not_after_tail(key)?;
        self.out.push(';');
        self.out.push_str(key);
        self.out.push(':');
        self.out.push_str(value);
        self.tail_written = true;
        self.last_value_ends_with_line_break = false;
        Ok(())
    }

    fn check_not_after_tail(&self, key: &str) -> Result<(), FormatError> {
        if self.tail_written {
            return Err(FormatError::Ambiguous {
                what: "field",
                value: shown("field", key),
                why: "it comes after a field that takes the rest of the datagram",
            });
        }
        Ok(())
    }

    /// Ends the packet, with a final `;` as the keepalive has it, or without
    /// one as every other notification has it.
    pub(crate) fn finish(mut self, trailing_semicolon: bool) -> Result<Vec<u8>, FormatError> {
        if trailing_semicolon && !self.tail_written {
            self.out.push(';');
        } else if self.last_value_ends_with_line_break {
            return Err(FormatError::Ambiguous {
                what: "last field",
                value: shown("last field", &self.out),
                why: "a line break at the end of the datagram is stripped",
            });
        }
        Ok(self.out.into_bytes())
    }
}

/// A notification tag: non-empty, and neither whitespace, control
/// characters, `:` nor `;`.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag
            .chars()
            .all(|c| is_token_char(c) && c != ':' && c != ';')
}

/// A notification id (recvid): non-empty, and neither whitespace, control
/// characters nor `;` (it is echoed back as one token of the ack).
pub(crate) fn is_valid_recvid(recvid: &str) -> bool {
    !recvid.is_empty() && recvid.chars().all(|c| is_token_char(c) && c != ';')
}

fn check_key(key: &str) -> Result<(), FormatError> {
    for separator in [':', ';'] {
        if key.contains(separator) {
            return Err(FormatError::Separator {
                what: "field name",
                value: shown("field name", key),
                separator,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(fields: &[Field]) -> Vec<(&str, &str)> {
        fields
            .iter()
            .map(|f| (f.key.as_str(), f.value.as_str()))
            .collect()
    }

    #[test]
    fn splits_on_the_first_colon_only() {
        let f = split_fields("CELLINFO:LAC:7E5,CELL ID:5E5B;pro:CHINA UNICOM GSM;", &[]);
        assert_eq!(
            pairs(&f),
            [
                ("CELLINFO", "LAC:7E5,CELL ID:5E5B"),
                ("pro", "CHINA UNICOM GSM")
            ]
        );
    }

    #[test]
    fn tail_takes_the_rest_untouched() {
        let f = split_fields("srcnum:1;msg:a;b:c\r\nd\r\n", &["msg"]);
        assert_eq!(pairs(&f), [("srcnum", "1"), ("msg", "a;b:c\r\nd\r\n")]);
        // `msg` is only special where it is a tail key.
        let f = split_fields("msg:a;b:c", &[]);
        assert_eq!(pairs(&f), [("msg", "a"), ("b", "c")]);
    }

    #[test]
    fn nulls_read_as_empty_except_in_a_tail() {
        let f = split_fields("a:(null);b:<NULL>;c:(NULL);msg:(null)", &["msg"]);
        assert_eq!(
            pairs(&f),
            [("a", ""), ("b", ""), ("c", ""), ("msg", "(null)")]
        );
    }

    #[test]
    fn trailing_line_break_and_empty_segments() {
        let f = split_fields("a:1;;b:2\r\n", &[]);
        assert_eq!(pairs(&f), [("a", "1"), ("b", "2")]);
        let f = split_fields("a:1;\r\n", &[]);
        assert_eq!(pairs(&f), [("a", "1")]);
        let f = split_fields("novalue;:anon", &[]);
        assert_eq!(pairs(&f), [("novalue", ""), ("", "anon")]);
    }

    #[test]
    fn take_consumes_the_first_match() {
        let mut f = Fields::split("a:1;a:2;pass:p", &[]);
        assert_eq!(f.take("a").as_deref(), Some("1"));
        assert_eq!(f.take_any(&["password", "pass"]).as_deref(), Some("p"));
        assert_eq!(f.require("zz"), Err(Problem::Missing("zz")));
        assert_eq!(f.into_vec(), vec![Field::new("a", "2")]);
    }

    #[test]
    fn writer_refuses_what_would_read_back_differently() {
        let mut w = FieldWriter::new("X", "1").unwrap();
        assert!(matches!(
            w.field("v", "k", "a;b"),
            Err(FormatError::Separator { separator: ';', .. })
        ));
        assert!(w.field("k", "k:x", "v").is_err());
        w.field("v", "k", "v\n").unwrap();
        assert!(matches!(
            w.finish(false),
            Err(FormatError::Ambiguous { .. })
        ));

        let mut w = FieldWriter::new("X", "1").unwrap();
        w.tail("msg", "a;b\n").unwrap();
        assert!(w.field("v", "k", "v").is_err());
        assert_eq!(w.finish(true).unwrap(), b"X:1;msg:a;b\n");

        assert!(FieldWriter::new("A B", "1").is_err());
        assert!(FieldWriter::new("A", "1 2").is_err());
        assert!(FieldWriter::new("A", "").is_err());
    }

    // Wire vectors (docs/goip-protocol.md#quirks): real captures, the documented shapes and the
    // quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::{notification, reply};
    use crate::goip::*;

    #[test]
    fn null_values_read_as_empty() {
        let n = notification(b"DELIVER:1;id:g;password:p;sms_no:3;state:0;num:(null)");
        assert!(matches!(&n.kind, NotificationKind::Deliver(d) if d.num.as_deref() == Some("")));
        let n = notification(b"RECORD:1;id:g;password:p;dir:1;num:<NULL>");
        assert!(matches!(&n.kind, NotificationKind::Record(r) if r.num.is_empty()));
        // Not inside a message body.
        let n = notification(b"RECEIVE:1;id:g;password:p;srcnum:1;msg:(null)");
        assert!(matches!(&n.kind, NotificationKind::Receive(r) if r.msg == "(null)"));
    }

    #[test]
    fn trailing_line_breaks_are_stripped_outside_bodies_only() {
        let n = notification(b"STATE:1;id:g;password:p;gsm_remain_state:IDLE\r\n");
        assert!(matches!(&n.kind, NotificationKind::State(s) if s.gsm_remain_state == "IDLE"));
        let n = notification(b"EXPIRY:2;id:g;password:p;exp:17\n");
        assert!(matches!(&n.kind, NotificationKind::Expiry(e) if e.exp == 17));
        let n = notification(b"RECEIVE:3;id:g;password:p;srcnum:1;msg:hi\r\n");
        assert!(matches!(&n.kind, NotificationKind::Receive(r) if r.msg == "hi\r\n"));
        assert_eq!(reply("DONE 11\r\n"), Reply::Done { sendid: 11 });
        assert_eq!(
            reply("ERROR 11 too_many_sends_in_server\r\n"),
            Reply::Error(ErrorReply::Rejected {
                sendid: 11,
                text: "too_many_sends_in_server".into()
            })
        );
    }
}
