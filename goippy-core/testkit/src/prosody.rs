//! A throwaway Prosody server (see the XMPP issue).
//!
//! [`Prosody::start`] writes a configuration into a private temp dir, picks
//! free c2s and component ports, runs `prosody -F` in the foreground and
//! waits until both ports accept connections. Data (accounts, rosters,
//! offline messages) lives in the temp dir, so [`Prosody::restart`] keeps it
//! and the ports, which is what "survives a Prosody restart" tests need.
//! The process is stopped by PID when the guard is dropped, also when a test
//! fails; [`Prosody::log`] returns everything it logged, for failure messages.
//!
//! The configuration follows docs/architecture.md#the-throwaway-prosody:
//! no TLS (plaintext c2s with PLAIN allowed), no s2s, internal storage, and
//! `run_as_root = true` when the tests run as root, because Prosody refuses
//! to start as root otherwise.
//!
//! This is the small launcher goippy-core's component tests need: one
//! `VirtualHost` and external components with secrets of their own.
//! prosody-test has a richer one (any hosts, modules, options, s2s, modules
//! installed with prosodyctl) that shares [`lua_quote`] and
//! [`running_as_root`] from here.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::ports::free_tcp_port;
use crate::process::ChildGuard;

/// How long Prosody may take to open its ports.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long Prosody may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What the throwaway server should serve.
#[derive(Debug, Clone)]
pub struct ProsodyConfig {
    /// The `VirtualHost` users live on, e.g. `example.org`.
    pub domain: String,
    /// `Component` hosts with their shared secrets, e.g. `("sms.example.org", "s3cret")`.
    pub components: Vec<(String, String)>,
    /// Raw Lua appended to the global section (before any host section).
    pub global_lua: String,
}

impl ProsodyConfig {
    /// A server for `domain` with no components and the default modules.
    pub fn new(domain: &str) -> Self {
        ProsodyConfig {
            domain: domain.to_string(),
            components: Vec::new(),
            global_lua: String::new(),
        }
    }

    /// Adds an external component host with its secret.
    pub fn component(mut self, domain: &str, secret: &str) -> Self {
        self.components
            .push((domain.to_string(), secret.to_string()));
        self
    }

    /// Appends raw Lua to the global section.
    pub fn global_lua(mut self, lua: &str) -> Self {
        self.global_lua.push_str(lua);
        self.global_lua.push('\n');
        self
    }
}

/// A running throwaway Prosody; stopped (by PID) when dropped.
#[derive(Debug)]
pub struct Prosody {
    config: ProsodyConfig,
    // Declared before `dir` so the process stops before its files vanish.
    child: Option<ChildGuard>,
    dir: tempfile::TempDir,
    c2s_port: u16,
    component_port: u16,
}

impl Prosody {
    /// Writes the configuration and starts Prosody; returns once its c2s and
    /// component ports accept connections.
    pub fn start(config: ProsodyConfig) -> io::Result<Prosody> {
        let dir = tempfile::Builder::new()
            .prefix("goippy-prosody-")
            .tempdir()?;
        let mut prosody = Prosody {
            config,
            child: None,
            dir,
            c2s_port: free_tcp_port(),
            component_port: free_tcp_port(),
        };
        for sub in ["data", "installed", "certs"] {
            fs::create_dir_all(prosody.dir.path().join(sub))?;
        }
        fs::write(prosody.config_path(), prosody.render_config())?;
        prosody.spawn()?;
        Ok(prosody)
    }

    /// Where clients connect (plaintext c2s).
    pub fn c2s_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.c2s_port))
    }

    /// Where external components connect (XEP-0114). Prosody only listens
    /// there when the configuration has at least one component.
    pub fn component_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.component_port))
    }

    pub fn c2s_port(&self) -> u16 {
        self.c2s_port
    }

    pub fn component_port(&self) -> u16 {
        self.component_port
    }

    /// The generated configuration file (for `prosodyctl --config`).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("prosody.cfg.lua")
    }

    /// The data directory (`data_path`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The PID of the running server, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::pid)
    }

    /// Creates the account `user@domain` (works while the server runs).
    pub fn register(&self, user: &str, password: &str) -> io::Result<()> {
        let output = Command::new("prosodyctl")
            .arg("--config")
            .arg(self.config_path())
            .args(["register", user, &self.config.domain, password])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run prosodyctl: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "prosodyctl register {user}@{} failed ({}): {}{}",
                self.config.domain,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period) and
    /// starts it again with the same configuration, data and ports.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Stops the server; [`Prosody::restart`] can start it again.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            let status = child.stop()?;
            let mut console = String::new();
            let _ = writeln!(console, "--- prosody exited: {status:?}");
            append(&self.console_path(), &console)?;
        }
        Ok(())
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Everything the server logged so far (its log file, then its console
    /// output), across restarts. For assertions and failure messages.
    pub fn log(&self) -> String {
        let mut out = fs::read_to_string(self.log_path()).unwrap_or_default();
        let console = fs::read_to_string(self.console_path()).unwrap_or_default();
        if !console.trim().is_empty() {
            out.push_str("\n--- console output ---\n");
            out.push_str(&console);
        }
        out
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prosody.log")
    }

    fn console_path(&self) -> PathBuf {
        self.dir.path().join("console.out")
    }

    fn spawn(&mut self) -> io::Result<()> {
        let console = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.console_path())?;
        let mut cmd = Command::new("prosody");
        cmd.arg("-F")
            .arg("--config")
            .arg(self.config_path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console);
        let mut child = ChildGuard::spawn("prosody", &mut cmd)?.with_grace(STOP_GRACE);
        // Prosody opens the component port only when it serves a component.
        let mut ports = vec![self.c2s_addr()];
        if !self.config.components.is_empty() {
            ports.push(self.component_addr());
        }
        if let Err(e) = wait_for_ports(&mut child, &ports) {
            drop(child);
            return Err(io::Error::new(
                e.kind(),
                format!("{e}; log:\n{}", self.log()),
            ));
        }
        self.child = Some(child);
        Ok(())
    }

    fn render_config(&self) -> String {
        let dir = self.dir.path();
        let c = &self.config;
        let modules = ["roster", "saslauth", "disco", "ping", "posix"];

        let mut s = String::new();
        let w = &mut s;
        // `writeln!` into a String cannot fail.
        let _ = writeln!(w, "-- written by goippy-testkit");
        if running_as_root() {
            let _ = writeln!(
                w,
                "run_as_root = true -- prosody refuses to run as root without it"
            );
        }
        let _ = writeln!(w, "data_path = {}", lua_string(&dir.join("data")));
        let _ = writeln!(w, "pidfile = {}", lua_string(&dir.join("prosody.pid")));
        let _ = writeln!(
            w,
            "installer_plugin_path = {}",
            lua_string(&dir.join("installed"))
        );
        let _ = writeln!(w, "certificates = {}", lua_string(&dir.join("certs")));
        let _ = writeln!(w, "interfaces = {{ \"127.0.0.1\" }}");
        let _ = writeln!(w, "c2s_ports = {{ {} }}", self.c2s_port);
        let _ = writeln!(w, "c2s_direct_tls_ports = {{ }}");
        let _ = writeln!(w, "component_ports = {{ {} }}", self.component_port);
        let _ = writeln!(w, "component_interfaces = {{ \"127.0.0.1\" }}");
        let _ = writeln!(w, "s2s_ports = {{ }}");
        let _ = writeln!(w, "modules_enabled = {{ {} }}", lua_list(&modules));
        let _ = writeln!(w, "modules_disabled = {{ {} }}", lua_list(&["s2s"]));
        let _ = writeln!(w, "c2s_require_encryption = false");
        let _ = writeln!(w, "allow_unencrypted_plain_auth = true");
        let _ = writeln!(w, "authentication = \"internal_plain\"");
        let _ = writeln!(w, "storage = \"internal\"");
        let _ = writeln!(
            w,
            "log = {{ {{ levels = {{ min = \"debug\" }}, to = \"file\", filename = {} }} }}",
            lua_string(&self.log_path())
        );
        let _ = writeln!(w, "{}", c.global_lua);
        let _ = writeln!(w, "VirtualHost {}", lua_quote(&c.domain));
        for (domain, secret) in &c.components {
            let _ = writeln!(w, "\nComponent {}", lua_quote(domain));
            let _ = writeln!(w, "    component_secret = {}", lua_quote(secret));
        }
        s
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testkit: stopping prosody failed: {e}");
        }
    }
}

/// Waits until every port accepts connections, failing early if Prosody
/// exits (a broken configuration makes it exit at once).
fn wait_for_ports(child: &mut ChildGuard, ports: &[SocketAddr]) -> io::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    for addr in ports {
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "prosody exited ({status}) before opening {addr}"
                )));
            }
            if TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("prosody did not open {addr} within {START_TIMEOUT:?}"),
                ));
            }
            sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// Whether this process runs as root (effective uid 0, from
/// `/proc/self/status`: std has no geteuid). Prosody refuses to run as root
/// without `run_as_root`, and prosodyctl would switch to the `prosody` user,
/// which cannot read the tests' temp dirs.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn append(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// A Lua string literal: printable ASCII as is, every other byte escaped
/// (`\ddd`), so any path or name survives the config file unchanged.
pub fn lua_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

fn lua_string(path: &Path) -> String {
    lua_quote(&path.to_string_lossy())
}

fn lua_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|m| lua_quote(m))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(lua_quote("é\n"), r#""\195\169\010""#);
        assert_eq!(lua_list(&["a", "b"]), "\"a\"; \"b\"".to_string());
    }
}
