//! The Controller: Spider's hand inside a Kubernetes cluster.
//!
//! It keeps an inventory of the cluster from the Kubernetes API (`inventory`), turns the
//! Gociphers' IP counters into Kubernetes names (`enrich`) on their way to the backend,
//! attaches Whisperers to pods and workloads as ephemeral containers (`attach`),
//! and answers Whisperers' questions about the names of IPs (`dns`). `rpc` links it to the
//! backend (registration with its commands, inventory) and serves its cluster's agents (usage
//! enriched on the way to the backend, names of IPs). `config` holds its settings. It must not parse packets or store anything itself.

pub mod attach;
pub mod config;
pub mod dns;
pub mod enrich;
pub mod error;
pub mod inventory;
pub mod process;
pub mod rpc;
pub mod telemetry;

pub use config::ControllerConfig;
pub use error::ControllerError;
pub use inventory::Inventory;

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
