//! Shard configuration: where it lives, how writes are made durable, retention, indexing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// When the write-ahead log reaches the disk, relative to the acknowledgement of a batch.
///
/// The WAL is always on: an acknowledged batch is in the WAL before `ingest` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalSync {
    /// `fsync` the WAL before acknowledging each batch: the batch survives power loss and kernel
    /// crashes. Costs one `fsync` per batch.
    Always,
    /// The WAL is written to the OS page cache before the acknowledgement, and reaches the disk
    /// when the kernel writes it back: the batch survives the process being killed (`kill -9`,
    /// a panic, an OOM kill), not power loss or a kernel crash.
    #[default]
    OsBuffered,
}

/// What of an HTTP exchange goes into the full-text index beyond the always-indexed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextIndexing {
    /// Index request and response header values.
    pub headers: bool,
    /// Index decoded text bodies (UTF-8 ones only).
    pub bodies: bool,
    /// At most this many bytes of each body are indexed.
    pub body_bytes: usize,
}

impl Default for TextIndexing {
    fn default() -> Self {
        Self {
            headers: true,
            bodies: true,
            body_bytes: 16 * 1024,
        }
    }
}

/// The tantivy index of a shard.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Width of one index partition (one directory per retention class and window).
    pub window: Duration,
    /// Pending documents are committed (made searchable) at least this often.
    pub commit_interval: Duration,
    /// … or as soon as this many documents are pending.
    pub commit_docs: usize,
    /// Memory budget of one partition's writer (tantivy needs at least 15 MB).
    pub writer_memory_bytes: usize,
    /// Default for whisperers without an entry in `whisperer_text`.
    pub text: TextIndexing,
    pub whisperer_text: HashMap<String, TextIndexing>,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3600),
            commit_interval: Duration::from_secs(1),
            commit_docs: 20_000,
            writer_memory_bytes: 32 * 1024 * 1024,
            text: TextIndexing::default(),
            whisperer_text: HashMap::new(),
        }
    }
}

impl IndexConfig {
    pub fn text_for(&self, whisperer: &str) -> TextIndexing {
        self.whisperer_text
            .get(whisperer)
            .copied()
            .unwrap_or(self.text)
    }
}

/// Everything a shard needs to open.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// The shard's folder: `db/` (RocksDB) and `index/` (tantivy partitions) inside.
    pub path: PathBuf,
    pub sync: WalSync,
    /// How long capture data (packets, sessions, HTTP, DNS, hosts) is kept by default.
    pub default_ttl: Duration,
    /// Per-whisperer retention, overriding `default_ttl`.
    pub whisperer_ttl: HashMap<String, Duration>,
    /// How long usage counters are kept.
    pub usage_ttl: Duration,
    /// How long a batch id is remembered to acknowledge retries without writing twice.
    pub dedupe_window: Duration,
    /// How often the actor runs `purge`.
    pub purge_interval: Duration,
    /// The largest pcapng export, in bytes.
    pub max_export_bytes: usize,
    /// RocksDB block cache shared by the column families of this shard.
    pub block_cache_bytes: usize,
    pub index: IndexConfig,
    /// Free bytes kept on the shard's disk: below it a new batch is refused
    /// ([`crate::StorageError::DiskFull`]) before anything is written, so that RocksDB never
    /// meets a full disk (a failed WAL write leaves the database in an error state, and some
    /// builds abort the process on it).
    pub min_free_bytes: u64,
}

/// The default of [`ShardConfig::min_free_bytes`]: room for the memtables to be flushed
/// (the WAL is bounded to 256 MiB), index commits and compactions.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;

impl ShardConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sync: WalSync::default(),
            default_ttl: Duration::from_secs(7 * 24 * 3600),
            whisperer_ttl: HashMap::new(),
            usage_ttl: Duration::from_secs(30 * 24 * 3600),
            dedupe_window: Duration::from_secs(24 * 3600),
            purge_interval: Duration::from_secs(3600),
            max_export_bytes: 256 * 1024 * 1024,
            block_cache_bytes: 64 * 1024 * 1024,
            index: IndexConfig::default(),
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }

    /// The retention of `whisperer`'s data.
    pub fn ttl_for(&self, whisperer: &str) -> Duration {
        self.whisperer_ttl
            .get(whisperer)
            .copied()
            .unwrap_or(self.default_ttl)
    }
}

/// A duration as epoch nanoseconds, saturating.
pub(crate) fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}
