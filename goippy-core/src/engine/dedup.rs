//! Recognising retransmissions: a GoIP that misses an ack sends the same
//! notification again (every 3 s, up to 3 more times), and its recvid comes
//! from its clock, so it is not unique across events on its own.
//!
//! A [`DedupCache`] remembers (channel, tag, recvid, hash of the body) for a
//! time window. It is bounded twice — by age and by a hard count — so no
//! amount of traffic can grow it without limit; only authenticated channels
//! ever enter it, so unknown senders cost nothing. Persistence across
//! restarts is the consumer's job (the store keeps the same key under a
//! unique index); this cache only spares the consumer the obvious repeats.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::goip::NotificationKind;

/// The identity of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey {
    pub goip_id: String,
    pub tag: String,
    pub recvid: String,
    pub body_hash: u64,
}

impl DedupKey {
    pub fn new(goip_id: &str, tag: &str, recvid: &str, body: &[u8]) -> Self {
        DedupKey {
            goip_id: goip_id.to_string(),
            tag: tag.to_string(),
            recvid: recvid.to_string(),
            body_hash: body_hash(body),
        }
    }
}

/// A stable 64-bit hash of a message body: the first 8 bytes of its SHA-256.
/// The store persists it, so it must be the same in every run, build and
/// Rust version (which rules out `std`'s `DefaultHasher`).
pub fn body_hash(body: &[u8]) -> u64 {
    let digest = Sha256::digest(body);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The part of a notification that tells two events with the same recvid
/// apart, for [`DedupKey::body_hash`].
///
/// For the messages the store keeps (RECEIVE, DELIVER, USSN) it is spelled
/// out field by field, NUL-separated, because the store persists the hash:
/// it must stay the same across versions. The other kinds are only ever
/// deduplicated in memory, so their `Debug` form is enough. Never the
/// password: a hash over it could be brute-forced from the database.
pub(crate) fn notification_body(kind: &NotificationKind) -> Vec<u8> {
    let parts: Vec<&str> = match kind {
        NotificationKind::Receive(r) => vec![
            r.srcnum.as_str(),
            r.smscnum.as_deref().unwrap_or(""),
            r.msg.as_str(),
        ],
        NotificationKind::Deliver(d) => {
            return format!(
                "{}\0{}\0{}",
                d.sms_no,
                d.state,
                d.num.as_deref().unwrap_or("")
            )
            .into_bytes();
        }
        NotificationKind::Ussn(u) => vec![u.msg.as_str()],
        other => return format!("{other:?}").into_bytes(),
    };
    parts.join("\0").into_bytes()
}

/// A time- and size-bounded set of recently seen keys.
#[derive(Debug)]
pub struct DedupCache {
    window: Duration,
    capacity: usize,
    seen: HashSet<DedupKey>,
    order: VecDeque<(Instant, DedupKey)>,
}

impl DedupCache {
    pub fn new(window: Duration, capacity: usize) -> Self {
        DedupCache {
            window,
            capacity: capacity.max(1),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` was recorded within the window.
    pub fn contains(&mut self, key: &DedupKey, now: Instant) -> bool {
        self.expire(now);
        self.seen.contains(key)
    }

    /// Records `key` as handled. Returns false when it was already there.
    pub fn insert(&mut self, key: DedupKey, now: Instant) -> bool {
        self.expire(now);
        if self.seen.contains(&key) {
            return false;
        }
        while self.order.len() >= self.capacity {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back((now, key));
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Forgets what is older than the window, even without new traffic.
    pub fn purge(&mut self, now: Instant) {
        self.expire(now);
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.seen.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(recvid: &str, body: &str) -> DedupKey {
        DedupKey::new("goip-1", "RECEIVE", recvid, body.as_bytes())
    }

    #[test]
    fn repeats_within_the_window_are_recognised() {
        let t0 = Instant::now();
        let mut c = DedupCache::new(Duration::from_secs(600), 100);
        assert!(!c.contains(&key("1", "hi"), t0));
        assert!(c.insert(key("1", "hi"), t0));
        assert!(c.contains(&key("1", "hi"), t0 + Duration::from_secs(12)));
        assert!(!c.insert(key("1", "hi"), t0 + Duration::from_secs(12)));
        // Same recvid, other body: another message (recvids come from a clock).
        assert!(!c.contains(&key("1", "ho"), t0));
        // Another channel with the same recvid and body is another message too.
        assert!(!c.contains(&DedupKey::new("goip-2", "RECEIVE", "1", b"hi"), t0));
    }

    #[test]
    fn entries_expire() {
        let t0 = Instant::now();
        let mut c = DedupCache::new(Duration::from_secs(10), 100);
        c.insert(key("1", "a"), t0);
        assert!(!c.contains(&key("1", "a"), t0 + Duration::from_secs(10)));
        assert!(c.is_empty());
    }

    #[test]
    fn the_cache_is_bounded() {
        let t0 = Instant::now();
        let mut c = DedupCache::new(Duration::from_secs(600), 1000);
        for i in 0..10_000 {
            c.insert(key(&i.to_string(), "x"), t0);
        }
        assert_eq!(c.len(), 1000);
        assert!(c.contains(&key("9999", "x"), t0));
        assert!(!c.contains(&key("0", "x"), t0));
    }

    #[test]
    fn persisted_bodies_are_spelled_out() {
        use crate::goip::{Notification, Packet, parse_packet};
        let kind = |wire: &str| match parse_packet(wire.as_bytes()) {
            Ok(Packet::Notification(Notification { kind, .. })) => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            notification_body(&kind("RECEIVE:1;id:g;password:p;srcnum:+1;msg:a;b")),
            b"+1\0\0a;b"
        );
        assert_eq!(
            notification_body(&kind("DELIVER:1;id:g;password:p;sms_no:7;state:0")),
            b"7\x000\x00"
        );
        assert_eq!(
            notification_body(&kind("USSN:1;id:g;password:p;msg:hi")),
            b"hi"
        );
        let other = notification_body(&kind("STATE:1;id:g;password:secret;gsm_remain_state:IDLE"));
        assert!(!String::from_utf8_lossy(&other).contains("secret"));
    }

    #[test]
    fn body_hash_is_stable() {
        // Persisted by the store: it must not change between runs or builds.
        // SHA-256("hello") = 2cf24dba5fb0a30e…
        assert_eq!(body_hash(b"hello"), 0x2cf2_4dba_5fb0_a30e);
        assert_ne!(body_hash(b"hello"), body_hash(b"hellO"));
    }
}
