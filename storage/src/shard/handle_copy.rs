//! Copying a whole shard to another node (a shard group moving to a new owner, or a new
//! follower catching up): the raw entries of every column family leave one shard in chunks
//! resumable by position (`export_chunk`), and enter another that was emptied first (`clear`,
//! `import_chunk`); `finish_import` reloads the counters and rebuilds the full-text index from
//! what arrived, as recovery does for a lost index.
//!
//! The copy is consistent only while nothing writes to the source shard: the backend stops
//! ingest into the group for the time of the copy.

use rocksdb::{IteratorMode, WriteBatch};

use super::Shard;
use crate::db::{cf, ALL_CFS};
use crate::error::{Result, StorageError};
use crate::meta::{self, Classes};

/// One raw entry: column family (index in the shard's list of families), key, value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub family: u8,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// A chunk of a shard's entries, and where the next one starts (`None`: the copy is complete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawChunk {
    pub entries: Vec<RawEntry>,
    pub next: Option<CopyPosition>,
}

/// The last entry a chunk held: the next chunk starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPosition {
    pub family: u8,
    pub key: Vec<u8>,
}

fn family_name(family: u8) -> Result<&'static str> {
    ALL_CFS
        .get(usize::from(family))
        .copied()
        .ok_or_else(|| StorageError::InvalidRequest(format!("no column family {family}")))
}

impl Shard {
    /// The entries after `after` (from the first when `None`), about `max_bytes` of them.
    pub fn export_chunk(&self, after: Option<&CopyPosition>, max_bytes: usize) -> Result<RawChunk> {
        let mut chunk = RawChunk::default();
        let mut bytes = 0usize;
        let first_family = after.map_or(0, |position| position.family);
        family_name(first_family)?;
        for family in first_family..u8::try_from(ALL_CFS.len()).unwrap_or(u8::MAX) {
            let handle = cf(&self.db, family_name(family)?)?;
            let mut iter = self.db.raw_iterator_cf(handle);
            match after.filter(|position| position.family == family) {
                Some(position) => {
                    iter.seek(&position.key);
                    if iter.key() == Some(position.key.as_slice()) {
                        iter.next();
                    }
                }
                None => iter.seek_to_first(),
            }
            while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
                if bytes >= max_bytes && !chunk.entries.is_empty() {
                    chunk.next = chunk.entries.last().map(|last| CopyPosition {
                        family: last.family,
                        key: last.key.clone(),
                    });
                    return Ok(chunk);
                }
                bytes += key.len() + value.len();
                chunk.entries.push(RawEntry {
                    family,
                    key: key.to_vec(),
                    value: value.to_vec(),
                });
                iter.next();
            }
            iter.status()?;
        }
        Ok(chunk)
    }

    /// Empties the shard (every column family and the index) before a copy arrives.
    pub fn clear(&mut self) -> Result<()> {
        for name in ALL_CFS {
            let handle = cf(&self.db, name)?;
            let mut batch = WriteBatch::default();
            for item in self.db.iterator_cf(handle, IteratorMode::Start) {
                let (key, _) = item?;
                batch.delete_cf(handle, key);
                if batch.len() >= 10_000 {
                    self.db.write(std::mem::take(&mut batch))?;
                }
            }
            self.db.write(batch)?;
        }
        self.index.drop_all();
        self.reload_counters()?;
        tracing::info!(path = %self.path().display(), "shard cleared for a copy");
        Ok(())
    }

    /// Writes a chunk of another shard's entries as they are.
    pub fn import_chunk(&mut self, entries: &[RawEntry]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(
                cf(&self.db, family_name(entry.family)?)?,
                &entry.key,
                &entry.value,
            );
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// After the last chunk: durable, counters as the source had them, index rebuilt.
    pub fn finish_import(&mut self) -> Result<()> {
        for name in ALL_CFS {
            self.db.flush_cf(cf(&self.db, name)?)?;
        }
        self.db.flush_wal(true)?;
        self.index.drop_all();
        self.reload_counters()?;
        self.recover(&[])?;
        self.commit_index()?;
        tracing::info!(
            path = %self.path().display(),
            last_seq = self.last_seq,
            partitions = self.index.partition_ids().len(),
            "shard copy imported"
        );
        Ok(())
    }

    fn reload_counters(&mut self) -> Result<()> {
        self.classes = Classes::load(&self.db)?;
        self.last_seq = meta::last_seq(&self.db)?;
        self.indexed_seq = meta::indexed_seq(&self.db)?;
        self.searchable.send_replace(self.indexed_seq);
        Ok(())
    }
}
