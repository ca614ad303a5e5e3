//! The real `goippy` binary as systemd runs it: a generated configuration
//! on free ports, a real Prosody, the GoIP simulator, and a notify socket
//! standing in for systemd. SIGTERM in the middle of traffic loses nothing
//! and sends nothing twice; SIGHUP reloads the gateways and the log level
//! without closing the UDP socket; READY, WATCHDOG and STOPPING reach
//! "systemd".

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goip_sim::{ChannelConfig, Device, DeviceConfig, Event};
use goippy_core::config::DbSettings;
use goippy_testkit::ports::free_udp_port;
use goippy_testkit::process::ChildGuard;
use goippy_testkit::prosody::{Prosody, ProsodyConfig};
use tokio::net::UnixDatagram;

use crate::support::bridge::*;
use crate::support::store;

/// A goippy instance's files: configuration, database, log, notify socket.
struct Instance {
    dir: tempfile::TempDir,
    config: PathBuf,
    db: store::TestDb,
    udp_port: u16,
    notices: Arc<Mutex<Vec<String>>>,
    /// More configuration lines.
    extra: String,
}

impl Instance {
    async fn new(prosody: &Prosody, log_level: &str) -> Instance {
        Instance::with_db(prosody, log_level, store::sqlite()).await
    }

    async fn with_db(prosody: &Prosody, log_level: &str, db: store::TestDb) -> Instance {
        Instance::with_db_and(prosody, log_level, db, "").await
    }

    async fn with_db_and(
        prosody: &Prosody,
        log_level: &str,
        db: store::TestDb,
        extra: &str,
    ) -> Instance {
        let dir = tempfile::tempdir().expect("tempdir");
        let udp_port = free_udp_port();
        let config = dir.path().join("goippy.conf");
        let instance = Instance {
            config,
            db,
            udp_port,
            notices: Arc::new(Mutex::new(Vec::new())),
            dir,
            extra: extra.to_string(),
        };
        instance.write_config(prosody, log_level);
        let socket = UnixDatagram::bind(instance.notify_socket()).expect("notify socket");
        let notices = instance.notices.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf).await {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                notices.lock().unwrap_or_else(|p| p.into_inner()).push(text);
            }
        });
        instance
    }

    fn write_config(&self, prosody: &Prosody, log_level: &str) {
        let db = match &self.db.settings {
            DbSettings::Sqlite { file } => format!(
                "DB_BACKEND = \"sqlite\"\n\
                 DB_FILE = \"{}\"\n",
                file.display()
            ),
            DbSettings::MySql(my) => format!(
                "DB_BACKEND = \"mysql\"\n\
                 DB_HOST = \"{}\"\n\
                 DB_PORT = {}\n\
                 DB_BASE = \"{}\"\n\
                 DB_USER = \"{}\"\n\
                 DB_PASS = \"{}\"\n",
                my.host,
                my.port,
                my.database,
                my.user,
                my.password.expose()
            ),
        };
        std::fs::write(
            &self.config,
            format!(
                "XMPP_DOMAIN = \"{USERS}\"\n\
                 XMPP_DATA_DOMAIN = \"{SMS}\"\n\
                 XMPP_COMPONENT_SECRET = \"{SMS_SECRET}\"\n\
                 XMPP_HOST = \"127.0.0.1\"\n\
                 XMPP_PORT = {}\n\
                 XMPP_PING_INTERVAL = 5\n\
                 GOIP_BIND = \"127.0.0.1\"\n\
                 GOIP_PORT = {}\n\
                 GOIP_OFFLINE_WAIT = 5\n\
                 {db}\
                 {}\
                 LOG_DAYS = 0\n\
                 LOG_LEVEL = \"{log_level}\"\n",
                prosody.component_port(),
                self.udp_port,
                self.extra,
            ),
        )
        .expect("write config");
    }

    fn notify_socket(&self) -> PathBuf {
        self.dir.path().join("notify.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("goippy.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `goippy <args> -c <config>`, to completion.
    fn cli(&self, args: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_goippy"))
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .output()
            .expect("run goippy");
        assert!(
            out.status.success(),
            "goippy {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the daemon as systemd would (notify socket, watchdog every 1 s).
    fn spawn(&self) -> ChildGuard {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_goippy"));
        cmd.arg(&self.config)
            .env_remove("RUST_LOG")
            .env("NOTIFY_SOCKET", self.notify_socket())
            .env("WATCHDOG_USEC", "1000000")
            .env("JOURNAL_STREAM", "8:1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        ChildGuard::spawn("goippy", &mut cmd)
            .expect("goippy starts")
            .with_grace(Duration::from_secs(15))
    }

    /// Starts the daemon as an operator does by hand (`goippy -v CONFIG`
    /// with its log sent to a file): no systemd, no journald.
    fn spawn_by_hand(&self, flags: &[&str]) -> ChildGuard {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_goippy"));
        cmd.args(flags)
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        ChildGuard::spawn("goippy", &mut cmd)
            .expect("goippy starts")
            .with_grace(Duration::from_secs(15))
    }

    async fn wait_for_notice(&self, what: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let n = self.notices().iter().filter(|n| n.contains(what)).count();
            if n >= count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} not notified {count} times: {:?}\nlog:\n{}",
                self.notices(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.log().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{needle:?} never logged:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn prosody() -> Prosody {
    Prosody::start(
        ProsodyConfig::new(DOMAIN)
            .component(SMS, SMS_SECRET)
            .component(USERS, USERS_SECRET),
    )
    .expect("prosody starts")
}

fn device_config(port: u16, channels: Vec<ChannelConfig>) -> DeviceConfig {
    let mut config =
        DeviceConfig::new(format!("127.0.0.1:{port}").parse().expect("addr"), channels);
    config.timing = goip_sim::Timing {
        keepalive_interval: Duration::from_millis(300),
        retransmit_interval: Duration::from_millis(700),
        retransmits: 3,
        send_time: Duration::from_millis(30),
        deliver_after: None,
        ussd_delay: Duration::from_millis(30),
        session_idle: Duration::from_secs(90),
    };
    config
}

/// Waits for the child to exit by itself; returns whether it succeeded.
async fn exited(child: &mut ChildGuard, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.success();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "goippy did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_traffic_loses_nothing_and_sends_nothing_twice() {
    let mut prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance = Instance::new(&prosody, "info").await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));

    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    instance.wait_for_notice("WATCHDOG=1", 2).await;
    let (device, mut events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    instance.wait_for_log("channel online").await;

    // Traffic both ways; SIGTERM in the middle of it.
    let mut recvids = Vec::new();
    for i in 0..16 {
        if i == 8 {
            goippy.signal("TERM").expect("SIGTERM");
        }
        users
            .chat(
                PHONE,
                &contact(&format!("+3725551{i:04}")),
                &format!("t{i}"),
                &format!("out {i}"),
                false,
            )
            .await;
        recvids.push(
            device
                .inbound_sms(1, "+37255512345", &format!("in {i}"))
                .await
                .expect("inbound"),
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(
        exited(&mut goippy, Duration::from_secs(10)).await,
        "clean exit\n{}",
        instance.log()
    );
    instance.wait_for_notice("STOPPING=1", 1).await;
    assert!(instance.log().contains("SIGTERM received, stopping"));
    assert!(instance.log().contains("bridge stopped"));

    // What the device saw acked before the stop.
    let mut acked = BTreeSet::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {
        if let Event::Ack { tag, recvid, .. } = e
            && tag == "RECEIVE"
        {
            acked.insert(recvid);
        }
    }
    assert!(
        !acked.is_empty(),
        "some RECEIVEs were acked before the stop"
    );
    for recvid in &acked {
        assert_eq!(
            instance
                .db
                .scalar(&format!(
                    "SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'sms' AND recvid = {recvid}"
                ))
                .await,
            1,
            "acked RECEIVE {recvid} is stored exactly once"
        );
    }

    // goippy comes back (Prosody restarted too, for good measure).
    tokio::task::block_in_place(|| prosody.restart()).expect("prosody restarts");
    users.wait_connected().await;
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 2).await;

    // Every acked SMS reaches the user exactly once (before or after the
    // restart); nothing is sent to the GSM network twice, and every
    // outbound message is either sent or refused with an error.
    let mut inbound: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let acked_bodies: BTreeSet<String> = {
        let mut bodies = BTreeSet::new();
        for (i, recvid) in recvids.iter().enumerate() {
            if acked.contains(recvid) {
                bodies.insert(format!("in {i}"));
            }
        }
        bodies
    };
    loop {
        let sent = device.sent_log(1).await.expect("sent log");
        let settled = (0..16).all(|i| {
            sent.iter().any(|s| s.text == format!("out {i}")) || errors.contains(&format!("t{i}"))
        });
        if settled && acked_bodies.iter().all(|b| inbound.contains_key(b)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not settled: sent {:?}, errors {errors:?}, inbound {inbound:?}\nlog:\n{}",
            sent.iter().map(|s| &s.text).collect::<Vec<_>>(),
            instance.log()
        );
        for e in users.collect(Duration::from_millis(200), |_| true).await {
            if is_chat(&e) {
                *inbound.entry(body(&e)).or_default() += 1;
            } else if is_error(&e) {
                errors.insert(e.attr("id").unwrap_or_default().to_string());
            }
        }
    }
    for e in users.collect(Duration::from_millis(500), |_| true).await {
        if is_chat(&e) {
            *inbound.entry(body(&e)).or_default() += 1;
        }
    }
    for (b, n) in &inbound {
        assert_eq!(*n, 1, "{b:?} delivered {n} times");
    }
    let sent = device.sent_log(1).await.expect("sent log");
    eprintln!(
        "acked before the stop: {}, delivered: {}, sent: {}, refused: {}",
        acked.len(),
        inbound.len(),
        sent.len(),
        errors.len()
    );
    for i in 0..16 {
        let n = sent.iter().filter(|s| s.text == format!("out {i}")).count();
        assert!(n <= 1, "\"out {i}\" sent {n} times");
    }
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_gateways_and_the_log_level_without_closing_the_socket() {
    let prosody = tokio::task::block_in_place(prosody);
    let _users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance = Instance::new(&prosody, "info").await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let (_device, mut events) = Device::start(device_config(
        instance.udp_port,
        vec![
            ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER),
            ChannelConfig::new(2, "goip2", "pw2", ""),
        ],
    ))
    .await
    .expect("device");
    let rejected = events
        .wait_for(PATIENCE, |e| {
            matches!(
                e,
                Event::KeepaliveAck {
                    channel: 2,
                    status: 404,
                    ..
                }
            )
        })
        .await;
    assert!(rejected.is_some(), "goip2 is not known yet");

    // A new gateway and a new log level, then SIGHUP.
    tokio::task::block_in_place(|| instance.cli(&["--add", "2002", "pw2", "--goip-id", "goip2"]));
    instance.write_config(&prosody, "debug");
    assert!(!has_debug_line(&instance.log()), "info level at first");
    goippy.signal("HUP").expect("SIGHUP");
    instance
        .wait_for_log("SIGHUP: reloaded (2 gateways enabled)")
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !has_debug_line(&instance.log()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no debug line after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instance.wait_for_notice("RELOADING=1", 1).await;
    // The new channel is accepted at once, the old one still acked: the
    // socket stayed open (the engine never restarted).
    let accepted = events
        .wait_for(PATIENCE, |e| {
            matches!(
                e,
                Event::KeepaliveAck {
                    channel: 2,
                    status: 200,
                    ..
                }
            )
        })
        .await;
    assert!(accepted.is_some(), "goip2 accepted after SIGHUP");
    let still = events
        .wait_for(PATIENCE, |e| {
            matches!(
                e,
                Event::KeepaliveAck {
                    channel: 1,
                    status: 200,
                    ..
                }
            )
        })
        .await;
    assert!(still.is_some());
    assert_eq!(instance.log().matches("GoIP engine listening").count(), 1);

    // A configuration that cannot be used is reported and the old one kept.
    std::fs::write(&instance.config, "XMPP_DOMAIN = nonsense\n").expect("write");
    goippy.signal("HUP").expect("SIGHUP");
    instance
        .wait_for_log("the configuration cannot be used, keeping the running one")
        .await;
    goippy.signal("INT").expect("SIGINT");
    assert!(
        exited(&mut goippy, Duration::from_secs(10)).await,
        "a clean exit\n{}",
        instance.log()
    );
    assert!(instance.log().contains("SIGINT received, stopping"));
    assert!(
        !instance.log().contains(SMS_SECRET),
        "no secrets in the log"
    );
    assert!(!instance.log().contains("pw2"), "no passwords in the log");
}

/// Lines under journald have no time: `DEBUG target: message`.
fn has_debug_line(log: &str) -> bool {
    log.lines().any(|l| l.starts_with("DEBUG "))
}

/// Prosody is down: goippy is ready anyway (as soon as the database is open
/// and the UDP socket bound) and acks the GoIPs, and stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_acking_while_prosody_is_down() {
    let mut prosody = tokio::task::block_in_place(prosody);
    let instance = Instance::new(&prosody, "info").await;
    tokio::task::block_in_place(|| prosody.stop()).expect("prosody stops");
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let (device, mut events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    assert!(
        events
            .wait_for(PATIENCE, |e| matches!(
                e,
                Event::KeepaliveAck { status: 200, .. }
            ))
            .await
            .is_some()
    );
    let recvid = device
        .inbound_sms(1, "+37255512345", "kept")
        .await
        .expect("sms");
    assert!(
        events
            .wait_for(
                PATIENCE,
                |e| matches!(e, Event::Ack { recvid: r, .. } if *r == recvid)
            )
            .await
            .is_some(),
        "acked although XMPP is down"
    );
    instance.wait_for_notice("WATCHDOG=1", 1).await;
    goippy.signal("TERM").expect("SIGTERM");
    assert!(
        exited(&mut goippy, Duration::from_secs(10)).await,
        "{}",
        instance.log()
    );
    assert_eq!(
        instance
            .db
            .scalar(&format!(
                "SELECT COUNT(*) FROM goippy_log WHERE recvid = {recvid} AND status = 'inbox'"
            ))
            .await,
        1
    );
}

/// goippy running as systemd runs it, with one channel registered and
/// online: the start of every fault test below.
struct Running {
    instance: Instance,
    goippy: ChildGuard,
    device: Device,
    events: goip_sim::Events,
}

impl Running {
    async fn start(prosody: &Prosody, db: store::TestDb, extra: &str) -> Running {
        let instance = Instance::with_db_and(prosody, "info", db, extra).await;
        tokio::task::block_in_place(|| {
            instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID])
        });
        let goippy = instance.spawn();
        instance.wait_for_notice("READY=1", 1).await;
        let (device, events) = Device::start(device_config(
            instance.udp_port,
            vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
        ))
        .await
        .expect("device");
        instance.wait_for_log("channel online").await;
        Running {
            instance,
            goippy,
            device,
            events,
        }
    }
}

/// The database dies in the middle of traffic, goippy is restarted while
/// it is still down, and comes back: nothing is lost and nothing is
/// doubled. The GoIP gets its acks all along (the spool keeps what the
/// database cannot take), goippy stops cleanly and starts again without
/// its database (instead of exiting, which systemd's start limit would
/// turn into a dead service), the user is told that an SMS waits, and
/// once the database is back every SMS reaches the user once and the
/// waiting SMS goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_database_loses_nothing_across_a_restart() {
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    // A server of its own: this test kills it.
    let mut mariadb =
        tokio::task::block_in_place(goippy_testkit::mariadb::MariaDb::start).expect("mariadb");
    let db = store::TestDb::from_mysql(
        tokio::task::block_in_place(|| mariadb.create_database()).expect("database"),
    );
    let Running {
        instance,
        mut goippy,
        device,
        mut events,
    } = Running::start(&prosody, db, "").await;

    // Traffic flows: an SMS each way.
    let before = device
        .inbound_sms(1, "+37255512345", "before")
        .await
        .expect("sms");
    wait_for_ack(&mut events, before, &instance).await;
    users
        .chat(PHONE, &contact("+37255510001"), "o1", "out before", false)
        .await;
    users
        .expect("the inbound SMS", |e| is_chat(e) && body(e) == "before")
        .await;
    wait_for_sent(&device, "out before", &instance).await;

    // The database dies (SIGKILL by PID); traffic goes on, and is acked.
    tokio::task::block_in_place(|| mariadb.kill()).expect("mariadb killed");
    let during = device
        .inbound_sms(1, "+37255512345", "during")
        .await
        .expect("sms");
    wait_for_ack(&mut events, during, &instance).await;
    users
        .chat(PHONE, &contact("+37255510002"), "o2", "out during", false)
        .await;
    let told = users
        .expect("word that the SMS waits", |e| {
            is_chat(e) && body(e).contains("Not sent yet")
        })
        .await;
    assert_eq!(told.attr("from"), Some(contact("+37255510002").as_str()));

    // SIGTERM: a clean stop, nothing unsaved — and prompt: with everything
    // in the spool, nothing is worth waiting for a dead database (no read,
    // no write attempt), though the shutdown deadline is 10 s.
    goippy.signal("TERM").expect("SIGTERM");
    assert!(
        exited(&mut goippy, Duration::from_secs(5)).await,
        "a clean exit while the database is down\n{}",
        instance.log()
    );
    assert!(
        !instance.log().contains("writes not saved"),
        "{}",
        instance.log()
    );

    // goippy starts while the database is still down, and serves.
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 2).await;
    let restarted = device
        .inbound_sms(1, "+37255512345", "after the restart")
        .await
        .expect("sms");
    wait_for_ack(&mut events, restarted, &instance).await;
    assert!(
        goippy.try_wait().expect("wait").is_none(),
        "goippy keeps running without its database\n{}",
        instance.log()
    );

    // The database comes back: everything arrives, once.
    tokio::task::block_in_place(|| mariadb.start_again()).expect("mariadb back");
    let got = users
        .collect(Duration::from_secs(25), |e| {
            is_chat(e) && !body(e).contains("Not sent yet")
        })
        .await;
    let bodies: Vec<String> = got.iter().map(body).collect();
    for wanted in ["during", "after the restart"] {
        assert_eq!(
            bodies.iter().filter(|b| *b == wanted).count(),
            1,
            "{wanted:?} exactly once in {bodies:?}\n{}",
            instance.log()
        );
    }
    assert!(!bodies.contains(&"before".to_string()), "{bodies:?}");
    wait_for_sent(&device, "out during", &instance).await;
    let sent = device.sent_log(1).await.expect("sent log");
    assert_eq!(
        sent.iter().filter(|s| s.text == "out during").count(),
        1,
        "the waiting SMS went out once"
    );
    assert_eq!(
        instance
            .db
            .scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND kind = 'sms'")
            .await,
        3,
        "every inbound SMS stored once"
    );
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);
    assert!(
        !instance.log().contains(GOIP_PASS),
        "no passwords in the log"
    );
}

/// MariaDB frozen (SIGSTOP): its sockets stay open and never answer, as
/// a hung server or a half-open connection does. goippy notices within
/// DB_TIMEOUT, acks into the spool, tells the user an SMS waits, and once
/// the server thaws everything arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_holds_up_no_message() {
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let mariadb =
        tokio::task::block_in_place(goippy_testkit::mariadb::MariaDb::start).expect("mariadb");
    let db = store::TestDb::from_mysql(
        tokio::task::block_in_place(|| mariadb.create_database()).expect("database"),
    );
    let Running {
        instance,
        mut goippy,
        device,
        mut events,
    } = Running::start(&prosody, db, "DB_TIMEOUT = 2\n").await;

    let pid = mariadb.pid().expect("mariadb pid");
    let signal = |sig: &str| kill(sig, pid);
    signal("-STOP");
    let frozen = device
        .inbound_sms(1, "+37255512345", "while frozen")
        .await
        .expect("sms");
    wait_for_ack(&mut events, frozen, &instance).await;
    users
        .chat(
            PHONE,
            &contact("+37255510003"),
            "f1",
            "out while frozen",
            false,
        )
        .await;
    users
        .expect("word that the SMS waits", |e| {
            is_chat(e) && body(e).contains("Not sent yet")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal("-CONT");

    let got = users
        .collect(Duration::from_secs(20), |e| {
            is_chat(e) && body(e) == "while frozen"
        })
        .await;
    assert_eq!(got.len(), 1, "delivered once\n{}", instance.log());
    wait_for_sent(&device, "out while frozen", &instance).await;
    let sent = device.sent_log(1).await.expect("sent log");
    assert_eq!(
        sent.iter().filter(|s| s.text == "out while frozen").count(),
        1
    );
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);
}

/// An admin's `sqlite3` shell (here: a second connection) holds SQLite's
/// write lock: goippy acks into the spool and delivers once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_file_holds_up_no_message() {
    use sqlx::Connection;
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance =
        Instance::with_db_and(&prosody, "info", store::sqlite(), "DB_TIMEOUT = 3\n").await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let (device, mut events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    instance.wait_for_log("channel online").await;

    let file = instance.db.sqlite_file().expect("a SQLite store");
    let mut shell = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut shell)
        .await
        .expect("the write lock");
    let locked = device
        .inbound_sms(1, "+37255512345", "while locked")
        .await
        .expect("sms");
    wait_for_ack(&mut events, locked, &instance).await;
    users
        .chat(
            PHONE,
            &contact("+37255510004"),
            "l1",
            "out while locked",
            false,
        )
        .await;
    users
        .expect("word that the SMS waits", |e| {
            is_chat(e) && body(e).contains("Not sent yet")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    sqlx::query("ROLLBACK")
        .execute(&mut shell)
        .await
        .expect("release the lock");

    let got = users
        .collect(Duration::from_secs(15), |e| {
            is_chat(e) && body(e) == "while locked"
        })
        .await;
    assert_eq!(got.len(), 1, "delivered once\n{}", instance.log());
    wait_for_sent(&device, "out while locked", &instance).await;
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);
}

/// SIGHUP while the database is frozen: the reload waits for the database,
/// but beside the main loop — watchdog pings go on, and SIGTERM is acted on
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_waiting_for_the_database_holds_up_neither_the_watchdog_nor_a_stop() {
    let prosody = tokio::task::block_in_place(prosody);
    let _users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let mariadb =
        tokio::task::block_in_place(goippy_testkit::mariadb::MariaDb::start).expect("mariadb");
    let db = store::TestDb::from_mysql(
        tokio::task::block_in_place(|| mariadb.create_database()).expect("database"),
    );
    let instance = Instance::with_db(&prosody, "info", db).await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let pid = mariadb.pid().expect("mariadb pid");
    let signal = |sig: &str| kill(sig, pid);
    signal("-STOP");
    goippy.signal("HUP").expect("SIGHUP");
    instance.wait_for_notice("RELOADING=1", 1).await;
    let pings = instance
        .notices()
        .iter()
        .filter(|n| n.contains("WATCHDOG=1"))
        .count();
    instance.wait_for_notice("WATCHDOG=1", pings + 2).await;
    let stop = tokio::time::Instant::now();
    goippy.signal("TERM").expect("SIGTERM");
    let clean = exited(&mut goippy, Duration::from_secs(12)).await;
    signal("-CONT");
    assert!(clean, "a clean exit\n{}", instance.log());
    // Prompt, not at the 10 s deadline: the reload's read is abandoned, and
    // the sendid's write, kept by the spool, waits for no attempt.
    assert!(
        stop.elapsed() < Duration::from_secs(5),
        "stopped after {:?}\n{}",
        stop.elapsed(),
        instance.log()
    );
}

/// Sends `sig` (`-STOP`, `-CONT`) to the process `pid` (a server of the test's own).
fn kill(sig: &str, pid: u32) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

/// A small file system, mounted for one test and unmounted after it.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={megabytes}m,mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(status.success(), "mount a tmpfs");
        SmallDisk { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A full disk is SQLite's "database down": the main file cannot grow. The
/// spool keeps a reserve of its own space, so the SMS is still acked, and
/// it reaches the user once space is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_message() {
    use sqlx::Connection;
    if !goippy_testkit::prosody::running_as_root() {
        eprintln!("skipped: mounting a small file system needs root");
        return;
    }
    let disk = SmallDisk::mount(24);
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let db = store::sqlite_at(disk.path().join("goippy.db"));
    let Running {
        instance,
        mut goippy,
        device,
        mut events,
    } = Running::start(&prosody, db, "DB_TIMEOUT = 3\n").await;
    assert!(
        disk.path().join("goippy.spool.db").exists(),
        "the spool is next to DB_FILE"
    );

    // The WAL is emptied, so that the next write must grow a file; then the
    // disk is filled to the last block.
    let file = disk.path().join("goippy.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("a second connection");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    conn.close().await.expect("close");
    let filler = disk.fill();

    let full = device
        .inbound_sms(1, "+37255512345", "on a full disk")
        .await
        .expect("sms");
    wait_for_ack(&mut events, full, &instance).await;
    instance.wait_for_log("kept in the spool").await;
    std::fs::remove_file(&filler).expect("free the disk");
    let got = users
        .collect(Duration::from_secs(20), |e| {
            is_chat(e) && body(e) == "on a full disk"
        })
        .await;
    assert_eq!(got.len(), 1, "delivered once\n{}", instance.log());
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);
    drop(device);
}

async fn wait_for_ack(events: &mut goip_sim::Events, recvid: String, instance: &Instance) {
    assert!(
        events
            .wait_for(
                Duration::from_secs(3),
                |e| matches!(e, Event::Ack { recvid: r, .. } if *r == recvid)
            )
            .await
            .is_some(),
        "RECEIVE {recvid} acked within 3 s\n{}",
        instance.log()
    );
}

async fn wait_for_sent(device: &Device, text: &str, instance: &Instance) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let log = device.sent_log(1).await.expect("sent log");
        if log.iter().any(|s| s.text == text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{text:?} not sent\n{}",
            instance.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 8's logging: at info level, one line per message event with its
/// ids — recvid for an inbound SMS and the XMPP id it was delivered with;
/// the XMPP id, sendid and sms_no (the ones the GoIP saw) for an outbound
/// one — and never a body, a channel password or the component secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_events_are_logged_with_their_ids_and_without_bodies_or_secrets() {
    const CHANNEL_PASS: &str = "chan-pw-5d8e1";
    const IN_BODY: &str = "inbound body quokka 4711";
    const OUT_BODY: &str = "outbound body wombat 0815";
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance = Instance::new(&prosody, "info").await;
    tokio::task::block_in_place(|| {
        instance.cli(&["--add", EXT, CHANNEL_PASS, "--goip-id", GOIP_ID])
    });
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let (device, _events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, CHANNEL_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    instance.wait_for_log("channel online").await;

    let recvid = device
        .inbound_sms(1, "+37255512345", IN_BODY)
        .await
        .expect("sms");
    let delivered = users
        .expect("the inbound SMS", |e| is_chat(e) && body(e) == IN_BODY)
        .await;
    let xmpp_id = delivered
        .attr("id")
        .unwrap_or_else(|| panic!("delivered with an id\n{}", instance.log()))
        .to_string();
    users
        .chat(PHONE, &contact("+37255510001"), "out-1", OUT_BODY, false)
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let sent = loop {
        let log = device.sent_log(1).await.expect("sent log");
        if let Some(s) = log.into_iter().find(|s| s.text == OUT_BODY) {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not sent\n{}",
            instance.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    instance.wait_for_log("outbound sent").await;
    instance.wait_for_log("inbound delivered to XMPP").await;
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(10)).await);
    let log = instance.log();

    // A line with all of `parts` (`key=value`, the value quoted or not),
    // and the log_id it names.
    let line = |what: &str, parts: &[String]| -> String {
        log.lines()
            .map(|l| l.replace('"', ""))
            .find(|l| l.contains(what) && parts.iter().all(|p| l.contains(p.as_str())))
            .unwrap_or_else(|| panic!("no {what:?} line with {parts:?}:\n{log}"))
            .to_string()
    };
    let log_id = |line: &str| -> String {
        line.split_whitespace()
            .find(|w| w.starts_with("log_id="))
            .unwrap_or_else(|| panic!("no log_id in {line}"))
            .to_string()
    };
    // Inbound: stored with its recvid, delivered with its XMPP id.
    let stored = line(
        "inbound stored",
        &[
            format!("recvid={recvid}"),
            format!("goip_id={GOIP_ID}"),
            format!("xmpp_jid={EXT}@{USERS}"),
        ],
    );
    line(
        "inbound delivered to XMPP",
        &[log_id(&stored), format!("xmpp_id={xmpp_id}")],
    );
    // One line per event, none said twice: at info level the row's story is
    // its `stored` line and its `delivered` line (each with every id).
    let row = log_id(&stored);
    let story: Vec<String> = log
        .lines()
        .map(|l| l.replace('"', ""))
        .filter(|l| l.contains("inbound") && l.split_whitespace().any(|w| w == row))
        .collect();
    assert_eq!(story.len(), 2, "one line per event for {row}: {story:#?}");
    // Outbound: queued with its XMPP id, then the GoIP's sendid and sms_no.
    let queued = line("outbound queued", &["xmpp_id=out-1".to_string()]);
    let id = log_id(&queued);
    line(
        "outbound sending",
        &[id.clone(), format!("sendid={}", sent.sendid)],
    );
    line(
        "outbound sms sent",
        &[
            id.clone(),
            format!("sms_no={}", sent.sms_no),
            "xmpp_id=out-1".to_string(),
        ],
    );
    line("outbound sent", &[id, format!("sms_no={}", sent.sms_no)]);
    line(
        "SEND",
        &[
            format!("sendid={}", sent.sendid),
            format!("telid={}", sent.telid),
        ],
    );

    assert!(!has_debug_line(&log), "info level");
    for (what, text) in [
        ("an inbound body", IN_BODY),
        ("an outbound body", OUT_BODY),
        ("the channel password", CHANNEL_PASS),
        ("the component secret", SMS_SECRET),
    ] {
        let found: Vec<&str> = log.lines().filter(|l| l.contains(text)).collect();
        assert!(found.is_empty(), "{what} in the log: {found:?}");
    }
}

/// `goippy -v` run by hand with its log in a file, as the README's goip-sim
/// section has it: plain lines without colour codes, so the README's
/// `grep log_id=N` follows a message there too; and -v shows goippy's own
/// debug lines, not every query sqlx makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_is_plain_text_and_minus_v_is_goippys_own_debug() {
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance = Instance::new(&prosody, "info").await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn_by_hand(&["-v"]);
    let (device, _events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    instance.wait_for_log("channel online").await;
    device
        .inbound_sms(1, "+37255512345", "hello")
        .await
        .expect("sms");
    users
        .expect("the inbound SMS", |e| is_chat(e) && body(e) == "hello")
        .await;
    instance.wait_for_log("inbound delivered to XMPP").await;
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(10)).await);
    let log = instance.log();

    assert!(!log.contains('\x1b'), "colour codes in a log file:\n{log}");
    // The README's recipe: one grep finds the message's whole story.
    let stored = log
        .lines()
        .find(|l| l.contains("inbound stored"))
        .unwrap_or_else(|| panic!("no inbound stored line:\n{log}"));
    let log_id = stored
        .split_whitespace()
        .find(|w| w.starts_with("log_id="))
        .unwrap_or_else(|| panic!("no log_id in {stored}"));
    let story: Vec<&str> = log
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == log_id))
        .collect();
    for step in ["inbound stored", "inbound delivered to XMPP"] {
        assert!(
            story.iter().any(|l| l.contains(step)),
            "`grep {log_id}` finds no {step:?} line:\n{log}"
        );
    }
    // `<time> <LEVEL> <target>: …`: goippy's own debug lines, nobody else's.
    let debug_targets: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip(1);
            match (words.next(), words.next()) {
                (Some("DEBUG" | "TRACE"), Some(target)) => Some(target),
                _ => None,
            }
        })
        .collect();
    assert!(
        debug_targets.iter().any(|t| t.starts_with("goippy_core::")),
        "-v shows goippy's debug lines:\n{log}"
    );
    let foreign: Vec<&&str> = debug_targets
        .iter()
        .filter(|t| !t.starts_with("goippy"))
        .collect();
    assert!(
        foreign.is_empty(),
        "-v shows other crates' debug lines, from {foreign:?}"
    );
}

/// Anyone can make goippy refuse stanzas by the thousand. Each is still
/// answered, but the journal gets one `refused` line per sender and 10 s,
/// not one per stanza; and another sender's refusal is logged as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_is_answered_but_logged_once_per_sender() {
    let prosody = tokio::task::block_in_place(prosody);
    let mut users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;
    let instance = Instance::new(&prosody, "info").await;
    let _goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    instance.wait_for_log("XMPP component connected").await;

    // Not an extension: forbidden.
    const FLOOD: usize = 200;
    let flooder = format!("9999@{USERS}/x");
    for i in 0..FLOOD {
        users
            .chat(
                &flooder,
                &contact("+37255512345"),
                &format!("f{i}"),
                "free sms?",
                false,
            )
            .await;
    }
    for i in 0..FLOOD {
        let e = users
            .expect("a refusal", |e| {
                is_error(e) && e.attr("to") == Some(flooder.as_str())
            })
            .await;
        assert_eq!(e.attr("id"), Some(format!("f{i}").as_str()));
        assert_eq!(error_of(&e).1, "forbidden");
    }
    let other = format!("8888@{USERS}/y");
    users
        .chat(&other, &contact("+37255512345"), "o1", "me too", false)
        .await;
    users
        .expect("the other refusal", |e| {
            is_error(e) && e.attr("to") == Some(other.as_str())
        })
        .await;
    instance.wait_for_log(&format!("from=8888@{USERS}")).await;
    // What the XMPP side refuses by itself is logged the same way.
    users
        .send_xml(&format!(
            "<iq from='7777@{USERS}/z' to='{SMS}' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>"
        ))
        .await;
    users
        .expect("the unsupported iq's error", |e| e.attr("id") == Some("v1"))
        .await;
    instance.wait_for_log(&format!("from=7777@{USERS}")).await;
    let log = instance.log();
    let flood_lines = log
        .lines()
        .filter(|l| l.contains("refused") && l.contains(&format!("from=9999@{USERS}")))
        .count();
    assert!(
        (1..=2).contains(&flood_lines),
        "{flood_lines} lines for {FLOOD} refusals:\n{log}"
    );
}

/// The TCP ports process `pid` listens on: its socket inodes
/// (`/proc/PID/fd`) found among the kernel's listening TCP sockets
/// (`/proc/net/tcp`, `tcp6`, state 0A).
fn listening_tcp_ports(pid: u32) -> Vec<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's descriptors")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == "0A" && inodes.contains(*inode) {
                let port = local.rsplit(':').next().unwrap_or("");
                ports.push(u16::from_str_radix(port, 16).expect("a hex port"));
            }
        }
    }
    ports
}

/// METRICS_LISTEN: without it goippy listens on no TCP port at all; with a
/// port alone it serves /metrics and /health on 127.0.0.1 there. When
/// another connection holds SQLite's write lock, the message that arrives
/// is acked from the spool and /health says so (503), and goes back to 200
/// once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_serves_only_when_configured_and_health_sees_the_spool() {
    use crate::support::http;
    use sqlx::Connection;

    let prosody = tokio::task::block_in_place(prosody);
    let _users = Peer::connect_answering_pings(&prosody, USERS, USERS_SECRET).await;

    let plain = Instance::new(&prosody, "info").await;
    let mut goippy = plain.spawn();
    plain.wait_for_notice("READY=1", 1).await;
    plain.wait_for_log("goippy running").await;
    let pid = goippy.pid().expect("goippy runs");
    assert_eq!(
        listening_tcp_ports(pid),
        Vec::<u16>::new(),
        "{}",
        plain.log()
    );
    assert!(!plain.log().contains("metrics"), "{}", plain.log());
    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);

    let port = goippy_testkit::ports::free_tcp_port();
    let instance = Instance::with_db_and(
        &prosody,
        "info",
        store::sqlite(),
        &format!("METRICS_LISTEN = {port}\n"),
    )
    .await;
    tokio::task::block_in_place(|| instance.cli(&["--add", EXT, GOIP_PASS, "--goip-id", GOIP_ID]));
    let mut goippy = instance.spawn();
    instance.wait_for_notice("READY=1", 1).await;
    let pid = goippy.pid().expect("goippy runs");
    assert_eq!(listening_tcp_ports(pid), vec![port], "{}", instance.log());
    assert!(
        instance.log().contains(&format!(
            "metrics: serving /metrics and /health listen=127.0.0.1:{port}"
        )),
        "{}",
        instance.log()
    );
    let (device, mut events) = Device::start(device_config(
        instance.udp_port,
        vec![ChannelConfig::new(1, GOIP_ID, GOIP_PASS, OWN_NUMBER)],
    ))
    .await
    .expect("device");
    instance.wait_for_log("channel online").await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let health = |status: u16, says: &'static str| async move {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let answer = http::get(addr, "/health").await;
            if answer.status == status && answer.body.contains(says) {
                return answer.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/health never answered {status} with {says:?}: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    health(200, "ready\n").await;
    let metrics = http::get(addr, "/metrics").await;
    assert_eq!(metrics.status, 200);
    let samples = http::parse_openmetrics(&metrics.body);
    assert_eq!(
        samples.get("goippy_line_online{goip_id=\"goip1\",ext=\"2001\"}"),
        Some(&1.0),
        "{samples:#?}"
    );

    let file = instance.db.sqlite_file().expect("a SQLite store");
    let mut shell = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut shell)
        .await
        .expect("the write lock");
    let locked = device
        .inbound_sms(1, "+37255512345", "while locked")
        .await
        .expect("sms");
    wait_for_ack(&mut events, locked, &instance).await;
    let body = health(503, "writes kept in the spool").await;
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(body.contains("database: not taking writes; "), "{body}");
    let samples = http::parse_openmetrics(&http::get(addr, "/metrics").await.body);
    assert!(
        samples
            .get("goippy_spool_backlog")
            .is_some_and(|n| *n >= 1.0),
        "{samples:#?}"
    );
    sqlx::query("ROLLBACK")
        .execute(&mut shell)
        .await
        .expect("release the lock");
    health(200, "database: ok").await;

    goippy.signal("TERM").expect("SIGTERM");
    assert!(exited(&mut goippy, Duration::from_secs(12)).await);
    drop(device);
}
