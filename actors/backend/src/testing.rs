//! Captures cut into the batches a Whisperer pushes (session ids tagged, one batch per virtual
//! shard, numbered), and the exchanges a node parses from them: for tests and tools that push
//! to nodes without a Whisperer.

use std::collections::BTreeMap;
use std::path::Path;

use spider_model::{HttpExchange, PacketRecord, Record, TcpSessionRecord};
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig, SessionParser};
use spider_rpc_schema::shard_of;

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
