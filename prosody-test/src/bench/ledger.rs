//! The one place every part of a benchmark run writes what it saw: the
//! simulated GoIP channels (RECEIVEs acked, SMS handed to the "network"),
//! the XMPP users (messages delivered, errors) and the ceiling's trivial
//! component. The scenario reads the figures from it.
//!
//! Every message has a unique text, entered with [`Ledger::begin`] when it
//! enters the system (the GoIP's first RECEIVE, the user's stanza); each
//! arrival is matched by that text, so a message counts once however often
//! it arrives, a second arrival is a duplicate, and a text nobody began is a
//! stray. A std mutex: every critical section is a few map operations and
//! none is held across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The shared record of one run (cheap to clone).
#[derive(Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Inner>>,
    /// Per user (and channel) index: how many more outbound messages that
    /// user may have on their way (see [`Ledger::window`]).
    windows: Arc<Mutex<HashMap<usize, Arc<Semaphore>>>>,
}

#[derive(Default)]
struct Inner {
    /// When each message entered the system, by text.
    begun: HashMap<String, Instant>,
    /// How often each message arrived at its end.
    arrived: HashMap<String, u32>,
    first_begin: Option<Instant>,
    last_arrival: Option<Instant>,
    /// GoIP side: RECEIVE sent → its `OK`.
    ack_latency: Vec<Duration>,
    /// Entered → arrived at the far end (user or GoIP).
    end_to_end: Vec<Duration>,
    counts: Counts,
    /// Commands the simulated GoIP did not expect, the first few.
    odd_commands: Vec<String>,
}

/// Everything counted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages entered.
    pub begun: u64,
    /// Distinct messages that arrived.
    pub delivered: u64,
    /// Arrivals of a message that had arrived already.
    pub duplicates: u64,
    /// Arrivals of a text nobody entered.
    pub strays: u64,
    /// RECEIVEs sent (each message once, resends not counted).
    pub receives: u64,
    /// RECEIVEs acked `OK`.
    pub acked: u64,
    /// RECEIVEs answered with an error.
    pub refused: u64,
    /// RECEIVEs sent again (no ack within the GoIP's 3 s).
    pub retransmits: u64,
    /// RECEIVEs the GoIP gave up on (no ack after its retransmissions).
    pub given_up: u64,
    /// Error stanzas the users received.
    pub errors: u64,
    /// An SMS session opened while another was still open on that channel.
    pub serial_violations: u64,
    /// A SEND repeated within a session (the GoIP answers with the status).
    pub repeated_sends: u64,
    /// Keepalives sent and acked with status 200.
    pub keepalives_sent: u64,
    pub keepalives_acked: u64,
    /// Channels whose first keepalive (after being told to start) was acked.
    pub registered: u64,
    /// Datagrams from goippy the simulated GoIP did not expect.
    pub odd_commands: u64,
}

/// What [`Ledger::snapshot`] reports.
#[derive(Debug, Clone)]
pub struct Figures {
    pub counts: Counts,
    /// From the first message entered to the last arrival.
    pub span: Option<Duration>,
    pub ack_latency: Percentiles,
    pub end_to_end: Percentiles,
    pub odd_commands: Vec<String>,
}

/// p50 and p99 of a set of durations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        // Nearest rank: the smallest value at or above the fraction.
        let rank = |q: f64| {
            let n = sorted.len();
            (n > 0).then(|| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1])
        };
        Percentiles {
            p50: rank(0.50),
            p99: rank(0.99),
            max: sorted.last().copied(),
        }
    }
}

/// How many odd commands are kept as examples.
const ODD_KEPT: usize = 8;

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets everything (between scenarios); windows stay.
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// A message enters the system now.
    pub fn begin(&self, text: &str) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.begun.insert(text.to_string(), now).is_none() {
            inner.counts.begun += 1;
        }
        inner.first_begin.get_or_insert(now);
    }

    /// A message arrived at its end (a user, the GoIP's SEND, the ceiling's
    /// component); true when it is the first arrival of a known message.
    pub fn arrived(&self, text: &str) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(&begun) = inner.begun.get(text) else {
            inner.counts.strays += 1;
            return false;
        };
        let seen = inner.arrived.entry(text.to_string()).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            inner.counts.duplicates += 1;
            return false;
        }
        inner.counts.delivered += 1;
        inner.end_to_end.push(now - begun);
        inner.last_arrival = Some(now);
        true
    }

    pub fn acked(&self, latency: Duration) {
        let mut inner = self.lock();
        inner.counts.acked += 1;
        inner.ack_latency.push(latency);
    }

    /// Counts one more of a kind.
    pub fn count(&self, what: impl FnOnce(&mut Counts)) {
        what(&mut self.lock().counts);
    }

    pub fn odd_command(&self, datagram: &str) {
        let mut inner = self.lock();
        inner.counts.odd_commands += 1;
        if inner.odd_commands.len() < ODD_KEPT {
            inner
                .odd_commands
                .push(datagram.chars().take(120).collect());
        }
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    pub fn snapshot(&self) -> Figures {
        let inner = self.lock();
        Figures {
            counts: inner.counts,
            span: inner
                .first_begin
                .zip(inner.last_arrival)
                .map(|(first, last)| last - first),
            ack_latency: Percentiles::of(&inner.ack_latency),
            end_to_end: Percentiles::of(&inner.end_to_end),
            odd_commands: inner.odd_commands.clone(),
        }
    }

    /// The outbound window of user (and channel) `index`: a user takes a
    /// permit for each message it sends, and the message's arrival gives it
    /// back ([`Ledger::release`]), so at most `size` are on their way.
    pub fn window(&self, index: usize, size: usize) -> Arc<Semaphore> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows
            .entry(index)
            .or_insert_with(|| Arc::new(Semaphore::new(size)))
            .clone()
    }

    /// One of user `index`'s messages arrived: room for the next.
    pub fn release(&self, index: usize) {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = windows.get(&index) {
            window.add_permits(1);
        }
    }

    /// Drops every window (the next scenario sizes its own).
    pub fn clear_windows(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_message_once_and_names_the_rest() {
        let ledger = Ledger::new();
        ledger.begin("a");
        ledger.begin("b");
        assert!(ledger.arrived("a"));
        assert!(!ledger.arrived("a"));
        assert!(!ledger.arrived("zzz"));
        let c = ledger.counts();
        assert_eq!((c.begun, c.delivered, c.duplicates, c.strays), (2, 1, 1, 1));
        ledger.reset();
        assert_eq!(ledger.counts(), Counts::default());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(
            (p.p50, p.p99, p.max),
            (Some(ms(50)), Some(ms(99)), Some(ms(100)))
        );
        assert!(Percentiles::of(&[]).p50.is_none());
        assert_eq!(Percentiles::of(&[ms(7)]).p99, Some(ms(7)));
    }
}
