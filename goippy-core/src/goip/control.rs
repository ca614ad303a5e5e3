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

impl ControlKind {
    /// Every control command.
    pub const ALL: [ControlKind; 28] = [
        ControlKind::GetGsmNum,
        ControlKind::SetGsmNum,
        ControlKind::GetGsmState,
        ControlKind::GetRemainTime,
        ControlKind::GetExpTime,
        ControlKind::SetExpTime,
        ControlKind::ResetRemainTime,
        ControlKind::SvrDropCall,
        ControlKind::SvrRebootModule,
        ControlKind::SvrRebootDev,
        ControlKind::ModuleCtlI,
        ControlKind::ModuleCtl,
        ControlKind::GetImei,
        ControlKind::SetImei,
        ControlKind::GetOutCallInterval,
        ControlKind::SetOutCallInterval,
        ControlKind::GetCellsList,
        ControlKind::SetBaseCell,
        ControlKind::CurCell,
        ControlKind::AtStart,
        ControlKind::AtCmd,
        ControlKind::AtAlive,
        ControlKind::AtStop,
        ControlKind::DisableSim,
        ControlKind::DisableSim2,
        ControlKind::CalloutCtl,
        ControlKind::SetNum,
        ControlKind::StatusFlag,
    ];

    /// The verb on the wire.
    pub fn verb(self) -> &'static str {
        match self {
            ControlKind::GetGsmNum => "get_gsm_num",
            ControlKind::SetGsmNum => "set_gsm_num",
            ControlKind::GetGsmState => "get_gsm_state",
            ControlKind::GetRemainTime => "get_remain_time",
            ControlKind::GetExpTime => "get_exp_time",
            ControlKind::SetExpTime => "set_exp_time",
            ControlKind::ResetRemainTime => "reset_remain_time",
            ControlKind::SvrDropCall => "svr_drop_call",
            ControlKind::SvrRebootModule => "svr_reboot_module",
            ControlKind::SvrRebootDev => "svr_reboot_dev",
            ControlKind::ModuleCtlI => "module_ctl_i",
            ControlKind::ModuleCtl => "module_ctl",
            ControlKind::GetImei => "get_imei",
            ControlKind::SetImei => "set_imei",
            ControlKind::GetOutCallInterval => "get_out_call_interval",
            ControlKind::SetOutCallInterval => "set_out_call_interval",
            ControlKind::GetCellsList => "get_cells_list",
            ControlKind::SetBaseCell => "set_base_cell",
            ControlKind::CurCell => "CURCELL",
            ControlKind::AtStart => "ATSTART",
            ControlKind::AtCmd => "ATCMD",
            ControlKind::AtAlive => "ATALIVE",
            ControlKind::AtStop => "ATSTOP",
            ControlKind::DisableSim => "disable_sim",
            ControlKind::DisableSim2 => "disable_sim2",
            ControlKind::CalloutCtl => "callout_ctl",
            ControlKind::SetNum => "set_num",
            ControlKind::StatusFlag => "status_flag",
        }
    }

    /// The kind for a verb (exact spelling: NiceLabs' `get_gsm_number` is a
    /// typo the GoIP does not know).
    pub fn from_verb(verb: &str) -> Option<ControlKind> {
        ControlKind::ALL.into_iter().find(|k| k.verb() == verb)
    }

    /// True if the command carries a value before the password.
    pub fn takes_value(self) -> bool {
        matches!(
            self,
            ControlKind::SetGsmNum
                | ControlKind::SetExpTime
                | ControlKind::ModuleCtlI
                | ControlKind::ModuleCtl
                | ControlKind::SetImei
                | ControlKind::SetOutCallInterval
                | ControlKind::SetBaseCell
                | ControlKind::AtCmd
                | ControlKind::DisableSim2
                | ControlKind::CalloutCtl
                | ControlKind::SetNum
                | ControlKind::StatusFlag
        )
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
        check_token(self.value_name(), value)?;
        let ok = match self {
            ControlKind::SetImei => value.len() == 15 && value.bytes().all(|b| b.is_ascii_digit()),
            ControlKind::ModuleCtlI => matches!(value, "0" | "1" | "2"),
            ControlKind::ModuleCtl => value.bytes().all(|b| matches!(b, b'0' | b'1' | b'2')),
            ControlKind::CalloutCtl | ControlKind::StatusFlag => matches!(value, "0" | "1"),
            ControlKind::SetExpTime | ControlKind::SetOutCallInterval => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(FormatError::InvalidValue {
                what: self.value_name(),
                value: super::error::excerpt(value),
                expected: self.value_format(),
            })
        }
    }

    fn value_name(self) -> &'static str {
        match self {
            ControlKind::SetGsmNum | ControlKind::SetNum => "number",
            ControlKind::SetExpTime => "minutes",
            ControlKind::SetOutCallInterval => "seconds",
            ControlKind::SetImei => "IMEI",
            ControlKind::ModuleCtlI | ControlKind::ModuleCtl => "module setting",
            ControlKind::SetBaseCell => "cell",
            ControlKind::AtCmd => "AT command",
            _ => "value",
        }
    }

    fn value_format(self) -> &'static str {
        match self {
            ControlKind::SetImei => "15 digits",
            ControlKind::ModuleCtlI => "1 (enable) or 0 (disable)",
            ControlKind::ModuleCtl => "one digit per channel: 1 enable, 0 disable, 2 unchanged",
            ControlKind::CalloutCtl | ControlKind::StatusFlag => "0 or 1",
            ControlKind::SetExpTime | ControlKind::SetOutCallInterval => "a whole number",
            _ => "one token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_unique_and_round_trip() {
        for kind in ControlKind::ALL {
            assert_eq!(ControlKind::from_verb(kind.verb()), Some(kind));
        }
        let mut verbs: Vec<_> = ControlKind::ALL.iter().map(|k| k.verb()).collect();
        verbs.sort_unstable();
        verbs.dedup();
        assert_eq!(verbs.len(), ControlKind::ALL.len());
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
