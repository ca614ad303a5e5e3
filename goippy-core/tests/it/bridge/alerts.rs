//! Line alerts through a real Prosody, caused for real on the simulated
//! GoIP: its keepalives stop, its GSM registration drops, its signal
//! weakens, its balance answer changes. Each change reaches the line's user
//! once, from the line's own number, and the admin once, from the gateway;
//! a dip shorter than the hold time reaches nobody; the state survives a
//! restart of goippy (no repeat, and a change during the stop is told); an
//! alert raised while Prosody is down arrives once it is back.

use std::time::Duration;

use goip_sim::{Event, Failure, FailureChange};
use goippy_core::bridge::Bridge;
use goippy_core::config::{AlertSettings, Amount, BalanceCheck};
use goippy_core::xmpp::LinkState;
use regex::Regex;
use tokio_xmpp::minidom::Element;

use crate::support::bridge::*;

const ADMIN: &str = "admin@users.example.org";

fn alerts(hold: Duration) -> AlertSettings {
    AlertSettings {
        enabled: true,
        hold,
        signal_below: Some(10),
        balance: None,
    }
}

fn with_alerts(hold: Duration) -> Options {
    Options {
        alerts: alerts(hold),
        admins: vec![ADMIN],
        ..Options::default()
    }
}

/// An alert for the line's user: a chat message from the line's own number
/// to the user's bare JID.
fn to_the_user(e: &Element) -> bool {
    is_chat(e) && e.attr("from") == Some(OWN_JID) && e.attr("to") == Some(USER)
}

/// An alert for the admin: from the gateway.
fn to_the_admin(e: &Element) -> bool {
    is_chat(e) && e.attr("from") == Some(SMS) && e.attr("to") == Some(ADMIN)
}

/// The next alert for the user and the admin's copy of it; returns the text.
async fn alert(w: &mut World, what: &str) -> String {
    let m = w.users.expect(what, to_the_user).await;
    let a = w.users.expect(what, to_the_admin).await;
    assert_eq!(body(&a), body(&m), "the admin reads what the user reads");
    body(&m)
}

/// No alert (for anyone) within `window`.
async fn no_alert(w: &mut World, window: Duration) {
    let got = w
        .users
        .collect(window, |e| to_the_user(e) || to_the_admin(e))
        .await;
    assert!(
        got.is_empty(),
        "expected no alert, got {:#?}",
        got.iter().map(body).collect::<Vec<_>>()
    );
}

async fn status(w: &mut World, id: &str) -> String {
    w.users.chat(PHONE, OWN_JID, id, "status", false).await;
    let m = w
        .users
        .expect("the console's answer", |e| {
            is_chat(e) && e.attr("from") == Some(OWN_JID) && e.attr("to") == Some(PHONE)
        })
        .await;
    body(&m)
}

async fn alert_rows(w: &World) -> i64 {
    w.scalar("SELECT COUNT(*) FROM goippy_log WHERE kind = 'notice'")
        .await
}

async fn back_online(w: &mut World) {
    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("keepalives again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_goes_offline_and_comes_back_is_told_once_each_way() {
    let mut w = World::start(with_alerts(Duration::from_millis(500))).await;

    w.silence_channel().await;
    let text = alert(&mut w, "the offline alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1) is offline: no keepalive since "),
        "{text}"
    );
    let s = status(&mut w, "s1").await;
    assert!(s.contains("\nAlerts: offline since "), "{s}");
    // Still offline: nothing more.
    no_alert(&mut w, Duration::from_secs(2)).await;

    back_online(&mut w).await;
    let text = alert(&mut w, "the back-online alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1) is back online (since "),
        "{text}"
    );
    no_alert(&mut w, Duration::from_secs(1)).await;
    let s = status(&mut w, "s2").await;
    assert!(!s.contains("Alerts:"), "{s}");
    assert_eq!(alert_rows(&w).await, 4, "two alerts, each to two people");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gsm_loss_and_its_end_are_told_once_each() {
    let mut w = World::start(with_alerts(Duration::from_secs(1))).await;

    w.device
        .fail(1, FailureChange::Set(Failure::GsmLost))
        .await
        .expect("gsm lost");
    let text = alert(&mut w, "the GSM alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): GSM not registered since "),
        "{text}"
    );
    assert!(text.contains("LOGOUT"), "{text}");
    let s = status(&mut w, "s1").await;
    assert!(s.contains("\nAlerts: GSM not registered since "), "{s}");
    no_alert(&mut w, Duration::from_secs(2)).await;

    w.device
        .fail(1, FailureChange::Off)
        .await
        .expect("gsm back");
    let text = alert(&mut w, "the GSM-back alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): GSM registered again since "),
        "{text}"
    );
    no_alert(&mut w, Duration::from_secs(1)).await;
    assert_eq!(alert_rows(&w).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_signal_is_told_only_when_it_lasts() {
    let hold = Duration::from_millis(1500);
    let mut w = World::start(with_alerts(hold)).await;
    let signal_seen = |csq: &'static str| {
        move |w: &World| {
            w.bridge()
                .probe()
                .engine()
                .channel(GOIP_ID)
                .and_then(|c| c.keepalive)
                .and_then(|k| k.signal.clone())
                .as_deref()
                == Some(csq)
        }
    };

    // A dip: one keepalive or two below the threshold, then good again.
    w.device
        .fail(1, FailureChange::Set(Failure::Signal(5)))
        .await
        .expect("weak");
    w.wait_until("goippy sees the dip", signal_seen("5")).await;
    w.device.fail(1, FailureChange::Off).await.expect("good");
    no_alert(&mut w, hold + Duration::from_secs(1)).await;

    // Weak for longer than the hold.
    w.device
        .fail(1, FailureChange::Set(Failure::Signal(5)))
        .await
        .expect("weak");
    let text = alert(&mut w, "the weak-signal alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): weak signal since "),
        "{text}"
    );
    assert!(text.contains("CSQ 5 (below 10)"), "{text}");
    let s = status(&mut w, "s1").await;
    assert!(s.contains("\nAlerts: weak signal since "), "{s}");

    w.device.fail(1, FailureChange::Off).await.expect("good");
    let text = alert(&mut w, "the signal-back alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): signal back since "),
        "{text}"
    );
    assert_eq!(alert_rows(&w).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_balance_is_told_once_and_its_recovery_once() {
    let mut w = World::start(Options {
        alerts: AlertSettings {
            balance: Some(BalanceCheck {
                code: "*100#".into(),
                regex: Regex::new(r"balance is ([0-9.,]+)").expect("regex"),
                below: Amount(5000),
                every: Duration::from_millis(700),
            }),
            ..alerts(Duration::from_secs(1))
        },
        admins: vec![ADMIN],
        ussd_replies: vec![("*100#", "Your balance is 3,20 EUR.")],
        ..Options::default()
    })
    .await;

    let text = alert(&mut w, "the low-balance alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): balance 3.20 is below 5.00 (checked at "),
        "{text}"
    );
    // The check went through the GoIP's USSD, as the console's codes do.
    w.device_event(
        "the balance USSD",
        |e| matches!(e, Event::Ussd { code, .. } if code == "*100#"),
    )
    .await;
    let s = status(&mut w, "s1").await;
    assert!(s.contains("\nBalance: 3.20 (below 5.00) at "), "{s}");
    // Checked again and again, still low: told once.
    no_alert(&mut w, Duration::from_secs(2)).await;

    w.device
        .fail(
            1,
            FailureChange::Set(Failure::UssdAnswer("Your balance is 12.50 EUR.".into())),
        )
        .await
        .expect("topped up");
    let text = alert(&mut w, "the balance-recovered alert").await;
    assert!(
        text.starts_with("Line 2001 (goip1): balance 12.50 is no longer below 5.00"),
        "{text}"
    );
    no_alert(&mut w, Duration::from_secs(2)).await;
    let s = status(&mut w, "s2").await;
    assert!(s.contains("\nBalance: 12.50 at "), "{s}");
    assert_eq!(alert_rows(&w).await, 4);
}

/// A balance check is goippy's, not a user's: its answer, when it comes
/// after the check gave up, is not a chat message to the line's user (nor
/// an alert); it is logged, and the next check reads the balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_balance_answer_reaches_nobody() {
    let mut options = Options {
        alerts: AlertSettings {
            signal_below: None,
            balance: Some(BalanceCheck {
                code: "*100#".into(),
                regex: Regex::new(r"balance is ([0-9.,]+)").expect("regex"),
                below: Amount(5000),
                // One check in this test.
                every: Duration::from_secs(600),
            }),
            ..alerts(Duration::from_secs(1))
        },
        admins: vec![ADMIN],
        ussd_replies: vec![("*100#", "Your balance is 3,20 EUR.")],
        ..Options::default()
    };
    // The network answers after goippy gave up (two timeouts of 1 s).
    options.timing.ussd_delay = Duration::from_secs(3);
    let mut w = World::start(options).await;
    w.device_event(
        "the late answer to the balance check",
        |e| matches!(e, Event::Ussd { code, cached: false, .. } if code == "*100#"),
    )
    .await;
    // Something the user must get, through the same inbound path after
    // the late answer: it is the first thing the user gets.
    w.device.ussn(1, "Your bonus: 5 EUR").await.expect("ussn");
    let m = w
        .users
        .expect("a message to the user", |e| {
            is_chat(e) && e.attr("to") == Some(USER)
        })
        .await;
    assert_eq!(body(&m), "[USSD] Your bonus: 5 EUR");
    no_alert(&mut w, Duration::from_millis(500)).await;
    assert_eq!(
        w.scalar(
            "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'ussd' \
             AND body LIKE '%balance%'"
        )
        .await,
        0,
        "the late answer is not in the inbox"
    );
}

/// Starts the bridge again without waiting for the channel (which may be
/// silent).
async fn start_without_the_channel(w: &mut World) {
    let store = w.db.open().await;
    let bridge = Bridge::start(w.config(), store)
        .await
        .expect("bridge starts");
    let mut state = bridge.probe().link_state();
    tokio::time::timeout(PATIENCE, state.wait_for(LinkState::is_connected))
        .await
        .expect("bridge connects to prosody")
        .expect("link state");
    w.bridge = Some(bridge);
}

/// On SQLite and on a real MariaDB: the stored state is what a restart
/// reads back.
mod a_restart_repeats_no_alert_and_misses_no_change {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_restart_repeats_no_alert_and_misses_no_change(false).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        super::a_restart_repeats_no_alert_and_misses_no_change(true).await
    }
}

async fn a_restart_repeats_no_alert_and_misses_no_change(mysql: bool) {
    let mut w = World::start(Options {
        mysql,
        ..with_alerts(Duration::from_millis(500))
    })
    .await;

    // Told before the restart; still so after it: not told again.
    w.device
        .fail(1, FailureChange::Set(Failure::GsmLost))
        .await
        .expect("gsm lost");
    alert(&mut w, "the GSM alert").await;
    w.stop_bridge().await;
    w.start_bridge().await;
    no_alert(&mut w, Duration::from_secs(2)).await;
    let s = status(&mut w, "s1").await;
    assert!(s.contains("\nAlerts: GSM not registered since "), "{s}");

    // The line dies while goippy is stopped: told once the offline timeout
    // has passed after the start.
    w.stop_bridge().await;
    w.device
        .fail(1, FailureChange::Set(Failure::Silence))
        .await
        .expect("silence");
    start_without_the_channel(&mut w).await;
    let text = alert(&mut w, "the offline alert after the restart").await;
    assert!(text.starts_with("Line 2001 (goip1) is offline"), "{text}");

    // Back, and registered: both told, once.
    back_online(&mut w).await;
    let texts = [
        alert(&mut w, "an alert after coming back").await,
        alert(&mut w, "another alert after coming back").await,
    ];
    assert!(
        texts.iter().any(|t| t.contains("GSM registered again")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("is back online")),
        "{texts:?}"
    );
    no_alert(&mut w, Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_raised_while_prosody_is_down_arrives_when_it_is_back() {
    let mut w = World::start(with_alerts(Duration::from_millis(500))).await;

    tokio::task::block_in_place(|| w.prosody.stop()).expect("stop prosody");
    w.silence_channel().await;
    // The alert is stored, waiting for the XMPP link.
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE kind = 'notice' AND status = 'inbox'",
        2,
    )
    .await;
    tokio::task::block_in_place(|| w.prosody.restart()).expect("start prosody");
    w.users.wait_connected().await;
    let text = alert(&mut w, "the offline alert, late").await;
    assert!(text.starts_with("Line 2001 (goip1) is offline"), "{text}");
    no_alert(&mut w, Duration::from_secs(1)).await;
}
