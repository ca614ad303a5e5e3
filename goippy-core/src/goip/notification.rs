//! Notifications: what a GoIP sends on its own, `TAG:<id>;key:value;…`
//! (docs/goip-protocol.md#reading-a-notification), and how each is
//! acknowledged (#acks-and-retransmission).
//!
//! A notification is an envelope (tag, id, channel id, password) around a
//! kind-specific body. The envelope is read the same way for every tag — tag
//! up to the first `:`, id up to the first `;`, `id`, and `password` or
//! `pass` wherever they appear — so even a tag this module has never heard of
//! becomes an [`NotificationKind::Unknown`] that can be authenticated and
//! acknowledged like the rest (goipcron does the same).
//!
//! The id (recvid) is an opaque token: it comes from the device clock, so it
//! can be small, negative or, on odd firmware, not a number at all. It is
//! echoed back exactly in the ack.

use super::Packet;
use super::ack::{Ack, REG_STATUS_OK, REG_STATUS_REJECTED, auth_error_text};
use super::at_tunnel::AtOutput;
use super::call_events::{Expiry, Hangup, Record, Remain, State};
use super::datagram::{Datagram, strip_line_end};
use super::error::{FormatError, ParseError, Problem, excerpt};
use super::fields::{Field, FieldWriter, Fields, is_valid_recvid, is_valid_tag};
use super::keepalive::Keepalive;
use super::radio_events::{CellInfo, Cgatt, NeighbourCells};
use super::sms_events::{Deliver, Receive, Ussn};

/// A packet a GoIP sent on its own.
///
/// `Debug` is written by hand: it shows the password as `***` (the raw
/// datagram's own `Debug` redacts it too).
#[derive(Clone, PartialEq, Eq)]
pub struct Notification {
    /// The id after the tag (`RECEIVE:<recvid>;`; for `req:` the keepalive
    /// counter; for `AT:` the ATSTART sendid). Opaque; echoed in the ack.
    pub recvid: String,
    /// The channel's "SMS Client ID" (`id:`).
    pub id: String,
    /// The channel password (`password:`, or `pass:` in the keepalive);
    /// `None` when the packet has neither.
    pub password: Option<String>,
    pub kind: NotificationKind,
    /// The bytes this was parsed from; empty for one built in code.
    pub raw: Datagram,
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("recvid", &self.recvid)
            .field("id", &super::datagram::redact_passwords_in(&self.id))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("kind", &self.kind)
            .field("raw", &self.raw)
            .finish()
    }
}

/// What a notification says, by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationKind {
    /// `req:` — registration and keepalive, every 30 s. Boxed: it is by far
    /// the largest kind.
    Keepalive(Box<Keepalive>),
    /// `RECEIVE:` — an inbound SMS.
    Receive(Receive),
    /// `DELIVER:` — a delivery report.
    Deliver(Deliver),
    /// `STATE:` — the line's call state changed.
    State(State),
    /// `RECORD:` — a call started.
    Record(Record),
    /// `HANGUP:` — a call ended.
    Hangup(Hangup),
    /// `EXPIRY:` — the duration of the call that ended.
    Expiry(Expiry),
    /// `REMAIN:` — call-time budget left.
    Remain(Remain),
    /// `USSN:` — USSD text pushed by the network.
    Ussn(Ussn),
    /// `CELLS:` — the neighbour list asked for with `get_cells_list`.
    Cells(NeighbourCells),
    /// `CELLINFO:` — the serving cell.
    CellInfo(CellInfo),
    /// `BCCH:` — neighbour cells, sent while idle.
    Bcch(NeighbourCells),
    /// `CGATT:` — packet-service attach state.
    Cgatt(Cgatt),
    /// `AT:` — AT-tunnel output. Not acknowledged.
    At(AtOutput),
    /// `NUMRECORD:` — undocumented; its fields are kept.
    NumRecord { fields: Vec<Field> },
    /// Any other `TAG:<id>;…`: still acknowledged. Fields other than `id`
    /// and `password`/`pass` are kept in order (`msg` takes the rest).
    Unknown { tag: String, fields: Vec<Field> },
}

/// The tags this module reads into a typed kind. `GSM:` is not among them:
/// it is a reply (see [`super::Reply::Gsm`]).
pub(crate) const KNOWN_TAGS: [&str; 15] = [
    "req",
    "RECEIVE",
    "DELIVER",
    "STATE",
    "RECORD",
    "HANGUP",
    "EXPIRY",
    "REMAIN",
    "USSN",
    "CELLS",
    "CELLINFO",
    "BCCH",
    "CGATT",
    "AT",
    "NUMRECORD",
];

/// Keys whose value is the rest of the datagram, by tag.
fn tail_keys(tag: &str) -> &'static [&'static str] {
    match tag {
        "AT" => &["receive"],
        "RECEIVE" | "USSN" | "NUMRECORD" => &["msg"],
        _ if KNOWN_TAGS.contains(&tag) => &[],
        // An unknown tag may well carry a body; treat `msg` as one.
        _ => &["msg"],
    }
}

impl NotificationKind {
    /// The tag this kind is sent with.
    pub fn tag(&self) -> &str {
        match self {
            NotificationKind::Keepalive(_) => "req",
            NotificationKind::Receive(_) => "RECEIVE",
            NotificationKind::Deliver(_) => "DELIVER",
            NotificationKind::State(_) => "STATE",
            NotificationKind::Record(_) => "RECORD",
            NotificationKind::Hangup(_) => "HANGUP",
            NotificationKind::Expiry(_) => "EXPIRY",
            NotificationKind::Remain(_) => "REMAIN",
            NotificationKind::Ussn(_) => "USSN",
            NotificationKind::Cells(_) => "CELLS",
            NotificationKind::CellInfo(_) => "CELLINFO",
            NotificationKind::Bcch(_) => "BCCH",
            NotificationKind::Cgatt(_) => "CGATT",
            NotificationKind::At(_) => "AT",
            NotificationKind::NumRecord { .. } => "NUMRECORD",
            NotificationKind::Unknown { tag, .. } => tag,
        }
    }

    fn from_fields(tag: &str, fields: Fields<'_>) -> Result<Self, Problem> {
        Ok(match tag {
            "req" => NotificationKind::Keepalive(Box::new(Keepalive::from_fields(fields))),
            "RECEIVE" => NotificationKind::Receive(Receive::from_fields(fields)?),
            "DELIVER" => NotificationKind::Deliver(Deliver::from_fields(fields)?),
            "STATE" => NotificationKind::State(State::from_fields(fields)?),
            "RECORD" => NotificationKind::Record(Record::from_fields(fields)?),
            "HANGUP" => NotificationKind::Hangup(Hangup::from_fields(fields)),
            "EXPIRY" => NotificationKind::Expiry(Expiry::from_fields(fields)?),
            "REMAIN" => NotificationKind::Remain(Remain::from_fields(fields)?),
            "USSN" => NotificationKind::Ussn(Ussn::from_fields(fields)?),
            "CELLS" => NotificationKind::Cells(NeighbourCells::from_fields(fields, "lists")?),
            "CELLINFO" => NotificationKind::CellInfo(CellInfo::from_fields(fields)?),
            "BCCH" => NotificationKind::Bcch(NeighbourCells::from_fields(fields, "bcch")?),
            "CGATT" => NotificationKind::Cgatt(Cgatt::from_fields(fields)?),
            "AT" => NotificationKind::At(AtOutput::from_fields(fields)?),
            "NUMRECORD" => NotificationKind::NumRecord {
                fields: fields.into_vec(),
            },
            _ => NotificationKind::Unknown {
                tag: tag.to_owned(),
                fields: fields.into_vec(),
            },
        })
    }

    fn write_body(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        match self {
            NotificationKind::Keepalive(k) => k.write(w),
            NotificationKind::Receive(r) => r.write(w),
            NotificationKind::Deliver(d) => d.write(w),
            NotificationKind::State(s) => s.write(w),
            NotificationKind::Record(r) => r.write(w),
            NotificationKind::Hangup(h) => h.write(w),
            NotificationKind::Expiry(e) => e.write(w),
            NotificationKind::Remain(r) => r.write(w),
            NotificationKind::Ussn(u) => u.write(w),
            NotificationKind::Cells(c) => c.write(w, "lists"),
            NotificationKind::CellInfo(c) => c.write(w),
            NotificationKind::Bcch(c) => c.write(w, "bcch"),
            NotificationKind::Cgatt(c) => c.write(w),
            NotificationKind::At(a) => a.write_tail(w),
            NotificationKind::NumRecord { fields } | NotificationKind::Unknown { fields, .. } => {
                let tails = tail_keys(self.tag());
                for field in fields {
                    if tails.contains(&field.key.as_str()) {
                        w.tail(&field.key, &field.value)?;
                    } else {
                        w.field("field", &field.key, &field.value)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Notification {
    /// A notification built in code (the simulator's); `raw` stays empty.
    pub fn new(
        recvid: impl Into<String>,
        id: impl Into<String>,
        password: Option<String>,
        kind: NotificationKind,
    ) -> Self {
        Notification {
            recvid: recvid.into(),
            id: id.into(),
            password,
            kind,
            raw: Datagram::default(),
        }
    }

    /// Reads a datagram that must be a notification (not a reply).
    pub fn parse(bytes: &[u8]) -> Result<Notification, ParseError> {
        match super::parse_packet(bytes)? {
            Packet::Notification(n) => Ok(n),
            Packet::Reply(_) => Err(ParseError::NotANotification {
                start: excerpt(&super::datagram::decode(bytes)),
            }),
        }
    }

    /// The tag as sent (`req`, `RECEIVE`, … or an unknown tag).
    pub fn tag(&self) -> &str {
        self.kind.tag()
    }

    /// The ack the server owes the GoIP, given whether the channel id and
    /// password were accepted; `None` for `AT:`, which is never acked.
    ///
    /// * keepalive: `reg:<count>;status:200;`, or `status:404` when refused;
    /// * everything else: `<TAG> <recvid> OK`, or
    ///   `<TAG> <recvid> ERROR not find this id:<id>, or password error`
    ///   (goipcron's wording) when refused.
    pub fn ack(&self, accepted: bool) -> Option<Ack> {
        match &self.kind {
            NotificationKind::At(_) => None,
            NotificationKind::Keepalive(_) => Some(Ack::Registration {
                count: self.recvid.clone(),
                status: if accepted {
                    REG_STATUS_OK
                } else {
                    REG_STATUS_REJECTED
                },
            }),
            _ if accepted => Some(Ack::Ok {
                tag: self.tag().to_owned(),
                recvid: self.recvid.clone(),
            }),
            _ => Some(Ack::Error {
                tag: self.tag().to_owned(),
                recvid: self.recvid.clone(),
                text: auth_error_text(&self.id),
            }),
        }
    }

    /// Writes the notification as a GoIP would send it (for the simulator).
    ///
    /// Fails rather than write something that reads back differently: a `;`
    /// inside a value, a field after `msg`, a tag or id with spaces, an
    /// unknown tag that is a known one, a value such as `(null)` that reads as
    /// empty. Whatever this returns, [`super::parse_packet`] reads back as
    /// `self` (apart from `raw`).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let tag = self.tag();
        if let NotificationKind::Unknown { tag, .. } = &self.kind
            && (KNOWN_TAGS.contains(&tag.as_str()) || tag == "GSM")
        {
            return Err(FormatError::Ambiguous {
                what: "unknown tag",
                value: format!("{:?}", excerpt(tag)),
                why: "it is a tag with its own packet kind",
            });
        }
        let keepalive = matches!(self.kind, NotificationKind::Keepalive(_));
        let mut w = FieldWriter::new(tag, &self.recvid)?;
        if let NotificationKind::At(at) = &self.kind {
            at.write_head(&mut w)?;
        }
        w.field("channel id", "id", &self.id)?;
        if let Some(password) = &self.password {
            let key = if keepalive { "pass" } else { "password" };
            w.field("password", key, password)?;
        }
        self.kind.write_body(&mut w)?;
        let bytes = w.finish(keepalive)?;
        self.check_reads_back(&bytes)?;
        Ok(bytes)
    }

    fn check_reads_back(&self, bytes: &[u8]) -> Result<(), FormatError> {
        let same = match super::parse_packet(bytes) {
            Ok(Packet::Notification(n)) => {
                n.recvid == self.recvid
                    && n.id == self.id
                    && n.password == self.password
                    && n.kind == self.kind
            }
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(FormatError::Ambiguous {
                what: "notification",
                value: format!("{:?}", excerpt(&String::from_utf8_lossy(bytes))),
                why: "it reads back as something else (a value like \"(null)\" reads as empty; \
                      `id`, `password`, `pass` or a known field name among the extra fields \
                      is taken as that field)",
            })
        }
    }
}

/// Reads a colon-style datagram whose tag is not `GSM`.
pub(crate) fn parse_notification(text: &str, raw: &[u8]) -> Result<Notification, ParseError> {
    let (tag, after) = text
        .split_once(':')
        .ok_or_else(|| ParseError::not_goip(text))?;
    if !is_valid_tag(tag) {
        return Err(ParseError::not_goip(text));
    }
    let (recvid, fields_text) = match after.split_once(';') {
        Some(split) => split,
        None => (strip_line_end(after), ""),
    };
    if !is_valid_recvid(recvid) {
        return Err(ParseError::BadRecvid {
            tag: excerpt(tag),
            recvid: excerpt(recvid),
        });
    }
    let problem = |problem| ParseError::Notification {
        tag: tag.to_owned(),
        recvid: recvid.to_owned(),
        problem,
    };
    let mut fields = Fields::split(fields_text, tail_keys(tag));
    let id = fields.require("id").map_err(problem)?;
    let password = fields.take_any(&["password", "pass"]);
    let kind = NotificationKind::from_fields(tag, fields).map_err(problem)?;
    Ok(Notification {
        recvid: recvid.to_owned(),
        id,
        password,
        kind,
        raw: Datagram::new(raw),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_the_password() {
        for text in [
            "req:1102;id:goippy_2508;pass:hunter2pw;num:+37255620268;signal:25;",
            "RECEIVE:1;id:goip1;password:hunter2pw;srcnum:5551;msg:hi",
            // A space for the `;`: the password lands inside the id.
            "RECEIVE:1;id:goip1 password:hunter2pw;srcnum:5551;msg:hi",
        ] {
            let n = super::Notification::parse(text.as_bytes()).expect("parses");
            let shown = format!("{n:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    use super::*;

    fn parse(s: &str) -> Notification {
        match parse_notification(s, s.as_bytes()) {
            Ok(n) => n,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn envelope_accepts_pass_and_password() {
        let n = parse("STATE:7568;id:goip1;pass:password1;gsm_remain_state:IDLE");
        assert_eq!(n.password.as_deref(), Some("password1"));
        let n = parse("STATE:7568;gsm_remain_state:IDLE;password:p;id:goip1");
        assert_eq!((n.id.as_str(), n.password.as_deref()), ("goip1", Some("p")));
        let n = parse("STATE:7568;id:goip1;gsm_remain_state:IDLE");
        assert_eq!(n.password, None);
    }

    #[test]
    fn envelope_errors() {
        let e = parse_notification("STATE:1;gsm_remain_state:IDLE", b"").unwrap_err();
        assert_eq!(
            e,
            ParseError::Notification {
                tag: "STATE".into(),
                recvid: "1".into(),
                problem: Problem::Missing("id")
            }
        );
        assert!(matches!(
            parse_notification("STATE:;id:x", b""),
            Err(ParseError::BadRecvid { .. })
        ));
        assert!(matches!(
            parse_notification("STATE:1 2;id:x", b""),
            Err(ParseError::BadRecvid { .. })
        ));
        assert!(matches!(
            parse_notification("a;b:1;id:x", b""),
            Err(ParseError::NotGoip { .. })
        ));
    }

    #[test]
    fn recvid_without_fields() {
        let e = parse_notification("req:10\r\n", b"").unwrap_err();
        assert_eq!(
            e,
            ParseError::Notification {
                tag: "req".into(),
                recvid: "10".into(),
                problem: Problem::Missing("id")
            }
        );
    }

    #[test]
    fn acks() {
        let n = parse("RECEIVE:-5;id:g;password:p;srcnum:1;msg:x");
        assert_eq!(
            n.ack(true),
            Some(Ack::Ok {
                tag: "RECEIVE".into(),
                recvid: "-5".into()
            })
        );
        assert_eq!(
            n.ack(false),
            Some(Ack::Error {
                tag: "RECEIVE".into(),
                recvid: "-5".into(),
                text: "not find this id:g, or password error".into()
            })
        );
        let at = parse("AT:20;count:1;id:g;password:p;receive:OK");
        assert_eq!(at.ack(true), None);
        let k = parse("req:3;id:g;pass:p;");
        assert_eq!(
            k.ack(false),
            Some(Ack::Registration {
                count: "3".into(),
                status: 404
            })
        );
    }

    #[test]
    fn parse_insists_on_a_notification() {
        assert!(matches!(
            Notification::parse(b"DONE 11"),
            Err(ParseError::NotANotification { .. })
        ));
        assert!(Notification::parse(b"STATE:1;id:g;gsm_remain_state:IDLE").is_ok());
    }

    #[test]
    fn errors_keep_tag_and_recvid_exactly_but_quote_briefly() {
        let recvid = "9".repeat(200);
        let wire = format!("STATE:{recvid};id:g");
        let e = parse_notification(&wire, wire.as_bytes()).unwrap_err();
        let ParseError::Notification { recvid: kept, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(kept, &recvid);
        assert!(e.to_string().len() < 150, "{e}");
    }

    #[test]
    fn unknown_tags_cannot_impersonate_known_ones() {
        let n = Notification::new(
            "1",
            "g",
            None,
            NotificationKind::Unknown {
                tag: "RECEIVE".into(),
                fields: vec![],
            },
        );
        assert!(matches!(n.encode(), Err(FormatError::Ambiguous { .. })));
    }

    // Wire vectors (docs/goip-protocol.md#at-tunnel-and-other-tags and
    // docs/goip-protocol.md#quirks): real captures, the documented shapes and the quirks. A
    // capture must read back and re-encode byte for byte.

    use crate::goip::tests::capture;
    use crate::goip::*;

    #[test]
    fn numrecord_and_unknown_tags_are_still_acked() {
        let n = capture(
            "NUMRECORD:9;id:goip-1;password:goip;num:10086",
            "NUMRECORD 9 OK",
        );
        assert_eq!(
            n.kind,
            NotificationKind::NumRecord {
                fields: vec![Field::new("num", "10086")]
            }
        );
        let n = capture(
            "FUTURE:-3;id:goip-1;password:goip;a:1;b:x:y;msg:rest; of it",
            "FUTURE -3 OK",
        );
        assert_eq!(
            n.kind,
            NotificationKind::Unknown {
                tag: "FUTURE".into(),
                fields: vec![
                    Field::new("a", "1"),
                    Field::new("b", "x:y"),
                    Field::new("msg", "rest; of it")
                ]
            }
        );
        assert_eq!(
            String::from_utf8(n.ack(false).expect("acked").encode()).expect("UTF-8"),
            "FUTURE -3 ERROR not find this id:goip-1, or password error"
        );
    }

    #[test]
    fn malformed_notifications_name_tag_id_and_field() {
        let err = parse_packet(b"DELIVER:17;id:g;password:p;sms_no:x1;state:0").unwrap_err();
        assert_eq!(
            err,
            ParseError::Notification {
                tag: "DELIVER".into(),
                recvid: "17".into(),
                problem: Problem::Invalid {
                    what: "sms_no",
                    value: "x1".into(),
                    expected: "a non-negative number"
                }
            }
        );
        assert_eq!(
            err.to_string(),
            "DELIVER:17 notification: sms_no is \"x1\", expected a non-negative number"
        );
        let err = parse_packet(b"RECEIVE:18;id:g;password:p;msg:x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "RECEIVE:18 notification: srcnum is missing"
        );
        assert!(matches!(
            parse_packet(b"RECEIVE:;id:g"),
            Err(ParseError::BadRecvid { .. })
        ));
    }

    #[test]
    fn simulator_formatters_refuse_what_would_read_back_differently() {
        use crate::goip::{Keepalive, Receive};
        let refused = |n: Notification| {
            let result = n.encode();
            assert!(
                matches!(
                    result,
                    Err(FormatError::Ambiguous { .. } | FormatError::Separator { .. })
                ),
                "{n:?} gave {result:?}"
            );
        };
        let receive = |srcnum: &str, msg: &str| {
            NotificationKind::Receive(Receive {
                srcnum: srcnum.into(),
                smscnum: None,
                msg: msg.into(),
            })
        };
        // A `;` would split the field; `(null)` reads back as empty.
        refused(Notification::new("1", "g", None, receive("+1;2", "x")));
        refused(Notification::new("1", "g", None, receive("(null)", "x")));
        refused(Notification::new("1", "g;x", None, receive("1", "x")));
        // A keepalive extra named like a known field is read into that field.
        refused(Notification::new(
            "1",
            "g",
            None,
            NotificationKind::Keepalive(Box::new(Keepalive {
                extra: vec![Field::new("num", "1")],
                ..Keepalive::default()
            })),
        ));
        // An unknown tag's field named `password` is read as the password when
        // the envelope has none; a field after `msg` would become body text.
        refused(Notification::new(
            "1",
            "g",
            None,
            NotificationKind::Unknown {
                tag: "FUTURE".into(),
                fields: vec![Field::new("password", "other")],
            },
        ));
        refused(Notification::new(
            "1",
            "g",
            None,
            NotificationKind::Unknown {
                tag: "FUTURE".into(),
                fields: vec![Field::new("msg", "x"), Field::new("a", "1")],
            },
        ));
        // A line break at the very end is stripped by the parser.
        refused(Notification::new(
            "1",
            "g",
            Some("p".into()),
            NotificationKind::State(crate::goip::State {
                gsm_remain_state: "IDLE\n".into(),
            }),
        ));

        let refused = |r: Reply| {
            let result = r.encode();
            assert!(
                matches!(result, Err(FormatError::Ambiguous { .. })),
                "{r:?} gave {result:?}"
            );
        };
        refused(Reply::Control {
            kind: ControlKind::GetGsmNum,
            sendid: 1,
            value: Some("ok".into()),
            ok: false,
        });
        refused(Reply::Control {
            kind: ControlKind::GetGsmNum,
            sendid: 1,
            value: Some("(null)".into()),
            ok: false,
        });
        refused(Reply::Error(ErrorReply::Rejected {
            sendid: 1,
            text: "PASSWORD".into(),
        }));
        refused(Reply::Error(ErrorReply::Rejected {
            sendid: 1,
            text: "2 errorstatus:5".into(),
        }));
        refused(Reply::UssdError {
            sendid: 1,
            text: "late\n".into(),
        });
        refused(Reply::Other {
            verb: "DONE".into(),
            sendid: 1,
            rest: "x".into(),
        });
    }
}
