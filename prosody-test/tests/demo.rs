//! The README's first command ends in the `demo` program; with `--once` it
//! must show every step of the transcript, stop everything it started and
//! leave nothing behind — twice in a row, as a user trying it again would.

use std::path::Path;
use std::process::Command;

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
