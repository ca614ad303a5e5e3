//! The steady traffic of a fault scenario: three tasks, each owning what it
//! drives, all writing down what they see in the [`Ledger`].
//!
//! * [`device`] — the simulated GoIP: an SMS from [`SENDER`] to user A every
//!   [`Rates::inbound`], and the device's side of everything (acks, gave-ups,
//!   SMS the "network" took or refused);
//! * [`user_a`] — user A: an SMS to a new number every [`Rates::outbound`]
//!   through A's channel, and whatever comes back (the inbound SMS, errors,
//!   receipts, notes, "Not sent yet"). A's connection runs through a
//!   relay, so the scenario can cut it like a lost network ([`Cut`]); at
//!   the end A reads its archive (MAM), as clients do after a reconnect;
//! * [`user_b`] — user B on the other channel, whom no fault is aimed at:
//!   `help` to the own number every second and an SMS every few seconds,
//!   one of each outstanding at a time, timing how long each waits for its
//!   first answer (the "stall").
//!
//! A user whose connection breaks (Prosody killed, the relay cut) logs in
//! again at once and carries on ([`crate::faults::session`]); what its
//! server kept meanwhile (offline storage) arrives then.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep};

use crate::GoipSim;
use crate::faults::archive::read_archive;
use crate::faults::ledger::Ledger;
use crate::faults::session::{Account, Seen, Session, TICK, classify, record, send_sms};
use crate::stanzas::chat;

/// Someone on the GSM side who writes to user A.
pub const SENDER: &str = "+37255512345";
/// How long A waits for an SMS to be in flight before it cuts anyway.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);
/// The first words of goippy's answer to `help`.
const HELP_ANSWER: &str = "This is your GoIP line";

/// Where the scenario is: traffic flows, then only answers are awaited,
/// then everything stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Traffic,
    Drain,
    Stop,
}

/// How often each kind of traffic goes.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub inbound: Duration,
    pub outbound: Duration,
    pub console: Duration,
    pub sms_b: Duration,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            inbound: Duration::from_millis(500),
            outbound: Duration::from_secs(1),
            console: Duration::from_secs(1),
            sms_b: Duration::from_secs(5),
        }
    }
}

/// Asks A to lose its network: right after an SMS of A's is handed to the
/// GoIP, A's connection is reset; A stays away `offline`, then logs in
/// again. The answer says what happened.
pub struct Cut {
    pub offline: Duration,
    pub done: oneshot::Sender<String>,
}

// --- the device ---------------------------------------------------------

/// Drives the simulated GoIP until [`Phase::Stop`]; returns it for a clean
/// `quit`.
pub async fn device(
    mut sim: GoipSim,
    ledger: Ledger,
    mut phase: watch::Receiver<Phase>,
    every: Duration,
) -> GoipSim {
    let mut n = 0u32;
    let mut next = Instant::now();
    loop {
        let now = Instant::now();
        match *phase.borrow_and_update() {
            Phase::Stop => break,
            Phase::Traffic if now >= next => {
                n += 1;
                let text = format!("in-{n:04}");
                // Written down first: the device's `notify` for it follows.
                ledger.inbound_injected(&text);
                if let Err(e) = sim.sms(1, SENDER, &text) {
                    ledger.stray(format!("cannot inject {text}: {e}"));
                }
                next = (next + every).max(now);
            }
            _ => {}
        }
        match sim.poll(TICK).await {
            Ok(Some(event)) => device_event(&ledger, &event),
            Ok(None) => {}
            Err(e) => {
                ledger.stray(format!("goip-sim: {e}"));
                break;
            }
        }
    }
    sim
}

fn device_event(ledger: &Ledger, e: &Value) {
    let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
    let receive = e["tag"] == "RECEIVE";
    match e["event"].as_str().unwrap_or_default() {
        "notify" if receive && e["channel"] == 1 && e["attempt"] == 1 => {
            ledger.inbound_numbered(&text("recvid"));
        }
        "ack" if receive => {
            let attempts = e["attempts"].as_u64().unwrap_or(1);
            ledger.inbound_acked(&text("recvid"), u32::try_from(attempts).unwrap_or(u32::MAX));
        }
        "not_acked" if receive => ledger.inbound_given_up(&text("recvid")),
        "not_acked" | "ack_error" | "lagged" | "error" | "unreadable" => {
            ledger.stray(format!("goip-sim: {e}"));
        }
        event @ ("send_queued" | "sms_sent" | "sms_failed") => {
            ledger.gateway_event(event, &text("to"));
        }
        _ => {}
    }
}

// --- user A -------------------------------------------------------------

/// User A until [`Phase::Stop`], then A's archive is read.
pub async fn user_a(
    account: Account,
    ledger: Ledger,
    mut phase: watch::Receiver<Phase>,
    mut cuts: mpsc::Receiver<Cut>,
    every: Duration,
) -> u32 {
    let user = "A";
    let mut session = Session::new(account, true);
    let mut n = 0u32;
    let mut next = Instant::now();
    loop {
        let current = *phase.borrow_and_update();
        if current == Phase::Stop {
            break;
        }
        if session.client().await.is_none() {
            continue;
        }
        if let Ok(cut) = cuts.try_recv() {
            n += 1;
            let said = lose_network(&mut session, &ledger, n, cut.offline).await;
            let _ = cut.done.send(said);
            continue;
        }
        let now = Instant::now();
        if current == Phase::Traffic && now >= next {
            n += 1;
            send_sms(&mut session, &ledger, user, &a_number(n), &a_id(n)).await;
            next = (next + every).max(now);
        }
        if let Some(el) = session.poll().await {
            let seen = classify(&el, &session.account);
            record(&ledger, user, seen);
        }
    }
    // The archive, as a client syncs it after a reconnect: what A did not
    // get live (Prosody killed as it handed a message over) is there.
    let mut synced = false;
    for _ in 0..40 {
        if session.client().await.is_some() {
            match read_archive(&mut session, &ledger).await {
                Ok(()) => synced = true,
                Err(e) => ledger.stray(format!("A's archive: {e}")),
            }
            break;
        }
    }
    if !synced {
        ledger.stray("A's archive could not be read".into());
    }
    session.logins
}

fn a_number(n: u32) -> String {
    format!("+3725561{n:04}")
}

fn a_id(n: u32) -> String {
    format!("a-{n:04}")
}

/// A's phone loses its network right after one of A's SMS was handed to
/// the GoIP, stays away `offline`, and logs in again.
async fn lose_network(session: &mut Session, ledger: &Ledger, n: u32, offline: Duration) -> String {
    let id = a_id(n);
    send_sms(session, ledger, "A", &a_number(n), &id).await;
    let deadline = Instant::now() + IN_FLIGHT_WAIT;
    while !ledger.in_flight(&id) && Instant::now() < deadline && session.client.is_some() {
        if let Some(el) = session.poll().await {
            let seen = classify(&el, &session.account);
            record(ledger, "A", seen);
        }
    }
    let in_flight = ledger.in_flight(&id);
    session.cut();
    sleep(offline).await;
    let back = Instant::now();
    while session.client().await.is_none() {
        if back.elapsed() > Duration::from_secs(30) {
            return format!("A could not log in again after the cut (SMS {id})");
        }
    }
    format!(
        "A's connection was reset with SMS {id} {} at the GoIP; A was away {offline:?}",
        if in_flight {
            "being sent"
        } else {
            "NOT yet being sent"
        }
    )
}

// --- user B -------------------------------------------------------------

/// User B until [`Phase::Stop`]: console requests and SMS, one of each
/// waiting at a time, each timed from when B began waiting to its first
/// answer.
pub async fn user_b(
    account: Account,
    ledger: Ledger,
    mut phase: watch::Receiver<Phase>,
    rates: Rates,
) -> u32 {
    let user = "B";
    let mut session = Session::new(account, false);
    let own = session.account.alias(&session.account.own_number);
    // The console request on its way, and since when B has been waiting
    // for an answer: a request that got an error (goippy away) or went with
    // a broken connection is sent again, and the wait goes on.
    let mut help: Option<String> = None;
    let mut help_since: Option<Instant> = None;
    // B's SMS waiting for its first word: number, id, since.
    let mut sms: Option<(String, String, Instant)> = None;
    let mut next_help = Instant::now();
    let mut next_sms = Instant::now();
    let mut n = 0u32;
    loop {
        let current = *phase.borrow_and_update();
        if current == Phase::Stop {
            break;
        }
        let logins = session.logins;
        if session.client().await.is_none() {
            continue;
        }
        if session.logins != logins {
            // Logged in again: the request may have gone with the old
            // session, and B has been waiting since the connection broke.
            help = None;
            if let Some(lost_at) = session.lost_at.take() {
                let since = help_since.map_or(lost_at, |s| s.min(lost_at));
                help_since = Some(since);
            }
        }
        let now = Instant::now();
        if current == Phase::Traffic && help.is_none() && now >= next_help {
            n += 1;
            let id = format!("b-help-{n:04}");
            help_since.get_or_insert(now);
            let sent = match (chat(&own, &id, "help"), session.client.as_mut()) {
                (Ok(message), Some(client)) => client.send(message).await.is_ok(),
                _ => false,
            };
            if sent {
                help = Some(id);
            } else {
                session.lost();
            }
            next_help = now + rates.console;
        }
        if current == Phase::Traffic && sms.is_none() && now >= next_sms {
            n += 1;
            let number = format!("+3725562{n:04}");
            let id = format!("b-{n:04}");
            send_sms(&mut session, &ledger, user, &number, &id).await;
            sms = Some((number, id, now));
            next_sms = now + rates.sms_b;
        }
        let Some(el) = session.poll().await else {
            continue;
        };
        let seen = classify(&el, &session.account);
        let now = Instant::now();
        match &seen {
            Seen::Console(text) if text.starts_with(HELP_ANSWER) => {
                if let Some(since) = help_since.take() {
                    ledger.console_answered(help.as_deref().unwrap_or("?"), now - since);
                }
                help = None;
                continue;
            }
            Seen::Error { id, .. } if id.starts_with("b-help-") => {
                if help.as_ref() == Some(id) {
                    help = None;
                }
                continue;
            }
            _ => {}
        }
        if let Some((number, id, since)) = &sms {
            let how = match &seen {
                Seen::Error { id: e, condition } if e == id => {
                    Some(format!("an error ({condition})"))
                }
                Seen::Receipt(e) if e == id => Some("its receipt".to_string()),
                Seen::NotYet { number: from } if from == number => {
                    Some("\"Not sent yet\"".to_string())
                }
                Seen::Note { number: from, .. } if from == number => {
                    Some("a failure note".to_string())
                }
                _ => None,
            };
            if let Some(how) = how {
                ledger.sms_answered(id, now - *since, &how);
                sms = None;
            }
        }
        record(&ledger, user, seen);
    }
    // Still waiting at the end counts as waiting until now.
    let now = Instant::now();
    if let Some(since) = help_since {
        ledger.console_answered("(unanswered at the end)", now - since);
    }
    if let Some((_, id, since)) = sms {
        ledger.sms_answered(&id, now - since, "nothing, until the end");
    }
    session.logins
}
