//! A backend node and a gateway in one process, with capture files imported: for the browser tests
//! and for trying the UI before `spider up` exists.
//!
//! `cargo run -p spider-gateway --example demo -- [--ui DIR] [--listen ADDR] FILE…` prints one JSON
//! line `{"url", "token"}` once everything is imported and searchable, and runs until its standard
//! input closes. `--usage-fixture` also pushes per-minute usage counters of a small made-up cluster
//! as a Gocipher enriched by a Controller would (test data for the cluster map, labelled as such).
//! `--cluster DIR` runs a Kubernetes API server for tests with the fixtures of DIR (its kubelet
//! runs ephemeral containers as local processes) and a real Controller linked to the backend;
//! per-minute usage between the fixtures' pods goes through the Controller (enriched there), and
//! attachments from the UI start `spider whisperer` replaying the first FILE under each pod's
//! name. Then the JSON line also has `kubeconfig`, and a line `load DIR` on the standard input
//! applies more fixtures (a scale-up). `--gocipher` also counts this host's network usage with a
//! real Gocipher (eBPF; root and BTF needed) in 1-second buckets, named by host and process.
#![allow(clippy::unwrap_used)]

mod cluster;

use std::io::Write;
use std::time::Duration;

use spider_backend::{BackendConfig, BackendNode};
use spider_gateway::bridge::Bridge;
use spider_gateway::routes::import::import_capture;
use spider_gateway::{Gateway, GatewayConfig};

fn main() {
    let mut ui = None;
    let mut listen = "127.0.0.1:0".to_owned();
    let mut files = Vec::new();
    let mut usage_fixture = false;
    let mut cluster_dir = None;
    let mut gocipher = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ui" => ui = args.next().map(std::path::PathBuf::from),
            "--listen" => listen = args.next().unwrap(),
            "--usage-fixture" => usage_fixture = true,
            "--cluster" => cluster_dir = args.next().map(std::path::PathBuf::from),
            "--gocipher" => gocipher = true,
            _ => files.push(std::path::PathBuf::from(arg)),
        }
    }
    let token = "demo-admin-token-0123456789".to_owned();
    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: token.clone(),
        sync_wal: false,
        ..BackendConfig::default()
    })
    .unwrap();
    // Users to log in with a name and password (the browser tests do): an admin, and a viewer
    // of a team without agents (it sees no data and no control that changes configuration).
    let user = serde_json::json!({"name": "demo", "password": "demo password"});
    let viewer = serde_json::json!({"name": "viewer", "password": "viewer password"});
    let identities = node.identities();
    identities
        .create_user(
            "demo",
            "demo password",
            spider_backend::spider_identity::UserRole::Admin,
            Default::default(),
        )
        .unwrap();
    identities.create_team("demo-team").unwrap();
    identities
        .create_user(
            "viewer",
            "viewer password",
            spider_backend::spider_identity::UserRole::Viewer,
            ["demo-team".to_owned()].into(),
        )
        .unwrap();
    let mut config = GatewayConfig::new(listen.parse().unwrap(), node.local_addr(), token.clone());
    config.ui_dir = ui;
    let cluster = cluster_dir.as_ref().map(|dir| {
        let replay = files
            .first()
            .expect("--cluster needs a capture FILE to replay");
        let cluster = cluster::DemoCluster::start(dir, node.local_addr(), &token);
        config.attach = cluster.attach_defaults(replay, node.local_addr(), &token);
        cluster
    });
    config.live_interval = Duration::from_millis(500);
    let gateway = Gateway::start(config).unwrap();
    let (bridge, _thread) = Bridge::start(
        node.local_addr(),
        Default::default(),
        token.clone(),
        Duration::from_secs(300),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let imported = runtime
            .block_on(import_capture(&bridge, &name, bytes.into()))
            .unwrap();
        eprintln!(
            "imported {} frames as {}",
            imported.frames, imported.whisperer
        );
    }
    if usage_fixture {
        runtime.block_on(push_usage_fixture(&bridge));
    }
    if let Some(cluster) = &cluster {
        cluster.push_usage();
    }
    let usage = gocipher.then(|| {
        let mut config = spider_gocipher::GocipherConfig::new(
            "demo-usage",
            spider_gocipher::Upstream::Backend(node.local_addr()),
            token.clone(),
        );
        config.bucket = Duration::from_secs(1);
        spider_gocipher::Gocipher::start(config).expect("the Gocipher starts (root, BTF)")
    });
    node.commit_indexes().unwrap();
    drop(bridge);
    let url = format!("http://{}/", gateway.local_addr());
    let mut ready = serde_json::json!({"url": url, "token": token, "user": user, "viewer": viewer});
    if let Some(cluster) = &cluster {
        ready["kubeconfig"] = cluster.kubeconfig().display().to_string().into();
    }
    println!("{ready}");
    std::io::stdout().flush().unwrap();
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        match (line.split_once(' '), &cluster) {
            (Some(("load", dir)), Some(cluster)) => cluster.load(std::path::Path::new(dir.trim())),
            _ => eprintln!("demo: unknown command {line:?}"),
        }
    }
    if let Some(usage) = usage {
        let _ = usage.stop();
    }
    gateway.stop();
    node.stop();
}

/// Usage counters of a test cluster: namespace `shop` with 12 workloads (collapsed when not
/// selected), `billing`, nodes, an external peer and an internal unidentified IP.
async fn push_usage_fixture(bridge: &Bridge) {
    use spider_backend::client::UsagePush;
    use spider_model::{UsageRecord, WorkloadRef};
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
        / 60_000_000_000
        * 60_000_000_000;
    let workload = |ns: &str, name: &str, node: &str| WorkloadRef {
        namespace: Some(ns.into()),
        kind: Some("Deployment".into()),
        workload: Some(name.into()),
        pod: Some(format!("{name}-7d9f")),
        node: Some(node.into()),
    };
    let class = |kind: &str| WorkloadRef {
        kind: Some(kind.into()),
        ..WorkloadRef::default()
    };
    let mut records = Vec::new();
    let mut add =
        |src: String, dst: String, bytes: u64, src_ref: WorkloadRef, dst_ref: WorkloadRef| {
            records.push(UsageRecord {
                minute,
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                proto: "tcp".into(),
                port: 8080,
                bytes,
                messages: bytes / 100 + 1,
                wire_bytes: bytes + 400,
                packets: bytes / 1000 + 2,
                reporter: "gocipher-fixture".into(),
                receive_side: false,
                src_workload: Some(src_ref),
                dst_workload: Some(dst_ref),
                pid: None,
                command: None,
                container: None,
            });
        };
    for i in 0..12_u64 {
        add(
            format!("10.1.0.{}", 10 + i),
            "10.2.0.5".into(),
            1000 * (i + 1),
            workload("shop", &format!("shop-svc-{i}"), "node-a"),
            workload("billing", "ledger", "node-b"),
        );
    }
    add(
        "10.2.0.5".into(),
        "10.2.0.6".into(),
        5000,
        workload("billing", "ledger", "node-b"),
        workload("billing", "postgres", "node-b"),
    );
    add(
        "10.2.0.5".into(),
        "52.1.2.3".into(),
        90_000,
        workload("billing", "ledger", "node-b"),
        class("external"),
    );
    add(
        "10.1.0.10".into(),
        "10.9.9.9".into(),
        300,
        workload("shop", "shop-svc-0", "node-a"),
        class("internal_unidentified"),
    );
    add(
        "192.168.1.1".into(),
        "10.2.0.5".into(),
        700,
        WorkloadRef {
            node: Some("node-a".into()),
            ..class("node")
        },
        workload("billing", "ledger", "node-b"),
    );
    let mut by_shard: std::collections::BTreeMap<u16, Vec<UsageRecord>> = Default::default();
    for record in records {
        by_shard
            .entry(spider_rpc_schema::usage_shard("gocipher-fixture", &record))
            .or_default()
            .push(record);
    }
    bridge
        .call(move |client| async move {
            for (sequence, (shard, records)) in (1..).zip(&by_shard) {
                client
                    .push_usage(UsagePush {
                        agent: "gocipher-fixture",
                        incarnation: 1,
                        sequence,
                        shard: *shard,
                        records,
                    })
                    .await?;
            }
            client.flush().await
        })
        .await
        .unwrap();
}
