//! The README's first command ends in the `demo` program; with `--once` it
//! must show every step of the transcript, stop everything it started and
//! leave nothing behind — twice in a row, as a user trying it again would.
//! Without `--once`, as `demo.sh` runs it for a person, it must keep
//! running until Ctrl-C and then clean up just the same.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use goippy_testkit::process::ChildGuard;

/// One demo at a time: every demo process packs the mod_sms_alias rocks
/// into the same `target/rocks` (`lua/make-rocks.sh`), which two at once
/// would trip over.
fn one_demo_at_a_time() -> MutexGuard<'static, ()> {
    static DEMO: Mutex<()> = Mutex::new(());
    // A failed test only poisons the lock; the next demo may still run.
    DEMO.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run_demo() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .arg("--once")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo --once failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The value after `label` on the transcript's setup line `label …`.
fn setup_line<'a>(transcript: &'a str, label: &str) -> &'a str {
    transcript
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{transcript}"))
        .trim()
}

fn pids(transcript: &str) -> Vec<u32> {
    setup_line(transcript, "pids")
        .split("pid ")
        .skip(1)
        .filter_map(|rest| rest.split(')').next()?.parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split(' ').nth(2) != Some("Z"))
        .unwrap_or(false)
}

#[test]
fn the_demo_runs_twice_in_a_row_and_cleans_up_after_itself() {
    let _one = one_demo_at_a_time();
    for round in 1..=2 {
        let transcript = run_demo();
        for step in [
            "1) An SMS arrives",
            "2) The user answers",
            "3) A USSD code",
            "4) The console: `status`",
            "receipt from +37255512345@example.org",
            "Your balance is 10.00 EUR",
            "demo finished",
        ] {
            assert!(
                transcript.contains(step),
                "round {round}: {step:?} missing from:\n{transcript}"
            );
        }
        let pids = pids(&transcript);
        assert_eq!(pids.len(), 3, "prosody, goippy, goip-sim:\n{transcript}");
        for pid in pids {
            assert!(!alive(pid), "round {round}: pid {pid} still runs");
        }
        for dir in setup_line(&transcript, "files").split(" and ") {
            assert!(
                !Path::new(dir).exists(),
                "round {round}: {dir} was not removed"
            );
        }
    }
}

/// How long start-up and the transcript may take before the demo says it
/// keeps running (about ten seconds; the first packing of the rocks in a
/// fresh checkout runs a release build).
const UNTIL_RUNNING: Duration = Duration::from_secs(300);
/// How long the demo may take to stop everything after Ctrl-C.
const UNTIL_STOPPED: Duration = Duration::from_secs(30);

/// What the demo prints, line by line as it comes, and all of it so far.
struct Output {
    lines: Receiver<String>,
    seen: String,
}

impl Output {
    /// Reads `stream` on a thread of its own until it closes.
    fn read(stream: impl Read + Send + 'static) -> Output {
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Output {
            lines,
            seen: String::new(),
        }
    }

    /// Reads until a line contains `text`; false if the output ends first
    /// or `within` passes.
    fn wait_for(&mut self, text: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(text) {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Everything up to the end of the output (the demo has exited).
    fn rest(&mut self) -> &str {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        &self.seen
    }
}

/// What `demo.sh` does without `--once`: the demo keeps everything running
/// (and passes typed goip-sim commands on) until Ctrl-C; then it exits
/// cleanly, soon, having stopped every process it reported and removed its
/// temp dirs.
#[test]
fn without_once_the_demo_keeps_running_until_ctrl_c_and_then_cleans_up() {
    let _one = one_demo_at_a_time();
    // Its complaints go to a file, read when something fails.
    let stderr = tempfile::NamedTempFile::new().expect("a file for stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo"));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().expect("reopen the stderr file"));
    // Should an assertion fail, the guard's SIGTERM still makes the demo
    // clean up after itself.
    let mut demo = ChildGuard::spawn("demo", &mut cmd)
        .expect("start the demo")
        .with_grace(UNTIL_STOPPED);
    let pid = demo.pid().expect("the demo's pid");
    // Held open, as a terminal would be: the demo reads commands from it.
    let mut stdin = demo.take_stdin().expect("stdin is piped");
    let mut out = Output::read(demo.take_stdout().expect("stdout is piped"));
    let stderr_of = || std::fs::read_to_string(stderr.path()).unwrap_or_default();

    assert!(
        out.wait_for("Ctrl-C stops everything", UNTIL_RUNNING),
        "the demo never said it keeps running:\n{}\nstderr:\n{}",
        out.seen,
        stderr_of()
    );
    for step in [
        "1) An SMS arrives",
        "receipt from +37255512345@example.org",
        "Your balance is 10.00 EUR",
        "Everything keeps running.",
    ] {
        assert!(
            out.seen.contains(step),
            "{step:?} missing from:\n{}",
            out.seen
        );
    }
    let reported = pids(&out.seen);
    assert_eq!(
        reported.len(),
        3,
        "prosody, goippy, goip-sim:\n{}",
        out.seen
    );
    let dirs: Vec<String> = setup_line(&out.seen, "files")
        .split(" and ")
        .map(str::to_string)
        .collect();
    assert_eq!(dirs.len(), 2, "the scenario's and Prosody's:\n{}", out.seen);

    // It does keep running: a typed command reaches the simulated GoIP and
    // its answer is shown.
    writeln!(stdin, "status").expect("type a command");
    assert!(
        out.wait_for("failure modes: none", Duration::from_secs(20)),
        "no answer to `status`:\n{}\nstderr:\n{}",
        out.seen,
        stderr_of()
    );
    assert!(
        demo.try_wait().expect("poll the demo").is_none(),
        "the demo ended by itself:\n{}",
        out.seen
    );
    for pid in &reported {
        assert!(alive(*pid), "pid {pid} is gone while the demo runs");
    }

    // Ctrl-C, as a person would press it: SIGINT, to the demo's PID only.
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT {pid}: {status}");
    let exit = demo.wait_timeout(UNTIL_STOPPED).expect("wait for the demo");
    let transcript = out.rest().to_string();
    let exit = exit.unwrap_or_else(|| {
        panic!("the demo still runs {UNTIL_STOPPED:?} after SIGINT:\n{transcript}")
    });
    assert!(
        exit.success(),
        "the demo failed after SIGINT ({exit}):\n{transcript}\nstderr:\n{}",
        stderr_of()
    );
    assert!(
        transcript.contains(&format!("Stopped {}", setup_line(&transcript, "pids"))),
        "it says what it stopped:\n{transcript}"
    );
    for pid in reported {
        assert!(!alive(pid), "pid {pid} still runs after the demo ended");
    }
    for dir in dirs {
        assert!(!Path::new(&dir).exists(), "{dir} was not removed");
    }
}
