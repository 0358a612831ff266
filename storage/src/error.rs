//! The one error type of the crate.

use std::path::PathBuf;

/// What went wrong in a shard. Messages are lowercase and name the thing involved.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("index query: {0}")]
    IndexQuery(#[from] tantivy::query::QueryParserError),
    #[error("io on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A value read from disk did not decode: the store is damaged or from another version.
    #[error("corrupt {what} in column family {cf}: {reason}")]
    Corrupt {
        cf: &'static str,
        what: &'static str,
        reason: String,
    },
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
    /// A request the shard refuses (a bad cursor, a range too large, …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("pcap export: {0}")]
    Pcap(#[from] spider_pcap::PcapError),
    /// The shard's disk has less free space than it keeps: the batch was not written.
    #[error(
        "the disk of {path} has {free} bytes free, less than the {min_free} kept free: ingest is \
         refused until space returns"
    )]
    DiskFull {
        path: PathBuf,
        free: u64,
        min_free: u64,
    },
    /// The shard actor is gone (stopped or its thread died).
    #[error("shard actor unavailable: {0}")]
    Unavailable(String),
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the write failed because the shard's disk is full (ENOSPC from RocksDB, the
    /// index or a file write): the batch was not stored and may be sent again once space returns.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::DiskFull { .. } => true,
            Self::Io { source, .. } => {
                source.kind() == std::io::ErrorKind::StorageFull
                    || source.raw_os_error() == Some(28)
            }
            Self::Rocks(error) => error.to_string().contains("No space left on device"),
            Self::Index(error) => error.to_string().contains("No space left on device"),
            _ => false,
        }
    }

    /// True when a batch was refused because it follows a batch not stored.
    pub fn is_gap(&self) -> bool {
        matches!(self, Self::InvalidRequest(reason) if reason.contains("follows a gap"))
    }

    pub(crate) fn corrupt(cf: &'static str, what: &'static str, reason: impl ToString) -> Self {
        Self::Corrupt {
            cf,
            what,
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
