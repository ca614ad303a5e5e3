//! Points in time as the store keeps them: whole seconds since the Unix epoch, UTC.
//!
//! One representation for both backends. The columns goippy adds hold Unix
//! seconds in a plain integer (`BIGINT`/`INTEGER`): that needs no sqlx time
//! feature, compares and indexes the same way on SQLite and MySQL, and has no
//! time-zone or 2038 trap. The original goippy's own `created_at`/`updated_at`
//! columns keep their types (`TIMESTAMP` on MySQL, `'YYYY-MM-DD HH:MM:SS'`
//! text on SQLite) so that existing queries on them keep working; the store
//! writes them from the same clock (`FROM_UNIXTIME(?)` / `datetime(?,
//! 'unixepoch')`) and reads them back as seconds (`UNIX_TIMESTAMP()` /
//! `unixepoch()`). sqlx sets the MySQL session time zone to UTC, so the two
//! conversions are exact.
//!
//! Every time the store writes comes from goippy's clock, never the database
//! server's, so a remote MySQL server with a skewed clock cannot make the
//! cleanup delete the wrong rows.

use std::fmt;

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since 1970-01-01 00:00:00 UTC.
///
/// A Unix-seconds column (`… AS updated_unix`) decodes straight into a
/// `Timestamp`, as the integer it is (`sqlx(transparent)`), so a record
/// whose times are all such columns can derive `sqlx::FromRow` itself
/// instead of through a row twin.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time of goippy's host.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    pub const fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This time minus `d`, saturating.
    pub fn minus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// How long before `later` this was (zero if it is not earlier).
    pub fn age_at(self, later: Timestamp) -> Duration {
        Duration::from_secs(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    /// `2026-05-07 10:00:00 UTC` (a time past chrono's range of some
    /// 262,000 years shows as seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let Some(t) = chrono::DateTime::from_timestamp(self.0, 0) else {
            return write!(f, "{} s after 1970-01-01 00:00:00 UTC", self.0);
        };
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(
            Timestamp::from_unix(0).to_string(),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(
            Timestamp::from_unix(1_734_804_704).to_string(),
            "2024-12-21 18:11:44 UTC"
        );
        assert_eq!(
            Timestamp::from_unix(951_782_400).to_string(),
            "2000-02-29 00:00:00 UTC"
        );
        assert_eq!(
            Timestamp::from_unix(-1).to_string(),
            "1969-12-31 23:59:59 UTC"
        );
        assert_eq!(
            Timestamp::from_unix(4_102_444_800).to_string(),
            "2100-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn arithmetic_and_ages() {
        let t = Timestamp::from_unix(1000);
        assert_eq!(t.minus(Duration::from_secs(10)).unix(), 990);
        assert_eq!(
            t.age_at(Timestamp::from_unix(1030)),
            Duration::from_secs(30)
        );
        assert_eq!(t.age_at(Timestamp::from_unix(900)), Duration::ZERO);
        let now = Timestamp::now();
        assert!(now.unix() > 1_700_000_000);
    }
}
