//! Rollups: HTTP exchanges counted per second and status class (timeline) and per minute and
//! (client, server) (network map), written with the exchanges in the same write batch, so that an
//! unfiltered timeline or map reads a few rows per second or minute instead of every exchange.
//!
//! Keys are `class · time · whisperer hash [· client ip16 · server ip16]`, so retention deletes
//! them with the records of their class; values are little-endian `u64` counters that a merge
//! operator adds up. A timeline uses them when its start and bucket width are whole seconds; a
//! map uses them for the whole minutes of its range and the index for the partial minutes at the
//! edges. Filtered requests go to the index as before.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use rocksdb::{Direction, IteratorMode, MergeOperands, WriteBatch};
use spider_model::HttpExchange;

use super::Shard;
use crate::codec::{decode, Stored};
use crate::db::{cf, CF_HTTP, CF_MAP_ROLLUP, CF_META, CF_TIMELINE_ROLLUP};
use crate::error::Result;
use crate::index::collect::{class_slot, EdgeSums, MapCounts};
use crate::index::schema::ip6;
use crate::index::TimelineCounts;
use crate::keys::{array, class_and_time, name_hash, time_prefix, TIME_PREFIX_LEN};
use crate::types::{IngestBatch, TimeRange};

pub(crate) const SECOND_NS: i64 = 1_000_000_000;
pub(crate) const MINUTE_NS: i64 = 60 * SECOND_NS;

/// Called with a rollup row's time, key and counters.
type RowVisitor<'a> = dyn FnMut(i64, &[u8], &[u64]) + 'a;

const TIMELINE_KEY_LEN: usize = TIME_PREFIX_LEN + 8;

/// Set in `meta` once the rollups hold every stored exchange (shards written before rollups
/// existed get them rebuilt when they open).
const ROLLUPS_BUILT: &[u8] = b"rollups_built:1";

/// Exchanges per write batch while rebuilding.
const REBUILD_CHUNK: usize = 10_000;
const MAP_KEY_LEN: usize = TIME_PREFIX_LEN + 8 + 16 + 16;

/// Adds counters element-wise (a merge never fails: short operands count as zeros).
pub(crate) fn counters_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    let mut sums: Vec<u64> = existing.map(decode_counters).unwrap_or_default();
    for operand in operands {
        let more = decode_counters(operand);
        if sums.len() < more.len() {
            sums.resize(more.len(), 0);
        }
        for (sum, add) in sums.iter_mut().zip(more) {
            *sum = sum.wrapping_add(add);
        }
    }
    Some(encode_counters(&sums))
}

fn decode_counters(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .filter_map(|chunk| <[u8; 8]>::try_from(chunk).ok())
        .map(u64::from_le_bytes)
        .collect()
}

fn encode_counters(counters: &[u64]) -> Vec<u8> {
    counters.iter().flat_map(|c| c.to_le_bytes()).collect()
}

fn floor_to(time: i64, unit: i64) -> i64 {
    time.div_euclid(unit).saturating_mul(unit)
}

fn whisperer_allowed(key: &[u8], allowed: &Option<Vec<u64>>) -> bool {
    match (allowed, array::<8>(key, TIME_PREFIX_LEN)) {
        (None, _) => true,
        (Some(hashes), Some(hash)) => hashes.contains(&u64::from_be_bytes(hash)),
        (Some(_), None) => false,
    }
}

impl Shard {
    /// Rebuilds the rollups from the stored exchanges unless they are known to be complete.
    /// Crash-safe: they are cleared first and marked complete only at the end.
    pub(crate) fn ensure_rollups(&self) -> Result<()> {
        let meta = cf(&self.db, CF_META)?;
        if self.db.get_pinned_cf(meta, ROLLUPS_BUILT)?.is_some() {
            return Ok(());
        }
        for name in [CF_TIMELINE_ROLLUP, CF_MAP_ROLLUP] {
            let family = cf(&self.db, name)?;
            let mut clear = WriteBatch::default();
            clear.delete_range_cf(
                family,
                [0u8].as_slice(),
                [0xffu8; MAP_KEY_LEN + 1].as_slice(),
            );
            self.db.write(clear)?;
        }
        let http = cf(&self.db, CF_HTTP)?;
        let mut pending: HashMap<(u16, String), Vec<HttpExchange>> = HashMap::new();
        let mut held = 0usize;
        let mut rebuilt = 0u64;
        for item in self.db.iterator_cf(http, IteratorMode::Start) {
            let (key, value) = item?;
            let Some((class, _)) = class_and_time(&key) else {
                continue;
            };
            let stored: Stored<HttpExchange> = decode(CF_HTTP, "exchange", &value)?;
            pending
                .entry((class, stored.whisperer))
                .or_default()
                .push(stored.record);
            held += 1;
            if held >= REBUILD_CHUNK {
                rebuilt += self.write_rebuilt(&mut pending)?;
                held = 0;
            }
        }
        rebuilt += self.write_rebuilt(&mut pending)?;
        self.db.put_cf(meta, ROLLUPS_BUILT, [1u8])?;
        if rebuilt > 0 {
            tracing::info!(exchanges = rebuilt, "rollups rebuilt");
        }
        Ok(())
    }

    fn write_rebuilt(
        &self,
        pending: &mut HashMap<(u16, String), Vec<HttpExchange>>,
    ) -> Result<u64> {
        let mut wb = WriteBatch::default();
        let mut count = 0;
        for ((class, whisperer), http) in pending.drain() {
            count += http.len() as u64;
            let mut batch = IngestBatch::new("", 0, whisperer);
            batch.http = http;
            self.put_rollups(&mut wb, &batch, class)?;
        }
        self.db.write(wb)?;
        Ok(count)
    }

    /// The rollup merges of a batch's exchanges, added to `wb`.
    pub(crate) fn put_rollups(
        &self,
        wb: &mut WriteBatch,
        batch: &IngestBatch,
        class: u16,
    ) -> Result<()> {
        if batch.http.is_empty() {
            return Ok(());
        }
        let whisperer = name_hash(&batch.whisperer).to_be_bytes();
        let mut seconds: HashMap<i64, [u64; 6]> = HashMap::new();
        let mut edges: HashMap<(i64, Ipv6Addr, Ipv6Addr), EdgeSums> = HashMap::new();
        for exchange in &batch.http {
            let time = exchange.timing.request_start;
            let status = exchange.status.map(u64::from);
            seconds.entry(floor_to(time, SECOND_NS)).or_default()[class_slot(status)] += 1;
            edges
                .entry((
                    floor_to(time, MINUTE_NS),
                    ip6(exchange.client.ip),
                    ip6(exchange.server.ip),
                ))
                .or_default()
                .add(status, exchange.duration_ns());
        }
        let timeline = cf(&self.db, CF_TIMELINE_ROLLUP)?;
        for (second, slots) in seconds {
            let mut key = [0u8; TIMELINE_KEY_LEN];
            key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(class, second));
            key[TIME_PREFIX_LEN..].copy_from_slice(&whisperer);
            wb.merge_cf(timeline, key, encode_counters(&slots));
        }
        let map = cf(&self.db, CF_MAP_ROLLUP)?;
        for ((minute, client, server), sums) in edges {
            let mut key = [0u8; MAP_KEY_LEN];
            key[..TIME_PREFIX_LEN].copy_from_slice(&time_prefix(class, minute));
            key[TIME_PREFIX_LEN..TIME_PREFIX_LEN + 8].copy_from_slice(&whisperer);
            key[TIME_PREFIX_LEN + 8..TIME_PREFIX_LEN + 24].copy_from_slice(&client.octets());
            key[TIME_PREFIX_LEN + 24..].copy_from_slice(&server.octets());
            let latency = u64::try_from(sums.latency_sum_ns.max(0)).unwrap_or(u64::MAX);
            let value = [
                sums.requests,
                sums.client_errors,
                sums.server_errors,
                sums.no_response,
                latency,
                sums.latency_count,
            ];
            wb.merge_cf(map, key, encode_counters(&value));
        }
        Ok(())
    }

    /// Calls `visit(time, key, counters)` for the rollup rows of `[from, to)` in every
    /// retention class, of the allowed whisperers.
    fn scan_rollup(
        &self,
        name: &'static str,
        range: TimeRange,
        whisperers: &[String],
        visit: &mut RowVisitor<'_>,
    ) -> Result<()> {
        let family = cf(&self.db, name)?;
        let allowed =
            (!whisperers.is_empty()).then(|| whisperers.iter().map(|w| name_hash(w)).collect());
        for class in self.classes.ids() {
            let start = time_prefix(class, range.from);
            let end = time_prefix(class, range.to);
            for item in self
                .db
                .iterator_cf(family, IteratorMode::From(&start, Direction::Forward))
            {
                let (key, value) = item?;
                if key.get(..TIME_PREFIX_LEN) >= Some(&end[..]) {
                    break;
                }
                let Some((_, time)) = class_and_time(&key) else {
                    continue;
                };
                if whisperer_allowed(&key, &allowed) {
                    visit(time, &key, &decode_counters(&value));
                }
            }
        }
        Ok(())
    }

    /// An unfiltered timeline from the per-second rollup, when `from` and `bucket_ns` are whole
    /// seconds (`None` otherwise: the caller counts on the index).
    pub(crate) fn timeline_from_rollup(
        &self,
        range: TimeRange,
        bucket_ns: i64,
        buckets: usize,
        whisperers: &[String],
    ) -> Result<Option<TimelineCounts>> {
        if range.from % SECOND_NS != 0 || bucket_ns % SECOND_NS != 0 {
            return Ok(None);
        }
        let mut counts: TimelineCounts = vec![[0; 6]; buckets];
        self.scan_rollup(
            CF_TIMELINE_ROLLUP,
            range,
            whisperers,
            &mut |time, _, slots| {
                let bucket = usize::try_from(time.saturating_sub(range.from) / bucket_ns).ok();
                if let Some(sum) = bucket.and_then(|bucket| counts.get_mut(bucket)) {
                    for (total, add) in sum.iter_mut().zip(slots) {
                        *total += add;
                    }
                }
            },
        )?;
        Ok(Some(counts))
    }

    /// The unfiltered map of the whole minutes of `range` from the per-minute rollup; returns
    /// the sums and the minute-aligned part it covered (`None` when the range holds no whole
    /// minute).
    pub(crate) fn map_from_rollup(
        &self,
        range: TimeRange,
        whisperers: &[String],
    ) -> Result<Option<(MapCounts, TimeRange)>> {
        let first = if range.from % MINUTE_NS == 0 {
            range.from
        } else {
            floor_to(range.from, MINUTE_NS).saturating_add(MINUTE_NS)
        };
        let last = floor_to(range.to, MINUTE_NS);
        if first >= last {
            return Ok(None);
        }
        let covered = TimeRange::new(first, last);
        let mut edges = MapCounts::new();
        self.scan_rollup(CF_MAP_ROLLUP, covered, whisperers, &mut |_, key, values| {
            let (Some(client), Some(server)) = (
                array::<16>(key, TIME_PREFIX_LEN + 8),
                array::<16>(key, TIME_PREFIX_LEN + 24),
            ) else {
                return;
            };
            let value = |index: usize| values.get(index).copied().unwrap_or(0);
            edges
                .entry((Ipv6Addr::from(client), Ipv6Addr::from(server)))
                .or_default()
                .merge(&EdgeSums {
                    requests: value(0),
                    client_errors: value(1),
                    server_errors: value(2),
                    no_response: value(3),
                    latency_sum_ns: i128::from(value(4)),
                    latency_count: value(5),
                });
        })?;
        Ok(Some((edges, covered)))
    }
}
