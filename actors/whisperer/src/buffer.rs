//! The bounded buffer between the capture threads and the sender: every sealed batch waits here
//! until the backend acknowledges it as durably stored.
//!
//! - Memory holds the oldest batches (sent or not), up to `memory_bytes`; when it is full, new
//!   batches go to the optional spill on disk, which feeds memory back as acknowledgements free
//!   it, so the order of batches is kept. When both are full a new batch is dropped and counted
//!   (frames, bytes, batches, sessions), or, with [`Overflow::Wait`], its producer waits.
//! - A batch gets its sequence (per virtual shard, 1, 2, 3…) when it is first sent, so a dropped
//!   batch never leaves a gap that the storage would refuse; a resent batch keeps its sequence.
//!   What rides on it ([`Riders`]: drop counters, names from the Controller) is fixed then too,
//!   so a resend repeats it.
//! - After a reconnection the sender starts again from the oldest batch in memory: every batch
//!   not acknowledged is resent, in order (the storage deduplicates what it already had).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use spider_backend::client::DropCounters;
use spider_model::HostRecord;
use spider_rpc_schema::VIRTUAL_SHARDS;

use crate::batcher::{Batch, RECORD_OVERHEAD};
use crate::config::{BufferConfig, Overflow};
use crate::counters::Counters;
use crate::spill::Spill;

/// What a batch carries besides its frames and sessions, fixed when it is first sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Riders {
    /// The drop counters since the previous report.
    pub drops: Option<DropCounters>,
    /// Names of addresses the Controller gave (`names.rs`).
    pub hosts: Vec<HostRecord>,
}

impl Riders {
    /// Memory they are counted for in the buffer.
    fn bytes(&self) -> u64 {
        let names: usize = self.hosts.iter().map(|host| host.name.len()).sum();
        (names + self.hosts.len() * RECORD_OVERHEAD) as u64
    }
}

#[derive(Debug)]
struct Entry {
    batch: Arc<Batch>,
    sequence: Option<u64>,
    /// What this batch carries (fixed at its first send, so a resend repeats it).
    riders: Arc<Riders>,
}

#[derive(Debug)]
struct Inner {
    memory: BTreeMap<u64, Entry>,
    memory_bytes: u64,
    spill: Option<Spill>,
    /// The orders of the batches in the spill, oldest first.
    spill_orders: VecDeque<u64>,
    next_order: u64,
    next_sequence: Vec<u64>,
    /// Per shard, the (sequence, order) of the batches sent and not acknowledged, in order.
    in_flight: Vec<VecDeque<(u64, u64)>>,
    closed: bool,
}

/// A batch handed to the sender.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub order: u64,
    pub sequence: u64,
    pub batch: Arc<Batch>,
    pub riders: Arc<Riders>,
    /// It was sent before (on an earlier connection).
    pub resend: bool,
}

/// How many batches and bytes wait, in memory and on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub memory_batches: usize,
    pub memory_bytes: u64,
    pub spill_batches: usize,
    pub spill_bytes: u64,
}

/// The buffer, shared by producers (threads) and the sender (async).
#[derive(Debug)]
pub struct Buffer {
    inner: Mutex<Inner>,
    room: Condvar,
    /// Woken when a batch can be sent.
    pub arrived: tokio::sync::Notify,
    memory_limit: u64,
    counters: Arc<Counters>,
}

impl Buffer {
    pub fn new(config: &BufferConfig, spill: Option<Spill>, counters: Arc<Counters>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                memory: BTreeMap::new(),
                memory_bytes: 0,
                spill,
                spill_orders: VecDeque::new(),
                next_order: 0,
                next_sequence: vec![1; usize::from(VIRTUAL_SHARDS)],
                in_flight: (0..VIRTUAL_SHARDS).map(|_| VecDeque::new()).collect(),
                closed: false,
            }),
            room: Condvar::new(),
            arrived: tokio::sync::Notify::new(),
            memory_limit: config.memory_bytes,
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes a sealed batch; returns false when it was dropped (and counted). With
    /// [`Overflow::Wait`] it waits for room unless `stop` is set.
    pub fn offer(&self, batch: Batch, overflow: Overflow, stop: &AtomicBool) -> bool {
        Counters::add(&self.counters.batches_sealed, 1);
        Counters::add(&self.counters.frames_sealed, batch.frames.len() as u64);
        let mut inner = self.lock();
        loop {
            let spill_empty = inner.spill.as_ref().is_none_or(Spill::is_empty);
            let fits =
                inner.memory.is_empty() || inner.memory_bytes + batch.bytes <= self.memory_limit;
            if spill_empty && fits {
                let order = inner.next_order;
                inner.next_order += 1;
                inner.memory_bytes += batch.bytes;
                inner.memory.insert(
                    order,
                    Entry {
                        batch: Arc::new(batch),
                        sequence: None,
                        riders: Arc::default(),
                    },
                );
                drop(inner);
                self.arrived.notify_one();
                return true;
            }
            if let Some(spill) = inner.spill.as_mut() {
                match spill.push(&batch) {
                    Ok(true) => {
                        let order = inner.next_order;
                        inner.next_order += 1;
                        inner.spill_orders.push_back(order);
                        Counters::add(&self.counters.batches_spilled, 1);
                        return true;
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "cannot write to the spill folder");
                    }
                }
            }
            if overflow == Overflow::Drop || stop.load(Ordering::Relaxed) {
                drop(inner);
                self.count_drop(&batch);
                return false;
            }
            inner = match self.room.wait_timeout(inner, Duration::from_millis(100)) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Queues an empty batch (for `shard`) whose only purpose is to carry [`Riders`] (drop
    /// counters, names); it bypasses the bound (it is tiny) so that they are never dropped.
    pub fn offer_report(&self, shard: u16) {
        Counters::add(&self.counters.batches_sealed, 1);
        let mut inner = self.lock();
        let order = inner.next_order;
        inner.next_order += 1;
        if inner.spill.as_ref().is_some_and(|spill| !spill.is_empty()) {
            // Keep the order: it goes after what is on disk.
            inner.spill_orders.push_back(order);
            if let Some(spill) = inner.spill.as_mut() {
                let batch = Batch {
                    shard,
                    ..Batch::default()
                };
                if let Err(error) = spill.push(&batch) {
                    tracing::warn!(%error, "cannot write a drop report to the spill folder");
                    inner.spill_orders.pop_back();
                }
            }
            return;
        }
        inner.memory.insert(
            order,
            Entry {
                batch: Arc::new(Batch {
                    shard,
                    ..Batch::default()
                }),
                sequence: None,
                riders: Arc::default(),
            },
        );
        drop(inner);
        self.arrived.notify_one();
    }

    fn count_drop(&self, batch: &Batch) {
        let counters = &self.counters;
        Counters::add(&counters.own_drop_batches, 1);
        Counters::add(&counters.own_drop_frames, batch.frames.len() as u64);
        Counters::add(&counters.own_drop_bytes, batch.wire_bytes);
        Counters::add(&counters.own_drop_sessions, batch.sessions.len() as u64);
    }

    /// The first batch in memory at or after `cursor`, with its sequence (given now if it was
    /// never sent, with what `riders` returns then).
    pub fn next_from(&self, cursor: u64, riders: &mut dyn FnMut() -> Riders) -> Option<Outgoing> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let (&order, entry) = inner.memory.range_mut(cursor..).next()?;
        let shard = usize::from(entry.batch.shard);
        let (sequence, resend) = match entry.sequence {
            Some(sequence) => (sequence, true),
            None => {
                let sequence = inner.next_sequence[shard];
                inner.next_sequence[shard] += 1;
                entry.sequence = Some(sequence);
                let riders = riders();
                inner.memory_bytes += riders.bytes();
                entry.riders = Arc::new(riders);
                inner.in_flight[shard].push_back((sequence, order));
                (sequence, false)
            }
        };
        Some(Outgoing {
            order,
            sequence,
            batch: entry.batch.clone(),
            riders: entry.riders.clone(),
            resend,
        })
    }

    /// Where a new connection starts sending: the oldest batch not acknowledged.
    pub fn resend_cursor(&self) -> u64 {
        let inner = self.lock();
        inner
            .memory
            .keys()
            .next()
            .copied()
            .unwrap_or(inner.next_order)
    }

    /// True when some batch was sent and is not acknowledged yet.
    pub fn awaiting_ack(&self) -> bool {
        self.lock().in_flight.iter().any(|shard| !shard.is_empty())
    }

    /// The backend holds every batch of `shard` up to `sequence`: they leave the buffer.
    pub fn ack(&self, shard: u16, sequence: u64) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(in_flight) = inner.in_flight.get_mut(usize::from(shard)) else {
            return;
        };
        let mut freed = false;
        while let Some(&(seq, order)) = in_flight.front() {
            if seq > sequence {
                break;
            }
            in_flight.pop_front();
            if let Some(entry) = inner.memory.remove(&order) {
                inner.memory_bytes -= entry.batch.bytes + entry.riders.bytes();
                let counters = &self.counters;
                Counters::add(&counters.batches_acked, 1);
                Counters::add(&counters.frames_acked, entry.batch.frames.len() as u64);
                Counters::add(&counters.bytes_acked, entry.batch.wire_bytes);
                freed = true;
            }
        }
        if freed {
            self.refill(inner);
            self.room.notify_all();
        }
    }

    /// Moves batches from the spill back to memory while they fit.
    fn refill(&self, inner: &mut Inner) {
        let mut moved = false;
        while let Some(spill) = inner.spill.as_mut() {
            if spill.is_empty() || inner.memory_bytes >= self.memory_limit {
                break;
            }
            match spill.pop() {
                Some(Ok(batch)) => {
                    let Some(order) = inner.spill_orders.pop_front() else {
                        break;
                    };
                    inner.memory_bytes += batch.bytes;
                    inner.memory.insert(
                        order,
                        Entry {
                            batch: Arc::new(batch),
                            sequence: None,
                            riders: Arc::default(),
                        },
                    );
                    moved = true;
                }
                Some(Err((error, lost))) => {
                    for _ in 0..lost {
                        inner.spill_orders.pop_front();
                    }
                    tracing::error!(%error, batches = lost, "a spill segment is damaged: its batches are lost");
                    Counters::add(&self.counters.spill_lost_batches, lost as u64);
                }
                None => break,
            }
        }
        if moved {
            self.arrived.notify_one();
        }
    }

    /// No more batches will come (end of the file, or the capture stopped).
    pub fn close(&self) {
        self.lock().closed = true;
        self.arrived.notify_one();
    }

    /// Closed, and everything acknowledged.
    pub fn is_drained(&self) -> bool {
        let inner = self.lock();
        inner.closed && inner.memory.is_empty() && inner.spill.as_ref().is_none_or(Spill::is_empty)
    }

    pub fn depth(&self) -> Depth {
        let inner = self.lock();
        let (spill_batches, spill_bytes) = inner.spill.as_ref().map_or((0, 0), Spill::depth);
        Depth {
            memory_batches: inner.memory.len(),
            memory_bytes: inner.memory_bytes,
            spill_batches,
            spill_bytes,
        }
    }

    /// The Whisperer stopped before the backend took everything: count what is left.
    pub fn abandon(&self) {
        let mut inner = self.lock();
        let mut batches = 0u64;
        let mut frames = 0u64;
        for (_, entry) in std::mem::take(&mut inner.memory) {
            batches += 1;
            frames += entry.batch.frames.len() as u64;
        }
        inner.memory_bytes = 0;
        if let Some(spill) = inner.spill.as_mut() {
            while let Some(popped) = spill.pop() {
                match popped {
                    Ok(batch) => {
                        batches += 1;
                        frames += batch.frames.len() as u64;
                    }
                    Err((_, lost)) => batches += lost as u64,
                }
            }
        }
        if batches > 0 {
            tracing::warn!(
                batches,
                frames,
                "stopping with batches the backend did not acknowledge: they are lost"
            );
        }
        Counters::add(&self.counters.abandoned_batches, batches);
        Counters::add(&self.counters.abandoned_frames, frames);
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spider_model::PacketRecord;

    fn batch(shard: u16, bytes: u64) -> Batch {
        Batch {
            shard,
            frames: vec![PacketRecord {
                whisperer: "w".into(),
                session_id: 1,
                time: 0,
                interface: 0,
                link_type: 1,
                wire_len: 60,
                from_client: true,
                frame: vec![0; 60],
            }],
            sessions: Vec::new(),
            bytes,
            wire_bytes: 60,
        }
    }

    fn buffer(memory_bytes: u64, spill: Option<Spill>) -> (Buffer, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let config = BufferConfig {
            memory_bytes,
            spill: None,
            overflow: Overflow::Drop,
        };
        (Buffer::new(&config, spill, counters.clone()), counters)
    }

    #[test]
    fn overflow_is_dropped_and_counted_without_gaps() {
        let (buffer, counters) = buffer(300, None);
        let stop = AtomicBool::new(false);
        assert!(buffer.offer(batch(1, 100), Overflow::Drop, &stop));
        assert!(buffer.offer(batch(1, 100), Overflow::Drop, &stop));
        assert!(buffer.offer(batch(2, 100), Overflow::Drop, &stop));
        assert!(!buffer.offer(batch(1, 100), Overflow::Drop, &stop));
        assert_eq!(counters.snapshot().own_drop_frames, 1);
        let first = buffer.next_from(0, &mut Riders::default).expect("first");
        let second = buffer
            .next_from(first.order + 1, &mut Riders::default)
            .expect("second");
        assert_eq!((first.sequence, second.sequence), (1, 2));
        buffer.ack(1, 1);
        assert!(buffer.offer(batch(1, 100), Overflow::Drop, &stop));
        // A new connection resends from the oldest unacknowledged batch, same sequence.
        let again = buffer
            .next_from(buffer.resend_cursor(), &mut Riders::default)
            .expect("resend");
        assert_eq!((again.sequence, again.resend), (2, true));
        let third = buffer
            .next_from(again.order + 1, &mut Riders::default)
            .expect("shard 2");
        assert_eq!((third.batch.shard, third.sequence), (2, 1));
        let fourth = buffer
            .next_from(third.order + 1, &mut Riders::default)
            .expect("the new one");
        assert_eq!((fourth.batch.shard, fourth.sequence), (1, 3));
        buffer.ack(1, 3);
        buffer.ack(2, 1);
        buffer.close();
        assert!(buffer.is_drained());
        assert_eq!(counters.snapshot().batches_acked, 4);
    }

    #[test]
    fn riders_are_fixed_at_the_first_send_and_repeated_on_resends() {
        let (buffer, _) = buffer(1 << 20, None);
        let stop = AtomicBool::new(false);
        assert!(buffer.offer(batch(3, 100), Overflow::Drop, &stop));
        let host = HostRecord {
            ip: "10.244.0.10".parse().expect("ip"),
            name: "web-6b7f9c7d5-k2x8p.shop".into(),
            source: spider_model::HostSource::Kubernetes,
            first_seen: 1,
            last_seen: 1,
        };
        let mut calls = 0;
        let mut riders = || {
            calls += 1;
            Riders {
                drops: None,
                hosts: vec![host.clone()],
            }
        };
        let first = buffer.next_from(0, &mut riders).expect("first send");
        let again = buffer
            .next_from(buffer.resend_cursor(), &mut riders)
            .expect("resend");
        assert_eq!(calls, 1, "a resend takes no new riders");
        assert_eq!(again.riders.hosts, vec![host]);
        assert_eq!((first.sequence, again.sequence), (1, 1));
        let with_names = buffer.depth().memory_bytes;
        assert!(with_names > 100, "the names are counted: {with_names}");
        buffer.ack(3, 1);
        assert_eq!(buffer.depth().memory_bytes, 0);
    }

    #[test]
    fn the_spill_takes_the_overflow_and_keeps_the_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = Spill::open(dir.path(), 1 << 20, "w").expect("spill");
        let (buffer, counters) = buffer(250, Some(spill));
        let stop = AtomicBool::new(false);
        for shard in 0..6 {
            assert!(buffer.offer(batch(shard, 100), Overflow::Drop, &stop));
        }
        assert_eq!(counters.snapshot().batches_spilled, 4);
        let mut cursor = 0;
        let mut shards = Vec::new();
        while shards.len() < 6 {
            let out = buffer
                .next_from(cursor, &mut Riders::default)
                .expect("a batch");
            cursor = out.order + 1;
            shards.push(out.batch.shard);
            buffer.ack(out.batch.shard, out.sequence);
        }
        assert_eq!(shards, vec![0, 1, 2, 3, 4, 5]);
        buffer.close();
        assert!(buffer.is_drained());
    }
}
