//! Captures cut into the batches a Whisperer pushes (session ids tagged, one batch per virtual
//! shard, numbered), and the exchanges a node parses from them: for tests and tools that push
//! to nodes without a Whisperer.

use std::collections::BTreeMap;
use std::path::Path;

use spider_model::{HttpExchange, PacketRecord, Record, TcpSessionRecord};
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig, SessionParser};
use spider_rpc_schema::shard_of;

use crate::client::{CapturePush, ClientError, ClusterClient};

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
pub fn batches_of(
    path: &Path,
    whisperer: &str,
    per_batch: usize,
) -> Result<Vec<Batch>, spider_pcap::PcapError> {
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
    let mut reader = CaptureReader::open(path)?;
    while let Some(record) = reader.next_record()? {
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
    Ok(out)
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

/// Pushes `batches` as agent `agent` (incarnation 1) as a Whisperer does: after a refusal,
/// everything not acknowledged yet is sent again in order, until all are acknowledged or
/// `patience` has passed.
pub async fn push_acknowledged(
    cluster: &mut ClusterClient,
    agent: &str,
    batches: &[Batch],
    patience: std::time::Duration,
) -> Result<(), ClientError> {
    let started = std::time::Instant::now();
    let mut pending: Vec<&Batch> = batches.iter().collect();
    loop {
        for batch in &pending {
            let push = CapturePush {
                agent,
                incarnation: 1,
                sequence: batch.sequence,
                shard: batch.shard,
                whisperer: agent,
                frames: &batch.frames,
                sessions: &batch.sessions,
                ..CapturePush::default()
            };
            let pause = std::time::Duration::from_millis(100);
            if cluster.push_capture(push, 3, pause).await.is_err() {
                break;
            }
        }
        let acks = cluster.flush().await?;
        pending.retain(|batch| {
            !acks.iter().any(|ack| {
                ack.agent == agent && ack.shard == batch.shard && ack.sequence >= batch.sequence
            })
        });
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() > patience {
            return Err(ClientError::Rpc(capnp::Error::failed(format!(
                "{} batches of {agent} not acknowledged after {patience:?}",
                pending.len()
            ))));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let _ = cluster.refresh().await;
    }
}
