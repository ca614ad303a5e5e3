//! The unit file goippy writes for an instance, and the marker that says
//! goippy wrote it.
//!
//! One complete unit per instance rather than a `goippy@.service` template:
//! instances differ in more than their name (only one whose GOIP_PORT is
//! below 1024 gets `CAP_NET_BIND_SERVICE`; one whose SQLite file lies outside
//! the state directory needs `ReadWritePaths=`), and a self-contained file
//! reads the same in `systemctl cat` as what goippy decided. Every directive
//! carries a one-line comment saying why it is there, so an operator
//! auditing the unit does not have to guess.
//!
//! The first lines are the marker: the instance name and the configuration
//! the unit runs. Discovery trusts only files that carry it, so a unit
//! somebody wrote by hand (even one called `goippy-2508.service`) is never
//! listed as goippy's, overwritten or removed.

use std::fmt;
use std::path::{Path, PathBuf};

use super::account::SERVICE_USER;
use super::instance::InstanceName;
use super::{OpsError, STATE_DIR};

const MARKER_INSTANCE: &str = "# goippy-instance: ";
const MARKER_CONFIG: &str = "# goippy-config: ";

/// Ports below this need `CAP_NET_BIND_SERVICE` (Linux's default
/// `net.ipv4.ip_unprivileged_port_start`).
pub const FIRST_UNPRIVILEGED_PORT: u16 = 1024;

/// Everything that varies between two goippy units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    pub instance: InstanceName,
    /// The canonical path of the goippy binary (`ExecStart=`).
    pub executable: UnitPath,
    /// The configuration file the instance runs.
    pub config: UnitPath,
    /// The configuration's GOIP_PORT: below 1024 it needs a capability.
    pub goip_port: u16,
    /// The directory of a SQLite DB_FILE outside the state directory.
    pub extra_writable_dir: Option<UnitPath>,
    /// The directory of the SPOOL_FILE, when it is outside the state
    /// directory and not DB_FILE's.
    pub spool_dir: Option<UnitPath>,
}

/// What the marker of a goippy unit says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMarker {
    pub instance: InstanceName,
    pub config: PathBuf,
}

/// Why a unit file is not one goippy wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotGoippys {
    #[error("it has no \"goippy-instance:\" marker, so goippy did not write it")]
    NoMarker,
    #[error("its goippy marker is incomplete or damaged")]
    Damaged,
}

/// Renders the unit for `spec`: the file as written, with the few parts that
/// vary filled in. Every directive has its reason on the line above.
pub fn render(spec: &UnitSpec) -> String {
    let name = &spec.instance;
    let (config, executable, port) = (&spec.config, &spec.executable, spec.goip_port);
    let (install, uninstall) = (name.install_command(), name.uninstall_command());
    let (unit_name, stem) = (name.unit_name(), name.stem());
    let mut writable = String::new();
    if let Some(dir) = &spec.extra_writable_dir {
        writable.push_str(&format!(
            "# DB_FILE lies outside the state directory: its directory stays writable under \
             ProtectSystem=strict ('-': start anyway if it is missing, and let goippy say so).\n\
             ReadWritePaths=-{dir}\n"
        ));
    }
    if let Some(dir) = &spec.spool_dir {
        writable.push_str(&format!(
            "# SPOOL_FILE lies outside the state directory: its directory stays writable too.\n\
             ReadWritePaths=-{dir}\n"
        ));
    }
    let capabilities = if port < FIRST_UNPRIVILEGED_PORT {
        format!(
            "# GOIP_PORT {port} is below {FIRST_UNPRIVILEGED_PORT}: binding it is the one \
             privilege goippy keeps.\n\
             CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n\
             # Hand that capability to the unprivileged user.\n\
             AmbientCapabilities=CAP_NET_BIND_SERVICE"
        )
    } else {
        format!(
            "# GOIP_PORT {port} needs no privilege: goippy holds no capabilities at all.\n\
             CapabilityBoundingSet="
        )
    };
    format!(
        r#"{MARKER_INSTANCE}{name}
{MARKER_CONFIG}{config}
# Written by `{install}`; `{uninstall}` removes it.
# The next `{install}` rewrites this file: put local changes in a drop-in
# (systemctl edit {unit_name}) instead.

[Unit]
Description=goippy GoIP-XMPP SMS bridge (instance {name})
# GOIP_BIND may name an address that only exists once the network is configured.
Wants=network-online.target
# Ordering only: start after (and stop before) Prosody and the database when they run here; absent units are ignored.
After=network-online.target prosody.service mariadb.service mysql.service

[Service]
# goippy reports readiness itself (sd_notify READY=1) once it listens and its database is open.
Type=notify
# Only goippy's own process may send notifications, not anything it might start.
NotifyAccess=main
# goippy pings the watchdog (WATCHDOG=1) while its loops run; a hung daemon is killed and restarted.
WatchdogSec=30
# The canonical path of the goippy that ran --install, and this instance's configuration.
ExecStart={executable} {config}
# Journal lines say which instance wrote them.
SyslogIdentifier={stem}
# A crash or a watchdog kill restarts the bridge; a clean stop does not.
Restart=on-failure
# Give Prosody or the database a moment before the next attempt.
RestartSec=2
# goippy's graceful shutdown takes at most 10 s; after 15 s systemd kills it.
TimeoutStopSec=15

# --- Identity and files ---
# A dedicated system user; its group may read this instance's configuration (root:goippy, 0640).
User={SERVICE_USER}
# {STATE_DIR}, created and owned for {SERVICE_USER}, holds the SQLite files; instances share it, each with its own file.
StateDirectory=goippy
# The state directory holds message history: not for other users.
StateDirectoryMode=0750
# Databases and anything else goippy creates are private to it.
UMask=0077
{writable}
# --- Privileges ---
{capabilities}
# Neither goippy nor anything it could execute may gain privileges (setuid, file capabilities).
NoNewPrivileges=yes
# No setuid/setgid files may be created.
RestrictSUIDSGID=yes

# --- Filesystem ---
# The whole file system is read-only; only the directories this unit names are writable.
ProtectSystem=strict
# Home directories are invisible: goippy has no business there.
ProtectHome=yes
# A private /tmp and /var/tmp.
PrivateTmp=yes
# No device nodes: goippy speaks UDP and TCP, not to hardware.
PrivateDevices=yes
# Other processes are invisible in /proc.
ProtectProc=invisible
# Only the process entries of /proc; no kernel knobs.
ProcSubset=pid
# Mounts stay inside goippy's own mount namespace.
PrivateMounts=yes
# System V IPC objects are removed when the service stops.
RemoveIPC=yes

# --- Kernel ---
# /proc/sys and /sys are read-only.
ProtectKernelTunables=yes
# No kernel modules are loaded.
ProtectKernelModules=yes
# The kernel log is out of reach.
ProtectKernelLogs=yes
# The cgroup tree is read-only.
ProtectControlGroups=yes
# The system clock cannot be set.
ProtectClock=yes
# The host name cannot be changed.
ProtectHostname=yes
# UDP and TCP over IPv4/IPv6 (GoIPs, Prosody, MySQL); AF_UNIX for journald, sd_notify and a local MySQL socket.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
# No new namespaces: nothing to sandbox further from inside.
RestrictNamespaces=yes
# The execution domain (personality) stays fixed.
LockPersonality=yes
# No memory that is both writable and executable: goippy has no JIT.
MemoryDenyWriteExecute=yes
# No realtime scheduling: it could starve the rest of the machine.
RestrictRealtime=yes
# Only the native system call ABI.
SystemCallArchitectures=native
# System calls limited to those ordinary services use.
SystemCallFilter=@system-service
# Minus changing users, ownership, clocks or scheduling, which goippy never does.
SystemCallFilter=~@privileged @resources
# A call outside that set fails with EPERM instead of killing the bridge.
SystemCallErrorNumber=EPERM

[Install]
# `systemctl enable` starts it at boot.
WantedBy=multi-user.target
"#
    )
}

/// An absolute path that reads the same to systemd as it does to the kernel.
///
/// systemd gives meaning to many characters in unit values: whitespace
/// separates words, quotes and backslashes are unescaped, `%` starts a
/// specifier, `$` an environment variable in `ExecStart=`. Rather than an
/// escaping scheme that would have to be right for every directive, goippy
/// accepts only absolute paths made of characters none of them treats
/// specially, and refuses anything else with a message naming the path. Real
/// installations (`/usr/local/bin/goippy`, `/etc/goippy-2508.conf`,
/// `/var/lib/goippy`) never come near the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPath(String);

impl UnitPath {
    /// Accepts `path` if it is absolute and every character is plain;
    /// `what` says what the path is, for the message ("the goippy executable").
    pub fn new(path: &Path, what: &str) -> Result<Self, OpsError> {
        let refuse = || {
            OpsError::Refused(format!(
                "{what} {path:?} cannot go into a systemd unit as it is: goippy accepts absolute \
                 paths of letters, digits and / . _ - + @ , ~ only"
            ))
        };
        let text = path.to_str().ok_or_else(refuse)?;
        let plain = path.is_absolute()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+@,~".contains(&b));
        if plain {
            Ok(UnitPath(text.to_string()))
        } else {
            Err(refuse())
        }
    }

    #[cfg(test)]
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl fmt::Display for UnitPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the marker at the top of a unit file.
pub fn read_marker(text: &str) -> Result<UnitMarker, NotGoippys> {
    let mut instance = None;
    let mut config = None;
    for line in text.lines() {
        let line = line.trim_end();
        if !line.starts_with('#') {
            break;
        }
        if let Some(v) = line.strip_prefix(MARKER_INSTANCE) {
            instance = Some(v.parse::<InstanceName>().map_err(|_| NotGoippys::Damaged)?);
        } else if let Some(v) = line.strip_prefix(MARKER_CONFIG) {
            let path = PathBuf::from(v);
            if !path.is_absolute() {
                return Err(NotGoippys::Damaged);
            }
            config = Some(path);
        }
    }
    match (instance, config) {
        (Some(instance), Some(config)) => Ok(UnitMarker { instance, config }),
        (None, None) => Err(NotGoippys::NoMarker),
        _ => Err(NotGoippys::Damaged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(instance: &str, port: u16, extra: Option<&str>) -> UnitSpec {
        let instance: InstanceName = instance.parse().expect("name");
        UnitSpec {
            config: UnitPath::new(
                &Path::new("/etc").join(instance.config_file_name()),
                "config",
            )
            .expect("path"),
            instance,
            executable: UnitPath::new(Path::new("/opt/goippy/bin/goippy"), "exe").expect("path"),
            goip_port: port,
            extra_writable_dir: extra.map(|d| UnitPath::new(Path::new(d), "dir").expect("path")),
            spool_dir: None,
        }
    }

    /// The directives (non-comment, non-section lines) of a unit.
    fn directives(unit: &str) -> Vec<&str> {
        unit.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
            .collect()
    }

    #[test]
    fn an_unprivileged_instance_unit() {
        let unit = render(&spec("2508", 44444, None));
        let d = directives(&unit);
        for expected in [
            "ExecStart=/opt/goippy/bin/goippy /etc/goippy-2508.conf",
            "User=goippy",
            "StateDirectory=goippy",
            "Type=notify",
            "NotifyAccess=main",
            "WatchdogSec=30",
            "TimeoutStopSec=15",
            "Restart=on-failure",
            "RestartSec=2",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes",
            "SystemCallArchitectures=native",
            "SystemCallFilter=@system-service",
            "SystemCallFilter=~@privileged @resources",
            "CapabilityBoundingSet=",
            "SyslogIdentifier=goippy-2508",
            "Wants=network-online.target",
            "After=network-online.target prosody.service mariadb.service mysql.service",
            "WantedBy=multi-user.target",
        ] {
            assert!(d.contains(&expected), "{expected} missing from\n{unit}");
        }
        for absent in ["AmbientCapabilities=", "ReadWritePaths=", "DynamicUser="] {
            assert!(
                !d.iter().any(|l| l.starts_with(absent)),
                "{absent} in\n{unit}"
            );
        }
        assert!(!unit.contains("CAP_NET_BIND_SERVICE"), "{unit}");
    }

    #[test]
    fn every_directive_says_why() {
        let unit = render(&spec("2508", 53, Some("/srv/goippy")));
        let lines: Vec<&str> = unit.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_directive = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
            if is_directive && !line.starts_with("Description=") {
                assert!(
                    i > 0 && lines[i - 1].starts_with("# "),
                    "{line} has no comment above it"
                );
            }
        }
        // Each directive appears once: no accidental duplicates.
        let d = directives(&unit);
        let keys: Vec<&str> = d
            .iter()
            .map(|l| l.split('=').next().unwrap_or_default())
            .collect();
        // SystemCallFilter= is the one directive given twice (a set, then what it loses).
        let keys: Vec<&str> = keys
            .into_iter()
            .filter(|k| *k != "SystemCallFilter")
            .collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "{unit}");
    }

    #[test]
    fn a_privileged_port_keeps_exactly_the_bind_capability() {
        let unit = render(&spec("dns", 53, None));
        let d = directives(&unit);
        assert!(
            d.contains(&"CapabilityBoundingSet=CAP_NET_BIND_SERVICE"),
            "{unit}"
        );
        assert!(
            d.contains(&"AmbientCapabilities=CAP_NET_BIND_SERVICE"),
            "{unit}"
        );
        assert!(!d.contains(&"CapabilityBoundingSet="), "{unit}");
        assert!(unit.contains("GOIP_PORT 53 is below 1024"), "{unit}");
        // 1024 itself is unprivileged.
        let unit = render(&spec("x", 1024, None));
        assert!(
            directives(&unit).contains(&"CapabilityBoundingSet="),
            "{unit}"
        );
    }

    #[test]
    fn a_db_outside_the_state_directory_stays_writable() {
        let unit = render(&spec("2508", 44444, Some("/srv/goippy")));
        assert!(
            directives(&unit).contains(&"ReadWritePaths=-/srv/goippy"),
            "{unit}"
        );
    }

    #[test]
    fn the_main_instance_unit() {
        let unit = render(&spec("default", 44444, None));
        let d = directives(&unit);
        assert!(
            d.contains(&"ExecStart=/opt/goippy/bin/goippy /etc/goippy.conf"),
            "{unit}"
        );
        assert!(d.contains(&"SyslogIdentifier=goippy"), "{unit}");
        assert!(
            unit.contains(
                "# Written by `goippy --install`; `goippy --uninstall default` removes it."
            )
        );
    }

    #[test]
    fn the_marker_round_trips() {
        for name in ["default", "2508"] {
            let s = spec(name, 44444, None);
            let marker = read_marker(&render(&s)).expect("marker");
            assert_eq!(marker.instance, s.instance);
            assert_eq!(marker.config, s.config.as_path());
        }
    }

    #[test]
    fn foreign_and_damaged_units_are_recognised() {
        assert_eq!(
            read_marker("[Unit]\nDescription=mine\n"),
            Err(NotGoippys::NoMarker)
        );
        // A marker below the leading comment block does not count.
        assert_eq!(
            read_marker("[Unit]\n# goippy-instance: 2508\n# goippy-config: /etc/x\n"),
            Err(NotGoippys::NoMarker)
        );
        assert_eq!(
            read_marker("# goippy-instance: 2508\n[Unit]\n"),
            Err(NotGoippys::Damaged)
        );
        assert_eq!(
            read_marker("# goippy-instance: 25 08\n# goippy-config: /etc/x\n"),
            Err(NotGoippys::Damaged)
        );
        assert_eq!(
            read_marker("# goippy-instance: 2508\n# goippy-config: etc/x\n"),
            Err(NotGoippys::Damaged)
        );
    }

    #[test]
    fn plain_absolute_paths_are_accepted() {
        for ok in [
            "/usr/local/bin/goippy",
            "/etc/goippy-2508.conf",
            "/opt/goippy+1/bin/goippy",
            "/srv/a_b/c.d@e,f~",
        ] {
            let p = UnitPath::new(Path::new(ok), "x").expect(ok);
            assert_eq!(p.to_string(), ok);
            assert_eq!(p.as_path(), Path::new(ok));
        }
    }

    #[test]
    fn anything_systemd_would_reinterpret_is_refused() {
        for bad in [
            "relative/goippy",
            "/opt/my goippy/goippy",
            "/opt/100%/goippy",
            "/opt/$HOME/goippy",
            "/opt/\"q\"/goippy",
            "/opt/a\\b",
            "/opt/a;b",
            "/opt/tab\there",
            "/opt/ä/goippy",
        ] {
            let err = UnitPath::new(Path::new(bad), "the goippy executable").expect_err(bad);
            assert!(
                err.to_string().starts_with("the goippy executable"),
                "{err}"
            );
        }
    }
}
