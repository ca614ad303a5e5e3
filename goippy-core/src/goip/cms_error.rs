//! The GSM error codes a GoIP relays when an SMS fails.
//!
//! `ERROR <sendid> <telid> errorstatus:<n>` carries the modem's `+CMS ERROR`
//! code (the RP/CMS cause values of 3GPP TS 24.011 §8.2.5.4 and TS 27.005
//! §3.2.5), see docs/goip-protocol.md#replies. The table sits with the wire
//! format because the code is part of what the GoIP says; the bridge only
//! shows its meaning to the user.

/// What a common `errorstatus` / `+CMS ERROR` code means, in the words an
/// SMS user reads after "errorstatus 38 (…)"; `None` for a code not listed.
pub fn cms_error_text(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "unassigned number",
        8 => "operator determined barring",
        10 => "call barred",
        21 => "short message transfer rejected",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable",
        50 => "requested facility not subscribed",
        69 => "requested facility not implemented",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        500 => "unknown error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_have_a_meaning_and_others_none() {
        assert_eq!(cms_error_text(38), Some("network out of order"));
        assert_eq!(cms_error_text(500), Some("unknown error"));
        assert_eq!(cms_error_text(2), None);
    }
}
