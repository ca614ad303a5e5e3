//! A throwaway MariaDB server for tests, and fresh databases on it.
//!
//! [`MariaDb::start`] initialises a data directory in a private temp dir
//! (`mariadb-install-db`) and runs `mariadbd` on a free loopback port, as
//! root, without reading any system option file. It is stopped by PID when
//! the value is dropped, and [`MariaDb::restart`] stops and starts it again on
//! the same data directory and port, which is what a "the database server
//! restarted under us" test needs. [`MariaDb::start_with_tls`] also
//! offers TLS with a given certificate (see [`crate::certs`]), for tests of
//! encrypted connections.
//!
//! Most tests only need *a* database: [`test_database`] hands out a fresh,
//! empty one per call, so tests can run in parallel. It uses the server named
//! by `GOIPPY_TEST_MYSQL_URL` when that is set (its user must be allowed to
//! create databases), otherwise one throwaway server shared by the whole test
//! binary. A process-wide value is never dropped, so every server also gets a
//! watchdog: a tiny `sh` that blocks reading a pipe from the test process and,
//! when the pipe closes (the test binary exited, however it exited), stops
//! that server's PID and removes its temp dir.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::certs::ServerCert;
use crate::ports::free_tcp_port;
use crate::process::ChildGuard;

/// The environment variable naming an existing server for the tests:
/// `mysql://user:password@host:port/database`.
pub const TEST_URL_VAR: &str = "GOIPPY_TEST_MYSQL_URL";

/// The unprivileged account tests connect with on a throwaway server.
const TEST_USER: &str = "goippy_test";
const TEST_PASSWORD: &str = "goippy-test-pw";

/// How long a fresh server may take to answer its first ping.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A private MariaDB server. Dropping it stops the server and deletes its data.
pub struct MariaDb {
    // Field order is drop order: the watchdog must go before the server so
    // that it never acts on a PID that is already gone, and the directory last.
    watchdog: Option<Watchdog>,
    server: Option<ChildGuard>,
    port: u16,
    next_database: AtomicU32,
    /// The certificate the server offers TLS with, if any.
    tls: Option<ServerCert>,
    dir: TempDir,
}

impl fmt::Debug for MariaDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDb")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .field("pid", &self.server.as_ref().and_then(|s| s.pid()))
            .finish()
    }
}

impl MariaDb {
    /// Initialises a data directory and starts a server on a free port.
    pub fn start() -> io::Result<MariaDb> {
        Self::start_inner(None)
    }

    /// [`MariaDb::start`], with a server that offers TLS with `cert`
    /// (`--ssl-cert`, `--ssl-key`, `--ssl-ca`), also after a restart.
    pub fn start_with_tls(cert: &ServerCert) -> io::Result<MariaDb> {
        Self::start_inner(Some(cert.clone()))
    }

    fn start_inner(tls: Option<ServerCert>) -> io::Result<MariaDb> {
        let dir = tempfile::Builder::new()
            .prefix("goippy-mariadb-")
            .tempdir()?;
        let datadir = dir.path().join("data");
        // A private tmpdir: nothing else on a shared machine can touch the
        // server's temporary files (or collide with them).
        let tmpdir = dir.path().join("tmp");
        std::fs::create_dir(&tmpdir)?;
        let install_log = dir.path().join("install.log");
        let log = std::fs::File::create(&install_log)?;
        let status = Command::new(find_program(&["mariadb-install-db", "mysql_install_db"])?)
            .arg("--no-defaults")
            .arg(arg("--datadir=", &datadir))
            .arg(arg("--tmpdir=", &tmpdir))
            .arg("--user=root")
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "mariadb-install-db failed ({status}):\n{}",
                std::fs::read_to_string(&install_log).unwrap_or_default()
            )));
        }
        let mut db = MariaDb {
            watchdog: None,
            server: None,
            port: free_tcp_port(),
            next_database: AtomicU32::new(1),
            tls,
            dir,
        };
        db.start_server()?;
        db.root_sql(&format!(
            "CREATE USER '{TEST_USER}'@'127.0.0.1' IDENTIFIED BY '{TEST_PASSWORD}';"
        ))?;
        Ok(db)
    }

    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().and_then(|s| s.pid())
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period). Its
    /// data stays; [`MariaDb::start_again`] brings it back.
    pub fn stop(&mut self) -> io::Result<()> {
        self.watchdog = None;
        if let Some(mut server) = self.server.take() {
            server.stop()?;
        }
        Ok(())
    }

    /// Kills the server with SIGKILL, as a crash or power cut would.
    pub fn kill(&mut self) -> io::Result<()> {
        self.watchdog = None;
        if let Some(mut server) = self.server.take() {
            server.signal("KILL")?;
            server.stop()?;
        }
        Ok(())
    }

    /// Starts a stopped server again on the same data directory and port.
    pub fn start_again(&mut self) -> io::Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        self.start_server()
    }

    /// Stops the server and starts it again on the same data directory and port.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.start_server()
    }

    /// Runs SQL as root over the server's socket; returns the client's output
    /// (tab-separated rows, no column names).
    pub fn root_sql(&self, sql: &str) -> io::Result<String> {
        let mut cmd = Command::new(find_program(&["mariadb", "mysql"])?);
        cmd.arg("--no-defaults")
            .arg(arg("--socket=", &self.socket()))
            .arg("-uroot");
        run_client(cmd, sql)
    }

    /// A new, empty database that the test account owns.
    pub fn create_database(&self) -> io::Result<TestDatabase> {
        let n = self.next_database.fetch_add(1, Ordering::Relaxed);
        let name = format!("goippy_t{n}");
        self.root_sql(&format!(
            "CREATE DATABASE `{name}`; GRANT ALL ON `{name}`.* TO '{TEST_USER}'@'127.0.0.1';"
        ))?;
        Ok(TestDatabase {
            host: self.host().to_string(),
            port: self.port,
            database: name,
            user: TEST_USER.to_string(),
            password: TEST_PASSWORD.to_string(),
            drop_with: None,
        })
    }

    /// The server's error log, for messages when something went wrong.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    fn start_server(&mut self) -> io::Result<()> {
        let d = self.dir.path();
        let mut cmd = Command::new(find_program(&["mariadbd", "mysqld"])?);
        cmd.arg("--no-defaults")
            .arg(arg("--datadir=", &d.join("data")))
            .arg(arg("--tmpdir=", &d.join("tmp")))
            .arg(arg("--socket=", &self.socket()))
            .arg(arg("--pid-file=", &d.join("mysqld.pid")))
            .arg(arg("--log-error=", &d.join("error.log")))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg("--user=root")
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=32M");
        if let Some(tls) = &self.tls {
            cmd.arg(arg("--ssl-cert=", &tls.cert))
                .arg(arg("--ssl-key=", &tls.key))
                .arg(arg("--ssl-ca=", &tls.ca));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut server =
            ChildGuard::spawn("mariadbd", &mut cmd)?.with_grace(Duration::from_secs(20));
        let pid = server
            .pid()
            .ok_or_else(|| io::Error::other("mariadbd has no PID"))?;
        self.watchdog = Some(Watchdog::arm(pid, self.dir.path())?);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = server.try_wait()? {
                return Err(io::Error::other(format!(
                    "mariadbd exited during start-up ({status}); its log:\n{}",
                    self.error_log()
                )));
            }
            if self.ping() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "mariadbd did not answer within {READY_TIMEOUT:?}; its log:\n{}",
                        self.error_log()
                    ),
                ));
            }
            sleep(Duration::from_millis(50));
        }
        self.server = Some(server);
        Ok(())
    }

    fn ping(&self) -> bool {
        let Ok(program) = find_program(&["mariadb-admin", "mysqladmin"]) else {
            return false;
        };
        Command::new(program)
            .arg("--no-defaults")
            .arg(arg("--socket=", &self.socket()))
            .arg("-uroot")
            .arg("--connect-timeout=1")
            .arg("ping")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

/// Stops a server's PID and deletes its directory when the test process
/// exits without dropping the [`MariaDb`] (see the module documentation).
struct Watchdog {
    child: Child,
    // Held open for as long as the watchdog should wait; it closes with the
    // test process, which is what wakes the watchdog.
    _pipe: ChildStdin,
}

impl Watchdog {
    fn arm(pid: u32, dir: &Path) -> io::Result<Watchdog> {
        const SCRIPT: &str = r#"read -r _ || true
kill -TERM "$1" 2>/dev/null || exit 0
n=0
while kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ] && [ $n -lt 300 ]; do
  sleep 0.1; n=$((n+1))
done
kill -KILL "$1" 2>/dev/null
rm -rf -- "$2""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("goippy-mariadb-watchdog")
            .arg(pid.to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start the watchdog: {e}")))?;
        match child.stdin.take() {
            Some(pipe) => Ok(Watchdog { child, _pipe: pipe }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other("the watchdog has no stdin pipe"))
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Disarm before the pipe closes: killed while blocked in `read`, the
        // shell never reaches its `kill`. This is the watchdog's own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for one test. On a shared external server it is dropped again
/// when the value is dropped; on a throwaway server it goes with the server.
pub struct TestDatabase {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
    drop_with: Option<ExternalServer>,
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// `mysql://user:password@host:port/database`.
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@{}:{}/{}",
            self.user, self.password, self.host, self.port, self.database
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(server) = &self.drop_with
            && let Err(e) = server.sql(&format!("DROP DATABASE IF EXISTS `{}`", self.database))
        {
            eprintln!("testkit: dropping test database {}: {e}", self.database);
        }
    }
}

/// A fresh database: on `GOIPPY_TEST_MYSQL_URL`'s server when that is set,
/// otherwise on a throwaway server shared by this test binary (started on
/// first use).
pub fn test_database() -> io::Result<TestDatabase> {
    if let Ok(url) = std::env::var(TEST_URL_VAR)
        && !url.trim().is_empty()
    {
        let server = ExternalServer::parse(url.trim())?;
        return server.create_database();
    }
    static SHARED: OnceLock<Result<MariaDb, String>> = OnceLock::new();
    match SHARED.get_or_init(|| MariaDb::start().map_err(|e| e.to_string())) {
        Ok(db) => db.create_database(),
        Err(e) => Err(io::Error::other(format!(
            "cannot start a throwaway MariaDB: {e}"
        ))),
    }
}

/// A server given by URL, reached with the `mariadb` command-line client.
#[derive(Clone)]
struct ExternalServer {
    host: String,
    port: u16,
    user: String,
    password: String,
    database: String,
}

impl ExternalServer {
    fn parse(url: &str) -> io::Result<ExternalServer> {
        let bad = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{TEST_URL_VAR}: {why}; expected mysql://user:password@host:port/database"),
            )
        };
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or_else(|| bad("not a mysql:// URL"))?;
        let (credentials, rest) = rest.rsplit_once('@').ok_or_else(|| bad("no user"))?;
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        let (address, database) = rest.split_once('/').unwrap_or((rest, "goippy_test"));
        let database = database.split('?').next().unwrap_or_default();
        let (host, port) = match address.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
            None => (address, 3306),
        };
        Ok(ExternalServer {
            host: host.to_string(),
            port,
            user: percent_decode(user),
            password: percent_decode(password),
            database: if database.is_empty() {
                "goippy_test".to_string()
            } else {
                database.to_string()
            },
        })
    }

    fn sql(&self, sql: &str) -> io::Result<String> {
        let mut cmd = Command::new(find_program(&["mariadb", "mysql"])?);
        cmd.arg("--no-defaults")
            .arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg("--protocol=TCP")
            .arg(format!("--user={}", self.user))
            // Not on the command line, where `ps` would show it.
            .env("MYSQL_PWD", &self.password);
        run_client(cmd, sql)
    }

    fn create_database(&self) -> io::Result<TestDatabase> {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "{}_{}_{}",
            self.database,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.sql(&format!("CREATE DATABASE `{name}`"))?;
        Ok(TestDatabase {
            host: self.host.clone(),
            port: self.port,
            database: name,
            user: self.user.clone(),
            password: self.password.clone(),
            drop_with: Some(self.clone()),
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn run_client(mut cmd: Command, sql: &str) -> io::Result<String> {
    let mut child = cmd
        .arg("--batch")
        .arg("--skip-column-names")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(sql.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "SQL failed ({}): {}\n{sql}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn arg(prefix: &str, path: &Path) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(prefix);
    s.push(path.as_os_str());
    s
}

/// The first of `names` found on PATH or in the sbin directories, where
/// Debian puts `mariadbd`.
fn find_program(names: &[&str]) -> io::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/libexec"] {
        dirs.push(PathBuf::from(extra));
    }
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(OsStr::new(name));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} not found (install mariadb-server, or set {TEST_URL_VAR})",
            names.join(" / ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_test_urls() {
        let s = ExternalServer::parse("mysql://u:p%40ss@db.example:3307/base").expect("parses");
        assert_eq!(
            (
                s.host.as_str(),
                s.port,
                s.user.as_str(),
                s.password.as_str(),
                s.database.as_str()
            ),
            ("db.example", 3307, "u", "p@ss", "base")
        );
        let s = ExternalServer::parse("mysql://root@localhost").expect("parses");
        assert_eq!((s.port, s.password.as_str()), (3306, ""));
        assert!(ExternalServer::parse("postgres://x@y/z").is_err());
    }

    /// Running, and not a zombie waiting for this process to reap it.
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.split(' ').nth(2) != Some("Z"))
            .unwrap_or(false)
    }

    #[test]
    fn starts_restarts_and_cleans_up() {
        let mut db = MariaDb::start().expect("start");
        let t = db.create_database().expect("database");
        assert_eq!(
            t.url(),
            format!(
                "mysql://goippy_test:goippy-test-pw@127.0.0.1:{}/goippy_t1",
                db.port()
            )
        );
        db.root_sql("CREATE TABLE goippy_t1.x (v INT); INSERT INTO goippy_t1.x VALUES (7);")
            .expect("sql");
        let first = db.pid().expect("pid");
        db.restart().expect("restart");
        assert_ne!(db.pid(), Some(first));
        assert!(!alive(first));
        assert_eq!(
            db.root_sql("SELECT v FROM goippy_t1.x")
                .expect("sql")
                .trim(),
            "7"
        );

        // What happens when the test binary exits without dropping the value:
        // the pipe closes and the watchdog stops the server and removes its data.
        let pid = db.pid().expect("pid");
        let dir = db.dir.path().to_path_buf();
        let server = db.server.take().expect("server");
        let mut watchdog = db.watchdog.take().expect("watchdog");
        std::mem::forget(server);
        std::mem::forget(db);
        drop(std::mem::replace(
            &mut watchdog._pipe,
            // Any other pipe end, so that the watchdog's one closes now.
            Command::new("true")
                .stdin(Stdio::piped())
                .spawn()
                .expect("true")
                .stdin
                .take()
                .expect("pipe"),
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        while (alive(pid) || dir.exists()) && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        assert!(!alive(pid), "the watchdog did not stop mariadbd {pid}");
        assert!(
            !dir.exists(),
            "the watchdog did not remove {}",
            dir.display()
        );
        let _ = watchdog.child.wait();
        std::mem::forget(watchdog);
    }
}
