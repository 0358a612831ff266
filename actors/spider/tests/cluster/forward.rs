//! An agent that dials one node of a cluster (as a Whisperer given the Service's address does):
//! the node stores the batches of the groups it owns and passes the others on to their owners,
//! acknowledging them once the owners hold them; every exchange is then found once.

use std::time::{Duration, Instant};

use spider_backend::client::{BackendClient, CapturePush};
use spider_backend::testing::{batches_of, exchanges_of};
use spider_cluster::testing::EtcdServer;

use crate::nodes::{connect, on_local, start_three, stored, testdata, Key, TOKEN};

const GROUPS: u16 = 6;

#[test]
fn batches_sent_to_any_node_reach_the_owners_of_their_groups() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let (nodes, seeds) = start_three(&etcd.url, GROUPS);
    on_local(async move {
        let mut cluster = connect(&seeds, 3).await;
        let batches = batches_of(&testdata("http-load.pcap"), "w-any", 8).unwrap();
        let owners = cluster.map().shards_by_owner();
        let one = nodes[0].address.clone();
        assert!(
            batches.iter().any(|b| !owners[&one].contains(&b.shard)),
            "some batches belong to groups the dialled node does not own"
        );
        let started = Instant::now();
        let mut pending: Vec<_> = batches.iter().collect();
        // Followers copy their groups when the cluster forms: a push may be refused meanwhile,
        // and what was not acknowledged is sent again on a new connection.
        while !pending.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "never acknowledged"
            );
            let agent = BackendClient::connect(one.parse().unwrap(), TOKEN)
                .await
                .unwrap();
            for batch in &pending {
                let push = CapturePush {
                    agent: "w-any",
                    incarnation: 1,
                    sequence: batch.sequence,
                    shard: batch.shard,
                    whisperer: "w-any",
                    frames: &batch.frames,
                    sessions: &batch.sessions,
                    ..CapturePush::default()
                };
                if agent.push_capture(push).await.is_err() {
                    break;
                }
            }
            let acks = agent.flush().await.unwrap_or_default();
            pending.retain(|b| {
                !acks
                    .iter()
                    .any(|a| a.shard == b.shard && a.sequence >= b.sequence)
            });
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let mut expected: Vec<Key> = exchanges_of(&batches)
            .into_iter()
            .map(|e| ("w-any".to_owned(), e.session_id, e.index, e.method, e.path))
            .collect();
        expected.sort();
        let (found, missing) = stored(&mut cluster, None).await;
        assert!(missing.is_empty());
        assert_eq!(found, expected, "every exchange once, at its group's owner");
        drop(nodes);
    });
}
