//! Usage records between pod IPs, as a Gocipher sends them, come out of the Controller with the
//! namespace, workload and node of both ends, stored by a real backend node and read back
//! grouped by workload.

mod common;

use common::{ip, minute, Cluster};
use spider_backend::client::{UsageGrouping, UsageRequest};
use spider_backend::{BackendConfig, BackendNode};
use spider_controller::forward::Forwarder;
use spider_model::{UsageRecord, WorkloadRef};

const TOKEN: &str = "controller-test-token-0123456789";

fn record(minute: i64, src: &str, dst: &str, port: u16, bytes: u64) -> UsageRecord {
    UsageRecord {
        minute,
        src: ip(src),
        dst: ip(dst),
        proto: "tcp".into(),
        port,
        bytes,
        messages: 3,
        wire_bytes: bytes + 120,
        packets: 3,
        reporter: "gocipher-node-a".into(),
        receive_side: false,
        src_workload: None,
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    }
}

fn workload(ns: &str, kind: &str, name: &str, pod: &str, node: &str) -> Option<WorkloadRef> {
    Some(WorkloadRef {
        namespace: Some(ns.into()),
        kind: Some(kind.into()),
        workload: Some(name.into()),
        pod: Some(pod.into()),
        node: Some(node.into()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_between_pods_is_enriched_and_stored_by_workload() {
    let cluster = Cluster::start(&["cluster"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    })
    .expect("backend node");
    let addr = node.local_addr();
    let at = minute(15);
    let records = vec![
        // web (node-a) → db-0 (node-b), web (node-b) → db-1 (node-c), report → web service.
        record(at, "10.244.0.10", "10.244.1.20", 5432, 1000),
        record(at, "10.244.1.10", "10.244.2.20", 5432, 500),
        record(at, "10.244.2.30", "10.96.100.10", 80, 70),
        record(at, "10.244.2.40", "1.1.1.1", 443, 9),
    ];
    let inventory = cluster.inventory.clone();
    // The backend client is not Send: its own thread, a current-thread runtime and a LocalSet.
    let (rows, workloads) = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let mut forwarder = Forwarder::connect(addr, TOKEN, "controller-test")
                .await
                .expect("connect");
            let acks = forwarder
                .forward(&inventory, records)
                .await
                .expect("forward");
            assert!(!acks.is_empty());
            let request = |grouping| UsageRequest {
                from: at,
                to: at + 60_000_000_000,
                grouping,
                bucket: 0,
                limit: 0,
                cursor: None,
            };
            let rows = forwarder
                .client()
                .usage(&request(UsageGrouping::Connection))
                .await
                .expect("usage")
                .0;
            let workloads = forwarder
                .client()
                .usage(&request(UsageGrouping::Workload))
                .await
                .expect("usage")
                .0;
            (rows, workloads)
        })
    })
    .join()
    .expect("client thread");
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let row = |src: &str| {
        rows.iter()
            .find(|r| r.src == src)
            .unwrap_or_else(|| panic!("no row from {src}: {rows:#?}"))
    };
    let first = row("10.244.0.10");
    assert_eq!(
        first.src_workload,
        workload("shop", "Deployment", "web", "web-6b7f9c7d5-k2x8p", "node-a")
    );
    assert_eq!(
        first.dst_workload,
        workload("shop", "StatefulSet", "db", "db-0", "node-b")
    );
    assert_eq!(first.bytes, 1000);
    let second = row("10.244.1.10");
    assert_eq!(
        second.src_workload,
        workload("shop", "Deployment", "web", "web-6b7f9c7d5-q9z4m", "node-b")
    );
    assert_eq!(
        second.dst_workload,
        workload("shop", "StatefulSet", "db", "db-1", "node-c")
    );
    let third = row("10.244.2.30");
    assert_eq!(
        third.src_workload,
        workload(
            "batch",
            "CronJob",
            "report",
            "report-29091600-7xk2p",
            "node-c"
        )
    );
    assert_eq!(
        third
            .dst_workload
            .as_ref()
            .and_then(|w| w.workload.as_deref()),
        Some("web")
    );
    let fourth = row("10.244.2.40");
    assert_eq!(
        fourth.dst_workload.as_ref().and_then(|w| w.kind.as_deref()),
        Some("external")
    );
    // Grouped by workload: web → db carries both pods' bytes.
    let web_db: u64 = workloads
        .iter()
        .filter(|r| r.src.contains("web") && r.dst.contains("db"))
        .map(|r| r.bytes)
        .sum();
    assert_eq!(web_db, 1500, "{workloads:#?}");
}
