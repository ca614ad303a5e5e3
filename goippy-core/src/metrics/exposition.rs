//! `/metrics`: one scrape gathers a [`Scrape`] (the only part that waits:
//! the database's backlog count, bounded by [`DB_PROBE`]) and encodes it in
//! the OpenMetrics text format with the Prometheus project's
//! `prometheus-client` crate, through a [`Collector`] built per scrape.
//!
//! Nothing here is on the message path: counters are read from the atomics
//! the engine and the bridge bump (`engine/stats.rs`,
//! `bridge/line_traffic.rs`), gauges from the state the daemon keeps anyway
//! (the channel registry, the link's state, the spool's size). Labels are
//! made at scrape time, once per line.
//!
//! Lines are the enabled gateways, plus any channel heard from or counted
//! since the start (a line disabled meanwhile keeps its counters, with its
//! `ext` label empty when the directory no longer knows it).

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::bridge::{BridgeProbe, LineTraffic};
use crate::engine::EngineStats;
use crate::store::Backlog;
use crate::util::HistogramSnapshot;

use super::link_history::LinkView;

/// How long a scrape (and a health check) waits for the database.
pub const DB_PROBE: Duration = Duration::from_secs(2);

/// The media type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One line's samples.
#[derive(Debug, Default)]
struct Line {
    ext: String,
    online: bool,
    signal_dbm: Option<i16>,
    gsm_registered: Option<bool>,
    acks_sent: u64,
    /// Retransmissions the engine's memory caught (the store's are in `sms`).
    duplicates: u64,
    sms: LineTraffic,
}

/// Everything one scrape reports, gathered first.
#[derive(Debug)]
struct Scrape {
    lines: BTreeMap<String, Line>,
    /// `None`: the database did not answer within [`DB_PROBE`].
    backlog: Option<Backlog>,
    spooled: usize,
    commit_times: HistogramSnapshot,
    link: LinkView,
    engine: EngineStats,
    stopped_tasks: usize,
}

/// The text of one scrape.
pub(super) async fn render(probe: &BridgeProbe, link: LinkView) -> String {
    let scrape = gather(probe, link).await;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    // Writing into a String cannot fail; the encoder's own errors would be
    // a bug in this file (a malformed descriptor), shown instead of hidden.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!("cannot encode the metrics: {e}");
    }
    text
}

async fn gather(probe: &BridgeProbe, link: LinkView) -> Scrape {
    let mut lines: BTreeMap<String, Line> = BTreeMap::new();
    for gateway in probe.directory().gateways() {
        // A shared line's users joined: `2001,2002` (one user: as before).
        lines.entry(gateway.goip_id.clone()).or_default().ext = gateway.users.join(",");
    }
    let engine = probe.engine();
    for channel in engine.channels() {
        let line = lines.entry(channel.goip_id).or_default();
        line.online = channel.online;
        if let Some(k) = &channel.keepalive {
            line.signal_dbm = k.signal_quality().and_then(|s| s.rssi_dbm());
            line.gsm_registered = k.gsm_login();
        }
    }
    for t in engine.channel_traffic() {
        let line = lines.entry(t.goip_id).or_default();
        line.acks_sent = t.acks_sent;
        line.duplicates += t.duplicates;
    }
    for t in probe.line_traffic() {
        let line = lines.entry(t.goip_id.clone()).or_default();
        line.sms = t;
    }
    let store = probe.store();
    Scrape {
        lines,
        backlog: store.backlog(DB_PROBE).await.ok(),
        spooled: store.spooled(),
        commit_times: store.commit_times(),
        link,
        engine: engine.stats(),
        stopped_tasks: probe.stopped_tasks().len(),
    }
}

impl Scrape {
    /// A family with one sample per line that has a value.
    fn per_line<M: EncodeMetric>(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        metric_type: MetricType,
        value: impl Fn(&Line) -> Option<M>,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
        for (goip_id, line) in &self.lines {
            if let Some(metric) = value(line) {
                let labels = [("goip_id", goip_id.as_str()), ("ext", line.ext.as_str())];
                metric.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// A per-line counter: its name, help and value.
type LineCounter = (&'static str, &'static str, fn(&Line) -> u64);

/// The per-line counters, in the order they are shown.
const LINE_COUNTERS: [LineCounter; 6] = [
    (
        "goippy_line_sms_received",
        "Inbound SMS stored (retransmissions not counted again).",
        |l| l.sms.sms_received,
    ),
    (
        "goippy_line_sms_sent",
        "Users' SMS the GoIP accepted for sending.",
        |l| l.sms.sms_sent,
    ),
    (
        "goippy_line_sms_failed",
        "Users' SMS that failed (the user was told).",
        |l| l.sms.sms_failed,
    ),
    (
        "goippy_line_sms_unknown",
        "Users' SMS whose outcome is unknown (never sent twice).",
        |l| l.sms.sms_unknown,
    ),
    (
        "goippy_line_acks_sent",
        "Acks sent for the channel's notifications (SMS, reports, USSN, calls); keepalive answers not counted.",
        |l| l.acks_sent,
    ),
    (
        "goippy_line_retransmissions",
        "Retransmissions recognised (by the engine's memory or the store): acked again, not delivered again.",
        |l| l.duplicates + l.sms.retransmissions,
    ),
];

/// A family of one sample without labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> std::fmt::Result {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(n: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

fn flag(b: bool) -> ConstGauge {
    ConstGauge::new(i64::from(b))
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge};
        let info = e.encode_descriptor(
            "goippy_build",
            "The running goippy's version.",
            None,
            MetricType::Info,
        );
        info?.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;

        // --- per line -------------------------------------------------
        self.per_line(
            &mut e,
            "goippy_line_online",
            "1 while the GoIP channel sends keepalives (GOIP_OFFLINE_AFTER), else 0.",
            Gauge,
            |l| Some(flag(l.online)),
        )?;
        self.per_line(
            &mut e,
            "goippy_line_signal_dbm",
            "GSM signal (RSSI, dBm = 2*CSQ-113) from the latest keepalive; absent while unknown (CSQ 99).",
            Gauge,
            |l| l.signal_dbm.map(|d| ConstGauge::new(i64::from(d))),
        )?;
        self.per_line(
            &mut e,
            "goippy_line_gsm_registered",
            "1 while the latest keepalive says the SIM is logged in to the GSM network (gsm_status LOGIN).",
            Gauge,
            |l| l.gsm_registered.map(flag),
        )?;
        for (name, help, value) in LINE_COUNTERS {
            self.per_line(&mut e, name, help, Counter, |l| {
                Some(ConstCounter::new(value(l)))
            })?;
        }

        // --- the process ----------------------------------------------
        single(
            &mut e,
            "goippy_database_up",
            "1 if the database answered this scrape's count within 2 s.",
            flag(self.backlog.is_some()),
        )?;
        if let Some(b) = self.backlog {
            single(
                &mut e,
                "goippy_outbox_queued",
                "Users' SMS/USSD requests waiting for their GoIP channel.",
                gauge(b.outbox_queued),
            )?;
            single(
                &mut e,
                "goippy_outbox_sending",
                "Users' SMS handed to the GoIP whose outcome is not recorded yet.",
                gauge(b.outbox_sending),
            )?;
            single(
                &mut e,
                "goippy_inbox_backlog",
                "Messages and notices waiting to be delivered to their XMPP user.",
                gauge(b.inbox),
            )?;
        }
        single(
            &mut e,
            "goippy_spool_backlog",
            "Writes kept in the spool that the database has not taken yet.",
            gauge(self.spooled as u64),
        )?;
        let h = &self.commit_times;
        e.encode_descriptor(
            "goippy_store_commit_seconds",
            "Time from the start of a batch's commit to the database's answer (spooled batches not counted).",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &h.buckets, None)?;
        single(
            &mut e,
            "goippy_xmpp_connected",
            "1 while the component stream to Prosody is up.",
            flag(self.link.connected),
        )?;
        single(
            &mut e,
            "goippy_xmpp_reconnects",
            "Connections of the component stream after the first.",
            ConstCounter::new(self.link.reconnects),
        )?;
        single(
            &mut e,
            "goippy_goip_datagrams",
            "UDP datagrams received from anyone.",
            ConstCounter::new(self.engine.datagrams),
        )?;
        single(
            &mut e,
            "goippy_goip_rejected",
            "Notifications refused for an unknown channel id or a wrong password.",
            ConstCounter::new(self.engine.rejected),
        )?;
        single(
            &mut e,
            "goippy_goip_not_acked",
            "Notifications left unacked because they could not be stored (the GoIP resends them).",
            ConstCounter::new(self.engine.not_acked),
        )?;
        single(
            &mut e,
            "goippy_tasks_stopped",
            "goippy's tasks that ended on their own (the systemd watchdog then restarts goippy).",
            gauge(self.stopped_tasks as u64),
        )?;
        Ok(())
    }
}
