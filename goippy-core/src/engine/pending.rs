//! Routing replies to the job waiting for them.
//!
//! A reply (`PASSWORD 11`, `OK 11 1 160`, `USSD 12 Balance …`) carries no
//! channel id and no password — only the sendid the engine chose. The
//! engine's sendids are unique across all channels, so the sendid alone finds
//! the [`Exchange`] waiting for it; the receive loop also checks that the
//! reply came from that channel's address, since anyone can forge one.
//!
//! A reply can also arrive after its job gave up: a USSD answer after the
//! timeout, or an SMS result after the recipient ended Unknown. Those are
//! worth reporting, so finished exchanges of those kinds are remembered for a
//! while, bounded in number and age.
//!
//! A new exchange gets a sendid that is neither open, nor remembered, nor
//! among the last [`RECENTLY_USED`] handed out ([`PendingReplies::open_new`]),
//! so a late reply to an old exchange never reaches a new one. Everything
//! here is keyed by the engine's own sendids and configured channel ids;
//! nothing a sender chooses is stored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use super::request::MessageRef;
use crate::goip::Reply;
use crate::util::lock;

/// Replies one exchange may have waiting before more are dropped; a GoIP
/// sends a handful per exchange.
const REPLY_QUEUE: usize = 16;

/// How many of the latest sendids a new exchange avoids (4 bytes each, twice).
pub(crate) const RECENTLY_USED: usize = 4096;

/// How often [`PendingReplies::open_new`] draws again when a candidate is in
/// use. Random 31-bit ids collide with a few thousand in use about once in
/// half a million draws; USSD candidates only grow.
const MAX_DRAWS: usize = 64;

struct Open {
    goip_id: String,
    tx: mpsc::Sender<Reply>,
    /// Which [`Exchange`] registered it.
    token: u64,
}

/// A finished exchange that may still get a reply worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finished {
    /// A USSD request that timed out.
    Ussd { goip_id: String },
    /// An SMS session with recipients that ended Unknown: `(telid, number)`.
    Sms {
        goip_id: String,
        message_ref: MessageRef,
        unknown: Vec<(u32, String)>,
    },
}

impl Finished {
    fn goip_id(&self) -> &str {
        match self {
            Finished::Ussd { goip_id } | Finished::Sms { goip_id, .. } => goip_id,
        }
    }
}

/// Where a reply goes.
pub(crate) enum Route {
    /// To a running exchange of this channel.
    Open {
        goip_id: String,
        tx: mpsc::Sender<Reply>,
    },
    /// To a finished exchange of this channel (a late reply).
    Late { goip_id: String, ussd: bool },
    /// Nowhere: no exchange with this sendid is known.
    Unknown,
}

/// A late SMS result for a recipient that had ended Unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LateRecipient {
    pub goip_id: String,
    pub recipient: String,
    pub message_ref: MessageRef,
}

#[derive(Default)]
struct Inner {
    next_token: u64,
    open: HashMap<u32, Open>,
    recent: HashMap<u32, Finished>,
    order: VecDeque<(Instant, u32)>,
    /// The latest sendids handed out, oldest first, and the same as a set.
    used: VecDeque<u32>,
    used_set: HashSet<u32>,
}

impl Inner {
    fn in_use(&self, sendid: u32) -> bool {
        self.open.contains_key(&sendid)
            || self.recent.contains_key(&sendid)
            || self.used_set.contains(&sendid)
    }

    fn mark_used(&mut self, sendid: u32) {
        if !self.used_set.insert(sendid) {
            return;
        }
        self.used.push_back(sendid);
        while self.used.len() > RECENTLY_USED {
            if let Some(old) = self.used.pop_front() {
                self.used_set.remove(&old);
            }
        }
    }
}

pub(crate) struct PendingReplies {
    inner: Mutex<Inner>,
    capacity: usize,
    max_age: Duration,
}

impl PendingReplies {
    /// Remembers at most `capacity` finished exchanges, each for `max_age`.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        PendingReplies {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            max_age,
        }
    }

    /// Starts a new exchange for `goip_id`, with the first sendid
    /// `candidate` offers that is not in use (open, remembered, or among the
    /// latest handed out).
    pub(crate) fn open_new(
        self: &Arc<Self>,
        goip_id: &str,
        mut candidate: impl FnMut() -> u32,
    ) -> Exchange {
        let mut inner = lock(&self.inner);
        let mut sendid = candidate();
        for _ in 0..MAX_DRAWS {
            if !inner.in_use(sendid) {
                break;
            }
            sendid = candidate();
        }
        self.insert(&mut inner, sendid, goip_id)
    }

    /// Starts waiting for replies with exactly `sendid` from `goip_id`.
    #[cfg(test)]
    pub(crate) fn open(self: &Arc<Self>, sendid: u32, goip_id: &str) -> Exchange {
        let mut inner = lock(&self.inner);
        self.insert(&mut inner, sendid, goip_id)
    }

    fn insert(self: &Arc<Self>, inner: &mut Inner, sendid: u32, goip_id: &str) -> Exchange {
        let (tx, rx) = mpsc::channel(REPLY_QUEUE);
        inner.mark_used(sendid);
        inner.next_token += 1;
        let token = inner.next_token;
        inner.open.insert(
            sendid,
            Open {
                goip_id: goip_id.to_owned(),
                tx,
                token,
            },
        );
        Exchange {
            table: self.clone(),
            sendid,
            token,
            rx,
        }
    }

    /// Where a reply with this sendid should go.
    pub(crate) fn route(&self, sendid: u32, now: Instant) -> Route {
        let mut inner = lock(&self.inner);
        if let Some(open) = inner.open.get(&sendid) {
            return Route::Open {
                goip_id: open.goip_id.clone(),
                tx: open.tx.clone(),
            };
        }
        self.expire(&mut inner, now);
        match inner.recent.get(&sendid) {
            Some(finished) => Route::Late {
                goip_id: finished.goip_id().to_owned(),
                ussd: matches!(finished, Finished::Ussd { .. }),
            },
            None => Route::Unknown,
        }
    }

    /// Remembers a finished exchange for late replies.
    pub(crate) fn remember(&self, sendid: u32, finished: Finished, now: Instant) {
        let mut inner = lock(&self.inner);
        self.expire(&mut inner, now);
        while inner.order.len() >= self.capacity {
            if let Some((_, old)) = inner.order.pop_front() {
                inner.recent.remove(&old);
            }
        }
        if inner.recent.insert(sendid, finished).is_none() {
            inner.order.push_back((now, sendid));
        }
    }

    /// The recipient a late SMS result is about, once: a second copy of the
    /// same result finds nothing.
    pub(crate) fn take_late_recipient(&self, sendid: u32, telid: u32) -> Option<LateRecipient> {
        let mut inner = lock(&self.inner);
        let Some(Finished::Sms {
            goip_id,
            message_ref,
            unknown,
        }) = inner.recent.get_mut(&sendid)
        else {
            return None;
        };
        let index = unknown.iter().position(|(t, _)| *t == telid)?;
        let (_, recipient) = unknown.swap_remove(index);
        Some(LateRecipient {
            goip_id: goip_id.clone(),
            recipient,
            message_ref: *message_ref,
        })
    }

    /// Forgets what is too old, even without traffic.
    pub(crate) fn purge(&self, now: Instant) {
        let mut inner = lock(&self.inner);
        self.expire(&mut inner, now);
    }

    /// (open exchanges, remembered finished ones).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let inner = lock(&self.inner);
        (inner.open.len(), inner.recent.len())
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        while let Some((at, sendid)) = inner.order.front().copied() {
            if now.saturating_duration_since(at) < self.max_age {
                break;
            }
            inner.order.pop_front();
            inner.recent.remove(&sendid);
        }
    }

    fn close(&self, sendid: u32, token: u64) {
        let mut inner = lock(&self.inner);
        // Only our own entry: never one a later exchange registered.
        if inner.open.get(&sendid).is_some_and(|o| o.token == token) {
            inner.open.remove(&sendid);
        }
    }
}

/// What waiting for a reply ended with.
#[derive(Debug)]
pub(crate) enum Waited {
    Reply(Reply),
    TimedOut,
    /// The engine is shutting down.
    Stopping,
}

/// One sendid's replies, for as long as the job holds it.
pub(crate) struct Exchange {
    table: Arc<PendingReplies>,
    sendid: u32,
    token: u64,
    rx: mpsc::Receiver<Reply>,
}

impl Exchange {
    pub(crate) fn sendid(&self) -> u32 {
        self.sendid
    }

    /// The next reply, unless `deadline` passes first — or, when `stop` is
    /// given, the engine starts shutting down.
    pub(crate) async fn next(
        &mut self,
        deadline: Instant,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> Waited {
        let stopping = async {
            match stop {
                // An engine that is gone is stopping too.
                Some(stop) => drop(stop.wait_for(|s| *s).await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            reply = self.rx.recv() => match reply {
                Some(reply) => Waited::Reply(reply),
                // The table never drops an open sender before the exchange.
                None => Waited::Stopping,
            },
            () = sleep_until(deadline.into()) => Waited::TimedOut,
            () = stopping => Waited::Stopping,
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.table.close(self.sendid, self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_reach_their_exchange_until_it_ends() {
        let table = Arc::new(PendingReplies::new(10, Duration::from_secs(60)));
        let now = Instant::now();
        let mut ex = table.open(7, "g1");
        let Route::Open { goip_id, tx } = table.route(7, now) else {
            panic!("open")
        };
        assert_eq!(goip_id, "g1");
        tx.try_send(Reply::Done { sendid: 7 }).unwrap();
        assert!(matches!(
            ex.next(now + Duration::from_secs(1), None).await,
            Waited::Reply(Reply::Done { sendid: 7 })
        ));
        assert!(matches!(
            ex.next(Instant::now() + Duration::from_millis(10), None)
                .await,
            Waited::TimedOut
        ));
        let stop = watch::Sender::new(false);
        let mut stop_rx = stop.subscribe();
        stop.send_replace(true);
        assert!(matches!(
            ex.next(Instant::now() + Duration::from_secs(5), Some(&mut stop_rx))
                .await,
            Waited::Stopping
        ));
        // A later exchange that reuses the sendid is not closed by the old one.
        let newer = table.open(7, "g1");
        drop(ex);
        assert!(matches!(table.route(7, now), Route::Open { .. }));
        drop(newer);
        assert!(matches!(table.route(7, now), Route::Unknown));
        assert_eq!(table.counts(), (0, 0));
    }

    #[tokio::test]
    async fn a_new_exchange_avoids_sendids_in_use_or_used_recently() {
        let table = Arc::new(PendingReplies::new(10, Duration::from_secs(60)));
        let now = Instant::now();
        let open = table.open(1, "g");
        table.remember(
            2,
            Finished::Ussd {
                goip_id: "g".into(),
            },
            now,
        );
        let finished = table.open(3, "g");
        drop(finished);
        let mut candidates = [1, 2, 3, 4].into_iter();
        let fresh = table.open_new("g", || candidates.next().unwrap_or(99));
        assert_eq!(
            fresh.sendid(),
            4,
            "1 is open, 2 remembered, 3 used just now"
        );
        drop(open);
        // The memory of used ids is bounded.
        for sendid in 100..100 + RECENTLY_USED as u32 {
            drop(table.open(sendid, "g"));
        }
        let again = table.open_new("g", || 3);
        assert_eq!(
            again.sendid(),
            3,
            "forgotten after {RECENTLY_USED} newer ones"
        );
        assert_eq!(lock(&table.inner).used.len(), RECENTLY_USED);
    }

    #[test]
    fn finished_exchanges_are_bounded_and_expire() {
        let table = PendingReplies::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for sendid in 1..=5 {
            table.remember(
                sendid,
                Finished::Ussd {
                    goip_id: "g".into(),
                },
                t0,
            );
        }
        assert_eq!(table.counts(), (0, 3));
        assert!(matches!(table.route(1, t0), Route::Unknown));
        assert!(matches!(table.route(5, t0), Route::Late { ussd: true, .. }));
        table.purge(t0 + Duration::from_secs(60));
        assert_eq!(table.counts(), (0, 0));
    }

    #[test]
    fn a_late_sms_result_is_reported_once() {
        let table = PendingReplies::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        table.remember(
            9,
            Finished::Sms {
                goip_id: "g".into(),
                message_ref: 42,
                unknown: vec![(2, "+1".into())],
            },
            t0,
        );
        assert_eq!(table.take_late_recipient(9, 1), None);
        let late = table.take_late_recipient(9, 2).unwrap();
        assert_eq!((late.recipient.as_str(), late.message_ref), ("+1", 42));
        assert_eq!(table.take_late_recipient(9, 2), None);
    }
}
