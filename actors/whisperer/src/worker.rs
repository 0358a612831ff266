//! The work done on every frame, the same for live and file sources: circuit breakers, session
//! tagging (`spider_pipeline::FrameTagger`: the Whisperer owns session identity), the addresses
//! of new TCP sessions (for their names, `names.rs`), the empty-ACK option, batching per virtual
//! shard, and handing sealed batches to the buffer.
//!
//! One `FramePath` per capture thread; counters are published once per ring block or tick, not
//! per frame.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use spider_pipeline::FrameTagger;

use crate::batcher::{Batch, Batcher};
use crate::breakers::CpuMeter;
use crate::config::Overflow;
use crate::counters::Counters;
use crate::frames::{is_empty_ack, tcp_endpoints};
use crate::settings::CaptureSettings;
use crate::Shared;

/// Frame counts gathered locally and published in one go.
#[derive(Debug, Default)]
struct Local {
    packets: u64,
    bytes: u64,
    limit_drops: u64,
    skipped: u64,
    unsupported: u64,
    sessions: u64,
}

/// One capture thread's tracker and batcher.
#[derive(Debug)]
pub(crate) struct FramePath {
    shared: Arc<Shared>,
    tagger: FrameTagger,
    batcher: Batcher,
    sealed: Vec<Batch>,
    overflow: Overflow,
    settings: Arc<CaptureSettings>,
    generation: u64,
    local: Local,
    cpu: CpuMeter,
    /// The highest session id tagged so far: a higher one is a new session (ids only grow).
    newest_session: u64,
    /// The addresses of the new TCP sessions since the last tick, with their capture time
    /// (gathered only when a Controller is asked for names).
    seen: Vec<(IpAddr, i64)>,
}

/// Wall-clock time, epoch nanoseconds.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The first session id of worker `index`: the start time in microseconds (so ids stay unique
/// across restarts of a Whisperer of the same name) with the worker in the top bits (so the
/// trackers of several workers never hand out the same id).
pub(crate) fn first_session_id(index: usize, seed: Option<u64>) -> u64 {
    let base = seed.unwrap_or_else(|| now_ns() / 1000);
    ((index as u64 & 0x3f) << 56) | (base & ((1 << 56) - 1)).max(1)
}

impl FramePath {
    pub fn new(shared: Arc<Shared>, worker: usize, overflow: Overflow) -> Self {
        let mut pipeline = shared.config.pipeline;
        pipeline.tracker.first_id = first_session_id(worker, shared.config.first_session_id);
        let (settings, generation) = shared.settings.get();
        Self {
            tagger: FrameTagger::new(shared.config.name.clone(), pipeline),
            batcher: Batcher::new(&shared.config.name, shared.config.batch),
            sealed: Vec::new(),
            overflow,
            settings,
            generation,
            local: Local::default(),
            cpu: CpuMeter::new(),
            newest_session: 0,
            seen: Vec::new(),
            shared,
        }
    }

    /// Picks up changed settings; returns the new ones when they changed.
    pub fn refresh_settings(&mut self) -> Option<Arc<CaptureSettings>> {
        if self.shared.settings.generation() == self.generation {
            return None;
        }
        let (settings, generation) = self.shared.settings.get();
        self.settings = settings.clone();
        self.generation = generation;
        Some(settings)
    }

    /// The settings this path works with.
    pub fn settings(&self) -> &CaptureSettings {
        &self.settings
    }

    /// One frame: `link_type` is the pcap LINKTYPE, `time` epoch ns.
    pub fn frame(
        &mut self,
        interface: u32,
        link_type: u32,
        time: i64,
        data: &[u8],
        wire_len: u32,
        (now, wall_ns): (Instant, u64),
    ) {
        self.local.packets += 1;
        self.local.bytes += u64::from(wire_len);
        let limit = self.settings.throughput_limit;
        if self
            .shared
            .breakers
            .admit(limit, u64::from(wire_len), wall_ns)
            .is_err()
        {
            self.local.limit_drops += 1;
            return;
        }
        let Ok(link) = u16::try_from(link_type) else {
            self.local.unsupported += 1;
            return;
        };
        let tagged = self.tagger.tag(interface, link, time, data, wire_len);
        if tagged.packet.session_id > self.newest_session && self.shared.names.enabled() {
            self.newest_session = tagged.packet.session_id;
            if let Some((source, destination)) = tcp_endpoints(link_type, data) {
                self.seen.push((source, time));
                self.seen.push((destination, time));
            }
        }
        for closed in tagged.closed {
            self.local.sessions += 1;
            self.batcher.session(closed, now, &mut self.sealed);
        }
        if self.settings.skip_empty_acks && is_empty_ack(link_type, data) {
            self.local.skipped += 1;
        } else {
            self.batcher.frame(tagged.packet, now, &mut self.sealed);
        }
        if !self.sealed.is_empty() {
            self.offer();
        }
    }

    /// A frame of a link type Spider cannot decode.
    pub fn unsupported(&mut self, wire_len: u32) {
        self.local.packets += 1;
        self.local.bytes += u64::from(wire_len);
        self.local.unsupported += 1;
    }

    fn offer(&mut self) {
        for batch in self.sealed.drain(..) {
            self.shared
                .buffer
                .offer(batch, self.overflow, &self.shared.stop);
        }
    }

    /// Seals the batches that are due and publishes the counters.
    pub fn tick(&mut self, now: Instant) {
        self.batcher.seal_due(now, &mut self.sealed);
        self.offer();
        self.publish();
    }

    /// How long the thread may wait before the next batch is due.
    pub fn next_due(&self, now: Instant) -> Option<std::time::Duration> {
        self.batcher.next_due(now)
    }

    fn publish(&mut self) {
        let counters = &self.shared.counters;
        let local = std::mem::take(&mut self.local);
        Counters::add(&counters.packets_seen, local.packets);
        Counters::add(&counters.bytes_seen, local.bytes);
        Counters::add(&counters.limit_drops, local.limit_drops);
        Counters::add(&counters.skipped_empty_acks, local.skipped);
        Counters::add(&counters.unsupported_frames, local.unsupported);
        Counters::add(&counters.sessions_closed, local.sessions);
        self.cpu.report(&counters.cpu_ns);
        if !self.seen.is_empty() {
            self.shared.names.saw(self.seen.drain(..), counters);
        }
    }

    /// End of input: every open session's record, every open batch.
    pub fn finish(&mut self) {
        let now = Instant::now();
        for closed in self.tagger.finish() {
            self.local.sessions += 1;
            self.batcher.session(closed, now, &mut self.sealed);
        }
        self.batcher.seal_all(&mut self.sealed);
        self.offer();
        self.publish();
    }
}
