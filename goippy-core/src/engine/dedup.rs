//! Recognising retransmissions: a GoIP that misses an ack sends the same
//! notification again (every 3 s, up to 3 more times), and its recvid comes
//! from its clock, so it is not unique across events on its own.
//!
//! **The rule** (the store's `goippy_dedup` lookup applies the same one): a
//! notification is a retransmission when one with the same (channel, tag,
//! recvid, hash of the body) arrived less than the dedup window
//! (`GOIP_DEDUP_WINDOW`, 10 minutes) before it. A GoIP's own resends come
//! within ~12 s; a GoIP without NTP reuses recvids after a reboot, so an
//! identical message (same sender, same text) with a reused recvid after the
//! window is a new message, and is delivered.
//!
//! A [`DedupCache`] applies it in memory. It is bounded twice — by age and
//! by a hard count — and each entry has a fixed size whatever the sender
//! put in the tag or recvid (an 8-byte fingerprint, see [`DedupCache`]), so
//! no traffic can grow it past its byte bound; only authenticated channels
//! ever enter it, so unknown senders cost nothing. Persistence across
//! restarts is the consumer's job (the store keeps the same key under a
//! unique index); this cache only spares the consumer the obvious repeats.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::time::{Duration, Instant};

use crate::goip::NotificationKind;
use crate::util::body_hash;

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

/// What the cache keeps of a [`DedupKey`]: 8 bytes, a SipHash-1-3 of its
/// parts (each length-prefixed) under a key drawn at random when the cache
/// is made (`std`'s `RandomState`). A tag or recvid of 60 KB costs what one
/// of 6 bytes does.
///
/// Why 64 bits cannot make a new message look like a resend in practice:
/// a new notification is taken for a retransmission only if its fingerprint
/// equals one of the at most `capacity` (65,536) remembered, a chance of at
/// most 2^16 / 2^64 = 2^-48 per notification — one expected false match in
/// ~9,000 years at a sustained 1,000 SMS/s. A sender cannot aim for one
/// either: SipHash is a keyed function and the key never leaves the process
/// (the store's own `goippy_dedup` keeps the exact strings).
type Fingerprint = u64;

fn fingerprint(hasher: &RandomState, key: &DedupKey) -> Fingerprint {
    let mut h = hasher.build_hasher();
    for part in [&key.goip_id, &key.tag, &key.recvid] {
        h.write_usize(part.len());
        h.write(part.as_bytes());
    }
    h.write_u64(key.body_hash);
    h.finish()
}

/// The hasher of [`DedupCache::seen`]: a fingerprint is already a keyed
/// hash, uniform in every bit, so hashing it again would only cost time.
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are ever hashed here; fold anything else in anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One remembered notification, in arrival order: when (nanoseconds after
/// [`DedupCache::epoch`], the first time the cache saw) and its fingerprint.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at_nanos: u64,
    fingerprint: Fingerprint,
}

/// A time- and size-bounded set of recently seen keys: at most `capacity`
/// entries, each a fixed 8-byte [`Fingerprint`] whatever the key held. In
/// bytes: a hash-table bucket (8 + 1 control byte, at most ~2.3 buckets per
/// entry after growth) plus a queue slot with its time (16 bytes, at most 2
/// slots per entry) — under 55 bytes an entry, ~3.4 MiB at the default
/// capacity of 65,536 (it was twice that with 16-byte fingerprints and
/// `Instant`s in the queue).
#[derive(Debug)]
pub struct DedupCache {
    window: Duration,
    capacity: usize,
    hasher: RandomState,
    /// What [`Seen::at_nanos`] counts from: the first `now` given.
    epoch: Option<Instant>,
    seen: HashSet<Fingerprint, BuildHasherDefault<PassThrough>>,
    order: VecDeque<Seen>,
}

impl DedupCache {
    pub fn new(window: Duration, capacity: usize) -> Self {
        DedupCache {
            window,
            capacity: capacity.max(1),
            hasher: RandomState::new(),
            epoch: None,
            seen: HashSet::default(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` was recorded within the window.
    pub fn contains(&mut self, key: &DedupKey, now: Instant) -> bool {
        self.purge(now);
        self.seen.contains(&fingerprint(&self.hasher, key))
    }

    /// Records `key` as handled. Returns false when it was already there
    /// (its window still counts from the first time).
    pub fn insert(&mut self, key: DedupKey, now: Instant) -> bool {
        self.purge(now);
        let key = fingerprint(&self.hasher, &key);
        if self.seen.contains(&key) {
            return false;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old.fingerprint);
            }
        }
        self.seen.insert(key);
        let at_nanos = self.nanos(now);
        self.order.push_back(Seen {
            at_nanos,
            fingerprint: key,
        });
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// `now` as nanoseconds after the epoch (set by the first call); 2^64 ns
    /// is 584 years, so it does not wrap.
    fn nanos(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Forgets what is older than the window (also run without new traffic).
    pub fn purge(&mut self, now: Instant) {
        let now = self.nanos(now);
        let window = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        while let Some(front) = self.order.front() {
            if now.saturating_sub(front.at_nanos) < window {
                break;
            }
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old.fingerprint);
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
        assert_eq!(c.len(), 0);
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
    fn a_reused_recvid_after_the_window_is_a_new_message() {
        let t0 = Instant::now();
        let window = Duration::from_secs(600);
        let mut c = DedupCache::new(window, 100);
        assert!(c.insert(key("1734804704", "same text"), t0));
        // The GoIP's own resends, seconds later: recognised, and they do not
        // stretch the window.
        assert!(!c.insert(key("1734804704", "same text"), t0 + Duration::from_secs(9)));
        assert!(c.contains(
            &key("1734804704", "same text"),
            t0 + window - Duration::from_secs(1)
        ));
        // The same recvid and text after the window (a rebooted GoIP
        // without NTP): a new message.
        assert!(!c.contains(&key("1734804704", "same text"), t0 + window));
        assert!(c.insert(key("1734804704", "same text"), t0 + window));
    }

    #[test]
    fn huge_tags_and_recvids_cost_a_fixed_size() {
        let t0 = Instant::now();
        let mut c = DedupCache::new(Duration::from_secs(600), 10);
        let huge = |n: u8| {
            DedupKey::new(
                "goip-1",
                &"T".repeat(60_000),
                &n.to_string().repeat(30_000),
                b"x",
            )
        };
        for n in 0..20 {
            c.insert(huge(n), t0);
        }
        assert_eq!(c.len(), 10);
        assert!(c.contains(&huge(19), t0));
        assert!(!c.contains(&huge(0), t0));
        // What is kept is a fixed-size fingerprint, not the strings.
        assert_eq!(std::mem::size_of::<Fingerprint>(), 8);
        assert_eq!(std::mem::size_of::<Seen>(), 16);
        // Parts are length-prefixed: moving bytes between them makes
        // another key.
        assert!(!c.contains(&DedupKey::new("goip-1", "RECEIVE1", "2", b"x"), t0));
        c.insert(DedupKey::new("goip-1", "RECEIVE", "12", b"x"), t0);
        assert!(!c.contains(&DedupKey::new("goip-1", "RECEIVE1", "2", b"x"), t0));
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
}
