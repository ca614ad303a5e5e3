//! The scenarios and how each is measured.
//!
//! A message scenario puts its load through goippy and waits until every
//! message has arrived at its end (an inbound SMS at its user, an outbound
//! one at the GoIP's SEND), or until nothing has moved for [`STALL`]. Around
//! that window it reads the CPU time of goippy, Prosody, the benchmark
//! itself (the load generator and the users) and MariaDB from `/proc`, and
//! goippy's peak RSS (reset at the start where the kernel allows). The same
//! messages then go through the ceiling's trivial component instead of
//! goippy — measured before goippy starts, under its component name.

use std::process::{Command, Stdio};
use std::time::Duration;

use goippy_testkit::process::ChildGuard;
use tokio::task::{JoinSet, block_in_place};
use tokio::time::{Instant, sleep};

use crate::Result;
use crate::bench::ceiling::Component;
use crate::bench::device::SENDER;
use crate::bench::ledger::{Counts, Figures, Ledger};
use crate::bench::proc_stats::{CpuMeter, Pid, peak_rss, reset_peak_rss};
use crate::bench::setup::{BenchWorld, register};
use crate::config::COMPONENT_SECRET;
use crate::world::{Backend, COMPONENT, DOMAIN};

/// A scenario gives up waiting when nothing arrived for this long.
pub const STALL: Duration = Duration::from_secs(30);
/// How often completion is checked.
const POLL: Duration = Duration::from_millis(20);
/// Waited after the last arrival before the CPU is read: what goippy does
/// for a message after the user has it (marking it delivered) counts too.
const SETTLE: Duration = Duration::from_millis(500);

/// What a scenario puts through.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// SMS from the GSM side: `messages` spread over the first `channels`
    /// channels, each to its user.
    Inbound { messages: usize, channels: usize },
    /// SMS from the users of the first `channels` channels, each through
    /// the user's own channel.
    Outbound { messages: usize, channels: usize },
    /// Every keepalive-only channel sending one keepalive per `interval`,
    /// watched for `duration`.
    Keepalives {
        interval: Duration,
        duration: Duration,
    },
    /// Inbound on channels `0..in_channels`, outbound on the next
    /// `out_channels`, and every keepalive-only channel, at once.
    Mixed {
        inbound: usize,
        in_channels: usize,
        outbound: usize,
        out_channels: usize,
        interval: Duration,
    },
}

/// One scenario: a name for the table and its load.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub load: Load,
}

impl Scenario {
    /// The kind, for `--only`: `inbound`, `outbound`, `keepalives`, `mixed`.
    pub fn kind(&self) -> &'static str {
        match self.load {
            Load::Inbound { .. } => "inbound",
            Load::Outbound { .. } => "outbound",
            Load::Keepalives { .. } => "keepalives",
            Load::Mixed { .. } => "mixed",
        }
    }

    fn messages(&self) -> usize {
        match self.load {
            Load::Inbound { messages, .. } | Load::Outbound { messages, .. } => messages,
            Load::Mixed {
                inbound, outbound, ..
            } => inbound + outbound,
            Load::Keepalives { .. } => 0,
        }
    }

    /// A file-name-safe form of the name.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.trim_matches('-').to_string()
    }
}

/// CPU used over a window, per process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub goippy: Duration,
    pub prosody: Duration,
    /// The benchmark's own process: load generator and XMPP users.
    pub bench: Duration,
    pub mariadb: Option<Duration>,
}

/// What one run of a scenario through goippy measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub expected: u64,
    pub figures: Figures,
    /// From the start of the load to the end of the wait.
    pub window: Duration,
    pub cpu: Cpu,
    /// goippy's peak RSS in bytes over the scenario, and whether that peak
    /// was reset at its start (else it is the process's lifetime peak).
    pub peak_rss: Option<(u64, bool)>,
    /// Whether the wait ended because nothing moved for [`STALL`].
    pub stalled: bool,
}

/// The same messages through the trivial component.
#[derive(Debug, Clone)]
pub struct Ceiling {
    pub expected: u64,
    pub figures: Figures,
    pub prosody_cpu: Duration,
    pub stalled: bool,
}

/// One scenario's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: Scenario,
    pub backend: Backend,
    pub goippy: Measured,
    pub ceiling: Option<Ceiling>,
}

/// The message texts of one scenario on one user: unique in the run,
/// naming the user (see [`crate::bench::user_of`]), and never as long as a
/// part of a long SMS.
fn texts(tag: &str, user: usize, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| not_a_part(format!("{tag}-u{user}-{n}")))
        .collect()
}

/// The lengths at which goippy takes an SMS for a part of a long one (66–67
/// UTF-16 units, 152–153 septets; README, "A long SMS arrives as one
/// message") and holds it up to SMS_JOIN_WAIT (10 s) for the next part. The
/// MariaDB mixed scenario's texts were 66 characters from its 1,000th message
/// on, so the last one of each channel waited the full 10 s: 441 SMS/s
/// measured the join rule, not the daemon.
const PART_LENGTHS: [usize; 4] = [66, 67, 152, 153];

/// `text`, with dots added while it has a part's length: texts stay unique
/// (only a padded one ends in a dot) and keep their user.
fn not_a_part(mut text: String) -> String {
    while PART_LENGTHS.contains(&text.chars().count()) {
        text.push('.');
    }
    text
}

/// `messages` spread over `users` as evenly as they go.
fn share(messages: usize, users: usize, i: usize) -> usize {
    messages / users + usize::from(i < messages % users)
}

/// The number user `user`'s message `n` goes to.
fn destination(user: usize, n: usize) -> String {
    format!("+372566{user:02}{n:05}")
}

/// Waits until `expected` messages arrived, or nothing arrived for
/// [`STALL`]; true if it stalled.
async fn wait_delivered(ledger: &Ledger, expected: u64) -> bool {
    let mut last = ledger.counts().delivered;
    let mut moved = Instant::now();
    loop {
        let now = ledger.counts().delivered;
        if now >= expected {
            return false;
        }
        if now != last {
            last = now;
            moved = Instant::now();
        } else if moved.elapsed() > STALL {
            return true;
        }
        sleep(POLL).await;
    }
}

/// Waits (briefly) until every RECEIVE has its answer or was given up.
async fn wait_acks(ledger: &Ledger) {
    let deadline = Instant::now() + STALL;
    loop {
        let c: Counts = ledger.counts();
        if c.acked + c.refused + c.given_up >= c.receives || Instant::now() > deadline {
            return;
        }
        sleep(POLL).await;
    }
}

/// The users `first..first + count` each send their share of `messages`,
/// at most `window` of each on their way.
fn start_outbound(
    world: &BenchWorld,
    tasks: &mut JoinSet<Result<()>>,
    tag: &str,
    messages: usize,
    first: usize,
    count: usize,
    window: usize,
) {
    for (k, user) in (first..first + count).enumerate() {
        let permits = world.ledger.window(user, window);
        let sender = world.users[user].sender();
        let bodies = texts(tag, user, share(messages, count, k));
        tasks.spawn(async move {
            for (n, body) in bodies.into_iter().enumerate() {
                permits
                    .acquire()
                    .await
                    .map_err(|_| "the window closed")?
                    .forget();
                sender
                    .send(format!("{}@{DOMAIN}", destination(user, n)), body)
                    .await?;
            }
            Ok(())
        });
    }
}

/// Queues each of the channels `first..first + count` its share of
/// `messages` inbound SMS.
fn start_inbound(world: &BenchWorld, tag: &str, messages: usize, first: usize, count: usize) {
    for (k, ch) in (first..first + count).enumerate() {
        world.channels[ch].sms(texts(tag, ch, share(messages, count, k)));
    }
}

struct Meters {
    goippy: CpuMeter,
    prosody: CpuMeter,
    bench: CpuMeter,
    mariadb: Option<CpuMeter>,
}

impl Meters {
    fn start(world: &BenchWorld) -> Result<Meters> {
        Ok(Meters {
            goippy: CpuMeter::start(Pid::Of(world.goippy_pid()?))?,
            prosody: CpuMeter::start(Pid::Of(world.prosody_pid()?))?,
            bench: CpuMeter::start(Pid::Own)?,
            mariadb: world
                .mariadb_pid()
                .map(|pid| CpuMeter::start(Pid::Of(pid)))
                .transpose()?,
        })
    }

    fn read(&self) -> Result<Cpu> {
        Ok(Cpu {
            goippy: self.goippy.used()?,
            prosody: self.prosody.used()?,
            bench: self.bench.used()?,
            mariadb: self.mariadb.as_ref().map(CpuMeter::used).transpose()?,
        })
    }
}

/// `perf record` on goippy while a scenario runs (`--perf DIR`).
struct Perf(ChildGuard);

impl Perf {
    fn start(pid: u32, output: &std::path::Path) -> Result<Perf> {
        let mut command = Command::new("perf");
        command
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
            ])
            .arg("-p")
            .arg(pid.to_string())
            .arg("-o")
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn("perf", &mut command)?;
        // perf needs a moment to attach to every thread.
        std::thread::sleep(Duration::from_millis(500));
        Ok(Perf(guard))
    }

    fn finish(mut self) {
        let _ = self.0.signal("INT");
        let _ = self.0.wait_timeout(Duration::from_secs(60));
    }
}

/// Runs `scenario` through goippy.
pub async fn measure(
    world: &BenchWorld,
    scenario: &Scenario,
    window: usize,
    perf_dir: Option<&std::path::Path>,
) -> Result<Measured> {
    let ledger = &world.ledger;
    let goippy = world.goippy_pid()?;
    if let Load::Keepalives { interval, .. } | Load::Mixed { interval, .. } = scenario.load
        && !world.keepalive_channels.is_empty()
        && !world.keepalives_running()
    {
        register(ledger, &world.keepalive_channels, interval).await?;
        world.set_keepalives_running();
    }
    ledger.reset();
    ledger.clear_windows();
    let reset = reset_peak_rss(Pid::Of(goippy));
    let perf = match perf_dir {
        Some(dir) => {
            let file = dir.join(format!(
                "{}-{}.data",
                backend_name(world.backend),
                scenario.slug()
            ));
            Some(block_in_place(|| Perf::start(goippy, &file))?)
        }
        None => None,
    };
    let meters = Meters::start(world)?;
    let started = Instant::now();
    let tag = format!("{}-{}", backend_name(world.backend), scenario.slug());
    let mut senders = JoinSet::new();
    let mut stalled = false;
    match scenario.load {
        Load::Inbound { messages, channels } => {
            start_inbound(world, &tag, messages, 0, channels);
            stalled = wait_delivered(ledger, messages as u64).await;
            wait_acks(ledger).await;
        }
        Load::Outbound { messages, channels } => {
            start_outbound(world, &mut senders, &tag, messages, 0, channels, window);
            stalled = wait_delivered(ledger, messages as u64).await;
        }
        Load::Keepalives { duration, .. } => sleep(duration).await,
        Load::Mixed {
            inbound,
            in_channels,
            outbound,
            out_channels,
            ..
        } => {
            start_inbound(world, &format!("{tag}-in"), inbound, 0, in_channels);
            start_outbound(
                world,
                &mut senders,
                &format!("{tag}-out"),
                outbound,
                in_channels,
                out_channels,
                window,
            );
            stalled = wait_delivered(ledger, (inbound + outbound) as u64).await;
            wait_acks(ledger).await;
        }
    }
    if !matches!(scenario.load, Load::Keepalives { .. }) {
        sleep(SETTLE).await;
    }
    let window_time = started.elapsed();
    let cpu = meters.read()?;
    if let Some(perf) = perf {
        block_in_place(|| perf.finish());
    }
    senders.abort_all();
    let peak = peak_rss(Pid::Of(goippy)).ok().map(|bytes| (bytes, reset));
    Ok(Measured {
        expected: scenario.messages() as u64,
        figures: ledger.snapshot(),
        window: window_time,
        cpu,
        peak_rss: peak,
        stalled,
    })
}

/// Runs `scenario`'s messages through the trivial component (goippy must
/// not be connected); `None` for keepalives, which Prosody never sees.
pub async fn ceiling(
    world: &BenchWorld,
    scenario: &Scenario,
    window: usize,
) -> Result<Option<Ceiling>> {
    let (inbound, in_channels, outbound, out_channels) = match scenario.load {
        Load::Inbound { messages, channels } => (messages, channels, 0, 0),
        Load::Outbound { messages, channels } => (0, 0, messages, channels),
        Load::Mixed {
            inbound,
            in_channels,
            outbound,
            out_channels,
            ..
        } => (inbound, in_channels, outbound, out_channels),
        Load::Keepalives { .. } => return Ok(None),
    };
    let ledger = &world.ledger;
    ledger.reset();
    ledger.clear_windows();
    let mut component = Component::connect(
        world.component_addr(),
        COMPONENT,
        COMPONENT_SECRET,
        ledger.clone(),
    )
    .await?;
    let prosody = CpuMeter::start(Pid::Of(world.prosody_pid()?))?;
    let tag = format!(
        "ceiling-{}-{}",
        backend_name(world.backend),
        scenario.slug()
    );
    let mut senders = JoinSet::new();
    start_outbound(
        world,
        &mut senders,
        &format!("{tag}-out"),
        outbound,
        in_channels,
        out_channels,
        window,
    );
    // Interleaved, as the channels' SMS arrive side by side.
    let per_user: Vec<Vec<String>> = (0..in_channels)
        .map(|u| texts(&format!("{tag}-in"), u, share(inbound, in_channels, u)))
        .collect();
    let longest = per_user.iter().map(Vec::len).max().unwrap_or(0);
    let messages: Vec<(String, String)> = (0..longest)
        .flat_map(|n| {
            per_user.iter().enumerate().filter_map(move |(u, bodies)| {
                bodies
                    .get(n)
                    .map(|body| (world.users[u].account.jid.clone(), body.clone()))
            })
        })
        .collect();
    component.send(SENDER, &messages, ledger).await?;
    let stalled = wait_delivered(ledger, (inbound + outbound) as u64).await;
    sleep(SETTLE).await;
    let prosody_cpu = prosody.used()?;
    senders.abort_all();
    component.close().await?;
    Ok(Some(Ceiling {
        expected: (inbound + outbound) as u64,
        figures: ledger.snapshot(),
        prosody_cpu,
        stalled,
    }))
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::MariaDb => "MariaDB",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::bench::user_of;

    /// The texts of the full benchmark's scenarios, on either backend: none
    /// of a long SMS part's length, unique, each naming its user.
    #[test]
    fn no_text_looks_like_a_part_of_a_long_sms() {
        let options = crate::bench::Options {
            full: true,
            backends: vec![Backend::Sqlite, Backend::MariaDb],
            only: Vec::new(),
            keepalive_time: Duration::from_secs(30),
            window: 4,
            ceiling: true,
            perf: None,
        };
        for backend in [Backend::Sqlite, Backend::MariaDb] {
            for scenario in options.scenarios() {
                for tag in [
                    format!("{}-{}-in", backend_name(backend), scenario.slug()),
                    format!("ceiling-{}-{}-out", backend_name(backend), scenario.slug()),
                ] {
                    let mut seen = HashSet::new();
                    for user in 0..64 {
                        for text in texts(&tag, user, 1_000) {
                            let len = text.chars().count();
                            assert!(!PART_LENGTHS.contains(&len), "{text}: {len}");
                            assert_eq!(user_of(&text), Some(user), "{text}");
                            assert!(seen.insert(text));
                        }
                    }
                }
            }
        }
    }
}
