//! The demo's cluster: the test Kubernetes API server with fixtures, a Controller linked to the
//! demo's backend node, and usage between the fixtures' pods sent through that Controller.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use spider_backend::client::{BackendClient, UsagePush};
use spider_controller::process;
use spider_controller::rpc::UplinkConfig;
use spider_controller::ControllerConfig;
use spider_gateway::AttachDefaults;
use spider_kube_apiserver::{ApiServer, ServerConfig};
use spider_model::UsageRecord;

pub struct DemoCluster {
    server: ApiServer,
    dir: tempfile::TempDir,
    /// Where the Controller listens for its agents.
    controller: SocketAddr,
    token: String,
}

impl DemoCluster {
    /// Serves the fixtures of `fixtures` and links a Controller to the backend at `backend`.
    pub fn start(fixtures: &Path, backend: SocketAddr, token: &str) -> Self {
        let server = ApiServer::start(ServerConfig {
            run_ephemeral: true,
            ..ServerConfig::default()
        })
        .unwrap();
        server.load_dir(fixtures).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let config = ControllerConfig {
            name: "demo-controller".into(),
            cluster: "demo".into(),
            kubeconfig: Some(kubeconfig),
            ..ControllerConfig::default()
        };
        let uplink = UplinkConfig::plain(&config.name, &config.cluster, backend, token);
        let running =
            process::spawn(config, Some((uplink, "127.0.0.1:0".parse().unwrap()))).unwrap();
        let controller = running.listen.unwrap();
        Self {
            server,
            dir,
            controller,
            token: token.into(),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Applies more fixtures (a scale-up, a rollout).
    pub fn load(&self, dir: &Path) {
        match self.server.load_dir(dir) {
            Ok(count) => eprintln!("demo: loaded {count} objects from {}", dir.display()),
            Err(error) => eprintln!("demo: cannot load {}: {error}", dir.display()),
        }
    }

    /// The Whisperer an attachment starts: this build's `spider whisperer` replaying `capture`
    /// to the demo's backend (the test kubelet runs it as a process, named after its pod).
    pub fn attach_defaults(
        &self,
        capture: &Path,
        backend: SocketAddr,
        token: &str,
    ) -> AttachDefaults {
        let exe = std::env::current_exe().unwrap();
        let spider = exe
            .parent()
            .and_then(Path::parent)
            .map(|debug| debug.join("spider"))
            .unwrap();
        AttachDefaults {
            image: "spider:demo".into(),
            command: vec![spider.display().to_string(), "whisperer".into()],
            args: vec![
                "--pcap".into(),
                capture.display().to_string(),
                "--speed".into(),
                "topspeed".into(),
                "--backend".into(),
                backend.to_string(),
                "--token".into(),
                token.into(),
            ],
        }
    }

    /// Per-minute usage between the fixtures' pods, pushed to the Controller's listener as a
    /// Gocipher does; the Controller enriches it on the way to the backend.
    pub fn push_usage(&self) {
        let controller = self.controller;
        let token = self.token.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let client = connect(controller, &token).await;
                let records = usage_records();
                let mut shards: std::collections::BTreeMap<u16, Vec<UsageRecord>> =
                    Default::default();
                for record in records {
                    shards
                        .entry(spider_rpc_schema::usage_shard("gocipher-demo", &record))
                        .or_default()
                        .push(record);
                }
                for (shard, records) in &shards {
                    client
                        .push_usage(UsagePush {
                            agent: "gocipher-demo",
                            incarnation: 1,
                            sequence: 1,
                            shard: *shard,
                            records,
                        })
                        .await
                        .unwrap();
                }
                client.flush().await.unwrap();
            });
        })
        .join()
        .unwrap();
    }
}

/// A client of the Controller's listener, once the Controller has linked to the backend.
async fn connect(addr: SocketAddr, token: &str) -> BackendClient {
    loop {
        match BackendClient::connect(addr, token).await {
            Ok(client) => return client,
            Err(error) if error.to_string().contains("not connected") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => panic!("cannot log in to the Controller: {error}"),
        }
    }
}

fn usage_records() -> Vec<UsageRecord> {
    let minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
        / 60_000_000_000
        * 60_000_000_000;
    let record = |src: &str, dst: &str, port: u16, bytes: u64| UsageRecord {
        minute,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        proto: "tcp".into(),
        port,
        bytes,
        messages: bytes / 100 + 1,
        wire_bytes: bytes + 400,
        packets: bytes / 1000 + 2,
        reporter: "gocipher-demo".into(),
        receive_side: false,
        src_workload: None,
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    };
    vec![
        record("10.244.0.10", "10.244.1.20", 5432, 120_000),
        record("10.244.1.10", "10.244.2.20", 5432, 80_000),
        record("10.244.2.30", "10.96.100.10", 80, 7_000),
        record("10.244.0.10", "1.1.1.1", 443, 900),
    ]
}
