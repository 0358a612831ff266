//! A test cluster: the fixture API server over real HTTP, a kube client from a kubeconfig that
//! points at it, and an inventory fed by the real watchers.
#![allow(dead_code)]

pub mod linked;

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use spider_controller::inventory::watch::spawn_watchers;
use spider_controller::{ControllerConfig, Inventory};
use spider_kube_apiserver::{ApiServer, ServerConfig};
use tokio::task::JoinHandle;

/// Epoch seconds of 2025-04-23T12:00:00Z, the fixtures' creation time.
pub const T0: i64 = 1_745_409_600;

/// Epoch nanoseconds of the minute `minutes` after 12:00.
pub fn minute(minutes: i64) -> i64 {
    (T0 + minutes * 60) * 1_000_000_000
}

pub fn fixtures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/k8s")
        .join(name)
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IP")
}

/// Fails the test if `future` does not finish in a minute (a guard against hangs, not a
/// timing assertion).
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(60), future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

pub struct Cluster {
    pub server: ApiServer,
    pub dir: tempfile::TempDir,
    pub config: ControllerConfig,
    pub client: kube::Client,
    pub inventory: Inventory,
    watchers: Vec<JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for watcher in &self.watchers {
            watcher.abort();
        }
    }
}

impl Cluster {
    /// The fixture server with the objects of `sets` (folders of testdata/k8s), and a
    /// synced inventory.
    pub async fn start(sets: &[&str]) -> Self {
        let server = ApiServer::start(ServerConfig::default()).expect("api server");
        for set in sets {
            server.load_dir(&fixtures(set)).expect("fixtures");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let config = ControllerConfig {
            kubeconfig: Some(kubeconfig),
            ..ControllerConfig::default()
        };
        let client = config.client().await.expect("kube client");
        let inventory = Inventory::new(config.internal_networks.clone(), config.ip_retention_ns());
        let watchers = spawn_watchers(&inventory, &client);
        within("the inventory to sync", inventory.wait_synced()).await;
        Self {
            server,
            dir,
            config,
            client,
            inventory,
            watchers,
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Applies every fixture of a set.
    pub fn load(&self, set: &str) {
        self.server.load_dir(&fixtures(set)).expect("fixtures");
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Value {
        let pods = spider_kube_apiserver::resources::by_kind("v1", "Pod").expect("pods");
        self.server
            .store()
            .get(pods, Some(namespace), name)
            .expect("pod")
    }

    /// Deletes a pod as the API server does: first its deletion timestamp (MODIFIED), then the
    /// object (DELETED).
    pub fn delete_pod(&self, namespace: &str, name: &str, at: &str) {
        let mut pod = self.pod(namespace, name);
        pod["metadata"]["deletionTimestamp"] = json!(at);
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        self.server.store().apply(pod).expect("terminating");
        self.server
            .store()
            .delete("v1", "Pod", Some(namespace), name)
            .expect("delete");
    }
}

/// A Gocipher's record of one direction between two IPs in a minute, not enriched yet.
pub fn usage_record(
    minute: i64,
    src: &str,
    dst: &str,
    port: u16,
    bytes: u64,
) -> spider_model::UsageRecord {
    spider_model::UsageRecord {
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
