//! What can stop a Gocipher, each with what the operator needs to fix it.

use std::path::PathBuf;

/// Why the Gocipher cannot run or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GocipherError {
    #[error("the gocipher needs root (CAP_BPF and CAP_NET_ADMIN): running as uid {uid}")]
    NotRoot { uid: u32 },
    #[error("the kernel has no BTF ({path} is missing): CO-RE programs cannot be loaded")]
    NoBtf { path: PathBuf },
    #[error("no cgroup v2 hierarchy is mounted (none in /proc/mounts)")]
    NoCgroupV2,
    #[error("cgroup {path} is not a folder of the cgroup v2 hierarchy at {root}")]
    NotACgroup { path: PathBuf, root: PathBuf },
    #[error(
        "this build has no kernel programs: {reason} (rebuild with clang, bpftool and libbpf-dev)"
    )]
    NotBuilt { reason: String },
    #[error("the kernel refused program {program}: {message}\nverifier log:\n{log}")]
    Verifier {
        program: String,
        message: String,
        log: String,
    },
    #[error("cannot load the kernel programs: {0}")]
    Load(String),
    #[error("cannot attach program {program}: {message}")]
    Attach { program: String, message: String },
    #[error("map {map}: {message}")]
    Map { map: String, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the gocipher has stopped")]
    Stopped,
    #[error("the backend did not acknowledge the records: {0}")]
    NotAcknowledged(String),
}

impl GocipherError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn map(map: &str, error: impl std::fmt::Display) -> Self {
        Self::Map {
            map: map.to_owned(),
            message: error.to_string(),
        }
    }
}
