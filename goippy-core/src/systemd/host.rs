//! Where installation writes and which programs it runs: the host's
//! directories and tools, overridable so that everything can be exercised in
//! a temporary root without systemd (`--etc-dir`, `--unit-dir`,
//! `--systemctl`, `--systemd-run-dir`, `--useradd`, `--state-dir`, or the
//! matching `GOIPPY_*` environment variables).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::OpsError;
use super::instance::InstanceName;
use super::systemctl::Systemctl;

/// The configuration directory: `goippy.conf`, `goippy-<name>.conf`, and the
/// `passwd` file the service user is looked up in.
pub const DEFAULT_ETC_DIR: &str = "/etc";
/// Where units written by the administrator live.
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";
pub const DEFAULT_SYSTEMCTL: &str = "systemctl";
/// Exists exactly when the system was booted with systemd (see sd_booted(3)).
pub const DEFAULT_SYSTEMD_RUN_DIR: &str = "/run/systemd/system";
pub const DEFAULT_USERADD: &str = "useradd";

/// The installation's view of the machine.
#[derive(Debug, Clone)]
pub struct Host {
    pub etc_dir: PathBuf,
    pub unit_dir: PathBuf,
    pub systemctl: Systemctl,
    /// The program that creates the service user when it is missing.
    pub useradd: OsString,
    /// Where `StateDirectory=goippy` is on this machine, for the checks
    /// `--install` makes (the unit itself always says `goippy`).
    pub state_dir: PathBuf,
}

impl Host {
    /// A host with the given directories and programs (`state_dir`: where
    /// `/var/lib/goippy` is, a staging root's). Relative directories are
    /// made absolute here, because their paths end up in unit files.
    pub fn new(
        etc_dir: &Path,
        unit_dir: &Path,
        systemctl: impl Into<OsString>,
        systemd_run_dir: &Path,
        useradd: impl Into<OsString>,
        state_dir: &Path,
    ) -> Host {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        Host {
            etc_dir: absolute(etc_dir),
            unit_dir: absolute(unit_dir),
            systemctl: Systemctl::new(systemctl, absolute(systemd_run_dir)),
            useradd: useradd.into(),
            state_dir: absolute(state_dir),
        }
    }

    /// `/etc/goippy.conf` or `/etc/goippy-2508.conf`.
    pub fn config_path(&self, name: &InstanceName) -> PathBuf {
        self.etc_dir.join(name.config_file_name())
    }

    /// `/etc/systemd/system/goippy.service` or `…/goippy-2508.service`.
    pub fn unit_path(&self, name: &InstanceName) -> PathBuf {
        self.unit_dir.join(name.unit_name())
    }

    /// The account database the service user is looked up in.
    pub fn passwd_path(&self) -> PathBuf {
        self.etc_dir.join("passwd")
    }
}

/// The canonical path of the goippy binary to run (`current`: the running
/// program's, `std::env::current_exe()`): a unit must not depend on
/// `$PATH`, on a symlink that may be repointed, or on where some other
/// installation put its copy.
pub(super) fn executable(current: std::io::Result<PathBuf>) -> Result<PathBuf, OpsError> {
    current.and_then(|p| p.canonicalize()).map_err(|e| {
        OpsError::Refused(format!(
            "cannot tell where the goippy executable is (for ExecStart=): {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systemd::STATE_DIR;

    /// The real machine's host: `/etc`, `/etc/systemd/system`, `systemctl`, `useradd`.
    fn system() -> Host {
        Host::new(
            Path::new(DEFAULT_ETC_DIR),
            Path::new(DEFAULT_UNIT_DIR),
            DEFAULT_SYSTEMCTL,
            Path::new(DEFAULT_SYSTEMD_RUN_DIR),
            DEFAULT_USERADD,
            Path::new(STATE_DIR),
        )
    }

    #[test]
    fn paths_follow_the_instance_names() {
        let host = system();
        assert_eq!(
            host.config_path(&InstanceName::Main),
            Path::new("/etc/goippy.conf")
        );
        let ext = InstanceName::Named("2508".into());
        assert_eq!(host.config_path(&ext), Path::new("/etc/goippy-2508.conf"));
        assert_eq!(
            host.unit_path(&ext),
            Path::new("/etc/systemd/system/goippy-2508.service")
        );
        assert_eq!(host.passwd_path(), Path::new("/etc/passwd"));
        assert_eq!(
            host.systemctl.booted_marker(),
            Path::new("/run/systemd/system")
        );
    }

    #[test]
    fn relative_directories_become_absolute() {
        let host = Host::new(
            Path::new("root/etc"),
            Path::new("root/units"),
            "systemctl",
            Path::new("root/run"),
            "useradd",
            Path::new("root/state"),
        );
        assert!(host.etc_dir.is_absolute());
        assert!(host.etc_dir.ends_with("root/etc"));
        assert!(host.unit_dir.is_absolute());
        assert!(host.systemctl.booted_marker().is_absolute());
    }

    #[test]
    fn the_executable_is_canonical() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("goippy");
        std::fs::write(&real, "").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert_eq!(
            executable(Ok(link)).expect("resolves"),
            real.canonicalize().expect("canonical")
        );
        assert!(executable(Ok(dir.path().join("missing"))).is_err());
    }
}
