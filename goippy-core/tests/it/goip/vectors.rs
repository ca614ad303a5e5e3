//! Wire vectors for every GoIP packet kind, in both directions: every real
//! capture quoted in docs/goip-protocol.md, the documented shapes, and each
//! quirk of docs/goip-protocol.md#quirks. Where a vector is a capture, the
//! formatter must reproduce it byte for byte.

use goippy_core::goip::{
    Ack, CallDirection, CfMode, CfReason, Command, ControlKind, Datagram, ErrorReply, Field,
    FormatError, LineState, MAX_SMS_BYTES, Notification, NotificationKind, Packet, ParseError,
    Problem, RemainTime, Reply, ServerDatagram, ServingCell, Signal, parse_packet,
    parse_server_datagram, selfcheck, ussd_reply_failed, ussd_reply_text,
};

// ---------------------------------------------------------------------------
// helpers

fn notification(wire: &[u8]) -> Notification {
    match parse_packet(wire) {
        Ok(Packet::Notification(n)) => n,
        other => panic!(
            "{:?}: expected a notification, got {other:?}",
            Datagram::new(wire)
        ),
    }
}

fn reply(wire: &str) -> Reply {
    match parse_packet(wire.as_bytes()) {
        Ok(Packet::Reply(r)) => r,
        other => panic!("{wire:?}: expected a reply, got {other:?}"),
    }
}

fn command(wire: &str) -> Command {
    match parse_server_datagram(wire.as_bytes()) {
        Ok(ServerDatagram::Command(c)) => c,
        other => panic!("{wire:?}: expected a command, got {other:?}"),
    }
}

fn server_ack(wire: &str) -> Ack {
    match parse_server_datagram(wire.as_bytes()) {
        Ok(ServerDatagram::Ack(a)) => a,
        other => panic!("{wire:?}: expected an ack, got {other:?}"),
    }
}

fn ok_ack(n: &Notification) -> String {
    let ack = n.ack(true).expect("this notification is acked");
    String::from_utf8(ack.encode()).expect("acks are UTF-8")
}

fn encoded(n: &Notification) -> String {
    String::from_utf8(n.encode().expect("encodes")).expect("UTF-8")
}

/// A capture must parse, ack as expected, reproduce byte for byte, and pass
/// the round-trip self-check.
fn capture(wire: &str, ack: &str) -> Notification {
    let n = notification(wire.as_bytes());
    assert_eq!(ok_ack(&n), ack, "ack of {wire:?}");
    assert_eq!(encoded(&n), wire, "re-encoding of {wire:?}");
    assert_eq!(selfcheck::check_packet(wire.as_bytes()), Ok(()));
    assert!(!n.raw.is_lossy());
    assert_eq!(n.raw.bytes(), wire.as_bytes());
    n
}

// ---------------------------------------------------------------------------
// keepalive (docs/goip-protocol.md#keepalive)

const KEEPALIVE_FULL: &str = "req:27;id:gw1_ch1;pass:secret;num:;signal:29;gsm_status:LOGIN;\
voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:860000000000000;imsi:260060000000000;\
iccid:89480600000000000000;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;\
CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;";

#[test]
fn keepalive_as_real_firmware_sends_it() {
    let n = capture(KEEPALIVE_FULL, "reg:27;status:200;");
    assert_eq!(n.tag(), "req");
    assert_eq!(n.recvid, "27");
    assert_eq!(n.id, "gw1_ch1");
    assert_eq!(n.password.as_deref(), Some("secret"));
    let NotificationKind::Keepalive(k) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(k.num.as_deref(), Some(""));
    assert_eq!(k.number(), None);
    assert_eq!(k.signal.as_deref(), Some("29"));
    assert_eq!(k.signal_quality(), Some(Signal::Csq(29)));
    assert_eq!(k.signal_quality().and_then(Signal::rssi_dbm), Some(-55));
    assert_eq!(k.signal_quality().and_then(Signal::bars), Some(4));
    assert_eq!(k.gsm_status.as_deref(), Some("LOGIN"));
    assert_eq!(k.gsm_login(), Some(true));
    assert_eq!(k.voip_status.as_deref(), Some("LOGOUT"));
    assert_eq!(k.voip_login(), Some(false));
    assert_eq!(k.voip_state.as_deref(), Some("IDLE"));
    assert_eq!(k.line_state(), Some(LineState::Idle));
    assert_eq!(k.remain_time.as_deref(), Some("-1"));
    assert_eq!(k.remaining_time(), Some(RemainTime::Unlimited));
    assert_eq!(k.imei.as_deref(), Some("860000000000000"));
    assert_eq!(k.imsi.as_deref(), Some("260060000000000"));
    assert_eq!(k.iccid.as_deref(), Some("89480600000000000000"));
    assert_eq!(k.pro.as_deref(), Some("POL"));
    assert_eq!(k.idle_minutes(), Some(11));
    assert_eq!(k.is_disabled(), Some(false));
    assert_eq!(k.sms_login.as_deref(), Some("N"));
    assert_eq!(k.sms_server_login(), Some(false));
    assert_eq!(k.smb_login.as_deref(), Some(""));
    assert_eq!(k.cellinfo.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
    assert_eq!(
        k.serving_cell(),
        Some(ServingCell {
            lac: 0x7e5,
            cell_id: 0x5e5b
        })
    );
    assert_eq!(k.cgatt.as_deref(), Some("Y"));
    assert_eq!(k.packet_attached(), Some(true));
    assert!(k.extra.is_empty());
    assert_eq!(
        String::from_utf8(n.ack(false).expect("acked").encode()).expect("UTF-8"),
        "reg:27;status:404;"
    );
}

#[test]
fn keepalive_as_documented_and_in_the_old_short_form() {
    let documented = "req:10;id:goipid1;pass:password1;num:13800138000;signal:25;\
gsm_status:LOGIN;voip_status:LOGIN;imei:351234567890123;imsi:460001234567890;\
iccid:89860012345678901234;";
    let n = capture(documented, "reg:10;status:200;");
    let NotificationKind::Keepalive(k) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(k.number(), Some("13800138000"));
    assert_eq!(k.voip_state, None);
    assert_eq!(k.cgatt, None);

    let short = capture(
        "req:10;id:goipid1;pass:password1;num:13800138000;signal:20;",
        "reg:10;status:200;",
    );
    let NotificationKind::Keepalive(k) = &short.kind else {
        panic!("{short:?}")
    };
    assert_eq!(k.number(), Some("13800138000"));
    assert_eq!(k.signal_quality(), Some(Signal::Csq(20)));
    assert_eq!(k.gsm_status, None);
    assert_eq!(k.gsm_login(), None);
}

#[test]
fn keepalive_with_unknown_and_empty_fields() {
    let wire = "req:1;id:ch2;pass:p;num:(null);signal:;gsm_status:LOGOUT;voip_status:UP;\
pro:CHINA UNICOM GSM;s_l_id:3;imei:<NULL>;x_new:a:b c;\r\n";
    let n = notification(wire.as_bytes());
    let NotificationKind::Keepalive(k) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(k.num.as_deref(), Some(""));
    assert_eq!(k.signal.as_deref(), Some(""));
    assert_eq!(k.signal_quality(), None);
    assert_eq!(k.voip_login(), Some(true));
    assert_eq!(k.pro.as_deref(), Some("CHINA UNICOM GSM"));
    assert_eq!(k.imei.as_deref(), Some(""));
    assert_eq!(
        k.extra,
        [Field::new("s_l_id", "3"), Field::new("x_new", "a:b c")]
    );
    assert_eq!(k.get("x_new"), Some("a:b c"));
    assert_eq!(selfcheck::check_packet(wire.as_bytes()), Ok(()));
}

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

// ---------------------------------------------------------------------------
// the other notifications (docs/goip-protocol.md#receive to
// docs/goip-protocol.md#at-tunnel-and-other-tags)

#[test]
fn receive_capture() {
    let n = capture(
        "RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试",
        "RECEIVE 1571812849 OK",
    );
    assert_eq!(n.id, "goip-1");
    assert_eq!(n.password.as_deref(), Some("goip"));
    let NotificationKind::Receive(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(r.srcnum, "1380013800");
    assert_eq!(r.smscnum, None);
    assert_eq!(r.msg, "测试");
    assert_eq!(
        String::from_utf8(n.ack(false).expect("acked").encode()).expect("UTF-8"),
        "RECEIVE 1571812849 ERROR not find this id:goip-1, or password error"
    );
}

#[test]
fn receive_with_smsc_and_the_documented_pass_key() {
    let n = capture(
        "RECEIVE:1734804704;id:goip-1;password:goip;srcnum:BANK;smscnum:+3725099;msg:Code: 1234; ok",
        "RECEIVE 1734804704 OK",
    );
    let NotificationKind::Receive(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(r.srcnum, "BANK");
    assert_eq!(r.smscnum.as_deref(), Some("+3725099"));
    assert_eq!(r.msg, "Code: 1234; ok");

    // V-EN23's RECEIVE example writes `pass:`.
    let n = notification(b"RECEIVE:1;id:goipid1;pass:password1;srcnum:10086;msg:hi");
    assert_eq!(n.password.as_deref(), Some("password1"));
}

#[test]
fn deliver_capture() {
    let n = capture(
        "DELIVER:1571812803;id:goip-1;password:goip;sms_no:32;state:0;num:+861380013800",
        "DELIVER 1571812803 OK",
    );
    let NotificationKind::Deliver(d) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(d.sms_no, 32);
    assert_eq!(d.state, 0);
    assert!(d.delivered());
    assert_eq!(d.num.as_deref(), Some("+861380013800"));

    // Older firmware: no num; sms_no 0 is a real value.
    let n = capture(
        "DELIVER:5;id:goip-1;password:goip;sms_no:0;state:65",
        "DELIVER 5 OK",
    );
    let NotificationKind::Deliver(d) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!((d.sms_no, d.state, d.delivered()), (0, 65, false));
    assert_eq!(d.num, None);
}

#[test]
fn state_vectors() {
    let n = capture(
        "STATE:7568;id:goip1;password:password1;gsm_remain_state:IDLE",
        "STATE 7568 OK",
    );
    let NotificationKind::State(s) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(s.line_state(), LineState::Idle);

    let n = capture(
        "STATE:1571812793;id:goip-1;password:goip;gsm_remain_state:INCOMING:+380501234567",
        "STATE 1571812793 OK",
    );
    let NotificationKind::State(s) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(s.gsm_remain_state, "INCOMING:+380501234567");
    assert_eq!(s.line_state(), LineState::Incoming("+380501234567".into()));
    for (raw, state) in [
        ("IDEL", LineState::Idle),
        ("BUSY", LineState::Busy),
        ("ACTIVE", LineState::Active),
        ("DIALING:10086", LineState::Dialing("10086".into())),
        ("ALERTING:10086", LineState::Alerting("10086".into())),
        ("CONNECTED:10086", LineState::Connected("10086".into())),
    ] {
        let n = notification(format!("STATE:1;id:g;password:p;gsm_remain_state:{raw}").as_bytes());
        let NotificationKind::State(s) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(s.line_state(), state, "{raw}");
    }
}

#[test]
fn record_vectors() {
    let n = capture(
        "RECORD:7565;id:goip2;password:password2;dir:2;num:10086",
        "RECORD 7565 OK",
    );
    let NotificationKind::Record(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(r.dir, CallDirection::Outgoing);
    assert_eq!(r.num, "10086");
    // Hidden caller id.
    let n = capture(
        "RECORD:7566;id:goip2;password:password2;dir:1;num:",
        "RECORD 7566 OK",
    );
    let NotificationKind::Record(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!((r.dir, r.num.as_str()), (CallDirection::Incoming, ""));
}

#[test]
fn hangup_capture_with_the_comma_quirk() {
    let n = capture(
        "HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing",
        "HANGUP 1571812814 OK",
    );
    let NotificationKind::Hangup(h) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(h.num, "");
    assert_eq!(h.cause, "Normal call clearing");
    let n = notification(b"HANGUP:2;id:goip-1;password:goip;num:10086,cause:User busy");
    let NotificationKind::Hangup(h) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!((h.num.as_str(), h.cause.as_str()), ("10086", "User busy"));
}

#[test]
fn expiry_and_remain() {
    let n = capture(
        "EXPIRY:1571812871;id:goip-1;password:goip;exp:0",
        "EXPIRY 1571812871 OK",
    );
    assert!(matches!(&n.kind, NotificationKind::Expiry(e) if e.exp == 0));
    let n = capture(
        "REMAIN:7568;id:goip-1;password:goip;gsm_remain_time:-1",
        "REMAIN 7568 OK",
    );
    assert!(matches!(
        &n.kind,
        NotificationKind::Remain(r) if r.gsm_remain_time == RemainTime::Unlimited
    ));
    let n = notification(b"REMAIN:7569;id:goip-1;password:goip;gsm_remain_time:120");
    assert!(matches!(
        &n.kind,
        NotificationKind::Remain(r) if r.gsm_remain_time == RemainTime::Minutes(120)
    ));
}

#[test]
fn ussn_takes_the_rest_as_text() {
    let n = capture(
        "USSN:77;id:goip-1;password:goip;msg:Bonus: 5 MB; valid\r\nuntil 01.01",
        "USSN 77 OK",
    );
    let NotificationKind::Ussn(u) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(u.msg, "Bonus: 5 MB; valid\r\nuntil 01.01");
}

#[test]
fn radio_notifications() {
    let n = capture(
        "CELLS:34347;id:goip-1;password:goip;lists:689,638,783,785,640,",
        "CELLS 34347 OK",
    );
    let NotificationKind::Cells(c) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(c.cells, ["689", "638", "783", "785", "640"]);

    let n = capture(
        "BCCH:34348;id:goip-1;password:goip;bcch:689,638,783,785,640,",
        "BCCH 34348 OK",
    );
    let NotificationKind::Bcch(c) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(c.cells.len(), 5);

    let n = capture(
        "CELLINFO:34349;id:goip-1;password:goip;info:LAC:7E5,CELL ID:5E5B",
        "CELLINFO 34349 OK",
    );
    let NotificationKind::CellInfo(c) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(c.info, "LAC:7E5,CELL ID:5E5B");
    assert_eq!(
        c.serving_cell(),
        Some(ServingCell {
            lac: 0x7e5,
            cell_id: 0x5e5b
        })
    );

    let n = capture(
        "CGATT:34350;id:goip-1;password:goip;cgatt:1",
        "CGATT 34350 OK",
    );
    assert!(matches!(&n.kind, NotificationKind::Cgatt(c) if c.attached));
}

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

// ---------------------------------------------------------------------------
// commands and replies (docs/goip-protocol.md#sms-session to
// docs/goip-protocol.md#replies)

/// Commands and their exact wire form: the engine writes these bytes, the
/// simulator reads them back to the same command.
fn command_vectors() -> Vec<(Command, &'static str)> {
    let control = |kind, value: Option<&str>| Command::Control {
        sendid: 879902,
        kind,
        value: value.map(str::to_owned),
        password: "password1".into(),
    };
    vec![
        // The clean exchange, server side (docs/goip-protocol.md#sms-session).
        (
            Command::Msg {
                sendid: 11,
                text: "hello".into(),
            },
            "MSG 11 5 hello",
        ),
        (
            Command::Password {
                sendid: 11,
                password: "password1".into(),
            },
            "PASSWORD 11 password1",
        ),
        (
            Command::Send {
                sendid: 11,
                telid: 1,
                number: "+8613800138000".into(),
            },
            "SEND 11 1 +8613800138000",
        ),
        (
            Command::Send {
                sendid: 11,
                telid: 2,
                number: "+8613800138001".into(),
            },
            "SEND 11 2 +8613800138001",
        ),
        (Command::Done { sendid: 11 }, "DONE 11"),
        // The legacy one-shot form (docs/goip-protocol.md#oneshot-sms).
        (
            Command::OneshotSms {
                stamp: 1700000000,
                line: 1,
                password: "goip".into(),
                number: "+37255512345".into(),
                text: "two words\nand a line".into(),
            },
            "SMS 1700000000 1 goip +37255512345 two words\nand a line",
        ),
        // USSD (docs/goip-protocol.md#ussd).
        (
            Command::Ussd {
                sendid: 111,
                password: "password1".into(),
                code: "*100#".into(),
            },
            "USSD 111 password1 *100#",
        ),
        (
            Command::UssdExit {
                sendid: 111,
                password: "password1".into(),
            },
            "USSDEXIT 111 password1",
        ),
        // Every control command (docs/goip-protocol.md#control-commands).
        (
            control(ControlKind::GetGsmNum, None),
            "get_gsm_num 879902 password1",
        ),
        (
            control(ControlKind::SetGsmNum, Some("13800138001")),
            "set_gsm_num 879902 13800138001 password1",
        ),
        (
            control(ControlKind::GetGsmState, None),
            "get_gsm_state 879902 password1",
        ),
        (
            control(ControlKind::GetRemainTime, None),
            "get_remain_time 879902 password1",
        ),
        (
            control(ControlKind::GetExpTime, None),
            "get_exp_time 879902 password1",
        ),
        (
            control(ControlKind::SetExpTime, Some("300")),
            "set_exp_time 879902 300 password1",
        ),
        (
            control(ControlKind::ResetRemainTime, None),
            "reset_remain_time 879902 password1",
        ),
        (
            control(ControlKind::SvrDropCall, None),
            "svr_drop_call 879902 password1",
        ),
        (
            control(ControlKind::SvrRebootModule, None),
            "svr_reboot_module 879902 password1",
        ),
        (
            control(ControlKind::SvrRebootDev, None),
            "svr_reboot_dev 879902 password1",
        ),
        (
            control(ControlKind::ModuleCtlI, Some("0")),
            "module_ctl_i 879902 0 password1",
        ),
        (
            control(ControlKind::ModuleCtl, Some("10120121")),
            "module_ctl 879902 10120121 password1",
        ),
        (
            control(ControlKind::GetImei, None),
            "get_imei 879902 password1",
        ),
        (
            control(ControlKind::SetImei, Some("860000000000001")),
            "set_imei 879902 860000000000001 password1",
        ),
        (
            control(ControlKind::GetOutCallInterval, None),
            "get_out_call_interval 879902 password1",
        ),
        (
            control(ControlKind::SetOutCallInterval, Some("30")),
            "set_out_call_interval 879902 30 password1",
        ),
        (
            control(ControlKind::GetCellsList, None),
            "get_cells_list 879902 password1",
        ),
        (
            control(ControlKind::SetBaseCell, Some("689")),
            "set_base_cell 879902 689 password1",
        ),
        (
            control(ControlKind::CurCell, None),
            "CURCELL 879902 password1",
        ),
        (
            control(ControlKind::AtStart, None),
            "ATSTART 879902 password1",
        ),
        (
            control(ControlKind::AtCmd, Some("AT+CSQ")),
            "ATCMD 879902 AT+CSQ password1",
        ),
        (
            control(ControlKind::AtAlive, None),
            "ATALIVE 879902 password1",
        ),
        (
            control(ControlKind::AtStop, None),
            "ATSTOP 879902 password1",
        ),
        (
            control(ControlKind::DisableSim, None),
            "disable_sim 879902 password1",
        ),
        (
            control(ControlKind::DisableSim2, Some("1")),
            "disable_sim2 879902 1 password1",
        ),
        (
            control(ControlKind::CalloutCtl, Some("0")),
            "callout_ctl 879902 0 password1",
        ),
        (
            control(ControlKind::SetNum, Some("+37255512345")),
            "set_num 879902 +37255512345 password1",
        ),
        (
            control(ControlKind::StatusFlag, Some("1")),
            "status_flag 879902 1 password1",
        ),
        (
            Command::Gsm {
                sendid: 1,
                password: "password1".into(),
            },
            "GSM 1 password1",
        ),
        (
            Command::Cf {
                sendid: 12,
                password: "password1".into(),
                reason: CfReason::Busy,
                mode: CfMode::Register,
                number: Some("+37255512345".into()),
                ftime: Some(20),
            },
            "CF 12 password1 1 3 +37255512345 20",
        ),
        (
            Command::Cf {
                sendid: 13,
                password: "password1".into(),
                reason: CfReason::Unconditional,
                mode: CfMode::Query,
                number: None,
                ftime: None,
            },
            "CF 13 password1 0 2  ",
        ),
        (
            Command::Cf {
                sendid: 14,
                password: "password1".into(),
                reason: CfReason::All,
                mode: CfMode::Erase,
                number: None,
                ftime: None,
            },
            "CF 14 password1 4 4  ",
        ),
    ]
}

#[test]
fn every_command_has_its_exact_wire_form() {
    let vectors = command_vectors();
    for kind in ControlKind::ALL {
        assert!(
            vectors
                .iter()
                .any(|(c, _)| matches!(c, Command::Control { kind: k, .. } if *k == kind)),
            "no vector for {kind:?}"
        );
    }
    for (cmd, wire) in vectors {
        let bytes = cmd.encode().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert_eq!(String::from_utf8_lossy(&bytes), wire);
        assert!(
            !bytes.ends_with(b"\n"),
            "{wire:?} must not end with a newline"
        );
        assert_eq!(command(wire), cmd, "{wire:?}");
        assert_eq!(Command::parse(wire.as_bytes()), Ok(cmd.clone()));
        assert_eq!(selfcheck::check_server_datagram(wire.as_bytes()), Ok(()));
    }
}

#[test]
fn command_sendids() {
    for (cmd, wire) in command_vectors() {
        let second: u32 = wire
            .split(' ')
            .nth(1)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{wire:?}"));
        assert_eq!(cmd.sendid(), second, "{wire:?}");
        assert!(wire.starts_with(cmd.verb()));
    }
}

/// Replies as the GoIP sends them, and what they mean. The formatter writes
/// each back byte for byte.
fn reply_vectors() -> Vec<(&'static str, Reply)> {
    let control = |kind, value: Option<&str>, ok| Reply::Control {
        kind,
        sendid: 879902,
        value: value.map(str::to_owned),
        ok,
    };
    vec![
        // The clean exchange, GoIP side (docs/goip-protocol.md#sms-session).
        ("PASSWORD 11", Reply::Password { sendid: 11 }),
        ("SEND 11", Reply::Send { sendid: 11 }),
        (
            "WAIT 11 1",
            Reply::Wait {
                sendid: 11,
                telid: 1,
            },
        ),
        (
            "OK 11 1 160",
            Reply::Ok {
                sendid: 11,
                telid: 1,
                sms_no: Some(160),
            },
        ),
        (
            "WAIT 11 2",
            Reply::Wait {
                sendid: 11,
                telid: 2,
            },
        ),
        (
            "OK 11 2 161",
            Reply::Ok {
                sendid: 11,
                telid: 2,
                sms_no: Some(161),
            },
        ),
        ("DONE 11", Reply::Done { sendid: 11 }),
        // styryl's capture; older firmware without sms_no.
        (
            "OK 123 1 0",
            Reply::Ok {
                sendid: 123,
                telid: 1,
                sms_no: Some(0),
            },
        ),
        (
            "OK 123 2",
            Reply::Ok {
                sendid: 123,
                telid: 2,
                sms_no: None,
            },
        ),
        // The three ERROR shapes.
        (
            "ERROR 11 PASSWORD",
            Reply::Error(ErrorReply::Password { sendid: 11 }),
        ),
        (
            "ERROR 11 1 errorstatus:38",
            Reply::Error(ErrorReply::Recipient {
                sendid: 11,
                telid: 1,
                errorstatus: 38,
            }),
        ),
        (
            "ERROR 11 too_many_sends_in_server",
            Reply::Error(ErrorReply::Rejected {
                sendid: 11,
                text: "too_many_sends_in_server".into(),
            }),
        ),
        (
            "ERROR 879902 13800138001 number format error",
            Reply::Error(ErrorReply::Rejected {
                sendid: 879902,
                text: "13800138001 number format error".into(),
            }),
        ),
        // USSD (docs/goip-protocol.md#ussd).
        (
            "USSD 111 Your balance is 10.00 EUR.\nValid until: 01.02",
            Reply::Ussd {
                sendid: 111,
                text: "Your balance is 10.00 EUR.\nValid until: 01.02".into(),
            },
        ),
        (
            "USSD 112 USSD send failed!",
            Reply::Ussd {
                sendid: 112,
                text: "USSD send failed!".into(),
            },
        ),
        (
            "USSDERROR 113 network timeout",
            Reply::UssdError {
                sendid: 113,
                text: "network timeout".into(),
            },
        ),
        ("USSDEXIT 111", Reply::UssdExit { sendid: 111 }),
        // Control replies (docs/goip-protocol.md#control-commands).
        (
            "set_gsm_num 879902 13800138001 ok",
            control(ControlKind::SetGsmNum, Some("13800138001"), true),
        ),
        (
            "get_gsm_num 879902 13800138001",
            control(ControlKind::GetGsmNum, Some("13800138001"), false),
        ),
        (
            "get_gsm_num 879902 (null)",
            control(ControlKind::GetGsmNum, Some(""), false),
        ),
        (
            "get_gsm_state 879902 IDLE",
            control(ControlKind::GetGsmState, Some("IDLE"), false),
        ),
        (
            "get_exp_time 879902 300",
            control(ControlKind::GetExpTime, Some("300"), false),
        ),
        (
            "set_exp_time 879902 300 ok",
            control(ControlKind::SetExpTime, Some("300"), true),
        ),
        (
            "get_remain_time 879902 120",
            control(ControlKind::GetRemainTime, Some("120"), false),
        ),
        (
            "reset_remain_time 879902 ok",
            control(ControlKind::ResetRemainTime, None, true),
        ),
        (
            "svr_drop_call 879902 ok",
            control(ControlKind::SvrDropCall, None, true),
        ),
        (
            "svr_reboot_module 879902 ok",
            control(ControlKind::SvrRebootModule, None, true),
        ),
        (
            "svr_reboot_dev 879902 ok",
            control(ControlKind::SvrRebootDev, None, true),
        ),
        (
            "module_ctl_i 879902 ok",
            control(ControlKind::ModuleCtlI, None, true),
        ),
        (
            "module_ctl 879902 ok",
            control(ControlKind::ModuleCtl, None, true),
        ),
        (
            "get_imei 879902 860000000000000",
            control(ControlKind::GetImei, Some("860000000000000"), false),
        ),
        (
            "set_imei 879902 860000000000001 ok",
            control(ControlKind::SetImei, Some("860000000000001"), true),
        ),
        (
            "get_out_call_interval 879902 30",
            control(ControlKind::GetOutCallInterval, Some("30"), false),
        ),
        (
            "set_out_call_interval 879902 30 ok",
            control(ControlKind::SetOutCallInterval, Some("30"), true),
        ),
        (
            "get_cells_list 879902 ok",
            control(ControlKind::GetCellsList, None, true),
        ),
        (
            "set_base_cell 879902 689 ok",
            control(ControlKind::SetBaseCell, Some("689"), true),
        ),
        (
            "CURCELL 879902 5E5B",
            control(ControlKind::CurCell, Some("5E5B"), false),
        ),
        (
            "ATSTART 879902 OK",
            control(ControlKind::AtStart, None, true),
        ),
        ("ATCMD 879902 OK", control(ControlKind::AtCmd, None, true)),
        (
            "ATALIVE 879902 OK",
            control(ControlKind::AtAlive, None, true),
        ),
        ("ATSTOP 879902 OK", control(ControlKind::AtStop, None, true)),
        // The GSM query: colon style, never acked.
        (
            "GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;\
imei:000000000000000;out_call_interval:0;module_down:0",
            Reply::Gsm(goippy_core::goip::GsmStatus {
                sendid: 1,
                gsm_num: Some(String::new()),
                exp_time: Some("0".into()),
                remain_time: Some("0".into()),
                gsm_state: Some("IDLE".into()),
                imei: Some("000000000000000".into()),
                out_call_interval: Some("0".into()),
                module_down: Some("0".into()),
                extra: vec![],
            }),
        ),
        (
            "GSMERROR 2 module not ready",
            Reply::GsmError {
                sendid: 2,
                text: "module not ready".into(),
            },
        ),
        // CF.
        ("CFOK 12", Reply::CfOk { sendid: 12 }),
        (
            "CFERROR 12",
            Reply::CfError {
                sendid: 12,
                text: String::new(),
            },
        ),
        (
            "CFSTATE 13 1 +37255512345",
            Reply::CfState {
                sendid: 13,
                active: true,
                number: "+37255512345".into(),
            },
        ),
        (
            "CFSTATE 13 0",
            Reply::CfState {
                sendid: 13,
                active: false,
                number: String::new(),
            },
        ),
        // Unknown verbs are still routable.
        (
            "CW 14 1",
            Reply::Other {
                verb: "CW".into(),
                sendid: 14,
                rest: "1".into(),
            },
        ),
    ]
}

#[test]
fn every_reply_has_its_exact_wire_form() {
    for (wire, expected) in reply_vectors() {
        assert_eq!(reply(wire), expected, "{wire:?}");
        let bytes = expected
            .encode()
            .unwrap_or_else(|e| panic!("{wire:?}: {e}"));
        assert_eq!(String::from_utf8_lossy(&bytes), wire);
        assert_eq!(selfcheck::check_packet(wire.as_bytes()), Ok(()));
        // Routed by the second token (or the id after `GSM:`).
        let second = wire
            .split([' ', ':', ';'])
            .nth(1)
            .and_then(|t| t.parse::<u32>().ok());
        assert_eq!(Some(expected.sendid()), second, "{wire:?}");
    }
}

#[test]
fn gsm_reply_accessors() {
    let Reply::Gsm(status) = reply(
        "GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;\
imei:000000000000000;out_call_interval:0;module_down:0",
    ) else {
        panic!()
    };
    assert_eq!(status.number(), None);
    assert_eq!(status.line_state(), Some(LineState::Idle));
    assert_eq!(status.is_module_down(), Some(false));
    assert_eq!(status.remaining_time(), Some(RemainTime::Minutes(0)));
}

#[test]
fn ussd_reply_helpers() {
    let Reply::Ussd { text, .. } = reply("USSD 5 Balance 10.00@@@@\r\n") else {
        panic!()
    };
    assert_eq!(text, "Balance 10.00@@@@\r\n");
    assert_eq!(ussd_reply_text(&text), "Balance 10.00");
    assert!(!ussd_reply_failed(&text));
    let Reply::Ussd { text, .. } = reply("USSD 6 USSD send failed!") else {
        panic!()
    };
    assert!(ussd_reply_failed(&text));
}

// ---------------------------------------------------------------------------
// encoding, sizes and quirks (docs/goip-protocol.md#encoding,
// docs/goip-protocol.md#sizes, docs/goip-protocol.md#quirks)

#[test]
fn msg_length_is_the_utf8_byte_length() {
    for (text, bytes) in [
        ("hello", 5),
        ("Привет", 12),
        ("测试", 6),
        ("👍🏽", 8),
        ("a;b:c\r\nd", 8),
    ] {
        let cmd = Command::Msg {
            sendid: 1,
            text: text.into(),
        };
        let wire = cmd.encode().expect("valid");
        assert_eq!(wire, format!("MSG 1 {bytes} {text}").into_bytes());
        assert_eq!(command(&String::from_utf8_lossy(&wire)), cmd);
    }
}

#[test]
fn msg_over_3000_bytes_is_refused() {
    let at_limit = "я".repeat(MAX_SMS_BYTES / 2);
    assert_eq!(at_limit.len(), 3000);
    assert!(
        Command::Msg {
            sendid: 1,
            text: at_limit.clone()
        }
        .encode()
        .is_ok()
    );
    let over = format!("{at_limit}a");
    assert_eq!(
        Command::Msg {
            sendid: 1,
            text: over.clone()
        }
        .encode(),
        Err(FormatError::TextTooLong { len: 3001 })
    );
    assert_eq!(
        Command::OneshotSms {
            stamp: 1,
            line: 1,
            password: "p".into(),
            number: "1".into(),
            text: over,
        }
        .encode(),
        Err(FormatError::TextTooLong { len: 3001 })
    );
    assert_eq!(
        Command::Msg {
            sendid: 1,
            text: String::new()
        }
        .encode(),
        Err(FormatError::EmptyText)
    );
}

#[test]
fn ussd_code_rules_and_no_trailing_newline() {
    for bad in [
        "*100# ", "*100#\n", "*1 00#", "*100#\r", "", "*100#;", "abc",
    ] {
        let cmd = Command::Ussd {
            sendid: 1,
            password: "p".into(),
            code: bad.into(),
        };
        assert!(
            matches!(cmd.encode(), Err(FormatError::BadUssdCode { .. })),
            "{bad:?}"
        );
    }
    let good = Command::Ussd {
        sendid: 1,
        password: "p".into(),
        code: "*#+0123456789".into(),
    };
    let wire = good.encode().expect("valid");
    assert!(!wire.ends_with(b"\n") && !wire.ends_with(b"\r"));
    // The simulator refuses a newline after the code, as a GoIP would take it
    // into the code.
    assert!(matches!(
        parse_server_datagram(b"USSD 1 p *100#\n"),
        Err(ParseError::Command { .. })
    ));
}

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

#[test]
fn sendid_and_telid_stay_in_31_bits() {
    assert_eq!(
        Command::Done { sendid: 0 }.encode(),
        Err(FormatError::SendIdOutOfRange(0))
    );
    assert_eq!(
        Command::Done { sendid: 1 << 31 }.encode(),
        Err(FormatError::SendIdOutOfRange(1 << 31))
    );
    assert!(
        Command::Done {
            sendid: i32::MAX as u32
        }
        .encode()
        .is_ok()
    );
    assert_eq!(
        Command::Send {
            sendid: 1,
            telid: 0,
            number: "1".into()
        }
        .encode(),
        Err(FormatError::TelIdOutOfRange(0))
    );
}

#[test]
fn msg_body_keeps_semicolons_colons_and_line_breaks() {
    let wire = b"RECEIVE:1;id:g;password:p;srcnum:+3725551;msg:a;b:c;msg:d\r\ne\r\n";
    let n = notification(wire);
    let NotificationKind::Receive(r) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(r.msg, "a;b:c;msg:d\r\ne\r\n");
    assert_eq!(n.encode().expect("encodes"), wire);
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

fn reply_bytes(wire: &[u8]) -> Reply {
    match parse_packet(wire) {
        Ok(Packet::Reply(r)) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn values_with_colons_and_spaces() {
    let n = notification(b"req:1;id:g;pass:p;pro:CHINA UNICOM GSM;CELLINFO:LAC:7E5,CELL ID:5E5B;");
    let NotificationKind::Keepalive(k) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!(k.pro.as_deref(), Some("CHINA UNICOM GSM"));
    assert_eq!(k.cellinfo.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
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
fn garbage_is_not_a_packet() {
    for wire in [&b""[..], b"\r\n", b"hello", b"12345", b":::", b"\xff\xfe"] {
        assert!(parse_packet(wire).is_err(), "{wire:?}");
        assert!(parse_server_datagram(wire).is_err(), "{wire:?}");
    }
}

#[test]
fn simulator_formatters_refuse_what_would_read_back_differently() {
    use goippy_core::goip::{Keepalive, Receive};
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
        NotificationKind::State(goippy_core::goip::State {
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
