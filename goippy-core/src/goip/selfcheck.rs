//! Consistency checks over arbitrary bytes, shared by the fuzz targets
//! (`goippy-core/fuzz/`) and the proptests, so the fuzzer exercises exactly
//! the code the tests do.
//!
//! For any datagram, the parser must return (never panic), and whatever it
//! accepts must survive a round trip: if the parsed value can be encoded at
//! all, the encoding must parse back to the same value. (Encoding may
//! legitimately refuse a parsed value, e.g. a keepalive with a field repeated,
//! which is kept as an extra field and would read back into the named one.)

use super::datagram::{Datagram, escape_for_log};
use super::{Packet, ParseError, parse_packet, parse_server_datagram};

fn without_raw(packet: Packet) -> Packet {
    match packet {
        Packet::Notification(mut n) => {
            n.raw = Datagram::default();
            Packet::Notification(n)
        }
        reply => reply,
    }
}

/// Parses `bytes` as a packet a GoIP sends and checks the round trip.
/// `Err` describes a violation.
pub fn check_packet(bytes: &[u8]) -> Result<(), String> {
    let Ok(first) = parse_packet(bytes) else {
        return Ok(());
    };
    let Ok(encoded) = first.encode() else {
        return Ok(());
    };
    let again: Result<Packet, ParseError> = parse_packet(&encoded);
    match again {
        Ok(again) if without_raw(again.clone()) == without_raw(first.clone()) => Ok(()),
        other => Err(format!(
            "\"{}\" parsed as {first:?}, which encodes as \"{}\", which parses as {other:?}",
            escape_for_log(bytes),
            escape_for_log(&encoded),
        )),
    }
}

/// Parses `bytes` as a datagram a server sends and checks the round trip.
pub fn check_server_datagram(bytes: &[u8]) -> Result<(), String> {
    let Ok(first) = parse_server_datagram(bytes) else {
        return Ok(());
    };
    let Ok(encoded) = first.encode() else {
        return Ok(());
    };
    match parse_server_datagram(&encoded) {
        Ok(again) if again == first => Ok(()),
        other => Err(format!(
            "\"{}\" parsed as {first:?}, which encodes as \"{}\", which parses as {other:?}",
            escape_for_log(bytes),
            escape_for_log(&encoded),
        )),
    }
}

/// Both checks, for a test that feeds any bytes to either side.
#[cfg(test)]
pub(crate) fn check_any(bytes: &[u8]) -> Result<(), String> {
    check_packet(bytes)?;
    check_server_datagram(bytes)
}

#[cfg(test)]
mod tests {
    //! Parsing never panics, whatever arrives: both entry points, fed arbitrary
    //! bytes and — to reach deep into each parser — datagrams assembled from the
    //! protocol's own fragments (tags, keys, separators, numbers, line breaks,
    //! invalid UTF-8). Every accepted datagram must also survive the re-encoding
    //! round trip of [`selfcheck`], the same check the fuzz target runs.

    use crate::goip::{parse_packet, parse_server_datagram, selfcheck};
    use proptest::prelude::*;
    use proptest::sample::select;

    const FRAGMENTS: &[&[u8]] = &[
        b"req:",
        b"reg:",
        b"RECEIVE:",
        b"DELIVER:",
        b"STATE:",
        b"RECORD:",
        b"HANGUP:",
        b"EXPIRY:",
        b"REMAIN:",
        b"USSN:",
        b"CELLS:",
        b"CELLINFO:",
        b"BCCH:",
        b"CGATT:",
        b"AT:",
        b"NUMRECORD:",
        b"GSM:",
        b"X:",
        b"id:",
        b"pass:",
        b"password:",
        b"srcnum:",
        b"smscnum:",
        b"msg:",
        b"receive:",
        b"count:",
        b"sms_no:",
        b"state:",
        b"num:",
        b",cause:",
        b"dir:",
        b"exp:",
        b"gsm_remain_time:",
        b"lists:",
        b"bcch:",
        b"info:",
        b"cgatt:",
        b"status:",
        b"signal:",
        b"get_gsm_num:",
        b";",
        b":",
        b",",
        b" ",
        b"  ",
        b"\r\n",
        b"\n",
        b"\t",
        b"(null)",
        b"<NULL>",
        b"0",
        b"1",
        b"-1",
        b"11",
        b"99",
        b"2147483647",
        b"2147483648",
        b"4294967296",
        b"18446744073709551616",
        b"MSG ",
        b"PASSWORD ",
        b"SEND ",
        b"WAIT ",
        b"OK ",
        b"ok",
        b"ERROR ",
        b"DONE ",
        b"USSD ",
        b"USSDERROR ",
        b"USSDEXIT ",
        b"GSM ",
        b"GSMERROR ",
        b"CF ",
        b"CFOK ",
        b"CFERROR ",
        b"CFSTATE ",
        b"SMS ",
        b"get_gsm_num ",
        b"set_gsm_num ",
        b"module_ctl ",
        b"set_imei ",
        b"ATCMD ",
        b"CURCELL ",
        b"errorstatus:",
        b"PASSWORD",
        b"*100#",
        b"+37255512345",
        b"\xd0\x9f\xd1\x80",
        b"\xe6\xb5\x8b",
        b"\xf0\x9f\x91",
        b"\xff",
        b"\xc3",
        b"\x00",
    ];

    fn fragments() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(select(FRAGMENTS), 0..24).prop_map(|parts| parts.concat())
    }

    const TAGS: &[&str] = &[
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
        "GSM",
        "FUTURE",
    ];
    const KEYS: &[&str] = &[
        "id",
        "pass",
        "password",
        "srcnum",
        "smscnum",
        "msg",
        "receive",
        "count",
        "sms_no",
        "state",
        "num",
        "dir",
        "exp",
        "gsm_remain_state",
        "gsm_remain_time",
        "lists",
        "bcch",
        "info",
        "cgatt",
        "signal",
        "CELLINFO",
        "get_gsm_num",
        "module_down",
        "x",
    ];
    const VALUES: &[&str] = &[
        "",
        "0",
        "1",
        "2",
        "-1",
        "99",
        "4294967296",
        "(null)",
        "<NULL>",
        "IDLE",
        "INCOMING:+380",
        ",cause:Normal call clearing",
        "LAC:7E5,CELL ID:5E5B",
        "689,638,",
        "a b",
        "a;b",
        "x\r\n",
        "测试",
        "\u{fffd}",
    ];
    const VERBS: &[&str] = &[
        "PASSWORD",
        "SEND",
        "WAIT",
        "OK",
        "ERROR",
        "DONE",
        "USSD",
        "USSDERROR",
        "USSDEXIT",
        "GSM",
        "GSMERROR",
        "CF",
        "CFOK",
        "CFERROR",
        "CFSTATE",
        "SMS",
        "MSG",
        "get_gsm_num",
        "set_gsm_num",
        "module_ctl",
        "set_imei",
        "ATCMD",
        "CURCELL",
        "RECEIVE",
        "CW",
    ];
    const TOKENS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "5",
        "-1",
        "11",
        "4294967296",
        "p",
        "ok",
        "OK",
        "PASSWORD",
        "errorstatus:38",
        "errorstatus:x",
        "(null)",
        "*100#",
        "+37255512345",
        "10120121",
        "860000000000000",
        "hello world",
        "\n",
        "",
    ];

    /// Datagrams with a real head (`TAG:<id>;id:…` or `VERB <id>`) and random
    /// but plausible fields or tokens after it.
    fn shaped() -> impl Strategy<Value = Vec<u8>> {
        let colon = (
            select(TAGS),
            select(TOKENS),
            proptest::collection::vec((select(KEYS), select(VALUES)), 0..8),
            any::<bool>(),
        )
            .prop_map(|(tag, id, fields, trailing)| {
                let mut s = format!("{tag}:{id}");
                for (k, v) in fields {
                    s.push_str(&format!(";{k}:{v}"));
                }
                if trailing {
                    s.push(';');
                }
                s.into_bytes()
            });
        let space = (
            select(VERBS),
            select(TOKENS),
            proptest::collection::vec(select(TOKENS), 0..7),
        )
            .prop_map(|(verb, id, rest)| {
                let mut s = format!("{verb} {id}");
                for t in rest {
                    s.push(' ');
                    s.push_str(t);
                }
                s.into_bytes()
            });
        let ack = (
            select(TAGS),
            select(TOKENS),
            select(
                &[
                    "OK",
                    "OK x",
                    "ERROR",
                    "ERROR not find this id:g, or password error",
                    "MAYBE",
                ][..],
            ),
        )
            .prop_map(|(tag, id, word)| format!("{tag} {id} {word}").into_bytes());
        let registration = (
            select(&["reg:", "req:"][..]),
            select(TOKENS),
            select(
                &[
                    ";status:200;",
                    ";status:0",
                    ";status:x;",
                    ";v:1;status:404;",
                    "",
                ][..],
            ),
        )
            .prop_map(|(head, id, tail)| format!("{head}{id}{tail}").into_bytes());
        prop_oneof![colon, space, ack, registration]
    }

    fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
        // Plain calls first: a panic here is the failure this file is about.
        let _ = parse_packet(bytes);
        let _ = parse_server_datagram(bytes);
        selfcheck::check_any(bytes).map_err(TestCaseError::fail)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            check(&bytes)?;
        }

        #[test]
        fn protocol_shaped_bytes_never_panic(bytes in fragments()) {
            check(&bytes)?;
        }

        #[test]
        fn packet_shaped_bytes_never_panic(bytes in shaped()) {
            check(&bytes)?;
        }

        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,200}") {
            check(text.as_bytes())?;
        }
    }

    /// The shaped generator does reach the parsers' success paths (otherwise
    /// the round-trip half of the check would test little).
    #[test]
    fn shaped_bytes_reach_both_parsers() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = shaped();
        let (mut packets, mut server) = (0, 0);
        for _ in 0..5000 {
            let bytes = strategy
                .new_tree(&mut runner)
                .expect("strategy yields values")
                .current();
            packets += usize::from(parse_packet(&bytes).is_ok());
            server += usize::from(parse_server_datagram(&bytes).is_ok());
        }
        println!("{packets} packets and {server} server datagrams parsed of 5000");
        assert!(packets > 500, "only {packets} packets parsed");
        assert!(server > 250, "only {server} server datagrams parsed");
    }

    /// Inputs the fuzz targets once failed on, kept so they stay fixed.
    #[test]
    fn fuzzer_findings_stay_fixed() {
        let findings: &[&[u8]] = &[
            // A keepalive ack behind leading whitespace was read as a
            // space-style ack with the tag `req:27;id`, which re-encoded as a
            // broken keepalive ack.
            b"\x0creq:27;id 08 ERROR x",
            b" GSM:1;x 5",
        ];
        for bytes in findings {
            assert_eq!(selfcheck::check_any(bytes), Ok(()), "{bytes:?}");
        }
    }
}
