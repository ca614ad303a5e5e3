//! What the inbox pump sends, through a real Prosody: a failure is an error
//! on the user's message *and* a note quoting it, which Prosody stores for a
//! user who is offline (what Prosody keeps, and why both, is in
//! `bridge/notice.rs`); and a row Prosody has confirmed but the database
//! refuses to mark delivered (a trigger raising MySQL's 1114 "table is
//! full", or SQLite's equivalent) is sent once, not again every round, and
//! the log says so.
#![cfg(feature = "daemon")]

mod bridge_support;
mod store_support;

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bridge_support::*;
use goip_sim::{Event, Failure, FailureChange};
use tokio_xmpp::minidom::Element;

const BOB: &str = "+37255599999";
/// How the user wrote BOB's number: notes and errors come from this JID.
const BOB_AS_WRITTEN: &str = "0037255599999";

fn error_for(id: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_error(e) && e.attr("id") == Some(id)
}

fn chat_from(node: &'static str) -> impl FnMut(&Element) -> bool {
    move |e| is_chat(e) && e.attr("from") == Some(contact(node).as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_an_error_on_the_message_and_a_note_quoting_it() {
    let mut w = World::start(Options::default()).await;

    // The GoIP refuses the SMS.
    w.device
        .fail(
            1,
            FailureChange::Set(Failure::ErrorStatus {
                code: 38,
                destination: None,
            }),
        )
        .await
        .expect("fail");
    let to = contact(BOB_AS_WRITTEN);
    w.users
        .chat(PHONE, &to, "f1", "Meet me\n  at five", true)
        .await;
    let error = w.users.expect("the error", error_for("f1")).await;
    assert_eq!(error.attr("to"), Some(PHONE), "the sending device");
    assert_eq!(error.attr("from"), Some(to.as_str()));
    let (_, condition, said) = error_of(&error);
    assert_eq!(condition, "service-unavailable");
    let note = w.users.expect("the note", chat_from(BOB_AS_WRITTEN)).await;
    assert_eq!(note.attr("to"), Some(USER), "every device: the bare JID");
    assert_eq!(body(&note), format!("> Meet me at five\n{said}"));
    assert!(said.contains("errorstatus 38"), "{said}");
    // One error and one note, nothing more.
    w.users.expect_silence(Duration::from_millis(800)).await;

    // Sent, but the network reports it not delivered (state 70).
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("fail off");
    w.users.chat(PHONE, &to, "f2", "are you there?", true).await;
    let Event::SmsSent { sms_no, .. } = w
        .device_event(
            "the SMS is sent",
            |e| matches!(e, Event::SmsSent { text, .. } if text == "are you there?"),
        )
        .await
    else {
        unreachable!("matched above")
    };
    w.device
        .deliver_report(1, sms_no, 70, Some(BOB))
        .await
        .expect("deliver");
    let error = w.users.expect("the delivery error", error_for("f2")).await;
    let (_, condition, said) = error_of(&error);
    assert_eq!(condition, "recipient-unavailable");
    let note = w.users.expect("the note", chat_from(BOB_AS_WRITTEN)).await;
    assert_eq!(note.attr("to"), Some(USER));
    assert_eq!(body(&note), format!("> are you there?\n{said}"));
    w.users.expect_silence(Duration::from_millis(800)).await;
}

/// Every log line of this test binary (the bridges run in-process).
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("goippy_core=info"))
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
        Mutex::new(Vec::new())
    })
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured_log()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A trigger that refuses to mark the row with body 'poison' delivered,
/// as a table that is full refuses it: permanently, for that row only.
fn refuse_marking_poison(kind: store_support::Kind) -> &'static str {
    match kind {
        store_support::Kind::MySql => {
            "CREATE TRIGGER refuse_poison BEFORE UPDATE ON goippy_log FOR EACH ROW \
             IF NEW.status = 'delivered' AND OLD.body = 'poison' THEN \
             SIGNAL SQLSTATE 'HY000' SET MESSAGE_TEXT = 'The table ''goippy_log'' is full', \
             MYSQL_ERRNO = 1114; \
             END IF"
        }
        store_support::Kind::Sqlite => {
            "CREATE TRIGGER refuse_poison BEFORE UPDATE ON goippy_log \
             WHEN NEW.status = 'delivered' AND OLD.body = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        }
    }
}

async fn a_row_the_database_refuses_to_mark_delivered_is_sent_once(mysql: bool) {
    // One backend at a time: the log is shared, and both databases number
    // their rows alike.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    captured_log()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    let mut w = World::start(Options {
        mysql,
        ..Options::default()
    })
    .await;
    w.db.exec(refuse_marking_poison(w.db.kind)).await;
    w.receive("+37255512345", "poison").await;
    w.receive("+37255512345", "fine").await;
    // The pump looks at the inbox every second here (and whenever a row is
    // added): several rounds, each of which finds 'poison' still there.
    let got = w
        .users
        .collect(Duration::from_secs(5), |e| {
            is_chat(e) && e.attr("from") == Some(contact("+37255512345").as_str())
        })
        .await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, ["poison", "fine"], "each once, in order");
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE body = 'fine' AND status = 'delivered'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE body = 'poison' AND status = 'inbox'")
            .await,
        1,
        "the database really refused it"
    );
    let poison = w
        .scalar("SELECT id FROM goippy_log WHERE body = 'poison'")
        .await;
    let log = String::from_utf8_lossy(&captured_log().lock().unwrap_or_else(|p| p.into_inner()))
        .into_owned();
    let told: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("refuses to mark an inbox row delivered")
                && l.contains(&format!("log_id={poison} "))
        })
        .collect();
    assert_eq!(told.len(), 1, "the operator is told, once: {told:#?}");
}

mod a_row_the_database_refuses_to_mark_delivered_is_sent_once {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_row_the_database_refuses_to_mark_delivered_is_sent_once(false).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::a_row_the_database_refuses_to_mark_delivered_is_sent_once(true).await
    }
}
