//! XEP-0050 ad-hoc commands as a logged-in client runs them (Gajim's
//! "Execute Command", profanity's `/cmd`): the list on the user's own number
//! (through mod_sms_alias), a USSD menu answered and completed (USSDEXIT),
//! and an admin's gateway list.

use prosody_test::World;
use prosody_test::world::WAIT;
use tokio_xmpp::minidom::Element;

use crate::{Must, NUMBER_1, basic};

const COMMANDS: &str = "http://jabber.org/protocol/commands";
const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// Sends an iq from `user` and returns its answer.
async fn iq(w: &mut World, user: &str, to: &str, id: &str, type_: &str, payload: &str) -> Element {
    w.client(user)
        .send_xml(&format!(
            "<iq type='{type_}' to='{to}' id='{id}'>{payload}</iq>"
        ))
        .await
        .must("send");
    w.client(user)
        .wait_for(&format!("the answer to {id}"), WAIT, |el| {
            el.name() == "iq" && el.attr("id") == Some(id)
        })
        .await
        .must("an answer")
}

/// Runs a command stage and returns the `<command/>` of the answer.
async fn command(
    w: &mut World,
    to: &str,
    id: &str,
    node: &str,
    session: Option<&str>,
    action: Option<&str>,
    field: Option<(&str, &str)>,
) -> Element {
    let mut xml = format!("<command xmlns='{COMMANDS}' node='{node}'");
    if let Some(s) = session {
        xml.push_str(&format!(" sessionid='{s}'"));
    }
    if let Some(a) = action {
        xml.push_str(&format!(" action='{a}'"));
    }
    xml.push('>');
    if let Some((var, value)) = field {
        xml.push_str(&format!(
            "<x xmlns='jabber:x:data' type='submit'><field var='{var}'><value>{value}</value></field></x>"
        ));
    }
    xml.push_str("</command>");
    let answer = iq(w, "2001", to, id, "set", &xml).await;
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    answer
        .get_child("command", COMMANDS)
        .cloned()
        .must_command(id)
}

trait MustCommand {
    fn must_command(self, id: &str) -> Element;
}

impl MustCommand for Option<Element> {
    #[track_caller]
    fn must_command(self, id: &str) -> Element {
        match self {
            Some(e) => e,
            None => panic!("no <command/> in the answer to {id}"),
        }
    }
}

/// The values of the form field labelled `label`, one line each.
fn field(command: &Element, label: &str) -> String {
    command
        .get_child("x", "jabber:x:data")
        .into_iter()
        .flat_map(|x| x.children())
        .find(|f| f.name() == "field" && f.attr("label") == Some(label))
        .map(|f| {
            f.children()
                .filter(|v| v.name() == "value")
                .map(Element::text)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_runs_a_ussd_menu_and_an_admin_lists_the_gateways() {
    let mut w = basic()
        .sim_arg("--ussd-menu")
        .sim_arg("*123#=1 Balance\\n2 Bonus|1=Balance 5.00 EUR|2=Bonus 100 MB")
        .goippy_option("ADMIN_JIDS", "\"2002@example.org\"")
        .start()
        .await
        .must("start the world");
    let own = w.alias(NUMBER_1);
    let component = w.component().to_string();

    // The own number (its alias on the users' domain) lists the user's commands.
    let items = iq(
        &mut w,
        "2001",
        &own,
        "items-1",
        "get",
        &format!("<query xmlns='{DISCO_ITEMS}' node='{COMMANDS}'/>"),
    )
    .await;
    let nodes: Vec<&str> = items
        .get_child("query", DISCO_ITEMS)
        .into_iter()
        .flat_map(|q| q.children())
        .filter_map(|i| i.attr("node"))
        .collect();
    assert_eq!(nodes, ["status", "log", "ussd"], "{items:?}");

    // A menu: the code, a choice, then Complete, which closes the session.
    let start = command(&mut w, &component, "u1", "ussd", None, None, None).await;
    let session = start.attr("sessionid").unwrap_or_default().to_string();
    let menu = command(
        &mut w,
        &component,
        "u2",
        "ussd",
        Some(&session),
        Some("next"),
        Some(("code", "*123#")),
    )
    .await;
    assert_eq!(menu.attr("status"), Some("executing"));
    assert_eq!(field(&menu, "Answer"), "1 Balance\n2 Bonus");
    let choice = command(
        &mut w,
        &component,
        "u3",
        "ussd",
        Some(&session),
        Some("complete"),
        Some(("reply", "1")),
    )
    .await;
    assert_eq!(choice.attr("status"), Some("completed"));
    assert_eq!(field(&choice, "Answer"), "Balance 5.00 EUR");
    w.sim(0)
        .wait_event("ussd_exit", WAIT, |e| e["channel"] == 1)
        .await
        .must("goippy ends the USSD session with USSDEXIT");

    // 2002 is an admin: the gateway list, no passwords.
    let list = iq(
        &mut w,
        "2002",
        &component,
        "g1",
        "set",
        &format!("<command xmlns='{COMMANDS}' node='gateways'/>"),
    )
    .await;
    let table = list
        .get_child("command", COMMANDS)
        .map(|c| field(c, "Gateways"))
        .unwrap_or_default();
    assert!(
        table.contains("2001") && table.contains("gw1") && table.contains("2002"),
        "{table}"
    );
    // 2001 is not.
    let refused = iq(
        &mut w,
        "2001",
        &component,
        "g2",
        "set",
        &format!("<command xmlns='{COMMANDS}' node='gateways'/>"),
    )
    .await;
    assert_eq!(refused.attr("type"), Some("error"), "{refused:?}");
    w.finish().await.must("clean shutdown");
}
