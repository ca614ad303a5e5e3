//! The two backends behind one enum.
//!
//! Two concrete sqlx pools rather than `AnyPool`: the original goippy's
//! MySQL columns (TINYINT(1), TIMESTAMP, ENUM) are outside what `Any` can
//! decode, each backend needs its own connection settings (WAL and a busy
//! timeout; utf8mb4 and UTC), and the SQL differs anyway (upserts, time
//! conversions, insert ids). Every query is a `'static` string, written
//! once in `store/queries.rs` and expanded for each backend with its own
//! dialect (`store/dialect.rs`); this enum only forwards to the right one.

use super::error::StoreError;
use super::mysql::MySqlBackend;
use super::records::{
    CallEntry, CallFilter, ChannelState, CleanupReport, Gateway, GatewayChange, InboxItem, LogId,
    OutboxItem,
};
use super::rows::LogEntry;
use super::sqlite::SqliteBackend;
use super::time::Timestamp;
use super::validate::ValidGateway;
use super::writer::{BatchFailure, Outcome, WriteOp};

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqliteBackend),
    MySql(MySqlBackend),
}

/// Which column a gateway lookup goes by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GatewayKey<'a> {
    Ext(&'a str),
    GoipId(&'a str),
    Msisdn(&'a str),
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            Backend::Sqlite($b) => $e,
            Backend::MySql($b) => $e,
        }
    };
}

impl Backend {
    /// How long a stored dedup key marks a copy as a retransmission.
    pub(crate) fn set_dedup_window(&mut self, window: std::time::Duration) {
        dispatch!(self, b => b.dedup_window = window)
    }

    /// Adopts a database of the original goippy, then runs the migrations.
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, b => b.migrate().await)
    }

    pub(crate) async fn apply_batch(
        &self,
        batch_id: i64,
        now: Timestamp,
        ops: &[WriteOp],
    ) -> Result<Vec<Outcome>, BatchFailure> {
        dispatch!(self, b => b.apply_batch(batch_id, now, ops).await)
    }

    pub(crate) async fn batch_outcomes(
        &self,
        batch_id: i64,
    ) -> Result<Option<Vec<Outcome>>, sqlx::Error> {
        dispatch!(self, b => b.batch_outcomes(batch_id).await)
    }

    pub(crate) async fn add_or_update_gateway(
        &self,
        gw: &ValidGateway,
        now: Timestamp,
    ) -> Result<GatewayChange, StoreError> {
        dispatch!(self, b => b.add_or_update_gateway(gw, now).await)
    }

    pub(crate) async fn remove_gateway(&self, ext: &str) -> Result<bool, StoreError> {
        dispatch!(self, b => b.remove_gateway(ext).await)
    }

    pub(crate) async fn set_gateway_enabled(
        &self,
        ext: &str,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        dispatch!(self, b => b.set_gateway_enabled(ext, enabled).await)
    }

    pub(crate) async fn list_gateways(&self) -> Result<Vec<Gateway>, StoreError> {
        dispatch!(self, b => b.list_gateways().await)
    }

    pub(crate) async fn gateway(&self, key: GatewayKey<'_>) -> Result<Option<Gateway>, StoreError> {
        dispatch!(self, b => b.gateway(key).await)
    }

    /// Inbox rows with an id above `after`, oldest first.
    pub(crate) async fn undelivered_inbox_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StoreError> {
        dispatch!(self, b => b.undelivered_inbox_after(after, limit).await)
    }

    pub(crate) async fn queued_outbound(
        &self,
        goip_id: &str,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        dispatch!(self, b => b.queued_outbound(goip_id, limit).await)
    }

    /// The larger of the saved sendid counter and the largest recorded sendid.
    pub(crate) async fn sendid_floor(&self) -> Result<i64, StoreError> {
        dispatch!(self, b => b.sendid_floor().await)
    }

    pub(crate) async fn pending_outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        dispatch!(self, b => b.pending_outbox().await)
    }

    pub(crate) async fn outbound(&self, id: LogId) -> Result<Option<OutboxItem>, StoreError> {
        dispatch!(self, b => b.outbound(id).await)
    }

    pub(crate) async fn find_outbound_by_sms_no(
        &self,
        goip_id: &str,
        sms_no: i64,
        since: Timestamp,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        dispatch!(self, b => b.find_outbound_by_sms_no(goip_id, sms_no, since).await)
    }

    pub(crate) async fn log_entry(&self, id: LogId) -> Result<Option<LogEntry>, StoreError> {
        dispatch!(self, b => b.log_entry(id).await)
    }

    pub(crate) async fn recent_calls(
        &self,
        filter: CallFilter<'_>,
        limit: u32,
    ) -> Result<Vec<CallEntry>, StoreError> {
        dispatch!(self, b => b.recent_calls(filter, limit).await)
    }

    pub(crate) async fn channel_state(
        &self,
        goip_id: &str,
    ) -> Result<Option<ChannelState>, StoreError> {
        dispatch!(self, b => b.channel_state(goip_id).await)
    }

    /// Deletes, in small transactions, log rows created before `log_cutoff`
    /// (never undelivered inbox or unfinished outbox rows), dedup keys
    /// created before `dedup_cutoff` and batch markers before `marker_cutoff`.
    pub(crate) async fn cleanup(
        &self,
        log_cutoff: Option<Timestamp>,
        dedup_cutoff: Timestamp,
        marker_cutoff: Timestamp,
    ) -> Result<CleanupReport, StoreError> {
        dispatch!(self, b => b.cleanup(log_cutoff, dedup_cutoff, marker_cutoff).await)
    }

    pub(crate) async fn close(&self) {
        dispatch!(self, b => b.close().await)
    }
}
