//! The console a user reaches by chatting with their own SIM's number:
//! `status`, `log`, `log N`, `help`, and anything made of `[0-9*#+]` is a
//! USSD code. Pure: [`parse`] reads what the user typed, the `render_*`
//! functions write the answers, so every word a user sees is unit-tested
//! here; the router does the I/O.

use std::time::{Duration, SystemTime};

use crate::goip::{Signal, is_valid_ussd_code};
use crate::store::{CallDirection, CallEntry, ChannelState, Timestamp};
use crate::xmpp::reply::quote;

/// `log` without a number shows this many calls.
pub const DEFAULT_LOG_CALLS: u32 = 10;
/// `log N` shows at most this many.
pub const MAX_LOG_CALLS: u32 = 100;
/// Longest USSD code accepted (GSM allows 182 characters; real codes are short).
pub const MAX_USSD_CHARS: usize = 160;

/// What the user asked the console for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCommand {
    Status,
    /// The last `n` calls (1–[`MAX_LOG_CALLS`]).
    Log(u32),
    Help,
    /// A USSD code to send to the network.
    Ussd(String),
    /// Neither a command nor a USSD code; carries what was typed (trimmed).
    Invalid(String),
    /// `line`: the user's lines (only for a user with several).
    Lines,
    /// `line <number> <N|auto>`: the line for the conversation with
    /// `contact`, as `/line` typed to it.
    LineFor {
        contact: String,
        arg: String,
    },
    /// `failover on|off`
    Failover(bool),
}

/// Reads a console message: trimmed, commands case-insensitive.
pub fn parse(text: &str) -> BotCommand {
    let text = text.trim();
    let lower = text.to_lowercase();
    let mut words = lower.split_whitespace();
    let invalid = || BotCommand::Invalid(text.to_string());
    match (words.next(), words.next(), words.next()) {
        (Some("status"), None, _) => BotCommand::Status,
        (Some("help" | "?"), None, _) => BotCommand::Help,
        (Some("log"), None, _) => BotCommand::Log(DEFAULT_LOG_CALLS),
        (Some("log"), Some(n), None) => log_count(n).map_or_else(invalid, BotCommand::Log),
        (Some("line" | "lines"), None, _) => BotCommand::Lines,
        (Some("line"), Some(contact), Some(arg)) if words.next().is_none() => BotCommand::LineFor {
            contact: contact.to_string(),
            arg: arg.to_string(),
        },
        (Some("failover"), Some("on"), None) => BotCommand::Failover(true),
        (Some("failover"), Some("off"), None) => BotCommand::Failover(false),
        _ => ussd_code(text).map_or_else(invalid, BotCommand::Ussd),
    }
}

/// The command's name in the log (`command` of "console command").
pub fn command_name(c: &BotCommand) -> &'static str {
    match c {
        BotCommand::Status => "status",
        BotCommand::Log(_) => "log",
        BotCommand::Help => "help",
        BotCommand::Ussd(_) => "ussd",
        BotCommand::Invalid(_) => "invalid",
        BotCommand::Lines | BotCommand::LineFor { .. } => "line",
        BotCommand::Failover(_) => "failover",
    }
}

/// The N of `log N` (and of the ad-hoc call log's count): a positive
/// number, at most [`MAX_LOG_CALLS`] (more is taken as the most).
pub fn log_count(text: &str) -> Option<u32> {
    let n = text.trim().parse::<u32>().ok().filter(|n| *n > 0)?;
    Some(n.min(MAX_LOG_CALLS))
}

/// `text` as a USSD code, if it is one (also a menu choice such as `1`).
pub fn ussd_code(text: &str) -> Option<String> {
    // Spaces inside a code are a typing slip, not part of it.
    let code: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (is_valid_ussd_code(&code) && code.chars().count() <= MAX_USSD_CHARS).then_some(code)
}

/// What `help` adds for a user with several lines.
pub fn render_lines_help() -> String {
    "line - your lines
     line NUMBER N - your SMS to NUMBER go out on your line N (line NUMBER auto: on the line      NUMBER last wrote to); /line N typed to a contact does the same
     failover on|off - whether an SMS your chosen line cannot send goes out on another of your      lines"
        .to_string()
}

/// The answer to `help`. `own_number` is the contact the user is talking to.
pub fn render_help(own_number: &str) -> String {
    format!(
        "This is your GoIP line {own_number}. Commands:\n\
         status - the line's state (GSM, signal, VoIP, operator)\n\
         log - the last {DEFAULT_LOG_CALLS} calls; log N - the last N (at most {MAX_LOG_CALLS})\n\
         help - this text\n\
         Anything else made of digits, *, # and + (for example *100#) is sent to the network \
         as a USSD code; the answer comes back here, marked [USSD].\n\
         To send an SMS, write to the number as a contact, e.g. +37255512345."
    )
}

/// The answer to text that is neither a command nor a USSD code: what it
/// was (quoted on one short line), and what the console understands.
pub fn render_unknown(text: &str) -> String {
    let text = quote(text);
    format!(
        "{text:?} is neither a command nor a USSD code, so nothing was sent. \
         Commands: status, log, log N, help. USSD codes use only digits, *, # and + \
         (for example *100#). To send an SMS, write to the number as a contact."
    )
}

/// Whether the engine hears the channel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Online since then.
    Online { since: SystemTime },
    /// Offline since then (it was heard before).
    Offline { since: SystemTime },
    /// Not heard from since goippy started.
    NotHeard,
}

/// Where the state `status` shows was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// The database (`goippy_state`).
    Database,
    /// goippy's memory of the latest keepalive, because the database did
    /// not answer in time.
    Memory,
}

/// The line that ends a `status` answered from memory.
pub const FROM_MEMORY: &str = "goippy's database does not answer now: this is the channel's latest keepalive as goippy remembers it.";

/// The answer to `status`.
pub fn render_status(
    ext: &str,
    goip_id: &str,
    liveness: Liveness,
    state: Option<&ChannelState>,
    source: StateSource,
    now: SystemTime,
) -> String {
    let mut lines = Vec::new();
    let number = state
        .and_then(|s| s.msisdn.as_deref())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("number not set on the GoIP");
    lines.push(format!("Line {ext} ({goip_id}), {number}"));
    lines.push(match liveness {
        Liveness::Online { since } => format!("GoIP channel: online since {}", at(since)),
        Liveness::Offline { since } => format!("GoIP channel: OFFLINE since {}", at(since)),
        Liveness::NotHeard => "GoIP channel: OFFLINE (no keepalive since goippy started)".into(),
    });
    if let Some(s) = state {
        let gsm = s.gsm_status.as_deref().unwrap_or("unknown");
        lines.push(format!("GSM: {gsm}, signal {}", signal(s.gsm_signal)));
        lines.push(format!(
            "VoIP: {}, line {}",
            s.voip_status.as_deref().unwrap_or("unknown"),
            s.voip_state.as_deref().unwrap_or("unknown")
        ));
        lines.push(format!(
            "Operator: {}",
            s.provider
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or("unknown")
        ));
        lines.push(format!(
            "Remaining call time: {}",
            match s.remain_time {
                Some(-1) => "unlimited".to_string(),
                Some(m) if m >= 0 => format!("{m} min"),
                _ => "unknown".to_string(),
            }
        ));
        if s.disable_status == Some(1) {
            lines.push("The GoIP reports this channel DISABLED.".into());
        }
        if let Some(updated) = s.updated_at {
            let age = Timestamp::from_system_time(now).unix() - updated.unix();
            lines.push(format!(
                "Updated: {updated} ({} ago)",
                human(Duration::from_secs(u64::try_from(age).unwrap_or(0)))
            ));
        }
    } else if source == StateSource::Database {
        lines.push("No keepalive of this channel has been stored yet.".into());
    } else {
        lines.push("No keepalive of this channel since goippy started.".into());
    }
    if source == StateSource::Memory {
        lines.push(FROM_MEMORY.into());
    }
    lines.join("\n")
}

fn signal(csq: Option<i64>) -> String {
    let parsed = csq
        .and_then(|c| u8::try_from(c).ok())
        .and_then(|c| Signal::parse(&c.to_string()));
    match parsed {
        Some(s @ Signal::Csq(csq)) => format!(
            "{} dBm, {}/4 bars (CSQ {csq})",
            s.rssi_dbm().unwrap_or_default(),
            s.bars().unwrap_or_default()
        ),
        Some(Signal::Unknown) => "unknown (CSQ 99)".into(),
        None => "unknown".into(),
    }
}

/// One call, put together from its RECORD, HANGUP and EXPIRY rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// When it started (or, without a RECORD, when it ended).
    pub at: Option<Timestamp>,
    pub direction: Option<CallDirection>,
    /// Empty for a hidden number.
    pub number: String,
    pub cause: Option<String>,
    pub seconds: Option<i64>,
}

/// Joins call-log rows (newest first, as the store returns them) into
/// calls, newest first: a RECORD opens a call, the HANGUP after it (same
/// number) closes it, and a duration belongs to the call it was stored on.
/// Rows of the original goippy (no event) are one call each.
pub fn calls_from_rows(rows: &[CallEntry]) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    // Oldest first, so a RECORD comes before its HANGUP.
    let mut open: Option<usize> = None;
    for row in rows.iter().rev() {
        let call = Call {
            at: row.ts,
            direction: row.direction,
            number: row.remote_num.clone().unwrap_or_default(),
            cause: row.cause.clone(),
            seconds: row.duration,
        };
        match row.event.as_deref() {
            Some("RECORD") => {
                calls.push(Call {
                    cause: None,
                    ..call
                });
                open = Some(calls.len() - 1);
            }
            Some("HANGUP") => {
                let joins = open.and_then(|i| calls.get_mut(i)).filter(|c| {
                    c.number == call.number || c.number.is_empty() || call.number.is_empty()
                });
                match joins {
                    Some(joined) => {
                        joined.cause = call.cause;
                        if joined.number.is_empty() {
                            joined.number = call.number;
                        }
                        joined.seconds = joined.seconds.or(call.seconds);
                    }
                    None => calls.push(Call {
                        direction: None,
                        ..call
                    }),
                }
                open = None;
            }
            Some("EXPIRY") => match calls.last_mut() {
                Some(last) if last.seconds.is_none() => last.seconds = call.seconds,
                _ => calls.push(Call {
                    direction: None,
                    cause: None,
                    ..call
                }),
            },
            _ => {
                calls.push(call);
                open = None;
            }
        }
    }
    calls.reverse();
    calls
}

/// How many call-log rows to read for `n` calls (a call has up to three).
pub fn rows_for_calls(n: u32) -> u32 {
    n.saturating_mul(3).saturating_add(3)
}

/// The answer to `log` / `log N`: the newest `n` calls, newest first.
pub fn render_log(calls: &[Call], n: u32) -> String {
    let shown: Vec<&Call> = calls.iter().take(n as usize).collect();
    let mut out = match shown.len() {
        0 => return "No calls logged.".into(),
        1 => "The last call:".to_string(),
        count => format!("The last {count} calls, newest first:"),
    };
    for call in shown {
        let when = call
            .at
            .map(|t| t.to_string())
            .unwrap_or_else(|| "unknown time".into());
        let direction = match call.direction {
            Some(CallDirection::Incoming) => "in ",
            Some(CallDirection::Outgoing) => "out",
            None => " ? ",
        };
        let number = if call.number.trim().is_empty() {
            "hidden number"
        } else {
            call.number.as_str()
        };
        let cause = call.cause.as_deref().unwrap_or("no hangup cause");
        let duration = match call.seconds {
            Some(s) if s > 0 => human(Duration::from_secs(u64::try_from(s).unwrap_or(0))),
            Some(_) => "not answered".into(),
            None => "duration unknown".into(),
        };
        out.push_str(&format!(
            "\n{when}  {direction}  {number}  {cause}  {duration}"
        ));
    }
    out
}

/// `2026-05-07 10:00:00 UTC`.
fn at(t: SystemTime) -> String {
    Timestamp::from_system_time(t).to_string()
}

/// `45 s`, `3 min 5 s`, `2 h 5 min`, `3 d 4 h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn commands_are_trimmed_and_case_insensitive() {
        assert_eq!(parse("status"), BotCommand::Status);
        assert_eq!(parse("  STATUS \n"), BotCommand::Status);
        assert_eq!(parse("Help"), BotCommand::Help);
        assert_eq!(parse("?"), BotCommand::Help);
        assert_eq!(parse("log"), BotCommand::Log(DEFAULT_LOG_CALLS));
        assert_eq!(parse("LOG 5"), BotCommand::Log(5));
        assert_eq!(parse(" log   3 "), BotCommand::Log(3));
        assert_eq!(parse("log 100000"), BotCommand::Log(MAX_LOG_CALLS));
    }

    #[test]
    fn bad_log_arguments_are_invalid() {
        assert_eq!(parse("log 0"), BotCommand::Invalid("log 0".into()));
        assert_eq!(parse("log -1"), BotCommand::Invalid("log -1".into()));
        assert_eq!(parse("log five"), BotCommand::Invalid("log five".into()));
        assert_eq!(parse("log 1 2"), BotCommand::Invalid("log 1 2".into()));
        assert_eq!(
            parse("status now"),
            BotCommand::Invalid("status now".into())
        );
    }

    #[test]
    fn ussd_codes() {
        assert_eq!(parse("*100#"), BotCommand::Ussd("*100#".into()));
        assert_eq!(parse(" *100# "), BotCommand::Ussd("*100#".into()));
        assert_eq!(parse("*1 00#"), BotCommand::Ussd("*100#".into()));
        assert_eq!(parse("#31#+372"), BotCommand::Ussd("#31#+372".into()));
        assert_eq!(parse("1"), BotCommand::Ussd("1".into()));
        assert_eq!(parse("balance"), BotCommand::Invalid("balance".into()));
        assert_eq!(parse("*100#;"), BotCommand::Invalid("*100#;".into()));
        assert_eq!(parse("*１００#"), BotCommand::Invalid("*１００#".into()));
        assert_eq!(parse(""), BotCommand::Invalid(String::new()));
        let long = "*".repeat(MAX_USSD_CHARS + 1);
        assert_eq!(parse(&long), BotCommand::Invalid(long.clone()));
    }

    #[test]
    fn help_names_every_command() {
        let h = render_help("+37255500000");
        for word in ["status", "log N", "help", "*100#", "[USSD]", "+37255500000"] {
            assert!(h.contains(word), "{word} missing from {h}");
        }
    }

    #[test]
    fn unknown_text_is_explained_with_the_commands() {
        let u = render_unknown("what is my\nbalance?");
        assert!(
            u.starts_with("\"what is my balance?\" is neither a command nor a USSD code"),
            "{u}"
        );
        for word in ["status", "log N", "help", "*100#", "nothing was sent"] {
            assert!(u.contains(word), "{word} missing from {u}");
        }
        let long = render_unknown(&"x".repeat(3000));
        assert!(long.len() < 400, "the quote is short: {long}");
    }

    fn state() -> ChannelState {
        ChannelState {
            goip_id: "goip1".into(),
            ext: Some("2001".into()),
            msisdn: Some("+37255500000".into()),
            gsm_signal: Some(29),
            gsm_status: Some("LOGIN".into()),
            voip_status: Some("LOGOUT".into()),
            voip_state: Some("IDLE".into()),
            remain_time: Some(-1),
            provider: Some("Tele2".into()),
            disable_status: Some(0),
            imei: None,
            imsi: None,
            iccid: None,
            cell_info: None,
            sms_login: Some("Y".into()),
            source: None,
            updated_at: Some(Timestamp::from_unix(1_700_000_000)),
        }
    }

    #[test]
    fn status_shows_every_field() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_065);
        let since = UNIX_EPOCH + Duration::from_secs(1_699_999_000);
        let text = render_status(
            "2001",
            "goip1",
            Liveness::Online { since },
            Some(&state()),
            StateSource::Database,
            now,
        );
        assert_eq!(
            text,
            "Line 2001 (goip1), +37255500000\n\
             GoIP channel: online since 2023-11-14 21:56:40 UTC\n\
             GSM: LOGIN, signal -55 dBm, 4/4 bars (CSQ 29)\n\
             VoIP: LOGOUT, line IDLE\n\
             Operator: Tele2\n\
             Remaining call time: unlimited\n\
             Updated: 2023-11-14 22:13:20 UTC (1 min 5 s ago)"
        );
    }

    #[test]
    fn status_of_a_silent_or_unknown_channel() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut s = state();
        s.gsm_signal = Some(99);
        s.remain_time = Some(42);
        s.disable_status = Some(1);
        s.msisdn = None;
        let text = render_status(
            "2001",
            "goip1",
            Liveness::Offline { since: now },
            Some(&s),
            StateSource::Database,
            now,
        );
        assert!(text.contains("number not set on the GoIP"), "{text}");
        assert!(text.contains("OFFLINE since 2023-11-14"), "{text}");
        assert!(text.contains("signal unknown (CSQ 99)"), "{text}");
        assert!(text.contains("42 min"), "{text}");
        assert!(text.contains("DISABLED"), "{text}");
        let text = render_status(
            "2001",
            "goip1",
            Liveness::NotHeard,
            None,
            StateSource::Database,
            now,
        );
        assert!(text.contains("no keepalive since goippy started"), "{text}");
        assert!(text.contains("No keepalive of this channel"), "{text}");
        assert_eq!(signal(Some(7)), "-99 dBm, 1/4 bars (CSQ 7)");
        assert_eq!(signal(Some(45)), "unknown");
        assert_eq!(signal(None), "unknown");
    }

    #[test]
    fn status_from_memory_says_so() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_065);
        let since = UNIX_EPOCH + Duration::from_secs(1_699_999_000);
        let text = render_status(
            "2001",
            "goip1",
            Liveness::Online { since },
            Some(&state()),
            StateSource::Memory,
            now,
        );
        assert!(text.contains("GSM: LOGIN, signal -55 dBm"), "{text}");
        assert!(text.ends_with(&format!("\n{FROM_MEMORY}")), "{text}");
        let text = render_status(
            "2001",
            "goip1",
            Liveness::NotHeard,
            None,
            StateSource::Memory,
            now,
        );
        assert_eq!(
            text,
            format!(
                "Line 2001 (goip1), number not set on the GoIP\n\
                 GoIP channel: OFFLINE (no keepalive since goippy started)\n\
                 No keepalive of this channel since goippy started.\n\
                 {FROM_MEMORY}"
            )
        );
    }

    fn row(id: i64, ts: i64, event: Option<&str>, num: &str) -> CallEntry {
        CallEntry {
            id,
            ts: Some(Timestamp::from_unix(ts)),
            goip_id: Some("goip1".into()),
            ext: Some("2001".into()),
            event: event.map(str::to_string),
            direction: None,
            remote_num: Some(num.into()),
            cause: None,
            duration: None,
            msisdn: None,
        }
    }

    /// Newest first, as the store returns them.
    fn two_calls() -> Vec<CallEntry> {
        let mut r1 = row(1, 1_700_000_000, Some("RECORD"), "+37255512345");
        r1.direction = Some(CallDirection::Incoming);
        let mut h1 = row(2, 1_700_000_070, Some("HANGUP"), "+37255512345");
        h1.cause = Some("Normal call clearing".into());
        h1.duration = Some(65);
        let mut r2 = row(3, 1_700_000_100, Some("RECORD"), "1345");
        r2.direction = Some(CallDirection::Outgoing);
        let mut h2 = row(4, 1_700_000_105, Some("HANGUP"), "1345");
        h2.cause = Some("User busy".into());
        h2.duration = Some(0);
        vec![h2, r2, h1, r1]
    }

    #[test]
    fn rows_become_calls_newest_first() {
        let calls = calls_from_rows(&two_calls());
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].number, "1345");
        assert_eq!(calls[0].direction, Some(CallDirection::Outgoing));
        assert_eq!(calls[0].cause.as_deref(), Some("User busy"));
        assert_eq!(calls[0].seconds, Some(0));
        assert_eq!(calls[0].at, Some(Timestamp::from_unix(1_700_000_100)));
        assert_eq!(calls[1].number, "+37255512345");
        assert_eq!(calls[1].seconds, Some(65));
    }

    #[test]
    fn odd_rows_still_make_calls() {
        // A HANGUP without RECORD, a lone EXPIRY, a RECORD that never ended,
        // and a row of the original goippy.
        let mut h = row(1, 100, Some("HANGUP"), "+1");
        h.cause = Some("x".into());
        let mut e = row(2, 110, Some("EXPIRY"), "");
        e.duration = Some(5);
        let mut legacy = row(3, 120, None, "+2");
        legacy.direction = Some(CallDirection::Incoming);
        legacy.cause = Some("old".into());
        let r = row(4, 130, Some("RECORD"), "");
        let calls = calls_from_rows(&[r, legacy, e, h]);
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls[0].number, "");
        assert_eq!(calls[1].cause.as_deref(), Some("old"));
        assert_eq!(calls[2].cause.as_deref(), Some("x"));
        assert_eq!(
            calls[2].seconds,
            Some(5),
            "the lone EXPIRY joins the hangup"
        );
    }

    #[test]
    fn the_log_reads_like_a_phone_log() {
        let calls = calls_from_rows(&two_calls());
        assert_eq!(
            render_log(&calls, 10),
            "The last 2 calls, newest first:\n\
             2023-11-14 22:15:00 UTC  out  1345  User busy  not answered\n\
             2023-11-14 22:13:20 UTC  in   +37255512345  Normal call clearing  1 min 5 s"
        );
        assert_eq!(
            render_log(&calls, 1),
            "The last call:\n2023-11-14 22:15:00 UTC  out  1345  User busy  not answered"
        );
        assert_eq!(render_log(&[], 5), "No calls logged.");
        let hidden = Call {
            at: None,
            direction: None,
            number: String::new(),
            cause: None,
            seconds: None,
        };
        assert_eq!(
            render_log(&[hidden], 5),
            "The last call:\nunknown time   ?   hidden number  no hangup cause  duration unknown"
        );
        assert_eq!(rows_for_calls(10), 33);
    }

    #[test]
    fn durations() {
        assert_eq!(human(Duration::from_secs(0)), "0 s");
        assert_eq!(human(Duration::from_secs(65)), "1 min 5 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_secs(7260)), "2 h 1 min");
        assert_eq!(human(Duration::from_secs(90_000)), "1 d 1 h");
    }
}
