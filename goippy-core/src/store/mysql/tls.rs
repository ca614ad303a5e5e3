//! TLS to the MySQL/MariaDB server: the driver options `DB_TLS` and
//! `DB_TLS_CA` become, what goippy says at start-up about the connection
//! it got, and the hints added to a failed connection's error.
//!
//! Which mode is the default, and why: see `config/db_tls.rs`. sqlx's own
//! default (`PREFERRED`) is never left in place: with `DB_TLS = "off"` the
//! connection is clear text even when the server offers TLS.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};

use crate::config::{DbTls, DbTlsMode, is_this_host};

/// The driver options for `tls`.
pub(super) fn apply(options: MySqlConnectOptions, tls: &DbTls) -> MySqlConnectOptions {
    let options = options.ssl_mode(match tls.mode {
        DbTlsMode::Off => MySqlSslMode::Disabled,
        DbTlsMode::Preferred => MySqlSslMode::Preferred,
        DbTlsMode::Required => MySqlSslMode::Required,
        DbTlsMode::VerifyCa => MySqlSslMode::VerifyCa,
        DbTlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
    });
    match &tls.ca {
        Some(ca) => options.ssl_ca(ca),
        None => options,
    }
}

/// The TLS cipher of `conn`; `None` for clear text. The server knows, and
/// both MySQL and MariaDB answer this the same way.
pub(super) async fn cipher(conn: &mut MySqlConnection) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(_, cipher)| cipher).filter(|c| !c.is_empty()))
}

/// What goippy says about a connection's protection, and how loudly.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Note {
    /// Nothing to worry about (this host, or a verified certificate).
    Fine(String),
    /// A server on another host, in clear text or with an unchecked
    /// certificate.
    Warning(String),
}

/// How the connection to a server at `host` is protected, given the TLS
/// `cipher` the server reports (`None`: clear text).
pub(super) fn assess(host: &str, tls: &DbTls, cipher: Option<&str>) -> Note {
    let mode = tls.mode.name();
    match cipher {
        None if is_this_host(host) => Note::Fine("not encrypted (on this host)".into()),
        None => Note::Warning(format!(
            "the connection to the MySQL/MariaDB server on {host} is not encrypted \
             (DB_TLS = \"{mode}\"): its password and every SMS cross the network in clear \
             text; give the server a certificate and set DB_TLS = \"verify-full\" (see DB_TLS \
             in goippy --sample)"
        )),
        Some(cipher) if tls.mode.verifies() => Note::Fine(format!(
            "encrypted ({cipher}), the server's certificate verified (DB_TLS = \"{mode}\")"
        )),
        Some(cipher) if is_this_host(host) => Note::Fine(format!(
            "encrypted ({cipher}), the certificate not checked (on this host)"
        )),
        Some(cipher) => Note::Warning(format!(
            "the connection to the MySQL/MariaDB server on {host} is encrypted ({cipher}), but \
             its certificate is not checked (DB_TLS = \"{mode}\"), so a man in the middle could \
             read it; set DB_TLS = \"verify-full\" (and DB_TLS_CA for a private CA)"
        )),
    }
}

/// Says once, at start-up, how the connection is protected: a warning
/// when a server on another host is reached in clear text (its password and
/// every SMS cross the network readable) or with an unchecked certificate.
pub(super) fn report(host: &str, port: u16, tls: &DbTls, cipher: Option<&str>) {
    match assess(host, tls, cipher) {
        Note::Fine(what) => tracing::info!(host, port, "MySQL connection {what}"),
        Note::Warning(what) => tracing::warn!(host, port, "{what}"),
    }
}

/// The reason a connection failed, with what the TLS settings have to do
/// with it when they may.
pub(super) fn explain(error: &sqlx::Error, tls: &DbTls, host: &str) -> String {
    let text = error.to_string();
    // rustls names certificate errors in Debug style (UnknownIssuer) or in
    // words ("not valid for name"), depending on the error and version.
    let words: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mode = tls.mode.name();
    let trusted = match &tls.ca {
        Some(ca) => format!("DB_TLS_CA ({}) nor the system's CAs", ca.display()),
        None => "the system's CAs (give the server's CA as DB_TLS_CA)".to_string(),
    };
    let hint = if access_denied(error) && matches!(tls.mode, DbTlsMode::Off | DbTlsMode::Preferred)
    {
        format!(
            "; if the account requires TLS (REQUIRE SSL), the connection was refused because \
             DB_TLS = \"{mode}\" did not use it: set DB_TLS = \"verify-full\" or \"required\""
        )
    } else if words.contains("serverdoesnotsupporttls") {
        format!(
            "; DB_TLS = \"{mode}\" asks for TLS, which this server does not offer: configure its \
             ssl_cert and ssl_key, or set DB_TLS = \"off\""
        )
    } else if words.contains("unknownissuer") || words.contains("badsignature") {
        format!(
            "; the server's certificate is signed by a CA that neither {trusted} holds \
             (DB_TLS = \"{mode}\")"
        )
    } else if words.contains("notvalidforname") {
        format!(
            "; the server's certificate is not issued for DB_HOST {host:?} (DB_TLS = \
             \"verify-full\"): connect with the name the certificate names, or use \"verify-ca\""
        )
    } else if words.contains("invalidpeercertificate") {
        format!("; the server's certificate was refused (DB_TLS = \"{mode}\")")
    } else {
        String::new()
    };
    format!("{text}{hint}")
}

/// MySQL's "Access denied" (1045), which is also what an account that
/// requires TLS answers to a clear-text login.
fn access_denied(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| e.number() == 1045),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn tls(mode: DbTlsMode) -> DbTls {
        DbTls {
            mode,
            ca: None,
            defaulted: false,
        }
    }

    #[test]
    fn clear_text_to_another_host_is_warned_about() {
        let remote = "db.example.org";
        let Note::Warning(w) = assess(remote, &tls(DbTlsMode::Preferred), None) else {
            panic!("no warning");
        };
        assert!(
            w.contains("on db.example.org is not encrypted (DB_TLS = \"preferred\")"),
            "{w}"
        );
        assert!(matches!(
            assess(remote, &tls(DbTlsMode::Off), None),
            Note::Warning(_)
        ));
        let Note::Warning(w) = assess(
            remote,
            &tls(DbTlsMode::Required),
            Some("TLS_AES_256_GCM_SHA384"),
        ) else {
            panic!("no warning");
        };
        assert!(w.contains("its certificate is not checked"), "{w}");
        assert!(matches!(
            assess(
                remote,
                &tls(DbTlsMode::VerifyFull),
                Some("TLS_AES_256_GCM_SHA384")
            ),
            Note::Fine(_)
        ));
        // On this host nothing crosses a network.
        for local in ["localhost", "127.0.0.1", "::1"] {
            assert!(matches!(
                assess(local, &tls(DbTlsMode::Off), None),
                Note::Fine(_)
            ));
            assert!(matches!(
                assess(local, &tls(DbTlsMode::Preferred), Some("x")),
                Note::Fine(_)
            ));
        }
    }

    #[test]
    fn the_driver_gets_the_mode_and_the_ca() {
        let mut t = tls(DbTlsMode::VerifyFull);
        t.ca = Some(PathBuf::from("/etc/mysql/ca.pem"));
        let options = apply(MySqlConnectOptions::new(), &t);
        assert!(matches!(
            options.get_ssl_mode(),
            MySqlSslMode::VerifyIdentity
        ));
        // Off is off, not sqlx's own default (PREFERRED).
        let options = apply(MySqlConnectOptions::new(), &tls(DbTlsMode::Off));
        assert!(matches!(options.get_ssl_mode(), MySqlSslMode::Disabled));
    }
}
