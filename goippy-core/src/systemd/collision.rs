//! Settings two installed instances must not share.
//!
//! * **GOIP_PORT** (on overlapping GOIP_BIND addresses): only one process
//!   receives the GoIPs' datagrams on a port; the second fails to bind.
//! * **XMPP_COMPONENT_JID**: Prosody admits one connection per component;
//!   the second instance would be refused or knock the first one off.
//! * **METRICS_LISTEN** (the same port on overlapping addresses): a copied
//!   configuration keeps it, and the second daemon would fail to start.
//! * **the database**: the same SQLite DB_FILE, or the same MySQL database
//!   (DB_HOST, DB_PORT, DB_BASE). Each daemon treats the outbox and inbox
//!   in its database as its own, so two would take each other's messages.
//!
//! Comparisons are of what the files say (host names are not resolved;
//! SQLite paths are compared canonically when they exist). Each collision
//! names both instances and both files, so the operator knows what to edit.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::{Config, DbSettings};

use super::OpsError;
use super::instance::InstanceName;

/// The setting two instances share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clash {
    GoipPort {
        port: u16,
        ours: IpAddr,
        theirs: IpAddr,
    },
    ComponentJid(String),
    MetricsListen(SocketAddr),
    SqliteFile(PathBuf),
    MysqlDatabase {
        host: String,
        port: u16,
        database: String,
    },
}

/// A clash between the instance being installed ("ours") and another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub clash: Clash,
    pub ours: (InstanceName, PathBuf),
    pub theirs: (InstanceName, PathBuf),
}

/// Every clash between `ours` and `theirs`, each an instance and its configuration.
pub fn between(
    (our_name, a): (&InstanceName, &Config),
    (their_name, b): (&InstanceName, &Config),
) -> Vec<Collision> {
    let mut clashes = Vec::new();
    if a.goip.port == b.goip.port && binds_overlap(a.goip.bind, b.goip.bind) {
        clashes.push(Clash::GoipPort {
            port: a.goip.port,
            ours: a.goip.bind,
            theirs: b.goip.bind,
        });
    }
    if a.xmpp
        .component_jid
        .eq_ignore_ascii_case(&b.xmpp.component_jid)
    {
        clashes.push(Clash::ComponentJid(a.xmpp.component_jid.clone()));
    }
    if let (Some(ma), Some(mb)) = (a.metrics_listen, b.metrics_listen)
        && ma.port() == mb.port()
        && binds_overlap(ma.ip(), mb.ip())
    {
        clashes.push(Clash::MetricsListen(ma));
    }
    match (&a.db, &b.db) {
        (DbSettings::Sqlite { file: fa }, DbSettings::Sqlite { file: fb }) if same_file(fa, fb) => {
            clashes.push(Clash::SqliteFile(fa.clone()));
        }
        (DbSettings::MySql(ma), DbSettings::MySql(mb))
            if ma.host.eq_ignore_ascii_case(&mb.host)
                && ma.port == mb.port
                && ma.database == mb.database =>
        {
            clashes.push(Clash::MysqlDatabase {
                host: ma.host.clone(),
                port: ma.port,
                database: ma.database.clone(),
            });
        }
        _ => {}
    }
    clashes
        .into_iter()
        .map(|clash| Collision {
            clash,
            ours: (our_name.clone(), a.path.clone()),
            theirs: (their_name.clone(), b.path.clone()),
        })
        .collect()
}

/// The error that refuses to install `name` (configuration `config`,
/// created now from `created_from` if so) because of `collisions`.
pub fn refusal(
    name: &InstanceName,
    config: &Path,
    created_from: Option<&Path>,
    collisions: &[Collision],
) -> OpsError {
    let mut s = format!("instance {name} collides with another installed instance:");
    for c in collisions {
        s.push_str(&format!("\n  - {c}"));
    }
    s.push_str(&format!(
        "\nNothing was installed. Edit {}",
        config.display()
    ));
    if let Some(base) = created_from {
        s.push_str(&format!(
            " (created just now from {}, so it still has its settings)",
            base.display()
        ));
    }
    s.push_str(&format!(" and run `{}` again.", name.install_command()));
    OpsError::Refused(s)
}

/// Two sockets on one port conflict unless they are bound to two different
/// specific addresses (a wildcard covers every address).
fn binds_overlap(a: IpAddr, b: IpAddr) -> bool {
    a.is_unspecified() || b.is_unspecified() || a == b
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(ca), Ok(cb)) => ca == cb,
        _ => a == b,
    }
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (our_name, our_path) = &self.ours;
        let (their_name, their_path) = &self.theirs;
        let setting = match &self.clash {
            Clash::GoipPort { port, .. } => format!("GOIP_PORT = {port}"),
            Clash::ComponentJid(jid) => format!("XMPP_COMPONENT_JID = {jid:?}"),
            Clash::MetricsListen(addr) => format!("METRICS_LISTEN = \"{addr}\""),
            Clash::SqliteFile(file) => format!("DB_FILE = {:?}", file.display().to_string()),
            Clash::MysqlDatabase { database, .. } => format!("DB_BASE = {database:?}"),
        };
        write!(
            f,
            "{setting} in {} (instance {our_name}) collides with {} (instance {their_name}, {}): ",
            our_path.display(),
            their_path.display(),
            their_name.unit_name()
        )?;
        match &self.clash {
            Clash::GoipPort { port, ours, theirs } => write!(
                f,
                "both would listen on UDP port {port} (GOIP_BIND {ours} and {theirs}), and only one can; \
                 give this instance a port of its own and point its GoIPs at it"
            ),
            Clash::ComponentJid(_) => f.write_str(
                "Prosody admits only one connection per component; give this instance a Component \
                 of its own in Prosody and set XMPP_COMPONENT_JID and XMPP_DATA_DOMAIN to it",
            ),
            Clash::MetricsListen(addr) => write!(
                f,
                "both would serve their metrics on TCP port {}, and only one can; give this \
                 instance a port of its own (and add it to Prometheus's targets)",
                addr.port()
            ),
            Clash::SqliteFile(_) => f.write_str("two daemons must never share one SQLite database"),
            Clash::MysqlDatabase { host, port, .. } => write!(
                f,
                "both would use that database on {host}:{port}, and take each other's queued messages"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &str, extra: &str) -> Config {
        let text = format!("XMPP_DOMAIN = \"example.org\"\nXMPP_COMPONENT_SECRET = \"s\"\n{extra}");
        Config::parse(&text, Path::new(path)).expect("valid").0
    }

    fn clashes(a: &Config, b: &Config) -> Vec<Clash> {
        let (na, nb) = (InstanceName::Named("2508".into()), InstanceName::Main);
        between((&na, a), (&nb, b))
            .into_iter()
            .map(|c| c.clash)
            .collect()
    }

    #[test]
    fn distinct_instances_do_not_collide() {
        let a = config(
            "/a",
            "XMPP_DATA_DOMAIN = \"a.example.org\"\nGOIP_PORT = 1\nDB_FILE = \"/a.db\"\n",
        );
        let b = config(
            "/b",
            "XMPP_DATA_DOMAIN = \"b.example.org\"\nGOIP_PORT = 2\nDB_FILE = \"/b.db\"\n",
        );
        assert_eq!(clashes(&a, &b), []);
    }

    #[test]
    fn same_port_jid_and_file_all_collide_and_name_both_files() {
        let a = config(
            "/etc/goippy-2508.conf",
            "XMPP_DATA_DOMAIN = \"sms.example.org\"\n",
        );
        let b = config(
            "/etc/goippy.conf",
            "XMPP_DATA_DOMAIN = \"SMS.example.org\"\n",
        );
        let (na, nb) = (InstanceName::Named("2508".into()), InstanceName::Main);
        let found = between((&na, &a), (&nb, &b));
        let kinds: Vec<&Clash> = found.iter().map(|c| &c.clash).collect();
        assert!(
            matches!(kinds[0], Clash::GoipPort { port: 44444, .. }),
            "{kinds:?}"
        );
        assert!(matches!(kinds[1], Clash::ComponentJid(_)), "{kinds:?}");
        assert!(matches!(kinds[2], Clash::SqliteFile(_)), "{kinds:?}");
        assert_eq!(
            found[0].to_string(),
            "GOIP_PORT = 44444 in /etc/goippy-2508.conf (instance 2508) collides with /etc/goippy.conf \
             (instance default, goippy.service): both would listen on UDP port 44444 \
             (GOIP_BIND 0.0.0.0 and 0.0.0.0), and only one can; give this instance a port of its own \
             and point its GoIPs at it"
        );
        assert!(found[1].to_string().starts_with(
            "XMPP_COMPONENT_JID = \"sms.example.org\" in /etc/goippy-2508.conf (instance 2508) collides with /etc/goippy.conf"
        ));
    }

    #[test]
    fn specific_addresses_may_share_a_port() {
        let dom = "XMPP_DATA_DOMAIN = \"a.example.org\"\n";
        let other = "XMPP_DATA_DOMAIN = \"b.example.org\"\nDB_FILE = \"/b.db\"\n";
        let a = config("/a", &format!("{dom}GOIP_BIND = \"10.0.0.1\"\n"));
        let b = config("/b", &format!("{other}GOIP_BIND = \"10.0.0.2\"\n"));
        assert_eq!(clashes(&a, &b), []);
        let b = config("/b", &format!("{other}GOIP_BIND = \"::\"\n"));
        assert_eq!(clashes(&a, &b).len(), 1);
    }

    #[test]
    fn the_same_metrics_port_collides() {
        let a = config(
            "/a",
            "XMPP_DATA_DOMAIN = \"a.example.org\"\nGOIP_PORT = 1\nDB_FILE = \"/a.db\"\nMETRICS_LISTEN = 9464\n",
        );
        let b = |listen: &str| {
            config(
                "/b",
                &format!(
                    "XMPP_DATA_DOMAIN = \"b.example.org\"\nGOIP_PORT = 2\nDB_FILE = \"/b.db\"\n{listen}"
                ),
            )
        };
        assert_eq!(
            clashes(&a, &b("METRICS_LISTEN = \"0.0.0.0:9464\"\n")),
            [Clash::MetricsListen(
                "127.0.0.1:9464".parse().expect("addr")
            )]
        );
        assert_eq!(clashes(&a, &b("METRICS_LISTEN = 9465\n")), []);
        assert_eq!(clashes(&a, &b("")), []);
    }

    #[test]
    fn the_same_mysql_database_collides() {
        let my = |path, domain, base| {
            config(
                path,
                &format!(
                    "XMPP_DATA_DOMAIN = \"{domain}\"\nGOIP_PORT = {}\nDB_BACKEND = \"mysql\"\nDB_BASE = \"{base}\"\nDB_USER = \"u\"\nDB_PASS = \"p\"\n",
                    if path == "/a" { 1 } else { 2 }
                ),
            )
        };
        let a = my("/a", "a.example.org", "goippy");
        assert_eq!(
            clashes(&a, &my("/b", "b.example.org", "goippy")),
            [Clash::MysqlDatabase {
                host: "localhost".into(),
                port: 3306,
                database: "goippy".into()
            }]
        );
        assert_eq!(clashes(&a, &my("/b", "b.example.org", "goippy2")), []);
    }
}
