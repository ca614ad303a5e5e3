//! A simulated GoIP: the real `goip-sim` binary, driven over its pipes.
//!
//! The scenarios and the demo run the program operators run (see
//! [`crate::bins`]) rather than link the `goip_sim` library, so this talks to
//! the simulator the way any harness in another process would: script lines
//! on stdin (`sms 1 +37255512345 hello`, `fail 1 errorstatus 38`, …) and one
//! JSON event per line on stdout (`--json`; the schema is the documented,
//! stable contract in `goip_sim::events`). A reader thread turns the
//! lines into JSON values; waits match them by predicate with a deadline,
//! and events that arrive while a test waits for something else stay in a
//! backlog for later waits, as with [`crate::XmppClient`].
//!
//! The simulator's output lines are also kept (the last [`KEPT_LINES`],
//! without the routine keepalives), and printed when a test fails. The process is a
//! `goippy_testkit` [`ChildGuard`]: stopped by PID when dropped.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goippy_testkit::process::ChildGuard;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use crate::Result;
use crate::bins::binaries;

/// How many of the simulator's output lines are kept for failure output.
pub const KEPT_LINES: usize = 400;
/// How many unmatched events wait in the backlog before the oldest go
/// (keepalives arrive all the time; a long demo must not grow without end).
const MAX_BACKLOG: usize = 5000;
/// How long `quit` may take.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

/// One channel (one SIM) of a simulated GoIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChannel {
    /// The channel's "SMS Client ID".
    pub id: String,
    pub password: String,
    /// The SIM's number, reported in every keepalive (`num:`).
    pub number: String,
}

impl SimChannel {
    pub fn new(id: &str, password: &str, number: &str) -> Self {
        SimChannel {
            id: id.into(),
            password: password.into(),
            number: number.into(),
        }
    }

    fn spec(&self) -> String {
        format!("{}:{}:{}", self.id, self.password, self.number)
    }
}

/// How fast the simulated device does things (`goip-sim`'s timing flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTiming {
    pub keepalive_interval: Duration,
    pub retransmit_interval: Duration,
    pub retransmits: u32,
    pub send_time: Duration,
    /// `None`: no automatic delivery report (`--deliver-after off`).
    pub deliver_after: Option<Duration>,
    pub ussd_delay: Duration,
}

impl SimTiming {
    /// Fast, for tests: everything within a fraction of a second.
    pub fn fast() -> Self {
        SimTiming {
            keepalive_interval: Duration::from_millis(200),
            retransmit_interval: Duration::from_millis(100),
            retransmits: 3,
            send_time: Duration::from_millis(50),
            deliver_after: Some(Duration::from_millis(100)),
            ussd_delay: Duration::ZERO,
        }
    }

    /// Slow enough for a person to follow, fast enough not to bore them.
    pub fn demo() -> Self {
        SimTiming {
            keepalive_interval: Duration::from_secs(10),
            retransmit_interval: Duration::from_secs(3),
            retransmits: 3,
            send_time: Duration::from_millis(700),
            deliver_after: Some(Duration::from_millis(1200)),
            ussd_delay: Duration::from_millis(800),
        }
    }

    fn args(&self) -> Vec<String> {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        vec![
            "--keepalive-interval".into(),
            ms(self.keepalive_interval),
            "--retransmit-interval".into(),
            ms(self.retransmit_interval),
            "--retransmits".into(),
            self.retransmits.to_string(),
            "--send-time".into(),
            ms(self.send_time),
            "--deliver-after".into(),
            self.deliver_after.map(ms).unwrap_or_else(|| "off".into()),
            "--ussd-delay".into(),
            ms(self.ussd_delay),
        ]
    }
}

impl Default for SimTiming {
    fn default() -> Self {
        SimTiming::fast()
    }
}

/// A running `goip-sim --json`.
pub struct GoipSim {
    name: String,
    channels: Vec<SimChannel>,
    // Declared before `child`: the pipe closes before the process is stopped.
    stdin: Option<ChildStdin>,
    child: ChildGuard,
    events: mpsc::UnboundedReceiver<Value>,
    backlog: VecDeque<Value>,
    lines: Arc<Mutex<VecDeque<String>>>,
    stderr_path: PathBuf,
}

impl GoipSim {
    /// Starts a device named `name` (for messages) with `channels`, sending
    /// to `server`; `dir` receives its stderr. Returns once it reported
    /// `ready`.
    pub async fn start(
        name: &str,
        server: SocketAddr,
        channels: &[SimChannel],
        timing: &SimTiming,
        extra_args: &[&str],
        dir: &Path,
    ) -> Result<GoipSim> {
        let stderr_path = dir.join(format!("{name}.stderr"));
        let mut command = Command::new(&binaries()?.goip_sim);
        command
            .arg("--json")
            .arg("--no-wire")
            .arg("--server")
            .arg(server.to_string())
            .args(timing.args())
            .args(extra_args);
        for channel in channels {
            command.arg("--channel").arg(channel.spec());
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_path)?);
        let mut child = ChildGuard::spawn(name, &mut command)?;
        let stdin = child.take_stdin().ok_or("goip-sim has no stdin pipe")?;
        let stdout = child.take_stdout().ok_or("goip-sim has no stdout pipe")?;
        let (tx, events) = mpsc::unbounded_channel();
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let kept = Arc::clone(&lines);
        std::thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    let value = serde_json::from_str::<Value>(&line).unwrap_or_else(|e| {
                        serde_json::json!({"event": "unreadable", "text": line, "why": e.to_string()})
                    });
                    if !is_routine(&value) {
                        let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                        if kept.len() == KEPT_LINES {
                            kept.pop_front();
                        }
                        kept.push_back(line);
                    }
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            })?;
        let mut sim = GoipSim {
            name: name.into(),
            channels: channels.to_vec(),
            stdin: Some(stdin),
            child,
            events,
            backlog: VecDeque::new(),
            lines,
            stderr_path,
        };
        sim.wait_for("ready", Duration::from_secs(10), |e| e["event"] == "ready")
            .await?;
        Ok(sim)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channels, in order: channel `n` (counting from 1) is `channels()[n - 1]`.
    pub fn channels(&self) -> &[SimChannel] {
        &self.channels
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    /// Sends one script line (see `goip-sim --help`).
    pub fn send(&mut self, line: &str) -> Result<()> {
        if line.contains('\n') {
            return Err(format!("one script line at a time, not {line:?}").into());
        }
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin is closed", self.name))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: cannot write to goip-sim: {e}", self.name))?;
        Ok(())
    }

    /// An inbound SMS on `channel` from `from`; any text (newlines,
    /// backslashes, `;`) arrives as it is.
    pub fn sms(&mut self, channel: usize, from: &str, text: &str) -> Result<()> {
        self.send(&format!("sms {channel} {from} {}", escape(text)))
    }

    /// The next event (backlog first), within `within`.
    pub async fn next_event(&mut self, within: Duration) -> Result<Value> {
        if let Some(event) = self.backlog.pop_front() {
            return Ok(event);
        }
        self.read_one(Instant::now() + within)
            .await?
            .ok_or_else(|| format!("{}: no event within {within:?}", self.name).into())
    }

    /// An event if one is ready now (backlog first); never waits.
    pub fn try_next_event(&mut self) -> Option<Value> {
        self.backlog
            .pop_front()
            .or_else(|| self.events.try_recv().ok())
    }

    /// The next event (backlog first) if one arrives within `within`, else
    /// `None`: silence is no error here (a closed pipe still is). For a
    /// driver that has other things to do between events.
    pub async fn poll(&mut self, within: Duration) -> Result<Option<Value>> {
        if let Some(event) = self.backlog.pop_front() {
            return Ok(Some(event));
        }
        self.read_one(Instant::now() + within).await
    }

    /// The first event (backlog first) for which `wanted` holds; others are
    /// kept for later waits. `what` names it in the error.
    pub async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        if let Some(event) = self
            .backlog
            .iter()
            .position(&wanted)
            .and_then(|i| self.backlog.remove(i))
        {
            return Ok(event);
        }
        let deadline = Instant::now() + within;
        loop {
            match self.read_one(deadline).await? {
                Some(event) if wanted(&event) => return Ok(event),
                Some(event) => self.keep(event),
                None => {
                    return Err(format!(
                        "{}: no {what} within {within:?}; its last events:\n{}",
                        self.name,
                        self.output_tail(30)
                    )
                    .into());
                }
            }
        }
    }

    /// The first event named `name` for which `wanted` holds.
    pub async fn wait_event(
        &mut self,
        name: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        self.wait_for(name, within, |e| e["event"] == name && wanted(e))
            .await
    }

    /// Fails if an event for which `unwanted` holds is in the backlog or
    /// arrives within `window`.
    pub async fn expect_none(
        &mut self,
        what: &str,
        window: Duration,
        unwanted: impl Fn(&Value) -> bool,
    ) -> Result<()> {
        if let Some(event) = self.backlog.iter().find(|e| unwanted(e)) {
            return Err(format!("{}: unexpected {what}: {event}", self.name).into());
        }
        let deadline = Instant::now() + window;
        while let Some(event) = self.read_one(deadline).await? {
            if unwanted(&event) {
                return Err(format!("{}: unexpected {what}: {event}", self.name).into());
            }
            self.keep(event);
        }
        Ok(())
    }

    /// Removes and returns every event already received for which `wanted`
    /// holds, in arrival order.
    pub fn take_received(&mut self, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        while let Ok(event) = self.events.try_recv() {
            self.keep(event);
        }
        let (taken, kept) = self.backlog.drain(..).partition(|e| wanted(e));
        self.backlog = kept;
        taken.into()
    }

    /// Waits until every channel is registered: the server accepted one of
    /// its keepalives (`keepalive_ack` with status 200). Earlier acks count.
    pub async fn wait_registered(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        for n in 1..=self.channels.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_for(
                &format!("an accepted keepalive on channel {n}"),
                left,
                |e| e["event"] == "keepalive_ack" && e["channel"] == n && e["status"] == 200,
            )
            .await?;
        }
        Ok(())
    }

    /// `quit`, then waits for the process to exit; an error unless it
    /// exits with status 0.
    pub fn quit(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            self.send("quit")?;
        }
        self.stdin = None;
        match self.child.wait_timeout(QUIT_TIMEOUT)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!(
                "{}: goip-sim exited with {status}; stderr:\n{}",
                self.name,
                self.stderr()
            )
            .into()),
            None => Err(format!(
                "{}: goip-sim did not quit within {QUIT_TIMEOUT:?}",
                self.name
            )
            .into()),
        }
    }

    /// The simulator's last `lines` output lines (its JSON events), without
    /// keepalives and accepted keepalive acks.
    pub fn output_tail(&self, lines: usize) -> String {
        let kept = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let skip = kept.len().saturating_sub(lines);
        kept.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What the simulator wrote to stderr.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    async fn read_one(&mut self, deadline: Instant) -> Result<Option<Value>> {
        match timeout_at(deadline, self.events.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => Err(format!(
                "{}: goip-sim closed its output (exited?); stderr:\n{}",
                self.name,
                self.stderr()
            )
            .into()),
        }
    }

    fn keep(&mut self, event: Value) {
        if self.backlog.len() == MAX_BACKLOG {
            self.backlog.pop_front();
        }
        self.backlog.push_back(event);
    }
}

impl Drop for GoipSim {
    fn drop(&mut self) {
        self.stdin = None;
        if std::thread::panicking() {
            eprintln!(
                "----- last 60 events of goip-sim {} -----\n{}\n----- stderr -----\n{}----- end of goip-sim {} -----",
                self.name,
                self.output_tail(60),
                self.stderr(),
                self.name
            );
        }
    }
}

/// Keepalives and their accepted acks: several a second per channel, and
/// never what explains a failure, so they are left out of the kept lines.
fn is_routine(event: &Value) -> bool {
    event["event"] == "keepalive" || (event["event"] == "keepalive_ack" && event["status"] == 200)
}

/// Text as the script language carries it: `\n`, `\r`, `\t`, `\\`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_the_script_language() {
        assert_eq!(escape("a;b\nc\\d\te"), "a;b\\nc\\\\d\\te");
    }

    #[test]
    fn timing_becomes_flags() {
        let args = SimTiming {
            deliver_after: None,
            ..SimTiming::fast()
        }
        .args();
        let pos = args.iter().position(|a| a == "--deliver-after").unwrap();
        assert_eq!(args[pos + 1], "off");
        let pos = args
            .iter()
            .position(|a| a == "--keepalive-interval")
            .unwrap();
        assert_eq!(args[pos + 1], "200ms");
    }
}
