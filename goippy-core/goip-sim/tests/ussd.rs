//! USSD against the simulated GoIP: replies from the code table, and the
//! device cache rule that makes a server's sendids matter — a sendid not
//! above the cached one gets the cached reply without a network query.

mod common;

use std::time::Duration;

use common::{Server, event, start};
use goip_sim::Event;
use goippy_core::goip::{Command, Reply};

fn ussd(sendid: u32, code: &str) -> Command {
    Command::Ussd {
        sendid,
        password: "secret".into(),
        code: code.into(),
    }
}

fn text(reply: Reply) -> String {
    match reply {
        Reply::Ussd { text, .. } => text,
        other => panic!("expected a USSD reply, got {other:?}"),
    }
}

#[tokio::test]
async fn the_device_cache_rule() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.ussd.insert("*101#", "You have 5 MB left").unwrap();
        c.timing.ussd_delay = Duration::from_millis(20);
    })
    .await;
    let to = device.local_addr(1).unwrap();
    let queries = || async { device.status(1).await.unwrap().ussd_queries };

    assert_eq!(
        text(server.ask(to, ussd(5, "*100#")).await),
        "Your balance is 10.00 EUR"
    );
    let e = event(&mut events, "ussd", |e| matches!(e, Event::Ussd { .. })).await;
    assert_eq!(
        e,
        Event::Ussd {
            channel: 1,
            sendid: 5,
            code: "*100#".into(),
            reply: "Your balance is 10.00 EUR".into(),
            cached: false
        }
    );
    assert_eq!(queries().await, 1);

    // The same sendid: the cached reply, no new network query.
    assert_eq!(
        text(server.ask(to, ussd(5, "*100#")).await),
        "Your balance is 10.00 EUR"
    );
    // A smaller one, even for another code: the (stale) cached reply.
    assert_eq!(
        text(server.ask(to, ussd(4, "*101#")).await),
        "Your balance is 10.00 EUR"
    );
    assert_eq!(queries().await, 1);
    let e = event(&mut events, "cached ussd", |e| {
        matches!(e, Event::Ussd { cached: true, .. })
    })
    .await;
    assert!(matches!(e, Event::Ussd { sendid: 5, .. }), "{e:?}");

    // A larger one asks the network.
    assert_eq!(
        text(server.ask(to, ussd(6, "*101#")).await),
        "You have 5 MB left"
    );
    assert_eq!(queries().await, 2);
    // Unknown codes get the network's refusal text.
    assert_eq!(
        text(server.ask(to, ussd(7, "*999#")).await),
        "Unknown service code"
    );
    device.shutdown().await;
}

#[tokio::test]
async fn padding_exit_and_wrong_password() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| c.ussd_padding = 3).await;
    let to = device.local_addr(1).unwrap();
    assert_eq!(
        text(server.ask(to, ussd(1, "*100#")).await),
        "Your balance is 10.00 EUR@@@"
    );
    // The event shows the reply without the padding.
    let e = event(&mut events, "ussd", |e| matches!(e, Event::Ussd { .. })).await;
    assert!(matches!(e, Event::Ussd { ref reply, .. } if reply == "Your balance is 10.00 EUR"));

    let exit = Command::UssdExit {
        sendid: 2,
        password: "secret".into(),
    };
    assert_eq!(server.ask(to, exit).await, Reply::UssdExit { sendid: 2 });
    let wrong = Command::Ussd {
        sendid: 3,
        password: "guess".into(),
        code: "*100#".into(),
    };
    assert_eq!(
        server.ask(to, wrong).await,
        Reply::UssdError {
            sendid: 3,
            text: "password error".into()
        }
    );
    assert_eq!(device.status(1).await.unwrap().ussd_queries, 1);
    device.shutdown().await;
}

#[tokio::test]
async fn a_newer_request_supersedes_one_still_waiting() {
    let server = Server::bind().await;
    let (device, mut events) = start(&server, 1, |c| {
        c.timing.ussd_delay = Duration::from_millis(200)
    })
    .await;
    let to = device.local_addr(1).unwrap();
    server.command(to, ussd(10, "*100#")).await;
    server.command(to, ussd(10, "*100#")).await; // a retransmission: nothing new
    server.command(to, ussd(11, "*100#")).await;
    let (reply, _) = server.expect_reply().await;
    assert_eq!(
        reply,
        Reply::Ussd {
            sendid: 11,
            text: "Your balance is 10.00 EUR".into()
        }
    );
    event(&mut events, "ussd_superseded", |e| {
        matches!(
            e,
            Event::UssdSuperseded {
                sendid: 10,
                by: 11,
                ..
            }
        )
    })
    .await;
    server.expect_silence(Duration::from_millis(400)).await;
    device.shutdown().await;
}
