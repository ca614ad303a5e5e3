//! A batch of writes in the database: one transaction, its marker row, and
//! what each kind of write does.
//!
//! The writer (`store/writer/`) decides when a batch goes to the database
//! and what happens when it does not; this file is what happens when it
//! does. Each batch commits a marker row (`goippy_write_batches`) with what
//! every write in it returned, in the same transaction, so that a batch
//! whose COMMIT may or may not have happened is looked up instead of
//! written twice (`batch_outcomes`).
//!
//! The rules for what was received from a GoIP (dedup, delivery-report and
//! call-expiry matching) are in `store/received.rs`; the outbox transitions
//! are here ([`transition`]).

use std::time::Duration;

use super::db::{CutOffGuard, Db, Sql, Tx};
use super::received;
use super::records::{
    LogId, NoticeRecord, OutboundOptions, OutboundRecord, STATUS_DELIVERED, STATUS_INBOX,
    StateUpdate,
};
use super::time::Timestamp;
use super::writer::{self, BatchFailure, Outcome, Transition, WriteOp};

/// The database as the writer sees it: batches of writes, each committed
/// together with its marker.
#[derive(Debug, Clone)]
pub(crate) struct Batches {
    pub db: Db,
    /// See [`super::StoreOptions::dedup_window`].
    pub dedup_window: Duration,
}

impl writer::Database for Batches {
    /// Writes `ops` in one transaction, stamped `now`, with the marker
    /// `batch_id`; returns what each write returned.
    async fn apply_batch(
        &self,
        batch_id: i64,
        now: Timestamp,
        ops: &[WriteOp],
    ) -> Result<Vec<Outcome>, BatchFailure> {
        // A connection whose attempt is cut off (the writer's deadline) may
        // hang on a frozen or half-open server, or still be inside the
        // transaction: the guard closes it then instead of handing it back
        // to the pool.
        let mut conn = CutOffGuard::new(self.db.acquire().await.map_err(BatchFailure::outside)?);
        let mut tx = conn
            .connection()
            .begin_write()
            .await
            .map_err(BatchFailure::outside)?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut i = 0;
        while i < ops.len() {
            // The inbox pump marks a page of rows delivered at once: their
            // marks sit side by side in the batch, and one UPDATE serves
            // them all when it changes every row (the common case); else
            // each mark is written alone, for its own outcome.
            let run = delivered_run(&ops[i..]);
            if run > 1 {
                let together = delivered_together(&mut tx, &ops[i..i + run], now)
                    .await
                    .map_err(BatchFailure::at(i))?;
                if together {
                    outcomes.extend(std::iter::repeat_n(Outcome::Done, run));
                    i += run;
                    continue;
                }
            }
            for (j, op) in ops.iter().enumerate().skip(i).take(run.max(1)) {
                let outcome = apply(&mut tx, op, now, self.dedup_window)
                    .await
                    .map_err(BatchFailure::at(j))?;
                outcomes.push(outcome);
            }
            i += run.max(1);
        }
        let json = serde_json::to_string(&outcomes)
            .map_err(|e| BatchFailure::outside(sqlx::Error::Encode(e.into())))?;
        tx.query("INSERT INTO goippy_write_batches (id, created_unix, outcomes) VALUES (?, ?, ?)")
            .bind(batch_id)
            .bind(now.unix())
            .bind(&json)
            .execute()
            .await
            .map_err(BatchFailure::outside)?;
        tx.commit().await.map_err(BatchFailure::outside)?;
        conn.finished();
        Ok(outcomes)
    }

    /// What the writes of batch `batch_id` returned, if it committed.
    async fn batch_outcomes(&self, batch_id: i64) -> Result<Option<Vec<Outcome>>, sqlx::Error> {
        // The batch may be a COMMIT still running on a connection the
        // writer gave up on: read its marker inside a write transaction,
        // with a locking read, so the answer waits for that COMMIT to end
        // instead of missing it (SQLite's BEGIN IMMEDIATE takes the one
        // write lock; InnoDB's share lock waits for the row's writer). A
        // plain read would say "not committed" of a batch that was.
        //
        // Its callers cut it off with a timeout. A connection whose BEGIN
        // was cut off may still be inside the transaction on the server
        // (sqlx-mysql counts it only once it read the reply), so this one
        // is closed when dropped, never handed back to the pool; the server
        // then rolls it back.
        let mut conn = self.db.acquire().await?;
        conn.close_on_drop();
        let mut tx = conn.begin_write().await?;
        let json: Option<String> = tx
            .query(BATCH_MARKER)
            .bind(batch_id)
            .scalar_optional()
            .await?;
        tx.rollback().await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| sqlx::Error::Decode(e.into())))
            .transpose()
    }
}

/// A batch's marker, read so that it waits for a writer still committing
/// it: InnoDB's consistent read does not wait, its share lock does; on
/// SQLite the transaction's BEGIN IMMEDIATE already waited for the lock.
const BATCH_MARKER: Sql = Sql {
    sqlite: "SELECT outcomes FROM goippy_write_batches WHERE id = ?",
    mysql: "SELECT outcomes FROM goippy_write_batches WHERE id = ? LOCK IN SHARE MODE",
};

/// One write inside the batch transaction. `dedup_window`: see
/// `store/received.rs`.
async fn apply(
    tx: &mut Tx<'_>,
    op: &WriteOp,
    now: Timestamp,
    dedup_window: Duration,
) -> Result<Outcome, sqlx::Error> {
    match op {
        WriteOp::State(state) => {
            save_state(tx, state).await?;
            Ok(Outcome::Done)
        }
        WriteOp::Call {
            call,
            notice,
            also_told,
        } => received::call(tx, call, notice.iter().chain(also_told), now, dedup_window).await,
        WriteOp::Inbound {
            record,
            body_hash,
            outbound,
        } => received::inbound(tx, record, *body_hash, *outbound, now, dedup_window).await,
        WriteOp::Outbound { record, options } => {
            let id = enqueue(tx, record, options, now).await?;
            Ok(Outcome::Enqueued { id })
        }
        WriteOp::Transition { id, change, notice } => {
            transition(tx, *id, change, notice.as_ref(), now).await
        }
        WriteOp::Delivered(id) => delivered(tx, op, *id, now).await,
        WriteOp::Notice(notice) => {
            let id = insert_notice(tx, notice, now).await?;
            Ok(Outcome::Stored { id, new: true })
        }
        WriteOp::Alert { state, notices } => {
            super::alerts::save(tx, state).await?;
            for notice in notices {
                insert_notice(tx, notice, now).await?;
            }
            Ok(Outcome::Done)
        }
        WriteOp::Counter { name, value } => {
            tx.query(RAISE_COUNTER)
                .bind(name.as_str())
                .bind(*value)
                .bind(now.unix())
                .execute()
                .await?;
            Ok(Outcome::Done)
        }
        WriteOp::Barrier => Ok(Outcome::Done),
    }
}

/// A keepalive: the channel's `goippy_state` row, and its gateway's
/// `msisdn` when the keepalive names the SIM's number.
async fn save_state(tx: &mut Tx<'_>, s: &StateUpdate) -> Result<(), sqlx::Error> {
    tx.query(UPSERT_STATE)
        .bind(&s.goip_id)
        .bind(&s.goip_id)
        .bind(&s.msisdn)
        .bind(s.gsm_signal.map(i64::from))
        .bind(&s.gsm_status)
        .bind(&s.voip_status)
        .bind(&s.voip_state)
        .bind(s.remain_time)
        .bind(&s.provider)
        .bind(s.disable_status.map(i64::from))
        .bind(&s.imei)
        .bind(&s.imsi)
        .bind(&s.iccid)
        .bind(&s.cell_info)
        .bind(&s.sms_login)
        .bind(s.source.map(|a| a.to_string()).as_deref())
        .bind(s.seen_at.unix())
        .execute()
        .await?;
    if let Some(msisdn) = &s.msisdn {
        tx.query(
            "UPDATE goippy_gateways SET msisdn = ? \
             WHERE goip_id = ? AND (msisdn IS NULL OR msisdn <> ?)",
        )
        .bind(msisdn)
        .bind(&s.goip_id)
        .bind(msisdn)
        .execute()
        .await?;
    }
    Ok(())
}

/// A user's SMS or USSD request as a `queued` outbox row; returns its id.
async fn enqueue(
    tx: &mut Tx<'_>,
    r: &OutboundRecord,
    options: &OutboundOptions,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    Ok(tx
        .query(INSERT_OUTBOUND)
        .bind(&r.destination)
        .bind(&r.xmpp_from)
        .bind(&r.body)
        .bind(now.unix())
        .bind(r.kind.log_kind().as_str())
        .bind(&r.goip_id)
        .bind(&r.ext)
        .bind(&r.xmpp_id)
        .bind(options.receipt_requested)
        .bind(&options.xmpp_to)
        .bind(now.unix())
        .execute()
        .await?
        .inserted_id)
}

/// An outbox state change, made only from the states it may come from (see
/// [`super::OutboxState`]): `queued → sending` is refused for a job that is
/// no longer queued, which is what keeps an SMS from going out twice. The
/// notice is stored only when the change is made.
async fn transition(
    tx: &mut Tx<'_>,
    id: LogId,
    change: &Transition,
    notice: Option<&NoticeRecord>,
    now: Timestamp,
) -> Result<Outcome, sqlx::Error> {
    let query = match change {
        Transition::Sending { sendid } => tx
            .query(
                "UPDATE goippy_log SET status = 'sending', sendid = ?, updated_unix = ? \
                 WHERE id = ? AND dir = 'out' AND status = 'queued'",
            )
            .bind(*sendid),
        Transition::Sent { sms_no, telid } => tx
            .query(
                "UPDATE goippy_log SET status = 'sent', sms_no = ?, telid = ?, sent_unix = ?, \
                 updated_unix = ? WHERE id = ? AND dir = 'out' AND status IN ('sending', 'unknown')",
            )
            .bind(*sms_no)
            .bind(*telid)
            .bind(now.unix()),
        Transition::Failed {
            reason,
            errorstatus,
        } => tx
            .query(
                "UPDATE goippy_log SET status = 'failed', detail = ?, error_code = ?, \
                 updated_unix = ? WHERE id = ? AND dir = 'out' \
                 AND status IN ('queued', 'sending', 'unknown')",
            )
            .bind(reason.as_str())
            .bind(*errorstatus),
        Transition::Unknown { reason } => tx
            .query(
                "UPDATE goippy_log SET status = 'unknown', detail = ?, updated_unix = ? \
                 WHERE id = ? AND dir = 'out' AND status = 'sending'",
            )
            .bind(reason.as_str()),
        // Only a job that is not in flight: its runner moves it after the
        // GoIP refused it, and the new line's runner can take it only once
        // this is committed (`sending` needs `queued`).
        Transition::Moved { goip_id, tried } => tx
            .query(
                "UPDATE goippy_log SET status = 'queued', goip_id = ?, detail = ?, sendid = NULL, \
                 updated_unix = ? WHERE id = ? AND dir = 'out' AND status IN ('queued', 'sending')",
            )
            .bind(goip_id.as_str())
            .bind(tried.as_str()),
    };
    let changed = query
        .bind(now.unix())
        .bind(id.0)
        .execute()
        .await?
        .rows_affected;
    if changed > 0 {
        if let Some(notice) = notice {
            insert_notice(tx, notice, now).await?;
        }
        return Ok(Outcome::Done);
    }
    let from: Option<Option<String>> = tx
        .query("SELECT status FROM goippy_log WHERE id = ? AND dir = 'out'")
        .bind(id.0)
        .scalar_optional()
        .await?;
    Ok(Outcome::TransitionRefused {
        id: id.0,
        from: from.map(|s| s.unwrap_or_default()),
    })
}

/// Takes an inbox row out of the inbox; marking it again is harmless.
/// At most this many delivered marks go into one UPDATE (well under both
/// databases' limits on bound values).
const DELIVERED_TOGETHER: usize = 256;

/// How many writes at the start of `ops` are delivered marks (at most
/// [`DELIVERED_TOGETHER`]).
fn delivered_run(ops: &[WriteOp]) -> usize {
    ops.iter()
        .take(DELIVERED_TOGETHER)
        .take_while(|op| matches!(op, WriteOp::Delivered(_)))
        .count()
}

/// Marks the rows of `marks` (all [`WriteOp::Delivered`]) delivered in one
/// statement; true when it changed every one of them, which is all their
/// outcomes need to be `Done`. When it did not (a row already delivered,
/// or gone, or named twice), the rows it changed are delivered anyway and
/// the caller writes each mark alone, which then finds what it needs.
async fn delivered_together(
    tx: &mut Tx<'_>,
    marks: &[WriteOp],
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let mut query = tx
        .query(
            "UPDATE goippy_log SET status = ?, updated_unix = ? \
             WHERE dir = 'in' AND status = ? AND id IN (?",
        )
        .bind(STATUS_DELIVERED)
        .bind(now.unix())
        .bind(STATUS_INBOX);
    for (n, op) in marks.iter().enumerate() {
        if let WriteOp::Delivered(id) = op {
            if n > 0 {
                query = query.then(", ?");
            }
            query = query.bind(id.0);
        }
    }
    let changed = query.then(")").execute().await?.rows_affected;
    Ok(changed == marks.len() as u64)
}

/// One delivered mark ([`WriteOp::Delivered`] `id`).
async fn delivered(
    tx: &mut Tx<'_>,
    op: &WriteOp,
    id: LogId,
    now: Timestamp,
) -> Result<Outcome, sqlx::Error> {
    if delivered_together(tx, std::slice::from_ref(op), now).await? {
        return Ok(Outcome::Done);
    }
    let exists: Option<i64> = tx
        .query("SELECT id FROM goippy_log WHERE id = ? AND dir = 'in'")
        .bind(id.0)
        .scalar_optional()
        .await?;
    Ok(match exists {
        Some(_) => Outcome::Done,
        None => Outcome::NoSuchInbound { id: id.0 },
    })
}

/// Stores a notice as an inbox row (see `migrations/*/0003_bridge_notices.sql`).
pub(super) async fn insert_notice(
    tx: &mut Tx<'_>,
    n: &NoticeRecord,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    Ok(tx
        .query(INSERT_NOTICE)
        .bind(&n.from)
        .bind(&n.to)
        .bind(&n.text)
        .bind(STATUS_INBOX)
        .bind(now.unix())
        .bind(&n.goip_id)
        .bind(&n.goip_id)
        .bind(&n.about)
        .bind(n.outbound.map(|o| o.0))
        .bind(n.code)
        .bind(&n.what)
        .bind(now.unix())
        .execute()
        .await?
        .inserted_id)
}

// ----- the statements whose text differs between the dialects -------------
//
// `created_at`/`updated_at` are the original's own columns (SQLite TEXT,
// MySQL TIMESTAMP), written from goippy's clock: see `store/time.rs`.

const UPSERT_STATE: Sql = Sql {
    sqlite: "INSERT INTO goippy_state (goip_id, ext, msisdn, gsm_signal, gsm_status, voip_status, \
             voip_state, remain_time, provider, disable_status, imei, imsi, iccid, cell_info, \
             sms_login, source_addr, updated_at) \
             VALUES (?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, \
             ?, ?, ?, ?, ?, ?, datetime(?, 'unixepoch')) \
             ON CONFLICT (goip_id) DO UPDATE SET ext = excluded.ext, msisdn = excluded.msisdn, \
             gsm_signal = excluded.gsm_signal, gsm_status = excluded.gsm_status, \
             voip_status = excluded.voip_status, voip_state = excluded.voip_state, \
             remain_time = excluded.remain_time, provider = excluded.provider, \
             disable_status = excluded.disable_status, imei = excluded.imei, imsi = excluded.imsi, \
             iccid = excluded.iccid, cell_info = excluded.cell_info, sms_login = excluded.sms_login, \
             source_addr = excluded.source_addr, updated_at = excluded.updated_at",
    // MySQL goes by whichever unique key clashes; `goip_id` is the only one
    // this table has besides `id`.
    mysql: "INSERT INTO goippy_state (goip_id, ext, msisdn, gsm_signal, gsm_status, voip_status, \
            voip_state, remain_time, provider, disable_status, imei, imsi, iccid, cell_info, \
            sms_login, source_addr, updated_at) \
            VALUES (?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, \
            ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(?)) \
            ON DUPLICATE KEY UPDATE ext = VALUES(ext), msisdn = VALUES(msisdn), \
            gsm_signal = VALUES(gsm_signal), gsm_status = VALUES(gsm_status), \
            voip_status = VALUES(voip_status), voip_state = VALUES(voip_state), \
            remain_time = VALUES(remain_time), provider = VALUES(provider), \
            disable_status = VALUES(disable_status), imei = VALUES(imei), imsi = VALUES(imsi), \
            iccid = VALUES(iccid), cell_info = VALUES(cell_info), sms_login = VALUES(sms_login), \
            source_addr = VALUES(source_addr), updated_at = VALUES(updated_at)",
};

const INSERT_OUTBOUND: Sql = Sql {
    sqlite: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, \
             goip_id, ext, xmpp_id, receipt_req, xmpp_to, updated_unix) \
             VALUES ('out', ?, ?, ?, 'queued', datetime(?, 'unixepoch'), ?, ?, ?, ?, ?, ?, ?)",
    mysql: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, \
            goip_id, ext, xmpp_id, receipt_req, xmpp_to, updated_unix) \
            VALUES ('out', ?, ?, ?, 'queued', FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?, ?)",
};

const INSERT_NOTICE: Sql = Sql {
    sqlite: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, \
             ext, xmpp_id, ref_id, error_code, notice, updated_unix) \
             VALUES ('in', ?, ?, ?, ?, datetime(?, 'unixepoch'), 'notice', ?, \
             (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?)",
    mysql: "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, \
            ext, xmpp_id, ref_id, error_code, notice, updated_unix) \
            VALUES ('in', ?, ?, ?, ?, FROM_UNIXTIME(?), 'notice', ?, \
            (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?)",
};

/// A `goippy_counters` row only goes up.
const RAISE_COUNTER: Sql = Sql {
    sqlite: "INSERT INTO goippy_counters (name, value, updated_unix) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value), \
             updated_unix = excluded.updated_unix",
    mysql: "INSERT INTO goippy_counters (name, value, updated_unix) VALUES (?, ?, ?) \
            ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value)), \
            updated_unix = VALUES(updated_unix)",
};
