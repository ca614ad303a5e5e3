//! The table of the fault run, as Markdown (readable in a terminal, and
//! what the README shows), and what stood out in each scenario.

use std::fmt::Write as _;
use std::time::Duration;

use crate::faults::run::Outcome;
use crate::world::Backend;

/// The figures of every scenario, one row each.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| fault | database | sent | delivered | duplicated | lost | failures reported | \
         \"Not sent yet\" | max stall of B: help / SMS |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for o in outcomes {
        let t = &o.tally;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            o.fault.describe(o.quick),
            backend(o.backend),
            t.sent,
            t.delivered,
            t.duplicated,
            t.lost,
            t.failures_reported,
            t.not_yet,
            seconds(t.stall.console),
            seconds(t.stall.sms),
        );
    }
    out
}

/// What happened in each scenario, and every problem with the message it
/// concerns.
pub fn details(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let t = &o.tally;
        let _ = writeln!(
            out,
            "\n## {} ({}){}",
            o.fault.describe(o.quick),
            backend(o.backend),
            if t.problems.is_empty() {
                ""
            } else {
                " — PROBLEMS"
            }
        );
        for line in &o.story {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(
            out,
            "  slowest inbound SMS (GoIP → A's client): {}; slowest outbound (client → GoIP sent): {}",
            seconds(t.slowest_inbound),
            seconds(t.slowest_outbound)
        );
        if !t.stall.console_worst.is_empty() {
            let _ = writeln!(out, "  B's longest wait: {}", t.stall.console_worst);
        }
        if !t.stall.sms_worst.is_empty() {
            let _ = writeln!(out, "  B's longest wait for an SMS: {}", t.stall.sms_worst);
        }
        if t.resent > 0 {
            let _ = writeln!(
                out,
                "  {} inbound SMS were acked only after the GoIP resent them (at most {} sends of 4)",
                t.resent, t.most_sends
            );
        }
        if t.only_archived > 0 {
            let _ = writeln!(
                out,
                "  {} inbound SMS reached A only through its archive (MAM)",
                t.only_archived
            );
        }
        for note in &t.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        for problem in &t.problems {
            let _ = writeln!(out, "  PROBLEM: {problem}");
        }
    }
    out
}

/// Whether every scenario met the goal: nothing lost or duplicated, every
/// failure reported (an unreported one counts as lost), nothing else odd.
pub fn all_well(outcomes: &[Outcome]) -> bool {
    outcomes.iter().all(|o| o.tally.problems.is_empty())
}

fn backend(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::MariaDb => "MariaDB",
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}
