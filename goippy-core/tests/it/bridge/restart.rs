//! goippy (the bridge, in process) restarted on the same database with
//! outbound jobs pending: a queued job is sent exactly once after the
//! restart; a job that was being sent ends as unknown, the user is told once,
//! and it is never sent again. Each scenario runs on SQLite and on a real
//! MariaDB. The device's own log counts what really went out.

use std::time::Duration;

use goip_sim::{Event, Failure, FailureChange};
use goippy_core::store::{OutboundKind, OutboundOptions, OutboundRecord};
use tokio_xmpp::minidom::Element;

use crate::support::bridge::*;

const BOB: &str = "+37255512345";

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(false).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name(true).await
                }
            }
        )*
    };
}

on_both_backends!(
    a_queued_sms_waits_through_a_restart_and_is_sent_once,
    an_sms_interrupted_while_sending_is_never_sent_again,
    jobs_a_crash_left_behind_are_settled_at_start,
);

/// The note about a failure: a chat from `from` quoting `text`.
fn note_about(from: &str, text: &str) -> impl FnMut(&Element) -> bool {
    let (from, quote) = (from.to_string(), format!("> {text}\n"));
    move |e| is_chat(e) && e.attr("from") == Some(from.as_str()) && body(e).starts_with(&quote)
}

fn count_sent(sent: &[goip_sim::SentSms], text: &str) -> usize {
    sent.iter().filter(|s| s.text == text).count()
}

/// The channel is offline when the user writes, so the job waits in the
/// engine; goippy stops meanwhile (the job stays queued, nothing was sent);
/// the next goippy sends it when the channel is back — once.
async fn a_queued_sms_waits_through_a_restart_and_is_sent_once(mysql: bool) {
    let mut w = World::start(Options {
        mysql,
        offline_wait: Duration::from_secs(60),
        ..Options::default()
    })
    .await;
    w.silence_channel().await;
    w.users
        .chat(PHONE, &contact(BOB), "q1", "patience", true)
        .await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND xmpp_id = 'q1' AND status = 'queued'",
        1,
    )
    .await;
    w.stop_bridge().await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'q1' AND status = 'queued'")
            .await,
        1,
        "still queued after the stop"
    );
    w.users.expect_silence(Duration::from_millis(300)).await;

    w.device.fail(1, FailureChange::Off).await.expect("wake up");
    w.start_bridge().await;
    let sms_no = match w
        .device_event(
            "the SMS is sent",
            |e| matches!(e, Event::SmsSent { text, .. } if text == "patience"),
        )
        .await
    {
        Event::SmsSent { sms_no, .. } => sms_no,
        _ => unreachable!(),
    };
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'q1' AND status = 'sent'",
        1,
    )
    .await;
    // The receipt request survived the restart too.
    w.device
        .deliver_report(1, sms_no, 0, Some(BOB))
        .await
        .expect("deliver");
    let r = w
        .users
        .expect("the receipt", |e| receipt_id(e).is_some())
        .await;
    assert_eq!(receipt_id(&r).as_deref(), Some("q1"));
    // One more restart changes nothing.
    w.stop_bridge().await;
    w.start_bridge().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count_sent(&w.sent().await, "patience"), 1);
    w.users.expect_silence(Duration::from_millis(300)).await;
}

/// The GoIP takes the SEND but never reports a result; goippy stops while
/// it waits. The job ends unknown, the user gets one error, and no restart
/// ever sends it again.
async fn an_sms_interrupted_while_sending_is_never_sent_again(mysql: bool) {
    let mut w = World::start(Options {
        mysql,
        sms_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .await;
    w.device
        .fail(1, FailureChange::Set(Failure::NoResult))
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(BOB), "i1", "in flight", false)
        .await;
    w.device_event("the SEND", |e| matches!(e, Event::SendQueued { .. }))
        .await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'i1' AND status = 'sending'",
        1,
    )
    .await;
    w.stop_bridge().await;
    let e = w
        .users
        .expect("the interruption error", error_for("i1"))
        .await;
    let (kind, condition, text) = error_of(&e);
    assert_eq!(
        (kind.as_str(), condition.as_str()),
        ("cancel", "remote-server-timeout")
    );
    assert!(
        text.contains("goippy restarted while this SMS was being sent"),
        "{text}"
    );
    w.users
        .expect("the note", note_about(&contact(BOB), "in flight"))
        .await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'i1' AND status = 'unknown'")
            .await,
        1
    );

    w.device.fail(1, FailureChange::Off).await.expect("heal");
    let mut sends = w.device.subscribe();
    w.start_bridge().await;
    w.stop_bridge().await;
    w.start_bridge().await;
    // A new message goes through, the interrupted one never again.
    w.users
        .chat(PHONE, &contact(BOB), "i2", "after", false)
        .await;
    w.device_event(
        "the new SMS",
        |e| matches!(e, Event::SmsSent { text, .. } if text == "after"),
    )
    .await;
    let mut new_sessions = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(10), sends.next()).await {
        if let Event::SessionOpened { text, .. } = e {
            new_sessions.push(text);
        }
    }
    assert_eq!(new_sessions, vec!["after".to_string()]);
    assert_eq!(count_sent(&w.sent().await, "in flight"), 0);
    w.users.expect_silence(Duration::from_millis(300)).await;
}

/// goippy crashed: one job still `queued`, one `sending`, one USSD `queued`.
/// The next start sends the first once, ends the second as unknown and the
/// third as not sent, telling the user about each exactly once.
async fn jobs_a_crash_left_behind_are_settled_at_start(mysql: bool) {
    let mut w = World::start(Options {
        mysql,
        ..Options::default()
    })
    .await;
    w.stop_bridge().await;
    let store = w.store().await;
    let job = |id: &str, body: &str, kind: OutboundKind| OutboundRecord {
        ext: EXT.into(),
        goip_id: GOIP_ID.into(),
        xmpp_from: PHONE.into(),
        xmpp_id: Some(id.into()),
        destination: if kind == OutboundKind::Sms {
            BOB
        } else {
            OWN_NUMBER
        }
        .into(),
        body: body.into(),
        kind,
    };
    let options = |to: &str| OutboundOptions {
        receipt_requested: false,
        xmpp_to: Some(to.into()),
    };
    store
        .enqueue_outbound(
            job("c1", "left queued", OutboundKind::Sms),
            options(&contact(BOB)),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    let sending = store
        .enqueue_outbound(
            job("c2", "left sending", OutboundKind::Sms),
            options(&contact(BOB)),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store.mark_sending(sending, 1).await.expect("sending");
    store
        .enqueue_outbound(job("c3", "*100#", OutboundKind::Ussd), options(OWN_JID))
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store.close().await.expect("close");

    w.start_bridge().await;
    w.device_event(
        "the queued SMS",
        |e| matches!(e, Event::SmsSent { text, .. } if text == "left queued"),
    )
    .await;
    let e = w.users.expect("the unknown outcome", error_for("c2")).await;
    assert!(error_of(&e).2.contains("may or may not have been sent"));
    assert_eq!(e.attr("from"), Some(contact(BOB).as_str()));
    w.users
        .expect("its note", note_about(&contact(BOB), "left sending"))
        .await;
    let e = w.users.expect("the USSD not sent", error_for("c3")).await;
    assert_eq!(e.attr("from"), Some(OWN_JID));
    assert!(
        error_of(&e)
            .2
            .contains("The USSD request was not sent: goippy restarted before sending it"),
        "{:?}",
        error_of(&e)
    );
    w.users
        .expect("its note", note_about(OWN_JID, "*100#"))
        .await;
    for (id, status) in [("c1", "sent"), ("c2", "unknown"), ("c3", "failed")] {
        w.wait_for_count(
            &format!(
                "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = '{id}' AND status = '{status}'"
            ),
            1,
        )
        .await;
    }
    // A second start finds nothing left to do and tells nobody anything,
    // and the engine stays above every sendid used before.
    let used = w.bridge().probe().engine().highest_sendid();
    w.stop_bridge().await;
    let store = w.store().await;
    let floor = store.sendid_floor().await.expect("floor");
    store.close().await.expect("close");
    assert!(floor >= used, "saved {floor}, used {used}");
    w.start_bridge().await;
    assert!(w.bridge().probe().engine().highest_sendid() >= used);
    w.users.expect_silence(Duration::from_millis(800)).await;
    let sent = w.sent().await;
    assert_eq!(count_sent(&sent, "left queued"), 1);
    assert_eq!(count_sent(&sent, "left sending"), 0);
    assert_eq!(w.device.status(1).await.expect("status").ussd_queries, 0);
}

/// The systemd watchdog asks [`goippy_core::bridge::Bridge::stopped_tasks`]:
/// every task that matters counts, not only the bridge's own flows. A
/// database writer or a UDP receive loop that has stopped is named there,
/// so the pings stop and systemd restarts goippy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_sees_every_task_that_matters() {
    let world = World::start(Options::default()).await;
    let bridge = world.bridge();
    assert!(
        bridge.stopped_tasks().is_empty(),
        "{:?}",
        bridge.stopped_tasks()
    );
    // The writer ends (as it would if it died).
    let _ = bridge.probe().store().close().await;
    assert!(
        bridge.stopped_tasks().contains(&"the database writer"),
        "{:?}",
        bridge.stopped_tasks()
    );
    // The engine's receive loop ends.
    bridge.probe().engine().shutdown().await;
    assert!(
        bridge
            .stopped_tasks()
            .contains(&"the UDP receive loop or the sweeper"),
        "{:?}",
        bridge.stopped_tasks()
    );
    assert!(!bridge.stopped_tasks().is_empty());
}
