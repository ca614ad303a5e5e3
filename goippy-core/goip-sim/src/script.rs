//! The simulator's command language: one command per line, the same for a
//! person typing at the terminal, a `--script` file, and a test harness
//! writing to stdin.
//!
//! ```text
//! sms <ch> <from> <text…>                  an inbound SMS (RECEIVE)
//! split on|off                             hand long SMS over one RECEIVE per part
//! deliver <ch> <sms_no> <state> [<number>] a delivery report (DELIVER)
//! ussn <ch> <text…>                        network USSD text (USSN)
//! call <ch> in|out <number> [<seconds>] [<cause…>]
//!                                          a call: RECORD, STATE…, HANGUP, EXPIRY, REMAIN
//! fail <ch>|all <mode> [<args>]            a failure mode (see below); `off` clears all
//! keepalive <ch>|all                       send a keepalive now
//! status [<ch>|all]                        report each channel's state
//! sleep <duration>                         pause the script (5, 0.5, 100ms, 2m)
//! help                                     this text
//! quit                                     stop (also: exit, end of input)
//! ```
//!
//! * Channels are numbered from 1. `<number>` is one word; `-` means none
//!   (a hidden caller id).
//! * A text runs to the end of the line, spaces included. `\n`, `\r`, `\t`
//!   and `\\` are a newline, carriage return, tab and backslash, so one line
//!   can carry a multi-line SMS; any other backslash sequence is an error
//!   (a typo should not reach the server). `;` and `:` need no escaping.
//! * A line starting with `#` is a comment; blank lines are skipped.
//!
//! Parsing is pure ([`parse_line`]); running a command is the device's job.

use std::time::Duration;

use super::call::{CallSpec, CallWay, DEFAULT_CAUSE};
use super::duration::parse_duration;
use super::failure::{FAILURE_USAGE, FailureChange};

/// Which channels a command applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    One(usize),
    All,
}

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptCommand {
    Sms {
        channel: usize,
        from: String,
        text: String,
    },
    Deliver {
        channel: usize,
        sms_no: u32,
        state: i32,
        number: Option<String>,
    },
    Ussn {
        channel: usize,
        text: String,
    },
    Call {
        channel: usize,
        spec: CallSpec,
    },
    Fail {
        channels: Channels,
        change: FailureChange,
    },
    Keepalive {
        channels: Channels,
    },
    Status {
        channels: Channels,
    },
    /// Whether `sms` hands a long text over one RECEIVE per segment.
    Split(bool),
    Sleep(Duration),
    Help,
    Quit,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScriptError(String);

impl ScriptError {
    fn new(message: impl Into<String>) -> Self {
        ScriptError(message.into())
    }
}

/// The help text: the language in brief.
pub const HELP: &str = "\
Commands (channels count from 1; `all` works for fail, keepalive and status):
  sms <ch> <from> <text…>                  inbound SMS; text to end of line, \\n \\r \\t \\\\ escapes
  split on|off                             long SMS as one RECEIVE per part (153 GSM-7 / 67 UCS-2
                                           characters each), as some GoIP firmware sends them
  deliver <ch> <sms_no> <state> [<number>] delivery report (state 0 = delivered)
  ussn <ch> <text…>                        USSD text pushed by the network
  call <ch> in|out <number> [<seconds>] [<cause…>]
                                           a call; 0 seconds = never answered; number `-` = hidden
  fail <ch> <mode>                         errorstatus <N> [<number>] | password | silence |
                                           drop-msg <N> | slow-wait <duration> | no-result |
                                           no-answer | too-many | deliver-state <N> | ussd-fail |
                                           gsm-lost | signal <CSQ> | ussd-answer <text…> |
                                           ussd-late | off
  keepalive <ch>                           send a keepalive now
  status [<ch>]                            show each channel's state
  sleep <duration>                         pause (5, 0.5, 100ms, 2m)
  help                                     this text
  quit                                     stop the simulator (also: end of input, Ctrl-C)
Lines starting with # are comments.";

/// Replaces `\n`, `\r`, `\t` and `\\`; any other backslash is an error.
pub fn unescape(text: &str) -> Result<String, ScriptError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                return Err(ScriptError::new(format!(
                    "unknown escape \\{other}: use \\n, \\r, \\t, or \\\\ for a backslash"
                )));
            }
            None => {
                return Err(ScriptError::new(
                    "a lone \\ at the end of the line: write \\\\ for a backslash",
                ));
            }
        }
    }
    Ok(out)
}

/// Splits the next whitespace-separated word off `rest`.
fn next_word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let trimmed = rest.trim_start();
    if trimmed.is_empty() {
        *rest = trimmed;
        return None;
    }
    let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    let (word, after) = trimmed.split_at(end);
    *rest = after;
    Some(word)
}

/// The rest of the line as text: after the whitespace that separates it
/// from the previous word, unescaped.
fn text_rest(rest: &str) -> Result<String, ScriptError> {
    unescape(rest.trim_start())
}

struct Words<'a> {
    verb: &'a str,
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn word(&mut self, what: &str) -> Result<&'a str, ScriptError> {
        next_word(&mut self.rest)
            .ok_or_else(|| ScriptError::new(format!("`{}` needs {what}", self.verb)))
    }

    fn channel(&mut self) -> Result<usize, ScriptError> {
        let word = self.word("a channel number")?;
        parse_channel(word)
    }

    fn channels(&mut self) -> Result<Channels, ScriptError> {
        let word = self.word("a channel number or `all`")?;
        if word.eq_ignore_ascii_case("all") || word == "*" {
            Ok(Channels::All)
        } else {
            parse_channel(word).map(Channels::One)
        }
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, ScriptError> {
        let word = self.word(what)?;
        word.parse()
            .map_err(|_| ScriptError::new(format!("`{}`: {word:?} is not {what}", self.verb)))
    }

    fn text(&mut self, what: &str) -> Result<String, ScriptError> {
        let text = text_rest(self.rest)?;
        self.rest = "";
        if text.is_empty() {
            return Err(ScriptError::new(format!("`{}` needs {what}", self.verb)));
        }
        Ok(text)
    }

    fn finish(&mut self) -> Result<(), ScriptError> {
        match next_word(&mut self.rest) {
            None => Ok(()),
            Some(extra) => Err(ScriptError::new(format!(
                "`{}`: unexpected {extra:?} at the end",
                self.verb
            ))),
        }
    }
}

fn parse_channel(word: &str) -> Result<usize, ScriptError> {
    match word.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ScriptError::new(format!(
            "{word:?} is not a channel number (channels count from 1)"
        ))),
    }
}

/// A number word: `-` is none.
fn number_word(word: &str) -> String {
    if word == "-" {
        String::new()
    } else {
        word.to_owned()
    }
}

/// Reads one line; `Ok(None)` for a blank line or a comment.
pub fn parse_line(line: &str) -> Result<Option<ScriptCommand>, ScriptError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut rest = line;
    let Some(verb) = next_word(&mut rest) else {
        return Ok(None);
    };
    if verb.starts_with('#') {
        return Ok(None);
    }
    let lower = verb.to_ascii_lowercase();
    let mut w = Words { verb, rest };
    let command = match lower.as_str() {
        "sms" => {
            let channel = w.channel()?;
            let from = w.word("a sender and a text")?.to_owned();
            ScriptCommand::Sms {
                channel,
                from,
                text: w.text("a text")?,
            }
        }
        "deliver" => {
            let channel = w.channel()?;
            let sms_no = w.number("an sms_no")?;
            let state = w.number("a delivery state (0 = delivered)")?;
            let number = next_word(&mut w.rest).map(number_word);
            w.finish()?;
            ScriptCommand::Deliver {
                channel,
                sms_no,
                state,
                number,
            }
        }
        "ussn" => {
            let channel = w.channel()?;
            ScriptCommand::Ussn {
                channel,
                text: w.text("a text")?,
            }
        }
        "call" => {
            let channel = w.channel()?;
            let way = match w.word("`in` or `out`")? {
                "in" => CallWay::In,
                "out" => CallWay::Out,
                other => {
                    return Err(ScriptError::new(format!(
                        "`call`: {other:?} is not `in` or `out`"
                    )));
                }
            };
            let number = number_word(w.word("a number (`-` for none)")?);
            let mut after_number = w.rest;
            let seconds = match next_word(&mut after_number).map(str::parse::<u32>) {
                Some(Ok(seconds)) => {
                    w.rest = after_number;
                    seconds
                }
                _ => 0,
            };
            let cause = text_rest(w.rest)?;
            ScriptCommand::Call {
                channel,
                spec: CallSpec {
                    way,
                    number,
                    seconds,
                    cause: if cause.is_empty() {
                        DEFAULT_CAUSE.to_owned()
                    } else {
                        cause
                    },
                },
            }
        }
        "fail" => {
            let channels = w.channels()?;
            let words: Vec<&str> = w.rest.split_whitespace().collect();
            let change = FailureChange::parse(&words)
                .map_err(|e| ScriptError::new(format!("`fail`: {e}")))?;
            ScriptCommand::Fail { channels, change }
        }
        "keepalive" => {
            let channels = w.channels()?;
            w.finish()?;
            ScriptCommand::Keepalive { channels }
        }
        "status" => {
            let channels = if w.rest.trim().is_empty() {
                Channels::All
            } else {
                w.channels()?
            };
            w.finish()?;
            ScriptCommand::Status { channels }
        }
        "split" => {
            let split = match w.word("`on` or `off`")? {
                "on" => true,
                "off" => false,
                other => {
                    return Err(ScriptError::new(format!(
                        "`split`: {other:?} is not `on` or `off`"
                    )));
                }
            };
            w.finish()?;
            ScriptCommand::Split(split)
        }
        "sleep" => {
            let d = parse_duration(w.word("a duration")?)
                .map_err(|e| ScriptError::new(format!("`sleep`: {e}")))?;
            w.finish()?;
            ScriptCommand::Sleep(d)
        }
        "help" | "?" => {
            w.finish()?;
            ScriptCommand::Help
        }
        "quit" | "exit" => {
            w.finish()?;
            ScriptCommand::Quit
        }
        _ => {
            return Err(ScriptError::new(format!(
                "unknown command {verb:?}; type `help` for the list (fail modes: {FAILURE_USAGE})"
            )));
        }
    };
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;

    fn parse(line: &str) -> ScriptCommand {
        match parse_line(line) {
            Ok(Some(c)) => c,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        match parse_line(line) {
            Err(e) => e.to_string(),
            other => panic!("{line:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn sms_text_runs_to_the_end_of_the_line() {
        assert_eq!(
            parse("sms 1 +37255512345 hello  world; a:b "),
            ScriptCommand::Sms {
                channel: 1,
                from: "+37255512345".into(),
                text: "hello  world; a:b ".into()
            }
        );
        assert_eq!(
            parse("sms 2 BANK line1\\nline2\\\\n\\ttab\r\n"),
            ScriptCommand::Sms {
                channel: 2,
                from: "BANK".into(),
                text: "line1\nline2\\n\ttab".into()
            }
        );
        assert!(error("sms 1 +372").contains("needs a text"));
        assert!(error("sms 1").contains("sender"));
        assert!(error("sms 0 +1 x").contains("count from 1"));
        assert!(error("sms x +1 x").contains("not a channel"));
        assert!(error("sms 1 +1 C:\\path").contains("unknown escape \\p"));
        assert!(error("sms 1 +1 trailing\\").contains("lone"));
    }

    #[test]
    fn deliver_and_ussn() {
        assert_eq!(
            parse("deliver 1 3 0"),
            ScriptCommand::Deliver {
                channel: 1,
                sms_no: 3,
                state: 0,
                number: None
            }
        );
        assert_eq!(
            parse("deliver 1 3 70 +3725551"),
            ScriptCommand::Deliver {
                channel: 1,
                sms_no: 3,
                state: 70,
                number: Some("+3725551".into())
            }
        );
        assert!(error("deliver 1 x 0").contains("sms_no"));
        assert!(error("deliver 1 3 0 +1 more").contains("unexpected"));
        assert_eq!(
            parse("ussn 3 Your bonus: 5 MB"),
            ScriptCommand::Ussn {
                channel: 3,
                text: "Your bonus: 5 MB".into()
            }
        );
    }

    #[test]
    fn calls() {
        assert_eq!(
            parse("call 1 in +3725551 30 User busy"),
            ScriptCommand::Call {
                channel: 1,
                spec: CallSpec {
                    way: CallWay::In,
                    number: "+3725551".into(),
                    seconds: 30,
                    cause: "User busy".into()
                }
            }
        );
        assert_eq!(
            parse("call 2 out -"),
            ScriptCommand::Call {
                channel: 2,
                spec: CallSpec {
                    way: CallWay::Out,
                    number: String::new(),
                    seconds: 0,
                    cause: DEFAULT_CAUSE.into()
                }
            }
        );
        // A cause without seconds.
        let ScriptCommand::Call { spec, .. } = parse("call 1 in 123 Out of service") else {
            panic!()
        };
        assert_eq!((spec.seconds, spec.cause.as_str()), (0, "Out of service"));
        assert!(error("call 1 sideways 1").contains("`in` or `out`"));
    }

    #[test]
    fn fail_keepalive_status() {
        assert_eq!(
            parse("fail 2 drop-msg 3"),
            ScriptCommand::Fail {
                channels: Channels::One(2),
                change: FailureChange::Set(Failure::DropMsg(3))
            }
        );
        assert_eq!(
            parse("fail all off"),
            ScriptCommand::Fail {
                channels: Channels::All,
                change: FailureChange::Off
            }
        );
        assert!(error("fail 1 explode").contains("unknown failure mode"));
        assert_eq!(
            parse("keepalive 1"),
            ScriptCommand::Keepalive {
                channels: Channels::One(1)
            }
        );
        assert_eq!(
            parse("status"),
            ScriptCommand::Status {
                channels: Channels::All
            }
        );
        assert_eq!(
            parse("status 2"),
            ScriptCommand::Status {
                channels: Channels::One(2)
            }
        );
        assert!(error("keepalive").contains("channel"));
    }

    #[test]
    fn split() {
        assert_eq!(parse("split on"), ScriptCommand::Split(true));
        assert_eq!(parse("split off"), ScriptCommand::Split(false));
        assert!(error("split").contains("`on` or `off`"));
        assert!(error("split maybe").contains("not `on` or `off`"));
        assert!(error("split on 1").contains("unexpected"));
    }

    #[test]
    fn the_rest() {
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("   \t"), Ok(None));
        assert_eq!(parse_line("# sms 1 +1 x"), Ok(None));
        assert_eq!(parse_line("  #comment"), Ok(None));
        assert_eq!(
            parse("sleep 100ms"),
            ScriptCommand::Sleep(Duration::from_millis(100))
        );
        assert!(error("sleep").contains("duration"));
        assert_eq!(parse("HELP"), ScriptCommand::Help);
        assert_eq!(parse("quit"), ScriptCommand::Quit);
        assert_eq!(parse("exit"), ScriptCommand::Quit);
        assert!(error("quit now").contains("unexpected"));
        assert!(error("frobnicate 1").contains("unknown command"));
    }
}
