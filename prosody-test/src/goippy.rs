//! The real `goippy` daemon under test: a generated configuration, gateways
//! provisioned with its own admin commands, and a process stopped by PID.
//!
//! The life of one daemon:
//! 1. [`Goippy::new`] writes `goippy.conf` into the scenario's directory —
//!    SQLite in that directory, or a MariaDB database from
//!    `goippy_testkit::mariadb` — for a UDP port and a Prosody component the
//!    caller chose; nothing runs yet;
//! 2. [`Goippy::add_gateway`] runs `goippy -c goippy.conf --add …`, as an
//!    operator would;
//! 3. [`Goippy::start`] runs `goippy -v goippy.conf` and returns once its
//!    GoIP socket is bound; its output goes to `goippy.log` (printed when a
//!    test fails);
//! 4. [`Goippy::restart`] / [`Goippy::stop`] send SIGTERM and insist on a
//!    clean exit (status 0): a daemon that cannot shut down properly is a
//!    bug the tests should see. [`Goippy::kill`] is the crash instead, and
//!    [`Goippy::pause`] / [`Goippy::resume`] freeze it (SIGSTOP/SIGCONT), so
//!    that a GoIP's retransmissions pile up unanswered.
//!
//! Dropping the guard stops the process (also when a test panicked, then
//! with the end of its log printed).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use goippy_testkit::mariadb::TestDatabase;
use goippy_testkit::process::ChildGuard;

use crate::Result;
use crate::bins::binaries;
use crate::logfile;

/// How long goippy may take to bind its GoIP socket (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM may take: goippy gives an SMS waiting for its result
/// 5 s more before it stops, so this is well above that.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// How many lines of the log a failing test prints.
const LOG_TAIL_LINES: usize = 120;
/// The tracing target of sqlx's per-query debug lines.
const SQL_LOG_TARGET: &str = " sqlx::query: ";

/// Where goippy keeps its state.
#[derive(Debug)]
pub enum Database {
    /// An SQLite file (goippy's default backend).
    Sqlite(PathBuf),
    /// A database on a MariaDB server (`goippy_testkit::mariadb`); it is
    /// dropped with this value on a shared server.
    MySql(TestDatabase),
}

impl Database {
    /// A short name for messages: `sqlite` or `mysql`.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::MySql(_) => "mysql",
        }
    }
}

/// What goes into the generated `goippy.conf`.
#[derive(Debug)]
pub struct GoippySettings {
    /// `XMPP_DOMAIN`: the users' domain.
    pub domain: String,
    /// `XMPP_DATA_DOMAIN` and `XMPP_COMPONENT_JID`.
    pub component: String,
    pub component_secret: String,
    /// Where Prosody accepts components.
    pub xmpp_host: String,
    pub xmpp_port: u16,
    /// The UDP port on 127.0.0.1 the GoIPs send to.
    pub goip_port: u16,
    pub database: Database,
    /// More `KEY = value` lines, the value written as TOML (`"text"`, `5`, `true`).
    pub extra: Vec<(String, String)>,
}

/// A `goippy` process and its files.
pub struct Goippy {
    settings: GoippySettings,
    config_path: PathBuf,
    log_path: PathBuf,
    child: Option<ChildGuard>,
    paused: bool,
    /// Whether it runs with `-v` (debug logging, every SQL query).
    verbose: bool,
}

impl Goippy {
    /// Writes `goippy.conf` into `dir` (which must outlive this value).
    pub fn new(dir: &Path, settings: GoippySettings) -> Result<Goippy> {
        let goippy = Goippy {
            config_path: dir.join("goippy.conf"),
            log_path: dir.join("goippy.log"),
            settings,
            child: None,
            paused: false,
            verbose: true,
        };
        fs::write(&goippy.config_path, goippy.render_config())?;
        Ok(goippy)
    }

    fn render_config(&self) -> String {
        let s = &self.settings;
        let mut lines: Vec<(&str, String)> = vec![
            ("XMPP_DOMAIN", toml_string(&s.domain)),
            ("XMPP_DATA_DOMAIN", toml_string(&s.component)),
            ("XMPP_COMPONENT_JID", toml_string(&s.component)),
            ("XMPP_COMPONENT_SECRET", toml_string(&s.component_secret)),
            ("XMPP_HOST", toml_string(&s.xmpp_host)),
            ("XMPP_PORT", s.xmpp_port.to_string()),
            // The shortest allowed: a restarted Prosody is noticed quickly.
            ("XMPP_PING_INTERVAL", "5".into()),
            ("GOIP_BIND", toml_string("127.0.0.1")),
            ("GOIP_PORT", s.goip_port.to_string()),
            ("LOG_DAYS", "0".into()),
        ];
        match &s.database {
            Database::Sqlite(file) => {
                lines.push(("DB_BACKEND", toml_string("sqlite")));
                lines.push(("DB_FILE", toml_string(&file.display().to_string())));
            }
            Database::MySql(db) => {
                lines.push(("DB_BACKEND", toml_string("mysql")));
                lines.push(("DB_HOST", toml_string(&db.host)));
                lines.push(("DB_PORT", db.port.to_string()));
                lines.push(("DB_BASE", toml_string(&db.database)));
                lines.push(("DB_USER", toml_string(&db.user)));
                lines.push(("DB_PASS", toml_string(&db.password)));
            }
        }
        let mut text = String::from("# Generated by prosody-test for one scenario.\n");
        for (key, value) in &lines {
            if s.extra.iter().any(|(k, _)| k == key) {
                continue;
            }
            let _ = writeln!(text, "{key:<22} = {value}");
        }
        for (key, value) in &s.extra {
            let _ = writeln!(text, "{key:<22} = {value}");
        }
        text
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Where GoIPs send to.
    pub fn goip_addr(&self) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.settings.goip_port).into()
    }

    pub fn database(&self) -> &Database {
        &self.settings.database
    }

    /// Runs `goippy -c goippy.conf <args>` (an admin command); its output,
    /// or an error carrying it.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&binaries()?.goippy)
            .arg("-c")
            .arg(&self.config_path)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run goippy: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(format!("goippy {args:?} failed ({}):\n{text}", out.status).into());
        }
        Ok(text)
    }

    /// `goippy --add <ext> <password> [- <allow_regex>] --goip-id <goip_id>`:
    /// the channel `goip_id` (its password `password`) belongs to `<ext>`.
    /// (The third value of `--add` is the GoIP line number; the simulated
    /// channels have their own SMS Client IDs, so they are given with
    /// `--goip-id` and no line number.)
    pub fn add_gateway(
        &self,
        ext: &str,
        password: &str,
        goip_id: &str,
        allow_regex: Option<&str>,
    ) -> Result<String> {
        let mut args = vec!["--add", ext, password];
        if let Some(re) = allow_regex {
            args.extend(["-", re]);
        }
        args.extend(["--goip-id", goip_id]);
        self.admin(&args)
    }

    /// `goippy --add-line <ext> <goip_id>`: `ext` shares the existing line
    /// `goip_id`.
    pub fn add_line(&self, ext: &str, goip_id: &str) -> Result<String> {
        self.admin(&["--add-line", ext, goip_id])
    }

    /// Whether [`Goippy::start`] runs it with `-v` (the default: a failing
    /// test prints a debug log). A benchmark turns it off: goippy then logs
    /// at info, as it ships.
    pub fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    /// Starts `goippy -v goippy.conf` (without `-v` after
    /// `set_verbose(false)`); returns once its GoIP socket is bound.
    pub fn start(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Err("this goippy is already running".into());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let mut command = Command::new(&binaries()?.goippy);
        if self.verbose {
            command.arg("-v");
        }
        command
            .arg(&self.config_path)
            .env("NO_COLOR", "1")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = ChildGuard::spawn("goippy", &mut command)?.with_grace(STOP_GRACE);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                self.note(&format!("--- goippy exited during start-up: {status}"));
                return Err(format!(
                    "goippy exited during start-up ({status}); its log:\n{}",
                    self.log_tail(40)
                )
                .into());
            }
            if udp_port_bound(self.settings.goip_port) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "goippy did not bind UDP port {} within {START_TIMEOUT:?}; its log:\n{}",
                    self.settings.goip_port,
                    self.log_tail(40)
                )
                .into());
            }
            sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// SIGTERM by PID; an error unless goippy exits with status 0 within
    /// its grace period (it is killed after that).
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if self.paused {
            child.signal("CONT")?;
            self.paused = false;
        }
        let status = child.stop()?;
        self.note(&format!("--- goippy stopped: {}", describe(status)));
        match status {
            Some(s) if s.success() => Ok(()),
            other => Err(format!(
                "goippy did not exit cleanly on SIGTERM ({}); its log:\n{}",
                describe(other),
                self.log_tail(40)
            )
            .into()),
        }
    }

    /// Stops (cleanly, see [`Goippy::stop`]) and starts again with the same
    /// configuration and database.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start()
    }

    /// SIGKILL: a crash or a power cut, nothing gets to finish.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        child.signal("KILL")?;
        let status = child.stop()?;
        self.note(&format!("--- goippy killed: {}", describe(status)));
        self.paused = false;
        Ok(())
    }

    /// Freezes the process (SIGSTOP): datagrams queue in its socket unread.
    pub fn pause(&mut self) -> Result<()> {
        let child = self.child.as_ref().ok_or("goippy is not running")?;
        child.signal("STOP")?;
        self.paused = true;
        self.note("--- goippy paused (SIGSTOP)");
        Ok(())
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&mut self) -> Result<()> {
        let child = self.child.as_ref().ok_or("goippy is not running")?;
        child.signal("CONT")?;
        self.paused = false;
        self.note("--- goippy resumed (SIGCONT)");
        Ok(())
    }

    /// Whether the process runs (a paused one counts as running).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::pid)
    }

    /// Everything goippy logged so far, across restarts.
    pub fn log(&self) -> String {
        logfile::read(&self.log_path)
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        logfile::wait_for_line(&self.log_path, "goippy", needle, timeout)
    }

    /// The last `lines` lines of the log, without sqlx's per-query debug
    /// lines (most of a `-v` log; the file has them).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let kept: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains(SQL_LOG_TARGET))
            .collect();
        logfile::tail(&kept.join("\n"), lines)
    }

    /// A marker line in the log, so restarts and signals show in it.
    fn note(&self, line: &str) {
        if let Ok(mut f) = fs::OpenOptions::new().append(true).open(&self.log_path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl Drop for Goippy {
    fn drop(&mut self) {
        if let Some(child) = &self.child
            && self.paused
        {
            let _ = child.signal("CONT");
        }
        if let Some(mut child) = self.child.take() {
            let status = child.stop();
            self.note(&format!(
                "--- goippy stopped at the end of the test: {}",
                status
                    .as_ref()
                    .map(|s| describe(*s))
                    .unwrap_or_else(|e| e.to_string())
            ));
        }
        if std::thread::panicking() {
            eprintln!(
                "----- last {LOG_TAIL_LINES} lines of {} (without sqlx::query) -----\n{}\n----- end of goippy log -----",
                self.log_path.display(),
                self.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

fn describe(status: Option<ExitStatus>) -> String {
    status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "not running".into())
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether some socket is bound to UDP `port` (any address), from the
/// kernel's tables: the only outside sign that goippy is ready for GoIPs.
pub fn udp_port_bound(port: u16) -> bool {
    let wanted = format!(":{port:04X}");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|table| {
        fs::read_to_string(table).is_ok_and(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(1))
                .any(|local| local.ends_with(&wanted))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_string("x\ny"), r#""x\u000Ay""#);
    }

    #[test]
    fn sees_bound_udp_ports() {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        assert!(udp_port_bound(port));
        drop(socket);
        assert!(!udp_port_bound(port));
    }

    #[test]
    fn renders_a_configuration_goippy_would_read() {
        let dir = tempfile::tempdir().expect("dir");
        let goippy = Goippy::new(
            dir.path(),
            GoippySettings {
                domain: "example.org".into(),
                component: "sms.example.org".into(),
                component_secret: "s3cret".into(),
                xmpp_host: "127.0.0.1".into(),
                xmpp_port: 5347,
                goip_port: 44444,
                database: Database::Sqlite(dir.path().join("goippy.db")),
                extra: vec![("LOG_DAYS".into(), "3".into())],
            },
        )
        .expect("write");
        let text = fs::read_to_string(goippy.config_path()).expect("read");
        assert!(text.contains("XMPP_COMPONENT_JID     = \"sms.example.org\"\n"));
        assert!(text.contains("GOIP_PORT              = 44444\n"));
        assert!(text.contains("DB_BACKEND             = \"sqlite\"\n"));
        assert_eq!(text.matches("LOG_DAYS").count(), 1, "{text}");
        assert!(text.contains("LOG_DAYS               = 3\n"));
    }
}
