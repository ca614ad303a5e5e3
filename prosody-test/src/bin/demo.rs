//! `demo`: goippy working end to end on one machine, for a person to watch
//! and then to try with a real XMPP client (what `demo.sh` runs).
//!
//! It starts what a user would run — a throwaway Prosody with
//! mod_sms_alias installed by `prosodyctl install`, goippy on SQLite, and
//! `goip-sim` as a GoIP with two channels — logs in a user, and prints a
//! transcript of the README's flows as they happen: an SMS in, an SMS out
//! with its delivery receipt, a USSD code, and the console's `status`.
//! Then it keeps everything running, says how to log in with a real
//! client, passes what is typed on stdin to the simulated GoIP, shows what
//! the device and the user see, and on Ctrl-C (or SIGTERM) stops every
//! process it started, by PID, and removes its temp dirs.
//!
//! `--once` ends after the transcript instead, insisting on clean exits
//! (for CI and the test that runs it twice in a row).

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use prosody_test::stanzas::{
    body, chat, chat_with_receipt_request, error_condition, error_text, is_error, is_text_from,
    receipt_for,
};
use prosody_test::{Scenario, SimTiming, World, xml_of};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::minidom::Element;

/// `println!` that ignores a closed stdout (`demo | head`): a panic on a
/// broken pipe would skip the cleanup, and the cleanup matters more.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr, for the same reason.
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// How long each step of the transcript may take before the demo says what
/// is missing (the steps take about a second).
const STEP: Duration = Duration::from_secs(20);

const USER: &str = "2001";
const SECOND_USER: &str = "2002";
/// Someone on the GSM side.
const FRIEND: &str = "+37255512345";
const SIM_1: &str = "+37255500001";
const SIM_2: &str = "+37255500002";

const USAGE: &str = "\
usage: demo [--once]

Starts a throwaway Prosody (with mod_sms_alias), goippy on SQLite and a
simulated GoIP, prints a transcript of an SMS in, an SMS out with its receipt,
a USSD code and `status`, then keeps running until Ctrl-C so you can log in
with a real XMPP client and type goip-sim commands here.

  --once   stop after the transcript (exit status 0 when everything worked)";

fn main() -> ExitCode {
    let mut once = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--once" => once = true,
            "-h" | "--help" => {
                say!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                complain!("demo: unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            complain!("demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(once))
}

/// Set once SIGINT or SIGTERM arrived: the demo winds down.
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Installs the handlers at once, so that a Ctrl-C during start-up also
    /// ends in the cleanup instead of killing the demo mid-way.
    fn install() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
        });
        Ok(Stop(rx))
    }

    fn requested(&self) -> bool {
        *self.0.borrow()
    }

    async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Runs `work` unless a stop comes first (`None`); `work` is dropped
    /// then, and with it whatever it had started.
    async fn or<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            () = self.wait() => None,
        }
    }
}

async fn run(once: bool) -> ExitCode {
    let mut stop = match Stop::install() {
        Ok(stop) => stop,
        Err(e) => {
            complain!("demo: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    say!("goippy demo: everything runs on 127.0.0.1 and is removed when the demo ends.");
    say!("Starting a throwaway Prosody, goippy and a simulated GoIP…");
    let scenario = Scenario::new()
        .managed()
        .device("goip", &[("goip1", SIM_1), ("goip2", SIM_2)])
        .user(USER, "goip1")
        .user(SECOND_USER, "goip2")
        .timing(SimTiming::demo());
    let mut world = match stop.or(scenario.start()).await {
        None => {
            say!("Stopped during start-up; everything started so far is stopped and removed.");
            return ExitCode::FAILURE;
        }
        Some(Err(e)) => {
            complain!("demo: start-up failed: {e}");
            return ExitCode::FAILURE;
        }
        Some(Ok(world)) => world,
    };
    describe_setup(&mut world);

    match stop.or(transcript(&mut world)).await {
        None => return shut_down(world, "Stopped.", ExitCode::SUCCESS),
        Some(Err(e)) => {
            complain!("\ndemo: {e}");
            complain!("goippy's log:\n{}", world.goippy().log_tail(30));
            return shut_down(world, "The demo failed.", ExitCode::FAILURE);
        }
        Some(Ok(())) => {}
    }

    if once {
        say!("\n--once: stopping.");
        let pids = pids(&mut world);
        let dirs = dirs(&mut world);
        return match world.finish().await {
            Ok(()) => {
                say!("Stopped {pids}; removed {dirs}.");
                say!("demo finished");
                ExitCode::SUCCESS
            }
            Err(e) => {
                complain!("demo: shutting down: {e}");
                ExitCode::FAILURE
            }
        };
    }

    print_how_to_try(&mut world);
    let result = interact(&mut world, &mut stop).await;
    match result {
        Ok(()) => shut_down(world, "Stopping.", ExitCode::SUCCESS),
        Err(e) => {
            complain!("demo: {e}");
            shut_down(world, "The demo failed.", ExitCode::FAILURE)
        }
    }
}

/// Drops the world (every process stopped by PID, temp dirs removed) and
/// says so; the exit status is `status`.
fn shut_down(mut world: World, why: &str, status: ExitCode) -> ExitCode {
    let pids = pids(&mut world);
    let dirs = dirs(&mut world);
    say!("\n{why}");
    drop(world);
    say!("Stopped {pids}; removed {dirs}.");
    status
}

fn pids(world: &mut World) -> String {
    let prosody = world.prosody().and_then(|p| p.pid());
    let goippy = world.goippy().pid();
    let sim = world.sim(0).pid();
    let show = |pid: Option<u32>| pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "prosody (pid {}), goippy (pid {}), goip-sim (pid {})",
        show(prosody),
        show(goippy),
        show(sim)
    )
}

fn dirs(world: &mut World) -> String {
    let prosody = world
        .prosody()
        .map(|p| p.dir().display().to_string())
        .unwrap_or_default();
    format!("{} and {prosody}", world.dir().display())
}

fn describe_setup(world: &mut World) {
    let c2s = world.c2s_addr();
    let goip = world.goippy().goip_addr();
    let db = world.dir().join("goippy.db");
    let component_port = world.prosody().map(|p| p.ports().component).unwrap_or(0);
    say!();
    line(
        "prosody",
        &format!(
            "Prosody with mod_sms_alias (prosodyctl install); clients on {c2s}, goippy's component on port {component_port}"
        ),
    );
    line(
        "goippy",
        &format!(
            "the real daemon, SQLite {}; GoIPs send to UDP {goip}",
            db.display()
        ),
    );
    line(
        "goip-sim",
        &format!(
            "a GoIP with 2 channels: goip1 (SIM {SIM_1}) for {}, goip2 (SIM {SIM_2}) for {}",
            world.jid(USER),
            world.jid(SECOND_USER)
        ),
    );
    match world.goippy().admin(&["--listExt"]) {
        Ok(list) => {
            for row in list.lines() {
                line("", row);
            }
        }
        Err(e) => line("goippy", &format!("--listExt failed: {e}")),
    }
    line(
        "xmpp",
        &format!(
            "{} and {} are logged in",
            world.jid(USER),
            world.jid(SECOND_USER)
        ),
    );
    line("pids", &pids(world));
    line("files", &dirs(world));
}

/// The README's flows, one after the other, as they happen.
async fn transcript(w: &mut World) -> prosody_test::Result<()> {
    let friend = w.alias(FRIEND);
    let own = w.alias(SIM_1);

    heading("1) An SMS arrives at the GoIP and reaches the channel's owner");
    let text = "Tere! Is the SMS bridge working? ✓";
    w.sim(0).sms(1, FRIEND, text)?;
    line("goip-sim", &format!("ch1 RECEIVE from {FRIEND}: {text:?}"));
    let ack = w
        .sim(0)
        .wait_event("ack", STEP, |e| e["tag"] == "RECEIVE")
        .await?;
    line(
        "goip-sim",
        &format!(
            "ch1 RECEIVE {} acked by goippy (it stores before it acks)",
            ack["recvid"].as_str().unwrap_or("?")
        ),
    );
    let got = w
        .client(USER)
        .wait_for("the SMS", STEP, |el| is_text_from(el, &friend))
        .await?;
    show_stanza(USER, &got);

    heading("2) The user answers; the answer leaves as an SMS, and the delivery report comes back");
    let reply = "Yes! This left as an SMS through goip1.";
    line(
        USER,
        &format!("→ {friend}: {reply:?} (asking for a receipt)"),
    );
    w.client(USER)
        .send(chat_with_receipt_request(&friend, "demo-reply", reply)?)
        .await?;
    let sent = w
        .sim(0)
        .wait_event("sms_sent", STEP, |e| e["to"] == FRIEND)
        .await?;
    line(
        "goip-sim",
        &format!(
            "ch{} sent the SMS to {} as sms_no {}: {}",
            sent["channel"], FRIEND, sent["sms_no"], sent["text"]
        ),
    );
    let delivered = w
        .sim(0)
        .wait_event("ack", STEP, |e| e["tag"] == "DELIVER")
        .await?;
    line(
        "goip-sim",
        &format!(
            "ch{} DELIVER (the handset got it) acked by goippy",
            delivered["channel"]
        ),
    );
    let receipt = w
        .client(USER)
        .wait_for("the receipt", STEP, |el| {
            receipt_for(el).as_deref() == Some("demo-reply")
        })
        .await?;
    show_stanza(USER, &receipt);

    heading("3) A USSD code, sent to the user's own SIM number");
    line(USER, &format!("→ {own}: \"*100#\""));
    w.client(USER)
        .send(chat(&own, "demo-ussd", "*100#")?)
        .await?;
    let ussd = w
        .sim(0)
        .wait_event("ussd", STEP, |e| e["code"] == "*100#")
        .await?;
    line(
        "goip-sim",
        &format!(
            "ch{} USSD *100# answered by the network: {}",
            ussd["channel"], ussd["reply"]
        ),
    );
    let answer = w
        .client(USER)
        .wait_for("the USSD answer", STEP, |el| {
            is_text_from(el, &own) || (is_error(el) && el.attr("id") == Some("demo-ussd"))
        })
        .await?;
    show_stanza(USER, &answer);

    heading("4) The console: `status`, also to the own number");
    line(USER, &format!("→ {own}: \"status\""));
    w.client(USER)
        .send(chat(&own, "demo-status", "status")?)
        .await?;
    let status = w
        .client(USER)
        .wait_for("the status", STEP, |el| {
            is_text_from(el, &own) || (is_error(el) && el.attr("id") == Some("demo-status"))
        })
        .await?;
    show_stanza(USER, &status);
    Ok(())
}

fn print_how_to_try(w: &mut World) {
    let c2s = w.c2s_addr();
    let (host, port) = (c2s.ip(), c2s.port());
    let password = w.password(USER).unwrap_or_default().to_string();
    let password_2 = w.password(SECOND_USER).unwrap_or_default().to_string();
    say!(
        "
Everything keeps running. Try it with a real XMPP client on this machine:
  server {host}, port {port}, plain password over loopback (no TLS)
  JID {user}  password {password}   (owns goip1, SIM {SIM_1})
  JID {user2}  password {password_2}   (owns goip2, SIM {SIM_2})
  e.g. profanity:  /connect {user} server {host} port {port} tls disable
  Write to {friend} to send an SMS, to {own} for the console
  (status, log, log 5, or a USSD code such as *100#).

Type goip-sim commands here; they go to the simulated GoIP:
  sms 1 {FRIEND} hello from the GSM side     an SMS to {user}
  sms 2 +37255598765 line one\\nline two       an SMS on channel 2, to {user2}
  call 1 in {FRIEND} 3                       a 3-second call (then `log`)
  fail 1 errorstatus 38                      the next SMS out fails
  status / help
Ctrl-C stops everything and removes the temp dirs.
",
        user = w.jid(USER),
        user2 = w.jid(SECOND_USER),
        friend = w.alias(FRIEND),
        own = w.alias(SIM_1),
    );
}

/// Passes stdin to goip-sim and shows what the device and the two users
/// see, until a stop is requested.
async fn interact(w: &mut World, stop: &mut Stop) -> prosody_test::Result<()> {
    // What the transcript already told.
    w.sim(0).take_received(|_| true);
    for user in [USER, SECOND_USER] {
        w.take_received(user, |_| true);
    }
    let mut input = read_stdin();
    let mut input_open = true;
    while !stop.requested() {
        if input_open {
            loop {
                match input.try_recv() {
                    Ok(line) => {
                        let line = line.trim();
                        if line == "quit" || line == "exit" {
                            say!("(use Ctrl-C to stop the demo)");
                        } else if !line.is_empty() {
                            w.sim(0).send(line)?;
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        input_open = false;
                        break;
                    }
                }
            }
        }
        while let Some(event) = w.sim(0).try_next_event() {
            if let Some(text) = describe_event(&event) {
                line("goip-sim", &text);
            }
        }
        for user in [USER, SECOND_USER] {
            let polled = stop
                .or(w.client(user).poll(Duration::from_millis(100)))
                .await;
            match polled {
                None => return Ok(()),
                Some(Ok(Some(stanza))) => show_stanza(user, &stanza),
                Some(Ok(None)) => {}
                Some(Err(e)) => {
                    // A Ctrl-C reaches the whole process group: Prosody may
                    // be gone a moment before our own handler runs.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if stop.requested() {
                        return Ok(());
                    }
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Lines typed on stdin, read on a thread of their own; the channel closes
/// at the end of input (then the demo just keeps running).
fn read_stdin() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn heading(text: &str) {
    say!("\n{text}");
}

fn line(who: &str, text: &str) {
    say!("  {who:<9} {text}");
}

/// What a user received, for a person.
fn show_stanza(user: &str, el: &Element) {
    if el.name() != "message" {
        return; // presence and iq are routine
    }
    let from = el.attr("from").unwrap_or("?");
    if is_error(el) {
        let condition = error_condition(el).unwrap_or_else(|| "error".into());
        let text = error_text(el).unwrap_or_default();
        line(user, &format!("← error from {from}: {condition}: {text}"));
    } else if let Some(id) = receipt_for(el) {
        line(
            user,
            &format!("← receipt from {from}: message {id:?} was delivered"),
        );
    } else if let Some(text) = body(el) {
        show_text(user, &format!("← {from}:"), &text);
    } else if el.children().next().is_some() {
        line(user, &format!("← {}", xml_of(el)));
    }
}

/// A message text after `lead`: quoted on the same line when it is one
/// line, else as an indented block, so that multi-line answers (`status`,
/// `log`) read as the user's client shows them.
fn show_text(who: &str, lead: &str, text: &str) {
    if !text.contains('\n') {
        line(who, &format!("{lead} {text:?}"));
        return;
    }
    line(who, lead);
    for row in text.lines() {
        line("", &format!("  | {row}"));
    }
}

/// A goip-sim JSON event for a person, or `None` for routine ones.
fn describe_event(e: &Value) -> Option<String> {
    let ch = &e["channel"];
    let s = |key: &str| e[key].as_str().unwrap_or_default().to_string();
    Some(match e["event"].as_str()? {
        // What a command sends is shown by what follows; only a resend
        // tells something new.
        "notify" if e["attempt"] == 1 => return None,
        "notify" => format!(
            "ch{ch} {} {} not acked yet: sent again (try {})",
            s("tag"),
            s("recvid"),
            e["attempt"]
        ),
        // The call's progress notifications are acked too; not worth a line each.
        "ack" if ["STATE", "EXPIRY", "REMAIN", "CELLS"].contains(&s("tag").as_str()) => {
            return None;
        }
        "ack" => format!("ch{ch} {} {} acked by goippy", s("tag"), s("recvid")),
        "not_acked" => format!(
            "ch{ch} {} {} was never acked; the device gives up",
            s("tag"),
            s("recvid")
        ),
        "sms_sent" => format!(
            "ch{ch} SMS to {} sent as sms_no {}: {:?}",
            s("to"),
            e["sms_no"],
            s("text")
        ),
        "sms_failed" => format!(
            "ch{ch} SMS to {} failed (errorstatus {}): {:?}",
            s("to"),
            e["errorstatus"],
            s("text")
        ),
        "ussd" => format!("ch{ch} USSD {} answered: {:?}", s("code"), s("reply")),
        "call_started" => format!("ch{ch} call {} {}", s("direction"), s("number")),
        "call_ended" => format!(
            "ch{ch} call with {} ended after {} s",
            s("number"),
            e["seconds"]
        ),
        "failures" => format!("ch{ch} failure modes: {}", e["active"]),
        "keepalive_ack" if e["status"] != 200 => {
            format!("ch{ch} keepalive refused with status {}", e["status"])
        }
        "status" => {
            let failures: Vec<&str> = e["failures"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!(
                "ch{ch} {} SIM {}: registered {}, {} SMS sent, {} USSD, failure modes: {}",
                s("id"),
                s("number"),
                if e["sms_login"] == true { "yes" } else { "no" },
                e["sms_sent"],
                e["ussd_queries"],
                if failures.is_empty() {
                    "none".to_string()
                } else {
                    failures.join(", ")
                }
            )
        }
        "help" => s("text"),
        "error" => format!("error: {}", s("message")),
        "lagged" => format!("({} events were lost)", e["missed"]),
        _ => return None,
    })
}
