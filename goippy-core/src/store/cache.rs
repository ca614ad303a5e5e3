//! What the spool keeps so that goippy can start and serve while its
//! database is down: the enabled gateways as they were last read. The
//! password is part of it (the engine authenticates every datagram with
//! it), which is why the spool file is private to goippy.

use serde::{Deserialize, Serialize};

use crate::config::Secret;

use super::records::{Gateway, LineShare};
use super::time::Timestamp;

/// The spool cache entry of the gateway list.
pub(super) const GATEWAYS: &str = "gateways";

/// A [`Gateway`] as the spool keeps it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CachedGateway {
    // A spool written before line pools has a string here; it reads as
    // `Some` of it.
    ext: Option<String>,
    goip_id: String,
    password: String,
    channel: Option<i64>,
    msisdn: Option<String>,
    allow_regex: Option<String>,
    enabled: bool,
    #[serde(default)]
    daily_limit: Option<i64>,
    #[serde(default)]
    shared_with: Vec<LineShare>,
}

impl From<&Gateway> for CachedGateway {
    fn from(g: &Gateway) -> CachedGateway {
        CachedGateway {
            ext: g.ext.clone(),
            goip_id: g.goip_id.clone(),
            password: g.password.expose().to_string(),
            channel: g.channel,
            msisdn: g.msisdn.clone(),
            allow_regex: g.allow_regex.clone(),
            enabled: g.enabled,
            daily_limit: g.daily_limit,
            shared_with: g.shared_with.clone(),
        }
    }
}

impl From<CachedGateway> for Gateway {
    fn from(c: CachedGateway) -> Gateway {
        Gateway {
            ext: c.ext.filter(|e| !e.is_empty()),
            goip_id: c.goip_id,
            password: Secret::new(c.password),
            channel: c.channel,
            msisdn: c.msisdn,
            allow_regex: c.allow_regex,
            enabled: c.enabled,
            created_at: None::<Timestamp>,
            last_seen: None,
            daily_limit: c.daily_limit,
            shared_with: c.shared_with,
        }
    }
}
