//! The store's behaviour, run once against SQLite and once against a real
//! MariaDB (a throwaway server, or GOIPPY_TEST_MYSQL_URL).

use std::collections::HashSet;
use std::time::Duration;

use goippy_core::engine::CredentialSource;
use goippy_core::number::NumberRules;
use goippy_core::store::{
    CallDirection, CallEvent, CallRecord, CallStored, GatewayChange, GatewayDefinition,
    GatewayDirectory, InboundKind, InboundRecord, LogKind, NoticeRecord, OutboundKind,
    OutboundOptions, OutboxState, Store, StoreError, StoreOptions, Stored, Timestamp,
    recvid_number,
};

use crate::support::store::{
    Kind, TestDb, call, gateway, keepalive, on_both_backends, outbound, sms,
};

on_both_backends!(
    gateways_are_managed,
    gateways_keep_their_channel_number,
    directory_answers_from_memory_and_follows_changes,
    directory_learns_a_channels_number_at_once,
    keepalives_update_state_and_msisdn,
    unchanged_keepalives_are_not_rewritten,
    calls_are_logged_newest_first,
    a_retransmitted_call_is_logged_once_also_after_reopening,
    a_call_without_a_recvid_is_logged_each_time,
    a_call_with_a_recvid_that_is_no_number_is_logged_once,
    a_call_and_its_notice_are_one_commit,
    a_call_duration_beyond_an_int_is_stored_clamped,
    inbound_is_durable_deduplicated_and_waits_in_the_inbox,
    dedup_survives_reopening,
    a_reused_recvid_is_a_new_message_after_the_dedup_window,
    outbox_moves_through_its_states_and_never_twice,
    delivery_reports_find_their_sms,
    cleanup_deletes_old_rows_but_never_unfinished_work,
    text_in_any_script_round_trips,
    concurrent_inbound_writes_all_commit,
    a_full_queue_makes_calls_wait_and_loses_none,
    a_closed_store_refuses_work,
);

async fn gateways_are_managed(db: TestDb) {
    let store = db.open().await;
    if let Some(file) = db.sqlite_file() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("db file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds passwords");
        let dir_mode = std::fs::metadata(file.parent().expect("dir"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o750);
    }
    let (change, g) = store
        .save_gateway(&gateway("2001", "secret", None, None))
        .await
        .expect("add");
    assert_eq!(change, GatewayChange::Created);
    assert_eq!(g.goip_id, "goippy_2001");
    assert_eq!(g.password.expose(), "secret");
    assert!(g.enabled);
    assert!(g.created_at.is_some());
    assert_eq!(g.last_seen, None);

    let (change, g) = store
        .save_gateway(&gateway(
            "2001",
            "secret2",
            Some("gw1_ch1"),
            Some(r"\+372\d+"),
        ))
        .await
        .expect("update");
    assert_eq!(change, GatewayChange::Updated);
    assert_eq!(g.goip_id, "gw1_ch1");
    assert_eq!(g.allow_regex.as_deref(), Some(r"\+372\d+"));

    // "-" means the default goip_id again.
    store
        .save_gateway(&gateway("2002", "pw", Some("-"), None))
        .await
        .expect("add 2002");
    let e = store
        .save_gateway(&gateway("2003", "pw", Some("gw1_ch1"), None))
        .await
        .expect_err("goip_id taken");
    assert!(
        matches!(&e, StoreError::GoipIdInUse { other_ext, .. } if other_ext == "2001"),
        "{e}"
    );
    let e = store
        .save_gateway(&gateway("2003", "pw", None, Some("[a-")))
        .await
        .expect_err("bad regex");
    assert!(e.to_string().contains("regex parse error"), "{e}");
    assert!(
        store
            .gateway_by_ext("2003")
            .await
            .expect("lookup")
            .is_none()
    );

    store
        .set_gateway_enabled("2002", false)
        .await
        .expect("disable");
    let all = store.list_gateways().await.expect("list");
    let exts: Vec<(&str, bool)> = all
        .iter()
        .map(|g| (g.ext.as_deref().unwrap_or(""), g.enabled))
        .collect();
    assert_eq!(exts, vec![("2001", true), ("2002", false)]);
    assert_eq!(
        store
            .gateway_by_goip_id("gw1_ch1")
            .await
            .expect("lookup")
            .and_then(|g| g.ext),
        Some("2001".to_string())
    );
    assert!(matches!(
        store.set_gateway_enabled("9999", true).await,
        Err(StoreError::UnknownExtension(e)) if e == "9999"
    ));
    assert!(matches!(
        store.remove_gateway("9999").await,
        Err(StoreError::UnknownExtension(_))
    ));
    let removed = store.remove_gateway("2002").await.expect("remove");
    assert_eq!(removed.goip_id, "goippy_2002");
    assert_eq!(store.list_gateways().await.expect("list").len(), 1);

    // Last seen comes from the keepalive state; the msisdn from its num.
    store.record_keepalive(keepalive(
        "gw1_ch1",
        Some("+37255512345"),
        20,
        Timestamp::now().unix(),
    ));
    store.flush().await.expect("flush");
    let g = store
        .list_gateways()
        .await
        .expect("list")
        .into_iter()
        .find(|g| g.msisdn.as_deref() == Some("+37255512345"))
        .expect("found by msisdn");
    assert_eq!(g.ext.as_deref(), Some("2001"));
    assert!(g.last_seen.is_some());
    if let Some(file) = db.sqlite_file() {
        let wal = file.with_file_name("goippy.db-wal");
        assert!(wal.exists(), "SQLite runs in WAL mode");
    }
    store.close().await.expect("close");
}

/// `goippy --add <ext> <pass> <channel>`: the GoIP line number is stored in
/// `channel`; a save without one clears it, as a new definition would.
async fn gateways_keep_their_channel_number(db: TestDb) {
    let store = db.open().await;
    let definition = GatewayDefinition {
        ext: "2508",
        password: "pw",
        goip_id: None,
        channel: Some(1),
        allow_regex: None,
    };
    let (change, g) = store.save_gateway(&definition).await.expect("add");
    assert_eq!(change, GatewayChange::Created);
    assert_eq!(g.goip_id, "goippy_2508");
    assert_eq!(g.channel, Some(1));
    let (change, g) = store
        .save_gateway(&GatewayDefinition {
            goip_id: Some("gw1_ch12"),
            channel: Some(12),
            ..definition
        })
        .await
        .expect("update");
    assert_eq!(change, GatewayChange::Updated);
    assert_eq!((g.goip_id.as_str(), g.channel), ("gw1_ch12", Some(12)));
    let listed = store.list_gateways().await.expect("list");
    assert_eq!(listed[0].channel, Some(12));
    let (_, g) = store.save_gateway(&definition).await.expect("update");
    assert_eq!((g.goip_id.as_str(), g.channel), ("goippy_2508", Some(1)));
    let (_, g) = store
        .save_gateway(&gateway("2508", "pw", None, None))
        .await
        .expect("update without a channel");
    assert_eq!(g.channel, None);
    for bad in [0, 1000] {
        let e = store
            .save_gateway(&GatewayDefinition {
                channel: Some(bad),
                ..definition
            })
            .await
            .expect_err("not a GoIP line");
        assert!(
            matches!(
                e,
                StoreError::InvalidInput {
                    field: "channel",
                    ..
                }
            ),
            "{e}"
        );
    }
    assert_eq!(
        store
            .gateway_by_ext("2508")
            .await
            .expect("lookup")
            .and_then(|g| g.channel),
        None
    );
    store.close().await.expect("close");
}

async fn directory_answers_from_memory_and_follows_changes(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, Some(r"\+372\d{7,8}|1345")))
        .await
        .expect("add");
    store
        .save_gateway(&gateway("2002", "pw2", Some("gw_b"), None))
        .await
        .expect("add");
    store
        .set_gateway_enabled("2002", false)
        .await
        .expect("disable");
    let rules = NumberRules::new(Some("372")).expect("rules");
    let dir = GatewayDirectory::load(&store, rules).await.expect("load");

    let c = dir.lookup("goippy_2001").expect("enabled channel");
    assert!(c.password_matches("pw1"));
    assert!(
        dir.lookup("gw_b").is_none(),
        "disabled channels are refused"
    );
    let g = dir.gateway_by_ext("2001").expect("by ext");
    assert!(g.allows_destination("+37255512345"));
    assert!(g.allows_destination("1345"));
    assert!(!g.allows_destination("+4915112345678"));

    // Changes reach the snapshot through the periodic reload.
    let _refresh = dir.spawn_refresh(Duration::from_millis(100));
    store
        .set_gateway_enabled("2002", true)
        .await
        .expect("enable");
    store.record_keepalive(keepalive(
        "goippy_2001",
        Some("+37255512345"),
        20,
        Timestamp::now().unix(),
    ));
    store.flush().await.expect("flush");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (dir.lookup("gw_b").is_none() || dir.gateway_by_msisdn("055512345").is_none())
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dir.lookup("gw_b").is_some(), "re-enabled channel not seen");
    // The same number, written nationally and with 00.
    assert_eq!(
        dir.gateway_by_msisdn("055512345")
            .and_then(|g| g.ext.clone()),
        Some("2001".to_string())
    );
    for form in ["0037255512345", "37255512345", "+372 5551 2345"] {
        assert_eq!(
            dir.gateway_by_msisdn(form).map(|g| g.goip_id.clone()),
            Some("goippy_2001".to_string()),
            "{form}"
        );
    }
    assert!(dir.gateway_by_msisdn("+37255512346").is_none());
    store.remove_gateway("2001").await.expect("remove");
    assert_eq!(dir.refresh_now().await.expect("refresh"), 1);
    assert!(dir.lookup("goippy_2001").is_none());
    assert_eq!(dir.gateways().len(), 1);
    store.close().await.expect("close");
}

async fn directory_learns_a_channels_number_at_once(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add");
    store
        .save_gateway(&gateway("2002", "pw2", None, None))
        .await
        .expect("add");
    let dir = GatewayDirectory::load(&store, NumberRules::default())
        .await
        .expect("load");
    assert!(dir.gateway_by_msisdn("+37255500001").is_none());

    // No reload in between: the keepalive's number is known at once.
    let loaded = dir.generation();
    assert!(dir.learn_msisdn("goippy_2001", "+37255500001"));
    assert!(
        !dir.learn_msisdn("goippy_2001", "+37255500001"),
        "no change"
    );
    let learned = dir.generation();
    assert_ne!(learned, loaded, "readers see that something changed");
    let g = dir.gateway_by_msisdn("0037255500001").expect("by number");
    assert_eq!(g.ext.as_deref(), Some("2001"));
    assert_eq!(
        dir.gateway_by_ext("2001").and_then(|g| g.msisdn.clone()),
        Some("+37255500001".to_string())
    );
    assert_eq!(
        dir.gateway_by_goip_id("goippy_2001")
            .and_then(|g| g.msisdn.clone()),
        Some("+37255500001".to_string())
    );

    // A reload that read the gateways before the keepalive's number was
    // stored (here: never stored) does not forget it.
    assert_eq!(dir.refresh_now().await.expect("refresh"), 2);
    assert_eq!(
        dir.gateway_by_msisdn("+37255500001")
            .and_then(|g| g.ext.clone()),
        Some("2001".to_string()),
        "the learned number survives a reload"
    );
    assert_eq!(
        dir.generation(),
        learned,
        "the rows were those of the last reload: nothing was replaced"
    );

    // A new SIM: the old number no longer points at the channel.
    assert!(dir.learn_msisdn("goippy_2001", "+37255500009"));
    assert!(dir.gateway_by_msisdn("+37255500001").is_none());
    assert_eq!(
        dir.gateway_by_msisdn("+37255500009")
            .and_then(|g| g.ext.clone()),
        Some("2001".to_string())
    );
    // Unknown channels and empty numbers change nothing.
    assert!(!dir.learn_msisdn("nobody", "+37255500002"));
    assert!(!dir.learn_msisdn("goippy_2002", " "));
    assert!(dir.gateway_by_msisdn("+37255500002").is_none());
    store.close().await.expect("close");
}

async fn keepalives_update_state_and_msisdn(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw", None, None))
        .await
        .expect("add");
    let now = Timestamp::now().unix();
    store.record_keepalive(keepalive("goippy_2001", Some("+37255512345"), 20, now));
    // Coalesced: only the newest per channel waits.
    store.record_keepalive(keepalive("goippy_2001", Some("+37255512345"), 25, now + 1));
    store.flush().await.expect("flush");
    let s = store
        .channel_state("goippy_2001")
        .await
        .expect("read")
        .expect("state stored");
    assert_eq!(s.gsm_signal, Some(25));
    assert_eq!(s.ext.as_deref(), Some("2001"));
    assert_eq!(s.msisdn.as_deref(), Some("+37255512345"));
    assert_eq!(s.provider.as_deref(), Some("Tele2"));
    assert_eq!(s.cell_info.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
    assert_eq!(s.source.as_deref(), Some("192.0.2.10:5060"));
    assert_eq!(s.updated_at, Some(Timestamp::from_unix(now + 1)));
    let g = store
        .gateway_by_ext("2001")
        .await
        .expect("read")
        .expect("gw");
    assert_eq!(g.msisdn.as_deref(), Some("+37255512345"));

    // An empty num does not erase the gateway's number.
    store.record_keepalive(keepalive("goippy_2001", None, 7, now + 30));
    store.flush().await.expect("flush");
    let g = store
        .gateway_by_ext("2001")
        .await
        .expect("read")
        .expect("gw");
    assert_eq!(g.msisdn.as_deref(), Some("+37255512345"));
    let s = store
        .channel_state("goippy_2001")
        .await
        .expect("read")
        .expect("state");
    assert_eq!((s.gsm_signal, s.msisdn), (Some(7), None));
    assert_eq!(store.channel_state("nobody").await.expect("read"), None);
    store.close().await.expect("close");
}

async fn unchanged_keepalives_are_not_rewritten(db: TestDb) {
    let store = db
        .open_with(StoreOptions {
            state_refresh: Duration::from_secs(120),
            ..StoreOptions::default()
        })
        .await;
    let t = Timestamp::now().unix();
    store.record_keepalive(keepalive("ch", Some("+37255512345"), 20, t));
    store.flush().await.expect("flush");
    // The same state 30 s later: not written.
    store.record_keepalive(keepalive("ch", Some("+37255512345"), 20, t + 30));
    store.flush().await.expect("flush");
    let s = store
        .channel_state("ch")
        .await
        .expect("read")
        .expect("state");
    assert_eq!(s.updated_at, Some(Timestamp::from_unix(t)));
    // A change is written at once...
    store.record_keepalive(keepalive("ch", Some("+37255512345"), 21, t + 60));
    store.flush().await.expect("flush");
    let s = store
        .channel_state("ch")
        .await
        .expect("read")
        .expect("state");
    assert_eq!(s.updated_at, Some(Timestamp::from_unix(t + 60)));
    // ...and an unchanged one once the stored one is older than state_refresh.
    store.record_keepalive(keepalive("ch", Some("+37255512345"), 21, t + 200));
    store.flush().await.expect("flush");
    let s = store
        .channel_state("ch")
        .await
        .expect("read")
        .expect("state");
    assert_eq!(s.updated_at, Some(Timestamp::from_unix(t + 200)));
    store.close().await.expect("close");
}

/// A store with extension 2001's gateway, whose channel (`goippy_2001`)
/// has just reported its SIM's number, +37255512345.
async fn open_with_channel_2001(db: &TestDb) -> Store {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw", None, None))
        .await
        .expect("add");
    store.record_keepalive(keepalive(
        "goippy_2001",
        Some("+37255512345"),
        20,
        Timestamp::now().unix(),
    ));
    store
}

async fn calls_are_logged_newest_first(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    store
        .store_call(
            call(
                "goippy_2001",
                100,
                CallEvent::Record {
                    direction: Some(CallDirection::Incoming),
                    remote: "+37255500000".into(),
                },
            ),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store
        .store_call(
            call(
                "goippy_2001",
                101,
                CallEvent::Hangup {
                    remote: "+37255500000".into(),
                    cause: "Normal call clearing".into(),
                },
            ),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store
        .store_call(
            call("goippy_2001", 102, CallEvent::Expiry { seconds: 42 }),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    // An EXPIRY with no call to attach to gets its own row.
    store
        .store_call(
            call("other", 1, CallEvent::Expiry { seconds: 5 }),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store.flush().await.expect("flush");

    let calls = store.recent_calls("goippy_2001", 10).await.expect("calls");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].event.as_deref(), Some("HANGUP"));
    assert_eq!(calls[0].cause.as_deref(), Some("Normal call clearing"));
    assert_eq!(calls[0].duration, Some(42));
    assert_eq!(calls[0].msisdn.as_deref(), Some("+37255512345"));
    assert_eq!(calls[1].event.as_deref(), Some("RECORD"));
    assert_eq!(calls[1].direction, Some(CallDirection::Incoming));
    assert_eq!(calls[1].duration, None);
    assert!(calls[1].ts.is_some());
    let one = store.recent_calls("goippy_2001", 1).await.expect("calls");
    assert_eq!(one.len(), 1);
    let other = store.recent_calls("other", 10).await.expect("calls");
    assert_eq!(
        (other.len(), other[0].event.as_deref(), other[0].duration),
        (1, Some("EXPIRY"), Some(5))
    );
    store.close().await.expect("close");
}

/// A call event the GoIP sends again (its ack was lost, or goippy
/// restarted before acking) is one row, however often it comes.
async fn a_retransmitted_call_is_logged_once_also_after_reopening(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let record = || {
        call(
            "goippy_2001",
            7,
            CallEvent::Record {
                direction: Some(CallDirection::Incoming),
                remote: "+37255500000".into(),
            },
        )
    };
    let first = store
        .store_call(record(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(first, CallStored::New(_)), "{first:?}");
    assert_eq!(
        store
            .store_call(record(), Vec::new())
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(first.id())
    );
    // The same recvid for another event is another event.
    let hangup = store
        .store_call(
            call(
                "goippy_2001",
                7,
                CallEvent::Hangup {
                    remote: "+37255500000".into(),
                    cause: "Normal call clearing".into(),
                },
            ),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(hangup, CallStored::New(_)), "{hangup:?}");
    // An EXPIRY goes into the call's row; its retransmission changes nothing.
    let expiry = store
        .store_call(
            call("goippy_2001", 8, CallEvent::Expiry { seconds: 42 }),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert_eq!(expiry, CallStored::New(hangup.id()));
    store.close().await.expect("close");

    let store = db.open().await;
    assert_eq!(
        store
            .store_call(record(), Vec::new())
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(first.id()),
        "recognised after a restart"
    );
    assert_eq!(
        store
            .store_call(
                call("goippy_2001", 8, CallEvent::Expiry { seconds: 42 }),
                Vec::new()
            )
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(hangup.id())
    );
    store.close().await.expect("close");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, 2);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_calls WHERE event = 'RECORD' AND recvid = 7")
            .await,
        1
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_calls WHERE event = 'HANGUP' AND duration = 42")
            .await,
        1
    );
}

/// Without a recvid there is no dedup key: the event is logged.
/// A GoIP without NTP reuses recvids after a reboot: an identical SMS
/// (same sender, same text) or call event under a recvid stored longer than
/// the dedup window ago is a new message, stored and delivered; within the
/// window it is a retransmission. The engine applies the same rule in
/// memory; this is the half that holds across restarts.
async fn a_reused_recvid_is_a_new_message_after_the_dedup_window(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let text = || sms("goippy_2001", 17, "+37255500001", "call me back");
    let record = || {
        call(
            "goippy_2001",
            17,
            CallEvent::Record {
                direction: Some(CallDirection::Incoming),
                remote: "+37255500001".into(),
            },
        )
    };
    let first = store
        .store_inbound(text(), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(first, Stored::New(_)), "{first:?}");
    let first_call = store
        .store_call(record(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(first_call, CallStored::New(_)), "{first_call:?}");
    // The keys are 9 minutes old: still retransmissions (10-minute window).
    let back_date = |secs: i64| {
        format!(
            "UPDATE goippy_dedup SET created_unix = {} WHERE recvid = 17",
            Timestamp::now().unix() - secs
        )
    };
    db.exec(&back_date(9 * 60)).await;
    assert_eq!(
        store
            .store_inbound(text(), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::Duplicate(first.id())
    );
    assert_eq!(
        store
            .store_call(record(), Vec::new())
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(first_call.id())
    );
    // 10 minutes and more: new messages, each with its own row and key.
    db.exec(&back_date(10 * 60)).await;
    let again = store
        .store_inbound(text(), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let Stored::New(again_id) = again else {
        panic!("a reused recvid after the window is a new message: {again:?}")
    };
    assert_ne!(again_id, first.id());
    let again_call = store
        .store_call(record(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(again_call, CallStored::New(_)), "{again_call:?}");
    assert_ne!(again_call.id(), first_call.id());
    // Whose retransmissions are recognised in turn, also after a restart.
    store.close().await.expect("close");
    let store = db.open().await;
    assert_eq!(
        store
            .store_inbound(text(), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::Duplicate(again_id)
    );
    assert_eq!(
        store
            .store_call(record(), Vec::new())
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(again_call.id())
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_log WHERE dir = 'in' AND recvid = 17")
            .await,
        2
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_dedup WHERE recvid = 17")
            .await,
        2,
        "one key per tag: the stale ones were replaced"
    );
    // The window is the store's option (GOIP_DEDUP_WINDOW).
    store.close().await.expect("close");
    let store = db
        .open_with(StoreOptions {
            dedup_window: Duration::from_secs(60),
            ..StoreOptions::default()
        })
        .await;
    db.exec(&back_date(61)).await;
    assert!(matches!(
        store
            .store_inbound(text(), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::New(_)
    ));
    store.close().await.expect("close");
}

async fn a_call_without_a_recvid_is_logged_each_time(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let hidden = || CallRecord {
        recvid: None,
        ..call(
            "goippy_2001",
            0,
            CallEvent::Record {
                direction: Some(CallDirection::Incoming),
                remote: String::new(),
            },
        )
    };
    let first = store
        .store_call(hidden(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let second = store
        .store_call(hidden(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(
        matches!(first, CallStored::New(_)) && matches!(second, CallStored::New(_)),
        "{first:?} {second:?}"
    );
    assert_ne!(first.id(), second.id());
    store.close().await.expect("close");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_calls WHERE recvid IS NULL")
            .await,
        2
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_dedup").await, 0);
}

/// A recvid that is no number gets its key by the same rule as an SMS's
/// ([`recvid_number`]), so its resends are recognised too.
async fn a_call_with_a_recvid_that_is_no_number_is_logged_once(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let record = || CallRecord {
        recvid: Some(recvid_number("abc")),
        ..call(
            "goippy_2001",
            0,
            CallEvent::Record {
                direction: Some(CallDirection::Incoming),
                remote: "+37255500000".into(),
            },
        )
    };
    let first = store
        .store_call(record(), Vec::new())
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(first, CallStored::New(_)), "{first:?}");
    assert_eq!(
        store
            .store_call(record(), Vec::new())
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(first.id())
    );
    store.close().await.expect("close");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, 1);
}

fn call_notice(text: &str) -> NoticeRecord {
    NoticeRecord {
        goip_id: "goippy_2001".into(),
        to: "2001@example.org".into(),
        from: Some("+37255500000".into()),
        about: None,
        what: "chat".into(),
        text: text.into(),
        code: None,
        outbound: None,
    }
}

/// A call's notice is committed with the call, or neither is: a notice
/// that cannot be stored leaves the call unlogged too (so unacked, and its
/// resend is new, not a duplicate that would never be told). A resend of a
/// logged call adds no notice.
async fn a_call_and_its_notice_are_one_commit(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let record = || {
        call(
            "goippy_2001",
            9,
            CallEvent::Record {
                direction: Some(CallDirection::Incoming),
                remote: "+37255500000".into(),
            },
        )
    };
    let notices = "SELECT COUNT(*) FROM goippy_log WHERE kind = 'notice' \
                   AND body = 'Incoming call from +37255500000' AND status = 'inbox'";
    // Notices cannot be stored for a while.
    if db.sqlite_file().is_some() {
        db.exec(
            "CREATE TRIGGER no_notices BEFORE INSERT ON goippy_log WHEN NEW.kind = 'notice' \
             BEGIN SELECT RAISE(ABORT, 'no notices'); END",
        )
        .await;
    } else {
        db.exec(
            "CREATE TRIGGER no_notices BEFORE INSERT ON goippy_log FOR EACH ROW \
             IF NEW.kind = 'notice' THEN \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no notices'; END IF",
        )
        .await;
    }
    store
        .store_call(
            record(),
            vec![call_notice("Incoming call from +37255500000")],
        )
        .await
        .expect_err("the notice cannot be stored");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, 0);
    assert_eq!(db.scalar(notices).await, 0);
    db.exec("DROP TRIGGER no_notices").await;

    let first = store
        .store_call(
            record(),
            vec![call_notice("Incoming call from +37255500000")],
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(
        matches!(first, CallStored::New(_)),
        "the resend is new: {first:?}"
    );
    // Committed together: both are there the moment the call is.
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_calls").await, 1);
    assert_eq!(db.scalar(notices).await, 1);
    assert_eq!(
        store
            .store_call(
                record(),
                vec![call_notice("Incoming call from +37255500000")]
            )
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(first.id())
    );
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].kind, LogKind::Notice);
    assert_eq!(inbox[0].xmpp_jid.as_deref(), Some("2001@example.org"));
    assert_eq!(inbox[0].peer.as_deref(), Some("+37255500000"));
    assert_eq!(inbox[0].body, "Incoming call from +37255500000");
    // Without a notice, a call is only logged.
    store
        .store_call(
            call("goippy_2001", 10, CallEvent::Expiry { seconds: 3 }),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store.close().await.expect("close");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_log WHERE kind = 'notice'")
            .await,
        1
    );
}

/// The GoIP's EXPIRY is a u32; MySQL's `duration` an INT, which strict
/// mode would refuse a larger value for — on every resend, never acked.
async fn a_call_duration_beyond_an_int_is_stored_clamped(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let stored = store
        .store_call(
            call(
                "goippy_2001",
                11,
                CallEvent::Expiry {
                    seconds: i64::from(u32::MAX),
                },
            ),
            Vec::new(),
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(matches!(stored, CallStored::New(_)), "{stored:?}");
    assert_eq!(
        store
            .store_call(
                call(
                    "goippy_2001",
                    11,
                    CallEvent::Expiry {
                        seconds: i64::from(u32::MAX),
                    },
                ),
                Vec::new()
            )
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        CallStored::Duplicate(stored.id())
    );
    store.close().await.expect("close");
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_calls WHERE duration = {}",
            i32::MAX
        ))
        .await,
        1
    );
}

async fn inbound_is_durable_deduplicated_and_waits_in_the_inbox(db: TestDb) {
    let store = open_with_channel_2001(&db).await;
    let first = store
        .store_inbound(
            sms(
                "goippy_2001",
                1734804704,
                "+37255500001",
                "hello; msg:with\nseparators",
            ),
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let Stored::New(first_id) = first else {
        panic!("expected a new row, got {first:?}")
    };
    // The GoIP's retransmission.
    let again = store
        .store_inbound(
            sms(
                "goippy_2001",
                1734804704,
                "+37255500001",
                "hello; msg:with\nseparators",
            ),
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert_eq!(again, Stored::Duplicate(first_id));
    // Same recvid, another body: another message.
    let other = store
        .store_inbound(
            sms("goippy_2001", 1734804704, "+37255500001", "second part"),
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(other.is_new());
    let ussd = store
        .store_inbound(
            InboundRecord {
                recipients: Vec::new(),
                goip_id: "goippy_2001".into(),
                recvid: 77,
                at: Timestamp::now(),
                xmpp_jid: None,
                kind: InboundKind::UssdReply {
                    body: "Balance 10.00".into(),
                },
            },
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");

    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    let ids: Vec<_> = inbox.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![first_id, other.id(), ussd.id()], "arrival order");
    assert_eq!(inbox[0].kind, LogKind::Sms);
    assert_eq!(inbox[0].body, "hello; msg:with\nseparators");
    assert_eq!(inbox[0].peer.as_deref(), Some("+37255500001"));
    assert_eq!(inbox[0].ext.as_deref(), Some("2001"));
    assert_eq!(inbox[0].xmpp_jid.as_deref(), Some("2001@example.org"));
    assert_eq!(inbox[0].recvid, Some(1734804704));
    assert_eq!(inbox[2].kind, LogKind::Ussd);
    // USSD rows carry the channel's own number, as in the original.
    assert_eq!(inbox[2].peer.as_deref(), Some("+37255512345"));
    assert_eq!(
        store.undelivered_inbox(None, 1).await.expect("inbox").len(),
        1
    );

    store.mark_delivered(first_id).await.expect("delivered");
    store
        .mark_delivered(first_id)
        .await
        .expect("delivered twice is fine");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 2);
    assert_eq!(
        db.log_entry(first_id).await.and_then(|e| e.status),
        Some("delivered".to_string())
    );
    let missing = goippy_core::store::LogId(first_id.0 + 1000);
    assert!(matches!(
        store.mark_delivered(missing).await,
        Err(StoreError::UnknownMessage(id)) if id == missing
    ));
    store.close().await.expect("close");
}

async fn dedup_survives_reopening(db: TestDb) {
    let store = db.open().await;
    let first = store
        .store_inbound(sms("ch1", 42, "Bank", "code 1234"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    store.close().await.expect("close");
    let store = db.open().await;
    let again = store
        .store_inbound(sms("ch1", 42, "Bank", "code 1234"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert_eq!(again, Stored::Duplicate(first.id()));
    assert_eq!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .len(),
        1
    );
    store.close().await.expect("close");
}

async fn outbox_moves_through_its_states_and_never_twice(db: TestDb) {
    let store = db.open().await;
    let a = store
        .enqueue_outbound(
            outbound("goippy_2001", "+37255500001", "first"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    let b = store
        .enqueue_outbound(
            outbound("goippy_2001", "+37255500002", "second"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    let mut ussd = outbound("goippy_2001", "+37255512345", "*100#");
    ussd.kind = OutboundKind::Ussd;
    let c = store
        .enqueue_outbound(ussd, OutboundOptions::default())
        .await
        .expect("queued")
        .committed()
        .expect("committed");

    let pending = store.pending_outbox().await.expect("outbox");
    assert_eq!(
        pending.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![a, b, c]
    );
    assert!(pending.iter().all(|p| p.state == OutboxState::Queued));
    assert_eq!(pending[0].xmpp_from, "2001@example.org/phone");
    assert_eq!(pending[0].xmpp_id.as_deref(), Some("msg-1"));
    assert_eq!(pending[2].kind, OutboundKind::Ussd);

    store.mark_sending(a, 1001).await.expect("sending");
    let e = store.mark_sending(a, 1002).await.expect_err("only once");
    assert!(
        matches!(&e, StoreError::Transition { to: "sending", from: Some(f), .. } if f == "sending"),
        "{e}"
    );
    store
        .mark_sent(a, Some(32), Some(1), None)
        .await
        .expect("sent");
    let e = store
        .mark_unknown(a, "late", None)
        .await
        .expect_err("sent is final");
    assert!(e.to_string().contains("it is sent"), "{e}");
    store
        .mark_failed(b, "channel offline for 300 s", None, None)
        .await
        .expect("a queued job may fail");
    assert!(
        store.mark_sending(b, 1003).await.is_err(),
        "failed is final"
    );
    store.mark_sending(c, 1004).await.expect("sending");

    // goippy stops here. After a restart, c is still sending: it must be
    // ended as unknown, never resumed.
    store.close().await.expect("close");
    let store = db.open().await;
    let pending = store.pending_outbox().await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].id, pending[0].state), (c, OutboxState::Sending));
    assert_eq!(pending[0].sendid, Some(1004));
    store
        .mark_unknown(c, "goippy stopped while sending", None)
        .await
        .expect("unknown");
    assert!(store.pending_outbox().await.expect("outbox").is_empty());

    let a_row = store.outbound(a).await.expect("read").expect("row");
    assert_eq!(
        (a_row.state, a_row.sendid, a_row.sms_no, a_row.telid),
        (OutboxState::Sent, Some(1001), Some(32), Some(1))
    );
    assert!(a_row.sent_at.is_some());
    let b_row = store.outbound(b).await.expect("read").expect("row");
    assert_eq!(b_row.state, OutboxState::Failed);
    assert_eq!(b_row.detail.as_deref(), Some("channel offline for 300 s"));
    let c_row = store.outbound(c).await.expect("read").expect("row");
    assert_eq!(c_row.state, OutboxState::Unknown);
    // A late OK after "unknown" is still recorded.
    store
        .mark_sent(c, None, None, None)
        .await
        .expect("late result");
    let e = store
        .mark_sent(goippy_core::store::LogId(a.0 + 1000), None, None, None)
        .await
        .expect_err("no such row");
    assert!(e.to_string().contains("no such outbound message"), "{e}");
    store.close().await.expect("close");
}

async fn delivery_reports_find_their_sms(db: TestDb) {
    let store = db.open().await;
    let old = store
        .enqueue_outbound(
            outbound("goippy_2001", "+37255500001", "older"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store.mark_sending(old, 1).await.expect("sending");
    store
        .mark_sent(old, Some(32), Some(1), None)
        .await
        .expect("sent");
    let new = store
        .enqueue_outbound(
            outbound("goippy_2001", "+37255500002", "newer"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store.mark_sending(new, 2).await.expect("sending");
    store
        .mark_sent(new, Some(32), Some(1), None)
        .await
        .expect("sent");
    // The same sms_no on another channel must not match.
    let elsewhere = store
        .enqueue_outbound(
            outbound("other", "+37255500003", "x"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store.mark_sending(elsewhere, 3).await.expect("sending");
    store
        .mark_sent(elsewhere, Some(32), Some(1), None)
        .await
        .expect("sent");

    // The candidates for a report of sms_no 32 on goippy_2001, newest first.
    let mut found = Vec::new();
    for id in [new, old, elsewhere] {
        let row = store.outbound(id).await.expect("read").expect("row");
        if row.goip_id == "goippy_2001" && row.sms_no == Some(32) && row.sent_at.is_some() {
            found.push(row.id);
        }
    }
    assert_eq!(found, vec![new, old]);

    let report = InboundRecord {
        recipients: Vec::new(),
        goip_id: "goippy_2001".into(),
        recvid: 1571812803,
        at: Timestamp::now(),
        xmpp_jid: None,
        kind: InboundKind::DeliveryReport {
            sms_no: 32,
            state: 0,
            destination: None,
        },
    };
    let stored = store
        .store_inbound(report.clone(), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    assert!(stored.is_new());
    assert_eq!(
        store
            .store_inbound(report, None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::Duplicate(stored.id())
    );
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    let item = &inbox[0];
    assert_eq!(item.kind, LogKind::DeliveryReport);
    assert_eq!(item.xmpp_jid.as_deref(), Some("2001@example.org/phone"));
    assert_eq!(item.peer.as_deref(), Some("+37255500002"));
    let info = item.report.as_ref().expect("report info");
    assert_eq!((info.sms_no, info.state), (32, 0));
    let out = info.outbound.as_ref().expect("matched");
    assert_eq!(out.id, new);
    assert_eq!(out.xmpp_id.as_deref(), Some("msg-1"));
    assert_eq!(out.destination, "+37255500002");
    let row = store.outbound(new).await.expect("read").expect("row");
    assert_eq!(row.delivery_state, Some(0));
    assert_eq!(
        store
            .outbound(old)
            .await
            .expect("read")
            .expect("row")
            .delivery_state,
        None
    );

    // A report nobody sent is still kept (and delivered as such).
    let orphan = store
        .store_inbound(
            InboundRecord {
                recipients: Vec::new(),
                goip_id: "goippy_2001".into(),
                recvid: 5,
                at: Timestamp::now(),
                xmpp_jid: None,
                kind: InboundKind::DeliveryReport {
                    sms_no: 99,
                    state: 64,
                    destination: Some("+37255500009".into()),
                },
            },
            None,
        )
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    let item = inbox
        .iter()
        .find(|i| i.id == orphan.id())
        .expect("in inbox");
    let info = item.report.as_ref().expect("report info");
    assert_eq!((info.state, info.outbound.is_none()), (64, true));
    assert_eq!(item.peer.as_deref(), Some("+37255500009"));
    store.close().await.expect("close");
}

async fn cleanup_deletes_old_rows_but_never_unfinished_work(db: TestDb) {
    let store = db.open().await;
    let delivered = store
        .store_inbound(sms("ch", 1, "+37255500001", "old, delivered"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    store.mark_delivered(delivered).await.expect("delivered");
    let undelivered = store
        .store_inbound(sms("ch", 2, "+37255500001", "old, never delivered"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    let queued = store
        .enqueue_outbound(
            outbound("ch", "+37255500001", "old, queued"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    let sending = store
        .enqueue_outbound(
            outbound("ch", "+37255500001", "old, sending"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store.mark_sending(sending, 9).await.expect("sending");
    let failed = store
        .enqueue_outbound(
            outbound("ch", "+37255500001", "old, failed"),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    store
        .mark_failed(failed, "no", Some(38), None)
        .await
        .expect("failed");
    let recent = store
        .store_inbound(sms("ch", 3, "+37255500001", "recent"), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    store.mark_delivered(recent).await.expect("delivered");
    // A row written by the original goippy (no status of ours, maybe none).
    db.exec("INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status) VALUES ('in', '+1', 'a@b', 'legacy', NULL)")
        .await;
    let ten_days = db.ago(10 * 86_400);
    db.exec(&format!(
        "UPDATE goippy_log SET created_at = {ten_days} WHERE id IN ({}, {}, {}, {}, {}) OR body = 'legacy'",
        delivered, undelivered, queued, sending, failed
    ))
    .await;
    db.exec(&format!(
        "UPDATE goippy_dedup SET created_unix = {} WHERE recvid = 1",
        Timestamp::now().unix() - 3 * 86_400
    ))
    .await;

    // LOG_DAYS = 0 keeps the log but still expires old dedup keys.
    let report = store.cleanup(0).await.expect("cleanup");
    assert_eq!((report.log_rows, report.dedup_keys), (0, 1));
    let report = store.cleanup(7).await.expect("cleanup");
    assert_eq!(report.log_rows, 3, "delivered, failed and the legacy row");
    for kept in [undelivered, queued, sending, recent] {
        assert!(
            db.log_entry(kept).await.is_some(),
            "row {kept} must survive the cleanup"
        );
    }
    for gone in [delivered, failed] {
        assert!(db.log_entry(gone).await.is_none());
    }
    assert_eq!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .len(),
        1
    );
    assert_eq!(store.pending_outbox().await.expect("outbox").len(), 2);
    // A dedup key younger than DEDUP_KEEP stays, so retransmissions are still caught.
    assert_eq!(
        store
            .store_inbound(sms("ch", 2, "+37255500001", "old, never delivered"), None)
            .await
            .expect("stored")
            .committed()
            .expect("committed"),
        Stored::Duplicate(undelivered)
    );
    // The spawned task runs once at start-up.
    db.exec(&format!(
        "UPDATE goippy_log SET created_at = {ten_days} WHERE id = {recent}"
    ))
    .await;
    let task = store.spawn_cleanup(7);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.log_entry(recent).await.is_some() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(db.log_entry(recent).await.is_none());
    drop(task);
    store.close().await.expect("close");
}

async fn text_in_any_script_round_trips(db: TestDb) {
    let store = db.open().await;
    let body = "Tere! Привет 你好 مرحبا 👋🏽 — ümlaut";
    let id = store
        .store_inbound(sms("ch", 9, "Swedbank", body), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    let inbox = store.undelivered_inbox(None, 1).await.expect("inbox");
    assert_eq!(inbox[0].id, id);
    assert_eq!(inbox[0].body, body);
    assert_eq!(inbox[0].peer.as_deref(), Some("Swedbank"));
    let out = store
        .enqueue_outbound(
            outbound("ch", "+37255500001", body),
            OutboundOptions::default(),
        )
        .await
        .expect("queued")
        .committed()
        .expect("committed");
    assert_eq!(
        store.outbound(out).await.expect("read").expect("row").body,
        body
    );
    // A body beyond what MySQL's TEXT holds is cut, not refused.
    let long = "ä".repeat(40_000);
    let id = store
        .store_inbound(sms("ch", 10, "+37255500001", &long), None)
        .await
        .expect("stored")
        .committed()
        .expect("committed")
        .id();
    let entry = db.log_entry(id).await.expect("row");
    let stored = entry.body.expect("body");
    assert!(
        stored.len() <= 65_000 && stored.chars().all(|c| c == 'ä'),
        "{}",
        stored.len()
    );
    store.close().await.expect("close");
}

async fn concurrent_inbound_writes_all_commit(db: TestDb) {
    let store = db.open().await;
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .store_inbound(sms("ch", i, "+37255500001", &format!("message {i}")), None)
                .await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let stored = t
            .await
            .expect("task")
            .expect("stored")
            .committed()
            .expect("committed");
        assert!(stored.is_new());
        ids.insert(stored.id());
    }
    assert_eq!(ids.len(), 400);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_log WHERE status = 'inbox'")
            .await,
        400
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM goippy_dedup").await, 400);
    store.close().await.expect("close");
}

/// A full queue makes a call wait for room, not fail: the engine does not
/// ack it meanwhile, and once it is committed it is acked and logged.
async fn a_full_queue_makes_calls_wait_and_loses_none(db: TestDb) {
    let store = db
        .open_with(StoreOptions {
            queue_capacity: 4,
            max_batch: 2,
            ..StoreOptions::default()
        })
        .await;
    let calls = (0..300).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .store_call(
                    call(
                        "ch",
                        i,
                        CallEvent::Hangup {
                            remote: "+37255500001".into(),
                            cause: "User busy".into(),
                        },
                    ),
                    Vec::new(),
                )
                .await
        })
    });
    let mut stored = 0;
    for c in calls.collect::<Vec<_>>() {
        let outcome = c
            .await
            .expect("join")
            .expect("a call waits for room")
            .committed()
            .expect("committed");
        assert!(matches!(outcome, CallStored::New(_)), "{outcome:?}");
        stored += 1;
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM goippy_calls").await,
        stored,
        "every call that returned is stored"
    );
    store.close().await.expect("close");
}

async fn a_closed_store_refuses_work(db: TestDb) {
    let store = db.open().await;
    let other = store.clone();
    store.close().await.expect("close");
    assert!(matches!(
        other.store_inbound(sms("ch", 1, "x", "y"), None).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        other
            .store_call(call("ch", 1, CallEvent::Expiry { seconds: 1 }), Vec::new())
            .await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        other.list_gateways().await,
        Err(StoreError::Closed)
    ));
    other.record_keepalive(keepalive("ch", None, 1, 1)); // ignored, no panic
    if db.kind == Kind::Sqlite {
        assert!(db.sqlite_file().expect("file").exists());
    }
}
