//! The store's test world (the `store` and `bridge` tests): a fresh
//! database of either backend per test, raw SQL access for setting up what
//! the store's API cannot (back-dated rows, an original goippy's schema),
//! and record builders.

use std::path::PathBuf;

use goippy_core::config::{DbSettings, DbTls, MySqlSettings, Secret};
use goippy_core::store::{
    CallEvent, CallRecord, GatewayDefinition, InboundKind, InboundRecord, LogId, OutboundKind,
    OutboundRecord, StateUpdate, Store, StoreOptions, Timestamp,
};
use goippy_testkit::mariadb::{TestDatabase, test_database};
use sqlx::mysql::MySqlPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tempfile::TempDir;

/// An empty database for one test.
pub struct TestDb {
    pub settings: DbSettings,
    pub kind: Kind,
    _dir: Option<TempDir>,
    _mysql: Option<TestDatabase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    MySql,
}

/// A SQLite file in a directory that does not exist yet (the store creates both).
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-yet").join("goippy.db");
    TestDb {
        settings: DbSettings::Sqlite { file },
        kind: Kind::Sqlite,
        _dir: Some(dir),
        _mysql: None,
    }
}

/// A SQLite file at `file` (its directory is the caller's).
pub fn sqlite_at(file: PathBuf) -> TestDb {
    TestDb {
        settings: DbSettings::Sqlite { file },
        kind: Kind::Sqlite,
        _dir: None,
        _mysql: None,
    }
}

/// A fresh MariaDB database (throwaway server or GOIPPY_TEST_MYSQL_URL).
pub fn mysql() -> TestDb {
    TestDb::from_mysql(test_database().expect("a MariaDB database for the test"))
}

impl TestDb {
    pub fn from_mysql(db: TestDatabase) -> TestDb {
        TestDb {
            settings: DbSettings::MySql(MySqlSettings {
                host: db.host.clone(),
                port: db.port,
                database: db.database.clone(),
                user: db.user.clone(),
                password: Secret::new(db.password.clone()),
                tls: DbTls::default(),
            }),
            kind: Kind::MySql,
            _dir: None,
            _mysql: Some(db),
        }
    }
}

impl TestDb {
    pub async fn open(&self) -> Store {
        Store::open(&self.settings).await.expect("store opens")
    }

    pub async fn open_with(&self, options: StoreOptions) -> Store {
        Store::open_with(&self.settings, options)
            .await
            .expect("store opens")
    }

    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.settings {
            DbSettings::Sqlite { file } => Some(file.clone()),
            _ => None,
        }
    }

    /// Runs statements directly, bypassing the store.
    pub async fn exec(&self, sql: &str) {
        match &self.settings {
            DbSettings::Sqlite { file } => {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).expect("mkdir");
                }
                let pool = SqlitePool::connect_with(
                    SqliteConnectOptions::new()
                        .filename(file)
                        .create_if_missing(true),
                )
                .await
                .expect("sqlite");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{sql}"));
                pool.close().await;
            }
            DbSettings::MySql(_) => {
                let pool = self.mysql_pool().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{sql}"));
                pool.close().await;
            }
        }
    }

    /// Runs statements directly; the error as text.
    pub async fn try_exec(&self, sql: &str) -> Result<(), String> {
        let result = match &self.settings {
            DbSettings::Sqlite { file } => {
                let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(file))
                    .await
                    .expect("sqlite");
                let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .map(|_| ());
                pool.close().await;
                r
            }
            DbSettings::MySql(_) => {
                let pool = self.mysql_pool().await;
                let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&pool)
                    .await
                    .map(|_| ());
                pool.close().await;
                r
            }
        };
        result.map_err(|e| e.to_string())
    }

    /// One integer from a query (COUNT(*) and the like).
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.settings {
            DbSettings::Sqlite { file } => {
                let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(file))
                    .await
                    .expect("sqlite");
                let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{sql}"));
                pool.close().await;
                v
            }
            DbSettings::MySql(_) => {
                let pool = self.mysql_pool().await;
                let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{sql}"));
                pool.close().await;
                v
            }
        }
    }

    /// The `goippy_log` row `id`, read past the store (what no production
    /// read returns: a delivered or cleaned-up row, its raw status).
    pub async fn log_entry(&self, id: LogId) -> Option<LogEntry> {
        let sql = match self.kind {
            Kind::Sqlite => LOG_ENTRY_SQLITE,
            Kind::MySql => LOG_ENTRY_MYSQL,
        };
        match &self.settings {
            DbSettings::Sqlite { file } => {
                let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(file))
                    .await
                    .expect("sqlite");
                let row = sqlx::query_as(sql).bind(id.0).fetch_optional(&pool).await;
                pool.close().await;
                row.expect("reading the log")
            }
            DbSettings::MySql(_) => {
                let pool = self.mysql_pool().await;
                let row = sqlx::query_as(sql).bind(id.0).fetch_optional(&pool).await;
                pool.close().await;
                row.expect("reading the log")
            }
        }
    }

    async fn mysql_pool(&self) -> MySqlPool {
        let db = self._mysql.as_ref().expect("a MySQL test database");
        MySqlPool::connect(&db.url()).await.expect("mysql")
    }

    /// SQL for "this many seconds ago" in the original's created_at format.
    pub fn ago(&self, secs: i64) -> String {
        let t = Timestamp::now().unix() - secs;
        match self.kind {
            Kind::Sqlite => format!("datetime({t}, 'unixepoch')"),
            Kind::MySql => format!("FROM_UNIXTIME({t})"),
        }
    }
}

/// The columns of a `goippy_log` row the tests look at.
#[derive(Debug, sqlx::FromRow)]
pub struct LogEntry {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub body: Option<String>,
    pub ref_id: Option<i64>,
    pub created_unix: Option<i64>,
}

const LOG_ENTRY_SQLITE: &str = "SELECT kind, status, body, ref_id, \
    unixepoch(created_at) AS created_unix FROM goippy_log WHERE id = ?";
const LOG_ENTRY_MYSQL: &str = "SELECT kind, status, body, ref_id, \
    CAST(UNIX_TIMESTAMP(created_at) AS SIGNED) AS created_unix FROM goippy_log WHERE id = ?";

pub fn keepalive(goip_id: &str, num: Option<&str>, signal: i32, at: i64) -> StateUpdate {
    let mut s = StateUpdate::new(goip_id, Timestamp::from_unix(at));
    s.msisdn = num.map(Into::into);
    s.gsm_signal = Some(signal);
    s.gsm_status = Some("LOGIN".into());
    s.voip_status = Some("LOGOUT".into());
    s.voip_state = Some("IDLE".into());
    s.remain_time = Some(-1);
    s.provider = Some("Tele2".into());
    s.disable_status = Some(0);
    s.imei = Some("860000000000000".into());
    s.imsi = Some("260060000000000".into());
    s.iccid = Some("89480600000000000000".into());
    s.cell_info = Some("LAC:7E5,CELL ID:5E5B".into());
    s.sms_login = Some("Y".into());
    s.source = Some("192.0.2.10:5060".parse().expect("addr"));
    s
}

pub fn sms(goip_id: &str, recvid: i64, sender: &str, body: &str) -> InboundRecord {
    InboundRecord {
        recipients: Vec::new(),
        goip_id: goip_id.into(),
        recvid,
        at: Timestamp::now(),
        xmpp_jid: Some("2001@example.org".into()),
        kind: InboundKind::Sms {
            sender: sender.into(),
            body: body.into(),
        },
    }
}

/// A gateway definition without a channel number, as `goippy --add <ext>
/// <password> - [allow_regex] [--goip-id <id>]` gives it.
pub fn gateway<'a>(
    ext: &'a str,
    password: &'a str,
    goip_id: Option<&'a str>,
    allow_regex: Option<&'a str>,
) -> GatewayDefinition<'a> {
    GatewayDefinition {
        ext,
        password,
        goip_id,
        channel: None,
        allow_regex,
    }
}

pub fn outbound(goip_id: &str, destination: &str, body: &str) -> OutboundRecord {
    OutboundRecord {
        ext: "2001".into(),
        goip_id: goip_id.into(),
        xmpp_from: "2001@example.org/phone".into(),
        xmpp_id: Some("msg-1".into()),
        destination: destination.into(),
        body: body.into(),
        kind: OutboundKind::Sms,
    }
}

pub fn call(goip_id: &str, recvid: i64, event: CallEvent) -> CallRecord {
    CallRecord {
        goip_id: goip_id.into(),
        recvid: Some(recvid),
        at: Timestamp::now(),
        raw: format!("{}:{recvid};id:{goip_id};password:***", event.name()),
        event,
    }
}

/// Runs an async test body once per backend: `name::sqlite` and
/// `name::mysql`, each given a fresh [`TestDb`].
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::store::sqlite()).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$name($crate::support::store::mysql()).await
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
