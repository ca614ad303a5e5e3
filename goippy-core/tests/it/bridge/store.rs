//! What the bridge added to the store (migration 0003), on SQLite and on a
//! real MariaDB: notices that wait in the inbox like SMS, notices stored in
//! the same transaction as an outbox change, the receipt request and the
//! addressed JID kept with an outbound job, delivery reports the engine
//! matched, a channel's queue, and the sendid floor.

use goippy_core::store::{
    InboundKind, InboundRecord, LogId, LogKind, NoticeRecord, OutboundKind, OutboundOptions,
    OutboxState, StoreError, Timestamp,
};

use crate::support::store::{TestDb, gateway, on_both_backends, outbound, sms};

on_both_backends!(
    notices_wait_in_the_inbox_in_order_with_everything_they_carry,
    a_notice_is_stored_only_with_the_change_it_reports,
    outbound_jobs_keep_the_receipt_request_and_the_addressed_jid,
    a_delivery_report_the_engine_matched_is_linked_before_the_sent_state_lands,
    each_channel_has_its_own_queue,
    the_sendid_floor_only_rises_and_survives_reopening,
    the_inbox_can_be_read_past_rows_that_must_wait,
    cleanup_keeps_undelivered_notices,
);

fn notice(goip_id: &str, what: &str, outbound: Option<LogId>) -> NoticeRecord {
    NoticeRecord {
        goip_id: goip_id.into(),
        to: "2001@example.org/phone".into(),
        from: Some("+37255512345".into()),
        about: Some("msg-1".into()),
        what: what.into(),
        text: "Tere; ütle \"hi\"\nnew line".into(),
        code: Some(38),
        outbound,
    }
}

async fn notices_wait_in_the_inbox_in_order_with_everything_they_carry(db: TestDb) {
    let store = db.open().await;
    store
        .save_gateway(&gateway("2001", "pw", Some("g1"), None))
        .await
        .expect("gateway");
    let first = store
        .store_inbound(sms("g1", 1, "+37255500001", "first"), None)
        .await
        .expect("sms")
        .committed()
        .expect("committed")
        .id();
    let out = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "hi"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    let n = store
        .store_notice(notice("g1", "sms_failed", Some(out)))
        .await
        .expect("notice")
        .committed()
        .expect("committed");
    let last = store
        .store_inbound(sms("g1", 2, "+37255500001", "last"), None)
        .await
        .expect("sms")
        .committed()
        .expect("committed")
        .id();
    assert!(first < n && n < last);

    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    let ids: Vec<LogId> = inbox.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![first, n, last]);
    let item = &inbox[1];
    assert_eq!(item.kind, LogKind::Notice);
    assert_eq!(item.goip_id, "g1");
    assert_eq!(item.ext.as_deref(), Some("2001"));
    assert_eq!(item.xmpp_jid.as_deref(), Some("2001@example.org/phone"));
    assert_eq!(item.peer.as_deref(), Some("+37255512345"));
    assert_eq!(item.body, "Tere; ütle \"hi\"\nnew line");
    assert!(item.report.is_none());
    let info = item.notice.as_ref().expect("notice info");
    assert_eq!(info.what, "sms_failed");
    assert_eq!(info.about.as_deref(), Some("msg-1"));
    assert_eq!(info.code, Some(38));
    assert_eq!(info.outbound, Some(out));
    assert!(inbox[0].notice.is_none());

    store.mark_delivered(n).await.expect("delivered");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 2);
    let entry = db.log_entry(n).await.expect("row");
    assert_eq!(entry.status.as_deref(), Some("delivered"));
    assert_eq!(entry.kind.as_deref(), Some("notice"));
    assert_eq!(entry.ref_id, Some(out.0));
    // The outbound job is untouched by its notice.
    assert_eq!(
        store.outbound(out).await.expect("read").expect("row").state,
        OutboxState::Queued
    );
}

async fn a_notice_is_stored_only_with_the_change_it_reports(db: TestDb) {
    let store = db.open().await;
    let id = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "hi"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    // queued → unknown is refused: no notice either.
    let e = store
        .mark_unknown(id, "x", Some(notice("g1", "sms_unknown", Some(id))))
        .await
        .expect_err("not sending");
    assert!(matches!(e, StoreError::Transition { .. }), "{e}");
    assert!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .is_empty()
    );

    store.mark_sending(id, 77).await.expect("sending");
    store
        .mark_sent(
            id,
            Some(5),
            Some(1),
            Some(notice("g1", "sms_sent", Some(id))),
        )
        .await
        .expect("sent");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].notice.as_ref().map(|n| n.what.as_str()),
        Some("sms_sent")
    );
    // A second sent is refused, and adds no second notice.
    assert!(
        store
            .mark_sent(
                id,
                Some(5),
                Some(1),
                Some(notice("g1", "sms_sent", Some(id)))
            )
            .await
            .is_err()
    );
    assert_eq!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .len(),
        1
    );

    let other = store
        .enqueue_outbound(
            outbound("g1", "+37255512346", "ho"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store
        .mark_failed(
            other,
            "the GoIP did not answer",
            None,
            Some(notice("g1", "sms_not_sent", Some(other))),
        )
        .await
        .expect("failed from queued");
    let item = store.outbound(other).await.expect("read").expect("row");
    assert_eq!(item.state, OutboxState::Failed);
    assert_eq!(item.detail.as_deref(), Some("the GoIP did not answer"));
    assert_eq!(
        store
            .undelivered_inbox(None, 10)
            .await
            .expect("inbox")
            .len(),
        2
    );
}

async fn outbound_jobs_keep_the_receipt_request_and_the_addressed_jid(db: TestDb) {
    let store = db.open().await;
    let plain = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "plain"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    let asked = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "with receipt"),
            OutboundOptions {
                receipt_requested: true,
                xmpp_to: Some("0037255512345@sms.example.org".into()),
            },
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    let pending = store.pending_outbox().await.expect("outbox");
    let p = pending.iter().find(|i| i.id == plain).expect("plain");
    assert!(!p.receipt_requested);
    assert_eq!(p.xmpp_to, None);
    let a = pending.iter().find(|i| i.id == asked).expect("asked");
    assert!(a.receipt_requested);
    assert_eq!(a.xmpp_to.as_deref(), Some("0037255512345@sms.example.org"));
    assert_eq!(a.body, "with receipt");

    // A delivery report carries both to whoever answers it.
    store.mark_sending(asked, 10).await.expect("sending");
    store
        .mark_sent(asked, Some(9), Some(1), None)
        .await
        .expect("sent");
    store
        .store_inbound(dlr("g1", 100, 9, 0), None)
        .await
        .expect("report")
        .committed()
        .expect("committed");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    let out = inbox[0]
        .report
        .as_ref()
        .and_then(|r| r.outbound.as_ref())
        .expect("matched");
    assert_eq!(out.id, asked);
    assert!(out.receipt_requested);
    assert_eq!(
        out.xmpp_to.as_deref(),
        Some("0037255512345@sms.example.org")
    );
    assert_eq!(out.xmpp_id.as_deref(), Some("msg-1"));
    assert_eq!(out.xmpp_from, "2001@example.org/phone");
}

fn dlr(goip_id: &str, recvid: i64, sms_no: i64, state: i64) -> InboundRecord {
    InboundRecord {
        recipients: Vec::new(),
        goip_id: goip_id.into(),
        recvid,
        at: Timestamp::now(),
        xmpp_jid: None,
        kind: InboundKind::DeliveryReport {
            sms_no,
            state,
            destination: None,
        },
    }
}

async fn a_delivery_report_the_engine_matched_is_linked_before_the_sent_state_lands(db: TestDb) {
    let store = db.open().await;
    let id = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "race"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store.mark_sending(id, 11).await.expect("sending");
    // The report overtakes mark_sent: by sms_no alone nothing matches yet…
    store
        .store_inbound(dlr("g1", 200, 4, 0), None)
        .await
        .expect("unmatched report")
        .committed()
        .expect("committed");
    // …but the engine's match links it.
    store
        .store_inbound(dlr("g1", 201, 4, 0), Some(id))
        .await
        .expect("matched report")
        .committed()
        .expect("committed");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    assert_eq!(inbox.len(), 2);
    assert!(inbox[0].report.as_ref().expect("dlr").outbound.is_none());
    let linked = inbox[1]
        .report
        .as_ref()
        .and_then(|r| r.outbound.as_ref())
        .expect("linked");
    assert_eq!(linked.id, id);
    assert_eq!(linked.destination, "+37255512345");
    assert_eq!(inbox[1].xmpp_jid.as_deref(), Some("2001@example.org/phone"));
    let row = store.outbound(id).await.expect("read").expect("row");
    assert_eq!(row.delivery_state, Some(0));
    // A reference to a row that is no outbound job falls back to sms_no matching.
    let bogus = store
        .store_inbound(dlr("g1", 202, 4, 1), Some(inbox[0].id))
        .await
        .expect("stored")
        .committed()
        .expect("committed");
    let inbox = store.undelivered_inbox(None, 10).await.expect("inbox");
    let item = inbox.iter().find(|i| i.id == bogus.id()).expect("row");
    assert!(item.report.as_ref().expect("dlr").outbound.is_none());
}

async fn each_channel_has_its_own_queue(db: TestDb) {
    let store = db.open().await;
    let mut g1 = Vec::new();
    for i in 0..3 {
        g1.push(
            store
                .enqueue_outbound(
                    outbound("g1", "+37255512345", &format!("a{i}")),
                    OutboundOptions::default(),
                )
                .await
                .expect("enqueue")
                .committed()
                .expect("committed"),
        );
        store
            .enqueue_outbound(
                outbound("g2", "+37255512345", &format!("b{i}")),
                OutboundOptions::default(),
            )
            .await
            .expect("enqueue")
            .committed()
            .expect("committed");
    }
    let queue = store.queued_outbound("g1", 10).await.expect("queue");
    assert_eq!(queue.iter().map(|i| i.id).collect::<Vec<_>>(), g1);
    assert!(queue.iter().all(|i| i.goip_id == "g1"));
    assert_eq!(
        store.queued_outbound("g1", 2).await.expect("queue").len(),
        2
    );
    store.mark_sending(g1[0], 5).await.expect("sending");
    let queue = store.queued_outbound("g1", 10).await.expect("queue");
    assert_eq!(queue.iter().map(|i| i.id).collect::<Vec<_>>(), g1[1..]);
    assert_eq!(
        store.queued_outbound("g3", 10).await.expect("queue").len(),
        0
    );
}

async fn the_sendid_floor_only_rises_and_survives_reopening(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.sendid_floor().await.expect("floor"), 0);
    store.save_sendid_floor(100).await.expect("save");
    assert_eq!(store.sendid_floor().await.expect("floor"), 100);
    store.save_sendid_floor(50).await.expect("save");
    assert_eq!(store.sendid_floor().await.expect("floor"), 100);
    // A sendid recorded on a USSD outbox row counts too…
    let mut ussd = outbound("g1", "+37255500000", "*100#");
    ussd.kind = OutboundKind::Ussd;
    let id = store
        .enqueue_outbound(ussd, OutboundOptions::default())
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store.mark_sending(id, 500).await.expect("sending");
    assert_eq!(store.sendid_floor().await.expect("floor"), 500);
    // …but not an SMS session's: it is random, up to 31 bits, and would
    // push USSD sendids towards the end of their room.
    let sms_row = store
        .enqueue_outbound(
            outbound("g1", "+37255512345", "x"),
            OutboundOptions::default(),
        )
        .await
        .expect("enqueue")
        .committed()
        .expect("committed");
    store
        .mark_sending(sms_row, 2_000_000_000)
        .await
        .expect("sending");
    assert_eq!(store.sendid_floor().await.expect("floor"), 500);
    store.save_sendid_floor(700).await.expect("save");
    store.close().await.expect("close");
    let store = db.open().await;
    assert_eq!(store.sendid_floor().await.expect("floor"), 700);
}

async fn the_inbox_can_be_read_past_rows_that_must_wait(db: TestDb) {
    let store = db.open().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .store_inbound(sms("g1", i, "+37255500001", &format!("m{i}")), None)
                .await
                .expect("sms")
                .committed()
                .expect("committed")
                .id(),
        );
    }
    let page = store
        .undelivered_inbox(Some(ids[1]), 2)
        .await
        .expect("page");
    assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), ids[2..4]);
    let all = store.undelivered_inbox(None, 10).await.expect("all");
    assert_eq!(all.len(), 5);
    assert!(
        store
            .undelivered_inbox(Some(ids[4]), 10)
            .await
            .expect("none")
            .is_empty()
    );
}

async fn cleanup_keeps_undelivered_notices(db: TestDb) {
    let store = db.open().await;
    let kept = store
        .store_notice(notice("g1", "call", None))
        .await
        .expect("notice")
        .committed()
        .expect("committed");
    let gone = store
        .store_notice(notice("g1", "call", None))
        .await
        .expect("notice")
        .committed()
        .expect("committed");
    store.mark_delivered(gone).await.expect("delivered");
    db.exec(&format!(
        "UPDATE goippy_log SET created_at = {} WHERE id IN ({}, {})",
        db.ago(10 * 86_400),
        kept.0,
        gone.0
    ))
    .await;
    let report = store.cleanup(3).await.expect("cleanup");
    assert_eq!(report.log_rows, 1);
    assert!(db.log_entry(kept).await.is_some());
    assert!(db.log_entry(gone).await.is_none());
}
