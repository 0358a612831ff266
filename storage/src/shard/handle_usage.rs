//! Usage: per-minute counters grouped at a level (IP pairs, namespaces, workloads, pods, nodes).

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use rocksdb::{Direction, IteratorMode};
use spider_model::WorkloadRef;

use super::Shard;
use crate::codec::decode;
use crate::db::{cf, CF_USAGE};
use crate::error::{Result, StorageError};
use crate::keys::{array, ip_from16, name_hash, time_be, time_from_be, usage_agent_of};
use crate::merge::UsageValue;
use crate::types::{UsageLevel, UsageRequest, UsageRow};

/// The most rows one usage answer has.
pub const MAX_USAGE_ROWS: usize = 1_000_000;

/// The label of one end at a level: the Kubernetes name when known, else the IP's class
/// (`external`, `node`, `internal_unidentified`: all such IPs group together), else the address.
fn label(level: UsageLevel, ip: IpAddr, workload: Option<&WorkloadRef>) -> String {
    let fallback = || {
        workload
            .and_then(|w| w.kind.clone())
            .filter(|kind| kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .unwrap_or_else(|| ip.to_string())
    };
    let Some(w) = workload else {
        return ip.to_string();
    };
    let with_namespace = |name: &Option<String>| match (&w.namespace, name) {
        (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
        (None, Some(name)) => Some(name.clone()),
        _ => None,
    };
    let named = match level {
        UsageLevel::IpPair => Some(ip.to_string()),
        UsageLevel::Namespace => w.namespace.clone(),
        UsageLevel::Workload => with_namespace(&w.workload),
        UsageLevel::Pod => with_namespace(&w.pod),
        UsageLevel::Node => w.node.clone(),
    };
    named.unwrap_or_else(fallback)
}

impl Shard {
    /// Usage rows of the minutes in the range, grouped at `level`, ordered by minute then labels;
    /// only the rows of `request.agents` when it names any.
    pub fn usage(&self, request: &UsageRequest) -> Result<Vec<UsageRow>> {
        let usage = cf(&self.db, CF_USAGE)?;
        let agents: Option<HashSet<u64>> = (!request.agents.is_empty()).then(|| {
            request
                .agents
                .iter()
                .map(|agent| name_hash(agent))
                .collect()
        });
        let start = time_be(request.range.from);
        let end = time_be(request.range.to);
        type GroupKey = (i64, String, String, Option<String>, Option<u16>);
        type Sums = ([u64; 4], Option<WorkloadRef>, Option<WorkloadRef>);
        let mut groups: BTreeMap<GroupKey, Sums> = BTreeMap::new();
        for item in self
            .db
            .iterator_cf(usage, IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if key.get(..8) >= Some(&end[..]) {
                break;
            }
            let (Some(minute), Some(src), Some(dst), Some(port)) = (
                array::<8>(&key, 0),
                array::<16>(&key, 8),
                array::<16>(&key, 24),
                array::<2>(&key, 41),
            ) else {
                tracing::warn!("skipping a usage key of the wrong length");
                continue;
            };
            if let Some(agents) = &agents {
                // A row stored before rows carried their agent belongs to no team.
                if !usage_agent_of(&key).is_some_and(|agent| agents.contains(&agent)) {
                    continue;
                }
            }
            let value: UsageValue = decode(CF_USAGE, "usage", &value)?;
            let (src, dst) = (ip_from16(src), ip_from16(dst));
            let level = request.level;
            let pair = level == UsageLevel::IpPair;
            let group = (
                time_from_be(minute),
                label(level, src, value.src_workload.as_ref()),
                label(level, dst, value.dst_workload.as_ref()),
                pair.then(|| value.proto.clone()),
                pair.then(|| u16::from_be_bytes(port)),
            );
            if !groups.contains_key(&group) && groups.len() >= MAX_USAGE_ROWS {
                return Err(StorageError::InvalidRequest(format!(
                    "more than {MAX_USAGE_ROWS} usage rows: narrow the range or group higher"
                )));
            }
            let (sums, src_workload, dst_workload) = groups.entry(group).or_default();
            if pair {
                src_workload.clone_from(&value.src_workload);
                dst_workload.clone_from(&value.dst_workload);
            }
            for (sum, add) in
                sums.iter_mut()
                    .zip([value.bytes, value.messages, value.wire_bytes, value.packets])
            {
                *sum = sum.saturating_add(add);
            }
        }
        Ok(groups
            .into_iter()
            .map(
                |(
                    (minute, src, dst, proto, port),
                    ([bytes, messages, wire_bytes, packets], src_workload, dst_workload),
                )| {
                    UsageRow {
                        src_workload,
                        dst_workload,
                        minute,
                        src,
                        dst,
                        proto,
                        port,
                        bytes,
                        messages,
                        wire_bytes,
                        packets,
                    }
                },
            )
            .collect())
    }
}
