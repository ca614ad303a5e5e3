//! Messages per second through Prosody to a component, three ways:
//!
//! * direct: no alias module; the client writes to +N@sms.example.org;
//! * native: mod_sms_alias (installed from the binary rock); the client writes
//!   to +N@example.org;
//! * plain Lua: the same rewrite in plain Lua (fixture mod_sms_alias_plain_lua),
//!   also to +N@example.org.
//!
//! One client streams MESSAGES chat messages to a counting sink component
//! (fixture mod_sms_count_test), then asks it for the count; the clock runs
//! from the first message to the answer. Prosody's own CPU time over the same
//! window (from /proc) gives the cost per message independent of the client,
//! which shares the machine. MAM and carbons are off and logging is at info,
//! so that the rewrite is not drowned in storage and debug-log work.
//!
//! Run: `cd prosody-test && cargo bench` (prints figures; asserts nothing
//! about speed).

use std::time::{Duration, Instant};

use prosody_test::{Config, LogLevel, Prosody, XmppClient};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message};

const HOST: &str = "example.org";
const COMPONENT: &str = "sms.example.org";
const NUMBER: &str = "+37255512345";
const WARMUP: usize = 2_000;
const MESSAGES: usize = 20_000;
const ROUNDS: usize = 5;

#[derive(Clone, Copy)]
enum Variant {
    Direct,
    Native,
    PlainLua,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Direct => "direct (no module)",
            Variant::Native => "mod_sms_alias (native)",
            Variant::PlainLua => "plain-Lua rewrite",
        }
    }

    fn target(self) -> String {
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
        prosody
            .register("bench", HOST, "benchpw")
            .expect("register");
        prosody.start().expect("start prosody");
        prosody
    }
}

struct Round {
    wall: Duration,
    prosody_cpu: Duration,
}

/// Streams `n` messages and waits for the sink to confirm all of them.
async fn round(client: &mut XmppClient, prosody: &Prosody, to: &Jid, n: usize) -> Round {
    let cpu_before = prosody.cpu_time().expect("cpu time");
    let start = Instant::now();
    for i in 0..n {
        let mut message = Message::chat(to.clone());
        message.bodies.insert(Lang::default(), format!("m{i}"));
        client.enqueue(message).await.expect("enqueue");
    }
    let mut report = Message::chat(to.clone());
    report.bodies.insert(Lang::default(), "report".into());
    client.send(report).await.expect("send report");
    let expected = format!("count={n}");
    let answer = client
        .wait_for("the sink's count", Duration::from_secs(120), |el| {
            el.get_child("body", prosody_test::NS_CLIENT)
                .is_some_and(|b| b.text().starts_with("count="))
        })
        .await
        .expect("count");
    let wall = start.elapsed();
    let got = answer
        .get_child("body", prosody_test::NS_CLIENT)
        .map(|b| b.text())
        .unwrap_or_default();
    assert_eq!(got, expected, "the sink must have received every message");
    Round {
        wall,
        prosody_cpu: prosody.cpu_time().expect("cpu time") - cpu_before,
    }
}

async fn measure(variant: Variant) -> (f64, f64) {
    let prosody = variant.server();
    let mut client = XmppClient::connect(prosody.c2s_addr(), "bench@example.org", "benchpw")
        .await
        .expect("log in");
    let to: Jid = variant.target().parse().expect("jid");
    round(&mut client, &prosody, &to, WARMUP).await;
    let mut rates = Vec::new();
    let mut cpu_per_message = Vec::new();
    for _ in 0..ROUNDS {
        let r = round(&mut client, &prosody, &to, MESSAGES).await;
        rates.push(MESSAGES as f64 / r.wall.as_secs_f64());
        cpu_per_message.push(r.prosody_cpu.as_secs_f64() * 1e6 / MESSAGES as f64);
    }
    client.close().await.expect("close");
    (median(rates), median(cpu_per_message))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it too.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "prosody-test throughput: {MESSAGES} chat messages per round, median of {ROUNDS} rounds, Prosody 0.12 on Lua 5.4"
    );
    println!(
        "{:<26} {:>12} {:>22}",
        "variant", "messages/s", "Prosody CPU µs/message"
    );
    let mut results = Vec::new();
    for variant in [Variant::Direct, Variant::Native, Variant::PlainLua] {
        let (rate, cpu) = runtime.block_on(measure(variant));
        println!("{:<26} {:>12.0} {:>22.1}", variant.name(), rate, cpu);
        results.push((variant, rate, cpu));
    }
    let direct_cpu = results[0].2;
    for (variant, _, cpu) in &results[1..] {
        println!(
            "{:<26} costs {:+.1} µs of Prosody CPU per message over direct routing",
            variant.name(),
            cpu - direct_cpu
        );
    }
}
