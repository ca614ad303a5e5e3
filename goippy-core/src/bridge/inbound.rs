//! Engine events into the store: the GSM side's half of every flow.
//!
//! * An SMS, a delivery report or a USSN is stored, and only once the store
//!   has committed it (or recognised it as a retransmission) is its
//!   `DurableAck` confirmed — then the engine acks the GoIP. A failure leaves
//!   it unacked, so the GoIP sends it again. New rows poke the inbox pump.
//! * Stores run concurrently (a slow fsync must not hold up the next
//!   channel's ack, which has 2 s), but are submitted in arrival order, so
//!   the inbox keeps the order the messages came in.
//! * Keepalives become the channel's state (`goippy_state`); call events go
//!   to `goippy_calls` (and, with XMPP_CALL_NOTICES, a notice to the user).
//!   A call's `DurableAck` is confirmed, as a message's is, only once the
//!   event is committed or recognised as a retransmission: an ack for a
//!   write that was merely queued would be lost with it in a crash or a
//!   shutdown during a database outage, and the GoIP would not send it
//!   again. A retransmission is acked but neither logged nor told again.
//! * A late SMS result (after the job had ended unknown) corrects the
//!   outbox and tells the user.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::jid::BareJid;

use crate::config::ReceiptPolicy;
use crate::engine::{
    CallNotice, CallNoticeKind, DeliveryReport, DurableAck, EngineEvent, InboundSms, LateSmsResult,
    RecipientOutcome, UssdNotice, UssdSource,
};
use crate::goip::{Keepalive, Notification, NotificationKind};
use crate::store::{
    CallDirection, CallEvent, CallRecord, CallStored, InboundKind, InboundRecipient, InboundRecord,
    LogId, NoticeRecord, Saved, StateUpdate, StoreError, Stored, Timestamp, recvid_number,
};

use super::Context;
use super::line_pool;
use super::notice::{self, Notice};
use super::ussd_channels::Asker;

/// Stores in flight at once; beyond it, events wait in the engine's queue
/// (and durable ones go unacked, so the GoIP resends them).
const MAX_IN_FLIGHT: usize = 256;
/// How long an unmatched delivery report waits for its channel's running
/// job to be recorded.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);

type Work = BoxFuture<'static, ()>;

/// Consumes engine events until `stop`; then stores what is already queued.
pub(crate) async fn run(
    ctx: Arc<Context>,
    mut events: mpsc::Receiver<EngineEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut work: FuturesUnordered<Work> = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = work.next(), if !work.is_empty() => {}
            event = events.recv(), if work.len() < MAX_IN_FLIGHT => match event {
                Some(event) => handle(&ctx, event, &mut work),
                None => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    while let Ok(event) = events.try_recv() {
        handle(&ctx, event, &mut work);
    }
    while work.next().await.is_some() {}
    tracing::debug!("inbound flow stopped");
}

fn handle(ctx: &Arc<Context>, event: EngineEvent, work: &mut FuturesUnordered<Work>) {
    match event {
        EngineEvent::Sms(sms) => work.push(Box::pin(store_sms(ctx.clone(), sms))),
        EngineEvent::Delivery(report) => work.push(Box::pin(store_report(ctx.clone(), report))),
        EngineEvent::Ussd(ussd) => work.push(Box::pin(store_ussd(ctx.clone(), ussd))),
        EngineEvent::Keepalive {
            goip_id,
            addr,
            keepalive,
        } => {
            if let Some(number) = keepalive.number() {
                ctx.directory.learn_msisdn(&goip_id, number);
            }
            ctx.store
                .record_keepalive(state_update(&goip_id, addr, &keepalive));
        }
        EngineEvent::Call(call) => work.extend(record_call(ctx, call)),
        EngineEvent::LateSmsResult(late) => work.push(Box::pin(late_result(ctx.clone(), late))),
        EngineEvent::ChannelOnline { goip_id, addr } => {
            tracing::debug!(goip_id, %addr, "channel online")
        }
        EngineEvent::ChannelOffline {
            goip_id,
            silent_for,
        } => tracing::debug!(
            goip_id,
            silent_ms = silent_for.as_millis() as u64,
            "channel offline"
        ),
        EngineEvent::Other(other) => {
            tracing::trace!(
                goip_id = other.goip_id,
                recvid = other.recvid,
                "other notification"
            )
        }
    }
}

async fn store_sms(ctx: Arc<Context>, sms: InboundSms) {
    let InboundSms {
        goip_id,
        recvid,
        srcnum,
        text,
        raw_text,
        received_at,
        durable,
        ..
    } = sms;
    if let Some(raw) = &raw_text {
        tracing::debug!(goip_id, recvid, raw = ?raw, "SMS text was not valid UTF-8");
    }
    let record = InboundRecord {
        // Every user of a shared line gets it (`line_pool.rs`).
        recipients: line_pool::recipients(&ctx, &goip_id, Some(&srcnum)),
        xmpp_jid: ctx.user_of_channel(&goip_id).map(|j| j.to_string()),
        goip_id: goip_id.clone(),
        recvid: recvid_number(&recvid),
        at: Timestamp::from_system_time(received_at),
        kind: InboundKind::Sms {
            sender: srcnum,
            body: text,
        },
    };
    let result = ctx.store.store_inbound(record, None).await;
    match &result {
        Ok(saved) => {
            log_saved("inbound sms", &goip_id, &recvid, *saved);
            if matches!(saved, Saved::Committed(Stored::Duplicate(_))) {
                ctx.traffic.count(&goip_id, |c| &mut c.retransmissions);
            } else {
                ctx.traffic.count(&goip_id, |c| &mut c.sms_received);
            }
        }
        Err(e) => tracing::warn!(
            goip_id,
            recvid,
            "inbound sms NOT stored (the GoIP will resend it): {e}"
        ),
    }
    confirm(&ctx, Some(durable), result.map(new_in_inbox));
}

async fn store_report(ctx: Arc<Context>, report: DeliveryReport) {
    let DeliveryReport {
        goip_id,
        recvid,
        sms_no,
        state,
        num,
        matched,
        received_at,
        durable,
        ..
    } = report;
    let outbound = matched.and_then(|m| i64::try_from(m.tag).ok()).map(LogId);
    if outbound.is_none() {
        // Maybe for the job being recorded right now (see `Outbox::settled`);
        // bounded well within the 2 s the GoIP's ack may take.
        ctx.outbox.settled(&goip_id, SETTLE_WAIT).await;
    }
    let record = InboundRecord {
        recipients: Vec::new(),
        goip_id: goip_id.clone(),
        recvid: recvid_number(&recvid),
        at: Timestamp::from_system_time(received_at),
        xmpp_jid: None,
        kind: InboundKind::DeliveryReport {
            sms_no: i64::from(sms_no),
            state: i64::from(state),
            destination: num,
        },
    };
    let result = ctx.store.store_inbound(record, outbound).await;
    match &result {
        Ok(Saved::Committed(stored)) => {
            tracing::info!(
                goip_id,
                recvid,
                sms_no,
                state,
                log_id = stored.id().0,
                outbound = outbound.map(|o| o.0).unwrap_or(-1),
                new = stored.is_new(),
                "delivery report stored"
            );
            if !stored.is_new() {
                ctx.traffic.count(&goip_id, |c| &mut c.retransmissions);
            }
        }
        Ok(Saved::Spooled) => tracing::info!(
            goip_id,
            recvid,
            sms_no,
            state,
            outbound = outbound.map(|o| o.0).unwrap_or(-1),
            "delivery report kept in the spool (the database is unavailable)"
        ),
        Err(e) => tracing::warn!(
            goip_id,
            recvid,
            "delivery report NOT stored (the GoIP will resend it): {e}"
        ),
    }
    confirm(&ctx, Some(durable), result.map(new_in_inbox));
}

async fn store_ussd(ctx: Arc<Context>, ussd: UssdNotice) {
    let UssdNotice {
        goip_id,
        text,
        source,
        durable,
        ..
    } = ussd;
    // A network message concerns the line, so every user of it; a late
    // answer goes to the user who asked: an ad-hoc command's user, whom
    // goippy remembers (`ussd_channels.rs`), or a console user, whom the
    // store finds by the request's sendid (`store/received.rs`).
    let (recvid, recipients, kind, what) = match source {
        UssdSource::Network { recvid } => (
            recvid,
            line_pool::recipients(&ctx, &goip_id, None),
            InboundKind::NetworkUssd { body: text },
            "inbound ussn",
        ),
        UssdSource::LateReply { sendid } => {
            let recipients = match ctx.ussd_channels.asker(&goip_id, sendid) {
                Some(Asker::User { ext, jid }) => vec![InboundRecipient {
                    ext,
                    xmpp_jid: jid.to_string(),
                    contact: None,
                }],
                Some(Asker::BalanceCheck) => {
                    // A check goippy made, not a user: no chat message. The
                    // check already ended without a reading; the next one, at
                    // its time, reads the balance again.
                    tracing::info!(
                        goip_id,
                        sendid,
                        "late answer to a balance check: not delivered to anyone, not read as \
                         the balance (the next check reads it)"
                    );
                    tracing::debug!(goip_id, sendid, answer = %text, "late balance answer");
                    return;
                }
                None => Vec::new(),
            };
            let kind = InboundKind::UssdReply { body: text };
            (sendid.to_string(), recipients, kind, "late ussd answer")
        }
    };
    let record = InboundRecord {
        recipients,
        xmpp_jid: ctx.user_of_channel(&goip_id).map(|j| j.to_string()),
        goip_id: goip_id.clone(),
        recvid: recvid_number(&recvid),
        at: Timestamp::now(),
        kind,
    };
    let result = ctx.store.store_inbound(record, None).await;
    match &result {
        Ok(saved) => log_saved(what, &goip_id, &recvid, *saved),
        Err(e) => tracing::warn!(goip_id, recvid, "{what} NOT stored: {e}"),
    }
    confirm(&ctx, durable, result.map(new_in_inbox));
}

/// Whether a saved message waits in the inbox now: a new row does; a
/// retransmission does not; one kept by the spool reaches the inbox when
/// the spool drains (which pokes the pump itself).
fn new_in_inbox(saved: Saved<Stored>) -> bool {
    saved.committed().is_some_and(Stored::is_new)
}

/// Tells the engine whether something received is saved (committed, or
/// kept by the spool) — only then does the GoIP get its ack; otherwise it
/// sends it again — and wakes the inbox pump when `Ok(true)` says a new
/// row waits there. (A late USSD answer has no ack to wait for.)
fn confirm(ctx: &Context, durable: Option<DurableAck>, result: Result<bool, StoreError>) {
    if let Some(durable) = durable {
        match &result {
            Ok(_) => durable.stored(),
            Err(e) => durable.failed(e.to_string()),
        }
    }
    if result.is_ok_and(|new_in_inbox| new_in_inbox) {
        ctx.inbox.notify_one();
    }
}

/// What the store's writer cannot say: that a message waits in the spool.
/// A committed one is logged once, by the writer (`inbound stored` with its
/// goip_id, recvid, log_id and owner's JID, or `inbound retransmission
/// recognised`), so not again here.
fn log_saved(what: &str, goip_id: &str, recvid: &str, saved: Saved<Stored>) {
    if let Saved::Spooled = saved {
        tracing::info!(
            goip_id,
            recvid,
            "{what} kept in the spool (the database is unavailable): acked, delivered when the \
             database takes it"
        )
    }
}

/// The store's copy of a keepalive.
pub(crate) fn state_update(goip_id: &str, addr: SocketAddr, k: &Keepalive) -> StateUpdate {
    let mut s = StateUpdate::new(goip_id, Timestamp::now());
    s.source = Some(addr);
    s.msisdn = k.num.clone();
    s.gsm_signal = k.signal.as_deref().and_then(|v| v.trim().parse().ok());
    s.gsm_status = k.gsm_status.clone();
    s.voip_status = k.voip_status.clone();
    s.voip_state = k.voip_state.clone();
    s.remain_time = k.remain_time.as_deref().and_then(|v| v.trim().parse().ok());
    s.provider = k.pro.clone();
    s.disable_status = k
        .disable_status
        .as_deref()
        .and_then(|v| v.trim().parse().ok());
    s.imei = k.imei.clone();
    s.imsi = k.imsi.clone();
    s.iccid = k.iccid.clone();
    s.cell_info = k.cellinfo.clone();
    s.sms_login = k.sms_login.clone();
    s
}

/// The work of logging a call event: it is committed (or recognised as a
/// retransmission) before its ack is confirmed, together with its notice
/// when the user wants call notices — in one transaction, so that an event
/// logged is an event told (its resends are all duplicates, never told). A
/// failed store leaves it unacked; it comes again and gets its notice then.
/// `None` for a line state event, which is not logged.
fn record_call(ctx: &Arc<Context>, call: CallNotice) -> Option<Work> {
    let CallNotice {
        goip_id,
        recvid,
        event,
        durable,
    } = call;
    let (store_event, wire, notice_text, remote) = match &event {
        CallNoticeKind::Record(r) => {
            let direction = r.dir;
            let who = shown_number(&r.num);
            let text = match direction {
                CallDirection::Incoming => format!("Incoming call from {who}"),
                CallDirection::Outgoing => format!("Outgoing call to {who}"),
            };
            (
                CallEvent::Record {
                    direction: Some(direction),
                    remote: r.num.clone(),
                },
                NotificationKind::Record(r.clone()),
                Some(text),
                r.num.clone(),
            )
        }
        CallNoticeKind::Hangup(h) => (
            CallEvent::Hangup {
                remote: h.num.clone(),
                cause: h.cause.clone(),
            },
            NotificationKind::Hangup(h.clone()),
            Some(format!(
                "Call with {} ended: {}",
                shown_number(&h.num),
                if h.cause.trim().is_empty() {
                    "no cause given"
                } else {
                    h.cause.as_str()
                }
            )),
            h.num.clone(),
        ),
        CallNoticeKind::Expiry(e) => (
            CallEvent::Expiry {
                seconds: i64::from(e.exp),
            },
            NotificationKind::Expiry(e.clone()),
            None,
            String::new(),
        ),
        CallNoticeKind::State(_) | CallNoticeKind::Remain(_) => {
            tracing::trace!(goip_id, recvid, "line state event");
            return None;
        }
    };
    // The datagram as the GoIP sent it, without its password.
    let raw = Notification::new(recvid.clone(), goip_id.clone(), None, wire)
        .encode()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let record = CallRecord {
        goip_id: goip_id.clone(),
        recvid: Some(recvid_number(&recvid)),
        at: Timestamp::now(),
        event: store_event,
        raw,
    };
    // Every user of a shared line is told (else the line's user, or
    // XMPP_FALLBACK_DEST).
    let notices: Vec<NoticeRecord> = notice_text
        .filter(|_| ctx.policy.call_notices)
        .map(|text| {
            let users = line_pool::recipients(ctx, &goip_id, None);
            let to: Vec<BareJid> = if users.is_empty() {
                ctx.user_of_channel(&goip_id).into_iter().collect()
            } else {
                users
                    .iter()
                    .filter_map(|r| BareJid::new(&r.xmpp_jid).ok())
                    .collect()
            };
            // A hidden caller's notice comes from the withheld number, as
            // an SMS of theirs would.
            let sender = ctx.addressing.numbers().classify_sender(&remote);
            let jid = ctx.addressing.sender_jid(&sender);
            let from = jid.node().map(|n| n.as_str().to_string());
            to.iter()
                .map(|to| notice::chat(&goip_id, to, from.clone(), text.clone()))
                .collect()
        })
        .unwrap_or_default();
    let told = !notices.is_empty();
    let ctx = ctx.clone();
    Some(Box::pin(async move {
        let event = record.event.name();
        let result = ctx.store.store_call(record, notices).await;
        match &result {
            Ok(Saved::Committed(CallStored::New(id))) => {
                tracing::debug!(goip_id, recvid, event, call_id = id, "call event logged")
            }
            Ok(Saved::Spooled) => tracing::info!(
                goip_id,
                recvid,
                event,
                "call event kept in the spool (the database is unavailable)"
            ),
            Ok(Saved::Committed(CallStored::Duplicate(id))) => tracing::info!(
                goip_id,
                recvid,
                event,
                call_id = id,
                "call event retransmitted: acked again, not logged or told again"
            ),
            Err(e) => tracing::warn!(
                goip_id,
                recvid,
                event,
                "call event NOT logged (the GoIP will resend it): {e}"
            ),
        }
        // Only a new event's notice waits in the inbox.
        let new_notice =
            result.map(|saved| told && matches!(saved, Saved::Committed(CallStored::New(_))));
        confirm(&ctx, durable, new_notice);
    }))
}

fn shown_number(num: &str) -> &str {
    if num.trim().is_empty() {
        "a hidden number"
    } else {
        num
    }
}

/// The GoIP reported the result of a recipient that had ended unknown.
async fn late_result(ctx: Arc<Context>, late: LateSmsResult) {
    let Ok(raw_id) = i64::try_from(late.message_ref) else {
        return;
    };
    let id = LogId(raw_id);
    let item = match ctx.store.outbound(id).await {
        Ok(Some(item)) => item,
        Ok(None) => {
            tracing::warn!(log_id = id.0, "late SMS result for no known outbound job");
            return;
        }
        Err(e) => {
            tracing::warn!(log_id = id.0, "late SMS result not recorded: {e}");
            return;
        }
    };
    let telid = Some(i64::from(late.telid));
    let result = match late.outcome {
        RecipientOutcome::Sent { sms_no } => {
            let receipt = (ctx.policy.receipts == ReceiptPolicy::Sent
                && item.receipt_requested
                && item.xmpp_id.is_some())
            .then(|| notice::for_outbound(&item, Notice::SmsSent, String::new(), None));
            tracing::info!(
                log_id = id.0,
                sendid = late.sendid,
                telid = late.telid,
                sms_no = sms_no.map(i64::from).unwrap_or(-1),
                xmpp_id = item.xmpp_id.as_deref().unwrap_or(""),
                "outbound sms sent after all (late result)"
            );
            ctx.store
                .mark_sent(id, sms_no.map(i64::from), telid, receipt)
                .await
        }
        RecipientOutcome::Failed {
            reason,
            errorstatus,
        } => {
            let shown = super::sms::failure_text(&reason, errorstatus);
            tracing::info!(
                log_id = id.0,
                sendid = late.sendid,
                telid = late.telid,
                errorstatus = errorstatus.unwrap_or(-1),
                "outbound sms failed after all (late result)"
            );
            let n =
                notice::for_outbound(&item, Notice::SmsFailed, shown, errorstatus.map(i64::from));
            ctx.store
                .mark_failed(id, &reason, errorstatus.map(i64::from), Some(n))
                .await
        }
        _ => return,
    };
    match result {
        Ok(()) => ctx.inbox.notify_one(),
        Err(e) => tracing::warn!(log_id = id.0, "late SMS result not recorded: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalives_become_state() {
        let k = Keepalive {
            num: Some("+37255500000".into()),
            signal: Some("29".into()),
            gsm_status: Some("LOGIN".into()),
            remain_time: Some("-1".into()),
            disable_status: Some("0".into()),
            pro: Some("Tele2".into()),
            cellinfo: Some("LAC:7E5,CELL ID:5E5B".into()),
            ..Keepalive::default()
        };
        let s = state_update("g1", "127.0.0.1:9991".parse().expect("addr"), &k);
        assert_eq!(s.goip_id, "g1");
        assert_eq!(s.msisdn.as_deref(), Some("+37255500000"));
        assert_eq!(s.gsm_signal, Some(29));
        assert_eq!(s.remain_time, Some(-1));
        assert_eq!(s.disable_status, Some(0));
        assert_eq!(s.provider.as_deref(), Some("Tele2"));
        assert_eq!(s.cell_info.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
        assert_eq!(s.source.map(|a| a.port()), Some(9991));
        let s = state_update(
            "g1",
            "127.0.0.1:1".parse().expect("addr"),
            &Keepalive {
                signal: Some("x".into()),
                ..Keepalive::default()
            },
        );
        assert_eq!(s.gsm_signal, None);
    }
}
