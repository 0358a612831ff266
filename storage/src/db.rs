//! The RocksDB of a shard: one column family per data kind, their options and merge operators.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options, DB,
};

use crate::error::{Result, StorageError};
use crate::merge;

pub(crate) const CF_PACKETS: &str = "packets";
pub(crate) const CF_SESSIONS: &str = "sessions";
pub(crate) const CF_SESSION_IDS: &str = "session_ids";
pub(crate) const CF_HTTP: &str = "http";
pub(crate) const CF_HOSTS: &str = "hosts";
pub(crate) const CF_DNS: &str = "dns";
pub(crate) const CF_USAGE: &str = "usage";
pub(crate) const CF_BATCHES: &str = "batches";
pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_TIMELINE_ROLLUP: &str = "timeline_rollup";
pub(crate) const CF_MAP_ROLLUP: &str = "map_rollup";
pub(crate) const CF_INVENTORY: &str = "inventory";

pub(crate) const ALL_CFS: [&str; 12] = [
    CF_PACKETS,
    CF_SESSIONS,
    CF_SESSION_IDS,
    CF_HTTP,
    CF_HOSTS,
    CF_DNS,
    CF_USAGE,
    CF_BATCHES,
    CF_META,
    CF_TIMELINE_ROLLUP,
    CF_MAP_ROLLUP,
    CF_INVENTORY,
];

/// How a column family is read, which decides its options.
#[derive(Clone, Copy)]
enum Access {
    /// Scanned by time range; values already compressed by us (packets).
    ScanPrecompressed,
    /// Scanned by time range.
    Scan,
    /// Read by exact key: bloom filters pay.
    Point,
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let access = match name {
        CF_PACKETS => Access::ScanPrecompressed,
        CF_HTTP | CF_DNS | CF_USAGE | CF_SESSIONS | CF_TIMELINE_ROLLUP | CF_MAP_ROLLUP => {
            Access::Scan
        }
        _ => Access::Point,
    };
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    let mut options = Options::default();
    match access {
        Access::ScanPrecompressed => {
            table.set_block_size(64 * 1024);
            options.set_compression_type(DBCompressionType::None);
        }
        Access::Scan => {
            table.set_block_size(32 * 1024);
            options.set_compression_type(DBCompressionType::Lz4);
        }
        Access::Point => {
            table.set_bloom_filter(10.0, false);
            options.set_compression_type(DBCompressionType::Lz4);
        }
    }
    // Sessions are looked up by key when updated, as well as scanned.
    if name == CF_SESSIONS {
        table.set_bloom_filter(10.0, false);
    }
    options.set_block_based_table_factory(&table);
    options.set_level_compaction_dynamic_level_bytes(true);
    match name {
        CF_USAGE => options.set_merge_operator_associative("spider_usage_add", merge::usage_merge),
        CF_SESSIONS => {
            options.set_merge_operator_associative("spider_session_newest", merge::session_merge);
        }
        CF_HOSTS => options.set_merge_operator_associative("spider_host_span", merge::host_merge),
        CF_TIMELINE_ROLLUP | CF_MAP_ROLLUP => options
            .set_merge_operator_associative("spider_counters_add", crate::shard::counters_merge),
        _ => {}
    }
    options
}

/// Opens (or creates) the database at `path` with every column family.
pub(crate) fn open(path: &Path, block_cache_bytes: usize) -> Result<DB> {
    std::fs::create_dir_all(path).map_err(|error| StorageError::io(path, error))?;
    let cache = Cache::new_lru_cache(block_cache_bytes);
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_max_background_jobs(2);
    options.set_bytes_per_sync(1024 * 1024);
    // Keep the WAL bounded: a column family whose memtable holds the oldest WAL gets flushed.
    options.set_max_total_wal_size(256 * 1024 * 1024);
    options.set_keep_log_file_num(3);
    let descriptors = ALL_CFS
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, &cache)));
    Ok(DB::open_cf_descriptors(&options, path, descriptors)?)
}

/// The handle of a column family this module created.
pub(crate) fn cf<'a>(db: &'a DB, name: &'static str) -> Result<&'a ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| StorageError::corrupt(name, "column family", "missing"))
}
