//! The Controller: Spider's hand inside a Kubernetes cluster.
//!
//! It keeps an inventory of the cluster from the Kubernetes API (`inventory`), turns the
//! Gociphers' IP counters into Kubernetes names (`enrich`) and forwards them to the backend
//! (`forward`), attaches Whisperers to pods and workloads as ephemeral containers (`attach`),
//! and answers Whisperers' questions about the names of IPs (`dns`). `config` holds its
//! settings. It must not parse packets or store anything itself.

pub mod attach;
pub mod config;
pub mod dns;
pub mod enrich;
pub mod error;
pub mod forward;
pub mod inventory;

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
