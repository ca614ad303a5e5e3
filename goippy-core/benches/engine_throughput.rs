//! How many packets a second the engine takes from parse to ack, measured
//! through a running engine over loopback, and printed.
//!
//! Fake GoIP channels send keepalives (parse → authenticate → registry →
//! `reg:` ack), then RECEIVEs (parse → authenticate → dedup check → event →
//! the consumer confirms it stored it → ack → dedup insert), each keeping a
//! window of packets in flight, and count the acks that come back.
//!
//! `cargo bench --bench engine_throughput` runs the full measurement; without
//! `--bench` (as `cargo test --benches` runs it) a tiny pass only checks that
//! it works.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goippy_core::engine::{ChannelCredentials, Engine, EngineConfig, EngineEvent};
use goippy_core::goip::{Keepalive, Notification, NotificationKind, Receive};
use tokio::net::UdpSocket;

const CHANNELS: usize = 8;
/// Packets each channel keeps in flight: enough to keep the engine busy,
/// few enough that the engine socket's default receive buffer (~208 KiB,
/// which the kernel charges about 2 KiB per datagram) never overflows.
const WINDOW: usize = 8;

struct Pass {
    packets: u64,
    acks: u64,
    lost: u64,
    elapsed: Duration,
}

#[derive(Clone, Copy)]
enum Kind {
    Keepalive,
    Receive,
}

fn packet(kind: Kind, channel: usize, n: u64) -> Vec<u8> {
    let body = match kind {
        Kind::Keepalive => NotificationKind::Keepalive(Box::new(Keepalive {
            num: Some(String::new()),
            signal: Some("29".into()),
            gsm_status: Some("LOGIN".into()),
            voip_status: Some("LOGOUT".into()),
            voip_state: Some("IDLE".into()),
            remain_time: Some("-1".into()),
            imei: Some("860000000000000".into()),
            imsi: Some("260060000000000".into()),
            iccid: Some("89480600000000000000".into()),
            pro: Some("POL".into()),
            ..Keepalive::default()
        })),
        Kind::Receive => NotificationKind::Receive(Receive {
            srcnum: "+37255512345".into(),
            smscnum: None,
            msg: "Benchmark message; with separators: and a second line\nhere".into(),
        }),
    };
    Notification::new(
        n.to_string(),
        format!("bench-{channel}"),
        Some("secret".into()),
        body,
    )
    .encode()
    .expect("a valid notification")
}

/// One channel: sends `count` packets with `WINDOW` in flight, counts acks.
async fn channel(server: SocketAddr, kind: Kind, channel: usize, count: u64) -> (u64, u64) {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let mut buf = vec![0u8; 2048];
    let (mut sent, mut acked, mut lost, mut in_flight) = (0u64, 0u64, 0u64, 0usize);
    while acked + lost < count {
        while in_flight < WINDOW && sent < count {
            let bytes = packet(kind, channel, sent + 1);
            socket.send_to(&bytes, server).await.expect("send");
            sent += 1;
            in_flight += 1;
        }
        match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
            Ok(Ok(_)) => {
                acked += 1;
                in_flight -= 1;
            }
            _ => {
                // Whatever is still in flight is lost.
                lost += in_flight as u64;
                in_flight = 0;
            }
        }
    }
    (acked, lost)
}

async fn pass(engine: &Engine, kind: Kind, per_channel: u64) -> Pass {
    let before = engine.stats().datagrams;
    let started = Instant::now();
    let clients: Vec<_> = (0..CHANNELS)
        .map(|c| tokio::spawn(channel(engine.local_addr(), kind, c, per_channel)))
        .collect();
    let (mut acks, mut lost) = (0, 0);
    for client in clients {
        let (a, l) = client.await.expect("client task");
        acks += a;
        lost += l;
    }
    Pass {
        packets: engine.stats().datagrams - before,
        acks,
        lost,
        elapsed: started.elapsed(),
    }
}

fn report(name: &str, p: &Pass) {
    let secs = p.elapsed.as_secs_f64();
    println!(
        "{name:<34} {:>8} packets in {:>6.2} s = {:>9.0} packets/s, {:>9.0} acks/s ({} lost)",
        p.packets,
        secs,
        p.packets as f64 / secs,
        p.acks as f64 / secs,
        p.lost
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let per_channel: u64 = if full { 25_000 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let credentials: HashMap<_, _> = (0..CHANNELS)
            .map(|c| (format!("bench-{c}"), ChannelCredentials::new(format!("bench-{c}"), "secret")))
            .collect();
        let config = EngineConfig::new("127.0.0.1:0".parse().expect("an address"));
        let (engine, mut events) = Engine::start(config, Arc::new(credentials))
            .await
            .expect("the engine starts");
        // The consumer a real bridge would be, minus the database: it
        // confirms every message at once.
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    EngineEvent::Sms(sms) => sms.durable.stored(),
                    EngineEvent::Delivery(d) => d.durable.stored(),
                    _ => {}
                }
            }
        });
        println!(
            "engine throughput over loopback: {CHANNELS} channels, {WINDOW} packets in flight each, \
             2 runtime threads{}",
            if full { "" } else { " (smoke pass; run with `cargo bench` for figures)" }
        );
        let keepalives = pass(&engine, Kind::Keepalive, per_channel).await;
        report("keepalive → reg: ack", &keepalives);
        let receives = pass(&engine, Kind::Receive, per_channel).await;
        report("RECEIVE → event → stored → ack", &receives);
        let stats = engine.stats();
        println!(
            "engine counters: {} datagrams, {} acks sent, {} events, {} not acked, dedup {} entries",
            stats.datagrams, stats.acks_sent, stats.events, stats.not_acked, stats.dedup_entries
        );
        engine.shutdown().await;
        assert!(keepalives.acks > 0 && receives.acks > 0, "the engine answered");
    });
}
