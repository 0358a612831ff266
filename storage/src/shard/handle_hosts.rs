//! Hosts: the names known for addresses.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use rocksdb::IteratorMode;
use spider_model::{HostRecord, HostSource};
use spider_query::{Origin, RecordKind};

use super::handle_http::{check_kind, check_limit};
use super::Shard;
use crate::codec::decode;
use crate::db::{cf, CF_HOSTS};
use crate::error::Result;
use crate::keys::{array, ip16, ip_from16};
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

/// A host entry back from its key and value; `None` when damaged (logged).
pub(crate) fn host_record(key: &[u8], value: &[u8]) -> Option<(HostRecord, HostValue)> {
    let ip = ip_from16(array(key, 0)?);
    let source = source_of(*key.get(16)?)?;
    let name = String::from_utf8(key.get(17..)?.to_vec()).ok()?;
    let value: HostValue = match decode(CF_HOSTS, "host", value) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, "skipping an undecodable host");
            return None;
        }
    };
    Some((
        HostRecord {
            ip,
            name,
            source,
            first_seen: value.first_seen,
            last_seen: value.last_seen,
        },
        value,
    ))
}

impl Shard {
    /// Hosts seen in the range (last seen at or after `from`, first seen before `to`), by
    /// address, filtered by a `host` query.
    pub fn query_hosts(&self, request: &HostQuery) -> Result<Vec<HostRecord>> {
        check_kind(request.query.as_ref(), RecordKind::Host)?;
        let limit = check_limit(request.limit)?;
        let hosts = cf(&self.db, CF_HOSTS)?;
        let mut items = Vec::new();
        for item in self.db.iterator_cf(hosts, IteratorMode::Start) {
            let (key, value) = item?;
            let Some((host, _)) = host_record(&key, &value) else {
                continue;
            };
            if host.last_seen < request.range.from || host.first_seen >= request.range.to {
                continue;
            }
            if let Some(query) = &request.query {
                if !spider_query::matches_in(query, &host, Origin::default()) {
                    continue;
                }
            }
            items.push(host);
            if items.len() >= limit {
                break;
            }
        }
        Ok(items)
    }

    /// The names known for each address (any source), sorted.
    pub(crate) fn names_of(
        &self,
        ips: impl IntoIterator<Item = IpAddr>,
    ) -> Result<HashMap<IpAddr, Vec<String>>> {
        let hosts = cf(&self.db, CF_HOSTS)?;
        let mut names = HashMap::new();
        for ip in ips {
            let prefix = ip16(ip);
            let mut found = BTreeSet::new();
            for item in self.db.prefix_iterator_cf(hosts, prefix) {
                let (key, value) = item?;
                if !key.starts_with(&prefix) {
                    break;
                }
                if let Some((host, _)) = host_record(&key, &value) {
                    found.insert(host.name);
                }
            }
            if !found.is_empty() {
                names.insert(ip, found.into_iter().collect());
            }
        }
        Ok(names)
    }
}
