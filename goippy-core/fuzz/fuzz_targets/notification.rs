//! Feeds arbitrary datagrams to the server-side parser (`parse_packet`):
//! it must never panic, and whatever it accepts must re-encode and parse
//! back to the same value. The check is the library's own
//! `goip::selfcheck::check_packet`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = goippy_core::goip::selfcheck::check_packet(data) {
        panic!("{violation}");
    }
});
