//! Which message an `sms_no` belongs to, for matching delivery reports.
//!
//! A GoIP's `OK <sendid> <telid> <sms_no>` gives each sent SMS a per-channel
//! counter, and a later `DELIVER …;sms_no:<n>;state:<s>` refers to it. The
//! counter wraps and repeats, so — like the vendor server — a report is
//! matched against sends of the same channel within the last hour, newest
//! first. The ledger is bounded in age and count; after a restart the store's
//! copy of the same facts takes over.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One sent SMS, as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms<T> {
    pub goip_id: String,
    pub sms_no: u32,
    pub recipient: String,
    /// Whatever the caller attached to the job (e.g. its outbox row).
    pub tag: T,
    pub sent_at: Instant,
}

#[derive(Debug)]
pub struct SentLedger<T> {
    max_age: Duration,
    capacity: usize,
    entries: VecDeque<SentSms<T>>,
}

impl<T: Clone> SentLedger<T> {
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        SentLedger {
            max_age,
            capacity: capacity.max(1),
            entries: VecDeque::new(),
        }
    }

    pub fn record(&mut self, entry: SentSms<T>) {
        self.purge(entry.sent_at);
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// The newest send on `goip_id` with this `sms_no`, within the age limit.
    pub fn find(&mut self, goip_id: &str, sms_no: u32, now: Instant) -> Option<SentSms<T>> {
        self.purge(now);
        self.entries
            .iter()
            .rev()
            .find(|e| e.sms_no == sms_no && e.goip_id == goip_id)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets sends older than the age limit (also run without new traffic).
    pub fn purge(&mut self, now: Instant) {
        while let Some(e) = self.entries.front() {
            if now.saturating_duration_since(e.sent_at) < self.max_age {
                break;
            }
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(goip: &str, no: u32, tag: u32, at: Instant) -> SentSms<u32> {
        SentSms {
            goip_id: goip.into(),
            sms_no: no,
            recipient: "+37255512345".into(),
            tag,
            sent_at: at,
        }
    }

    #[test]
    fn newest_first_per_channel_within_an_hour() {
        let t0 = Instant::now();
        let mut l = SentLedger::new(Duration::from_secs(3600), 100);
        l.record(sent("a", 7, 1, t0));
        l.record(sent("b", 7, 2, t0 + Duration::from_secs(1)));
        l.record(sent("a", 7, 3, t0 + Duration::from_secs(2)));
        let now = t0 + Duration::from_secs(3);
        assert_eq!(l.find("a", 7, now).map(|e| e.tag), Some(3));
        assert_eq!(l.find("b", 7, now).map(|e| e.tag), Some(2));
        assert_eq!(l.find("a", 8, now), None);
        assert_eq!(l.find("b", 7, t0 + Duration::from_secs(3601)), None);
    }

    #[test]
    fn bounded() {
        let t0 = Instant::now();
        let mut l = SentLedger::new(Duration::from_secs(3600), 10);
        for i in 0..100 {
            l.record(sent("a", i, i, t0));
        }
        assert_eq!(l.len(), 10);
    }
}
