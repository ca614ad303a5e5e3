//! Inbound inserts per second, for each backend.
//!
//! `cargo bench -p goippy-core --bench store_inbound` prints, for SQLite (a
//! temp file, WAL, synchronous=FULL) and MariaDB (a throwaway server with
//! its default durability, or GOIPPY_TEST_MYSQL_URL), how many RECEIVEs per
//! second `Store::store_inbound` commits:
//! * one at a time — each waits for its own commit, as a single GoIP
//!   channel's messages would;
//! * many at once — what the batching writer reaches when many channels
//!   deliver together.
//!
//! Figures only: nothing here asserts a speed.

use std::time::{Duration, Instant};

use goippy_core::config::{DbSettings, DbTls, MySqlSettings, Secret};
use goippy_core::store::{InboundKind, InboundRecord, Store, Timestamp};
use goippy_testkit::mariadb::test_database;

const SEQUENTIAL: i64 = 300;
const CONCURRENT: i64 = 20_000;
const IN_FLIGHT: usize = 256;

fn record(recvid: i64) -> InboundRecord {
    InboundRecord {
        recipients: Vec::new(),
        goip_id: format!("goippy_{}", 2000 + recvid % 16),
        recvid,
        at: Timestamp::now(),
        xmpp_jid: Some("2001@example.org".into()),
        kind: InboundKind::Sms {
            sender: "+37255500001".into(),
            body: format!(
                "Message {recvid}: an ordinary SMS of about a hundred and twenty characters, as most of them are."
            ),
        },
    }
}

async fn run(name: &str, settings: &DbSettings) {
    let store = Store::open(settings).await.expect("open");
    let mut latencies = Vec::with_capacity(SEQUENTIAL as usize);
    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        store
            .store_inbound(record(i), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed");
        latencies.push(t.elapsed());
    }
    let sequential = start.elapsed();
    latencies.sort();

    let start = Instant::now();
    let mut next = SEQUENTIAL;
    let end = SEQUENTIAL + CONCURRENT;
    let mut running = tokio::task::JoinSet::new();
    while next < end || !running.is_empty() {
        while next < end && running.len() < IN_FLIGHT {
            let store = store.clone();
            let id = next;
            running.spawn(async move { store.store_inbound(record(id), None).await });
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            done.expect("task").expect("stored");
        }
    }
    let concurrent = start.elapsed();
    store.close().await.expect("close");

    println!(
        "{name:<8} one at a time: {:>7.0} inserts/s (p50 {:>6.2} ms, p99 {:>6.2} ms, {SEQUENTIAL} messages)",
        SEQUENTIAL as f64 / sequential.as_secs_f64(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 99 / 100]),
    );
    println!(
        "{name:<8} {IN_FLIGHT} at once:   {:>7.0} inserts/s ({CONCURRENT} messages in {:.2} s)",
        CONCURRENT as f64 / concurrent.as_secs_f64(),
        concurrent.as_secs_f64(),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.block_on(run(
        "sqlite",
        &DbSettings::Sqlite {
            file: dir.path().join("bench.db"),
        },
    ));
    match test_database() {
        Ok(db) => runtime.block_on(run(
            "mariadb",
            &DbSettings::MySql(MySqlSettings {
                host: db.host.clone(),
                port: db.port,
                database: db.database.clone(),
                user: db.user.clone(),
                password: Secret::new(db.password.clone()),
                tls: DbTls::default(),
            }),
        )),
        Err(e) => println!("mariadb  skipped: {e}"),
    }
}
