//! What strangers and broken packets cannot do: crash the engine, stop it
//! serving real channels, or make it remember anything.

use std::time::{Duration, Instant};

use goippy_core::engine::{EngineEvent, RecipientOutcome, SmsRequest};
use goippy_core::goip::{Notification, NotificationKind, Receive};
use tokio::net::UdpSocket;

use crate::support::engine::{
    Behaviour, Device, ID, PASSWORD, TestEngine, fast_config, goip, keepalive_kind, start,
};

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Sends every datagram, in batches, waiting after each batch until the
/// engine has read it, so the kernel's socket buffer never overflows and
/// every datagram really is processed.
async fn flood(t: &TestEngine, datagrams: impl Iterator<Item = Vec<u8>>) -> u64 {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let base = t.engine.stats().datagrams;
    let mut sent = 0u64;
    let mut batch = 0;
    for datagram in datagrams {
        socket.send_to(&datagram, t.addr()).await.unwrap();
        sent += 1;
        batch += 1;
        if batch == 200 {
            batch = 0;
            caught_up(t, base + sent).await;
        }
    }
    caught_up(t, base + sent).await;
    sent
}

async fn caught_up(t: &TestEngine, datagrams: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.engine.stats().datagrams < datagrams {
        assert!(
            Instant::now() < deadline,
            "the engine stopped reading: {:?}",
            t.engine.stats()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Real packets with bytes flipped, cut or repeated, plus pure noise.
fn garbage(rng: &mut XorShift) -> Vec<u8> {
    let seeds: [&[u8]; 8] = [
        b"RECEIVE:1734804704;id:ghost;password:p;srcnum:+1;msg:hello;msg:x",
        b"req:27;id:ghost;pass:p;num:;signal:29;gsm_status:LOGIN;CELLINFO:LAC:7E5,CELL ID:5E5B;",
        b"DELIVER:1;id:ghost;password:p;sms_no:32;state:0;num:+1",
        b"HANGUP:1;id:ghost;password:p;num:,cause:Normal call clearing",
        b"OK 11 1 160",
        b"ERROR 11 1 errorstatus:38",
        b"USSD 12 Balance 10.00@@",
        b"GSM:1;get_gsm_num:(null);imei:0",
    ];
    match rng.below(3) {
        0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        _ => {
            let mut bytes = seeds[rng.below(seeds.len())].to_vec();
            for _ in 0..1 + rng.below(4) {
                match rng.below(3) {
                    0 if !bytes.is_empty() => {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.next() as u8;
                    }
                    1 if !bytes.is_empty() => bytes.truncate(rng.below(bytes.len())),
                    _ => bytes.extend_from_slice(b";:\r\n \x00\xff"),
                }
            }
            bytes
        }
    }
}

#[tokio::test]
async fn ten_thousand_garbage_datagrams_then_normal_traffic_works() {
    let mut t = start(fast_config(), &[(ID, PASSWORD)]).await;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let sent = flood(&t, (0..10_000).map(|_| garbage(&mut rng))).await;
    assert_eq!(sent, 10_000);
    let stats = t.engine.stats();
    assert!(stats.garbage > 5_000, "{stats:?}");
    assert_eq!(
        (
            stats.channels,
            stats.dedup_entries,
            stats.open_exchanges,
            stats.workers
        ),
        (0, 0, 0, 0),
        "{stats:?}"
    );
    t.no_event(Duration::from_millis(50), |_| true).await;

    // A real channel is served as if nothing happened.
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    device.receive("1", "+1", "still here").await;
    let sms = t
        .next_event(|e| match e {
            EngineEvent::Sms(sms) => Some(sms),
            _ => None,
        })
        .await;
    sms.durable.stored();
    assert!(device.expect_ack().await.is_accepted());
    device.script(goip(Behaviour::new(PASSWORD)));
    let outcome = t
        .engine
        .send_sms(SmsRequest::new(ID, vec!["+1".into()], "x", 1))
        .await;
    assert!(
        matches!(
            outcome.recipients()[0].outcome,
            RecipientOutcome::Sent { .. }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_hundred_thousand_packets_from_unknown_ids_leave_no_trace() {
    let mut config = fast_config();
    config.reject_replies_per_second = 50;
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let started = Instant::now();
    let packets = (0..100_000).map(|i| {
        let id = format!("x{}", rng.next());
        let kind = if i % 2 == 0 {
            keepalive_kind()
        } else {
            NotificationKind::Receive(Receive {
                srcnum: "+1".into(),
                smscnum: None,
                msg: format!("spam {i}"),
            })
        };
        Notification::new(rng.next().to_string(), id, Some("p".into()), kind)
            .encode()
            .unwrap()
    });
    flood(&t, packets).await;
    let elapsed = started.elapsed();
    let stats = t.engine.stats();
    assert_eq!(stats.rejected, 100_000, "{stats:?}");
    assert_eq!(
        (
            stats.channels,
            stats.dedup_entries,
            stats.open_exchanges,
            stats.recent_exchanges,
            stats.ledger_entries,
            stats.workers,
            stats.durable_in_flight,
        ),
        (0, 0, 0, 0, 0, 0, 0),
        "{stats:?}"
    );
    // Rejections are rate limited: goippy is no reflector.
    let allowed = 50 + (elapsed.as_secs_f64() * 50.0).ceil() as u64;
    assert!(
        stats.acks_sent <= allowed,
        "{} rejections in {elapsed:?}",
        stats.acks_sent
    );
    t.no_event(Duration::from_millis(50), |_| true).await;

    // The real channel still gets in at once.
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    assert_eq!(t.engine.stats().channels, 1);
}

#[tokio::test]
async fn a_real_channel_cannot_grow_the_dedup_cache_beyond_its_capacity() {
    let mut config = fast_config();
    config.dedup_capacity = 1000;
    let TestEngine {
        engine, mut events, ..
    } = start(config, &[(ID, PASSWORD)]).await;
    let consumer = tokio::spawn(async move {
        let mut stored = 0;
        while let Some(event) = events.recv().await {
            if let EngineEvent::Sms(sms) = event {
                sms.durable.stored();
                stored += 1;
            }
        }
        stored
    });
    let device = Device::bind(engine.local_addr(), ID, PASSWORD).await;
    for i in 0..3000u64 {
        device.receive(&i.to_string(), "+1", "x").await;
        if i % 100 == 99 {
            // Let the acks catch up so the socket buffer never overflows.
            let deadline = Instant::now() + Duration::from_secs(30);
            while engine.stats().acks_sent < i + 1 {
                assert!(Instant::now() < deadline, "{:?}", engine.stats());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
    let stats = engine.stats();
    assert_eq!(stats.acks_sent, 3000, "{stats:?}");
    assert_eq!(stats.dedup_entries, 1000, "{stats:?}");
    engine.shutdown().await;
    drop(engine);
    assert_eq!(consumer.await.unwrap(), 3000);
}

#[tokio::test]
async fn keepalives_from_a_known_channel_with_mixed_garbage_keep_it_online() {
    let mut config = fast_config();
    config.offline_after = Duration::from_millis(400);
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let mut rng = XorShift(7);
    for round in 0..5u32 {
        flood(&t, (0..500).map(|_| garbage(&mut rng))).await;
        device.notify(&round.to_string(), keepalive_kind()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(t.engine.channel(ID).unwrap().online);
    t.no_event(Duration::from_millis(50), |e| {
        matches!(e, EngineEvent::ChannelOffline { .. })
    })
    .await;
}
