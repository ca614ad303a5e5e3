//! The state of each line's alerts as its users were last told it
//! (`goippy_alerts`): what the alert monitor (`bridge/alerts/`) reads at
//! start and writes, together with the notices that tell the change, in one
//! transaction — so a change is stored if and only if it is told, and a
//! restart neither repeats an alert nor misses a change that happened while
//! goippy was stopped.

use serde::{Deserialize, Serialize};

use super::db::{Db, Sql, Tx};
use super::error::StoreError;
use super::records::{fit, widths};
use super::time::Timestamp;

/// One condition of one line, as its users were last told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub goip_id: String,
    /// Which condition (`offline`, `gsm`, `signal`, `balance`).
    pub alert: String,
    /// Whether the condition holds (the line is offline, the balance low…).
    pub active: bool,
    /// When it began to hold, or stopped holding.
    pub since: Timestamp,
    /// What goes with it (the balance read, the signal); may be empty.
    pub detail: String,
}

impl AlertRecord {
    pub(crate) fn fitted(mut self) -> AlertRecord {
        fit(&mut self.goip_id, widths::GOIP_ID);
        fit(&mut self.alert, 16);
        fit(&mut self.detail, widths::DETAIL);
        self
    }
}

#[derive(Debug, sqlx::FromRow)]
struct AlertRow {
    goip_id: String,
    alert: String,
    active: i64,
    since_unix: i64,
    detail: Option<String>,
}

/// Every stored alert state.
pub(crate) async fn all(db: &Db) -> Result<Vec<AlertRecord>, StoreError> {
    let rows: Vec<AlertRow> = db
        .query(ALL)
        .fetch_all()
        .await
        .map_err(StoreError::db("reading the alert states"))?;
    Ok(rows
        .into_iter()
        .map(|r| AlertRecord {
            goip_id: r.goip_id,
            alert: r.alert,
            active: r.active != 0,
            since: Timestamp::from_unix(r.since_unix),
            detail: r.detail.unwrap_or_default(),
        })
        .collect())
}

/// Writes one alert state (inside the writer's transaction).
pub(crate) async fn save(tx: &mut Tx<'_>, a: &AlertRecord) -> Result<(), sqlx::Error> {
    tx.query(UPSERT)
        .bind(&a.goip_id)
        .bind(&a.alert)
        .bind(i64::from(a.active))
        .bind(a.since.unix())
        .bind(&a.detail)
        .execute()
        .await?;
    Ok(())
}

const ALL: Sql = Sql {
    sqlite: "SELECT goip_id, alert, CAST(active AS INTEGER) AS active, since_unix, detail \
             FROM goippy_alerts ORDER BY goip_id, alert",
    mysql: "SELECT goip_id, alert, CAST(active AS SIGNED) AS active, since_unix, detail \
            FROM goippy_alerts ORDER BY goip_id, alert",
};

const UPSERT: Sql = Sql {
    sqlite: "INSERT INTO goippy_alerts (goip_id, alert, active, since_unix, detail) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (goip_id, alert) DO UPDATE SET \
             active = excluded.active, since_unix = excluded.since_unix, detail = excluded.detail",
    mysql: "INSERT INTO goippy_alerts (goip_id, alert, active, since_unix, detail) \
            VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
            active = VALUES(active), since_unix = VALUES(since_unix), detail = VALUES(detail)",
};
