//! The faults, each caused for real and undone: processes killed or frozen
//! by PID, the SQLite file locked by a second connection, a client's TCP
//! connection reset.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use goippy_testkit::mariadb::MariaDb;
use goippy_testkit::process::ChildGuard;
use tokio::sync::{mpsc, oneshot};
use tokio::task::block_in_place;
use tokio::time::sleep;

use crate::faults::ledger::Ledger;
use crate::faults::traffic::Cut;
use crate::{Backend, Database, Result, World};

/// One fault of the run (see the README's table for the list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the figures of a quiet run, to compare with.
    None,
    MariaDbKill,
    MariaDbFreeze,
    SqliteLock,
    ProsodyKill,
    GoippyKill,
    ClientDrop,
}

impl Fault {
    /// Every fault, in the order the run takes them.
    pub const ALL: [Fault; 7] = [
        Fault::None,
        Fault::MariaDbKill,
        Fault::MariaDbFreeze,
        Fault::SqliteLock,
        Fault::ProsodyKill,
        Fault::GoippyKill,
        Fault::ClientDrop,
    ];

    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::MariaDbKill => "mariadb-kill",
            Fault::MariaDbFreeze => "mariadb-freeze",
            Fault::SqliteLock => "sqlite-lock",
            Fault::ProsodyKill => "prosody-kill",
            Fault::GoippyKill => "goippy-kill",
            Fault::ClientDrop => "client-drop",
        }
    }

    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// How long the fault lasts: the database outages as the issue asks
    /// (or 10 s with `--quick`), how long A stays offline after its
    /// connection is reset; a kill is followed by a restart at once.
    pub fn duration(self, quick: bool) -> Duration {
        let secs = match (self, quick) {
            (Fault::MariaDbKill | Fault::MariaDbFreeze, false) => 60,
            (Fault::SqliteLock, false) => 30,
            (Fault::MariaDbKill | Fault::MariaDbFreeze | Fault::SqliteLock, true) => 10,
            (Fault::ClientDrop, false) => 10,
            (Fault::ClientDrop, true) => 5,
            (Fault::None | Fault::ProsodyKill | Fault::GoippyKill, _) => 0,
        };
        Duration::from_secs(secs)
    }

    /// What happens, for the table.
    pub fn describe(self, quick: bool) -> String {
        let d = self.duration(quick).as_secs();
        match self {
            Fault::None => "no fault".into(),
            Fault::MariaDbKill => format!("MariaDB killed (SIGKILL) for {d} s"),
            Fault::MariaDbFreeze => format!("MariaDB frozen (SIGSTOP) for {d} s"),
            Fault::SqliteLock => format!("SQLite write lock held {d} s"),
            Fault::ProsodyKill => "Prosody killed -9, restarted".into(),
            Fault::GoippyKill => "goippy killed -9, restarted".into(),
            Fault::ClientDrop => format!("A's connection reset mid-send, A away {d} s"),
        }
    }

    /// The database the fault needs; the others take the one asked for.
    pub fn backend(self, asked: Backend) -> Backend {
        match self {
            Fault::MariaDbKill | Fault::MariaDbFreeze => Backend::MariaDb,
            Fault::SqliteLock => Backend::Sqlite,
            _ => asked,
        }
    }

    /// Whether the scenario needs a MariaDB server of its own (one it may
    /// kill or freeze without hurting anyone else's databases).
    pub fn owns_mariadb(self) -> bool {
        matches!(self, Fault::MariaDbKill | Fault::MariaDbFreeze)
    }
}

/// What a fault acts on.
pub struct Target<'a> {
    pub world: &'a mut World,
    pub mariadb: Option<&'a mut MariaDb>,
    pub cuts: &'a mpsc::Sender<Cut>,
    pub ledger: &'a Ledger,
}

/// How long a kill waits for an SMS to be in flight at the GoIP.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(10);

/// Causes the fault, keeps it for its duration, and undoes it. Returns what
/// happened, in words.
pub async fn inject(fault: Fault, quick: bool, target: Target<'_>) -> Result<String> {
    let duration = fault.duration(quick);
    match fault {
        Fault::None => Ok("nothing done".into()),
        Fault::MariaDbKill => {
            let db = target.mariadb.ok_or("no MariaDB of the scenario's own")?;
            let pid = db.pid();
            block_in_place(|| db.kill())?;
            sleep(duration).await;
            block_in_place(|| db.start_again())?;
            Ok(format!(
                "mariadbd {} killed, started again after {duration:?}",
                pid.unwrap_or_default()
            ))
        }
        Fault::MariaDbFreeze => {
            let db = target.mariadb.ok_or("no MariaDB of the scenario's own")?;
            let pid = db.pid().ok_or("MariaDB is not running")?;
            let frozen = Frozen::stop(pid)?;
            sleep(duration).await;
            frozen.resume()?;
            Ok(format!(
                "mariadbd {pid} stopped, continued after {duration:?}"
            ))
        }
        Fault::SqliteLock => {
            let Database::Sqlite(file) = target.world.goippy().database() else {
                return Err("the SQLite lock needs goippy on SQLite".into());
            };
            let file = file.clone();
            let lock = block_in_place(|| SqliteLock::take(&file))?;
            sleep(duration).await;
            block_in_place(|| lock.release())?;
            Ok(format!(
                "BEGIN IMMEDIATE held {duration:?} on {}",
                file.display()
            ))
        }
        Fault::ProsodyKill => {
            let prosody = target.world.prosody().ok_or("Prosody is not ours")?;
            let pid = prosody.pid().ok_or("Prosody is not running")?;
            signal(pid, "KILL")?;
            block_in_place(|| -> Result<()> {
                prosody.stop()?;
                prosody.start_again()
            })?;
            Ok(format!("prosody {pid} killed, started again"))
        }
        Fault::GoippyKill => {
            // The hard moment: an SMS handed to the GoIP, its result not in.
            let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
            while !target.ledger.any_in_flight() && tokio::time::Instant::now() < deadline {
                sleep(Duration::from_millis(10)).await;
            }
            let in_flight = target.ledger.any_in_flight();
            let goippy = target.world.goippy();
            let pid = goippy.pid().unwrap_or_default();
            block_in_place(|| -> Result<()> {
                goippy.kill()?;
                goippy.start()
            })?;
            Ok(format!(
                "goippy {pid} killed{}, started again with the same configuration and spool",
                if in_flight {
                    " while an SMS was being sent"
                } else {
                    " (no SMS was being sent)"
                }
            ))
        }
        Fault::ClientDrop => {
            let (done, said) = oneshot::channel();
            target
                .cuts
                .send(Cut {
                    offline: duration,
                    done,
                })
                .await
                .map_err(|_| "user A's task is gone")?;
            Ok(said
                .await
                .map_err(|_| "user A's task ended during the cut")?)
        }
    }
}

/// `kill -<sig> <pid>`, as the testkit's process guards do.
fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{sig} {pid} failed").into())
    }
}

/// A process stopped with SIGSTOP; continued when resumed or dropped (so
/// that a failed run never leaves a frozen server behind).
struct Frozen {
    pid: Option<u32>,
}

impl Frozen {
    fn stop(pid: u32) -> Result<Frozen> {
        signal(pid, "STOP")?;
        Ok(Frozen { pid: Some(pid) })
    }

    fn resume(mut self) -> Result<()> {
        match self.pid.take() {
            Some(pid) => signal(pid, "CONT"),
            None => Ok(()),
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = signal(pid, "CONT");
        }
    }
}

/// How long the `sqlite3` shell may take to get the write lock (goippy
/// commits in milliseconds; the shell waits out a commit in progress).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// An admin's `sqlite3` shell in the middle of a write transaction:
/// `BEGIN IMMEDIATE` takes SQLite's write lock, and holds it until
/// [`SqliteLock::release`] commits (or the shell is stopped by PID).
struct SqliteLock {
    // Declared before `shell`: the pipe closes before the process is stopped.
    stdin: ChildStdin,
    shell: ChildGuard,
}

impl SqliteLock {
    fn take(file: &Path) -> Result<SqliteLock> {
        let mut command = Command::new("sqlite3");
        command
            .arg("-bail")
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut shell = ChildGuard::spawn("sqlite3", &mut command)
            .map_err(|e| format!("{e} (Debian package sqlite3)"))?;
        let mut stdin = shell.take_stdin().ok_or("sqlite3 has no stdin pipe")?;
        let stdout = shell.take_stdout().ok_or("sqlite3 has no stdout pipe")?;
        writeln!(
            stdin,
            ".timeout {}\nBEGIN IMMEDIATE;\nSELECT 'locked';",
            LOCK_TIMEOUT.as_millis()
        )?;
        stdin.flush()?;
        // The answer comes only once the lock is held; read it in a thread
        // so that a shell that never answers cannot hang the run.
        let (tx, rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(LOCK_TIMEOUT + Duration::from_secs(5)) {
            Ok(line) if line.trim() == "locked" => Ok(SqliteLock { stdin, shell }),
            Ok(line) => Err(format!("sqlite3 did not take the write lock: {line:?}").into()),
            Err(_) => Err("sqlite3 did not take the write lock in time".into()),
        }
    }

    fn release(mut self) -> Result<()> {
        writeln!(self.stdin, "COMMIT;\n.quit")?;
        self.stdin.flush()?;
        match self.shell.wait_timeout(Duration::from_secs(10))? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!("sqlite3 exited with {status}").into()),
            None => Err("sqlite3 did not end after COMMIT".into()),
        }
    }
}
