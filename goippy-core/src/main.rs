//! `goippy`: the daemon and its operator commands (see `goippy --help`).

use std::process::ExitCode;

use clap::Parser;
use goippy_core::cli::AdminCommand;
use goippy_core::cli::{self, Cli, SampleOutcome};
use goippy_core::config::Config;
use goippy_core::systemd::{self, Report};
use goippy_core::{daemon, logging};

fn main() -> ExitCode {
    bound_malloc_arenas();
    match run(&Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("goippy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Does what the command line asks; an error is printed as `goippy: …`.
fn run(cli: &Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(path) = &cli.sample {
        for outcome in cli::write_sample(path)? {
            match outcome {
                SampleOutcome::Written(p) => println!("wrote {}", p.display()),
                SampleOutcome::KeptExisting(p) => {
                    println!(
                        "kept {} (it exists; goippy never overwrites it)",
                        p.display()
                    )
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }

    if let Some(command) = cli.ops_command() {
        let mut report = Report::default();
        let result = systemd::run(&command, &cli.ops_host(), &mut report);
        // What was done is printed also when a later step failed.
        print!("{}", report.text());
        result?;
        return Ok(ExitCode::SUCCESS);
    }

    let path = cli.config_path();
    if cli.check {
        print!("{}", cli::check(&path)?);
        return Ok(ExitCode::SUCCESS);
    }

    // Wrong values are told after the configuration's problems, as the
    // other checks of an admin command are.
    let mut admin = cli.admin_command().transpose();
    // Read before anything else is printed, so a prompt is the first line.
    if let Some(Ok(AdminCommand::Add { ext, password, .. })) = &mut admin
        && cli.add_reads_password()
    {
        *password = cli::read_password(ext)?;
    }
    let (config, warnings) = Config::load(&path)?;
    // An admin command (on the database of the configuration at `path`)
    // logs only warnings unless -v or RUST_LOG ask for more, so the output
    // is the command's own.
    let level = match admin {
        Some(_) => Some("warn"),
        None => config.log_level.as_deref(),
    };
    let log_handle = logging::init(logging::filter_for(cli.verbosity(), level));
    for w in warnings {
        tracing::warn!(config = %path.display(), "{w}");
    }

    if let Some(command) = admin {
        let command = command?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        print!(
            "{}",
            runtime.block_on(cli::run_admin(&config.db, &command))?
        );
        return Ok(ExitCode::SUCCESS);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let result = runtime.block_on(daemon::run(config, cli.verbosity(), log_handle));
    // Tasks a shutdown cut off at its deadline are not waited for again
    // (dropping the runtime would wait for blocking ones without end).
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    if let Err(e) = result {
        tracing::error!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// glibc's malloc gives each thread that allocates an arena of its own (up
/// to 8 per core) and keeps what is freed in it; sqlx runs one thread per
/// SQLite connection, tokio its workers and blocking threads. It also raises
/// its mmap threshold to the largest block freed so far, and its trim
/// threshold to twice that: after one large block (the spool's reserve at
/// start, a few MiB) it keeps that much freed memory for good. Under the
/// inbound benchmark (README, "Performance") these were ~6 MiB of goippy's
/// resident memory: two arenas (one per core) and the default fixed
/// thresholds keep it to what is in use. An allocator crate would not do it:
/// SQLite, most of the heap, calls `malloc` itself. An operator who tunes
/// malloc through the environment keeps the tuning.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("GLIBC_TUNABLES").is_some()
            || std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_"))
        {
            return;
        }
        // SAFETY: mallopt only sets malloc's parameters, and runs before any
        // other thread exists; it returns 0 for a value it refuses, which
        // leaves the default (nothing to handle).
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        }
    }
}
