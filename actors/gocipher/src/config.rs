//! The Gocipher's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::GocipherError;

/// Where the records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A backend node (plain hosts): records carry the host and process as their workload.
    Backend(SocketAddr),
    /// The cluster's Controller, which enriches them with Kubernetes names and forwards them.
    Controller(SocketAddr),
}

impl Upstream {
    pub fn addr(&self) -> SocketAddr {
        match self {
            Self::Backend(addr) | Self::Controller(addr) => *addr,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GocipherConfig {
    /// The agent's name, unique per backend: the `reporter` of its records.
    pub name: String,
    pub upstream: Upstream,
    /// The token the upstream accepts.
    pub token: String,
    /// How the upstream is reached: plain TCP (default), or TLS verifying its certificate.
    pub tls: spider_backend::client::ClientTransport,
    /// Bucket length: a minute by default; whole seconds (tests use a few).
    pub bucket: Duration,
    /// The cgroup v2 folder whose sockets are counted (with its descendants); `None`: the whole
    /// hierarchy, so every socket of the host.
    pub cgroup: Option<PathBuf>,
    /// Entries of the flow counters (LRU, per CPU): one per direction of a socket and peer per
    /// bucket. Memory: about `flow_entries × (100 + 32 × CPUs)` bytes.
    pub flow_entries: u32,
    /// Entries of the socket table (LRU): owner process and role per socket.
    pub sock_entries: u32,
    /// Records kept while the upstream is away; the oldest are dropped (and counted) beyond.
    pub max_buffered_records: usize,
    /// How often the status is reported to the upstream.
    pub status_interval: Duration,
    /// Register with the backend's agent registry (host mode).
    pub register: bool,
}

impl GocipherConfig {
    /// The defaults for a Gocipher named `name` that sends to `upstream`.
    pub fn new(name: impl Into<String>, upstream: Upstream, token: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            upstream,
            token: token.into(),
            tls: spider_backend::client::ClientTransport::Plain,
            bucket: Duration::from_secs(60),
            cgroup: None,
            flow_entries: 16_384,
            sock_entries: 65_536,
            max_buffered_records: 1_000_000,
            status_interval: Duration::from_secs(20),
            register: true,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), GocipherError> {
        let bad = |what: &str| Err(GocipherError::Config(what.to_owned()));
        if self.name.is_empty() {
            return bad("the name is empty");
        }
        if self.bucket < Duration::from_secs(1) || self.bucket.subsec_nanos() != 0 {
            return bad("the bucket must be a whole number of seconds, at least one");
        }
        if self.bucket > Duration::from_secs(3600) {
            return bad("the bucket must be at most an hour");
        }
        if self.flow_entries < 64 || self.sock_entries < 64 {
            return bad("map sizes must be at least 64 entries");
        }
        if self.max_buffered_records == 0 {
            return bad("the buffer must hold at least one record");
        }
        Ok(())
    }

    pub(crate) fn bucket_ns(&self) -> u64 {
        u64::try_from(self.bucket.as_nanos()).unwrap_or(u64::MAX)
    }
}
