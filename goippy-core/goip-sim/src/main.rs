//! `goip-sim`: a simulated GoIP for trying and testing goippy without
//! hardware (see `goip-sim --help`). The device itself is this crate's
//! library (`goip_sim`); this is its front end: command line, stdin/script
//! input, and event output (human lines, or JSON lines with `--json`).

use std::io::{self, BufRead, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use goip_sim::{
    ChannelConfig, Channels, Device, DeviceConfig, Event, Events, FailureChange, Flow, HELP,
    ScriptCommand, Timing, UssdTable, default_bind, parse_duration, parse_line, script,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const EXAMPLES: &str = "\
Examples:
  goip-sim
      one channel, id goip1, password goip, for a goippy on 127.0.0.1:44444
  goip-sim --server 127.0.0.1:44444 --channels 4 --id-prefix goip --password secret
      a GoIP-4: channels goip1..goip4
  goip-sim --channel gw1:secret:+37255500001 --channel gw2:secret:+37255500002
      two channels with their own ids, passwords and SIM numbers
  goip-sim --json --no-wire --keepalive-interval 200ms --retransmit-interval 100ms \\
           --send-time 50ms --deliver-after 100ms --ussd-delay 0
      quick and machine-readable, for a test harness on stdin/stdout
  goip-sim --ussd-reply '*100#=Balance: 5.00 EUR' --ussd-reply '*111#=Your number is +37255500001'
  goip-sim --ussd-menu '*123#=1 Balance\\n2 Bonus|1=Balance: 5.00 EUR|2=Bonus: 100 MB'
  goip-sim --fail '1 drop-msg 2' --fail 'all deliver-state 70'
  goip-sim --split-sms
      a long SMS typed as `sms 1 …` arrives as several RECEIVEs, one per part
  goip-sim --script demo.sim --exit-after-script

Then type commands (or pipe them in); `help` lists them all:
  sms 1 +37255512345 Hello from the GSM side\\nsecond line
  call 1 in +37255512345 5
  fail 1 errorstatus 38
  status
  quit

Output: one line per event; with --json one JSON object per line (the schema is
documented in goip_sim::events and is a stable contract).";

/// A simulated GoIP GSM gateway: registers with an SMS server (goippy), sends
/// inbound SMS, delivery reports and call events, and answers SMS, USSD and
/// control commands the way a real GoIP does.
#[derive(Debug, Parser)]
#[command(name = "goip-sim", version, after_help = EXAMPLES)]
struct Cli {
    /// The SMS server to register with
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:44444")]
    server: String,

    /// How many channels, with ids <ID_PREFIX>1 … <ID_PREFIX>N
    #[arg(long, default_value_t = 1, conflicts_with = "channel")]
    channels: usize,

    /// Channel id prefix for --channels
    #[arg(long, default_value = "goip", conflicts_with = "channel")]
    id_prefix: String,

    /// The password of every --channels channel
    #[arg(long, default_value = "goip", conflicts_with = "channel")]
    password: String,

    /// SIM numbers of the --channels channels, in order, comma-separated
    /// (unset numbers stay empty, as on many real devices)
    #[arg(long, value_name = "N1,N2,…", conflicts_with = "channel")]
    numbers: Option<String>,

    /// One channel as ID:PASSWORD or ID:PASSWORD:NUMBER; repeat for more (instead of --channels)
    #[arg(long = "channel", value_name = "ID:PASSWORD[:NUMBER]")]
    channel: Vec<String>,

    /// Local address for the channel sockets [default: loopback for a loopback
    /// server, else all interfaces]
    #[arg(long, value_name = "IP")]
    bind: Option<IpAddr>,

    /// Channel n binds port BASE_PORT+n-1 (a real GoIP's line 1 uses 9991)
    /// [default: ports the system picks]
    #[arg(long, value_name = "BASE_PORT")]
    base_port: Option<u16>,

    /// Between keepalives
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    keepalive_interval: Duration,

    /// Between retransmissions of an unacked notification
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    retransmit_interval: Duration,

    /// Retransmissions after the first send
    #[arg(long, value_name = "N", default_value_t = 3)]
    retransmits: u32,

    /// How long sending one SMS takes (between WAIT and OK)
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    send_time: Duration,

    /// When the DELIVER report follows a successful send, or `off`
    #[arg(long, value_name = "DURATION|off", default_value = "3s", value_parser = parse_optional_duration)]
    deliver_after: OptionalDuration,

    /// How long the network takes to answer a USSD request
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    ussd_delay: Duration,

    /// An SMS session without traffic is released after this
    #[arg(long, value_name = "DURATION", default_value = "90s", value_parser = parse_duration)]
    session_idle: Duration,

    /// A USSD reply, CODE=TEXT (\n escapes allowed); repeat for more.
    /// Built in: *100#=Your balance is 10.00 EUR
    #[arg(long = "ussd-reply", value_name = "CODE=TEXT")]
    ussd_reply: Vec<String>,

    /// A USSD menu, CODE=PROMPT|CHOICE=REPLY|… (\n escapes allowed): the
    /// prompt waits for a choice, which means something only until it is
    /// answered or USSDEXIT closes the menu; repeat for more.
    #[arg(long = "ussd-menu", value_name = "CODE=PROMPT|CHOICE=REPLY")]
    ussd_menu: Vec<String>,

    /// Append this many '@' to USSD replies (GSM 7-bit padding, as some devices do)
    #[arg(long, value_name = "N", default_value_t = 0)]
    ussd_padding: usize,

    /// Hand a long inbound SMS over as one RECEIVE per part, as GoIP firmware
    /// that drops the concatenation header does: parts of 153 GSM-7 characters
    /// (an extension character such as € counts two) or, when the text needs
    /// UCS-2, 67 UTF-16 units (an emoji counts two); never cut inside a
    /// character. The script's `split on|off` switches it
    #[arg(long)]
    split_sms: bool,

    /// A failure mode from the start, as the script's `fail` takes it:
    /// "CH MODE ARGS…", e.g. "1 drop-msg 2" or "all silence"; repeatable
    #[arg(long = "fail", value_name = "CH MODE")]
    fail: Vec<String>,

    /// Print events as JSON lines (one object per line) instead of text
    #[arg(long)]
    json: bool,

    /// Do not print the raw datagrams (`wire` events)
    #[arg(long)]
    no_wire: bool,

    /// Run the commands in FILE first, then read stdin
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,

    /// Stop after the --script file instead of reading stdin
    #[arg(long, requires = "script")]
    exit_after_script: bool,

    /// Keep running at the end of stdin (until quit in a script, Ctrl-C or SIGTERM)
    #[arg(long)]
    keep_running: bool,
}

/// `--deliver-after`: a duration, or `off`.
#[derive(Debug, Clone, Copy)]
struct OptionalDuration(Option<Duration>);

fn parse_optional_duration(s: &str) -> Result<OptionalDuration, String> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("never") {
        return Ok(OptionalDuration(None));
    }
    parse_duration(s)
        .map(|d| OptionalDuration(Some(d)))
        .map_err(|e| format!("{e}, or `off`"))
}

/// The longest input line read; longer lines are refused whole (an SMS is
/// at most 3000 bytes, escapes included this leaves plenty of room).
const MAX_LINE: usize = 16 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goip-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

/// Reports a problem before the device runs: on stderr, and as a JSON error
/// line too with --json (a harness may read only stdout).
fn report_early(cli: &Cli, message: &str) {
    eprintln!("goip-sim: {message}");
    if cli.json {
        let event = Event::Error {
            channel: None,
            line: None,
            message: message.to_owned(),
        };
        println!("{}", event.to_json());
    }
}

async fn run(cli: Cli) -> ExitCode {
    // Exit status 2: the command line is wrong; 1: the device failed.
    let config = match build_config(&cli).await {
        Ok(config) => config,
        Err(message) => {
            report_early(&cli, &message);
            return ExitCode::from(2);
        }
    };
    let script = match &cli.script {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some((path.clone(), text)),
            Err(e) => {
                report_early(&cli, &format!("cannot read {}: {e}", path.display()));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let (device, events) = match Device::start(config).await {
        Ok(started) => started,
        Err(e) => {
            report_early(&cli, &e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let printer = tokio::spawn(print_events(events, cli.json, cli.no_wire));
    let outcome = tokio::select! {
        outcome = drive(&device, script, &cli) => outcome,
        () = shutdown_signal() => ExitCode::SUCCESS,
    };
    device.shutdown().await;
    let _ = printer.await;
    outcome
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes events to stdout through tokio, so a reader that stops reading
/// holds up only this task (it falls behind and gets `lagged`), never the
/// channels on the runtime's one thread.
async fn print_events(mut events: Events, json: bool, no_wire: bool) {
    let mut out = tokio::io::stdout();
    while let Some(event) = events.next().await {
        if no_wire && event.is_wire() {
            continue;
        }
        let line = if json {
            Some(event.to_json())
        } else {
            event.human()
        };
        if let Some(mut line) = line {
            line.push('\n');
            if out.write_all(line.as_bytes()).await.is_err() || out.flush().await.is_err() {
                // Nobody reads any more; the device goes on until told to stop.
                return;
            }
        }
    }
}

enum Step {
    Continue,
    Quit,
    Failed,
}

/// Parses and runs one line; errors become `error` events.
async fn step(device: &Device, line: &str, line_no: u64, source: Option<&Path>) -> Step {
    let report = |message: String| {
        let message = match source {
            Some(path) => format!("{}: {message}", path.display()),
            None => message,
        };
        device.report(Event::Error {
            channel: None,
            line: Some(line_no),
            message,
        });
    };
    match parse_line(line) {
        Ok(None) => Step::Continue,
        Ok(Some(command)) => match device.execute(command).await {
            Ok(Flow::Continue) => Step::Continue,
            Ok(Flow::Help) => {
                device.report(Event::Help {
                    text: HELP.to_owned(),
                });
                Step::Continue
            }
            Ok(Flow::Quit) => Step::Quit,
            Err(e) => {
                report(e.to_string());
                Step::Failed
            }
        },
        Err(e) => {
            report(e.to_string());
            Step::Failed
        }
    }
}

/// Runs the script file (stopping at its first error), then stdin.
async fn drive(device: &Device, script: Option<(PathBuf, String)>, cli: &Cli) -> ExitCode {
    if let Some((path, text)) = script {
        for (i, line) in (1..).zip(text.lines()) {
            match step(device, line, i, Some(&path)).await {
                Step::Continue => {}
                Step::Quit => return ExitCode::SUCCESS,
                Step::Failed => return ExitCode::FAILURE,
            }
        }
        if cli.exit_after_script {
            return ExitCode::SUCCESS;
        }
    }
    let mut input = read_stdin();
    let mut line_no = 0;
    while let Some(line) = input.recv().await {
        line_no += 1;
        match line {
            Ok(line) => {
                if let Step::Quit = step(device, &line, line_no, None).await {
                    return ExitCode::SUCCESS;
                }
            }
            Err(message) => device.report(Event::Error {
                channel: None,
                line: Some(line_no),
                message,
            }),
        }
    }
    if cli.keep_running {
        std::future::pending::<()>().await;
    }
    ExitCode::SUCCESS
}

/// Lines from stdin, read on a plain thread (a blocked read must not hold
/// up the runtime), each at most [`MAX_LINE`] bytes; the channel closes at
/// the end of input.
fn read_stdin() -> mpsc::Receiver<Result<String, String>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut reader = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let line = match read_bounded_line(&mut reader, &mut buf) {
                Ok(None) => return,
                Ok(Some(true)) => Ok(String::from_utf8_lossy(&buf).into_owned()),
                Ok(Some(false)) => Err(format!("line longer than {MAX_LINE} bytes; ignored")),
                Err(e) => {
                    let _ = tx.blocking_send(Err(format!("reading stdin: {e}")));
                    return;
                }
            };
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads one line into `buf` (without its line break). `Ok(None)` at the
/// end of input, `Ok(Some(false))` if the line was too long (it is skipped).
fn read_bounded_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
    let n = Read::take(&mut *reader, limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(true));
    }
    if buf.len() <= MAX_LINE {
        return Ok(Some(true)); // the last line, without a line break
    }
    // Too long: skip to the end of this line.
    let mut skipped = Vec::new();
    loop {
        skipped.clear();
        let n = Read::take(&mut *reader, limit).read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() == Some(&b'\n') {
            return Ok(Some(false));
        }
    }
}

/// Everything on the command line, as a device configuration.
async fn build_config(cli: &Cli) -> Result<DeviceConfig, String> {
    let server = resolve(&cli.server).await?;
    let mut config = if cli.channel.is_empty() {
        if cli.channels == 0 {
            return Err("--channels must be at least 1".to_owned());
        }
        let mut config =
            DeviceConfig::numbered(server, cli.channels, &cli.id_prefix, &cli.password);
        if let Some(numbers) = &cli.numbers {
            let numbers: Vec<&str> = numbers.split(',').map(str::trim).collect();
            if numbers.len() > config.channels.len() {
                return Err(format!(
                    "--numbers lists {} numbers for {} channels",
                    numbers.len(),
                    config.channels.len()
                ));
            }
            for (channel, number) in config.channels.iter_mut().zip(numbers) {
                channel.number = number.to_owned();
            }
        }
        config
    } else {
        let channels = cli
            .channel
            .iter()
            .enumerate()
            .map(|(i, spec)| parse_channel_spec(i + 1, spec))
            .collect::<Result<Vec<_>, _>>()?;
        DeviceConfig::new(server, channels)
    };
    config.bind = cli.bind.unwrap_or_else(|| default_bind(server));
    config.base_port = cli.base_port;
    config.timing = Timing {
        keepalive_interval: cli.keepalive_interval,
        retransmit_interval: cli.retransmit_interval,
        retransmits: cli.retransmits,
        send_time: cli.send_time,
        deliver_after: cli.deliver_after.0,
        ussd_delay: cli.ussd_delay,
        session_idle: cli.session_idle,
    };
    config.ussd = ussd_table(&cli.ussd_reply, &cli.ussd_menu)?;
    config.ussd_padding = cli.ussd_padding;
    config.split_sms = cli.split_sms;
    for spec in &cli.fail {
        apply_fail(&mut config, spec)?;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

async fn resolve(server: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = server.parse() {
        return Ok(addr);
    }
    let mut addrs = tokio::net::lookup_host(server)
        .await
        .map_err(|e| format!("--server {server:?}: {e} (expected HOST:PORT)"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--server {server:?}: no address found"))
}

fn parse_channel_spec(n: usize, spec: &str) -> Result<ChannelConfig, String> {
    let mut parts = spec.splitn(3, ':');
    let (Some(id), Some(password)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "--channel {spec:?}: expected ID:PASSWORD or ID:PASSWORD:NUMBER"
        ));
    };
    let number = parts.next().unwrap_or_default();
    Ok(ChannelConfig::new(n, id, password, number))
}

fn ussd_table(entries: &[String], menus: &[String]) -> Result<UssdTable, String> {
    let mut table = UssdTable::default();
    for menu in menus {
        let mut parts = menu.split('|');
        let (code, prompt) = UssdTable::parse_entry(parts.next().unwrap_or_default())
            .map_err(|e| format!("--ussd-menu: {e}"))?;
        let prompt = script::unescape(&prompt).map_err(|e| format!("--ussd-menu {code}: {e}"))?;
        let mut choices = Vec::new();
        for part in parts {
            let (choice, reply) =
                UssdTable::parse_entry(part).map_err(|e| format!("--ussd-menu {code}: {e}"))?;
            let reply = script::unescape(&reply).map_err(|e| format!("--ussd-menu {code}: {e}"))?;
            choices.push((choice, reply));
        }
        let choices: Vec<(&str, &str)> = choices
            .iter()
            .map(|(c, r)| (c.as_str(), r.as_str()))
            .collect();
        table
            .insert_menu(&code, &prompt, &choices)
            .map_err(|e| format!("--ussd-menu: {e}"))?;
    }
    for entry in entries {
        let (code, text) =
            UssdTable::parse_entry(entry).map_err(|e| format!("--ussd-reply: {e}"))?;
        let text = script::unescape(&text).map_err(|e| format!("--ussd-reply {code}: {e}"))?;
        table
            .insert(&code, &text)
            .map_err(|e| format!("--ussd-reply: {e}"))?;
    }
    Ok(table)
}

/// `--fail "CH MODE…"`, read as the script's `fail` command.
fn apply_fail(config: &mut DeviceConfig, spec: &str) -> Result<(), String> {
    let command =
        parse_line(&format!("fail {spec}")).map_err(|e| format!("--fail {spec:?}: {e}"))?;
    let Some(ScriptCommand::Fail { channels, change }) = command else {
        return Err(format!(
            "--fail {spec:?}: expected CH MODE, e.g. \"1 drop-msg 2\""
        ));
    };
    let count = config.channels.len();
    let selected: Vec<usize> = match channels {
        Channels::All => (0..count).collect(),
        Channels::One(n) if n <= count => vec![n - 1],
        Channels::One(n) => {
            return Err(format!(
                "--fail {spec:?}: there is no channel {n} (there are {count})"
            ));
        }
    };
    for i in selected {
        if let Some(channel) = config.channels.get_mut(i) {
            match &change {
                FailureChange::Set(failure) => channel.failures.push(failure.clone()),
                FailureChange::Off => channel.failures.clear(),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn bounded_lines() {
        let long = "x".repeat(MAX_LINE + 10);
        let input = format!("short\n{long}\nafter\nlast");
        let mut reader = io::BufReader::new(input.as_bytes());
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        loop {
            buf.clear();
            match read_bounded_line(&mut reader, &mut buf).unwrap() {
                None => break,
                Some(ok) => lines.push((ok, String::from_utf8_lossy(&buf).len())),
            }
        }
        assert_eq!(lines[0], (true, 5));
        assert!(!lines[1].0);
        assert_eq!(lines[2], (true, 5));
        assert_eq!(lines[3], (true, 4));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn channel_specs() {
        let c = parse_channel_spec(1, "gw1:secret:+3725551").unwrap();
        assert_eq!(
            (c.id.as_str(), c.password.as_str(), c.number.as_str()),
            ("gw1", "secret", "+3725551")
        );
        let c = parse_channel_spec(2, "gw2:secret").unwrap();
        assert_eq!(c.number, "");
        assert!(parse_channel_spec(3, "gw3").is_err());
    }
}
