//! Databases the original goippy created are upgraded in place: never
//! rejected, never emptied. The original schema is written out here from
//! its column lists (its MySQL DDL used TINYINT(1), TIMESTAMP, ENUM('in','out')
//! and TEXT; its SQLite DDL the same columns as TEXT/INTEGER).

use goippy_core::engine::CredentialSource;
use goippy_core::number::NumberRules;
use goippy_core::store::{
    GatewayDirectory, LogId, OutboundOptions, OutboxState, Store, StoreError, Stored, Timestamp,
};

use crate::support::store::{Kind, TestDb, gateway, keepalive, on_both_backends, outbound, sms};

on_both_backends!(
    an_original_database_is_upgraded_in_place,
    a_schema_sql_database_gets_what_it_lacks,
    shared_goip_ids_stop_start_up_with_a_clear_message,
    the_original_allow_regex_is_searched_as_its_writers_meant,
);

/// The original goippy's tables. `unique_goip_id` and `with_state` tell
/// apart the two shapes it shipped: the one its code created, and its
/// `schema.sql` (goip_id not unique, no goippy_state).
fn original_ddl(kind: Kind, unique_goip_id: bool, with_state: bool) -> String {
    let unique = if unique_goip_id { " UNIQUE" } else { "" };
    match kind {
        Kind::MySql => {
            let mut ddl = format!(
                "CREATE TABLE goippy_gateways (
                    id INT AUTO_INCREMENT PRIMARY KEY,
                    ext VARCHAR(32) UNIQUE,
                    goip_id VARCHAR(64){unique},
                    goip_pass VARCHAR(64),
                    channel INT,
                    msisdn VARCHAR(32),
                    allow_regex VARCHAR(255),
                    enabled TINYINT(1) DEFAULT 1,
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
                CREATE TABLE goippy_calls (
                    id BIGINT AUTO_INCREMENT PRIMARY KEY,
                    ts INT,
                    goip_id VARCHAR(64),
                    ext VARCHAR(32),
                    direction TINYINT,
                    remote_num VARCHAR(32),
                    cause VARCHAR(32),
                    msisdn VARCHAR(32),
                    raw VARCHAR(255),
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                    INDEX(goip_id), INDEX(ext), INDEX(remote_num)
                ) ENGINE=InnoDB DEFAULT CHARSET=latin1;
                CREATE TABLE goippy_log (
                    id BIGINT AUTO_INCREMENT PRIMARY KEY,
                    dir ENUM('in','out'),
                    msisdn VARCHAR(32),
                    xmpp_jid VARCHAR(255),
                    body TEXT,
                    status VARCHAR(64),
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
            );
            if with_state {
                ddl.push_str(
                    "CREATE TABLE goippy_state (
                        id INT AUTO_INCREMENT PRIMARY KEY,
                        goip_id VARCHAR(64) UNIQUE,
                        ext VARCHAR(32),
                        msisdn VARCHAR(32),
                        gsm_signal INT,
                        gsm_status VARCHAR(32),
                        voip_status VARCHAR(32),
                        voip_state VARCHAR(64),
                        remain_time INT,
                        provider VARCHAR(64),
                        disable_status TINYINT(1),
                        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                        INDEX(goip_id), INDEX(ext), INDEX(msisdn)
                    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
                );
            }
            ddl
        }
        Kind::Sqlite => {
            let mut ddl = format!(
                "CREATE TABLE goippy_gateways (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    ext TEXT UNIQUE,
                    goip_id TEXT{unique},
                    goip_pass TEXT,
                    channel INTEGER,
                    msisdn TEXT,
                    allow_regex TEXT,
                    enabled INTEGER DEFAULT 1,
                    created_at TEXT DEFAULT (datetime('now'))
                );
                CREATE TABLE goippy_calls (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    ts INTEGER,
                    goip_id TEXT,
                    ext TEXT,
                    direction INTEGER,
                    remote_num TEXT,
                    cause TEXT,
                    msisdn TEXT,
                    raw TEXT,
                    created_at TEXT DEFAULT (datetime('now'))
                );
                CREATE TABLE goippy_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    dir TEXT,
                    msisdn TEXT,
                    xmpp_jid TEXT,
                    body TEXT,
                    status TEXT,
                    created_at TEXT DEFAULT (datetime('now'))
                );"
            );
            if with_state {
                ddl.push_str(
                    "CREATE TABLE goippy_state (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        goip_id TEXT UNIQUE,
                        ext TEXT,
                        msisdn TEXT,
                        gsm_signal INTEGER,
                        gsm_status TEXT,
                        voip_status TEXT,
                        voip_state TEXT,
                        remain_time INTEGER,
                        provider TEXT,
                        disable_status INTEGER,
                        updated_at TEXT DEFAULT (datetime('now')),
                        UNIQUE(goip_id)
                    );",
                );
            }
            ddl
        }
    }
}

/// Rows as the original goippy wrote them.
const ORIGINAL_ROWS: &str = "
    INSERT INTO goippy_gateways (ext, goip_id, goip_pass, allow_regex, enabled)
        VALUES ('2508', 'goippy_2508', 'secret', '.*', 1), ('2509', 'goippy_2509', 'other', '.*', 0);
    INSERT INTO goippy_calls (ts, goip_id, ext, direction, remote_num, cause, msisdn, raw)
        VALUES (1734804704, 'goippy_2508', '2508', 1, '+37255500001', '', '+37255620268',
                'RECORD:1734804704;id:goippy_2508;password:secret;dir:1;num:+37255500001'),
               (1734804760, 'goippy_2508', '2508', 0, '+37255500001', 'Normal call clearing', '+37255620268',
                'HANGUP:1734804760;id:goippy_2508;password:secret;num:+37255500001,cause:Normal call clearing');
    INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status)
        VALUES ('in', '+37255500001', '2508@example.org', 'tere', 'recv'),
               ('out', '+37255500001', '2508@example.org', 'hello', 'sms_sent'),
               ('in', '+37255620268', '2508@example.org', '[USSD] Balance 1.00', 'ussd_reply');
";

const ORIGINAL_STATE_ROW: &str = "
    INSERT INTO goippy_state (goip_id, ext, msisdn, gsm_signal, gsm_status, voip_status, voip_state,
                              remain_time, provider, disable_status)
        VALUES ('goippy_2508', '2508', '+37255620268', 25, 'LOGIN', 'LOGIN', 'IDLE', -1, 'Tele2', 0);
";

async fn an_original_database_is_upgraded_in_place(db: TestDb) {
    db.exec(&original_ddl(db.kind, true, true)).await;
    db.exec(ORIGINAL_ROWS).await;
    db.exec(ORIGINAL_STATE_ROW).await;

    let store = db.open().await;
    // Nothing lost.
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_gateways").await, 2);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, 2);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_log").await, 3);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_state").await, 1);

    let gateways = store.list_gateways().await.expect("list");
    assert_eq!(gateways.len(), 2);
    let g = &gateways[0];
    assert_eq!(
        (
            g.ext.as_deref().unwrap_or(""),
            g.goip_id.as_str(),
            g.password.expose(),
            g.enabled
        ),
        ("2508", "goippy_2508", "secret", true)
    );
    assert!(!gateways[1].enabled);
    assert!(
        g.created_at.is_some(),
        "the original created_at is readable"
    );
    assert!(
        g.last_seen.is_some(),
        "last seen comes from the original state row"
    );

    // The original's default allow_regex '.*' allows everything.
    let dir = GatewayDirectory::load(&store, NumberRules::default())
        .await
        .expect("directory");
    assert!(
        dir.lookup("goippy_2508")
            .expect("enabled")
            .password_matches("secret")
    );
    assert!(dir.lookup("goippy_2509").is_none());
    assert!(
        dir.gateway_by_ext("2508")
            .expect("gw")
            .allows_destination("+4915112345678")
    );

    // Old rows are history: in neither the inbox nor the outbox.
    assert!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .is_empty()
    );
    assert!(store.pending_outbox().await.expect("outbox").is_empty());
    assert_eq!(
        store.outbound(LogId(2)).await.expect("read"),
        None,
        "the original's own outbound row ('sms_sent') is no outbox job"
    );
    let first = db.log_entry(LogId(1)).await.expect("row");
    assert_eq!(first.body.as_deref(), Some("tere"));
    assert_eq!(first.status.as_deref(), Some("recv"));
    let age = Timestamp::now().unix() - first.created_unix.expect("created_at readable");
    assert!(
        (0..3600).contains(&age),
        "created_at read as Unix time: {age}"
    );

    let calls = store.recent_calls("goippy_2508", 10).await.expect("calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].cause.as_deref(), Some("Normal call clearing"));
    assert_eq!(calls[0].direction, None, "the original's 0 means unknown");
    assert_eq!(calls[0].event, None, "the original had no event column");
    assert_eq!(calls[1].ts, Some(Timestamp::from_unix(1734804704)));

    let state = store
        .channel_state("goippy_2508")
        .await
        .expect("read")
        .expect("state");
    assert_eq!(
        (state.gsm_signal, state.provider.as_deref()),
        (Some(25), Some("Tele2"))
    );

    if db.kind == Kind::MySql {
        // goippy_calls was latin1: converted, so any text fits now.
        assert_eq!(
            db.scalar(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME LIKE 'goippy%' AND TABLE_COLLATION NOT LIKE 'utf8mb4%' AND TABLE_NAME <> 'goippy_schema_migrations'"
            )
            .await,
            0
        );
    }
    store
        .store_call(
            goippy_core::store::CallRecord {
                goip_id: "goippy_2508".into(),
                recvid: Some(9),
                at: Timestamp::now(),
                event: goippy_core::store::CallEvent::Hangup {
                    remote: "+37255500001".into(),
                    cause: "Нормальное завершение 📞".into(),
                },
                raw: "HANGUP:9".into(),
            },
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store.flush().await.expect("flush");
    let calls = store.recent_calls("goippy_2508", 1).await.expect("calls");
    assert_eq!(calls[0].cause.as_deref(), Some("Нормальное завершение 📞"));

    // And everything new works on the upgraded tables.
    store.record_keepalive(keepalive(
        "goippy_2508",
        Some("+37255620268"),
        30,
        Timestamp::now().unix(),
    ));
    let stored = store
        .store_inbound(sms("goippy_2508", 1, "+37255500002", "uus sõnum 👋"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let out = store
        .enqueue_outbound(
            outbound("goippy_2508", "+37255500002", "vastus"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store.flush().await.expect("flush");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_state").await, 1);
    let state = store
        .channel_state("goippy_2508")
        .await
        .expect("read")
        .expect("state");
    assert_eq!(state.gsm_signal, Some(30));
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].body, "uus sõnum 👋");
    assert_eq!(inbox[0].ext.as_deref(), Some("2508"));
    assert_eq!(
        store.outbound(out).await.expect("read").expect("row").state,
        OutboxState::Queued
    );
    store.close().await.expect("close");

    // Opening again changes nothing and keeps recognising what was stored.
    let store = db.open().await;
    assert_eq!(
        store
            .store_inbound(sms("goippy_2508", 1, "+37255500002", "uus sõnum 👋"), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::Duplicate(stored.id())
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_log").await, 5);
    store.close().await.expect("close");
}

async fn a_schema_sql_database_gets_what_it_lacks(db: TestDb) {
    db.exec(&original_ddl(db.kind, false, false)).await;
    db.exec(ORIGINAL_ROWS).await;
    // An older release had no allow_regex column at all.
    let without_regex = match db.kind {
        Kind::Sqlite => {
            "CREATE TABLE g2 AS SELECT id, ext, goip_id, goip_pass, channel, msisdn, enabled, created_at FROM goippy_gateways; DROP TABLE goippy_gateways; ALTER TABLE g2 RENAME TO goippy_gateways;"
        }
        Kind::MySql => "ALTER TABLE goippy_gateways DROP COLUMN allow_regex;",
    };
    db.exec(without_regex).await;

    let store = db.open().await;
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_gateways").await, 2);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_log").await, 3);
    let g = store
        .gateway_by_ext("2508")
        .await
        .expect("read")
        .expect("gw");
    assert_eq!(g.allow_regex, None);
    // goippy_state now exists and is keyed by goip_id.
    store.record_keepalive(keepalive("goippy_2508", Some("+37255620268"), 20, 1));
    store.record_keepalive(keepalive("goippy_2509", None, 20, 1));
    store.flush().await.expect("flush");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_state").await, 2);
    // goip_id is unique now.
    let dup = db
        .try_exec("INSERT INTO goippy_gateways (ext, goip_id, goip_pass) VALUES ('2510', 'goippy_2508', 'x')")
        .await;
    assert!(dup.is_err(), "a duplicate goip_id must be refused");
    assert!(matches!(
        store
            .save_gateway(&gateway("2510", "x", Some("goippy_2508"), None))
            .await,
        Err(StoreError::GoipIdInUse { .. })
    ));
    store.close().await.expect("close");
}

async fn shared_goip_ids_stop_start_up_with_a_clear_message(db: TestDb) {
    db.exec(&original_ddl(db.kind, false, true)).await;
    db.exec(
        "INSERT INTO goippy_gateways (ext, goip_id, goip_pass) VALUES ('2001', 'gw1', 'a'), ('2002', 'gw1', 'b')",
    )
    .await;
    let e = Store::open(&db.settings)
        .await
        .expect_err("ambiguous channels");
    let msg = e.to_string();
    assert!(
        msg.contains("goippy_gateways.goip_id must be unique") && msg.contains("gw1"),
        "{msg}"
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_gateways").await, 2);
    // Once the operator fixes it, start-up succeeds.
    db.exec("UPDATE goippy_gateways SET goip_id = 'gw2' WHERE ext = '2002'")
        .await;
    let store = db.open().await;
    assert_eq!(store.list_gateways().await.expect("list").len(), 2);
    store.close().await.expect("close");
}

/// The original goippy's rows were written to be searched (`^\+372`):
/// goippy used to demand that they match the whole number, which refused
/// every number of the prefix. The directory is what the router asks.
async fn the_original_allow_regex_is_searched_as_its_writers_meant(db: TestDb) {
    db.exec(&original_ddl(db.kind, true, true)).await;
    // A backslash is an escape character in MySQL's string literals only.
    let prefix = match db.kind {
        Kind::MySql => r"^\\+3712",
        Kind::Sqlite => r"^\+3712",
    };
    db.exec(&format!(
        "INSERT INTO goippy_gateways (ext, goip_id, goip_pass, allow_regex, enabled)
            VALUES ('2508', 'goippy_2508', 'secret', '{prefix}', 1),
                   ('2509', 'goippy_2509', 'other', '1345|1346', 1)"
    ))
    .await;
    let store = db.open().await;
    let dir = GatewayDirectory::load(&store, NumberRules::default())
        .await
        .expect("directory");
    let g = dir.gateway_by_ext("2508").expect("gateway");
    assert_eq!(g.allow_regex, r"^\+3712", "read back as written");
    assert!(g.allows_destination("+37120000001"));
    assert!(g.allows_destination("+37129999999"));
    assert!(!g.allows_destination("+4915112345678"));
    assert!(!g.allows_destination("+37255512345"));
    // Searched as written: a pattern anchored nowhere is found anywhere in
    // the number, as grep finds it.
    let g = dir.gateway_by_ext("2509").expect("gateway");
    assert!(g.allows_destination("1345"));
    assert!(g.allows_destination("+4913451234567"));
    assert!(!g.allows_destination("+37255512345"));
    store.close().await.expect("close");
}
