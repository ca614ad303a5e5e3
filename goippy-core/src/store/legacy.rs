//! Taking over a database the original goippy created.
//!
//! The migrations start from the original's four tables (migration 0001 is
//! its DDL, applied with `IF NOT EXISTS`). Databases in the field may differ
//! from that starting point in small ways: an older release lacked a column,
//! or the tables came from the shipped `schema.sql`, whose `goip_id` is not
//! UNIQUE and which has no `goippy_state`. Before the first migration runs on
//! such a database — only then: once goippy manages the schema, the
//! migrations alone change it — this step brings the original's tables to
//! exactly that starting point: it adds missing columns (NULL in existing
//! rows), the unique indexes the store relies on, and on MySQL converts
//! tables that are not utf8mb4. It never drops or rewrites a row, with one
//! exception: duplicate `goippy_state` rows of a channel (a cache the next
//! keepalive rewrites) are reduced to the newest. Two extensions sharing one
//! goip_id cannot be resolved automatically; that stops start-up with a
//! message saying which ones.
//!
//! COMPAT: serves databases the original goippy created (and its shipped
//! `schema.sql`); it can go once no such database is left unmigrated, i.e.
//! when every installation has started a goippy that ran the migrations.

use super::db::{Db, Dialect, Sql};
use super::error::StoreError;

/// The original's `created_at`/`updated_at` on MySQL.
const TIMESTAMP_NOW: &str = "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP";

/// A column of the original schema: (name, SQLite type, MySQL type).
type Column = (&'static str, &'static str, &'static str);

/// The tables of the original goippy, each with every column of migration
/// 0001 except the `id` primary key.
const BASELINE: &[(&str, &[Column])] = &[
    (
        "goippy_gateways",
        &[
            ("ext", "TEXT", "VARCHAR(32) NULL"),
            ("goip_id", "TEXT", "VARCHAR(64) NULL"),
            ("goip_pass", "TEXT", "VARCHAR(64) NULL"),
            ("channel", "INTEGER", "INT NULL"),
            ("msisdn", "TEXT", "VARCHAR(32) NULL"),
            ("allow_regex", "TEXT", "VARCHAR(255) NULL"),
            ("enabled", "INTEGER DEFAULT 1", "TINYINT(1) DEFAULT 1"),
            ("created_at", "TEXT", TIMESTAMP_NOW),
        ],
    ),
    (
        "goippy_state",
        &[
            ("goip_id", "TEXT", "VARCHAR(64) NULL"),
            ("ext", "TEXT", "VARCHAR(32) NULL"),
            ("msisdn", "TEXT", "VARCHAR(32) NULL"),
            ("gsm_signal", "INTEGER", "INT NULL"),
            ("gsm_status", "TEXT", "VARCHAR(32) NULL"),
            ("voip_status", "TEXT", "VARCHAR(32) NULL"),
            ("voip_state", "TEXT", "VARCHAR(64) NULL"),
            ("remain_time", "INTEGER", "INT NULL"),
            ("provider", "TEXT", "VARCHAR(64) NULL"),
            ("disable_status", "INTEGER", "TINYINT(1) NULL"),
            ("updated_at", "TEXT", TIMESTAMP_NOW),
        ],
    ),
    (
        "goippy_calls",
        &[
            ("ts", "INTEGER", "INT NULL"),
            ("goip_id", "TEXT", "VARCHAR(64) NULL"),
            ("ext", "TEXT", "VARCHAR(32) NULL"),
            ("direction", "INTEGER", "TINYINT NULL"),
            ("remote_num", "TEXT", "VARCHAR(32) NULL"),
            ("cause", "TEXT", "VARCHAR(32) NULL"),
            ("msisdn", "TEXT", "VARCHAR(32) NULL"),
            ("raw", "TEXT", "VARCHAR(255) NULL"),
            ("created_at", "TEXT", TIMESTAMP_NOW),
        ],
    ),
    (
        "goippy_log",
        &[
            ("dir", "TEXT", "ENUM('in','out') NULL"),
            ("msisdn", "TEXT", "VARCHAR(32) NULL"),
            ("xmpp_jid", "TEXT", "VARCHAR(255) NULL"),
            ("body", "TEXT", "TEXT NULL"),
            ("status", "TEXT", "VARCHAR(64) NULL"),
            ("created_at", "TEXT", TIMESTAMP_NOW),
        ],
    ),
];

/// The unique indexes the store's upserts rely on: (table, column, index name).
const UNIQUE: &[(&str, &str, &str)] = &[
    ("goippy_gateways", "ext", "goippy_gateways_ext"),
    ("goippy_gateways", "goip_id", "goippy_gateways_goip_id"),
    ("goippy_state", "goip_id", "goippy_state_goip_id"),
];

// ----- what adoption asks of the database ----------------------------------
//
// Table and column names passed in are always the constants above, never
// outside input; that is what makes the statements built from them safe.

/// The column names of a table, or `None` when it does not exist.
async fn columns(db: &Db, table: &str) -> Result<Option<Vec<String>>, sqlx::Error> {
    let names: Vec<String> = db.query(COLUMNS).bind(table).scalar_all().await?;
    Ok((!names.is_empty()).then_some(names))
}

/// Whether a unique index on exactly this one column exists.
async fn has_unique_index(db: &Db, table: &str, column: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = db
        .query(UNIQUE_INDEXES)
        .bind(table)
        .bind(column)
        .scalar_one()
        .await?;
    Ok(n > 0)
}

/// Non-NULL values that occur more than once in a column.
async fn duplicates(db: &Db, table: &str, column: &str) -> Result<Vec<String>, sqlx::Error> {
    let text = match db.dialect() {
        Dialect::Sqlite => "TEXT",
        Dialect::MySql => "CHAR",
    };
    db.query_built(format!(
        "SELECT CAST({column} AS {text}) FROM {table} WHERE {column} IS NOT NULL \
         GROUP BY {column} HAVING COUNT(*) > 1 ORDER BY {column} LIMIT 20"
    ))
    .scalar_all()
    .await
}

/// Deletes all but the newest (highest id) row per value of a column.
async fn keep_newest(db: &Db, table: &str, column: &str) -> Result<u64, sqlx::Error> {
    let sql = match db.dialect() {
        Dialect::Sqlite => format!(
            "DELETE FROM {table} WHERE {column} IS NOT NULL AND id NOT IN \
             (SELECT MAX(id) FROM {table} WHERE {column} IS NOT NULL GROUP BY {column})"
        ),
        Dialect::MySql => format!(
            "DELETE t FROM {table} t JOIN (SELECT {column} AS k, MAX(id) AS keep_id FROM {table} \
             WHERE {column} IS NOT NULL GROUP BY {column}) m ON t.{column} = m.k AND t.id <> m.keep_id"
        ),
    };
    Ok(db.query_built(sql).execute().await?.rows_affected)
}

async fn add_unique_index(
    db: &Db,
    table: &str,
    column: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    db.execute_ddl(match db.dialect() {
        Dialect::Sqlite => format!("CREATE UNIQUE INDEX {name} ON {table} ({column})"),
        Dialect::MySql => format!("ALTER TABLE {table} ADD UNIQUE INDEX {name} ({column})"),
    })
    .await
}

/// MySQL: converts a table to utf8mb4 when it is not. SQLite text is UTF-8
/// already.
async fn ensure_utf8mb4(db: &Db, table: &str) -> Result<(), sqlx::Error> {
    if db.dialect() == Dialect::Sqlite {
        return Ok(());
    }
    let collation: Option<Option<String>> = db
        .query(
            "SELECT CAST(TABLE_COLLATION AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(table)
        .scalar_optional()
        .await?;
    let collation = collation.flatten().unwrap_or_default();
    if collation.starts_with("utf8mb4") {
        return Ok(());
    }
    tracing::info!(table, collation = %collation, "converting to utf8mb4");
    db.execute_ddl(format!(
        "ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4"
    ))
    .await
}

const TABLE_EXISTS: Sql = Sql {
    sqlite: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    mysql: "SELECT COUNT(*) FROM information_schema.TABLES \
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
};

const COLUMNS: Sql = Sql {
    sqlite: "SELECT name FROM pragma_table_info(?) ORDER BY cid",
    mysql: "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
};

/// Unique indexes of exactly one column, this one (inline UNIQUE
/// constraints, and on MySQL the primary key, included).
const UNIQUE_INDEXES: Sql = Sql {
    sqlite: "SELECT COUNT(*) FROM pragma_index_list(?) AS il \
             WHERE il.\"unique\" = 1 AND (SELECT COUNT(*) FROM pragma_index_info(il.name)) = 1 \
             AND (SELECT name FROM pragma_index_info(il.name)) = ?",
    mysql: "SELECT COUNT(*) FROM (SELECT INDEX_NAME FROM information_schema.STATISTICS \
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
            GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND CAST(MAX(COLUMN_NAME) AS CHAR) = ?) AS u",
};

fn failed(what: String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::migrating(&what, e)
}

/// Brings an original goippy database to the starting point of the
/// migrations; does nothing on a new database or one goippy already manages.
pub(crate) async fn adopt(db: &Db) -> Result<(), StoreError> {
    // Whether goippy's migrations already manage this database.
    let managed: i64 = db
        .query(TABLE_EXISTS)
        .bind(super::MIGRATIONS_TABLE)
        .scalar_one()
        .await
        .map_err(failed("reading the migration history".into()))?;
    if managed > 0 {
        return Ok(());
    }
    // The original's tables this database has.
    let mut found: Vec<&str> = Vec::new();
    for (table, baseline) in BASELINE {
        let Some(existing) = columns(db, table)
            .await
            .map_err(failed(format!("reading the columns of {table}")))?
        else {
            continue;
        };
        if found.is_empty() {
            tracing::info!(
                "found tables of the original goippy; adopting them (no row is removed)"
            );
        }
        found.push(table);
        ensure_utf8mb4(db, table)
            .await
            .map_err(failed(format!("converting {table} to utf8mb4")))?;
        for &(column, sqlite, mysql) in *baseline {
            if !existing.iter().any(|e| e.eq_ignore_ascii_case(column)) {
                tracing::info!(
                    table,
                    column,
                    "adding a column older goippy versions lacked"
                );
                let ddl = Sql { sqlite, mysql }.text(db.dialect());
                db.execute_ddl(format!("ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
                    .await
                    .map_err(failed(format!("adding {table}.{column}")))?;
            }
        }
    }
    for (table, column, name) in UNIQUE {
        if !found.contains(table)
            || has_unique_index(db, table, column)
                .await
                .map_err(failed(format!("reading the indexes of {table}")))?
        {
            continue;
        }
        let dups = duplicates(db, table, column)
            .await
            .map_err(failed(format!("looking for duplicate {table}.{column}")))?;
        if !dups.is_empty() {
            if *table == "goippy_state" {
                let removed = keep_newest(db, table, column)
                    .await
                    .map_err(failed(format!("removing duplicate {table} rows")))?;
                tracing::info!(
                    removed,
                    "removed older duplicate goippy_state rows (a cache)"
                );
            } else {
                return Err(StoreError::Migrate(format!(
                    "{table}.{column} must be unique, but these values occur more than once: {}; \
                     give each extension its own {column} (UPDATE {table} SET {column} = … WHERE ext = …) \
                     and start goippy again",
                    dups.join(", ")
                )));
            }
        }
        tracing::info!(table, column, "adding a unique index");
        add_unique_index(db, table, column, name)
            .await
            .map_err(failed(format!("adding a unique index on {table}.{column}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_covers_every_table_and_unique_column() {
        for (table, columns) in BASELINE {
            assert!(!columns.is_empty(), "{table}");
        }
        for (table, column, _) in UNIQUE {
            assert!(
                BASELINE
                    .iter()
                    .any(|(t, columns)| t == table && columns.iter().any(|c| c.0 == *column)),
                "{table}.{column}"
            );
        }
    }
}
