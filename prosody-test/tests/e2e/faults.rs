//! The fault run's smoke (`prosody_test::faults`): steady traffic both ways
//! through Prosody, goippy and a simulated GoIP, and user A's connection
//! reset like a lost network while an SMS of A's is being sent; A comes back
//! after 5 s. Nothing may be lost or arrive twice, every outcome must reach
//! A (offline storage, the archive), and nothing else may look wrong. Every
//! fault at full length is `cargo run --release --bin faults` (about a
//! quarter of an hour; not part of CI).
//!
//! Not `goippy-kill`, the fault the run's smoke would naturally be: a kill
//! between Prosody taking an SMS and goippy marking it delivered makes the
//! user get it twice, which the run shows and a test would turn into a
//! failure about one run in two (see the README's fault table).

use prosody_test::Backend;
use prosody_test::faults::{Fault, run, table};

use crate::Must;

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_lost_mid_send_loses_nothing() {
    let outcome = run(Fault::ClientDrop, true, Backend::Sqlite)
        .await
        .must("run the client-drop scenario");
    let outcomes = [outcome];
    let said = format!("{}{}", table::table(&outcomes), table::details(&outcomes));
    println!("{said}");
    assert!(table::all_well(&outcomes), "{said}");
}
