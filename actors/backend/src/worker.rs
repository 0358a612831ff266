//! The capture worker of one local shard: parses the packets of its sessions, masks what the
//! redaction rules say in the exchanges and in the frames, then writes the batch with what was
//! parsed from it in one durable write.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use spider_model::{DnsRecord, HostRecord, PacketRecord, Record, TcpSessionRecord};
use spider_pipeline::{PipelineConfig, SessionParser};
use spider_redact::{redact_exchange, FrameRedactor, Rules};
use spider_storage::{IngestBatch, IngestOutcome, ShardActor, ShardRequest, ShardResponse};

use crate::config::RedactionConfig;
use crate::stats::{NodeStats, ParseEvent};

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

/// What a worker keeps per Whisperer (session ids are unique per Whisperer only).
struct Feed {
    parser: SessionParser,
    /// The Whisperer's rules and its frames' redactor; `None` when redaction is off for it.
    redaction: Option<(Arc<Rules>, FrameRedactor)>,
}

impl Feed {
    fn new(config: PipelineConfig, redaction: &RedactionConfig, whisperer: &str) -> Self {
        let redaction = redaction.rules_for(whisperer).map(|rules| {
            let rules = Arc::new(Rules::new(&rules));
            (rules.clone(), FrameRedactor::new(rules))
        });
        if redaction.is_none() {
            tracing::warn!(
                whisperer,
                "redaction is off: secrets are stored as captured"
            );
        }
        Self {
            parser: SessionParser::new(config),
            redaction,
        }
    }
}

/// Parses, redacts and stores the capture batches of one local shard.
pub(crate) struct CaptureWorker {
    shard: Addr<ShardActor>,
    config: PipelineConfig,
    redaction: RedactionConfig,
    feeds: HashMap<String, Feed>,
    stats: Arc<NodeStats>,
}

/// The parser's totals that `/metrics` shows, read before and after a batch.
fn parse_totals(parser: &SessionParser) -> [u64; 6] {
    let streams = parser.stream_stats();
    [
        parser.malformed_frames(),
        parser.dns_malformed(),
        streams.tcp_gaps,
        streams.tcp_lost_bytes,
        streams.gaps_forced_by_memory,
        streams.streams_evicted,
    ]
}

impl CaptureWorker {
    pub fn new(
        shard: Addr<ShardActor>,
        config: PipelineConfig,
        redaction: RedactionConfig,
        stats: Arc<NodeStats>,
    ) -> Self {
        Self {
            shard,
            config,
            redaction,
            feeds: HashMap::new(),
            stats,
        }
    }
}

impl Actor for CaptureWorker {
    type Context = Context<Self>;
}

impl Handler<CaptureBatch> for CaptureWorker {
    type Result = ResponseFuture<Result<IngestOutcome, WorkerError>>;

    fn handle(&mut self, batch: CaptureBatch, _: &mut Context<Self>) -> Self::Result {
        let (config, redaction) = (self.config, &self.redaction);
        let feed = self
            .feeds
            .entry(batch.whisperer.clone())
            .or_insert_with(|| Feed::new(config, redaction, &batch.whisperer));
        let rules = feed.redaction.as_ref().map(|(rules, _)| rules.clone());
        let mut out = IngestBatch::new(batch.agent, batch.seq, batch.whisperer);
        // The parser reads the frames as captured (the caller's identity is known only from
        // the whole value); exchanges are masked as they come out, frames once parsed.
        let mut sink = |record: Record| match record {
            Record::Http(mut exchange) => {
                if let Some(rules) = &rules {
                    redact_exchange(rules, &mut exchange);
                }
                out.http.push(*exchange);
            }
            Record::Dns(dns) => out.dns.push(dns),
            Record::Host(host) => out.hosts.push(host),
            Record::TcpSession(_) => {}
        };
        let parser = &mut feed.parser;
        let before = parse_totals(parser);
        for frame in &batch.frames {
            parser.packet(frame, &mut sink);
        }
        let closed: Vec<u64> = batch
            .sessions
            .iter()
            .filter(|s| s.close_reason.is_some())
            .map(|s| s.id)
            .collect();
        for id in &closed {
            parser.session_closed(*id, &mut sink);
        }
        let after = parse_totals(parser);
        for (event, (a, b)) in [
            ParseEvent::MalformedFrame,
            ParseEvent::DnsMalformed,
            ParseEvent::TcpGap,
            ParseEvent::TcpLostBytes,
            ParseEvent::GapForcedByMemory,
            ParseEvent::StreamEvicted,
        ]
        .into_iter()
        .zip(before.into_iter().zip(after))
        {
            self.stats.parse(event, b.saturating_sub(a));
        }
        out.hosts.extend(parser.drain_hosts());
        out.hosts.extend(batch.hosts);
        out.dns.extend(batch.dns);
        let mut frames = batch.frames;
        if let Some((_, redactor)) = &mut feed.redaction {
            redactor.redact(&mut frames, &closed);
            tracing::trace!(stats = ?redactor.stats(), "frames redacted");
        }
        out.packets = frames;
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

/// Starts parsing afresh from the frames of the sessions the shard's data leaves open (a group
/// just copied here): the parsers learn where those sessions are, and what they emit for them
/// is already stored, so it is dropped.
#[derive(Debug)]
pub(crate) struct Resume {
    pub frames: Vec<PacketRecord>,
}

impl Message for Resume {
    type Result = usize;
}

impl Handler<Resume> for CaptureWorker {
    type Result = usize;

    fn handle(&mut self, resume: Resume, _: &mut Context<Self>) -> usize {
        self.feeds.clear();
        let (config, redaction) = (self.config, &self.redaction);
        for frame in &resume.frames {
            let feed = self
                .feeds
                .entry(frame.whisperer.clone())
                .or_insert_with(|| Feed::new(config, redaction, &frame.whisperer));
            feed.parser.packet(frame, &mut |_| {});
        }
        resume.frames.len()
    }
}
