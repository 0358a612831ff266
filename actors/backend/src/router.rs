//! Which local shard serves a virtual shard, and the actors of each.

use actix::Addr;
use spider_storage::ShardActor;

use std::sync::Arc;

use crate::cluster::Placement;
use crate::stats::NodeStats;
use crate::worker::CaptureWorker;

/// The node's local shards: virtual shard `v` is stored by local shard `v % K`; in a cluster
/// (K = the shard groups) the placement says which of them this node owns or follows.
#[derive(Clone)]
pub(crate) struct Router {
    pub shards: Vec<Addr<ShardActor>>,
    pub workers: Vec<Addr<CaptureWorker>>,
    pub placement: Option<Placement>,
    /// The refusals of what agents send, counted.
    pub limits: crate::limits::LimitCounters,
    pub stats: Arc<NodeStats>,
    /// Every agent's ingest rate (`[limits]`).
    pub throttle: Arc<crate::throttle::Throttle>,
    /// Each local shard's memory (RocksDB), for `/metrics`.
    pub memory: Vec<Arc<spider_storage::ShardMemory>>,
}

impl Router {
    /// Whether queries read local shard `local`: every one on a single node, the owned groups
    /// in a cluster (a follower's copy is answered by its owner).
    pub fn answers(&self, local: usize) -> bool {
        self.placement.as_ref().is_none_or(|p| p.answers(local))
    }

    pub fn local(&self, virtual_shard: u16) -> usize {
        usize::from(virtual_shard) % self.shards.len().max(1)
    }

    pub fn worker(&self, virtual_shard: u16) -> Option<&Addr<CaptureWorker>> {
        self.workers.get(self.local(virtual_shard))
    }
}
