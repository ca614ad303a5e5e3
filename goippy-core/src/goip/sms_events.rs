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
    pub(crate) fn from_fields(mut fields: Fields) -> Result<Self, Problem> {
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
    pub(crate) fn from_fields(mut fields: Fields) -> Result<Self, Problem> {
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
    pub(crate) fn from_fields(mut fields: Fields) -> Result<Self, Problem> {
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
}
