//! The shard engine: one RocksDB and its tantivy partitions, owned exclusively, driven
//! synchronously (the actor in `actor.rs` drains requests into it on its own thread).
//!
//! One `handle_<kind>.rs` per request kind, as `impl Shard` blocks.

mod handle_copy;
mod handle_dns;
mod handle_hosts;
mod handle_http;
mod handle_ingest;
mod handle_map;
mod handle_packets;
mod handle_pcap;
mod rollup;
pub use handle_copy::{CopyPosition, RawChunk, RawEntry};
pub use handle_pcap::write_pcapng;
pub(crate) use rollup::counters_merge;
mod handle_inventory;
mod handle_purge;
mod handle_resume;
mod handle_sessions;
mod handle_timeline;
mod handle_usage;
mod memory;
mod recover;
mod scan;
#[cfg(test)]
mod teams_tests;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::DB;

pub use memory::ShardMemory;
use tokio::sync::{broadcast, watch};

use crate::config::ShardConfig;
use crate::db::{self, ALL_CFS};
use crate::error::Result;
use crate::index::IndexSet;
use crate::meta::{self, Classes};
use crate::types::ShardEvent;

/// A storage shard. See the crate documentation for its layout and guarantees.
///
/// Dropping a shard closes RocksDB without committing the index (as a crash would): what was
/// not committed is indexed again at the next open. Call `commit_index` (the actor does when it
/// stops) for a clean shutdown.
pub struct Shard {
    config: ShardConfig,
    db: DB,
    index: IndexSet,
    classes: Classes,
    /// The shard seq of the last batch written.
    last_seq: u64,
    /// Every batch up to this seq is searchable.
    indexed_seq: u64,
    events: broadcast::Sender<ShardEvent>,
    searchable: watch::Sender<u64>,
    /// What it holds in memory (RocksDB), for `/metrics`, and when that was last read.
    memory: std::sync::Arc<ShardMemory>,
    memory_read_at: Option<std::time::Instant>,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("path", &self.config.path)
            .field("last_seq", &self.last_seq)
            .field("indexed_seq", &self.indexed_seq)
            .field("index", &self.index)
            .finish()
    }
}

/// Now, in epoch nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Shard {
    /// Opens the shard in `config.path` (creating it), and brings the index up to date with
    /// RocksDB: partitions that are missing or do not open are rebuilt, batches written after
    /// the last index commit are indexed again.
    pub fn open(config: ShardConfig) -> Result<Self> {
        let db = db::open(&config.path.join("db"), config.block_cache_bytes)?;
        let (index, broken) = IndexSet::open(&config.path.join("index"), &config.index)?;
        let classes = Classes::load(&db)?;
        let last_seq = meta::last_seq(&db)?;
        let indexed_seq = meta::indexed_seq(&db)?;
        let (events, _) = broadcast::channel(1024);
        let (searchable, _) = watch::channel(indexed_seq);
        let mut shard = Self {
            config,
            db,
            index,
            classes,
            last_seq,
            indexed_seq,
            events,
            searchable,
            memory: std::sync::Arc::default(),
            memory_read_at: None,
        };
        shard.recover(&broken)?;
        shard.ensure_rollups()?;
        tracing::info!(
            path = %shard.config.path.display(),
            last_seq = shard.last_seq,
            partitions = shard.index.partition_ids().len(),
            "shard open"
        );
        Ok(shard)
    }

    /// Sets how long the Whisperer's data stored from now on is kept.
    pub fn set_whisperer_retention(&mut self, whisperer: String, ttl: std::time::Duration) {
        self.config.whisperer_ttl.insert(whisperer, ttl);
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    pub fn path(&self) -> &Path {
        &self.config.path
    }

    pub fn db_path(&self) -> PathBuf {
        self.config.path.join("db")
    }

    /// Events: searchable positions, purges. Subscribe before the action you wait for.
    pub fn subscribe(&self) -> broadcast::Receiver<ShardEvent> {
        self.events.subscribe()
    }

    /// The shard seq up to which every batch is searchable (`wait_for` on it).
    pub fn searchable(&self) -> watch::Receiver<u64> {
        self.searchable.subscribe()
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn indexed_seq(&self) -> u64 {
        self.indexed_seq
    }

    /// Commits the index when `commit_interval` or `commit_docs` says so. The actor calls it on
    /// a timer; `ingest` calls it after each batch.
    pub fn tick(&mut self) -> Result<()> {
        self.refresh_memory();
        if self.index.commit_due(&self.config.index) {
            self.commit_index()?;
        }
        Ok(())
    }

    /// What the shard holds in memory, updated every few seconds by [`Shard::tick`].
    pub fn memory(&self) -> std::sync::Arc<ShardMemory> {
        self.memory.clone()
    }

    /// Commits whatever the index holds uncommitted, and tells the listeners.
    pub fn commit_index(&mut self) -> Result<()> {
        self.index.commit(self.last_seq)?;
        meta::put_indexed_seq(&self.db, self.last_seq)?;
        self.set_searchable(self.last_seq);
        Ok(())
    }

    fn set_searchable(&mut self, seq: u64) {
        if seq <= self.indexed_seq && *self.searchable.borrow() >= seq {
            return;
        }
        self.indexed_seq = self.indexed_seq.max(seq);
        self.searchable.send_replace(self.indexed_seq);
        let _ = self.events.send(ShardEvent::Searchable {
            upto_seq: self.indexed_seq,
        });
    }

    fn emit(&self, event: ShardEvent) {
        let _ = self.events.send(event);
    }

    /// Writes the memtables to disk and commits the index (shutdown, tests measuring disk).
    pub fn flush(&mut self) -> Result<()> {
        self.commit_index()?;
        for name in ALL_CFS {
            self.db.flush_cf(db::cf(&self.db, name)?)?;
        }
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// The size of the shard folder on disk.
    pub fn disk_bytes(&self) -> u64 {
        crate::disk::dir_size(&self.config.path)
    }

    /// The folder of the tantivy partitions.
    pub fn index_root(&self) -> PathBuf {
        self.config.path.join("index")
    }
}
