//! The external-Prosody mode (`PROSODY_TEST_EXTERNAL=…`), proven against a
//! Prosody this test starts itself and then treats as someone else's: the
//! harness only gets its address, ports, component secret and a command
//! that creates users (prosodyctl with its configuration), as a user's CI
//! would give it for a Prosody container. No container engine runs here.

use prosody_test::external::{Accounts, ExternalProsody, shell_quote};
use prosody_test::stanzas::{body, chat, is_text_from};
use prosody_test::world::{COMPONENT, DOMAIN, WAIT};
use prosody_test::{COMPONENT_SECRET, Config, Prosody, Scenario};

use crate::{Must, NUMBER_1, SENDER};

#[tokio::test(flavor = "multi_thread")]
async fn scenarios_run_against_an_already_running_prosody() {
    // Someone else's server: mod_sms_alias installed and configured, a
    // component for goippy, no users yet.
    let mut prosody = Prosody::new(
        Config::new()
            .virtual_host(DOMAIN, |h| {
                h.module("sms_alias")
                    .option("sms_alias_component", COMPONENT)
            })
            .external_component(COMPONENT),
    )
    .must("prepare the server");
    prosody
        .install_mod_sms_alias()
        .must("install mod_sms_alias");
    prosody.start().must("start the server");
    let external = ExternalProsody {
        host: "127.0.0.1".into(),
        c2s_port: prosody.ports().c2s,
        component_port: prosody.ports().component,
        domain: DOMAIN.into(),
        component: COMPONENT.into(),
        component_secret: COMPONENT_SECRET.into(),
        accounts: Accounts::Register(format!(
            "prosodyctl --config {} register {{user}} {{domain}} {{password}}",
            shell_quote(&prosody.config_path().display().to_string())
        )),
    };

    let mut w = Scenario::new()
        .device("goip", &[("gw1", NUMBER_1)])
        .user("2001", "gw1")
        .external(external)
        .start()
        .await
        .must("start goippy and the device against the external server");
    assert!(w.is_external() && w.prosody().is_none());

    let alias = w.alias(SENDER);
    w.sim(0)
        .sms(1, SENDER, "in through someone else's Prosody")
        .must("inject");
    w.client("2001")
        .wait_for("the SMS", WAIT, |el| {
            is_text_from(el, &alias)
                && body(el).as_deref() == Some("in through someone else's Prosody")
        })
        .await
        .must("2001 gets the SMS");
    w.client("2001")
        .send(chat(&alias, "ext-1", "and out again").must("build"))
        .await
        .must("send");
    w.sim(0)
        .wait_event("sms_sent", WAIT, |e| e["text"] == "and out again")
        .await
        .must("the SMS leaves");
    w.finish().await.must("clean shutdown");
    assert!(
        prosody.is_running(),
        "the harness leaves an external server running"
    );
}
