//! Who already listens on the UDP port an instance is to take.
//!
//! `--install` starts the service at once. A goippy started by hand (the
//! README's goip-sim walk-through does that) and never stopped still holds
//! GOIP_PORT, and the new unit fails with "Address already in use" and
//! restarts in a loop. So before installing, goippy reads the kernel's UDP
//! socket tables (`/proc/net/udp`, `/proc/net/udp6`) for a socket bound to
//! the port, finds the process that owns it through `/proc/<pid>/fd`, and
//! through `/proc/<pid>/cgroup` whether that process is the very service
//! being reinstalled (which is fine).
//!
//! It only reads: binding the port to test it would race with the real
//! owner and with any other check running at the same moment.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A process (or at least a socket) bound to the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    /// The address the socket is bound to.
    pub local: IpAddr,
    /// `None` when no process could be found for the socket (another
    /// network namespace, or /proc not readable).
    pub process: Option<HolderProcess>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderProcess {
    pub pid: u32,
    /// Its command line, arguments separated by spaces.
    pub command: String,
    /// The systemd service it runs in (`goippy.service`), if any.
    pub service: Option<String>,
}

/// Why `unit` cannot start while `holders` hold its port, and what to do;
/// `None` when nobody but `unit` itself (a reinstall of the running
/// service) holds it.
pub fn refusal(
    holders: &[PortHolder],
    port: u16,
    config: &Path,
    unit: &str,
    retry: &str,
) -> Option<String> {
    let others: Vec<&PortHolder> = holders
        .iter()
        .filter(|h| {
            h.process
                .as_ref()
                .is_none_or(|p| p.service.as_deref() != Some(unit))
        })
        .collect();
    if others.is_empty() {
        return None;
    }
    let mut s = format!(
        "UDP port {port} (GOIP_PORT in {}) is taken, so {unit} would fail at once with \
         \"Address already in use\":",
        config.display()
    );
    let mut todo = Vec::new();
    for holder in &others {
        let (who, what_to_do) = match &holder.process {
            Some(HolderProcess {
                pid,
                command,
                service: Some(service),
            }) => (
                format!("pid {pid} of {service}: {command}"),
                format!(
                    "stop {service} (`systemctl stop {service}`) or give this instance a GOIP_PORT of its own"
                ),
            ),
            Some(HolderProcess { pid, command, .. }) => (
                format!("pid {pid}, started outside systemd: {command}"),
                format!(
                    "stop pid {pid} (a goippy run in a terminal stops with Ctrl-C there; otherwise `kill {pid}`)"
                ),
            ),
            None => (
                format!(
                    "a socket on {} whose process goippy cannot see",
                    holder.local
                ),
                format!("stop the process that `ss -ulpn 'sport = :{port}'` names"),
            ),
        };
        s.push_str(&format!("\n  - {who}"));
        todo.push(what_to_do);
    }
    todo.dedup();
    s.push_str(&format!(
        "\nFirst {}; then run `{retry}` again. Nothing was installed.",
        todo.join("; ")
    ));
    Some(s)
}

/// One bound UDP socket from `/proc/net/udp*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BoundSocket {
    local: IpAddr,
    port: u16,
    inode: u64,
}

/// The sockets bound to `port` that a bind to `bind:port` would collide
/// with, and their processes, read from `proc` (normally `/proc`).
pub fn udp_port_holders(proc: &Path, bind: IpAddr, port: u16) -> Vec<PortHolder> {
    let mut sockets = Vec::new();
    for table in ["net/udp", "net/udp6"] {
        if let Ok(text) = fs::read_to_string(proc.join(table)) {
            sockets.extend(parse_socket_table(&text));
        }
    }
    sockets.retain(|s| s.port == port && collides(bind, s.local));
    sockets.sort_by_key(|s| s.inode);
    sockets.dedup_by_key(|s| s.inode);
    sockets
        .into_iter()
        .map(|s| PortHolder {
            local: s.local,
            process: find_process(proc, s.inode),
        })
        .collect()
}

/// Whether binding `ours` would fail because `theirs` is bound to the same
/// port: the same address, or either side a wildcard. A wildcard IPv6
/// socket usually takes IPv4 too (unless IPV6_V6ONLY, which /proc does not
/// show), so it counts against any address.
fn collides(ours: IpAddr, theirs: IpAddr) -> bool {
    let theirs = theirs.to_canonical();
    if theirs == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        return true;
    }
    match (ours, theirs) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.is_unspecified() || b.is_unspecified() || a == b,
        (IpAddr::V6(a), IpAddr::V6(b)) => a.is_unspecified() || a == b,
        (IpAddr::V6(a), IpAddr::V4(_)) => a.is_unspecified(),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// The rows of `/proc/net/udp` or `/proc/net/udp6`:
/// `sl local_address rem_address st … uid timeout inode …`, addresses as
/// hex in the kernel's byte order, `ADDR:PORT`.
fn parse_socket_table(text: &str) -> Vec<BoundSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = fields.get(1)?.split_once(':')?;
            let inode = fields.get(9)?.parse().ok()?;
            Some(BoundSocket {
                local: parse_hex_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode,
            })
        })
        .collect()
}

/// An address as /proc prints it: the in-memory bytes of each 32-bit word
/// as a host-order number (little-endian on x86 and arm64).
fn parse_hex_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// The process with a file descriptor on socket `inode`, if one can be seen.
fn find_process(proc: &Path, inode: u64) -> Option<HolderProcess> {
    let wanted = format!("socket:[{inode}]");
    for entry in fs::read_dir(proc).ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str())
        });
        if holds {
            return Some(HolderProcess {
                pid,
                command: command_line(&entry.path()),
                service: service_of(&entry.path()),
            });
        }
    }
    None
}

fn command_line(process: &Path) -> String {
    let raw = fs::read(process.join("cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        fs::read_to_string(process.join("comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    } else {
        words.join(" ")
    }
}

/// The `.service` a process runs in, from its cgroup path
/// (`0::/system.slice/goippy.service`).
fn service_of(process: &Path) -> Option<String> {
    let cgroup = fs::read_to_string(process.join("cgroup")).ok()?;
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        path.split('/')
            .rev()
            .find(|part| part.ends_with(".service"))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_socket_tables() {
        let udp = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  112: 0100007F:ADAC 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 2 0000000000000000 0
  113: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 815 2 0000000000000000 0
";
        assert_eq!(
            parse_socket_table(udp),
            vec![
                BoundSocket {
                    local: "127.0.0.1".parse().expect("ip"),
                    port: 44460,
                    inode: 4711
                },
                BoundSocket {
                    local: "0.0.0.0".parse().expect("ip"),
                    port: 53,
                    inode: 815
                },
            ]
        );
        let udp6 = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  5: 00000000000000000000000001000000:ADAC 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0
";
        assert_eq!(
            parse_socket_table(udp6),
            vec![BoundSocket {
                local: "::1".parse().expect("ip"),
                port: 44460,
                inode: 99
            }]
        );
    }

    #[test]
    fn which_binds_collide() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(collides(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(collides(ip("127.0.0.1"), ip("0.0.0.0")));
        assert!(collides(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!collides(ip("127.0.0.1"), ip("10.0.0.1")));
        assert!(collides(ip("10.0.0.1"), ip("::")));
        assert!(collides(ip("::"), ip("10.0.0.1")));
        assert!(!collides(ip("127.0.0.1"), ip("::1")));
        assert!(collides(ip("127.0.0.1"), ip("::ffff:127.0.0.1")));
    }

    /// A socket this test binds is found, with this very process.
    #[test]
    fn finds_the_process_that_holds_a_port() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        let holders = udp_port_holders(Path::new("/proc"), "0.0.0.0".parse().expect("ip"), port);
        assert_eq!(holders.len(), 1, "{holders:?}");
        let process = holders[0].process.as_ref().expect("this process");
        assert_eq!(process.pid, std::process::id());
        assert!(!process.command.is_empty());
        drop(socket);
        assert!(
            udp_port_holders(Path::new("/proc"), "0.0.0.0".parse().expect("ip"), port).is_empty()
        );
    }

    #[test]
    fn the_refusal_names_each_holder_and_what_to_do() {
        let config = Path::new("/etc/goippy.conf");
        let holder = |pid, service: Option<&str>| PortHolder {
            local: "0.0.0.0".parse().expect("ip"),
            process: Some(HolderProcess {
                pid,
                command: "/usr/local/bin/goippy -v".into(),
                service: service.map(str::to_string),
            }),
        };
        let refuse = |holders: &[PortHolder]| {
            refusal(holders, 44444, config, "goippy.service", "goippy --install")
        };
        // The running service itself, being reinstalled: fine.
        assert_eq!(refuse(&[holder(7, Some("goippy.service"))]), None);
        assert_eq!(refuse(&[]), None);

        assert_eq!(
            refuse(&[holder(4242, None)]).expect("refused"),
            "UDP port 44444 (GOIP_PORT in /etc/goippy.conf) is taken, so goippy.service would fail \
             at once with \"Address already in use\":\n  \
             - pid 4242, started outside systemd: /usr/local/bin/goippy -v\n\
             First stop pid 4242 (a goippy run in a terminal stops with Ctrl-C there; otherwise \
             `kill 4242`); then run `goippy --install` again. Nothing was installed."
        );
        let other = refuse(&[holder(9, Some("goippy-2508.service"))]).expect("refused");
        assert!(
            other.contains("- pid 9 of goippy-2508.service: /usr/local/bin/goippy -v"),
            "{other}"
        );
        assert!(
            other.contains("`systemctl stop goippy-2508.service`"),
            "{other}"
        );
        let unseen = refuse(&[PortHolder {
            local: "127.0.0.1".parse().expect("ip"),
            process: None,
        }])
        .expect("refused");
        assert!(
            unseen.contains("a socket on 127.0.0.1 whose process goippy cannot see"),
            "{unseen}"
        );
        assert!(unseen.contains("ss -ulpn 'sport = :44444'"), "{unseen}");
    }

    #[test]
    fn the_service_comes_from_the_cgroup() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join("cgroup"),
            "0::/system.slice/goippy-2508.service\n",
        )
        .expect("write");
        assert_eq!(
            service_of(dir.path()).as_deref(),
            Some("goippy-2508.service")
        );
        fs::write(
            dir.path().join("cgroup"),
            "0::/user.slice/user-0.slice/session-3.scope\n",
        )
        .expect("write");
        assert_eq!(service_of(dir.path()), None);
    }
}
