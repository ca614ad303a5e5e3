//! goippy's configuration file: `KEY = "value"` lines with `#` comments.
//!
//! Existing goippy installations already have such files; the format happens
//! to be valid TOML, so the `toml` crate reads it and this module only turns
//! the table into typed settings.
//!
//! COMPAT: the format and key names are the original goippy's, so an
//! existing `/etc/goippy.conf` loads unchanged (its README example is a test
//! here); they stay as long as such files are in use, which is for good.
//!
//! Every key is read by one line of
//! [`Config::from_table`] so that an error can name the file, the key and
//! what was expected (`GOIP_PORT: expected an integer 1–65535, got "abc"`),
//! and all problems of a file are reported at once rather than one per run.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug` and `Display` never show
//! the value, so neither logs nor `--check` output can leak them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Table;

use crate::number::NumberRules;

mod alerts;
mod db_tls;
pub mod gateway;
mod reader;
mod sample;

/// Passwords and secrets in the settings (defined in [`crate::util`]).
pub use crate::secret::Secret;
pub use alerts::{AlertSettings, Amount, BalanceCheck};
pub use db_tls::{DbTls, DbTlsMode, is_this_host};
use reader::Reader;
pub use sample::SAMPLE;

/// Where `goippy` looks for its configuration by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/goippy.conf";
/// Where `goippy --sample` writes by default.
pub const DEFAULT_SAMPLE_PATH: &str = "/etc/goippy.conf.sample";
/// The SQLite file used when `DB_FILE` is not set.
pub const DEFAULT_DB_FILE: &str = "/var/lib/goippy/goippy.db";

/// How outbound SMS are handed to the GoIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsMode {
    /// The vendor protocol: MSG, PASSWORD, SEND, DONE. Results and delivery
    /// reports can be matched to the message.
    Session,
    /// The legacy single `SMS <stamp> 1 <pass> <dest> <text>` datagram, sent
    /// once and never answered; kept for firmware that may accept it.
    // COMPAT: what the original goippy sent (`GOIP_SMS_MODE = "oneshot"`), for
    // firmware without the session; it can go once no installation uses it.
    Oneshot,
}

impl SmsMode {
    /// `GOIP_SMS_MODE`'s values.
    const NAMES: &[(&str, SmsMode)] =
        &[("session", SmsMode::Session), ("oneshot", SmsMode::Oneshot)];
}

/// When the sender of an outbound SMS gets its XEP-0184 receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptPolicy {
    /// When the carrier reports delivery to the handset (a DELIVER with state 0).
    Delivered,
    /// As soon as the GoIP reports the SMS sent.
    Sent,
}

impl ReceiptPolicy {
    /// `XMPP_RECEIPTS`'s values.
    const NAMES: &[(&str, ReceiptPolicy)] = &[
        ("delivered", ReceiptPolicy::Delivered),
        ("sent", ReceiptPolicy::Sent),
    ];
}

/// The name of `value` in a key's table of `names`, as the configuration
/// writes it.
fn name_of<T: PartialEq>(names: &[(&'static str, T)], value: T) -> &'static str {
    names
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("", |(n, _)| n)
}

/// The database goippy keeps its state and history in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSettings {
    Sqlite { file: PathBuf },
    MySql(MySqlSettings),
}

/// Where and as whom to connect to a MySQL/MariaDB server (`DB_HOST`,
/// `DB_PORT`, `DB_BASE`, `DB_USER`, `DB_PASS`, `DB_TLS`, `DB_TLS_CA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlSettings {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Secret,
    pub tls: DbTls,
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

/// The state directory goippy's files live in by default: what the units'
/// `StateDirectory=goippy` stands for.
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
        DbSettings::MySql(_) => {
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
    /// `ADMIN_JIDS`: bare JIDs (lowercase) that may run the admin ad-hoc
    /// commands (list gateways, enable/disable a line), and who get every
    /// line's alerts; empty: nobody.
    pub admin_jids: Vec<String>,
    /// `METRICS_LISTEN`: where `/metrics` and `/health` are served over
    /// HTTP; `None` (the default) serves nothing.
    pub metrics_listen: Option<SocketAddr>,
    /// `ALERTS`, `ALERT_*`, `BALANCE_*`: line alerts (see `bridge/alerts/`).
    pub alerts: AlertSettings,
}

/// A configuration that cannot be used, with every problem found in it,
/// and the warnings (what is worth telling the operator but does not stop
/// goippy) found beside them: an unknown key is often the reason
/// a required one is missing (`XMPP_DOMIAN`), so they are never dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_problems(.path, .problems, .warnings))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
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

fn render_problems(path: &Path, problems: &[String], warnings: &[String]) -> String {
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
        s.push_str(w);
    }
    s
}

/// The component secret `--sample` writes, and the README's Prosody
/// example sets: the two agree, so a copied setup connects, and
/// `--check` warns that it is a placeholder.
pub const SAMPLE_COMPONENT_SECRET: &str = "change-me";

/// Placeholders a component secret is left at: the sample's, and the
/// original goippy's (`replace_me`) with their usual spellings.
// COMPAT: the `replace_me` spellings serve configs copied from the original
// goippy's README; they can go when no such config is left, harmlessly late.
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
    "ADMIN_JIDS",
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
    "METRICS_LISTEN",
    "ALERTS",
    "ALERT_HOLD",
    "ALERT_SIGNAL_BELOW",
    "BALANCE_USSD",
    "BALANCE_REGEX",
    "BALANCE_BELOW",
    "BALANCE_EVERY",
];

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::one(path, format!("cannot read the configuration file: {e}"))
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a configuration file; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
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

    fn from_table(table: &Table, path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let mut r = Reader::new(table);
        let mut warnings = unknown_key_warnings(table);

        // Built in the order the keys are read (and their problems listed);
        // a key that was missing or wrong reads as its default, and a domain
        // as empty.
        let domain = r.domain("XMPP_DOMAIN", None);
        let data_domain = r.domain("XMPP_DATA_DOMAIN", None);
        let jid_default = Some(data_domain.as_str()).filter(|d| !d.is_empty());
        let component_jid = r.domain("XMPP_COMPONENT_JID", jid_default);
        let xmpp = XmppSettings {
            domain,
            data_domain,
            component_jid,
            secret: Secret::new(r.required_string("XMPP_COMPONENT_SECRET")),
            host: r.string_or("XMPP_HOST", "127.0.0.1"),
            port: r.port("XMPP_PORT", 5347),
            fallback_dest: r.optional_jid("XMPP_FALLBACK_DEST"),
            use_alias: r.boolean("XMPP_USE_ALIAS", true),
            receipts: r.choice(
                "XMPP_RECEIPTS",
                ReceiptPolicy::Delivered,
                ReceiptPolicy::NAMES,
            ),
            call_notices: r.boolean("XMPP_CALL_NOTICES", false),
            ping_interval: r.seconds("XMPP_PING_INTERVAL", 30, 5, 600),
        };
        let goip = GoipSettings {
            bind: r.ip("GOIP_BIND", Ipv4Addr::UNSPECIFIED.into()),
            port: r.port("GOIP_PORT", crate::goip::DEFAULT_SERVER_PORT),
            sms_mode: r.choice("GOIP_SMS_MODE", SmsMode::Session, SmsMode::NAMES),
            offline_after: r.seconds("GOIP_OFFLINE_AFTER", 90, 35, 3600),
            dedup_window: r.seconds("GOIP_DEDUP_WINDOW", 600, 15, 86_400),
            offline_wait: r.seconds("GOIP_OFFLINE_WAIT", 300, 0, 86_400),
            sms_timeout: r.seconds("GOIP_SMS_TIMEOUT", 180, 65, 3600),
            ussd_timeout: r.seconds("GOIP_USSD_TIMEOUT", 30, 10, 300),
        };
        let country_code = r.country_code("SMS_COUNTRY_CODE");
        let sms_join_wait = r.seconds("SMS_JOIN_WAIT", 10, 0, 120);
        let admin_jids = r.jid_list("ADMIN_JIDS");
        let db = r.db();
        let store = StoreSettings {
            timeout: r.seconds("DB_TIMEOUT", 10, 1, 300),
            write_wait: r.seconds("DB_WRITE_WAIT", 1, 1, 60),
            spool_file: match r.optional_string("SPOOL_FILE") {
                Some(file) => PathBuf::from(file),
                None => default_spool_file(&db, path),
            },
        };
        let config = Config {
            path: path.to_path_buf(),
            xmpp,
            goip,
            db,
            store,
            log_days: r.integer("LOG_DAYS", 0, 0, 36_500, "an integer 0–36500") as u32,
            log_level: r.optional_string("LOG_LEVEL"),
            country_code,
            sms_join_wait,
            admin_jids,
            metrics_listen: r.optional_listen("METRICS_LISTEN"),
            alerts: alerts::read(&mut r),
        };

        if is_placeholder_secret(&config.xmpp.secret) {
            warnings.push(
                "XMPP_COMPONENT_SECRET is still the sample's placeholder: whoever reaches Prosody's \
                 component port could connect as the SMS gateway. Choose a secret of your own \
                 (for example `openssl rand -hex 16`), and set the same as component_secret \
                 in Prosody's Component section"
                    .into(),
            );
        }
        if let Some(addr) = config.metrics_listen
            && !addr.ip().is_loopback()
        {
            warnings.push(format!(
                "METRICS_LISTEN {addr} is reachable from other hosts, and /metrics and /health \
                 have no authentication: allow only your Prometheus server in the firewall, or \
                 listen on 127.0.0.1"
            ));
        }
        // Cross-key rules, only when the keys themselves were fine (a
        // domain that was not is empty).
        let x = &config.xmpp;
        let (d, c, jid) = (&x.domain, &x.data_domain, &x.component_jid);
        if !c.is_empty() && !jid.is_empty() && c != jid {
            r.problems.push(format!(
                "XMPP_DATA_DOMAIN: expected the same domain as XMPP_COMPONENT_JID ({jid:?}), got {c:?} \
                 (Prosody closes the stream of a component that sends from any other domain)"
            ));
        }
        if !d.is_empty() && d == c {
            r.problems.push(format!(
                "XMPP_DATA_DOMAIN: must differ from XMPP_DOMAIN (both are {d:?}); use a component domain such as \"sms.{d}\""
            ));
        }
        if !r.problems.is_empty() {
            return Err(ConfigError {
                path: path.to_path_buf(),
                problems: r.problems,
                warnings,
            });
        }
        Ok((config, warnings))
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
                quote_or(x.fallback_dest.as_ref(), "(none)"),
            ),
            ("XMPP_USE_ALIAS", x.use_alias.to_string()),
            (
                "XMPP_RECEIPTS",
                quote(name_of(ReceiptPolicy::NAMES, x.receipts)),
            ),
            ("XMPP_CALL_NOTICES", x.call_notices.to_string()),
            ("XMPP_PING_INTERVAL", x.ping_interval.as_secs().to_string()),
            ("GOIP_BIND", quote(&g.bind.to_string())),
            ("GOIP_PORT", g.port.to_string()),
            ("GOIP_SMS_MODE", quote(name_of(SmsMode::NAMES, g.sms_mode))),
            ("GOIP_OFFLINE_AFTER", g.offline_after.as_secs().to_string()),
            ("GOIP_DEDUP_WINDOW", g.dedup_window.as_secs().to_string()),
            ("GOIP_OFFLINE_WAIT", g.offline_wait.as_secs().to_string()),
            ("GOIP_SMS_TIMEOUT", g.sms_timeout.as_secs().to_string()),
            ("GOIP_USSD_TIMEOUT", g.ussd_timeout.as_secs().to_string()),
            (
                "SMS_COUNTRY_CODE",
                quote_or(self.country_code.as_ref(), "(none)"),
            ),
            ("SMS_JOIN_WAIT", self.sms_join_wait.as_secs().to_string()),
            (
                "ADMIN_JIDS",
                if self.admin_jids.is_empty() {
                    "(none)".into()
                } else {
                    quote(&self.admin_jids.join(", "))
                },
            ),
        ];
        match &self.db {
            DbSettings::Sqlite { file } => {
                lines.push(("DB_BACKEND", quote("sqlite")));
                lines.push(("DB_FILE", quote(&file.display().to_string())));
            }
            DbSettings::MySql(my) => {
                let tls = &my.tls;
                lines.push(("DB_BACKEND", quote("mysql")));
                lines.push(("DB_HOST", quote(&my.host)));
                lines.push(("DB_PORT", my.port.to_string()));
                lines.push(("DB_BASE", quote(&my.database)));
                lines.push(("DB_USER", quote(&my.user)));
                lines.push(("DB_PASS", quote(&my.password.to_string())));
                let mode = quote(tls.mode.name());
                lines.push((
                    "DB_TLS",
                    match (tls.defaulted, is_this_host(&my.host)) {
                        (false, _) => mode,
                        (true, true) => format!("{mode} (default for a server on this host)"),
                        (true, false) => format!("{mode} (default for a server on another host)"),
                    },
                ));
                let ca = tls.ca.as_ref().map(|ca| ca.display());
                lines.push(("DB_TLS_CA", quote_or(ca, "(none: the system's CAs)")));
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
            quote_or(self.log_level.as_ref(), "(default: info)"),
        ));
        let no_metrics = "(none: no metrics or health endpoint)";
        lines.push(("METRICS_LISTEN", quote_or(self.metrics_listen, no_metrics)));
        let a = &self.alerts;
        lines.push(("ALERTS", a.enabled.to_string()));
        lines.push(("ALERT_HOLD", a.hold.as_secs().to_string()));
        lines.push((
            "ALERT_SIGNAL_BELOW",
            a.signal_below
                .map(|c| c.to_string())
                .unwrap_or_else(|| "(off)".into()),
        ));
        match &a.balance {
            None => lines.push(("BALANCE_USSD", "(off)".into())),
            Some(b) => {
                lines.push(("BALANCE_USSD", quote(&b.code)));
                lines.push(("BALANCE_REGEX", quote(b.regex.as_str())));
                lines.push(("BALANCE_BELOW", quote(&b.below.to_string())));
                lines.push(("BALANCE_EVERY", b.every.as_secs().to_string()));
            }
        }
        lines
            .into_iter()
            .map(|(k, v)| format!("{k:<22} = {v}\n"))
            .collect()
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// `value` quoted, or what its absence means.
fn quote_or(value: Option<impl fmt::Display>, absent: &str) -> String {
    value.map_or_else(|| absent.to_owned(), |v| quote(&v.to_string()))
}

fn unknown_key_warnings(table: &Table) -> Vec<String> {
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
                    format!("unknown key {k} (ignored); did you mean {known}?")
                }
                Some((_, known)) => {
                    format!("unknown key {k} (ignored); the nearest known key is {known}")
                }
                None => format!("unknown key {k} (ignored)"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
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
        let (cfg, warnings) = parse(SAMPLE).expect("sample parses");
        // Only that its secret is the placeholder the README's Prosody
        // example shares.
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("XMPP_COMPONENT_SECRET is still the sample's placeholder"),
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
            assert!(SAMPLE.contains(key), "{key} is missing from the sample");
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
                "unknown key FOO (ignored); the nearest known key is SPOOL_FILE",
                "unknown key GOIP_PROT (ignored); did you mean GOIP_PORT?",
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
            vec!["unknown key XMPP_DOMIAN (ignored); did you mean XMPP_DOMAIN?"]
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
                w[0].starts_with("XMPP_COMPONENT_SECRET is still the sample's placeholder"),
                "{w:?}"
            );
            assert!(!w[0].contains(placeholder.trim()), "{w:?}");
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
        assert!(w[0].contains("placeholder"), "{w:?}");
        assert!(
            matches!(cfg.db, DbSettings::MySql(ref my) if my.host == "localhost" && my.port == 3306)
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
    fn admin_jids() {
        let (cfg, _) = parse(MINIMAL).expect("default");
        assert!(cfg.admin_jids.is_empty());
        assert!(
            cfg.effective_settings()
                .contains(&format!("{:<22} = (none)", "ADMIN_JIDS"))
        );
        let (cfg, _) = parse(&format!(
            "{MINIMAL}ADMIN_JIDS = \"Boss@example.org, ops@example.org  boss@example.org\"\n"
        ))
        .expect("list");
        assert_eq!(cfg.admin_jids, ["boss@example.org", "ops@example.org"]);
        assert!(
            cfg.effective_settings()
                .contains("= \"boss@example.org, ops@example.org\"")
        );
        let p = problems(&format!("{MINIMAL}ADMIN_JIDS = \"a@b/c, example.org\"\n"));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("ADMIN_JIDS: expected bare JIDs"), "{p:?}");
        assert!(p[0].ends_with("got \"a@b/c\""), "{p:?}");
    }

    #[test]
    fn metrics_listen_is_off_by_default_and_localhost_for_a_port() {
        let (cfg, w) = parse(MINIMAL).expect("minimal config");
        assert_eq!(cfg.metrics_listen, None);
        assert!(w.is_empty(), "{w:?}");
        assert!(
            cfg.effective_settings()
                .contains("METRICS_LISTEN         = (none: no metrics or health endpoint)\n")
        );
        let (cfg, _) = parse(&format!("{MINIMAL}METRICS_LISTEN = \"\"\n")).expect("empty");
        assert_eq!(cfg.metrics_listen, None);
        for (value, addr) in [
            ("9464", "127.0.0.1:9464"),
            ("\"9464\"", "127.0.0.1:9464"),
            ("\"localhost:9464\"", "127.0.0.1:9464"),
            ("\"127.0.0.2:80\"", "127.0.0.2:80"),
            ("\"[::1]:9464\"", "[::1]:9464"),
        ] {
            let (cfg, w) =
                parse(&format!("{MINIMAL}METRICS_LISTEN = {value}\n")).expect("listen address");
            assert_eq!(
                cfg.metrics_listen,
                Some(addr.parse().expect("addr")),
                "{value}"
            );
            assert!(w.is_empty(), "{value}: {w:?}");
        }
        let (cfg, w) =
            parse(&format!("{MINIMAL}METRICS_LISTEN = \"0.0.0.0:9464\"\n")).expect("anywhere");
        assert_eq!(
            cfg.metrics_listen,
            Some("0.0.0.0:9464".parse().expect("addr"))
        );
        assert!(
            cfg.effective_settings()
                .contains("METRICS_LISTEN         = \"0.0.0.0:9464\"\n")
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("no authentication"), "{w:?}");
        for bad in [
            "\"9464:localhost\"",
            "0",
            "70000",
            "\"example.org:9464\"",
            "true",
        ] {
            let p = problems(&format!("{MINIMAL}METRICS_LISTEN = {bad}\n"));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(
                p[0].starts_with(
                    "METRICS_LISTEN: expected a port (this host only) or an address such as"
                ),
                "{p:?}"
            );
        }
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

    #[test]
    fn alert_keys() {
        let (cfg, _) = parse(MINIMAL).expect("minimal config");
        assert_eq!(cfg.alerts, AlertSettings::default());
        assert!(cfg.alerts.enabled);
        let out = cfg.effective_settings();
        for line in [
            "ALERTS                 = true\n",
            "ALERT_SIGNAL_BELOW     = (off)\n",
            "BALANCE_USSD           = (off)\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }

        let (cfg, _) = parse(&format!(
            "{MINIMAL}ALERT_HOLD = 60\nALERT_SIGNAL_BELOW = 8\nBALANCE_USSD = \"*100#\"\n\
             BALANCE_REGEX = \"balance ([0-9.,]+)\"\nBALANCE_BELOW = 5\n"
        ))
        .expect("alerts");
        assert_eq!(cfg.alerts.hold, Duration::from_secs(60));
        assert_eq!(cfg.alerts.signal_below, Some(8));
        let balance = cfg.alerts.balance.as_ref().expect("balance check");
        assert_eq!(balance.below, Amount(5000));
        assert_eq!(balance.every, Duration::from_secs(86_400));
        assert!(
            cfg.effective_settings()
                .contains("BALANCE_BELOW          = \"5.00\"\n")
        );

        let p = problems(&format!(
            "{MINIMAL}ALERT_SIGNAL_BELOW = 40\n\
             BALANCE_USSD = \"*100#x\"\nBALANCE_REGEX = \"no group\"\nBALANCE_BELOW = \"lots\"\n"
        ));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(
            p.iter().any(|l| l.starts_with("ALERT_SIGNAL_BELOW:")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.starts_with("BALANCE_USSD:")), "{p:?}");
        assert!(
            p.iter().any(|l| l.contains("exactly one capture group")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.starts_with("BALANCE_BELOW:")), "{p:?}");
        let p = problems(&format!("{MINIMAL}BALANCE_BELOW = 5\n"));
        assert_eq!(
            p,
            ["BALANCE_BELOW: set, but BALANCE_USSD is not (the balance check needs its USSD code)"]
        );
    }

    /// Each reader's problem names the key, what was expected and what was
    /// given (a secret only by its type), for a wrong type and a bad value.
    #[test]
    fn every_reader_names_the_key_and_what_it_expected() {
        for (line, expected) in [
            (
                "GOIP_BIND = \"1.2.3\"",
                &["GOIP_BIND: expected an IP address such as \"0.0.0.0\" or \"::\", got \"1.2.3\""]
                    [..],
            ),
            (
                "GOIP_BIND = 5",
                &["GOIP_BIND: expected an IP address such as \"0.0.0.0\" or \"::\", got 5"][..],
            ),
            (
                "XMPP_USE_ALIAS = \"maybe\"",
                &["XMPP_USE_ALIAS: expected true or false, got \"maybe\""][..],
            ),
            (
                "XMPP_USE_ALIAS = 2",
                &["XMPP_USE_ALIAS: expected true or false, got 2"][..],
            ),
            (
                "XMPP_CALL_NOTICES = [1]",
                &["XMPP_CALL_NOTICES: expected true or false, got [1]"][..],
            ),
            (
                "XMPP_PORT = \"x\"",
                &["XMPP_PORT: expected an integer 1–65535, got \"x\""][..],
            ),
            (
                "XMPP_PORT = 70000",
                &["XMPP_PORT: expected an integer 1–65535, got 70000"][..],
            ),
            (
                "XMPP_PORT = true",
                &["XMPP_PORT: expected an integer 1–65535, got true"][..],
            ),
            (
                "XMPP_HOST = 5",
                &["XMPP_HOST: expected a string, got 5"][..],
            ),
            (
                "XMPP_FALLBACK_DEST = \"a b@c\"",
                &[
                    "XMPP_FALLBACK_DEST: expected a bare JID such as \"0000@example.org\", got \"a b@c\"",
                ][..],
            ),
            (
                "XMPP_FALLBACK_DEST = 7",
                &["XMPP_FALLBACK_DEST: expected a string, got 7"][..],
            ),
            (
                "XMPP_COMPONENT_JID = 5",
                &["XMPP_COMPONENT_JID: expected a domain name such as \"example.org\", got 5"][..],
            ),
            (
                "XMPP_COMPONENT_JID = \"a..b\"",
                &[
                    "XMPP_COMPONENT_JID: expected a domain name such as \"example.org\", got \"a..b\"",
                ][..],
            ),
            (
                "SMS_COUNTRY_CODE = true",
                &["SMS_COUNTRY_CODE: expected a country calling code such as \"372\", got true"][..],
            ),
            (
                "SMS_COUNTRY_CODE = 0",
                &["SMS_COUNTRY_CODE: expected a country calling code such as \"372\", got \"0\""][..],
            ),
            (
                "LOG_DAYS = -1",
                &["LOG_DAYS: expected an integer 0–36500, got -1"][..],
            ),
            (
                "METRICS_LISTEN = true",
                &[
                    "METRICS_LISTEN: expected a port (this host only) or an address such as \"127.0.0.1:9464\" or \"[::1]:9464\", got true",
                ][..],
            ),
            (
                "METRICS_LISTEN = 70000",
                &[
                    "METRICS_LISTEN: expected a port (this host only) or an address such as \"127.0.0.1:9464\" or \"[::1]:9464\", got 70000",
                ][..],
            ),
            (
                "ADMIN_JIDS = \"a@b, c/d\"",
                &[
                    "ADMIN_JIDS: expected bare JIDs such as \"admin@example.org\", separated by commas or spaces, got \"c/d\"",
                ][..],
            ),
            (
                "XMPP_RECEIPTS = 3",
                &["XMPP_RECEIPTS: expected one of \"delivered\", \"sent\", got 3"][..],
            ),
            (
                "DB_BACKEND = \"mysql\"\nDB_BASE = \"\"\nDB_USER = 5\nDB_PASS = 5",
                &[
                    "DB_BASE: expected a non-empty string, got \"\"",
                    "DB_USER: expected a non-empty string, got 5",
                    "DB_PASS: expected a string, got a integer (value hidden)",
                ][..],
            ),
            (
                "DB_BACKEND = \"mysql\"\nDB_BASE = \"g\"\nDB_USER = \"u\"",
                &["DB_PASS: required, but missing"][..],
            ),
            (
                "BALANCE_USSD = \"*100#\"\nBALANCE_REGEX = \"b ([0-9]+)\"\nBALANCE_BELOW = true",
                &["BALANCE_BELOW: expected an amount such as \"5.00\", got true"][..],
            ),
            (
                "BALANCE_USSD = \"*100#\"\nBALANCE_REGEX = \"b ([0-9]+)\"\nBALANCE_BELOW = \"lots\"",
                &["BALANCE_BELOW: expected an amount such as \"5.00\", got \"lots\""][..],
            ),
        ] {
            assert_eq!(problems(&format!("{MINIMAL}{line}\n")), expected, "{line}");
        }
    }
}
