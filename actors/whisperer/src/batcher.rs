//! Cutting tagged frames into batches: one open batch per virtual shard (`shard_of(whisperer,
//! session_id)`), sealed when it reaches its frame or byte bound or gets too old. A closed
//! session's record rides with the frames of its shard, after them.

use std::time::{Duration, Instant};

use spider_model::{PacketRecord, TcpSessionRecord};
use spider_rpc_schema::{shard_of, VIRTUAL_SHARDS};

use crate::config::BatchConfig;

/// Fixed cost counted per record besides its bytes (headers of the record, the wire message).
pub const RECORD_OVERHEAD: usize = 64;
/// What a session record is counted as.
pub const SESSION_COST: usize = 256;

/// A sealed batch for one virtual shard: frames in capture order, then closed sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub shard: u16,
    pub frames: Vec<PacketRecord>,
    pub sessions: Vec<TcpSessionRecord>,
    /// Memory it is counted for in the buffer.
    pub bytes: u64,
    /// Sum of the frames' lengths on the wire.
    pub wire_bytes: u64,
}

#[derive(Debug)]
struct Open {
    batch: Batch,
    since: Instant,
}

/// Open batches, one per shard at most.
#[derive(Debug)]
pub struct Batcher {
    whisperer: String,
    config: BatchConfig,
    open: Vec<Option<Open>>,
    /// Shards with an open batch, oldest first (may hold shards sealed since: checked).
    order: std::collections::VecDeque<(u16, Instant)>,
}

impl Batcher {
    pub fn new(whisperer: &str, config: BatchConfig) -> Self {
        Self {
            whisperer: whisperer.to_owned(),
            config,
            open: (0..VIRTUAL_SHARDS).map(|_| None).collect(),
            order: std::collections::VecDeque::new(),
        }
    }

    fn slot(&mut self, shard: u16, now: Instant) -> &mut Open {
        let index = usize::from(shard);
        if self.open[index].is_none() {
            self.order.push_back((shard, now));
        }
        self.open[index].get_or_insert_with(|| Open {
            batch: Batch {
                shard,
                ..Batch::default()
            },
            since: now,
        })
    }

    /// Adds a tagged frame; a batch that reached a bound is sealed into `out`.
    pub fn frame(&mut self, packet: PacketRecord, now: Instant, out: &mut Vec<Batch>) {
        let shard = shard_of(&self.whisperer, packet.session_id);
        let config = self.config;
        let open = self.slot(shard, now);
        open.batch.bytes += (packet.frame.len() + RECORD_OVERHEAD) as u64;
        open.batch.wire_bytes += u64::from(packet.wire_len);
        open.batch.frames.push(packet);
        if open.batch.frames.len() >= config.max_frames
            || open.batch.bytes >= config.max_bytes as u64
        {
            self.seal(shard, out);
        }
    }

    /// Adds a closed session's record to its shard's batch.
    pub fn session(&mut self, session: TcpSessionRecord, now: Instant, out: &mut Vec<Batch>) {
        let shard = shard_of(&self.whisperer, session.id);
        let config = self.config;
        let open = self.slot(shard, now);
        open.batch.bytes += SESSION_COST as u64;
        open.batch.sessions.push(session);
        if open.batch.bytes >= config.max_bytes as u64 {
            self.seal(shard, out);
        }
    }

    fn seal(&mut self, shard: u16, out: &mut Vec<Batch>) {
        if let Some(open) = self.open[usize::from(shard)].take() {
            out.push(open.batch);
        }
    }

    /// Seals the batches opened more than `max_delay` before `now`.
    pub fn seal_due(&mut self, now: Instant, out: &mut Vec<Batch>) {
        while let Some(&(shard, since)) = self.order.front() {
            let current = self.open[usize::from(shard)]
                .as_ref()
                .map(|open| open.since);
            match current {
                // The batch this entry was for is gone (sealed by size) or is a newer one.
                None => {
                    self.order.pop_front();
                }
                Some(open_since) if open_since != since => {
                    self.order.pop_front();
                }
                Some(_) if now.saturating_duration_since(since) >= self.config.max_delay => {
                    self.order.pop_front();
                    self.seal(shard, out);
                }
                Some(_) => break,
            }
        }
    }

    /// How long until the oldest open batch is due (`None`: nothing open).
    pub fn next_due(&self, now: Instant) -> Option<Duration> {
        self.order.iter().find_map(|&(shard, since)| {
            let open = self.open[usize::from(shard)].as_ref()?;
            (open.since == since)
                .then(|| (since + self.config.max_delay).saturating_duration_since(now))
        })
    }

    /// Seals every open batch (end of input, stop).
    pub fn seal_all(&mut self, out: &mut Vec<Batch>) {
        self.order.clear();
        for shard in 0..VIRTUAL_SHARDS {
            self.seal(shard, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(session_id: u64) -> PacketRecord {
        PacketRecord {
            whisperer: "w".into(),
            session_id,
            time: 1,
            interface: 0,
            link_type: 1,
            wire_len: 100,
            from_client: true,
            frame: vec![0; 100],
        }
    }

    #[test]
    fn batches_are_per_shard_and_sealed_by_size_and_age() {
        let config = BatchConfig {
            max_frames: 3,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(100),
        };
        let mut batcher = Batcher::new("w", config);
        let start = Instant::now();
        let mut out = Vec::new();
        for _ in 0..4 {
            batcher.frame(packet(7), start, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].frames.len(), 3);
        assert_eq!(out[0].shard, shard_of("w", 7));
        batcher.frame(packet(8), start + Duration::from_millis(50), &mut out);
        batcher.seal_due(start + Duration::from_millis(100), &mut out);
        assert_eq!(
            out.len(),
            2,
            "the batch of session 7 is due, not the one of 8"
        );
        assert_eq!(
            batcher.next_due(start + Duration::from_millis(100)),
            Some(Duration::from_millis(50))
        );
        batcher.seal_all(&mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out.iter().map(|b| b.frames.len()).sum::<usize>(), 5);
        assert_eq!(batcher.next_due(start), None);
    }
}
