use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};
use spider_model::EpochNanos;

/// Bounds of IP fragment reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once; the oldest is dropped beyond it.
    pub max_datagrams: usize,
    /// Fragment bytes held in total; the oldest datagrams are dropped beyond it.
    pub max_bytes: usize,
    /// A datagram whose fragments stop arriving for this long is dropped.
    pub timeout_ns: i64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self {
            max_datagrams: 4096,
            max_bytes: 64 * 1024 * 1024,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// What fragment reassembly did, and what its limits cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    /// Datagrams dropped because their fragments stopped arriving.
    pub timed_out: u64,
    /// Datagrams dropped because of `max_datagrams` or `max_bytes`.
    pub dropped_by_limit: u64,
    /// Fragments that contradicted earlier ones (overlaps with other data, beyond the end).
    pub invalid: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragmentKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub protocol: u8,
}

#[derive(Debug)]
struct Pending {
    buf: IpDefragBuf,
    bytes: usize,
    started: EpochNanos,
}

/// Reassembles IPv4 and IPv6 fragments within the configured bounds.
#[derive(Debug, Default)]
pub(crate) struct Defragmenter {
    config: DefragConfig,
    pending: HashMap<FragmentKey, Pending>,
    /// Keys in arrival order of their first fragment, for expiry and eviction.
    order: VecDeque<(FragmentKey, EpochNanos)>,
    held_bytes: usize,
    pub stats: DefragStats,
}

impl Defragmenter {
    pub fn new(config: DefragConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Adds one fragment; returns the whole payload once every fragment is in.
    pub fn add(
        &mut self,
        key: FragmentKey,
        time: EpochNanos,
        offset: IpFragOffset,
        more_fragments: bool,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        self.stats.fragments += 1;
        self.expire(time);
        let entry = self.pending.entry(key).or_insert_with(|| {
            self.order.push_back((key, time));
            Pending {
                buf: IpDefragBuf::new(IpNumber(key.protocol), Vec::new(), Vec::new()),
                bytes: 0,
                started: time,
            }
        });
        if entry.buf.add(offset, more_fragments, payload).is_err() {
            self.stats.invalid += 1;
            return None;
        }
        entry.bytes += payload.len();
        self.held_bytes += payload.len();
        if entry.buf.is_complete() {
            let done = self.pending.remove(&key)?;
            self.held_bytes -= done.bytes;
            self.stats.reassembled += 1;
            let (data, _) = done.buf.take_bufs();
            return Some(data);
        }
        self.enforce_limits();
        None
    }

    fn expire(&mut self, now: EpochNanos) {
        while let Some(&(key, started)) = self.order.front() {
            if !self.is_pending(key, started) {
                self.order.pop_front();
                continue;
            }
            if now.saturating_sub(started) < self.config.timeout_ns {
                break;
            }
            self.order.pop_front();
            if self.remove_if_started(key, started) {
                self.stats.timed_out += 1;
            }
        }
    }

    fn enforce_limits(&mut self) {
        while self.pending.len() > self.config.max_datagrams
            || self.held_bytes > self.config.max_bytes
        {
            let Some((key, started)) = self.order.pop_front() else {
                break;
            };
            if self.remove_if_started(key, started) {
                self.stats.dropped_by_limit += 1;
            }
        }
    }

    fn is_pending(&self, key: FragmentKey, started: EpochNanos) -> bool {
        self.pending
            .get(&key)
            .is_some_and(|pending| pending.started == started)
    }

    /// Removes the datagram for `key` if it is the one that started at `started` (keys repeat).
    fn remove_if_started(&mut self, key: FragmentKey, started: EpochNanos) -> bool {
        match self.pending.get(&key) {
            Some(pending) if pending.started == started => {
                self.held_bytes -= pending.bytes;
                self.pending.remove(&key);
                true
            }
            _ => false,
        }
    }

    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}
