//! Watching a server's log file: the one way the harness learns what
//! Prosody and goippy did when no protocol tells it.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::Error;

/// Everything in the log file so far (empty when it does not exist yet).
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// The last `lines` lines of `text`, for what a failing test prints.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until a line of the log at `path` contains `needle`; returns that
/// line. `who` names the server in the error.
pub fn wait_for_line(
    path: &Path,
    who: &str,
    needle: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(line) = read(path).lines().find(|l| l.contains(needle)) {
            return Ok(line.to_string());
        }
        if Instant::now() > deadline {
            return Err(Error::from(format!(
                "{who} logged no line with {needle:?} within {timeout:?}"
            )));
        }
        sleep(Duration::from_millis(20));
    }
}
