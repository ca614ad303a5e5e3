//! The whole-daemon benchmark (`cargo bench --bench daemon`): a real
//! Prosody, the release `goippy` on SQLite and on MariaDB, GoIP channels
//! and XMPP users, and per scenario what a user and an operator would ask:
//! messages delivered per second end to end, goippy's CPU per message and
//! peak memory, how long a GoIP waits for the ack of an SMS that is then
//! committed, what it costs Prosody — and the ceiling, the rate at which
//! this Prosody moves the same messages for a component that does nothing.
//!
//! | Module | What it is |
//! |---|---|
//! | [`setup`] | The world: Prosody, goippy, the users, a gateway per channel. |
//! | [`device`] | The GoIP side of the load, in-process: keepalives, RECEIVE with at most N un-acked, the SMS session answered at once. |
//! | [`users`] | The XMPP users: each receives (counting by unique body) and sends. |
//! | [`ceiling`] | The trivial component (XEP-0114 by hand) for the ceiling. |
//! | [`ledger`] | Where all of them write what they saw; the figures. |
//! | [`proc_stats`] | CPU time and peak RSS from `/proc`. |
//! | [`run`] | The scenarios and how each is measured. |
//! | [`table`] | The output. |
//!
//! The load generator and the users live in the benchmark's process, so
//! goippy, Prosody and the benchmark share the machine's cores: the CPU
//! figures are each process's own (from `/proc`), the rates are what the
//! three together reach, and the benchmark's own share is printed so that
//! a saturated load generator shows.

pub mod ceiling;
pub mod device;
pub mod ledger;
pub mod proc_stats;
pub mod run;
pub mod setup;
pub mod table;
pub mod users;

use std::path::PathBuf;
use std::time::Duration;

use crate::Result;
use crate::world::Backend;
use run::{Load, Row, Scenario};
use setup::{BenchWorld, Size};

/// The user a message text names (`…-u<index>-<n>`, see [`run`]).
pub fn user_of(text: &str) -> Option<usize> {
    let (head, _n) = text.rsplit_once('-')?;
    let (_, user) = head.rsplit_once("-u")?;
    user.parse().ok()
}

/// A progress line on stderr, with the time since the first one.
pub fn progress(what: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    eprintln!("bench {:>7.1} s: {what}", start.elapsed().as_secs_f64());
}

/// GoIPs send a keepalive every 30 s.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The full measurement, or a smoke pass of about 20 s.
    pub full: bool,
    pub backends: Vec<Backend>,
    /// Scenario kinds to run (`inbound`, `outbound`, `keepalives`,
    /// `mixed`); empty: all.
    pub only: Vec<String>,
    /// How long the keepalive scenario watches.
    pub keepalive_time: Duration,
    /// Un-acked RECEIVEs per channel, and un-arrived messages per user.
    pub window: usize,
    pub ceiling: bool,
    /// Where `perf record` writes a profile of goippy per scenario.
    pub perf: Option<PathBuf>,
}

impl Options {
    /// How big the world is.
    pub fn size(&self) -> Size {
        if self.full {
            Size {
                users: 64,
                keepalive_channels: 1000,
            }
        } else {
            Size {
                users: 4,
                keepalive_channels: 4,
            }
        }
    }

    /// Unmeasured traffic both ways before the first measured scenario
    /// (through the ceiling's component, then through goippy), so that
    /// neither starts cold: Prosody's first stanzas to a session, goippy's
    /// first statements, the allocators' first growth.
    pub fn warm_up(&self) -> Vec<Scenario> {
        let (inbound, outbound) = if self.full { (400, 128) } else { (8, 4) };
        vec![
            Scenario {
                name: "warm-up in".into(),
                load: Load::Inbound {
                    messages: inbound,
                    channels: 4,
                },
            },
            Scenario {
                name: "warm-up out".into(),
                load: Load::Outbound {
                    messages: outbound,
                    channels: 4,
                },
            },
        ]
    }

    /// The scenarios, in the order they run.
    pub fn scenarios(&self) -> Vec<Scenario> {
        let scenario = |name: &str, load| Scenario {
            name: name.to_string(),
            load,
        };
        let all = if self.full {
            vec![
                scenario(
                    "inbound 2,000 / 4 ch",
                    Load::Inbound {
                        messages: 2000,
                        channels: 4,
                    },
                ),
                scenario(
                    "inbound 2,000 / 64 ch",
                    Load::Inbound {
                        messages: 2000,
                        channels: 64,
                    },
                ),
                scenario(
                    "inbound 20,000 / 4 ch",
                    Load::Inbound {
                        messages: 20_000,
                        channels: 4,
                    },
                ),
                scenario(
                    "inbound 20,000 / 64 ch",
                    Load::Inbound {
                        messages: 20_000,
                        channels: 64,
                    },
                ),
                scenario(
                    "outbound 2,048 / 32 ch",
                    Load::Outbound {
                        messages: 2048,
                        channels: 32,
                    },
                ),
                scenario(
                    "keepalives 1,000 ch / 30 s",
                    Load::Keepalives {
                        interval: KEEPALIVE_INTERVAL,
                        duration: self.keepalive_time,
                    },
                ),
                scenario(
                    "mixed: 4,000 in / 32 ch + 1,024 out / 32 ch + keepalives",
                    Load::Mixed {
                        inbound: 4000,
                        in_channels: 32,
                        outbound: 1024,
                        out_channels: 32,
                        interval: KEEPALIVE_INTERVAL,
                    },
                ),
            ]
        } else {
            vec![
                scenario(
                    "inbound 40 / 4 ch",
                    Load::Inbound {
                        messages: 40,
                        channels: 4,
                    },
                ),
                scenario(
                    "outbound 16 / 4 ch",
                    Load::Outbound {
                        messages: 16,
                        channels: 4,
                    },
                ),
                scenario(
                    "keepalives 4 ch / 1 s",
                    Load::Keepalives {
                        interval: Duration::from_secs(1),
                        duration: Duration::from_secs(2),
                    },
                ),
                scenario(
                    "mixed: 20 in / 2 ch + 8 out / 2 ch + keepalives",
                    Load::Mixed {
                        inbound: 20,
                        in_channels: 2,
                        outbound: 8,
                        out_channels: 2,
                        interval: Duration::from_secs(1),
                    },
                ),
            ]
        };
        all.into_iter()
            .filter(|s| self.only.is_empty() || self.only.iter().any(|k| k == s.kind()))
            .collect()
    }
}

/// Every scenario on one backend, in one world: the ceilings first (goippy
/// not started), then goippy.
pub async fn run_backend(options: &Options, backend: Backend) -> Result<Vec<Row>> {
    let scenarios = options.scenarios();
    progress(&format!(
        "{}: starting Prosody, {} users, {} gateways…",
        run::backend_name(backend),
        options.size().users,
        options.size().users + options.size().keepalive_channels
    ));
    let mut world = BenchWorld::prepare(backend, options.size(), options.window).await?;
    progress("users logged in, gateways provisioned");
    let warm_up = options.warm_up();
    if options.ceiling {
        for scenario in &warm_up {
            run::ceiling(&world, scenario, options.window).await?;
        }
    }
    let mut ceilings = Vec::new();
    for scenario in &scenarios {
        if options.ceiling {
            progress(&format!("ceiling of {}…", scenario.name));
            ceilings.push(run::ceiling(&world, scenario, options.window).await?);
        } else {
            ceilings.push(None);
        }
    }
    progress("starting goippy…");
    world.start_goippy(KEEPALIVE_INTERVAL).await?;
    progress(&format!(
        "goippy runs (PID {}); Prosody PID {}",
        world.goippy_pid()?,
        world.prosody_pid()?
    ));
    for scenario in &warm_up {
        run::measure(&world, scenario, options.window, None).await?;
    }
    let mut rows = Vec::new();
    for (scenario, ceiling) in scenarios.into_iter().zip(ceilings) {
        progress(&format!("{} through goippy…", scenario.name));
        let goippy =
            run::measure(&world, &scenario, options.window, options.perf.as_deref()).await?;
        let row = Row {
            scenario,
            backend,
            goippy,
            ceiling,
        };
        eprint!("{}", table::table(std::slice::from_ref(&row)));
        rows.push(row);
    }
    progress("stopping…");
    world.finish().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_their_user() {
        assert_eq!(user_of("SQLite-inbound-2-000-4-ch-u12-345"), Some(12));
        assert_eq!(user_of("ceiling-x-out-u0-0"), Some(0));
        assert_eq!(user_of("nothing"), None);
    }

    #[test]
    fn scenarios_filter_by_kind() {
        let options = Options {
            full: true,
            backends: vec![Backend::Sqlite],
            only: vec!["keepalives".into()],
            keepalive_time: Duration::from_secs(30),
            window: 4,
            ceiling: true,
            perf: None,
        };
        let names: Vec<String> = options.scenarios().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["keepalives 1,000 ch / 30 s"]);
    }
}
