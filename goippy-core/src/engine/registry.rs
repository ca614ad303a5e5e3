//! The channels the engine has heard from: where each one is, when it last
//! sent a keepalive, what that keepalive said, and whether it is online.
//!
//! Keyed by GoIP id, because the id *is* the channel
//! (docs/goip-protocol.md#channels):
//! every line of a multi-channel GoIP registers on its own. Only
//! authenticated channels ever get an entry, so unknown senders cost no
//! memory, and the number of entries is bounded by the configured channels.
//!
//! Addresses follow the device: every authenticated packet updates the
//! address commands are sent to (NAT rebinding, DHCP), but only a keepalive
//! makes a channel online. A [`watch`] per channel lets a waiting job wake the
//! moment its channel comes back, without polling.
//!
//! Every change of what [`ChannelRegistry::info`] shows (a keepalive, a move,
//! going offline) is numbered, so a reader that looks often (the alert
//! monitor, once a second) asks only for the channels changed since its
//! last look instead of copying every one of a thousand channels each time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::goip::Keepalive;
use crate::util::lock;

/// Whether commands can be sent to a channel, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Offline,
    Online(SocketAddr),
}

impl Presence {
    pub fn is_online(&self) -> bool {
        matches!(self, Presence::Online(_))
    }
}

/// A snapshot of one channel, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub goip_id: String,
    /// The source address of its latest authenticated packet.
    pub addr: Option<SocketAddr>,
    pub online: bool,
    /// When it last went online or offline.
    pub since: SystemTime,
    pub last_keepalive: Option<SystemTime>,
    /// The fields of its latest keepalive (shared with the keepalive event
    /// that carried them).
    pub keepalive: Option<Arc<Keepalive>>,
}

/// What a keepalive changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepaliveChange {
    /// The channel was offline (or never seen) and is online now.
    CameOnline,
    /// Still online, but from another address.
    Moved {
        from: SocketAddr,
    },
    Unchanged,
}

struct Entry {
    presence: watch::Sender<Presence>,
    addr: Option<SocketAddr>,
    last_keepalive: Option<(Instant, SystemTime)>,
    keepalive: Option<Arc<Keepalive>>,
    since: SystemTime,
    /// The number of its latest change ([`ChannelRegistry::changed_since`]).
    changed: u64,
}

impl Entry {
    fn new() -> Self {
        Entry {
            presence: watch::Sender::new(Presence::Offline),
            addr: None,
            last_keepalive: None,
            keepalive: None,
            since: SystemTime::now(),
            changed: 0,
        }
    }

    fn info(&self, goip_id: &str) -> ChannelInfo {
        ChannelInfo {
            goip_id: goip_id.to_owned(),
            addr: self.addr,
            online: self.presence.borrow().is_online(),
            since: self.since,
            last_keepalive: self.last_keepalive.map(|(_, wall)| wall),
            keepalive: self.keepalive.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct ChannelRegistry {
    channels: Mutex<HashMap<String, Entry>>,
    /// The number of the latest change; only advanced while `channels` is
    /// locked, so a change and its number are seen together.
    changes: AtomicU64,
}

impl ChannelRegistry {
    /// Numbers a change of `entry` (the caller holds the lock).
    fn mark_changed(changes: &AtomicU64, entry: &mut Entry) {
        entry.changed = changes.fetch_add(1, Ordering::Relaxed) + 1;
    }

    /// Records an authenticated keepalive from `addr`.
    pub(crate) fn keepalive(
        &self,
        goip_id: &str,
        addr: SocketAddr,
        keepalive: Arc<Keepalive>,
        now: Instant,
    ) -> KeepaliveChange {
        let mut channels = lock(&self.channels);
        let entry = match channels.get_mut(goip_id) {
            Some(entry) => entry,
            None => channels
                .entry(goip_id.to_owned())
                .or_insert_with(Entry::new),
        };
        let before = *entry.presence.borrow();
        entry.addr = Some(addr);
        entry.last_keepalive = Some((now, SystemTime::now()));
        entry.keepalive = Some(keepalive);
        Self::mark_changed(&self.changes, entry);
        match before {
            Presence::Online(old) if old == addr => KeepaliveChange::Unchanged,
            Presence::Online(old) => {
                entry.presence.send_replace(Presence::Online(addr));
                KeepaliveChange::Moved { from: old }
            }
            Presence::Offline => {
                entry.presence.send_replace(Presence::Online(addr));
                entry.since = SystemTime::now();
                KeepaliveChange::CameOnline
            }
        }
    }

    /// Records the source of any other authenticated packet: commands follow
    /// it. Returns the previous address when it changed. Channels without an
    /// entry are not added (only a keepalive does that).
    pub(crate) fn seen_at(&self, goip_id: &str, addr: SocketAddr) -> Option<SocketAddr> {
        let mut channels = lock(&self.channels);
        let entry = channels.get_mut(goip_id)?;
        let old = entry.addr.replace(addr);
        if old == Some(addr) {
            return None;
        }
        Self::mark_changed(&self.changes, entry);
        if entry.presence.borrow().is_online() {
            entry.presence.send_replace(Presence::Online(addr));
        }
        old
    }

    /// Marks offline every online channel whose last keepalive is older than
    /// `offline_after`; returns them with how long they have been silent.
    pub(crate) fn sweep(&self, now: Instant, offline_after: Duration) -> Vec<(String, Duration)> {
        let mut gone = Vec::new();
        for (goip_id, entry) in lock(&self.channels).iter_mut() {
            if !entry.presence.borrow().is_online() {
                continue;
            }
            let silent_for = entry
                .last_keepalive
                .map(|(at, _)| now.saturating_duration_since(at))
                .unwrap_or(Duration::MAX);
            if silent_for >= offline_after {
                entry.presence.send_replace(Presence::Offline);
                entry.since = SystemTime::now();
                Self::mark_changed(&self.changes, entry);
                gone.push((goip_id.clone(), silent_for));
            }
        }
        gone
    }

    /// A watch on the channel's presence. Creates an (offline) entry for a
    /// channel not heard from yet: the caller has checked it is configured.
    pub(crate) fn watch(&self, goip_id: &str) -> watch::Receiver<Presence> {
        let mut channels = lock(&self.channels);
        let entry = channels
            .entry(goip_id.to_owned())
            .or_insert_with(Entry::new);
        entry.presence.subscribe()
    }

    /// Where to send a command now; `None` while the channel is offline.
    pub(crate) fn online_address(&self, goip_id: &str) -> Option<SocketAddr> {
        match *lock(&self.channels).get(goip_id)?.presence.borrow() {
            Presence::Online(addr) => Some(addr),
            Presence::Offline => None,
        }
    }

    /// The channel's last known address, online or not (replies are checked
    /// against it).
    pub(crate) fn last_address(&self, goip_id: &str) -> Option<SocketAddr> {
        lock(&self.channels).get(goip_id)?.addr
    }

    pub(crate) fn info(&self, goip_id: &str) -> Option<ChannelInfo> {
        lock(&self.channels)
            .get(goip_id)
            .filter(|e| e.addr.is_some())
            .map(|e| e.info(goip_id))
    }

    /// The channels whose [`ChannelRegistry::info`] changed after change
    /// number `after` (0: every channel heard from), unsorted, with the
    /// number to pass next time.
    pub(crate) fn changed_since(&self, after: u64) -> (u64, Vec<ChannelInfo>) {
        let channels = lock(&self.channels);
        let latest = self.changes.load(Ordering::Relaxed);
        if latest == after {
            return (latest, Vec::new());
        }
        let changed = channels
            .iter()
            .filter(|(_, e)| e.changed > after && e.addr.is_some())
            .map(|(id, e)| e.info(id))
            .collect();
        (latest, changed)
    }

    /// Every channel that has sent an authenticated packet, sorted by id.
    pub(crate) fn snapshot(&self) -> Vec<ChannelInfo> {
        let mut all: Vec<ChannelInfo> = lock(&self.channels)
            .iter()
            .filter(|(_, e)| e.addr.is_some())
            .map(|(id, e)| e.info(id))
            .collect();
        all.sort_by(|a, b| a.goip_id.cmp(&b.goip_id));
        all
    }

    /// (entries, online entries).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let channels = lock(&self.channels);
        let online = channels
            .values()
            .filter(|e| e.presence.borrow().is_online())
            .count();
        (channels.len(), online)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn online_moved_offline_online() {
        let r = ChannelRegistry::default();
        let t0 = Instant::now();
        let mut w = r.watch("g1");
        assert_eq!(*w.borrow_and_update(), Presence::Offline);
        assert_eq!(r.info("g1"), None, "never heard from");
        let k = || Arc::new(Keepalive::default());
        assert_eq!(
            r.keepalive("g1", addr(1), k(), t0),
            KeepaliveChange::CameOnline
        );
        assert!(w.has_changed().unwrap());
        assert_eq!(*w.borrow_and_update(), Presence::Online(addr(1)));
        assert_eq!(
            r.keepalive("g1", addr(1), k(), t0),
            KeepaliveChange::Unchanged
        );
        assert_eq!(
            r.keepalive("g1", addr(2), k(), t0),
            KeepaliveChange::Moved { from: addr(1) }
        );
        assert_eq!(r.online_address("g1"), Some(addr(2)));
        // Another authenticated packet moves it too.
        assert_eq!(r.seen_at("g1", addr(3)), Some(addr(2)));
        assert_eq!(r.online_address("g1"), Some(addr(3)));
        assert_eq!(r.seen_at("g1", addr(3)), None);
        // ... but does not create channels.
        assert_eq!(r.seen_at("g2", addr(3)), None);
        assert_eq!(r.counts(), (1, 1));

        let later = t0 + Duration::from_secs(91);
        assert!(
            r.sweep(t0 + Duration::from_secs(89), Duration::from_secs(90))
                .is_empty()
        );
        let gone = r.sweep(later, Duration::from_secs(90));
        assert_eq!(gone, vec![("g1".to_owned(), Duration::from_secs(91))]);
        assert!(
            r.sweep(later, Duration::from_secs(90)).is_empty(),
            "only once"
        );
        assert_eq!(r.online_address("g1"), None);
        assert_eq!(r.last_address("g1"), Some(addr(3)));
        assert_eq!(
            r.keepalive("g1", addr(3), k(), later),
            KeepaliveChange::CameOnline
        );
        let info = r.info("g1").unwrap();
        assert!(info.online && info.keepalive.is_some() && info.last_keepalive.is_some());
        assert_eq!(r.snapshot().len(), 1);
    }

    #[test]
    fn changed_since_returns_only_what_changed() {
        let r = ChannelRegistry::default();
        let t0 = Instant::now();
        let k = || Arc::new(Keepalive::default());
        let _ = r.watch("silent");
        assert_eq!(r.changed_since(0), (0, vec![]), "a watch is no change");
        r.keepalive("g1", addr(1), k(), t0);
        r.keepalive("g2", addr(2), k(), t0);
        let (seen, changed) = r.changed_since(0);
        let mut ids: Vec<&str> = changed.iter().map(|c| c.goip_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["g1", "g2"]);
        assert_eq!(r.changed_since(seen), (seen, vec![]), "nothing since");

        // A keepalive, a move and going offline are each a change.
        r.keepalive("g2", addr(2), k(), t0);
        let (seen, changed) = r.changed_since(seen);
        assert_eq!(changed, vec![r.info("g2").unwrap()]);
        assert_eq!(r.seen_at("g1", addr(3)), Some(addr(1)));
        let (seen, changed) = r.changed_since(seen);
        assert_eq!(changed, vec![r.info("g1").unwrap()]);
        assert_eq!(r.seen_at("g1", addr(3)), None);
        assert_eq!(
            r.changed_since(seen).1,
            vec![],
            "the same address: no change"
        );
        r.keepalive("g1", addr(3), k(), t0 + Duration::from_secs(60));
        let (seen, _) = r.changed_since(seen);
        let gone = r.sweep(t0 + Duration::from_secs(91), Duration::from_secs(90));
        assert_eq!(gone.len(), 1);
        let (_, changed) = r.changed_since(seen);
        assert_eq!(changed.len(), 1);
        assert!(changed[0].goip_id == "g2" && !changed[0].online);
    }
}
