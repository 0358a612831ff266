//! Which local shard serves a virtual shard, and the actors of each.

use actix::Addr;
use spider_storage::ShardActor;

use crate::worker::CaptureWorker;

/// The node's local shards: virtual shard `v` is stored by local shard `v % K`.
#[derive(Clone)]
pub(crate) struct Router {
    pub shards: Vec<Addr<ShardActor>>,
    pub workers: Vec<Addr<CaptureWorker>>,
}

impl Router {
    pub fn local(&self, virtual_shard: u16) -> usize {
        usize::from(virtual_shard) % self.shards.len().max(1)
    }

    pub fn worker(&self, virtual_shard: u16) -> Option<&Addr<CaptureWorker>> {
        self.workers.get(self.local(virtual_shard))
    }
}
