//! XEP-0050 ad-hoc commands through the bridge's dispatcher and a real
//! Prosody: what a client's command list shows to whom, the console's
//! commands as forms (status, the call log with a count, USSD with a
//! two-step menu and its USSDEXIT), and the admin commands.

use std::time::Duration;

use goip_sim::{CallSpec, CallWay, Event};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;

use crate::support::bridge::*;

const COMMANDS: &str = "http://jabber.org/protocol/commands";
const ADMIN: &str = "boss@users.example.org/desk";
const STRANGER: &str = "9999@users.example.org/x";

fn with_admin() -> Options {
    Options {
        admins: vec!["boss@users.example.org"],
        ..Options::default()
    }
}

/// Sends an iq from `from` to `to` and returns the answer with the same id.
async fn iq(w: &mut World, from: &str, to: &str, id: &str, type_: &str, payload: &str) -> Element {
    w.users
        .send_xml(&format!(
            "<iq from='{from}' to='{to}' id='{id}' type='{type_}'>{payload}</iq>"
        ))
        .await;
    let wanted = id.to_string();
    w.users
        .expect("the iq's answer", move |e| {
            e.name() == "iq" && e.attr("id") == Some(wanted.as_str())
        })
        .await
}

/// The nodes disco#items lists under the commands node.
async fn listed(w: &mut World, from: &str, to: &str, id: &str) -> Vec<String> {
    let answer = iq(
        w,
        from,
        to,
        id,
        "get",
        &format!("<query xmlns='{}' node='{COMMANDS}'/>", ns::DISCO_ITEMS),
    )
    .await;
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    let query = answer.get_child("query", ns::DISCO_ITEMS).expect("query");
    query
        .children()
        .filter(|c| c.name() == "item")
        .map(|c| {
            assert_eq!(
                c.attr("jid"),
                Some(to),
                "an item names the JID that runs it"
            );
            assert!(c.attr("name").is_some_and(|n| !n.is_empty()));
            c.attr("node").unwrap_or_default().to_string()
        })
        .collect()
}

async fn features(w: &mut World, from: &str, to: &str, id: &str) -> Vec<String> {
    let answer = iq(
        w,
        from,
        to,
        id,
        "get",
        &format!("<query xmlns='{}'/>", ns::DISCO_INFO),
    )
    .await;
    let query = answer.get_child("query", ns::DISCO_INFO).expect("query");
    query
        .children()
        .filter(|c| c.name() == "feature")
        .filter_map(|c| c.attr("var"))
        .map(str::to_string)
        .collect()
}

/// A `<command/>` request: `fields` go in a submitted form.
fn command_xml(
    node: &str,
    session: Option<&str>,
    action: Option<&str>,
    fields: &[(&str, &str)],
) -> String {
    let mut xml = format!("<command xmlns='{COMMANDS}' node='{node}'");
    if let Some(s) = session {
        xml.push_str(&format!(" sessionid='{s}'"));
    }
    if let Some(a) = action {
        xml.push_str(&format!(" action='{a}'"));
    }
    xml.push('>');
    if !fields.is_empty() {
        xml.push_str("<x xmlns='jabber:x:data' type='submit'>");
        for (var, value) in fields {
            xml.push_str(&format!(
                "<field var='{var}'><value>{value}</value></field>"
            ));
        }
        xml.push_str("</x>");
    }
    xml.push_str("</command>");
    xml
}

struct Answer {
    iq: Element,
}

impl Answer {
    fn command(&self) -> &Element {
        self.iq
            .get_child("command", COMMANDS)
            .unwrap_or_else(|| panic!("no command in {}", String::from(&self.iq)))
    }

    fn status(&self) -> &str {
        self.command().attr("status").unwrap_or_default()
    }

    fn session(&self) -> String {
        self.command()
            .attr("sessionid")
            .unwrap_or_default()
            .to_string()
    }

    /// The values of every field labelled or named `name`, joined by lines.
    fn field(&self, name: &str) -> String {
        let x = self
            .command()
            .get_child("x", "jabber:x:data")
            .unwrap_or_else(|| panic!("no form in {}", String::from(&self.iq)));
        x.children()
            .filter(|f| f.name() == "field")
            .find(|f| f.attr("var") == Some(name) || f.attr("label") == Some(name))
            .map(|f| {
                f.children()
                    .filter(|v| v.name() == "value")
                    .map(Element::text)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|| panic!("no field {name} in {}", String::from(&self.iq)))
    }

    /// The label of the field `var`.
    fn label(&self, var: &str) -> String {
        self.command()
            .get_child("x", "jabber:x:data")
            .and_then(|x| {
                x.children()
                    .find(|f| f.name() == "field" && f.attr("var") == Some(var))
            })
            .and_then(|f| f.attr("label"))
            .unwrap_or_else(|| panic!("no label of {var} in {}", String::from(&self.iq)))
            .to_string()
    }

    /// Whether the form has a field `var`.
    fn has_field(&self, var: &str) -> bool {
        self.command()
            .get_child("x", "jabber:x:data")
            .is_some_and(|x| {
                x.children()
                    .any(|f| f.name() == "field" && f.attr("var") == Some(var))
            })
    }

    fn note(&self) -> String {
        self.command()
            .get_child("note", COMMANDS)
            .map(Element::text)
            .unwrap_or_default()
    }

    fn actions(&self) -> Vec<String> {
        self.command()
            .get_child("actions", COMMANDS)
            .map(|a| a.children().map(|c| c.name().to_string()).collect())
            .unwrap_or_default()
    }

    /// (stanza condition, XEP-0050 condition) of an error answer.
    fn error(&self) -> (String, String) {
        assert_eq!(
            self.iq.attr("type"),
            Some("error"),
            "{}",
            String::from(&self.iq)
        );
        let error = self.iq.get_child("error", ns::DEFAULT_NS).expect("error");
        let stanza = error
            .children()
            .find(|c| c.ns() == ns::XMPP_STANZAS && c.name() != "text")
            .map(|c| c.name().to_string())
            .unwrap_or_default();
        let specific = error
            .children()
            .find(|c| c.ns() == COMMANDS)
            .map(|c| c.name().to_string())
            .unwrap_or_default();
        (stanza, specific)
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    w: &mut World,
    from: &str,
    to: &str,
    id: &str,
    node: &str,
    session: Option<&str>,
    action: Option<&str>,
    fields: &[(&str, &str)],
) -> Answer {
    let payload = command_xml(node, session, action, fields);
    let iq = iq(w, from, to, id, "set", &payload).await;
    assert_eq!(iq.attr("from"), Some(to));
    assert_eq!(iq.attr("to"), Some(from));
    Answer { iq }
}

/// [`run`] with `action='complete'` in an open session: a form submitted.
async fn complete(
    w: &mut World,
    from: &str,
    to: &str,
    id: &str,
    node: &str,
    session: &str,
    fields: &[(&str, &str)],
) -> Answer {
    run(
        w,
        from,
        to,
        id,
        node,
        Some(session),
        Some("complete"),
        fields,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disco_lists_only_what_the_requester_may_run() {
    let mut w = World::start(with_admin()).await;
    assert!(
        features(&mut w, PHONE, SMS, "f1")
            .await
            .contains(&COMMANDS.to_string())
    );
    assert!(
        features(&mut w, PHONE, OWN_JID, "f2")
            .await
            .contains(&COMMANDS.to_string())
    );
    let other = contact("+37255512345");
    assert!(
        !features(&mut w, PHONE, &other, "f3")
            .await
            .contains(&COMMANDS.to_string())
    );

    let user = ["status", "log", "ussd"];
    assert_eq!(listed(&mut w, PHONE, SMS, "l1").await, user);
    assert_eq!(listed(&mut w, PHONE, OWN_JID, "l2").await, user);
    assert!(listed(&mut w, PHONE, &other, "l3").await.is_empty());
    assert_eq!(
        listed(&mut w, ADMIN, SMS, "l4").await,
        ["gateways", "disable-line", "enable-line"],
        "an admin without a line gets the admin commands only"
    );
    assert!(listed(&mut w, STRANGER, SMS, "l5").await.is_empty());

    // A command node describes itself.
    let info = iq(
        &mut w,
        PHONE,
        SMS,
        "n1",
        "get",
        &format!("<query xmlns='{}' node='ussd'/>", ns::DISCO_INFO),
    )
    .await;
    let identity = info
        .get_child("query", ns::DISCO_INFO)
        .and_then(|q| q.get_child("identity", ns::DISCO_INFO))
        .expect("identity");
    assert_eq!(identity.attr("category"), Some("automation"));
    assert_eq!(identity.attr("type"), Some("command-node"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_the_call_log_with_a_count() {
    let mut w = World::start(Options::default()).await;
    w.wait_for_count(
        "SELECT COUNT(*) FROM goippy_state WHERE goip_id = 'goip1' AND gsm_status = 'LOGIN'",
        1,
    )
    .await;
    let a = run(&mut w, PHONE, OWN_JID, "s1", "status", None, None, &[]).await;
    assert_eq!(a.status(), "completed");
    let status = a.field("line-2001");
    assert!(
        status.starts_with("Line 2001 (goip1), +37255500000\n"),
        "{status}"
    );
    assert!(status.contains("GSM: LOGIN, signal "), "{status}");
    // The same on the gateway JID: all of the user's lines.
    let a = run(&mut w, PHONE, SMS, "s2", "status", None, None, &[]).await;
    assert!(a.field("Line 2001").contains("GoIP channel: online since "));

    for (number, cause) in [
        ("+37255511111", "Normal call clearing"),
        ("+37255522222", "User busy"),
    ] {
        w.device
            .call(
                1,
                CallSpec {
                    way: CallWay::Out,
                    number: number.into(),
                    seconds: 0,
                    cause: cause.into(),
                },
            )
            .await
            .expect("call");
        let number = number.to_string();
        w.device_event(
            "the call ends",
            move |e| matches!(e, Event::CallEnded { number: n, .. } if *n == number),
        )
        .await;
    }
    let a = run(&mut w, PHONE, SMS, "c1", "log", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    assert_eq!(a.field("count"), "10", "the console's default");
    let session = a.session();
    assert!(session.len() >= 16, "{session}");

    // Another resource of the same account cannot continue the session.
    let other = "2001@users.example.org/laptop";
    let a = complete(&mut w, other, SMS, "c2", "log", &session, &[("count", "1")]).await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-sessionid".into()));
    // A count out of range is refused, and the session waits for a good one.
    let a = complete(&mut w, PHONE, SMS, "c3", "log", &session, &[("count", "0")]).await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-payload".into()));
    let a = complete(&mut w, PHONE, SMS, "c4", "log", &session, &[("count", "1")]).await;
    assert_eq!(a.status(), "completed");
    let log = a.field("calls");
    assert!(log.starts_with("The last call:\n"), "{log}");
    assert!(log.contains("+37255522222  User busy"), "{log}");
    assert!(!log.contains("+37255511111"), "{log}");
    // A completed session is gone.
    let a = complete(&mut w, PHONE, SMS, "c5", "log", &session, &[("count", "2")]).await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-sessionid".into()));
    // Nothing of this went to the GSM network.
    assert!(w.sent().await.is_empty());
}

async fn ussd_exit(w: &mut World) {
    w.device_event("USSDEXIT", |e| matches!(e, Event::UssdExit { .. }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_single_step_and_a_two_step_menu() {
    let mut w = World::start(Options::default()).await;
    let a = run(&mut w, PHONE, SMS, "u1", "ussd", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    a.field("code");
    let session = a.session();
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "u2",
        "ussd",
        Some(&session),
        Some("next"),
        &[("code", " *100# ")],
    )
    .await;
    assert_eq!(a.status(), "executing", "the answer might be a menu");
    assert_eq!(a.field("Answer"), "Your balance is 10.00 EUR");
    assert_eq!(a.actions(), ["next", "complete"]);
    let a = complete(&mut w, PHONE, SMS, "u3", "ussd", &session, &[]).await;
    assert_eq!(a.status(), "completed");
    ussd_exit(&mut w).await;

    // A menu: the code, a choice, then the user cancels.
    let a = run(&mut w, PHONE, OWN_JID, "m1", "ussd", None, None, &[]).await;
    let session = a.session();
    let a = run(
        &mut w,
        PHONE,
        OWN_JID,
        "m2",
        "ussd",
        Some(&session),
        None,
        &[("code", MENU_CODE)],
    )
    .await;
    assert_eq!(a.status(), "executing");
    assert_eq!(a.field("Answer"), MENU_PROMPT);
    let a = run(
        &mut w,
        PHONE,
        OWN_JID,
        "m3",
        "ussd",
        Some(&session),
        Some("next"),
        &[("reply", "1")],
    )
    .await;
    assert_eq!(a.status(), "executing");
    assert_eq!(
        a.field("Answer"),
        MENU_CHOICE_1,
        "the choice went to the open menu"
    );
    let a = run(
        &mut w,
        PHONE,
        OWN_JID,
        "m4",
        "ussd",
        Some(&session),
        Some("cancel"),
        &[],
    )
    .await;
    assert_eq!(a.status(), "canceled");
    ussd_exit(&mut w).await;
    let status = w.device.status(1).await.expect("status");
    assert_eq!(
        status.ussd_queries, 3,
        "*100#, *123# and 1 went to the network"
    );

    // A code that is none is refused before anything is sent.
    let a = run(&mut w, PHONE, SMS, "x1", "ussd", None, None, &[]).await;
    let session = a.session();
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "x2",
        "ussd",
        Some(&session),
        None,
        &[("code", "balance")],
    )
    .await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-payload".into()));
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "x3",
        "ussd",
        Some(&session),
        Some("cancel"),
        &[],
    )
    .await;
    assert_eq!(a.status(), "canceled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_ussd_menu_expires_with_ussdexit() {
    let mut w = World::start(Options {
        command_timeout: std::time::Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let a = run(&mut w, PHONE, SMS, "t1", "ussd", None, None, &[]).await;
    let session = a.session();
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "t2",
        "ussd",
        Some(&session),
        None,
        &[("code", MENU_CODE)],
    )
    .await;
    assert_eq!(a.status(), "executing");
    // The user walks away: the session expires and the network's is closed.
    ussd_exit(&mut w).await;
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "t3",
        "ussd",
        Some(&session),
        Some("next"),
        &[("reply", "1")],
    )
    .await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-sessionid".into()));
    let status = w.device.status(1).await.expect("status");
    assert_eq!(status.ussd_queries, 1, "the late choice went nowhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_disable_and_enable_lines_and_nobody_else_does() {
    let mut w = World::start(with_admin()).await;
    // A user is no admin, and an admin command is not a user's.
    let a = run(&mut w, PHONE, SMS, "a1", "gateways", None, None, &[]).await;
    assert_eq!(a.error().0, "forbidden");
    let a = run(&mut w, ADMIN, SMS, "a2", "status", None, None, &[]).await;
    assert_eq!(a.error().0, "forbidden", "the admin has no line");
    let a = run(&mut w, PHONE, SMS, "a3", "reboot", None, None, &[]).await;
    assert_eq!(a.error().0, "item-not-found");

    let a = run(&mut w, ADMIN, SMS, "g1", "gateways", None, None, &[]).await;
    assert_eq!(a.status(), "completed");
    let table = a.field("gateways");
    assert!(table.starts_with("EXT"), "{table}");
    assert!(table.contains("2001") && table.contains("goip1"), "{table}");
    assert!(!table.contains(GOIP_PASS), "no passwords: {table}");

    let a = run(&mut w, ADMIN, SMS, "d1", "disable-line", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    let session = a.session();
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "d2",
        "disable-line",
        &session,
        &[("ext", "2001")],
    )
    .await;
    assert_eq!(a.status(), "completed");
    assert_eq!(a.note(), "Line 2001 is disabled.");
    assert_eq!(
        w.scalar("SELECT COUNT(*) FROM goippy_gateways WHERE ext = '2001' AND enabled = 0")
            .await,
        1
    );
    // At once: the user's commands are gone.
    let a = run(&mut w, PHONE, SMS, "d3", "status", None, None, &[]).await;
    assert_eq!(a.error().0, "forbidden");

    let a = run(&mut w, ADMIN, SMS, "e1", "enable-line", None, None, &[]).await;
    let session = a.session();
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "e2",
        "enable-line",
        &session,
        &[("ext", "7777")],
    )
    .await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-payload".into()));
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "e3",
        "enable-line",
        &session,
        &[("ext", "2001")],
    )
    .await;
    assert_eq!(a.note(), "Line 2001 is enabled.");
    let a = run(&mut w, PHONE, SMS, "e4", "status", None, None, &[]).await;
    assert_eq!(a.status(), "completed");
}

/// The options (value, label) of the form field `var`.
fn choices_of(a: &Answer, var: &str) -> Vec<(String, String)> {
    let x = a
        .command()
        .get_child("x", "jabber:x:data")
        .unwrap_or_else(|| panic!("no form in {}", String::from(&a.iq)));
    let field = x
        .children()
        .find(|f| f.name() == "field" && f.attr("var") == Some(var))
        .unwrap_or_else(|| panic!("no field {var} in {}", String::from(&a.iq)));
    field
        .children()
        .filter(|o| o.name() == "option")
        .map(|o| {
            let value = o
                .children()
                .find(|v| v.name() == "value")
                .map(Element::text)
                .unwrap_or_default();
            (value, o.attr("label").unwrap_or_default().to_string())
        })
        .collect()
}

/// A line made with `--add-line` is no extension's default line (its `ext`
/// is NULL): admins still see it with its users and enable or disable it,
/// and its users see it in their line status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_and_switch_a_shared_line_that_has_no_owner() {
    const POOL: &str = "pool2";
    const POOL_NUMBER: &str = "+37255500002";
    const TEAMMATE: &str = "2002@users.example.org/phone";
    let mut options = with_admin();
    options.pool_lines = vec![PoolLine {
        goip_id: POOL,
        password: "pw2",
        number: POOL_NUMBER,
        users: vec!["2001", "2002"],
    }];
    let w = World::start(options).await;
    w.wait_until("the shared line is known with its number", |w| {
        w.bridge()
            .probe()
            .directory()
            .gateway_by_msisdn(POOL_NUMBER)
            .is_some()
    })
    .await;
    // The directory learns the number from the keepalive at once; the
    // store's row, which the list reads, gets it with the writer's next
    // batch. Wait for that too, or the list may lack the number.
    let saved = format!(
        "SELECT COUNT(*) FROM goippy_gateways WHERE goip_id = '{POOL}' AND msisdn = '{POOL_NUMBER}'"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.scalar(&saved).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the number is never saved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut w = w;

    // The list: the shared line, once per user.
    let a = run(&mut w, ADMIN, SMS, "g1", "gateways", None, None, &[]).await;
    let table = a.field("gateways");
    let pool_rows: Vec<&str> = table.lines().filter(|l| l.contains(POOL)).collect();
    assert_eq!(pool_rows.len(), 2, "{table}");
    assert!(pool_rows.iter().any(|r| r.starts_with("2001")), "{table}");
    assert!(pool_rows.iter().any(|r| r.starts_with("2002")), "{table}");

    // The choice: every line, the shared one with its users.
    let a = run(&mut w, ADMIN, SMS, "d1", "disable-line", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    let choices = choices_of(&a, "line");
    assert_eq!(
        choices,
        [
            (
                GOIP_ID.to_string(),
                format!("{GOIP_ID} {OWN_NUMBER}: 2001 (enabled)")
            ),
            (
                POOL.to_string(),
                format!("{POOL} {POOL_NUMBER}: 2001, 2002 (enabled)")
            ),
        ],
        "{}",
        String::from(&a.iq)
    );
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "d2",
        "disable-line",
        &a.session(),
        &[("line", POOL)],
    )
    .await;
    assert_eq!(a.status(), "completed", "{}", String::from(&a.iq));
    assert_eq!(a.note(), format!("Line {POOL} is disabled."));
    assert_eq!(
        w.scalar(&format!(
            "SELECT COUNT(*) FROM goippy_gateways WHERE goip_id = '{POOL}' AND enabled = 0"
        ))
        .await,
        1
    );
    // At once: 2002, whose only line it was, has no commands; 2001 keeps
    // its default line.
    let a = run(&mut w, TEAMMATE, SMS, "d3", "status", None, None, &[]).await;
    assert_eq!(a.error().0, "forbidden");
    let a = run(&mut w, PHONE, SMS, "d4", "status", None, None, &[]).await;
    assert_eq!(a.status(), "completed");

    let a = run(&mut w, ADMIN, SMS, "e1", "enable-line", None, None, &[]).await;
    assert!(
        choices_of(&a, "line").contains(&(
            POOL.to_string(),
            format!("{POOL} {POOL_NUMBER}: 2001, 2002 (disabled)")
        )),
        "{}",
        String::from(&a.iq)
    );
    let session = a.session();
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "e2",
        "enable-line",
        &session,
        &[("line", "nosuchline")],
    )
    .await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-payload".into()));
    let a = complete(
        &mut w,
        ADMIN,
        SMS,
        "e3",
        "enable-line",
        &session,
        &[("line", POOL)],
    )
    .await;
    assert_eq!(a.note(), format!("Line {POOL} is enabled."));

    // Each user's line status shows every one of their lines.
    let a = run(&mut w, TEAMMATE, SMS, "s1", "status", None, None, &[]).await;
    assert_eq!(a.status(), "completed", "{}", String::from(&a.iq));
    assert!(a.field(&format!("line-{POOL}")).contains(POOL_NUMBER));
    let a = run(&mut w, PHONE, SMS, "s2", "status", None, None, &[]).await;
    assert!(a.field("line-2001").contains(OWN_NUMBER));
    assert!(a.field(&format!("line-{POOL}")).contains(POOL_NUMBER));
    // A line that is someone's default line is named by its extension, as
    // the console names it; one that is no one's by its goip_id and
    // number, not by its users.
    assert_eq!(a.label("line-2001"), "Line 2001");
    assert_eq!(
        a.label(&format!("line-{POOL}")),
        format!("Line {POOL} {POOL_NUMBER}")
    );
}

/// The shared line of the pool tests: `pool2` on channel 2, no default
/// owner, used by 2001 and 2002.
fn with_shared_line() -> Options {
    Options {
        pool_lines: vec![PoolLine {
            goip_id: "pool2",
            password: "pw2",
            number: "+37255500002",
            users: vec!["2001", "2002"],
        }],
        ..with_admin()
    }
}

async fn shared_line_world(options: Options) -> World {
    let w = World::start(options).await;
    w.wait_until("the shared line is online with its number", |w| {
        let b = w.bridge().probe();
        b.engine().channel("pool2").is_some_and(|c| c.online)
            && b.directory().gateway_by_msisdn("+37255500002").is_some()
    })
    .await;
    w
}

/// An ad-hoc USSD request on a shared line whose answer comes after the
/// command gave up: the answer reaches the user who ran the command, as a
/// chat message from the line's number — not the line's other user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_to_an_ad_hoc_ussd_on_a_shared_line_reaches_who_asked() {
    const TEAMMATE: &str = "2002@users.example.org/phone";
    let mut options = with_shared_line();
    // The network answers after goippy gave up (two timeouts of 1 s), and
    // the USSDEXIT that ends the command does not stop it.
    options.timing.ussd_delay = std::time::Duration::from_secs(3);
    let mut w = shared_line_world(options).await;
    w.device
        .fail(2, goip_sim::FailureChange::Set(goip_sim::Failure::UssdLate))
        .await
        .expect("ussd-late");
    let pool_jid = contact("+37255500002");
    let a = run(&mut w, TEAMMATE, &pool_jid, "l1", "ussd", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    let a = run(
        &mut w,
        TEAMMATE,
        &pool_jid,
        "l2",
        "ussd",
        Some(&a.session()),
        Some("next"),
        &[("code", "*100#")],
    )
    .await;
    assert_eq!(a.status(), "completed");
    assert!(a.note().contains("No USSD answer"), "{}", a.note());
    let answer = w
        .users
        .expect("the late USSD answer", |e| {
            is_chat(e) && body(e).starts_with("[USSD]")
        })
        .await;
    assert_eq!(body(&answer), "[USSD] Your balance is 10.00 EUR");
    assert_eq!(answer.attr("from"), Some(pool_jid.as_str()));
    assert_eq!(
        answer.attr("to"),
        Some("2002@users.example.org"),
        "to the user who asked, not the line's first user"
    );
    w.users
        .expect_silence(std::time::Duration::from_millis(800))
        .await;
}

/// A user with several lines runs the call log and USSD on the gateway: the
/// form asks which line (the default line unless chosen), and the command
/// acts on the line chosen; on an own number it acts on that line, with
/// nothing to choose. Writing to the gateway names every own number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_lines_choose_the_line_at_the_gateway() {
    const POOL_NUMBER: &str = "+37255500002";
    let mut w = shared_line_world(with_shared_line()).await;
    let lines = [
        (GOIP_ID.to_string(), format!("1: {OWN_NUMBER}")),
        ("pool2".to_string(), format!("2: {POOL_NUMBER}")),
    ];

    let a = run(&mut w, PHONE, SMS, "u1", "ussd", None, None, &[]).await;
    assert_eq!(a.status(), "executing");
    assert_eq!(choices_of(&a, "line"), lines, "{}", String::from(&a.iq));
    assert_eq!(a.field("line"), GOIP_ID, "the default line unless chosen");
    let a = run(
        &mut w,
        PHONE,
        SMS,
        "u2",
        "ussd",
        Some(&a.session()),
        Some("next"),
        &[("code", "*100#"), ("line", "pool2")],
    )
    .await;
    assert_eq!(a.field("Answer"), "Your balance is 10.00 EUR");
    w.device_event(
        "the USSD on the chosen line",
        |e| matches!(e, Event::Ussd { channel: 2, code, .. } if code == "*100#"),
    )
    .await;
    let a = complete(&mut w, PHONE, SMS, "u3", "ussd", &a.session(), &[]).await;
    assert_eq!(a.status(), "completed");
    w.device_event("USSDEXIT on the chosen line", |e| {
        matches!(e, Event::UssdExit { channel: 2, .. })
    })
    .await;

    let a = run(&mut w, PHONE, SMS, "l1", "log", None, None, &[]).await;
    assert_eq!(choices_of(&a, "line"), lines);
    let a = complete(
        &mut w,
        PHONE,
        SMS,
        "l2",
        "log",
        &a.session(),
        &[("count", "5"), ("line", "pool2")],
    )
    .await;
    assert_eq!(a.status(), "completed", "{}", String::from(&a.iq));
    assert_eq!(a.label("calls"), format!("Line pool2 {POOL_NUMBER}"));

    // On an own number: that line, nothing to choose, nothing else taken.
    let pool_jid = contact(POOL_NUMBER);
    let a = run(&mut w, PHONE, &pool_jid, "o1", "log", None, None, &[]).await;
    assert!(!a.has_field("line"), "{}", String::from(&a.iq));
    let session = a.session();
    let a = complete(
        &mut w,
        PHONE,
        &pool_jid,
        "o2",
        "log",
        &session,
        &[("count", "5"), ("line", GOIP_ID)],
    )
    .await;
    assert_eq!(a.error(), ("bad-request".into(), "bad-payload".into()));
    let a = complete(
        &mut w,
        PHONE,
        &pool_jid,
        "o3",
        "log",
        &session,
        &[("count", "5")],
    )
    .await;
    assert_eq!(a.label("calls"), format!("Line pool2 {POOL_NUMBER}"));

    // 2002 has one line: no choice at the gateway either.
    let a = run(
        &mut w,
        "2002@users.example.org/phone",
        SMS,
        "t1",
        "ussd",
        None,
        None,
        &[],
    )
    .await;
    assert!(!a.has_field("line"), "{}", String::from(&a.iq));

    // Writing to the gateway names both consoles.
    w.users.chat(PHONE, SMS, "h1", "hello", false).await;
    let m = w
        .users
        .expect("the gateway's answer", |e| {
            is_chat(e) && e.attr("from") == Some(SMS) && e.attr("to") == Some(PHONE)
        })
        .await;
    assert!(
        body(&m).contains(&format!(
            "Your own numbers {OWN_NUMBER}, {POOL_NUMBER} each answer"
        )),
        "{}",
        body(&m)
    );
}
