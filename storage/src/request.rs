//! The one request enum a shard actor drains, and its answers.

use actix::Message;
use spider_model::{DnsRecord, HostRecord, HttpExchange, PacketRecord, TcpSessionRecord};
use tokio::sync::{broadcast, watch};

use crate::codec::Stored;
use crate::error::StorageError;
use crate::shard::{CopyPosition, RawChunk, RawEntry};
use crate::types::{
    DnsQuery, HostQuery, HttpQuery, IngestBatch, IngestOutcome, MapRequest, NetworkMap,
    PacketExport, PacketQuery, Page, PcapExport, PcapSource, PurgeReport, SessionQuery, ShardEvent,
    Timeline, TimelineRequest, UsageRequest, UsageRow,
};

/// Everything a shard actor is asked. Each kind is handled by `Shard::<method>` in
/// `shard/handle_<kind>.rs`.
#[derive(Debug)]
pub enum ShardRequest {
    Ingest(Box<IngestBatch>),
    QueryHttp(HttpQuery),
    QuerySessions(SessionQuery),
    Session {
        whisperer: String,
        session_id: u64,
    },
    QueryPackets(PacketQuery),
    QueryHosts(HostQuery),
    QueryDns(DnsQuery),
    Timeline(TimelineRequest),
    NetworkMap(MapRequest),
    Usage(UsageRequest),
    /// The Controllers' inventories kept by this shard.
    Inventories,
    ExportPcap(PcapSource),
    /// The packets of an export, for a caller that merges shards (see `write_pcapng`).
    ExportPackets(PcapSource),
    /// Changes how long the Whisperer's data stored from now on is kept.
    SetWhispererRetention {
        whisperer: String,
        ttl: std::time::Duration,
    },
    /// The highest stored sequence of each ingest key (see `Shard::last_batch`).
    LastBatches {
        agents: Vec<String>,
    },
    /// Purge as of `now` (epoch ns); the actor also purges on its own timer.
    Purge {
        now: i64,
    },
    /// Commit the index now (rather than at the next interval).
    CommitIndex,
    /// Flush memtables and commit the index.
    Flush,
    /// Listeners: every event, and the searchable position.
    Subscribe,
    Status,
    /// Raw entries after a position, for a copy of the whole shard (`Shard::export_chunk`).
    ExportChunk {
        after: Option<CopyPosition>,
        max_bytes: usize,
    },
    /// Empties the shard before a copy arrives.
    Clear,
    /// Writes a chunk of a copy.
    ImportChunk(Vec<RawEntry>),
    /// Ends a copy: durable, counters reloaded, index rebuilt.
    FinishImport,
    /// The frames of the sessions left open (`Shard::open_session_frames`).
    OpenSessionFrames {
        window_ns: i64,
    },
}

impl Message for ShardRequest {
    type Result = Result<ShardResponse, StorageError>;
}

/// Counters of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardStatus {
    pub last_seq: u64,
    pub indexed_seq: u64,
    pub disk_bytes: u64,
}

/// The answer to a [`ShardRequest`], one variant per kind.
#[derive(Debug)]
pub enum ShardResponse {
    Ingested(IngestOutcome),
    Http(Page<Stored<HttpExchange>>),
    Sessions(Page<Stored<TcpSessionRecord>>),
    Session(Option<Stored<TcpSessionRecord>>),
    Packets(Page<PacketRecord>),
    Hosts(Vec<HostRecord>),
    Dns(Page<Stored<DnsRecord>>),
    Timeline(Timeline),
    Map(NetworkMap),
    Usage(Vec<UsageRow>),
    Inventories(Vec<spider_model::inventory::ClusterInventory>),
    Pcap(PcapExport),
    ExportedPackets(PacketExport),
    Purged(PurgeReport),
    LastBatches(Vec<Option<u64>>),
    Done,
    Listeners {
        events: broadcast::Receiver<ShardEvent>,
        searchable: watch::Receiver<u64>,
    },
    Status(ShardStatus),
    Chunk(RawChunk),
    Frames(Vec<PacketRecord>),
}
