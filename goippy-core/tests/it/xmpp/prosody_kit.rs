//! The throwaway Prosody of goippy-testkit does what the XMPP tests rely on:
//! it starts on free ports, registers users, keeps its data and ports across
//! a restart, and is gone (by PID) after `stop`/drop.

use std::net::TcpStream;
use std::time::Duration;

use goippy_testkit::prosody::{Prosody, ProsodyConfig};

fn accepts(addr: std::net::SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn starts_registers_restarts_and_stops() {
    let mut prosody = Prosody::start(
        ProsodyConfig::new("example.org")
            .component("sms.example.org", "s3cret")
            .component("peer.example.org", "peersecret"),
    )
    .expect("prosody starts");
    assert!(accepts(prosody.c2s_addr()), "c2s port open");
    assert!(accepts(prosody.component_addr()), "component port open");
    let config = std::fs::read_to_string(prosody.config_path()).expect("config written");
    assert!(config.contains("Component \"sms.example.org\""), "{config}");
    assert!(
        config.contains("component_secret = \"peersecret\""),
        "{config}"
    );

    prosody.register("alice", "alicepw").expect("register");
    let account = prosody
        .data_dir()
        .join("example%2eorg")
        .join("accounts")
        .join("alice.dat");
    assert!(account.exists(), "account file {account:?} missing");

    let first_pid = prosody.pid().expect("running");
    let ports = (prosody.c2s_port(), prosody.component_port());
    prosody.restart().expect("restart");
    let second_pid = prosody.pid().expect("running again");
    assert_ne!(first_pid, second_pid);
    assert!(
        !process_exists(first_pid),
        "old prosody {first_pid} still runs"
    );
    assert_eq!(ports, (prosody.c2s_port(), prosody.component_port()));
    assert!(
        accepts(prosody.component_addr()),
        "component port open again"
    );
    assert!(account.exists(), "data survives a restart");
    assert!(
        prosody.log().contains("Activated service 'component'"),
        "log:\n{}",
        prosody.log()
    );

    prosody.stop().expect("stop");
    assert!(!prosody.is_running());
    assert!(
        !process_exists(second_pid),
        "prosody {second_pid} still runs"
    );
    assert!(!accepts(prosody.component_addr()), "port closed after stop");
}

#[test]
fn drop_stops_the_server() {
    let prosody = Prosody::start(ProsodyConfig::new("example.org")).expect("prosody starts");
    let pid = prosody.pid().expect("running");
    drop(prosody);
    assert!(!process_exists(pid), "prosody {pid} survived its guard");
}

#[test]
fn a_broken_configuration_is_reported_with_the_log() {
    let err = Prosody::start(ProsodyConfig::new("example.org").global_lua("this is not lua"))
        .expect_err("prosody cannot start");
    let text = err.to_string();
    assert!(text.contains("prosody exited"), "{text}");
    assert!(text.contains("log:"), "{text}");
}
