//! The status and control commands (docs/goip-protocol.md#control-commands)
//! that share one
//! shape: `<cmd> <sendid> [<value>] <password>` out, and
//! `<cmd> <sendid> [<value>] [ok]` or `ERROR <sendid> <text>` back.
//!
//! One enum names them all so the command (engine → GoIP) and its reply
//! (GoIP → engine) agree on the verb and on whether a value goes with it.
//! The AT tunnel (`ATSTART`, `ATCMD`, `ATALIVE`, `ATSTOP`) and the commands
//! only goipcron sends (`disable_sim`, `callout_ctl`, `set_num`, …) have the
//! same shape and are here too.

use super::error::FormatError;
use super::tokens::check_token;

/// Which control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// `get_gsm_num`: the configured SIM number (`(null)` when unset).
    GetGsmNum,
    /// `set_gsm_num <number>`.
    SetGsmNum,
    /// `get_gsm_state`: `IDLE` / `ACTIVE`.
    GetGsmState,
    /// `get_remain_time`: minutes of call time left.
    GetRemainTime,
    /// `get_exp_time`: the outgoing-call time limit.
    GetExpTime,
    /// `set_exp_time <minutes>`.
    SetExpTime,
    /// `reset_remain_time`: reset the remaining time to the limit.
    ResetRemainTime,
    /// `svr_drop_call`: hang up the current call.
    SvrDropCall,
    /// `svr_reboot_module`: reboot this channel's GSM module.
    SvrRebootModule,
    /// `svr_reboot_dev`: reboot the whole GoIP.
    SvrRebootDev,
    /// `module_ctl_i <1|0>`: enable (1) or disable (0; [EN23] says 2, see
    /// docs/goip-protocol.md#control-commands) this channel's module.
    ModuleCtlI,
    /// `module_ctl <digits>`: one digit per channel, 1 enable, 0 disable,
    /// 2 leave as is.
    ModuleCtl,
    /// `get_imei`.
    GetImei,
    /// `set_imei <15 digits>`.
    SetImei,
    /// `get_out_call_interval`: seconds between outgoing calls.
    GetOutCallInterval,
    /// `set_out_call_interval <seconds>`.
    SetOutCallInterval,
    /// `get_cells_list`: the list arrives later as a `CELLS:` notification.
    GetCellsList,
    /// `set_base_cell <cell>`: lock the channel to one cell.
    SetBaseCell,
    /// `CURCELL`: the current cell id.
    CurCell,
    /// `ATSTART`: open the AT tunnel (modem traffic arrives as `AT:`).
    AtStart,
    /// `ATCMD <at command>`: write one AT command to the module.
    AtCmd,
    /// `ATALIVE`: keep the tunnel open (every 30 s; closed after 60 s).
    AtAlive,
    /// `ATSTOP`: close the tunnel.
    AtStop,
    /// `disable_sim` (goipcron only; semantics inferred).
    DisableSim,
    /// `disable_sim2 <flag>` (goipcron only).
    DisableSim2,
    /// `callout_ctl <0|1>`: block or allow outgoing calls (goipcron only).
    CalloutCtl,
    /// `set_num <number>`: set the number learnt by USSD (goipcron only).
    SetNum,
    /// `status_flag <0|1>`: sync `disable_status` (goipcron only).
    StatusFlag,
}

/// Every control command, in the order of [`ControlKind`]'s variants: its
/// verb on the wire, and the name of the value it carries before the
/// password (`None`: it carries none).
const TABLE: [(ControlKind, &str, Option<&str>); 28] = [
    (ControlKind::GetGsmNum, "get_gsm_num", None),
    (ControlKind::SetGsmNum, "set_gsm_num", Some("number")),
    (ControlKind::GetGsmState, "get_gsm_state", None),
    (ControlKind::GetRemainTime, "get_remain_time", None),
    (ControlKind::GetExpTime, "get_exp_time", None),
    (ControlKind::SetExpTime, "set_exp_time", Some("minutes")),
    (ControlKind::ResetRemainTime, "reset_remain_time", None),
    (ControlKind::SvrDropCall, "svr_drop_call", None),
    (ControlKind::SvrRebootModule, "svr_reboot_module", None),
    (ControlKind::SvrRebootDev, "svr_reboot_dev", None),
    (
        ControlKind::ModuleCtlI,
        "module_ctl_i",
        Some("module setting"),
    ),
    (ControlKind::ModuleCtl, "module_ctl", Some("module setting")),
    (ControlKind::GetImei, "get_imei", None),
    (ControlKind::SetImei, "set_imei", Some("IMEI")),
    (
        ControlKind::GetOutCallInterval,
        "get_out_call_interval",
        None,
    ),
    (
        ControlKind::SetOutCallInterval,
        "set_out_call_interval",
        Some("seconds"),
    ),
    (ControlKind::GetCellsList, "get_cells_list", None),
    (ControlKind::SetBaseCell, "set_base_cell", Some("cell")),
    (ControlKind::CurCell, "CURCELL", None),
    (ControlKind::AtStart, "ATSTART", None),
    (ControlKind::AtCmd, "ATCMD", Some("AT command")),
    (ControlKind::AtAlive, "ATALIVE", None),
    (ControlKind::AtStop, "ATSTOP", None),
    (ControlKind::DisableSim, "disable_sim", None),
    (ControlKind::DisableSim2, "disable_sim2", Some("value")),
    (ControlKind::CalloutCtl, "callout_ctl", Some("value")),
    (ControlKind::SetNum, "set_num", Some("number")),
    (ControlKind::StatusFlag, "status_flag", Some("value")),
];

impl ControlKind {
    /// Every control command.
    #[cfg(test)]
    pub(crate) fn all() -> impl Iterator<Item = ControlKind> {
        TABLE.iter().map(|(kind, ..)| *kind)
    }

    /// The verb on the wire.
    pub fn verb(self) -> &'static str {
        TABLE[self as usize].1
    }

    /// The kind for a verb (exact spelling: NiceLabs' `get_gsm_number` is a
    /// typo the GoIP does not know).
    pub fn from_verb(verb: &str) -> Option<ControlKind> {
        TABLE
            .iter()
            .find(|(_, v, _)| *v == verb)
            .map(|(kind, ..)| *kind)
    }

    /// True if the command carries a value before the password.
    pub fn takes_value(self) -> bool {
        TABLE[self as usize].2.is_some()
    }

    /// How the GoIP spells success in the reply: `OK` for the AT tunnel,
    /// `ok` for the rest.
    pub fn ok_word(self) -> &'static str {
        match self {
            ControlKind::AtStart
            | ControlKind::AtCmd
            | ControlKind::AtAlive
            | ControlKind::AtStop => "OK",
            _ => "ok",
        }
    }

    /// Checks a value for this command: always one token, and for the
    /// commands with a fixed format, that format.
    pub(crate) fn check_value(self, value: &str) -> Result<(), FormatError> {
        let name = TABLE[self as usize].2.unwrap_or("value");
        check_token(name, value)?;
        let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let (ok, expected) = match self {
            ControlKind::SetImei => (value.len() == 15 && digits(value), "15 digits"),
            ControlKind::ModuleCtlI => (
                matches!(value, "0" | "1" | "2"),
                "1 (enable) or 0 (disable)",
            ),
            ControlKind::ModuleCtl => (
                value.bytes().all(|b| matches!(b, b'0' | b'1' | b'2')),
                "one digit per channel: 1 enable, 0 disable, 2 unchanged",
            ),
            ControlKind::CalloutCtl | ControlKind::StatusFlag => {
                (matches!(value, "0" | "1"), "0 or 1")
            }
            ControlKind::SetExpTime | ControlKind::SetOutCallInterval => (
                digits(value.strip_prefix('-').unwrap_or(value)),
                "a whole number",
            ),
            _ => return Ok(()),
        };
        if ok {
            Ok(())
        } else {
            Err(FormatError::invalid(name, value, expected))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_unique_and_round_trip() {
        for kind in ControlKind::all() {
            assert_eq!(ControlKind::from_verb(kind.verb()), Some(kind));
        }
        let mut verbs: Vec<_> = ControlKind::all().map(|k| k.verb()).collect();
        verbs.sort_unstable();
        verbs.dedup();
        assert_eq!(verbs.len(), ControlKind::all().count());
        assert_eq!(ControlKind::from_verb("get_gsm_number"), None);
    }

    #[test]
    fn value_formats() {
        assert!(ControlKind::SetImei.check_value("860000000000000").is_ok());
        assert!(ControlKind::SetImei.check_value("86000000000000").is_err());
        assert!(ControlKind::ModuleCtl.check_value("10120121").is_ok());
        assert!(ControlKind::ModuleCtl.check_value("10120123").is_err());
        assert!(ControlKind::ModuleCtlI.check_value("0").is_ok());
        assert!(ControlKind::ModuleCtlI.check_value("01").is_err());
        assert!(ControlKind::SetExpTime.check_value("-1").is_ok());
        assert!(ControlKind::SetExpTime.check_value("-").is_err());
        assert!(ControlKind::SetGsmNum.check_value("13800138001").is_ok());
        assert!(ControlKind::SetGsmNum.check_value("138 001").is_err());
        assert!(ControlKind::AtCmd.check_value("AT+CSQ").is_ok());
    }
}
