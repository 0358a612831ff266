//! Batches sent again (an agent that did not see their acknowledgement) are acknowledged as
//! duplicates, a batch after a gap is refused, and a sender's batches pushed behind a refused one
//! on a connection are not stored: the exchanges of sessions that span many batches come out whole,
//! as from a capture sent once.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batches_of, exchanges_of, on_local, push, start_node, testdata, TOKEN};
use spider_backend::client::{BackendClient, UsageGrouping, UsageRequest};

/// The exchanges a capture's batches hold, as JSON, sorted.
fn expected_of(batches: &[common::Batch]) -> Vec<String> {
    let mut expected: Vec<String> = exchanges_of(batches)
        .iter()
        .map(|exchange| serde_json::to_string(exchange).unwrap())
        .collect();
    expected.sort();
    expected
}

fn stored(exchanges: Vec<(String, spider_model::HttpExchange)>) -> Vec<String> {
    let mut out: Vec<String> = exchanges
        .into_iter()
        .map(|(_, exchange)| serde_json::to_string(&exchange).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn a_batch_sent_again_is_acknowledged_and_the_exchanges_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    // Two frames a batch: every exchange spans several batches of its session's shard.
    let batches = batches_of(&testdata("http-pipelining.pcap"), "w-again", 2);
    let expected = expected_of(&batches);
    assert!(expected.len() > 3);
    let got = on_local(async {
        let first = BackendClient::connect(addr, TOKEN).await.unwrap();
        let again = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in &batches {
            push(&first, "w-again", batch).await;
            first.flush().await.unwrap();
            // The same batch again, on another connection, as after a lost acknowledgement.
            push(&again, "w-again", batch).await;
            let acked = again.flush().await.unwrap();
            assert!(acked
                .iter()
                .any(|a| a.shard == batch.shard && a.sequence == batch.sequence));
        }
        node.commit_indexes().unwrap();
        first.http_all(common::everything()).await.unwrap()
    });
    assert_eq!(stored(got), expected);
    node.stop();
}

#[test]
fn a_batch_after_a_gap_is_refused_and_the_exchanges_are_whole_once_resent() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    let batches = batches_of(&testdata("http-pipelining.pcap"), "w-gap", 2);
    let expected = expected_of(&batches);
    // The shard with the most batches: its last one closes its sessions.
    let shard = (0..u16::MAX)
        .max_by_key(|s| batches.iter().filter(|b| b.shard == *s).count())
        .unwrap();
    let of_shard: Vec<_> = batches.iter().filter(|b| b.shard == shard).collect();
    assert!(of_shard.len() >= 3, "{} batches", of_shard.len());
    let (last, before_last) = (of_shard[of_shard.len() - 1], of_shard[of_shard.len() - 2]);
    let got = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in batches
            .iter()
            .filter(|b| b.sequence < before_last.sequence || b.shard != shard)
        {
            push(&client, "w-gap", batch).await;
        }
        client.flush().await.unwrap();
        // The last batch before the one it follows: refused.
        let skipping = BackendClient::connect(addr, TOKEN).await.unwrap();
        let _ = common::try_push(&skipping, "w-gap", last).await;
        assert!(
            skipping.flush().await.is_err(),
            "a batch after a gap is refused"
        );
        let resending = BackendClient::connect(addr, TOKEN).await.unwrap();
        push(&resending, "w-gap", before_last).await;
        push(&resending, "w-gap", last).await;
        let acked = resending.flush().await.unwrap();
        assert!(acked
            .iter()
            .any(|a| a.shard == shard && a.sequence == last.sequence));
        resending.http_all(common::everything()).await.unwrap()
    });
    assert_eq!(stored(got), expected);
    node.stop();
}

/// A usage batch of `agent` for `shard`; `damaged` gives its record a 3-byte source address.
async fn push_usage(client: &BackendClient, agent: &str, shard: u16, sequence: u64, damaged: bool) {
    let ingest = client.ingest_capability();
    let mut request = ingest.push_usage_request();
    let mut batch = request.get().init_batch();
    let mut id = batch.reborrow().init_id();
    id.set_agent(agent);
    id.set_incarnation(1);
    id.set_sequence(sequence);
    batch.set_shard(shard);
    let usage = spider_model::UsageRecord {
        minute: 1_700_000_000_000_000_000,
        src: "10.0.0.1".parse().unwrap(),
        dst: "10.0.0.2".parse().unwrap(),
        proto: "tcp".into(),
        port: 80,
        bytes: 100,
        messages: 1,
        wire_bytes: 140,
        packets: 2,
        reporter: agent.into(),
        receive_side: false,
        src_workload: None,
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    };
    let mut record = batch.init_records(1).get(0);
    spider_rpc_schema::write_usage(record.reborrow(), &usage).unwrap();
    if damaged {
        record.set_src(&[10, 0, 0]);
    }
    let _ = request.send().await;
}

async fn usage_bytes(client: &BackendClient) -> u64 {
    let request = UsageRequest {
        from: 0,
        to: i64::MAX,
        grouping: UsageGrouping::Connection,
        bucket: 0,
        limit: 1000,
        cursor: None,
    };
    let (rows, _) = client.usage(&request).await.unwrap();
    rows.iter().map(|row| row.bytes).sum()
}

#[test]
fn batches_pushed_behind_a_refused_one_are_not_stored_until_it_comes_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path());
    let addr = node.local_addr();
    on_local(async {
        let first = BackendClient::connect(addr, TOKEN).await.unwrap();
        // Batch 2 is pushed right behind the refused batch 1. Storage would take it (nothing of
        // the sender is stored yet), but a streamed push after a refused one is not delivered on
        // that capability, so batch 1 cannot end up stored after it.
        futures::join!(
            push_usage(&first, "gocipher-order", 7, 1, true),
            push_usage(&first, "gocipher-order", 7, 2, false)
        );
        assert!(first.flush().await.is_err());
        let other = BackendClient::connect(addr, TOKEN).await.unwrap();
        assert_eq!(
            usage_bytes(&other).await,
            0,
            "nothing after the refused batch was stored"
        );
        push_usage(&other, "gocipher-order", 7, 1, false).await;
        push_usage(&other, "gocipher-order", 7, 2, false).await;
        let acked = other.flush().await.unwrap();
        assert!(acked.iter().any(|a| a.shard == 7 && a.sequence == 2));
        assert_eq!(usage_bytes(&other).await, 200);
    });
    node.stop();
}
