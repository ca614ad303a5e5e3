//! `goippy --list`: the installed instances, whether systemd runs them, and
//! whether their configurations load.
//!
//! One aligned row per instance: the operator's name for it, the unit, the
//! active state (`systemctl is-active`, or "unknown (…)" saying why not),
//! the configuration the unit runs, and `ok` or the configuration's first
//! problem. Below the table: collisions between installed instances (a
//! configuration edited after its install can still clash) and the
//! goippy-like units that are not goippy's and were left alone.

use crate::config::Config;
use crate::util::table;

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

#[cfg(test)]
mod tests {
    use super::*;

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
