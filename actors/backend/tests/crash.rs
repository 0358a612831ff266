//! `kill -9` of a node during ingest: after a restart every acknowledged batch is there, once, and
//! the index (which lags RocksDB) finds every exchange parsed from them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{batches_of, exchanges_of, on_local, push, testdata, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};
use spider_backend::BackendNode;

const CHILD_DIR: &str = "SPIDER_CRASH_TEST_NODE_DIR";
const WHISPERER: &str = "w-crash";

/// The node of the test, in a process of its own (this test binary, run for this test only).
#[test]
#[ignore = "started by acknowledged_batches_survive_kill_9 in a child process"]
fn node_process() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let node = BackendNode::start(common::config(dir)).unwrap();
    let addr_file = dir.join("addr.tmp");
    std::fs::write(&addr_file, node.local_addr().to_string()).unwrap();
    std::fs::rename(&addr_file, dir.join("addr")).unwrap();
    loop {
        std::thread::park();
    }
}

/// The node's process; killed (SIGKILL) and reaped when dropped.
struct NodeProcess(Child);

impl NodeProcess {
    fn kill(&mut self) {
        let _already_gone = self.0.kill();
        let _status = self.0.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_node(dir: &Path) -> (NodeProcess, SocketAddr) {
    let _ = std::fs::remove_file(dir.join("addr"));
    let child = NodeProcess(
        Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "node_process", "--nocapture"])
            .env(CHILD_DIR, dir)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("addr")) {
            return (child, text.parse().unwrap());
        }
        assert!(Instant::now() < deadline, "the node process did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn acknowledged_batches_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches_of(&testdata("http-load.pcap"), WHISPERER, 16);
    let acknowledged = batches.len() * 2 / 3;

    let (mut child, addr) = spawn_node(dir.path());
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches[..acknowledged] {
            push(&client, WHISPERER, batch).await;
        }
        let acked = client.flush().await.unwrap();
        let acked_batches: usize = acked.iter().map(|ack| ack.sequence as usize).sum();
        assert_eq!(
            acked_batches, acknowledged,
            "every batch pushed before flush is acknowledged"
        );
        // More batches in flight when the node dies: they may or may not be stored.
        let client = std::rc::Rc::new(client);
        let stored_since = std::rc::Rc::new(tokio::sync::Notify::new());
        let in_flight = batches[acknowledged..].to_vec();
        for batch in in_flight {
            let client = client.clone();
            let stored_since = stored_since.clone();
            tokio::task::spawn_local(async move {
                let stored = common::try_push(&client, WHISPERER, &batch).await;
                if stored.is_ok() {
                    stored_since.notify_one();
                }
            });
        }
        // Kill the node once the first of them is stored, the others still on their way.
        stored_since.notified().await;
        child.kill();
    });

    let expected = exchanges_of(&batches[..acknowledged]);
    assert!(
        expected.len() > 20,
        "the acknowledged batches hold exchanges"
    );
    let (mut child, addr) = spawn_node(dir.path());
    on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let all = ListRequest {
            from: 0,
            to: i64::MAX,
            whisperers: vec![WHISPERER.into()],
            limit: 500,
            ..ListRequest::default()
        };
        let stored = client.http_all(all.clone()).await.unwrap();
        let ids: BTreeSet<(u64, u32)> = stored
            .iter()
            .map(|(_, x)| (x.session_id, x.index))
            .collect();
        assert_eq!(ids.len(), stored.len(), "no exchange is stored twice");
        let stored: Vec<String> = stored
            .iter()
            .map(|(_, x)| serde_json::to_string(x).unwrap())
            .collect();
        for exchange in &expected {
            let json = serde_json::to_string(exchange).unwrap();
            assert!(
                stored.contains(&json),
                "acknowledged exchange lost: {}",
                exchange.uri
            );
        }
        // The index catches up from RocksDB: a search through it finds each acknowledged one.
        for exchange in &expected {
            let found = client
                .http_all(ListRequest {
                    q: Some(format!(
                        "session:{} path:\"{}\"",
                        exchange.session_id, exchange.path
                    )),
                    ..all.clone()
                })
                .await
                .unwrap();
            assert!(
                found.iter().any(|(_, x)| x.index == exchange.index),
                "the index does not find {} of session {}",
                exchange.path,
                exchange.session_id
            );
        }
    });
    child.kill();
}
