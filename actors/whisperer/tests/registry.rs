//! The Whisperer in the backend's agent registry: it registers on connecting, reports its state and
//! counters, takes or refuses settings pushed by an admin (a filter that does not compile is
//! refused with libpcap's message and capture goes on with the old one; a valid filter changes what
//! is captured while capturing live), stops and starts on command, and registers again after the
//! backend came back.
//!
//! The live test runs a real HTTP server and client in throwaway network namespaces joined by a
//! veth pair (root only; skipped otherwise). Every wait polls an observable condition with a
//! bounded deadline.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::{backend_http, file_config, node_config, on_local, quick, run, start_node};
use common::{veth_pair, wait_for, VethPair, TOKEN};
use spider_backend::client::BackendClient;
use spider_backend::BackendNode;
use spider_model::agent::{
    AgentKind, AgentSettings, AgentState, AgentSummary, ConfigAck, WhispererSettings,
};
use spider_whisperer::{Interface, LiveSource, Pacing, Source, Whisperer, WhispererConfig};

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(backend: SocketAddr, name: &str) -> Option<AgentSummary> {
    on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.ok()?;
        let agents = client.agents().await.ok()?;
        agents.into_iter().find(|agent| agent.info.name == name)
    })
}

/// Polls the registry until `name`'s entry satisfies `done`; returns it.
fn wait_agent(
    backend: SocketAddr,
    name: &str,
    what: &str,
    done: impl Fn(&AgentSummary) -> bool,
) -> AgentSummary {
    let mut last = None;
    wait_for(what, || {
        last = agent(backend, name);
        last.as_ref().is_some_and(&done)
    });
    last.unwrap()
}

fn set_config(backend: SocketAddr, name: &str, settings: WhispererSettings) -> ConfigAck {
    on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.unwrap();
        client
            .set_agent_config(name, AgentSettings::Whisperer(settings))
            .await
            .unwrap()
    })
}

fn set_running(backend: SocketAddr, name: &str, running: bool) {
    on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.unwrap();
        client.set_agent_running(name, running).await.unwrap();
    });
}

fn stored_uris(backend: SocketAddr, name: &str) -> Vec<String> {
    backend_http(backend, name)
        .into_iter()
        .map(|exchange| exchange.uri)
        .collect()
}

fn http_server(pair: &VethPair, port: u16, dir: &std::path::Path) -> Guard {
    Guard(
        Command::new("ip")
            .args(["netns", "exec", &pair.ns_a, "python3", "-m", "http.server"])
            .arg(port.to_string())
            .args(["--bind", &pair.ip_a.to_string(), "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn settings_pushed_by_the_backend_change_a_live_capture() {
    require!("ip", "python3", "curl");
    let pair = veth_pair("reg", 83, 21);
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "hello\n").unwrap();
    let _servers = [
        http_server(&pair, 8080, site.path()),
        http_server(&pair, 8081, site.path()),
    ];
    // GET http://ip_a:PORT/PATH from the other namespace; the status code.
    let get = |port: u16, path: &str| -> String {
        let url = format!("http://{}:{port}{path}", pair.ip_a);
        run(&[
            "ip",
            "netns",
            "exec",
            &pair.ns_b,
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            &url,
        ])
        .unwrap_or_default()
    };
    wait_for("the servers to listen", || {
        get(8080, "/") == "200" && get(8081, "/") == "200"
    });

    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let backend = node.local_addr();
    let name = "reg-live";
    let mut live = LiveSource::new(vec![Interface::parse("veth-a")]);
    live.netns = Some(pair.path_a());
    live.ring_bytes = 4 << 20;
    let mut config = WhispererConfig::new(name, backend, TOKEN, Source::Live(live));
    quick(&mut config);
    config.status_interval = std::time::Duration::from_millis(200);
    let handle = Whisperer::start(config).unwrap();

    // Registered, connected, with its interface and counters.
    let first = wait_agent(backend, name, "the whisperer to register", |a| {
        a.connected && a.status.state == AgentState::Recording
    });
    assert_eq!(first.info.kind, AgentKind::Whisperer);
    assert_eq!(first.info.incarnation, handle.incarnation());
    assert_eq!(
        first.info.interfaces.len(),
        1,
        "{:?}",
        first.info.interfaces
    );
    let veth = &first.info.interfaces[0];
    assert_eq!(veth.name, "veth-a");
    assert!(veth.index > 0);
    assert_eq!(veth.link_type, 1, "Ethernet");
    assert!(veth.addresses.contains(&pair.ip_a.into()), "{veth:?}");
    assert_eq!(get(8080, "/first"), "404");
    wait_for("the first exchange to be stored", || {
        stored_uris(backend, name).contains(&"/first".to_owned())
    });
    wait_agent(backend, name, "counters in the status", |a| {
        a.status.packets_seen >= 10 && a.status.batches_acked >= 1
    });

    // A filter that does not compile: refused with libpcap's reason; capture goes on.
    let bad = WhispererSettings {
        filter: Some("tcp port and".into()),
        ..WhispererSettings::default()
    };
    let ack = set_config(backend, name, bad);
    assert!(!ack.accepted, "{ack:?}");
    let error = ack.error.unwrap();
    assert!(error.contains("does not compile"), "{error}");
    let refused = wait_agent(backend, name, "the invalid-config state", |a| {
        a.status.state == AgentState::InvalidConfig
    });
    assert!(
        refused
            .status
            .message
            .as_deref()
            .unwrap_or("")
            .contains("does not compile"),
        "{:?}",
        refused.status
    );
    assert_eq!(
        refused.status.config_generation,
        first.status.config_generation
    );
    assert_eq!(handle.settings().0.filter, None);
    assert_eq!(get(8081, "/after-refusal"), "404");
    wait_for("capture to go on with the old settings", || {
        stored_uris(backend, name).contains(&"/after-refusal".to_owned())
    });

    // A valid filter, applied while capturing: port 8081 is no longer captured.
    let good = WhispererSettings {
        filter: Some("not tcp port 8081".into()),
        ..WhispererSettings::default()
    };
    let ack = set_config(backend, name, good);
    assert!(ack.accepted, "{ack:?}");
    let applied = wait_agent(backend, name, "the new generation in the status", |a| {
        a.status.config_generation == ack.generation && a.status.state == AgentState::Recording
    });
    assert_eq!(applied.status.message, None);
    assert_eq!(
        handle.settings().0.filter.as_deref(),
        Some("not tcp port 8081")
    );
    // The worker reopens its socket with the new filter within a ring block's wait.
    wait_for("the new filter in the socket", || {
        let before = handle.counters().packets_seen;
        get(8081, "/probe") == "404" && {
            std::thread::sleep(std::time::Duration::from_millis(300));
            handle.counters().packets_seen == before
        }
    });
    assert_eq!(get(8081, "/excluded"), "404");
    assert_eq!(get(8080, "/included"), "404");
    wait_for("the later exchange to be stored", || {
        stored_uris(backend, name).contains(&"/included".to_owned())
    });
    wait_for("everything captured to be acknowledged", || {
        let status = handle.status();
        status.depth.memory_batches == 0 && status.counters.frames_acked > 0
    });
    let uris = stored_uris(backend, name);
    assert!(!uris.contains(&"/excluded".to_owned()), "{uris:?}");

    // A snap length cannot change while capturing: refused with the reason.
    let snap = WhispererSettings {
        filter: Some("not tcp port 8081".into()),
        snaplen: 128,
        ..WhispererSettings::default()
    };
    let ack = set_config(backend, name, snap);
    assert!(!ack.accepted);
    assert!(ack.error.unwrap().contains("snaplen"));
    wait_agent(backend, name, "invalid config again", |a| {
        a.status.state == AgentState::InvalidConfig
    });
    let ack = set_config(
        backend,
        name,
        WhispererSettings {
            filter: Some("not tcp port 8081".into()),
            ..WhispererSettings::default()
        },
    );
    assert!(ack.accepted, "{ack:?}");
    wait_agent(backend, name, "recording again", |a| {
        a.status.state == AgentState::Recording && a.status.config_generation == ack.generation
    });

    // Stop and start on command.
    set_running(backend, name, false);
    wait_agent(backend, name, "the stopped state", |a| {
        a.status.state == AgentState::Stopped && a.connected
    });
    assert!(!handle.settings().0.capture);
    set_running(backend, name, true);
    wait_agent(backend, name, "recording after start", |a| {
        a.status.state == AgentState::Recording
    });
    assert_eq!(get(8080, "/restarted"), "404");
    wait_for("capture after a start", || {
        stored_uris(backend, name).contains(&"/restarted".to_owned())
    });

    let report = handle.stop();
    assert!(report.delivered, "{report:?}");
    let last = wait_agent(backend, name, "the disconnection", |a| !a.connected);
    assert_eq!(last.status.state, AgentState::Stopped);
    node.stop();
}

#[test]
fn a_whisperer_registers_again_when_the_backend_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let backend = node.local_addr();
    let mut config = file_config("http-load", backend, Pacing::Topspeed);
    config.name = "reg-file".into();
    // Paused from the start: the replay waits until the backend starts it.
    config.settings.capture = false;
    let handle = Whisperer::start(config).unwrap();
    let first = wait_agent(backend, "reg-file", "the registration", |a| {
        a.connected && a.status.state == AgentState::Stopped
    });
    assert!(first.info.interfaces.is_empty());
    assert_eq!(handle.counters().packets_seen, 0);

    // Settings the backend holds are applied at the next registration.
    node.stop();
    let node = BackendNode::start(node_config(dir.path(), backend)).unwrap();
    let second = wait_agent(
        backend,
        "reg-file",
        "the registration after a restart",
        |a| a.connected,
    );
    assert_eq!(second.info.incarnation, first.info.incarnation);
    let settings = WhispererSettings {
        capture: false,
        retention_ttl: 3_600_000_000_000,
        ..WhispererSettings::default()
    };
    let ack = set_config(backend, "reg-file", settings);
    assert!(ack.accepted, "{ack:?}");
    wait_agent(backend, "reg-file", "the new generation", |a| {
        a.status.config_generation == ack.generation
    });
    // A filter means nothing to a file: refused with the reason.
    let ack = set_config(
        backend,
        "reg-file",
        WhispererSettings {
            capture: false,
            filter: Some("tcp port 80".into()),
            retention_ttl: 3_600_000_000_000,
            ..WhispererSettings::default()
        },
    );
    assert!(!ack.accepted);
    assert!(ack.error.unwrap().contains("capture file"));
    // Started by the backend, the file is replayed and delivered.
    set_running(backend, "reg-file", true);
    let report = handle.wait();
    assert!(report.delivered, "{report:?}");
    assert!(report.counters.frames_acked > 100, "{report:?}");
    let last = wait_agent(backend, "reg-file", "the last report", |a| !a.connected);
    assert_eq!(last.status.state, AgentState::Stopped);
    assert!(last.status.batches_acked > 0);
    node.stop();
}
