//! The full-text index over HTTP exchanges: tantivy partitions, one per (retention class, time
//! window), in `index/<class>/<window start ns>/`, so that retention drops whole directories.
//!
//! Each commit carries a payload: the shard sequence number of the last batch whose documents
//! it holds. The index may lag RocksDB (documents are committed every `commit_interval` or
//! `commit_docs`); on open the shard replays what the index misses (see `shard::recover`).

pub(crate) mod collect;
pub(crate) mod schema;
pub(crate) mod search;
mod translate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use spider_model::HttpExchange;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::RangeQuery;
use tantivy::schema::{Schema, Term};
use tantivy::store::Compressor;
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy};

pub(crate) use collect::{MapCounts, TimelineCounts};
pub(crate) use schema::Fields;
pub(crate) use translate::{translate, Translation};

use crate::config::{nanos, IndexConfig, TextIndexing};
use crate::error::{Result, StorageError};
use crate::keys::HttpKey;

/// One partition: the exchanges of one retention class whose request started in one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PartitionId {
    pub window: i64,
    pub class: u16,
}

struct Partition {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    /// Documents added since the last commit.
    dirty: bool,
    /// The shard seq of the last commit (its payload); 0 for none.
    committed_seq: u64,
}

/// The partitions of one shard.
pub(crate) struct IndexSet {
    root: PathBuf,
    window_ns: i64,
    writer_memory: usize,
    schema: Schema,
    fields: Fields,
    partitions: BTreeMap<PartitionId, Partition>,
    pending_docs: usize,
    last_commit: Instant,
}

impl std::fmt::Debug for IndexSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexSet")
            .field("root", &self.root)
            .field("partitions", &self.partitions.len())
            .field("pending_docs", &self.pending_docs)
            .finish()
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |error| StorageError::io(path, error)
}

/// The file that keeps the width the partitions under an index root were cut with.
const WIDTH_FILE: &str = "partition_width_ns";

/// The partition width of the index at `root`: the one it was created with (partitions are named
/// by their start, and queries and retention find them by their width), else `configured`, kept
/// for the next open.
fn partition_width(root: &Path, configured: i64) -> Result<i64> {
    let path = root.join(WIDTH_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: i64 = text
                .trim()
                .parse()
                .ok()
                .filter(|width| *width > 0)
                .ok_or_else(|| StorageError::corrupt("index", WIDTH_FILE, "not a width"))?;
            if stored != configured {
                tracing::warn!(
                    stored_ns = stored,
                    configured_ns = configured,
                    "the index keeps the partition width it was created with"
                );
            }
            Ok(stored)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let has_partitions = std::fs::read_dir(root)
                .map_err(io_error(root))?
                .any(|entry| entry.is_ok_and(|e| e.path().is_dir()));
            // An index written before the width was kept was cut in hours.
            let width = if has_partitions {
                3_600_000_000_000
            } else {
                configured
            };
            std::fs::write(&path, width.to_string()).map_err(io_error(&path))?;
            Ok(width)
        }
        Err(error) => Err(StorageError::io(&path, error)),
    }
}

impl IndexSet {
    /// Opens the partitions under `root`. Partitions that do not open are removed and returned,
    /// to be rebuilt from RocksDB.
    pub fn open(root: &Path, config: &IndexConfig) -> Result<(Self, Vec<PartitionId>)> {
        std::fs::create_dir_all(root).map_err(io_error(root))?;
        let (schema, fields) = schema::build();
        let mut set = Self {
            root: root.to_path_buf(),
            window_ns: partition_width(root, nanos(config.window).max(1))?,
            writer_memory: config.writer_memory_bytes.max(15_000_000),
            schema,
            fields,
            partitions: BTreeMap::new(),
            pending_docs: 0,
            last_commit: Instant::now(),
        };
        let mut broken = Vec::new();
        for class_entry in std::fs::read_dir(root).map_err(io_error(root))? {
            let class_entry = class_entry.map_err(io_error(root))?;
            let Some(class) = class_entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u16>().ok())
            else {
                continue;
            };
            let class_dir = class_entry.path();
            for entry in std::fs::read_dir(&class_dir).map_err(io_error(&class_dir))? {
                let entry = entry.map_err(io_error(&class_dir))?;
                let Some(window) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<i64>().ok())
                else {
                    continue;
                };
                let id = PartitionId { window, class };
                match set.open_partition(&entry.path(), false) {
                    Ok(partition) => {
                        set.partitions.insert(id, partition);
                    }
                    Err(error) => {
                        tracing::warn!(?id, %error, "index partition does not open; rebuilding it");
                        let _ = std::fs::remove_dir_all(entry.path());
                        broken.push(id);
                    }
                }
            }
        }
        Ok((set, broken))
    }

    fn open_partition(&self, dir: &Path, create: bool) -> Result<Partition> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let directory = MmapDirectory::open(dir)
            .map_err(|error| StorageError::io(dir, std::io::Error::other(error.to_string())))?;
        let index = if create {
            let settings = IndexSettings {
                docstore_compression: Compressor::None,
                docstore_compress_dedicated_thread: false,
                ..IndexSettings::default()
            };
            Index::builder()
                .schema(self.schema.clone())
                .settings(settings)
                .tokenizers(schema::tokenizers())
                .open_or_create(directory)?
        } else {
            let index = Index::open(directory)?;
            if index.schema() != self.schema {
                return Err(StorageError::corrupt(
                    "index",
                    "schema",
                    "differs from this version's",
                ));
            }
            index
        };
        let mut index = index;
        index.set_tokenizers(schema::tokenizers());
        let committed_seq = index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse().ok())
            .unwrap_or(0);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Partition {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: None,
            dirty: false,
            committed_seq,
        })
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    pub fn window_of(&self, time: i64) -> i64 {
        time.div_euclid(self.window_ns)
            .saturating_mul(self.window_ns)
    }

    pub fn window_ns(&self) -> i64 {
        self.window_ns
    }

    pub fn contains(&self, id: PartitionId) -> bool {
        self.partitions.contains_key(&id)
    }

    /// The seq of the last commit of a partition (0 when it has none or does not exist).
    pub fn committed_seq(&self, id: PartitionId) -> u64 {
        self.partitions.get(&id).map_or(0, |p| p.committed_seq)
    }

    pub fn pending_docs(&self) -> usize {
        self.pending_docs
    }

    pub fn partition_ids(&self) -> Vec<PartitionId> {
        self.partitions.keys().copied().collect()
    }

    fn writer(&mut self, id: PartitionId) -> Result<&IndexWriter> {
        if !self.partitions.contains_key(&id) {
            let dir = self
                .root
                .join(id.class.to_string())
                .join(id.window.to_string());
            let partition = self.open_partition(&dir, true)?;
            self.partitions.insert(id, partition);
        }
        let memory = self.writer_memory;
        let partition = self
            .partitions
            .get_mut(&id)
            .ok_or_else(|| StorageError::corrupt("index", "partition", "vanished"))?;
        partition.dirty = true;
        if partition.writer.is_none() {
            let options = IndexWriterOptions::builder()
                .memory_budget_per_thread(memory)
                .num_worker_threads(1)
                .num_merge_threads(1)
                .build();
            partition.writer = Some(partition.index.writer_with_options(options)?);
        }
        partition
            .writer
            .as_ref()
            .ok_or_else(|| StorageError::corrupt("index", "writer", "vanished"))
    }

    /// Adds an exchange (not searchable before the next commit).
    pub fn add(
        &mut self,
        key: &HttpKey,
        whisperer: &str,
        exchange: &HttpExchange,
        text: TextIndexing,
    ) -> Result<()> {
        let id = PartitionId {
            window: self.window_of(key.time),
            class: key.class,
        };
        let doc = schema::document(&self.fields, key, whisperer, exchange, text);
        self.writer(id)?.add_document(doc)?;
        self.pending_docs += 1;
        Ok(())
    }

    /// Deletes the documents of partition `id` whose time is in `[from, to)`, before they are
    /// added again from RocksDB.
    pub fn delete_range(&mut self, id: PartitionId, from: i64, to: i64) -> Result<()> {
        let time = self.fields.time;
        let query = RangeQuery::new(
            std::ops::Bound::Included(Term::from_field_i64(time, from)),
            std::ops::Bound::Excluded(Term::from_field_i64(time, to)),
        );
        self.writer(id)?.delete_query(Box::new(query))?;
        Ok(())
    }

    /// True when pending documents should be committed now.
    pub fn commit_due(&self, config: &IndexConfig) -> bool {
        self.pending_docs >= config.commit_docs
            || (self.pending_docs > 0 && self.last_commit.elapsed() >= config.commit_interval)
            || (self.pending_docs == 0 && self.partitions.values().any(|p| p.dirty))
    }

    /// Commits every partition with new documents, with `seq` as payload, and reloads their
    /// readers; writers of partitions that got nothing since the previous commit are closed.
    pub fn commit(&mut self, seq: u64) -> Result<()> {
        for (id, partition) in &mut self.partitions {
            if !partition.dirty {
                partition.writer = None;
                continue;
            }
            if let Some(writer) = partition.writer.as_mut() {
                let mut prepared = writer.prepare_commit()?;
                prepared.set_payload(&seq.to_string());
                prepared.commit()?;
                partition.reader.reload()?;
                partition.committed_seq = seq;
                tracing::debug!(?id, seq, "index partition committed");
            }
            partition.dirty = false;
        }
        self.pending_docs = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Removes every partition (the shard is about to receive a copy of another's data).
    pub fn drop_all(&mut self) {
        for (id, partition) in std::mem::take(&mut self.partitions) {
            let dir = partition.dir.clone();
            drop(partition);
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(?id, %error, "could not remove an index partition");
            }
        }
        self.pending_docs = 0;
    }

    /// Removes the partitions whose window ended more than their class's TTL before `now`.
    /// Returns how many, and their bytes on disk.
    pub fn drop_expired(&mut self, ttl_of_class: &BTreeMap<u16, i64>, now: i64) -> (usize, u64) {
        let expired: Vec<PartitionId> = self
            .partitions
            .keys()
            .filter(|id| {
                ttl_of_class.get(&id.class).is_some_and(|ttl| {
                    id.window
                        .saturating_add(self.window_ns)
                        .saturating_add(*ttl)
                        <= now
                })
            })
            .copied()
            .collect();
        let mut bytes = 0;
        for id in &expired {
            if let Some(partition) = self.partitions.remove(id) {
                let dir = partition.dir.clone();
                drop(partition);
                bytes += crate::disk::dir_size(&dir);
                if let Err(error) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(?id, %error, "could not remove an expired index partition");
                }
            }
        }
        (expired.len(), bytes)
    }

    /// The partitions overlapping `[from, to)`, newest window first.
    pub(crate) fn overlapping(&self, from: i64, to: i64) -> Vec<(PartitionId, tantivy::Searcher)> {
        let first = self.window_of(from);
        self.partitions
            .iter()
            .rev()
            .filter(|(id, _)| id.window >= first && id.window < to)
            .map(|(id, partition)| (*id, partition.reader.searcher()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn config(window: Duration) -> IndexConfig {
        IndexConfig {
            window,
            ..IndexConfig::default()
        }
    }

    #[test]
    fn an_index_keeps_the_partition_width_it_was_created_with() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let (set, _) = IndexSet::open(&root, &config(Duration::from_secs(60))).unwrap();
        assert_eq!(set.window_ns(), 60_000_000_000);
        drop(set);
        let (set, _) = IndexSet::open(&root, &config(Duration::from_secs(3600))).unwrap();
        assert_eq!(set.window_ns(), 60_000_000_000);
    }

    #[test]
    fn an_index_from_before_the_width_was_kept_is_read_in_hours() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        std::fs::create_dir_all(root.join("0").join("3600000000000")).unwrap();
        let (set, broken) = IndexSet::open(&root, &config(Duration::from_secs(60))).unwrap();
        assert_eq!(set.window_ns(), 3_600_000_000_000);
        assert_eq!(broken.len(), 1, "an empty partition folder does not open");
    }

    #[test]
    fn a_damaged_width_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(WIDTH_FILE), "wide").unwrap();
        let error = IndexSet::open(&root, &config(Duration::from_secs(60)))
            .unwrap_err()
            .to_string();
        assert!(error.contains(WIDTH_FILE), "{error}");
    }
}
