//! Retention: range deletions per retention class, compaction so that the space is freed, and
//! whole index partitions dropped.

use rocksdb::{BottommostLevelCompaction, CompactOptions, IteratorMode, WriteBatch};

use super::handle_ingest::BatchValue;
use super::Shard;
use crate::codec::decode;
use crate::config::nanos;
use crate::db::{
    cf, CF_BATCHES, CF_DNS, CF_HOSTS, CF_HTTP, CF_MAP_ROLLUP, CF_PACKETS, CF_SESSIONS,
    CF_SESSION_IDS, CF_TIMELINE_ROLLUP, CF_USAGE,
};
use crate::error::Result;
use crate::keys::{log_key, session_id_key, session_of, time_be, time_prefix};
use crate::types::{PurgeReport, ShardEvent};

/// Data kinds keyed by `class · time`.
const TIME_KEYED: [&str; 6] = [
    CF_HTTP,
    CF_SESSIONS,
    CF_PACKETS,
    CF_DNS,
    CF_TIMELINE_ROLLUP,
    CF_MAP_ROLLUP,
];

impl Shard {
    /// Deletes what is past its retention at `now`, compacts the deleted ranges so that the
    /// disk space is freed, drops expired index partitions, and emits `PurgeComplete`.
    pub fn purge(&mut self, now: i64) -> Result<PurgeReport> {
        let mut report = PurgeReport {
            now,
            bytes_before: self.disk_bytes(),
            ..PurgeReport::default()
        };
        // Uncommitted documents of partitions about to be dropped would be lost anyway; commit
        // first so that the index's position stays consistent.
        self.commit_index()?;
        let mut compact: Vec<(&'static str, Vec<u8>, Vec<u8>)> = Vec::new();
        for (&class, &ttl) in self.classes.ttl_of() {
            let cutoff = now.saturating_sub(ttl);
            report.cutoffs.push((ttl, cutoff));
            let start = time_prefix(class, i64::MIN).to_vec();
            let end = time_prefix(class, cutoff).to_vec();
            report.sessions_deleted += self.forget_session_ids(&start, &end)?;
            for name in TIME_KEYED {
                self.db.delete_range_cf(cf(&self.db, name)?, &start, &end)?;
                compact.push((name, start.clone(), end.clone()));
            }
        }
        let usage_cutoff = now.saturating_sub(nanos(self.config.usage_ttl));
        let usage_range = (time_be(i64::MIN).to_vec(), time_be(usage_cutoff).to_vec());
        self.db
            .delete_range_cf(cf(&self.db, CF_USAGE)?, &usage_range.0, &usage_range.1)?;
        compact.push((CF_USAGE, usage_range.0, usage_range.1));
        report.hosts_deleted = self.purge_hosts(now)?;
        report.batch_ids_forgotten = self.purge_batches(now)?;
        let mut options = CompactOptions::default();
        options.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        for (name, start, end) in &compact {
            self.db
                .compact_range_cf_opt(cf(&self.db, name)?, Some(start), Some(end), &options);
        }
        for name in [CF_HOSTS, CF_BATCHES, CF_SESSION_IDS] {
            self.db.compact_range_cf_opt(
                cf(&self.db, name)?,
                None::<&[u8]>,
                None::<&[u8]>,
                &options,
            );
        }
        let (dropped, bytes) = self.index.drop_expired(self.classes.ttl_of(), now);
        report.partitions_dropped = dropped;
        report.partition_bytes = bytes;
        report.bytes_after = self.disk_bytes();
        tracing::info!(
            sessions = report.sessions_deleted,
            hosts = report.hosts_deleted,
            partitions = dropped,
            freed = report.bytes_before.saturating_sub(report.bytes_after),
            "purge complete"
        );
        self.emit(ShardEvent::PurgeComplete(report.clone()));
        Ok(report)
    }

    /// Deletes the `session_ids` entries of the sessions in `[start, end)`; returns how many.
    fn forget_session_ids(&self, start: &[u8], end: &[u8]) -> Result<u64> {
        let sessions = cf(&self.db, CF_SESSIONS)?;
        let ids = cf(&self.db, CF_SESSION_IDS)?;
        let mut iter = self.db.raw_iterator_cf(sessions);
        iter.seek(start);
        let mut wb = WriteBatch::default();
        let mut count = 0;
        while let Some(key) = iter.key().filter(|key| *key < end) {
            if let Some((whisperer, id)) = session_of(key) {
                wb.delete_cf(ids, session_id_key(whisperer, id));
                count += 1;
            }
            iter.next();
        }
        iter.status()?;
        self.db.write(wb)?;
        Ok(count)
    }

    /// Deletes host names last seen longer ago than their retention.
    fn purge_hosts(&self, now: i64) -> Result<u64> {
        let hosts = cf(&self.db, CF_HOSTS)?;
        let mut wb = WriteBatch::default();
        let mut count = 0;
        for item in self.db.iterator_cf(hosts, IteratorMode::Start) {
            let (key, value) = item?;
            let expired = match super::handle_hosts::host_record(&key, &value) {
                Some(entry) => entry.value.last_seen.saturating_add(entry.value.ttl_ns) < now,
                None => true,
            };
            if expired {
                wb.delete_cf(hosts, &key);
                count += 1;
            }
        }
        self.db.write(wb)?;
        Ok(count)
    }

    /// Forgets batch ids older than the dedupe window, and the ingest log up to the index's
    /// committed position.
    fn purge_batches(&self, now: i64) -> Result<u64> {
        let batches = cf(&self.db, CF_BATCHES)?;
        let cutoff = now.saturating_sub(nanos(self.config.dedupe_window));
        let mut wb = WriteBatch::default();
        let mut count = 0;
        for item in self.db.prefix_iterator_cf(batches, b"b") {
            let (key, value) = item?;
            if !key.starts_with(b"b") {
                break;
            }
            let old = match decode::<BatchValue>(CF_BATCHES, "batch id", &value) {
                Ok(value) => value.ingested_at < cutoff,
                Err(_) => true,
            };
            if old {
                wb.delete_cf(batches, &key);
                count += 1;
            }
        }
        wb.delete_range_cf(
            batches,
            log_key(0),
            log_key(self.indexed_seq.saturating_add(1)),
        );
        self.db.write(wb)?;
        Ok(count)
    }
}
