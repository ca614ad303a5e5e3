//! `goippy --list`: the installed instances, whether systemd runs them, and
//! whether their configurations load.
//!
//! One aligned row per instance: the operator's name for it, the unit, the
//! active state (`systemctl is-active`, or "unknown (…)" saying why not),
//! the configuration the unit runs, and `ok` or the configuration's first
//! problem. Below the table: collisions between installed instances (a
//! configuration edited after its install can still clash) and the
//! goippy-like units that are not goippy's and were left alone.

use std::fmt::Write as _;

use crate::config::Config;

use super::host::Host;
use super::{OpsError, Report, collision, discovery};

/// Lists what is installed in `host`'s unit directory.
pub fn list(host: &Host, report: &mut Report) -> Result<(), OpsError> {
    let found = discovery::discover(&host.unit_dir)?;
    if found.installed.is_empty() {
        report.say(format!(
            "no goippy instances are installed in {}; install one with `goippy --install` or `goippy --install <name>`",
            host.unit_dir.display()
        ));
    } else {
        let mut rows = Vec::new();
        let mut loaded = Vec::new();
        for instance in &found.installed {
            let unit = instance.name.unit_name();
            let status = match Config::load(&instance.config) {
                Ok((config, _warnings)) => {
                    loaded.push((instance.name.clone(), config));
                    "ok".to_string()
                }
                Err(e) => config_problem(&e.problems, &instance.config),
            };
            rows.push([
                instance.name.to_string(),
                unit.clone(),
                host.systemctl.is_active(&unit),
                instance.config.display().to_string(),
                status,
            ]);
        }
        let header = ["INSTANCE", "UNIT", "ACTIVE", "CONFIG", "CONFIG STATUS"];
        report.say(table(header, &rows).trim_end_matches('\n'));
        for (i, (name, config)) in loaded.iter().enumerate() {
            for (other_name, other) in &loaded[i + 1..] {
                for c in collision::between((name, config), (other_name, other)) {
                    report.say(format!("warning: {c}"));
                }
            }
        }
    }
    for f in &found.foreign {
        report.say(format!("left alone: {}: {}", f.path.display(), f.why));
    }
    Ok(())
}

/// The first problem, and a pointer to the rest.
fn config_problem(problems: &[String], path: &std::path::Path) -> String {
    let first = problems
        .first()
        .and_then(|p| p.lines().next())
        .unwrap_or("unusable");
    match problems.len() {
        0 | 1 => first.to_string(),
        n => format!(
            "{first} (and {} more: goippy --check {})",
            n - 1,
            path.display()
        ),
    }
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = table(
            ["A", "BB", "C"],
            &[
                ["default".into(), "x".into(), "ok".into()],
                ["2508".into(), "longer".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "A        BB      C\n\
             default  x       ok\n\
             2508     longer\n"
        );
    }

    #[test]
    fn the_first_problem_stands_for_the_rest() {
        let p = std::path::Path::new("/etc/goippy.conf");
        assert_eq!(
            config_problem(&["GOIP_PORT: bad".into()], p),
            "GOIP_PORT: bad"
        );
        assert_eq!(
            config_problem(&["A: bad".into(), "B: bad".into()], p),
            "A: bad (and 1 more: goippy --check /etc/goippy.conf)"
        );
        assert_eq!(
            config_problem(&["not valid:\nline 2".into()], p),
            "not valid:"
        );
    }
}
