//! Feeds arbitrary datagrams to the simulator-side parser
//! (`parse_server_datagram`), with the same never-panic and round-trip
//! check as the `notification` target (`goip::selfcheck`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = goippy_core::goip::selfcheck::check_server_datagram(data) {
        panic!("{violation}");
    }
});
