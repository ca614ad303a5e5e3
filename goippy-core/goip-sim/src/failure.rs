//! The ways a simulated channel can misbehave, so that a server's error
//! handling can be tried without breaking real hardware.
//!
//! Every mode mirrors something seen on real devices or allowed by the
//! protocol (see docs/goip-protocol.md#quirks): a recipient the network refuses
//! (`errorstatus`), a device configured with another password, a device that
//! went silent, lost MSG datagrams, a slow modem, a send whose result never
//! comes, the "too many sends" refusal, failed delivery reports and failed
//! USSD requests. Modes are per channel, combine freely, and are set at start
//! (`--fail`) or at run time (`fail <ch> …`); `off` clears them all.
//!
//! A [`Failure`] is written and read in the script's words, so the `status`
//! output can be pasted back into a script.

use std::fmt;
use std::time::Duration;

use super::duration::{format_duration, parse_duration};

/// How many per-destination `errorstatus` rules a channel keeps at most (a
/// script could otherwise grow the list without bound).
pub const MAX_DESTINATION_RULES: usize = 64;

/// One way to misbehave, as `fail <ch> <mode>` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `errorstatus <N> [<number>]`: without a number, the **next** send
    /// fails with `ERROR <sendid> <telid> errorstatus:<N>` (once); with a
    /// number, **every** send to that number fails until `off`.
    ErrorStatus {
        code: i32,
        destination: Option<String>,
    },
    /// `password`: outgoing notifications and keepalives carry a wrong
    /// password (as a device configured with another one would).
    WrongPassword,
    /// `silence`: the channel sends nothing at all — no keepalives, no
    /// replies, no notifications — as an unplugged device.
    Silence,
    /// `drop-msg <N>`: the next N `MSG` datagrams are lost (not answered).
    DropMsg(u32),
    /// `slow-wait <duration>`: `WAIT` at once, the `OK`/`ERROR` only after
    /// this long (instead of the usual send time).
    SlowWait(Duration),
    /// `no-result`: `SEND` is answered `WAIT`, but the result never comes;
    /// a repeated SEND keeps getting `WAIT`.
    NoResult,
    /// `no-answer`: `SEND` is not answered at all, and nothing is sent.
    NoAnswer,
    /// `too-many`: every `MSG` is refused with
    /// `ERROR <sendid> too_many_sends_in_server`.
    TooMany,
    /// `deliver-state <N>`: automatic delivery reports carry `state:N`
    /// (a GSM 03.40 TP-Status; 0 is delivered) instead of 0.
    DeliverState(i32),
    /// `ussd-fail`: new USSD requests are answered `USSD send failed!`.
    UssdFail,
    /// `gsm-lost`: keepalives report `gsm_status:LOGOUT` (the SIM lost its
    /// network registration; the module stays enabled).
    GsmLost,
    /// `signal <CSQ>`: keepalives report this signal (0–31, 99 unknown)
    /// instead of the channel's own.
    Signal(u8),
    /// `ussd-answer <text>`: new USSD requests are answered with this text,
    /// whatever the code (a balance that changed, say).
    UssdAnswer(String),
    /// `ussd-late`: `USSDEXIT` does not stop an answer already on its way
    /// from the network, which then comes after the server gave up (as a
    /// real network's answer can cross the `USSDEXIT`).
    UssdLate,
}

/// Why `fail …` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FailureError(String);

/// What a `fail` command asks for: one mode more, or all modes off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureChange {
    Set(Failure),
    Off,
}

/// The modes `fail` knows, for help and error messages.
pub const FAILURE_USAGE: &str = "errorstatus <N> [<number>] | password | silence | drop-msg <N> | \
     slow-wait <duration> | no-result | no-answer | too-many | deliver-state <N> | ussd-fail | gsm-lost | signal <CSQ> | ussd-answer <text> | ussd-late | off";

impl FailureChange {
    /// Reads the words after `fail <ch>`.
    pub fn parse(words: &[&str]) -> Result<FailureChange, FailureError> {
        let usage = || FailureError(format!("expected one of: {FAILURE_USAGE}"));
        let (&mode, args) = words.split_first().ok_or_else(usage)?;
        let count = |what: &str, max_args: usize| -> Result<(), FailureError> {
            if args.len() > max_args {
                Err(FailureError(format!(
                    "`{mode}` takes {what}; unexpected {:?}",
                    args[max_args..].join(" ")
                )))
            } else {
                Ok(())
            }
        };
        let number = |what: &str| -> Result<i32, FailureError> {
            let arg = args
                .first()
                .ok_or_else(|| FailureError(format!("`{mode}` needs {what}")))?;
            arg.parse()
                .map_err(|_| FailureError(format!("`{mode}`: {arg:?} is not {what}")))
        };
        let failure = match mode {
            "off" => {
                count("nothing", 0)?;
                return Ok(FailureChange::Off);
            }
            "errorstatus" => {
                count("a code and an optional number", 2)?;
                Failure::ErrorStatus {
                    code: number("an error code (a number)")?,
                    destination: args.get(1).map(|s| (*s).to_owned()),
                }
            }
            "password" => {
                count("nothing", 0)?;
                Failure::WrongPassword
            }
            "silence" => {
                count("nothing", 0)?;
                Failure::Silence
            }
            "drop-msg" => {
                count("one count", 1)?;
                let n = number("a count of MSG datagrams")?;
                Failure::DropMsg(u32::try_from(n).map_err(|_| {
                    FailureError(format!("`{mode}`: {n} is not a count of MSG datagrams"))
                })?)
            }
            "slow-wait" => {
                count("one duration", 1)?;
                let arg = args
                    .first()
                    .ok_or_else(|| FailureError(format!("`{mode}` needs a duration")))?;
                Failure::SlowWait(
                    parse_duration(arg).map_err(|e| FailureError(format!("`{mode}`: {e}")))?,
                )
            }
            "no-result" => {
                count("nothing", 0)?;
                Failure::NoResult
            }
            "no-answer" => {
                count("nothing", 0)?;
                Failure::NoAnswer
            }
            "too-many" => {
                count("nothing", 0)?;
                Failure::TooMany
            }
            "deliver-state" => {
                count("one state", 1)?;
                Failure::DeliverState(number("a delivery state (a number)")?)
            }
            "ussd-fail" => {
                count("nothing", 0)?;
                Failure::UssdFail
            }
            "gsm-lost" => {
                count("nothing", 0)?;
                Failure::GsmLost
            }
            "ussd-late" => {
                count("nothing", 0)?;
                Failure::UssdLate
            }
            "signal" => {
                count("one CSQ", 1)?;
                let n = number("a CSQ (0-31, or 99)")?;
                match u8::try_from(n) {
                    Ok(csq) if csq <= 31 || csq == 99 => Failure::Signal(csq),
                    _ => {
                        return Err(FailureError(format!(
                            "`{mode}`: {n} is not a CSQ (0-31, or 99)"
                        )));
                    }
                }
            }
            "ussd-answer" => {
                if args.is_empty() {
                    return Err(FailureError(format!("`{mode}` needs the answer's text")));
                }
                Failure::UssdAnswer(args.join(" "))
            }
            other => {
                return Err(FailureError(format!(
                    "unknown failure mode {other:?}; expected one of: {FAILURE_USAGE}"
                )));
            }
        };
        Ok(FailureChange::Set(failure))
    }
}

/// The script's words for a mode.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ErrorStatus {
                code,
                destination: None,
            } => write!(f, "errorstatus {code}"),
            Failure::ErrorStatus {
                code,
                destination: Some(number),
            } => write!(f, "errorstatus {code} {number}"),
            Failure::WrongPassword => f.write_str("password"),
            Failure::Silence => f.write_str("silence"),
            Failure::DropMsg(n) => write!(f, "drop-msg {n}"),
            Failure::SlowWait(d) => write!(f, "slow-wait {}", format_duration(*d)),
            Failure::NoResult => f.write_str("no-result"),
            Failure::NoAnswer => f.write_str("no-answer"),
            Failure::TooMany => f.write_str("too-many"),
            Failure::DeliverState(s) => write!(f, "deliver-state {s}"),
            Failure::UssdFail => f.write_str("ussd-fail"),
            Failure::GsmLost => f.write_str("gsm-lost"),
            Failure::UssdLate => f.write_str("ussd-late"),
            Failure::Signal(csq) => write!(f, "signal {csq}"),
            Failure::UssdAnswer(text) => write!(f, "ussd-answer {text}"),
        }
    }
}

/// The modes active on one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    next_errorstatus: Option<i32>,
    errorstatus_to: Vec<(String, i32)>,
    wrong_password: bool,
    silent: bool,
    drop_msg: u32,
    slow_wait: Option<Duration>,
    no_result: bool,
    no_answer: bool,
    too_many: bool,
    deliver_state: Option<i32>,
    ussd_fail: bool,
    gsm_lost: bool,
    signal: Option<u8>,
    ussd_answer: Option<String>,
    ussd_late: bool,
}

impl Failures {
    /// Applies a `fail` command.
    pub fn change(&mut self, change: FailureChange) -> Result<(), FailureError> {
        match change {
            FailureChange::Off => {
                *self = Failures::default();
                Ok(())
            }
            FailureChange::Set(failure) => self.set(failure),
        }
    }

    /// Turns one mode on (a count or duration replaces the previous one).
    pub fn set(&mut self, failure: Failure) -> Result<(), FailureError> {
        match failure {
            Failure::ErrorStatus {
                code,
                destination: None,
            } => self.next_errorstatus = Some(code),
            Failure::ErrorStatus {
                code,
                destination: Some(number),
            } => {
                if let Some(rule) = self.errorstatus_to.iter_mut().find(|(n, _)| *n == number) {
                    rule.1 = code;
                } else if self.errorstatus_to.len() >= MAX_DESTINATION_RULES {
                    return Err(FailureError(format!(
                        "at most {MAX_DESTINATION_RULES} numbers can have an errorstatus rule; \
                         `fail <ch> off` clears them"
                    )));
                } else {
                    self.errorstatus_to.push((number, code));
                }
            }
            Failure::WrongPassword => self.wrong_password = true,
            Failure::Silence => self.silent = true,
            Failure::DropMsg(n) => self.drop_msg = n,
            Failure::SlowWait(d) => self.slow_wait = Some(d),
            Failure::NoResult => self.no_result = true,
            Failure::NoAnswer => self.no_answer = true,
            Failure::TooMany => self.too_many = true,
            Failure::DeliverState(s) => self.deliver_state = Some(s),
            Failure::UssdFail => self.ussd_fail = true,
            Failure::GsmLost => self.gsm_lost = true,
            Failure::Signal(csq) => self.signal = Some(csq),
            Failure::UssdAnswer(text) => self.ussd_answer = Some(text),
            Failure::UssdLate => self.ussd_late = true,
        }
        Ok(())
    }

    /// The active modes, in the script's words (empty when none).
    pub fn active(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        if let Some(code) = self.next_errorstatus {
            out.push(Failure::ErrorStatus {
                code,
                destination: None,
            });
        }
        for (number, code) in &self.errorstatus_to {
            out.push(Failure::ErrorStatus {
                code: *code,
                destination: Some(number.clone()),
            });
        }
        let flags = [
            (self.wrong_password, Failure::WrongPassword),
            (self.silent, Failure::Silence),
        ];
        out.extend(flags.into_iter().filter(|(on, _)| *on).map(|(_, f)| f));
        if self.drop_msg > 0 {
            out.push(Failure::DropMsg(self.drop_msg));
        }
        if let Some(d) = self.slow_wait {
            out.push(Failure::SlowWait(d));
        }
        let flags = [
            (self.no_result, Failure::NoResult),
            (self.no_answer, Failure::NoAnswer),
            (self.too_many, Failure::TooMany),
        ];
        out.extend(flags.into_iter().filter(|(on, _)| *on).map(|(_, f)| f));
        if let Some(s) = self.deliver_state {
            out.push(Failure::DeliverState(s));
        }
        if self.ussd_fail {
            out.push(Failure::UssdFail);
        }
        if self.gsm_lost {
            out.push(Failure::GsmLost);
        }
        if let Some(csq) = self.signal {
            out.push(Failure::Signal(csq));
        }
        if let Some(text) = &self.ussd_answer {
            out.push(Failure::UssdAnswer(text.clone()));
        }
        if self.ussd_late {
            out.push(Failure::UssdLate);
        }
        out
    }

    /// The errorstatus a send to `number` must fail with, if any: a rule for
    /// that number first, else the one-shot "next send" rule, which this
    /// consumes.
    pub fn take_errorstatus(&mut self, number: &str) -> Option<i32> {
        if let Some((_, code)) = self.errorstatus_to.iter().find(|(n, _)| n == number) {
            return Some(*code);
        }
        self.next_errorstatus.take()
    }

    /// True if this MSG datagram is to be lost (and counts it).
    pub fn take_drop_msg(&mut self) -> bool {
        if self.drop_msg > 0 {
            self.drop_msg -= 1;
            true
        } else {
            false
        }
    }

    pub fn wrong_password(&self) -> bool {
        self.wrong_password
    }

    pub fn is_silent(&self) -> bool {
        self.silent
    }

    pub fn slow_wait(&self) -> Option<Duration> {
        self.slow_wait
    }

    pub fn no_result(&self) -> bool {
        self.no_result
    }

    pub fn no_answer(&self) -> bool {
        self.no_answer
    }

    pub fn too_many(&self) -> bool {
        self.too_many
    }

    /// The state automatic delivery reports carry (0 = delivered).
    pub fn deliver_state(&self) -> i32 {
        self.deliver_state.unwrap_or(0)
    }

    pub fn ussd_late(&self) -> bool {
        self.ussd_late
    }

    pub fn ussd_fail(&self) -> bool {
        self.ussd_fail
    }

    pub fn gsm_lost(&self) -> bool {
        self.gsm_lost
    }

    /// The CSQ keepalives report instead of the channel's own.
    pub fn signal(&self) -> Option<u8> {
        self.signal
    }

    /// The text every new USSD request is answered with.
    pub fn ussd_answer(&self) -> Option<&str> {
        self.ussd_answer.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FailureChange, FailureError> {
        FailureChange::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn every_mode_reads_back_from_its_own_words() {
        let modes = [
            Failure::ErrorStatus {
                code: 38,
                destination: None,
            },
            Failure::ErrorStatus {
                code: 500,
                destination: Some("+37255512345".into()),
            },
            Failure::WrongPassword,
            Failure::Silence,
            Failure::DropMsg(2),
            Failure::SlowWait(Duration::from_millis(1500)),
            Failure::NoResult,
            Failure::NoAnswer,
            Failure::TooMany,
            Failure::DeliverState(70),
            Failure::UssdFail,
            Failure::GsmLost,
            Failure::Signal(5),
            Failure::UssdAnswer("Your balance is 3.20 EUR".into()),
        ];
        let mut all = Failures::default();
        for mode in &modes {
            assert_eq!(
                parse(&mode.to_string()),
                Ok(FailureChange::Set(mode.clone()))
            );
            all.set(mode.clone()).unwrap();
        }
        assert_eq!(all.active(), modes);
        all.change(FailureChange::Off).unwrap();
        assert_eq!(all, Failures::default());
    }

    #[test]
    fn bad_words_say_what_is_expected() {
        for bad in [
            "",
            "errorstatus",
            "errorstatus x",
            "errorstatus 1 +372 extra",
            "drop-msg -1",
            "slow-wait soon",
            "password now",
            "off please",
            "explode",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad:?}");
        }
        assert!(
            parse("explode")
                .unwrap_err()
                .to_string()
                .contains("drop-msg")
        );
    }

    #[test]
    fn errorstatus_once_or_per_destination() {
        let mut f = Failures::default();
        f.set(Failure::ErrorStatus {
            code: 38,
            destination: None,
        })
        .unwrap();
        f.set(Failure::ErrorStatus {
            code: 500,
            destination: Some("+1".into()),
        })
        .unwrap();
        assert_eq!(f.take_errorstatus("+1"), Some(500));
        assert_eq!(f.take_errorstatus("+2"), Some(38));
        assert_eq!(f.take_errorstatus("+2"), None);
        assert_eq!(f.take_errorstatus("+1"), Some(500));
    }

    #[test]
    fn destination_rules_are_bounded() {
        let mut f = Failures::default();
        for i in 0..MAX_DESTINATION_RULES {
            f.set(Failure::ErrorStatus {
                code: 1,
                destination: Some(i.to_string()),
            })
            .unwrap();
        }
        // Replacing an existing rule still works; a new one does not.
        assert!(
            f.set(Failure::ErrorStatus {
                code: 2,
                destination: Some("0".into()),
            })
            .is_ok()
        );
        assert!(
            f.set(Failure::ErrorStatus {
                code: 2,
                destination: Some("new".into()),
            })
            .is_err()
        );
    }

    #[test]
    fn drop_msg_counts_down() {
        let mut f = Failures::default();
        f.set(Failure::DropMsg(2)).unwrap();
        assert!(f.take_drop_msg());
        assert!(f.take_drop_msg());
        assert!(!f.take_drop_msg());
        assert!(f.active().is_empty());
    }
}
