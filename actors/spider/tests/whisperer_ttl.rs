//! An attached Whisperer's time to live: `spider whisperer` with
//! `SPIDER_WHISPERER_TTL_SECONDS` (as the Controller sets it in the ephemeral container) stops
//! capturing at the deadline, sends what it has, and exits with success.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spider_backend::{BackendConfig, BackendNode};

const TOKEN: &str = "ttl-test-token-0123456789";

#[test]
fn the_whisperer_exits_when_its_time_to_live_runs_out() {
    if !std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    {
        eprintln!("skipped: capturing on lo needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 1,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spider"))
        .args([
            "whisperer",
            "--iface",
            "lo",
            "--name",
            "ttl-test",
            "--token",
            TOKEN,
        ])
        .arg("--backend")
        .arg(node.local_addr().to_string())
        .env("SPIDER_WHISPERER_TTL_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the whisperer did not exit after its time to live"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("its time to live ran out"), "{stderr}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it ran its whole time to live"
    );
    node.stop();
}
