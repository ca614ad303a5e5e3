//! What the kernel says a process has used: CPU time and peak memory, from
//! `/proc/<pid>/stat` and `/proc/<pid>/status`.
//!
//! The benchmark reads these before and after a measured window, so the
//! figures are the daemon's own, whatever else shares the machine (the load
//! generator and the XMPP users run in the benchmark's own process, which
//! is measured the same way through `/proc/self`).

use std::fs;
use std::time::Duration;

use crate::Result;

/// Which process: a PID, or the benchmark itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    Of(u32),
    Own,
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Of(pid) => format!("/proc/{pid}"),
            Pid::Own => "/proc/self".into(),
        }
    }
}

/// User plus system CPU time the process has used so far (all threads).
pub fn cpu_time(pid: Pid) -> Result<Duration> {
    let path = format!("{}/stat", pid.dir());
    let stat = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let ticks = stat_ticks(&stat).ok_or_else(|| format!("{path}: unreadable"))?;
    let per_second = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

/// utime + stime of a `/proc/<pid>/stat` line, in clock ticks.
fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may contain spaces; after it,
    // field 3 (state) comes first, so utime and stime (fields 14 and 15,
    // 1-based) are the 12th and 13th.
    let after_name = stat.rsplit_once(')')?.1;
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The process's peak resident set size (`VmHWM`), in bytes.
pub fn peak_rss(pid: Pid) -> Result<u64> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// The process's resident set size now (`VmRSS`), in bytes.
pub fn rss(pid: Pid) -> Result<u64> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

fn status_kib(pid: Pid, key: &str) -> Result<u64> {
    let path = format!("{}/status", pid.dir());
    let status = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .ok_or_else(|| format!("{path}: no {key}").into())
}

/// Resets the peak RSS to the current RSS (`echo 5 > clear_refs`, Linux
/// ≥ 4.0), so the next [`peak_rss`] is the peak of what follows. False when
/// the kernel or the permissions do not allow it: the peak is then the
/// process's lifetime peak.
pub fn reset_peak_rss(pid: Pid) -> bool {
    fs::write(format!("{}/clear_refs", pid.dir()), "5").is_ok()
}

/// CPU time of a process over a window: take a [`CpuMeter`] at the start,
/// [`CpuMeter::used`] at the end.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: Pid,
    start: Duration,
}

impl CpuMeter {
    pub fn start(pid: Pid) -> Result<Self> {
        Ok(CpuMeter {
            pid,
            start: cpu_time(pid)?,
        })
    }

    /// CPU time used since [`CpuMeter::start`].
    pub fn used(&self) -> Result<Duration> {
        Ok(cpu_time(self.pid)?.saturating_sub(self.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ticks_after_a_name_with_spaces() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 100 1000 10";
        assert_eq!(stat_ticks(line), Some(42));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn reads_its_own_figures() {
        assert!(cpu_time(Pid::Own).is_ok());
        let peak = peak_rss(Pid::Own).expect("VmHWM");
        assert!(peak >= rss(Pid::Own).expect("VmRSS") / 2 && peak > 0);
    }
}
