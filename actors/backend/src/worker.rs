//! The capture worker of one local shard: parses the packets of its sessions, then writes the
//! batch with what was parsed from it in one durable write.

use std::collections::HashMap;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use spider_model::{DnsRecord, HostRecord, PacketRecord, Record, TcpSessionRecord};
use spider_pipeline::{PipelineConfig, SessionParser};
use spider_storage::{IngestBatch, IngestOutcome, ShardActor, ShardRequest, ShardResponse};

/// A capture batch as a Whisperer sent it, decoded from the wire.
#[derive(Debug)]
pub(crate) struct CaptureBatch {
    /// The sender and its incarnation, as one idempotency key with `seq`.
    pub agent: String,
    pub seq: u64,
    pub whisperer: String,
    pub frames: Vec<PacketRecord>,
    pub sessions: Vec<TcpSessionRecord>,
    pub hosts: Vec<HostRecord>,
    pub dns: Vec<DnsRecord>,
}

impl Message for CaptureBatch {
    type Result = Result<IngestOutcome, WorkerError>;
}

/// Why a batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("storage: {0}")]
    Storage(#[from] spider_storage::StorageError),
    #[error("the storage shard is gone: {0}")]
    Mailbox(#[from] actix::MailboxError),
    #[error("the storage shard answered {0}")]
    Unexpected(&'static str),
}

/// Parses and stores the capture batches of one local shard.
pub(crate) struct CaptureWorker {
    shard: Addr<ShardActor>,
    config: PipelineConfig,
    /// One parser per Whisperer: session ids are unique per Whisperer only.
    parsers: HashMap<String, SessionParser>,
}

impl CaptureWorker {
    pub fn new(shard: Addr<ShardActor>, config: PipelineConfig) -> Self {
        Self {
            shard,
            config,
            parsers: HashMap::new(),
        }
    }
}

impl Actor for CaptureWorker {
    type Context = Context<Self>;
}

impl Handler<CaptureBatch> for CaptureWorker {
    type Result = ResponseFuture<Result<IngestOutcome, WorkerError>>;

    fn handle(&mut self, batch: CaptureBatch, _: &mut Context<Self>) -> Self::Result {
        let config = self.config;
        let parser = self
            .parsers
            .entry(batch.whisperer.clone())
            .or_insert_with(|| SessionParser::new(config));
        let mut out = IngestBatch::new(batch.agent, batch.seq, batch.whisperer);
        let mut sink = |record: Record| match record {
            Record::Http(exchange) => out.http.push(*exchange),
            Record::Dns(dns) => out.dns.push(dns),
            Record::Host(host) => out.hosts.push(host),
            Record::TcpSession(_) => {}
        };
        for frame in &batch.frames {
            parser.packet(frame, &mut sink);
        }
        for session in batch.sessions.iter().filter(|s| s.close_reason.is_some()) {
            parser.session_closed(session.id, &mut sink);
        }
        out.hosts.extend(parser.drain_hosts());
        out.hosts.extend(batch.hosts);
        out.dns.extend(batch.dns);
        out.packets = batch.frames;
        out.sessions = batch.sessions;
        let shard = self.shard.clone();
        Box::pin(async move {
            match shard.send(ShardRequest::Ingest(Box::new(out))).await?? {
                ShardResponse::Ingested(outcome) => Ok(outcome),
                _ => Err(WorkerError::Unexpected(
                    "something else than an ingest outcome",
                )),
            }
        })
    }
}
