//! Line pools in the store and the directory (migration 0005), on both
//! backends: further lines per extension, shared lines, line numbers, the
//! daily count, failover settings and the line a conversation sends from.

use goippy_core::engine::CredentialSource;
use goippy_core::number::NumberRules;
use goippy_core::store::{
    GatewayDirectory, LineAdded, LineChoice, LineDefinition, LineRemoved, OutboundOptions,
    StoreError, Timestamp,
};

use crate::support::store::{TestDb, gateway, on_both_backends, outbound};

on_both_backends!(
    lines_are_added_shared_numbered_and_removed,
    a_shared_line_cannot_be_redefined_by_sharing_it,
    daily_counts_failover_and_choices_are_kept,
    a_row_without_an_extension_or_users_stays_refused,
    a_line_with_no_owner_is_enabled_and_disabled_by_goip_id,
);

/// A line made with `--add-line` has no extension to name it by; the admin
/// command switches it by goip_id. Setting the state it has is no error
/// (MariaDB counts the rows matched, not changed).
async fn a_line_with_no_owner_is_enabled_and_disabled_by_goip_id(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add");
    store
        .add_line("2001", "pool_a", def("pwa"))
        .await
        .expect("new line");
    let enabled = |store: &goippy_core::store::Store| {
        let store = store.clone();
        async move {
            store
                .gateway_by_goip_id("pool_a")
                .await
                .expect("read")
                .expect("the line")
                .enabled
        }
    };
    for _ in 0..2 {
        store
            .set_line_enabled("pool_a", false)
            .await
            .expect("disable");
        assert!(!enabled(&store).await);
    }
    store
        .set_line_enabled("pool_a", true)
        .await
        .expect("enable");
    assert!(enabled(&store).await);
    assert!(matches!(
        store.set_line_enabled("nosuch", false).await,
        Err(StoreError::UnknownLine(_))
    ));
    store.close().await.expect("close");
}

/// Before line pools a row without an extension was never a channel; it
/// stays so unless an extension uses it.
async fn a_row_without_an_extension_or_users_stays_refused(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add");
    store.close().await.expect("close");
    db.exec(
        "INSERT INTO goippy_gateways (ext, goip_id, goip_pass, enabled) \
         VALUES (NULL, 'stray', 'pw', 1)",
    )
    .await;
    let store = db.open().await;
    let rules = NumberRules::new(Some("372")).expect("rules");
    let dir = GatewayDirectory::load(&store, rules).await.expect("load");
    assert!(dir.lookup("stray").is_none(), "nobody's row is no channel");
    assert_eq!(dir.gateways().len(), 1);
    store.add_line("2001", "stray", None).await.expect("share");
    dir.refresh_now().await.expect("refresh");
    assert!(dir.lookup("stray").is_some(), "a user makes it a line");
    assert_eq!(users_of(&dir, "stray"), vec!["2001"]);
    store.close().await.expect("close");
}

fn def(password: &str) -> Option<LineDefinition<'_>> {
    Some(LineDefinition {
        password,
        channel: Some(2),
        allow_regex: None,
    })
}

async fn lines_are_added_shared_numbered_and_removed(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add 2001");
    store
        .save_gateway(&gateway("2002", "pw2", None, None))
        .await
        .expect("add 2002");

    // A new line for 2001, with no default owner.
    let (added, line) = store
        .add_line("2001", "pool_a", def("pwa"))
        .await
        .expect("new line");
    assert_eq!(added, LineAdded::Created);
    assert_eq!(line.ext, None);
    assert_eq!(line.channel, Some(2));
    assert_eq!(line.users().collect::<Vec<_>>(), vec!["2001"]);
    // 2002 shares it, and 2001's own default line too.
    let (added, line) = store.add_line("2002", "pool_a", None).await.expect("share");
    assert_eq!(added, LineAdded::Shared);
    assert_eq!(line.users().collect::<Vec<_>>(), vec!["2001", "2002"]);
    let (added, _) = store
        .add_line("2002", "goippy_2001", None)
        .await
        .expect("share a default line");
    assert_eq!(added, LineAdded::Shared);
    let (added, _) = store.add_line("2002", "pool_a", None).await.expect("again");
    assert_eq!(added, LineAdded::AlreadyHad);
    assert!(matches!(
        store.add_line("2001", "goippy_2001", None).await,
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        store.add_line("2001", "nothing_here", None).await,
        Err(StoreError::UnknownLine(_))
    ));
    assert!(matches!(
        store.add_line("2001", "-", def("pw")).await,
        Err(StoreError::InvalidInput { .. })
    ));
    // --add cannot take over a shared line as a default line.
    let taken = store
        .save_gateway(&gateway("2003", "pw3", Some("pool_a"), None))
        .await
        .expect_err("a shared line is no one's to --add");
    assert!(
        taken.to_string().contains("--add-line 2003 pool_a"),
        "{taken}"
    );

    let rules = NumberRules::new(Some("372")).expect("rules");
    let dir = GatewayDirectory::load(&store, rules).await.expect("load");
    let ids = |ext: &str| -> Vec<String> {
        dir.lines_of(ext)
            .iter()
            .map(|g| g.goip_id.clone())
            .collect()
    };
    assert_eq!(ids("2001"), vec!["goippy_2001", "pool_a"]);
    assert_eq!(ids("2002"), vec!["goippy_2002", "pool_a", "goippy_2001"]);
    assert_eq!(users_of(&dir, "pool_a"), vec!["2001", "2002"]);
    assert_eq!(users_of(&dir, "goippy_2001"), vec!["2001", "2002"]);
    assert_eq!(
        dir.gateway_by_ext("2002").map(|g| g.goip_id.clone()),
        Some("goippy_2002".into()),
        "line 1 is the default line"
    );
    let pool = dir.lookup("pool_a").expect("a shared line authenticates");
    assert!(pool.password_matches("pwa"));
    assert_eq!(dir.gateways().len(), 3);

    // An extension with only shared lines has its first as line 1.
    store.add_line("2004", "pool_a", None).await.expect("share");
    dir.refresh_now().await.expect("refresh");
    assert_eq!(
        dir.gateway_by_ext("2004").map(|g| g.goip_id.clone()),
        Some("pool_a".into())
    );

    // Removing.
    assert!(matches!(
        store.remove_line("2001", "goippy_2001").await,
        Err(StoreError::InvalidInput { .. })
    ));
    assert_eq!(
        store.remove_line("2002", "pool_a").await.expect("unshare"),
        LineRemoved::Unshared
    );
    assert_eq!(
        store.remove_line("2004", "pool_a").await.expect("unshare"),
        LineRemoved::Unshared
    );
    assert_eq!(
        store
            .remove_line("2001", "pool_a")
            .await
            .expect("last user"),
        LineRemoved::Deleted
    );
    assert!(
        store
            .gateway_by_goip_id("pool_a")
            .await
            .expect("read")
            .is_none()
    );
    // --remove takes a default line from whoever shared it.
    let removed = store.remove_gateway("2001").await.expect("remove");
    assert_eq!(removed.shared_with.len(), 1);
    dir.refresh_now().await.expect("refresh");
    assert_eq!(ids("2002"), vec!["goippy_2002"]);
    assert!(dir.lines_of("2004").is_empty());
    store.close().await.expect("close");
}

async fn a_shared_line_cannot_be_redefined_by_sharing_it(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add");
    // Sharing another's line with a password would silently ignore it.
    let e = store
        .add_line("2002", "goippy_2001", def("other"))
        .await
        .expect_err("a password to share a line");
    assert!(e.to_string().contains("exists already"), "{e}");
    // The user of a shared line may give it a new definition.
    store
        .add_line("2002", "pool_b", def("first"))
        .await
        .expect("create");
    let (added, line) = store
        .add_line("2002", "pool_b", def("second"))
        .await
        .expect("update");
    assert_eq!(added, LineAdded::Updated);
    assert_eq!(line.password.expose(), "second");
    // Another extension may not.
    assert!(store.add_line("2003", "pool_b", def("x")).await.is_err());
    store.close().await.expect("close");
}

async fn daily_counts_failover_and_choices_are_kept(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw1", None, None))
        .await
        .expect("add");
    store
        .add_line("2001", "pool_c", def("pw"))
        .await
        .expect("line 2");
    store
        .set_daily_limit("pool_c", Some(100))
        .await
        .expect("limit");
    assert!(matches!(
        store.set_daily_limit("nothing", Some(1)).await,
        Err(StoreError::UnknownLine(_))
    ));
    let line = store
        .gateway_by_goip_id("pool_c")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(line.daily_limit, Some(100));
    store.set_daily_limit("pool_c", None).await.expect("lift");

    // Today's count: the outbound SMS of each line since 00:00 UTC.
    for _ in 0..3 {
        store
            .enqueue_outbound(
                outbound("pool_c", "+37255512345", "hi"),
                OutboundOptions::default(),
            )
            .await
            .expect("enqueue");
    }
    store
        .enqueue_outbound(
            outbound("goippy_2001", "+37255512345", "hi"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue");
    let now = Timestamp::now();
    let today = store.sent_today(now).await.expect("count");
    assert_eq!(today.get("pool_c"), Some(&3));
    assert_eq!(today.get("goippy_2001"), Some(&1));
    let tomorrow = Timestamp::from_unix(now.unix() + 86_400);
    assert!(store.sent_today(tomorrow).await.expect("count").is_empty());

    assert!(!store.failover("2001").await.expect("read"));
    store.set_failover("2001", true).await.expect("on");
    assert!(store.failover("2001").await.expect("read"));
    store.set_failover("2001", false).await.expect("off");
    assert!(!store.failover("2001").await.expect("read"));

    assert_eq!(
        store
            .line_choice("2001", "+37255512345")
            .await
            .expect("read"),
        None
    );
    store
        .pin_line("2001", "+37255512345", Some("pool_c"))
        .await
        .expect("pin");
    assert_eq!(
        store
            .line_choice("2001", "+37255512345")
            .await
            .expect("read"),
        Some(LineChoice {
            goip_id: "pool_c".into(),
            pinned: true
        })
    );
    store
        .pin_line("2001", "+37255512345", None)
        .await
        .expect("unpin");
    assert_eq!(
        store
            .line_choice("2001", "+37255512345")
            .await
            .expect("read"),
        None
    );
    store.close().await.expect("close");
}

/// The extensions that use a line, its default owner first.
fn users_of(dir: &GatewayDirectory, goip_id: &str) -> Vec<String> {
    dir.gateway_by_goip_id(goip_id)
        .map(|line| line.users.clone())
        .unwrap_or_default()
}
