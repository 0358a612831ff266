//! The Gocipher's edges: clear errors before anything is loaded (not root, a folder that is not a
//! cgroup), and records that wait in the buffer while the backend is away, then arrive once.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::{kernel_ready, on_local, TestNet, TOKEN};
use spider_backend::client::{BackendClient, UsageGrouping, UsageRequest};
use spider_backend::{BackendConfig, BackendNode};
use spider_gocipher::{Gocipher, GocipherConfig, GocipherError, Upstream};

const CHILD: &str = "SPIDER_GOCIPHER_TEST_CHILD";

/// Run again by `preflight_without_root_says_so` as uid 65534: preflight must refuse, clearly.
#[test]
fn preflight_child_without_root() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let error = spider_gocipher::preflight().unwrap_err();
    assert!(
        matches!(error, GocipherError::NotRoot { uid: 65534 }),
        "{error}"
    );
    println!("CHILD-OK {error}");
}

#[test]
fn preflight_without_root_says_so() {
    if !kernel_ready("preflight_without_root_says_so") {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "preflight_child_without_root", "--nocapture"])
        .env(CHILD, "1")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("CHILD-OK the gocipher needs root"),
        "{stdout}"
    );
}

#[test]
fn preflight_accepts_this_kernel() {
    if kernel_ready("preflight_accepts_this_kernel") {
        let support = spider_gocipher::preflight().unwrap();
        assert_eq!(
            support.cgroup_root,
            spider_gocipher::cgroup2_mount().unwrap()
        );
    }
}

#[test]
fn a_folder_outside_cgroup_v2_is_refused_clearly() {
    if !kernel_ready("a_folder_outside_cgroup_v2_is_refused_clearly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = GocipherConfig::new(
        "g",
        Upstream::Backend("127.0.0.1:9".parse().unwrap()),
        TOKEN,
    );
    config.cgroup = Some(dir.path().to_owned());
    let error = Gocipher::start(config).unwrap_err();
    assert!(matches!(error, GocipherError::NotACgroup { .. }), "{error}");
    assert!(error
        .to_string()
        .contains("is not a folder of the cgroup v2 hierarchy"));
}

#[test]
fn a_bad_configuration_is_an_error_not_a_panic() {
    let mut config = GocipherConfig::new(
        "g",
        Upstream::Backend("127.0.0.1:9".parse().unwrap()),
        TOKEN,
    );
    config.bucket = Duration::from_millis(1500);
    assert!(matches!(
        Gocipher::start(config),
        Err(GocipherError::Config(_))
    ));
}

#[test]
fn records_wait_while_the_backend_is_away_and_arrive_once() {
    if !kernel_ready("records_wait_while_the_backend_is_away_and_arrive_once") {
        return;
    }
    let mut net = TestNet::new();
    // An address where nothing listens yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = GocipherConfig::new(
        format!("gocipher-{}", net.a),
        Upstream::Backend(addr),
        TOKEN,
    );
    config.cgroup = Some(net.cgroup.clone());
    let handle = Gocipher::start(config).unwrap();
    let (b, a, server_ip) = (net.b.clone(), net.a.clone(), net.b4.clone());
    let server = net.spawn(&b, &["tcp-server", &server_ip, "9090", "5000", "1000"]);
    let client = net.spawn(&a, &["tcp-client", &server_ip, "9090", "20000", "4000"]);
    let (_, client_out) = net.wait(client);
    net.wait(server);
    let away = handle.flush().unwrap_err();
    assert!(matches!(away, GocipherError::NotAcknowledged(_)), "{away}");
    assert!(spider_gocipher::Counters::get(&handle.counters().buffered_records) > 0);

    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().to_owned(),
        listen: addr,
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    })
    .unwrap();
    handle.flush().unwrap();
    handle.flush().unwrap();
    assert_eq!(
        spider_gocipher::Counters::get(&handle.counters().buffered_records),
        0
    );
    let (client_ip, now) = (net.a4.clone(), spider_storage::now_ns());
    let (rows, agents) = on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let agents = client.agents().await.unwrap();
        let request = UsageRequest {
            from: now - 3_600_000_000_000,
            to: now + 3_600_000_000_000,
            grouping: UsageGrouping::Connection,
            bucket: 0,
            limit: 0,
            cursor: None,
        };
        (client.usage(&request).await.unwrap().0, agents)
    });
    let me = agents
        .iter()
        .find(|a| a.info.name == format!("gocipher-{}", net.a))
        .unwrap();
    assert_eq!(
        me.info.kind,
        spider_model::agent::AgentKind::Gocipher,
        "registered as a gocipher"
    );
    let up: Vec<_> = rows
        .iter()
        .filter(|r| r.src == client_ip && r.dst == server_ip)
        .map(|r| (r.bytes, r.messages, r.port))
        .collect();
    assert_eq!(
        up,
        vec![(20_000, client_out["calls"].as_u64().unwrap(), Some(9090))]
    );
    drop(handle);
    node.stop();
}

/// More flows than the flow map holds: the LRU evicts, and the evictions are counted so that what
/// the records miss is accounted for.
#[test]
fn flows_beyond_the_map_are_evicted_and_counted() {
    if !kernel_ready("flows_beyond_the_map_are_evicted_and_counted") {
        return;
    }
    let mut net = TestNet::new();
    let dir = tempfile::tempdir().unwrap();
    let node = common::start_backend(dir.path());
    let mut config = GocipherConfig::new(
        format!("gocipher-{}", net.a),
        Upstream::Backend(node.local_addr()),
        TOKEN,
    );
    config.cgroup = Some(net.cgroup.clone());
    config.flow_entries = 64;
    let handle = Gocipher::start(config).unwrap();
    let (a, server_ip) = (net.a.clone(), net.b4.clone());
    let spray = net.spawn(&a, &["udp-spray", &server_ip, "20000", "300"]);
    let (_, out) = net.wait(spray);
    assert_eq!(out["calls"].as_u64(), Some(300));
    let records = handle.flush().unwrap();
    let counted: u64 = records.iter().map(|r| r.messages).sum();
    let evicted = spider_gocipher::Counters::get(&handle.counters().flow_evictions);
    assert!(counted < 300, "the map holds 64 flows: {counted}");
    assert!(
        evicted > 0 && counted + evicted >= 300,
        "counted {counted}, evicted {evicted}"
    );
    drop(handle);
    node.stop();
}
