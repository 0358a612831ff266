use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Endpoint, EpochNanos};

/// One DNS response, with the question it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsRecord {
    pub time: EpochNanos,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The transaction id.
    pub id: u16,
    /// The name asked for.
    pub name: String,
    /// The question type (`A`, `AAAA`, `CNAME`, … or `TYPE<n>`).
    #[serde(rename = "type")]
    pub query_type: String,
    pub answers: Vec<DnsAnswer>,
    /// The response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, … or `RCODE<n>`).
    pub rcode: String,
    /// The request-to-response latency, when the request was seen.
    pub latency_ns: Option<i64>,
}

/// One resource record of a DNS answer section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsAnswer {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub ttl: u32,
    /// The data in presentation form: an address, a name, or hex for other types.
    pub data: String,
}
