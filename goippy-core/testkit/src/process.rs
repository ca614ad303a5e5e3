//! A child process that is stopped when its guard is dropped.
//!
//! Tests stop what they started by PID (never by name: the machine is
//! shared), politely first (SIGTERM), then SIGKILL after a grace period.

use std::io;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Owns a running child; stops it on drop.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    grace: Duration,
}

impl ChildGuard {
    /// Spawns `cmd`; `name` is used in messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Self> {
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name}: {e}")))?;
        Ok(ChildGuard {
            name: name.to_string(),
            child: Some(child),
            grace: Duration::from_secs(10),
        })
    }

    /// How long [`ChildGuard::stop`] waits after SIGTERM before SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The child's stdin, when it was spawned with `Stdio::piped()` and not
    /// taken before; a driver writes to it (dropping it closes the pipe).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// The child's stdout, when it was spawned with `Stdio::piped()` and not
    /// taken before; a driver reads it (typically on a thread of its own).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Waits up to `timeout` for the process to exit on its own (after a
    /// `quit` on its stdin, say) without signalling it; `None` if it still
    /// runs. The guard still stops it when dropped.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// `Some(status)` if the process has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => c.try_wait(),
            None => Ok(None),
        }
    }

    /// Sends a signal by name or number (`kill -<sig> <pid>`): `TERM`,
    /// `KILL`, `STOP`/`CONT` (to freeze a process and let it go on), ….
    pub fn signal(&self, sig: &str) -> io::Result<()> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "kill -{sig} {pid} ({}) failed",
                self.name
            )))
        }
    }

    /// SIGTERM, wait up to the grace period, then SIGKILL. Returns the exit status.
    pub fn stop(&mut self) -> io::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            sleep(Duration::from_millis(20));
        }
        child.kill()?;
        child.wait().map(Some)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testkit: stopping {} failed: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    #[test]
    fn a_driver_talks_to_the_child_over_its_pipes() {
        let mut cmd = Command::new("cat");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut cat = ChildGuard::spawn("cat", &mut cmd).expect("spawn cat");
        let mut stdin = cat.take_stdin().expect("stdin is piped");
        let mut stdout = BufReader::new(cat.take_stdout().expect("stdout is piped"));
        assert!(cat.take_stdin().is_none(), "taken once");
        writeln!(stdin, "hello").expect("write");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        assert_eq!(line, "hello\n");
        assert_eq!(
            cat.wait_timeout(Duration::from_millis(100)).expect("wait"),
            None
        );
        drop(stdin);
        let status = cat.wait_timeout(Duration::from_secs(5)).expect("wait");
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
    }
}
