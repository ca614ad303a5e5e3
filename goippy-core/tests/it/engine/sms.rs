//! Outbound SMS over real loopback sockets, against a scripted GoIP: the
//! MSG / PASSWORD / SEND / DONE session, its failure shapes, its retries —
//! and proof that SEND is never sent twice for one telid (the single status
//! poll the vendor document prescribes being the only repeat;
//! docs/goip-protocol.md#send-is-sent-once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goippy_core::config::SmsMode;
use goippy_core::engine::{
    EngineEvent, NotSent, RecipientOutcome, RecipientReport, SmsOutcome, SmsRequest,
};
use goippy_core::goip::{Command, ErrorReply, Reply};

use crate::support::engine::{
    Answer, Behaviour, Device, ID, PASSWORD, SendResult, fast_config, goip, online, start,
};

fn request(recipients: &[&str], text: &str) -> SmsRequest {
    SmsRequest::new(
        ID,
        recipients.iter().map(|r| r.to_string()).collect(),
        text,
        42,
    )
}

fn sent(number: &str, telid: u32, sms_no: u32) -> RecipientReport {
    RecipientReport {
        number: number.into(),
        telid: Some(telid),
        outcome: RecipientOutcome::Sent {
            sms_no: Some(sms_no),
        },
    }
}

/// The verbs the device received, in order (acks left out).
fn verbs(device: &Device) -> Vec<&'static str> {
    device.commands().iter().map(Command::verb).collect()
}

#[tokio::test]
async fn a_full_session_with_wait_then_ok_and_its_delivery_report() {
    let (mut t, mut device) = online(Behaviour::new(PASSWORD)).await;
    // The hook sees how many SENDs the device had received when it ran.
    let sends_at_hook = Arc::new(Mutex::new(Vec::new()));
    let probe = sends_at_hook.clone();
    let text = "Привет; мир:\nline two";
    let counter = Arc::new(Mutex::new(0));
    let calls = counter.clone();
    let hook_sendid = Arc::new(Mutex::new(None));
    let seen_sendid = hook_sendid.clone();
    let observer = DeviceObserver::new(&device);
    let request = request(&["+37255512345"], text).before_send(move |sendid| {
        *calls.lock().unwrap() += 1;
        *seen_sendid.lock().unwrap() = Some(sendid);
        probe.lock().unwrap().push(observer.sends());
        async { Ok(()) }
    });
    let outcome = t.engine.send_sms(request).await;
    assert_eq!(
        outcome,
        SmsOutcome::Attempted(vec![sent("+37255512345", 1, 161)])
    );
    assert_eq!(*counter.lock().unwrap(), 1, "the hook runs once");
    assert_eq!(
        *sends_at_hook.lock().unwrap(),
        vec![0],
        "before the first SEND"
    );

    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "PASSWORD", "SEND", "DONE"]);
    let commands = device.commands();
    let sendid = commands[0].sendid();
    assert!(sendid > 0 && sendid <= i32::MAX as u32);
    assert!(commands.iter().all(|c| c.sendid() == sendid));
    assert_eq!(
        *hook_sendid.lock().unwrap(),
        Some(sendid),
        "the hook is told the session's sendid"
    );
    assert_eq!(
        commands[0],
        Command::Msg {
            sendid,
            text: text.into()
        }
    );
    assert_eq!(
        commands[2],
        Command::Send {
            sendid,
            telid: 1,
            number: "+37255512345".into()
        }
    );
    // MSG carries the byte length, and no command ends with a newline.
    let log = device.log();
    let msg_bytes = &log
        .iter()
        .find(|s| s.command().map(Command::verb) == Some("MSG"))
        .unwrap()
        .bytes;
    let expected = format!("MSG {sendid} {} {text}", text.len());
    assert_eq!(msg_bytes, expected.as_bytes());
    assert!(device.log().iter().all(|s| !s.bytes.ends_with(b"\n")));

    // The carrier's report refers to sms_no 161: matched to message 42.
    device.drain();
    device.deliver("1571812803", 161, 0).await;
    let report = t
        .next_event(|e| match e {
            EngineEvent::Delivery(d) => Some(d),
            _ => None,
        })
        .await;
    assert!(report.delivered());
    let matched = report.matched.as_ref().expect("matched to the sent SMS");
    assert_eq!(
        (matched.tag, matched.recipient.as_str()),
        (42, "+37255512345")
    );
    report.durable.stored();
    assert!(device.expect_ack().await.is_accepted());
}

/// Counts the SENDs a device has received, from inside a hook.
#[derive(Clone)]
struct DeviceObserver {
    socket_log: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl DeviceObserver {
    fn new(device: &Device) -> Self {
        let log = device.log_handle();
        DeviceObserver {
            socket_log: Arc::new(move || {
                log.lock()
                    .unwrap()
                    .iter()
                    .filter(|s| matches!(s.command(), Some(Command::Send { .. })))
                    .count()
            }),
        }
    }

    fn sends(&self) -> usize {
        (self.socket_log)()
    }
}

#[tokio::test]
async fn a_refused_password_sends_nothing() {
    let mut behaviour = Behaviour::new("another password");
    behaviour.send_result = SendResult::Ok;
    let (t, device) = online(behaviour).await;
    let hook_ran = Arc::new(Mutex::new(false));
    let flag = hook_ran.clone();
    let outcome = t
        .engine
        .send_sms(request(&["+1"], "x").before_send(move |_| {
            *flag.lock().unwrap() = true;
            async { Ok(()) }
        }))
        .await;
    assert_eq!(outcome, SmsOutcome::NotSent(NotSent::PasswordRefused));
    assert!(!*hook_ran.lock().unwrap());
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "PASSWORD", "DONE"]);
}

#[tokio::test]
async fn errorstatus_fails_that_recipient_and_the_session_goes_on() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.send_result = SendResult::ErrorStatus(38);
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1", "+2"], "x")).await;
    let failed = RecipientOutcome::Failed {
        reason: "the GoIP reports errorstatus 38".into(),
        errorstatus: Some(38),
    };
    assert_eq!(
        outcome
            .recipients()
            .iter()
            .map(|r| (r.telid, r.outcome.clone()))
            .collect::<Vec<_>>(),
        vec![(Some(1), failed.clone()), (Some(2), failed)]
    );
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "PASSWORD", "SEND", "SEND", "DONE"]);
    assert!(device.sends_per_telid().values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_lost_msg_is_resent_with_the_same_sendid() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_msgs = 1;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::Attempted(vec![sent("+1", 1, 161)]));
    let msgs = device.commands_named("MSG");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0], msgs[1], "the identical MSG");
}

/// The GoIP's PASSWORD for a MSG comes after the MSG was resent; the
/// resent copy then gets its own late answer, `ERROR <sendid>
/// too_many_sends_in_server`, while the SEND's result is pending. That
/// answer is about the duplicate MSG, not the recipient: the SMS went out,
/// and the user must not be told otherwise (they would send it again).
#[tokio::test]
async fn a_late_busy_error_for_a_resent_msg_does_not_fail_a_recipient_already_sent() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    let mut msgs = 0;
    device.script(Box::new(move |command| match command {
        Command::Msg { sendid, .. } => {
            msgs += 1;
            let sendid = *sendid;
            if msgs == 1 {
                // Slower than command_retry_interval (200 ms): MSG is resent.
                vec![Answer::After(
                    Duration::from_millis(250),
                    Reply::Password { sendid },
                )]
            } else {
                vec![Answer::After(
                    Duration::from_millis(350),
                    Reply::Error(ErrorReply::Rejected {
                        sendid,
                        text: "too_many_sends_in_server".into(),
                    }),
                )]
            }
        }
        Command::Password { sendid, .. } => vec![Answer::Now(Reply::Send { sendid: *sendid })],
        Command::Send { sendid, telid, .. } => vec![
            Answer::Now(Reply::Wait {
                sendid: *sendid,
                telid: *telid,
            }),
            Answer::After(
                Duration::from_millis(500),
                Reply::Ok {
                    sendid: *sendid,
                    telid: *telid,
                    sms_no: Some(161),
                },
            ),
        ],
        Command::Done { sendid } => vec![Answer::Now(Reply::Done { sendid: *sendid })],
        _ => vec![],
    }));
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::Attempted(vec![sent("+1", 1, 161)]));
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "MSG", "PASSWORD", "SEND", "DONE"]);
}

/// Seconds since 2024-01-01: what sendids used to be made of, and so what a
/// forger would try.
fn clock_guess() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now - 1_704_067_200) as u32
}

/// A forger who can send UDP from the GoIP's own address and port but
/// cannot see the traffic guesses the next session's sendid from the last
/// one it learnt (plus one, plus a few) and from the clock. Its `ERROR …
/// errorstatus` must not fail an SMS the GoIP is sending.
#[tokio::test]
async fn a_forged_result_with_a_guessed_sendid_does_not_decide_the_sms() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.result_delay = Duration::from_millis(300);
    let (t, device) = online(behaviour).await;
    let first = t.engine.send_sms(request(&["+1"], "first")).await;
    assert_eq!(first, SmsOutcome::Attempted(vec![sent("+1", 1, 161)]));
    let last = device.commands_named("MSG")[0].sendid();

    let engine = t.engine.clone();
    let second = tokio::spawn(async move { engine.send_sms(request(&["+2"], "second")).await });
    device.wait_for_commands("SEND", 2).await;
    let clock = clock_guess();
    let guesses = (last + 1..=last + 64).chain(clock - 5..=clock + 5);
    for guess in guesses {
        device
            .reply(Reply::Error(ErrorReply::Recipient {
                sendid: guess,
                telid: 1,
                errorstatus: 500,
            }))
            .await;
    }
    assert_eq!(
        second.await.unwrap(),
        SmsOutcome::Attempted(vec![sent("+2", 1, 162)])
    );
}

#[tokio::test]
async fn a_goip_that_never_answers_msg_gets_done_and_nothing_is_sent() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_msgs = 100;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::NotSent(NotSent::NoAnswer));
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "MSG", "MSG", "DONE"], "2 resends");
}

#[tokio::test]
async fn a_lost_password_is_resent_with_the_same_sendid_and_the_sms_goes_out_once() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_passwords = 2;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::Attempted(vec![sent("+1", 1, 161)]));
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(
        verbs(&device),
        ["MSG", "PASSWORD", "PASSWORD", "PASSWORD", "SEND", "DONE"],
        "two resends of PASSWORD, one SEND"
    );
    let passwords = device.commands_named("PASSWORD");
    assert!(
        passwords.iter().all(|p| *p == passwords[0]),
        "the identical PASSWORD: {passwords:?}"
    );
    let sendid = device.commands_named("MSG")[0].sendid();
    assert!(device.commands().iter().all(|c| c.sendid() == sendid));
    assert_eq!(device.sends_per_telid(), HashMap::from([((sendid, 1), 1)]));
    // Resent after command_retry_interval (200 ms here) of silence, not at once.
    let password_times: Vec<Instant> = device
        .log()
        .iter()
        .filter(|s| s.command().map(Command::verb) == Some("PASSWORD"))
        .map(|s| s.at)
        .collect();
    assert!(
        password_times
            .windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_millis(150)),
        "resent only after silence"
    );
}

#[tokio::test]
async fn a_goip_that_never_answers_password_gets_done_and_nothing_is_sent() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.drop_passwords = 100;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::NotSent(NotSent::NoAnswer));
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(
        verbs(&device),
        ["MSG", "PASSWORD", "PASSWORD", "PASSWORD", "DONE"],
        "2 resends, then given up"
    );
}

#[tokio::test]
async fn too_many_sends_backs_off_and_retries_with_a_new_sendid() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.busy_msgs = 2;
    let (t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(outcome, SmsOutcome::Attempted(vec![sent("+1", 1, 161)]));
    let sendids: Vec<u32> = device
        .commands_named("MSG")
        .iter()
        .map(Command::sendid)
        .collect();
    assert_eq!(sendids.len(), 3);
    assert!(
        sendids[0] != sendids[1] && sendids[1] != sendids[2] && sendids[0] != sendids[2],
        "a new sendid each time: {sendids:?}"
    );
    let log = device.log();
    let msg_times: Vec<Instant> = log
        .iter()
        .filter(|s| s.command().map(Command::verb) == Some("MSG"))
        .map(|s| s.at)
        .collect();
    assert!(
        msg_times[1] - msg_times[0] >= Duration::from_millis(100),
        "backed off"
    );

    // Busy for longer than the backoff schedule: not sent, safely.
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.busy_msgs = 10;
    device.script(goip(behaviour));
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert_eq!(
        outcome,
        SmsOutcome::NotSent(NotSent::Busy {
            text: "too_many_sends_in_server".into()
        })
    );
}

/// The SEND datagrams per (sendid, telid) across every way a GoIP can answer.
#[tokio::test]
async fn send_is_never_sent_twice_for_one_telid() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    let mut all_counts: HashMap<(u32, u32), usize> = HashMap::new();
    // Returns this scenario's SENDs per telid, and checks that no earlier
    // session's telid got another SEND since.
    let mut check = |device: &Device, scenario: &str, expected_max: usize| {
        let counts = device.sends_per_telid();
        let mut new = HashMap::new();
        for (key, count) in counts {
            match all_counts.insert(key, count) {
                Some(before) => assert_eq!(
                    before, count,
                    "{scenario}: an old telid {key:?} got SEND again"
                ),
                None => {
                    assert!(
                        count <= expected_max,
                        "{scenario}: {key:?} got {count} SENDs"
                    );
                    new.insert(key, count);
                }
            }
        }
        new
    };
    for (scenario, result, recipients, max_sends) in [
        ("OK", SendResult::Ok, 3, 1),
        ("ERROR errorstatus", SendResult::ErrorStatus(500), 2, 1),
        ("WAIT then silence", SendResult::WaitThenSilence, 2, 2),
        ("silence", SendResult::Silence, 2, 2),
        ("OK only on the status poll", SendResult::OkOnPoll, 1, 2),
    ] {
        let mut behaviour = Behaviour::new(PASSWORD);
        behaviour.send_result = result;
        device.script(goip(behaviour));
        let numbers: Vec<String> = (1..=recipients).map(|i| format!("+{i}")).collect();
        let start = Instant::now();
        let outcome = t
            .engine
            .send_sms(SmsRequest::new(ID, numbers, scenario, 7))
            .await;
        let counts = check(&device, scenario, max_sends);
        let reports = outcome.recipients();
        assert_eq!(reports.len(), recipients, "{scenario}");
        match result {
            SendResult::WaitThenSilence | SendResult::Silence => {
                // One SEND, one status poll, then Unknown; the rest of the
                // session is abandoned, never tried.
                assert!(
                    matches!(reports[0].outcome, RecipientOutcome::Unknown { .. }),
                    "{scenario}: {reports:?}"
                );
                assert_eq!(
                    reports[1].outcome,
                    RecipientOutcome::NotSent(NotSent::Abandoned)
                );
                assert_eq!(reports[1].telid, None);
                let polls: Vec<_> = counts.iter().filter(|(_, n)| **n == 2).collect();
                assert_eq!(polls.len(), 1, "{scenario}: exactly one telid polled");
                assert!(
                    start.elapsed() >= Duration::from_millis(1200),
                    "waited for the deadline"
                );
                let send_times: Vec<Instant> = device
                    .log()
                    .iter()
                    .filter(|s| matches!(s.command(), Some(Command::Send { .. })))
                    .map(|s| s.at)
                    .collect();
                let n = send_times.len();
                assert!(
                    send_times[n - 1] - send_times[n - 2] >= Duration::from_millis(600),
                    "{scenario}: the poll comes only after send_poll_after"
                );
            }
            SendResult::OkOnPoll => {
                assert!(
                    matches!(reports[0].outcome, RecipientOutcome::Sent { .. }),
                    "{scenario}: {reports:?}"
                );
            }
            SendResult::Ok => assert!(
                reports
                    .iter()
                    .all(|r| matches!(r.outcome, RecipientOutcome::Sent { .. }))
            ),
            SendResult::ErrorStatus(_) => {
                assert!(
                    reports
                        .iter()
                        .all(|r| matches!(r.outcome, RecipientOutcome::Failed { .. }))
                )
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every SEND of every scenario is accounted for.
    let total: usize = all_counts.values().sum();
    assert_eq!(total, device.commands_named("SEND").len());
}

#[tokio::test]
async fn a_result_after_unknown_is_reported_late() {
    let mut behaviour = Behaviour::new(PASSWORD);
    behaviour.send_result = SendResult::WaitThenSilence;
    let (mut t, device) = online(behaviour).await;
    let outcome = t.engine.send_sms(request(&["+1"], "x")).await;
    assert!(matches!(
        outcome.recipients()[0].outcome,
        RecipientOutcome::Unknown { .. }
    ));
    let sendid = device.commands_named("SEND")[0].sendid();
    device
        .reply(Reply::Ok {
            sendid,
            telid: 1,
            sms_no: Some(77),
        })
        .await;
    let late = t
        .next_event(|e| match e {
            EngineEvent::LateSmsResult(late) => Some(late),
            _ => None,
        })
        .await;
    assert_eq!((late.sendid, late.telid, late.message_ref), (sendid, 1, 42));
    assert_eq!(late.outcome, RecipientOutcome::Sent { sms_no: Some(77) });
    // Its delivery report can be matched too.
    device.deliver("1", 77, 0).await;
    let report = t
        .next_event(|e| match e {
            EngineEvent::Delivery(d) => Some(d),
            _ => None,
        })
        .await;
    assert_eq!(report.matched.map(|m| m.tag), Some(42));
}

#[tokio::test]
async fn a_failing_before_send_hook_ends_the_session_unsent() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    let outcome = t
        .engine
        .send_sms(
            request(&["+1"], "x").before_send(|_| async { Err("outbox is read-only".to_owned()) }),
        )
        .await;
    assert_eq!(
        outcome,
        SmsOutcome::NotSent(NotSent::Cancelled {
            reason: "outbox is read-only".into()
        })
    );
    device.wait_for_commands("DONE", 1).await;
    assert_eq!(verbs(&device), ["MSG", "PASSWORD", "DONE"]);
}

#[tokio::test]
async fn two_channels_run_in_parallel_while_each_stays_serial() {
    let mut t = start(fast_config(), &[("goip-a", "pa"), ("goip-b", "pb")]).await;
    let mut a = Device::bind(t.addr(), "goip-a", "pa").await;
    let mut b = Device::bind(t.addr(), "goip-b", "pb").await;
    t.bring_online(&mut a).await;
    t.bring_online(&mut b).await;
    let slow = |password: &str| {
        let mut behaviour = Behaviour::new(password);
        behaviour.result_delay = Duration::from_millis(250);
        goip(behaviour)
    };
    a.script(slow("pa"));
    b.script(slow("pb"));
    let job = |goip_id: &str, n: u64| {
        let engine = t.engine.clone();
        let request = SmsRequest::new(goip_id, vec![format!("+{n}")], format!("m{n}"), n);
        tokio::spawn(async move { engine.send_sms(request).await })
    };
    let jobs = vec![
        job("goip-a", 1),
        job("goip-a", 2),
        job("goip-a", 3),
        job("goip-b", 4),
    ];
    for job in jobs {
        assert!(
            matches!(job.await.unwrap(), SmsOutcome::Attempted(r) if matches!(r[0].outcome, RecipientOutcome::Sent { .. }))
        );
    }
    a.wait_for_commands("DONE", 3).await;

    // Channel A: each session's MSG only after the previous session's DONE.
    let mut open: Option<u32> = None;
    let mut sessions = 0;
    for seen in a.log() {
        match seen.command() {
            Some(Command::Msg { sendid, .. }) => {
                assert!(
                    open.is_none() || open == Some(*sendid),
                    "overlapping sessions on one channel"
                );
                if open.is_none() {
                    sessions += 1;
                }
                open = Some(*sendid);
            }
            Some(Command::Done { sendid }) => {
                assert_eq!(open, Some(*sendid));
                open = None;
            }
            Some(other) => assert_eq!(Some(other.sendid()), open, "{other:?} outside its session"),
            None => {}
        }
    }
    assert_eq!(sessions, 3);
    // Channel B did not wait for channel A.
    let first_done_on_a = a
        .log()
        .iter()
        .find(|s| matches!(s.command(), Some(Command::Done { .. })))
        .unwrap()
        .at;
    let msg_on_b = b
        .log()
        .iter()
        .find(|s| matches!(s.command(), Some(Command::Msg { .. })))
        .unwrap()
        .at;
    assert!(
        msg_on_b < first_done_on_a,
        "channel B ran in parallel with channel A"
    );
}

#[tokio::test]
async fn invalid_requests_fail_at_once() {
    let (t, device) = online(Behaviour::new(PASSWORD)).await;
    for request in [
        request(&[], "x"),
        request(&["+1 2"], "x"),
        request(&["+1"], ""),
        request(&["+1"], &"x".repeat(3001)),
    ] {
        assert!(matches!(
            t.engine.send_sms(request).await,
            SmsOutcome::NotSent(NotSent::Invalid(_))
        ));
    }
    let unknown = SmsRequest::new("goip-9", vec!["+1".into()], "x", 1);
    assert_eq!(
        t.engine.send_sms(unknown).await,
        SmsOutcome::NotSent(NotSent::UnknownChannel)
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(device.commands().is_empty());
}

#[tokio::test]
async fn oneshot_mode_sends_one_datagram_per_recipient() {
    let mut config = fast_config();
    config.sms_mode = SmsMode::Oneshot;
    let mut t = start(config, &[(ID, PASSWORD)]).await;
    let mut device = Device::bind(t.addr(), ID, PASSWORD).await;
    t.bring_online(&mut device).await;
    let outcome = t
        .engine
        .send_sms(request(&["+1", "+2"], "hello there"))
        .await;
    let expected = |number: &str| RecipientReport {
        number: number.into(),
        telid: None,
        outcome: RecipientOutcome::Sent { sms_no: None },
    };
    assert_eq!(
        outcome,
        SmsOutcome::Attempted(vec![expected("+1"), expected("+2")])
    );
    device.wait_for_commands("SMS", 2).await;
    let commands = device.commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let Command::OneshotSms {
        line, number, text, ..
    } = &commands[0]
    else {
        panic!("{commands:?}")
    };
    assert_eq!(
        (*line, number.as_str(), text.as_str()),
        (1, "+1", "hello there")
    );
}
