//! The reply to the `GSM <sendid> <password>` query ([CN], see
//! docs/goip-protocol.md#control-commands):
//! `GSM:<sendid>;get_gsm_num:…;get_exp_time:…;get_remain_time:…;
//! get_gsm_state:…;imei:…;out_call_interval:…;module_down:<0|1>`.
//!
//! It is a *reply* in the colon style of a notification: it must be routed by
//! its sendid and never acknowledged. Values are kept raw (`(null)` read as
//! empty); the typed readings are test support, as goippy sends no GSM query.

use super::datagram::strip_line_end;
use super::error::{FormatError, Problem};
use super::fields::{Field, FieldWriter, Fields};

/// The combined status a `GSM` query returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GsmStatus {
    pub sendid: u32,
    /// `get_gsm_num`: the configured SIM number.
    pub gsm_num: Option<String>,
    /// `get_exp_time`: the outgoing-call time limit, minutes.
    pub exp_time: Option<String>,
    /// `get_remain_time`: minutes left.
    pub remain_time: Option<String>,
    /// `get_gsm_state`: `IDLE`, `ACTIVE`, …
    pub gsm_state: Option<String>,
    pub imei: Option<String>,
    /// `out_call_interval`: seconds between outgoing calls.
    pub out_call_interval: Option<String>,
    /// `module_down`: `1` if the module is down.
    pub module_down: Option<String>,
    /// Fields this module does not know, in order.
    pub extra: Vec<Field>,
}

/// Wire keys of the known fields, in the order the GoIP sends them.
pub(crate) const GSM_STATUS_KEYS: [&str; 7] = [
    "get_gsm_num",
    "get_exp_time",
    "get_remain_time",
    "get_gsm_state",
    "imei",
    "out_call_interval",
    "module_down",
];

impl GsmStatus {
    fn slots_mut(&mut self) -> [&mut Option<String>; 7] {
        [
            &mut self.gsm_num,
            &mut self.exp_time,
            &mut self.remain_time,
            &mut self.gsm_state,
            &mut self.imei,
            &mut self.out_call_interval,
            &mut self.module_down,
        ]
    }

    fn slots(&self) -> [&Option<String>; 7] {
        [
            &self.gsm_num,
            &self.exp_time,
            &self.remain_time,
            &self.gsm_state,
            &self.imei,
            &self.out_call_interval,
            &self.module_down,
        ]
    }

    /// Reads what follows `GSM:`.
    pub(crate) fn parse_after_tag(after: &str) -> Result<GsmStatus, Problem> {
        let (sendid, fields) = match after.split_once(';') {
            Some(split) => split,
            None => (strip_line_end(after), ""),
        };
        let mut status = GsmStatus {
            sendid: sendid
                .parse()
                .map_err(|_| Problem::invalid("sendid", sendid, "a number"))?,
            ..GsmStatus::default()
        };
        let mut fields = Fields::split(fields, &[]);
        for (key, slot) in GSM_STATUS_KEYS.iter().zip(status.slots_mut()) {
            *slot = fields.take(key);
        }
        status.extra = fields.into_vec();
        Ok(status)
    }

    pub(crate) fn write(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = FieldWriter::new("GSM", &self.sendid.to_string())?;
        for (key, value) in GSM_STATUS_KEYS.iter().zip(self.slots()) {
            if let Some(value) = value {
                // The firmware prints unset strings with printf's "(null)".
                let value = if value.is_empty() { "(null)" } else { value };
                w.field("GSM status field", key, value)?;
            }
        }
        for field in &self.extra {
            w.field("GSM status field", &field.key, &field.value)?;
        }
        w.finish(false)
    }
}

// Test support: goippy sends no GSM query; the simulator answers one.
#[cfg(test)]
impl GsmStatus {
    /// The line state.
    pub fn line_state(&self) -> Option<super::LineState> {
        self.gsm_state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(super::LineState::parse)
    }

    /// The module is down.
    pub fn is_module_down(&self) -> Option<bool> {
        super::keepalive::yes_no(self.module_down.as_deref()?)
    }

    /// The configured SIM number, if one is set.
    pub fn number(&self) -> Option<&str> {
        self.gsm_num.as_deref().filter(|n| !n.is_empty())
    }

    /// The outgoing-call time limit in minutes.
    pub fn exp_time_minutes(&self) -> Option<i64> {
        self.exp_time.as_deref()?.trim().parse().ok()
    }

    /// The remaining call time.
    pub fn remaining_time(&self) -> Option<super::RemainTime> {
        super::RemainTime::parse(self.remain_time.as_deref()?)
    }

    /// Seconds between outgoing calls.
    pub fn out_call_interval_seconds(&self) -> Option<u32> {
        self.out_call_interval.as_deref()?.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_reply() {
        let s = GsmStatus::parse_after_tag(
            "1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;\
             imei:000000000000000;out_call_interval:0;module_down:0",
        )
        .unwrap();
        assert_eq!(s.sendid, 1);
        assert_eq!(s.gsm_num.as_deref(), Some(""));
        assert_eq!(s.number(), None);
        assert_eq!(s.exp_time_minutes(), Some(0));
        assert_eq!(s.remaining_time(), Some(RemainTime::Minutes(0)));
        assert_eq!(s.line_state(), Some(LineState::Idle));
        assert_eq!(s.imei.as_deref(), Some("000000000000000"));
        assert_eq!(s.out_call_interval_seconds(), Some(0));
        assert_eq!(s.is_module_down(), Some(false));
        assert!(s.extra.is_empty());
    }

    #[test]
    fn bad_sendid() {
        assert!(GsmStatus::parse_after_tag("x;imei:1").is_err());
        assert_eq!(GsmStatus::parse_after_tag("9\r\n").map(|s| s.sendid), Ok(9));
    }

    // Wire vectors (docs/goip-protocol.md#replies): real captures, the documented shapes and the
    // quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::reply;
    use crate::goip::*;

    #[test]
    fn gsm_reply_accessors() {
        let Reply::Gsm(status) = reply(
            "GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;\
imei:000000000000000;out_call_interval:0;module_down:0",
        ) else {
            panic!()
        };
        assert_eq!(status.number(), None);
        assert_eq!(status.line_state(), Some(LineState::Idle));
        assert_eq!(status.is_module_down(), Some(false));
        assert_eq!(status.remaining_time(), Some(RemainTime::Minutes(0)));
    }
}
