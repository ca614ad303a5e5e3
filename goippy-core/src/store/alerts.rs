//! The state of each line's alerts as its users were last told it
//! (`goippy_alerts`): what the alert monitor (`bridge/alerts/`) reads at
//! start and writes, together with the notices that tell the change, in one
//! transaction — so a change is stored if and only if it is told, and a
//! restart neither repeats an alert nor misses a change that happened while
//! goippy was stopped.

use serde::{Deserialize, Serialize};

use super::Store;
use super::db::{Sql, Tx};
use super::error::StoreError;
use super::records::{fit, widths};
use super::time::Timestamp;

/// One condition of one line, as its users were last told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AlertRecord {
    pub goip_id: String,
    /// Which condition (`offline`, `gsm`, `signal`, `balance`).
    pub alert: String,
    /// Whether the condition holds (the line is offline, the balance low…).
    pub active: bool,
    /// When it began to hold, or stopped holding.
    #[sqlx(rename = "since_unix")]
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

impl Store {
    /// Every line's alert state as its users were last told it.
    pub async fn alert_states(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let read = self.inner.db.query(ALL).fetch_all();
        self.run("reading the alert states", read).await
    }
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

const ALL: &str = "SELECT goip_id, alert, CAST(active AS SIGNED INTEGER) AS active, since_unix, \
                   COALESCE(detail, '') AS detail FROM goippy_alerts ORDER BY goip_id, alert";

const UPSERT: Sql = Sql {
    sqlite: "INSERT INTO goippy_alerts (goip_id, alert, active, since_unix, detail) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (goip_id, alert) DO UPDATE SET \
             active = excluded.active, since_unix = excluded.since_unix, detail = excluded.detail",
    mysql: "INSERT INTO goippy_alerts (goip_id, alert, active, since_unix, detail) \
            VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
            active = VALUES(active), since_unix = VALUES(since_unix), detail = VALUES(detail)",
};
