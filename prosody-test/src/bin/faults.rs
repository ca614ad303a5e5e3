//! `faults`: the fault-injection run (see `prosody_test::faults`).
//!
//! ```sh
//! cd prosody-test
//! cargo run --release --bin faults                        # every fault, full durations (~15 min)
//! cargo run --release --bin faults -- --quick --only goippy-kill
//! ```
//!
//! goippy and goip-sim are built in release from the root workspace first
//! (`cargo build --release -p goippy-core -p goip-sim --bins`), unless
//! `GOIPPY_BIN_DIR` names prebuilt ones. The table goes to stdout, progress to stderr; the
//! exit status is 0 when every scenario met the goal (nothing lost or
//! duplicated, every failure reported, nothing odd), 1 when one did not,
//! 2 when the run itself could not be done.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use prosody_test::Backend;
use prosody_test::bins::BIN_DIR_VAR;
use prosody_test::faults::{Fault, Outcome, run, table};
use prosody_test::rock::repo_root;

const USAGE: &str = "\
usage: faults [--only FAULT[,FAULT…]]… [--quick] [--backend sqlite|mariadb]

Drives steady traffic through a real Prosody, the release goippy and
goip-sim, injects each fault and prints a table: messages sent, delivered,
duplicated, lost, failures reported to users, and how long the user no
fault was aimed at waited for answers.

  --only FAULT   run only these (none, mariadb-kill, mariadb-freeze,
                 sqlite-lock, prosody-kill, goippy-kill, client-drop)
  --quick        10 s database outages instead of 60 s / 30 s, a shorter
                 wait for the last answers (a smoke pass)
  --backend B    goippy's database where the fault does not decide it
                 (default sqlite)

GOIPPY_BIN_DIR=DIR uses prebuilt goippy and goip-sim; PROSODY_TEST_KEEP=1
keeps each scenario's files (logs, databases).";

/// What the command line asks for.
struct Options {
    faults: Vec<Fault>,
    quick: bool,
    backend: Backend,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut only = Vec::new();
    let mut quick = false;
    let mut backend = Backend::Sqlite;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => {
                let names = args.next().ok_or("--only needs a fault")?;
                for name in names.split(',') {
                    only.push(Fault::from_name(name).ok_or(format!("no fault {name:?}"))?);
                }
            }
            "--backend" => {
                backend = match args.next().map(String::as_str) {
                    Some("sqlite") => Backend::Sqlite,
                    Some("mariadb") | Some("mysql") => Backend::MariaDb,
                    other => return Err(format!("--backend sqlite|mariadb, not {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let faults = if only.is_empty() {
        Fault::ALL.to_vec()
    } else {
        Fault::ALL
            .into_iter()
            .filter(|f| only.contains(f))
            .collect()
    };
    Ok(Options {
        faults,
        quick,
        backend,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("faults: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(BIN_DIR_VAR).is_none_or(|d| d.is_empty()) {
        match build_release() {
            // SAFETY: no other thread runs yet (the runtime starts below),
            // so nothing can read the environment while it changes.
            Ok(dir) => unsafe { std::env::set_var(BIN_DIR_VAR, dir) },
            Err(e) => {
                eprintln!("faults: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("faults: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcomes = match runtime.block_on(run_all(&options)) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("faults: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", table::table(&outcomes));
    println!("{}", table::details(&outcomes));
    if table::all_well(&outcomes) {
        ExitCode::SUCCESS
    } else {
        println!("\nNOT every scenario met the goal: see the PROBLEM lines above.");
        ExitCode::FAILURE
    }
}

async fn run_all(options: &Options) -> prosody_test::Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for &fault in &options.faults {
        eprintln!(
            "faults: {} ({})…",
            fault.describe(options.quick),
            fault.name()
        );
        let outcome = run(fault, options.quick, options.backend)
            .await
            .map_err(|e| format!("{}: {e}", fault.name()))?;
        eprint!("{}", table::table(std::slice::from_ref(&outcome)));
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// `cargo build --release -p goippy-core -p goip-sim --bins` in the root
/// workspace; the directory cargo put `goippy` (and so `goip-sim`) in.
fn build_release() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("faults: building goippy and goip-sim in release (root workspace)…");
    let out = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .args(["-p", "goippy-core", "-p", "goip-sim", "--bins"])
        .arg("--message-format=json")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("the release build failed ({})", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "goippy")
        .find_map(|m| {
            let exe = PathBuf::from(m["executable"].as_str()?);
            exe.parent().map(PathBuf::from)
        })
        .ok_or_else(|| "cargo built goippy-core but named no goippy executable".into())
}
