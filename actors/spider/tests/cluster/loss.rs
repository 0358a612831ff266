//! A node killed with its disk: three agents push captures through a cluster client (each batch
//! to its shard's owner, which passes it on to the follower before acknowledging); then the
//! owner of some shards is killed with SIGKILL and its data folder deleted: a query at once
//! reports its shards missing, its followers take over, ingest goes on, and every acknowledged
//! exchange is found exactly once, by listing and by full-text search.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spider_cluster::testing::EtcdServer;

use crate::nodes::{connect, ingest, on_local, start_three, stored};

const GROUPS: u16 = 6;

#[test]
fn a_node_killed_with_its_disk_loses_nothing_acknowledged() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let (mut nodes, seeds) = start_three(&etcd.url, GROUPS);
    on_local(async move {
        let mut cluster = connect(&seeds, 3).await;
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
