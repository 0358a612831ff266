//! Bringing the index up to date with RocksDB when a shard opens.
//!
//! The ingest log (`batches` column family, `l` · shard seq) records, per batch, the time span
//! of its exchanges per retention class. Batches after the oldest partition commit (or `meta`
//! `indexed_seq`, if older) are replayed: in each partition they touched whose own commit payload is
//! older, the span is deleted from the index and re-added from RocksDB (so a partition that did
//! commit them is not given duplicates). Partitions that are missing altogether (a deleted or
//! damaged directory) are rebuilt from the `http` column family.

use std::collections::{BTreeMap, BTreeSet};

use rocksdb::{Direction, IteratorMode};
use spider_model::HttpExchange;

use super::Shard;
use crate::codec::{decode, Stored};
use crate::db::{cf, CF_BATCHES, CF_HTTP};
use crate::error::Result;
use crate::index::PartitionId;
use crate::keys::{log_key, time_prefix, HttpKey};

/// A batch's exchanges in one retention class: `(class, earliest, latest)` request start.
pub(crate) type LogSpan = (u16, i64, i64);

impl Shard {
    pub(super) fn recover(&mut self, broken: &[PartitionId]) -> Result<()> {
        let mut rebuilt = BTreeSet::new();
        for id in self.partitions_in_rocksdb()? {
            if !self.index.contains(id) || broken.contains(&id) {
                tracing::warn!(?id, "index partition missing: rebuilding it from rocksdb");
                let end = id.window.saturating_add(self.index.window_ns());
                self.reindex(id.class, id.window, end, None)?;
                rebuilt.insert(id);
            }
        }
        // Spans of the batches the index may miss, per partition.
        let mut spans: BTreeMap<PartitionId, Vec<(i64, i64)>> = BTreeMap::new();
        let batches = cf(&self.db, CF_BATCHES)?;
        // From the oldest commit of any partition: a partition can be behind `indexed_seq` if
        // its folder was restored or lost its last commit.
        let oldest = self
            .index
            .partition_ids()
            .into_iter()
            .map(|id| self.index.committed_seq(id))
            .min()
            .unwrap_or(self.indexed_seq)
            .min(self.indexed_seq);
        let start = log_key(oldest.saturating_add(1));
        for item in self
            .db
            .iterator_cf(batches, IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            let Some(seq) = key
                .strip_prefix(b"l")
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
            else {
                break;
            };
            let entry: Vec<LogSpan> = decode(CF_BATCHES, "ingest log", &value)?;
            for (class, first, last) in entry {
                let window_ns = self.index.window_ns();
                let mut window = self.index.window_of(first);
                while window <= last {
                    let id = PartitionId { window, class };
                    if !rebuilt.contains(&id) && self.index.committed_seq(id) < seq {
                        let from = first.max(window);
                        let to = last.saturating_add(1).min(window.saturating_add(window_ns));
                        spans.entry(id).or_default().push((from, to));
                    }
                    match window.checked_add(window_ns) {
                        Some(next) => window = next,
                        None => break,
                    }
                }
            }
        }
        let mut replayed = 0;
        for (id, mut ranges) in spans {
            ranges.sort_unstable();
            let mut merged: Vec<(i64, i64)> = Vec::new();
            for (from, to) in ranges {
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(to),
                    _ => merged.push((from, to)),
                }
            }
            for (from, to) in merged {
                replayed += self.reindex(id.class, from, to, Some(id))?;
            }
        }
        if !rebuilt.is_empty() || replayed > 0 || self.indexed_seq < self.last_seq {
            tracing::info!(
                rebuilt = rebuilt.len(),
                replayed,
                from_seq = self.indexed_seq,
                to_seq = self.last_seq,
                "index caught up with rocksdb"
            );
            self.commit_index()?;
        }
        Ok(())
    }

    /// Indexes the exchanges of `class` with a request start in `[from, to)`; with `replace`,
    /// first deletes what the partition holds in that span. Returns how many were added.
    fn reindex(
        &mut self,
        class: u16,
        from: i64,
        to: i64,
        replace: Option<PartitionId>,
    ) -> Result<u64> {
        if let Some(id) = replace {
            self.index.delete_range(id, from, to)?;
        }
        let http = cf(&self.db, CF_HTTP)?;
        let start = time_prefix(class, from);
        let end = time_prefix(class, to);
        let mut iter = self.db.raw_iterator_cf(http);
        iter.seek(start);
        let mut added = 0;
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            if key >= &end[..] {
                break;
            }
            match (
                HttpKey::decode(key),
                decode::<Stored<HttpExchange>>(CF_HTTP, "exchange", value),
            ) {
                (Some(key), Ok(stored)) => {
                    let text = self.config.index.text_for(&stored.whisperer);
                    self.index
                        .add(&key, &stored.whisperer, &stored.record, text)?;
                    added += 1;
                }
                (_, Err(error)) => tracing::warn!(%error, "skipping an undecodable exchange"),
                (None, _) => tracing::warn!("skipping an http key of the wrong length"),
            }
            iter.next();
        }
        iter.status()?;
        Ok(added)
    }

    /// The (class, window) partitions that RocksDB has exchanges for.
    fn partitions_in_rocksdb(&self) -> Result<Vec<PartitionId>> {
        let http = cf(&self.db, CF_HTTP)?;
        let mut ids = Vec::new();
        for class in self.classes.ids() {
            let mut iter = self.db.raw_iterator_cf(http);
            iter.seek(time_prefix(class, i64::MIN));
            while iter.valid() {
                let Some((key_class, time)) = iter.key().and_then(crate::keys::class_and_time)
                else {
                    break;
                };
                if key_class != class {
                    break;
                }
                let window = self.index.window_of(time);
                ids.push(PartitionId { window, class });
                let Some(next) = window.checked_add(self.index.window_ns()) else {
                    break;
                };
                iter.seek(time_prefix(class, next));
            }
            iter.status()?;
        }
        Ok(ids)
    }
}
