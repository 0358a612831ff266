//! Names of addresses from the Controller (the DNS proxy): a real backend node, the fixture
//! Kubernetes API server with a real Controller linked to that node, and a Whisperer replaying
//! a capture between two pods' addresses (testdata/k8s-names, recorded by its `record.sh`).
//! Given the Controller's address, the pods' names reach the backend as hosts of source
//! `kubernetes`; without it, none do; a Controller that is down or silent costs counted
//! failures and nothing of the capture.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::{on_local, quick, start_node, testdata, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};
use spider_controller::process::{self, RunningController};
use spider_kube_apiserver::{ApiServer, ServerConfig};
use spider_model::{HostRecord, HostSource};
use spider_whisperer::{FileSource, Pacing, Report, Source, Whisperer, WhispererConfig};

const WEB: &str = "10.244.0.10";
const DB: &str = "10.244.1.20";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn capture() -> std::path::PathBuf {
    testdata("k8s-names/shop-web-db.pcap")
}

/// The capture time of the capture's first frame (the SYN that brought both addresses).
fn first_frame_time() -> i64 {
    let mut reader = spider_pcap::CaptureReader::open(capture()).unwrap();
    reader.next_record().unwrap().unwrap().ts_nanos
}

/// Replays the capture as Whisperer `name`, asking `controller` for names when given.
fn replay(name: &str, backend: SocketAddr, controller: Option<SocketAddr>) -> Report {
    let source = Source::File(FileSource {
        path: capture(),
        pacing: Pacing::Topspeed,
    });
    let mut config = WhispererConfig::new(name, backend, TOKEN, source);
    quick(&mut config);
    config.controller = controller;
    config.names_interval = Duration::from_millis(100);
    let report = Whisperer::start(config).unwrap().wait();
    assert!(report.delivered, "{name}: {report:?}");
    assert_eq!(report.source_error, None);
    assert_eq!(
        report.counters.frames_acked, 24,
        "{name}: every frame delivered"
    );
    report
}

/// The capture with its second session moved `gap` later, as a pcap file in `dir`.
fn spread_capture(dir: &std::path::Path, gap: Duration) -> std::path::PathBuf {
    let mut reader = spider_pcap::CaptureReader::open(capture()).unwrap();
    // A classic pcap file: LINKTYPE_ETHERNET, microsecond times.
    let mut out = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let mut index = 0;
    while let Some(record) = reader.next_record().unwrap() {
        index += 1;
        let shift = if index > 12 { gap.as_nanos() as i64 } else { 0 };
        let micros = (record.ts_nanos + shift) / 1000;
        let len = record.data.len() as u32;
        for word in [
            (micros / 1_000_000) as u32,
            (micros % 1_000_000) as u32,
            len,
            record.orig_len,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(record.data);
    }
    let path = dir.join("spread.pcap");
    std::fs::write(&path, out).unwrap();
    path
}

/// Every host record the backend holds.
fn hosts(backend: SocketAddr) -> Vec<HostRecord> {
    on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.unwrap();
        let request = ListRequest {
            from: 0,
            to: i64::MAX,
            limit: 1000,
            ..ListRequest::default()
        };
        client.hosts(&request).await.unwrap()
    })
}

fn kubernetes_hosts(backend: SocketAddr) -> Vec<(IpAddr, String)> {
    let mut found: Vec<(IpAddr, String)> = hosts(backend)
        .into_iter()
        .filter(|host| host.source == HostSource::Kubernetes)
        .map(|host| (host.ip, host.name))
        .collect();
    found.sort();
    found
}

/// The fixture cluster and a Controller linked to `backend`, once its listener names pods.
fn controller(backend: SocketAddr) -> (ApiServer, tempfile::TempDir, RunningController) {
    let server = ApiServer::start(ServerConfig::default()).unwrap();
    server.load_dir(&testdata("k8s/cluster")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let running = process::spawn_local(kubeconfig, "names-controller", backend, TOKEN).unwrap();
    let listen = running.listen.unwrap();
    // Its listener logs agents in once its link to the backend is up.
    let start = Instant::now();
    loop {
        let named = on_local(async move {
            let client = BackendClient::connect(listen, TOKEN).await.ok()?;
            client.names(&[ip(WEB)]).await.ok()
        });
        if named.is_some_and(|names| names.iter().any(|n| !n.names.is_empty())) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the Controller never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, dir, running)
}

#[test]
fn the_pods_of_the_capture_are_named_by_the_controller_only_when_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let backend = node.local_addr();
    let (_server, _kube_dir, running) = controller(backend);
    let listen = running.listen.unwrap();

    // Without a Controller: the capture is stored, and no name of source kubernetes.
    let report = replay("no-controller", backend, None);
    assert_eq!(report.counters.names_asked, 0);
    assert_eq!(kubernetes_hosts(backend), vec![]);

    // With it: both ends of the sessions are named, at the capture time they were seen.
    let report = replay("with-controller", backend, Some(listen));
    let counters = report.counters;
    assert_eq!(counters.names_asked, 2, "{counters:?}");
    assert_eq!(counters.name_failures, 0, "{counters:?}");
    let found = kubernetes_hosts(backend);
    let names_of = |address: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|(ip_, _)| *ip_ == ip(address))
            .map(|(_, name)| name.as_str())
            .collect()
    };
    assert!(
        names_of(WEB).contains(&"web-6b7f9c7d5-k2x8p.shop"),
        "{found:?}"
    );
    assert!(
        names_of(WEB).contains(&"10-244-0-10.shop.pod.cluster.local"),
        "{found:?}"
    );
    assert!(names_of(DB).contains(&"db-0.shop"), "{found:?}");
    assert_eq!(
        found.len(),
        names_of(WEB).len() + names_of(DB).len(),
        "only the capture's addresses: {found:?}"
    );
    assert_eq!(counters.names_learnt, found.len() as u64);
    let time = first_frame_time();
    for host in hosts(backend)
        .iter()
        .filter(|h| h.source == HostSource::Kubernetes)
    {
        assert_eq!((host.first_seen, host.last_seen), (time, time), "{host:?}");
    }
    // The backend's hosts query filters on the source like any field.
    let by_query = on_local(async move {
        let client = BackendClient::connect(backend, TOKEN).await.unwrap();
        let request = ListRequest {
            from: 0,
            to: i64::MAX,
            q: Some("source:kubernetes".into()),
            limit: 1000,
            ..ListRequest::default()
        };
        client.hosts(&request).await.unwrap()
    });
    assert_eq!(by_query.len(), found.len());

    // While a capture goes on, the Controller is asked at its interval, not only at the end:
    // the first session's names come while the replay waits for the second one.
    let spread = spread_capture(dir.path(), Duration::from_secs(3));
    let source = Source::File(FileSource {
        path: spread,
        pacing: Pacing::Realtime,
    });
    let mut config = WhispererConfig::new("spread", backend, TOKEN, source);
    quick(&mut config);
    config.controller = Some(listen);
    config.names_interval = Duration::from_millis(100);
    let handle = Whisperer::start(config).unwrap();
    common::wait_for("the first names", || handle.counters().names_learnt > 0);
    let counters = handle.counters();
    assert!(
        counters.packets_seen < 24,
        "asked before the end: {counters:?}"
    );
    let report = handle.wait();
    assert!(report.delivered, "{report:?}");
    assert_eq!(report.counters.names_asked, 2);
    node.stop();
}

#[test]
fn a_controller_that_is_down_or_silent_costs_only_counted_failures() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let backend = node.local_addr();
    // Down: nothing listens there any more.
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = replay("controller-down", backend, Some(refused));
    assert!(report.counters.name_failures >= 1, "{:?}", report.counters);
    assert_eq!(report.counters.names_learnt, 0);
    // Silent: it takes the connection and never answers (the login times out).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let report = replay(
        "controller-silent",
        backend,
        Some(silent.local_addr().unwrap()),
    );
    assert!(report.counters.name_failures >= 1, "{:?}", report.counters);
    assert_eq!(kubernetes_hosts(backend), vec![]);
    node.stop();
}
