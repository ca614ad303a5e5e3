//! `goip-sim` as another process uses it: spawned with `--json`, driven by
//! script lines on stdin, watched through its JSON events on stdout, while
//! this test plays the SMS server on a real UDP socket. Processes are
//! stopped by PID (a guard), also when a test fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use goippy_core::goip::{self, Command as GoipCommand, Notification, Packet, Reply};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(15);

/// A running `goip-sim`: its stdin, its stdout lines, and a guard that
/// stops it (SIGTERM, then SIGKILL) when dropped.
struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// The stdout of a sim whose output nobody reads (see
    /// [`Sim::spawn_unread`]).
    unread: Option<ChildStdout>,
}

impl Sim {
    fn spawn(args: &[&str]) -> Sim {
        let mut sim = Sim::spawn_unread(args);
        let stdout = sim.unread.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        sim.lines = lines;
        sim
    }

    /// A sim whose stdout is a pipe that nobody reads.
    fn spawn_unread(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_goip-sim"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn goip-sim");
        let unread = child.stdout.take();
        let stdin = child.stdin.take();
        Sim {
            child,
            stdin,
            lines: mpsc::channel().1,
            seen: Vec::new(),
            unread,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to goip-sim");
        stdin.flush().expect("flush");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = self.lines.recv_timeout(left).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The first JSON event `wanted` accepts.
    fn expect(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        while let Some(line) = self.next_line(deadline) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(value["event"].is_string(), "no event name: {line}");
            if wanted(&value) {
                return value;
            }
        }
        panic!(
            "no {what} within {PATIENCE:?}; output so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn event(&mut self, name: &str) -> Value {
        self.expect(name, |v| v["event"] == name)
    }

    /// Every remaining stdout line, until the process closes it.
    fn rest(&mut self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while let Some(line) = self.next_line(deadline) {
            out.push(line);
        }
        out
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "goip-sim did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stdin = None;
        // A full pipe must not hold up its shutdown.
        self.unread = None;
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The SMS server side.
struct Server {
    socket: UdpSocket,
}

impl Server {
    fn bind() -> Server {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Server { socket }
    }

    fn addr(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    /// The next packet `wanted` accepts, skipping others.
    fn expect(&self, what: &str, wanted: impl Fn(&Packet) -> bool) -> (Packet, SocketAddr) {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; goip::RECV_BUFFER_BYTES];
        while Instant::now() < deadline {
            let Ok((len, from)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            let packet = goip::parse_packet(&buf[..len]).expect("a GoIP packet");
            if wanted(&packet) {
                return (packet, from);
            }
        }
        panic!("the server got no {what} within {PATIENCE:?}");
    }

    fn notification(&self, tag: &str) -> (Notification, SocketAddr) {
        let (packet, from) = self.expect(
            tag,
            |p| matches!(p, Packet::Notification(n) if n.tag() == tag),
        );
        let Packet::Notification(n) = packet else {
            unreachable!()
        };
        (n, from)
    }

    fn ack(&self, n: &Notification, to: SocketAddr) {
        let ack = n.ack(true).expect("ackable");
        self.socket.send_to(&ack.encode(), to).expect("send");
    }

    fn ask(&self, to: SocketAddr, command: GoipCommand) -> Reply {
        self.socket
            .send_to(&command.encode().expect("encode"), to)
            .expect("send");
        let (packet, _) = self.expect("reply", |p| matches!(p, Packet::Reply(_)));
        let Packet::Reply(reply) = packet else {
            unreachable!()
        };
        reply
    }
}

fn fast_args(server: &Server) -> Vec<String> {
    [
        "--json",
        "--server",
        &server.addr(),
        "--retransmit-interval",
        "200ms",
        "--send-time",
        "20ms",
        "--deliver-after",
        "off",
        "--ussd-delay",
        "0",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn a_harness_drives_it_over_stdin_and_stdout() {
    let server = Server::bind();
    let mut args = fast_args(&server);
    args.extend(
        [
            "--channels",
            "2",
            "--password",
            "secret",
            "--numbers",
            "+37255500001",
        ]
        .map(str::to_owned),
    );
    let mut sim = Sim::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let ready = sim.event("ready");
    assert_eq!(ready["server"], server.addr());
    let channels = ready["channels"].as_array().expect("channels");
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["id"], "goip1");
    assert_eq!(channels[0]["number"], "+37255500001");
    assert_eq!(channels[1]["id"], "goip2");
    let ch1: SocketAddr = channels[0]["local_addr"].as_str().unwrap().parse().unwrap();

    // Registration.
    let (keepalive, from) = server.notification("req");
    let channel = if from == ch1 { 1 } else { 2 };
    server.ack(&keepalive, from);
    let ack = sim.event("keepalive_ack");
    assert_eq!(ack["channel"], channel);
    assert_eq!(ack["status"], 200);
    assert_eq!(ack["prefix"], "reg");
    let login = sim.event("sms_login");
    assert_eq!(
        (login["channel"].clone(), login["value"].clone()),
        (channel.into(), true.into())
    );

    // An inbound SMS with a newline and a semicolon.
    sim.send(r"sms 1 +37255512345 hello\nworld; x");
    let (receive, from) = server.notification("RECEIVE");
    assert_eq!(from, ch1);
    assert!(
        receive
            .raw
            .text()
            .ends_with(";srcnum:+37255512345;msg:hello\nworld; x")
    );
    server.ack(&receive, from);
    let ack = sim.expect("ack", |v| v["event"] == "ack");
    assert_eq!(
        ack,
        serde_json::json!({"event":"ack","channel":1,"tag":"RECEIVE","recvid":receive.recvid,"attempts":1})
    );

    // An SMS session from the server.
    let msg = GoipCommand::Msg {
        sendid: 17,
        text: "hi".into(),
    };
    assert_eq!(server.ask(ch1, msg), Reply::Password { sendid: 17 });
    let password = GoipCommand::Password {
        sendid: 17,
        password: "secret".into(),
    };
    assert_eq!(server.ask(ch1, password), Reply::Send { sendid: 17 });
    let send = GoipCommand::Send {
        sendid: 17,
        telid: 1,
        number: "+3725551".into(),
    };
    assert_eq!(
        server.ask(ch1, send),
        Reply::Wait {
            sendid: 17,
            telid: 1
        }
    );
    let (ok, _) = server.expect("OK", |p| matches!(p, Packet::Reply(Reply::Ok { .. })));
    assert_eq!(
        ok,
        Packet::Reply(Reply::Ok {
            sendid: 17,
            telid: 1,
            sms_no: Some(1)
        })
    );
    let sent = sim.event("sms_sent");
    assert_eq!(
        sent,
        serde_json::json!({"event":"sms_sent","channel":1,"to":"+3725551","text":"hi","sms_no":1,"sendid":17,"telid":1})
    );

    // A USSD query.
    let ussd = GoipCommand::Ussd {
        sendid: 3,
        password: "secret".into(),
        code: "*100#".into(),
    };
    assert_eq!(
        server.ask(ch1, ussd),
        Reply::Ussd {
            sendid: 3,
            text: "Your balance is 10.00 EUR".into()
        }
    );
    let ussd = sim.event("ussd");
    assert_eq!(
        ussd,
        serde_json::json!({"event":"ussd","channel":1,"sendid":3,"code":"*100#","reply":"Your balance is 10.00 EUR","cached":false})
    );

    // A bad line is reported with its line number, and the run goes on.
    sim.send("frobnicate");
    let error = sim.event("error");
    assert_eq!(error["line"], 2);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("unknown command")
    );
    sim.send("status 1");
    let status = sim.event("status");
    assert_eq!(status["sms_sent"], 1);
    assert_eq!(status["number"], "+37255500001");
    assert_eq!(status["local_addr"], ch1.to_string());

    sim.send("quit");
    sim.event("stopped");
    assert!(sim.wait().success());
    assert!(sim.rest().is_empty());
}

#[test]
fn a_reader_that_stops_reading_does_not_stop_the_device() {
    let server = Server::bind();
    let mut args = fast_args(&server);
    args.extend(["--keepalive-interval".into(), "20ms".into()]);
    let sim = Sim::spawn_unread(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, channel) = server.notification("req");

    // Datagrams it ignores, each echoed into two events (`wire` and
    // `ignored`): far more output than the pipe holds.
    let junk = "x".repeat(4000);
    for _ in 0..200 {
        server
            .socket
            .send_to(junk.as_bytes(), channel)
            .expect("send");
    }
    std::thread::sleep(Duration::from_millis(500));
    // Drop what is queued so far (only what is queued: keepalives keep
    // coming faster than a blocking read would time out).
    let mut buf = vec![0u8; goip::RECV_BUFFER_BYTES];
    server.socket.set_nonblocking(true).expect("nonblocking");
    while server.socket.recv_from(&mut buf).is_ok() {}
    server.socket.set_nonblocking(false).expect("blocking");

    // The output is stuck; the channel is not: it keeps registering.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut keepalives = 0;
    while Instant::now() < deadline {
        if let Ok((len, _)) = server.socket.recv_from(&mut buf)
            && buf[..len].starts_with(b"req:")
        {
            keepalives += 1;
        }
    }
    assert!(
        keepalives >= 5,
        "{keepalives} keepalives in 2 s with stdout full"
    );
    drop(sim);
}

#[test]
fn a_script_file_runs_first() {
    let server = Server::bind();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("demo.sim");
    std::fs::write(
        &script,
        "# a comment, then a blank line\n\nsms 1 BANK code 1234\nsleep 100ms\nstatus\n",
    )
    .unwrap();
    let mut args = fast_args(&server);
    args.extend([
        "--script".into(),
        script.display().to_string(),
        "--exit-after-script".into(),
    ]);
    let mut sim = Sim::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (receive, _) = server.notification("RECEIVE");
    assert!(receive.raw.text().ends_with(";srcnum:BANK;msg:code 1234"));
    let status = sim.event("status");
    assert_eq!(status["pending_notifications"], 1);
    sim.event("stopped");
    assert!(sim.wait().success());

    // A line that cannot run stops the script, with exit status 1.
    std::fs::write(&script, "status\nsms 5 +1 no such channel\nstatus\n").unwrap();
    let mut sim = Sim::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let error = sim.event("error");
    assert_eq!(error["line"], 2);
    assert!(
        error["message"].as_str().unwrap().contains("no channel 5"),
        "{error}"
    );
    let rest = sim.rest();
    assert_eq!(
        rest.last().map(String::as_str),
        Some(r#"{"event":"stopped"}"#),
        "{rest:?}"
    );
    assert_eq!(sim.wait().code(), Some(1));
}

#[test]
fn end_of_input_and_sigterm_stop_it_cleanly() {
    let server = Server::bind();
    let args = fast_args(&server);
    let mut sim = Sim::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    sim.event("ready");
    sim.close_stdin();
    sim.event("stopped");
    assert!(sim.wait().success());

    let mut args = fast_args(&server);
    args.push("--keep-running".into());
    let mut sim = Sim::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    sim.event("ready");
    sim.close_stdin();
    server.notification("req");
    sim.terminate();
    sim.event("stopped");
    assert!(sim.wait().success());
}

#[test]
fn people_get_text_and_help() {
    let server = Server::bind();
    let mut sim = Sim::spawn(&["--server", &server.addr(), "--retransmit-interval", "100ms"]);
    sim.send("sms 1 +3725551 hi there");
    sim.send("help");
    sim.send("quit");
    let out = sim.rest().join("\n");
    assert!(sim.wait().success());
    assert!(out.contains("[ch1] id goip1 on 127.0.0.1:"), "{out}");
    assert!(out.contains("[ch1] → RECEIVE:"), "{out}");
    assert!(out.contains("sms <ch> <from> <text…>"), "{out}");
    assert!(out.ends_with("goip-sim stopped"), "{out}");
}

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_goip-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Examples:",
        "--keepalive-interval",
        "--channel <ID:PASSWORD[:NUMBER]>",
        "--json",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
    for bad in [
        vec!["--channels", "0"],
        vec!["--fail", "9 silence"],
        vec!["--fail", "1 explode"],
        vec!["--server", "no port here"],
        vec!["--channel", "lonely"],
        vec!["--ussd-reply", "*100#"],
        vec!["--keepalive-interval", "soon"],
        vec!["--channels", "2", "--channel", "a:b"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_goip-sim"))
            .args(&bad)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{bad:?}");
    }
}
