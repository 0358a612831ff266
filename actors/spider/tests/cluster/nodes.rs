//! Backend nodes as `spider backend` processes joined through etcd, and agents pushing
//! captures to them through a cluster client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spider_backend::client::{ClusterClient, ListRequest};
use spider_backend::testing::{batches_of, exchanges_of, push_acknowledged};
use spider_cluster::testing::free_port;

pub const TOKEN: &str = "cluster-test-token-0123456789";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

pub struct Node {
    pub name: String,
    pub address: String,
    pub data: tempfile::TempDir,
    pub child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts node `name` of a cluster of `groups` shard groups whose first map waits for 3 nodes.
pub fn start_node(etcd: &str, name: &str, groups: u16) -> Node {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let config = data.path().join("backend.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"{address}\"\nlocal_shards = {groups}\nadmin_token = \"{TOKEN}\"\n\n\
             [cluster]\netcd = \"{etcd}\"\nname = \"test\"\nnode = \"{name}\"\ngroups = {groups}\n\
             initial_nodes = 3\nlease_ttl = \"2s\"\n",
            data.path().join("node").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_spider"))
        .args(["backend", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.path().join("node.log")).unwrap())
        .spawn()
        .unwrap();
    let mut node = Node {
        name: name.into(),
        address,
        data,
        child,
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(&node.address).is_err() {
        if let Some(status) = node.child.try_wait().unwrap() {
            panic!("{name} exited ({status}):\n{}", node.log());
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{name} did not start:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    node
}

impl Node {
    /// What the node wrote to its standard error.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("node.log")).unwrap_or_default()
    }
}

pub fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

/// Identity of an exchange: (whisperer, session, index, method, path).
pub type Key = (String, u64, u32, String, String);

/// Pushes a capture as agent `whisperer` as an agent does (see `push_acknowledged`); returns
/// the keys of the exchanges it holds.
pub async fn ingest(cluster: &mut ClusterClient, capture: &str, whisperer: &str) -> Vec<Key> {
    let batches = batches_of(&testdata(capture), whisperer, 8).unwrap();
    push_acknowledged(cluster, whisperer, &batches, Duration::from_secs(60))
        .await
        .unwrap_or_else(|error| panic!("{capture}: {error}"));
    exchanges_of(&batches)
        .into_iter()
        .map(|e| {
            (
                whisperer.to_owned(),
                e.session_id,
                e.index,
                e.method,
                e.path,
            )
        })
        .collect()
}

pub async fn stored(cluster: &mut ClusterClient, q: Option<&str>) -> (Vec<Key>, Vec<u16>) {
    let answer = cluster
        .http_all(&ListRequest {
            from: 0,
            to: i64::MAX,
            q: q.map(str::to_owned),
            limit: 1000,
            ..ListRequest::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<Key> = answer
        .items
        .into_iter()
        .map(|(w, e)| (w, e.session_id, e.index, e.method, e.path))
        .collect();
    keys.sort();
    (keys, answer.missing_shards)
}

/// A cluster client once the map has `nodes` nodes.
pub async fn connect(seeds: &[String], nodes: usize) -> ClusterClient {
    let started = Instant::now();
    loop {
        if let Ok(client) = ClusterClient::connect(seeds, TOKEN).await {
            if client.map().nodes.len() == nodes {
                return client;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {nodes}-node map"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nodes a, b and c of a cluster of `groups` shard groups, and their addresses (the seeds).
pub fn start_three(etcd: &str, groups: u16) -> (Vec<Node>, Vec<String>) {
    let nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|name| start_node(etcd, name, groups))
        .collect();
    let seeds = nodes.iter().map(|n| n.address.clone()).collect();
    (nodes, seeds)
}
