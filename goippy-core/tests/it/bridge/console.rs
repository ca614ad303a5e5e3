//! The console on the user's own number (status, log, log N, help, USSD),
//! and being a good XMPP citizen (disco, XEP-0100, pings, presence),
//! through the bridge's full dispatcher and a real Prosody.

use std::time::Duration;

use goip_sim::{CallSpec, CallWay, Event, Failure, FailureChange};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;

use crate::support::bridge::*;
use crate::support::store;

fn from_own_number(e: &Element) -> bool {
    is_chat(e) && e.attr("from") == Some(OWN_JID)
}

/// Sends a console command and returns the answer's body.
async fn ask(w: &mut World, id: &str, command: &str) -> String {
    w.users.chat(PHONE, OWN_JID, id, command, false).await;
    let m = w
        .users
        .expect("the console's answer", from_own_number)
        .await;
    assert_eq!(m.attr("to"), Some(PHONE));
    body(&m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_help_and_the_call_log() {
    let mut w = World::start(Options::default()).await;
    // The keepalive state reaches the store within its refresh.
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_state WHERE goip_id = 'goip1' AND gsm_status = 'LOGIN'",
        1,
    )
    .await;
    let status = ask(&mut w, "q1", "  Status ").await;
    assert!(
        status.starts_with("Line 2001 (goip1), +37255500000\n"),
        "{status}"
    );
    assert!(status.contains("GoIP channel: online since "), "{status}");
    assert!(status.contains("GSM: LOGIN, signal "), "{status}");
    assert!(status.contains(" dBm, "), "{status}");
    assert!(status.contains("/4 bars (CSQ "), "{status}");
    assert!(status.contains("VoIP: "), "{status}");
    assert!(status.contains("Operator: "), "{status}");
    assert!(status.contains("Remaining call time: "), "{status}");
    assert!(status.contains("Updated: "), "{status}");

    let help = ask(&mut w, "q2", "HELP").await;
    assert!(help.contains("status - the line's state"), "{help}");
    assert!(help.contains("log N"), "{help}");
    assert!(help.contains("*100#"), "{help}");

    assert_eq!(ask(&mut w, "q3", "log").await, "No calls logged.");
    for (number, cause) in [
        ("+37255511111", "Normal call clearing"),
        ("+37255522222", "User busy"),
    ] {
        w.device
            .call(
                1,
                CallSpec {
                    way: CallWay::Out,
                    number: number.into(),
                    seconds: 0,
                    cause: cause.into(),
                },
            )
            .await
            .expect("call");
        let number = number.to_string();
        w.device_event(
            "the call ends",
            move |e| matches!(e, Event::CallEnded { number: n, .. } if *n == number),
        )
        .await;
    }
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_calls WHERE event = 'HANGUP'",
        2,
    )
    .await;
    let log = ask(&mut w, "q4", "log").await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "The last 2 calls, newest first:", "{log}");
    assert!(
        lines[1].contains("  out  +37255522222  User busy  not answered"),
        "{log}"
    );
    assert!(
        lines[2].contains("  out  +37255511111  Normal call clearing"),
        "{log}"
    );
    let log = ask(&mut w, "q5", "log 1").await;
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.contains("+37255522222"), "{log}");
    assert!(!log.contains("+37255511111"), "{log}");
    // Nothing of this went to the GSM network.
    assert!(w.sent().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_round_trip_and_its_errors() {
    let mut w = World::start(Options::default()).await;
    w.users.chat(PHONE, OWN_JID, "u1", " *100# ", false).await;
    let m = w.users.expect("the USSD answer", from_own_number).await;
    assert_eq!(body(&m), "[USSD] Your balance is 10.00 EUR");
    assert_eq!(m.attr("to"), Some(USER));
    let code = match w
        .device_event("the USSD request", |e| matches!(e, Event::Ussd { .. }))
        .await
    {
        Event::Ussd { code, .. } => code,
        _ => unreachable!(),
    };
    assert_eq!(code, "*100#");
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND kind = 'ussd' AND status = 'sent' \
         AND body = '*100#' AND xmpp_id = 'u1'",
        1,
    )
    .await;

    // Neither a command nor a code: explained in a chat message (which
    // every client shows), nothing sent.
    let text = ask(&mut w, "u2", "what is my balance?").await;
    assert!(
        text.contains("is neither a command nor a USSD code, so nothing was sent. Commands: status, log, log N, help."),
        "{text}"
    );

    // The network fails it.
    w.device
        .fail(1, FailureChange::Set(Failure::UssdFail))
        .await
        .expect("fail");
    w.users.chat(PHONE, OWN_JID, "u3", "*101#", false).await;
    let e = w.users.expect("the USSD error", is_error).await;
    assert_eq!(e.attr("id"), Some("u3"));
    let (_, condition, text) = error_of(&e);
    assert_eq!(condition, "service-unavailable");
    assert!(
        text.contains("The USSD request failed: USSD send failed!"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disco_gateway_prompt_ping_and_the_component_itself() {
    let mut w = World::start(Options::default()).await;
    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='{SMS}' id='d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        ))
        .await;
    let iq = w
        .users
        .expect("disco#info", |e| e.attr("id") == Some("d1"))
        .await;
    assert_eq!(iq.attr("type"), Some("result"));
    assert_eq!(iq.attr("from"), Some(SMS));
    assert_eq!(iq.attr("to"), Some(PHONE));
    let query = iq.get_child("query", ns::DISCO_INFO).expect("query");
    let identity = query
        .get_child("identity", ns::DISCO_INFO)
        .expect("identity");
    assert_eq!(identity.attr("category"), Some("gateway"));
    assert_eq!(identity.attr("type"), Some("sms"));
    let features: Vec<&str> = query
        .children()
        .filter(|c| c.name() == "feature")
        .filter_map(|c| c.attr("var"))
        .collect();
    for f in [
        "urn:xmpp:receipts",
        "jabber:iq:gateway",
        "urn:xmpp:ping",
        ns::DISCO_INFO,
    ] {
        assert!(features.contains(&f), "{f} missing: {features:?}");
    }

    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='+37255512345@{SMS}' id='d2' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        ))
        .await;
    let iq = w
        .users
        .expect("a number's disco#info", |e| e.attr("id") == Some("d2"))
        .await;
    assert_eq!(iq.attr("from"), Some("+37255512345@sms.example.org"));
    let query = iq.get_child("query", ns::DISCO_INFO).expect("query");
    let identity = query
        .get_child("identity", ns::DISCO_INFO)
        .expect("identity");
    assert_eq!(
        (identity.attr("category"), identity.attr("type")),
        (Some("client"), Some("sms"))
    );
    assert!(String::from(query).contains("urn:xmpp:receipts"));

    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='{SMS}' id='g1' type='get'><query xmlns='jabber:iq:gateway'/></iq>"
        ))
        .await;
    let iq = w
        .users
        .expect("the prompt", |e| e.attr("id") == Some("g1"))
        .await;
    let query = iq.get_child("query", "jabber:iq:gateway").expect("query");
    assert_eq!(
        query
            .get_child("prompt", "jabber:iq:gateway")
            .map(Element::text)
            .as_deref(),
        Some("Phone Number")
    );
    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='{SMS}' id='g2' type='set'><query xmlns='jabber:iq:gateway'><prompt>+372 5551 2345</prompt></query></iq>"
        ))
        .await;
    let iq = w
        .users
        .expect("the JID", |e| e.attr("id") == Some("g2"))
        .await;
    let jid = iq
        .get_child("query", "jabber:iq:gateway")
        .and_then(|q| q.get_child("jid", "jabber:iq:gateway"))
        .map(Element::text);
    // The alias form, on XMPP_DOMAIN (mod_sms_alias routes it).
    assert_eq!(jid.as_deref(), Some("+37255512345@users.example.org"));

    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='{SMS}' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
    let iq = w
        .users
        .expect("the pong", |e| e.attr("id") == Some("p1"))
        .await;
    assert_eq!(iq.attr("type"), Some("result"));

    // Writing to the gateway itself gets a short explanation.
    w.users.chat(PHONE, SMS, "c1", "hello?", false).await;
    let m = w
        .users
        .expect("the gateway's answer", |e| {
            is_chat(e) && e.attr("from") == Some(SMS)
        })
        .await;
    assert!(
        body(&m).contains("To send an SMS, write to the number"),
        "{}",
        body(&m)
    );
    assert!(body(&m).contains("+37255500000"), "{}", body(&m));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_subscriptions_and_probes_follow_the_channel() {
    let mut w = World::start(Options::default()).await;
    let bob = contact("+37255512345");
    w.users
        .send_xml(&format!(
            "<presence from='{USER}' to='{bob}' id='s1' type='subscribe'/>"
        ))
        .await;
    let subscribed = w
        .users
        .expect("subscribed", |e| e.attr("type") == Some("subscribed"))
        .await;
    assert_eq!(subscribed.attr("from"), Some(bob.as_str()));
    assert_eq!(subscribed.attr("to"), Some(USER));
    assert_eq!(subscribed.attr("id"), Some("s1"));
    let back = w
        .users
        .expect("subscribe back", |e| e.attr("type") == Some("subscribe"))
        .await;
    assert_eq!(back.attr("from"), Some(bob.as_str()));

    w.users
        .send_xml(&format!(
            "<presence from='{USER}' to='{bob}' type='probe'/>"
        ))
        .await;
    let p = w
        .users
        .expect("the probe's answer", |e| e.name() == "presence")
        .await;
    assert_eq!(
        p.attr("type"),
        None,
        "available while the channel is online"
    );
    assert_eq!(p.attr("from"), Some(bob.as_str()));

    // A stranger never sees it online.
    w.other
        .send_xml(&format!(
            "<presence from='x@{OTHER}' to='{bob}' type='probe'/>"
        ))
        .await;
    let p = w
        .other
        .expect("the probe's answer", |e| e.name() == "presence")
        .await;
    assert_eq!(p.attr("type"), Some("unavailable"));

    // The channel falls silent: the next probe says so.
    w.silence_channel().await;
    w.users
        .send_xml(&format!(
            "<presence from='{USER}' to='{OWN_JID}' type='probe'/>"
        ))
        .await;
    let p = w
        .users
        .expect("the probe's answer", |e| e.name() == "presence")
        .await;
    assert_eq!(p.attr("type"), Some("unavailable"));
    assert_eq!(p.attr("from"), Some(OWN_JID));
    assert_eq!(status_text(&p), "GSM channel offline");
    // And the console says it too.
    let status = ask(&mut w, "q1", "status").await;
    assert!(status.contains("GoIP channel: OFFLINE since"), "{status}");
    w.users.expect_silence(Duration::from_millis(300)).await;
}

fn status_text(p: &Element) -> String {
    p.get_child("status", ns::DEFAULT_NS)
        .map(Element::text)
        .unwrap_or_default()
}

/// A second user, whose SMS is the one stuck in the tests below.
const A_EXT: &str = "2002";
const A_GOIP_ID: &str = "goip2";
const A_PHONE: &str = "2002@users.example.org/phone";

/// How soon an answer must come while another user's write is stuck: the
/// console's own bound is 2 s; without it, or stuck behind that write,
/// there is no answer until the database is back.
const PROMPT: Duration = Duration::from_secs(4);

fn with_a_second_user() -> Options {
    Options {
        gateways: vec![(A_EXT, A_GOIP_ID, None, true)],
        ..Options::default()
    }
}

/// The next stanza `wanted` holds for, within [`PROMPT`].
async fn promptly(w: &mut World, what: &str, wanted: impl FnMut(&Element) -> bool) -> Element {
    match tokio::time::timeout(PROMPT, w.users.expect(what, wanted)).await {
        Ok(e) => e,
        Err(_) => panic!("no {what} within {PROMPT:?}"),
    }
}

/// The user's disco#info and a presence probe are answered within
/// [`PROMPT`] (the probe as "online": the channel is).
async fn disco_and_presence_are_prompt(w: &mut World) {
    w.users
        .send_xml(&format!(
            "<iq from='{PHONE}' to='{SMS}' id='stall-d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        ))
        .await;
    let iq = promptly(w, "disco#info", |e| e.attr("id") == Some("stall-d1")).await;
    assert_eq!(iq.attr("type"), Some("result"));
    let bob = contact("+37255512345");
    w.users
        .send_xml(&format!(
            "<presence from='{USER}' to='{bob}' type='probe'/>"
        ))
        .await;
    let p = promptly(w, "the probe's answer", |e| e.name() == "presence").await;
    assert_eq!(p.attr("from"), Some(bob.as_str()));
    assert_eq!(p.attr("type"), None, "online: the channel is");
}

/// SQLite: another connection holds the write lock (`BEGIN IMMEDIATE`, as a
/// VACUUM or an admin's shell does; in WAL mode `BEGIN EXCLUSIVE` is the
/// same and readers go on). User A's SMS wait for it; user B's console,
/// disco and presence are answered meanwhile, `status` from the database,
/// which still reads. Once the lock goes, A's SMS are stored in the order
/// written; any beyond A's lane were answered "send it again later" — none
/// is lost in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_holds_up_only_the_writer() {
    use sqlx::Connection;
    let mut w = World::start(with_a_second_user()).await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_state WHERE goip_id = 'goip1' AND gsm_status = 'LOGIN'",
        1,
    )
    .await;
    let file = w.db.sqlite_file().expect("a SQLite world");
    let mut lock = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&file),
    )
    .await
    .expect("a connection of the admin's");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("take the write lock");

    const SENT: usize = 48;
    for i in 0..SENT {
        w.users
            .chat(
                A_PHONE,
                &contact("+37255510001"),
                &format!("a{i:02}"),
                &format!("m{i:02}"),
                false,
            )
            .await;
    }
    // What does not fit is answered at once: "send it again later".
    let turned_away = w
        .users
        .collect(Duration::from_secs(1), |e| {
            is_error(e) && e.attr("to") == Some(A_PHONE)
        })
        .await;
    for e in &turned_away {
        let (kind, condition, text) = error_of(e);
        assert_eq!(
            (kind.as_str(), condition.as_str()),
            ("wait", "resource-constraint"),
            "{text}"
        );
        assert!(text.contains("Send it again later"), "{text}");
    }

    let status = match tokio::time::timeout(PROMPT, ask(&mut w, "q1", "status")).await {
        Ok(status) => status,
        Err(_) => panic!("no status within {PROMPT:?} while another user's SMS waits"),
    };
    assert!(status.contains("GSM: LOGIN, signal "), "{status}");
    assert!(
        !status.contains("as goippy remembers it"),
        "the database still reads: {status}"
    );
    disco_and_presence_are_prompt(&mut w).await;
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'out'")
            .await,
        0,
        "the write lock really held A's SMS up"
    );

    sqlx::raw_sql("COMMIT")
        .execute(&mut lock)
        .await
        .expect("release the write lock");
    lock.close().await.expect("close");
    let stored = SENT - turned_away.len();
    eprintln!("{stored} SMS stored, {} turned away", turned_away.len());
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out'",
        i64::try_from(stored).expect("count"),
    )
    .await;
    // The first ones, in the order written; the rest were turned away.
    let turned_away_ids: Vec<String> = turned_away
        .iter()
        .filter_map(|e| e.attr("id").map(str::to_string))
        .collect();
    let expected: Vec<String> = (stored..SENT).map(|i| format!("a{i:02}")).collect();
    assert_eq!(turned_away_ids, expected);
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND body < 'm{stored:02}'"
        ))
        .await,
        i64::try_from(stored).expect("count")
    );
    assert_eq!(
        w.scalar(
            "SELECT COUNT(*) FROM goippy_log a JOIN goippy_log b ON a.id < b.id \
             WHERE a.dir = 'out' AND b.dir = 'out' AND a.body > b.body"
        )
        .await,
        0,
        "stored in the order written"
    );
}

/// Sends SIGCONT to a process stopped by SIGSTOP when dropped, so a failing
/// test does not leave it stopped.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        signal(pid, "STOP");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

/// MariaDB stops answering altogether (SIGSTOP of the server: reads hang
/// too). User A's SMS waits for it, and so does B's own; B's `status` is
/// answered from what goippy remembers of the channel's latest keepalive,
/// and says so; `log`, which has nothing in memory, gets an error saying
/// the call log cannot be read now; disco and presence are answered as
/// always. When the server goes on, both SMS are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_mariadb_holds_up_only_the_writer_and_the_console_says_so() {
    // A server of its own: this test stops it.
    let mariadb = tokio::task::block_in_place(goippy_testkit::mariadb::MariaDb::start)
        .expect("a private MariaDB");
    let db = store::TestDb::from_mysql(
        tokio::task::block_in_place(|| mariadb.create_database()).expect("database"),
    );
    let mut w = World::start_on(
        Options {
            mysql: true,
            ..with_a_second_user()
        },
        db,
    )
    .await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_state WHERE goip_id = 'goip1' AND gsm_status = 'LOGIN'",
        1,
    )
    .await;
    let stopped = Stopped::stop(mariadb.pid().expect("the server runs"));

    w.users
        .chat(A_PHONE, &contact("+37255510001"), "a1", "stuck", false)
        .await;
    // B's own SMS waits too, but not B's console.
    w.users
        .chat(PHONE, &contact("+37255510002"), "b1", "stuck too", false)
        .await;
    let status = match tokio::time::timeout(PROMPT, ask(&mut w, "q1", "status")).await {
        Ok(status) => status,
        Err(_) => panic!("no status within {PROMPT:?} while the database is stopped"),
    };
    assert!(
        status.starts_with("Line 2001 (goip1), +37255500000\n"),
        "{status}"
    );
    assert!(status.contains("GoIP channel: online since "), "{status}");
    assert!(status.contains("GSM: LOGIN, signal "), "{status}");
    assert!(
        status.ends_with(
            "goippy's database does not answer now: this is the channel's latest keepalive as goippy remembers it."
        ),
        "{status}"
    );

    w.users.chat(PHONE, OWN_JID, "q2", "log", false).await;
    let e = promptly(&mut w, "the log's error", |e| e.attr("id") == Some("q2")).await;
    assert!(is_error(&e), "{}", String::from(&e));
    assert_eq!(e.attr("from"), Some(OWN_JID));
    assert_eq!(
        error_of(&e),
        (
            "wait".into(),
            "internal-server-error".into(),
            "The call log cannot be read now: goippy's database does not answer. Try again later."
                .into()
        )
    );
    disco_and_presence_are_prompt(&mut w).await;

    drop(stopped);
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE dir = 'out' AND xmpp_id IN ('a1', 'b1')",
        2,
    )
    .await;
}

/// The sendid on a USSD's outbox row is the one its request carried on the
/// wire, also after a request that never reached the GoIP (the channel was
/// offline): an operator follows a USSD from `log_id` to `sendid` to the
/// device and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ussd_row_carries_the_sendid_its_request_went_out_with() {
    let mut w = World::start(Options::default()).await;

    // Not sent: the channel is offline for longer than offline_wait.
    w.silence_channel().await;
    w.users.chat(PHONE, OWN_JID, "u1", "*100#", false).await;
    let e = w.users.expect("the USSD error", is_error).await;
    assert_eq!(e.attr("id"), Some("u1"));
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("keepalives again");
    w.wait_until("the channel is back online", |w| {
        w.bridge()
            .probe()
            .engine()
            .channel(GOIP_ID)
            .is_some_and(|c| c.online)
    })
    .await;

    for (id, code) in [("u2", "*101#"), ("u3", "*102#")] {
        w.users.chat(PHONE, OWN_JID, id, code, false).await;
        w.users.expect("the USSD answer", from_own_number).await;
        let on_the_wire = match w
            .device_event("the USSD request", |e| matches!(e, Event::Ussd { .. }))
            .await
        {
            Event::Ussd {
                sendid, code: c, ..
            } => {
                assert_eq!(c, code);
                sendid
            }
            _ => unreachable!(),
        };
        let on_the_row = w
            .scalar(&format!(
                "SELECT sendid FROM goippy_log WHERE dir = 'out' AND kind = 'ussd' AND xmpp_id = '{id}'"
            ))
            .await;
        assert_eq!(on_the_row, i64::from(on_the_wire), "{id} ({code})");
    }
}
