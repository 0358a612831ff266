//! Spider's storage shard: RocksDB with one column family per data kind, a tantivy index over
//! HTTP exchanges partitioned by (retention class, hour), retention, and shard-local queries.
//!
//! A [`Shard`] owns one RocksDB and its index folder exclusively and is driven synchronously;
//! a [`ShardActor`] owns a `Shard` on its own actix arbiter and drains one request enum,
//! [`ShardRequest`]. A backend node runs K of them, routed by virtual shard; queries fan out to
//! every shard and the caller merges by time.
//!
//! This crate knows the record types of `spider-model`, not how they are parsed: the parser
//! actor that turns a session's packets into HTTP exchanges lives with the backend's actors. It
//! does not route, merge across shards, or speak RPC.
//!
//! # Layout
//!
//! `<path>/db` is the RocksDB, `<path>/index/<class>/<window start ns>/` a tantivy partition.
//! Column families (see [`keys`] for the exact keys): `packets` (zstd-compressed blocks of one
//! session's packets from one batch), `sessions` (latest record per session; a merge operator
//! keeps the newest), `session_ids` (whisperer, session id → position), `http`, `dns`,
//! `hosts` (a merge operator widens first/last seen), `usage` (a merge operator adds the
//! counters), `batches` (batch ids for idempotency, the ingest log the index catches up from),
//! `meta` (retention classes, counters). Values are MessagePack (`rmp-serde`, structs as arrays).
//!
//! # Durability
//!
//! `ingest` returns once the batch's single `WriteBatch` is in the WAL. With
//! [`WalSync::OsBuffered`] (default) an acknowledged batch survives the process being killed;
//! with [`WalSync::Always`] it also survives power loss. The index lags by at most
//! `commit_interval`; [`ShardEvent::Searchable`] says when a batch is searchable, and a shard
//! opening after a crash re-indexes what the index had not committed.

mod actor;
mod codec;
mod config;
mod db;
mod disk;
mod error;
mod index;
pub mod keys;
mod merge;
mod meta;
mod request;
mod shard;
mod types;

pub use actor::ShardActor;
pub use codec::Stored;
pub use config::{IndexConfig, ShardConfig, TextIndexing, WalSync, DEFAULT_MIN_FREE_BYTES};
pub use disk::dir_size;
pub use disk::free_bytes;
pub use error::{Result, StorageError};
pub use request::{ShardRequest, ShardResponse, ShardStatus};
pub use shard::{now_ns, write_pcapng, CopyPosition, RawChunk, RawEntry, Shard, ShardMemory};
pub use types::*;
