//! Ingest: one batch, one RocksDB `WriteBatch` (WAL on), then the exchanges into the index.

use std::collections::HashMap;

use rocksdb::{WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use spider_model::{DnsRecord, HostSource, PacketRecord, TcpSessionRecord, UsageRecord};

use super::{now_ns, Shard};
use crate::codec::{decode, encode, encode_packet_block, StoredRef};
use crate::config::{nanos, WalSync};
use crate::db::{
    cf, CF_BATCHES, CF_DNS, CF_HOSTS, CF_HTTP, CF_PACKETS, CF_SESSIONS, CF_SESSION_IDS, CF_USAGE,
};
use crate::error::{Result, StorageError};
use crate::keys::{
    batch_key, dns_key, hash_more, host_key, ip16, log_key, name_hash, packet_key, session_id_key,
    session_key, time_be, HttpKey, USAGE_KEY_LEN, USAGE_KEY_LEN_UNATTRIBUTED,
};
use crate::merge::{session_version, HostValue, UsageValue};
use crate::meta;
use crate::shard::recover::LogSpan;
use crate::types::{IngestBatch, IngestCounts, IngestOutcome};

/// A block holds at most this many packets …
const BLOCK_MAX_PACKETS: usize = 1024;
/// … and this many frame bytes …
const BLOCK_MAX_BYTES: usize = 256 * 1024;
/// … and spans at most this long, so that a time-range scan looks back this far only.
pub(crate) const BLOCK_MAX_SPAN_NS: i64 = 10_000_000_000;

/// The value of a batch id record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct BatchValue {
    pub shard_seq: u64,
    pub ingested_at: i64,
    pub counts: IngestCounts,
}

pub(crate) fn host_source_byte(source: HostSource) -> u8 {
    match source {
        HostSource::Dns => 0,
        HostSource::Sni => 1,
        HostSource::Http => 2,
        HostSource::Kubernetes => 3,
    }
}

impl Shard {
    /// Whether any batch id of `agent` is stored.
    fn agent_has_batches(&self, agent: &str) -> Result<bool> {
        let start = batch_key(agent, 0);
        let prefix = &start[..start.len() - 8];
        let batches = cf(&self.db, CF_BATCHES)?;
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
        match self.db.iterator_cf(batches, mode).next() {
            Some(entry) => Ok(entry?.0.starts_with(prefix)),
            None => Ok(false),
        }
    }

    /// The highest sequence stored of `agent` (an ingest key: sender, incarnation and shard),
    /// if any: since a batch after a gap is refused, every batch up to it is stored (or purged).
    pub fn last_batch(&self, agent: &str) -> Result<Option<u64>> {
        let end = batch_key(agent, u64::MAX);
        let prefix = &end[..end.len() - 8];
        let batches = cf(&self.db, CF_BATCHES)?;
        let mut iter = self.db.raw_iterator_cf(batches);
        iter.seek_for_prev(&end);
        Ok(iter
            .key()
            .filter(|key| key.len() == end.len() && key.starts_with(prefix))
            .and_then(|key| key.get(prefix.len()..))
            .and_then(|seq| <[u8; 8]>::try_from(seq).ok())
            .map(u64::from_be_bytes))
    }

    /// Stores a batch and acknowledges it. When this returns `Ok`, the batch is in the WAL (see
    /// `WalSync` for what survives what). A batch whose `(agent, seq)` is already stored is
    /// acknowledged with its original shard seq and `duplicate: true`, and nothing is written.
    /// A batch whose predecessor `(agent, seq - 1)` is not stored, from an agent with stored
    /// batches, follows a gap (batches lost on the way): it is refused, and the sender resends from
    /// its last acknowledged batch. An agent with none stored (new, or its history purged) may
    /// start at any sequence.
    pub fn ingest(&mut self, batch: IngestBatch) -> Result<IngestOutcome> {
        let id_key = batch_key(&batch.agent, batch.seq);
        let batches = cf(&self.db, CF_BATCHES)?;
        if let Some(value) = self.db.get_pinned_cf(batches, &id_key)? {
            let stored: BatchValue = decode(CF_BATCHES, "batch id", &value)?;
            tracing::debug!(agent = %batch.agent, seq = batch.seq, "duplicate batch acknowledged");
            return Ok(IngestOutcome {
                shard_seq: stored.shard_seq,
                duplicate: true,
                counts: stored.counts,
            });
        }
        // Refused before anything is written while the disk has less room than it keeps.
        if let Some(free) = crate::disk::free_bytes(&self.config.path) {
            if free < self.config.min_free_bytes {
                return Err(StorageError::DiskFull {
                    path: self.config.path.clone(),
                    free,
                    min_free: self.config.min_free_bytes,
                });
            }
        }
        if batch.seq > 1
            && self
                .db
                .get_pinned_cf(batches, batch_key(&batch.agent, batch.seq - 1))?
                .is_none()
            && self.agent_has_batches(&batch.agent)?
        {
            return Err(StorageError::InvalidRequest(format!(
                "batch {} of {} follows a gap: batch {} is not stored; resend from the last \
                 acknowledged batch",
                batch.seq,
                batch.agent,
                batch.seq - 1
            )));
        }
        let seq = self.last_seq + 1;
        let mut wb = WriteBatch::default();
        // Retention classes of the whisperers in the batch (new ones go into the same batch).
        let known: Vec<u16> = self.classes.ids();
        let mut classes: HashMap<String, u16> = HashMap::new();
        let names = std::iter::once(batch.whisperer.as_str()).chain(
            batch
                .packets
                .iter()
                .map(|p| whisperer_of(p, &batch.whisperer)),
        );
        let mut failed = None;
        for name in names {
            if classes.contains_key(name) {
                continue;
            }
            let ttl = nanos(self.config.ttl_for(name));
            match self.classes.class_for(ttl, &self.db, &mut wb) {
                Ok(class) => {
                    classes.insert(name.to_owned(), class);
                }
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        let result = match failed {
            Some(error) => Err(error),
            None => self.build(&mut wb, &batch, &classes, seq),
        };
        let forget_new = |shard: &mut Shard| {
            for class in shard.classes.ids() {
                if !known.contains(&class) {
                    shard.classes.forget(class);
                }
            }
        };
        let (counts, spans, keys) = match result {
            Ok(parts) => parts,
            Err(error) => {
                forget_new(self);
                return Err(error);
            }
        };
        let batches = cf(&self.db, CF_BATCHES)?;
        let record = BatchValue {
            shard_seq: seq,
            ingested_at: now_ns(),
            counts,
        };
        wb.put_cf(batches, &id_key, encode("batch id", &record)?);
        if !spans.is_empty() {
            wb.put_cf(batches, log_key(seq), encode("ingest log", &spans)?);
        }
        meta::put_last_seq(&self.db, &mut wb, seq)?;
        let mut options = WriteOptions::default();
        options.set_sync(self.config.sync == WalSync::Always);
        options.disable_wal(false);
        if let Err(error) = self.db.write_opt(wb, &options) {
            forget_new(self);
            return Err(error.into());
        }
        self.last_seq = seq;
        // The batch is durable from here on: an index failure is logged, not returned (the
        // index catches up from RocksDB when the shard opens again).
        let text = self.config.index.text_for(&batch.whisperer);
        for (key, exchange) in keys.iter().zip(&batch.http) {
            if let Err(error) = self.index.add(key, &batch.whisperer, exchange, text) {
                tracing::error!(%error, shard_seq = seq, "indexing a stored exchange failed");
                break;
            }
        }
        if self.index.pending_docs() == 0 && self.indexed_seq + 1 == seq {
            // Nothing waits for a commit: the batch is as searchable as it will be.
            self.set_searchable(seq);
        }
        if let Err(error) = self.tick() {
            tracing::error!(%error, shard_seq = seq, "index commit failed");
        }
        tracing::debug!(agent = %batch.agent, seq = batch.seq, shard_seq = seq, ?counts, "batch stored");
        Ok(IngestOutcome {
            shard_seq: seq,
            duplicate: false,
            counts,
        })
    }

    /// Puts the records of `batch` into `wb`.
    fn build(
        &self,
        wb: &mut WriteBatch,
        batch: &IngestBatch,
        classes: &HashMap<String, u16>,
        seq: u64,
    ) -> Result<(IngestCounts, Vec<LogSpan>, Vec<HttpKey>)> {
        let class = *classes
            .get(&batch.whisperer)
            .ok_or_else(|| StorageError::InvalidRequest("whisperer without class".into()))?;
        let mut counts = IngestCounts::default();
        let (spans, keys) = self.put_http(wb, batch, class, &mut counts)?;
        self.put_rollups(wb, batch, class)?;
        self.put_sessions(wb, &batch.whisperer, &batch.sessions, class, &mut counts)?;
        self.put_packets(wb, batch, classes, seq, &mut counts)?;
        self.put_hosts(wb, batch, &mut counts)?;
        self.put_dns(wb, &batch.whisperer, &batch.dns, class, &mut counts)?;
        self.put_usage(wb, &batch.whisperer, &batch.usage, &mut counts)?;
        if let Some(update) = &batch.inventory {
            counts.inventory += self.put_inventory(wb, update)?;
        }
        Ok((counts, spans, keys))
    }

    fn put_http(
        &self,
        wb: &mut WriteBatch,
        batch: &IngestBatch,
        class: u16,
        counts: &mut IngestCounts,
    ) -> Result<(Vec<LogSpan>, Vec<HttpKey>)> {
        let http = cf(&self.db, CF_HTTP)?;
        let whisperer = name_hash(&batch.whisperer);
        let mut keys = Vec::with_capacity(batch.http.len());
        let mut span: Option<(i64, i64)> = None;
        for exchange in &batch.http {
            let key = HttpKey {
                class,
                time: exchange.timing.request_start,
                whisperer,
                session: exchange.session_id,
                index: exchange.index,
            };
            let stored = StoredRef {
                whisperer: &batch.whisperer,
                record: exchange,
            };
            wb.put_cf(http, key.encode(), encode("exchange", &stored)?);
            span = Some(match span {
                None => (key.time, key.time),
                Some((low, high)) => (low.min(key.time), high.max(key.time)),
            });
            keys.push(key);
            counts.http += 1;
        }
        Ok((
            span.map(|(low, high)| vec![(class, low, high)])
                .unwrap_or_default(),
            keys,
        ))
    }

    fn put_sessions(
        &self,
        wb: &mut WriteBatch,
        whisperer: &str,
        sessions: &[TcpSessionRecord],
        class: u16,
        counts: &mut IngestCounts,
    ) -> Result<()> {
        let sessions_cf = cf(&self.db, CF_SESSIONS)?;
        let ids_cf = cf(&self.db, CF_SESSION_IDS)?;
        let hash = name_hash(whisperer);
        // The newest update of each session in the batch.
        let mut newest: HashMap<u64, &TcpSessionRecord> = HashMap::new();
        for session in sessions {
            let slot = newest.entry(session.id).or_insert(session);
            if session_version(session) >= session_version(slot) {
                *slot = session;
            }
        }
        let mut ordered: Vec<&TcpSessionRecord> = newest.into_values().collect();
        ordered.sort_by_key(|s| s.id);
        for session in ordered {
            let key = session_key(class, session.first_packet, hash, session.id);
            let id_key = session_id_key(hash, session.id);
            if let Some(old) = self.db.get_pinned_cf(ids_cf, id_key)? {
                let old_key = <[u8; 10]>::try_from(&*old).ok().map(|pos| {
                    let class = u16::from_be_bytes([pos[0], pos[1]]);
                    let time =
                        crate::keys::time_from_be(crate::keys::array(&pos, 2).unwrap_or_default());
                    session_key(class, time, hash, session.id)
                });
                if let Some(old_key) = old_key.filter(|old_key| *old_key != key) {
                    // The session moved (earlier first packet, other retention): carry the old
                    // record over so that the newest of both stays.
                    if let Some(value) = self.db.get_cf(sessions_cf, old_key)? {
                        wb.merge_cf(sessions_cf, key, value);
                    }
                    wb.delete_cf(sessions_cf, old_key);
                }
            }
            let stored = StoredRef {
                whisperer,
                record: session,
            };
            wb.merge_cf(sessions_cf, key, encode("session", &stored)?);
            let mut position = [0u8; 10];
            position[..2].copy_from_slice(&class.to_be_bytes());
            position[2..].copy_from_slice(&time_be(session.first_packet));
            wb.put_cf(ids_cf, id_key, position);
            counts.sessions += 1;
        }
        Ok(())
    }

    fn put_packets(
        &self,
        wb: &mut WriteBatch,
        batch: &IngestBatch,
        classes: &HashMap<String, u16>,
        seq: u64,
        counts: &mut IngestCounts,
    ) -> Result<()> {
        let packets_cf = cf(&self.db, CF_PACKETS)?;
        let mut groups: HashMap<(&str, u64), Vec<&PacketRecord>> = HashMap::new();
        for packet in &batch.packets {
            groups
                .entry((whisperer_of(packet, &batch.whisperer), packet.session_id))
                .or_default()
                .push(packet);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|((name, session), _)| (*name, *session));
        let mut block_number = 0u32;
        for ((name, session), mut packets) in groups {
            let class = *classes.get(name).ok_or_else(|| {
                StorageError::InvalidRequest("packet whisperer without class".into())
            })?;
            packets.sort_by_key(|p| p.time);
            let hash = name_hash(name);
            let mut start = 0;
            while start < packets.len() {
                let first_time = packets[start].time;
                let mut end = start;
                let mut bytes = 0;
                while end < packets.len()
                    && end - start < BLOCK_MAX_PACKETS
                    && (end == start || bytes + packets[end].frame.len() <= BLOCK_MAX_BYTES)
                    && packets[end].time.saturating_sub(first_time) < BLOCK_MAX_SPAN_NS
                {
                    bytes += packets[end].frame.len();
                    end += 1;
                }
                let block = &packets[start..end];
                let key = packet_key(class, first_time, hash, session, seq, block_number);
                wb.put_cf(packets_cf, key, encode_packet_block(name, session, block));
                block_number = block_number.wrapping_add(1);
                counts.packet_blocks += 1;
                counts.packets += block.len() as u64;
                start = end;
            }
        }
        Ok(())
    }

    fn put_hosts(
        &self,
        wb: &mut WriteBatch,
        batch: &IngestBatch,
        counts: &mut IngestCounts,
    ) -> Result<()> {
        let hosts_cf = cf(&self.db, CF_HOSTS)?;
        let ttl_ns = nanos(self.config.ttl_for(&batch.whisperer));
        // One entry per Whisperer that saw the name: a team's session reads its own only.
        let whisperer = name_hash(&batch.whisperer);
        for host in &batch.hosts {
            let key = host_key(
                host.ip,
                host_source_byte(host.source),
                &host.name,
                whisperer,
            );
            let value = HostValue {
                first_seen: host.first_seen,
                last_seen: host.last_seen,
                ttl_ns,
            };
            wb.merge_cf(hosts_cf, key, encode("host", &value)?);
            counts.hosts += 1;
        }
        Ok(())
    }

    fn put_dns(
        &self,
        wb: &mut WriteBatch,
        whisperer: &str,
        records: &[DnsRecord],
        class: u16,
        counts: &mut IngestCounts,
    ) -> Result<()> {
        let dns_cf = cf(&self.db, CF_DNS)?;
        let hash = name_hash(whisperer);
        for record in records {
            let mut id = hash_more(name_hash(&record.name), &ip16(record.client.ip));
            id = hash_more(id, &record.client.port.to_be_bytes());
            id = hash_more(id, &ip16(record.server.ip));
            id = hash_more(id, &record.id.to_be_bytes());
            id = hash_more(id, record.query_type.as_bytes());
            let key = dns_key(class, record.time, hash, id);
            let stored = StoredRef { whisperer, record };
            wb.put_cf(dns_cf, key, encode("dns", &stored)?);
            counts.dns += 1;
        }
        Ok(())
    }

    /// Usage counters of `agent` (the sender the backend checked: a Gocipher, or whoever
    /// pushed in its name).
    fn put_usage(
        &self,
        wb: &mut WriteBatch,
        agent: &str,
        records: &[UsageRecord],
        counts: &mut IngestCounts,
    ) -> Result<()> {
        let usage_cf = cf(&self.db, CF_USAGE)?;
        let agent = name_hash(agent);
        for record in records {
            wb.merge_cf(
                usage_cf,
                usage_key(record, agent),
                encode("usage", &usage_value(record))?,
            );
            counts.usage += 1;
        }
        Ok(())
    }
}

fn whisperer_of<'a>(packet: &'a PacketRecord, batch: &'a str) -> &'a str {
    if packet.whisperer.is_empty() {
        batch
    } else {
        &packet.whisperer
    }
}

pub(crate) fn proto_byte(proto: &str) -> u8 {
    match proto.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        _ => 0,
    }
}

/// `minute · src · dst · proto · port · reporter hash · receive side · detail hash · agent
/// hash`: the same counters reported by two agents stay two rows, each visible to its team.
pub(crate) fn usage_key(record: &UsageRecord, agent: u64) -> [u8; USAGE_KEY_LEN] {
    let mut key = [0u8; USAGE_KEY_LEN];
    key[0..8].copy_from_slice(&time_be(record.minute));
    key[8..24].copy_from_slice(&ip16(record.src));
    key[24..40].copy_from_slice(&ip16(record.dst));
    key[40] = proto_byte(&record.proto);
    key[41..43].copy_from_slice(&record.port.to_be_bytes());
    key[43..51].copy_from_slice(&name_hash(&record.reporter).to_be_bytes());
    key[51] = u8::from(record.receive_side);
    let mut detail = name_hash(&record.proto);
    if let Some(pid) = record.pid {
        detail = hash_more(detail, &pid.to_be_bytes());
    }
    for text in [&record.command, &record.container].into_iter().flatten() {
        detail = hash_more(detail, text.as_bytes());
    }
    key[52..60].copy_from_slice(&detail.to_be_bytes());
    key[USAGE_KEY_LEN_UNATTRIBUTED..].copy_from_slice(&agent.to_be_bytes());
    key
}

fn usage_value(record: &UsageRecord) -> UsageValue {
    UsageValue {
        bytes: record.bytes,
        messages: record.messages,
        wire_bytes: record.wire_bytes,
        packets: record.packets,
        proto: record.proto.clone(),
        reporter: record.reporter.clone(),
        src_workload: record.src_workload.clone(),
        dst_workload: record.dst_workload.clone(),
        pid: record.pid,
        command: record.command.clone(),
        container: record.container.clone(),
    }
}
