//! Hosts: the names known for addresses, one entry per (address, source, name, Whisperer that
//! saw it), so that a team reads only what its Whisperers saw. Entries stored before hosts were
//! kept per Whisperer have none: only a query over every Whisperer reads them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use rocksdb::IteratorMode;
use spider_model::{HostRecord, HostSource};
use spider_query::{Origin, RecordKind};

use super::handle_http::{check_kind, check_limit};
use super::Shard;
use crate::codec::decode;
use crate::db::{cf, CF_HOSTS};
use crate::error::Result;
use crate::keys::{host_key_parts, ip16, name_hash};
use crate::merge::HostValue;
use crate::types::HostQuery;

fn source_of(byte: u8) -> Option<HostSource> {
    match byte {
        0 => Some(HostSource::Dns),
        1 => Some(HostSource::Sni),
        2 => Some(HostSource::Http),
        3 => Some(HostSource::Kubernetes),
        _ => None,
    }
}

/// One stored host entry.
pub(crate) struct HostEntry {
    pub record: HostRecord,
    pub value: HostValue,
    /// The hash of the Whisperer that saw it; `None` for an entry of the layout before teams.
    pub whisperer: Option<u64>,
    source_byte: u8,
}

/// A host entry back from its key and value; `None` when damaged (logged).
pub(crate) fn host_record(key: &[u8], value: &[u8]) -> Option<HostEntry> {
    let (ip, source_byte, name, whisperer) = host_key_parts(key)?;
    let source = source_of(source_byte)?;
    let name = String::from_utf8(name.to_vec()).ok()?;
    let value: HostValue = match decode(CF_HOSTS, "host", value) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, "skipping an undecodable host");
            return None;
        }
    };
    Some(HostEntry {
        record: HostRecord {
            ip,
            name,
            source,
            first_seen: value.first_seen,
            last_seen: value.last_seen,
        },
        value,
        whisperer,
        source_byte,
    })
}

/// Which entries a query reads: every one, or those of these Whisperers (by hash).
fn wanted(whisperers: &[String]) -> Option<HashSet<u64>> {
    (!whisperers.is_empty()).then(|| whisperers.iter().map(|name| name_hash(name)).collect())
}

fn shown(wanted: Option<&HashSet<u64>>, entry: &HostEntry) -> bool {
    match wanted {
        None => true,
        Some(wanted) => entry
            .whisperer
            .is_some_and(|whisperer| wanted.contains(&whisperer)),
    }
}

impl Shard {
    /// Hosts seen in the range (last seen at or after `from`, first seen before `to`), by
    /// address, filtered by a `host` query; a host seen by several of the asked Whisperers is
    /// one item, first and last seen over them.
    pub fn query_hosts(&self, request: &HostQuery) -> Result<Vec<HostRecord>> {
        check_kind(request.query.as_ref(), RecordKind::Host)?;
        let limit = check_limit(request.limit)?;
        let wanted = wanted(&request.whisperers);
        let hosts = cf(&self.db, CF_HOSTS)?;
        let mut items: BTreeMap<(IpAddr, u8, String), HostRecord> = BTreeMap::new();
        // Every entry of an address is under its prefix: once `limit` hosts are found, the
        // entries of the address being read may still widen their spans, no later one can.
        let mut previous_ip = None;
        for item in self.db.iterator_cf(hosts, IteratorMode::Start) {
            let (key, value) = item?;
            let Some(entry) = host_record(&key, &value) else {
                continue;
            };
            let ip = entry.record.ip;
            let full = items.len() >= limit;
            if full && previous_ip != Some(ip) {
                break;
            }
            previous_ip = Some(ip);
            let host = &entry.record;
            if !shown(wanted.as_ref(), &entry)
                || host.last_seen < request.range.from
                || host.first_seen >= request.range.to
            {
                continue;
            }
            if let Some(query) = &request.query {
                if !spider_query::matches_in(query, host, Origin::default()) {
                    continue;
                }
            }
            let group = (ip, entry.source_byte, host.name.clone());
            match items.get_mut(&group) {
                Some(known) => {
                    known.first_seen = known.first_seen.min(host.first_seen);
                    known.last_seen = known.last_seen.max(host.last_seen);
                }
                None if !full => {
                    items.insert(group, entry.record);
                }
                None => {}
            }
        }
        Ok(items.into_values().collect())
    }

    /// The names known for each address (any source), sorted; only those `whisperers` saw
    /// when it names any.
    pub(crate) fn names_of(
        &self,
        ips: impl IntoIterator<Item = IpAddr>,
        whisperers: &[String],
    ) -> Result<HashMap<IpAddr, Vec<String>>> {
        let hosts = cf(&self.db, CF_HOSTS)?;
        let wanted = wanted(whisperers);
        let mut names = HashMap::new();
        for ip in ips {
            let prefix = ip16(ip);
            let mut found = BTreeSet::new();
            for item in self.db.prefix_iterator_cf(hosts, prefix) {
                let (key, value) = item?;
                if !key.starts_with(&prefix) {
                    break;
                }
                if let Some(entry) = host_record(&key, &value) {
                    if shown(wanted.as_ref(), &entry) {
                        found.insert(entry.record.name);
                    }
                }
            }
            if !found.is_empty() {
                names.insert(ip, found.into_iter().collect());
            }
        }
        Ok(names)
    }
}
