//! What the spool keeps so that goippy can start and serve while its
//! database is down: the enabled gateways as they were last read. The
//! password is part of it (the engine authenticates every datagram with
//! it), which is why the spool file is private to goippy.

use serde::{Deserialize, Deserializer, Serializer};

use crate::config::Secret;

/// The spool cache entry of the gateway list: a JSON array of
/// [`super::Gateway`]s without their times.
pub(super) const GATEWAYS: &str = "gateways";

/// A gateway's password in the cache: as plain text. Only the cache
/// serializes a [`super::Gateway`].
pub(super) mod password {
    use super::*;

    pub(in crate::store) fn serialize<S: Serializer>(p: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.expose())
    }

    pub(in crate::store) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A gateway's `ext` from the cache. A cache written before line pools has
/// a string, maybe empty, which reads as none.
pub(super) fn ext<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|e| !e.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Gateway, LineShare, Timestamp};

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
        assert_eq!(serde_json::to_string(&[gateway()]).unwrap(), WRITTEN);
        let read: Vec<Gateway> = serde_json::from_str(WRITTEN).unwrap();
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
        let read: Vec<Gateway> = serde_json::from_str(old).unwrap();
        assert_eq!(read[0].ext, None);
        assert_eq!(read[0].password.expose(), "p");
        assert!(read[0].shared_with.is_empty());
    }
}
