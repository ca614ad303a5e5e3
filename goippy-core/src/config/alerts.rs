//! The alert settings (`ALERTS`, `ALERT_HOLD`, `ALERT_SIGNAL_BELOW`,
//! `BALANCE_*`): whether a line's state is told, and when a weak signal or
//! a low balance counts (who besides the line's users is told: `ADMIN_JIDS`,
//! read with the other keys in `config.rs`). What the alerts say and when
//! they are sent is `bridge/alerts/`.
//!
//! Amounts (a balance, its threshold) are kept in thousandths as integers,
//! so the settings stay comparable (`Eq`) and no float rounding decides
//! whether 5.00 is below 5.00.

use std::fmt;
use std::time::Duration;

use regex::Regex;
use toml::Value;

use crate::goip::is_valid_ussd_code;

use super::reader::Reader;

/// When a line's users (and the admins) get an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// `ALERTS`: whether anyone is told at all (the console's `status`
    /// shows the states either way).
    pub enabled: bool,
    /// `ALERT_HOLD`: how long a GSM loss or a weak signal (and its
    /// recovery) must last before it is told, so a flapping line does not
    /// flood its users.
    pub hold: Duration,
    /// `ALERT_SIGNAL_BELOW`: a CSQ (1–31) the signal must stay below for
    /// `hold` to be weak; `None`: no signal alerts.
    pub signal_below: Option<u8>,
    /// The scheduled balance check, if configured.
    pub balance: Option<BalanceCheck>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: true,
            hold: Duration::from_secs(300),
            signal_below: None,
            balance: None,
        }
    }
}

/// `BALANCE_USSD`, `BALANCE_REGEX`, `BALANCE_BELOW`, `BALANCE_EVERY`.
#[derive(Debug, Clone)]
pub struct BalanceCheck {
    /// The USSD code that asks for the balance (`*100#`).
    pub code: String,
    /// Finds the amount in the answer: its one capture group.
    pub regex: Regex,
    /// Below this the balance is low.
    pub below: Amount,
    /// How often each line's balance is asked for.
    pub every: Duration,
}

impl PartialEq for BalanceCheck {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.regex.as_str() == other.regex.as_str()
            && self.below == other.below
            && self.every == other.every
    }
}

impl Eq for BalanceCheck {}

/// An amount of money in thousandths (3.2 is 3200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub i64);

impl Amount {
    /// Reads an amount as networks write it: `3.20`, `3,20`, `-1.5`,
    /// `1 234,50`, `1,234.50`, `1.234,50`. The last `.` or `,` is the
    /// decimal point, unless it is followed by exactly three digits after a
    /// non-zero whole part with no other separator (`1,234`: thousands);
    /// digits beyond the third decimal are ignored.
    pub fn parse(text: &str) -> Option<Amount> {
        let t: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
            .collect();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(&t)),
        };
        let (whole, fraction) = match t.rfind(['.', ',']) {
            None => (t, ""),
            Some(i) => {
                let sep = char::from(t.as_bytes()[i]);
                let other = if sep == '.' { ',' } else { '.' };
                let (w, f) = (&t[..i], &t[i + 1..]);
                // `1,234` and `1.234.567` are thousands; `0.005`, `3,20`
                // and `1.234,50` have a decimal point.
                let thousands = !w.contains(other)
                    && f.len() == 3
                    && (w.contains(sep) || !w.trim_start_matches('0').is_empty());
                if thousands { (t, "") } else { (w, f) }
            }
        };
        let whole: String = whole.chars().filter(|c| *c != '.' && *c != ',').collect();
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits(&whole) || !digits(fraction) {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        // Digits only (checked above): `5` is 500, `05` 50, `0051` 5.
        let first_three = fraction.get(..3).unwrap_or(fraction);
        let thousandths: i64 = format!("{first_three:0<3}").parse().ok()?;
        let value = whole.checked_mul(1000)?.checked_add(thousandths)?;
        Some(Amount(if negative { -value } else { value }))
    }
}

impl fmt::Display for Amount {
    /// With two decimals (three when the third is not zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / 1000, abs % 1000);
        if frac % 10 == 0 {
            write!(f, "{sign}{whole}.{:02}", frac / 10)
        } else {
            write!(f, "{sign}{whole}.{frac:03}")
        }
    }
}

/// The alert keys (as [`Reader`] reads them: a wrong one as its default).
pub(super) fn read(r: &mut Reader<'_>) -> AlertSettings {
    let expected = "a CSQ 1–31 (0 or nothing: no signal alerts)";
    AlertSettings {
        enabled: r.boolean("ALERTS", true),
        hold: r.seconds("ALERT_HOLD", 300, 0, 86_400),
        signal_below: u8::try_from(r.integer("ALERT_SIGNAL_BELOW", 0, 0, 31, expected))
            .ok()
            .filter(|n| *n > 0),
        balance: balance(r),
    }
}

/// The balance check, if configured; `None` also when a key is wrong
/// (after recording why).
fn balance(r: &mut Reader<'_>) -> Option<BalanceCheck> {
    let before = r.problems.len();
    let code = r.optional_string("BALANCE_USSD");
    let regex = r.optional_string("BALANCE_REGEX");
    let below = match r.get("BALANCE_BELOW") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Integer(n)) => Some(n.to_string()),
        Some(Value::Float(x)) => Some(x.to_string()),
        Some(other) => r.read("BALANCE_BELOW", "an amount such as \"5.00\"", other, None),
    };
    let every = r.seconds("BALANCE_EVERY", 86_400, 300, 30 * 86_400);
    // How the keys go together is only asked of valid values.
    if r.failed_since(before) {
        return None;
    }
    let Some(code) = code else {
        for (key, set) in [
            ("BALANCE_REGEX", regex.is_some()),
            ("BALANCE_BELOW", below.is_some()),
        ] {
            if set {
                r.problems.push(format!(
                    "{key}: set, but BALANCE_USSD is not (the balance check needs its USSD code)"
                ));
                return None;
            }
        }
        return None;
    };
    let ok = code.len() <= 64 && is_valid_ussd_code(&code);
    if !ok {
        r.problem(
            "BALANCE_USSD",
            "a USSD code of digits, *, # and + such as \"*100#\"",
            &Value::String(code.clone()),
        );
    }
    let regex = match regex {
        None => {
            r.problems.push(
                "BALANCE_REGEX: required with BALANCE_USSD: a regular expression with one \
                 capture group around the amount, such as \"balance is ([0-9.,]+)\""
                    .into(),
            );
            None
        }
        Some(text) => match Regex::new(&text) {
            Ok(re) if re.captures_len() == 2 => Some(re),
            Ok(_) => {
                r.problem(
                    "BALANCE_REGEX",
                    "a regular expression with exactly one capture group (the amount)",
                    &Value::String(text),
                );
                None
            }
            Err(e) => {
                r.problems.push(format!(
                    "BALANCE_REGEX: not a valid regular expression: {e}"
                ));
                None
            }
        },
    };
    let below = match below {
        None => {
            r.problems.push(
                "BALANCE_BELOW: required with BALANCE_USSD: the amount below which the \
                 balance is low, such as \"5.00\""
                    .into(),
            );
            None
        }
        Some(text) => {
            let amount = Amount::parse(&text);
            let expected = "an amount such as \"5.00\"";
            r.read("BALANCE_BELOW", expected, &Value::String(text), amount)
        }
    };
    let (regex, below) = (regex?, below?);
    ok.then_some(BalanceCheck {
        code,
        regex,
        below,
        every,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_networks_write_them() {
        for (text, thousandths) in [
            ("3.20", 3200),
            ("3,20", 3200),
            ("3", 3000),
            ("-1.5", -1500),
            ("0.005", 5),
            ("1 234,50", 1_234_500),
            ("1,234.50", 1_234_500),
            ("1.234,50", 1_234_500),
            ("1,234", 1_234_000),
            (".5", 500),
        ] {
            assert_eq!(Amount::parse(text), Some(Amount(thousandths)), "{text}");
        }
        for bad in ["", "abc", "3.2x", "-", "1.2.3,x"] {
            assert_eq!(Amount::parse(bad), None, "{bad}");
        }
        assert_eq!(Amount(3200).to_string(), "3.20");
        assert_eq!(Amount(-1500).to_string(), "-1.50");
        assert_eq!(Amount(5).to_string(), "0.005");
    }
}
