//! Line pools: an extension with several lines, a line shared by several
//! extensions, the line each conversation sends from, per-line daily caps
//! and whether a user allows failover (migration 0005).
//!
//! A row of `goippy_gateways` is one line (one GoIP channel); its `ext` is
//! the extension whose default line — line 1 — it is, or NULL for a line
//! made only to be shared (`goippy --add-line`). `goippy_line_users` gives
//! an extension further lines, numbered after its default line in the order
//! they were given (the row id; two lines given in the same second keep
//! their order, which a timestamp would not). So a setup without these rows
//! — every setup before pools — is exactly one line per extension.
//!
//! Like `gateways.rs`, the admin changes here are written directly, not
//! through the writer: each is a command whose outcome is reported, and the
//! daemon's directory reloads it. The learned line of a conversation is
//! written with the SMS that teaches it (`received.rs`); a pin (`/line N`)
//! is written here, at once, because the user is told it is done.

use std::collections::HashMap;

use super::Store;
use super::db::{Db, Sql, Tx, Value};
use super::error::StoreError;
use super::records::{Gateway, LineAdded};
use super::time::Timestamp;
use crate::config::gateway::{self, ValidGateway};

/// A day for the daily caps: UTC days, so that the count does not depend
/// on the server's time zone setting or jump at a DST change (documented in
/// the README).
const DAY_SECONDS: i64 = 86_400;

/// When the UTC day of `now` began.
fn day_start(now: Timestamp) -> Timestamp {
    Timestamp::from_unix(now.unix() - now.unix().rem_euclid(DAY_SECONDS))
}

/// The line a conversation sends from, as stored (and selected).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LineChoice {
    pub goip_id: String,
    /// Chosen by the user (`/line N`); otherwise learned from the line the
    /// contact last wrote to.
    pub pinned: bool,
}

/// What `goippy --remove-line` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRemoved {
    /// The extension no longer uses the line; others still do.
    Unshared,
    /// The extension was the last user of a line that is no one's default:
    /// the line itself is gone too (its history stays).
    Deleted,
}

impl Store {
    /// Gives `ext` a further line (`goippy --add-line`). With `definition`
    /// (password, channel, allow_regex) a new line `goip_id` is made, used
    /// by `ext`; without, `ext` shares the existing line. A definition for a
    /// line that exists is an error — it would be silently ignored — except
    /// for a shared line `ext` already has, which it then updates (the way
    /// `--add` rewrites a default line).
    pub async fn add_line(
        &self,
        ext: &str,
        goip_id: &str,
        definition: Option<LineDefinition<'_>>,
    ) -> Result<(LineAdded, Gateway), StoreError> {
        let ext = gateway::extension(ext)?;
        let goip_id = gateway::goip_id(goip_id)?;
        let goip_id = goip_id.as_str();
        let valid = definition
            .map(|d| gateway::validate(&ext, d.password, Some(goip_id), d.channel, d.allow_regex))
            .transpose()?;
        let add = add(
            &self.inner.db,
            &ext,
            goip_id,
            valid.as_ref(),
            Timestamp::now(),
        );
        // A refusal is the transaction's answer; an error, the database's.
        let added = self.run("adding a line", add).await??;
        let line = self
            .gateway_by_goip_id(goip_id)
            .await?
            .ok_or_else(|| StoreError::UnknownLine(goip_id.to_string()))?;
        Ok((added, line))
    }

    /// Takes a line from `ext` (`goippy --remove-line`). Its default line is
    /// `--remove`'s, not this.
    pub async fn remove_line(&self, ext: &str, goip_id: &str) -> Result<LineRemoved, StoreError> {
        let remove = remove(&self.inner.db, ext.trim(), goip_id.trim());
        self.run("removing a line", remove).await?
    }

    /// Sets (or with `None` lifts) a line's daily cap.
    pub async fn set_daily_limit(
        &self,
        goip_id: &str,
        limit: Option<i64>,
    ) -> Result<(), StoreError> {
        if let Some(n) = limit
            && n < 0
        {
            return Err(StoreError::InvalidInput {
                field: "daily limit",
                reason: format!("expected a number of SMS (0 or more) or \"-\", got {n}"),
            });
        }
        self.update_line(
            "setting a daily limit",
            "UPDATE goippy_gateways SET daily_limit = ? WHERE goip_id = ?",
            limit,
            goip_id,
        )
        .await
    }

    /// Enables or disables the line `goip_id`, whoever uses it: also a
    /// shared line that is no extension's default line (which
    /// [`Store::set_gateway_enabled`], by extension, cannot name).
    pub async fn set_line_enabled(&self, goip_id: &str, enabled: bool) -> Result<(), StoreError> {
        self.update_line(
            "enabling or disabling a line",
            "UPDATE goippy_gateways SET enabled = ? WHERE goip_id = ?",
            enabled,
            goip_id,
        )
        .await
    }

    /// Runs `update`, which sets one column of the line `goip_id` (bound
    /// after `value`); no such line is an error.
    async fn update_line<'a>(
        &'a self,
        what: &'static str,
        update: &'static str,
        value: impl Into<Value<'a>>,
        goip_id: &'a str,
    ) -> Result<(), StoreError> {
        let update = self.inner.db.query(update).bind(value).bind(goip_id);
        if self.run(what, update.execute()).await?.rows_affected == 0 {
            return Err(StoreError::UnknownLine(goip_id.to_string()));
        }
        Ok(())
    }

    /// Whether `ext` lets an SMS go out on another of its lines when the
    /// chosen one cannot send it.
    pub async fn set_failover(&self, ext: &str, on: bool) -> Result<(), StoreError> {
        let ext = gateway::extension(ext)?;
        let write = self
            .inner
            .db
            .query(UPSERT_SETTINGS)
            .bind(&ext)
            .bind(on)
            .bind(Timestamp::now().unix())
            .execute();
        self.run("changing failover", write).await.map(|_| ())
    }

    /// Whether `ext` allows failover (off unless set).
    pub async fn failover(&self, ext: &str) -> Result<bool, StoreError> {
        let read = self
            .inner
            .db
            .query("SELECT CAST(failover AS SIGNED INTEGER) FROM goippy_ext_settings WHERE ext = ?")
            .bind(ext)
            .scalar_optional();
        let on: Option<i64> = self.run("reading failover", read).await?;
        Ok(on.is_some_and(|v| v != 0))
    }

    /// The SMS each line has been given to send since the UTC day of `now`
    /// began (queued, sending, sent or unknown; failed ones went nowhere).
    pub async fn sent_today(&self, now: Timestamp) -> Result<HashMap<String, i64>, StoreError> {
        let read = self
            .inner
            .db
            .query(SENT_SINCE)
            .bind(day_start(now).unix())
            .fetch_all();
        let rows: Vec<(String, i64)> = self.run("counting today's SMS", read).await?;
        Ok(rows.into_iter().collect())
    }

    /// The line the conversation of `ext` with `contact` sends from, if one
    /// was learned or pinned.
    pub async fn line_choice(
        &self,
        ext: &str,
        contact: &str,
    ) -> Result<Option<LineChoice>, StoreError> {
        let read = self
            .inner
            .db
            .query(
                "SELECT goip_id, CAST(pinned AS SIGNED INTEGER) AS pinned FROM goippy_line_choice \
                 WHERE ext = ? AND contact = ?",
            )
            .bind(ext)
            .bind(contact)
            .fetch_optional();
        self.run("reading the line of a conversation", read).await
    }

    /// Pins the conversation of `ext` with `contact` to `goip_id` (`/line
    /// N`), or with `None` unpins it (`/line auto`): the line the contact
    /// next writes to is then learned again, and until then the default.
    pub async fn pin_line(
        &self,
        ext: &str,
        contact: &str,
        goip_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let db = &self.inner.db;
        let write = match goip_id {
            Some(goip_id) => db
                .query(UPSERT_CHOICE)
                .bind(ext)
                .bind(contact)
                .bind(goip_id)
                .bind(true)
                .bind(Timestamp::now().unix()),
            None => db
                .query("DELETE FROM goippy_line_choice WHERE ext = ? AND contact = ?")
                .bind(ext)
                .bind(contact),
        };
        self.run("choosing a line", write.execute())
            .await
            .map(|_| ())
    }
}

/// A new line's definition for [`Store::add_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDefinition<'a> {
    pub password: &'a str,
    pub channel: Option<i64>,
    pub allow_regex: Option<&'a str>,
}

/// The extension whose default line `goip_id` is; `Some("")`: the line
/// exists and is no one's default; `None`: there is no such line.
async fn owner(tx: &mut Tx<'_>, goip_id: &str) -> Result<Option<String>, sqlx::Error> {
    tx.query("SELECT COALESCE(ext, '') FROM goippy_gateways WHERE goip_id = ?")
        .bind(goip_id)
        .scalar_optional()
        .await
}

/// [`Store::add_line`]'s transaction: what it refuses is the inner error,
/// the outer one the database's.
async fn add(
    db: &Db,
    ext: &str,
    goip_id: &str,
    definition: Option<&ValidGateway>,
    now: Timestamp,
) -> Result<Result<LineAdded, StoreError>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let owner = owner(&mut tx, goip_id).await?;
    let member: bool = tx
        .query("SELECT COUNT(*) FROM goippy_line_users WHERE ext = ? AND goip_id = ?")
        .bind(ext)
        .bind(goip_id)
        .scalar_one::<i64>()
        .await?
        > 0;
    let added = match (owner.as_deref(), definition) {
        (Some(owner), _) if owner == ext => {
            return Ok(Err(StoreError::InvalidInput {
                field: "goip_id",
                reason: format!(
                    "{goip_id} is extension {ext}'s default line already (change it with \
                     goippy --add {ext} … --goip-id {goip_id})"
                ),
            }));
        }
        (Some(""), Some(d)) if member => {
            tx.query(
                "UPDATE goippy_gateways SET goip_pass = ?, channel = ?, allow_regex = ?, \
                 enabled = 1 WHERE goip_id = ?",
            )
            .bind(&d.password)
            .bind(d.channel)
            .bind(&d.allow_regex)
            .bind(goip_id)
            .execute()
            .await?;
            LineAdded::Updated
        }
        (Some(owner), Some(_)) => {
            let whose = if owner.is_empty() {
                "a shared line".to_string()
            } else {
                format!("extension {owner}'s line")
            };
            return Ok(Err(StoreError::InvalidInput {
                field: "password",
                reason: format!(
                    "{goip_id} exists already ({whose}); to share it, give no password, \
                     channel or allow_regex (they would be ignored)"
                ),
            }));
        }
        (Some(_), None) if member => LineAdded::AlreadyHad,
        (Some(_), None) => LineAdded::Shared,
        (None, None) => return Ok(Err(StoreError::UnknownLine(goip_id.to_string()))),
        (None, Some(d)) => {
            // No ext: the line is no one's default.
            tx.query(super::gateways::INSERT_GATEWAY)
                .bind(None::<&str>)
                .bind(goip_id)
                .bind(&d.password)
                .bind(d.channel)
                .bind(&d.allow_regex)
                .bind(now.unix())
                .execute()
                .await?;
            LineAdded::Created
        }
    };
    if !member {
        tx.query("INSERT INTO goippy_line_users (ext, goip_id, added_unix) VALUES (?, ?, ?)")
            .bind(ext)
            .bind(goip_id)
            .bind(now.unix())
            .execute()
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(added))
}

/// [`Store::remove_line`]'s transaction, its errors as [`add`]'s.
async fn remove(
    db: &Db,
    ext: &str,
    goip_id: &str,
) -> Result<Result<LineRemoved, StoreError>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let owner = owner(&mut tx, goip_id).await?;
    if owner.as_deref() == Some(ext) {
        return Ok(Err(StoreError::InvalidInput {
            field: "goip_id",
            reason: format!(
                "{goip_id} is extension {ext}'s default line; remove it with goippy --remove {ext}"
            ),
        }));
    }
    let n = tx
        .query("DELETE FROM goippy_line_users WHERE ext = ? AND goip_id = ?")
        .bind(ext)
        .bind(goip_id)
        .execute()
        .await?
        .rows_affected;
    if n == 0 {
        return Ok(Err(StoreError::InvalidInput {
            field: "goip_id",
            reason: format!("extension {ext} has no line {goip_id}"),
        }));
    }
    let others: i64 = tx
        .query("SELECT COUNT(*) FROM goippy_line_users WHERE goip_id = ?")
        .bind(goip_id)
        .scalar_one()
        .await?;
    let removed = if owner.as_deref() == Some("") && others == 0 {
        tx.query("DELETE FROM goippy_gateways WHERE goip_id = ? AND ext IS NULL")
            .bind(goip_id)
            .execute()
            .await?;
        LineRemoved::Deleted
    } else {
        LineRemoved::Unshared
    };
    tx.query("DELETE FROM goippy_line_choice WHERE ext = ? AND goip_id = ?")
        .bind(ext)
        .bind(goip_id)
        .execute()
        .await?;
    tx.commit().await?;
    Ok(Ok(removed))
}

/// Removes every user's use of `goip_id` (its line is being removed).
pub(super) async fn forget_line(
    tx: &mut super::db::Tx<'_>,
    goip_id: &str,
) -> Result<(), sqlx::Error> {
    tx.query("DELETE FROM goippy_line_users WHERE goip_id = ?")
        .bind(goip_id)
        .execute()
        .await?;
    tx.query("DELETE FROM goippy_line_choice WHERE goip_id = ?")
        .bind(goip_id)
        .execute()
        .await?;
    Ok(())
}

// ----- the statements whose text differs between the dialects -------------

const UPSERT_SETTINGS: Sql = Sql {
    sqlite: "INSERT INTO goippy_ext_settings (ext, failover, updated_unix) VALUES (?, ?, ?) \
             ON CONFLICT (ext) DO UPDATE SET failover = excluded.failover, \
             updated_unix = excluded.updated_unix",
    mysql: "INSERT INTO goippy_ext_settings (ext, failover, updated_unix) VALUES (?, ?, ?) \
            ON DUPLICATE KEY UPDATE failover = VALUES(failover), updated_unix = VALUES(updated_unix)",
};

pub(super) const UPSERT_CHOICE: Sql = Sql {
    sqlite: "INSERT INTO goippy_line_choice (ext, contact, goip_id, pinned, updated_unix) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (ext, contact) DO UPDATE SET \
             goip_id = excluded.goip_id, pinned = excluded.pinned, \
             updated_unix = excluded.updated_unix",
    mysql: "INSERT INTO goippy_line_choice (ext, contact, goip_id, pinned, updated_unix) \
            VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE goip_id = VALUES(goip_id), \
            pinned = VALUES(pinned), updated_unix = VALUES(updated_unix)",
};

/// A learned choice replaces only an unpinned one.
pub(super) const LEARN_CHOICE: Sql = Sql {
    sqlite: "INSERT INTO goippy_line_choice (ext, contact, goip_id, pinned, updated_unix) \
             VALUES (?, ?, ?, 0, ?) ON CONFLICT (ext, contact) DO UPDATE SET \
             goip_id = excluded.goip_id, updated_unix = excluded.updated_unix \
             WHERE goippy_line_choice.pinned = 0",
    mysql: "INSERT INTO goippy_line_choice (ext, contact, goip_id, pinned, updated_unix) \
            VALUES (?, ?, ?, 0, ?) ON DUPLICATE KEY UPDATE \
            goip_id = IF(pinned = 0, VALUES(goip_id), goip_id), \
            updated_unix = IF(pinned = 0, VALUES(updated_unix), updated_unix)",
};

const SENT_SINCE: Sql = Sql {
    sqlite: "SELECT goip_id, COUNT(*) FROM goippy_log WHERE dir = 'out' AND kind = 'sms' \
             AND status <> 'failed' AND goip_id IS NOT NULL \
             AND created_at >= datetime(?, 'unixepoch') GROUP BY goip_id",
    mysql: "SELECT goip_id, CAST(COUNT(*) AS SIGNED) FROM goippy_log WHERE dir = 'out' \
            AND kind = 'sms' AND status <> 'failed' AND goip_id IS NOT NULL \
            AND created_at >= FROM_UNIXTIME(?) GROUP BY goip_id",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days() {
        let t = Timestamp::from_unix(1_700_000_000); // 2023-11-14 22:13:20 UTC
        assert_eq!(day_start(t).unix(), 1_699_920_000);
        assert_eq!(
            day_start(Timestamp::from_unix(1_699_920_000)).unix(),
            1_699_920_000
        );
    }
}
