//! A capture cut into the batches a Whisperer would push, and the node under test.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use spider_backend::client::{BackendClient, CapturePush};
use spider_backend::{BackendConfig, BackendNode};
use spider_model::{HttpExchange, PacketRecord, Record, TcpSessionRecord};
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig, SessionParser};
use spider_rpc_schema::shard_of;

pub const TOKEN: &str = "test-admin-token-0123456789";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

pub fn config(dir: &Path) -> BackendConfig {
    BackendConfig {
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    }
}

pub fn start_node(dir: &Path) -> BackendNode {
    BackendNode::start(config(dir)).unwrap()
}

/// One batch as a Whisperer sends it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub shard: u16,
    pub sequence: u64,
    pub frames: Vec<PacketRecord>,
    pub sessions: Vec<TcpSessionRecord>,
}

/// Tags a capture's frames with session ids and cuts them into per-shard batches of at most
/// `per_batch` frames, closed sessions riding with their shard's frames; in sending order.
pub fn batches_of(path: &Path, whisperer: &str, per_batch: usize) -> Vec<Batch> {
    #[derive(Default)]
    struct Pending {
        frames: Vec<PacketRecord>,
        sessions: Vec<TcpSessionRecord>,
        sequence: u64,
    }
    let mut out = Vec::new();
    let mut take = |shard: u16, pending: &mut Pending| {
        pending.sequence += 1;
        out.push(Batch {
            shard,
            sequence: pending.sequence,
            frames: std::mem::take(&mut pending.frames),
            sessions: std::mem::take(&mut pending.sessions),
        });
    };
    let mut tagger = FrameTagger::new(whisperer, PipelineConfig::default());
    let mut pending: BTreeMap<u16, Pending> = BTreeMap::new();
    let mut reader = CaptureReader::open(path).unwrap();
    while let Some(record) = reader.next_record().unwrap() {
        let tagged = tagger.tag_record(&record);
        for closed in tagged.closed {
            let shard = shard_of(whisperer, closed.id);
            pending.entry(shard).or_default().sessions.push(closed);
        }
        let shard = shard_of(whisperer, tagged.packet.session_id);
        let entry = pending.entry(shard).or_default();
        entry.frames.push(tagged.packet);
        if entry.frames.len() >= per_batch {
            take(shard, entry);
        }
    }
    for closed in tagger.finish() {
        let shard = shard_of(whisperer, closed.id);
        pending.entry(shard).or_default().sessions.push(closed);
    }
    for (shard, entry) in &mut pending {
        if !entry.frames.is_empty() || !entry.sessions.is_empty() {
            take(*shard, entry);
        }
    }
    out
}

pub async fn try_push(
    client: &BackendClient,
    whisperer: &str,
    batch: &Batch,
) -> Result<(), spider_backend::client::ClientError> {
    client
        .push_capture(CapturePush {
            agent: whisperer,
            incarnation: 1,
            sequence: batch.sequence,
            shard: batch.shard,
            whisperer,
            frames: &batch.frames,
            sessions: &batch.sessions,
            ..CapturePush::default()
        })
        .await
}

pub async fn push(client: &BackendClient, whisperer: &str, batch: &Batch) {
    try_push(client, whisperer, batch).await.unwrap();
}

/// The exchanges a node parses from `batches`, worked out here as its capture workers do.
pub fn exchanges_of(batches: &[Batch]) -> Vec<HttpExchange> {
    let mut parser = SessionParser::new(PipelineConfig::default());
    let mut out = Vec::new();
    let mut sink = |record: Record| {
        if let Record::Http(exchange) = record {
            out.push(*exchange);
        }
    };
    for batch in batches {
        for frame in &batch.frames {
            parser.packet(frame, &mut sink);
        }
        for session in batch.sessions.iter().filter(|s| s.close_reason.is_some()) {
            parser.session_closed(session.id, &mut sink);
        }
    }
    out
}

/// Runs `body` on a current-thread runtime with a `LocalSet` (Cap'n Proto clients are not Send).
pub fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}
