//! The inbox rows Prosody has confirmed but the database will not mark
//! delivered.
//!
//! Marking a row can fail for good for that one row — a trigger that
//! refuses the update, MySQL's 1114 "table is full", a damaged page: the
//! writer gives such an error back instead of retrying it (`store/writer/`,
//! "One bad row does not block the rest"), and the row stays in the inbox.
//! Read again every round, it would be sent again every round: the same SMS
//! every 30 s, for as long as the cause lasts. So the pump remembers such a
//! row as sent: it is not sent again while goippy runs, its mark is retried now
//! and then ([`Unmarked::due`]; the cause may be fixed meanwhile), and the
//! operator learns of it in the log, at most once a minute whatever the
//! number of rows. "Marked delivered only once Prosody confirmed it" still
//! holds: only confirmed rows get here. A restart forgets, and the row is
//! sent once more then — a duplicate, never a loss, as everywhere in the
//! pump. The memory is bounded ([`MAX_ROWS`]); beyond it the oldest row is
//! forgotten, with the same consequence.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{InboxItem, LogId, StoreError};
use crate::util::WarnLimiter;

/// Rows remembered at most.
pub(super) const MAX_ROWS: usize = 4096;
/// How often the log may say that rows cannot be marked.
const LOG_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Unmarked {
    /// Each row, with when its mark is due to be tried again.
    rows: BTreeMap<LogId, Instant>,
    retry: Duration,
    log: WarnLimiter,
}

impl Unmarked {
    /// A memory that retries a row's mark every `retry`.
    pub(super) fn new(retry: Duration) -> Unmarked {
        Unmarked {
            rows: BTreeMap::new(),
            retry,
            log: WarnLimiter::new(LOG_INTERVAL),
        }
    }

    pub(super) fn contains(&self, id: LogId) -> bool {
        self.rows.contains_key(&id)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// `item` was delivered (Prosody confirmed it, or it needed no stanza)
    /// and the database refused to mark it so.
    pub(super) fn refused(&mut self, item: &InboxItem, error: &StoreError, now: Instant) {
        let first = self.rows.insert(item.id, now + self.retry).is_none();
        if self.rows.len() > MAX_ROWS {
            self.rows.pop_first();
        }
        if let Some(suppressed) = self.log.allow(std::time::Instant::now()) {
            tracing::error!(
                log_id = item.id.0,
                goip_id = %item.goip_id,
                kind = item.kind.as_str(),
                rows = self.rows.len(),
                suppressed,
                "the database refuses to mark an inbox row delivered ({error}); it was delivered, \
                 and is not sent again while goippy runs (after a restart it is, once); \
                 the mark is retried every {} s{}",
                self.retry.as_secs(),
                if first { "" } else { " (a retry failed)" }
            );
        }
    }

    /// Whether the mark of the remembered row `id` is to be tried again
    /// now; if so, the next try is one retry interval away.
    pub(super) fn due(&mut self, id: LogId, now: Instant) -> bool {
        match self.rows.get_mut(&id) {
            Some(at) if *at <= now => {
                *at = now + self.retry;
                true
            }
            _ => false,
        }
    }

    /// The row's mark went through at last.
    pub(super) fn marked(&mut self, id: LogId) {
        if self.rows.remove(&id).is_some() {
            tracing::info!(
                log_id = id.0,
                remaining = self.rows.len(),
                "inbox row marked delivered at last"
            );
        }
    }

    /// The row left the inbox some other way (`UnknownMessage`).
    pub(super) fn forget(&mut self, id: LogId) {
        self.rows.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LogKind, Timestamp};

    fn row(id: i64) -> InboxItem {
        InboxItem {
            id: LogId(id),
            kind: LogKind::Sms,
            goip_id: "goip1".into(),
            ext: None,
            xmpp_jid: None,
            peer: None,
            body: String::new(),
            recvid: None,
            received_at: Timestamp::from_unix(0),
            report: None,
            notice: None,
        }
    }

    #[test]
    fn a_refused_row_is_remembered_and_retried_every_interval() {
        let retry = Duration::from_secs(300);
        let mut u = Unmarked::new(retry);
        let t0 = Instant::now();
        u.refused(&row(7), &StoreError::Closed, t0);
        assert!(u.contains(LogId(7)));
        assert!(!u.contains(LogId(8)));
        assert!(!u.due(LogId(7), t0 + Duration::from_secs(299)));
        assert!(u.due(LogId(7), t0 + retry));
        assert!(!u.due(LogId(7), t0 + retry), "rescheduled");
        assert!(u.due(LogId(7), t0 + retry * 2));
        assert!(!u.due(LogId(8), t0 + retry), "only remembered rows");
        u.marked(LogId(7));
        assert!(!u.contains(LogId(7)));
        assert_eq!(u.len(), 0);
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let mut u = Unmarked::new(Duration::from_secs(1));
        let now = Instant::now();
        for id in 0..(MAX_ROWS as i64 + 10) {
            u.refused(&row(id), &StoreError::Closed, now);
        }
        assert_eq!(u.len(), MAX_ROWS);
        assert!(!u.contains(LogId(9)));
        assert!(u.contains(LogId(10)));
        assert!(u.contains(LogId(MAX_ROWS as i64 + 9)));
        u.forget(LogId(10));
        assert!(!u.contains(LogId(10)));
    }
}
