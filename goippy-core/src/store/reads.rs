//! What the store reads back: the inbox, the outbox, the log, calls and
//! channel state. Reads go straight to the pool, not through the writer;
//! [`super::Store`] bounds each by `DB_TIMEOUT`.
//!
//! Each SELECT aliases its columns to the names of a row type in
//! `store/rows.rs` (or of a record that decodes itself) and converts the original's column types (TIMESTAMP,
//! TINYINT(1); SQLite's free typing) into the integers and text both
//! drivers decode alike: that conversion is all that differs per dialect.

use std::time::Duration;

use super::db::Sql;
use super::error::StoreError;
use super::records::{Backlog, CallEntry, ChannelState, InboxItem, LogId, OutboxItem};
use super::rows::InboxRow;
use super::{Store, timed};

impl Store {
    /// Inbound rows not yet written to XMPP, oldest first: those after
    /// `after` (all when `None`), for a reader that skips rows it cannot
    /// deliver yet without stalling behind them.
    pub async fn undelivered_inbox(
        &self,
        after: Option<LogId>,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StoreError> {
        // Rows whose delivered mark is still on its way (queued, or kept by
        // the spool while the database takes no writes) were delivered:
        // they are skipped, or they would be sent again on every round.
        let mut after = after.map_or(0, |id| id.0);
        loop {
            // Taken before the read: a mark that commits while the read
            // runs may not be in what the read sees, and is no longer
            // pending once it returns.
            let marking = self.inner.writer.marking();
            let read = self
                .inner
                .db
                .query(INBOX)
                .bind(after)
                .bind(i64::from(limit));
            let page: Vec<InboxRow> = self.run("reading the inbox", read.fetch_all()).await?;
            let full = page.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
            let Some(last) = page.last() else {
                return Ok(Vec::new());
            };
            after = last.item.id.0;
            let rows: Vec<InboxItem> = page
                .into_iter()
                .map(InboxItem::from)
                .filter(|row| {
                    !marking.contains(&row.id.0) && !self.inner.writer.is_marking(row.id.0)
                })
                .collect();
            if !rows.is_empty() || !full {
                return Ok(rows);
            }
        }
    }

    /// Unfinished outbound jobs, oldest first, for restart recovery: `queued`
    /// ones can be sent; `sending` ones were interrupted and must be ended
    /// with [`Store::mark_unknown`].
    pub async fn pending_outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let read = self
            .inner
            .db
            .query(OUTBOX)
            .then(" WHERE dir = 'out' AND status IN ('queued', 'sending') ORDER BY id")
            .fetch_all();
        self.run("reading the outbox", read).await
    }

    /// One outbound job.
    pub async fn outbound(&self, id: LogId) -> Result<Option<OutboxItem>, StoreError> {
        // Not the original goippy's own outbound rows: their status is none of ours.
        let read = self
            .inner
            .db
            .query(OUTBOX)
            .then(
                " WHERE id = ? AND dir = 'out' \
                 AND status IN ('queued', 'sending', 'sent', 'failed', 'unknown')",
            )
            .bind(id.0)
            .fetch_optional();
        self.read("reading the outbox", async {
            read.await
                .map_err(StoreError::db("reading an outbound message"))
        })
        .await
    }

    /// The `queued` jobs of one channel, oldest first: the channel's queue.
    pub async fn queued_outbound(
        &self,
        goip_id: &str,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let read = self
            .inner
            .db
            .query(OUTBOX)
            .then(" WHERE dir = 'out' AND status = 'queued' AND goip_id = ? ORDER BY id LIMIT ?")
            .bind(goip_id)
            .bind(i64::from(limit))
            .fetch_all();
        self.read("reading the outbox", async {
            read.await
                .map_err(StoreError::db("reading a channel's outbox"))
        })
        .await
    }

    /// The newest call events of a channel, newest first.
    pub async fn recent_calls(
        &self,
        goip_id: &str,
        limit: u32,
    ) -> Result<Vec<CallEntry>, StoreError> {
        let read = self
            .inner
            .db
            .query(CALLS)
            .then("WHERE goip_id = ? ORDER BY id DESC LIMIT ?")
            .bind(goip_id)
            .bind(i64::from(limit))
            .fetch_all();
        self.run("reading the call log", read).await
    }

    /// The last stored keepalive of a channel.
    pub async fn channel_state(&self, goip_id: &str) -> Result<Option<ChannelState>, StoreError> {
        let read = self
            .inner
            .db
            .query(CHANNEL_STATE)
            .bind(goip_id)
            .fetch_optional();
        self.read("reading a channel's state", async {
            read.await
                .map_err(StoreError::db("reading the channel state"))
        })
        .await
    }

    /// How many rows wait in the outbox and the inbox, within `within`
    /// (and the store's own timeout): a scrape must not wait for a
    /// database that does not answer. An error says why. (The status index
    /// makes this a count of index entries, not a table scan.)
    pub async fn backlog(&self, within: Duration) -> Result<Backlog, StoreError> {
        let count = self
            .inner
            .db
            .query(
                "SELECT status, COUNT(*) FROM goippy_log \
                 WHERE status IN ('queued', 'sending', 'inbox') GROUP BY status",
            )
            .fetch_all::<(String, i64)>();
        let counted = self.run("counting the backlog", count);
        let rows = timed(within, "counting the backlog", counted).await?;
        let mut backlog = Backlog::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "queued" => backlog.outbox_queued = n,
                "sending" => backlog.outbox_sending = n,
                "inbox" => backlog.inbox = n,
                _ => {}
            }
        }
        Ok(backlog)
    }
}

// ----- the statements whose text differs between the dialects -------------
//
// An integer column of whatever declared type (the original's TINYINT(1)
// and INT, SQLite's free typing) is read as the 64-bit integer both drivers
// decode alike: `CAST(… AS INTEGER)` / `CAST(… AS SIGNED)`, or in a
// statement with nothing else to tell the dialects apart `CAST(… AS SIGNED
// INTEGER)`, which both read so. A timestamp
// column of the original (SQLite TEXT, MySQL TIMESTAMP) is read as Unix
// seconds: `unixepoch(…)` / `UNIX_TIMESTAMP(…)` (see `store/time.rs`).

/// Inbox rows, as [`InboxRow`]: a delivery report with the outbound SMS it
/// is about (a row without a valid time as received at 0, Unix time).
const INBOX: Sql = Sql {
    sqlite: "SELECT l.id AS id, COALESCE(l.kind, 'sms') AS kind, COALESCE(l.goip_id, '') AS goip_id, \
             l.ext AS ext, l.xmpp_jid AS xmpp_jid, l.msisdn AS peer, COALESCE(l.body, '') AS body, \
             l.recvid AS recvid, COALESCE(unixepoch(l.created_at), 0) AS created_unix, \
             l.sms_no AS sms_no, l.dlr_state AS dlr_state, o.id AS out_id, \
             o.xmpp_jid AS out_xmpp_from, o.xmpp_id AS out_xmpp_id, o.msisdn AS out_destination, \
             CAST(o.receipt_req AS INTEGER) AS out_receipt_req, o.xmpp_to AS out_xmpp_to, \
             l.notice AS notice, l.xmpp_id AS xmpp_id, l.error_code AS error_code, l.ref_id AS ref_id \
             FROM goippy_log l LEFT JOIN goippy_log o ON o.id = l.ref_id AND o.dir = 'out' \
             WHERE l.status = 'inbox' AND l.dir = 'in' AND l.id > ? ORDER BY l.id LIMIT ?",
    mysql: "SELECT l.id AS id, COALESCE(l.kind, 'sms') AS kind, COALESCE(l.goip_id, '') AS goip_id, \
            l.ext AS ext, l.xmpp_jid AS xmpp_jid, l.msisdn AS peer, COALESCE(l.body, '') AS body, \
            l.recvid AS recvid, \
            COALESCE(CAST(UNIX_TIMESTAMP(l.created_at) AS SIGNED), 0) AS created_unix, \
            l.sms_no AS sms_no, l.dlr_state AS dlr_state, o.id AS out_id, \
            o.xmpp_jid AS out_xmpp_from, o.xmpp_id AS out_xmpp_id, o.msisdn AS out_destination, \
            CAST(o.receipt_req AS SIGNED) AS out_receipt_req, o.xmpp_to AS out_xmpp_to, \
            l.notice AS notice, l.xmpp_id AS xmpp_id, l.error_code AS error_code, l.ref_id AS ref_id \
            FROM goippy_log l LEFT JOIN goippy_log o ON o.id = l.ref_id AND o.dir = 'out' \
            WHERE l.status = 'inbox' AND l.dir = 'in' AND l.id > ? ORDER BY l.id LIMIT ?",
};

/// Outbound jobs, as [`OutboxItem`]; the WHERE clause follows.
const OUTBOX: Sql = Sql {
    sqlite: "SELECT id, COALESCE(ext, '') AS ext, COALESCE(goip_id, '') AS goip_id, \
             COALESCE(xmpp_jid, '') AS xmpp_from, xmpp_id, COALESCE(msisdn, '') AS destination, \
             COALESCE(body, '') AS body, COALESCE(kind, 'sms') AS kind, \
             COALESCE(status, '') AS status, sendid, telid, sms_no, detail, dlr_state, \
             COALESCE(unixepoch(created_at), 0) AS created_unix, sent_unix, \
             CAST(COALESCE(receipt_req, 0) AS INTEGER) AS receipt_req, xmpp_to \
             FROM goippy_log",
    mysql: "SELECT id, COALESCE(ext, '') AS ext, COALESCE(goip_id, '') AS goip_id, \
            COALESCE(xmpp_jid, '') AS xmpp_from, xmpp_id, COALESCE(msisdn, '') AS destination, \
            COALESCE(body, '') AS body, COALESCE(kind, 'sms') AS kind, \
            COALESCE(status, '') AS status, sendid, telid, sms_no, detail, dlr_state, \
            COALESCE(CAST(UNIX_TIMESTAMP(created_at) AS SIGNED), 0) AS created_unix, sent_unix, \
            CAST(COALESCE(receipt_req, 0) AS SIGNED) AS receipt_req, xmpp_to \
            FROM goippy_log",
};

/// Call events, as [`CallEntry`] (an empty cause is none; not NULLIF, which
/// on MySQL takes blanks for empty); the WHERE clause follows.
const CALLS: &str = "SELECT id, CAST(ts AS SIGNED INTEGER) AS ts, goip_id, ext, event, \
                     CAST(direction AS SIGNED INTEGER) AS direction, remote_num, \
                     CASE WHEN LENGTH(cause) > 0 THEN cause END AS cause, \
                     CAST(duration AS SIGNED INTEGER) AS duration, msisdn FROM goippy_calls ";

const CHANNEL_STATE: Sql = Sql {
    sqlite: "SELECT goip_id, ext, msisdn, CAST(gsm_signal AS INTEGER) AS gsm_signal, gsm_status, \
             voip_status, voip_state, CAST(remain_time AS INTEGER) AS remain_time, provider, \
             CAST(disable_status AS INTEGER) AS disable_status, imei, imsi, iccid, cell_info, \
             sms_login, source_addr, unixepoch(updated_at) AS updated_unix \
             FROM goippy_state WHERE goip_id = ?",
    mysql: "SELECT goip_id, ext, msisdn, CAST(gsm_signal AS SIGNED) AS gsm_signal, gsm_status, \
            voip_status, voip_state, CAST(remain_time AS SIGNED) AS remain_time, provider, \
            CAST(disable_status AS SIGNED) AS disable_status, imei, imsi, iccid, cell_info, \
            sms_login, source_addr, CAST(UNIX_TIMESTAMP(updated_at) AS SIGNED) AS updated_unix \
            FROM goippy_state WHERE goip_id = ?",
};
