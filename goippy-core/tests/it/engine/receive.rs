//! The receiving side of the engine over real loopback sockets: keepalives
//! and the channel registry, authentication, acks, deduplication, and the
//! durable-ack rule (no ack before the consumer stored the message or the
//! call).

use std::time::Duration;

use goippy_core::engine::{CallNoticeKind, EngineEvent, UssdOutcome, UssdSource};
use goippy_core::goip::{
    Ack, AtOutput, CallDirection, Cgatt, Command, Expiry, Hangup, NotificationKind, Record, Reply,
    State, Ussn,
};

use crate::support::engine::{
    Behaviour, Device, ID, PASSWORD, SendUssd, TestEngine, fast_config, goip, keepalive_kind,
    receive_kind, start,
};

async fn engine() -> TestEngine {
    start(fast_config(), &[(ID, PASSWORD)]).await
}

#[tokio::test]
async fn a_keepalive_is_acked_to_its_source_port() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    device.keepalive(27).await;
    let seen = device.next().await;
    assert_eq!(
        seen.bytes, b"reg:27;status:200;",
        "the documented ack, byte for byte"
    );
    let (goip_id, addr) = t
        .next_event(|e| match e {
            EngineEvent::ChannelOnline { goip_id, addr } => Some((goip_id, addr)),
            _ => None,
        })
        .await;
    assert_eq!((goip_id.as_str(), addr), (ID, device.addr()));
    let keepalive = t
        .next_event(|e| match e {
            EngineEvent::Keepalive { keepalive, .. } => Some(keepalive),
            _ => None,
        })
        .await;
    assert_eq!(keepalive.imei.as_deref(), Some("860000000000000"));
    let info = t.engine.channel(ID).expect("registered");
    assert!(info.online);
    assert_eq!(info.addr, Some(device.addr()));
    assert_eq!(
        info.keepalive.and_then(|k| k.signal.clone()),
        Some("29".to_owned())
    );
    assert_eq!(t.engine.channels().len(), 1);
}

#[tokio::test]
async fn a_changed_source_address_is_followed() {
    let mut t = engine().await;
    let mut first = Device::bind(t.addr(), ID, PASSWORD).await;
    let mut second = Device::bind(t.addr(), ID, PASSWORD).await;
    second.script(goip(Behaviour::new(PASSWORD)));
    t.bring_online(&mut first).await;

    // NAT rebinding: the same channel now speaks from another port.
    second.keepalive(2).await;
    assert_eq!(
        second.expect_ack().await,
        Ack::Registration {
            count: "2".into(),
            status: 200
        }
    );
    assert_eq!(t.engine.channel(ID).unwrap().addr, Some(second.addr()));
    // Commands follow it.
    let outcome = t.engine.send_ussd(ID, "*100#").await;
    assert_eq!(
        outcome,
        UssdOutcome::Reply {
            text: "Your balance is 10.00".into()
        }
    );
    first.expect_silence(Duration::from_millis(100)).await;
    assert!(matches!(
        second.commands().first(),
        Some(Command::Ussd { .. })
    ));
}

#[tokio::test]
async fn silence_makes_a_channel_offline_and_a_keepalive_brings_it_back() {
    let mut config = fast_config();
    config.offline_after = Duration::from_millis(300);
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let silent_for = t
        .next_event(|e| match e {
            EngineEvent::ChannelOffline {
                goip_id,
                silent_for,
            } if goip_id == ID => Some(silent_for),
            _ => None,
        })
        .await;
    assert!(silent_for >= Duration::from_millis(300));
    assert!(!t.engine.channel(ID).unwrap().online);
    // A job for an offline channel waits for it; nothing is sent meanwhile.
    let engine = t.engine.clone();
    let job = tokio::spawn(async move { engine.send_ussd(ID, "*100#").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        device.commands().is_empty(),
        "nothing is sent to an offline channel"
    );
    // Back, with keepalives often enough to stay online this time.
    let keepalive =
        goippy_core::goip::Notification::new("3", ID, Some(PASSWORD.into()), keepalive_kind())
            .encode()
            .unwrap();
    let (socket, server) = (device.socket.clone(), device.server);
    let pump = tokio::spawn(async move {
        loop {
            socket.send_to(&keepalive, server).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    t.next_event(|e| match e {
        EngineEvent::ChannelOnline { goip_id, .. } if goip_id == ID => Some(()),
        _ => None,
    })
    .await;
    assert!(t.engine.channel(ID).unwrap().online);
    // It ran once the channel was back (this device does not answer).
    assert_eq!(job.await.unwrap(), UssdOutcome::Timeout);
    device.wait_for_commands("DONE", 1).await;
    let commands = device.commands();
    assert_eq!(commands.len(), 3, "2 tries and DONE: {commands:?}");
    pump.abort();
}

#[tokio::test]
async fn a_job_for_an_offline_channel_ends_channel_offline_without_sending() {
    let mut config = fast_config();
    config.offline_wait = Duration::from_millis(200);
    let t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    let outcome = t.engine.send_ussd(ID, "*100#").await;
    assert_eq!(outcome, UssdOutcome::ChannelOffline);
    device.expect_silence(Duration::from_millis(100)).await;
    let outcome = t.engine.send_ussd("goip-unknown", "*100#").await;
    assert_eq!(outcome, UssdOutcome::UnknownChannel);
}

#[tokio::test]
async fn a_receive_retransmitted_three_times_is_one_event_and_four_acks() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    device
        .receive("1734804704", "+37255512345", "hi; there:\r\nsecond line")
        .await;
    let sms = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    assert_eq!(sms.goip_id, ID);
    assert_eq!(sms.recvid, "1734804704");
    assert_eq!(sms.srcnum, "+37255512345");
    assert_eq!(
        sms.text, "hi; there:\r\nsecond line",
        "the body is taken verbatim"
    );
    assert_eq!(sms.raw_text, None);
    // Not acked before the consumer stored it.
    device.expect_silence(Duration::from_millis(100)).await;
    sms.durable.stored();
    let ack = Ack::Ok {
        tag: "RECEIVE".into(),
        recvid: "1734804704".into(),
    };
    assert_eq!(device.expect_ack().await, ack);
    for _ in 0..3 {
        device
            .receive("1734804704", "+37255512345", "hi; there:\r\nsecond line")
            .await;
        assert_eq!(device.expect_ack().await, ack);
    }
    t.no_event(Duration::from_millis(200), |e| {
        matches!(e, EngineEvent::Sms(_))
    })
    .await;
    let stats = t.engine.stats();
    assert_eq!(stats.duplicates, 3);
    assert_eq!(stats.acks_sent, 4);
    // The same recvid with another body is another message (recvids come
    // from the device clock).
    device
        .receive("1734804704", "+37255512345", "another text")
        .await;
    let other = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    assert_eq!(other.text, "another text");
    assert_ne!(other.dedup_key, sms.dedup_key);
}

/// A GoIP without NTP reuses recvids after a reboot: the same recvid and
/// the same text after the dedup window is a new message, handed on; within
/// it, a retransmission, acked only.
#[tokio::test]
async fn a_reused_recvid_is_a_new_message_once_the_dedup_window_has_passed() {
    let mut config = fast_config();
    config.dedup_window = Duration::from_millis(400);
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    let ack = Ack::Ok {
        tag: "RECEIVE".into(),
        recvid: "17".into(),
    };
    device.receive("17", "+37255512345", "call me").await;
    let first = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    first.durable.stored();
    assert_eq!(device.expect_ack().await, ack);
    device.receive("17", "+37255512345", "call me").await;
    assert_eq!(device.expect_ack().await, ack);
    t.no_event(Duration::from_millis(100), |e| {
        matches!(e, EngineEvent::Sms(_))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    device.receive("17", "+37255512345", "call me").await;
    let again = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    assert_eq!(again.text, "call me");
    assert_eq!(
        again.dedup_key, first.dedup_key,
        "the store's key is the same"
    );
    again.durable.stored();
    assert_eq!(device.expect_ack().await, ack);
    assert_eq!(t.engine.stats().duplicates, 1);
}

#[tokio::test]
async fn a_message_that_is_not_stored_is_not_acked_and_comes_again() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    device.receive("5", "+3725551", "text").await;
    let first = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    first.durable.failed("database is locked");
    device.expect_silence(Duration::from_millis(200)).await;

    // The GoIP resends: handed over again, and this time stored.
    device.receive("5", "+3725551", "text").await;
    let second = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    assert_eq!(
        second.dedup_key, first.dedup_key,
        "the store can recognise it"
    );
    // A consumer that never answers: no ack after the bounded wait either.
    drop(second);
    device.expect_silence(Duration::from_millis(200)).await;
    device.receive("5", "+3725551", "text").await;
    let third = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        third.durable.stored();
    });
    device.expect_silence(Duration::from_millis(900)).await;
    slow.await.unwrap();
    device.receive("5", "+3725551", "text").await;
    let fourth = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    fourth.durable.stored();
    assert_eq!(
        device.expect_ack().await,
        Ack::Ok {
            tag: "RECEIVE".into(),
            recvid: "5".into()
        }
    );
    assert_eq!(t.engine.stats().not_acked, 3);
}

#[tokio::test]
async fn a_wrong_password_gets_an_error_and_no_event() {
    let mut t = engine().await;
    let mut intruder = Device::bind(t.addr(), ID, "guess").await;
    intruder.receive("9", "+1", "hello").await;
    assert_eq!(
        intruder.expect_ack().await,
        Ack::Error {
            tag: "RECEIVE".into(),
            recvid: "9".into(),
            text: "not find this id:goip-1, or password error".into()
        }
    );
    intruder.keepalive(4).await;
    assert_eq!(
        intruder.expect_ack().await,
        Ack::Registration {
            count: "4".into(),
            status: 404
        }
    );
    let mut stranger = Device::bind(t.addr(), "goip-9", PASSWORD).await;
    stranger.keepalive(1).await;
    assert!(!stranger.expect_ack().await.is_accepted());
    // A notification without any password is refused too.
    stranger
        .notify_as("3", ID, None, receive_kind("+1", "x"))
        .await;
    assert!(!stranger.expect_ack().await.is_accepted());
    t.no_event(Duration::from_millis(200), |_| true).await;
    let stats = t.engine.stats();
    assert_eq!(
        (stats.rejected, stats.channels, stats.dedup_entries),
        (4, 0, 0)
    );
    assert!(t.engine.channels().is_empty());
}

#[tokio::test]
async fn call_events_are_acked_once_logged_radio_events_at_once_and_all_deduplicated() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    let record = NotificationKind::Record(Record {
        dir: CallDirection::Incoming,
        num: "+37255512345".into(),
    });
    device.notify("7565", record.clone()).await;
    let call = t
        .next_event(|e| match e {
            EngineEvent::Call(call) => Some(call),
            _ => None,
        })
        .await;
    assert!(matches!(call.event, CallNoticeKind::Record(_)));
    call.durable.expect("RECORD is logged, so durable").stored();
    assert_eq!(
        device.expect_ack().await,
        Ack::Ok {
            tag: "RECORD".into(),
            recvid: "7565".into()
        }
    );
    device.notify("7565", record).await;
    assert!(device.expect_ack().await.is_accepted());
    t.no_event(Duration::from_millis(150), |e| {
        matches!(e, EngineEvent::Call(_))
    })
    .await;

    // The line state is not logged: acked at once, no ack to wait for.
    let state = NotificationKind::State(State {
        gsm_remain_state: "IDLE".into(),
    });
    device.notify("7568", state).await;
    assert!(device.expect_ack().await.is_accepted());
    let call = t
        .next_event(|e| match e {
            EngineEvent::Call(call) => Some(call),
            _ => None,
        })
        .await;
    assert!(matches!(call.event, CallNoticeKind::State(_)));
    assert!(call.durable.is_none());

    device
        .notify("8", NotificationKind::Cgatt(Cgatt { attached: true }))
        .await;
    assert!(device.expect_ack().await.is_accepted());
    t.next_event(|e| match e {
        EngineEvent::Other(o) if o.recvid == "8" => Some(()),
        _ => None,
    })
    .await;

    // AT tunnel output is never acked.
    let at = NotificationKind::At(AtOutput {
        count: 1,
        receive: "write:AT+CREG?".into(),
    });
    device.notify("20", at).await;
    device.expect_silence(Duration::from_millis(150)).await;
    t.next_event(|e| match e {
        EngineEvent::Other(o) if o.recvid == "20" => Some(()),
        _ => None,
    })
    .await;
}

/// The next RECORD event's ack promise.
async fn next_record(t: &mut TestEngine) -> goippy_core::engine::DurableAck {
    let call = t
        .next_event(|e| match e {
            EngineEvent::Call(call) => Some(call),
            _ => None,
        })
        .await;
    assert!(matches!(call.event, CallNoticeKind::Record(_)), "{call:?}");
    call.durable.expect("RECORD is durable")
}

/// A call log entry the consumer could not store (its store queue full
/// during a database outage) must come again, like an SMS.
#[tokio::test]
async fn a_call_event_is_acked_only_once_the_consumer_logged_it() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    let record = NotificationKind::Record(Record {
        dir: CallDirection::Outgoing,
        num: "10086".into(),
    });
    device.notify("7565", record.clone()).await;
    let first = next_record(&mut t).await;
    // Not acked while the consumer has not answered.
    device.expect_silence(Duration::from_millis(200)).await;
    first.failed("the store's queue is full");
    device.expect_silence(Duration::from_millis(200)).await;

    // The GoIP resends: handed over again; a consumer that never answers
    // gets no ack after the bounded wait either.
    device.notify("7565", record.clone()).await;
    let second = next_record(&mut t).await;
    device.expect_silence(Duration::from_millis(700)).await;
    drop(second);

    // Logged this time: acked.
    device.notify("7565", record.clone()).await;
    let third = next_record(&mut t).await;
    device.expect_silence(Duration::from_millis(100)).await;
    third.stored();
    let ack = Ack::Ok {
        tag: "RECORD".into(),
        recvid: "7565".into(),
    };
    assert_eq!(device.expect_ack().await, ack);
    // A later copy is acked again, not logged again.
    device.notify("7565", record).await;
    assert_eq!(device.expect_ack().await, ack);
    t.no_event(Duration::from_millis(200), |e| {
        matches!(e, EngineEvent::Call(_))
    })
    .await;
    assert_eq!(t.engine.stats().not_acked, 2);

    // HANGUP and EXPIRY are logged too.
    for (recvid, kind) in [
        (
            "1571812814",
            NotificationKind::Hangup(Hangup {
                num: String::new(),
                cause: "Normal call clearing".into(),
            }),
        ),
        ("1571812871", NotificationKind::Expiry(Expiry { exp: 0 })),
    ] {
        device.notify(recvid, kind).await;
        let call = t
            .next_event(|e| match e {
                EngineEvent::Call(call) => Some(call),
                _ => None,
            })
            .await;
        device.expect_silence(Duration::from_millis(100)).await;
        call.durable.expect("durable").stored();
        assert!(device.expect_ack().await.is_accepted());
    }
}

#[tokio::test]
async fn a_ussn_is_a_durable_ussd_event() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    let ussn = NotificationKind::Ussn(Ussn {
        msg: "Bonus minutes added@@".into(),
    });
    device.notify("31", ussn).await;
    let notice = t
        .next_event(|e| match e {
            EngineEvent::Ussd(n) => Some(n),
            _ => None,
        })
        .await;
    assert_eq!(notice.text, "Bonus minutes added");
    assert_eq!(
        notice.source,
        UssdSource::Network {
            recvid: "31".into()
        }
    );
    device.expect_silence(Duration::from_millis(100)).await;
    notice.durable.expect("USSN is durable").stored();
    assert!(device.expect_ack().await.is_accepted());
}

#[tokio::test]
async fn a_full_event_queue_leaves_messages_unacked_and_drops_keepalive_events() {
    let mut config = fast_config();
    config.event_capacity = 1;
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    device.receive("1", "+1", "first").await;
    // The queue now holds the first SMS; nobody reads it yet.
    tokio::time::sleep(Duration::from_millis(50)).await;
    device.receive("2", "+1", "second").await;
    device
        .notify(
            "3",
            NotificationKind::Record(Record {
                dir: CallDirection::Outgoing,
                num: "1".into(),
            }),
        )
        .await;
    device.expect_silence(Duration::from_millis(150)).await;
    // Keepalives are still acked (the registry does not need the consumer).
    device.keepalive(2).await;
    assert!(device.expect_ack().await.is_accepted());
    let stats = t.engine.stats();
    assert!(stats.not_acked >= 2, "{stats:?}");
    assert!(
        stats.events_dropped >= 3,
        "the keepalive event too: {stats:?}"
    );
    let first = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    assert_eq!(first.text, "first");
}

/// goippy sends no status or control command (`get_*`/`set_*`, `GSM`, `CF`,
/// the AT tunnel), so a GoIP's reply to one answers nothing goippy asked:
/// each is counted as a reply to no known exchange (and logged at debug
/// level) and otherwise ignored — nothing is sent back, no event, and the
/// channel goes on as before.
#[tokio::test]
async fn replies_to_commands_goippy_never_sends_are_logged_and_ignored() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let stray = [
        "get_gsm_num 5 +37255500000",
        "svr_reboot_module 6 ok",
        "GSM:7;get_gsm_num:(null);get_gsm_state:IDLE;imei:860000000000000",
        "GSMERROR 8 not support",
        "CFSTATE 9 1 +37255512345",
        "CFOK 10",
        "ATSTART 11 OK",
    ];
    for wire in stray {
        device.send_raw(wire.as_bytes()).await;
    }
    device.expect_silence(Duration::from_millis(200)).await;
    let stats = t.engine.stats();
    assert_eq!(stats.replies_unmatched, stray.len() as u64, "{stats:?}");
    assert_eq!((stats.garbage, stats.rejected), (0, 0), "{stats:?}");
    while let Ok(event) = t.events.try_recv() {
        assert!(
            matches!(event, EngineEvent::Keepalive { .. }),
            "no event for a stray reply: {event:?}"
        );
    }
    device.script(goip(Behaviour::new(PASSWORD)));
    assert!(matches!(
        t.engine.send_ussd(ID, "*100#").await,
        UssdOutcome::Reply { .. }
    ));
}

#[tokio::test]
async fn a_reply_from_another_host_is_not_believed() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let forger = Device::bind_at("127.0.0.2".parse().unwrap(), t.addr(), ID, PASSWORD).await;
    let engine = t.engine.clone();
    let job = tokio::spawn(async move { engine.send_ussd(ID, "*100#").await });
    let Command::Ussd { sendid, .. } = device.expect_command().await else {
        panic!("a USSD request")
    };
    let forged = Reply::Ussd {
        sendid,
        text: "+666".into(),
    };
    forger.reply(forged).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    device
        .reply(Reply::Ussd {
            sendid,
            text: "+372555".into(),
        })
        .await;
    assert_eq!(
        job.await.unwrap(),
        UssdOutcome::Reply {
            text: "+372555".into()
        }
    );
    assert_eq!(t.engine.stats().replies_wrong_source, 1);
}

/// A channel speaks from one socket, so its replies come from the port its
/// keepalives come from; one from another port of the same host (another
/// process, or a forger who got the IP right) is not believed.
#[tokio::test]
async fn a_reply_from_another_port_of_the_channels_host_is_not_believed() {
    let mut t = engine().await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let forger = Device::bind(t.addr(), ID, PASSWORD).await;
    assert_eq!(forger.addr().ip(), device.addr().ip());
    let engine = t.engine.clone();
    let job = tokio::spawn(async move { engine.send_ussd(ID, "*100#").await });
    let Command::Ussd { sendid, .. } = device.expect_command().await else {
        panic!("a USSD request")
    };
    forger
        .reply(Reply::Ussd {
            sendid,
            text: "+666".into(),
        })
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    device
        .reply(Reply::Ussd {
            sendid,
            text: "+372555".into(),
        })
        .await;
    assert_eq!(
        job.await.unwrap(),
        UssdOutcome::Reply {
            text: "+372555".into()
        }
    );
    assert_eq!(t.engine.stats().replies_wrong_source, 1);
}
