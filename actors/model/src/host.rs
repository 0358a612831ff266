use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::EpochNanos;

/// Where a host name was learnt.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HostSource {
    /// A DNS response's A/AAAA answer (after following CNAMEs: `name` is the name asked for).
    Dns,
    /// The server name of a TLS ClientHello sent to `ip`.
    Sni,
    /// The `Host` header of an HTTP request sent to `ip` (port removed).
    Http,
    /// A name the Controller gave for `ip` from the Kubernetes inventory (a pod's
    /// `POD.NAMESPACE`, its DNS records, its services, a node's name), asked for by a Whisperer
    /// that saw `ip` in a TCP session.
    Kubernetes,
}

/// An IP address and a name it is known by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostRecord {
    pub ip: IpAddr,
    pub name: String,
    pub source: HostSource,
    pub first_seen: EpochNanos,
    pub last_seen: EpochNanos,
}
