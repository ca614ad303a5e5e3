//! The gateway table (`goippy_gateways`): one row per line (GoIP channel),
//! its `ext` the extension whose default line it is (NULL for a line made
//! only to be shared, see `store/lines.rs`). Written by the admin commands, not through the writer (a
//! definition is no durability point: the command reports the outcome and
//! the daemon's directory reloads it); read by the directory
//! (`store/directory.rs`) and the admin commands.

use super::db::{Db, Query, Sql};
use super::error::StoreError;
use super::records::{Gateway, GatewayChange, LineShare};
use super::time::Timestamp;
use crate::config::gateway::ValidGateway;

/// Which column a gateway lookup goes by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GatewayKey<'a> {
    Ext(&'a str),
    GoipId(&'a str),
}

/// Creates or updates the gateway of an extension and enables it. A
/// goip_id another extension has is refused: the engine could not tell the
/// two channels apart.
pub(crate) async fn add_or_update(
    db: &Db,
    gw: &ValidGateway,
    now: Timestamp,
) -> Result<GatewayChange, StoreError> {
    let failed = || StoreError::db("saving the gateway");
    let mut tx = db.begin_write().await.map_err(failed())?;
    // '' : a line no extension has as its default (made by --add-line).
    let other: Option<String> = tx
        .query(
            "SELECT COALESCE(ext, '') FROM goippy_gateways WHERE goip_id = ? \
             AND (ext IS NULL OR ext <> ?)",
        )
        .bind(&gw.goip_id)
        .bind(&gw.ext)
        .scalar_optional()
        .await
        .map_err(failed())?;
    if let Some(other_ext) = other {
        if other_ext.is_empty() {
            return Err(StoreError::InvalidInput {
                field: "goip_id",
                reason: format!(
                    "{} is a shared line (goippy --add-line); give it to extension {} with \
                     goippy --add-line {} {}",
                    gw.goip_id, gw.ext, gw.ext, gw.goip_id
                ),
            });
        }
        return Err(StoreError::GoipIdInUse {
            goip_id: gw.goip_id.clone(),
            other_ext,
        });
    }
    let updated = tx
        .query(
            "UPDATE goippy_gateways SET goip_id = ?, goip_pass = ?, channel = ?, allow_regex = ?, \
             enabled = 1 WHERE ext = ?",
        )
        .bind(&gw.goip_id)
        .bind(&gw.password)
        .bind(gw.channel)
        .bind(&gw.allow_regex)
        .bind(&gw.ext)
        .execute()
        .await
        .map_err(failed())?
        .rows_affected;
    let change = if updated > 0 {
        GatewayChange::Updated
    } else {
        tx.query(INSERT_GATEWAY)
            .bind(&gw.ext)
            .bind(&gw.goip_id)
            .bind(&gw.password)
            .bind(gw.channel)
            .bind(&gw.allow_regex)
            .bind(now.unix())
            .execute()
            .await
            .map_err(failed())?;
        GatewayChange::Created
    };
    tx.commit().await.map_err(failed())?;
    Ok(change)
}

/// False when the extension has no gateway. Whoever shared the line loses
/// it too (the line is gone); the extension keeps the lines it was given.
pub(crate) async fn remove(db: &Db, ext: &str) -> Result<bool, StoreError> {
    let failed = || StoreError::db("removing the gateway");
    let mut tx = db.begin_write().await.map_err(failed())?;
    let goip_ids: Vec<String> = tx
        .query("SELECT COALESCE(goip_id, '') FROM goippy_gateways WHERE ext = ?")
        .bind(ext)
        .scalar_all()
        .await
        .map_err(failed())?;
    let n = tx
        .query("DELETE FROM goippy_gateways WHERE ext = ?")
        .bind(ext)
        .execute()
        .await
        .map_err(failed())?
        .rows_affected;
    for goip_id in goip_ids.iter().filter(|g| !g.is_empty()) {
        super::lines::forget_line(&mut tx, goip_id)
            .await
            .map_err(failed())?;
    }
    tx.commit().await.map_err(failed())?;
    Ok(n > 0)
}

/// False when the extension has no gateway.
pub(crate) async fn set_enabled(db: &Db, ext: &str, enabled: bool) -> Result<bool, StoreError> {
    let n = db
        .query("UPDATE goippy_gateways SET enabled = ? WHERE ext = ?")
        .bind(enabled)
        .bind(ext)
        .execute()
        .await
        .map_err(StoreError::db("changing the gateway"))?
        .rows_affected;
    Ok(n > 0)
}

/// Every line, by extension (shared lines without one last, by goip_id),
/// with its further users.
pub(crate) async fn list(db: &Db) -> Result<Vec<Gateway>, StoreError> {
    let query = db
        .query(GATEWAY)
        .then("ORDER BY g.ext IS NULL, g.ext, g.goip_id");
    load(db, query, "listing the gateways").await
}

pub(crate) async fn find(db: &Db, key: GatewayKey<'_>) -> Result<Option<Gateway>, StoreError> {
    let query = match key {
        GatewayKey::Ext(v) => db.query(GATEWAY).then("WHERE g.ext = ? LIMIT 1").bind(v),
        GatewayKey::GoipId(v) => db
            .query(GATEWAY)
            .then("WHERE g.goip_id = ? LIMIT 1")
            .bind(v),
    };
    Ok(load(db, query, "looking up a gateway").await?.pop())
}

/// The gateways a [`GATEWAY`] query selects, with their further users.
async fn load(db: &Db, query: Query<'_>, doing: &'static str) -> Result<Vec<Gateway>, StoreError> {
    let mut gateways: Vec<Gateway> = query.fetch_all().await.map_err(StoreError::db(doing))?;
    for g in &mut gateways {
        // An empty ext (a hand-edited row) is no owner either.
        g.ext = g.ext.take().filter(|e| !e.trim().is_empty());
        g.msisdn = g.msisdn.take().filter(|m| !m.trim().is_empty());
    }
    attach_shares(db, &mut gateways).await?;
    Ok(gateways)
}

/// Fills in each line's further users from `goippy_line_users`.
async fn attach_shares(db: &Db, gateways: &mut [Gateway]) -> Result<(), StoreError> {
    let shares: Vec<(i64, String, String)> = db
        .query("SELECT id, ext, goip_id FROM goippy_line_users ORDER BY id")
        .fetch_all()
        .await
        .map_err(StoreError::db("listing who shares which line"))?;
    for (order, ext, goip_id) in shares {
        if let Some(g) = gateways.iter_mut().find(|g| g.goip_id == goip_id)
            && g.ext.as_deref() != Some(ext.as_str())
        {
            g.shared_with.push(LineShare { ext, order });
        }
    }
    Ok(())
}

// ----- the statements whose text differs between the dialects -------------
//
// Integers and the original's timestamps as in `store/reads.rs`.

const INSERT_GATEWAY: Sql = Sql {
    sqlite: "INSERT INTO goippy_gateways \
             (ext, goip_id, goip_pass, channel, allow_regex, enabled, created_at) \
             VALUES (?, ?, ?, ?, ?, 1, datetime(?, 'unixepoch'))",
    mysql: "INSERT INTO goippy_gateways \
            (ext, goip_id, goip_pass, channel, allow_regex, enabled, created_at) \
            VALUES (?, ?, ?, ?, ?, 1, FROM_UNIXTIME(?))",
};

/// A gateway with when its channel was last seen, as [`Gateway`]; the
/// WHERE or ORDER BY clause follows.
const GATEWAY: Sql = Sql {
    sqlite: "SELECT g.ext AS ext, COALESCE(g.goip_id, '') AS goip_id, \
             COALESCE(g.goip_pass, '') AS goip_pass, CAST(g.channel AS INTEGER) AS channel, \
             g.msisdn AS msisdn, g.allow_regex AS allow_regex, \
             CAST(COALESCE(g.enabled, 0) AS INTEGER) AS enabled, \
             unixepoch(g.created_at) AS created_unix, unixepoch(s.updated_at) AS last_seen_unix, \
             CAST(g.daily_limit AS INTEGER) AS daily_limit \
             FROM goippy_gateways g LEFT JOIN goippy_state s ON s.goip_id = g.goip_id ",
    mysql: "SELECT g.ext AS ext, COALESCE(g.goip_id, '') AS goip_id, \
            COALESCE(g.goip_pass, '') AS goip_pass, CAST(g.channel AS SIGNED) AS channel, \
            g.msisdn AS msisdn, g.allow_regex AS allow_regex, \
            CAST(COALESCE(g.enabled, 0) AS SIGNED) AS enabled, \
            CAST(UNIX_TIMESTAMP(g.created_at) AS SIGNED) AS created_unix, \
            CAST(UNIX_TIMESTAMP(s.updated_at) AS SIGNED) AS last_seen_unix, \
            CAST(g.daily_limit AS SIGNED) AS daily_limit \
            FROM goippy_gateways g LEFT JOIN goippy_state s ON s.goip_id = g.goip_id ",
};
