//! Why a push was not stored: the cause (counted) and the error the agent sees.

use spider_storage::StorageError;

use super::failed;
use crate::stats::Refusal;
use crate::worker::WorkerError;

/// (agent, incarnation, shard): the key of a sender's sequence of batches to one shard.
pub(crate) type SenderKey = (String, u64, u16);

/// A push that was not stored: why (counted in `spider_backend_ingest_refused_total`) and the
/// error the agent sees.
pub(crate) struct Refused {
    pub cause: Refusal,
    pub error: capnp::Error,
}

impl Refused {
    pub fn new(cause: Refusal, error: capnp::Error) -> Self {
        Self { cause, error }
    }

    /// A storage failure of local shard `local`; a full disk gets its own, stable message
    /// (`storage full: …`) so that agents can tell it from other failures.
    pub fn storage(local: usize, error: &StorageError) -> Self {
        if error.is_disk_full() {
            Self::new(
                Refusal::StorageFull,
                failed(format!(
                    "{STORAGE_FULL} shard {local} has no space left on its disk; the batch is not \
                     stored: keep it and send it again later ({error})"
                )),
            )
        } else if error.is_gap() {
            Self::new(Refusal::Gap, failed(error))
        } else {
            Self::new(Refusal::Storage, failed(error))
        }
    }

    pub fn worker(local: usize, error: WorkerError) -> Self {
        match error {
            WorkerError::Storage(error) => Self::storage(local, &error),
            other => Self::new(Refusal::Storage, failed(other)),
        }
    }
}

/// The start of the error an agent gets when a shard's disk is full.
pub const STORAGE_FULL: &str = "storage full:";

impl From<capnp::Error> for Refused {
    fn from(error: capnp::Error) -> Self {
        Self::new(Refusal::Invalid, error)
    }
}

impl From<std::str::Utf8Error> for Refused {
    fn from(error: std::str::Utf8Error) -> Self {
        Self::new(Refusal::Invalid, error.into())
    }
}
