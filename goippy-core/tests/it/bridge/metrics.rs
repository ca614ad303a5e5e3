//! `/metrics` and `/health` (METRICS_LISTEN) against the bridge world: real
//! Prosody, the simulated GoIP, real SQLite or a private MariaDB, and the
//! endpoint scraped over TCP. Faults are real: Prosody stopped, MariaDB
//! frozen with SIGSTOP, requests a scraper would never send.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use goip_sim::{Failure, FailureChange};
use goippy_core::metrics::{MAX_CONNECTIONS, MetricsServer};
use goippy_testkit::ports::free_tcp_port;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::support::bridge::*;
use crate::support::http::{self, parse_openmetrics};
use crate::support::store;

const BOB: &str = "+37255512345";
const LINE: &str = "{goip_id=\"goip1\",ext=\"2001\"}";

async fn serve(w: &World) -> (MetricsServer, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
    let server = MetricsServer::start(addr, w.bridge().probe())
        .await
        .expect("the metrics listener starts");
    (server, addr)
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let answer = http::get(addr, "/metrics").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{}",
        answer.head
    );
    parse_openmetrics(&answer.body)
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

/// Scrapes until `series` has `wanted` (counters settle a moment after
/// the event the test waited for).
async fn scrape_until(addr: SocketAddr, series: &str, wanted: f64) -> BTreeMap<String, f64> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let samples = scrape(addr).await;
        if samples.get(series) == Some(&wanted) {
            return samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} never became {wanted}: {samples:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health_until(addr: SocketAddr, path: &str, status: u16, says: &str) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let answer = http::get(addr, path).await;
        if answer.status == status && answer.body.contains(says) {
            return answer.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never answered {status} with {says:?}; last: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One SMS in (and a retransmission of another), one out, one failed: each
/// counted on its line; the line's keepalive state, the link, the database
/// and the build are there too, in a well-formed OpenMetrics exposition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_each_line_did() {
    let mut w = World::start(Options::default()).await;
    let (_server, addr) = serve(&w).await;

    let before = scrape(addr).await;
    assert_eq!(value(&before, &format!("goippy_line_online{LINE}")), 1.0);
    assert_eq!(
        value(&before, &format!("goippy_line_gsm_registered{LINE}")),
        1.0
    );
    let dbm = value(&before, &format!("goippy_line_signal_dbm{LINE}"));
    assert!((-113.0..=-51.0).contains(&dbm), "{dbm}");
    assert_eq!(value(&before, "goippy_xmpp_connected"), 1.0);
    assert_eq!(value(&before, "goippy_database_up"), 1.0);
    assert_eq!(value(&before, "goippy_spool_backlog"), 0.0);
    assert_eq!(value(&before, "goippy_tasks_stopped"), 0.0);
    assert_eq!(
        value(
            &before,
            &format!(
                "goippy_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );

    // In: one SMS through the simulator.
    w.receive(BOB, "hello").await;
    w.users
        .expect("the SMS", |e| is_chat(e) && body(e) == "hello")
        .await;
    // The same RECEIVE twice, as a GoIP whose ack got lost sends it.
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let datagram =
        format!("RECEIVE:1734804704;id:{GOIP_ID};password:{GOIP_PASS};srcnum:{BOB};msg:twice");
    for _ in 0..2 {
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", w.udp_port))
            .await
            .expect("send");
        let mut buf = [0u8; 256];
        tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf))
            .await
            .expect("an ack")
            .expect("recv");
    }
    w.users
        .expect("the retransmitted SMS, once", |e| {
            is_chat(e) && body(e) == "twice"
        })
        .await;
    // Out: one sent, one failed.
    w.users
        .chat(PHONE, &contact(BOB), "o1", "goes out", false)
        .await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_log WHERE xmpp_id = 'o1' AND status = 'sent'",
        1,
    )
    .await;
    w.device
        .fail(
            1,
            FailureChange::Set(Failure::ErrorStatus {
                code: 38,
                destination: None,
            }),
        )
        .await
        .expect("fail");
    w.users
        .chat(PHONE, &contact(BOB), "o2", "doomed", false)
        .await;
    w.users.expect("the failure", error_for("o2")).await;

    let after = scrape_until(addr, &format!("goippy_line_sms_failed_total{LINE}"), 1.0).await;
    assert_eq!(
        value(&after, &format!("goippy_line_sms_received_total{LINE}")),
        2.0,
        "hello, and twice once"
    );
    assert_eq!(
        value(&after, &format!("goippy_line_sms_sent_total{LINE}")),
        1.0
    );
    assert_eq!(
        value(&after, &format!("goippy_line_sms_unknown_total{LINE}")),
        0.0
    );
    assert_eq!(
        value(&after, &format!("goippy_line_retransmissions_total{LINE}")),
        1.0
    );
    assert!(
        value(&after, &format!("goippy_line_acks_sent_total{LINE}")) >= 3.0,
        "hello, twice and its copy were acked: {after:#?}"
    );
    assert_eq!(value(&after, "goippy_outbox_queued"), 0.0);
    assert_eq!(value(&after, "goippy_outbox_sending"), 0.0);
    assert!(
        value(&after, "goippy_store_commit_seconds_count") >= 4.0,
        "every stored message is a committed batch: {after:#?}"
    );
    assert_eq!(
        value(&after, "goippy_store_commit_seconds_count"),
        value(&after, "goippy_store_commit_seconds_bucket{le=\"+Inf\"}")
    );
    assert_eq!(value(&after, "goippy_xmpp_reconnects_total"), 0.0);
}

/// A channel that stops sending keepalives (an unplugged GoIP) is online
/// 0 once GOIP_OFFLINE_AFTER has passed, and 1 again with its next
/// keepalive; goippy itself stays ready (a line is not goippy's health).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_line_is_offline_in_the_metrics_and_back() {
    let w = World::start(Options::default()).await;
    let (_server, addr) = serve(&w).await;
    let online = format!("goippy_line_online{LINE}");
    scrape_until(addr, &online, 1.0).await;
    w.silence_channel().await;
    scrape_until(addr, &online, 0.0).await;
    health_until(addr, "/health", 200, "ready\n").await;
    w.device.fail(1, FailureChange::Off).await.expect("wake up");
    scrape_until(addr, &online, 1.0).await;
}

/// Prosody goes away: /health (= /health/ready) turns 503 and says since
/// when the link is down, /health/live stays 200 (nothing in goippy is
/// broken), the metrics say so; when Prosody is back, ready again, and the
/// reconnect is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_when_prosody_is_gone_and_when_it_is_back() {
    let mut w = World::start(Options::default()).await;
    let (_server, addr) = serve(&w).await;
    let body = health_until(addr, "/health", 200, "ready").await;
    assert!(body.starts_with("ready\n"), "{body}");
    assert!(body.contains("xmpp: connected since "), "{body}");
    assert!(body.contains("database: ok"), "{body}");
    assert!(body.contains("tasks: all running"), "{body}");

    tokio::task::block_in_place(|| w.prosody.stop()).expect("prosody stops");
    let body = health_until(addr, "/health", 503, "xmpp: disconnected since ").await;
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(body.contains("database: ok"), "{body}");
    let ready = http::get(addr, "/health/ready").await;
    assert_eq!(ready.status, 503, "{ready:?}");
    let live = http::get(addr, "/health/live").await;
    assert_eq!(
        (live.status, live.body.as_str()),
        (200, "live\ntasks: all running\n")
    );
    assert_eq!(value(&scrape(addr).await, "goippy_xmpp_connected"), 0.0);

    tokio::task::block_in_place(|| w.prosody.restart()).expect("prosody starts again");
    health_until(addr, "/health", 200, "xmpp: connected since ").await;
    assert_eq!(
        value(&scrape(addr).await, "goippy_xmpp_reconnects_total"),
        1.0
    );
}

/// MariaDB frozen (SIGSTOP: its sockets stay open and never answer): a
/// scrape still answers, with `goippy_database_up 0` and without the queue
/// depths it could not count; /health is 503 and says the database is why;
/// once MariaDB goes on, ready again. (The spool's part is the daemon's
/// test, `bridge::daemon`: this world's store has no spool.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_frozen_database() {
    let mariadb = tokio::task::block_in_place(goippy_testkit::mariadb::MariaDb::start)
        .expect("a private MariaDB");
    let db = store::TestDb::from_mysql(
        tokio::task::block_in_place(|| mariadb.create_database()).expect("database"),
    );
    let w = World::start_on(
        Options {
            mysql: true,
            ..Options::default()
        },
        db,
    )
    .await;
    let (_server, addr) = serve(&w).await;
    health_until(addr, "/health", 200, "database: ok").await;

    let frozen = Frozen::stop(mariadb.pid().expect("the server runs"));
    let body = health_until(addr, "/health", 503, "database: ").await;
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(body.contains("while counting the backlog"), "{body}");
    assert!(body.contains("xmpp: connected since "), "{body}");
    let samples = scrape(addr).await;
    assert_eq!(value(&samples, "goippy_database_up"), 0.0);
    assert!(
        !samples.contains_key("goippy_outbox_queued"),
        "{samples:#?}"
    );
    drop(frozen);
    health_until(addr, "/health", 200, "database: ok").await;
}

/// What no scraper sends gets its 4xx, and the daemon goes on: a malformed
/// request line, a head larger than the limit, a body, another method,
/// another path. Connections that send nothing are closed by the server,
/// and while they are open one more than the limit is turned away at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_huge_and_idle_requests_cost_nothing_lasting() {
    let w = World::start(Options::default()).await;
    let (_server, addr) = serve(&w).await;

    let garbage = http::raw(addr, b"\x16\x03\x01 hello there\r\n\r\n").await;
    assert_eq!(garbage.status, 400, "{garbage:?}");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: goippy\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let huge = http::raw(addr, huge.as_bytes()).await;
    assert!([413, 431].contains(&huge.status), "a 64 KiB head: {huge:?}");
    let body = http::raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: goippy\r\nContent-Length: 1000000000\r\n\r\nxxxx",
    )
    .await;
    assert_eq!(body.status, 413, "{body:?}");
    let post = http::raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: goippy\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(post.status, 405, "{post:?}");
    assert!(
        post.head.to_ascii_lowercase().contains("allow: get, head"),
        "{post:?}"
    );
    let elsewhere = http::get(addr, "/admin").await;
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    let head = http::raw(
        addr,
        b"HEAD /health HTTP/1.1\r\nHost: goippy\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((head.status, head.body.as_str()), (200, ""), "{head:?}");

    // Idle connections fill every slot; one more is closed without an answer.
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Accepting is asynchronous: give the listener the moment it needs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    let n = tokio::time::timeout(PATIENCE, extra.read_to_end(&mut buf))
        .await
        .expect("the connection over the limit is closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf));
    // The server ends the idle ones by itself.
    for mut stream in idle {
        let mut buf = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut buf))
            .await
            .expect("an idle connection is closed by the server")
            .ok();
    }
    let samples = scrape(addr).await;
    assert_eq!(value(&samples, "goippy_tasks_stopped"), 0.0);
    assert!(w.bridge().stopped_tasks().is_empty());
    assert_eq!(http::get(addr, "/health").await.status, 200);
}

/// An address already taken: the listener does not start, and says which
/// address and key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_is_a_start_error_naming_the_key() {
    let w = World::start(Options::default()).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let e = MetricsServer::start(addr, w.bridge().probe())
        .await
        .expect_err("the address is taken");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot listen for metrics on TCP {addr} (METRICS_LISTEN): Address already in use"
        )),
        "{text}"
    );
}

/// Sends SIGCONT to a process stopped by SIGSTOP when dropped, so a failing
/// test does not leave it stopped.
struct Frozen(u32);

impl Frozen {
    fn stop(pid: u32) -> Frozen {
        signal(pid, "STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
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
