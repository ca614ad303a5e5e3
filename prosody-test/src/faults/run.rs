//! One scenario of the fault run, start to end:
//!
//! 1. a fresh world: a throwaway Prosody with mod_sms_alias, the release
//!    `goippy` (SQLite, or a database on a MariaDB server of the scenario's
//!    own when the fault is done to MariaDB), one simulated GoIP with two
//!    channels behaving like a real one (it resends an unacked SMS three
//!    times, 3 s apart, then gives up; sending an SMS takes 0.5 s and its
//!    delivery report follows 0.5 s later); user A owns channel 1, user B
//!    channel 2;
//! 2. steady traffic ([`crate::faults::traffic`]) for [`WARM_UP`];
//! 3. the fault, for its duration, then undone ([`crate::faults::fault`]);
//! 4. traffic for [`AFTER`] more, then none: the run waits until every
//!    message has its end (see [`Ledger::settled`]) or for at most
//!    [`DRAIN_LIMIT`] (half with `--quick`), then [`QUIET_END`] more for
//!    late duplicates;
//! 5. A reads its archive, everything stops, the ledger gives the figures.

use std::time::Duration;

use goippy_testkit::mariadb::MariaDb;
use tokio::sync::{mpsc, watch};
use tokio::task::block_in_place;
use tokio::time::{Instant, sleep};

use crate::faults::fault::{self, Fault, Target};
use crate::faults::ledger::{Ledger, Tally};
use crate::faults::session::Account;
use crate::faults::traffic::{self, Phase, Rates};
use crate::{Backend, Result, Scenario, SimTiming};

/// Traffic before the fault.
pub const WARM_UP: Duration = Duration::from_secs(5);
/// Traffic after the fault was undone.
pub const AFTER: Duration = Duration::from_secs(10);
/// The longest the run waits for the last answers once traffic stopped.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(120);
/// Waited after everything settled, for a late second copy.
pub const QUIET_END: Duration = Duration::from_secs(3);

const USER_A: &str = "2001";
const USER_B: &str = "2002";
const NUMBER_A: &str = "+37255500001";
const NUMBER_B: &str = "+37255500002";

/// The result of one scenario.
#[derive(Debug)]
pub struct Outcome {
    pub fault: Fault,
    pub backend: Backend,
    pub quick: bool,
    pub tally: Tally,
    /// What the fault did, what goippy's log says, the timeline.
    pub story: Vec<String>,
}

/// A GoIP as real ones behave (the README's "When the database fails"),
/// except for a keepalive every 2 s instead of 30 s, so that a restarted
/// goippy knows the channels again at once.
fn real_goip() -> SimTiming {
    SimTiming {
        keepalive_interval: Duration::from_secs(2),
        retransmit_interval: Duration::from_secs(3),
        retransmits: 3,
        send_time: Duration::from_millis(500),
        deliver_after: Some(Duration::from_millis(500)),
        ussd_delay: Duration::ZERO,
    }
}

/// Runs `fault` in a world of its own.
pub async fn run(fault: Fault, quick: bool, backend: Backend) -> Result<Outcome> {
    let backend = fault.backend(backend);
    let begin = Instant::now();
    let at = |what: &str| format!("{:>6.1} s  {what}", begin.elapsed().as_secs_f64());
    let mut story = Vec::new();

    let mut mariadb = if fault.owns_mariadb() {
        Some(block_in_place(MariaDb::start)?)
    } else {
        None
    };
    let mut scenario = Scenario::new()
        .managed()
        .device("goip", &[("gw1", NUMBER_A), ("gw2", NUMBER_B)])
        .user(USER_A, "gw1")
        .user(USER_B, "gw2")
        .timing(real_goip())
        .backend(backend);
    if let Some(db) = &mariadb {
        scenario = scenario.mariadb_database(db.create_database()?);
    }
    let mut world = scenario.start().await?;
    // The traffic tasks log the users in themselves (A through a relay).
    world.logout(USER_A).await?;
    world.logout(USER_B).await?;
    let account = |user: &str, own: &str| -> Result<Account> {
        Ok(Account {
            c2s: world.c2s_addr(),
            jid: world.jid(user),
            password: world
                .password(user)
                .ok_or("the scenario has no such user")?
                .to_string(),
            domain: world.domain().to_string(),
            own_number: own.to_string(),
        })
    };
    let (a, b) = (account(USER_A, NUMBER_A)?, account(USER_B, NUMBER_B)?);
    let sim = world.take_sims().pop().ok_or("the world has no device")?;

    let ledger = Ledger::new();
    let rates = Rates::default();
    let (phase, watch_phase) = watch::channel(Phase::Traffic);
    let (cuts, cut_rx) = mpsc::channel(1);
    let device = tokio::spawn(traffic::device(
        sim,
        ledger.clone(),
        watch_phase.clone(),
        rates.inbound,
    ));
    let user_a = tokio::spawn(traffic::user_a(
        a,
        ledger.clone(),
        watch_phase.clone(),
        cut_rx,
        rates.outbound,
    ));
    let user_b = tokio::spawn(traffic::user_b(b, ledger.clone(), watch_phase, rates));
    story.push(at("traffic starts"));

    sleep(WARM_UP).await;
    story.push(at(&format!("fault: {}", fault.describe(quick))));
    let injected = fault::inject(
        fault,
        quick,
        Target {
            world: &mut world,
            mariadb: mariadb.as_mut(),
            cuts: &cuts,
            ledger: &ledger,
        },
    )
    .await;
    let injected = match injected {
        Ok(said) => said,
        Err(e) => {
            ledger.stray(format!("the fault could not be caused or undone: {e}"));
            format!("FAILED: {e}")
        }
    };
    story.push(at(&format!("fault undone: {injected}")));
    sleep(AFTER).await;
    let _ = phase.send(Phase::Drain);
    story.push(at("traffic stops; waiting for the last answers"));

    let limit = if quick { DRAIN_LIMIT / 2 } else { DRAIN_LIMIT };
    let drain_end = Instant::now() + limit;
    while !ledger.settled() && Instant::now() < drain_end {
        sleep(Duration::from_millis(250)).await;
    }
    let (inbound_open, outbound_open) = ledger.unsettled();
    story.push(at(&if inbound_open + outbound_open == 0 {
        "every message has its end".to_string()
    } else {
        format!(
            "gave up waiting: {inbound_open} inbound and {outbound_open} outbound without an end"
        )
    }));
    sleep(QUIET_END).await;
    let _ = phase.send(Phase::Stop);

    let mut sim = device.await?;
    let a_logins = user_a.await?;
    let b_logins = user_b.await?;
    story.push(at(&format!(
        "A logged in {a_logins}×, B {b_logins}× (1 = never disconnected)"
    )));
    story.extend(goippy_log_summary(&world.goippy().log()));
    if let Err(e) = sim.quit() {
        ledger.stray(format!("goip-sim did not quit cleanly: {e}"));
    }
    if let Err(e) = world.finish().await {
        ledger.stray(format!("the world did not stop cleanly: {e}"));
    }
    drop(mariadb);
    Ok(Outcome {
        fault,
        backend,
        quick,
        tally: ledger.tally(),
        story,
    })
}

/// The lines of goippy's log that tell the fault's story: the spool, the
/// database coming and going, and how many warnings and errors there were.
fn goippy_log_summary(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains(" sqlx::query: "))
        .collect();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    let mut said = vec![format!(
        "goippy's log: {} WARN, {} ERROR lines; {} outbound jobs kept in the spool; \
         \"the spool is drained\" {}×",
        count(" WARN "),
        count(" ERROR "),
        count("outbound job kept in the spool"),
        count("the spool is drained"),
    )];
    // Each distinct warning or error once, with how often it came.
    let mut distinct: Vec<(String, usize)> = Vec::new();
    for line in lines
        .iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        let text = line
            .split_once(" WARN ")
            .or_else(|| line.split_once(" ERROR "))
            .map(|(_, rest)| rest)
            .unwrap_or(line);
        let key: String = text.chars().take(140).collect();
        match distinct.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => distinct.push((key, 1)),
        }
    }
    for (text, n) in distinct.into_iter().take(12) {
        said.push(format!("  {n}× {text}"));
    }
    said
}
