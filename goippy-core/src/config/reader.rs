//! Reading the configuration's TOML table key by key: each reader checks
//! one key's type and range, records what is wrong in words that name the
//! key (never a secret's value), and returns the key's default (or nothing,
//! an empty value) instead, so that `Config::from_table` can build the
//! settings directly and list every problem of a file at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::{DEFAULT_DB_FILE, DbSettings, MySqlSettings, Secret};
use crate::alias::split_jid;
use crate::number::NumberRules;

/// The keys whose values never appear in a message, whatever is wrong with them.
const SECRET_KEYS: &[&str] = &["XMPP_COMPONENT_SECRET", "DB_PASS"];

/// Reads keys one by one, collecting problems instead of stopping at the first.
/// A key that was missing or wrong reads as its default (after recording
/// why): settings built from a reader with problems are never used.
pub(super) struct Reader<'a> {
    table: &'a Table,
    pub(super) problems: Vec<String>,
}

/// `PORT`, `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`; port 0 (any
/// port) is refused: the operator's scrape configuration must name it.
fn parse_listen(s: &str) -> Option<SocketAddr> {
    let addr = if let Ok(port) = s.parse::<u16>() {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    } else if let Some(port) = s.strip_prefix("localhost:") {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port.parse::<u16>().ok()?))
    } else {
        s.parse::<SocketAddr>().ok()?
    };
    (addr.port() != 0).then_some(addr)
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => format!("{other}"),
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(table: &'a Table) -> Self {
        Reader {
            table,
            problems: Vec::new(),
        }
    }

    /// The key's value: borrowed from the table, not from the reader, so a
    /// problem can be recorded while looking at it.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    /// Whether a problem was recorded after the first `before`.
    pub(super) fn failed_since(&self, before: usize) -> bool {
        self.problems.len() > before
    }

    /// Records that a required key is missing.
    fn missing<T: Default>(&mut self, key: &str) -> T {
        self.problems.push(format!("{key}: required, but missing"));
        T::default()
    }

    /// `parsed`, or — when the value could not be read — a problem saying
    /// what was expected.
    pub(super) fn read<T>(
        &mut self,
        key: &str,
        expected: &str,
        got: &Value,
        parsed: Option<T>,
    ) -> Option<T> {
        if parsed.is_none() {
            self.problem(key, expected, got);
        }
        parsed
    }

    pub(super) fn problem(&mut self, key: &str, expected: &str, got: &Value) {
        // A secret of the wrong type is still a secret: name its type only.
        let got = if SECRET_KEYS.contains(&key) {
            format!("a {} (value hidden)", got.type_str())
        } else {
            describe(got)
        };
        self.problems
            .push(format!("{key}: expected {expected}, got {got}"));
    }

    pub(super) fn required_string(&mut self, key: &str) -> String {
        match self.get(key) {
            None => self.missing(key),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(v) => self
                .read(key, "a non-empty string", v, None)
                .unwrap_or_default(),
        }
    }

    /// `None` when absent, empty or invalid.
    pub(super) fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(v) => self.read(key, "a string", v, None),
        }
    }

    pub(super) fn string_or(&mut self, key: &str, default: &str) -> String {
        self.optional_string(key)
            .unwrap_or_else(|| default.to_string())
    }

    /// Empty when missing (without a default) or invalid: a valid domain
    /// never is.
    pub(super) fn domain(&mut self, key: &str, default: Option<&str>) -> String {
        let value = match (self.get(key), default) {
            (None, Some(d)) => return d.to_string(),
            (None, None) => return self.missing(key),
            (Some(v), _) => v,
        };
        let domain = value.as_str().map(|s| s.trim().to_ascii_lowercase());
        let valid = domain.filter(|d| {
            !d.is_empty()
                && d.len() <= 253
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !d.contains("..")
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        });
        let expected = "a domain name such as \"example.org\"";
        self.read(key, expected, value, valid).unwrap_or_default()
    }

    pub(super) fn optional_jid(&mut self, key: &str) -> Option<String> {
        let s = self.optional_string(key)?;
        let bare =
            split_jid(&s).is_some_and(|p| p.resource.is_none()) && !s.contains(char::is_whitespace);
        let expected = "a bare JID such as \"0000@example.org\"";
        let got = Value::String(s.clone());
        self.read(key, expected, &got, bare.then_some(s))
    }

    /// Bare JIDs separated by commas and/or spaces (`ADMIN_JIDS`); absent
    /// or empty: none. Every entry that is not a bare JID is a problem.
    pub(super) fn jid_list(&mut self, key: &str) -> Vec<String> {
        let text = self.optional_string(key).unwrap_or_default();
        let mut jids: Vec<String> = Vec::new();
        for item in text.split([',', ' ', '\t']).filter(|i| !i.is_empty()) {
            match split_jid(item) {
                Some(p) if p.resource.is_none() && p.node.is_some_and(|n| !n.is_empty()) => {
                    let jid = item.to_lowercase();
                    if !jids.contains(&jid) {
                        jids.push(jid);
                    }
                }
                _ => self.problem(
                    key,
                    "bare JIDs such as \"admin@example.org\", separated by commas or spaces",
                    &Value::String(item.to_string()),
                ),
            }
        }
        jids
    }

    /// Integers may be written bare or quoted (`GOIP_PORT = "44444"`);
    /// absent: `default`.
    pub(super) fn integer(
        &mut self,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
        expected: &str,
    ) -> i64 {
        let Some(value) = self.get(key) else {
            return default;
        };
        let n = match value {
            Value::Integer(n) => Some(*n),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let n = n.filter(|n| (min..=max).contains(n));
        self.read(key, expected, value, n).unwrap_or(default)
    }

    pub(super) fn port(&mut self, key: &str, default: u16) -> u16 {
        self.integer(key, default.into(), 1, 65535, "an integer 1–65535") as u16
    }

    pub(super) fn seconds(&mut self, key: &str, default: u64, min: u64, max: u64) -> Duration {
        let expected = format!("a number of seconds {min}–{max}");
        let n = self.integer(key, default as i64, min as i64, max as i64, &expected);
        Duration::from_secs(n as u64)
    }

    pub(super) fn boolean(&mut self, key: &str, default: bool) -> bool {
        let Some(value) = self.get(key) else {
            return default;
        };
        let b = match value {
            Value::Boolean(b) => Some(*b),
            Value::Integer(0) => Some(false),
            Value::Integer(1) => Some(true),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        self.read(key, "true or false", value, b).unwrap_or(default)
    }

    pub(super) fn choice<T: Copy>(&mut self, key: &str, default: T, options: &[(&str, T)]) -> T {
        let Some(value) = self.get(key) else {
            return default;
        };
        let text = value.as_str().map(|s| s.trim().to_ascii_lowercase());
        let chosen = options
            .iter()
            .find(|(name, _)| Some(*name) == text.as_deref())
            .map(|(_, v)| *v);
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let expected = format!("one of {}", names.join(", "));
        self.read(key, &expected, value, chosen).unwrap_or(default)
    }

    /// An optional TCP address to listen on: absent or `""` is none; a
    /// port alone (`9464` or `"9464"`) means 127.0.0.1 (this host only);
    /// otherwise `"IP:PORT"`, `"[IPv6]:PORT"` or `"localhost:PORT"`.
    pub(super) fn optional_listen(&mut self, key: &str) -> Option<SocketAddr> {
        const EXPECTED: &str = "a port (this host only) or an address such as \"127.0.0.1:9464\" \
                                or \"[::1]:9464\"";
        let value = self.get(key)?;
        let parsed = match value {
            Value::Integer(port) => parse_listen(&port.to_string()),
            Value::String(s) if s.trim().is_empty() => return None,
            Value::String(s) => parse_listen(s.trim()),
            _ => None,
        };
        self.read(key, EXPECTED, value, parsed)
    }

    pub(super) fn ip(&mut self, key: &str, default: IpAddr) -> IpAddr {
        let Some(value) = self.get(key) else {
            return default;
        };
        let ip = value.as_str().and_then(|s| s.trim().parse::<IpAddr>().ok());
        let expected = "an IP address such as \"0.0.0.0\" or \"::\"";
        self.read(key, expected, value, ip).unwrap_or(default)
    }

    pub(super) fn country_code(&mut self, key: &str) -> Option<String> {
        let value = match self.get(key)? {
            Value::Integer(n) => &Value::String(n.to_string()),
            v => v,
        };
        let rules = value.as_str().and_then(|s| NumberRules::new(Some(s)).ok());
        let code = rules.map(|r| r.country_code().map(str::to_string));
        self.read(key, "a country calling code such as \"372\"", value, code)
            .flatten()
    }

    pub(super) fn db(&mut self) -> DbSettings {
        let before = self.problems.len();
        let sqlite = self.choice("DB_BACKEND", true, &[("sqlite", true), ("mysql", false)]);
        if self.failed_since(before) {
            // A wrong backend: none of its keys is read.
            return DbSettings::Sqlite {
                file: DEFAULT_DB_FILE.into(),
            };
        }
        if sqlite {
            let file = self.string_or("DB_FILE", DEFAULT_DB_FILE);
            return DbSettings::Sqlite {
                file: PathBuf::from(file),
            };
        }
        let host = self.string_or("DB_HOST", "localhost");
        let port = self.port("DB_PORT", 3306);
        let tls = self.db_tls(&host);
        let database = self.required_string("DB_BASE");
        let user = self.required_string("DB_USER");
        let password = match self.get("DB_PASS") {
            None => self.missing("DB_PASS"),
            Some(Value::String(s)) => s.clone(),
            Some(v) => self
                .read("DB_PASS", "a string", v, None)
                .unwrap_or_default(),
        };
        DbSettings::MySql(MySqlSettings {
            host,
            port,
            database,
            user,
            password: Secret::new(password),
            tls,
        })
    }
}
