//! `Ingest`: agents' batches to the capture workers, and `flush`, the acknowledgement point.

mod pacing;
mod passing;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use spider_rpc_schema::ingest_capnp::{
    batch_ack, capture_batch, ingest, inventory_batch, usage_batch,
};
use spider_rpc_schema::limits::{read_name, read_records};
use spider_rpc_schema::{
    read_dns, read_frame, read_host, read_inventory_update, read_tcp_session, read_usage,
    SchemaError, VIRTUAL_SHARDS,
};
use spider_storage::{IngestBatch, IngestOutcome, ShardRequest, ShardResponse};
use tokio::sync::Notify;

use super::access::Guard;

use super::failed;
use super::peers::Peers;
use super::refused::{Refused, SenderKey};
use crate::cluster::Role;
use crate::gate::Admission;
use crate::registry::{DropTotals, Registry};
use crate::router::Router;
use crate::stats::{BatchKind, RecordKind, Refusal};
use crate::worker::CaptureBatch;

/// What a node does with a batch: store it (and pass it on to the group's follower, with the
/// owner's admission into the group for the time of the write), or pass it on to the group's
/// owner (an agent that dials any node of a cluster).
enum Route {
    Store(Option<String>, Option<Admission>),
    Forward(String),
}

/// One agent's ingest capability.
///
/// A push returns once its batch is durably stored (the storage's write-ahead log), so `flush`
/// only has to wait for the pushes received before it, then report, per (agent, incarnation,
/// shard), the highest sequence stored.
pub(crate) struct Ingest {
    router: Router,
    registry: Registry,
    peers: Peers,
    /// Who pushes: checked on every call; an agent writes in its own name only.
    guard: Guard,
    received: Cell<u64>,
    finished: Cell<u64>,
    progress: Notify,
    acked: RefCell<BTreeMap<SenderKey, u64>>,
    /// Per (agent, incarnation, shard): the follower that must hold it too, and up to which
    /// sequence (a cluster's owner acknowledges only what its follower holds as well).
    replicas: RefCell<BTreeMap<SenderKey, (String, u64)>>,
}

impl Ingest {
    pub fn new(router: Router, registry: Registry, peers: Peers, guard: Guard) -> Self {
        Self {
            router,
            registry,
            peers,
            guard,
            received: Cell::new(0),
            finished: Cell::new(0),
            progress: Notify::new(),
            acked: RefCell::new(BTreeMap::new()),
            replicas: RefCell::new(BTreeMap::new()),
        }
    }

    /// A conversion's error as the sender sees it; a limit that was hit is counted and logged.
    fn refused(&self, error: SchemaError) -> capnp::Error {
        if self.router.limits.count_schema(&error) {
            tracing::warn!(%error, "batch refused: over a limit");
        }
        failed(error)
    }

    /// Reads a record list of a batch within the bounds, converting each record.
    fn records<'a, O: capnp::traits::OwnedStruct, T>(
        &self,
        field: &'static str,
        list: capnp::Result<capnp::struct_list::Reader<'a, O>>,
        read: impl FnMut(O::Reader<'a>) -> Result<T, SchemaError>,
    ) -> Result<Vec<T>, capnp::Error> {
        read_records(field, list, read).map_err(|error| self.refused(error))
    }

    /// Reads a batch's name (its agent, its Whisperer) within the bound.
    fn name(
        &self,
        field: &'static str,
        value: capnp::Result<capnp::text::Reader<'_>>,
    ) -> Result<String, capnp::Error> {
        read_name(field, value).map_err(|error| self.refused(error))
    }

    async fn store(&self, batch: capture_batch::Reader<'_>) -> Result<(), Refused> {
        let bytes = message_bytes(batch.total_size());
        self.router.stats.batch(BatchKind::Capture, bytes);
        let id = batch.get_id()?;
        let agent = self.name("batch.id.agent", id.get_agent())?;
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        let shard = batch.get_shard();
        if shard >= VIRTUAL_SHARDS {
            return Err(failed(format!("shard {shard} does not exist")).into());
        }
        let whisperer = self.name("batch.whisperer", batch.get_whisperer())?;
        self.guard.may_act_as(&agent)?;
        self.guard.may_act_as(&whisperer)?;
        let (forwarded, replicated) = (batch.get_forwarded(), batch.get_replicated());
        let route = self
            .paced_route(&agent, bytes, shard, forwarded, replicated)
            .await?;
        let (follower, _admission) = match route {
            Route::Store(follower, admission) => (follower, admission),
            Route::Forward(owner) => {
                let key = (agent.as_str(), incarnation, shard, sequence);
                return self
                    .forward(&owner, key, |ingest| async move {
                        let mut request = ingest.push_capture_request();
                        request.get().set_batch(batch)?;
                        request.get().get_batch()?.set_forwarded(true);
                        request.send().await
                    })
                    .await;
            }
        };
        let drops = if batch.has_drops() {
            let drops = batch.get_drops()?;
            Some(DropTotals {
                kernel: drops.get_kernel_drops(),
                own: drops.get_own_drops(),
                limit: drops.get_limit_drops(),
                skipped_empty_acks: drops.get_skipped_empty_acks(),
            })
        } else {
            None
        };
        self.registry
            .apply_retention(&whisperer, batch.get_retention_ttl())
            .await;
        let frames = self.records("batch.frames", batch.get_frames(), |frame| {
            read_frame(frame, &whisperer)
        })?;
        let sessions = self.records("batch.sessions", batch.get_sessions(), read_tcp_session)?;
        let hosts = self.records("batch.hosts", batch.get_hosts(), read_host)?;
        let dns = self.records("batch.dns", batch.get_dns(), read_dns)?;
        let worker = self
            .router
            .worker(shard)
            .ok_or_else(|| failed("this node serves no shard"))?;
        let local = self.router.local(shard);
        let outcome = worker
            .send(CaptureBatch {
                agent: format!("{agent}#{incarnation}#{shard}"),
                seq: sequence,
                whisperer: whisperer.clone(),
                frames,
                sessions,
                hosts,
                dns,
            })
            .await
            .map_err(|error| Refused::new(Refusal::Storage, failed(error)))?
            .map_err(|error| Refused::worker(local, error))?;
        self.count_stored(&outcome);
        tracing::debug!(
            agent,
            sequence,
            shard,
            duplicate = outcome.duplicate,
            "batch stored"
        );
        if let (Some(drops), false) = (drops, outcome.duplicate) {
            self.registry.add_drops(&whisperer, drops);
        }
        let key = (agent.as_str(), incarnation, shard, sequence);
        self.pass_on(follower.as_deref(), key, |ingest| async move {
            let mut request = ingest.push_capture_request();
            request.get().set_batch(batch)?;
            request.get().get_batch()?.set_replicated(true);
            request.send().await
        })
        .await
        .map_err(|error| Refused::new(Refusal::Replication, error))?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    /// What this node does with a batch for `shard`, or why it refuses it. An owner's write
    /// also holds an admission into the group, so that a copy of the group starts only once the
    /// writes in flight are stored.
    /// Charges a batch to its agent's rate (waiting as long as it says; not again for a batch
    /// another node passes on), then says what this node does with it. Before the route: no
    /// admission into the group is held while it waits.
    async fn paced_route(
        &self,
        agent: &str,
        bytes: u64,
        shard: u16,
        forwarded: bool,
        replicated: bool,
    ) -> Result<Route, Refused> {
        self.pace(agent, bytes, forwarded || replicated).await;
        self.role(shard, replicated)
    }

    fn role(&self, shard: u16, replicated: bool) -> Result<Route, Refused> {
        match &self.router.placement {
            None => Ok(Route::Store(None, None)),
            Some(placement) => match placement.ingest_role(shard, replicated) {
                Ok(Role::Owner { follower }) => {
                    let group = shard % u16::try_from(self.router.shards.len()).unwrap_or(1).max(1);
                    let admission = placement
                        .gate
                        .admit(group)
                        .map_err(|message| Refused::new(Refusal::Placement, failed(message)))?;
                    Ok(Route::Store(follower, Some(admission)))
                }
                Ok(Role::Follower) => Ok(Route::Store(None, None)),
                Ok(Role::Forward { owner }) => Ok(Route::Forward(owner)),
                Err(message) => Err(Refused::new(Refusal::Placement, failed(message))),
            },
        }
    }

    /// A batch of per-minute usage counters, stored by its shard (counters add up).
    async fn store_usage(&self, batch: usage_batch::Reader<'_>) -> Result<(), Refused> {
        let bytes = message_bytes(batch.total_size());
        self.router.stats.batch(BatchKind::Usage, bytes);
        let id = batch.get_id()?;
        let agent = self.name("batch.id.agent", id.get_agent())?;
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        let shard = batch.get_shard();
        if shard >= VIRTUAL_SHARDS {
            return Err(failed(format!("shard {shard} does not exist")).into());
        }
        self.guard.may_act_as(&agent)?;
        let mut stored = IngestBatch::new(
            format!("usage:{agent}#{incarnation}#{shard}"),
            sequence,
            agent.clone(),
        );
        let (forwarded, replicated) = (batch.get_forwarded(), batch.get_replicated());
        let route = self
            .paced_route(&agent, bytes, shard, forwarded, replicated)
            .await?;
        stored.usage = self.records("batch.records", batch.get_records(), read_usage)?;
        for record in &stored.usage {
            if !record.reporter.is_empty() {
                self.guard.may_act_as(&record.reporter)?;
            }
        }
        let (follower, _admission) = match route {
            Route::Store(follower, admission) => (follower, admission),
            Route::Forward(owner) => {
                let key = (agent.as_str(), incarnation, shard, sequence);
                return self
                    .forward(&owner, key, |ingest| async move {
                        let mut request = ingest.push_usage_request();
                        request.get().set_batch(batch)?;
                        request.get().get_batch()?.set_forwarded(true);
                        request.send().await
                    })
                    .await;
            }
        };
        self.store_in_shard(shard, stored).await?;
        let key = (agent.as_str(), incarnation, shard, sequence);
        self.pass_on(follower.as_deref(), key, |ingest| async move {
            let mut request = ingest.push_usage_request();
            request.get().set_batch(batch)?;
            request.get().get_batch()?.set_replicated(true);
            request.send().await
        })
        .await
        .map_err(|error| Refused::new(Refusal::Replication, error))?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    /// A Controller's inventory snapshot or delta, stored by the shard of its name.
    async fn store_inventory(&self, batch: inventory_batch::Reader<'_>) -> Result<(), Refused> {
        let bytes = message_bytes(batch.total_size());
        self.router.stats.batch(BatchKind::Inventory, bytes);
        let id = batch.get_id()?;
        let agent = self.name("batch.id.agent", id.get_agent())?;
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        self.guard.may_act_as(&agent)?;
        let update = read_inventory_update(batch.get_update()?).map_err(|e| self.refused(e))?;
        self.guard.may_act_as(&update.controller)?;
        let shard = spider_rpc_schema::inventory_shard(&update.controller);
        if batch.get_shard() != shard {
            return Err(failed(format!(
                "the inventory of {} goes to shard {shard}, not {}",
                update.controller,
                batch.get_shard()
            ))
            .into());
        }
        let mut stored = IngestBatch::new(
            format!("inventory:{agent}#{incarnation}#{shard}"),
            sequence,
            agent.clone(),
        );
        let (forwarded, replicated) = (batch.get_forwarded(), batch.get_replicated());
        let route = self
            .paced_route(&agent, bytes, shard, forwarded, replicated)
            .await?;
        let (follower, _admission) = match route {
            Route::Store(follower, admission) => (follower, admission),
            Route::Forward(owner) => {
                let key = (agent.as_str(), incarnation, shard, sequence);
                return self
                    .forward(&owner, key, |ingest| async move {
                        let mut request = ingest.push_inventory_request();
                        request.get().set_batch(batch)?;
                        request.get().get_batch()?.set_forwarded(true);
                        request.send().await
                    })
                    .await;
            }
        };
        stored.inventory = Some(update);
        self.store_in_shard(shard, stored).await?;
        let key = (agent.as_str(), incarnation, shard, sequence);
        self.pass_on(follower.as_deref(), key, |ingest| async move {
            let mut request = ingest.push_inventory_request();
            request.get().set_batch(batch)?;
            request.get().get_batch()?.set_replicated(true);
            request.send().await
        })
        .await
        .map_err(|error| Refused::new(Refusal::Replication, error))?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    async fn store_in_shard(&self, shard: u16, batch: IngestBatch) -> Result<(), Refused> {
        let local = self.router.local(shard);
        let target = &self.router.shards[local];
        match target.send(ShardRequest::Ingest(Box::new(batch))).await {
            Ok(Ok(ShardResponse::Ingested(outcome))) => {
                self.count_stored(&outcome);
                Ok(())
            }
            Ok(Ok(_)) => Err(Refused::new(
                Refusal::Storage,
                failed("the shard answered something else"),
            )),
            Ok(Err(error)) => Err(Refused::storage(local, &error)),
            Err(error) => Err(Refused::new(Refusal::Storage, failed(error))),
        }
    }

    /// Counts what a stored batch wrote.
    fn count_stored(&self, outcome: &IngestOutcome) {
        let stats = &self.router.stats;
        stats.stored(outcome.duplicate);
        let counts = &outcome.counts;
        stats.records(RecordKind::Frame, counts.packets);
        stats.records(RecordKind::Session, counts.sessions);
        stats.records(RecordKind::Host, counts.hosts);
        stats.records(RecordKind::Dns, counts.dns);
        stats.records(RecordKind::Http, counts.http);
        stats.records(RecordKind::Usage, counts.usage);
        stats.records(RecordKind::Inventory, counts.inventory);
    }

    fn acknowledge(&self, agent: String, incarnation: u64, shard: u16, sequence: u64) {
        let mut acked = self.acked.borrow_mut();
        let stored = acked.entry((agent, incarnation, shard)).or_default();
        *stored = (*stored).max(sequence);
    }

    /// Counts an error reading a call's message when it is a limit (traversal, size).
    fn counted<T>(&self, read: capnp::Result<T>) -> capnp::Result<T> {
        read.inspect_err(|error| {
            if self.router.limits.count_capnp(error) {
                tracing::warn!(%error, "push refused: over a limit");
            }
        })
    }

    /// Counts a push from its arrival to its end, so that `flush` can wait for it.
    async fn tracked<F: std::future::Future<Output = Result<(), Refused>>>(
        &self,
        push: F,
    ) -> Result<(), capnp::Error> {
        let stats = &self.router.stats;
        self.received.set(self.received.get() + 1);
        stats.push_started();
        let result = push.await;
        stats.push_ended();
        self.finished.set(self.finished.get() + 1);
        self.progress.notify_waiters();
        result.map_err(|refused| {
            stats.refused(refused.cause);
            if refused.cause == Refusal::StorageFull {
                tracing::warn!(error = %refused.error, "batch refused: storage full");
            }
            refused.error
        })
    }
}

impl ingest::Server for Ingest {
    async fn push_capture(
        self: Rc<Self>,
        params: ingest::PushCaptureParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let batch = self.counted(params.get().and_then(|p| p.get_batch()))?;
        self.tracked(self.store(batch)).await
    }

    async fn push_usage(
        self: Rc<Self>,
        params: ingest::PushUsageParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let batch = self.counted(params.get().and_then(|p| p.get_batch()))?;
        self.tracked(self.store_usage(batch)).await
    }

    async fn shard_map(
        self: Rc<Self>,
        _: ingest::ShardMapParams,
        mut results: ingest::ShardMapResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        super::shard_map::write(results.get().init_map(), self.router.placement.as_ref())
    }

    async fn push_inventory(
        self: Rc<Self>,
        params: ingest::PushInventoryParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let batch = self.counted(params.get().and_then(|p| p.get_batch()))?;
        self.tracked(self.store_inventory(batch)).await
    }

    async fn copy_group(
        self: Rc<Self>,
        params: ingest::CopyGroupParams,
        results: ingest::CopyGroupResults,
    ) -> Result<(), capnp::Error> {
        super::copy::serve_chunk(&self.router, params.get()?, results).await
    }

    async fn acknowledged(
        self: Rc<Self>,
        params: ingest::AcknowledgedParams,
        mut results: ingest::AcknowledgedResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let params = params.get()?;
        let agent = params.get_agent()?.to_str()?.to_owned();
        self.guard.may_act_as(&agent)?;
        let incarnation = params.get_incarnation();
        let shards = self.router.shards.len().max(1);
        let mut asked: Vec<Vec<u16>> = vec![Vec::new(); shards];
        for virtual_shard in 0..VIRTUAL_SHARDS {
            asked[self.router.local(virtual_shard)].push(virtual_shard);
        }
        let requests = self
            .router
            .shards
            .iter()
            .zip(&asked)
            .map(|(shard, virtual_shards)| {
                let agents = virtual_shards
                    .iter()
                    .map(|v| format!("{agent}#{incarnation}#{v}"))
                    .collect();
                shard.send(ShardRequest::LastBatches { agents })
            });
        let mut acked = Vec::new();
        for (answer, virtual_shards) in futures::future::join_all(requests)
            .await
            .into_iter()
            .zip(&asked)
        {
            match answer {
                Ok(Ok(ShardResponse::LastBatches(last))) => {
                    for (shard, sequence) in virtual_shards.iter().zip(last) {
                        if let Some(sequence) = sequence {
                            acked.push((*shard, sequence));
                        }
                    }
                }
                Ok(Err(error)) => return Err(failed(error)),
                _ => return Err(failed("a storage shard did not answer")),
            }
        }
        let list = results
            .get()
            .init_acked(u32::try_from(acked.len()).map_err(failed)?);
        write_acks(
            list,
            acked
                .into_iter()
                .map(|(shard, sequence)| (agent.as_str(), incarnation, shard, sequence)),
        );
        Ok(())
    }

    async fn flush(
        self: Rc<Self>,
        _: ingest::FlushParams,
        mut results: ingest::FlushResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let target = self.received.get();
        while self.finished.get() < target {
            let notified = self.progress.notified();
            if self.finished.get() >= target {
                break;
            }
            notified.await;
        }
        let acked = self.durable().await;
        let len = u32::try_from(acked.len()).map_err(failed)?;
        let list = results.get().init_acked(len);
        write_acks(
            list,
            acked.iter().map(|((agent, incarnation, shard), sequence)| {
                (agent.as_str(), *incarnation, *shard, *sequence)
            }),
        );
        Ok(())
    }
}

/// The size of a received message, in bytes.
fn message_bytes(size: capnp::Result<capnp::MessageSize>) -> u64 {
    size.map_or(0, |size| size.word_count * 8)
}

/// Fills a list of acks initialised with as many elements as `acks` yields.
fn write_acks<'a>(
    mut list: capnp::struct_list::Builder<'_, batch_ack::Owned>,
    acks: impl Iterator<Item = (&'a str, u64, u16, u64)>,
) {
    for (index, (agent, incarnation, shard, sequence)) in (0..list.len()).zip(acks) {
        let mut ack = list.reborrow().get(index);
        ack.set_agent(agent);
        ack.set_incarnation(incarnation);
        ack.set_shard(shard);
        ack.set_sequence(sequence);
    }
}
