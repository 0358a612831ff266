//! A backend cluster: a real etcd and three `spider backend` processes. Three agents push
//! captures through a cluster client (each batch to its shard's owner, which passes it on to
//! the follower before acknowledging); then the owner of some shards is killed with SIGKILL and
//! its data folder deleted: a query at once reports its shards missing, its followers take over,
//! ingest goes on, and every acknowledged exchange is found exactly once, by listing and by
//! full-text search.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spider_backend::client::{CapturePush, ClusterClient, ListRequest};
use spider_backend::testing::{batches_of, exchanges_of};
use spider_cluster::testing::{free_port, EtcdServer};

const TOKEN: &str = "cluster-test-token-0123456789";
const GROUPS: u16 = 6;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

struct Node {
    name: String,
    address: String,
    data: tempfile::TempDir,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(etcd: &str, name: &str) -> Node {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let config = data.path().join("backend.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"{address}\"\nlocal_shards = {GROUPS}\nadmin_token = \"{TOKEN}\"\n\n\
             [cluster]\netcd = \"{etcd}\"\nname = \"test\"\nnode = \"{name}\"\ngroups = {GROUPS}\n\
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
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Node {
        name: name.into(),
        address,
        data,
        child,
    }
}

fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

/// Identity of an exchange: (whisperer, session, index, method, path).
type Key = (String, u64, u32, String, String);

/// Pushes a capture as agent `whisperer`; returns the keys of the exchanges it holds.
async fn ingest(cluster: &mut ClusterClient, capture: &str, whisperer: &str) -> Vec<Key> {
    let batches = batches_of(&testdata(capture), whisperer, 8).unwrap();
    for batch in &batches {
        let push = CapturePush {
            agent: whisperer,
            incarnation: 1,
            sequence: batch.sequence,
            shard: batch.shard,
            whisperer,
            frames: &batch.frames,
            sessions: &batch.sessions,
            ..CapturePush::default()
        };
        cluster
            .push_capture(push, 100, Duration::from_millis(200))
            .await
            .unwrap_or_else(|e| panic!("{capture}: batch {} refused: {e}", batch.sequence));
    }
    let acks = cluster.flush().await.unwrap();
    for batch in &batches {
        assert!(
            acks.iter().any(|a| a.agent == whisperer
                && a.shard == batch.shard
                && a.sequence >= batch.sequence),
            "{whisperer}: batch {} of shard {} not acknowledged",
            batch.sequence,
            batch.shard
        );
    }
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

async fn stored(cluster: &mut ClusterClient, q: Option<&str>) -> (Vec<Key>, Vec<u16>) {
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

#[test]
fn a_node_killed_with_its_disk_loses_nothing_acknowledged() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|name| start_node(&etcd.url, name))
        .collect();
    let seeds: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    on_local(async move {
        let started = Instant::now();
        let mut cluster = loop {
            if let Ok(client) = ClusterClient::connect(&seeds, TOKEN).await {
                if client.map().nodes.len() == 3 {
                    break client;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no 3-node map");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(cluster.map().followers.iter().all(|f| *f != u16::MAX));
        let mut expected = Vec::new();
        for (capture, agent) in [
            ("http-basic.pcap", "w1"),
            ("http-pipelining.pcap", "w2"),
            ("http-chunked-trailers.pcap", "w3"),
        ] {
            expected.extend(ingest(&mut cluster, capture, agent).await);
        }
        expected.sort();
        assert!(expected.len() > 10);
        let (before, missing) = stored(&mut cluster, None).await;
        assert!(missing.is_empty());
        assert_eq!(before, expected);

        // The owner of the most shards dies with its disk.
        let owned = cluster.map().shards_by_owner();
        let (victim_address, victim_shards) = owned
            .iter()
            .max_by_key(|(_, shards)| shards.len())
            .map(|(a, s)| (a.clone(), s.clone()))
            .unwrap();
        let index = nodes
            .iter()
            .position(|n| n.address == victim_address)
            .unwrap();
        let mut victim = nodes.remove(index);
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
        std::fs::remove_dir_all(victim.data.path().join("node")).unwrap();
        let (_, missing) = stored(&mut cluster, None).await;
        assert_eq!(
            missing, victim_shards,
            "the dead owner's shards are reported missing"
        );

        // Its followers take over: a new map without it.
        let started = Instant::now();
        loop {
            let map = cluster.refresh().await.cloned();
            if let Ok(map) = map {
                if map.nodes.len() == 2 && map.nodes.iter().all(|(name, _)| *name != victim.name) {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the map kept the dead node"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Ingest goes on.
        expected.extend(ingest(&mut cluster, "http-compressed.pcap", "w4").await);
        expected.sort();
        let (after, missing) = stored(&mut cluster, None).await;
        assert!(missing.is_empty(), "{missing:?}");
        assert_eq!(after, expected, "every acknowledged exchange, exactly once");

        // Full-text search finds them too (once the indexes have committed).
        let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
        for key in &expected {
            *by_path.entry(key.4.clone()).or_default() += 1;
        }
        let (path, count) = by_path.iter().max_by_key(|(_, c)| **c).unwrap();
        let query = format!("path:\"{path}\"");
        let started = Instant::now();
        loop {
            let (found, _) = stored(&mut cluster, Some(&query)).await;
            if found.len() == *count {
                assert!(found.iter().all(|k| &k.4 == path));
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{query}: {} of {count}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(nodes);
    });
}
