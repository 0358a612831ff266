//! A Spider backend node.
//!
//! Agents push capture and usage batches over Cap'n Proto RPC (`spider-rpc-schema`): each batch is
//! addressed to a virtual shard; this node maps the virtual shards it serves onto K local storage
//! shards (`spider-storage`), each fed by a capture worker that reassembles and parses the packets
//! of its sessions (`spider_pipeline::SessionParser`) before the batch, frames and the records
//! parsed from them, is written in one durable write. The query service fans out to the local
//! shards and merges by time.
//!
//! This crate wires actors and RPC together; it parses no protocol and lays out no storage itself.

pub mod client;
mod cluster;
mod config;
mod gate;
mod limits;
mod node;
mod registry;
mod router;
mod rpc;
mod stats;
pub mod testing;
mod throttle;
mod tls;
mod worker;

pub use cluster::ClusterSettings;
pub use config::{BackendConfig, ConfigError, IndexSettings, RetentionConfig, TextIndexSettings};
pub use limits::{LimitCounters, Limits};
pub use node::{BackendNode, NodeError};
pub use rpc::STORAGE_FULL;
pub use rpc::{serve_connections, ListenerSettings};
pub use spider_identity;
pub use spider_tls::{ServerTls, ServerTransport};
pub use stats::{folder_bytes, NodeStats, NodeTelemetry, Refusal};
pub use throttle::{
    AgentRate, IngestClock, IngestLimits, ManualClock, Sleep, ThrottleCounters, Throttled,
    TokioClock,
};
pub use tls::TlsSettings;
