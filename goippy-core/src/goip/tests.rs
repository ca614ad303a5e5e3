//! Tests of the two entry points ([`parse_packet`], [`parse_server_datagram`])
//! and what the wire vectors beside each form's parser share: a capture must
//! parse, ack as expected, reproduce byte for byte and pass the round-trip
//! self-check (docs/goip-protocol.md#tests).

use super::*;

pub(super) fn notification(wire: &[u8]) -> Notification {
    match parse_packet(wire) {
        Ok(Packet::Notification(n)) => n,
        other => panic!(
            "{:?}: expected a notification, got {other:?}",
            Datagram::new(wire)
        ),
    }
}

pub(super) fn reply(wire: &str) -> Reply {
    match parse_packet(wire.as_bytes()) {
        Ok(Packet::Reply(r)) => r,
        other => panic!("{wire:?}: expected a reply, got {other:?}"),
    }
}

pub(super) fn command(wire: &str) -> Command {
    match parse_server_datagram(wire.as_bytes()) {
        Ok(ServerDatagram::Command(c)) => c,
        other => panic!("{wire:?}: expected a command, got {other:?}"),
    }
}

pub(super) fn server_ack(wire: &str) -> Ack {
    match parse_server_datagram(wire.as_bytes()) {
        Ok(ServerDatagram::Ack(a)) => a,
        other => panic!("{wire:?}: expected an ack, got {other:?}"),
    }
}

pub(super) fn ok_ack(n: &Notification) -> String {
    let ack = n.ack(true).expect("this notification is acked");
    String::from_utf8(ack.encode()).expect("acks are UTF-8")
}

pub(super) fn encoded(n: &Notification) -> String {
    String::from_utf8(n.encode().expect("encodes")).expect("UTF-8")
}

/// A capture must parse, ack as expected, reproduce byte for byte, and pass
/// the round-trip self-check.
pub(super) fn capture(wire: &str, ack: &str) -> Notification {
    let n = notification(wire.as_bytes());
    assert_eq!(ok_ack(&n), ack, "ack of {wire:?}");
    assert_eq!(encoded(&n), wire, "re-encoding of {wire:?}");
    assert_eq!(selfcheck::check_packet(wire.as_bytes()), Ok(()));
    assert!(!n.raw.is_lossy());
    assert_eq!(n.raw.bytes(), wire.as_bytes());
    n
}

pub(super) fn reply_bytes(wire: &[u8]) -> Reply {
    match parse_packet(wire) {
        Ok(Packet::Reply(r)) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn shapes_are_told_apart() {
    assert!(matches!(
        parse_packet(b"RECEIVE:1;id:g;password:p;srcnum:1;msg:a b"),
        Ok(Packet::Notification(_))
    ));
    assert!(matches!(
        parse_packet(b"USSD 1 Balance: 10"),
        Ok(Packet::Reply(Reply::Ussd { .. }))
    ));
    assert!(matches!(
        parse_packet(b"GSM:1;imei:1"),
        Ok(Packet::Reply(Reply::Gsm(_)))
    ));
    assert!(matches!(
        parse_packet(b"GSMERROR 1 no"),
        Ok(Packet::Reply(Reply::GsmError { .. }))
    ));
    assert_eq!(parse_packet(b""), Err(ParseError::Empty));
    assert_eq!(parse_packet(b" \r\n"), Err(ParseError::Empty));
    assert!(matches!(
        parse_packet(b":x"),
        Err(ParseError::NotGoip { .. })
    ));
}

#[test]
fn server_datagrams_are_told_apart() {
    assert!(matches!(
        parse_server_datagram(b"reg:1;status:200;"),
        Ok(ServerDatagram::Ack(Ack::Registration { .. }))
    ));
    assert!(matches!(
        parse_server_datagram(b"DONE 5"),
        Ok(ServerDatagram::Command(Command::Done { sendid: 5 }))
    ));
    assert!(matches!(
        parse_server_datagram(b"STATE 5 OK"),
        Ok(ServerDatagram::Ack(Ack::Ok { .. }))
    ));
    assert!(parse_server_datagram(b"hello").is_err());
    assert_eq!(parse_server_datagram(b"\n"), Err(ParseError::Empty));
}

#[test]
fn garbage_is_not_a_packet() {
    for wire in [&b""[..], b"\r\n", b"hello", b"12345", b":::", b"\xff\xfe"] {
        assert!(parse_packet(wire).is_err(), "{wire:?}");
        assert!(parse_server_datagram(wire).is_err(), "{wire:?}");
    }
}

mod roundtrip {
    //! Round trips: for every notification, reply, ack and command kind,
    //! `parse(encode(x)) == x` over generated values — the guarantee that the
    //! simulator and the engine, each using one half, understand each other.
    //!
    //! The strategies generate what each formatter accepts: arbitrary Unicode
    //! where the wire allows it (message bodies, USSD text), and values free of
    //! the separators the format reserves elsewhere.

    use crate::goip::gsm_status::GSM_STATUS_KEYS;
    use crate::goip::keepalive::KEEPALIVE_KEYS;
    use crate::goip::notification::KNOWN_TAGS;
    use crate::goip::{
        Ack, AtOutput, CallDirection, CellInfo, CfMode, CfReason, Cgatt, Command, ControlKind,
        Deliver, ErrorReply, Expiry, Field, GsmStatus, Hangup, Keepalive, MAX_SENDID,
        NeighbourCells, Notification, NotificationKind, Packet, Receive, Record, Remain,
        RemainTime, Reply, ServerDatagram, State, Ussn, parse_packet, parse_server_datagram,
    };
    use proptest::prelude::*;
    use proptest::sample::select;

    // ---------------------------------------------------------------------------
    // building blocks

    /// A recvid: what real devices send (clock seconds, maybe negative) and
    /// odder opaque tokens.
    fn recvid() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            "[A-Za-z0-9_.+-]{1,12}",
        ]
    }

    fn is_null_word(s: &str) -> bool {
        s.eq_ignore_ascii_case("(null)") || s.eq_ignore_ascii_case("<null>")
    }

    /// A field value in the middle of a notification: anything but `;` and line
    /// breaks (and not a spelling of null, which reads back as empty).
    fn value() -> impl Strategy<Value = String> {
        "[^;\r\n]{0,16}".prop_filter("null spelling", |s| !is_null_word(s))
    }

    /// A message body: anything at all.
    fn body() -> impl Strategy<Value = String> {
        "(?s).{0,120}"
    }

    /// One token: no whitespace or control characters.
    fn token() -> impl Strategy<Value = String> {
        prop_oneof!["[!-~]{1,16}", "[^\\s\\p{C}]{1,8}"]
    }

    fn sendid() -> impl Strategy<Value = u32> {
        1..=MAX_SENDID
    }

    /// A field key for unknown fields, avoiding `reserved`.
    fn key(reserved: &'static [&'static str]) -> impl Strategy<Value = String> {
        "[A-Za-z_]{0,8}".prop_filter("reserved key", move |k| !reserved.contains(&k.as_str()))
    }

    fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
        proptest::option::of(s)
    }

    // ---------------------------------------------------------------------------
    // notifications

    const ENVELOPE_KEYS: [&str; 3] = ["id", "password", "pass"];

    fn keepalive() -> impl Strategy<Value = Keepalive> {
        static RESERVED: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
            KEEPALIVE_KEYS
                .iter()
                .chain(&ENVELOPE_KEYS)
                .copied()
                .collect()
        });
        let reserved: &'static [&'static str] = &RESERVED;
        (
            proptest::collection::vec(opt(value()), 16),
            proptest::collection::vec((key(reserved), value()), 0..4),
        )
            .prop_map(|(slots, extra)| {
                let mut s = slots.into_iter();
                let mut next = || s.next().flatten();
                Keepalive {
                    num: next(),
                    signal: next(),
                    gsm_status: next(),
                    voip_status: next(),
                    voip_state: next(),
                    remain_time: next(),
                    imei: next(),
                    imsi: next(),
                    iccid: next(),
                    pro: next(),
                    idle: next(),
                    disable_status: next(),
                    sms_login: next(),
                    smb_login: next(),
                    cellinfo: next(),
                    cgatt: next(),
                    extra: extra.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
                }
            })
    }

    /// Plain fields for NUMRECORD and unknown tags, maybe ending in a `msg` body.
    fn open_fields() -> impl Strategy<Value = Vec<Field>> {
        const RESERVED: [&str; 4] = ["id", "password", "pass", "msg"];
        (
            proptest::collection::vec((key(&RESERVED), value()), 0..4),
            opt(body()),
        )
            .prop_map(|(plain, tail)| {
                let mut fields: Vec<Field> =
                    plain.into_iter().map(|(k, v)| Field::new(k, v)).collect();
                fields.extend(tail.map(|msg| Field::new("msg", msg)));
                fields
            })
    }

    fn cells() -> impl Strategy<Value = NeighbourCells> {
        proptest::collection::vec("[0-9A-Za-z]{1,6}", 0..8)
            .prop_map(|cells| NeighbourCells { cells })
    }

    fn remain_time() -> impl Strategy<Value = RemainTime> {
        prop_oneof![
            Just(RemainTime::Unlimited),
            any::<u32>().prop_map(RemainTime::Minutes)
        ]
    }

    fn notification_kind() -> impl Strategy<Value = NotificationKind> {
        prop_oneof![
            keepalive().prop_map(|k| NotificationKind::Keepalive(Box::new(k))),
            (value(), opt(value()), body()).prop_map(|(srcnum, smscnum, msg)| {
                NotificationKind::Receive(Receive {
                    srcnum,
                    smscnum,
                    msg,
                })
            }),
            (any::<u32>(), any::<i32>(), opt(value())).prop_map(|(sms_no, state, num)| {
                NotificationKind::Deliver(Deliver { sms_no, state, num })
            }),
            value().prop_map(|s| NotificationKind::State(State {
                gsm_remain_state: s
            })),
            (
                select(vec![CallDirection::Incoming, CallDirection::Outgoing]),
                value()
            )
                .prop_map(|(dir, num)| NotificationKind::Record(Record { dir, num })),
            ("[^;,\r\n]{0,12}", value())
                .prop_filter("null spelling", |(n, c)| !is_null_word(n)
                    && !is_null_word(c))
                .prop_map(|(num, cause)| NotificationKind::Hangup(Hangup { num, cause })),
            any::<u32>().prop_map(|exp| NotificationKind::Expiry(Expiry { exp })),
            remain_time().prop_map(|t| NotificationKind::Remain(Remain { gsm_remain_time: t })),
            body().prop_map(|msg| NotificationKind::Ussn(Ussn { msg })),
            cells().prop_map(NotificationKind::Cells),
            value().prop_map(|info| NotificationKind::CellInfo(CellInfo { info })),
            cells().prop_map(NotificationKind::Bcch),
            any::<bool>().prop_map(|attached| NotificationKind::Cgatt(Cgatt { attached })),
            (any::<u32>(), body())
                .prop_map(|(count, receive)| NotificationKind::At(AtOutput { count, receive })),
            open_fields().prop_map(|fields| NotificationKind::NumRecord { fields }),
            ("[A-Z][A-Za-z_]{0,9}", open_fields())
                .prop_filter("known tag", |(tag, _)| {
                    !KNOWN_TAGS.contains(&tag.as_str()) && tag != "GSM"
                })
                .prop_map(|(tag, fields)| NotificationKind::Unknown { tag, fields }),
        ]
    }

    fn notification() -> impl Strategy<Value = Notification> {
        (recvid(), value(), opt(value()), notification_kind())
            .prop_map(|(recvid, id, password, kind)| Notification::new(recvid, id, password, kind))
    }

    // ---------------------------------------------------------------------------
    // replies

    fn control_value(kind: ControlKind) -> BoxedStrategy<Option<String>> {
        if kind.takes_value() {
            let v: BoxedStrategy<String> = match kind {
                ControlKind::SetImei => "[0-9]{15}".boxed(),
                ControlKind::ModuleCtlI => "[012]".boxed(),
                ControlKind::ModuleCtl => "[012]{1,16}".boxed(),
                ControlKind::CalloutCtl | ControlKind::StatusFlag => "[01]".boxed(),
                ControlKind::SetExpTime | ControlKind::SetOutCallInterval => {
                    any::<i32>().prop_map(|n| n.to_string()).boxed()
                }
                _ => token().boxed(),
            };
            v.prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        }
    }

    fn error_reply() -> impl Strategy<Value = ErrorReply> {
        prop_oneof![
            any::<u32>().prop_map(|sendid| ErrorReply::Password { sendid }),
            (any::<u32>(), any::<u32>(), any::<i32>()).prop_map(|(sendid, telid, errorstatus)| {
                ErrorReply::Recipient {
                    sendid,
                    telid,
                    errorstatus,
                }
            }),
            (any::<u32>(), "[^\r\n]{0,30}")
                .prop_map(|(sendid, text)| ErrorReply::Rejected { sendid, text }),
        ]
    }

    fn gsm_status() -> impl Strategy<Value = GsmStatus> {
        const RESERVED: [&str; 7] = GSM_STATUS_KEYS;
        (
            any::<u32>(),
            proptest::collection::vec(opt(value()), 7),
            proptest::collection::vec((key(&RESERVED), value()), 0..3),
        )
            .prop_map(|(sendid, slots, extra)| {
                let mut s = slots.into_iter();
                let mut next = || s.next().flatten();
                GsmStatus {
                    sendid,
                    gsm_num: next(),
                    exp_time: next(),
                    remain_time: next(),
                    gsm_state: next(),
                    imei: next(),
                    out_call_interval: next(),
                    module_down: next(),
                    extra: extra.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
                }
            })
    }

    fn not_a_line_end(s: &str) -> bool {
        !s.ends_with(['\r', '\n'])
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            any::<u32>().prop_map(|sendid| Reply::Password { sendid }),
            any::<u32>().prop_map(|sendid| Reply::Send { sendid }),
            (any::<u32>(), any::<u32>()).prop_map(|(sendid, telid)| Reply::Wait { sendid, telid }),
            (any::<u32>(), any::<u32>(), opt(any::<u32>())).prop_map(|(sendid, telid, sms_no)| {
                Reply::Ok {
                    sendid,
                    telid,
                    sms_no,
                }
            }),
            error_reply().prop_map(Reply::Error),
            any::<u32>().prop_map(|sendid| Reply::Done { sendid }),
            (any::<u32>(), body()).prop_map(|(sendid, text)| Reply::Ussd { sendid, text }),
            (
                any::<u32>(),
                body().prop_filter("line end", |s| not_a_line_end(s))
            )
                .prop_map(|(sendid, text)| Reply::UssdError { sendid, text }),
            any::<u32>().prop_map(|sendid| Reply::UssdExit { sendid }),
            (
                select(ControlKind::all().collect::<Vec<_>>()),
                any::<u32>(),
                opt("[^\r\n]{0,12}"),
                any::<bool>()
            )
                .prop_map(|(kind, sendid, value, ok)| Reply::Control {
                    kind,
                    sendid,
                    value,
                    ok
                }),
            gsm_status().prop_map(Reply::Gsm),
            (any::<u32>(), "[^\r\n]{0,30}")
                .prop_map(|(sendid, text)| Reply::GsmError { sendid, text }),
            any::<u32>().prop_map(|sendid| Reply::CfOk { sendid }),
            (any::<u32>(), "[^\r\n]{0,30}")
                .prop_map(|(sendid, text)| Reply::CfError { sendid, text }),
            (
                any::<u32>(),
                any::<bool>(),
                prop_oneof![Just(String::new()), token()]
            )
                .prop_filter("null spelling", |(_, _, n)| !is_null_word(n))
                .prop_map(|(sendid, active, number)| Reply::CfState {
                    sendid,
                    active,
                    number
                }),
            ("[a-z_]{1,10}", any::<u32>(), "[^\r\n]{0,20}")
                .prop_map(|(verb, sendid, rest)| { Reply::Other { verb, sendid, rest } }),
        ]
    }

    // ---------------------------------------------------------------------------
    // acks and commands

    fn password() -> impl Strategy<Value = crate::secret::Secret> {
        token().prop_map(crate::secret::Secret::new)
    }

    fn command() -> impl Strategy<Value = Command> {
        let control = select(ControlKind::all().collect::<Vec<_>>()).prop_flat_map(|kind| {
            (sendid(), control_value(kind), password()).prop_map(
                move |(sendid, value, password)| Command::Control {
                    sendid,
                    kind,
                    value,
                    password,
                },
            )
        });
        let cf = (
            sendid(),
            password(),
            select(CfReason::ALL.to_vec()),
            select(CfMode::ALL.to_vec()),
            opt(token()),
            opt(any::<u32>()),
        )
            .prop_filter("register needs a number", |(_, _, _, mode, number, _)| {
                *mode != CfMode::Register || number.is_some()
            })
            .prop_map(
                |(sendid, password, reason, mode, number, ftime)| Command::Cf {
                    sendid,
                    password,
                    reason,
                    mode,
                    number,
                    ftime,
                },
            );
        prop_oneof![
            (sendid(), "(?s).{1,200}").prop_map(|(sendid, text)| Command::Msg { sendid, text }),
            (sendid(), password())
                .prop_map(|(sendid, password)| Command::Password { sendid, password }),
            (sendid(), 1..=MAX_SENDID, token()).prop_map(|(sendid, telid, number)| Command::Send {
                sendid,
                telid,
                number
            }),
            sendid().prop_map(|sendid| Command::Done { sendid }),
            (sendid(), password(), "[0-9*#+]{1,12}").prop_map(|(sendid, password, code)| {
                Command::Ussd {
                    sendid,
                    password,
                    code,
                }
            }),
            (sendid(), password())
                .prop_map(|(sendid, password)| Command::UssdExit { sendid, password }),
            control,
            (sendid(), password()).prop_map(|(sendid, password)| Command::Gsm { sendid, password }),
            cf,
            (sendid(), any::<u32>(), password(), token(), "(?s).{1,100}").prop_map(
                |(stamp, line, password, number, text)| Command::OneshotSms {
                    stamp,
                    line,
                    password,
                    number,
                    text
                }
            ),
        ]
    }

    fn ack_tag() -> impl Strategy<Value = String> {
        "[A-Za-z_]{1,10}".prop_filter("command verb", |tag| {
            let verbs = [
                "MSG", "PASSWORD", "SEND", "DONE", "USSD", "USSDEXIT", "GSM", "CF", "SMS",
            ];
            !verbs.contains(&tag.as_str()) && ControlKind::from_verb(tag).is_none()
        })
    }

    fn ack() -> impl Strategy<Value = Ack> {
        prop_oneof![
            (recvid(), any::<u16>())
                .prop_map(|(count, status)| Ack::Registration { count, status }),
            (ack_tag(), recvid()).prop_map(|(tag, recvid)| Ack::Ok { tag, recvid }),
            (ack_tag(), recvid(), "[^\r\n]{0,40}").prop_map(|(tag, recvid, text)| Ack::Error {
                tag,
                recvid,
                text
            }),
        ]
    }

    // ---------------------------------------------------------------------------
    // the properties

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn notifications_round_trip(n in notification()) {
            let bytes = n.encode().map_err(|e| TestCaseError::fail(format!("{n:?}: {e}")))?;
            let Ok(Packet::Notification(mut back)) = parse_packet(&bytes) else {
                return Err(TestCaseError::fail(format!("{:?} did not parse", String::from_utf8_lossy(&bytes))));
            };
            prop_assert_eq!(back.raw.bytes(), &bytes[..]);
            back.raw = Default::default();
            prop_assert_eq!(back, n);
        }

        #[test]
        fn commands_round_trip(c in command()) {
            let bytes = c.encode().map_err(|e| TestCaseError::fail(format!("{c:?}: {e}")))?;
            let has_body = matches!(c, Command::Msg { .. } | Command::OneshotSms { .. });
            prop_assert!(has_body || !bytes.ends_with(b"\n"), "newline after {:?}", c);
            prop_assert_eq!(Command::parse(&bytes), Ok(c.clone()));
            prop_assert_eq!(parse_server_datagram(&bytes), Ok(ServerDatagram::Command(c)));
        }

        #[test]
        fn acks_round_trip(a in ack()) {
            let bytes = a.encode();
            prop_assert_eq!(Ack::parse(&bytes), Ok(a.clone()));
            prop_assert_eq!(parse_server_datagram(&bytes), Ok(ServerDatagram::Ack(a)));
        }

        #[test]
        fn acks_of_notifications_round_trip(n in notification(), accepted in any::<bool>()) {
            if let Some(ack) = n.ack(accepted) {
                prop_assert_eq!(ack.recvid(), n.recvid.as_str());
                prop_assert_eq!(ack.is_accepted(), accepted);
                prop_assert_eq!(Ack::parse(&ack.encode()), Ok(ack));
            } else {
                prop_assert!(matches!(n.kind, NotificationKind::At(_)));
            }
        }

        /// Replies whose values the formatter accepts read back unchanged. Some
        /// generated values are refused on purpose (a control value that is
        /// `ok`, an ERROR text shaped like another ERROR); those must be refused
        /// with an error, never mis-written.
        #[test]
        fn replies_round_trip(r in reply()) {
            match r.encode() {
                Ok(bytes) => {
                    prop_assert_eq!(parse_packet(&bytes), Ok(Packet::Reply(r.clone())));
                    prop_assert_eq!(parse_packet(&bytes).map(|p| match p {
                        Packet::Reply(r) => r.sendid(),
                        Packet::Notification(_) => 0,
                    }), Ok(r.sendid()));
                }
                Err(_) => prop_assert!(matches!(
                    r,
                    Reply::Control { .. } | Reply::Error(ErrorReply::Rejected { .. }) | Reply::Other { .. }
                        | Reply::GsmError { .. } | Reply::CfError { .. }
                ), "refused {:?}", r),
            }
        }
    }

    /// The refusals above must stay rare, or the property would prove little.
    #[test]
    fn few_generated_replies_are_refused() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = reply();
        let (mut refused, total) = (0, 2000);
        for _ in 0..total {
            let r = strategy
                .new_tree(&mut runner)
                .expect("strategy yields values")
                .current();
            if r.encode().is_err() {
                refused += 1;
            }
        }
        assert!(refused * 20 < total, "{refused} of {total} refused");
    }
}
