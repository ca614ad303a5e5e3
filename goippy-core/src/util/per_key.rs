//! Counters kept per key (a GoIP channel's id), for the metrics: bumped on
//! the hot path, read whole at scrape time.
//!
//! The first event of a key allocates its counters (and the key) once;
//! every later one takes a shared read lock for the lookup and bumps a
//! relaxed atomic — no allocation, no exclusive lock, nothing that waits on
//! a scrape for longer than the scrape's copy of the key list. Callers only
//! pass keys that are already bounded (authenticated or configured
//! channels), so the map cannot be grown by strangers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{read_lock, write_lock};

/// A `C` (a struct of atomics) per key.
#[derive(Debug)]
pub struct PerKey<C> {
    map: RwLock<HashMap<String, Arc<C>>>,
}

impl<C> Default for PerKey<C> {
    fn default() -> Self {
        PerKey {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<C: Default> PerKey<C> {
    /// Runs `f` on the key's counters, creating them the first time.
    pub fn with(&self, key: &str, f: impl FnOnce(&C)) {
        if let Some(counters) = read_lock(&self.map).get(key) {
            f(counters);
            return;
        }
        let counters = Arc::clone(
            write_lock(&self.map)
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(C::default())),
        );
        f(&counters);
    }

    /// Every key with its counters, sorted by key.
    pub fn snapshot(&self) -> Vec<(String, Arc<C>)> {
        let mut all: Vec<(String, Arc<C>)> = read_lock(&self.map)
            .iter()
            .map(|(k, c)| (k.clone(), Arc::clone(c)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn counts_per_key() {
        let per: PerKey<AtomicU64> = PerKey::default();
        per.with("b", |c| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        per.with("a", |c| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        per.with("b", |c| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        let seen: Vec<(String, u64)> = per
            .snapshot()
            .into_iter()
            .map(|(k, c)| (k, c.load(Ordering::Relaxed)))
            .collect();
        assert_eq!(seen, vec![("a".to_owned(), 1), ("b".to_owned(), 2)]);
    }
}
