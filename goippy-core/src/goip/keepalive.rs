//! The `req:` registration/keepalive every channel sends every 30 s
//! (docs/goip-protocol.md#keepalive).
//!
//! Every field is kept as the raw string it arrived as (`None` when absent:
//! old firmware sends only `num` and `signal`), because firmware versions
//! disagree on spellings and the daemon shows them to operators as they are.
//! Typed readings live in accessors (the number, signal in dBm and bars, the
//! GSM login; more as test support), each returning `None` when the raw value
//! is absent or unreadable. Unknown fields (`s_l_id`, …) are kept in order.

use std::fmt;

use super::error::FormatError;
use super::fields::{Field, FieldWriter, Fields};
#[cfg(test)]
use super::radio_events::ServingCell;

/// The fields of a keepalive, beyond the envelope (`req:<count>`, `id`,
/// `pass`, which live in [`super::Notification`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keepalive {
    /// The SIM number as configured on the GoIP (not read from the SIM);
    /// often empty.
    pub num: Option<String>,
    /// GSM CSQ: 0–31, 99 = unknown. See [`Keepalive::signal_quality`].
    pub signal: Option<String>,
    /// `LOGIN` (registered on GSM) or `LOGOUT`.
    pub gsm_status: Option<String>,
    /// SIP/H.323 registration: `LOGIN`/`LOGOUT` (also seen: `UP`/`DOWN`).
    pub voip_status: Option<String>,
    /// The line state: `IDLE`, `ACTIVE`, …
    pub voip_state: Option<String>,
    /// Minutes of call time left; `-1` = unlimited.
    pub remain_time: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    /// Carrier name; may contain spaces.
    pub pro: Option<String>,
    /// Minutes since the last call.
    pub idle: Option<String>,
    /// `1` if the channel/module is disabled, else `0`.
    pub disable_status: Option<String>,
    /// `SMS_LOGIN`: `Y` once the GoIP considers itself logged in to us.
    pub sms_login: Option<String>,
    /// `SMB_LOGIN`: SIM-bank login state, usually empty.
    pub smb_login: Option<String>,
    /// `CELLINFO`: `LAC:<hex>,CELL ID:<hex>`.
    pub cellinfo: Option<String>,
    /// `CGATT`: `Y`/`N`, packet-service attach.
    pub cgatt: Option<String>,
    /// Fields this module does not know, in the order they came.
    pub extra: Vec<Field>,
}

/// Wire keys of the known fields, in the order real firmware sends them
/// (goipcron even parses them by position).
pub(crate) const KEEPALIVE_KEYS: [&str; 16] = [
    "num",
    "signal",
    "gsm_status",
    "voip_status",
    "voip_state",
    "remain_time",
    "imei",
    "imsi",
    "iccid",
    "pro",
    "idle",
    "disable_status",
    "SMS_LOGIN",
    "SMB_LOGIN",
    "CELLINFO",
    "CGATT",
];

impl Keepalive {
    fn slots_mut(&mut self) -> [&mut Option<String>; 16] {
        [
            &mut self.num,
            &mut self.signal,
            &mut self.gsm_status,
            &mut self.voip_status,
            &mut self.voip_state,
            &mut self.remain_time,
            &mut self.imei,
            &mut self.imsi,
            &mut self.iccid,
            &mut self.pro,
            &mut self.idle,
            &mut self.disable_status,
            &mut self.sms_login,
            &mut self.smb_login,
            &mut self.cellinfo,
            &mut self.cgatt,
        ]
    }

    fn slots(&self) -> [&Option<String>; 16] {
        [
            &self.num,
            &self.signal,
            &self.gsm_status,
            &self.voip_status,
            &self.voip_state,
            &self.remain_time,
            &self.imei,
            &self.imsi,
            &self.iccid,
            &self.pro,
            &self.idle,
            &self.disable_status,
            &self.sms_login,
            &self.smb_login,
            &self.cellinfo,
            &self.cgatt,
        ]
    }

    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Self {
        let mut keepalive = Keepalive::default();
        for (key, slot) in KEEPALIVE_KEYS.iter().zip(keepalive.slots_mut()) {
            *slot = fields.take(key);
        }
        keepalive.extra = fields.into_vec();
        keepalive
    }

    /// Writes the known fields in firmware order, then the unknown ones.
    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        for (key, value) in KEEPALIVE_KEYS.iter().zip(self.slots()) {
            if let Some(value) = value {
                w.field("keepalive field", key, value)?;
            }
        }
        for field in &self.extra {
            w.field("keepalive field", &field.key, &field.value)?;
        }
        Ok(())
    }

    /// The configured SIM number, if one is set.
    pub fn number(&self) -> Option<&str> {
        self.num.as_deref().filter(|n| !n.is_empty())
    }

    /// The signal quality, if the GoIP reported a readable CSQ.
    pub fn signal_quality(&self) -> Option<Signal> {
        Signal::parse(self.signal.as_deref()?)
    }

    /// Registered on the GSM network (`LOGIN`) or not (`LOGOUT`).
    pub fn gsm_login(&self) -> Option<bool> {
        login_flag(self.gsm_status.as_deref()?)
    }
}

// Test support: readings goippy itself does not need.
#[cfg(test)]
impl Keepalive {
    /// Registered with the VoIP server (`LOGIN`/`UP`) or not (`LOGOUT`/`DOWN`).
    pub fn voip_login(&self) -> Option<bool> {
        login_flag(self.voip_status.as_deref()?)
    }

    /// Minutes since the last call.
    pub fn idle_minutes(&self) -> Option<u32> {
        self.idle.as_deref()?.trim().parse().ok()
    }

    /// The channel's module is disabled (`disable_status:1`).
    pub fn is_disabled(&self) -> Option<bool> {
        yes_no(self.disable_status.as_deref()?)
    }

    /// The GoIP considers itself logged in to the SMS server (`SMS_LOGIN:Y`).
    pub fn sms_server_login(&self) -> Option<bool> {
        yes_no(self.sms_login.as_deref()?)
    }

    /// Attached to packet service (`CGATT:Y`).
    pub fn packet_attached(&self) -> Option<bool> {
        yes_no(self.cgatt.as_deref()?)
    }

    /// The serving cell from `CELLINFO`.
    pub fn serving_cell(&self) -> Option<ServingCell> {
        ServingCell::parse(self.cellinfo.as_deref()?)
    }

    /// The line state from `voip_state`.
    pub fn line_state(&self) -> Option<super::LineState> {
        self.voip_state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(super::LineState::parse)
    }

    /// The remaining call-time budget.
    pub fn remaining_time(&self) -> Option<super::RemainTime> {
        super::RemainTime::parse(self.remain_time.as_deref()?)
    }

    /// The channel is logged in to a SIM bank (`SMB_LOGIN:Y`).
    pub fn sim_bank_login(&self) -> Option<bool> {
        yes_no(self.smb_login.as_deref()?)
    }

    /// The raw value of any field by its wire key, known or not (`None` when
    /// absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        match KEEPALIVE_KEYS.iter().position(|k| *k == key) {
            Some(index) => self.slots()[index].as_deref(),
            None => self
                .extra
                .iter()
                .find(|f| f.key == key)
                .map(|f| f.value.as_str()),
        }
    }
}

fn login_flag(value: &str) -> Option<bool> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("LOGIN") || value.eq_ignore_ascii_case("UP") {
        Some(true)
    } else if value.eq_ignore_ascii_case("LOGOUT") || value.eq_ignore_ascii_case("DOWN") {
        Some(false)
    } else {
        None
    }
}

/// `Y`/`N`, `1`/`0` as a flag (case-insensitive); anything else is unknown.
pub(crate) fn yes_no(value: &str) -> Option<bool> {
    match value.trim() {
        "1" => Some(true),
        "0" => Some(false),
        v if v.eq_ignore_ascii_case("Y") || v.eq_ignore_ascii_case("YES") => Some(true),
        v if v.eq_ignore_ascii_case("N") || v.eq_ignore_ascii_case("NO") => Some(false),
        _ => None,
    }
}

/// GSM signal quality as the modem's CSQ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// CSQ 0–31: RSSI = 2·CSQ − 113 dBm (0 means −113 dBm or less, 31 means
    /// −51 dBm or more).
    Csq(u8),
    /// CSQ 99: the modem does not know (no SIM, no network).
    Unknown,
}

impl Signal {
    /// Reads a CSQ value: `0`–`31` or `99`; anything else is not a CSQ.
    pub fn parse(value: &str) -> Option<Signal> {
        match value.trim().parse::<u8>().ok()? {
            99 => Some(Signal::Unknown),
            csq @ 0..=31 => Some(Signal::Csq(csq)),
            _ => None,
        }
    }

    /// The CSQ number as sent (99 for unknown).
    pub fn csq(self) -> u8 {
        match self {
            Signal::Csq(csq) => csq,
            Signal::Unknown => 99,
        }
    }

    /// Received signal strength in dBm: 2·CSQ − 113.
    pub fn rssi_dbm(self) -> Option<i16> {
        match self {
            Signal::Csq(csq) => Some(2 * i16::from(csq) - 113),
            Signal::Unknown => None,
        }
    }

    /// Signal bars 0–4 as phones show them (CSQ 0 → 0, 1–9 → 1 "marginal",
    /// 10–14 → 2 "ok", 15–19 → 3 "good", 20–31 → 4 "excellent"); `None` when
    /// unknown.
    pub fn bars(self) -> Option<u8> {
        match self {
            Signal::Csq(0) => Some(0),
            Signal::Csq(1..=9) => Some(1),
            Signal::Csq(10..=14) => Some(2),
            Signal::Csq(15..=19) => Some(3),
            Signal::Csq(_) => Some(4),
            Signal::Unknown => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rssi_dbm() {
            Some(dbm) => write!(f, "{dbm} dBm (CSQ {})", self.csq()),
            None => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive(fields: &str) -> Keepalive {
        Keepalive::from_fields(Fields::split(fields, &[]))
    }

    #[test]
    fn full_keepalive_fields_and_accessors() {
        let k = keepalive(
            "num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;\
             imei:860000000000000;imsi:260060000000000;iccid:89480600000000000000;pro:POL;idle:11;\
             disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;",
        );
        assert_eq!(k.num.as_deref(), Some(""));
        assert_eq!(k.number(), None);
        assert_eq!(k.signal_quality(), Some(Signal::Csq(29)));
        assert_eq!(k.signal_quality().and_then(Signal::rssi_dbm), Some(-55));
        assert_eq!(k.gsm_login(), Some(true));
        assert_eq!(k.voip_login(), Some(false));
        assert_eq!(k.line_state(), Some(LineState::Idle));
        assert_eq!(k.remaining_time(), Some(RemainTime::Unlimited));
        assert_eq!(k.idle_minutes(), Some(11));
        assert_eq!(k.is_disabled(), Some(false));
        assert_eq!(k.sms_server_login(), Some(false));
        assert_eq!(k.sim_bank_login(), None);
        assert_eq!(k.packet_attached(), Some(true));
        assert_eq!(
            k.serving_cell(),
            Some(ServingCell {
                lac: 0x7E5,
                cell_id: 0x5E5B
            })
        );
        assert_eq!(k.get("pro"), Some("POL"));
        assert_eq!(k.get("CELLINFO"), Some("LAC:7E5,CELL ID:5E5B"));
        assert!(k.extra.is_empty());
    }

    #[test]
    fn short_form_and_unknown_fields() {
        let k = keepalive("num:13800138000;signal:99;s_l_id:7;zz:a:b;");
        assert_eq!(k.number(), Some("13800138000"));
        assert_eq!(k.signal_quality(), Some(Signal::Unknown));
        assert_eq!(k.gsm_login(), None);
        assert_eq!(
            k.extra,
            [Field::new("s_l_id", "7"), Field::new("zz", "a:b")]
        );
        assert_eq!(k.get("s_l_id"), Some("7"));
        assert_eq!(k.get("imei"), None);
    }

    #[test]
    fn signal_readings() {
        assert_eq!(Signal::parse(""), None);
        assert_eq!(Signal::parse("32"), None);
        assert_eq!(Signal::parse("-1"), None);
        assert_eq!(Signal::Csq(0).rssi_dbm(), Some(-113));
        assert_eq!(Signal::Csq(31).rssi_dbm(), Some(-51));
        assert_eq!(Signal::Unknown.rssi_dbm(), None);
        let bars: Vec<_> = [0, 1, 9, 10, 14, 15, 19, 20, 31]
            .map(|c| Signal::Csq(c).bars().unwrap_or(9))
            .into();
        assert_eq!(bars, [0, 1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(Signal::Unknown.bars(), None);
        assert_eq!(Signal::Csq(29).to_string(), "-55 dBm (CSQ 29)");
        assert_eq!(Signal::Unknown.to_string(), "unknown");
    }

    #[test]
    fn flags() {
        assert_eq!(login_flag("UP"), Some(true));
        assert_eq!(login_flag("DOWN"), Some(false));
        assert_eq!(login_flag(""), None);
        assert_eq!(yes_no("y"), Some(true));
        assert_eq!(yes_no("0"), Some(false));
        assert_eq!(yes_no("maybe"), None);
    }

    // Wire vectors (docs/goip-protocol.md#keepalive): real captures, the documented shapes and the
    // quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::{capture, notification};
    use crate::goip::*;

    const KEEPALIVE_FULL: &str = "req:27;id:gw1_ch1;pass:secret;num:;signal:29;gsm_status:LOGIN;\
voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:860000000000000;imsi:260060000000000;\
iccid:89480600000000000000;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;\
CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;";

    #[test]
    fn keepalive_as_real_firmware_sends_it() {
        let n = capture(KEEPALIVE_FULL, "reg:27;status:200;");
        assert_eq!(n.tag(), "req");
        assert_eq!(n.recvid, "27");
        assert_eq!(n.id, "gw1_ch1");
        assert_eq!(n.password.as_deref(), Some("secret"));
        let NotificationKind::Keepalive(k) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(k.num.as_deref(), Some(""));
        assert_eq!(k.number(), None);
        assert_eq!(k.signal.as_deref(), Some("29"));
        assert_eq!(k.signal_quality(), Some(Signal::Csq(29)));
        assert_eq!(k.signal_quality().and_then(Signal::rssi_dbm), Some(-55));
        assert_eq!(k.signal_quality().and_then(Signal::bars), Some(4));
        assert_eq!(k.gsm_status.as_deref(), Some("LOGIN"));
        assert_eq!(k.gsm_login(), Some(true));
        assert_eq!(k.voip_status.as_deref(), Some("LOGOUT"));
        assert_eq!(k.voip_login(), Some(false));
        assert_eq!(k.voip_state.as_deref(), Some("IDLE"));
        assert_eq!(k.line_state(), Some(LineState::Idle));
        assert_eq!(k.remain_time.as_deref(), Some("-1"));
        assert_eq!(k.remaining_time(), Some(RemainTime::Unlimited));
        assert_eq!(k.imei.as_deref(), Some("860000000000000"));
        assert_eq!(k.imsi.as_deref(), Some("260060000000000"));
        assert_eq!(k.iccid.as_deref(), Some("89480600000000000000"));
        assert_eq!(k.pro.as_deref(), Some("POL"));
        assert_eq!(k.idle_minutes(), Some(11));
        assert_eq!(k.is_disabled(), Some(false));
        assert_eq!(k.sms_login.as_deref(), Some("N"));
        assert_eq!(k.sms_server_login(), Some(false));
        assert_eq!(k.smb_login.as_deref(), Some(""));
        assert_eq!(k.cellinfo.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
        assert_eq!(
            k.serving_cell(),
            Some(ServingCell {
                lac: 0x7e5,
                cell_id: 0x5e5b
            })
        );
        assert_eq!(k.cgatt.as_deref(), Some("Y"));
        assert_eq!(k.packet_attached(), Some(true));
        assert!(k.extra.is_empty());
        assert_eq!(
            String::from_utf8(n.ack(false).expect("acked").encode()).expect("UTF-8"),
            "reg:27;status:404;"
        );
    }

    #[test]
    fn keepalive_as_documented_and_in_the_old_short_form() {
        let documented = "req:10;id:goipid1;pass:password1;num:13800138000;signal:25;\
gsm_status:LOGIN;voip_status:LOGIN;imei:351234567890123;imsi:460001234567890;\
iccid:89860012345678901234;";
        let n = capture(documented, "reg:10;status:200;");
        let NotificationKind::Keepalive(k) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(k.number(), Some("13800138000"));
        assert_eq!(k.voip_state, None);
        assert_eq!(k.cgatt, None);

        let short = capture(
            "req:10;id:goipid1;pass:password1;num:13800138000;signal:20;",
            "reg:10;status:200;",
        );
        let NotificationKind::Keepalive(k) = &short.kind else {
            panic!("{short:?}")
        };
        assert_eq!(k.number(), Some("13800138000"));
        assert_eq!(k.signal_quality(), Some(Signal::Csq(20)));
        assert_eq!(k.gsm_status, None);
        assert_eq!(k.gsm_login(), None);
    }

    #[test]
    fn keepalive_with_unknown_and_empty_fields() {
        let wire = "req:1;id:ch2;pass:p;num:(null);signal:;gsm_status:LOGOUT;voip_status:UP;\
pro:CHINA UNICOM GSM;s_l_id:3;imei:<NULL>;x_new:a:b c;\r\n";
        let n = notification(wire.as_bytes());
        let NotificationKind::Keepalive(k) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(k.num.as_deref(), Some(""));
        assert_eq!(k.signal.as_deref(), Some(""));
        assert_eq!(k.signal_quality(), None);
        assert_eq!(k.voip_login(), Some(true));
        assert_eq!(k.pro.as_deref(), Some("CHINA UNICOM GSM"));
        assert_eq!(k.imei.as_deref(), Some(""));
        assert_eq!(
            k.extra,
            [Field::new("s_l_id", "3"), Field::new("x_new", "a:b c")]
        );
        assert_eq!(k.get("x_new"), Some("a:b c"));
        assert_eq!(selfcheck::check_packet(wire.as_bytes()), Ok(()));
    }

    #[test]
    fn values_with_colons_and_spaces() {
        let n =
            notification(b"req:1;id:g;pass:p;pro:CHINA UNICOM GSM;CELLINFO:LAC:7E5,CELL ID:5E5B;");
        let NotificationKind::Keepalive(k) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(k.pro.as_deref(), Some("CHINA UNICOM GSM"));
        assert_eq!(k.cellinfo.as_deref(), Some("LAC:7E5,CELL ID:5E5B"));
    }
}
