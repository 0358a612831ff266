//! The JSON Schema of each record kind, generated from the types, for checks and integrations.

use schemars::schema_for;

use crate::{DnsRecord, HostRecord, HttpExchange, PacketRecord, TcpSessionRecord, UsageRecord};

/// The record kinds that have a schema, as their `kind` is written in ndjson.
pub const SCHEMA_KINDS: [&str; 6] = ["http", "tcp_session", "dns", "host", "packet", "usage"];

/// The JSON Schema (draft 2020-12) of one record kind; `None` for an unknown kind.
pub fn json_schema(kind: &str) -> Option<serde_json::Value> {
    let schema = match kind {
        "http" => schema_for!(HttpExchange),
        "tcp_session" => schema_for!(TcpSessionRecord),
        "dns" => schema_for!(DnsRecord),
        "host" => schema_for!(HostRecord),
        "packet" => schema_for!(PacketRecord),
        "usage" => schema_for!(UsageRecord),
        _ => return None,
    };
    serde_json::to_value(schema).ok()
}
