//! The inventory of a cluster, from the Kubernetes API: nodes, namespaces, pods, services,
//! endpoint slices and the workload kinds (ReplicaSet, Deployment, DaemonSet, StatefulSet, Job,
//! CronJob), kept compact (`objects`), with owner chains (`owners`) and the history of pod IPs
//! (`ips`) so that an IP resolves to the pod that held it at a given minute (`state`).
//! `watch` runs one kube-runtime watcher per kind; `agents` lists Spider's own sidecar
//! Whisperers and Gocipher pods.
//!
//! The state sits behind a lock that no `.await` holds; every change bumps a generation that
//! callers can wait on ([`Inventory::wait_for`]) instead of sleeping.

pub mod agents;
pub mod ips;
pub mod objects;
pub mod owners;
pub mod state;
pub mod watch;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use spider_model::WorkloadRef;
use tokio::sync::watch as tokio_watch;

pub use spider_model::inventory::InventorySnapshot;
pub use state::{Kind, State};

/// A shared handle to the inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    state: Arc<RwLock<State>>,
    generation: Arc<tokio_watch::Sender<u64>>,
    errors: Arc<Mutex<BTreeMap<Kind, String>>>,
}

impl Inventory {
    /// An empty inventory (see [`State::new`]).
    pub fn new(internal: Vec<(IpAddr, u8)>, ip_retention_ns: i64) -> Self {
        let (generation, _) = tokio_watch::channel(0);
        Self {
            state: Arc::new(RwLock::new(State::new(internal, ip_retention_ns))),
            generation: Arc::new(generation),
            errors: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Reads the state (do not hold it across an `.await`).
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // Every update is a short, complete mutation: a poisoned lock still holds usable data.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state and tells the waiters.
    pub fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            change(&mut state)
        };
        self.generation.send_modify(|g| *g += 1);
        result
    }

    /// A receiver that changes with every update.
    pub fn changes(&self) -> tokio_watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Waits until `ready` holds of the state.
    pub async fn wait_for(&self, mut ready: impl FnMut(&State) -> bool) {
        let mut changes = self.changes();
        loop {
            if ready(&self.read()) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until every kind has been listed once.
    pub async fn wait_synced(&self) {
        self.wait_for(|state| Kind::ALL.iter().all(|k| state.synced.contains(k)))
            .await;
    }

    /// The names of `ip` during the minute starting at `minute` (epoch ns).
    pub fn resolve(&self, ip: IpAddr, minute: i64) -> WorkloadRef {
        self.read().resolve(ip, minute)
    }

    /// Spider's sidecar Whisperers and Gocipher pods (see [`agents`]).
    pub fn agents(&self) -> Vec<agents::AgentPod> {
        self.read().agents()
    }

    /// The inventory for the backend.
    pub fn snapshot(&self) -> InventorySnapshot {
        self.read().snapshot()
    }

    pub(crate) fn set_error(&self, kind: Kind, message: String) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind, message);
        self.generation.send_modify(|g| *g += 1);
    }

    pub(crate) fn clear_error(&self, kind: Kind) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&kind);
    }

    /// The last error of each kind whose watch is failing.
    pub fn errors(&self) -> BTreeMap<Kind, String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
