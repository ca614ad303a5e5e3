//! The system user the services run as, and who may read their configuration.
//!
//! Every instance runs as the one static system user `goippy`, created with
//! `useradd --system` the first time something is installed. Why not
//! `DynamicUser=yes`: the configuration holds the component secret and the
//! database password, so it must stay unreadable to others (0600 as
//! `--sample` writes it), and a dynamic user has no stable group that a
//! file can be shared with — it would need `LoadCredential=`, which the
//! daemon would then have to read from `$CREDENTIALS_DIRECTORY`. Several
//! dynamic-user instances sharing `StateDirectory=goippy` would also have
//! systemd re-own the directory at each start. A static user gives one owner
//! for `/var/lib/goippy`, and a group to share the configuration with:
//! install makes each configuration `root:goippy`, mode 0640 — root writes
//! it, the service reads it, nobody else sees it.
//!
//! The user is looked up in `<etc>/passwd` (where `useradd --system` puts
//! it), so a temporary root used for testing has its own account database
//! and never the machine's.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::host::Host;
use super::tool::{self, ToolError};
use super::{OpsError, Report};

/// The user (and primary group) every goippy instance runs as.
pub const SERVICE_USER: &str = "goippy";

/// Mode of an installed configuration: root writes, the service group reads.
pub const CONFIG_MODE: u32 = 0o640;

/// The service user's numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceAccount {
    pub uid: u32,
    pub gid: u32,
}

/// The arguments that create the service user: a system account without a
/// login shell, its home the state directory (not created here: systemd
/// creates it with the right owner), with a group of its own.
pub const USERADD_ARGS: &[&str] = &[
    "--system",
    "--user-group",
    "--home-dir",
    crate::config::STATE_DIR,
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    "--comment",
    "goippy SMS bridge",
    SERVICE_USER,
];

/// Finds `user` in a passwd(5) file; a missing file means no such user.
pub fn lookup(passwd: &Path, user: &str) -> io::Result<Option<ServiceAccount>> {
    let text = match std::fs::read_to_string(passwd) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(text.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(ServiceAccount { uid, gid })
    }))
}

/// Returns the service user, creating it when it does not exist.
pub fn ensure(host: &Host, report: &mut Report) -> Result<ServiceAccount, OpsError> {
    let passwd = host.passwd_path();
    let find = || lookup(&passwd, SERVICE_USER).map_err(OpsError::io("read", &passwd));
    if let Some(account) = find()? {
        return Ok(account);
    }
    let command = tool::command_line(std::ffi::OsStr::new("useradd"), USERADD_ARGS);
    tool::run_checked(&host.useradd, USERADD_ARGS).map_err(|e| {
        OpsError::Refused(match e {
            ToolError::NotFound { program } => format!(
                "the service user {SERVICE_USER} does not exist and {program:?} was not found; \
                 create the user with\n  {command}\nand run the install again"
            ),
            e => format!("cannot create the service user {SERVICE_USER}: {e}"),
        })
    })?;
    match find()? {
        Some(account) => {
            report.say(format!(
                "created the system user {SERVICE_USER} ({command})"
            ));
            Ok(account)
        }
        None => Err(OpsError::Refused(format!(
            "useradd succeeded but {SERVICE_USER} is not in {}; goippy needs it there to give it the configuration",
            passwd.display()
        ))),
    }
}

/// Makes `config` readable by the service user's group and nobody else:
/// group `account.gid`, mode 0640. The owner is left as it is (root, when
/// run as root).
pub fn share_config(config: &Path, account: ServiceAccount) -> Result<(), OpsError> {
    std::os::unix::fs::chown(config, None, Some(account.gid))
        .map_err(OpsError::io("give the service group", config))?;
    std::fs::set_permissions(config, std::fs::Permissions::from_mode(CONFIG_MODE))
        .map_err(OpsError::io("set the mode of", config))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn lookup_reads_passwd_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let passwd = dir.path().join("passwd");
        assert_eq!(lookup(&passwd, "goippy").expect("no file"), None);
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n\
             goippyx:x:5:5::/:/bin/false\n\
             broken:x:notanumber:1::/:/bin/false\n\
             goippy:x:998:997:goippy SMS bridge:/var/lib/goippy:/usr/sbin/nologin\n",
        )
        .expect("write");
        assert_eq!(
            lookup(&passwd, "goippy").expect("read"),
            Some(ServiceAccount { uid: 998, gid: 997 })
        );
        assert_eq!(lookup(&passwd, "broken").expect("read"), None);
        assert_eq!(lookup(&passwd, "nobody").expect("read"), None);
    }

    #[test]
    fn share_config_sets_group_and_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("goippy.conf");
        std::fs::write(&config, "x").expect("write");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // Our own group: the only one an unprivileged test may chown to.
        let gid = std::fs::metadata(dir.path()).expect("meta").gid();
        share_config(&config, ServiceAccount { uid: 0, gid }).expect("share");
        let meta = std::fs::metadata(&config).expect("meta");
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(meta.gid(), gid);
    }

    #[test]
    fn useradd_creates_a_system_user_without_a_shell() {
        let args = USERADD_ARGS;
        assert!(args.contains(&"--system"));
        assert!(args.contains(&"/usr/sbin/nologin"));
        assert_eq!(args.last(), Some(&"goippy"));
    }
}
