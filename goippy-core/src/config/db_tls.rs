//! `DB_TLS` and `DB_TLS_CA`: whether and how the connection to a
//! MySQL/MariaDB server is encrypted.
//!
//! The database password and every SMS cross that connection. On the same
//! host it never leaves the machine, and TLS would only cost CPU, so a
//! server at `localhost`, `127.0.0.1` or `::1` gets clear text by default.
//! For a server on another host the default is `preferred`, what MySQL's own
//! client does: TLS whenever the server offers it, so a passive listener
//! learns nothing; clear text only with a server that has no TLS, which
//! goippy then warns about at start-up. `preferred` does not check the
//! certificate and cannot stop a man in the middle: `verify-full` (the
//! certificate is signed by a trusted CA and issued for `DB_HOST`) does. An
//! existing setup whose remote server has no TLS keeps working, with the
//! warning, instead of failing after an upgrade.
//!
//! The CA is `DB_TLS_CA` (a PEM file) and the system's trust store
//! (`/etc/ssl/certs`). Giving `DB_TLS_CA` alone means `verify-full`; giving
//! it with a mode that does not verify is refused, because the operator
//! plainly expects a verification that would not happen.

use std::net::IpAddr;
use std::path::PathBuf;

use toml::Value;

use super::Reader;

/// How the connection to a MySQL/MariaDB server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbTlsMode {
    /// Clear text: the default for a server on this host.
    #[default]
    Off,
    /// TLS when the server offers it, its certificate unchecked; clear text
    /// otherwise: the default for a server on another host.
    Preferred,
    /// TLS or no connection; the certificate is not checked.
    Required,
    /// TLS with a certificate signed by a trusted CA, for any host name.
    VerifyCa,
    /// TLS with a certificate signed by a trusted CA and issued for `DB_HOST`.
    VerifyFull,
}

impl DbTlsMode {
    const NAMES: &[(&str, DbTlsMode)] = &[
        ("off", DbTlsMode::Off),
        ("preferred", DbTlsMode::Preferred),
        ("required", DbTlsMode::Required),
        ("verify-ca", DbTlsMode::VerifyCa),
        ("verify-full", DbTlsMode::VerifyFull),
    ];

    /// The value as written in the configuration.
    pub fn name(self) -> &'static str {
        super::name_of(Self::NAMES, self)
    }

    /// Whether the server's certificate is checked against a CA.
    pub fn verifies(self) -> bool {
        matches!(self, DbTlsMode::VerifyCa | DbTlsMode::VerifyFull)
    }
}

/// `DB_TLS` and `DB_TLS_CA`, resolved (the default depends on `DB_HOST`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbTls {
    pub mode: DbTlsMode,
    /// A PEM file with the CA(s) that signed the server's certificate,
    /// trusted besides the system's.
    pub ca: Option<PathBuf>,
    /// Whether `mode` was taken by default rather than from `DB_TLS`.
    pub defaulted: bool,
}

/// Whether `host` names this machine: the connection then never leaves it.
pub fn is_this_host(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") || host.starts_with('/') {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The most of a CA file that is read to check it: CA bundles are a few
/// hundred KiB at most.
const MAX_CA_FILE: u64 = 4 << 20;

impl Reader<'_> {
    /// `DB_TLS` and `DB_TLS_CA` for a server at `host`.
    pub(super) fn db_tls(&mut self, host: &str) -> DbTls {
        let before = self.problems.len();
        let ca = self.ca_file("DB_TLS_CA");
        let given = match self.get("DB_TLS") {
            None => None,
            Some(_) => Some(self.choice("DB_TLS", DbTlsMode::Off, DbTlsMode::NAMES)),
        };
        // Whether the two agree is only asked of valid values.
        if self.failed_since(before) {
            return DbTls::default();
        }
        let (mode, defaulted) = match (given, &ca) {
            (Some(mode), _) => (mode, false),
            // A CA is given to be used.
            (None, Some(_)) => (DbTlsMode::VerifyFull, true),
            // Clear text on this host, TLS when offered on another.
            (None, None) if is_this_host(host) => (DbTlsMode::Off, true),
            (None, None) => (DbTlsMode::Preferred, true),
        };
        if ca.is_some() && !mode.verifies() {
            self.problems.push(format!(
                "DB_TLS_CA: only used to verify the server's certificate, which DB_TLS = \"{}\" \
                 does not do; set DB_TLS = \"verify-full\" (or \"verify-ca\")",
                mode.name()
            ));
        }
        DbTls {
            mode,
            ca,
            defaulted,
        }
    }

    /// A readable PEM file with at least one certificate; `None` when the
    /// key is absent, empty or invalid.
    fn ca_file(&mut self, key: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.optional_string(key)?);
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&path).and_then(|f| {
            use std::io::Read;
            f.take(MAX_CA_FILE).read_to_end(&mut bytes)
        });
        const PEM_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";
        let problem = match read {
            Err(e) => format!("cannot read it: {e}"),
            Ok(_)
                if !bytes
                    .windows(PEM_CERTIFICATE.len())
                    .any(|w| w == PEM_CERTIFICATE) =>
            {
                "it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")".to_string()
            }
            Ok(_) => return Some(path),
        };
        let value = Value::String(path.display().to_string());
        self.problem(
            key,
            "a readable PEM file with the server's CA certificate",
            &value,
        );
        // The reason, after the generic expectation.
        if let Some(last) = self.problems.last_mut() {
            last.push_str(&format!(" ({problem})"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, ConfigError, DbSettings};

    const MYSQL: &str = "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
                         XMPP_COMPONENT_SECRET = \"s\"\nDB_BACKEND = \"mysql\"\n\
                         DB_BASE = \"goippy\"\nDB_USER = \"goippy\"\nDB_PASS = \"p\"\n";

    fn tls(extra: &str) -> Result<DbTls, ConfigError> {
        let (cfg, _) = Config::parse(&format!("{MYSQL}{extra}"), Path::new("/etc/goippy.conf"))?;
        match cfg.db {
            DbSettings::MySql(my) => Ok(my.tls),
            other => panic!("not MySQL: {other:?}"),
        }
    }

    fn problems(extra: &str) -> Vec<String> {
        tls(extra).expect_err("invalid").problems
    }

    #[test]
    fn this_host_is_recognised() {
        for local in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.0.1.1",
            "::1",
            "[::1]",
        ] {
            assert!(is_this_host(local), "{local}");
        }
        for remote in [
            "db.example.org",
            "10.0.0.5",
            "2001:db8::1",
            "localhost.example.org",
        ] {
            assert!(!is_this_host(remote), "{remote}");
        }
    }

    #[test]
    fn the_default_depends_on_the_host() {
        let t = tls("").expect("valid");
        assert_eq!((t.mode, t.defaulted), (DbTlsMode::Off, true), "localhost");
        let t = tls("DB_HOST = \"127.0.0.1\"\n").expect("valid");
        assert_eq!(t.mode, DbTlsMode::Off);
        let t = tls("DB_HOST = \"db.example.org\"\n").expect("valid");
        assert_eq!((t.mode, t.defaulted), (DbTlsMode::Preferred, true));
        let t = tls("DB_HOST = \"db.example.org\"\nDB_TLS = \"off\"\n").expect("valid");
        assert_eq!((t.mode, t.defaulted), (DbTlsMode::Off, false));
        let t = tls("DB_TLS = \"Verify-CA\"\n").expect("valid");
        assert_eq!(t.mode, DbTlsMode::VerifyCa);
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            problems("DB_TLS = \"yes\"\n"),
            [
                r#"DB_TLS: expected one of "off", "preferred", "required", "verify-ca", "verify-full", got "yes""#
            ]
        );
        let p = problems("DB_TLS = \"verify-full\"\nDB_TLS_CA = \"/nonexistent/ca.pem\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "DB_TLS_CA: expected a readable PEM file with the server's CA certificate, \
                 got \"/nonexistent/ca.pem\" (cannot read it: "
            ),
            "{p:?}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).expect("write");
        let p = problems(&format!("DB_TLS_CA = \"{}\"\n", not_pem.display()));
        assert!(
            p[0].ends_with("(it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"))"),
            "{p:?}"
        );
    }

    #[test]
    fn a_ca_asks_for_verification() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let line = format!("DB_TLS_CA = \"{}\"\n", ca.display());
        let t = tls(&line).expect("valid");
        assert_eq!(
            (t.mode, t.ca.as_deref()),
            (DbTlsMode::VerifyFull, Some(ca.as_path()))
        );
        let t = tls(&format!("{line}DB_TLS = \"verify-ca\"\n")).expect("valid");
        assert_eq!(t.mode, DbTlsMode::VerifyCa);
        for mode in ["off", "preferred", "required"] {
            let p = problems(&format!("{line}DB_TLS = \"{mode}\"\n"));
            assert_eq!(
                p,
                [format!(
                    "DB_TLS_CA: only used to verify the server's certificate, which DB_TLS = \
                     \"{mode}\" does not do; set DB_TLS = \"verify-full\" (or \"verify-ca\")"
                )]
            );
        }
    }
}
