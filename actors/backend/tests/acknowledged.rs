//! `Ingest.acknowledged`: what the node holds of an agent's incarnation, asked on a new
//! connection and after a restart, is what the pushing connection was acknowledged.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{batches_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::BackendClient;

#[test]
fn a_new_connection_and_a_restarted_node_know_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let batches = batches_of(&testdata("http-load.pcap"), "w-ack", 16);
    let mut want: BTreeMap<u16, u64> = BTreeMap::new();
    for batch in &batches {
        let last = want.entry(batch.shard).or_default();
        *last = (*last).max(batch.sequence);
    }
    let flushed = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches {
            push(&client, "w-ack", batch).await;
        }
        client.flush().await.unwrap()
    });
    let flushed: BTreeMap<u16, u64> = flushed.into_iter().map(|a| (a.shard, a.sequence)).collect();
    assert_eq!(flushed, want);
    let ask = |addr| {
        on_local(async move {
            let client = BackendClient::connect(addr, TOKEN).await.unwrap();
            let acked = client.acknowledged("w-ack", 1).await.unwrap();
            assert!(acked
                .iter()
                .all(|a| a.agent == "w-ack" && a.incarnation == 1));
            let other = client.acknowledged("w-ack", 2).await.unwrap();
            assert!(other.is_empty(), "another incarnation has nothing stored");
            acked
                .into_iter()
                .map(|a| (a.shard, a.sequence))
                .collect::<BTreeMap<u16, u64>>()
        })
    };
    assert_eq!(ask(addr), want, "a new connection");
    node.stop();
    let node = start_node(dir.path());
    assert_eq!(ask(node.local_addr()), want, "after a restart");
    node.stop();
}
