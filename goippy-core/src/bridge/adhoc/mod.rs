//! XEP-0050 ad-hoc commands: the console's commands with data forms, and
//! the admin commands.
//!
//! | node | name | who | where |
//! |---|---|---|---|
//! | `status` | Line status | a user with a line | the gateway, the user's own number |
//! | `log` | Call log | a user with a line | the gateway, the user's own number |
//! | `ussd` | Send USSD | a user with a line | the gateway, the user's own number |
//! | `gateways` | List gateways | ADMIN_JIDS | the gateway |
//! | `disable-line`, `enable-line` | Disable / Enable a line | ADMIN_JIDS | the gateway |
//!
//! The work is the console's: `status` and `log` read through
//! `bridge/lines.rs` (the same reads, bounds and fallbacks as the chat
//! console), USSD answers mean what `bridge/ussd.rs` says they mean, the
//! gateway list is `goippy --listExt`'s table. Only the presentation
//! differs (a data form instead of a chat message), as in slidge.
//!
//! Which line: on an own number, that line. On the gateway, `status` shows
//! every line of the user; `log` and `ussd` act on the default line, and a
//! user with several lines chooses in their first form (`with_line_choice`), so
//! the gateway never acts on a line the user did not see.
//!
//! Who sees what: disco#items on the commands node lists only what the
//! requester may run, on the JID asked (`offered`); running anything else
//! is `forbidden` (a command that exists) or `item-not-found`.
//!
//! A USSD request from a command is not an outbox job: its answer belongs in
//! the command's next stage, not in the chat, and a session that goippy
//! forgets in a restart cannot go on anyway. A menu keeps its session open
//! (`executing`, with a reply field) until the user completes or cancels it,
//! or it expires (`sessions.rs`); then goippy sends `USSDEXIT`. An answer
//! that comes after the command gave up is a chat message, as the
//! console's, to the user who ran it (`bridge/ussd_channels.rs`).
//!
//! Runs in the router's per-sender command lane, so a USSD waiting for the
//! network holds up neither the sender's chat nor anyone else.

mod forms;
mod sessions;
mod ussd;

use std::sync::Arc;

use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::data_forms::DataForm;

use crate::store::{ActiveGateway, StoreError};
use crate::xmpp::adhoc::{Action, CommandRequest, CommandResponse, Listed, NS_COMMANDS, Status};
use crate::xmpp::failure::Refusal;
use crate::xmpp::link::StanzaKind;
use crate::xmpp::reply::refuse;
use crate::xmpp::{Envelope, Intent, Target, adhoc, disco};

use super::Context;
use super::bot::{self, DEFAULT_LOG_CALLS, MAX_LOG_CALLS};
use super::line_pool::known_number;
use super::lines::{self, READ_BOUND};

use sessions::{Session, Stage};
pub(crate) use sessions::{Sessions, TIMEOUT as SESSION_TIMEOUT};

const STATUS: &str = "status";
const LOG: &str = "log";
const USSD: &str = "ussd";
const GATEWAYS: &str = "gateways";
const DISABLE_LINE: &str = "disable-line";
const ENABLE_LINE: &str = "enable-line";

/// A command: its node, its name in clients' lists, and whether only
/// ADMIN_JIDS may run it.
struct Command {
    listed: Listed,
    admin: bool,
}

const fn command(node: &'static str, name: &'static str, admin: bool) -> Command {
    Command {
        listed: Listed { node, name },
        admin,
    }
}

const COMMANDS: [Command; 6] = [
    command(STATUS, "Line status", false),
    command(LOG, "Call log", false),
    command(USSD, "Send USSD", false),
    command(GATEWAYS, "List gateways", true),
    command(DISABLE_LINE, "Disable a line", true),
    command(ENABLE_LINE, "Enable a line", true),
];

/// Where a request went (the gateway itself, or the requester's own
/// number) and the lines it may act on there.
struct Here {
    component: bool,
    lines: Vec<Arc<ActiveGateway>>,
}

/// `None`: any other contact, which has no commands.
fn here(ctx: &Context, env: &Envelope) -> Option<Here> {
    match &env.target {
        Target::Component => Some(Here {
            component: true,
            lines: lines::of_user(ctx, &env.from),
        }),
        // The number of any of the sender's lines is an own number.
        Target::Contact { node } => {
            let line = ctx.directory.gateway_by_msisdn(node)?;
            let ext = ctx.addressing.local_user(&env.from)?;
            line.users.iter().any(|u| u == ext).then(|| Here {
                component: false,
                lines: vec![line],
            })
        }
        Target::Elsewhere => None,
    }
}

impl Here {
    /// Whether the requester may run `command` here.
    fn may_run(&self, ctx: &Context, env: &Envelope, command: &Command) -> bool {
        if command.admin {
            self.component && ctx.is_admin(&env.from)
        } else {
            !self.lines.is_empty()
        }
    }
}

/// The commands the requester may run at the JID it asked.
fn offered(ctx: &Context, env: &Envelope) -> Vec<&'static Command> {
    let Some(here) = here(ctx, env) else {
        return Vec::new();
    };
    COMMANDS
        .iter()
        .filter(|c| here.may_run(ctx, env, c))
        .collect()
}

/// Answers the disco questions about commands, which depend on who asks;
/// `None` leaves the question to `xmpp::service`.
pub(crate) fn disco(ctx: &Context, intent: &Intent) -> Option<Vec<Stanza>> {
    match intent {
        Intent::DiscoInfo { env, node: None } => {
            here(ctx, env).map(|_| vec![disco::info(env, None, &[NS_COMMANDS]).into()])
        }
        Intent::DiscoInfo {
            env,
            node: Some(node),
        } => offered(ctx, env)
            .into_iter()
            .find(|c| c.listed.node == node)
            .map(|c| vec![disco::command_node_info(env, node, c.listed.name).into()]),
        Intent::DiscoItems {
            env,
            node: Some(node),
        } if node == NS_COMMANDS && env.target != Target::Elsewhere => {
            let listed: Vec<Listed> = offered(ctx, env).iter().map(|c| c.listed).collect();
            Some(vec![adhoc::command_list(env, &listed).into()])
        }
        _ => None,
    }
}

/// Bytes a command request holds while it waits in the sender's command
/// lane (it is at most `adhoc::MAX_REQUEST_BYTES`).
pub(crate) fn weight(request: &CommandRequest) -> usize {
    let form: usize = request.form.as_ref().map_or(0, |f| {
        f.fields
            .iter()
            .map(|field| {
                field.var.as_ref().map_or(0, String::len)
                    + field.values.iter().map(String::len).sum::<usize>()
            })
            .sum()
    });
    request.node.len() + request.sessionid.as_ref().map_or(0, String::len) + form
}

/// Runs a command request to its answer: the iq result, or its error.
pub(crate) async fn run(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    env: &Envelope,
    request: &CommandRequest,
) -> Vec<Stanza> {
    let now = Instant::now();
    let answer = match &request.sessionid {
        None => start(ctx, sessions, env, request, now).await,
        Some(id) => match sessions.take(id, &env.from, now) {
            Some(session) if session.node == request.node => {
                go_on(ctx, sessions, env, id.clone(), session, request).await
            }
            Some(session) => {
                sessions.put_back(id.clone(), session, now);
                Err(Refusal::BadSession)
            }
            None => Err(Refusal::BadSession),
        },
    };
    match answer {
        Ok(response) => {
            tracing::debug!(
                from = %env.from,
                node = %request.node,
                "ad-hoc command answered"
            );
            vec![response.into_iq(env).into()]
        }
        Err(refusal) => {
            // The router logs the error at info, rate-limited per sender.
            tracing::debug!(
                from = %env.from,
                to = %env.to,
                node = %request.node,
                xmpp_id = env.id.as_deref().unwrap_or(""),
                refusal = ?refusal_kind(&refusal),
                "ad-hoc command refused"
            );
            vec![refuse(env, StanzaKind::Iq, &refusal)]
        }
    }
}

/// Ends the sessions that expired; a USSD menu among them gets its
/// `USSDEXIT`. Called every few seconds by the router.
pub(crate) fn expire(ctx: &Arc<Context>, sessions: &Sessions) {
    for session in sessions.expire(Instant::now()) {
        tracing::info!(owner = %session.owner, node = session.node, "ad-hoc session expired");
        if let Stage::UssdMenu { goip_id, .. } = session.stage {
            let ctx = ctx.clone();
            tokio::spawn(async move { ussd::end(&ctx, &goip_id).await });
        }
    }
}

/// The first stage of a command.
async fn start(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    env: &Envelope,
    request: &CommandRequest,
    now: Instant,
) -> Result<CommandResponse, Refusal> {
    let unknown = || Refusal::UnknownCommand {
        node: request.node.clone(),
    };
    let command = COMMANDS
        .iter()
        .find(|c| c.listed.node == request.node)
        .ok_or_else(unknown)?;
    let here = here(ctx, env).ok_or_else(unknown)?;
    if !here.may_run(ctx, env, command) {
        return Err(Refusal::CommandForbidden {
            admin: command.admin,
        });
    }
    let node = command.listed.node;
    if request.action == Action::Cancel {
        return Ok(CommandResponse::new(node, "none", Status::Canceled));
    }
    let lines = here.lines;
    // The line a command works on when the user does not choose: the only
    // one at an own number, the first (the default line) at the gateway.
    let first = lines
        .first()
        .cloned()
        .ok_or(Refusal::CommandForbidden { admin: false });
    let choice = lines.len() > 1;
    // The commands with more than one stage open a session.
    let (stage, form, action) = match node {
        STATUS => {
            let mut fields = Vec::new();
            for line in lines {
                let status = lines::status(ctx, line).await;
                let gateway = &status.gateway;
                let var = format!(
                    "line-{}",
                    gateway.ext.as_deref().unwrap_or(&gateway.goip_id)
                );
                let label = format!("Line {}", line_label(gateway));
                fields.push(forms::text_multi(&var, &label, &status.render()));
            }
            return Ok(completed(node, forms::result("Line status", fields)));
        }
        GATEWAYS => {
            let gateways = list_gateways(ctx).await?;
            let now = crate::store::Timestamp::now();
            // Today's counts are extra: without them the table still shows.
            let today = ctx.store.sent_today(now).await.unwrap_or_default();
            let table = crate::cli::admin::list_table(&gateways, &today, now);
            let field = forms::text_multi("gateways", "Gateways", &table);
            return Ok(completed(node, forms::result("Gateways", vec![field])));
        }
        LOG => {
            let line = first?;
            let stage = Stage::LogCount {
                goip_id: line.goip_id.clone(),
            };
            let form = with_line_choice(log_form(&line, choice), &lines);
            (stage, form, Action::Complete)
        }
        USSD => {
            let line = first?;
            let stage = Stage::UssdCode {
                goip_id: line.goip_id.clone(),
            };
            let form = with_line_choice(ussd::code_form(&line, choice), &lines);
            (stage, form, Action::Next)
        }
        DISABLE_LINE | ENABLE_LINE => {
            let enable = node == ENABLE_LINE;
            let gateways = list_gateways(ctx).await?;
            // By goip_id, so that every line can be chosen: also a shared
            // line that is no extension's default line (`--add-line`).
            let options = gateways
                .iter()
                .map(|g| (Some(line_choice_label(g)), g.goip_id.clone()));
            let field = forms::list_single(LINE_FIELD, "Line", None, options);
            let form = forms::form(command.listed.name, None, vec![field]);
            (Stage::LineChoice { enable }, form, Action::Complete)
        }
        _ => return Err(unknown()),
    };
    let id = sessions.open(&env.from, node, stage, now)?;
    Ok(CommandResponse::new(node, &id, Status::Executing)
        .with_actions(&[action])
        .with_form(form))
}

/// A later stage: the session `id` (taken out of `sessions`) goes on.
async fn go_on(
    ctx: &Arc<Context>,
    sessions: &Sessions,
    env: &Envelope,
    id: String,
    session: Session,
    request: &CommandRequest,
) -> Result<CommandResponse, Refusal> {
    let node = session.node;
    let now = Instant::now();
    if request.action == Action::Cancel {
        if let Stage::UssdMenu { goip_id, .. } = &session.stage {
            ussd::end(ctx, goip_id).await;
        }
        return Ok(CommandResponse::new(node, &id, Status::Canceled));
    }
    // A stage that cannot use this request stays open for a better one;
    // a command the requester may no longer run here ends.
    let retry = |refusal: Refusal, session: Session| {
        if !matches!(refusal, Refusal::CommandForbidden { .. }) {
            sessions.put_back(id.clone(), session, now);
        }
        Err(refusal)
    };
    if request.action == Action::Prev {
        return retry(Refusal::BadAction, session);
    }
    match session.stage.clone() {
        Stage::LogCount { goip_id } => {
            let line = match chosen_line(ctx, env, request, &goip_id) {
                Ok(line) => line,
                Err(refusal) => return retry(refusal, session),
            };
            let Some(n) = request.value("count").and_then(bot::log_count) else {
                let detail = format!("the count must be a number from 1 to {MAX_LOG_CALLS}");
                return retry(bad(detail), session);
            };
            let Ok(calls) = lines::calls(ctx, &line, n).await else {
                return Err(Refusal::DatabaseSilent { what: "call log" });
            };
            let label = format!("Line {}", line_label(&line));
            let field = forms::text_multi("calls", &label, &bot::render_log(&calls, n));
            Ok(CommandResponse::new(node, &id, Status::Completed)
                .with_form(forms::result("Call log", vec![field])))
        }
        Stage::UssdCode { goip_id } => {
            let line = match chosen_line(ctx, env, request, &goip_id) {
                Ok(line) => line,
                Err(refusal) => return retry(refusal, session),
            };
            let Some(code) = request.value("code").and_then(bot::ussd_code) else {
                let detail = "a USSD code is made of digits, *, # and + (for example *100#)";
                return retry(bad(detail), session);
            };
            let (goip_id, ext) = (line.goip_id.clone(), line.owner_label());
            let step = ussd::Step {
                id,
                session,
                goip_id,
                ext,
                code,
                finish: false,
            };
            ussd::step(ctx, sessions, step).await
        }
        Stage::UssdMenu { goip_id, ext } => {
            let reply = request.value("reply").filter(|r| !r.is_empty());
            let finish = request.action == Action::Complete;
            let Some(reply) = reply else {
                if !finish {
                    let detail =
                        "type your answer to the menu, or Complete to end the USSD session";
                    return retry(bad(detail), session);
                }
                ussd::end(ctx, &goip_id).await;
                return Ok(CommandResponse::new(node, &id, Status::Completed)
                    .with_note(adhoc::NoteType::Info, "The USSD session is closed."));
            };
            let Some(code) = bot::ussd_code(reply) else {
                let detail = "an answer to a USSD menu is made of digits, *, # and +";
                return retry(bad(detail), session);
            };
            let step = ussd::Step {
                id,
                session,
                goip_id,
                ext,
                code,
                finish,
            };
            ussd::step(ctx, sessions, step).await
        }
        Stage::LineChoice { enable } => {
            if !ctx.is_admin(&env.from) {
                return Err(Refusal::CommandForbidden { admin: true });
            }
            let nonempty = |var| request.value(var).filter(|v| !v.is_empty());
            // The form before line pools named an extension's default line
            // (field `ext`); a client that remembers it still sends it.
            let (name, by_ext) = match (nonempty(LINE_FIELD), nonempty("ext")) {
                (Some(goip_id), _) => (goip_id, false),
                (None, Some(ext)) => (ext, true),
                (None, None) => return retry(bad("choose a line"), session),
            };
            let set = async {
                if by_ext {
                    ctx.store.set_gateway_enabled(name, enable).await
                } else {
                    ctx.store.set_line_enabled(name, enable).await
                }
            };
            match tokio::time::timeout(READ_BOUND, set).await {
                Ok(Ok(())) => {}
                Ok(Err(StoreError::UnknownExtension(_) | StoreError::UnknownLine(_))) => {
                    return retry(bad(format!("there is no line {name}")), session);
                }
                Ok(Err(e)) => {
                    tracing::warn!(line = name, "ad-hoc: cannot change a line: {e}");
                    return Err(GATEWAY_LIST_SILENT);
                }
                Err(_elapsed) => return Err(GATEWAY_LIST_SILENT),
            }
            tracing::info!(
                admin = %env.from,
                line = name,
                enabled = enable,
                "a line was changed by an ad-hoc command"
            );
            // At once, not at the directory's next refresh.
            if let Err(e) = ctx.directory.refresh_now().await {
                tracing::warn!("the gateway directory is not reloaded yet: {e}");
            }
            let done = if enable { "enabled" } else { "disabled" };
            Ok(CommandResponse::new(node, &id, Status::Completed)
                .with_note(adhoc::NoteType::Info, format!("Line {name} is {done}.")))
        }
    }
}

/// The field that names a line: in the enable/disable form any line, in
/// the call log's and the USSD command's first form one of the user's.
/// Either way by its goip_id.
const LINE_FIELD: &str = "line";

/// A form a stage cannot use: `detail` says why.
fn bad(detail: impl Into<String>) -> Refusal {
    Refusal::BadPayload {
        detail: detail.into(),
    }
}

const NOT_YOUR_LINE: &str = "that line is not one of yours; choose one of the form's lines";

const GATEWAY_LIST_SILENT: Refusal = Refusal::DatabaseSilent {
    what: "gateway list",
};

/// `pool2 +37255500002: 2001, 2002 (enabled)` — the line, its number when
/// known, who uses it (its default owner first), and its state.
fn line_choice_label(g: &crate::store::Gateway) -> String {
    let users: Vec<&str> = g.users().collect();
    let users = if users.is_empty() {
        "no users".to_string()
    } else {
        users.join(", ")
    };
    let number = g
        .msisdn
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| format!(" {m}"))
        .unwrap_or_default();
    let state = if g.enabled { "enabled" } else { "disabled" };
    format!("{}{number}: {users} ({state})", g.goip_id)
}

/// The line `goip_id`, if the requester may still use it here.
fn own_line(ctx: &Context, env: &Envelope, goip_id: &str) -> Option<Arc<ActiveGateway>> {
    here(ctx, env)?
        .lines
        .into_iter()
        .find(|l| l.goip_id == goip_id)
}

/// How a command's forms name a line to its user: by its extension when
/// it is an extension's default line, as the console does; a line made
/// only to be shared (`--add-line`) has none, and its users' extensions
/// would name people, not the line: then by its goip_id and number.
fn line_label(line: &ActiveGateway) -> String {
    match (&line.ext, known_number(line)) {
        (Some(ext), _) => ext.clone(),
        (None, Some(number)) => format!("{} {number}", line.goip_id),
        (None, None) => line.goip_id.clone(),
    }
}

/// Adds the field `line` to the call log's and the USSD command's first
/// form, for a user with several lines who runs them on the gateway: which
/// line (the first, unless chosen). On an own number, or with one line,
/// there is nothing to choose: the command acts on that line.
fn with_line_choice(mut form: DataForm, lines: &[Arc<ActiveGateway>]) -> DataForm {
    if lines.len() < 2 {
        return form;
    }
    let options = lines.iter().enumerate().map(|(i, l)| {
        let number = l.msisdn.as_deref().unwrap_or(&l.goip_id);
        (Some(format!("{}: {number}", i + 1)), l.goip_id.clone())
    });
    let first = lines.first().map(|l| l.goip_id.clone());
    form.fields
        .push(forms::list_single(LINE_FIELD, "Line", first, options));
    form
}

/// The line the user chose in the form, if the form had the choice, else
/// `started` (the line the session started with). A chosen line that is
/// not (or no longer) one of the requester's here is a form to correct; the
/// session's own line no longer theirs ends the session.
fn chosen_line(
    ctx: &Context,
    env: &Envelope,
    request: &CommandRequest,
    started: &str,
) -> Result<Arc<ActiveGateway>, Refusal> {
    match request.value(LINE_FIELD).filter(|g| !g.is_empty()) {
        Some(goip_id) => own_line(ctx, env, goip_id).ok_or_else(|| bad(NOT_YOUR_LINE)),
        None => own_line(ctx, env, started).ok_or(Refusal::CommandForbidden { admin: false }),
    }
}

async fn list_gateways(ctx: &Context) -> Result<Vec<crate::store::Gateway>, Refusal> {
    match tokio::time::timeout(READ_BOUND, ctx.store.list_gateways()).await {
        Ok(Ok(gateways)) => Ok(gateways),
        Ok(Err(e)) => {
            tracing::warn!("ad-hoc: the gateways cannot be listed: {e}");
            Err(GATEWAY_LIST_SILENT)
        }
        Err(_elapsed) => Err(GATEWAY_LIST_SILENT),
    }
}

/// The call log's one form: how many calls.
fn log_form(line: &ActiveGateway, choice: bool) -> DataForm {
    let options = [5, 10, 25, 50, MAX_LOG_CALLS].map(|n| (None, n.to_string()));
    let default = Some(DEFAULT_LOG_CALLS.to_string());
    let count = forms::list_single("count", "Calls to show", default, options);
    let instructions = if choice {
        "The newest calls of the line you choose.".to_string()
    } else {
        format!("The newest calls of line {}.", line_label(line))
    };
    forms::form("Call log", Some(instructions), vec![count])
}

/// A one-stage command's answer: completed, with a session id of its own
/// (XEP-0050 wants one on every answer) that names no stored session.
fn completed(node: &str, form: DataForm) -> CommandResponse {
    let id = format!("{:032x}", rand::random::<u128>());
    CommandResponse::new(node, &id, Status::Completed).with_form(form)
}

fn refusal_kind(r: &Refusal) -> &'static str {
    match r {
        Refusal::CommandForbidden { .. } => "forbidden",
        Refusal::UnknownCommand { .. } => "item-not-found",
        Refusal::BadSession => "bad-sessionid",
        Refusal::BadAction => "bad-action",
        Refusal::BadPayload { .. } => "bad-payload",
        Refusal::TooManySessions { .. } => "too many sessions",
        Refusal::DatabaseSilent { .. } => "database silent",
        _ => "other",
    }
}
