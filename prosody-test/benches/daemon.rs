//! The whole-daemon benchmark: a real Prosody, the release `goippy` on
//! SQLite and on MariaDB, simulated GoIP channels and logged-in XMPP users;
//! per scenario, messages/s end to end, goippy's CPU per message, ack
//! latency (the SMS committed), peak RSS, Prosody's CPU, and the ceiling
//! (the same messages through a component that does nothing). See
//! `prosody_test::bench` and README.md ("The whole-daemon benchmark").
//!
//! ```sh
//! cargo bench --bench daemon                                 # everything (~10 min)
//! cargo bench --bench daemon -- --only inbound --backend sqlite
//! cargo bench --bench daemon -- --keepalive-secs 180 --only keepalives
//! cargo bench --bench daemon -- --only inbound --perf /tmp/prof   # perf record goippy
//! ```
//!
//! Without `--bench` (`cargo test` runs it so, see Cargo.toml) it makes a
//! smoke pass of about 20 s with the debug build: every scenario, tiny, on
//! SQLite; it fails if a message is lost or duplicated, and asserts nothing
//! about speed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use prosody_test::bench::{self, Options, table};
use prosody_test::bins::{BIN_DIR_VAR, binaries, build_release};
use prosody_test::world::Backend;

const USAGE: &str = "\
cargo bench --bench daemon -- [options]

  --only KINDS          inbound,outbound,keepalives,mixed (default: all)
  --backend B           sqlite, mariadb or both (default: both)
  --keepalive-secs N    how long the keepalive scenario watches (default 30)
  --window N            un-acked RECEIVEs per channel / messages on their way per user (default 4)
  --no-ceiling          skip the trivial-component ceiling
  --perf DIR            perf record goippy during each scenario into DIR (skews the figures)

GOIPPY_BIN_DIR=DIR uses prebuilt goippy and goip-sim; PROSODY_TEST_KEEP=1 keeps the files.";

/// What `cargo test` (no `--bench`) asks: `None` when its filter names
/// other tests (`cargo test restart` passes `restart` to every test binary,
/// this one included), else the smoke pass. libtest's own flags
/// (`--nocapture`, …) are ignored.
fn smoke_requested(args: &[String]) -> Option<Options> {
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "daemon".contains(f.as_str())) {
        return None;
    }
    parse(&[]).ok()
}

fn parse(args: &[String]) -> Result<Options, String> {
    let full = args.iter().any(|a| a == "--bench");
    let mut options = Options {
        full,
        // The smoke pass on SQLite only: MariaDB's own server takes longer to
        // set up than the whole pass, and the end-to-end suite covers it.
        backends: if full {
            vec![Backend::Sqlite, Backend::MariaDb]
        } else {
            vec![Backend::Sqlite]
        },
        only: Vec::new(),
        keepalive_time: Duration::from_secs(30),
        window: 4,
        ceiling: true,
        perf: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--only" => {
                options.only = value()?.split(',').map(str::to_string).collect();
                for kind in &options.only {
                    if !["inbound", "outbound", "keepalives", "mixed"].contains(&kind.as_str()) {
                        return Err(format!("--only: no scenario kind {kind:?}"));
                    }
                }
            }
            "--backend" => {
                options.backends = match value()?.as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "mariadb" => vec![Backend::MariaDb],
                    "both" => vec![Backend::Sqlite, Backend::MariaDb],
                    other => return Err(format!("--backend: {other:?}?")),
                }
            }
            "--keepalive-secs" => {
                let secs: u64 = value()?
                    .parse()
                    .map_err(|_| "--keepalive-secs: a number of seconds")?;
                options.keepalive_time = Duration::from_secs(secs.max(1));
            }
            "--window" => {
                options.window = value()?
                    .parse::<usize>()
                    .map_err(|_| "--window: a number")?
                    .max(1);
            }
            "--no-ceiling" => options.ceiling = false,
            "--perf" => options.perf = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let v: Vec<&str> = l.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "?".into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = if args.iter().any(|a| a == "--bench") {
        match parse(&args) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("daemon bench: {e}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    } else {
        match smoke_requested(&args) {
            Some(options) => options,
            None => {
                println!("daemon bench: smoke pass skipped (the test filter names other tests)");
                return ExitCode::SUCCESS;
            }
        }
    };
    if options.full && std::env::var_os(BIN_DIR_VAR).is_none_or(|d| d.is_empty()) {
        bench::progress("building goippy in release (root workspace)…");
        match build_release() {
            // SAFETY: no other thread runs yet (the runtime starts below).
            Ok(dir) => unsafe { std::env::set_var(BIN_DIR_VAR, dir) },
            Err(e) => {
                eprintln!("daemon bench: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &options.perf
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("daemon bench: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let goippy = match binaries() {
        Ok(b) => b.goippy.clone(),
        Err(e) => {
            eprintln!("daemon bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let load_before = load_average();
    let mut rows = Vec::new();
    for &backend in &options.backends {
        match runtime.block_on(bench::run_backend(&options, backend)) {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("daemon bench: {e}");
                if options.full {
                    return ExitCode::FAILURE;
                }
                panic!("the smoke pass of the daemon benchmark failed: {e}");
            }
        }
    }
    println!(
        "\ngoippy whole-daemon benchmark{}: {} CPUs, load average {} before and {} after; goippy {}; \
         at most {} un-acked RECEIVEs per channel",
        if options.full {
            ""
        } else {
            " (smoke pass: tiny, debug build; `cargo bench --bench daemon` measures)"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_average(),
        goippy.display(),
        options.window,
    );
    println!("\n{}", table::table(&rows));
    print!("{}", table::details(&rows));
    if table::all_well(&rows) {
        ExitCode::SUCCESS
    } else if options.full {
        println!("\nNOT every message arrived once: see the PROBLEM lines.");
        ExitCode::FAILURE
    } else {
        panic!("the smoke pass of the daemon benchmark lost or duplicated messages");
    }
}
