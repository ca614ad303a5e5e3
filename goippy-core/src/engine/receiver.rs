//! The receive loop: every datagram that reaches the engine's socket.
//!
//! For each datagram, in this order:
//! 1. parse it ([`parse_packet`]); what is not a GoIP packet is counted and
//!    dropped (a rate-limited warning, nothing remembered);
//! 2. a **notification** is authenticated (channel id and password, constant
//!    time). A stranger gets the rejection the vendor server sends
//!    (`reg:<n>;status:404;`, `<TAG> <n> ERROR …`, within a global rate
//!    limit) and leaves no trace in memory;
//! 3. it is acknowledged — at once, except the messages that must be stored
//!    first (RECEIVE, DELIVER, USSN, and the call log's RECORD, HANGUP,
//!    EXPIRY), which are acked only after the consumer confirms they are
//!    stored;
//! 4. retransmissions are recognised by (channel, tag, recvid, body) and
//!    acked again without being delivered again;
//! 5. a **reply** is routed by its sendid to the job waiting for it, if it
//!    came from that job's channel's address and port.
//!
//! The loop never waits for the consumer (see `events`), and never exits on
//! a bad datagram or a socket error: only shutdown ends it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc::Permit;

use super::dedup::{DedupKey, notification_body};
use super::events::{
    CallNotice, CallNoticeKind, DeliveryReport, DurableAck, EngineEvent, InboundSms, LateSmsResult,
    OtherNotice, UssdNotice, UssdSource,
};
use super::ledger::SentSms;
use super::pending::Route;
use super::registry::KeepaliveChange;
use super::request::RecipientOutcome;
use super::shared::Shared;
use super::stats::bump;
use crate::goip::{
    Ack, Datagram, ErrorReply, Keepalive, Notification, NotificationKind, Packet,
    RECV_BUFFER_BYTES, Reply, parse_packet, redacted_for_log, ussd_reply_failed, ussd_reply_text,
};

/// How much of a stranger's channel id goes into a log line.
const SHOWN_ID_CHARS: usize = 48;

pub(crate) async fn run(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let mut closing = shared.closing_signal();
    let mut buf = vec![0u8; RECV_BUFFER_BYTES];
    loop {
        let received = tokio::select! {
            _ = closing.wait_for(|c| *c) => break,
            received = socket.recv_from(&mut buf) => received,
        };
        match received {
            Ok((len, from)) => {
                let datagram = buf.get(..len).unwrap_or_default();
                handle_datagram(&shared, datagram, from).await;
            }
            // An ICMP "port unreachable" for something we sent earlier shows
            // up here on Linux; it says nothing about the socket.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                tracing::debug!(error = %e, "a GoIP address was unreachable");
            }
            Err(e) => {
                if let Some(suppressed) = shared.trouble_warning() {
                    tracing::warn!(error = %e, suppressed, "UDP receive failed");
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    tracing::debug!("receive loop stopped");
}

async fn handle_datagram(shared: &Arc<Shared>, datagram: &[u8], from: SocketAddr) {
    bump(&shared.counters.datagrams);
    match parse_packet(datagram) {
        Ok(Packet::Notification(notification)) => {
            handle_notification(shared, notification, from).await
        }
        Ok(Packet::Reply(reply)) => handle_reply(shared, reply, from),
        Err(e) => {
            bump(&shared.counters.garbage);
            // The error names the packet without its password; the raw bytes
            // only at trace level, and with any password redacted.
            tracing::debug!(%from, error = %e, "not a GoIP packet");
            tracing::trace!(%from, datagram = redacted_for_log(datagram), "unreadable datagram");
            if let Some(suppressed) = shared.outsider_warning() {
                tracing::warn!(%from, error = %e, suppressed, "ignoring a datagram that is not a GoIP packet");
            }
        }
    }
}

/// A channel id from outside, shortened, escaped and with any password in
/// it hidden, for a log line: a datagram with a space where its `;` should
/// be (`id:goip1 password:x;…`) parses with the password inside the id.
fn shown_id(id: &str) -> String {
    let mut shown: String = redacted_for_log(id.as_bytes())
        .chars()
        .take(SHOWN_ID_CHARS)
        .collect();
    if id.chars().nth(SHOWN_ID_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

fn authenticate(shared: &Shared, notification: &Notification) -> bool {
    let Some(password) = notification.password.as_deref() else {
        return false;
    };
    shared
        .credentials
        .lookup(&notification.id)
        .is_some_and(|channel| channel.password_matches(password))
}

async fn handle_notification(shared: &Arc<Shared>, n: Notification, from: SocketAddr) {
    if !authenticate(shared, &n) {
        bump(&shared.counters.rejected);
        if let Some(suppressed) = shared.outsider_warning() {
            tracing::warn!(
                goip_id = shown_id(&n.id),
                tag = shown_id(n.tag()),
                %from,
                suppressed,
                "rejected a notification: unknown channel id or wrong password"
            );
        }
        if let Some(ack) = n.ack(false)
            && shared.may_reject()
        {
            shared.send_ack(&ack, from).await;
        }
        return;
    }
    let Notification {
        recvid,
        id,
        kind,
        raw,
        ..
    } = n;
    if let NotificationKind::Keepalive(keepalive) = kind {
        return handle_keepalive(shared, &recvid, id, keepalive, from).await;
    }
    if let Some(previous) = shared.registry.seen_at(&id, from) {
        tracing::info!(goip_id = id, from = %previous, to = %from, "channel address changed");
    }
    let tag = kind.tag().to_owned();
    match kind {
        // Handled above. Every kind is listed, so a new one must be placed.
        NotificationKind::Keepalive(_) => {}
        NotificationKind::At(_) => {
            // Never acked (the protocol has no ack for it), so never resent.
            shared.offer(EngineEvent::Other(OtherNotice {
                goip_id: id,
                recvid,
                kind,
            }));
        }
        NotificationKind::Receive(_)
        | NotificationKind::Deliver(_)
        | NotificationKind::Ussn(_)
        | NotificationKind::Record(_)
        | NotificationKind::Hangup(_)
        | NotificationKind::Expiry(_) => {
            handle_durable(shared, recvid, id, kind, &raw, from).await;
        }
        NotificationKind::State(_) | NotificationKind::Remain(_) => {
            handle_line_state(shared, recvid, id, kind, from).await
        }
        NotificationKind::Cells(_)
        | NotificationKind::CellInfo(_)
        | NotificationKind::Bcch(_)
        | NotificationKind::Cgatt(_)
        | NotificationKind::NumRecord { .. }
        | NotificationKind::Unknown { .. } => {
            let (key, ack) = key_and_ack(&id, &tag, &recvid, &kind);
            shared.send_channel_ack(&id, &ack, from).await;
            if !shared.mark_handled(key, Instant::now()) {
                shared.count_duplicate(&id);
                return;
            }
            tracing::debug!(goip_id = id, tag, recvid, "notification");
            shared.offer(EngineEvent::Other(OtherNotice {
                goip_id: id,
                recvid,
                kind,
            }));
        }
    }
}

async fn handle_keepalive(
    shared: &Arc<Shared>,
    count: &str,
    goip_id: String,
    keepalive: Box<Keepalive>,
    from: SocketAddr,
) {
    // One copy, shared by the registry and the event.
    let keepalive = Arc::<Keepalive>::from(keepalive);
    let change = shared
        .registry
        .keepalive(&goip_id, from, keepalive.clone(), Instant::now());
    let ack = Ack::Registration {
        count: count.to_owned(),
        status: crate::goip::REG_STATUS_OK,
    };
    shared.send_ack(&ack, from).await;
    match change {
        KeepaliveChange::CameOnline => {
            tracing::info!(goip_id, addr = %from, "channel online");
            shared.announce(EngineEvent::ChannelOnline {
                goip_id: goip_id.clone(),
                addr: from,
            });
        }
        KeepaliveChange::Moved { from: previous } => {
            tracing::info!(goip_id, from = %previous, to = %from, "channel address changed");
        }
        KeepaliveChange::Unchanged => {}
    }
    tracing::trace!(goip_id, count, "keepalive");
    shared.offer(EngineEvent::Keepalive {
        goip_id,
        addr: from,
        keepalive,
    });
}

/// What recognises a notification's retransmissions, and the ack that
/// answers it (and each of them).
fn key_and_ack(goip_id: &str, tag: &str, recvid: &str, kind: &NotificationKind) -> (DedupKey, Ack) {
    let key = DedupKey::new(goip_id, tag, recvid, &notification_body(kind));
    let ack = Ack::Ok {
        tag: tag.to_owned(),
        recvid: recvid.to_owned(),
    };
    (key, ack)
}

/// A place in the event queue for a notification that is acked only once it
/// has one; `None` (counted, and warned about) when the queue is full: then
/// nothing is acked and the GoIP sends it again.
fn reserve_event<'a>(
    shared: &'a Shared,
    goip_id: &str,
    tag: &str,
    recvid: &str,
) -> Option<Permit<'a, EngineEvent>> {
    let permit = shared.events.try_reserve().ok();
    if permit.is_none() {
        bump(&shared.counters.events_dropped);
        bump(&shared.counters.not_acked);
        if let Some(suppressed) = shared.trouble_warning() {
            tracing::warn!(
                goip_id,
                tag,
                recvid,
                suppressed,
                "event queue full: not acked, the GoIP will send it again"
            );
        }
    }
    permit
}

/// RECEIVE, DELIVER, USSN and the call log's RECORD, HANGUP, EXPIRY: handed
/// to the consumer, acked once stored.
async fn handle_durable(
    shared: &Arc<Shared>,
    recvid: String,
    goip_id: String,
    kind: NotificationKind,
    raw: &Datagram,
    from: SocketAddr,
) {
    let tag = kind.tag().to_owned();
    let (key, ack) = key_and_ack(&goip_id, &tag, &recvid, &kind);
    let now = Instant::now();
    if shared.already_handled(&key, now) {
        shared.count_duplicate(&goip_id);
        tracing::debug!(
            goip_id,
            tag,
            recvid,
            "retransmission: acked again, not delivered again"
        );
        shared.send_channel_ack(&goip_id, &ack, from).await;
        return;
    }
    if shared.is_draining() {
        // Stopping: what is new waits for the next goippy (the GoIP resends it).
        tracing::debug!(goip_id, tag, recvid, "stopping: not taken, not acked");
        return;
    }
    let Some(permit) = reserve_event(shared, &goip_id, &tag, &recvid) else {
        return;
    };
    let (durable, verdict) = DurableAck::pair();
    let received_at = SystemTime::now();
    let event = match kind {
        NotificationKind::Receive(r) => {
            tracing::info!(goip_id, recvid, "SMS received");
            tracing::debug!(goip_id, recvid, srcnum = r.srcnum, text = r.msg, "SMS text");
            EngineEvent::Sms(InboundSms {
                raw_text: raw_body(raw),
                goip_id: goip_id.clone(),
                recvid: recvid.clone(),
                srcnum: r.srcnum,
                smscnum: r.smscnum,
                text: r.msg,
                dedup_key: key.clone(),
                received_at,
                durable,
            })
        }
        NotificationKind::Deliver(d) => {
            let matched = shared.find_sent(&goip_id, d.sms_no, now);
            tracing::info!(
                goip_id,
                recvid,
                sms_no = d.sms_no,
                state = d.state,
                matched = matched.as_ref().map(|m| m.tag),
                "delivery report"
            );
            EngineEvent::Delivery(DeliveryReport {
                goip_id: goip_id.clone(),
                recvid: recvid.clone(),
                sms_no: d.sms_no,
                state: d.state,
                num: d.num,
                matched,
                dedup_key: key.clone(),
                received_at,
                durable,
            })
        }
        NotificationKind::Ussn(u) => {
            tracing::info!(goip_id, recvid, "USSD text from the network");
            EngineEvent::Ussd(UssdNotice {
                goip_id: goip_id.clone(),
                text: ussd_reply_text(&u.msg).to_owned(),
                failed: ussd_reply_failed(&u.msg),
                source: UssdSource::Network {
                    recvid: recvid.clone(),
                },
                durable: Some(durable),
                dedup_key: Some(key.clone()),
            })
        }
        NotificationKind::Record(_) | NotificationKind::Hangup(_) | NotificationKind::Expiry(_) => {
            let event = match kind {
                NotificationKind::Record(r) => CallNoticeKind::Record(r),
                NotificationKind::Hangup(h) => CallNoticeKind::Hangup(h),
                NotificationKind::Expiry(e) => CallNoticeKind::Expiry(e),
                _ => return,
            };
            tracing::info!(goip_id, tag, recvid, "call event");
            EngineEvent::Call(CallNotice {
                goip_id: goip_id.clone(),
                recvid: recvid.clone(),
                event,
                durable: Some(durable),
            })
        }
        _ => return,
    };
    permit.send(event);
    bump(&shared.counters.events);
    let token = shared.durable_tasks.token();
    let shared = shared.clone();
    tokio::spawn(async move {
        let _token = token;
        let limit = shared.config.durable_ack_timeout;
        let problem = match tokio::time::timeout(limit, verdict).await {
            Ok(Ok(Ok(()))) => {
                shared.send_channel_ack(&goip_id, &ack, from).await;
                // Only now: a copy that came while this one was being stored
                // was handed over again (the store's unique key copes), and
                // nothing acked was ever unstored.
                shared.mark_handled(key, Instant::now());
                return;
            }
            Ok(Ok(Err(reason))) => format!("the store failed: {reason}"),
            Ok(Err(_)) => "the consumer dropped it without confirming".to_owned(),
            Err(_) => format!("not confirmed as stored within {limit:?}"),
        };
        bump(&shared.counters.not_acked);
        if let Some(suppressed) = shared.trouble_warning() {
            tracing::warn!(
                goip_id,
                tag,
                recvid,
                problem,
                suppressed,
                "not acked: the GoIP will send it again"
            );
        }
    });
}

/// The exact bytes of an SMS body, when they were not valid UTF-8. The body
/// starts after the first `;msg:`: no field before it can contain a `;`.
fn raw_body(raw: &Datagram) -> Option<Vec<u8>> {
    if !raw.is_lossy() {
        return None;
    }
    let bytes = raw.bytes();
    let at = bytes.windows(5).position(|w| w == b";msg:")?;
    bytes.get(at + 5..).map(<[u8]>::to_vec)
}

/// STATE, REMAIN (the line's state, not logged): acked at once — but only
/// when the event fits in the queue, so a full queue makes the GoIP resend
/// it.
async fn handle_line_state(
    shared: &Arc<Shared>,
    recvid: String,
    goip_id: String,
    kind: NotificationKind,
    from: SocketAddr,
) {
    let tag = kind.tag().to_owned();
    let (key, ack) = key_and_ack(&goip_id, &tag, &recvid, &kind);
    if shared.already_handled(&key, Instant::now()) {
        shared.count_duplicate(&goip_id);
        shared.send_channel_ack(&goip_id, &ack, from).await;
        return;
    }
    let Some(permit) = reserve_event(shared, &goip_id, &tag, &recvid) else {
        return;
    };
    let event = match kind {
        NotificationKind::State(s) => CallNoticeKind::State(s),
        NotificationKind::Remain(r) => CallNoticeKind::Remain(r),
        _ => return,
    };
    shared.send_channel_ack(&goip_id, &ack, from).await;
    shared.mark_handled(key, Instant::now());
    tracing::info!(goip_id, tag, recvid, "call event");
    permit.send(EngineEvent::Call(CallNotice {
        goip_id,
        recvid,
        event,
        durable: None,
    }));
    bump(&shared.counters.events);
}

/// True if a reply for `goip_id` came from exactly where that channel is:
/// the IP address *and* port of its latest authenticated packet. A reply
/// carries no password; this and the sendid (unguessable, see `sendid`) are
/// all that stop a forged one.
///
/// The port can be compared because a channel speaks from one socket: its
/// keepalives, notifications and replies all leave from it
/// (docs/goip-protocol.md#transport: each line has its own SMS-client
/// socket, 9991 for line 1, and answers whoever sent the command from it),
/// and behind a NAT they share the one mapping its keepalives keep open —
/// the pinhole commands are sent to. If
/// the NAT rebinds, the channel's next packet (a keepalive within 30 s)
/// moves its address; a reply in between is dropped, which costs a resend
/// (MSG, PASSWORD, USSD) or the status poll (a SEND's
/// result), never a wrong outcome.
fn from_channel(shared: &Shared, goip_id: &str, from: SocketAddr) -> bool {
    let known = shared.registry.last_address(goip_id);
    if known == Some(from) {
        return true;
    }
    bump(&shared.counters.replies_wrong_source);
    if let Some(suppressed) = shared.outsider_warning() {
        tracing::warn!(goip_id, %from, expected = ?known, suppressed, "dropped a reply that did not come from its channel's address");
    }
    false
}

fn handle_reply(shared: &Arc<Shared>, reply: Reply, from: SocketAddr) {
    let sendid = reply.sendid();
    match shared.pending.route(sendid, Instant::now()) {
        Route::Open { goip_id, tx } => {
            if !from_channel(shared, &goip_id, from) {
                return;
            }
            tracing::debug!(goip_id, sendid, verb = reply.verb(), "reply");
            if tx.try_send(reply).is_ok() {
                bump(&shared.counters.replies_routed);
            } else {
                tracing::debug!(goip_id, sendid, "reply dropped: its job is not reading");
            }
        }
        Route::Late { goip_id, ussd } => {
            if from_channel(shared, &goip_id, from) {
                bump(&shared.counters.replies_routed);
                late_reply(shared, goip_id, ussd, reply);
            }
        }
        Route::Unknown => {
            bump(&shared.counters.replies_unmatched);
            tracing::debug!(sendid, verb = reply.verb(), %from, "reply to no known exchange");
        }
    }
}

/// A reply after its job ended: reported when it says something new.
fn late_reply(shared: &Arc<Shared>, goip_id: String, ussd: bool, reply: Reply) {
    let sendid = reply.sendid();
    let event = match (ussd, reply) {
        (true, Reply::Ussd { text, .. }) => EngineEvent::Ussd(UssdNotice {
            goip_id,
            text: ussd_reply_text(&text).to_owned(),
            failed: ussd_reply_failed(&text),
            source: UssdSource::LateReply { sendid },
            durable: None,
            dedup_key: None,
        }),
        (true, Reply::UssdError { text, .. }) => EngineEvent::Ussd(UssdNotice {
            goip_id,
            text,
            failed: true,
            source: UssdSource::LateReply { sendid },
            durable: None,
            dedup_key: None,
        }),
        (false, Reply::Ok { telid, sms_no, .. }) => {
            let Some(late) = shared.pending.take_late_recipient(sendid, telid) else {
                return;
            };
            if let Some(sms_no) = sms_no {
                shared.record_sent(SentSms {
                    goip_id: late.goip_id.clone(),
                    sms_no,
                    recipient: late.recipient.clone(),
                    tag: late.message_ref,
                    sent_at: Instant::now(),
                });
            }
            tracing::warn!(
                goip_id = late.goip_id,
                sendid,
                telid,
                ?sms_no,
                message_ref = late.message_ref,
                "late result: the SMS reported Unknown was sent"
            );
            EngineEvent::LateSmsResult(LateSmsResult {
                goip_id: late.goip_id,
                sendid,
                telid,
                recipient: late.recipient,
                message_ref: late.message_ref,
                outcome: RecipientOutcome::Sent { sms_no },
            })
        }
        (
            false,
            Reply::Error(ErrorReply::Recipient {
                telid, errorstatus, ..
            }),
        ) => {
            let Some(late) = shared.pending.take_late_recipient(sendid, telid) else {
                return;
            };
            tracing::info!(
                goip_id = late.goip_id,
                sendid,
                telid,
                errorstatus,
                message_ref = late.message_ref,
                "late result: the SMS reported Unknown failed"
            );
            EngineEvent::LateSmsResult(LateSmsResult {
                goip_id: late.goip_id,
                sendid,
                telid,
                recipient: late.recipient,
                message_ref: late.message_ref,
                outcome: RecipientOutcome::Failed {
                    reason: format!("the GoIP reports errorstatus {errorstatus}"),
                    errorstatus: Some(errorstatus),
                },
            })
        }
        (_, other) => {
            tracing::debug!(sendid, verb = other.verb(), "late reply ignored");
            return;
        }
    };
    if !shared.offer(event)
        && let Some(suppressed) = shared.trouble_warning()
    {
        tracing::warn!(
            sendid,
            suppressed,
            "event queue full: a late reply was not reported"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_inside_a_malformed_id_is_not_shown() {
        let shown = super::shown_id("goip1 password:hunter2;x");
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = super::shown_id("gw1 pass:hunter2");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(super::shown_id("goip1"), "goip1");
    }

    use super::*;

    #[test]
    fn raw_bodies_only_when_lossy() {
        assert_eq!(raw_body(&Datagram::new(b"RECEIVE:1;id:g;msg:ok")), None);
        assert_eq!(
            raw_body(&Datagram::new(b"RECEIVE:1;id:g;srcnum:1;msg:a\xff;msg:b")),
            Some(b"a\xff;msg:b".to_vec())
        );
    }

    #[test]
    fn stranger_ids_are_shortened() {
        assert_eq!(shown_id("goip-1"), "goip-1");
        assert_eq!(shown_id("a\nb"), "a\\nb");
        assert_eq!(
            shown_id(&"x".repeat(100)).chars().count(),
            SHOWN_ID_CHARS + 1
        );
    }
}
