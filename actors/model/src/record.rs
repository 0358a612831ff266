use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{DnsRecord, HostRecord, HttpExchange, TcpSessionRecord};

/// Any record, tagged by its `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Http(Box<HttpExchange>),
    TcpSession(Box<TcpSessionRecord>),
    Host(HostRecord),
    Dns(DnsRecord),
}

impl Record {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::TcpSession(_) => "tcp_session",
            Self::Host(_) => "host",
            Self::Dns(_) => "dns",
        }
    }
}
