//! The shard's requests and answers.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use spider_model::{
    DnsRecord, HostRecord, HttpExchange, PacketRecord, TcpSessionRecord, UsageRecord, WorkloadRef,
};

/// One batch from an agent, as the shard ingests it. `(agent, seq)` identifies it: a batch
/// already stored is acknowledged again without being written twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestBatch {
    /// The sender (a Whisperer, a Controller, a Gocipher) and its batch sequence number.
    pub agent: String,
    pub seq: u64,
    /// The Whisperer that captured the capture records of the batch.
    pub whisperer: String,
    pub packets: Vec<PacketRecord>,
    /// Session updates: a newer record of a session replaces the older.
    pub sessions: Vec<TcpSessionRecord>,
    pub http: Vec<HttpExchange>,
    pub hosts: Vec<HostRecord>,
    pub dns: Vec<DnsRecord>,
    /// Usage counters: added to what is stored for the same key.
    pub usage: Vec<UsageRecord>,
    /// A Controller's inventory snapshot or delta.
    pub inventory: Option<spider_model::inventory::InventoryUpdate>,
}

impl IngestBatch {
    pub fn new(agent: impl Into<String>, seq: u64, whisperer: impl Into<String>) -> Self {
        Self {
            agent: agent.into(),
            seq,
            whisperer: whisperer.into(),
            ..Self::default()
        }
    }
}

/// How many records of each kind a batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestCounts {
    pub packets: u64,
    pub packet_blocks: u64,
    pub sessions: u64,
    pub http: u64,
    pub hosts: u64,
    pub dns: u64,
    pub usage: u64,
    /// Inventory objects written or removed.
    #[serde(default)]
    pub inventory: u64,
}

/// The acknowledgement of a batch: it is in the WAL (and fsynced under `WalSync::Always`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    /// The shard's sequence number for the batch (the one `ShardEvent::Searchable` reports).
    pub shard_seq: u64,
    /// True when the batch had been stored before: nothing was written this time.
    pub duplicate: bool,
    pub counts: IngestCounts,
}

/// A position in a newest-first listing: the last key returned. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor(pub Vec<u8>);

/// One page of a listing and the cursor of the next (`None` at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// A time range `[from, to)` in epoch nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: i64,
    pub to: i64,
}

impl TimeRange {
    pub const ALL: Self = Self {
        from: i64::MIN,
        to: i64::MAX,
    };

    pub fn new(from: i64, to: i64) -> Self {
        Self { from, to }
    }
}

/// HTTP exchanges by request start, newest first.
#[derive(Debug, Clone)]
pub struct HttpQuery {
    pub range: TimeRange,
    /// Only these whisperers (empty: all).
    pub whisperers: Vec<String>,
    pub query: Option<spider_query::Query>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl HttpQuery {
    pub fn new(range: TimeRange, limit: usize) -> Self {
        Self {
            range,
            whisperers: Vec::new(),
            query: None,
            limit,
            cursor: None,
        }
    }
}

/// TCP sessions by first packet, newest first.
#[derive(Debug, Clone)]
pub struct SessionQuery {
    pub range: TimeRange,
    pub whisperers: Vec<String>,
    pub query: Option<spider_query::Query>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// Packets: of one session (in capture order), or of a time range (newest block first).
#[derive(Debug, Clone)]
pub enum PacketQuery {
    Session {
        whisperer: String,
        session_id: u64,
        limit: usize,
    },
    Range {
        range: TimeRange,
        whisperers: Vec<String>,
        limit: usize,
        cursor: Option<Cursor>,
    },
}

/// DNS responses by time, newest first.
#[derive(Debug, Clone)]
pub struct DnsQuery {
    pub range: TimeRange,
    pub whisperers: Vec<String>,
    /// Only answers to this name (any case).
    pub name: Option<String>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// Hosts (ip, name, source) seen in a range, optionally filtered by a host query.
#[derive(Debug, Clone)]
pub struct HostQuery {
    /// Hosts last seen at or after `range.from` and first seen before `range.to`.
    pub range: TimeRange,
    pub query: Option<spider_query::Query>,
    pub limit: usize,
    /// Only what these Whisperers saw (first and last seen over them only); empty: every
    /// Whisperer, and the entries stored before hosts were kept per Whisperer.
    pub whisperers: Vec<String>,
}

/// Requests over time, per status class.
#[derive(Debug, Clone)]
pub struct TimelineRequest {
    pub range: TimeRange,
    pub bucket_ns: i64,
    pub whisperers: Vec<String>,
    pub query: Option<spider_query::Query>,
}

/// Exchanges per status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub informational: u64,
    pub success: u64,
    pub redirection: u64,
    pub client_error: u64,
    pub server_error: u64,
    /// No response seen.
    pub none: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.informational
            + self.success
            + self.redirection
            + self.client_error
            + self.server_error
            + self.none
    }

    pub(crate) fn from_slots(slots: [u64; 6]) -> Self {
        Self {
            informational: slots[0],
            success: slots[1],
            redirection: slots[2],
            client_error: slots[3],
            server_error: slots[4],
            none: slots[5],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineBucket {
    pub start: i64,
    pub counts: StatusCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub bucket_ns: i64,
    pub buckets: Vec<TimelineBucket>,
}

/// The network map of HTTP traffic in a range.
#[derive(Debug, Clone)]
pub struct MapRequest {
    pub range: TimeRange,
    pub whisperers: Vec<String>,
    pub query: Option<spider_query::Query>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapNode {
    pub ip: IpAddr,
    /// Names known for the address (hosts column family), sorted.
    pub names: Vec<String>,
    /// Requests the node sent (as a client) and received (as a server).
    pub requests_out: u64,
    pub requests_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEdge {
    pub client: IpAddr,
    pub server: IpAddr,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub no_response: u64,
    /// Mean request-start-to-response-end time of the exchanges with a response.
    pub avg_latency_ns: Option<i64>,
    /// Sum and count behind the mean, so that shards' maps can be merged exactly.
    pub latency_sum_ns: i128,
    pub latency_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkMap {
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
}

/// How usage rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UsageLevel {
    /// One row per (minute, src ip, dst ip, proto, port).
    IpPair,
    /// By namespace (IPs without one keep their class: `external`, `node`, …, or the address).
    Namespace,
    /// By `namespace/workload`.
    Workload,
    /// By `namespace/pod`.
    Pod,
    /// By node.
    Node,
}

#[derive(Debug, Clone)]
pub struct UsageRequest {
    pub range: TimeRange,
    pub level: UsageLevel,
    /// Only the rows these agents reported (the sender of the usage batch: a Gocipher, or the
    /// agent a Controller relayed for); empty: every row, with those stored before rows said
    /// which agent reported them.
    pub agents: Vec<String>,
}

/// One row of grouped usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub minute: i64,
    pub src: String,
    pub dst: String,
    /// Set at the `IpPair` level only.
    pub proto: Option<String>,
    pub port: Option<u16>,
    pub bytes: u64,
    pub messages: u64,
    pub wire_bytes: u64,
    pub packets: u64,
    /// The Kubernetes names of each end, at the `IpPair` level, when a Controller enriched them.
    pub src_workload: Option<WorkloadRef>,
    pub dst_workload: Option<WorkloadRef>,
}

/// Which packets a pcapng export holds.
#[derive(Debug, Clone)]
pub enum PcapSource {
    Session {
        whisperer: String,
        session_id: u64,
    },
    Range {
        range: TimeRange,
        whisperers: Vec<String>,
    },
    /// The sessions of the exchanges an HTTP query finds (its `limit` bounds the exchanges).
    Http(HttpQuery),
}

/// The packets of an export, in time order, and the names known for their endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketExport {
    pub packets: Vec<PacketRecord>,
    pub names: Vec<(IpAddr, String)>,
    /// True when `max_export_bytes` cut the export short.
    pub truncated: bool,
}

/// A pcapng file in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapExport {
    pub bytes: Vec<u8>,
    pub packets: u64,
    /// True when `max_export_bytes` cut the export short.
    pub truncated: bool,
}

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub now: i64,
    /// Retention classes purged (TTL in ns, cutoff time).
    pub cutoffs: Vec<(i64, i64)>,
    pub sessions_deleted: u64,
    pub hosts_deleted: u64,
    pub batch_ids_forgotten: u64,
    pub partitions_dropped: usize,
    pub partition_bytes: u64,
    /// The shard folder's size before and after (after compaction).
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// What a shard tells its listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardEvent {
    /// Every batch up to `upto_seq` (shard seq) is searchable in the index.
    Searchable {
        upto_seq: u64,
    },
    PurgeComplete(PurgeReport),
}
