//! USSD requests over real loopback sockets, against a scripted GoIP:
//! increasing sendids, the single USSD resend, reply cleaning, late answers
//! and routing by sendid.

use std::time::{Duration, Instant};

use goippy_core::engine::{EngineEvent, RecipientOutcome, UssdOutcome, UssdSource};
use goippy_core::goip::{Command, Reply};

use crate::support::engine::{
    Answer, Behaviour, Device, ID, PASSWORD, SendUssd, fast_config, goip, online, start,
};

fn ussd_times(device: &Device) -> Vec<(u32, Instant)> {
    device
        .log()
        .iter()
        .filter_map(|s| match s.command() {
            Some(Command::Ussd { sendid, .. }) => Some((*sendid, s.at)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn ussdexit_ends_the_session_under_a_larger_sendid() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    assert!(matches!(
        t.engine.send_ussd(ID, "*123#").await,
        UssdOutcome::Reply { .. }
    ));
    assert_eq!(t.engine.end_ussd(ID).await, UssdOutcome::Closed);
    device.wait_for_commands("DONE", 2).await;
    let commands = device.commands();
    assert!(
        matches!(
            commands.as_slice(),
            [Command::Ussd { sendid: a, .. }, Command::Done { sendid: b }, Command::UssdExit { sendid: c, password }, Command::Done { sendid: d }]
                if a == b && c == d && c > a && password.expose() == PASSWORD
        ),
        "{commands:?}"
    );
}

#[tokio::test]
async fn an_unconfirmed_ussdexit_is_not_resent() {
    let mut silent = Behaviour::new(PASSWORD);
    silent.ussd_answer = None;
    let (t, device) = online(silent).await;
    assert_eq!(t.engine.end_ussd(ID).await, UssdOutcome::Timeout);
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(device.commands_named("USSDEXIT").len(), 1);
    assert_eq!(
        t.engine.end_ussd("nobody").await,
        UssdOutcome::UnknownChannel
    );
}

#[tokio::test]
async fn a_second_ussd_request_carries_a_larger_sendid() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    let first = t.engine.send_ussd(ID, "*100#").await;
    assert_eq!(
        first,
        UssdOutcome::Reply {
            text: "Your balance is 10.00".into()
        },
        "trailing @ padding stripped"
    );
    let second = t.engine.send_ussd(ID, "*101#").await;
    assert!(matches!(second, UssdOutcome::Reply { .. }));
    device.wait_for_commands("DONE", 2).await;
    let sendids: Vec<u32> = ussd_times(&device).iter().map(|(id, _)| *id).collect();
    assert_eq!(sendids.len(), 2);
    assert!(sendids[1] > sendids[0], "{sendids:?}");
    // Each request is followed by its DONE; no USSD datagram has a newline.
    let commands = device.commands();
    assert!(
        matches!(
            commands.as_slice(),
            [Command::Ussd { sendid: a, .. }, Command::Done { sendid: b }, Command::Ussd { sendid: c, .. }, Command::Done { sendid: d }]
                if a == b && c == d
        ),
        "{commands:?}"
    );
    for seen in device.log() {
        if matches!(seen.command(), Some(Command::Ussd { .. })) {
            assert!(seen.bytes.ends_with(b"*100#") || seen.bytes.ends_with(b"*101#"));
        }
    }
    // A restarted engine starts above the stored floor.
    let mut config = fast_config();
    config.sendid_floor = t.engine.highest_sendid();
    let restarted = start(config, &[(ID, PASSWORD)]).await;
    assert!(restarted.engine.highest_sendid() >= sendids[1]);
}

/// A forger who can send UDP from the GoIP's own address and port, but
/// cannot see the traffic, answers the next USSD request before the network
/// does: with the last sendid it learnt plus one (or plus a few), or with the
/// clock that sendids used to follow. The user must get the network's answer,
/// not the forger's text under their own number.
#[tokio::test]
async fn a_forged_ussd_answer_with_a_guessed_sendid_is_not_believed() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    // The network answers the second request only after its resend, which
    // gives the forger time.
    let mut network = goip(Behaviour::new(PASSWORD));
    let mut ussds = 0;
    device.script(Box::new(move |command| {
        if matches!(command, Command::Ussd { .. }) {
            ussds += 1;
            if ussds == 2 {
                return vec![];
            }
        }
        network(command)
    }));
    let first = t.engine.send_ussd(ID, "*100#").await;
    assert!(matches!(first, UssdOutcome::Reply { .. }), "{first:?}");
    let last = ussd_times(&device)[0].0;

    let engine = t.engine.clone();
    let second = tokio::spawn(async move { engine.send_ussd(ID, "*100#").await });
    device.wait_for_commands("USSD", 2).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = (now - 1_704_067_200) as u32;
    for guess in (last + 1..=last + 64).chain(clock - 5..=clock + 5) {
        device
            .reply(Reply::Ussd {
                sendid: guess,
                text: "Your account is blocked, call +666".into(),
            })
            .await;
    }
    assert_eq!(
        second.await.unwrap(),
        UssdOutcome::Reply {
            text: "Your balance is 10.00".into()
        }
    );
    let sendids: Vec<u32> = ussd_times(&device).iter().map(|(id, _)| *id).collect();
    assert_eq!(sendids.len(), 3, "the second request was resent once");
    assert!(
        sendids[1] >= last + 1024,
        "an unguessable step: {sendids:?}"
    );
}

#[tokio::test]
async fn a_lost_ussd_is_resent_once_with_the_same_sendid() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_ussd = 1;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_ussd(ID, "*100#").await;
    assert!(matches!(outcome, UssdOutcome::Reply { .. }), "{outcome:?}");
    let sent = ussd_times(&device);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].0, sent[1].0,
        "the same sendid (the GoIP's cache makes it idempotent)"
    );
    assert!(
        sent[1].1 - sent[0].1 >= Duration::from_millis(300),
        "only after ussd_timeout"
    );
}

#[tokio::test]
async fn a_silent_goip_times_out_after_one_resend_and_a_late_answer_is_an_event() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.ussd_answer = None;
    let (mut t, device) = online(behaviour).await;
    let start = Instant::now();
    let outcome = t.engine.send_ussd(ID, "*100#").await;
    assert_eq!(outcome, UssdOutcome::Timeout);
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "two timeouts"
    );
    device.wait_for_commands("DONE", 1).await;
    let sent = ussd_times(&device);
    assert_eq!(sent.len(), 2, "exactly one resend");
    let sendid = sent[0].0;

    device
        .reply(Reply::Ussd {
            sendid,
            text: "Balance 3.50@@".into(),
        })
        .await;
    let notice = t
        .next_event(|e| match e {
            EngineEvent::Ussd(n) => Some(n),
            _ => None,
        })
        .await;
    assert_eq!(notice.text, "Balance 3.50");
    assert_eq!(notice.source, UssdSource::LateReply { sendid });
    assert!(!notice.failed && notice.durable.is_none());
}

#[tokio::test]
async fn ussd_failures_are_errors() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.ussd_answer = Some("USSD send failed!".into());
    let (t, device) = online(behaviour).await;
    assert_eq!(
        t.engine.send_ussd(ID, "*100#").await,
        UssdOutcome::Error {
            text: "USSD send failed!".into()
        }
    );
    device.script(Box::new(|command| match command {
        Command::Ussd { sendid, .. } => vec![Answer::Now(Reply::UssdError {
            sendid: *sendid,
            text: "no network".into(),
        })],
        _ => vec![],
    }));
    assert_eq!(
        t.engine.send_ussd(ID, "*100#").await,
        UssdOutcome::Error {
            text: "no network".into()
        }
    );
    device.script(Box::new(|command| match command {
        Command::Ussd { sendid, .. } => vec![Answer::Now(Reply::UssdExit { sendid: *sendid })],
        _ => vec![],
    }));
    assert_eq!(t.engine.send_ussd(ID, "*100#").await, UssdOutcome::Closed);
    // A code that would inject tokens is refused before anything is sent.
    device.wait_for_commands("DONE", 3).await;
    let before = device.commands().len();
    assert!(matches!(
        t.engine.send_ussd(ID, "*100# x").await,
        UssdOutcome::Invalid(_)
    ));
    assert!(matches!(
        t.engine.send_ussd(ID, "*100#\n").await,
        UssdOutcome::Invalid(_)
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(device.commands().len(), before);
}

#[tokio::test]
async fn ussd_and_sms_on_one_channel_do_not_overlap() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.result_delay = Duration::from_millis(200);
    let (t, device) = online(behaviour).await;
    let engine = t.engine.clone();
    let sms = tokio::spawn(async move {
        engine
            .send_sms(goippy_core::engine::SmsRequest::new(
                ID,
                vec!["+1".into()],
                "x",
                1,
            ))
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ussd = t.engine.send_ussd(ID, "*100#").await;
    assert!(matches!(ussd, UssdOutcome::Reply { .. }));
    assert!(matches!(
        sms.await.unwrap().recipients()[0].outcome,
        RecipientOutcome::Sent { .. }
    ));
    device.wait_for_commands("DONE", 2).await;
    let verbs: Vec<&str> = device.commands().iter().map(Command::verb).collect();
    assert_eq!(verbs, ["MSG", "PASSWORD", "SEND", "DONE", "USSD", "DONE"]);
}
