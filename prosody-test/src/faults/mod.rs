//! The fault-injection run (`cargo run --release --bin faults`): steady
//! traffic in both directions through a real Prosody, the release `goippy`
//! and `goip-sim`, one fault at a time — MariaDB killed, MariaDB frozen,
//! SQLite's write lock held, Prosody killed, goippy killed, a user's
//! connection reset while an SMS of theirs is being sent — and a table of
//! what became of every message: sent, delivered, duplicated, lost,
//! failures reported to the user, and how long the user nobody aimed the
//! fault at waited for answers.
//!
//! * [`fault`] — the list of faults, each caused for real and undone;
//! * [`traffic`] — the device and the two users, one task each;
//! * [`session`] — a user's connection and what the user receives;
//! * [`archive`] — reading a user's archive (MAM) at the end;
//! * [`ledger`] — the counter every task writes to, and the figures;
//! * [`run`] — one scenario, start to end;
//! * [`table`] — the table and the details under it.
//!
//! The root README's "When the database fails" shows today's table and
//! says what each column means.

pub mod archive;
pub mod fault;
pub mod ledger;
pub mod run;
pub mod session;
pub mod table;
pub mod traffic;

pub use fault::Fault;
pub use run::{Outcome, run};
