//! The backend stops during a capture and comes back on the same data folder and port: within the
//! buffer bound nothing is missing; beyond it, the Whisperer's own-drop count is exactly what is
//! missing. Counted per session from what the backend stores (pcapng export of each session).
//!
//! The outage lasts `SPIDER_OUTAGE_SECS` seconds (default 1; the acceptance run is
//! `SPIDER_OUTAGE_SECS=30 cargo test -p spider-whisperer --test backend_away`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{file_config, node_config, on_local, start_node, testdata, wait_for, TOKEN};
use spider_backend::client::{BackendClient, ListRequest};
use spider_backend::BackendNode;
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig};
use spider_whisperer::{Overflow, Pacing, Whisperer, WhispererHandle};

const CAPTURE: &str = "http-load";
const SEED: u64 = 5000;

fn outage() -> Duration {
    let secs = std::env::var("SPIDER_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    Duration::from_secs(secs)
}

/// Frames per session id, as the Whisperer's tracker (seeded alike) tags the capture.
fn frames_per_session() -> BTreeMap<u64, u64> {
    let mut pipeline = PipelineConfig::default();
    pipeline.tracker.first_id = SEED;
    let mut tagger = FrameTagger::new(CAPTURE, pipeline);
    let mut reader = CaptureReader::open(testdata(&format!("{CAPTURE}.pcap"))).unwrap();
    let mut out = BTreeMap::new();
    while let Some(record) = reader.next_record().unwrap() {
        *out.entry(tagger.tag_record(&record).packet.session_id)
            .or_default() += 1;
    }
    out
}

/// Frames per session id that the backend stores (every packet of the Whisperer, paged).
fn stored_per_session(addr: SocketAddr, ids: Vec<u64>) -> BTreeMap<u64, u64> {
    on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        let mut out: BTreeMap<u64, u64> = ids.into_iter().map(|id| (id, 0)).collect();
        let mut request = ListRequest {
            from: 0,
            to: i64::MAX,
            whisperers: vec![CAPTURE.into()],
            limit: 500,
            ..ListRequest::default()
        };
        loop {
            let page = client.packets(&request).await.unwrap();
            for packet in page.items {
                *out.entry(packet.session_id).or_default() += 1;
            }
            match page.next {
                Some(next) => request.cursor = Some(next),
                None => return out,
            }
        }
    })
}

/// Starts a Whisperer replaying the capture at its pace, stops the node once the first batch is
/// acknowledged, waits for the whole file to be read plus the outage, restarts the node.
fn run_with_outage(memory_bytes: u64, batch_bytes: usize) -> (WhispererHandle, BackendNode) {
    let dir = tempfile::tempdir().unwrap().keep();
    let node = start_node(&dir);
    let addr = node.local_addr();
    let mut config = file_config(CAPTURE, addr, Pacing::Realtime);
    config.first_session_id = Some(SEED);
    config.buffer.overflow = Overflow::Drop;
    config.buffer.memory_bytes = memory_bytes;
    config.batch.max_bytes = batch_bytes;
    let total: u64 = frames_per_session().values().sum();
    let handle = Whisperer::start(config).unwrap();
    wait_for("a first acknowledgement", || {
        handle.counters().batches_acked > 0
    });
    node.stop();
    wait_for("the whole file to be read", || {
        handle.counters().packets_seen == total
    });
    std::thread::sleep(outage());
    let node = BackendNode::start(node_config(&dir, addr)).unwrap();
    (handle, node)
}

#[test]
fn nothing_within_the_buffer_bound_is_missing_after_an_outage() {
    let (handle, node) = run_with_outage(64 << 20, 1 << 20);
    let report = handle.wait();
    let counters = report.counters;
    assert!(report.delivered, "{report:?}");
    assert_eq!(counters.own_drop_frames, 0);
    assert!(counters.connection_failures > 0, "the outage was noticed");
    let expected = frames_per_session();
    let stored = stored_per_session(node.local_addr(), expected.keys().copied().collect());
    assert_eq!(stored, expected, "every frame of every session is stored");
    node.stop();
}

#[test]
fn beyond_the_bound_the_loss_count_is_exact() {
    let (handle, node) = run_with_outage(24 << 10, 4 << 10);
    let report = handle.wait();
    let counters = report.counters;
    assert!(report.delivered, "{report:?}");
    assert!(counters.own_drop_frames > 0, "the bound was reached");
    let expected = frames_per_session();
    let stored = stored_per_session(node.local_addr(), expected.keys().copied().collect());
    let mut missing = 0;
    for (id, want) in &expected {
        let got = stored[id];
        assert!(got <= *want, "session {id}: {got} stored of {want}");
        missing += want - got;
    }
    assert_eq!(missing, counters.own_drop_frames, "{counters:?}");
    assert_eq!(
        counters.frames_acked + counters.own_drop_frames,
        counters.packets_seen
    );
    node.stop();
}
