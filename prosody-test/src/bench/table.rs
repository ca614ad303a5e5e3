//! The benchmark's output: one Markdown table (pasteable into the README),
//! then a line per scenario with what the table has no room for, and a
//! `PROBLEM` line for anything lost, duplicated or unexpected.

use std::fmt::Write as _;
use std::time::Duration;

use crate::bench::ledger::Percentiles;
use crate::bench::run::{Load, Row, backend_name};

const MIB: f64 = 1024.0 * 1024.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn per_message(cpu: Duration, messages: u64) -> String {
    if messages == 0 {
        return "—".into();
    }
    format!("{:.3}", ms(cpu) / messages as f64)
}

fn rate(messages: u64, span: Option<Duration>) -> Option<f64> {
    span.filter(|s| !s.is_zero())
        .map(|s| messages as f64 / s.as_secs_f64())
}

fn latency(p: &Percentiles) -> String {
    match (p.p50, p.p99) {
        (Some(p50), Some(p99)) => format!("{:.1} / {:.1}", ms(p50), ms(p99)),
        _ => "—".into(),
    }
}

/// A number with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | backend | messages | delivered/s | goippy CPU ms/msg | ack p50 / p99 ms | end-to-end p50 / p99 ms | goippy peak RSS MiB | Prosody CPU ms/msg | ceiling/s | of ceiling |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let g = &row.goippy;
        let c = &g.figures.counts;
        let keepalives = matches!(row.scenario.load, Load::Keepalives { .. });
        let (messages, goippy_rate) = if keepalives {
            (c.keepalives_acked, rate(c.keepalives_acked, Some(g.window)))
        } else {
            (c.delivered, rate(c.delivered, g.figures.span))
        };
        let ceiling_rate = row
            .ceiling
            .as_ref()
            .and_then(|ce| rate(ce.figures.counts.delivered, ce.figures.span));
        let rss = g
            .peak_rss
            .map(|(bytes, _)| format!("{:.1}", bytes as f64 / MIB))
            .unwrap_or_else(|| "—".into());
        let fmt_rate = |r: Option<f64>| r.map_or("—".into(), |r| format!("{r:.0}"));
        let share = match (goippy_rate, ceiling_rate) {
            (Some(g), Some(c)) if c > 0.0 => format!("{:.0}%", 100.0 * g / c),
            _ => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario.name,
            backend_name(row.backend),
            thousands(messages),
            fmt_rate(goippy_rate),
            per_message(g.cpu.goippy, messages),
            if keepalives {
                "—".into()
            } else {
                latency(&g.figures.ack_latency)
            },
            if keepalives {
                "—".into()
            } else {
                latency(&g.figures.end_to_end)
            },
            rss,
            per_message(g.cpu.prosody, messages),
            fmt_rate(ceiling_rate),
            share,
        );
    }
    out
}

/// What the table leaves out, a paragraph per row; `PROBLEM` lines for
/// anything that went wrong.
pub fn details(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let g = &row.goippy;
        let f = &g.figures;
        let c = &f.counts;
        let core = |cpu: Duration| 100.0 * cpu.as_secs_f64() / g.window.as_secs_f64();
        let _ = writeln!(
            out,
            "\n{} ({}):",
            row.scenario.name,
            backend_name(row.backend)
        );
        match row.scenario.load {
            Load::Keepalives { interval, duration } => {
                let _ = writeln!(
                    out,
                    "  {} keepalives acked in {:.0} s (channels send one every {} s): goippy used {:.2}% of one core \
                     ({:.1} ms of CPU), Prosody {:.2}%",
                    thousands(c.keepalives_acked),
                    duration.as_secs_f64(),
                    interval.as_secs(),
                    core(g.cpu.goippy),
                    ms(g.cpu.goippy),
                    core(g.cpu.prosody),
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  {} of {} delivered in {:.2} s; goippy used {:.0}% of one core over the window, Prosody {:.0}%, \
                     the benchmark itself (load generator and users) {:.0}%{}",
                    thousands(c.delivered),
                    thousands(g.expected),
                    f.span.unwrap_or_default().as_secs_f64(),
                    core(g.cpu.goippy),
                    core(g.cpu.prosody),
                    core(g.cpu.bench),
                    g.cpu
                        .mariadb
                        .map(|m| format!(
                            ", mariadbd {:.0}% ({} ms/msg)",
                            core(m),
                            per_message(m, c.delivered)
                        ))
                        .unwrap_or_default()
                );
                if let Some(max) = f.ack_latency.max {
                    let _ = writeln!(out, "  slowest ack {:.1} ms", ms(max));
                }
            }
        }
        if let Some((_, false)) = g.peak_rss {
            let _ = writeln!(
                out,
                "  (peak RSS is goippy's lifetime peak: the kernel did not let it be reset)"
            );
        }
        if let Some(ce) = &row.ceiling {
            let cc = &ce.figures.counts;
            let _ = writeln!(
                out,
                "  ceiling: {} of {} through the trivial component in {:.2} s, end-to-end p50 / p99 {} ms, \
                 Prosody CPU {} ms/msg",
                thousands(cc.delivered),
                thousands(ce.expected),
                ce.figures.span.unwrap_or_default().as_secs_f64(),
                latency(&ce.figures.end_to_end),
                per_message(ce.prosody_cpu, cc.delivered),
            );
            problems(
                &mut out,
                "ceiling",
                ce.expected,
                &ce.figures.counts,
                ce.stalled,
                &[],
            );
        }
        let expected = if matches!(row.scenario.load, Load::Keepalives { .. }) {
            c.delivered
        } else {
            g.expected
        };
        problems(&mut out, "goippy", expected, c, g.stalled, &f.odd_commands);
    }
    out
}

fn problems(
    out: &mut String,
    who: &str,
    expected: u64,
    c: &crate::bench::ledger::Counts,
    stalled: bool,
    odd: &[String],
) {
    let mut say = |what: String| {
        let _ = writeln!(out, "  PROBLEM ({who}): {what}");
    };
    if c.delivered < expected {
        say(format!(
            "{} of {expected} messages never arrived{}",
            expected - c.delivered,
            if stalled {
                " (nothing moved for 30 s)"
            } else {
                ""
            }
        ));
    }
    let named = [
        (c.duplicates, "arrived twice"),
        (c.strays, "arrivals of unknown texts"),
        (c.errors, "error stanzas to the users"),
        (c.refused, "RECEIVEs answered with an error"),
        (c.given_up, "RECEIVEs never acked (the GoIP gave up)"),
        (
            c.serial_violations,
            "SMS sessions opened while another was open on the channel",
        ),
        (c.repeated_sends, "SENDs repeated within a session"),
    ];
    for (n, what) in named {
        if n > 0 {
            say(format!("{n} {what}"));
        }
    }
    if c.retransmits > 0 {
        let _ = writeln!(
            out,
            "  note ({who}): {} RECEIVEs resent after {} s without an ack",
            c.retransmits,
            crate::bench::device::RETRANSMIT_AFTER.as_secs()
        );
    }
    if c.odd_commands > 0 {
        let _ = writeln!(
            out,
            "  note ({who}): {} datagrams the simulated GoIP did not expect, e.g. {odd:?}",
            c.odd_commands
        );
    }
}

/// True when no row has a `PROBLEM`.
pub fn all_well(rows: &[Row]) -> bool {
    !details(rows).contains("PROBLEM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2000), "2,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
