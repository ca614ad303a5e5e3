//! The queries both backends run, written once.
//!
//! SQLite and MySQL/MariaDB sit behind two concrete sqlx pools (see
//! `store/backend.rs` for why not `AnyPool`), and a generic `DB: Database`
//! implementation would carry sqlx's trait bounds through every query. Yet
//! almost everything the store does is the same Rust around SQL that differs
//! only in fragments. So the shared code is a macro that `store/sqlite.rs`
//! and `store/mysql.rs` each expand once for their own pool and connection
//! types; where the SQL differs it asks `sql!(<dialect>, …)`
//! (`store/dialect.rs`, where both dialects stand side by side). Every query
//! stays a `&'static str` built by `concat!` at compile time, as sqlx 0.9's
//! `query()` wants. What is truly one backend's own — connecting, the write
//! transaction's `BEGIN`, adopting an original database — stays in its file.

use sqlx::mysql::MySqlQueryResult;
use sqlx::sqlite::SqliteQueryResult;

/// Rows per DELETE in the cleanup, to keep each write lock (SQLite) or
/// transaction (MySQL) short.
pub(super) const CLEANUP_CHUNK: i64 = 2000;

/// The id of the row an INSERT created.
pub(super) trait InsertedId {
    fn inserted_id(&self) -> i64;
}

impl InsertedId for SqliteQueryResult {
    fn inserted_id(&self) -> i64 {
        self.last_insert_rowid()
    }
}

impl InsertedId for MySqlQueryResult {
    fn inserted_id(&self) -> i64 {
        self.last_insert_id() as i64
    }
}

pub(super) fn concat_where(select: &str, rest: &str) -> String {
    format!("{select}{rest}")
}

/// A pooled connection that is closed, not handed back to the pool, when
/// the future using it is dropped before [`CutOffGuard::finished`]: a
/// statement cut off by a timeout leaves the connection in an unknown state
/// (inside a transaction, a reply unread, a server that stopped answering).
pub(crate) struct CutOffGuard<DB: sqlx::Database> {
    conn: sqlx::pool::PoolConnection<DB>,
    finished: bool,
}

impl<DB: sqlx::Database> CutOffGuard<DB> {
    pub(crate) fn new(conn: sqlx::pool::PoolConnection<DB>) -> Self {
        CutOffGuard {
            conn,
            finished: false,
        }
    }

    pub(crate) fn connection(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// The work ran to its end: the connection may go back to the pool.
    pub(crate) fn finished(&mut self) {
        self.finished = true;
    }
}

impl<DB: sqlx::Database> Drop for CutOffGuard<DB> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// The shared queries as methods of `super::$backend` (a struct with a
/// `pool` field and a `begin_write()` that starts a write transaction), plus
/// the writer's `apply` for `$connection`. Expand it in a module of its own
/// inside the backend's file: it brings its own imports.
macro_rules! shared_queries {
    (
        dialect: $d:ident,
        backend: $backend:ident,
        connection: $connection:ty,
        migrations: $migrations:literal $(,)?
    ) => {
        use std::time::Duration;

        use sqlx::{AssertSqlSafe, Row};

        use $crate::store::backend::GatewayKey;
        use $crate::store::dialect::sql;
        use $crate::store::error::StoreError;
        use $crate::store::legacy;
        use $crate::store::queries::{CLEANUP_CHUNK, CutOffGuard, InsertedId, concat_where};
        use $crate::store::records::{
            CallEntry, CallEvent, CallFilter, CallRecord, ChannelState, CleanupReport, Gateway, GatewayChange,
            InboxItem, LogId, NoticeRecord, OutboxItem, STATUS_DELIVERED, STATUS_INBOX,
        };
        use $crate::store::rows::{CallRow, GatewayRow, InboxRow, LogEntry, OutboxRow};
        use $crate::store::time::Timestamp;
        use $crate::store::validate::ValidGateway;
        use $crate::store::writer::{BatchFailure, Outcome, Transition, WriteOp};

        impl super::$backend {
            pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
                legacy::adopt(self).await?;
                let mut migrator = sqlx::migrate!($migrations);
                migrator.dangerous_set_table_name($crate::store::MIGRATIONS_TABLE);
                migrator
                    .run(&self.pool)
                    .await
                    .map_err(StoreError::from_migration)
            }

            // ----- the writer's batches --------------------------------------

            pub(crate) async fn apply_batch(
                &self,
                batch_id: i64,
                now: Timestamp,
                ops: &[WriteOp],
            ) -> Result<Vec<Outcome>, BatchFailure> {
                // A connection whose attempt is cut off (the writer's
                // deadline) may hang on a frozen or half-open server, or
                // still be inside the transaction: the guard closes it then
                // instead of handing it back to the pool.
                let mut conn = CutOffGuard::new(self.pool.acquire().await.map_err(BatchFailure::outside)?);
                let mut tx = sqlx::Connection::begin_with(conn.connection(), sql!($d, begin_write))
                    .await
                    .map_err(BatchFailure::outside)?;
                let mut outcomes = Vec::with_capacity(ops.len());
                for (i, op) in ops.iter().enumerate() {
                    let outcome = apply(&mut tx, op, now, self.dedup_window)
                        .await
                        .map_err(BatchFailure::at(i))?;
                    outcomes.push(outcome);
                }
                let json = serde_json::to_string(&outcomes)
                    .map_err(|e| BatchFailure::outside(sqlx::Error::Encode(e.into())))?;
                sqlx::query(
                    "INSERT INTO goippy_write_batches (id, created_unix, outcomes) VALUES (?, ?, ?)",
                )
                .bind(batch_id)
                .bind(now.unix())
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(BatchFailure::outside)?;
                tx.commit().await.map_err(BatchFailure::outside)?;
                conn.finished();
                Ok(outcomes)
            }

            pub(crate) async fn batch_outcomes(
                &self,
                batch_id: i64,
            ) -> Result<Option<Vec<Outcome>>, sqlx::Error> {
                // The batch may be a COMMIT still running on a connection
                // the writer gave up on: read its marker inside a write
                // transaction, with a locking read, so the answer waits for
                // that COMMIT to end instead of missing it (SQLite's BEGIN
                // IMMEDIATE takes the one write lock; InnoDB's share lock
                // waits for the row's writer). A plain read would say "not
                // committed" of a batch that was.
                //
                // Its callers cut it off with a timeout. A connection whose
                // BEGIN was cut off may still be inside the transaction on
                // the server (sqlx-mysql counts it only once it read the
                // reply), so this one is closed when dropped, never handed
                // back to the pool; the server then rolls it back.
                let mut conn = self.pool.acquire().await?;
                conn.close_on_drop();
                let mut tx = sqlx::Connection::begin_with(&mut *conn, sql!($d, begin_write)).await?;
                let json: Option<String> = sqlx::query_scalar(concat!(
                    "SELECT outcomes FROM goippy_write_batches WHERE id = ?",
                    sql!($d, locking_read)
                ))
                .bind(batch_id)
                .fetch_optional(&mut *tx)
                .await?;
                tx.rollback().await?;
                json.map(|j| serde_json::from_str(&j).map_err(|e| sqlx::Error::Decode(e.into())))
                    .transpose()
            }

            // ----- gateways --------------------------------------------------

            pub(crate) async fn add_or_update_gateway(
                &self,
                gw: &ValidGateway,
                now: Timestamp,
            ) -> Result<GatewayChange, StoreError> {
                let db = StoreError::db("saving the gateway");
                let mut tx = self.begin_write().await.map_err(db)?;
                let other: Option<String> = sqlx::query_scalar(
                    "SELECT ext FROM goippy_gateways WHERE goip_id = ? AND (ext IS NULL OR ext <> ?)",
                )
                .bind(&gw.goip_id)
                .bind(&gw.ext)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db("saving the gateway"))?;
                if let Some(other_ext) = other {
                    return Err(StoreError::GoipIdInUse {
                        goip_id: gw.goip_id.clone(),
                        other_ext,
                    });
                }
                let updated = sqlx::query(
                    "UPDATE goippy_gateways SET goip_id = ?, goip_pass = ?, channel = ?, allow_regex = ?, \
                     enabled = 1 WHERE ext = ?",
                )
                .bind(&gw.goip_id)
                .bind(&gw.password)
                .bind(gw.channel)
                .bind(&gw.allow_regex)
                .bind(&gw.ext)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("saving the gateway"))?
                .rows_affected();
                let change = if updated > 0 {
                    GatewayChange::Updated
                } else {
                    sqlx::query(concat!(
                        "INSERT INTO goippy_gateways ",
                        "(ext, goip_id, goip_pass, channel, allow_regex, enabled, created_at) ",
                        "VALUES (?, ?, ?, ?, ?, 1, ", sql!($d, from_unix), ")"
                    ))
                    .bind(&gw.ext)
                    .bind(&gw.goip_id)
                    .bind(&gw.password)
                    .bind(gw.channel)
                    .bind(&gw.allow_regex)
                    .bind(now.unix())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("saving the gateway"))?;
                    GatewayChange::Created
                };
                tx.commit()
                    .await
                    .map_err(StoreError::db("saving the gateway"))?;
                Ok(change)
            }

            pub(crate) async fn remove_gateway(&self, ext: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM goippy_gateways WHERE ext = ?")
                    .bind(ext)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("removing the gateway"))?
                    .rows_affected();
                Ok(n > 0)
            }

            pub(crate) async fn set_gateway_enabled(
                &self,
                ext: &str,
                enabled: bool,
            ) -> Result<bool, StoreError> {
                let n = sqlx::query("UPDATE goippy_gateways SET enabled = ? WHERE ext = ?")
                    .bind(i64::from(enabled))
                    .bind(ext)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("changing the gateway"))?
                    .rows_affected();
                Ok(n > 0)
            }

            pub(crate) async fn list_gateways(&self) -> Result<Vec<Gateway>, StoreError> {
                let sql = concat_where(GATEWAY_SELECT, "ORDER BY g.ext");
                let rows: Vec<GatewayRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("listing the gateways"))?;
                Ok(rows.into_iter().map(Gateway::from).collect())
            }

            pub(crate) async fn gateway(
                &self,
                key: GatewayKey<'_>,
            ) -> Result<Option<Gateway>, StoreError> {
                let (sql, value) = match key {
                    GatewayKey::Ext(v) => {
                        (concat_where(GATEWAY_SELECT, "WHERE g.ext = ? LIMIT 1"), v)
                    }
                    GatewayKey::GoipId(v) => (
                        concat_where(GATEWAY_SELECT, "WHERE g.goip_id = ? LIMIT 1"),
                        v,
                    ),
                    GatewayKey::Msisdn(v) => (
                        concat_where(
                            GATEWAY_SELECT,
                            "WHERE g.msisdn = ? ORDER BY g.enabled DESC, g.ext LIMIT 1",
                        ),
                        v,
                    ),
                };
                let row: Option<GatewayRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::db("looking up a gateway"))?;
                Ok(row.map(Gateway::from))
            }

            // ----- inbox and outbox ------------------------------------------

            pub(crate) async fn undelivered_inbox_after(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<InboxItem>, StoreError> {
                let rows: Vec<InboxRow> = sqlx::query_as(concat!(
                    "SELECT l.id AS id, COALESCE(l.kind, 'sms') AS kind, COALESCE(l.goip_id, '') AS goip_id, ",
                    "l.ext AS ext, l.xmpp_jid AS xmpp_jid, l.msisdn AS peer, COALESCE(l.body, '') AS body, ",
                    "l.recvid AS recvid, ",
                    sql!($d, unix "l.created_at"), " AS created_unix, l.sms_no AS sms_no, ",
                    "l.dlr_state AS dlr_state, o.id AS out_id, o.xmpp_jid AS out_xmpp_from, ",
                    "o.xmpp_id AS out_xmpp_id, o.msisdn AS out_destination, ",
                    sql!($d, int "o.receipt_req"), " AS out_receipt_req, o.xmpp_to AS out_xmpp_to, ",
                    "l.notice AS notice, l.xmpp_id AS xmpp_id, l.error_code AS error_code, l.ref_id AS ref_id ",
                    "FROM goippy_log l LEFT JOIN goippy_log o ON o.id = l.ref_id AND o.dir = 'out' ",
                    "WHERE l.status = 'inbox' AND l.dir = 'in' AND l.id > ? ORDER BY l.id LIMIT ?"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading the inbox"))?;
                Ok(rows.into_iter().map(InboxItem::from).collect())
            }

            pub(crate) async fn pending_outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
                let rows: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "{OUTBOX_SELECT} WHERE dir = 'out' AND status IN ('queued', 'sending') ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading the outbox"))?;
                Ok(rows.into_iter().filter_map(OutboxRow::into_item).collect())
            }

            pub(crate) async fn queued_outbound(
                &self,
                goip_id: &str,
                limit: u32,
            ) -> Result<Vec<OutboxItem>, StoreError> {
                let rows: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "{OUTBOX_SELECT} WHERE dir = 'out' AND status = 'queued' AND goip_id = ? ORDER BY id LIMIT ?"
                )))
                .bind(goip_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a channel's outbox"))?;
                Ok(rows.into_iter().filter_map(OutboxRow::into_item).collect())
            }

            pub(crate) async fn sendid_floor(&self) -> Result<i64, StoreError> {
                let saved: Option<i64> =
                    sqlx::query_scalar("SELECT value FROM goippy_counters WHERE name = ?")
                        .bind($crate::store::SENDID_COUNTER)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::db("reading the sendid floor"))?;
                // USSD rows only: an SMS session's sendid is random (up to
                // 31 bits) and must not become the floor of USSD ones.
                let recorded: Option<i64> = sqlx::query_scalar(concat!(
                    "SELECT ", sql!($d, int "MAX(sendid)"),
                    " FROM goippy_log WHERE dir = 'out' AND kind = 'ussd' AND sendid IS NOT NULL"
                ))
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("reading the sendid floor"))?;
                Ok(saved.unwrap_or(0).max(recorded.unwrap_or(0)))
            }

            pub(crate) async fn outbound(
                &self,
                id: LogId,
            ) -> Result<Option<OutboxItem>, StoreError> {
                let row: Option<OutboxRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "{OUTBOX_SELECT} WHERE id = ? AND dir = 'out'"
                )))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading an outbound message"))?;
                Ok(row.and_then(OutboxRow::into_item))
            }

            pub(crate) async fn find_outbound_by_sms_no(
                &self,
                goip_id: &str,
                sms_no: i64,
                since: Timestamp,
            ) -> Result<Vec<OutboxItem>, StoreError> {
                let rows: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "{OUTBOX_SELECT} WHERE dir = 'out' AND goip_id = ? AND sms_no = ? AND sent_unix >= ? \
                     ORDER BY sent_unix DESC, id DESC"
                )))
                .bind(goip_id)
                .bind(sms_no)
                .bind(since.unix())
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("matching a delivery report"))?;
                Ok(rows.into_iter().filter_map(OutboxRow::into_item).collect())
            }

            pub(crate) async fn log_entry(
                &self,
                id: LogId,
            ) -> Result<Option<LogEntry>, StoreError> {
                sqlx::query_as(concat!(
                    "SELECT id, dir, kind, status, goip_id, ext, msisdn, xmpp_jid, xmpp_id, body, ",
                    "recvid, sendid, telid, sms_no, ref_id, error_code, detail, dlr_state, ",
                    sql!($d, unix "created_at"), " AS created_unix, sent_unix, updated_unix ",
                    "FROM goippy_log WHERE id = ?"
                ))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading the log"))
            }

            // ----- calls and state -------------------------------------------

            pub(crate) async fn recent_calls(
                &self,
                filter: CallFilter<'_>,
                limit: u32,
            ) -> Result<Vec<CallEntry>, StoreError> {
                const SELECT: &str = concat!(
                    "SELECT id, ", sql!($d, int "ts"), " AS ts, goip_id, ext, event, ",
                    sql!($d, int "direction"), " AS direction, remote_num, cause, ",
                    sql!($d, int "duration"), " AS duration, msisdn FROM goippy_calls "
                );
                let (sql, value) = match filter {
                    CallFilter::GoipId(v) => (
                        concat_where(SELECT, "WHERE goip_id = ? ORDER BY id DESC LIMIT ?"),
                        v,
                    ),
                    CallFilter::Ext(v) => (
                        concat_where(SELECT, "WHERE ext = ? ORDER BY id DESC LIMIT ?"),
                        v,
                    ),
                };
                let rows: Vec<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(value)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("reading the call log"))?;
                Ok(rows.into_iter().map(CallEntry::from).collect())
            }

            pub(crate) async fn channel_state(
                &self,
                goip_id: &str,
            ) -> Result<Option<ChannelState>, StoreError> {
                sqlx::query_as(concat!(
                    "SELECT goip_id, ext, msisdn, ",
                    sql!($d, int "gsm_signal"), " AS gsm_signal, gsm_status, ",
                    "voip_status, voip_state, ",
                    sql!($d, int "remain_time"), " AS remain_time, provider, ",
                    sql!($d, int "disable_status"), " AS disable_status, imei, imsi, iccid, cell_info, ",
                    "sms_login, source_addr, ", sql!($d, unix "updated_at"), " AS updated_unix ",
                    "FROM goippy_state WHERE goip_id = ?"
                ))
                .bind(goip_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading the channel state"))
            }

            // ----- cleanup ---------------------------------------------------

            pub(crate) async fn cleanup(
                &self,
                log_cutoff: Option<Timestamp>,
                dedup_cutoff: Timestamp,
                marker_cutoff: Timestamp,
            ) -> Result<CleanupReport, StoreError> {
                let mut report = CleanupReport::default();
                if let Some(cutoff) = log_cutoff {
                    report.log_rows = self
                        .delete_in_chunks(
                            sql!($d, delete_some "goippy_log" where concat!(
                                "created_at < ", sql!($d, from_unix), " ",
                                "AND (status IS NULL OR status NOT IN ('inbox', 'queued', 'sending'))"
                            )),
                            cutoff,
                        )
                        .await?;
                }
                report.dedup_keys = self
                    .delete_in_chunks(
                        sql!($d, delete_some "goippy_dedup" where "created_unix < ?"),
                        dedup_cutoff,
                    )
                    .await?;
                report.batch_markers = self
                    .delete_in_chunks(
                        sql!($d, delete_some "goippy_write_batches" where "created_unix < ?"),
                        marker_cutoff,
                    )
                    .await?;
                Ok(report)
            }

            async fn delete_in_chunks(
                &self,
                sql: &'static str,
                cutoff: Timestamp,
            ) -> Result<u64, StoreError> {
                let mut total = 0;
                loop {
                    let n = sqlx::query(sql)
                        .bind(cutoff.unix())
                        .bind(CLEANUP_CHUNK)
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::db("cleaning up"))?
                        .rows_affected();
                    total += n;
                    if n < CLEANUP_CHUNK as u64 {
                        return Ok(total);
                    }
                }
            }
        }

        /// A gateway with when its channel was last seen, as [`GatewayRow`].
        const GATEWAY_SELECT: &str = concat!(
            "SELECT COALESCE(g.ext, '') AS ext, COALESCE(g.goip_id, '') AS goip_id, ",
            "COALESCE(g.goip_pass, '') AS goip_pass, ", sql!($d, int "g.channel"), " AS channel, ",
            "g.msisdn AS msisdn, g.allow_regex AS allow_regex, ",
            sql!($d, int "COALESCE(g.enabled, 0)"), " AS enabled, ",
            sql!($d, unix "g.created_at"), " AS created_unix, ",
            sql!($d, unix "s.updated_at"), " AS last_seen_unix ",
            "FROM goippy_gateways g LEFT JOIN goippy_state s ON s.goip_id = g.goip_id "
        );

        /// An outbound job, as [`OutboxRow`].
        const OUTBOX_SELECT: &str = concat!(
            "SELECT id, COALESCE(ext, '') AS ext, COALESCE(goip_id, '') AS goip_id, ",
            "COALESCE(xmpp_jid, '') AS xmpp_from, xmpp_id, COALESCE(msisdn, '') AS destination, ",
            "COALESCE(body, '') AS body, COALESCE(kind, 'sms') AS kind, COALESCE(status, '') AS status, ",
            "sendid, telid, sms_no, detail, dlr_state, ",
            sql!($d, unix "created_at"), " AS created_unix, sent_unix, ",
            sql!($d, int "receipt_req"), " AS receipt_req, xmpp_to ",
            "FROM goippy_log"
        );

        /// One write inside the batch transaction. `dedup_window`: see
        /// [`earlier_copy`].
        async fn apply(
            conn: &mut $connection,
            op: &WriteOp,
            now: Timestamp,
            dedup_window: Duration,
        ) -> Result<Outcome, sqlx::Error> {
            match op {
                WriteOp::State(s) => {
                    sqlx::query(concat!(
                        "INSERT INTO goippy_state (goip_id, ext, msisdn, gsm_signal, gsm_status, voip_status, ",
                        "voip_state, remain_time, provider, disable_status, imei, imsi, iccid, cell_info, ",
                        "sms_login, source_addr, updated_at) ",
                        "VALUES (?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ",
                        "?, ?, ?, ?, ?, ?, ", sql!($d, from_unix), ") ",
                        sql!($d, upsert ("goip_id")
                            "ext", "msisdn", "gsm_signal", "gsm_status", "voip_status", "voip_state",
                            "remain_time", "provider", "disable_status", "imei", "imsi", "iccid",
                            "cell_info", "sms_login", "source_addr", "updated_at")
                    ))
                    .bind(&s.goip_id)
                    .bind(&s.goip_id)
                    .bind(&s.msisdn)
                    .bind(s.gsm_signal)
                    .bind(&s.gsm_status)
                    .bind(&s.voip_status)
                    .bind(&s.voip_state)
                    .bind(s.remain_time)
                    .bind(&s.provider)
                    .bind(s.disable_status)
                    .bind(&s.imei)
                    .bind(&s.imsi)
                    .bind(&s.iccid)
                    .bind(&s.cell_info)
                    .bind(&s.sms_login)
                    .bind(s.source.map(|a| a.to_string()))
                    .bind(s.seen_at.unix())
                    .execute(&mut *conn)
                    .await?;
                    if let Some(msisdn) = &s.msisdn {
                        sqlx::query(
                            "UPDATE goippy_gateways SET msisdn = ? \
                             WHERE goip_id = ? AND (msisdn IS NULL OR msisdn <> ?)",
                        )
                        .bind(msisdn)
                        .bind(&s.goip_id)
                        .bind(msisdn)
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(Outcome::Done)
                }
                WriteOp::Call { call: c, notice } => {
                    // A retransmission (the GoIP did not get the ack in time,
                    // or goippy restarted) is recognised as an SMS is, and
                    // neither logged nor told again; an event without a
                    // recvid has no key and is logged. The notice is
                    // committed with the event, so that an event stored is
                    // an event told: its resends are all duplicates.
                    let tag = c.event.name();
                    let body_hash = $crate::store::writer::body_hash(&c.event.dedup_text());
                    if let Some(recvid) = c.recvid {
                        let key = DedupRowKey { goip_id: &c.goip_id, tag, recvid, body_hash };
                        let since = c.at.minus(dedup_window);
                        if let Some(id) = earlier_copy(&mut *conn, &key, since).await? {
                            return Ok(Outcome::Stored { id, new: false });
                        }
                    }
                    let mut id = None;
                    if let CallEvent::Expiry { seconds } = c.event {
                        // The newest row of the call that just ended.
                        let call: Option<i64> = sqlx::query_scalar(
                            "SELECT id FROM goippy_calls WHERE goip_id = ? \
                             AND event IN ('RECORD', 'HANGUP') AND duration IS NULL AND ts >= ? \
                             ORDER BY id DESC LIMIT 1",
                        )
                        .bind(&c.goip_id)
                        .bind(c.at.minus(Duration::from_secs(2 * 3600)).unix())
                        .fetch_optional(&mut *conn)
                        .await?;
                        if let Some(call) = call {
                            sqlx::query("UPDATE goippy_calls SET duration = ? WHERE id = ?")
                                .bind(seconds)
                                .bind(call)
                                .execute(&mut *conn)
                                .await?;
                            id = Some(call);
                        }
                    }
                    let id = match id {
                        Some(id) => id,
                        None => insert_call(&mut *conn, c).await?,
                    };
                    if let Some(recvid) = c.recvid {
                        // log_id names the goippy_calls row here (no foreign
                        // key: the tag says which table it is).
                        sqlx::query(
                            "INSERT INTO goippy_dedup (goip_id, tag, recvid, body_hash, log_id, created_unix) \
                             VALUES (?, ?, ?, ?, ?, ?)",
                        )
                        .bind(&c.goip_id)
                        .bind(tag)
                        .bind(recvid)
                        .bind(body_hash)
                        .bind(id)
                        .bind(now.unix())
                        .execute(&mut *conn)
                        .await?;
                    }
                    if let Some(notice) = notice {
                        insert_notice(&mut *conn, notice, now).await?;
                    }
                    Ok(Outcome::Stored { id, new: true })
                }
                WriteOp::Inbound {
                    record,
                    body_hash,
                    outbound,
                } => {
                    let tag = record.kind.tag();
                    let key = DedupRowKey {
                        goip_id: &record.goip_id,
                        tag,
                        recvid: record.recvid,
                        body_hash: *body_hash,
                    };
                    let since = record.at.minus(dedup_window);
                    if let Some(id) = earlier_copy(&mut *conn, &key, since).await? {
                        return Ok(Outcome::Stored { id, new: false });
                    }
                    let columns = record.kind.columns();
                    let mut xmpp_jid = record.xmpp_jid.clone();
                    let mut peer = columns.peer.map(str::to_string);
                    let mut ref_id = None;
                    if let (Some(sms_no), Some(state)) = (columns.sms_no, columns.dlr_state) {
                        // The engine's match (by the same rule, from memory) also
                        // holds while the row's `sent` state is still on its way.
                        let known = match outbound {
                            Some(out) => sqlx::query(
                                "SELECT id, xmpp_jid, msisdn FROM goippy_log WHERE id = ? AND dir = 'out'",
                            )
                            .bind(out.0)
                            .fetch_optional(&mut *conn)
                            .await?,
                            None => None,
                        };
                        let matched = match known {
                            Some(row) => Some(row),
                            None => {
                                sqlx::query(
                                    "SELECT id, xmpp_jid, msisdn FROM goippy_log WHERE dir = 'out' AND goip_id = ? \
                                     AND sms_no = ? AND sent_unix >= ? ORDER BY sent_unix DESC, id DESC LIMIT 1",
                                )
                                .bind(&record.goip_id)
                                .bind(sms_no)
                                .bind(record.at.minus($crate::store::DELIVERY_REPORT_WINDOW).unix())
                                .fetch_optional(&mut *conn)
                                .await?
                            }
                        };
                        if let Some(row) = matched {
                            let out_id: i64 = row.try_get("id")?;
                            let out_jid: Option<String> = row.try_get("xmpp_jid")?;
                            let out_dest: Option<String> = row.try_get("msisdn")?;
                            sqlx::query(
                                "UPDATE goippy_log SET dlr_state = ?, dlr_unix = ?, updated_unix = ? WHERE id = ?",
                            )
                            .bind(state)
                            .bind(record.at.unix())
                            .bind(now.unix())
                            .bind(out_id)
                            .execute(&mut *conn)
                            .await?;
                            ref_id = Some(out_id);
                            xmpp_jid = xmpp_jid.or(out_jid);
                            peer = peer.or(out_dest);
                        }
                    }
                    let id = sqlx::query(concat!(
                        "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, ",
                        "ext, recvid, sms_no, ref_id, dlr_state, updated_unix) ",
                        "VALUES ('in', COALESCE(?, CASE WHEN ? THEN ",
                        "(SELECT msisdn FROM goippy_gateways WHERE goip_id = ?) END), ?, ?, ?, ",
                        sql!($d, from_unix), ", ?, ?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ",
                        "?, ?, ?, ?, ?)"
                    ))
                    .bind(peer)
                    .bind(columns.channel_number)
                    .bind(&record.goip_id)
                    .bind(xmpp_jid)
                    .bind(columns.body)
                    .bind(STATUS_INBOX)
                    .bind(record.at.unix())
                    .bind(record.kind.log_kind().as_str())
                    .bind(&record.goip_id)
                    .bind(&record.goip_id)
                    .bind(record.recvid)
                    .bind(columns.sms_no)
                    .bind(ref_id)
                    .bind(columns.dlr_state)
                    .bind(now.unix())
                    .execute(&mut *conn)
                    .await?
                    .inserted_id();
                    sqlx::query(
                        "INSERT INTO goippy_dedup (goip_id, tag, recvid, body_hash, log_id, created_unix) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&record.goip_id)
                    .bind(tag)
                    .bind(record.recvid)
                    .bind(body_hash)
                    .bind(id)
                    .bind(now.unix())
                    .execute(&mut *conn)
                    .await?;
                    Ok(Outcome::Stored { id, new: true })
                }
                WriteOp::Outbound { record: r, options } => {
                    let id = sqlx::query(concat!(
                        "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, ",
                        "goip_id, ext, xmpp_id, receipt_req, xmpp_to, updated_unix) ",
                        "VALUES ('out', ?, ?, ?, 'queued', ",
                        sql!($d, from_unix), ", ?, ?, ?, ?, ?, ?, ?)"
                    ))
                    .bind(&r.destination)
                    .bind(&r.xmpp_from)
                    .bind(&r.body)
                    .bind(now.unix())
                    .bind(r.kind.log_kind().as_str())
                    .bind(&r.goip_id)
                    .bind(&r.ext)
                    .bind(&r.xmpp_id)
                    .bind(i64::from(options.receipt_requested))
                    .bind(&options.xmpp_to)
                    .bind(now.unix())
                    .execute(&mut *conn)
                    .await?
                    .inserted_id();
                    Ok(Outcome::Enqueued { id })
                }
                WriteOp::Transition { id, change, notice } => {
                    let query = match change {
                        Transition::Sending { sendid } => sqlx::query(
                            "UPDATE goippy_log SET status = 'sending', sendid = ?, updated_unix = ? \
                             WHERE id = ? AND dir = 'out' AND status = 'queued'",
                        )
                        .bind(*sendid),
                        Transition::Sent { sms_no, telid } => sqlx::query(
                            "UPDATE goippy_log SET status = 'sent', sms_no = ?, telid = ?, sent_unix = ?, \
                             updated_unix = ? WHERE id = ? AND dir = 'out' AND status IN ('sending', 'unknown')",
                        )
                        .bind(*sms_no)
                        .bind(*telid)
                        .bind(now.unix()),
                        Transition::Failed {
                            reason,
                            errorstatus,
                        } => sqlx::query(
                            "UPDATE goippy_log SET status = 'failed', detail = ?, error_code = ?, \
                             updated_unix = ? WHERE id = ? AND dir = 'out' \
                             AND status IN ('queued', 'sending', 'unknown')",
                        )
                        .bind(reason.clone())
                        .bind(*errorstatus),
                        Transition::Unknown { reason } => sqlx::query(
                            "UPDATE goippy_log SET status = 'unknown', detail = ?, updated_unix = ? \
                             WHERE id = ? AND dir = 'out' AND status = 'sending'",
                        )
                        .bind(reason.clone()),
                    };
                    let changed = query
                        .bind(now.unix())
                        .bind(id.0)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                    if changed > 0 {
                        if let Some(notice) = notice {
                            insert_notice(&mut *conn, notice, now).await?;
                        }
                        return Ok(Outcome::Done);
                    }
                    let from: Option<Option<String>> = sqlx::query_scalar(
                        "SELECT status FROM goippy_log WHERE id = ? AND dir = 'out'",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                    Ok(Outcome::TransitionRefused {
                        id: id.0,
                        from: from.map(|s| s.unwrap_or_default()),
                    })
                }
                WriteOp::Delivered(id) => {
                    let changed = sqlx::query(
                        "UPDATE goippy_log SET status = ?, updated_unix = ? \
                         WHERE id = ? AND dir = 'in' AND status = ?",
                    )
                    .bind(STATUS_DELIVERED)
                    .bind(now.unix())
                    .bind(id.0)
                    .bind(STATUS_INBOX)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    if changed > 0 {
                        return Ok(Outcome::Done);
                    }
                    let exists: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM goippy_log WHERE id = ? AND dir = 'in'")
                            .bind(id.0)
                            .fetch_optional(&mut *conn)
                            .await?;
                    Ok(match exists {
                        Some(_) => Outcome::Done,
                        None => Outcome::NoSuchInbound { id: id.0 },
                    })
                }
                WriteOp::Notice(notice) => {
                    let id = insert_notice(&mut *conn, notice, now).await?;
                    Ok(Outcome::Stored { id, new: true })
                }
                WriteOp::Counter { name, value } => {
                    sqlx::query(concat!(
                        "INSERT INTO goippy_counters (name, value, updated_unix) VALUES (?, ?, ?) ",
                        sql!($d, upsert_counter)
                    ))
                    .bind(name.as_str())
                    .bind(*value)
                    .bind(now.unix())
                    .execute(&mut *conn)
                    .await?;
                    Ok(Outcome::Done)
                }
                WriteOp::Barrier => Ok(Outcome::Done),
            }
        }

        /// A `goippy_dedup` key: (channel, tag, recvid, hash of the body).
        struct DedupRowKey<'a> {
            goip_id: &'a str,
            tag: &'a str,
            recvid: i64,
            body_hash: i64,
        }

        /// The row of an earlier copy of this message, if this one is a
        /// retransmission of it — by the engine's rule (`engine/dedup.rs`):
        /// the same key stored less than the dedup window before this copy
        /// arrived (`since` = its arrival minus the window). A key stored
        /// earlier than that belongs to another message that reused the
        /// recvid (a GoIP without NTP, after a reboot): it is deleted here,
        /// so that this message's own key can take its place under the
        /// unique index.
        async fn earlier_copy(
            conn: &mut $connection,
            key: &DedupRowKey<'_>,
            since: Timestamp,
        ) -> Result<Option<i64>, sqlx::Error> {
            sqlx::query(
                "DELETE FROM goippy_dedup \
                 WHERE goip_id = ? AND tag = ? AND recvid = ? AND body_hash = ? AND created_unix <= ?",
            )
            .bind(key.goip_id)
            .bind(key.tag)
            .bind(key.recvid)
            .bind(key.body_hash)
            .bind(since.unix())
            .execute(&mut *conn)
            .await?;
            sqlx::query_scalar(
                "SELECT log_id FROM goippy_dedup \
                 WHERE goip_id = ? AND tag = ? AND recvid = ? AND body_hash = ?",
            )
            .bind(key.goip_id)
            .bind(key.tag)
            .bind(key.recvid)
            .bind(key.body_hash)
            .fetch_optional(&mut *conn)
            .await
        }

        /// Adds a call event's row to `goippy_calls`; returns its id.
        async fn insert_call(
            conn: &mut $connection,
            c: &CallRecord,
        ) -> Result<i64, sqlx::Error> {
            let (direction, remote, cause, duration) = match &c.event {
                CallEvent::Record { direction, remote } => {
                    (direction.map(|d| d.code()), Some(remote), None, None)
                }
                CallEvent::Hangup { remote, cause } => (None, Some(remote), Some(cause), None),
                CallEvent::Expiry { seconds } => (None, None, None, Some(*seconds)),
            };
            Ok(sqlx::query(concat!(
                "INSERT INTO goippy_calls (ts, goip_id, ext, direction, remote_num, cause, duration, ",
                "msisdn, raw, event, recvid, created_at) ",
                "VALUES (?, ?, (SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ",
                "(SELECT msisdn FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ",
                sql!($d, from_unix), ")"
            ))
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
            .execute(&mut *conn)
            .await?
            .inserted_id())
        }

        /// Stores a notice as an inbox row (see `migrations/*/0003_bridge_notices.sql`).
        async fn insert_notice(
            conn: &mut $connection,
            n: &NoticeRecord,
            now: Timestamp,
        ) -> Result<i64, sqlx::Error> {
            Ok(sqlx::query(concat!(
                "INSERT INTO goippy_log (dir, msisdn, xmpp_jid, body, status, created_at, kind, goip_id, ",
                "ext, xmpp_id, ref_id, error_code, notice, updated_unix) ",
                "VALUES ('in', ?, ?, ?, ?, ", sql!($d, from_unix), ", 'notice', ?, ",
                "(SELECT ext FROM goippy_gateways WHERE goip_id = ?), ?, ?, ?, ?, ?)"
            ))
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
            .execute(&mut *conn)
            .await?
            .inserted_id())
        }
    };
}

pub(super) use shared_queries;
