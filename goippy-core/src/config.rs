//! goippy's configuration file: `KEY = "value"` lines with `#` comments.
//!
//! Existing goippy installations already have such files; the format happens
//! to be valid TOML, so the `toml` crate reads it and this module only turns
//! the table into typed settings. Every key is read by one line of
//! [`Config::from_table`] so that an error can name the file, the key and
//! what was expected (`GOIP_PORT: expected an integer 1–65535, got "abc"`),
//! and all problems of a file are reported at once rather than one per run.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug` and `Display` never show
//! the value, so neither logs nor `--check` output can leak them.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use crate::alias::split_jid;
use crate::number::NumberRules;

mod db_tls;
pub mod gateway;

pub use db_tls::{DbTls, DbTlsMode, is_this_host};

/// Where `goippy` looks for its configuration by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/goippy.conf";
/// Where `goippy --sample` writes by default.
pub const DEFAULT_SAMPLE_PATH: &str = "/etc/goippy.conf.sample";
/// The SQLite file used when `DB_FILE` is not set.
pub const DEFAULT_DB_FILE: &str = "/var/lib/goippy/goippy.db";

/// A value that must never be printed: passwords and shared secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that needs it (a handshake, a login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// How outbound SMS are handed to the GoIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsMode {
    /// The vendor protocol: MSG, PASSWORD, SEND, DONE. Results and delivery
    /// reports can be matched to the message.
    Session,
    /// The legacy single `SMS <stamp> 1 <pass> <dest> <text>` datagram, sent
    /// once and never answered; kept for firmware that may accept it.
    Oneshot,
}

/// When the sender of an outbound SMS gets its XEP-0184 receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptPolicy {
    /// When the carrier reports delivery to the handset (a DELIVER with state 0).
    Delivered,
    /// As soon as the GoIP reports the SMS sent.
    Sent,
}

/// The database goippy keeps its state and history in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSettings {
    Sqlite {
        file: PathBuf,
    },
    MySql {
        host: String,
        port: u16,
        database: String,
        user: String,
        password: Secret,
        /// `DB_TLS`, `DB_TLS_CA`.
        tls: DbTls,
    },
}

/// The XMPP component side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmppSettings {
    /// The users' domain (`example.org`); only its users may send SMS.
    pub domain: String,
    /// The domain of the phone-number JIDs (`sms.example.org`).
    pub data_domain: String,
    /// The component's own JID, as configured in Prosody's `Component` line.
    pub component_jid: String,
    pub secret: Secret,
    pub host: String,
    pub port: u16,
    /// Who gets SMS that arrive on a channel with no gateway mapping.
    pub fallback_dest: Option<String>,
    /// Answer XEP-0100 prompts with `+N@domain` (mod_sms_alias) instead of
    /// `+N@data_domain`.
    pub use_alias: bool,
    pub receipts: ReceiptPolicy,
    /// Tell the user about RECORD/HANGUP call events, not only log them.
    pub call_notices: bool,
    /// How often to ping the server; must be well below the read timeout.
    pub ping_interval: Duration,
}

/// The GoIP UDP side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoipSettings {
    pub bind: IpAddr,
    pub port: u16,
    pub sms_mode: SmsMode,
    /// A channel without a keepalive for this long is offline.
    pub offline_after: Duration,
    /// How long a (channel, tag, recvid, body) is remembered to drop retransmissions.
    pub dedup_window: Duration,
    /// How long a job for an offline channel waits for it to come back.
    pub offline_wait: Duration,
    /// How long an SMS may take from MSG to its OK/ERROR before it ends as Unknown.
    pub sms_timeout: Duration,
    /// How long to wait for a USSD answer before the single resend.
    pub ussd_timeout: Duration,
}

/// How goippy waits for its database, and where it keeps what the database
/// does not take in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `DB_TIMEOUT`: the longest any statement, write transaction or
    /// connection attempt may take before it counts as failed.
    pub timeout: Duration,
    /// `DB_WRITE_WAIT`: how long a write waits for the database before the
    /// spool keeps it.
    pub write_wait: Duration,
    /// `SPOOL_FILE`: the local file that keeps writes while the database is
    /// unavailable.
    pub spool_file: PathBuf,
}

/// The state directory goippy's files live in by default.
pub const STATE_DIR: &str = "/var/lib/goippy";

/// Where the spool is when `SPOOL_FILE` is not set: next to the SQLite file
/// (`goippy.db` → `goippy.spool.db`); with MySQL, in the state directory
/// under the configuration's name (`/etc/goippy-2508.conf` →
/// `/var/lib/goippy/goippy-2508.spool.db`), or next to a configuration kept
/// outside `/etc` — never one file for two configurations.
pub fn default_spool_file(db: &DbSettings, config_path: &Path) -> PathBuf {
    let spool_name = |stem: &std::ffi::OsStr| {
        let mut name = stem.to_os_string();
        name.push(".spool.db");
        name
    };
    match db {
        DbSettings::Sqlite { file } => {
            let stem = file.file_stem().unwrap_or("goippy".as_ref());
            file.with_file_name(spool_name(stem))
        }
        DbSettings::MySql { .. } => {
            let stem = config_path.file_stem().unwrap_or("goippy".as_ref());
            if config_path.starts_with("/etc") {
                Path::new(STATE_DIR).join(spool_name(stem))
            } else {
                config_path.with_file_name(spool_name(stem))
            }
        }
    }
}

/// A parsed, validated configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub xmpp: XmppSettings,
    pub goip: GoipSettings,
    pub db: DbSettings,
    pub store: StoreSettings,
    /// Delete `goippy_log` rows older than this many days; 0 keeps them forever.
    pub log_days: u32,
    /// Default log filter (`info`, `debug` — goippy's own —, or a tracing
    /// filter such as `info,sqlx=debug`); `RUST_LOG` and `-v`/`-q` take
    /// precedence.
    pub log_level: Option<String>,
    /// Country calling code for the national-number rule (`0…` → `+<cc>…`).
    pub country_code: Option<String>,
    /// `SMS_JOIN_WAIT`: how long an inbound SMS of full segment length
    /// waits for its continuation, for GoIPs that hand over the parts of a
    /// long SMS one by one; zero delivers every part as it comes.
    pub sms_join_wait: Duration,
}

/// A configuration that cannot be used, with every problem found in it,
/// and the warnings found beside them: an unknown key is often the reason
/// a required one is missing (`XMPP_DOMIAN`), so they are never dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_problems(.path, .problems, .warnings))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
    pub warnings: Vec<ConfigWarning>,
}

impl ConfigError {
    /// An error with this one problem (and no warnings).
    fn one(path: &Path, problem: String) -> ConfigError {
        ConfigError {
            path: path.to_path_buf(),
            problems: vec![problem],
            warnings: Vec::new(),
        }
    }
}

fn render_problems(path: &Path, problems: &[String], warnings: &[ConfigWarning]) -> String {
    let mut s = match problems {
        [one] => format!("{}: {one}", path.display()),
        many => {
            let mut s = format!("{}: {} problems:", path.display(), many.len());
            for p in many {
                s.push_str("\n  - ");
                s.push_str(p);
            }
            s
        }
    };
    for w in warnings {
        s.push_str("\n  warning: ");
        s.push_str(&w.0);
    }
    s
}

/// Something worth telling the operator that does not stop goippy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys whose values never appear in a message, whatever is wrong with them.
const SECRET_KEYS: &[&str] = &["XMPP_COMPONENT_SECRET", "DB_PASS"];

/// The component secret `--sample` writes, and the README's Prosody
/// example sets: the two agree, so a copied setup connects, and
/// `--check` warns that it is a placeholder.
pub const SAMPLE_COMPONENT_SECRET: &str = "change-me";

/// Placeholders a component secret is left at: the sample's, and the
/// original goippy's (`replace_me`) with their usual spellings.
const PLACEHOLDER_SECRETS: &[&str] = &[
    SAMPLE_COMPONENT_SECRET,
    "changeme",
    "change_me",
    "replace_me",
    "replace-me",
    "replaceme",
];

fn is_placeholder_secret(secret: &Secret) -> bool {
    let value = secret.expose().trim().to_ascii_lowercase();
    PLACEHOLDER_SECRETS.contains(&value.as_str())
}

/// Every key goippy reads. Unknown keys are warned about, with the nearest of these.
pub const KNOWN_KEYS: &[&str] = &[
    "XMPP_DOMAIN",
    "XMPP_DATA_DOMAIN",
    "XMPP_COMPONENT_JID",
    "XMPP_COMPONENT_SECRET",
    "XMPP_HOST",
    "XMPP_PORT",
    "XMPP_FALLBACK_DEST",
    "XMPP_USE_ALIAS",
    "XMPP_RECEIPTS",
    "XMPP_CALL_NOTICES",
    "XMPP_PING_INTERVAL",
    "GOIP_BIND",
    "GOIP_PORT",
    "GOIP_SMS_MODE",
    "GOIP_OFFLINE_AFTER",
    "GOIP_DEDUP_WINDOW",
    "GOIP_OFFLINE_WAIT",
    "GOIP_SMS_TIMEOUT",
    "GOIP_USSD_TIMEOUT",
    "SMS_COUNTRY_CODE",
    "SMS_JOIN_WAIT",
    "DB_BACKEND",
    "DB_FILE",
    "DB_HOST",
    "DB_PORT",
    "DB_BASE",
    "DB_USER",
    "DB_PASS",
    "DB_TLS",
    "DB_TLS_CA",
    "DB_TIMEOUT",
    "DB_WRITE_WAIT",
    "SPOOL_FILE",
    "LOG_DAYS",
    "LOG_LEVEL",
];

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::one(path, format!("cannot read the configuration file: {e}"))
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a configuration file; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        // Not `e.to_string()`: toml's rendering quotes the offending line,
        // and an unquoted `DB_PASS = hunter2` would put the password in the
        // journal. The position and the message are enough to find it.
        let table: Table = toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                    format!("line {line}, column {column}: ")
                }
                None => String::new(),
            };
            ConfigError::one(
                path,
                format!(
                    "not a valid configuration file: {at}{}",
                    e.message().trim_end()
                ),
            )
        })?;
        Self::from_table(&table, path)
    }

    fn from_table(table: &Table, path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut r = Reader {
            table,
            problems: Vec::new(),
        };
        let mut warnings = unknown_key_warnings(table);

        let domain = r.domain("XMPP_DOMAIN", None);
        let data_domain = r.domain("XMPP_DATA_DOMAIN", None);
        let component_jid = r.domain("XMPP_COMPONENT_JID", data_domain.as_deref());
        let secret = r.required_string("XMPP_COMPONENT_SECRET").map(Secret);
        if secret.as_ref().is_some_and(is_placeholder_secret) {
            warnings.push(ConfigWarning(
                "XMPP_COMPONENT_SECRET is still the sample's placeholder: whoever reaches Prosody's \
                 component port could connect as the SMS gateway. Choose a secret of your own \
                 (for example `openssl rand -hex 16`), and set the same as component_secret \
                 in Prosody's Component section"
                    .into(),
            ));
        }
        let xmpp_host = r.string_or("XMPP_HOST", "127.0.0.1");
        let xmpp_port = r.port("XMPP_PORT", 5347);
        let fallback_dest = r.optional_jid("XMPP_FALLBACK_DEST");
        let use_alias = r.boolean("XMPP_USE_ALIAS", true);
        let receipts = r.choice(
            "XMPP_RECEIPTS",
            "delivered",
            &[
                ("delivered", ReceiptPolicy::Delivered),
                ("sent", ReceiptPolicy::Sent),
            ],
        );
        let call_notices = r.boolean("XMPP_CALL_NOTICES", false);
        let ping_interval = r.seconds("XMPP_PING_INTERVAL", 30, 5, 600);

        let goip_bind = r.ip("GOIP_BIND", "0.0.0.0");
        let goip_port = r.port("GOIP_PORT", 44444);
        let sms_mode = r.choice(
            "GOIP_SMS_MODE",
            "session",
            &[("session", SmsMode::Session), ("oneshot", SmsMode::Oneshot)],
        );
        let offline_after = r.seconds("GOIP_OFFLINE_AFTER", 90, 35, 3600);
        let dedup_window = r.seconds("GOIP_DEDUP_WINDOW", 600, 15, 86_400);
        let offline_wait = r.seconds("GOIP_OFFLINE_WAIT", 300, 0, 86_400);
        let sms_timeout = r.seconds("GOIP_SMS_TIMEOUT", 180, 65, 3600);
        let ussd_timeout = r.seconds("GOIP_USSD_TIMEOUT", 30, 10, 300);
        let country_code = r.country_code("SMS_COUNTRY_CODE");
        let sms_join_wait = r.seconds("SMS_JOIN_WAIT", 10, 0, 120);

        let db = r.db();
        let db_timeout = r.seconds("DB_TIMEOUT", 10, 1, 300);
        let write_wait = r.seconds("DB_WRITE_WAIT", 1, 1, 60);
        let spool_file = r.optional_string("SPOOL_FILE");
        let log_days = r.integer("LOG_DAYS", Some(0), 0, 36_500).map(|d| d as u32);
        let log_level = r.optional_string("LOG_LEVEL");

        // Cross-key rules, only when the keys themselves were fine.
        if let (Some(d), Some(c)) = (&data_domain, &component_jid)
            && d != c
        {
            r.problems.push(format!(
                "XMPP_DATA_DOMAIN: expected the same domain as XMPP_COMPONENT_JID ({c:?}), got {d:?} \
                 (Prosody closes the stream of a component that sends from any other domain)"
            ));
        }
        if let (Some(d), Some(c)) = (&domain, &data_domain)
            && d == c
        {
            r.problems.push(format!(
                "XMPP_DATA_DOMAIN: must differ from XMPP_DOMAIN (both are {d:?}); use a component domain such as \"sms.{d}\""
            ));
        }

        // Every reader that returned `None` recorded a problem, so with no
        // problems every value is present.
        let config = (|| {
            Some(Config {
                path: path.to_path_buf(),
                xmpp: XmppSettings {
                    domain: domain?,
                    data_domain: data_domain?,
                    component_jid: component_jid?,
                    secret: secret?,
                    host: xmpp_host?,
                    port: xmpp_port?,
                    fallback_dest: fallback_dest?,
                    use_alias: use_alias?,
                    receipts: receipts?,
                    call_notices: call_notices?,
                    ping_interval: ping_interval?,
                },
                goip: GoipSettings {
                    bind: goip_bind?,
                    port: goip_port?,
                    sms_mode: sms_mode?,
                    offline_after: offline_after?,
                    dedup_window: dedup_window?,
                    offline_wait: offline_wait?,
                    sms_timeout: sms_timeout?,
                    ussd_timeout: ussd_timeout?,
                },
                store: StoreSettings {
                    timeout: db_timeout?,
                    write_wait: write_wait?,
                    spool_file: match spool_file? {
                        Some(file) => PathBuf::from(file),
                        None => default_spool_file(db.as_ref()?, path),
                    },
                },
                db: db?,
                log_days: log_days?,
                log_level: log_level?,
                country_code: country_code?,
                sms_join_wait: sms_join_wait?,
            })
        })();
        match config {
            Some(config) if r.problems.is_empty() => Ok((config, warnings)),
            _ => Err(ConfigError {
                path: path.to_path_buf(),
                problems: r.problems,
                warnings,
            }),
        }
    }

    /// The number rules these settings imply.
    pub fn number_rules(&self) -> NumberRules {
        // Validated when the file was read.
        NumberRules::new(self.country_code.as_deref()).unwrap_or_default()
    }

    /// The effective settings, one `KEY = value` per line, secrets masked:
    /// what `goippy --check` prints.
    pub fn effective_settings(&self) -> String {
        let x = &self.xmpp;
        let g = &self.goip;
        let mut lines: Vec<(&str, String)> = vec![
            ("XMPP_DOMAIN", quote(&x.domain)),
            ("XMPP_DATA_DOMAIN", quote(&x.data_domain)),
            ("XMPP_COMPONENT_JID", quote(&x.component_jid)),
            ("XMPP_COMPONENT_SECRET", quote(&x.secret.to_string())),
            ("XMPP_HOST", quote(&x.host)),
            ("XMPP_PORT", x.port.to_string()),
            (
                "XMPP_FALLBACK_DEST",
                x.fallback_dest
                    .as_deref()
                    .map(quote)
                    .unwrap_or_else(|| "(none)".into()),
            ),
            ("XMPP_USE_ALIAS", x.use_alias.to_string()),
            (
                "XMPP_RECEIPTS",
                quote(match x.receipts {
                    ReceiptPolicy::Delivered => "delivered",
                    ReceiptPolicy::Sent => "sent",
                }),
            ),
            ("XMPP_CALL_NOTICES", x.call_notices.to_string()),
            ("XMPP_PING_INTERVAL", x.ping_interval.as_secs().to_string()),
            ("GOIP_BIND", quote(&g.bind.to_string())),
            ("GOIP_PORT", g.port.to_string()),
            (
                "GOIP_SMS_MODE",
                quote(match g.sms_mode {
                    SmsMode::Session => "session",
                    SmsMode::Oneshot => "oneshot",
                }),
            ),
            ("GOIP_OFFLINE_AFTER", g.offline_after.as_secs().to_string()),
            ("GOIP_DEDUP_WINDOW", g.dedup_window.as_secs().to_string()),
            ("GOIP_OFFLINE_WAIT", g.offline_wait.as_secs().to_string()),
            ("GOIP_SMS_TIMEOUT", g.sms_timeout.as_secs().to_string()),
            ("GOIP_USSD_TIMEOUT", g.ussd_timeout.as_secs().to_string()),
            (
                "SMS_COUNTRY_CODE",
                self.country_code
                    .as_deref()
                    .map(quote)
                    .unwrap_or_else(|| "(none)".into()),
            ),
            ("SMS_JOIN_WAIT", self.sms_join_wait.as_secs().to_string()),
        ];
        match &self.db {
            DbSettings::Sqlite { file } => {
                lines.push(("DB_BACKEND", quote("sqlite")));
                lines.push(("DB_FILE", quote(&file.display().to_string())));
            }
            DbSettings::MySql {
                host,
                port,
                database,
                user,
                password,
                tls,
            } => {
                lines.push(("DB_BACKEND", quote("mysql")));
                lines.push(("DB_HOST", quote(host)));
                lines.push(("DB_PORT", port.to_string()));
                lines.push(("DB_BASE", quote(database)));
                lines.push(("DB_USER", quote(user)));
                lines.push(("DB_PASS", quote(&password.to_string())));
                let mode = quote(tls.mode.name());
                lines.push((
                    "DB_TLS",
                    match (tls.defaulted, is_this_host(host)) {
                        (false, _) => mode,
                        (true, true) => format!("{mode} (default for a server on this host)"),
                        (true, false) => format!("{mode} (default for a server on another host)"),
                    },
                ));
                lines.push((
                    "DB_TLS_CA",
                    tls.ca
                        .as_ref()
                        .map(|ca| quote(&ca.display().to_string()))
                        .unwrap_or_else(|| "(none: the system's CAs)".into()),
                ));
            }
        }
        lines.push(("DB_TIMEOUT", self.store.timeout.as_secs().to_string()));
        lines.push(("DB_WRITE_WAIT", self.store.write_wait.as_secs().to_string()));
        lines.push((
            "SPOOL_FILE",
            quote(&self.store.spool_file.display().to_string()),
        ));
        lines.push(("LOG_DAYS", self.log_days.to_string()));
        lines.push((
            "LOG_LEVEL",
            self.log_level
                .as_deref()
                .map(quote)
                .unwrap_or_else(|| "(default: info)".into()),
        ));
        lines
            .into_iter()
            .map(|(k, v)| format!("{k:<22} = {v}\n"))
            .collect()
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn unknown_key_warnings(table: &Table) -> Vec<ConfigWarning> {
    table
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| {
            let upper = k.to_ascii_uppercase();
            let nearest = KNOWN_KEYS
                .iter()
                .map(|known| (strsim::jaro_winkler(&upper, known), *known))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match nearest {
                Some((score, known)) if score > 0.8 => {
                    ConfigWarning(format!("unknown key {k} (ignored); did you mean {known}?"))
                }
                Some((_, known)) => ConfigWarning(format!(
                    "unknown key {k} (ignored); the nearest known key is {known}"
                )),
                None => ConfigWarning(format!("unknown key {k} (ignored)")),
            }
        })
        .collect()
}

/// Reads keys one by one, collecting problems instead of stopping at the first.
/// Each reader returns `None` when the key was missing or wrong (after
/// recording why), so the caller can assemble a `Config` only when all are present.
struct Reader<'a> {
    table: &'a Table,
    problems: Vec<String>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => format!("{other}"),
    }
}

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }

    fn problem(&mut self, key: &str, expected: &str, got: &Value) {
        // A secret of the wrong type is still a secret: name its type only.
        let got = if SECRET_KEYS.contains(&key) {
            format!("a {} (value hidden)", got.type_str())
        } else {
            describe(got)
        };
        self.problems
            .push(format!("{key}: expected {expected}, got {got}"));
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            None => {
                self.problems.push(format!("{key}: required, but missing"));
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(v) => {
                let v = v.clone();
                self.problem(key, "a non-empty string", &v);
                None
            }
        }
    }

    /// `Some(None)` when absent or empty, `None` when invalid.
    fn optional_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.get(key) {
            None => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s.trim().to_string())),
            Some(v) => {
                let v = v.clone();
                self.problem(key, "a string", &v);
                None
            }
        }
    }

    fn string_or(&mut self, key: &str, default: &str) -> Option<String> {
        self.optional_string(key)
            .map(|v| v.unwrap_or_else(|| default.to_string()))
    }

    fn domain(&mut self, key: &str, default: Option<&str>) -> Option<String> {
        let value = match (self.get(key), default) {
            (None, Some(d)) => return Some(d.to_string()),
            (None, None) => {
                self.problems.push(format!("{key}: required, but missing"));
                return None;
            }
            (Some(v), _) => v.clone(),
        };
        let Value::String(s) = &value else {
            self.problem(key, "a domain name such as \"example.org\"", &value);
            return None;
        };
        let d = s.trim().to_ascii_lowercase();
        let valid = !d.is_empty()
            && d.len() <= 253
            && !d.starts_with('.')
            && !d.ends_with('.')
            && !d.contains("..")
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if valid {
            Some(d)
        } else {
            self.problem(key, "a domain name such as \"example.org\"", &value);
            None
        }
    }

    fn optional_jid(&mut self, key: &str) -> Option<Option<String>> {
        match self.optional_string(key)? {
            None => Some(None),
            Some(s) => match split_jid(&s) {
                Some(p) if p.resource.is_none() && !s.contains(char::is_whitespace) => {
                    Some(Some(s))
                }
                _ => {
                    self.problem(
                        key,
                        "a bare JID such as \"0000@example.org\"",
                        &Value::String(s),
                    );
                    None
                }
            },
        }
    }

    /// Integers may be written bare or quoted (`GOIP_PORT = "44444"`).
    fn integer(&mut self, key: &str, default: Option<i64>, min: i64, max: i64) -> Option<i64> {
        self.integer_described(key, default, min, max, &format!("an integer {min}–{max}"))
    }

    fn integer_described(
        &mut self,
        key: &str,
        default: Option<i64>,
        min: i64,
        max: i64,
        expected: &str,
    ) -> Option<i64> {
        let value = match (self.get(key), default) {
            (None, Some(d)) => return Some(d),
            (None, None) => {
                self.problems.push(format!("{key}: required, but missing"));
                return None;
            }
            (Some(v), _) => v.clone(),
        };
        let n = match &value {
            Value::Integer(n) => Some(*n),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.problem(key, expected, &value);
                None
            }
        }
    }

    fn port(&mut self, key: &str, default: i64) -> Option<u16> {
        self.integer(key, Some(default), 1, 65535).map(|p| p as u16)
    }

    fn seconds(&mut self, key: &str, default: u64, min: u64, max: u64) -> Option<Duration> {
        let expected = format!("a number of seconds {min}–{max}");
        self.integer_described(key, Some(default as i64), min as i64, max as i64, &expected)
            .map(|n| Duration::from_secs(n as u64))
    }

    fn boolean(&mut self, key: &str, default: bool) -> Option<bool> {
        match self.get(key) {
            None => Some(default),
            Some(Value::Boolean(b)) => Some(*b),
            Some(Value::Integer(0)) => Some(false),
            Some(Value::Integer(1)) => Some(true),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => {
                    let v = Value::String(s.clone());
                    self.problem(key, "true or false", &v);
                    None
                }
            },
            Some(v) => {
                let v = v.clone();
                self.problem(key, "true or false", &v);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, key: &str, default: &str, options: &[(&str, T)]) -> Option<T> {
        let value = self.get(key).cloned();
        let text = match &value {
            None => default.to_string(),
            Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
            Some(_) => String::new(),
        };
        match options.iter().find(|(name, _)| *name == text) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                let expected = format!("one of {}", names.join(", "));
                let got = value.unwrap_or(Value::String(text));
                self.problem(key, &expected, &got);
                None
            }
        }
    }

    fn ip(&mut self, key: &str, default: &str) -> Option<IpAddr> {
        let value = self
            .get(key)
            .cloned()
            .unwrap_or_else(|| Value::String(default.to_string()));
        match &value {
            Value::String(s) => match s.trim().parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.problem(key, "an IP address such as \"0.0.0.0\" or \"::\"", &value);
                    None
                }
            },
            _ => {
                self.problem(key, "an IP address such as \"0.0.0.0\" or \"::\"", &value);
                None
            }
        }
    }

    fn country_code(&mut self, key: &str) -> Option<Option<String>> {
        let value = match self.get(key) {
            None => return Some(None),
            Some(Value::Integer(n)) => Value::String(n.to_string()),
            Some(v) => v.clone(),
        };
        let Value::String(s) = &value else {
            self.problem(key, "a country calling code such as \"372\"", &value);
            return None;
        };
        match NumberRules::new(Some(s)) {
            Ok(rules) => Some(rules.country_code().map(str::to_string)),
            Err(_) => {
                self.problem(key, "a country calling code such as \"372\"", &value);
                None
            }
        }
    }

    fn db(&mut self) -> Option<DbSettings> {
        let backend = self.choice(
            "DB_BACKEND",
            "sqlite",
            &[("sqlite", true), ("mysql", false)],
        )?;
        if backend {
            let file = self.string_or("DB_FILE", DEFAULT_DB_FILE)?;
            return Some(DbSettings::Sqlite {
                file: PathBuf::from(file),
            });
        }
        let host = self.string_or("DB_HOST", "localhost");
        let port = self.port("DB_PORT", 3306);
        let tls = self.db_tls(host.as_deref());
        let database = self.required_string("DB_BASE");
        let user = self.required_string("DB_USER");
        let password = match self.get("DB_PASS") {
            None => {
                self.problems
                    .push("DB_PASS: required, but missing".to_string());
                None
            }
            Some(Value::String(s)) => Some(Secret(s.clone())),
            Some(v) => {
                let v = v.clone();
                self.problem("DB_PASS", "a string", &v);
                None
            }
        };
        Some(DbSettings::MySql {
            host: host?,
            port: port?,
            database: database?,
            user: user?,
            password: password?,
            tls: tls?,
        })
    }
}

/// The commented sample configuration `goippy --sample` writes. It uses
/// SQLite, the embedded default, so it works without a database server.
pub fn sample() -> &'static str {
    SAMPLE
}

const SAMPLE: &str = r##"# goippy configuration
#
# One `KEY = value` per line; strings in double quotes, numbers bare.
# Check it with:  goippy --check /etc/goippy.conf
# Keys marked (required) have no default; every other line shows its default.

# --- XMPP -----------------------------------------------------------------

# The users' domain: the Prosody VirtualHost whose users may send SMS (required).
# Only users whose localpart is a provisioned, enabled extension may send.
XMPP_DOMAIN            = "example.org"

# The domain of the phone-number contacts: SMS from +37255512345 arrive from
# +37255512345@XMPP_DATA_DOMAIN (required). It must be the component's domain:
# Prosody refuses stanzas a component sends from any other domain.
XMPP_DATA_DOMAIN       = "sms.example.org"

# The component, exactly as in Prosody's `Component "sms.example.org"` line,
# and its `component_secret` (required). Defaults to XMPP_DATA_DOMAIN.
# "change-me" is a placeholder (goippy --check warns about it): choose your
# own, e.g. with `openssl rand -hex 16`, and set the same in Prosody.
XMPP_COMPONENT_JID     = "sms.example.org"
XMPP_COMPONENT_SECRET  = "change-me"

# Where Prosody listens for components (its `component_ports`).
XMPP_HOST              = "127.0.0.1"
XMPP_PORT              = 5347

# Who receives SMS that arrive on a GoIP channel no extension is mapped to.
# Unset: such SMS are stored and wait until a mapping exists.
# XMPP_FALLBACK_DEST   = "0000@example.org"

# Answer "add contact" prompts (XEP-0100) with +N@XMPP_DOMAIN, the form
# Prosody's mod_sms_alias routes. Set to false without mod_sms_alias.
XMPP_USE_ALIAS         = true

# When a sender gets a delivery receipt (XEP-0184): "delivered" when the
# carrier confirms delivery to the handset, or "sent" when the GoIP sent it.
XMPP_RECEIPTS          = "delivered"

# Also tell the user about calls (RECORD/HANGUP), not only log them.
XMPP_CALL_NOTICES      = false

# Seconds between keepalive pings to Prosody.
XMPP_PING_INTERVAL     = 30

# --- GoIP -----------------------------------------------------------------

# Address and UDP port the GoIPs send to: on the GoIP, Configurations → SMS →
# SMS Server: Enable, Server IP = this host, Port = GOIP_PORT, and per channel
# the SMS Client ID and Password you register with `goippy --add`.
GOIP_BIND              = "0.0.0.0"
GOIP_PORT              = 44444

# "session" (the vendor protocol: MSG/PASSWORD/SEND/DONE, with results and
# delivery reports) or "oneshot" (the legacy single SMS datagram, for firmware
# that may answer it; no results, delivery reports cannot be matched).
GOIP_SMS_MODE          = "session"

# Seconds without a keepalive after which a channel is offline (GoIPs send one every 30 s).
GOIP_OFFLINE_AFTER     = 90

# Seconds a received message is remembered, so that retransmissions are acked but not delivered twice.
GOIP_DEDUP_WINDOW      = 600

# Seconds an outbound job waits for an offline channel before it fails.
GOIP_OFFLINE_WAIT      = 300

# Seconds an SMS may take, from its SEND to its OK or ERROR, before it is
# reported as "unknown outcome".
# It is never re-sent automatically: a second SEND can mean a second SMS.
GOIP_SMS_TIMEOUT       = 180

# Seconds to wait for a USSD answer before asking once more.
GOIP_USSD_TIMEOUT      = 30

# Country calling code for numbers written nationally (0555… → +372555…).
# SMS_COUNTRY_CODE     = "372"

# Seconds an inbound SMS of exactly one segment's length (153 GSM-7
# characters, 67 in UCS-2, or one less before a € or an emoji) waits for its
# continuation. Some GoIP firmware hands each part of a long SMS over as an
# SMS of its own; such parts are joined into one message. Everything else is
# delivered at once. 0 delivers every part as it comes.
SMS_JOIN_WAIT          = 10

# --- Database -------------------------------------------------------------

# "sqlite" (embedded, the default) or "mysql" (MySQL/MariaDB, for production).
DB_BACKEND             = "sqlite"
DB_FILE                = "/var/lib/goippy/goippy.db"

# For DB_BACKEND = "mysql":
# DB_HOST              = "localhost"
# DB_PORT              = 3306
# DB_BASE              = "goippy"
# DB_USER              = "goippy"
# DB_PASS              = "secret"
#
# TLS to the server: "off" (clear text), "preferred" (TLS when the server
# offers it, certificate not checked), "required" (TLS or no connection,
# certificate not checked), "verify-ca" (certificate signed by a trusted CA)
# or "verify-full" (signed by a trusted CA and issued for DB_HOST). Default:
# "off" for a server on this host (localhost, 127.0.0.1, ::1), "preferred"
# for another host; goippy warns at start-up when it talks to another host
# in clear text. Use "verify-full" across any network you do not control.
# DB_TLS               = "verify-full"
# The CA (PEM) that signed the server's certificate, trusted besides the
# system's (/etc/ssl/certs). Given alone, it means DB_TLS = "verify-full".
# DB_TLS_CA            = "/etc/mysql/ca.pem"

# Seconds any database statement, write or connection attempt may take before
# it counts as failed (a frozen or unreachable server is noticed this fast,
# and retried with a growing pause).
DB_TIMEOUT             = 10

# Seconds a write waits for the database before the spool keeps it: a GoIP
# then still gets its ack (never later than 1 s), a user's SMS is accepted
# (the user is told it waits), and both go into the database, in order and
# once, when it is back — also after a restart of goippy.
DB_WRITE_WAIT          = 1

# The spool: a small local SQLite file that keeps what the database does not
# take in time (and the gateways, so goippy can start while the database is
# down). It keeps 8 MiB of its own space in reserve for a full disk.
# Default: next to DB_FILE (goippy.spool.db); with MySQL, in /var/lib/goippy
# under the configuration file's name.
# SPOOL_FILE           = "/var/lib/goippy/goippy.spool.db"

# Days of SMS/USSD history to keep in goippy_log; 0 keeps it forever, and
# so does a configuration without this line (the one value here that is not
# the default). Undelivered messages are never deleted.
LOG_DAYS               = 3

# Log filter when neither RUST_LOG nor -v/-q is given: "info", "debug"
# (goippy's own debug lines; the libraries stay at info), or a tracing
# filter such as "info,sqlx=debug" (taken as written).
# LOG_LEVEL            = "info"
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        Config::parse(text, Path::new("/etc/goippy.conf"))
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.problems,
        }
    }

    const MINIMAL: &str = r#"
XMPP_DOMAIN = "example.org"
XMPP_DATA_DOMAIN = "sms.example.org"
XMPP_COMPONENT_SECRET = "s3cret"
"#;

    #[test]
    fn the_sample_is_valid_and_uses_sqlite() {
        let (cfg, warnings) = parse(sample()).expect("sample parses");
        // Only that its secret is the placeholder the README's Prosody
        // example shares.
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .0
                .starts_with("XMPP_COMPONENT_SECRET is still the sample's placeholder"),
            "{warnings:?}"
        );
        assert_eq!(cfg.xmpp.secret.expose(), SAMPLE_COMPONENT_SECRET);
        assert_eq!(
            cfg.db,
            DbSettings::Sqlite {
                file: DEFAULT_DB_FILE.into()
            }
        );
        assert_eq!(cfg.goip.port, 44444);
        assert_eq!(cfg.xmpp.port, 5347);
        assert_eq!(cfg.log_days, 3);
    }

    #[test]
    fn every_known_key_is_documented_in_the_sample() {
        for key in KNOWN_KEYS {
            assert!(sample().contains(key), "{key} is missing from the sample");
        }
    }

    #[test]
    fn defaults() {
        let (cfg, _) = parse(MINIMAL).expect("minimal config");
        assert_eq!(cfg.xmpp.component_jid, "sms.example.org");
        assert_eq!(cfg.xmpp.host, "127.0.0.1");
        assert_eq!(cfg.goip.bind.to_string(), "0.0.0.0");
        assert_eq!(cfg.goip.sms_mode, SmsMode::Session);
        assert_eq!(cfg.goip.offline_after, Duration::from_secs(90));
        assert_eq!(cfg.goip.dedup_window, Duration::from_secs(600));
        assert_eq!(cfg.log_days, 0);
        assert_eq!(cfg.xmpp.fallback_dest, None);
        assert_eq!(cfg.xmpp.receipts, ReceiptPolicy::Delivered);
    }

    #[test]
    fn bad_port_names_the_key_and_the_value() {
        let p = problems(&format!("{MINIMAL}GOIP_PORT = \"abc\"\n"));
        assert_eq!(
            p,
            vec![r#"GOIP_PORT: expected an integer 1–65535, got "abc""#.to_string()]
        );
        let p = problems(&format!("{MINIMAL}XMPP_PORT = 70000\n"));
        assert_eq!(
            p,
            vec!["XMPP_PORT: expected an integer 1–65535, got 70000".to_string()]
        );
        // Quoted digits are fine.
        let (cfg, _) = parse(&format!("{MINIMAL}GOIP_PORT = \"4444\"\n")).expect("quoted port");
        assert_eq!(cfg.goip.port, 4444);
    }

    #[test]
    fn missing_required_keys_are_all_reported() {
        let p = problems("LOG_DAYS = 1\n");
        assert!(
            p.contains(&"XMPP_DOMAIN: required, but missing".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"XMPP_DATA_DOMAIN: required, but missing".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"XMPP_COMPONENT_SECRET: required, but missing".to_string()),
            "{p:?}"
        );
    }

    #[test]
    fn unknown_keys_warn_with_the_nearest_known_key() {
        let (_, w) = parse(&format!("{MINIMAL}GOIP_PROT = 1\nFOO = 1\n")).expect("warnings only");
        assert_eq!(
            w,
            vec![
                ConfigWarning(
                    "unknown key FOO (ignored); the nearest known key is SPOOL_FILE".into()
                ),
                ConfigWarning("unknown key GOIP_PROT (ignored); did you mean GOIP_PORT?".into()),
            ]
        );
    }

    #[test]
    fn warnings_are_kept_beside_errors() {
        // A misspelt key is why the required one is missing: say both.
        let text = "XMPP_DOMIAN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
                    XMPP_COMPONENT_SECRET = \"s3cret\"\n";
        let e = parse(text).expect_err("XMPP_DOMAIN is missing");
        assert_eq!(e.problems, vec!["XMPP_DOMAIN: required, but missing"]);
        assert_eq!(
            e.warnings,
            vec![ConfigWarning(
                "unknown key XMPP_DOMIAN (ignored); did you mean XMPP_DOMAIN?".into()
            )]
        );
        assert_eq!(
            e.to_string(),
            "/etc/goippy.conf: XMPP_DOMAIN: required, but missing\n  \
             warning: unknown key XMPP_DOMIAN (ignored); did you mean XMPP_DOMAIN?"
        );
    }

    #[test]
    fn a_placeholder_secret_is_warned_about_without_showing_it() {
        for placeholder in ["change-me", "replace_me", " CHANGEME "] {
            let text = MINIMAL.replace("s3cret", placeholder);
            let (_, w) = parse(&text).expect("usable");
            assert_eq!(w.len(), 1, "{placeholder}: {w:?}");
            assert!(
                w[0].0
                    .starts_with("XMPP_COMPONENT_SECRET is still the sample's placeholder"),
                "{w:?}"
            );
            assert!(!w[0].0.contains(placeholder.trim()), "{w:?}");
        }
        let (_, w) = parse(MINIMAL).expect("usable");
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn syntax_errors_name_the_file_and_the_line() {
        let e = parse("# a comment\nXMPP_DOMAIN = example.org\n").expect_err("unquoted string");
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "/etc/goippy.conf: not a valid configuration file: line 2, column 15: "
            ),
            "{msg}"
        );
    }

    #[test]
    fn a_secret_with_bad_syntax_or_the_wrong_type_is_not_echoed() {
        let base = "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
                    DB_BACKEND = \"mysql\"\nDB_BASE = \"g\"\nDB_USER = \"g\"\n";
        let cases = [
            (
                "XMPP_COMPONENT_SECRET",
                "DB_PASS = \"p\"\n",
                "a non-empty string",
            ),
            ("DB_PASS", "XMPP_COMPONENT_SECRET = \"s\"\n", "a string"),
        ];
        for (key, other, expected) in cases {
            let e = parse(&format!("{base}{other}{key} = hunter2secret\n"))
                .expect_err("an unquoted value");
            assert!(!e.to_string().contains("hunter2"), "{e}");
            assert!(e.to_string().contains(": line 7, column "), "{e}");

            let p = problems(&format!("{base}{other}{key} = 918273645\n"));
            assert_eq!(
                p,
                vec![format!(
                    "{key}: expected {expected}, got a integer (value hidden)"
                )]
            );
        }
    }

    #[test]
    fn mysql_needs_its_keys_and_hides_the_password() {
        let p = problems(&format!("{MINIMAL}DB_BACKEND = \"mysql\"\n"));
        assert!(
            p.contains(&"DB_BASE: required, but missing".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"DB_PASS: required, but missing".to_string()),
            "{p:?}"
        );
        let text = format!(
            "{MINIMAL}DB_BACKEND = \"mysql\"\nDB_BASE = \"goippy\"\nDB_USER = \"goippy\"\nDB_PASS = \"hunter2\"\n"
        );
        let (cfg, _) = parse(&text).expect("mysql config");
        let shown = format!("{cfg:?}\n{}", cfg.effective_settings());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("DB_PASS                = \"********\""),
            "{shown}"
        );
    }

    #[test]
    fn choices_and_domains() {
        let p = problems(&format!(
            "{MINIMAL}GOIP_SMS_MODE = \"fast\"\nDB_BACKEND = \"postgres\"\n"
        ));
        assert!(
            p.contains(
                &r#"GOIP_SMS_MODE: expected one of "session", "oneshot", got "fast""#.to_string()
            ),
            "{p:?}"
        );
        assert!(
            p.contains(
                &r#"DB_BACKEND: expected one of "sqlite", "mysql", got "postgres""#.to_string()
            ),
            "{p:?}"
        );
        let p = problems(
            "XMPP_DOMAIN = \"exa mple\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\nXMPP_COMPONENT_SECRET = \"x\"\n",
        );
        assert_eq!(
            p,
            vec![
                r#"XMPP_DOMAIN: expected a domain name such as "example.org", got "exa mple""#
                    .to_string()
            ]
        );
        let p = problems(&format!(
            "{MINIMAL}XMPP_COMPONENT_JID = \"gw.example.org\"\n"
        ));
        assert!(
            p[0].starts_with(
                "XMPP_DATA_DOMAIN: expected the same domain as XMPP_COMPONENT_JID (\"gw.example.org\")"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn durations_say_seconds() {
        let p = problems(&format!("{MINIMAL}GOIP_OFFLINE_AFTER = 5\n"));
        assert_eq!(
            p,
            vec!["GOIP_OFFLINE_AFTER: expected a number of seconds 35–3600, got 5".to_string()]
        );
    }

    #[test]
    fn the_original_readme_example_parses_unchanged() {
        let original = r#"XMPP_DOMAIN            = "example.org"
XMPP_DATA_DOMAIN       = "sms.example.org"

XMPP_COMPONENT_JID     = "sms.example.org"
XMPP_COMPONENT_SECRET  = "replace_me"
XMPP_HOST              = "127.0.0.1"
XMPP_PORT              = 5347

GOIP_BIND              = "0.0.0.0"
GOIP_PORT              = 44444

DB_BACKEND             = "mysql"
DB_HOST                = "localhost"
DB_BASE                = "goippy"
DB_USER                = "goippy"
DB_PASS                = "secret"

LOG_DAYS               = 3
"#;
        let (cfg, w) = parse(original).expect("original example");
        // Its secret is the original README's placeholder.
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].0.contains("placeholder"), "{w:?}");
        assert!(
            matches!(cfg.db, DbSettings::MySql { ref host, port: 3306, .. } if host == "localhost")
        );
        let extended = format!(
            "{original}XMPP_FALLBACK_DEST = \"0000@example.org\"\nDB_FILE = \"/var/lib/goippy/goippy.db\"\n"
        );
        let (cfg, w) = parse(&extended).expect("with the sample's extra keys");
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(cfg.xmpp.fallback_dest.as_deref(), Some("0000@example.org"));
    }

    #[test]
    fn fallback_dest_must_be_a_bare_jid() {
        let p = problems(&format!("{MINIMAL}XMPP_FALLBACK_DEST = \"a@b/c\"\n"));
        assert_eq!(p, vec![r#"XMPP_FALLBACK_DEST: expected a bare JID such as "0000@example.org", got "a@b/c""#.to_string()]);
    }

    #[test]
    fn country_code() {
        let (cfg, _) = parse(&format!("{MINIMAL}SMS_COUNTRY_CODE = 372\n")).expect("integer cc");
        assert_eq!(cfg.number_rules().country_code(), Some("372"));
        let p = problems(&format!("{MINIMAL}SMS_COUNTRY_CODE = \"0372\"\n"));
        assert_eq!(
            p,
            vec![
                r#"SMS_COUNTRY_CODE: expected a country calling code such as "372", got "0372""#
                    .to_string()
            ]
        );
    }

    #[test]
    fn sms_join_wait() {
        let (cfg, _) = parse(MINIMAL).expect("minimal config");
        assert_eq!(cfg.sms_join_wait, Duration::from_secs(10));
        assert!(
            cfg.effective_settings()
                .contains("SMS_JOIN_WAIT          = 10\n")
        );
        let (cfg, _) = parse(&format!("{MINIMAL}SMS_JOIN_WAIT = 0\n")).expect("off");
        assert_eq!(cfg.sms_join_wait, Duration::ZERO);
        let p = problems(&format!("{MINIMAL}SMS_JOIN_WAIT = 600\n"));
        assert_eq!(
            p,
            ["SMS_JOIN_WAIT: expected a number of seconds 0–120, got 600"]
        );
    }
}
