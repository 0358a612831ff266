//! The per-agent ingest rate (`[limits]`): an agent over its rate has its pushes' answers held
//! back (counted per agent on `/metrics`), nothing it pushed is lost, and an agent within its
//! rate is not held back. Most tests run the node's throttle on a manual clock, which moves only
//! by the waits the throttle imposes: what they check does not depend on the machine's speed.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{batches_of, config, exchanges_of, on_local, push, testdata, TOKEN};
use spider_backend::client::BackendClient;
use spider_backend::{AgentRate, BackendConfig, BackendNode, IngestClock, ManualClock, Throttled};
use spider_telemetry::{Exposition, Source};

/// The limit of the agent under test: 8 KiB/s, 8 KiB at once.
const RATE: u64 = 8192;
const BURST: u64 = 8192;

fn limited(dir: &std::path::Path, agent: &str, rate: u64, burst: u64) -> BackendConfig {
    let mut config = config(dir);
    config.limits.agents.insert(
        agent.into(),
        AgentRate {
            bytes_per_second: Some(rate),
            burst_bytes: Some(burst),
        },
    );
    config
}

/// One sample of the node's `/metrics` text, e.g. `name{kind="capture"}`.
fn metric(node: &BackendNode, sample: &str) -> f64 {
    let mut out = Exposition::new();
    node.telemetry().render(&mut out);
    let text = out.finish();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {sample} in\n{text}"))
        .parse()
        .unwrap()
}

fn throttling(node: &BackendNode) -> BTreeMap<String, Throttled> {
    node.telemetry().stats().throttling()
}

/// The exchanges as JSON, sorted.
fn sorted(exchanges: impl IntoIterator<Item = spider_model::HttpExchange>) -> Vec<String> {
    let mut out: Vec<String> = exchanges
        .into_iter()
        .map(|exchange| serde_json::to_string(&exchange).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn an_agent_over_its_rate_is_held_back_and_loses_nothing_while_another_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::default());
    let node =
        BackendNode::start_with_clock(limited(dir.path(), "w-fast", RATE, BURST), clock.clone())
            .unwrap();
    let addr = node.local_addr();
    let fast = batches_of(&testdata("http-basic.pcap"), "w-fast", 16);
    let calm = batches_of(&testdata("http-basic.pcap"), "w-calm", 16);
    let frames: usize = fast.iter().chain(&calm).map(|b| b.frames.len()).sum();
    let bytes_of_fast = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        // Streamed as a Whisperer does: each push waits only for the flow-control window.
        for batch in &fast {
            push(&client, "w-fast", batch).await;
        }
        let acked = client.flush().await.unwrap();
        for batch in &fast {
            assert!(
                acked
                    .iter()
                    .any(|a| a.shard == batch.shard && a.sequence >= batch.sequence),
                "batch {} of shard {} acknowledged",
                batch.sequence,
                batch.shard
            );
        }
        let bytes = metric(&node, "spider_backend_ingest_bytes_total{kind=\"capture\"}");
        for batch in &calm {
            push(&client, "w-calm", batch).await;
        }
        client.flush().await.unwrap();
        bytes as u64
    });
    assert!(
        bytes_of_fast > 4 * BURST,
        "the test pushes well over the burst: {bytes_of_fast} bytes"
    );

    let throttled = throttling(&node);
    let held = throttled.get("w-fast").copied().unwrap_or_default();
    assert!(held.batches > 0, "{throttled:?}");
    // The clock moved only by the waits: they add up to what the rate asks for the bytes
    // beyond the burst (rounded up to the nanosecond, per push).
    let owed = Duration::from_secs_f64((bytes_of_fast - BURST) as f64 / RATE as f64);
    assert!(
        held.waited + Duration::from_micros(1) >= owed,
        "{held:?} < {owed:?}"
    );
    assert!(
        held.waited <= owed + Duration::from_millis(1),
        "{held:?} > {owed:?}"
    );
    assert_eq!(clock.now(), held.waited);
    assert!(!throttled.contains_key("w-calm"), "{throttled:?}");
    assert_eq!(
        metric(
            &node,
            "spider_backend_ingest_throttled_total{agent=\"w-fast\"}"
        ),
        held.batches as f64
    );
    assert!(
        metric(
            &node,
            "spider_backend_ingest_throttled_seconds_total{agent=\"w-fast\"}"
        ) > 0.0
    );

    // Nothing lost: every frame stored, every exchange of both agents queryable.
    assert_eq!(
        metric(&node, "spider_backend_ingest_records_total{kind=\"frame\"}") as usize,
        frames
    );
    assert_eq!(
        metric(&node, "spider_backend_ingest_refused_total{cause=\"gap\"}"),
        0.0
    );
    node.commit_indexes().unwrap();
    let stored = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        client.http_all(common::everything()).await.unwrap()
    });
    let expected = sorted(exchanges_of(&fast).into_iter().chain(exchanges_of(&calm)));
    assert!(!expected.is_empty());
    assert_eq!(sorted(stored.into_iter().map(|(_, e)| e)), expected);
    node.stop();
}

#[test]
fn on_the_real_clock_every_push_over_a_tiny_burst_waits_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    // A burst of one byte: every push is over it, whatever the time between them.
    let node = BackendNode::start(limited(dir.path(), "w-slow", 1 << 20, 1)).unwrap();
    let addr = node.local_addr();
    let batches = batches_of(&testdata("http-basic.pcap"), "w-slow", 64);
    let pushed = &batches[..batches.len().min(4)];
    let acked = on_local(async {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        for batch in pushed {
            push(&client, "w-slow", batch).await;
        }
        client.flush().await.unwrap()
    });
    for batch in pushed {
        assert!(acked
            .iter()
            .any(|a| a.shard == batch.shard && a.sequence >= batch.sequence));
    }
    let held = throttling(&node)["w-slow"];
    assert_eq!(held.batches, pushed.len() as u64);
    assert!(held.waited > Duration::ZERO);
    let frames: usize = pushed.iter().map(|b| b.frames.len()).sum();
    assert_eq!(
        metric(&node, "spider_backend_ingest_records_total{kind=\"frame\"}") as usize,
        frames
    );
    node.stop();
}

/// Pushes `batch` as `agent` with `forwarded` set, as a node passing it on to its owner does.
async fn push_forwarded(client: &BackendClient, agent: &str, batch: &common::Batch) {
    let mut request = client.ingest_capability().push_capture_request();
    let mut out = request.get().init_batch();
    let mut id = out.reborrow().init_id();
    id.set_agent(agent);
    id.set_incarnation(1);
    id.set_sequence(batch.sequence);
    out.set_shard(batch.shard);
    out.set_whisperer(agent);
    out.set_forwarded(true);
    let mut frames = out.init_frames(u32::try_from(batch.frames.len()).unwrap());
    for (index, frame) in (0..).zip(&batch.frames) {
        spider_rpc_schema::write_frame(frames.reborrow().get(index), frame).unwrap();
    }
    request.send().await.unwrap();
}

#[test]
fn a_batch_passed_on_by_a_node_is_not_charged_twice_but_an_agent_cannot_claim_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = limited(dir.path(), "w-node", 1, 1);
    config.limits.agents.insert(
        "w-sly".into(),
        AgentRate {
            bytes_per_second: Some(1),
            burst_bytes: Some(1),
        },
    );
    let node = BackendNode::start_with_clock(config, Arc::new(ManualClock::default())).unwrap();
    let addr = node.local_addr();
    on_local(async {
        // Nodes pass batches on with the admin token: charged where the agent dialed.
        let admin = BackendClient::connect(addr, TOKEN).await.unwrap();
        let batches = batches_of(&testdata("http-basic.pcap"), "w-node", 64);
        push_forwarded(&admin, "w-node", &batches[0]).await;
        admin.flush().await.unwrap();
        let identities = admin.identities().await.unwrap();
        identities.create_team("blue").await.unwrap();
        let (_, token) = identities
            .create_agent("w-sly", "blue", "whisperer")
            .await
            .unwrap();
        let sly = BackendClient::connect(addr, &token).await.unwrap();
        let batches = batches_of(&testdata("http-basic.pcap"), "w-sly", 64);
        push_forwarded(&sly, "w-sly", &batches[0]).await;
        let acked = sly.flush().await.unwrap();
        assert!(acked.iter().any(|a| a.agent == "w-sly"), "{acked:?}");
    });
    let throttled = throttling(&node);
    assert!(!throttled.contains_key("w-node"), "{throttled:?}");
    assert_eq!(throttled["w-sly"].batches, 1, "{throttled:?}");
    node.stop();
}
