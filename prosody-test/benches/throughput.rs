//! What mod_sms_alias costs Prosody per stanza, in the three cases that
//! matter, each on three servers.
//!
//! Cases:
//!
//! * user to user — the common case: `bench@example.org` writes to
//!   `peer@example.org`, a second logged-in user. Nothing is for a number,
//!   yet every stanza passes the module's hooks;
//! * to a number — the user writes to the number, which a counting sink
//!   component (fixture mod_sms_count_test) receives;
//! * from a number — the sink sends the user bursts of messages from the
//!   number on the component, as goippy does when SMS arrive.
//!
//! Servers:
//!
//! * direct: no alias module; the number is `+N@sms.example.org`;
//! * native: mod_sms_alias (installed from the binary rock); the number is
//!   `+N@example.org`, as users write it;
//! * plain Lua: the same rewrite in plain Lua (fixture
//!   mod_sms_alias_plain_lua), also `+N@example.org`.
//!
//! Every message is checked to arrive, and to arrive from the JID the
//! server should show. The figure that matters is Prosody's own CPU time per
//! message over the round (from /proc), not the rate: the client shares the
//! machine. MAM and carbons are off and logging is at info, so that the
//! module's cost is not drowned in storage and debug-log work.
//!
//! The three servers run side by side and each round measures all of them
//! in turn, so that what else the machine does (on a shared machine, a lot:
//! the same server's CPU per message varies by ±10% from minute to minute)
//! falls on all three alike; the module's cost is the median of the rounds'
//! differences.
//!
//! Run: `cd prosody-test && cargo bench --bench throughput` (prints figures;
//! asserts nothing about speed). `PROSODY_BENCH_MESSAGES` (per round and
//! case, default 20,000, whole thousands) and `PROSODY_BENCH_ROUNDS`
//! (default 7) change the run's length.

use std::time::{Duration, Instant};

use prosody_test::{Config, LogLevel, NS_CLIENT, Prosody, XmppClient};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};

const HOST: &str = "example.org";
const COMPONENT: &str = "sms.example.org";
const NUMBER: &str = "+37255512345";
const WARMUP: usize = 2_000;
const DEFAULT_MESSAGES: usize = 20_000;
const DEFAULT_ROUNDS: usize = 7;
/// Messages the sink sends per `burst` request (the fixture's own bound is
/// higher); the user waits for each burst before asking for the next.
const BURST: usize = 1_000;
const WAIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy)]
enum Variant {
    Direct,
    Native,
    PlainLua,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Direct, Variant::Native, Variant::PlainLua];

    fn name(self) -> &'static str {
        match self {
            Variant::Direct => "direct (no module)",
            Variant::Native => "mod_sms_alias (native)",
            Variant::PlainLua => "plain-Lua rewrite",
        }
    }

    /// The number as the user writes to it and sees it write back.
    fn number(self) -> String {
        match self {
            Variant::Direct => format!("{NUMBER}@{COMPONENT}"),
            Variant::Native | Variant::PlainLua => format!("{NUMBER}@{HOST}"),
        }
    }

    fn server(self) -> Prosody {
        let module = match self {
            Variant::Direct => None,
            Variant::Native => Some("sms_alias"),
            Variant::PlainLua => Some("sms_alias_plain_lua"),
        };
        let config = Config::new()
            .without_module("mam")
            .without_module("carbons")
            .log_level(LogLevel::Info)
            .virtual_host(HOST, |h| match module {
                Some(m) => h.module(m).option("sms_alias_component", COMPONENT),
                None => h,
            })
            .internal_component(COMPONENT, "sms_count_test");
        let mut prosody = Prosody::new(config).expect("prepare prosody");
        if matches!(self, Variant::Native) {
            prosody
                .install_mod_sms_alias()
                .expect("install mod_sms_alias");
        }
        for user in ["bench", "peer"] {
            prosody.register(user, HOST, "benchpw").expect("register");
        }
        prosody.start().expect("start prosody");
        prosody
    }
}

#[derive(Clone, Copy)]
enum Case {
    UserToUser,
    ToNumber,
    FromNumber,
}

impl Case {
    const ALL: [Case; 3] = [Case::UserToUser, Case::ToNumber, Case::FromNumber];

    fn name(self) -> &'static str {
        match self {
            Case::UserToUser => "user to user",
            Case::ToNumber => "to a number",
            Case::FromNumber => "from a number",
        }
    }
}

/// One server with its two users logged in.
struct Bench {
    prosody: Prosody,
    user: XmppClient,
    peer: XmppClient,
    number: Jid,
    peer_jid: Jid,
}

struct Round {
    wall: Duration,
    prosody_cpu: Duration,
}

fn body(el: &Element) -> Option<String> {
    el.get_child("body", NS_CLIENT).map(|b| b.text())
}

fn chat(to: &Jid, text: String) -> Message {
    let mut message = Message::chat(to.clone());
    message.bodies.insert(Lang::default(), text);
    message
}

impl Bench {
    async fn start(variant: Variant) -> Bench {
        let prosody = variant.server();
        let user = XmppClient::connect(prosody.c2s_addr(), "bench@example.org", "benchpw")
            .await
            .expect("log in bench");
        let peer = XmppClient::connect(prosody.c2s_addr(), "peer@example.org", "benchpw")
            .await
            .expect("log in peer");
        Bench {
            prosody,
            user,
            peer,
            number: variant.number().parse().expect("jid"),
            peer_jid: format!("peer@{HOST}").parse().expect("jid"),
        }
    }

    async fn round(&mut self, case: Case, n: usize) -> Round {
        let cpu_before = self.prosody.cpu_time().expect("cpu time");
        let start = Instant::now();
        match case {
            Case::UserToUser => self.user_to_user(n).await,
            Case::ToNumber => self.send_to_number(n).await,
            Case::FromNumber => self.receive_from_number(n).await,
        }
        Round {
            wall: start.elapsed(),
            prosody_cpu: self.prosody.cpu_time().expect("cpu time") - cpu_before,
        }
    }

    /// `n` messages from one user to the other, then `report`; the peer
    /// reads while the user writes, as a real client would.
    async fn user_to_user(&mut self, n: usize) {
        let to = self.peer_jid.clone();
        let from = self.user.jid().to_string();
        let send = async {
            for i in 0..n {
                self.user
                    .enqueue(chat(&to, format!("m{i}")))
                    .await
                    .expect("enqueue");
            }
            self.user
                .send(chat(&to, "report".into()))
                .await
                .expect("send report");
        };
        let receive = async {
            self.peer
                .wait_for("the report", WAIT, |el| {
                    body(el).as_deref() == Some("report")
                })
                .await
                .expect("report");
            self.peer
                .take_received(|el| el.attr("from") == Some(from.as_str()) && body(el).is_some())
                .len()
        };
        let ((), received) = tokio::join!(send, receive);
        assert_eq!(received, n, "the peer must receive every message");
    }

    /// `n` messages to the number, then `report`, answered by the sink's count.
    async fn send_to_number(&mut self, n: usize) {
        for i in 0..n {
            self.user
                .enqueue(chat(&self.number, format!("m{i}")))
                .await
                .expect("enqueue");
        }
        self.user
            .send(chat(&self.number, "report".into()))
            .await
            .expect("send report");
        let answer = self
            .user
            .wait_for("the sink's count", WAIT, |el| {
                body(el).is_some_and(|b| b.starts_with("count="))
            })
            .await
            .expect("count");
        assert_eq!(
            body(&answer),
            Some(format!("count={n}")),
            "the sink must receive every message"
        );
    }

    /// `n` messages from the number, in bursts of [`BURST`].
    async fn receive_from_number(&mut self, n: usize) {
        let number = self.number.to_string();
        for _ in 0..n / BURST {
            self.user
                .send(chat(&self.number, format!("burst {BURST}")))
                .await
                .expect("send burst");
            self.user
                .wait_for("the end of a burst", WAIT, |el| {
                    body(el).as_deref() == Some("done")
                })
                .await
                .expect("done");
            let burst = self.user.take_received(|el| body(el).is_some());
            assert_eq!(burst.len(), BURST, "the user must receive every message");
            assert!(
                burst
                    .iter()
                    .all(|el| el.attr("from") == Some(number.as_str())),
                "every message must come from {number}"
            );
        }
    }

    async fn close(self) {
        self.user.close().await.expect("close");
        self.peer.close().await.expect("close");
    }
}

/// What one server showed in one case: per round, messages/s and Prosody
/// CPU µs per message.
#[derive(Default, Clone)]
struct Figures {
    rates: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs every case on every server, round by round: each round measures the
/// three servers one after the other, so that whatever else the machine is
/// doing falls on all of them alike, and each round's difference to the
/// server without the module is taken within the round.
async fn measure(messages: usize, rounds: usize) -> Vec<Vec<Figures>> {
    let mut benches = Vec::new();
    for variant in Variant::ALL {
        benches.push(Bench::start(variant).await);
    }
    for bench in &mut benches {
        for case in Case::ALL {
            bench.round(case, WARMUP).await;
        }
    }
    let mut figures = vec![vec![Figures::default(); Case::ALL.len()]; Variant::ALL.len()];
    for _ in 0..rounds {
        for (c, case) in Case::ALL.into_iter().enumerate() {
            for (v, bench) in benches.iter_mut().enumerate() {
                let r = bench.round(case, messages).await;
                figures[v][c]
                    .rates
                    .push(messages as f64 / r.wall.as_secs_f64());
                figures[v][c]
                    .cpu
                    .push(r.prosody_cpu.as_secs_f64() * 1e6 / messages as f64);
            }
        }
    }
    for bench in benches {
        bench.close().await;
    }
    figures
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `PROSODY_BENCH_<name>` as a number, else `default`.
fn setting(name: &str, default: usize) -> usize {
    std::env::var(format!("PROSODY_BENCH_{name}"))
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it too.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Whole bursts, at least one; at least one round.
    let messages = (setting("MESSAGES", DEFAULT_MESSAGES) / BURST).max(1) * BURST;
    let rounds = setting("ROUNDS", DEFAULT_ROUNDS).max(1);
    println!(
        "prosody-test throughput: {messages} chat messages per round and case, median of {rounds} rounds, \
         Prosody 0.12 on Lua 5.4"
    );
    let figures = runtime.block_on(measure(messages, rounds));
    println!(
        "{:<16} {:<24} {:>12} {:>24}",
        "case", "server", "messages/s", "Prosody CPU µs/message"
    );
    for (c, case) in Case::ALL.into_iter().enumerate() {
        for (v, variant) in Variant::ALL.into_iter().enumerate() {
            let f = &figures[v][c];
            println!(
                "{:<16} {:<24} {:>12.0} {:>24.1}",
                case.name(),
                variant.name(),
                median(f.rates.clone()),
                median(f.cpu.clone())
            );
        }
    }
    println!(
        "\nProsody CPU per message over the server without the module \
         (median of the rounds' differences; lowest and highest in brackets):"
    );
    for (c, case) in Case::ALL.into_iter().enumerate() {
        let direct = &figures[0][c].cpu;
        for (v, variant) in Variant::ALL.into_iter().enumerate().skip(1) {
            let diffs: Vec<f64> = figures[v][c]
                .cpu
                .iter()
                .zip(direct)
                .map(|(cpu, direct)| cpu - direct)
                .collect();
            let low = diffs.iter().copied().fold(f64::INFINITY, f64::min);
            let high = diffs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let diff = median(diffs);
            println!(
                "{:<16} {:<24} {:+6.1} µs ({:+.0}%)   [{:+.1} … {:+.1}]",
                case.name(),
                variant.name(),
                diff,
                diff / median(direct.clone()) * 100.0,
                low,
                high
            );
        }
    }
}
