//! Small helpers several parts of the daemon share, one concept per file.
//!
//! * `lock.rs`: std locks that survive a panic elsewhere;
//! * `backoff.rs`: doubling waits between retries;
//! * `warn_limit.rs`: one log line per interval for a repeating warning;
//! * `token_bucket.rs`: at most so many events a second;
//! * `body_hash.rs`: the stable hash of a message body in a dedup key;
//! * `per_key.rs`: counters per channel, for the metrics;
//! * `histogram.rs`: a lock-free histogram of durations, for the metrics;
//! * `table.rs`: aligned text tables, for the CLI.

mod backoff;
mod body_hash;
mod histogram;
mod lock;
mod per_key;
mod table;
mod token_bucket;
mod warn_limit;

pub(crate) use backoff::Backoff;
pub(crate) use body_hash::{body_hash, body_hash_column};
pub use histogram::{DurationHistogram, HistogramSnapshot};
pub(crate) use lock::{lock, read_lock, write_lock};
pub use per_key::PerKey;
pub(crate) use table::table;
pub(crate) use token_bucket::TokenBucket;
pub(crate) use warn_limit::{SharedWarnLimiter, WarnLimiter};
