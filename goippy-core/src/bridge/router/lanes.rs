//! Lanes: work that waits on the store runs one item at a time per lane, in
//! arrival order, and different lanes' at the same time.
//!
//! Why: the router used to handle every stanza in turn, each waiting without
//! bound for its store write, so one user's SMS during a database stall (a
//! MariaDB restart, `FLUSH TABLES WITH READ LOCK`, an SQLite write lock held
//! by a VACUUM) froze every user's console, presence and SMS until the lock
//! went. With a lane per sender (the router's key), only that sender's next
//! items wait; and they still enter the outbox in the order they were written.
//!
//! A lane exists while it has work: one item running as its own task, the
//! rest waiting in a FIFO. The dispatcher owns every queue and is the only
//! one to touch them — no lock, and no race between a lane running dry and a
//! new item for it: when an item's task ends, [`Lanes::settle`] starts the
//! lane's next item or closes the lane.
//!
//! Memory is bounded three ways; an item beyond a bound is handed back with
//! the reason ([`Full`]) for the caller to answer, never dropped in silence:
//! * at most `per_lane` items wait behind a lane's running one;
//! * at most `lanes` lanes at once;
//! * at most `bytes` bytes held by all lanes together, running items
//!   included (an item weighs what its sender sent: text, ids, addresses).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;

use tokio::task::{Id, JoinSet};

/// The bounds of [`Lanes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Items that may wait behind a lane's running one.
    pub per_lane: usize,
    /// Lanes at once.
    pub lanes: usize,
    /// Bytes all lanes may hold together (see [`Weighed`]).
    pub bytes: usize,
}

/// Which bound an item did not fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// Its own lane has `per_lane` items waiting.
    Lane,
    /// `lanes` other lanes are busy.
    Lanes,
    /// The lanes hold `bytes` already.
    Bytes,
}

/// How many bytes an item keeps alive while it waits or runs.
pub(crate) trait Weighed {
    fn weight(&self) -> usize;
}

/// The lanes; `start` turns an item into the future that does it.
pub(crate) struct Lanes<K, T, S> {
    limits: Limits,
    start: S,
    /// Every open lane with what waits in it; its running item is in `running`.
    lanes: HashMap<K, VecDeque<T>>,
    running: JoinSet<()>,
    /// The lane and weight of each running task.
    running_lane: HashMap<Id, (K, usize)>,
    /// The weight of everything waiting or running.
    held_bytes: usize,
}

impl<K, T, S, F> Lanes<K, T, S>
where
    K: Eq + Hash + Clone,
    T: Weighed,
    S: FnMut(T) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    pub(crate) fn new(limits: Limits, start: S) -> Self {
        Lanes {
            limits,
            start,
            lanes: HashMap::new(),
            running: JoinSet::new(),
            running_lane: HashMap::new(),
            held_bytes: 0,
        }
    }

    /// Starts `item` now if its lane is idle, else queues it behind the
    /// lane's earlier items; hands it back when it does not fit.
    pub(crate) fn submit(&mut self, key: K, item: T) -> Result<(), (T, Full)> {
        let weight = item.weight();
        match self.lanes.get(&key) {
            Some(waiting) if waiting.len() >= self.limits.per_lane => {
                return Err((item, Full::Lane));
            }
            None if self.lanes.len() >= self.limits.lanes => return Err((item, Full::Lanes)),
            _ => {}
        }
        if self.held_bytes.saturating_add(weight) > self.limits.bytes {
            return Err((item, Full::Bytes));
        }
        self.held_bytes += weight;
        match self.lanes.get_mut(&key) {
            Some(waiting) => waiting.push_back(item),
            None => {
                self.lanes.insert(key.clone(), VecDeque::new());
                self.spawn(key, item, weight);
            }
        }
        Ok(())
    }

    /// Waits until a running item ends, then starts the next item of its
    /// lane or closes the lane. Never returns while nothing runs, so it can
    /// sit in a `select!` next to the inbound stanzas; cancel-safe.
    pub(crate) async fn settle(&mut self) {
        let id = match self.running.join_next_with_id().await {
            None => return std::future::pending().await,
            Some(Ok((id, ()))) => id,
            Some(Err(e)) => {
                if e.is_panic() {
                    tracing::error!(
                        "a stanza's handler panicked (a bug); its sender's next stanzas go on"
                    );
                }
                e.id()
            }
        };
        let Some((key, weight)) = self.running_lane.remove(&id) else {
            return;
        };
        self.held_bytes = self.held_bytes.saturating_sub(weight);
        match self.lanes.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(next) => {
                let weight = next.weight();
                self.spawn(key, next, weight);
            }
            None => {
                self.lanes.remove(&key);
            }
        }
    }

    /// Runs everything submitted to its end.
    pub(crate) async fn drain(&mut self) {
        while !self.lanes.is_empty() {
            self.settle().await;
        }
    }

    /// How many lanes are open.
    pub(crate) fn open(&self) -> usize {
        self.lanes.len()
    }

    fn spawn(&mut self, key: K, item: T, weight: usize) {
        let task = self.running.spawn((self.start)(item));
        self.running_lane.insert(task.id(), (key, weight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::Semaphore;

    /// An item: its lane's name, its number, and its weight.
    struct Item(&'static str, u32, usize);

    impl Weighed for Item {
        fn weight(&self) -> usize {
            self.2
        }
    }

    /// Lanes whose items each wait for a permit of `gate` (shared by all
    /// lanes when `one_gate`, else one gate per lane name) and then record
    /// themselves in `done`.
    struct Harness {
        gates: HashMap<&'static str, Arc<Semaphore>>,
        done: Arc<Mutex<Vec<(&'static str, u32)>>>,
    }

    impl Harness {
        fn new(names: &[&'static str]) -> Harness {
            Harness {
                gates: names
                    .iter()
                    .map(|n| (*n, Arc::new(Semaphore::new(0))))
                    .collect(),
                done: Arc::default(),
            }
        }

        fn lanes(
            &self,
            limits: Limits,
        ) -> Lanes<&'static str, Item, impl FnMut(Item) -> futures::future::BoxFuture<'static, ()>>
        {
            let gates = self.gates.clone();
            let done = self.done.clone();
            Lanes::new(
                limits,
                move |Item(lane, n, _)| -> futures::future::BoxFuture<'static, ()> {
                    let gate = gates[lane].clone();
                    let done = done.clone();
                    Box::pin(async move {
                        let permit = gate.acquire().await.expect("gate open");
                        permit.forget();
                        done.lock().expect("lock").push((lane, n));
                    })
                },
            )
        }

        fn open(&self, lane: &str, items: usize) {
            self.gates[lane].add_permits(items);
        }

        fn done(&self) -> Vec<(&'static str, u32)> {
            self.done.lock().expect("lock").clone()
        }
    }

    const ROOMY: Limits = Limits {
        per_lane: 8,
        lanes: 8,
        bytes: 1 << 20,
    };

    async fn settle_until<K, T, S, F>(lanes: &mut Lanes<K, T, S>, mut done: impl FnMut() -> bool)
    where
        K: Eq + Hash + Clone,
        T: Weighed,
        S: FnMut(T) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while !done() {
                lanes.settle().await;
            }
        })
        .await
        .expect("the lanes settle");
    }

    #[tokio::test]
    async fn a_stuck_lane_holds_up_only_itself_and_keeps_its_order() {
        let h = Harness::new(&["stuck", "free"]);
        let mut lanes = h.lanes(ROOMY);
        for n in 0..3 {
            lanes
                .submit("stuck", Item("stuck", n, 1))
                .map_err(|e| e.1)
                .expect("fits");
        }
        for n in 0..3 {
            lanes
                .submit("free", Item("free", n, 1))
                .map_err(|e| e.1)
                .expect("fits");
        }
        h.open("free", 3);
        settle_until(&mut lanes, || h.done().len() == 3).await;
        assert_eq!(h.done(), vec![("free", 0), ("free", 1), ("free", 2)]);
        assert_eq!(lanes.open(), 1, "the free lane closed when it ran dry");
        h.open("stuck", 3);
        lanes.drain().await;
        assert_eq!(
            &h.done()[3..],
            &[("stuck", 0), ("stuck", 1), ("stuck", 2)],
            "one lane's items in the order submitted"
        );
        assert_eq!(lanes.open(), 0);
    }

    #[tokio::test]
    async fn items_beyond_the_bounds_are_handed_back_with_the_reason() {
        let h = Harness::new(&["a", "b", "c"]);
        let limits = Limits {
            per_lane: 2,
            lanes: 2,
            bytes: 100,
        };
        let mut lanes = h.lanes(limits);
        // One running and two waiting: the lane is full.
        for n in 0..3 {
            lanes
                .submit("a", Item("a", n, 10))
                .map_err(|e| e.1)
                .expect("fits");
        }
        let (back, why) = lanes.submit("a", Item("a", 3, 10)).expect_err("lane full");
        assert_eq!((back.1, why), (3, Full::Lane));
        lanes
            .submit("b", Item("b", 0, 10))
            .map_err(|e| e.1)
            .expect("fits");
        let (_, why) = lanes.submit("c", Item("c", 0, 10)).expect_err("lanes full");
        assert_eq!(why, Full::Lanes);
        let (_, why) = lanes.submit("b", Item("b", 1, 61)).expect_err("bytes full");
        assert_eq!(why, Full::Bytes);
        lanes
            .submit("b", Item("b", 1, 60))
            .map_err(|e| e.1)
            .expect("fits exactly");

        // What ran gives its room back.
        h.open("a", 4);
        settle_until(&mut lanes, || h.done().len() == 3).await;
        lanes
            .submit("c", Item("c", 0, 10))
            .map_err(|e| e.1)
            .expect("room again");
        h.open("b", 2);
        h.open("c", 1);
        lanes.drain().await;
        assert_eq!(h.done().len(), 6);
        assert_eq!(lanes.held_bytes, 0);
    }

    #[tokio::test]
    async fn a_panicking_item_costs_only_itself() {
        let done = Arc::new(Mutex::new(Vec::new()));
        let record = done.clone();
        let mut lanes = Lanes::new(ROOMY, move |Item(_, n, _)| {
            let record = record.clone();
            async move {
                assert_ne!(n, 1, "deliberate panic");
                record.lock().expect("lock").push(n);
            }
        });
        for n in 0..3 {
            lanes
                .submit("a", Item("a", n, 1))
                .map_err(|e| e.1)
                .expect("fits");
        }
        lanes.drain().await;
        assert_eq!(*done.lock().expect("lock"), vec![0, 2]);
        assert_eq!(lanes.open(), 0);
    }
}
