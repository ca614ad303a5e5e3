//! A channel's settings, and its answers to the status and control commands
//! (docs/goip-protocol.md#control-commands): `get_*` / `set_*`, module
//! control, reboots, the combined `GSM` query, call forwarding (`CF`) and
//! the AT tunnel.
//!
//! The settings are the channel's single source of truth: `set_gsm_num`
//! changes the `num:` of the next keepalive, `module_ctl_i 0` turns
//! `disable_status` to 1, and so on, so a server can check the effect of its
//! own commands. Answers follow the documented shapes (`<cmd> <id> <value>`,
//! `<cmd> <id> [<value>] ok`, `ERROR <id> <text>`, `GSM:<id>;…`, `CFOK`,
//! `CFSTATE`). What a real GoIP answers to a wrong password is not
//! documented; the simulator answers the command's error shape with the text
//! `password error`.
//!
//! Effects that reach beyond the settings (hang up a call, reboot, send the
//! `CELLS:` list, AT tunnel output) are returned to the channel as an
//! [`Effect`] for it to carry out.

use goippy_core::goip::{
    CfMode, CfReason, Command, ControlKind, ErrorReply, GsmStatus, LineState, RemainTime, Reply,
};

/// The error text for a command with the wrong password (undocumented on
/// real devices).
pub const PASSWORD_ERROR: &str = "password error";

/// What a channel is configured to be, and what commands have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The SIM number as configured on the GoIP (`num:` in the keepalive);
    /// often empty on real devices.
    pub gsm_num: String,
    pub imei: String,
    /// Outgoing-call time limit, minutes (`get_exp_time`; 0 = none).
    pub exp_time: i64,
    pub remain_time: RemainTime,
    /// Seconds between outgoing calls.
    pub out_call_interval: i64,
    /// False after `module_ctl_i 0` (then `disable_status:1` and
    /// `gsm_status:LOGOUT`).
    pub module_enabled: bool,
    /// The serving cell id (hex), as `CELLINFO` and `CURCELL` show it.
    pub cell_id: String,
    /// The location area code (hex).
    pub lac: String,
    /// Neighbour cells (ARFCNs) for `CELLS:`.
    pub neighbours: Vec<String>,
    /// Call forwarding numbers for reasons 0–3 (unconditional, busy, no
    /// reply, not reachable).
    pub forwarding: [Option<String>; 4],
    /// The AT tunnel, when open: the `ATSTART` sendid (the id of its `AT:`
    /// packets) and how many lines it has carried.
    pub at_tunnel: Option<(u32, u32)>,
}

/// Something a command asks of the channel beyond its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `svr_drop_call`: end the call in progress.
    DropCall,
    /// `svr_reboot_module` / `svr_reboot_dev`: start over (keepalive count,
    /// SMS_LOGIN, sessions).
    Reboot,
    /// `get_cells_list`: send the neighbour list as a `CELLS:` notification.
    SendCells,
    /// `ATCMD`: send these lines as `AT:<sendid>` packets, counted from
    /// `first`.
    AtLines {
        sendid: u32,
        first: u32,
        lines: Vec<String>,
    },
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub reply: Reply,
    pub effect: Option<Effect>,
}

impl Answer {
    fn reply(reply: Reply) -> Self {
        Answer {
            reply,
            effect: None,
        }
    }
}

fn value_reply(kind: ControlKind, sendid: u32, value: impl Into<String>) -> Reply {
    Reply::Control {
        kind,
        sendid,
        value: Some(value.into()),
        ok: false,
    }
}

fn ok_reply(kind: ControlKind, sendid: u32, value: Option<&str>) -> Reply {
    Reply::Control {
        kind,
        sendid,
        value: value.map(str::to_owned),
        ok: true,
    }
}

fn error_reply(sendid: u32, text: &str) -> Reply {
    Reply::Error(ErrorReply::Rejected {
        sendid,
        text: text.to_owned(),
    })
}

/// The reasons a CF command applies to (4 = all, 5 = all conditional).
fn cf_slots(reason: CfReason) -> &'static [usize] {
    match reason {
        CfReason::Unconditional => &[0],
        CfReason::Busy => &[1],
        CfReason::NoReply => &[2],
        CfReason::NotReachable => &[3],
        CfReason::All => &[0, 1, 2, 3],
        CfReason::AllConditional => &[1, 2, 3],
    }
}

impl Settings {
    /// `LINE_STATE` as `get_gsm_state` and `GSM` report it.
    fn gsm_state(line: &LineState) -> &'static str {
        if line.is_idle() { "IDLE" } else { "ACTIVE" }
    }

    /// Answers a control, `GSM` or `CF` command; `None` for the other
    /// commands (SMS, USSD and DONE are not control commands).
    /// `channel` (from 1) picks this channel's digit of `module_ctl`.
    pub fn answer(
        &mut self,
        command: &Command,
        password: &str,
        channel: usize,
        line: &LineState,
    ) -> Option<Answer> {
        Some(match command {
            Command::Control {
                sendid,
                kind,
                value,
                password: given,
            } => {
                if given.expose() != password {
                    Answer::reply(error_reply(*sendid, PASSWORD_ERROR))
                } else {
                    self.control(*sendid, *kind, value.as_deref(), channel, line)
                }
            }
            Command::Gsm {
                sendid,
                password: given,
            } => Answer::reply(if given.expose() != password {
                Reply::GsmError {
                    sendid: *sendid,
                    text: PASSWORD_ERROR.to_owned(),
                }
            } else {
                Reply::Gsm(GsmStatus {
                    sendid: *sendid,
                    gsm_num: Some(self.gsm_num.clone()),
                    exp_time: Some(self.exp_time.to_string()),
                    remain_time: Some(self.remain_time.to_string()),
                    gsm_state: Some(Self::gsm_state(line).to_owned()),
                    imei: Some(self.imei.clone()),
                    out_call_interval: Some(self.out_call_interval.to_string()),
                    module_down: Some(if self.module_enabled { "0" } else { "1" }.to_owned()),
                    extra: Vec::new(),
                })
            }),
            Command::Cf {
                sendid,
                password: given,
                reason,
                mode,
                number,
                ..
            } => Answer::reply(if given.expose() != password {
                Reply::CfError {
                    sendid: *sendid,
                    text: PASSWORD_ERROR.to_owned(),
                }
            } else {
                self.call_forwarding(*sendid, *reason, *mode, number.as_deref())
            }),
            _ => return None,
        })
    }

    fn call_forwarding(
        &mut self,
        sendid: u32,
        reason: CfReason,
        mode: CfMode,
        number: Option<&str>,
    ) -> Reply {
        let slots = cf_slots(reason);
        match mode {
            CfMode::Query => {
                let current = slots.iter().find_map(|&i| self.forwarding[i].clone());
                Reply::CfState {
                    sendid,
                    active: current.is_some(),
                    number: current.unwrap_or_default(),
                }
            }
            CfMode::Enable | CfMode::Register => {
                // Enabling without a number re-enables the one registered.
                let Some(number) = number
                    .map(str::to_owned)
                    .or_else(|| slots.iter().find_map(|&i| self.forwarding[i].clone()))
                else {
                    return Reply::CfError {
                        sendid,
                        text: "no forwarding number".to_owned(),
                    };
                };
                for &i in slots {
                    self.forwarding[i] = Some(number.clone());
                }
                Reply::CfOk { sendid }
            }
            CfMode::Disable | CfMode::Erase => {
                for &i in slots {
                    self.forwarding[i] = None;
                }
                Reply::CfOk { sendid }
            }
        }
    }

    fn control(
        &mut self,
        sendid: u32,
        kind: ControlKind,
        value: Option<&str>,
        channel: usize,
        line: &LineState,
    ) -> Answer {
        use ControlKind as K;
        let value_str = value.unwrap_or_default();
        let number = |v: &str| v.trim().parse::<i64>().ok();
        let reply = match kind {
            K::GetGsmNum => value_reply(kind, sendid, self.gsm_num.clone()),
            K::SetGsmNum | K::SetNum => {
                self.gsm_num = value_str.to_owned();
                ok_reply(kind, sendid, value)
            }
            K::GetGsmState => value_reply(kind, sendid, Self::gsm_state(line)),
            K::GetRemainTime => value_reply(kind, sendid, self.remain_time.to_string()),
            K::GetExpTime => value_reply(kind, sendid, self.exp_time.to_string()),
            K::SetExpTime => match number(value_str) {
                Some(minutes) => {
                    self.exp_time = minutes;
                    ok_reply(kind, sendid, value)
                }
                None => error_reply(sendid, "bad value"),
            },
            K::ResetRemainTime => {
                self.remain_time = u32::try_from(self.exp_time)
                    .ok()
                    .filter(|m| *m > 0)
                    .map_or(RemainTime::Unlimited, RemainTime::Minutes);
                ok_reply(kind, sendid, None)
            }
            K::SvrDropCall => {
                return Answer {
                    reply: ok_reply(kind, sendid, None),
                    effect: Some(Effect::DropCall),
                };
            }
            K::SvrRebootModule | K::SvrRebootDev => {
                return Answer {
                    reply: ok_reply(kind, sendid, None),
                    effect: Some(Effect::Reboot),
                };
            }
            K::ModuleCtlI => {
                // 1 enables; 0 ([CN], vendor UI) and 2 ([EN23]) disable
                // (docs/goip-protocol.md#control-commands).
                self.module_enabled = value_str == "1";
                ok_reply(kind, sendid, None)
            }
            K::ModuleCtl => {
                match value_str.as_bytes().get(channel.saturating_sub(1)) {
                    Some(b'1') => self.module_enabled = true,
                    Some(b'0') => self.module_enabled = false,
                    _ => {}
                }
                ok_reply(kind, sendid, None)
            }
            K::GetImei => value_reply(kind, sendid, self.imei.clone()),
            K::SetImei => {
                self.imei = value_str.to_owned();
                ok_reply(kind, sendid, value)
            }
            K::GetOutCallInterval => value_reply(kind, sendid, self.out_call_interval.to_string()),
            K::SetOutCallInterval => match number(value_str) {
                Some(seconds) => {
                    self.out_call_interval = seconds;
                    ok_reply(kind, sendid, value)
                }
                None => error_reply(sendid, "bad value"),
            },
            K::GetCellsList => {
                return Answer {
                    reply: ok_reply(kind, sendid, None),
                    effect: Some(Effect::SendCells),
                };
            }
            K::SetBaseCell => {
                self.cell_id = value_str.to_owned();
                ok_reply(kind, sendid, value)
            }
            K::CurCell => value_reply(kind, sendid, self.cell_id.clone()),
            K::AtStart => {
                self.at_tunnel = Some((sendid, 0));
                ok_reply(kind, sendid, None)
            }
            K::AtCmd => {
                let Some((start, count)) = self.at_tunnel else {
                    return Answer::reply(error_reply(sendid, "AT tunnel not started"));
                };
                self.at_tunnel = Some((start, count.saturating_add(2)));
                return Answer {
                    reply: ok_reply(kind, sendid, None),
                    effect: Some(Effect::AtLines {
                        sendid: start,
                        first: count.saturating_add(1),
                        lines: vec![format!("write:{value_str}"), "OK".to_owned()],
                    }),
                };
            }
            K::AtAlive => match self.at_tunnel {
                Some(_) => ok_reply(kind, sendid, None),
                None => error_reply(sendid, "AT tunnel not started"),
            },
            K::AtStop => {
                self.at_tunnel = None;
                ok_reply(kind, sendid, None)
            }
            K::StatusFlag => {
                self.module_enabled = value_str == "0";
                ok_reply(kind, sendid, value)
            }
            K::DisableSim | K::DisableSim2 | K::CalloutCtl => ok_reply(kind, sendid, value),
        };
        Answer::reply(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            gsm_num: String::new(),
            imei: "860000000000001".into(),
            exp_time: 0,
            remain_time: RemainTime::Unlimited,
            out_call_interval: 0,
            module_enabled: true,
            cell_id: "5E5B".into(),
            lac: "7E5".into(),
            neighbours: vec!["689".into()],
            forwarding: Default::default(),
            at_tunnel: None,
        }
    }

    fn ask(s: &mut Settings, wire: &str) -> Answer {
        let command = Command::parse(wire.as_bytes()).unwrap();
        s.answer(&command, "pw", 2, &LineState::Idle).unwrap()
    }

    fn wire(a: &Answer) -> String {
        String::from_utf8(a.reply.encode().unwrap()).unwrap()
    }

    #[test]
    fn number_get_and_set() {
        let mut s = settings();
        assert_eq!(
            wire(&ask(&mut s, "get_gsm_num 5 pw")),
            "get_gsm_num 5 (null)"
        );
        assert_eq!(
            wire(&ask(&mut s, "set_gsm_num 6 13800138001 pw")),
            "set_gsm_num 6 13800138001 ok"
        );
        assert_eq!(s.gsm_num, "13800138001");
        assert_eq!(
            wire(&ask(&mut s, "get_gsm_num 7 pw")),
            "get_gsm_num 7 13800138001"
        );
        assert_eq!(
            wire(&ask(&mut s, "get_gsm_num 8 wrong")),
            "ERROR 8 password error"
        );
    }

    #[test]
    fn gsm_query() {
        let mut s = settings();
        assert_eq!(
            wire(&ask(&mut s, "GSM 1 pw")),
            "GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:-1;get_gsm_state:IDLE;\
             imei:860000000000001;out_call_interval:0;module_down:0"
        );
        assert_eq!(wire(&ask(&mut s, "GSM 2 x")), "GSMERROR 2 password error");
    }

    #[test]
    fn modules_and_effects() {
        let mut s = settings();
        ask(&mut s, "module_ctl_i 1 0 pw");
        assert!(!s.module_enabled);
        // Channel 2's digit is the second one.
        ask(&mut s, "module_ctl 2 01 pw");
        assert!(s.module_enabled);
        ask(&mut s, "module_ctl 3 12 pw");
        assert!(s.module_enabled);
        assert_eq!(
            ask(&mut s, "svr_drop_call 4 pw").effect,
            Some(Effect::DropCall)
        );
        assert_eq!(
            ask(&mut s, "get_cells_list 5 pw").effect,
            Some(Effect::SendCells)
        );
    }

    #[test]
    fn call_forwarding() {
        let mut s = settings();
        assert_eq!(wire(&ask(&mut s, "CF 1 pw 0 2  ")), "CFSTATE 1 0");
        assert_eq!(wire(&ask(&mut s, "CF 2 pw 0 3 +3725551 20")), "CFOK 2");
        assert_eq!(wire(&ask(&mut s, "CF 3 pw 0 2  ")), "CFSTATE 3 1 +3725551");
        assert_eq!(wire(&ask(&mut s, "CF 4 pw 4 4  ")), "CFOK 4");
        assert_eq!(s.forwarding, [None, None, None, None]);
        assert_eq!(
            wire(&ask(&mut s, "CF 5 pw 1 1  ")),
            "CFERROR 5 no forwarding number"
        );
        assert_eq!(
            wire(&ask(&mut s, "CF 6 no 1 2  ")),
            "CFERROR 6 password error"
        );
    }

    #[test]
    fn at_tunnel() {
        let mut s = settings();
        assert_eq!(
            wire(&ask(&mut s, "ATCMD 1 AT+CSQ pw")),
            "ERROR 1 AT tunnel not started"
        );
        assert_eq!(wire(&ask(&mut s, "ATSTART 2 pw")), "ATSTART 2 OK");
        let a = ask(&mut s, "ATCMD 3 AT+CSQ pw");
        assert_eq!(
            a.effect,
            Some(Effect::AtLines {
                sendid: 2,
                first: 1,
                lines: vec!["write:AT+CSQ".into(), "OK".into()]
            })
        );
        ask(&mut s, "ATSTOP 4 pw");
        assert_eq!(s.at_tunnel, None);
    }

    #[test]
    fn remain_and_exp_time() {
        let mut s = settings();
        assert_eq!(
            wire(&ask(&mut s, "set_exp_time 1 120 pw")),
            "set_exp_time 1 120 ok"
        );
        ask(&mut s, "reset_remain_time 2 pw");
        assert_eq!(s.remain_time, RemainTime::Minutes(120));
        assert_eq!(
            wire(&ask(&mut s, "get_remain_time 3 pw")),
            "get_remain_time 3 120"
        );
    }

    #[test]
    fn not_control_commands() {
        let mut s = settings();
        let msg = Command::parse(b"MSG 1 2 hi").unwrap();
        assert_eq!(s.answer(&msg, "pw", 1, &LineState::Idle), None);
    }
}
