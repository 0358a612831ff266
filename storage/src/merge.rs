//! Merge operators: usage counters add up, session updates keep the newest, host sightings
//! widen their time span. A merge must never fail (RocksDB would report corruption on read), so
//! an operand that does not decode is skipped and logged.

use rocksdb::MergeOperands;
use serde::{Deserialize, Serialize};
use spider_model::{TcpSessionRecord, TcpState, WorkloadRef};

use crate::codec::{decode, encode, Stored};

/// The value of a `usage` key: counters and what the key only hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UsageValue {
    pub bytes: u64,
    pub messages: u64,
    pub wire_bytes: u64,
    pub packets: u64,
    pub proto: String,
    pub reporter: String,
    pub src_workload: Option<WorkloadRef>,
    pub dst_workload: Option<WorkloadRef>,
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub container: Option<String>,
}

impl UsageValue {
    fn add(&mut self, other: UsageValue) {
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.messages = self.messages.saturating_add(other.messages);
        self.wire_bytes = self.wire_bytes.saturating_add(other.wire_bytes);
        self.packets = self.packets.saturating_add(other.packets);
        // The names of the latest report win (a pod renamed, a workload enriched later).
        if other.src_workload.is_some() {
            self.src_workload = other.src_workload;
        }
        if other.dst_workload.is_some() {
            self.dst_workload = other.dst_workload;
        }
        if !other.proto.is_empty() {
            self.proto = other.proto;
        }
        if !other.reporter.is_empty() {
            self.reporter = other.reporter;
        }
        self.pid = other.pid.or(self.pid);
        self.command = other.command.or(self.command.take());
        self.container = other.container.or(self.container.take());
    }
}

/// The value of a `hosts` key: when the name was seen, and how long to keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HostValue {
    pub first_seen: i64,
    pub last_seen: i64,
    pub ttl_ns: i64,
}

fn merge_all<T: serde::de::DeserializeOwned + Serialize>(
    cf: &'static str,
    existing: Option<&[u8]>,
    operands: &MergeOperands,
    mut fold: impl FnMut(Option<T>, T) -> T,
) -> Option<Vec<u8>> {
    let mut acc: Option<T> = None;
    for bytes in existing.into_iter().chain(operands.iter()) {
        match decode::<T>(cf, "merge operand", bytes) {
            Ok(value) => acc = Some(fold(acc.take(), value)),
            Err(error) => tracing::warn!(cf, %error, "skipping an undecodable merge operand"),
        }
    }
    match acc {
        Some(value) => encode("merged value", &value).ok(),
        // Nothing decoded: keep the existing bytes (or an empty value) rather than fail.
        None => Some(existing.map(<[u8]>::to_vec).unwrap_or_default()),
    }
}

pub(crate) fn usage_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    merge_all::<UsageValue>("usage", existing, operands, |acc, next| match acc {
        Some(mut acc) => {
            acc.add(next);
            acc
        }
        None => next,
    })
}

pub(crate) fn host_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    merge_all::<HostValue>("hosts", existing, operands, |acc, next| match acc {
        Some(acc) => HostValue {
            first_seen: acc.first_seen.min(next.first_seen),
            last_seen: acc.last_seen.max(next.last_seen),
            ttl_ns: acc.ttl_ns.max(next.ttl_ns),
        },
        None => next,
    })
}

/// Orders two updates of one session: the later last packet, then more packets, then the more
/// final state.
pub(crate) fn session_version(record: &TcpSessionRecord) -> (i64, u64, u8) {
    let packets = record
        .client_to_server
        .packets
        .saturating_add(record.server_to_client.packets);
    let state = match record.state {
        TcpState::SynSent => 0,
        TcpState::SynReceived => 1,
        TcpState::Established => 2,
        TcpState::FinWait => 3,
        TcpState::Closed | TcpState::Reset => 4,
    };
    let closed = u8::from(record.close_reason.is_some());
    (record.last_packet, packets, state * 2 + closed)
}

pub(crate) fn session_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    merge_all::<Stored<TcpSessionRecord>>("sessions", existing, operands, |acc, next| match acc {
        Some(acc) if session_version(&acc.record) > session_version(&next.record) => acc,
        _ => next,
    })
}
