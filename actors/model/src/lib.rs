//! Spider's record types: one serde type per record kind.
//!
//! Every later part of Spider speaks these types: `spider analyze` prints them as ndjson, the REST API
//! returns them, and the Cap'n Proto conversions map them at the boundary. This crate owns their shape
//! and their JSON form (times are epoch nanoseconds; headers are ordered `[name, value]` pairs). It
//! must not know how records are produced: no parsing, no I/O.

pub mod agent;
mod body;
pub mod controller;
mod dns;
mod endpoint;
mod host;
mod http;
pub mod inventory;
mod packet;
mod record;
mod schema;
mod tcp;
mod usage;

pub use body::{BodyCapture, BodyData};
pub use dns::{DnsAnswer, DnsRecord};
pub use endpoint::Endpoint;
pub use host::{HostRecord, HostSource};
pub use http::{HttpExchange, HttpTiming, ParseState};
pub use packet::PacketRecord;
pub use record::Record;
pub use schema::{json_schema, SCHEMA_KINDS};
pub use tcp::{CloseReason, DirectionStats, TcpSessionRecord, TcpState};
pub use usage::{UsageRecord, WorkloadRef};

/// Epoch nanoseconds: the one time unit of every record.
pub type EpochNanos = i64;

/// A header as it was on the wire: name and value, in order of appearance.
pub type Header = (String, String);
