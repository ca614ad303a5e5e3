//! The gateway table (`goippy_gateways`): one row per line (GoIP channel),
//! its `ext` the extension whose default line it is (NULL for a line made
//! only to be shared, see `store/lines.rs`). Written by the admin commands, not through the writer (a
//! definition is no durability point: the command reports the outcome and
//! the daemon's directory reloads it); read by the directory
//! (`store/directory.rs`) and the admin commands.

use super::Store;
use super::db::{Db, Query, Sql};
use super::error::StoreError;
use super::records::{Gateway, GatewayChange, GatewayDefinition, LineShare};
use super::time::Timestamp;
use crate::config::gateway::{self, ValidGateway};

impl Store {
    /// Creates or updates the gateway of an extension and enables it
    /// (`goippy --add`). Every field is written, an omitted one with its
    /// default; the number learnt from keepalives and `created_at` stay.
    pub async fn save_gateway(
        &self,
        definition: &GatewayDefinition<'_>,
    ) -> Result<(GatewayChange, Gateway), StoreError> {
        let valid = gateway::validate(
            definition.ext,
            definition.password,
            definition.goip_id,
            definition.channel,
            definition.allow_regex,
        )?;
        let save = add_or_update(&self.inner.db, &valid, Timestamp::now());
        // A refusal is the transaction's answer; an error, the database's.
        let change = self
            .read("saving a gateway", async {
                save.await.map_err(StoreError::db("saving the gateway"))
            })
            .await??;
        let gateway = self
            .gateway_by_ext(&valid.ext)
            .await?
            .ok_or_else(|| StoreError::UnknownExtension(valid.ext.clone()))?;
        Ok((change, gateway))
    }

    /// Removes an extension's gateway; its history stays. Whoever shared
    /// the line loses it too (the line is gone); the extension keeps the
    /// lines it was given.
    pub async fn remove_gateway(&self, ext: &str) -> Result<Gateway, StoreError> {
        let gateway = self
            .gateway_by_ext(ext)
            .await?
            .ok_or_else(|| StoreError::UnknownExtension(ext.to_string()))?;
        let remove = remove(&self.inner.db, ext);
        if !self
            .read("removing a gateway", async {
                remove.await.map_err(StoreError::db("removing the gateway"))
            })
            .await?
        {
            return Err(StoreError::UnknownExtension(ext.to_string()));
        }
        Ok(gateway)
    }

    pub async fn set_gateway_enabled(&self, ext: &str, enabled: bool) -> Result<(), StoreError> {
        let update = self
            .inner
            .db
            .query("UPDATE goippy_gateways SET enabled = ? WHERE ext = ?")
            .bind(enabled)
            .bind(ext)
            .execute();
        let n = self
            .read("enabling or disabling a gateway", async {
                update.await.map_err(StoreError::db("changing the gateway"))
            })
            .await?;
        if n.rows_affected == 0 {
            return Err(StoreError::UnknownExtension(ext.to_string()));
        }
        Ok(())
    }

    /// Every gateway, enabled or not, by extension (shared lines without
    /// one last, by goip_id), with when its channel was last seen and its
    /// further users.
    pub async fn list_gateways(&self) -> Result<Vec<Gateway>, StoreError> {
        let query = self
            .inner
            .db
            .query(GATEWAY)
            .then("ORDER BY g.ext IS NULL, g.ext, g.goip_id");
        let list = load(&self.inner.db, query, "listing the gateways");
        self.read("listing the gateways", list).await
    }

    pub async fn gateway_by_ext(&self, ext: &str) -> Result<Option<Gateway>, StoreError> {
        self.find("WHERE g.ext = ? LIMIT 1", ext).await
    }

    pub async fn gateway_by_goip_id(&self, goip_id: &str) -> Result<Option<Gateway>, StoreError> {
        self.find("WHERE g.goip_id = ? LIMIT 1", goip_id).await
    }

    /// The gateway `clause` selects by `key`.
    async fn find(&self, clause: &'static str, key: &str) -> Result<Option<Gateway>, StoreError> {
        let query = self.inner.db.query(GATEWAY).then(clause).bind(key);
        let found = load(&self.inner.db, query, "looking up a gateway");
        Ok(self.read("reading a gateway", found).await?.pop())
    }
}

/// Creates or updates the gateway of an extension and enables it. A
/// goip_id another extension has is refused (the inner error; the outer one
/// is the database's): the engine could not tell the two channels apart.
async fn add_or_update(
    db: &Db,
    gw: &ValidGateway,
    now: Timestamp,
) -> Result<Result<GatewayChange, StoreError>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    // '' : a line no extension has as its default (made by --add-line).
    let other: Option<String> = tx
        .query(
            "SELECT COALESCE(ext, '') FROM goippy_gateways WHERE goip_id = ? \
             AND (ext IS NULL OR ext <> ?)",
        )
        .bind(&gw.goip_id)
        .bind(&gw.ext)
        .scalar_optional()
        .await?;
    if let Some(other_ext) = other {
        if other_ext.is_empty() {
            return Ok(Err(StoreError::InvalidInput {
                field: "goip_id",
                reason: format!(
                    "{} is a shared line (goippy --add-line); give it to extension {} with \
                     goippy --add-line {} {}",
                    gw.goip_id, gw.ext, gw.ext, gw.goip_id
                ),
            }));
        }
        return Ok(Err(StoreError::GoipIdInUse {
            goip_id: gw.goip_id.clone(),
            other_ext,
        }));
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
        .await?
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
            .await?;
        GatewayChange::Created
    };
    tx.commit().await?;
    Ok(Ok(change))
}

/// False when the extension has no gateway.
async fn remove(db: &Db, ext: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let goip_ids: Vec<String> = tx
        .query("SELECT COALESCE(goip_id, '') FROM goippy_gateways WHERE ext = ?")
        .bind(ext)
        .scalar_all()
        .await?;
    let n = tx
        .query("DELETE FROM goippy_gateways WHERE ext = ?")
        .bind(ext)
        .execute()
        .await?
        .rows_affected;
    for goip_id in goip_ids.iter().filter(|g| !g.is_empty()) {
        super::lines::forget_line(&mut tx, goip_id).await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// The gateways a [`GATEWAY`] query selects, with their further users
/// (`goippy_line_users`).
async fn load(db: &Db, query: Query<'_>, doing: &'static str) -> Result<Vec<Gateway>, StoreError> {
    let mut gateways: Vec<Gateway> = query.fetch_all().await.map_err(StoreError::db(doing))?;
    for g in &mut gateways {
        // An empty ext (a hand-edited row) is no owner either.
        g.ext = g.ext.take().filter(|e| !e.trim().is_empty());
        g.msisdn = g.msisdn.take().filter(|m| !m.trim().is_empty());
    }
    // Each line's further users.
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
    Ok(gateways)
}

// ----- the statements whose text differs between the dialects -------------
//
// Integers and the original's timestamps as in `store/reads.rs`.

pub(super) const INSERT_GATEWAY: Sql = Sql {
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
