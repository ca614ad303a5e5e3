//! Notifications about messages: `RECEIVE:` (an inbound SMS), `DELIVER:`
//! (a delivery report for an SMS we sent) and `USSN:` (USSD text the network
//! pushed) — docs/goip-protocol.md#receive, #deliver and #ussn.
//!
//! The body (`msg:`) is the rest of the datagram, byte for byte: the GoIP does
//! not escape it, so `;`, `:`, CR and LF inside it are text. It is only
//! recognised after the fields before it, so a `;msg:` inside the body is
//! body too.

use super::error::{FormatError, Problem};
use super::fields::{FieldWriter, Fields, number};

/// `RECEIVE:…;srcnum:<sender>;[smscnum:<smsc>;]msg:<text>`: an inbound SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receive {
    /// The sender: `+E164`, a national number, or an alphanumeric name.
    pub srcnum: String,
    /// The SMS centre, present when "Send SMSC Number" is on.
    pub smscnum: Option<String>,
    /// The text, verbatim (a trailing line break here is part of the text).
    pub msg: String,
}

impl Receive {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        Ok(Receive {
            srcnum: fields.require("srcnum")?,
            smscnum: fields.take("smscnum"),
            msg: fields.require("msg")?,
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("sender", "srcnum", &self.srcnum)?;
        if let Some(smsc) = &self.smscnum {
            w.field("SMSC number", "smscnum", smsc)?;
        }
        w.tail("msg", &self.msg)
    }
}

/// `DELIVER:…;sms_no:<n>;state:<s>[;num:<dest>]`: a carrier delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// The number the GoIP gave the SMS in `OK <sendid> <telid> <sms_no>`.
    /// A per-channel counter that repeats: match it against recent sends
    /// on the same channel, newest first.
    pub sms_no: u32,
    /// `0` = delivered; other values look like GSM 03.40 TP-Status codes
    /// (32–63 still trying, 64–127 failed).
    pub state: i32,
    /// The recipient; only newer firmware sends it.
    pub num: Option<String>,
}

impl Deliver {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let sms_no = fields.require("sms_no")?;
        let state = fields.require("state")?;
        Ok(Deliver {
            sms_no: number("sms_no", sms_no.trim(), "a non-negative number")?,
            state: number("state", state.trim(), "a number")?,
            num: fields.take("num"),
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("sms_no", "sms_no", &self.sms_no.to_string())?;
        w.field("state", "state", &self.state.to_string())?;
        if let Some(num) = &self.num {
            w.field("recipient", "num", num)?;
        }
        Ok(())
    }
}

// Test support: the engine reads `state` itself.
#[cfg(test)]
impl Deliver {
    /// The carrier reports the SMS delivered.
    pub fn delivered(&self) -> bool {
        self.state == 0
    }
}

/// `USSN:…;msg:<text>`: USSD text the network sent on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ussn {
    pub msg: String,
}

impl Ussn {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        Ok(Ussn {
            msg: fields.require("msg")?,
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.tail("msg", &self.msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_with_and_without_smsc() {
        let r =
            Receive::from_fields(Fields::split("srcnum:1380013800;msg:测试", &["msg"])).unwrap();
        assert_eq!(r.srcnum, "1380013800");
        assert_eq!(r.smscnum, None);
        assert_eq!(r.msg, "测试");
        let r = Receive::from_fields(Fields::split(
            "srcnum:+3725551;smscnum:+3725099;msg:a;smscnum:x",
            &["msg"],
        ))
        .unwrap();
        assert_eq!(r.smscnum.as_deref(), Some("+3725099"));
        assert_eq!(r.msg, "a;smscnum:x");
    }

    #[test]
    fn receive_needs_sender_and_body() {
        assert_eq!(
            Receive::from_fields(Fields::split("msg:x", &["msg"])),
            Err(Problem::Missing("srcnum"))
        );
        assert_eq!(
            Receive::from_fields(Fields::split("srcnum:1", &["msg"])),
            Err(Problem::Missing("msg"))
        );
        let empty = Receive::from_fields(Fields::split("srcnum:1;msg:", &["msg"])).unwrap();
        assert_eq!(empty.msg, "");
    }

    #[test]
    fn deliver_fields() {
        let d = Deliver::from_fields(Fields::split("sms_no:0;state:0", &[])).unwrap();
        assert_eq!((d.sms_no, d.state, d.num.as_deref()), (0, 0, None));
        assert!(d.delivered());
        let d = Deliver::from_fields(Fields::split("sms_no:7;state:65;num:+1", &[])).unwrap();
        assert!(!d.delivered());
        assert_eq!(d.num.as_deref(), Some("+1"));
        assert!(Deliver::from_fields(Fields::split("sms_no:-1;state:0", &[])).is_err());
        assert!(Deliver::from_fields(Fields::split("sms_no:1", &[])).is_err());
    }

    // Wire vectors (docs/goip-protocol.md#receive, docs/goip-protocol.md#deliver,
    // docs/goip-protocol.md#ussn): real captures, the documented shapes and the quirks. A capture
    // must read back and re-encode byte for byte.

    use crate::goip::tests::{capture, notification};
    use crate::goip::*;

    #[test]
    fn receive_capture() {
        let n = capture(
            "RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试",
            "RECEIVE 1571812849 OK",
        );
        assert_eq!(n.id, "goip-1");
        assert_eq!(n.password.as_deref(), Some("goip"));
        let NotificationKind::Receive(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(r.srcnum, "1380013800");
        assert_eq!(r.smscnum, None);
        assert_eq!(r.msg, "测试");
        assert_eq!(
            String::from_utf8(n.ack(false).expect("acked").encode()).expect("UTF-8"),
            "RECEIVE 1571812849 ERROR not find this id:goip-1, or password error"
        );
    }

    #[test]
    fn receive_with_smsc_and_the_documented_pass_key() {
        let n = capture(
            "RECEIVE:1734804704;id:goip-1;password:goip;srcnum:BANK;smscnum:+3725099;msg:Code: 1234; ok",
            "RECEIVE 1734804704 OK",
        );
        let NotificationKind::Receive(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(r.srcnum, "BANK");
        assert_eq!(r.smscnum.as_deref(), Some("+3725099"));
        assert_eq!(r.msg, "Code: 1234; ok");

        // V-EN23's RECEIVE example writes `pass:`.
        let n = notification(b"RECEIVE:1;id:goipid1;pass:password1;srcnum:10086;msg:hi");
        assert_eq!(n.password.as_deref(), Some("password1"));
    }

    #[test]
    fn deliver_capture() {
        let n = capture(
            "DELIVER:1571812803;id:goip-1;password:goip;sms_no:32;state:0;num:+861380013800",
            "DELIVER 1571812803 OK",
        );
        let NotificationKind::Deliver(d) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(d.sms_no, 32);
        assert_eq!(d.state, 0);
        assert!(d.delivered());
        assert_eq!(d.num.as_deref(), Some("+861380013800"));

        // Older firmware: no num; sms_no 0 is a real value.
        let n = capture(
            "DELIVER:5;id:goip-1;password:goip;sms_no:0;state:65",
            "DELIVER 5 OK",
        );
        let NotificationKind::Deliver(d) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!((d.sms_no, d.state, d.delivered()), (0, 65, false));
        assert_eq!(d.num, None);
    }

    #[test]
    fn ussn_takes_the_rest_as_text() {
        let n = capture(
            "USSN:77;id:goip-1;password:goip;msg:Bonus: 5 MB; valid\r\nuntil 01.01",
            "USSN 77 OK",
        );
        let NotificationKind::Ussn(u) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(u.msg, "Bonus: 5 MB; valid\r\nuntil 01.01");
    }

    #[test]
    fn msg_body_keeps_semicolons_colons_and_line_breaks() {
        let wire = b"RECEIVE:1;id:g;password:p;srcnum:+3725551;msg:a;b:c;msg:d\r\ne\r\n";
        let n = notification(wire);
        let NotificationKind::Receive(r) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(r.msg, "a;b:c;msg:d\r\ne\r\n");
        assert_eq!(n.encode().expect("encodes"), wire);
    }
}
