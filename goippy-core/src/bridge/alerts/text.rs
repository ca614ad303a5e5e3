//! What the alerts say: the chat message for each change, and the lines
//! the console's `status` adds. Every text names the line (extension and
//! GoIP id), because an admin gets the same text for every line.

use crate::config::AlertSettings;
use crate::store::Timestamp;

use super::condition::{Condition, Told};

/// The thresholds a signal or balance text names (`?` when not set).
#[derive(Debug, Clone)]
pub(crate) struct Thresholds {
    pub signal_below: String,
    pub balance_below: String,
}

impl Thresholds {
    pub(crate) fn new(settings: &AlertSettings) -> Thresholds {
        let balance = settings.balance.as_ref().map(|b| b.below.to_string());
        Thresholds {
            signal_below: settings.signal_below.map_or("?".into(), |c| c.to_string()),
            balance_below: balance.unwrap_or_else(|| "?".into()),
        }
    }
}

/// The chat message for a change of `condition` to `told`; `line` is
/// `Line 2001 (goip1)`.
pub(crate) fn message(
    line: &str,
    condition: Condition,
    told: &Told,
    limits: &Thresholds,
) -> String {
    let (since, d) = (told.since, detail(condition, told));
    let (csq, amount) = (&limits.signal_below, &limits.balance_below);
    match (condition, told.active) {
        (Condition::Offline, true) => format!("{line} is offline: no keepalive since {since}."),
        (Condition::Offline, false) => format!("{line} is back online (since {since})."),
        (Condition::Gsm, true) => {
            format!("{line}: GSM not registered since {since} (the GoIP reports {d}).")
        }
        (Condition::Gsm, false) => format!("{line}: GSM registered again since {since}."),
        (Condition::Signal, true) => {
            format!("{line}: weak signal since {since}: CSQ {d} (below {csq}).")
        }
        (Condition::Signal, false) => {
            format!("{line}: signal back since {since}: CSQ {d} (not below {csq}).")
        }
        (Condition::Balance, true) => {
            format!("{line}: balance {d} is below {amount} (checked at {since}).")
        }
        (Condition::Balance, false) => {
            format!("{line}: balance {d} is no longer below {amount} (checked at {since}).")
        }
    }
}

/// The reading told with a change, or what stands for a missing one.
fn detail(condition: Condition, told: &Told) -> &str {
    match told.detail.as_str() {
        d if !d.trim().is_empty() => d,
        _ if condition == Condition::Gsm => "no GSM status",
        _ => "?",
    }
}

/// The lines `status` adds: every condition whose alert holds, and the
/// latest balance reading.
pub(crate) fn status_lines<'a>(
    told: impl IntoIterator<Item = (Condition, &'a Told)>,
    balance: Option<&(String, Timestamp, bool)>,
    limits: &Thresholds,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (condition, t) in told.into_iter().filter(|(_, t)| t.active) {
        let (since, d, csq) = (t.since, detail(condition, t), &limits.signal_below);
        lines.push(match condition {
            Condition::Offline => format!("Alerts: offline since {since}"),
            Condition::Gsm => format!("Alerts: GSM not registered since {since} ({d})"),
            Condition::Signal => {
                format!("Alerts: weak signal since {since} (CSQ {d}, below {csq})")
            }
            // Shown with the reading below.
            Condition::Balance => continue,
        });
    }
    if let Some((amount, at, low)) = balance {
        let below = &limits.balance_below;
        lines.push(if *low {
            format!("Balance: {amount} (below {below}) at {at}")
        } else {
            format!("Balance: {amount} at {at}")
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "Line 2001 (goip1)";

    fn limits() -> Thresholds {
        Thresholds {
            signal_below: "8".into(),
            balance_below: "5.00".into(),
        }
    }

    fn told(active: bool, detail: &str) -> Told {
        Told {
            active,
            since: Timestamp::from_unix(1_765_000_000),
            detail: detail.into(),
        }
    }

    #[test]
    fn messages_name_the_line_and_the_reading() {
        let since = Timestamp::from_unix(1_765_000_000).to_string();
        assert_eq!(
            message(LINE, Condition::Offline, &told(true, ""), &limits()),
            format!("Line 2001 (goip1) is offline: no keepalive since {since}.")
        );
        assert_eq!(
            message(LINE, Condition::Balance, &told(true, "3.20"), &limits()),
            format!("Line 2001 (goip1): balance 3.20 is below 5.00 (checked at {since}).")
        );
        assert!(
            message(LINE, Condition::Signal, &told(true, "5"), &limits())
                .contains("CSQ 5 (below 8)")
        );
        assert!(message(LINE, Condition::Gsm, &told(true, "LOGOUT"), &limits()).contains("LOGOUT"));
    }

    #[test]
    fn status_shows_what_holds() {
        let lines = status_lines(
            [
                (Condition::Offline, &told(false, "")),
                (Condition::Gsm, &told(true, "LOGOUT")),
            ],
            Some(&("3.20".into(), Timestamp::from_unix(1_765_000_000), true)),
            &limits(),
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("Alerts: GSM not registered since "));
        assert!(lines[1].starts_with("Balance: 3.20 (below 5.00) at "));
    }
}
