//! A throwaway Prosody: its own temp dir, free ports, generated config, and
//! a process that is stopped by PID when the guard is dropped.
//!
//! The life of one test server:
//! 1. [`Prosody::new`] picks ports, creates the directories and writes
//!    `prosody.cfg.lua` — nothing runs yet, so users can be registered and
//!    modules installed with prosodyctl the way an admin would;
//! 2. [`Prosody::start`] runs `prosody -F` and waits until every port it
//!    should listen on accepts connections;
//! 3. [`Prosody::restart`] stops and starts it again on the same ports and
//!    data (accounts, offline messages survive), as an admin's restart does;
//! 4. dropping the guard stops it (SIGTERM, then SIGKILL) — also when the
//!    test panicked, in which case the end of Prosody's log is printed so
//!    the failure explains itself. `PROSODY_TEST_KEEP=1` keeps the temp dir.
//!
//! The process itself is a `goippy_testkit` [`ChildGuard`], the same guard
//! goippy-core's tests use, so it is stopped by PID even if this value is
//! leaked.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use goippy_testkit::ports::free_tcp_port;
use goippy_testkit::process::ChildGuard;

use crate::Result;
use crate::config::{Config, ConfigPaths, Ports};
use crate::logfile;

/// How long Prosody may take to open its ports (it needs ~0.2 s).
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a SIGTERM may take before SIGKILL. Prosody usually exits in
/// well under a second, but its shutdown waits up to its own
/// `shutdown_deadline` (5 s) for connections to close; only beyond that is
/// it stuck.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// What Prosody logs when another process took one of its ports.
const PORT_CONFLICT: &str = "Failed to open server port";
/// How many lines of the log a failing test prints.
const LOG_TAIL_LINES: usize = 150;

/// The directory holding the fixture modules (`plugin_paths`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One test Prosody (see the module docs).
pub struct Prosody {
    dir: tempfile::TempDir,
    config: Config,
    ports: Ports,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<ChildGuard>,
}

impl Prosody {
    /// Prepares a server for `config`: directories, ports, config file.
    pub fn new(config: Config) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("prosody-test.").tempdir()?;
        for sub in ["data", "certs", "installed"] {
            fs::create_dir_all(dir.path().join(sub))?;
        }
        let prosody = Prosody {
            config_path: dir.path().join("prosody.cfg.lua"),
            log_path: dir.path().join("prosody.log"),
            ports: pick_ports(&config)?,
            dir,
            config,
            child: None,
        };
        prosody.write_config()?;
        Ok(prosody)
    }

    fn write_config(&self) -> Result<()> {
        let root = self.dir.path();
        let fixtures = fixtures_dir();
        let paths = ConfigPaths {
            data: root.join("data"),
            pidfile: root.join("prosody.pid"),
            installer: self.installer_path(),
            certs: root.join("certs"),
            log: self.log_path.clone(),
            fixtures: &fixtures,
        };
        fs::write(&self.config_path, self.config.render(&paths, &self.ports))?;
        Ok(())
    }

    /// Changes the configuration of a server that is not running yet, keeping
    /// its ports — for settings that depend on another server's ports.
    pub fn reconfigure(&mut self, change: impl FnOnce(Config) -> Config) -> Result<()> {
        if self.child.is_some() {
            return Err("reconfigure a test Prosody before starting it".into());
        }
        self.config = change(self.config.clone());
        self.ports.s2s = match (self.config.s2s, self.ports.s2s) {
            (true, None) => Some(free_tcp_port()),
            (true, kept) => kept,
            (false, _) => None,
        };
        self.write_config()
    }

    /// Runs `prosodyctl --config <ours> <args>`; its output, or an error
    /// carrying that output.
    pub fn prosodyctl(&self, args: &[&str]) -> Result<String> {
        self.prosodyctl_with_env(args, &[])
    }

    pub(crate) fn prosodyctl_with_env(
        &self,
        args: &[&str],
        env: &[(&str, &Path)],
    ) -> Result<String> {
        let mut cmd = Command::new("prosodyctl");
        cmd.arg("--config").arg(&self.config_path).args(args);
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run prosodyctl (Debian package prosody): {e}"))?;
        let text = output_text(&out);
        if !out.status.success() {
            return Err(format!("prosodyctl {args:?} failed ({}):\n{text}", out.status).into());
        }
        Ok(text)
    }

    /// Creates an account, as an admin would with prosodyctl.
    pub fn register(&self, user: &str, host: &str, password: &str) -> Result<()> {
        self.prosodyctl(&["register", user, host, password])?;
        Ok(())
    }

    /// Starts `prosody -F` and waits for its ports. Retries with fresh ports
    /// if another process took one in the meantime.
    pub fn start(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Err("this Prosody is already running".into());
        }
        for attempt in 1..=3 {
            match self.start_once() {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 3 && self.log().contains(PORT_CONFLICT) => {
                    eprintln!("prosody-test: port conflict ({e}), retrying with new ports");
                    self.stop()?;
                    fs::write(&self.log_path, "")?;
                    self.ports = pick_ports(&self.config)?;
                    self.write_config()?;
                }
                Err(e) => return Err(e),
            }
        }
        Err("unreachable: start attempts exhausted".into())
    }

    /// Stops the server and starts it again with the same configuration,
    /// ports and data: what `systemctl restart prosody` does to clients and
    /// components (they are disconnected and must come back).
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start_again()
    }

    /// Starts a stopped server again on the ports it had (unlike
    /// [`Prosody::start`], which may move to fresh ports when one is taken):
    /// components and clients configured for it find it where it was.
    pub fn start_again(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Err("this Prosody is already running".into());
        }
        self.start_once()
    }

    fn start_once(&mut self) -> Result<()> {
        let console = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("console.out"))?;
        let mut command = Command::new("prosody");
        command
            .arg("-F")
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console);
        let child = ChildGuard::spawn("prosody", &mut command)
            .map_err(|e| format!("{e} (Debian package prosody)"))?
            .with_grace(STOP_TIMEOUT);
        self.child = Some(child);

        let mut wanted = vec![self.ports.c2s];
        if self.config.has_external_component() {
            wanted.push(self.ports.component);
        }
        wanted.extend(self.ports.s2s);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(
                    format!("prosody exited during start-up ({status}); see its log").into(),
                );
            }
            if self.log().contains(PORT_CONFLICT) {
                return Err("prosody could not open one of its ports".into());
            }
            if wanted.iter().all(|&port| port_open(port)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "prosody did not open ports {wanted:?} within {START_TIMEOUT:?}"
                )
                .into());
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server: SIGTERM by PID, SIGKILL after [`STOP_TIMEOUT`]
    /// (which is an error: Prosody gives up on lingering connections after 5 s).
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        child.signal("TERM")?;
        if child.wait_timeout(STOP_TIMEOUT)?.is_some() {
            return Ok(());
        }
        // What it hangs in, before it is gone: the threads' states and
        // kernel wait channels.
        let state = child
            .pid()
            .map(process_state)
            .unwrap_or_else(|| "(no PID)".into());
        child.signal("KILL")?;
        child.stop()?;
        Err(format!(
            "prosody ignored SIGTERM for {STOP_TIMEOUT:?} and was killed; its threads were:\n{state}"
        )
        .into())
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::pid)
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    pub fn c2s_addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.ports.c2s).into()
    }

    pub fn component_addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.ports.component).into()
    }

    /// The generated `prosody.cfg.lua` (for `prosodyctl --config`).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The server's temp dir (config, log, data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `installer_plugin_path`: where `prosodyctl install` puts rocks.
    pub fn installer_path(&self) -> PathBuf {
        self.dir.path().join("installed")
    }

    /// Everything Prosody has logged so far.
    pub fn log(&self) -> String {
        logfile::read(&self.log_path)
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        logfile::wait_for_line(&self.log_path, "Prosody", needle, timeout)
    }

    /// CPU time the server process has spent running so far, to the
    /// nanosecond: the scheduler's own account of each of its threads, from
    /// `/proc/<pid>/task/*/schedstat`. (`/proc/<pid>/stat` counts 10 ms
    /// ticks: over 20,000 messages that is 0.5 µs per message, as much as
    /// the benchmark wants to tell apart.) For benchmarks.
    pub fn cpu_time(&self) -> Result<Duration> {
        let pid = self.pid().ok_or("prosody is not running")?;
        let mut nanos: u64 = 0;
        for task in fs::read_dir(format!("/proc/{pid}/task"))? {
            let path = task?.path().join("schedstat");
            // A thread that ended meanwhile took its time with it.
            let Ok(stat) = fs::read_to_string(&path) else {
                continue;
            };
            // "<ns on the CPU> <ns waiting for it> <timeslices>"
            let on_cpu = stat
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or_else(|| format!("unreadable {}: {stat:?}", path.display()))?;
            nanos += on_cpu;
        }
        Ok(Duration::from_nanos(nanos))
    }

    fn log_tail(&self) -> String {
        logfile::tail(&self.log(), LOG_TAIL_LINES)
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("prosody-test: stopping prosody: {e}");
        }
        if std::thread::panicking() {
            eprintln!(
                "----- last {LOG_TAIL_LINES} lines of {} -----\n{}\n----- end of prosody log -----",
                self.log_path.display(),
                self.log_tail()
            );
        }
        if std::env::var_os("PROSODY_TEST_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("prosody-test: kept {}", self.dir.path().display());
        }
    }
}

fn pick_ports(config: &Config) -> Result<Ports> {
    Ok(Ports {
        c2s: free_tcp_port(),
        component: free_tcp_port(),
        s2s: config.s2s.then(free_tcp_port),
    })
}

/// Each thread of `pid`: name, state and kernel wait channel, from /proc.
fn process_state(pid: u32) -> String {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return "(gone)".into();
    };
    let mut lines = Vec::new();
    for task in tasks.flatten() {
        let path = task.path();
        let read = |name: &str| {
            fs::read_to_string(path.join(name))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let stat = read("stat");
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        lines.push(format!(
            "  {} {:?} state {state} wchan {:?}",
            task.file_name().to_string_lossy(),
            read("comm"),
            read("wchan")
        ));
    }
    lines.join("\n")
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}

pub(crate) fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
