//! XEP-0050 ad-hoc commands on the wire: reading a `<command/>` request and
//! writing the answer, with its XEP-0004 data form.
//!
//! Pure: no sessions, no store. What each command does, who may run it and
//! which session a request continues are the bridge's (`bridge/adhoc/`).
//! xmpp-parsers 0.23 models data forms (`data_forms`) but has no module for
//! XEP-0050 itself, so the `<command/>` element is read and written here,
//! with the forms inside it left to xmpp-parsers.
//!
//! Errors follow XEP-0050 §4.6: a stanza error (`failure.rs`) plus, where
//! the XEP names one, the command-specific condition (`bad-sessionid`,
//! `bad-action`, `bad-payload`).

use tokio_xmpp::minidom::rxml::{Namespace, NcName};
use tokio_xmpp::minidom::{Element, ElementBuilder};
use tokio_xmpp::parsers::data_forms::DataForm;
use tokio_xmpp::parsers::disco::{DiscoItemsResult, Item};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;

use super::failure::Refusal;
use super::intent::Envelope;

/// XEP-0050's namespace, also its disco node for the list of commands.
pub const NS_COMMANDS: &str = "http://jabber.org/protocol/commands";

/// A client sends at most this much in one command (a form with a USSD
/// code or a line); anything larger is refused before it is read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// What a request asks the command to do (XEP-0050 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Execute,
    Next,
    Prev,
    Complete,
    Cancel,
}

impl Action {
    fn parse(value: Option<&str>) -> Option<Action> {
        Some(match value {
            None | Some("execute") => Action::Execute,
            Some("next") => Action::Next,
            Some("prev") => Action::Prev,
            Some("complete") => Action::Complete,
            Some("cancel") => Action::Cancel,
            Some(_) => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::Execute => "execute",
            Action::Next => "next",
            Action::Prev => "prev",
            Action::Complete => "complete",
            Action::Cancel => "cancel",
        }
    }
}

/// A `<command/>` request, read.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    pub node: String,
    pub sessionid: Option<String>,
    pub action: Action,
    /// The submitted data form, if any.
    pub form: Option<DataForm>,
}

impl CommandRequest {
    /// The value of field `var` of the submitted form (first value, trimmed).
    pub fn value(&self, var: &str) -> Option<&str> {
        self.form
            .as_ref()?
            .fields
            .iter()
            .find(|f| f.var.as_deref() == Some(var))?
            .values
            .first()
            .map(|v| v.trim())
    }
}

/// Reads the `<command/>` payload of an iq set.
pub fn parse(payload: &Element) -> Result<CommandRequest, Refusal> {
    let size = String::from(payload).len();
    if size > MAX_REQUEST_BYTES {
        return Err(Refusal::BadPayload {
            detail: format!("the command is {size} bytes; at most {MAX_REQUEST_BYTES} are read"),
        });
    }
    let node = payload
        .attr("node")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Refusal::BadRequest {
            detail: "the command has no node".into(),
        })?
        .to_string();
    let action = Action::parse(payload.attr("action")).ok_or(Refusal::BadAction)?;
    let form = match payload.get_child("x", ns::DATA_FORMS) {
        None => None,
        Some(x) => Some(
            DataForm::try_from(x.clone()).map_err(|e| Refusal::BadPayload {
                detail: format!("the data form cannot be read: {e}"),
            })?,
        ),
    };
    Ok(CommandRequest {
        node,
        sessionid: payload
            .attr("sessionid")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        action,
        form,
    })
}

/// Where a command stands after an answer (XEP-0050 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// More stages follow: the client shows the form and the actions.
    Executing,
    Completed,
    Canceled,
}

/// A note's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteType {
    Info,
    Error,
}

/// The answer to a command request.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandResponse {
    pub node: String,
    pub sessionid: String,
    pub status: Status,
    /// For `executing`: the actions offered, the first one the default.
    pub actions: Vec<Action>,
    pub form: Option<DataForm>,
    pub notes: Vec<(NoteType, String)>,
}

impl CommandResponse {
    pub fn new(node: &str, sessionid: &str, status: Status) -> Self {
        CommandResponse {
            node: node.to_string(),
            sessionid: sessionid.to_string(),
            status,
            actions: Vec::new(),
            form: None,
            notes: Vec::new(),
        }
    }

    pub fn with_form(mut self, form: DataForm) -> Self {
        self.form = Some(form);
        self
    }

    pub fn with_actions(mut self, actions: &[Action]) -> Self {
        self.actions = actions.to_vec();
        self
    }

    pub fn with_note(mut self, kind: NoteType, text: impl Into<String>) -> Self {
        self.notes.push((kind, text.into()));
        self
    }

    /// The `<command/>` element.
    pub fn to_element(&self) -> Element {
        let status = match self.status {
            Status::Executing => "executing",
            Status::Completed => "completed",
            Status::Canceled => "canceled",
        };
        let command = Element::builder("command", NS_COMMANDS);
        let command = attr(command, "node", &self.node);
        let command = attr(command, "sessionid", &self.sessionid);
        let mut command = attr(command, "status", status).build();
        if let (Status::Executing, Some(default)) = (self.status, self.actions.first()) {
            let actions = Element::builder("actions", NS_COMMANDS);
            let mut actions = attr(actions, "execute", default.name()).build();
            for action in &self.actions {
                actions.append_child(Element::builder(action.name(), NS_COMMANDS).build());
            }
            command.append_child(actions);
        }
        for (kind, text) in &self.notes {
            let kind = match kind {
                NoteType::Info => "info",
                NoteType::Error => "error",
            };
            let note = attr(Element::builder("note", NS_COMMANDS), "type", kind);
            command.append_child(
                note.append(super::text::xml_safe(text).into_owned())
                    .build(),
            );
        }
        if let Some(form) = &self.form {
            command.append_child(form_element(form));
        }
        command
    }

    /// The iq result carrying it, in answer to `env`.
    pub fn into_iq(self, env: &Envelope) -> Iq {
        env.iq_result(Some(self.to_element()))
    }
}

/// One command in the disco#items list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub node: &'static str,
    pub name: &'static str,
}

/// The disco#items answer for node [`NS_COMMANDS`]: `commands`, offered
/// by the JID the request went to.
pub fn command_list(env: &Envelope, commands: &[Listed]) -> Iq {
    let jid = env.to.clone();
    env.iq_result(Some(
        DiscoItemsResult {
            node: Some(NS_COMMANDS.to_string()),
            items: commands
                .iter()
                .map(|c| Item {
                    jid: jid.clone(),
                    node: Some(c.node.to_string()),
                    name: Some(c.name.to_string()),
                })
                .collect(),
            rsm: None,
        }
        .into(),
    ))
}

/// Sets attribute `name` (a constant: the conversion cannot fail, and the
/// unit tests see every one of them written).
fn attr(builder: ElementBuilder, name: &'static str, value: &str) -> ElementBuilder {
    match NcName::try_from(name) {
        Ok(name) => builder.attr(name, value),
        Err(_) => builder,
    }
}

/// The XEP-0050 condition element that goes with a refusal, if any.
pub(super) fn specific_condition(name: &str) -> Element {
    Element::builder(name, NS_COMMANDS).build()
}

/// `form` as an element with every field's type written out.
///
/// COMPAT: xmpp-parsers leaves out `type="text-single"`, the type XEP-0004
/// gives a field without one; profanity 0.13 (Debian 12's) then shows such
/// a field but cannot fill it in, so the USSD code could not be typed.
fn form_element(form: &DataForm) -> Element {
    let mut x = Element::from(form.clone());
    let Ok(type_) = NcName::try_from("type") else {
        return x;
    };
    for field in x.children_mut() {
        if field.is("field", ns::DATA_FORMS) && field.attr("type").is_none() {
            field.set_attr(Namespace::NONE, type_.clone(), "text-single");
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::parsers::data_forms::{DataFormType, Field, FieldType};

    fn element(xml: &str) -> Element {
        xml.parse().expect("xml")
    }

    #[test]
    fn requests_are_read() {
        let r = parse(&element(
            "<command xmlns='http://jabber.org/protocol/commands' node='ussd'/>",
        ))
        .expect("request");
        assert_eq!(r.node, "ussd");
        assert_eq!(r.action, Action::Execute);
        assert_eq!(r.sessionid, None);
        assert!(r.form.is_none());
        let r = parse(&element(
            "<command xmlns='http://jabber.org/protocol/commands' node='ussd' sessionid='s1' action='next'>\
               <x xmlns='jabber:x:data' type='submit'><field var='code'><value> *100# </value></field></x>\
             </command>",
        ))
        .expect("request");
        assert_eq!(r.sessionid.as_deref(), Some("s1"));
        assert_eq!(r.action, Action::Next);
        assert_eq!(r.value("code"), Some("*100#"));
        assert_eq!(r.value("other"), None);
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(
            parse(&element(
                "<command xmlns='http://jabber.org/protocol/commands' node='x' action='jump'/>"
            )),
            Err(Refusal::BadAction)
        );
        assert!(matches!(
            parse(&element(
                "<command xmlns='http://jabber.org/protocol/commands'/>"
            )),
            Err(Refusal::BadRequest { .. })
        ));
        let big = format!(
            "<command xmlns='http://jabber.org/protocol/commands' node='x'><note>{}</note></command>",
            "a".repeat(MAX_REQUEST_BYTES)
        );
        assert!(matches!(
            parse(&element(&big)),
            Err(Refusal::BadPayload { .. })
        ));
    }

    #[test]
    fn responses_are_written() {
        let form = DataForm {
            type_: DataFormType::Form,
            title: Some("Send USSD".into()),
            instructions: None,
            fields: vec![Field::new("code", FieldType::TextSingle)],
        };
        let e = CommandResponse::new("ussd", "s1", Status::Executing)
            .with_actions(&[Action::Next, Action::Complete])
            .with_note(NoteType::Info, "hi")
            .with_form(form)
            .to_element();
        assert_eq!(e.attr("status"), Some("executing"));
        assert_eq!(e.attr("sessionid"), Some("s1"));
        let actions = e.get_child("actions", NS_COMMANDS).expect("actions");
        assert_eq!(actions.attr("execute"), Some("next"));
        assert!(actions.has_child("complete", NS_COMMANDS));
        assert_eq!(
            e.get_child("note", NS_COMMANDS).map(Element::text),
            Some("hi".into())
        );
        let x = e.get_child("x", ns::DATA_FORMS).expect("form");
        let code = x.get_child("field", ns::DATA_FORMS).expect("field");
        assert_eq!(code.attr("type"), Some("text-single"));
        let done = CommandResponse::new("status", "s2", Status::Completed)
            .with_actions(&[Action::Next])
            .to_element();
        assert!(done.get_child("actions", NS_COMMANDS).is_none());
    }
}
