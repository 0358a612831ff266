//! Adding a fourth node during ingest: groups move to it (copied from their owners, then owned
//! by it, the old owner following), ingest goes on through the move, every query meanwhile has
//! everything acknowledged before it started and nothing twice, and at the end every exchange is
//! present exactly once — those stored before the node joined answered by the new node itself.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use spider_backend::client::{BackendClient, ClusterClient, ListRequest};
use spider_cluster::testing::EtcdServer;
use spider_rpc_schema::VIRTUAL_SHARDS;

use crate::nodes::{connect, ingest, on_local, start_node, start_three, stored, Key, TOKEN};

const GROUPS: u16 = 8;

/// Whether the node at `address` owns its share of the virtual shards.
async fn owns_its_share(client: &mut ClusterClient, address: &str) -> bool {
    let Ok(map) = client.refresh().await else {
        return false;
    };
    let share = usize::from(VIRTUAL_SHARDS) / usize::from(GROUPS) * usize::from(GROUPS / 4);
    map.shards_by_owner()
        .get(address)
        .is_some_and(|shards| shards.len() >= share)
}

#[test]
fn a_fourth_node_gets_groups_moved_to_it_while_ingest_and_queries_go_on() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let (mut nodes, seeds) = start_three(&etcd.url, GROUPS);
    on_local(async move {
        let mut writer = connect(&seeds, 3).await;
        let mut reader = connect(&seeds, 3).await;
        let acknowledged: Rc<RefCell<Vec<Key>>> = Rc::default();
        let mut before_join = ingest(&mut writer, "http-load.pcap", "w0").await;
        before_join.extend(ingest(&mut writer, "http-basic.pcap", "w1").await);
        acknowledged
            .borrow_mut()
            .extend(before_join.iter().cloned());

        let fourth = start_node(&etcd.url, "d", GROUPS);
        let fourth_address = fourth.address.clone();
        nodes.push(fourth);
        let moved = Rc::new(std::cell::Cell::new(false));

        let writing = async {
            let captures = [
                "http-pipelining.pcap",
                "http-chunked-trailers.pcap",
                "http-basic.pcap",
            ];
            let mut round = 0;
            // Until the groups have moved, and one round more.
            let mut rounds_after = 0;
            while rounds_after < 2 {
                let agent = format!("w{}", 2 + round);
                let capture = captures[round % captures.len()];
                let keys = ingest(&mut writer, capture, &agent).await;
                acknowledged.borrow_mut().extend(keys);
                round += 1;
                if moved.get() {
                    rounds_after += 1;
                }
                assert!(round < 200, "the groups never moved");
            }
            round
        };
        let querying = async {
            let started = Instant::now();
            let mut queries = 0;
            loop {
                let before: Vec<Key> = acknowledged.borrow().clone();
                let (keys, missing) = stored(&mut reader, None).await;
                assert!(missing.is_empty(), "{missing:?}");
                let unique: BTreeSet<&Key> = keys.iter().collect();
                assert_eq!(unique.len(), keys.len(), "an exchange answered twice");
                for key in &before {
                    assert!(
                        keys.binary_search(key).is_ok(),
                        "{key:?} (shard {}) missing from a query under {:?}",
                        spider_rpc_schema::shard_of(&key.0, key.1),
                        reader.map().owners.get(..usize::from(GROUPS))
                    );
                }
                queries += 1;
                if !moved.get() && owns_its_share(&mut reader, &fourth_address).await {
                    moved.set(true);
                }
                if moved.get() && queries >= 3 {
                    return queries;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "the fourth node got no groups"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let (rounds, queries) = tokio::join!(writing, querying);
        assert!(rounds >= 2 && queries >= 3);

        let mut expected = acknowledged.borrow().clone();
        expected.sort();
        let (after, missing) = stored(&mut reader, None).await;
        assert!(missing.is_empty());
        assert_eq!(after, expected, "every acknowledged exchange, exactly once");

        // The new node answers for its groups, with what was stored before it joined.
        let address = fourth_address.parse().unwrap();
        let own = BackendClient::connect(address, TOKEN).await.unwrap();
        let answered = own.http_all(ListRequest {
            from: 0,
            to: i64::MAX,
            limit: 1000,
            ..ListRequest::default()
        });
        let answered: Vec<Key> = answered
            .await
            .unwrap()
            .into_iter()
            .map(|(w, e)| (w, e.session_id, e.index, e.method, e.path))
            .collect();
        let copied = answered.iter().filter(|k| before_join.contains(k)).count();
        assert!(
            copied > 0,
            "the fourth node holds none of the earlier exchanges"
        );

        // Full-text search over the moved groups too.
        let started = Instant::now();
        let mut by_path: std::collections::BTreeMap<&str, usize> = Default::default();
        for key in &expected {
            *by_path.entry(key.4.as_str()).or_default() += 1;
        }
        let (path, count) = by_path.iter().max_by_key(|(_, c)| **c).unwrap();
        let query = format!("path:\"{path}\"");
        loop {
            let (found, _) = stored(&mut reader, Some(&query)).await;
            if found.len() == *count {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{query} found {} of {count}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(nodes);
    });
}
