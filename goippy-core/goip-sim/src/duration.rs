//! How the simulator reads and shows durations, in its command line and its
//! script language alike: `30s`, `100ms`, `2m`, or a bare number of seconds
//! (`0.5`), because a person types `slow-wait 5` and a test passes
//! `--keepalive-interval 100ms`, and both should just work.

use std::time::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a duration: write seconds (5, 0.5) or add a unit (100ms, 30s, 2m)")]
pub struct DurationError {
    value: String,
}

/// The longest duration accepted: a day. Anything longer is a typo, and the
/// limit keeps the arithmetic on instants far from overflow.
const MAX_SECONDS: f64 = 86_400.0;

/// Reads `<number>[ms|s|m]`; a bare number is seconds. The number may have
/// a fractional part; it may not be negative, and at most a day.
pub fn parse_duration(value: &str) -> Result<Duration, DurationError> {
    let error = || DurationError {
        value: value.chars().take(40).collect(),
    };
    let text = value.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    // `f64::from_str` also takes "inf", "NaN" and "1e3"; only plain decimals
    // are durations here.
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(error());
    }
    let seconds = number.parse::<f64>().map_err(|_| error())? * scale;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(error());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Shows a duration the way [`parse_duration`] reads it back: whole seconds
/// as `30s`, anything else as milliseconds.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 0 "), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_plain_duration() {
        for bad in [
            "", "s", "-1", "1e3", "inf", "NaN", "5h", "1.2.3", "90000", "ms5",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let e = parse_duration("soon").unwrap_err();
        assert!(e.to_string().contains("\"soon\""), "{e}");
    }

    #[test]
    fn formatting_reads_back() {
        for d in [
            Duration::from_secs(30),
            Duration::from_millis(100),
            Duration::from_millis(1500),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
