use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::EpochNanos;

/// Kubernetes names of one end of a usage record, when a Controller enriched it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct WorkloadRef {
    pub namespace: Option<String>,
    /// `Deployment`, `DaemonSet`, `StatefulSet`, `CronJob`, `Job`, `Pod`, or a class for IPs that
    /// are not pods: `node`, `external`, `internal_unidentified`.
    pub kind: Option<String>,
    pub workload: Option<String>,
    pub pod: Option<String>,
    pub node: Option<String>,
}

/// One direction (src → dst) of one (minute, src, dst, protocol, server port): payload bytes
/// and send calls counted at the sender's socket, wire bytes and packets from `cgroup_skb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsageRecord {
    /// Start of the bucket (a minute by default).
    pub minute: EpochNanos,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `tcp` or `udp`.
    pub proto: String,
    /// The server's port.
    pub port: u16,
    pub bytes: u64,
    pub messages: u64,
    pub wire_bytes: u64,
    pub packets: u64,
    /// The Controller or host that reported it.
    pub reporter: String,
    /// True when counted at the receiver because the sender is not monitored.
    pub receive_side: bool,
    pub src_workload: Option<WorkloadRef>,
    pub dst_workload: Option<WorkloadRef>,
    /// Process of the sender, when the sender is local (host mode).
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub container: Option<String>,
}
