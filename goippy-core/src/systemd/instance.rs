//! Instance names: the operator's words (`default`, `2508`) and the files
//! they stand for (`goippy.service` + `goippy.conf`, `goippy-2508.service` +
//! `goippy-2508.conf`).
//!
//! The mapping is one-to-one and lives only here, so `--install`, `--list`
//! and `--uninstall` cannot disagree about which unit or configuration a name
//! means. A name is validated once, when it is parsed: afterwards it is safe
//! in a file name, a unit name and a systemctl argument.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::config::STATE_DIR;

/// The name under which the operator refers to the main instance.
pub const MAIN_INSTANCE_WORD: &str = "default";

/// Longest accepted instance name; unit names may be 255 bytes, and nobody
/// needs more than this for an extension or a site name.
pub const MAX_NAME_LEN: usize = 64;

/// Which goippy service: the main one or a named one (usually an extension).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceName {
    /// `goippy.service` running `/etc/goippy.conf`; the operator calls it `default`.
    Main,
    /// `goippy-<name>.service` running `/etc/goippy-<name>.conf`.
    Named(String),
}

/// An instance name that cannot be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "instance name {given:?}: use 1–{MAX_NAME_LEN} letters, digits, '-' or '_' (such as the extension, 2508); \
     \"{MAIN_INSTANCE_WORD}\" means the main instance"
)]
pub struct InstanceNameError {
    pub given: String,
}

impl FromStr for InstanceName {
    type Err = InstanceNameError;

    /// `default` is the main instance; anything else must be a plain name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == MAIN_INSTANCE_WORD {
            return Ok(InstanceName::Main);
        }
        let plain = !s.is_empty()
            && s.len() <= MAX_NAME_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if plain {
            Ok(InstanceName::Named(s.to_string()))
        } else {
            Err(InstanceNameError {
                given: s.to_string(),
            })
        }
    }
}

impl fmt::Display for InstanceName {
    /// The operator's word for it: `default` or the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceName::Main => f.write_str(MAIN_INSTANCE_WORD),
            InstanceName::Named(name) => f.write_str(name),
        }
    }
}

impl InstanceName {
    /// `goippy` or `goippy-2508`: the stem of the unit and configuration
    /// file names, and the journal's SyslogIdentifier.
    pub fn stem(&self) -> String {
        match self {
            InstanceName::Main => "goippy".to_string(),
            InstanceName::Named(name) => format!("goippy-{name}"),
        }
    }

    /// `goippy.service` or `goippy-2508.service`.
    pub fn unit_name(&self) -> String {
        format!("{}.service", self.stem())
    }

    /// `goippy.conf` or `goippy-2508.conf`, inside the configuration directory.
    pub fn config_file_name(&self) -> String {
        format!("{}.conf", self.stem())
    }

    /// The SQLite file a configuration created for this instance uses:
    /// `/var/lib/goippy/goippy-2508.db`, inside the shared state directory
    /// but never the same file as another instance's.
    pub fn own_db_file(&self) -> PathBuf {
        PathBuf::from(STATE_DIR).join(format!("{}.db", self.stem()))
    }

    /// The arguments that name this instance on goippy's command line:
    /// nothing for the main instance on `--install`, the name otherwise.
    pub fn install_command(&self) -> String {
        match self {
            InstanceName::Main => "goippy --install".to_string(),
            InstanceName::Named(name) => format!("goippy --install {name}"),
        }
    }

    /// `goippy --uninstall default` or `goippy --uninstall 2508`.
    pub fn uninstall_command(&self) -> String {
        format!("goippy --uninstall {self}")
    }

    /// The instance a unit file name stands for, if it is one of goippy's
    /// names at all (`goippy.service`, `goippy-<valid name>.service`).
    pub fn from_unit_file_name(file_name: &str) -> Option<InstanceName> {
        let stem = file_name.strip_suffix(".service")?;
        if stem == "goippy" {
            return Some(InstanceName::Main);
        }
        // `goippy-default.service` is not the main instance's unit.
        let name = stem.strip_prefix("goippy-")?.parse().ok()?;
        (name != InstanceName::Main).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_files() {
        let main = InstanceName::Main;
        assert_eq!(main.to_string(), "default");
        assert_eq!(main.unit_name(), "goippy.service");
        assert_eq!(main.config_file_name(), "goippy.conf");
        assert_eq!(
            main.own_db_file(),
            PathBuf::from("/var/lib/goippy/goippy.db")
        );
        let ext: InstanceName = "2508".parse().expect("valid");
        assert_eq!(ext, InstanceName::Named("2508".into()));
        assert_eq!(ext.unit_name(), "goippy-2508.service");
        assert_eq!(ext.config_file_name(), "goippy-2508.conf");
        assert_eq!(
            ext.own_db_file(),
            PathBuf::from("/var/lib/goippy/goippy-2508.db")
        );
        assert_eq!(ext.install_command(), "goippy --install 2508");
        assert_eq!(main.install_command(), "goippy --install");
        assert_eq!(main.uninstall_command(), "goippy --uninstall default");
    }

    #[test]
    fn default_is_the_main_instance_and_bad_names_are_refused() {
        assert_eq!("default".parse(), Ok(InstanceName::Main));
        for good in ["2508", "site_a", "A-1", &"x".repeat(MAX_NAME_LEN)] {
            assert!(good.parse::<InstanceName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "25 08",
            "../etc",
            "a/b",
            "a.b",
            "ä",
            "x@y",
            "a\n",
            &"x".repeat(MAX_NAME_LEN + 1),
        ] {
            let err = bad.parse::<InstanceName>().expect_err(bad);
            assert_eq!(err.given, bad);
            assert!(err.to_string().contains("letters, digits"), "{err}");
        }
    }

    #[test]
    fn unit_file_names_round_trip() {
        assert_eq!(
            InstanceName::from_unit_file_name("goippy.service"),
            Some(InstanceName::Main)
        );
        assert_eq!(
            InstanceName::from_unit_file_name("goippy-2508.service"),
            Some(InstanceName::Named("2508".into()))
        );
        for other in [
            "goippy-default.service",
            "goippy@.service",
            "goippy@2508.service",
            "goippy-a.b.service",
            "goippy-.service",
            "goippy.conf",
            "goippyx.service",
            "prosody.service",
        ] {
            assert_eq!(InstanceName::from_unit_file_name(other), None, "{other}");
        }
    }
}
