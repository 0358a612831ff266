use std::collections::HashMap;
use std::net::IpAddr;

use spider_model::{EpochNanos, HostRecord, HostSource};

/// Names learnt for IP addresses, with when each was first and last seen.
#[derive(Debug)]
pub(crate) struct HostTable {
    max_entries: usize,
    entries: HashMap<(IpAddr, String, HostSource), (EpochNanos, EpochNanos)>,
    pub dropped: u64,
}

impl HostTable {
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            entries: HashMap::new(),
            dropped: 0,
        }
    }

    pub fn observe(&mut self, ip: IpAddr, name: &str, source: HostSource, time: EpochNanos) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return;
        }
        let key = (ip, name, source);
        if let Some((first, last)) = self.entries.get_mut(&key) {
            *first = (*first).min(time);
            *last = (*last).max(time);
        } else if self.entries.len() < self.max_entries {
            self.entries.insert(key, (time, time));
        } else {
            self.dropped += 1;
        }
    }

    /// Every entry as a record, ordered by first sighting.
    pub fn drain_records(&mut self) -> Vec<HostRecord> {
        let mut records: Vec<HostRecord> = self
            .entries
            .drain()
            .map(|((ip, name, source), (first_seen, last_seen))| HostRecord {
                ip,
                name,
                source,
                first_seen,
                last_seen,
            })
            .collect();
        records.sort_by(|a, b| {
            (a.first_seen, a.ip, &a.name, a.source).cmp(&(b.first_seen, b.ip, &b.name, b.source))
        });
        records
    }
}

/// The host part of a `Host` header: port and brackets removed.
pub(crate) fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => {
            name
        }
        _ => host,
    }
}
