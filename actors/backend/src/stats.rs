//! The node's counters for `/metrics` and its readiness for `/healthz`: ingest by kind, refusals
//! by cause, what the parsers met, query latencies, storage size per shard.
//!
//! Updated per batch or per query (never per packet) with relaxed atomics; read by the telemetry
//! listener's thread at each scrape.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spider_telemetry::{Exposition, Health, Histogram, Source};

/// What a batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    Capture = 0,
    Usage = 1,
    Inventory = 2,
}

const BATCH_KINDS: [&str; 3] = ["capture", "usage", "inventory"];

/// Why a batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, too large, or addressed to a shard that does not exist.
    Invalid = 0,
    /// This node neither owns nor follows the shard's group.
    Placement = 1,
    /// It follows a batch that is not stored (the sender resends from its last acknowledged).
    Gap = 2,
    /// The shard's disk is full.
    StorageFull = 3,
    /// Any other storage failure.
    Storage = 4,
    /// The follower did not take it.
    Replication = 5,
}

const REFUSALS: [&str; 6] = [
    "invalid",
    "placement",
    "gap",
    "storage_full",
    "storage",
    "replication",
];

/// Records stored, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Frame = 0,
    Session = 1,
    Host = 2,
    Dns = 3,
    Http = 4,
    Usage = 5,
    Inventory = 6,
}

const RECORD_KINDS: [&str; 7] = [
    "frame",
    "session",
    "host",
    "dns",
    "http",
    "usage",
    "inventory",
];

/// What the shards' parsers met (deltas added per batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseEvent {
    MalformedFrame = 0,
    DnsMalformed = 1,
    TcpGap = 2,
    TcpLostBytes = 3,
    GapForcedByMemory = 4,
    StreamEvicted = 5,
}

const PARSE_EVENTS: [&str; 6] = [
    "malformed_frame",
    "dns_malformed",
    "tcp_gap",
    "tcp_lost_bytes",
    "gap_forced_by_memory",
    "stream_evicted",
];

/// The caps a query can meet (the answer is cut to them, not refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clamp {
    /// A listing page asked for more than 1000 items.
    PageSize = 0,
    /// A timeline asked for more than 10 000 buckets.
    TimelineBuckets = 1,
    /// A usage table asked for more than 100 000 rows.
    UsageRows = 2,
    /// An export asked for more than 256 MiB (or named no size).
    ExportBytes = 3,
}

const CLAMPS: [&str; 4] = [
    "page_size",
    "timeline_buckets",
    "usage_rows",
    "export_bytes",
];

/// Connections to the node's RPC listener, and those that ended with an error (a message over
/// the size limit, a protocol error, a peer gone).
pub static RPC_CONNECTIONS: AtomicU64 = AtomicU64::new(0);
pub static RPC_CONNECTION_ERRORS: AtomicU64 = AtomicU64::new(0);

/// The query methods timed (fixed names: a bounded label).
pub const QUERY_METHODS: [&str; 12] = [
    "http",
    "sessions",
    "packets",
    "dns",
    "hosts",
    "timeline",
    "network_map",
    "usage",
    "export_pcapng",
    "agents",
    "inventory",
    "other",
];

/// The node's counters.
#[derive(Debug, Default)]
pub struct NodeStats {
    batches: [AtomicU64; 3],
    bytes: [AtomicU64; 3],
    records: [AtomicU64; 7],
    duplicates: AtomicU64,
    refused: [AtomicU64; 6],
    parse: [AtomicU64; 6],
    in_flight: AtomicI64,
    queries: [Histogram; QUERY_METHODS.len()],
    query_errors: [AtomicU64; QUERY_METHODS.len()],
    clamped: [AtomicU64; 4],
    throttled: crate::throttle::ThrottleCounters,
}

impl NodeStats {
    pub fn batch(&self, kind: BatchKind, bytes: u64) {
        self.batches[kind as usize].fetch_add(1, Ordering::Relaxed);
        self.bytes[kind as usize].fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn records(&self, kind: RecordKind, n: u64) {
        if n > 0 {
            self.records[kind as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn stored(&self, duplicate: bool) {
        if duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn refused(&self, cause: Refusal) {
        self.refused[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Refusals of `cause` so far.
    pub fn refusals(&self, cause: Refusal) -> u64 {
        self.refused[cause as usize].load(Ordering::Relaxed)
    }

    pub fn parse(&self, event: ParseEvent, n: u64) {
        if n > 0 {
            self.parse[event as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn push_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn push_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a push of `agent` whose answer is held back for `wait` (over its ingest rate).
    pub fn throttled(&self, agent: &str, wait: Duration) {
        self.throttled.record(agent, wait);
    }

    /// The pushes held back so far, per agent (only agents that were).
    pub fn throttling(&self) -> std::collections::BTreeMap<String, crate::throttle::Throttled> {
        self.throttled.snapshot()
    }

    /// Counts a query cut to a cap.
    pub fn clamped(&self, cap: Clamp) {
        self.clamped[cap as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Times one query of `method` (one of [`QUERY_METHODS`]).
    pub fn query(&self, method: &str, elapsed: Duration, ok: bool) {
        let index = QUERY_METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(QUERY_METHODS.len() - 1);
        self.queries[index].observe(elapsed);
        if !ok {
            self.query_errors[index].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A node's telemetry: its counters and its data folder (sizes are read at each scrape).
#[derive(Debug, Clone)]
pub struct NodeTelemetry {
    pub(crate) stats: Arc<NodeStats>,
    pub(crate) data_dir: PathBuf,
    pub(crate) local_shards: u16,
    pub(crate) min_free_bytes: u64,
    pub(crate) memory: Vec<Arc<spider_storage::ShardMemory>>,
}

impl NodeTelemetry {
    /// The counters.
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// Free bytes on the disk of the data folder (None: it cannot be asked).
    pub fn free_bytes(&self) -> Option<u64> {
        spider_storage::free_bytes(&self.data_dir)
    }

    /// True while the data folder's disk has less room than the shards keep free (ingest is
    /// refused).
    pub fn storage_full(&self) -> bool {
        self.free_bytes()
            .is_some_and(|free| free < self.min_free_bytes)
    }
}

fn load(values: &[AtomicU64]) -> Vec<u64> {
    values.iter().map(|v| v.load(Ordering::Relaxed)).collect()
}

/// Bytes of the files under `path` (0 when it cannot be read).
pub fn folder_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

impl Source for NodeTelemetry {
    fn render(&self, out: &mut Exposition) {
        let s = &self.stats;
        let batches = load(&s.batches);
        let bytes = load(&s.bytes);
        let labelled = |names: &[&'static str], values: &[u64]| -> Vec<(String, u64)> {
            names
                .iter()
                .zip(values)
                .map(|(name, value)| ((*name).to_owned(), *value))
                .collect()
        };
        let write = |out: &mut Exposition,
                     name: &str,
                     help: &str,
                     label: &str,
                     rows: Vec<(String, u64)>| {
            let samples: Vec<([(&str, &str); 1], u64)> = rows
                .iter()
                .map(|(value, n)| ([(label, value.as_str())], *n))
                .collect();
            let refs: Vec<(&[(&str, &str)], u64)> =
                samples.iter().map(|(l, n)| (&l[..], *n)).collect();
            out.counters(name, help, &refs);
        };
        write(
            out,
            "spider_backend_ingest_batches_total",
            "Batches received from agents, by kind (refused ones included).",
            "kind",
            labelled(&BATCH_KINDS, &batches),
        );
        write(
            out,
            "spider_backend_ingest_bytes_total",
            "Bytes of the batches received, as Cap'n Proto messages, by kind.",
            "kind",
            labelled(&BATCH_KINDS, &bytes),
        );
        write(
            out,
            "spider_backend_ingest_records_total",
            "Records stored, by kind (frames, sessions, hosts, DNS, parsed HTTP exchanges, usage, inventory objects).",
            "kind",
            labelled(&RECORD_KINDS, &load(&s.records)),
        );
        out.counter(
            "spider_backend_ingest_duplicates_total",
            "Batches received again (retries) and not stored twice.",
            s.duplicates.load(Ordering::Relaxed),
        );
        write(
            out,
            "spider_backend_ingest_refused_total",
            "Batches refused, by cause: the agent keeps and resends them.",
            "cause",
            labelled(&REFUSALS, &load(&s.refused)),
        );
        write(
            out,
            "spider_backend_parse_events_total",
            "What the shards' parsers met: malformed frames and DNS messages, TCP gaps and lost bytes, holes forced by the memory limit, streams evicted by the session limit.",
            "event",
            labelled(&PARSE_EVENTS, &load(&s.parse)),
        );
        s.throttled.render(out);
        out.gauge(
            "spider_backend_ingest_in_flight",
            "Pushes received and not yet answered (the ingest queue).",
            s.in_flight.load(Ordering::Relaxed) as f64,
        );
        let series: Vec<([(&str, &str); 1], &Histogram)> = QUERY_METHODS
            .iter()
            .zip(&s.queries)
            .map(|(method, h)| ([("method", *method)], h))
            .collect();
        let refs: Vec<(&[(&str, &str)], &Histogram)> =
            series.iter().map(|(l, h)| (&l[..], *h)).collect();
        out.histograms(
            "spider_backend_query_duration_seconds",
            "Time to answer a QueryService call, by method.",
            &refs,
        );
        write(
            out,
            "spider_backend_query_errors_total",
            "QueryService calls that failed, by method.",
            "method",
            labelled(&QUERY_METHODS, &load(&s.query_errors)),
        );
        write(
            out,
            "spider_backend_query_clamped_total",
            "Queries cut to a cap: page size (1000), timeline buckets (10000), usage rows (100000), export bytes (256 MiB).",
            "cap",
            labelled(&CLAMPS, &load(&s.clamped)),
        );
        write(
            out,
            "spider_backend_rpc_connections_total",
            "Cap'n Proto connections accepted, and those that ended with an error (among them a message over the 64 MiB limit).",
            "event",
            vec![
                ("accepted".to_owned(), RPC_CONNECTIONS.load(Ordering::Relaxed)),
                ("failed".to_owned(), RPC_CONNECTION_ERRORS.load(Ordering::Relaxed)),
            ],
        );
        let shards: Vec<(String, u64)> = (0..self.local_shards)
            .map(|index| {
                let path = self.data_dir.join("shards").join(index.to_string());
                (index.to_string(), folder_bytes(&path))
            })
            .collect();
        let samples: Vec<([(&str, &str); 1], f64)> = shards
            .iter()
            .map(|(shard, n)| ([("shard", shard.as_str())], *n as f64))
            .collect();
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_backend_storage_bytes",
            "Bytes on disk of each local storage shard (RocksDB and index).",
            &refs,
        );
        let shard_names: Vec<String> = (0..self.memory.len()).map(|i| i.to_string()).collect();
        let mut samples: Vec<([(&str, &str); 2], f64)> = Vec::new();
        for (shard, memory) in shard_names.iter().zip(&self.memory) {
            for (kind, bytes) in memory.parts() {
                samples.push(([("shard", shard.as_str()), ("kind", kind)], bytes as f64));
            }
        }
        let refs: Vec<(&[(&str, &str)], f64)> = samples.iter().map(|(l, n)| (&l[..], *n)).collect();
        out.gauges(
            "spider_backend_storage_memory_bytes",
            "Memory of each local shard's RocksDB: memtables, block cache, table readers (read every 5 s).",
            &refs,
        );
        out.gauge(
            "spider_backend_storage_free_bytes",
            "Free bytes on the disk of the data folder.",
            self.free_bytes().unwrap_or(0) as f64,
        );
        out.gauge(
            "spider_backend_storage_min_free_bytes",
            "Free bytes the shards keep: below it ingest is refused (min_free_bytes).",
            self.min_free_bytes as f64,
        );
        out.gauge(
            "spider_backend_storage_full",
            "1 while the data folder's disk has less free space than the shards keep: ingest is refused.",
            if self.storage_full() { 1.0 } else { 0.0 },
        );
    }

    fn health(&self) -> Health {
        let full = self.storage_full();
        Health::default()
            .check(
                "shards_open",
                true,
                format!("{} local shards", self.local_shards),
            )
            .check(
                "storage_writable",
                !full,
                if full {
                    "a shard's disk is full: ingest is refused until space returns"
                } else {
                    "ok"
                },
            )
    }
}
