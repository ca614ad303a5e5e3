//! What only the MySQL/MariaDB backend does: clear connect errors, and
//! surviving a server restart in the middle of writes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goippy_core::config::{DbSettings, DbTls, MySqlSettings, Secret};
use goippy_core::store::{CallEvent, CallStored, OutboundOptions, Store, StoreError, Stored};
use goippy_testkit::mariadb::{MariaDb, test_database};
use goippy_testkit::ports::free_tcp_port;

use crate::support::store::{TestDb, call, outbound, sms};

#[tokio::test]
async fn connect_errors_name_the_server_but_never_the_password() {
    let port = free_tcp_port();
    let settings = DbSettings::MySql(MySqlSettings {
        host: "127.0.0.1".into(),
        port,
        database: "goippy_prod".into(),
        user: "goippy".into(),
        password: Secret::new("hunter2-secret"),
        tls: DbTls::default(),
    });
    let e = Store::open(&settings)
        .await
        .expect_err("nothing listens there");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Connect { .. }), "{msg}");
    for part in [
        format!("127.0.0.1:{port}"),
        "\"goippy_prod\"".to_string(),
        "\"goippy\"".to_string(),
    ] {
        assert!(msg.contains(&part), "{part} missing from: {msg}");
    }
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(!format!("{e:?}").contains("hunter2"));

    // A real server that refuses the password.
    let db = test_database().expect("database");
    let settings = DbSettings::MySql(MySqlSettings {
        host: db.host.clone(),
        port: db.port,
        database: db.database.clone(),
        user: db.user.clone(),
        password: Secret::new("wrong-hunter2"),
        tls: DbTls::default(),
    });
    let msg = Store::open(&settings)
        .await
        .expect_err("wrong password")
        .to_string();
    assert!(
        msg.starts_with("cannot connect to the MySQL/MariaDB server"),
        "{msg}"
    );
    assert!(msg.contains(&db.database), "{msg}");
    assert!(!msg.contains("wrong-hunter2"), "{msg}");
}

/// Writers keep writing while the server is stopped and started again
/// (politely, then by SIGKILL as in a crash): every write returns, and every
/// one is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mariadb_restart_during_writes_loses_nothing() {
    // GOIPPY_TEST_LOG=goippy_core=info shows the store's retries when the
    // test fails (or with --nocapture).
    crate::support::log::init();
    let server = MariaDb::start().expect("a private MariaDB");
    let database = server.create_database().expect("database");
    let settings = DbSettings::MySql(MySqlSettings {
        host: database.host.clone(),
        port: database.port,
        database: database.database.clone(),
        user: database.user.clone(),
        password: Secret::new(database.password.clone()),
        tls: DbTls::default(),
    });
    let store = Store::open(&settings).await.expect("open");
    let server = Arc::new(Mutex::new(server));

    const WRITERS: i64 = 8;
    const EACH: i64 = 150;
    let done = Arc::new(AtomicI64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let done = Arc::clone(&done);
        writers.push(tokio::spawn(async move {
            let mut outbound_ids = Vec::new();
            for i in 0..EACH {
                let recvid = w * 1_000_000 + i;
                let stored = store
                    .store_inbound(
                        sms("ch", recvid, "+37255500001", &format!("m {recvid}")),
                        None,
                    )
                    .await
                    .expect("an inbound write returns once committed")
                    .committed()
                    .expect("committed");
                assert!(matches!(stored, Stored::New(_)), "{stored:?}");
                done.fetch_add(1, Ordering::Relaxed);
                let logged = store
                    .store_call(
                        call("ch", recvid, CallEvent::Expiry { seconds: 1 }),
                        Vec::new(),
                    )
                    .await
                    .expect("a call write returns once committed")
                    .committed()
                    .expect("committed");
                assert!(matches!(logged, CallStored::New(_)), "{logged:?}");
                if i % 10 == 0 {
                    outbound_ids.push(
                        store
                            .enqueue_outbound(
                                outbound("ch", "+37255500001", "x"),
                                OutboundOptions::default(),
                            )
                            .await
                            .expect("queued")
                            .committed()
                            .expect("committed"),
                    );
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            outbound_ids
        }));
    }

    let n = WRITERS * EACH;
    for crash in [false, true] {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let progress = done.load(Ordering::Relaxed);
        assert!(
            0 < progress && progress < n,
            "the restart must come in the middle of the writes ({progress} of {n} done)"
        );
        let server = Arc::clone(&server);
        tokio::task::spawn_blocking(move || {
            let mut s = server.lock().expect("lock");
            if crash {
                s.kill().expect("kill");
            } else {
                s.stop().expect("stop");
            }
            std::thread::sleep(Duration::from_millis(500));
            s.start_again().expect("start again");
        })
        .await
        .expect("restart");
    }

    let mut outbound_count = 0;
    for w in writers {
        outbound_count += w.await.expect("writer").len() as i64;
    }
    store.flush().await.expect("flush");
    store.close().await.expect("close");

    let db = TestDb::from_mysql(database);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in'")
            .await,
        n
    );
    assert_eq!(
        db.scalar("SELECT COUNT(DISTINCT recvid) FROM goippy_log WHERE dir = 'in'")
            .await,
        n
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_dedup WHERE tag = 'RECEIVE'")
            .await,
        n
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_dedup WHERE tag = 'EXPIRY'")
            .await,
        n
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, n);
    assert_eq!(
        db.scalar("SELECT COUNT(DISTINCT recvid) FROM goippy_calls")
            .await,
        n
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'out'")
            .await,
        outbound_count
    );
    drop(server);
}
