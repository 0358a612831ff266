//! What a shard holds in memory — RocksDB's memtables, its block cache, its table readers —
//! read from RocksDB's properties on the shard's own thread (at most every few seconds, from the
//! index tick) and published as atomics for the node's `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Shard;
use crate::db::{cf, ALL_CFS};

/// How often the properties are read.
const EVERY: Duration = Duration::from_secs(5);

/// A shard's memory, in bytes, as last read.
#[derive(Debug, Default)]
pub struct ShardMemory {
    /// Active and immutable memtables of every column family.
    pub memtables: AtomicU64,
    /// The block cache shared by the shard's column families.
    pub block_cache: AtomicU64,
    /// Index and filter blocks of open SST files held outside the cache.
    pub table_readers: AtomicU64,
}

impl ShardMemory {
    /// (kind, bytes) of each part.
    pub fn parts(&self) -> [(&'static str, u64); 3] {
        [
            ("memtables", self.memtables.load(Ordering::Relaxed)),
            ("block_cache", self.block_cache.load(Ordering::Relaxed)),
            ("table_readers", self.table_readers.load(Ordering::Relaxed)),
        ]
    }
}

impl Shard {
    /// Reads the properties again when they are older than [`EVERY`].
    pub(super) fn refresh_memory(&mut self) {
        if self.memory_read_at.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        self.memory_read_at = Some(Instant::now());
        let (mut memtables, mut readers, mut cache) = (0, 0, 0);
        for name in ALL_CFS {
            let Ok(handle) = cf(&self.db, name) else {
                continue;
            };
            let read = |property: &str| {
                self.db
                    .property_int_value_cf(handle, property)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            };
            memtables += read("rocksdb.cur-size-all-mem-tables");
            readers += read("rocksdb.estimate-table-readers-mem");
            // One cache for every column family: each reports the whole.
            cache = read("rocksdb.block-cache-usage").max(cache);
        }
        self.memory.memtables.store(memtables, Ordering::Relaxed);
        self.memory.table_readers.store(readers, Ordering::Relaxed);
        self.memory.block_cache.store(cache, Ordering::Relaxed);
    }
}
