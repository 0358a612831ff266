use std::net::IpAddr;

use spider_model::Endpoint;

/// A 5-tuple in canonical order (lower endpoint first), plus the VLAN: both directions of a
/// conversation share one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub protocol: u8,
    pub vlan: Option<u16>,
    pub low: Endpoint,
    pub high: Endpoint,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's `low` side.
    pub fn of(
        protocol: u8,
        vlan: Option<u16>,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
    ) -> (Self, bool) {
        let src = Endpoint::new(src.0, src.1);
        let dst = Endpoint::new(dst.0, dst.1);
        let src_is_low = src <= dst;
        let (low, high) = if src_is_low { (src, dst) } else { (dst, src) };
        (
            Self {
                protocol,
                vlan,
                low,
                high,
            },
            src_is_low,
        )
    }
}

/// Flow ids for non-TCP packets: one id per 5-tuple until it has been idle for the timeout.
#[derive(Debug)]
pub struct FlowTable {
    idle_timeout_ns: i64,
    max_flows: usize,
    flows: std::collections::HashMap<FlowKey, (u64, i64), foldhash::fast::RandomState>,
    /// Flows forgotten early because the table was full.
    pub evicted: u64,
}

impl FlowTable {
    pub fn new(idle_timeout_ns: i64, max_flows: usize) -> Self {
        Self {
            idle_timeout_ns,
            max_flows: max_flows.max(1),
            flows: std::collections::HashMap::default(),
            evicted: 0,
        }
    }

    /// The flow id of `key` at `time`, allocating one with `next_id` for a new or idle flow.
    pub fn flow_id(&mut self, key: FlowKey, time: i64, next_id: impl FnOnce() -> u64) -> u64 {
        if let Some((id, last)) = self.flows.get_mut(&key) {
            if time.saturating_sub(*last) <= self.idle_timeout_ns {
                *last = (*last).max(time);
                return *id;
            }
        }
        if self.flows.len() >= self.max_flows && !self.flows.contains_key(&key) {
            let idle_timeout = self.idle_timeout_ns;
            self.flows
                .retain(|_, (_, last)| time.saturating_sub(*last) <= idle_timeout);
            if self.flows.len() >= self.max_flows {
                self.evicted += self.flows.len() as u64;
                self.flows.clear();
            }
        }
        let id = next_id();
        self.flows.insert(key, (id, time));
        id
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
