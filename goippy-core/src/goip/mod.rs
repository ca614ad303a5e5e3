//! The GoIP "SMS server" wire format: parsing and formatting only, no I/O.
//!
//! A GoIP channel and its SMS server exchange plain-text UDP datagrams in two
//! shapes (see docs/goip-protocol.md#datagram-shapes; this module follows
//! that file to the letter):
//!
//! * **colon style**, `TAG:<id>;key:value;…` — the GoIP's *notifications*
//!   (keepalive `req:`, `RECEIVE:`, `DELIVER:`, call and radio events, …),
//!   and one reply, `GSM:<sendid>;…`;
//! * **space style**, `VERB <sendid> args…` — the server's *commands*, the
//!   GoIP's *replies* to them, and the server's *acks* of notifications.
//!
//! Both sides of the conversation are here, because goippy plays both: the
//! daemon's UDP engine reads notifications and replies ([`parse_packet`]) and
//! writes acks and commands; the GoIP simulator (`goip-sim`) reads acks and
//! commands ([`parse_server_datagram`]) and writes notifications and replies.
//! Every packet kind therefore has a parser and a formatter, side by side in
//! the file of its concept, and the tests hold each pair to
//! `parse(encode(x)) == x`.
//!
//! Design rules, each from a real-device lesson:
//! * datagrams are decoded as UTF-8 with replacement, never rejected for
//!   bad bytes; the exact bytes stay in [`Datagram`] for the log;
//! * message bodies (`msg:`, USSD text, the MSG text) are taken verbatim, to
//!   the end of the datagram or by byte length: they contain `;`, `:`, CR, LF;
//! * formatting refuses, with a [`FormatError`], any value that would inject
//!   a token or be read back differently — nothing malformed reaches a GoIP;
//! * parsing never panics on any input (a proptest and a fuzz target check).
//!
//! The engine keeps sendids in `1..=`[`MAX_SENDID`]: the GoIP reads them as
//! signed 32-bit numbers.

mod ack;
mod at_tunnel;
mod call_events;
mod cms_error;
mod command;
mod control;
mod datagram;
mod error;
mod fields;
mod gsm_status;
mod keepalive;
mod notification;
mod radio_events;
mod reply;
pub mod selfcheck;
mod sms_events;
pub(crate) mod tokens;

pub use ack::{Ack, REG_STATUS_OK};
pub use at_tunnel::AtOutput;
pub use call_events::{
    CallDirection, Expiry, Hangup, LineState, Record, Remain, RemainTime, State,
};
pub use cms_error::cms_error_text;
pub use command::{CfMode, CfReason, Command};
pub use control::ControlKind;
pub use datagram::{Datagram, escape_for_log, redacted_for_log};
pub use error::{FormatError, ParseError, Problem};
pub use fields::Field;
pub use gsm_status::GsmStatus;
pub use keepalive::{Keepalive, Signal};
pub use notification::{Notification, NotificationKind};
pub use radio_events::{CellInfo, Cgatt, NeighbourCells};
pub use reply::{ErrorReply, Reply, USSD_SEND_FAILED, ussd_reply_failed, ussd_reply_text};
pub use sms_events::{Deliver, Receive, Ussn};
pub use tokens::is_valid_ussd_code;

/// The longest SMS text a GoIP accepts in MSG, in bytes of UTF-8.
pub const MAX_SMS_BYTES: usize = 3000;
/// The largest sendid (and telid) a GoIP reads correctly: `i32::MAX`.
pub const MAX_SENDID: u32 = i32::MAX as u32;
/// The vendor server's UDP port.
pub const DEFAULT_SERVER_PORT: u16 = 44444;
/// A receive buffer that holds any datagram a GoIP sends (bodies reach
/// 3000 bytes; 64 KiB is the UDP maximum).
pub const RECV_BUFFER_BYTES: usize = 65536;

/// What the server receives from a GoIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Something the GoIP sent on its own; ack it (see [`Notification::ack`]).
    Notification(Notification),
    /// An answer to one of our commands; route it by [`Reply::sendid`].
    Reply(Reply),
}

impl Packet {
    /// Writes the packet as a GoIP would (for the simulator).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        match self {
            Packet::Notification(n) => n.encode(),
            Packet::Reply(r) => r.encode(),
        }
    }
}

/// What a GoIP receives from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerDatagram {
    Ack(Ack),
    Command(Command),
}

impl ServerDatagram {
    /// Writes the datagram as the server would.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        match self {
            ServerDatagram::Ack(a) => Ok(a.encode()),
            ServerDatagram::Command(c) => c.encode(),
        }
    }
}

/// Reads a datagram a GoIP sent to the server: a notification or a reply.
///
/// A datagram is colon-style (a notification, or the `GSM:` reply) when a
/// `:` comes before any whitespace, and space-style (a reply) otherwise.
pub fn parse_packet(bytes: &[u8]) -> Result<Packet, ParseError> {
    let text = datagram::decode(bytes);
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let colon = text.find(':');
    let space = text.find(|c: char| c.is_ascii_whitespace());
    match colon {
        Some(colon) if colon > 0 && space.is_none_or(|space| space > colon) => {
            match text.strip_prefix("GSM:") {
                Some(after) => GsmStatus::parse_after_tag(after)
                    .map(|status| Packet::Reply(Reply::Gsm(status)))
                    .map_err(|problem| ParseError::Reply {
                        verb: "GSM".to_owned(),
                        problem,
                    }),
                None => notification::parse_notification(&text, bytes).map(Packet::Notification),
            }
        }
        _ => reply::parse_reply(&text).map(Packet::Reply),
    }
}

/// Reads a datagram the server sent to a GoIP: an ack or a command (for the
/// simulator).
pub fn parse_server_datagram(bytes: &[u8]) -> Result<ServerDatagram, ParseError> {
    let text = datagram::decode(bytes);
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    if text.starts_with("reg:") || text.starts_with("req:") {
        return Ack::parse(bytes).map(ServerDatagram::Ack);
    }
    let verb = text.split_ascii_whitespace().next().unwrap_or_default();
    if command::is_command_verb(verb) {
        Command::parse(bytes).map(ServerDatagram::Command)
    } else {
        Ack::parse(bytes).map(ServerDatagram::Ack)
    }
}

#[cfg(test)]
mod tests;
