//! Consistency checks over arbitrary bytes, shared by the fuzz targets
//! (`goippy-core/fuzz/`) and the proptests, so the fuzzer exercises exactly
//! the code the tests do.
//!
//! For any datagram, the parser must return (never panic), and whatever it
//! accepts must survive a round trip: if the parsed value can be encoded at
//! all, the encoding must parse back to the same value. (Encoding may
//! legitimately refuse a parsed value, e.g. a keepalive with a field repeated,
//! which is kept as an extra field and would read back into the named one.)

use super::datagram::{Datagram, escape_for_log};
use super::{Packet, ParseError, parse_packet, parse_server_datagram};

fn without_raw(packet: Packet) -> Packet {
    match packet {
        Packet::Notification(mut n) => {
            n.raw = Datagram::default();
            Packet::Notification(n)
        }
        reply => reply,
    }
}

/// Parses `bytes` as a packet a GoIP sends and checks the round trip.
/// `Err` describes a violation.
pub fn check_packet(bytes: &[u8]) -> Result<(), String> {
    let Ok(first) = parse_packet(bytes) else {
        return Ok(());
    };
    let Ok(encoded) = first.encode() else {
        return Ok(());
    };
    let again: Result<Packet, ParseError> = parse_packet(&encoded);
    match again {
        Ok(again) if without_raw(again.clone()) == without_raw(first.clone()) => Ok(()),
        other => Err(format!(
            "\"{}\" parsed as {first:?}, which encodes as \"{}\", which parses as {other:?}",
            escape_for_log(bytes),
            escape_for_log(&encoded),
        )),
    }
}

/// Parses `bytes` as a datagram a server sends and checks the round trip.
pub fn check_server_datagram(bytes: &[u8]) -> Result<(), String> {
    let Ok(first) = parse_server_datagram(bytes) else {
        return Ok(());
    };
    let Ok(encoded) = first.encode() else {
        return Ok(());
    };
    match parse_server_datagram(&encoded) {
        Ok(again) if again == first => Ok(()),
        other => Err(format!(
            "\"{}\" parsed as {first:?}, which encodes as \"{}\", which parses as {other:?}",
            escape_for_log(bytes),
            escape_for_log(&encoded),
        )),
    }
}

/// Both checks, for a fuzz target that feeds any bytes to either side.
pub fn check_any(bytes: &[u8]) -> Result<(), String> {
    check_packet(bytes)?;
    check_server_datagram(bytes)
}
