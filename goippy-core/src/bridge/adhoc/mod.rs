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
//! user with several lines chooses in their first form (`line_field`), so
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
//! console's, to the user who ran it (`bridge/ussd_askers.rs`).
//!
//! Runs in the router's per-sender command lane, so a USSD waiting for the
//! network holds up neither the sender's chat nor anyone else.

mod forms;
mod sessions;
mod ussd;

use std::sync::Arc;

use tokio::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::data_forms::{DataForm, Field, FieldType, Option_};

use crate::store::{ActiveGateway, StoreError};
use crate::xmpp::adhoc::{Action, CommandRequest, CommandResponse, Listed, NS_COMMANDS, Status};
use crate::xmpp::failure::Refusal;
use crate::xmpp::link::StanzaKind;
use crate::xmpp::reply::refuse;
use crate::xmpp::{Envelope, Intent, Target, adhoc, disco};

use super::Context;
use super::bot::{self, DEFAULT_LOG_CALLS, MAX_LOG_CALLS};
use super::lines::{self, READ_BOUND};

use sessions::{Full, Session, Stage};
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

/// Which JID a request went to.
enum Place {
    /// The gateway itself.
    Component,
    /// The requester's own number: that line.
    OwnNumber(Arc<ActiveGateway>),
    /// Any other contact: no commands.
    Elsewhere,
}

fn place(ctx: &Context, env: &Envelope) -> Place {
    match &env.target {
        Target::Component => Place::Component,
        // The number of any of the sender's lines is an own number.
        Target::Contact { node } => match (
            ctx.directory.gateway_by_msisdn(node),
            ctx.addressing.local_user(&env.from),
        ) {
            (Some(line), Some(ext)) if line.users.iter().any(|u| u == ext) => {
                Place::OwnNumber(line)
            }
            _ => Place::Elsewhere,
        },
        Target::Elsewhere => Place::Elsewhere,
    }
}

/// The lines a request may act on, where it went.
fn lines_here(ctx: &Context, env: &Envelope, place: &Place) -> Vec<Arc<ActiveGateway>> {
    match place {
        Place::Component => lines::of_user(ctx, &env.from),
        Place::OwnNumber(line) => vec![line.clone()],
        Place::Elsewhere => Vec::new(),
    }
}

/// The commands the requester may run at the JID it asked.
fn offered(ctx: &Context, env: &Envelope) -> Vec<&'static Command> {
    let place = place(ctx, env);
    let user = !lines_here(ctx, env, &place).is_empty();
    let admin = matches!(place, Place::Component) && ctx.is_admin(&env.from);
    COMMANDS
        .iter()
        .filter(|c| if c.admin { admin } else { user })
        .collect()
}

/// Answers the disco questions about commands, which depend on who asks;
/// `None` leaves the question to `xmpp::service`.
pub(crate) fn disco(ctx: &Context, intent: &Intent) -> Option<Vec<Stanza>> {
    match intent {
        Intent::DiscoInfo { env, node: None } => {
            let advertise = match place(ctx, env) {
                Place::Component | Place::OwnNumber(_) => true,
                Place::Elsewhere => false,
            };
            advertise.then(|| vec![disco::info(env, None, &[NS_COMMANDS]).into()])
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

/// A command request, for the sender's command lane.
#[derive(Debug)]
pub(crate) struct Job {
    pub env: Envelope,
    pub request: CommandRequest,
}

impl Job {
    /// Bytes it holds while it waits (the request is at most
    /// `adhoc::MAX_REQUEST_BYTES`).
    pub(crate) fn weight(&self) -> usize {
        let form: usize = self.request.form.as_ref().map_or(0, |f| {
            f.fields
                .iter()
                .map(|field| {
                    field.var.as_ref().map_or(0, String::len)
                        + field.values.iter().map(String::len).sum::<usize>()
                })
                .sum()
        });
        self.request.node.len() + self.request.sessionid.as_ref().map_or(0, String::len) + form
    }
}

/// Runs a command request to its answer: the iq result, or its error.
pub(crate) async fn run(ctx: &Arc<Context>, sessions: &Sessions, job: Job) -> Vec<Stanza> {
    let Job { env, request } = job;
    let now = Instant::now();
    let answer = match &request.sessionid {
        None => start(ctx, sessions, &env, &request, now).await,
        Some(id) => match sessions.take(id, &env.from, now) {
            Some(session) if session.node == request.node => {
                go_on(ctx, sessions, &env, id.clone(), session, &request).await
            }
            Some(session) => {
                let stage = session.stage.clone();
                sessions.put_back(id.clone(), session, stage, now);
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
            vec![response.into_iq(&env).into()]
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
            vec![refuse(&env, StanzaKind::Iq, &refusal)]
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
    let place = place(ctx, env);
    if matches!(place, Place::Elsewhere) {
        return Err(unknown());
    }
    let lines = lines_here(ctx, env, &place);
    if command.admin {
        if !(matches!(place, Place::Component) && ctx.is_admin(&env.from)) {
            return Err(Refusal::CommandForbidden { admin: true });
        }
    } else if lines.is_empty() {
        return Err(Refusal::CommandForbidden { admin: false });
    }
    let node = command.listed.node;
    if request.action == Action::Cancel {
        return Ok(CommandResponse::new(node, "none", Status::Canceled));
    }
    let open = |stage: Stage| -> Result<String, Refusal> {
        sessions
            .open(&env.from, node, stage, now)
            .map_err(|full| Refusal::TooManySessions {
                yours: full == Full::Yours,
            })
    };
    match node {
        STATUS => {
            let mut fields = Vec::new();
            for line in lines {
                let status = lines::status(ctx, line).await;
                fields.push(forms::text_multi(
                    &format!(
                        "line-{}",
                        status
                            .gateway
                            .ext
                            .as_deref()
                            .unwrap_or(&status.gateway.goip_id)
                    ),
                    &format!("Line {}", line_label(&status.gateway)),
                    &status.render(),
                ));
            }
            Ok(completed(node, forms::result("Line status", fields)))
        }
        LOG => {
            let line = first(&lines)?;
            let id = open(Stage::LogCount {
                goip_id: line.goip_id.clone(),
            })?;
            let mut form = log_form(&line, lines.len() > 1);
            form.fields.extend(line_field(&lines));
            Ok(CommandResponse::new(node, &id, Status::Executing)
                .with_actions(&[Action::Complete])
                .with_form(form))
        }
        USSD => {
            let line = first(&lines)?;
            let id = open(Stage::UssdCode {
                goip_id: Some(line.goip_id.clone()),
            })?;
            let mut form = ussd::code_form(&line, lines.len() > 1);
            form.fields.extend(line_field(&lines));
            Ok(CommandResponse::new(node, &id, Status::Executing)
                .with_actions(&[Action::Next])
                .with_form(form))
        }
        GATEWAYS => {
            let gateways = list_gateways(ctx).await?;
            let now = crate::store::Timestamp::now();
            // Today's counts are extra: without them the table still shows.
            let today = ctx.store.sent_today(now).await.unwrap_or_default();
            let table = crate::cli::admin::list_table(&gateways, &today, now);
            Ok(completed(
                node,
                forms::result(
                    "Gateways",
                    vec![forms::text_multi("gateways", "Gateways", &table)],
                ),
            ))
        }
        DISABLE_LINE | ENABLE_LINE => {
            let enable = node == ENABLE_LINE;
            let gateways = list_gateways(ctx).await?;
            let id = open(Stage::LineChoice { enable })?;
            let mut line = Field::new(LINE_FIELD, FieldType::ListSingle);
            line.label = Some("Line".into());
            line.required = true;
            // By goip_id, so that every line can be chosen: also a shared
            // line that is no extension's default line (`--add-line`).
            line.options = gateways
                .iter()
                .map(|g| Option_ {
                    label: Some(line_choice_label(g)),
                    value: g.goip_id.clone(),
                })
                .collect();
            let title = if enable {
                "Enable a line"
            } else {
                "Disable a line"
            };
            Ok(CommandResponse::new(node, &id, Status::Executing)
                .with_actions(&[Action::Complete])
                .with_form(forms::form(title, None, vec![line])))
        }
        _ => Err(unknown()),
    }
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
    // A stage that cannot use this request stays open for a better one.
    let retry = |refusal: Refusal, session: Session| {
        let stage = session.stage.clone();
        sessions.put_back(id.clone(), session, stage, now);
        Err(refusal)
    };
    if request.action == Action::Prev {
        return retry(Refusal::BadAction, session);
    }
    match session.stage.clone() {
        Stage::LogCount { goip_id } => {
            let line = match chosen_line(ctx, env, request) {
                Chosen::Line(line) => line,
                Chosen::NotYours => return retry(not_your_line(), session),
                Chosen::Nothing => match own_line(ctx, env, &goip_id) {
                    Some(line) => line,
                    None => return Err(Refusal::CommandForbidden { admin: false }),
                },
            };
            let Some(n) = request.value("count").and_then(bot::log_count) else {
                return retry(
                    Refusal::BadPayload {
                        detail: format!("the count must be a number from 1 to {MAX_LOG_CALLS}"),
                    },
                    session,
                );
            };
            match lines::calls(ctx, &line, n).await {
                Ok(calls) => Ok(
                    CommandResponse::new(node, &id, Status::Completed).with_form(forms::result(
                        "Call log",
                        vec![forms::text_multi(
                            "calls",
                            &format!("Line {}", line_label(&line)),
                            &bot::render_log(&calls, n),
                        )],
                    )),
                ),
                Err(_) => Err(Refusal::DatabaseSilent { what: "call log" }),
            }
        }
        Stage::UssdCode { goip_id } => {
            let line = match chosen_line(ctx, env, request) {
                Chosen::Line(line) => Some(line),
                Chosen::NotYours => return retry(not_your_line(), session),
                Chosen::Nothing => goip_id.as_deref().and_then(|g| own_line(ctx, env, g)),
            };
            let Some(line) = line else {
                return Err(Refusal::CommandForbidden { admin: false });
            };
            let Some(code) = request.value("code").and_then(bot::ussd_code) else {
                return retry(
                    Refusal::BadPayload {
                        detail: "a USSD code is made of digits, *, # and + (for example *100#)"
                            .into(),
                    },
                    session,
                );
            };
            ussd::step(ctx, sessions, ussd::Step::first(id, session, &line, code)).await
        }
        Stage::UssdMenu { goip_id, ext } => {
            let reply = request.value("reply").filter(|r| !r.is_empty());
            let finish = request.action == Action::Complete;
            match (reply, finish) {
                (None, true) => {
                    ussd::end(ctx, &goip_id).await;
                    Ok(CommandResponse::new(node, &id, Status::Completed)
                        .with_note(adhoc::NoteType::Info, "The USSD session is closed."))
                }
                (None, false) => retry(
                    Refusal::BadPayload {
                        detail: "type your answer to the menu, or Complete to end the USSD session"
                            .into(),
                    },
                    session,
                ),
                (Some(reply), finish) => match bot::ussd_code(reply) {
                    Some(code) => {
                        ussd::step(
                            ctx,
                            sessions,
                            ussd::Step::menu(id, session, goip_id, ext, code, finish),
                        )
                        .await
                    }
                    None => retry(
                        Refusal::BadPayload {
                            detail: "an answer to a USSD menu is made of digits, *, # and +".into(),
                        },
                        session,
                    ),
                },
            }
        }
        Stage::LineChoice { enable } => {
            if !ctx.is_admin(&env.from) {
                return Err(Refusal::CommandForbidden { admin: true });
            }
            let chosen = request
                .value(LINE_FIELD)
                .filter(|g| !g.is_empty())
                .map(|g| LineChosen::GoipId(g.to_string()))
                // The form before line pools named the line by extension.
                .or_else(|| {
                    request
                        .value("ext")
                        .filter(|e| !e.is_empty())
                        .map(|e| LineChosen::DefaultOf(e.to_string()))
                });
            let Some(chosen) = chosen else {
                return retry(
                    Refusal::BadPayload {
                        detail: "choose a line".into(),
                    },
                    session,
                );
            };
            let ext = chosen.name().to_string();
            let set = async {
                match &chosen {
                    LineChosen::GoipId(goip_id) => {
                        ctx.store.set_line_enabled(goip_id, enable).await
                    }
                    LineChosen::DefaultOf(ext) => ctx.store.set_gateway_enabled(ext, enable).await,
                }
            };
            match tokio::time::timeout(READ_BOUND, set).await {
                Ok(Ok(())) => {}
                Ok(Err(StoreError::UnknownExtension(_) | StoreError::UnknownLine(_))) => {
                    return retry(
                        Refusal::BadPayload {
                            detail: format!("there is no line {ext}"),
                        },
                        session,
                    );
                }
                Ok(Err(e)) => {
                    tracing::warn!(line = ext, "ad-hoc: cannot change a line: {e}");
                    return Err(Refusal::DatabaseSilent {
                        what: "gateway list",
                    });
                }
                Err(_elapsed) => {
                    return Err(Refusal::DatabaseSilent {
                        what: "gateway list",
                    });
                }
            }
            tracing::info!(
                admin = %env.from,
                line = ext,
                enabled = enable,
                "a line was changed by an ad-hoc command"
            );
            // At once, not at the directory's next refresh.
            if let Err(e) = ctx.directory.refresh_now().await {
                tracing::warn!("the gateway directory is not reloaded yet: {e}");
            }
            let done = if enable { "enabled" } else { "disabled" };
            Ok(CommandResponse::new(node, &id, Status::Completed)
                .with_note(adhoc::NoteType::Info, format!("Line {ext} is {done}.")))
        }
    }
}

/// The field of the enable/disable form: the line's goip_id.
const LINE_FIELD: &str = "line";

/// The line an admin chose to enable or disable.
enum LineChosen {
    /// From the form: any line, by its goip_id.
    GoipId(String),
    /// An extension's default line: what the form asked before line pools
    /// (field `ext`), still taken from a client that remembers it.
    DefaultOf(String),
}

impl LineChosen {
    /// How the note and the log name it: as the admin chose it.
    fn name(&self) -> &str {
        match self {
            LineChosen::GoipId(name) | LineChosen::DefaultOf(name) => name,
        }
    }
}

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
    let place = place(ctx, env);
    lines_here(ctx, env, &place)
        .into_iter()
        .find(|l| l.goip_id == goip_id)
}

/// How a command's forms name a line to its user: by its extension when
/// it is an extension's default line, as the console does; a line made
/// only to be shared (`--add-line`) has none, and its users' extensions
/// would name people, not the line: then by its goip_id and number.
fn line_label(line: &ActiveGateway) -> String {
    match (&line.ext, line.msisdn.as_deref().map(str::trim)) {
        (Some(ext), _) => ext.clone(),
        (None, Some(number)) if !number.is_empty() => format!("{} {number}", line.goip_id),
        (None, _) => line.goip_id.clone(),
    }
}

/// The field `line` of the call log's and the USSD command's first form,
/// for a user with several lines who runs them on the gateway: which line
/// (the first, unless chosen). On an own number, or with one line, there is
/// nothing to choose: the command acts on that line.
fn line_field(lines: &[Arc<ActiveGateway>]) -> Option<Field> {
    if lines.len() < 2 {
        return None;
    }
    let mut field = Field::new(USER_LINE_FIELD, FieldType::ListSingle);
    field.label = Some("Line".into());
    field.required = true;
    field.values = lines.iter().take(1).map(|l| l.goip_id.clone()).collect();
    field.options = lines
        .iter()
        .enumerate()
        .map(|(i, l)| Option_ {
            label: Some(format!(
                "{}: {}",
                i + 1,
                l.msisdn.as_deref().unwrap_or(&l.goip_id)
            )),
            value: l.goip_id.clone(),
        })
        .collect();
    Some(field)
}

const USER_LINE_FIELD: &str = "line";

/// What the form says about the line.
enum Chosen {
    /// One of the requester's lines here.
    Line(Arc<ActiveGateway>),
    /// A line that is not (or no longer) one of them.
    NotYours,
    /// No choice: the line the session started with.
    Nothing,
}

/// The line the user chose in the form, if the form had the choice.
fn chosen_line(ctx: &Context, env: &Envelope, request: &CommandRequest) -> Chosen {
    match request.value(USER_LINE_FIELD).filter(|g| !g.is_empty()) {
        None => Chosen::Nothing,
        Some(goip_id) => match own_line(ctx, env, goip_id) {
            Some(line) => Chosen::Line(line),
            None => Chosen::NotYours,
        },
    }
}

/// A line that is not (or no longer) one of the requester's here.
fn not_your_line() -> Refusal {
    Refusal::BadPayload {
        detail: "that line is not one of yours; choose one of the form's lines".into(),
    }
}

/// The line a command works on when the user does not choose: the only
/// one at an own number, the first (the default line) at the gateway.
fn first(lines: &[Arc<ActiveGateway>]) -> Result<Arc<ActiveGateway>, Refusal> {
    lines
        .first()
        .cloned()
        .ok_or(Refusal::CommandForbidden { admin: false })
}

async fn list_gateways(ctx: &Context) -> Result<Vec<crate::store::Gateway>, Refusal> {
    match tokio::time::timeout(READ_BOUND, ctx.store.list_gateways()).await {
        Ok(Ok(gateways)) => Ok(gateways),
        Ok(Err(e)) => {
            tracing::warn!("ad-hoc: the gateways cannot be listed: {e}");
            Err(Refusal::DatabaseSilent {
                what: "gateway list",
            })
        }
        Err(_elapsed) => Err(Refusal::DatabaseSilent {
            what: "gateway list",
        }),
    }
}

/// The call log's one form: how many calls.
fn log_form(line: &ActiveGateway, choice: bool) -> DataForm {
    let mut count = Field::new("count", FieldType::ListSingle);
    count.label = Some("Calls to show".into());
    count.required = true;
    count.values = vec![DEFAULT_LOG_CALLS.to_string()];
    count.options = [5, 10, 25, 50, MAX_LOG_CALLS]
        .iter()
        .map(|n| Option_ {
            label: None,
            value: n.to_string(),
        })
        .collect();
    forms::form(
        "Call log",
        Some(if choice {
            "The newest calls of the line you choose.".to_string()
        } else {
            format!("The newest calls of line {}.", line_label(line))
        }),
        vec![count],
    )
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
