//! What a GoIP reported, stored once: messages, delivery reports, USSD and
//! call events, each recognised when it is a retransmission.
//!
//! A GoIP resends what it was not acked for (and goippy may have restarted
//! in between), so every received item carries a dedup key — (channel, tag,
//! recvid, hash of what it says) — in `goippy_dedup`, committed in the same
//! transaction as the item. The rule is the engine's (`engine/dedup.rs`):
//! the same key stored less than the dedup window before this copy arrived
//! makes it a copy. Two more rules match an item to an earlier row: a
//! delivery report to the outbound SMS it is about, a late USSD answer to
//! the request it answers (whose user gets it), and a call's EXPIRY to the
//! call that just ended.

use std::time::Duration;

use super::DELIVERY_REPORT_WINDOW;
use super::apply::insert_notice;
use super::db::{Query, Sql, Tx};
use super::records::{
    CallEvent, CallRecord, InboundColumns, InboundKind, InboundRecipient, InboundRecord, LogId,
    NoticeRecord, STATUS_INBOX,
};
use super::time::Timestamp;
use super::writer::Outcome;
use crate::util::body_hash_column;

/// How far back an EXPIRY looks for the call it ends.
const CALL_LOOKBACK: Duration = Duration::from_secs(2 * 3600);

/// Something received: a new `goippy_log` inbox row, or the id of the
/// first copy. A delivery report also records its state on the outbound
/// row it is about: `outbound` when the caller already matched it (the
/// engine, from memory, also while that row's `sent` state is still on its
/// way), otherwise the newest outbound SMS of the channel with its
/// `sms_no` sent within [`DELIVERY_REPORT_WINDOW`]. A late USSD answer
/// goes to the user whose request it answers ([`ussd_asker`]).
pub(super) async fn inbound(
    tx: &mut Tx<'_>,
    record: &InboundRecord,
    body_hash: i64,
    outbound: Option<LogId>,
    now: Timestamp,
    dedup_window: Duration,
) -> Result<Outcome, sqlx::Error> {
    let key = DedupRow {
        goip_id: &record.goip_id,
        tag: record.kind.tag(),
        recvid: record.recvid,
        body_hash,
    };
    if let Some(id) = earlier_copy(tx, &key, record.at.minus(dedup_window)).await? {
        return Ok(Outcome::Stored { id, new: false });
    }
    let columns = record.kind.columns();
    let mut xmpp_jid = record.xmpp_jid.clone();
    let mut peer = columns.peer.map(str::to_string);
    let mut ref_id = None;
    if let (Some(sms_no), Some(state)) = (columns.sms_no, columns.dlr_state) {
        let mut matched = None;
        if let Some(out) = outbound {
            matched = tx
                .query("SELECT id, xmpp_jid, msisdn FROM goippy_log WHERE id = ? AND dir = 'out'")
                .bind(out.0)
                .fetch_optional::<ReportedSms>()
                .await?;
        }
        if matched.is_none() {
            matched = tx
                .query(
                    "SELECT id, xmpp_jid, msisdn FROM goippy_log WHERE dir = 'out' AND goip_id = ? \
                     AND sms_no = ? AND sent_unix >= ? ORDER BY sent_unix DESC, id DESC LIMIT 1",
                )
                .bind(&record.goip_id)
                .bind(sms_no)
                .bind(record.at.minus(DELIVERY_REPORT_WINDOW).unix())
                .fetch_optional()
                .await?;
        }
        if let Some((out_id, out_jid, out_dest)) = matched {
            tx.query(
                "UPDATE goippy_log SET dlr_state = ?, dlr_unix = ?, updated_unix = ? WHERE id = ?",
            )
            .bind(state)
            .bind(record.at.unix())
            .bind(now.unix())
            .bind(out_id)
            .execute()
            .await?;
            ref_id = Some(out_id);
            xmpp_jid = xmpp_jid.or(out_jid);
            peer = peer.or(out_dest);
        }
    }
    let asker = match record.kind {
        InboundKind::UssdReply { .. } => ussd_asker(tx, &record.goip_id, record.recvid).await?,
        _ => None,
    };
    let recipients = match &asker {
        Some(asker) => std::slice::from_ref(asker),
        None => record.recipients.as_slice(),
    };
    let row = |xmpp_jid, ext| InboundRow {
        peer: peer.as_deref(),
        xmpp_jid,
        ext,
        record,
        columns: &columns,
        ref_id,
        now,
    };
    let mut first = None;
    if recipients.is_empty() {
        // The ext is the gateway row's, read in the INSERT.
        first = Some(row(xmpp_jid.as_deref(), None).insert(tx).await?);
    }
    // A line with users: a row for each, all in this transaction, so that
    // every user gets it or none does (and a retransmission, recognised by
    // the one dedup key, writes nothing). The key points at the first row.
    for to in recipients {
        let id = row(Some(to.xmpp_jid.as_str()), Some(to.ext.as_str()))
            .insert(tx)
            .await?;
        first.get_or_insert(id);
        // The user's answer goes out on the line the contact wrote to,
        // unless the user chose a line for this contact (`/line N`).
        if let Some(contact) = &to.contact {
            tx.query(super::lines::LEARN_CHOICE)
                .bind(&to.ext)
                .bind(contact)
                .bind(&record.goip_id)
                .bind(now.unix())
                .execute()
                .await?;
        }
    }
    let id = first.unwrap_or_default();
    insert_key(tx, &key, id, now).await?;
    Ok(Outcome::Stored { id, new: true })
}

/// One inbound row to insert: for the user `ext`, or with no `ext` for
/// the one the gateway row names.
struct InboundRow<'a> {
    peer: Option<&'a str>,
    xmpp_jid: Option<&'a str>,
    ext: Option<&'a str>,
    record: &'a InboundRecord,
    columns: &'a InboundColumns<'a>,
    ref_id: Option<i64>,
    now: Timestamp,
}

impl InboundRow<'_> {
    async fn insert(self, tx: &mut Tx<'_>) -> Result<i64, sqlx::Error> {
        let (record, columns) = (self.record, self.columns);
        Ok(tx
            .query(INSERT_INBOUND)
            .bind(self.peer)
            .bind(columns.channel_number)
            .bind(&record.goip_id)
            .bind(self.xmpp_jid)
            .bind(columns.body)
            .bind(STATUS_INBOX)
            .bind(record.at.unix())
            .bind(record.kind.log_kind().as_str())
            .bind(&record.goip_id)
            .bind(self.ext)
            .bind(&record.goip_id)
            .bind(record.recvid)
            .bind(columns.sms_no)
            .bind(self.ref_id)
            .bind(columns.dlr_state)
            .bind(self.now.unix())
            .execute()
            .await?
            .inserted_id)
    }
}

/// The outbound SMS a delivery report is about: its id, who sent it, and
/// where to.
type ReportedSms = (i64, Option<String>, Option<String>);

/// The user who sent the USSD request a late answer answers: its outbox
/// row carries the sendid the request went out with (the answer's
/// `recvid`), and USSD sendids only grow, also across restarts. On a line
/// several users share, the answer is theirs alone, not the line's default
/// owner's. `None` for an answer to a request with no outbox row (an ad-hoc
/// command's, whose user the bridge remembers, `bridge/ussd_channels.rs`; a
/// balance check's never gets here): it goes to the record's recipients. (The
/// search runs in the channel's outbound rows, `goippy_log_out_day`'s
/// prefix; late answers are rare.)
async fn ussd_asker(
    tx: &mut Tx<'_>,
    goip_id: &str,
    sendid: i64,
) -> Result<Option<InboundRecipient>, sqlx::Error> {
    let row: Option<(Option<String>, Option<String>)> = tx
        .query(
            "SELECT ext, xmpp_jid FROM goippy_log WHERE goip_id = ? AND dir = 'out' \
             AND kind = 'ussd' AND sendid = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(goip_id)
        .bind(sendid)
        .fetch_optional()
        .await?;
    let Some((Some(ext), Some(jid))) = row else {
        return Ok(None);
    };
    // The answer is a message in the inbox now, for the user wherever they
    // are: to the bare JID, not the resource that asked.
    let bare = jid.split_once('/').map_or(jid.as_str(), |(bare, _)| bare);
    if ext.is_empty() || bare.is_empty() {
        return Ok(None);
    }
    Ok(Some(InboundRecipient {
        ext,
        xmpp_jid: bare.to_string(),
        contact: None,
    }))
}

/// A call event: a new `goippy_calls` row (an EXPIRY instead gives the call
/// that just ended its duration), or the id of the first copy.
///
/// A retransmission (the GoIP did not get the ack in time, or goippy
/// restarted) is recognised as an SMS is, and neither logged nor told
/// again; an event without a recvid has no key and is logged. The notice is
/// committed with the event, so that an event stored is an event told: its
/// resends are all duplicates.
pub(super) async fn call(
    tx: &mut Tx<'_>,
    c: &CallRecord,
    notices: impl Iterator<Item = &NoticeRecord>,
    now: Timestamp,
    dedup_window: Duration,
) -> Result<Outcome, sqlx::Error> {
    let key = c.recvid.map(|recvid| DedupRow {
        goip_id: &c.goip_id,
        tag: c.event.name(),
        recvid,
        body_hash: body_hash_column(&c.event.dedup_text()),
    });
    if let Some(key) = &key
        && let Some(id) = earlier_copy(tx, key, c.at.minus(dedup_window)).await?
    {
        return Ok(Outcome::Stored { id, new: false });
    }
    let mut id = None;
    if let CallEvent::Expiry { seconds } = c.event {
        // The newest row of the call that just ended.
        let call: Option<i64> = tx
            .query(
                "SELECT id FROM goippy_calls WHERE goip_id = ? \
                 AND event IN ('RECORD', 'HANGUP') AND duration IS NULL AND ts >= ? \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(&c.goip_id)
            .bind(c.at.minus(CALL_LOOKBACK).unix())
            .scalar_optional()
            .await?;
        if let Some(call) = call {
            tx.query("UPDATE goippy_calls SET duration = ? WHERE id = ?")
                .bind(seconds)
                .bind(call)
                .execute()
                .await?;
            id = Some(call);
        }
    }
    let id = match id {
        Some(id) => id,
        None => insert_call(tx, c).await?,
    };
    if let Some(key) = &key {
        // log_id names the goippy_calls row here (no foreign key: the tag
        // says which table it is).
        insert_key(tx, key, id, now).await?;
    }
    for notice in notices {
        insert_notice(tx, notice, now).await?;
    }
    Ok(Outcome::Stored { id, new: true })
}

/// A `goippy_dedup` key: (channel, tag, recvid, hash of what it says).
struct DedupRow<'a> {
    goip_id: &'a str,
    tag: &'a str,
    recvid: i64,
    body_hash: i64,
}

impl<'a> DedupRow<'a> {
    /// Binds the key's columns, in the order above.
    fn bind<'q>(&self, query: Query<'q>) -> Query<'q>
    where
        'a: 'q,
    {
        query
            .bind(self.goip_id)
            .bind(self.tag)
            .bind(self.recvid)
            .bind(self.body_hash)
    }
}

/// The row of an earlier copy of this item, if this one is a
/// retransmission of it — by the engine's rule (`engine/dedup.rs`): the
/// same key stored less than the dedup window before this copy arrived
/// (`since` = its arrival minus the window). A key stored earlier than
/// that belongs to another message that reused the recvid (a GoIP without
/// NTP, after a reboot): it is deleted here, so that this message's own key
/// can take its place under the unique index.
async fn earlier_copy(
    tx: &mut Tx<'_>,
    key: &DedupRow<'_>,
    since: Timestamp,
) -> Result<Option<i64>, sqlx::Error> {
    // One statement in the common case (no key yet): the key is read with
    // its age, and deleted only when it is too old to be this copy's. (The
    // unique index allows one row per key.)
    let found = key
        .bind(tx.query(
            "SELECT log_id, created_unix FROM goippy_dedup \
             WHERE goip_id = ? AND tag = ? AND recvid = ? AND body_hash = ?",
        ))
        .fetch_optional::<(i64, i64)>()
        .await?;
    match found {
        Some((log_id, created)) if created > since.unix() => Ok(Some(log_id)),
        Some(_) => {
            key.bind(tx.query(
                "DELETE FROM goippy_dedup \
                 WHERE goip_id = ? AND tag = ? AND recvid = ? AND body_hash = ?",
            ))
            .execute()
            .await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Stores the dedup key of the row `id` just written.
async fn insert_key(
    tx: &mut Tx<'_>,
    key: &DedupRow<'_>,
    id: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    key.bind(tx.query(
        "INSERT INTO goippy_dedup (goip_id, tag, recvid, body_hash, log_id, created_unix) \
         VALUES (?, ?, ?, ?, ?, ?)",
    ))
    .bind(id)
    .bind(now.unix())
    .execute()
    .await?;
    Ok(())
}

/// Adds a call event's row to `goippy_calls`; returns its id.
async fn insert_call(tx: &mut Tx<'_>, c: &CallRecord) -> Result<i64, sqlx::Error> {
    let (direction, remote, cause, duration) = match &c.event {
        CallEvent::Record { direction, remote } => (
            direction.map(|d| i64::from(d.code())),
            Some(remote.as_str()),
            None,
            None,
        ),
        CallEvent::Hangup { remote, cause } => {
            (None, Some(remote.as_str()), Some(cause.as_str()), None)
        }
        CallEvent::Expiry { seconds } => (None, None, None, Some(*seconds)),
    };
    Ok(tx
        .query(INSERT_CALL)
        .bind(c.at.unix())
        .bind(&c.goip_id)
        .bind(&c.goip_id)
        .bind(direction)
        .bind(remote)
        .bind(cause)
        .bind(duration)
        .bind(&c.goip_id)
        .bind(&c.raw)
        .bind(c.event.name())
        .bind(c.recvid)
        .bind(c.at.unix())
        .execute()
        .await?
        .inserted_id)
}

// ----- the statements whose text differs between the dialects -------------

/// USSD rows carry the channel's own number as `msisdn` (as in the
/// original): the second `?` says whether to look it up. Without an ext
/// given, it is the gateway row's.
const INSERT_INBOUND: Sql = Sql {
    sqlite: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, \
             ext, recvid, sms_no, ref_id, dlr_state, updated_unix) \
             VALUES ('in', COALESCE(?, CASE WHEN ? THEN \
             (SELECT msisdn FROM goippy_gateways WHERE goip_id = ?) END), ?, ?, ?, \
             datetime(?, 'unixepoch'), ?, ?, \
             COALESCE(?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?)), ?, ?, ?, ?, ?)",
    mysql: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, \
            ext, recvid, sms_no, ref_id, dlr_state, updated_unix) \
            VALUES ('in', COALESCE(?, CASE WHEN ? THEN \
            (SELECT msisdn FROM goippy_gateways WHERE goip_id = ?) END), ?, ?, ?, \
            FROM_UNIXTIME(?), ?, ?, \
            COALESCE(?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?)), ?, ?, ?, ?, ?)",
};

const INSERT_CALL: Sql = Sql {
    sqlite: "INSERT INTO goippy_calls (ts, goip_id, ext, direction, remote_num, cause, duration, \
             msisdn, raw, event, recvid, created_at) \
             VALUES (?, ?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, \
             (SELECT msisdn FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, \
             datetime(?, 'unixepoch'))",
    mysql: "INSERT INTO goippy_calls (ts, goip_id, ext, direction, remote_num, cause, duration, \
            msisdn, raw, event, recvid, created_at) \
            VALUES (?, ?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, \
            (SELECT msisdn FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, FROM_UNIXTIME(?))",
};
