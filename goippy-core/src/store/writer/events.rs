//! What the writer tells the operator: one log line per message event, with
//! the ids that let an operator follow a message end to end (bodies only at
//! debug level), and short descriptions of writes for error lines.

use super::op::{Outcome, Transition, WriteOp};

/// A short description of a write for error messages (never a body).
pub(super) fn describe(op: &WriteOp) -> String {
    match op {
        WriteOp::State(s) => format!("keepalive state of {}", s.goip_id),
        WriteOp::Call { call: c, .. } => format!("{} call event of {}", c.event.name(), c.goip_id),
        WriteOp::Inbound { record, .. } => format!(
            "inbound {} {} of {}",
            record.kind.tag(),
            record.recvid,
            record.goip_id
        ),
        WriteOp::Outbound { record: r, .. } => {
            format!("outbound job from {} via {}", r.xmpp_from, r.goip_id)
        }
        WriteOp::Transition { id, change, .. } => {
            format!("outbound {id} -> {}", change.target().as_str())
        }
        WriteOp::Delivered(id) => format!("inbound {id} delivered"),
        WriteOp::Notice(n) => format!("{} notice for {}", n.what, n.to),
        WriteOp::Alert { state, .. } => format!("{} alert state of {}", state.alert, state.goip_id),
        WriteOp::Counter { name, .. } => format!("counter {name}"),
        WriteOp::Barrier => "flush".to_string(),
    }
}

/// One log line per message event, with the ids that let an operator follow
/// it end to end. Bodies only at debug level.
pub(super) fn log_committed(op: &WriteOp, outcome: &Outcome) {
    match (op, outcome) {
        (WriteOp::Inbound { record, .. }, Outcome::Stored { id, new }) => {
            let kind = record.kind.log_kind().as_str();
            let what = if *new {
                "inbound stored"
            } else {
                "inbound retransmission recognised (already stored)"
            };
            // A field that is `None` is left out of the line.
            let columns = record.kind.columns();
            let (sms_no, state) = (columns.sms_no, columns.dlr_state);
            tracing::info!(
                log_id = id,
                goip_id = %record.goip_id,
                tag = record.kind.tag(),
                recvid = record.recvid,
                kind,
                sms_no,
                state,
                xmpp_jid = record.xmpp_jid.as_deref().unwrap_or(""),
                "{what}"
            );
            tracing::debug!(log_id = id, body = %record.kind.dedup_text(), "inbound body");
        }
        (WriteOp::Outbound { record: r, .. }, Outcome::Enqueued { id }) => {
            tracing::info!(
                log_id = id,
                goip_id = %r.goip_id,
                ext = %r.ext,
                xmpp_id = r.xmpp_id.as_deref().unwrap_or(""),
                from = %r.xmpp_from,
                kind = r.kind.log_kind().as_str(),
                destination = %r.destination,
                "outbound queued"
            );
            tracing::debug!(log_id = id, body = %r.body, "outbound body");
        }
        (WriteOp::Notice(n), Outcome::Stored { id, .. }) => tracing::info!(
            log_id = id,
            goip_id = %n.goip_id,
            notice = %n.what,
            outbound = n.outbound.map(|o| o.0).unwrap_or(-1),
            xmpp_id = n.about.as_deref().unwrap_or(""),
            "notice queued for XMPP"
        ),
        (WriteOp::Transition { id, change, notice }, Outcome::Done) => {
            if let Some(n) = notice {
                tracing::debug!(log_id = id.0, notice = %n.what, "notice stored with the change");
            }
            match change {
                Transition::Sending { sendid } => {
                    tracing::info!(log_id = id.0, sendid, "outbound sending")
                }
                Transition::Sent { sms_no, telid } => tracing::info!(
                    log_id = id.0,
                    sms_no = sms_no.unwrap_or(-1),
                    telid = telid.unwrap_or(-1),
                    "outbound sent"
                ),
                Transition::Failed {
                    reason,
                    errorstatus,
                } => tracing::info!(
                    log_id = id.0,
                    errorstatus = errorstatus.unwrap_or(-1),
                    reason = %reason,
                    "outbound failed"
                ),
                Transition::Unknown { reason } => {
                    tracing::info!(log_id = id.0, reason = %reason, "outbound outcome unknown")
                }
                Transition::Moved { goip_id, tried } => tracing::info!(
                    log_id = id.0,
                    goip_id = %goip_id,
                    tried = %tried,
                    "outbound moved to another line (failover)"
                ),
            }
        }
        (WriteOp::Transition { id, change, .. }, Outcome::TransitionRefused { from, .. }) => {
            tracing::warn!(
                log_id = id.0,
                to = change.target().as_str(),
                from = from.as_deref().unwrap_or("(no such outbound message)"),
                "outbound state change refused"
            )
        }
        // The inbox pump logs the delivery once, with its JID and XMPP id
        // (`inbound delivered to XMPP`); this is only the mark's commit.
        (WriteOp::Delivered(id), Outcome::Done) => {
            tracing::debug!(log_id = id.0, "inbound marked delivered")
        }
        (WriteOp::Call { call: c, .. }, Outcome::Stored { new: true, .. }) => tracing::info!(
            goip_id = %c.goip_id,
            recvid = c.recvid.unwrap_or(-1),
            event = c.event.name(),
            "call event logged"
        ),
        (WriteOp::State(s), _) => {
            tracing::trace!(goip_id = %s.goip_id, "keepalive state saved")
        }
        _ => {}
    }
}
