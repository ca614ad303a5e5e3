//! The configuration of a new named instance, made from the main one.
//!
//! `goippy --install 2508` without `/etc/goippy-2508.conf` copies
//! `/etc/goippy.conf`, comments and all, with one change: a SQLite instance
//! gets its own database file (`/var/lib/goippy/goippy-2508.db`), because two
//! daemons must never share one SQLite file. GOIP_PORT and XMPP_COMPONENT_JID
//! are copied unchanged on purpose: the right values depend on the GoIP's
//! settings and on Prosody's `Component` line, which goippy cannot guess. The
//! copy therefore collides with the main instance until the operator edits
//! it, and the collision check says exactly which file and keys to change —
//! honest, where an invented port or domain would only fail later and
//! further away. A MySQL copy keeps the database settings too, and the same
//! check asks for a DB_BASE of its own.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, DbSettings};

use super::OpsError;
use super::instance::InstanceName;

/// The text of `name`'s configuration, derived from the base configuration
/// `base_text` (read from `base_path`, only used in messages).
pub fn derive(
    base_text: &str,
    base_path: &Path,
    name: &InstanceName,
    new_path: &Path,
) -> Result<(String, Option<PathBuf>), OpsError> {
    let (base, _warnings) = Config::parse(base_text, base_path)?;
    let (database, must_differ, own_db) = match base.db {
        DbSettings::Sqlite { .. } => (
            "It keeps its own SQLite database.",
            "GOIP_PORT and XMPP_COMPONENT_JID",
            Some(name.own_db_file()),
        ),
        DbSettings::MySql(_) => (
            "It still uses the MySQL database of the base.",
            "DB_BASE, GOIP_PORT and XMPP_COMPONENT_JID",
            None,
        ),
    };
    let mut text = format!(
        "# goippy instance {name}: created by `{install}` from {base}.\n\
         # {database} {must_differ} (with\n\
         # XMPP_DATA_DOMAIN and Prosody's Component line) must differ from every other\n\
         # instance's; `{install}` refuses to install it until they do.\n\n",
        install = name.install_command(),
        base = base_path.display(),
    );
    match &own_db {
        None => text.push_str(base_text),
        Some(db) => {
            let db_line = format!("DB_FILE                = {:?}", db.display().to_string());
            for line in base_text.lines() {
                text.push_str(if is_db_file_line(line) {
                    &db_line
                } else {
                    line
                });
                text.push('\n');
            }
            if !base_text.lines().any(is_db_file_line) {
                text.push_str(&format!(
                    "\n# This instance's own SQLite file (added by `{}`).\n{db_line}\n",
                    name.install_command()
                ));
            }
        }
    }
    // The copy must say what was meant; anything else is a bug or a base
    // file shaped in a way this line editing does not understand.
    let (copy, _) = Config::parse(&text, new_path)?;
    if let Some(db) = &own_db
        && copy.db != (DbSettings::Sqlite { file: db.clone() })
    {
        return Err(OpsError::Refused(format!(
            "cannot give {} its own DB_FILE by editing a copy of {}; create {} yourself \
             (DB_FILE = {:?}) and run `{}` again",
            new_path.display(),
            base_path.display(),
            new_path.display(),
            db.display().to_string(),
            name.install_command()
        )));
    }
    Ok((text, own_db))
}

/// `DB_FILE = …`, not commented out.
fn is_db_file_line(line: &str) -> bool {
    line.trim_start()
        .strip_prefix("DB_FILE")
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Creates `new_path` (mode 0600, never over an existing file) from the
/// base configuration at `base_path`; returns the instance's own SQLite
/// file, when the base uses SQLite.
pub fn create(
    base_path: &Path,
    new_path: &Path,
    name: &InstanceName,
) -> Result<Option<PathBuf>, OpsError> {
    let base_text = std::fs::read_to_string(base_path)
        .map_err(OpsError::io("read the base configuration", base_path))?;
    let (text, own_db_file) = derive(&base_text, base_path, name, new_path)?;
    let io = OpsError::io("create", new_path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(new_path)
        .map_err(&io)?;
    file.write_all(text.as_bytes()).map_err(&io)?;
    file.sync_all().map_err(&io)?;
    Ok(own_db_file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn name() -> InstanceName {
        InstanceName::Named("2508".into())
    }

    #[test]
    fn a_sqlite_copy_gets_its_own_database_and_keeps_the_rest() {
        let (text, db) = derive(
            config::SAMPLE,
            Path::new("/etc/goippy.conf"),
            &name(),
            Path::new("/etc/goippy-2508.conf"),
        )
        .expect("derive");
        assert_eq!(db, Some(PathBuf::from("/var/lib/goippy/goippy-2508.db")));
        assert!(text.starts_with(
            "# goippy instance 2508: created by `goippy --install 2508` from /etc/goippy.conf.\n\
             # It keeps its own SQLite database. GOIP_PORT and XMPP_COMPONENT_JID (with\n"
        ));
        assert!(text.contains("DB_FILE                = \"/var/lib/goippy/goippy-2508.db\"\n"));
        assert!(!text.contains("/var/lib/goippy/goippy.db"), "{text}");
        // Everything else, comments included, is the base's.
        assert!(text.contains(config::SAMPLE.lines().next().expect("line")));
        let (copy, _) = Config::parse(&text, Path::new("/etc/goippy-2508.conf")).expect("parses");
        let (base, _) =
            Config::parse(config::SAMPLE, Path::new("/etc/goippy.conf")).expect("parses");
        assert_eq!(copy.goip.port, base.goip.port);
        assert_eq!(copy.xmpp.component_jid, base.xmpp.component_jid);
    }

    #[test]
    fn a_base_without_db_file_gets_one_appended() {
        let base = "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
                    XMPP_COMPONENT_SECRET = \"s\"\n# DB_FILE = \"/old.db\"\n";
        let (text, db) = derive(base, Path::new("/b"), &name(), Path::new("/n")).expect("derive");
        let (copy, _) = Config::parse(&text, Path::new("/n")).expect("parses");
        assert_eq!(
            copy.db,
            DbSettings::Sqlite {
                file: db.expect("sqlite")
            }
        );
        assert!(
            text.contains("# DB_FILE = \"/old.db\"\n"),
            "comments stay: {text}"
        );
    }

    #[test]
    fn a_mysql_copy_keeps_its_database_settings() {
        let base = "XMPP_DOMAIN = \"example.org\"\nXMPP_DATA_DOMAIN = \"sms.example.org\"\n\
                    XMPP_COMPONENT_SECRET = \"s\"\nDB_BACKEND = \"mysql\"\nDB_BASE = \"goippy\"\n\
                    DB_USER = \"u\"\nDB_PASS = \"p\"\n";
        let (text, db) = derive(base, Path::new("/b"), &name(), Path::new("/n")).expect("derive");
        assert_eq!(db, None);
        assert!(text.ends_with(base));
        assert!(
            text.contains("# It still uses the MySQL database of the base. DB_BASE, GOIP_PORT"),
            "{text}"
        );
        assert!(!text.contains("SQLite"), "{text}");
    }

    #[test]
    fn a_broken_base_is_reported_not_copied() {
        let err = derive(
            "XMPP_DOMAIN = oops\n",
            Path::new("/etc/goippy.conf"),
            &name(),
            Path::new("/n"),
        )
        .expect_err("broken");
        assert!(
            err.to_string()
                .starts_with("/etc/goippy.conf: not a valid configuration file"),
            "{err}"
        );
    }

    #[test]
    fn create_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("goippy.conf");
        std::fs::write(&base, config::SAMPLE).expect("write");
        let new = dir.path().join("goippy-2508.conf");
        let own_db_file = create(&base, &new, &name()).expect("create");
        assert_eq!(
            own_db_file,
            Some(PathBuf::from("/var/lib/goippy/goippy-2508.db"))
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&new).expect("meta").mode() & 0o777, 0o600);
        assert!(new.exists());
        let again = create(&base, &new, &name()).expect_err("exists");
        assert!(again.to_string().starts_with("cannot create "), "{again}");
    }
}
