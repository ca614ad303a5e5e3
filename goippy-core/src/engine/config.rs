//! Every address, limit and timer of the engine, in one struct.
//!
//! The operator sets a few of them in the configuration file
//! ([`GoipSettings`]); the rest are protocol constants from the vendor
//! documents (docs/goip-protocol.md#timers) that only tests have reason to
//! shorten.
//! Keeping all of them as plain fields lets a test run a full SMS session,
//! offline detection or a USSD timeout in milliseconds with the very code
//! that runs in production.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{GoipSettings, SmsMode};

/// The engine's settings. Start from [`EngineConfig::from_settings`] (or
/// [`EngineConfig::new`] for a bare address) and override fields as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The one UDP socket: every ack and command leaves through it.
    pub bind: SocketAddr,
    /// Vendor session (MSG/PASSWORD/SEND/DONE) or the legacy one-shot datagram.
    pub sms_mode: SmsMode,

    // --- channels ---
    /// A channel without a keepalive for this long is offline (goipcron: 92 s).
    pub offline_after: Duration,
    /// How often the registry looks for channels that fell silent.
    pub sweep_interval: Duration,
    /// How long a job for an offline channel waits for it to come back,
    /// counted from when the job was submitted.
    pub offline_wait: Duration,
    /// Jobs that may wait in one channel's queue before `send_*` waits too.
    pub job_queue_capacity: usize,

    // --- receiving ---
    /// How long a (channel, tag, recvid, body) is remembered to recognise a
    /// retransmission.
    pub dedup_window: Duration,
    /// Hard cap on remembered notifications, whatever the traffic.
    pub dedup_capacity: usize,
    /// How long the engine waits for the consumer to confirm that an inbound
    /// SMS, delivery report or USSN is stored before giving up on the ack
    /// (the GoIP resends after 3 s; this must stay well below).
    pub durable_ack_timeout: Duration,
    /// Capacity of the event queue to the consumer. When it is full, events
    /// that need an ack are not acked (the GoIP resends) and keepalive
    /// events are dropped (the next one repeats them).
    pub event_capacity: usize,
    /// At most this many rejections (`status:404`, `… ERROR …`) are sent
    /// per second, in total: unknown senders must not turn goippy into a
    /// reflector.
    pub reject_replies_per_second: u32,
    /// At most one warning about rejected or malformed traffic per interval
    /// (the next one says how many were suppressed).
    pub warn_interval: Duration,

    // --- SMS ---
    /// How long to wait for the answer to MSG or PASSWORD before resending it.
    pub command_retry_interval: Duration,
    /// How often MSG and PASSWORD are resent at most (they never send an SMS).
    pub command_retries: u32,
    /// Pauses before retrying a MSG the GoIP rejected ("too many sends"),
    /// each with a new sendid; when they are used up the job ends not sent.
    pub busy_backoff: Vec<Duration>,
    /// How long the `before_send` hook may take before the job is abandoned
    /// (not sent). The GoIP drops an idle session after 90 s.
    pub before_send_timeout: Duration,
    /// After this long without OK/ERROR for a SEND, the same SEND (same
    /// telid) is sent once more as a status poll.
    pub send_poll_after: Duration,
    /// After this long without OK/ERROR for a SEND, the recipient ends
    /// Unknown (`GOIP_SMS_TIMEOUT`). Counted per recipient from its SEND.
    pub sms_timeout: Duration,
    /// How long DELIVER reports are matched against sent messages.
    pub ledger_max_age: Duration,
    /// Hard cap on remembered sent messages.
    pub ledger_capacity: usize,

    // --- USSD ---
    /// How long to wait for a USSD answer before the single resend, and
    /// again after it (`GOIP_USSD_TIMEOUT`).
    pub ussd_timeout: Duration,
    /// How many finished exchanges are remembered so that a late reply can
    /// still be reported (a USSD answer after its timeout, an SMS result
    /// after Unknown).
    pub recent_capacity: usize,
    /// How long a finished exchange is remembered for late replies.
    pub recent_max_age: Duration,

    // --- ids and shutdown ---
    /// No USSD sendid handed out is smaller than or equal to this (the
    /// largest the store recorded before a restart). Other sendids are
    /// random.
    pub sendid_floor: u32,
    /// On shutdown, how long a session that already sent SEND may still wait
    /// for its result before it ends Unknown.
    pub shutdown_grace: Duration,
}

impl EngineConfig {
    /// The protocol's defaults, listening on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        EngineConfig {
            bind,
            sms_mode: SmsMode::Session,
            offline_after: Duration::from_secs(90),
            sweep_interval: Duration::from_secs(1),
            offline_wait: Duration::from_secs(300),
            job_queue_capacity: 64,
            dedup_window: Duration::from_secs(600),
            dedup_capacity: 65_536,
            durable_ack_timeout: Duration::from_secs(2),
            event_capacity: 1024,
            reject_replies_per_second: 100,
            warn_interval: Duration::from_secs(10),
            command_retry_interval: Duration::from_secs(5),
            command_retries: 2,
            busy_backoff: vec![Duration::from_secs(10), Duration::from_secs(30)],
            before_send_timeout: Duration::from_secs(20),
            send_poll_after: Duration::from_secs(60),
            sms_timeout: Duration::from_secs(180),
            ledger_max_age: Duration::from_secs(3600),
            ledger_capacity: 10_000,
            ussd_timeout: Duration::from_secs(30),
            recent_capacity: 4096,
            recent_max_age: Duration::from_secs(3600),
            sendid_floor: 0,
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// The defaults with the operator's `GOIP_*` settings applied.
    pub fn from_settings(settings: &GoipSettings) -> Self {
        EngineConfig {
            sms_mode: settings.sms_mode,
            offline_after: settings.offline_after,
            dedup_window: settings.dedup_window,
            offline_wait: settings.offline_wait,
            sms_timeout: settings.sms_timeout,
            ussd_timeout: settings.ussd_timeout,
            ..EngineConfig::new(SocketAddr::new(settings.bind, settings.port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn settings_are_applied() {
        let settings = GoipSettings {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 4444,
            sms_mode: SmsMode::Oneshot,
            offline_after: Duration::from_secs(40),
            dedup_window: Duration::from_secs(60),
            offline_wait: Duration::from_secs(0),
            sms_timeout: Duration::from_secs(100),
            ussd_timeout: Duration::from_secs(20),
        };
        let c = EngineConfig::from_settings(&settings);
        assert_eq!(c.bind, "127.0.0.1:4444".parse().unwrap());
        assert_eq!(c.sms_mode, SmsMode::Oneshot);
        assert_eq!(c.offline_after, Duration::from_secs(40));
        assert_eq!(c.dedup_window, Duration::from_secs(60));
        assert_eq!(c.offline_wait, Duration::ZERO);
        assert_eq!(c.sms_timeout, Duration::from_secs(100));
        assert_eq!(c.ussd_timeout, Duration::from_secs(20));
        // Protocol constants keep their vendor values.
        assert_eq!(c.command_retry_interval, Duration::from_secs(5));
        assert!(c.durable_ack_timeout < Duration::from_secs(3));
    }
}
