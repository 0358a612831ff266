//! Reads the kernel's counters. A bucket is drained once it is over (plus a grace period for
//! programs that read the clock just before its end): its entries are read and removed, so they
//! are counted exactly once. A flush also reads the bucket in progress, leaving its entries in
//! place and remembering what was read, so that only the difference is reported later.
//!
//! Evictions of the LRU flow map are counted: every entry the kernel creates is counted there
//! (`STAT_FLOWS_CREATED`), every entry drained here, so `created - drained - live` were evicted.

use std::collections::HashMap as StdHashMap;

use aya::maps::{HashMap, MapData, PerCpuArray, PerCpuHashMap};
use aya::Ebpf;
use spider_ebpf_common::{
    FlowKey, FlowValue, SockInfo, MAP_FLOWS, MAP_SOCKS, MAP_STATS, STAT_COUNT, STAT_FLOWS_CREATED,
};

use crate::GocipherError;

/// One kernel entry's counters since they were last reported, with what is known of its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawFlow {
    pub key: FlowKey,
    pub value: FlowValue,
    pub sock: Option<SockInfo>,
}

pub(crate) struct Drainer {
    flows: PerCpuHashMap<MapData, FlowKey, FlowValue>,
    socks: HashMap<MapData, u64, SockInfo>,
    stats: PerCpuArray<MapData, u64>,
    /// What was reported of entries still in the map (buckets in progress at a flush).
    reported: StdHashMap<FlowKey, FlowValue>,
    removed: u64,
    /// Flow entries the kernel evicted before they were drained.
    pub evictions: u64,
}

impl std::fmt::Debug for Drainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drainer")
            .field("removed", &self.removed)
            .field("evictions", &self.evictions)
            .finish_non_exhaustive()
    }
}

fn sum(values: &[FlowValue]) -> FlowValue {
    values
        .iter()
        .fold(FlowValue::default(), |acc, v| FlowValue {
            bytes: acc.bytes.wrapping_add(v.bytes),
            calls: acc.calls.wrapping_add(v.calls),
            wire_bytes: acc.wire_bytes.wrapping_add(v.wire_bytes),
            packets: acc.packets.wrapping_add(v.packets),
        })
}

fn minus(a: FlowValue, b: FlowValue) -> FlowValue {
    FlowValue {
        bytes: a.bytes.saturating_sub(b.bytes),
        calls: a.calls.saturating_sub(b.calls),
        wire_bytes: a.wire_bytes.saturating_sub(b.wire_bytes),
        packets: a.packets.saturating_sub(b.packets),
    }
}

fn take<T>(ebpf: &mut Ebpf, name: &str) -> Result<T, GocipherError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| GocipherError::map(name, "not in the object"))?;
    T::try_from(map).map_err(|e| GocipherError::map(name, e))
}

impl Drainer {
    pub fn new(ebpf: &mut Ebpf) -> Result<Self, GocipherError> {
        Ok(Self {
            flows: take(ebpf, MAP_FLOWS)?,
            socks: take(ebpf, MAP_SOCKS)?,
            stats: take(ebpf, MAP_STATS)?,
            reported: StdHashMap::new(),
            removed: 0,
            evictions: 0,
        })
    }

    /// The kernel's counters (`STAT_*`), summed over CPUs.
    pub fn stats(&self) -> [u64; STAT_COUNT as usize] {
        let mut out = [0u64; STAT_COUNT as usize];
        for (index, slot) in (0u32..).zip(out.iter_mut()) {
            if let Ok(values) = self.stats.get(&index, 0) {
                *slot = values.iter().copied().fold(0u64, u64::wrapping_add);
            }
        }
        out
    }

    /// Drains the buckets before `final_before` (removing them); with `partial`, also reports
    /// what later buckets hold so far.
    pub fn drain(
        &mut self,
        final_before: u64,
        partial: bool,
    ) -> Result<Vec<RawFlow>, GocipherError> {
        let keys: Vec<FlowKey> = self.flows.keys().filter_map(Result::ok).collect();
        let mut out = Vec::new();
        let mut live = 0u64;
        for key in keys {
            let done = key.bucket < final_before;
            if !done && !partial {
                live += 1;
                continue;
            }
            let Ok(values) = self.flows.get(&key, 0) else {
                continue; // evicted meanwhile
            };
            let total = sum(&values);
            let before = if done {
                self.flows
                    .remove(&key)
                    .map_err(|e| GocipherError::map(MAP_FLOWS, e))?;
                self.removed += 1;
                self.reported.remove(&key)
            } else {
                live += 1;
                self.reported.insert(key, total)
            };
            let value = minus(total, before.unwrap_or_default());
            if value != FlowValue::default() {
                out.push(RawFlow {
                    key,
                    value,
                    sock: self.socks.get(&key.cookie, 0).ok(),
                });
            }
        }
        // Entries reported in part and then evicted: forget them.
        if self.reported.len() as u64 > live {
            let flows = &self.flows;
            self.reported.retain(|key, _| flows.get(key, 0).is_ok());
        }
        let created = self.stats()[STAT_FLOWS_CREATED as usize];
        self.evictions = created.saturating_sub(self.removed + live);
        Ok(out)
    }
}
