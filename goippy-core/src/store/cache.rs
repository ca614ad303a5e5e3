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

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Gateway {
        Gateway {
            ext: Some("2001".into()),
            goip_id: "goippy_2001".into(),
            password: Secret::new("pw\"1"),
            channel: Some(1),
            msisdn: None,
            allow_regex: Some("^\\+372".into()),
            enabled: true,
            created_at: Some(Timestamp::from_unix(1)),
            last_seen: Some(Timestamp::from_unix(2)),
            daily_limit: None,
            shared_with: vec![LineShare {
                ext: "2002".into(),
                order: 7,
            }],
        }
    }

    /// What a cache written by this version holds, byte for byte: a newer
    /// goippy must read it, an older one too after a downgrade.
    const WRITTEN: &str = r#"[{"ext":"2001","goip_id":"goippy_2001","password":"pw\"1","channel":1,"msisdn":null,"allow_regex":"^\\+372","enabled":true,"daily_limit":null,"shared_with":[{"ext":"2002","order":7}]}]"#;

    #[test]
    fn the_cache_keeps_its_format() {
        let cached: Vec<CachedGateway> = [gateway()].iter().map(CachedGateway::from).collect();
        assert_eq!(serde_json::to_string(&cached).unwrap(), WRITTEN);
        let read: Vec<CachedGateway> = serde_json::from_str(WRITTEN).unwrap();
        let read: Vec<Gateway> = read.into_iter().map(Gateway::from).collect();
        let mut expected = gateway();
        expected.created_at = None;
        expected.last_seen = None;
        assert_eq!(read, vec![expected]);
    }

    /// A cache written before line pools (`ext` a string, possibly empty;
    /// no limit, no shares).
    #[test]
    fn an_older_cache_still_reads() {
        let old = r#"[{"ext":"","goip_id":"g","password":"p","channel":null,"msisdn":null,"allow_regex":null,"enabled":true}]"#;
        let read: Vec<CachedGateway> = serde_json::from_str(old).unwrap();
        let read: Vec<Gateway> = read.into_iter().map(Gateway::from).collect();
        assert_eq!(read[0].ext, None);
        assert_eq!(read[0].password.expose(), "p");
        assert!(read[0].shared_with.is_empty());
    }
}
