//! TLS to MySQL/MariaDB (`DB_TLS`, `DB_TLS_CA`), against a real MariaDB
//! that offers TLS with a throwaway CA's certificate (issued for
//! `localhost` only), and an account that refuses clear text
//! (`REQUIRE SSL`). The settings come from configuration text, as an
//! operator writes them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use goippy_core::config::Config;
use goippy_core::store::{GatewayDefinition, Store, StoreError};
use goippy_testkit::certs::TestCa;
use goippy_testkit::mariadb::{MariaDb, test_database};
use tempfile::TempDir;

const USER: &str = "goippy_tls";
const PASSWORD: &str = "tls-only-pw";
const DATABASE: &str = "goippy_tls";

/// The TLS server, shared by this file's tests; its watchdog stops it when
/// the test binary exits.
struct TlsServer {
    server: MariaDb,
    /// A CA the server's certificate does not come from.
    other_ca: PathBuf,
    ca: PathBuf,
    _dir: TempDir,
}

fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new(dir.path(), "test-ca").expect("CA");
        let cert = ca
            .issue_server(dir.path(), "db-server", &["localhost"])
            .expect("server certificate");
        let other_ca = TestCa::new(dir.path(), "other-ca").expect("other CA");
        let server = MariaDb::start_with_tls(&cert).expect("MariaDB with TLS");
        server
            .root_sql(&format!(
                "CREATE DATABASE {DATABASE};
                 CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE SSL;
                 GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';"
            ))
            .expect("the TLS-only account");
        TlsServer {
            server,
            other_ca: other_ca.cert,
            ca: cert.ca,
            _dir: dir,
        }
    })
}

/// A configuration of the TLS server's database with `extra` lines.
fn config(host: &str, port: u16, extra: &str) -> Config {
    let text = format!(
        "XMPP_DOMAIN = \"example.org\"\n\
         XMPP_DATA_DOMAIN = \"sms.example.org\"\n\
         XMPP_COMPONENT_SECRET = \"s\"\n\
         DB_BACKEND = \"mysql\"\n\
         DB_HOST = \"{host}\"\n\
         DB_PORT = {port}\n\
         DB_BASE = \"{DATABASE}\"\n\
         DB_USER = \"{USER}\"\n\
         DB_PASS = \"{PASSWORD}\"\n\
         {extra}"
    );
    Config::parse(&text, Path::new("/etc/goippy.conf"))
        .expect("valid configuration")
        .0
}

async fn connects(config: &Config) {
    let store = Store::open(&config.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The pool's connections work as well as the first one.
    store
        .save_gateway(&GatewayDefinition {
            ext: "2001",
            password: "pw",
            goip_id: None,
            channel: None,
            allow_regex: None,
        })
        .await
        .expect("write over TLS");
    assert_eq!(store.list_gateways().await.expect("read").len(), 1);
    store.close().await.expect("close");
}

async fn refused(config: &Config) -> String {
    let e = Store::open(&config.db).await.expect_err("refused");
    assert!(matches!(e, StoreError::Connect { .. }), "{e}");
    let msg = e.to_string();
    assert!(!msg.contains(PASSWORD), "{msg}");
    msg
}

#[tokio::test]
async fn an_account_that_requires_tls_gets_it() {
    let s = tls_server();
    let port = s.server.port();
    let ca = s.ca.display();
    connects(&config("127.0.0.1", port, "DB_TLS = \"required\"\n")).await;
    connects(&config(
        "127.0.0.1",
        port,
        &format!("DB_TLS = \"verify-ca\"\nDB_TLS_CA = \"{ca}\"\n"),
    ))
    .await;
    // The CA alone means verify-full: the certificate is for localhost.
    connects(&config(
        "localhost",
        port,
        &format!("DB_TLS_CA = \"{ca}\"\n"),
    ))
    .await;
}

#[tokio::test]
async fn clear_text_to_an_account_that_requires_tls_fails_with_a_hint() {
    let port = tls_server().server.port();
    // On this host the default is clear text.
    for extra in ["", "DB_TLS = \"off\"\n"] {
        let msg = refused(&config("127.0.0.1", port, extra)).await;
        assert!(msg.contains("Access denied"), "{msg}");
        assert!(
            msg.contains(
                "if the account requires TLS (REQUIRE SSL), the connection was refused because \
                 DB_TLS = \"off\" did not use it: set DB_TLS = \"verify-full\" or \"required\""
            ),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_is_refused_clearly() {
    let s = tls_server();
    let port = s.server.port();
    let other = s.other_ca.display();
    let msg = refused(&config(
        "127.0.0.1",
        port,
        &format!("DB_TLS = \"verify-ca\"\nDB_TLS_CA = \"{other}\"\n"),
    ))
    .await;
    assert!(
        msg.contains(&format!(
            "the server's certificate is signed by a CA that neither DB_TLS_CA ({other}) nor \
             the system's CAs holds (DB_TLS = \"verify-ca\")"
        )),
        "{msg}"
    );
    // The right CA, but the certificate names localhost, not 127.0.0.1.
    let ca = s.ca.display();
    let msg = refused(&config(
        "127.0.0.1",
        port,
        &format!("DB_TLS = \"verify-full\"\nDB_TLS_CA = \"{ca}\"\n"),
    ))
    .await;
    assert!(
        msg.contains("the server's certificate is not issued for DB_HOST \"127.0.0.1\""),
        "{msg}"
    );
}

#[tokio::test]
async fn tls_asked_of_a_server_without_it_fails_clearly() {
    let db = test_database().expect("a MariaDB database");
    let text = format!(
        "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
         XMPP_COMPONENT_SECRET = \"s\"\nDB_BACKEND = \"mysql\"\nDB_HOST = \"{}\"\n\
         DB_PORT = {}\nDB_BASE = \"{}\"\nDB_USER = \"{}\"\nDB_PASS = \"{}\"\n\
         DB_TLS = \"required\"\n",
        db.host, db.port, db.database, db.user, db.password
    );
    let config = Config::parse(&text, Path::new("/etc/goippy.conf"))
        .expect("valid")
        .0;
    let msg = Store::open(&config.db)
        .await
        .expect_err("no TLS offered")
        .to_string();
    assert!(
        msg.contains(
            "DB_TLS = \"required\" asks for TLS, which this server does not offer: configure \
             its ssl_cert and ssl_key, or set DB_TLS = \"off\""
        ),
        "{msg}"
    );
}
