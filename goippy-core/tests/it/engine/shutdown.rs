//! Graceful shutdown: no new jobs, nothing half-sent left open, acks until
//! the end, then the socket is closed.

use std::time::{Duration, Instant};

use goippy_core::engine::{
    EngineEvent, NotSent, RecipientOutcome, SmsOutcome, SmsRequest, UssdOutcome,
};
use goippy_core::goip::Command;
use tokio::net::UdpSocket;

use crate::support::engine::{
    Behaviour, Device, ID, PASSWORD, SendResult, SendUssd, fast_config, goip, start,
};

fn sms(n: u64) -> SmsRequest {
    SmsRequest::new(ID, vec![format!("+{n}"), format!("+{n}0")], "x", n)
}

#[tokio::test]
async fn a_session_waiting_for_its_result_gets_the_grace_then_unknown_and_done() {
    let mut config = fast_config();
    config.sms_timeout = Duration::from_secs(30);
    config.send_poll_after = Duration::from_secs(20);
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.send_result = SendResult::WaitThenSilence;
    device.script(goip(behaviour));

    let engine = t.engine.clone();
    let running = tokio::spawn(async move { engine.send_sms(sms(1)).await });
    device.wait_for_commands("SEND", 1).await;
    let engine = t.engine.clone();
    let queued = tokio::spawn(async move { engine.send_sms(sms(2)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    let shutdown = {
        let engine = t.engine.clone();
        tokio::spawn(async move { engine.shutdown().await })
    };
    // While the grace runs, the receive loop still acks.
    tokio::time::sleep(Duration::from_millis(50)).await;
    device.drain();
    device.keepalive(9).await;
    assert!(device.expect_ack().await.is_accepted());

    let outcome = running.await.unwrap();
    let reports = outcome.recipients();
    assert!(
        matches!(reports[0].outcome, RecipientOutcome::Unknown { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        reports[1].outcome,
        RecipientOutcome::NotSent(NotSent::Abandoned)
    );
    assert_eq!(
        queued.await.unwrap(),
        SmsOutcome::NotSent(NotSent::Stopping)
    );
    shutdown.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the grace, not the SMS deadline"
    );

    device.wait_for_commands("DONE", 1).await;
    let sendid = device.commands_named("SEND")[0].sendid();
    assert!(
        device.commands().contains(&Command::Done { sendid }),
        "the session was closed"
    );
    assert_eq!(device.commands_named("SEND").len(), 1);
    assert_eq!(
        device.commands_named("MSG").len(),
        1,
        "the queued job never started"
    );

    // Refused afterwards, and the port is free again: the socket is closed.
    assert_eq!(
        t.engine.send_sms(sms(3)).await,
        SmsOutcome::NotSent(NotSent::Stopping)
    );
    assert_eq!(t.engine.send_ussd(ID, "*100#").await, UssdOutcome::Stopping);
    assert_eq!(t.engine.end_ussd(ID).await, UssdOutcome::Stopping);
    UdpSocket::bind(t.addr())
        .await
        .expect("the engine's port is free after shutdown");
    t.engine.shutdown().await;
}

#[tokio::test]
async fn a_session_before_send_ends_not_sent_with_done() {
    let mut config = fast_config();
    config.command_retry_interval = Duration::from_secs(5);
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_msgs = 100;
    device.script(goip(behaviour));
    let engine = t.engine.clone();
    let job = tokio::spawn(async move { engine.send_sms(sms(1)).await });
    device.wait_for_commands("MSG", 1).await;
    t.engine.shutdown().await;
    assert_eq!(job.await.unwrap(), SmsOutcome::NotSent(NotSent::Stopping));
    device.wait_for_commands("DONE", 1).await;
    let sendid = device.commands_named("MSG")[0].sendid();
    assert!(device.commands().contains(&Command::Done { sendid }));
    assert!(device.commands_named("SEND").is_empty());
}

#[tokio::test]
async fn a_message_being_stored_during_shutdown_still_gets_its_ack() {
    let mut t = start(fast_config(), &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    device.receive("77", "+1", "last words").await;
    let sms = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    let engine = t.engine.clone();
    let shutdown = tokio::spawn(async move { engine.shutdown().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!shutdown.is_finished(), "shutdown waits for the store");
    sms.durable.stored();
    assert!(device.expect_ack().await.is_accepted());
    shutdown.await.unwrap();
}

/// Until every message being stored has been acked, the engine keeps
/// receiving (README, "Stopping"): a keepalive is still answered then; a
/// new message is not taken any more (no ack: the GoIP sends it to the next
/// goippy), and it never reaches the consumer.
#[tokio::test]
async fn the_engine_keeps_receiving_until_the_messages_being_stored_are_acked() {
    let mut t = start(fast_config(), &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    device.receive("78", "+1", "being stored").await;
    let sms = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    let engine = t.engine.clone();
    let shutdown = tokio::spawn(async move { engine.shutdown().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    device.drain();
    device.keepalive(10).await;
    assert!(
        device.expect_ack().await.is_accepted(),
        "a keepalive is answered while a message is being stored"
    );
    device.receive("79", "+1", "too late").await;
    device.expect_silence(Duration::from_millis(200)).await;
    t.no_event(Duration::from_millis(100), |e| {
        matches!(e, EngineEvent::Sms(_))
    })
    .await;
    sms.durable.stored();
    assert!(device.expect_ack().await.is_accepted());
    shutdown.await.unwrap();
}
