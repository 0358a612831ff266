//! `Ingest`: agents' batches to the capture workers, and `flush`, the acknowledgement point.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use spider_rpc_schema::ingest_capnp::{
    batch_ack, capture_batch, ingest, inventory_batch, usage_batch,
};
use spider_rpc_schema::{
    read_dns, read_frame, read_host, read_inventory_update, read_tcp_session, read_usage,
    VIRTUAL_SHARDS,
};
use spider_storage::{IngestBatch, ShardRequest, ShardResponse};
use tokio::sync::Notify;

use super::access::Guard;
use super::failed;
use super::peers::Peers;
use crate::cluster::Role;
use crate::registry::{DropTotals, Registry};
use crate::router::Router;
use crate::worker::CaptureBatch;

/// (agent, incarnation, shard): the key of a sender's sequence of batches to one shard.
type SenderKey = (String, u64, u16);

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

    async fn store(&self, batch: capture_batch::Reader<'_>) -> Result<(), capnp::Error> {
        let id = batch.get_id()?;
        let agent = id.get_agent()?.to_str()?.to_owned();
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        let shard = batch.get_shard();
        if shard >= VIRTUAL_SHARDS {
            return Err(failed(format!("shard {shard} does not exist")));
        }
        let follower = self.role(shard, batch.get_replicated())?;
        let whisperer = batch.get_whisperer()?.to_str()?.to_owned();
        self.guard.may_act_as(&agent)?;
        self.guard.may_act_as(&whisperer)?;
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
        let frames = read_all(batch.get_frames()?, |frame| read_frame(frame, &whisperer))?;
        let sessions = read_all(batch.get_sessions()?, read_tcp_session)?;
        let hosts = read_all(batch.get_hosts()?, read_host)?;
        let dns = read_all(batch.get_dns()?, read_dns)?;
        let worker = self
            .router
            .worker(shard)
            .ok_or_else(|| failed("this node serves no shard"))?;
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
            .map_err(failed)?
            .map_err(failed)?;
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
        .await?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    /// Where this node passes a batch for `shard` on to (the group's follower), or why it
    /// refuses the batch (it neither owns nor follows the shard's group).
    fn role(&self, shard: u16, replicated: bool) -> Result<Option<String>, capnp::Error> {
        match &self.router.placement {
            None => Ok(None),
            Some(placement) => match placement.ingest_role(shard, replicated) {
                Ok(Role::Owner { follower }) => Ok(follower),
                Ok(Role::Follower) => Ok(None),
                Err(message) => Err(failed(message)),
            },
        }
    }

    /// A batch of per-minute usage counters, stored by its shard (counters add up).
    async fn store_usage(&self, batch: usage_batch::Reader<'_>) -> Result<(), capnp::Error> {
        let id = batch.get_id()?;
        let agent = id.get_agent()?.to_str()?.to_owned();
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        let shard = batch.get_shard();
        if shard >= VIRTUAL_SHARDS {
            return Err(failed(format!("shard {shard} does not exist")));
        }
        self.guard.may_act_as(&agent)?;
        let mut stored = IngestBatch::new(
            format!("usage:{agent}#{incarnation}#{shard}"),
            sequence,
            agent.clone(),
        );
        let follower = self.role(shard, batch.get_replicated())?;
        stored.usage = read_all(batch.get_records()?, read_usage)?;
        for record in &stored.usage {
            if !record.reporter.is_empty() {
                self.guard.may_act_as(&record.reporter)?;
            }
        }
        self.store_in_shard(shard, stored).await?;
        let key = (agent.as_str(), incarnation, shard, sequence);
        self.pass_on(follower.as_deref(), key, |ingest| async move {
            let mut request = ingest.push_usage_request();
            request.get().set_batch(batch)?;
            request.get().get_batch()?.set_replicated(true);
            request.send().await
        })
        .await?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    /// A Controller's inventory snapshot or delta, stored by the shard of its name.
    async fn store_inventory(
        &self,
        batch: inventory_batch::Reader<'_>,
    ) -> Result<(), capnp::Error> {
        let id = batch.get_id()?;
        let agent = id.get_agent()?.to_str()?.to_owned();
        let incarnation = id.get_incarnation();
        let sequence = id.get_sequence();
        self.guard.may_act_as(&agent)?;
        let update = read_inventory_update(batch.get_update()?).map_err(failed)?;
        self.guard.may_act_as(&update.controller)?;
        let shard = spider_rpc_schema::inventory_shard(&update.controller);
        if batch.get_shard() != shard {
            return Err(failed(format!(
                "the inventory of {} goes to shard {shard}, not {}",
                update.controller,
                batch.get_shard()
            )));
        }
        let mut stored = IngestBatch::new(
            format!("inventory:{agent}#{incarnation}#{shard}"),
            sequence,
            agent.clone(),
        );
        let follower = self.role(shard, batch.get_replicated())?;
        stored.inventory = Some(update);
        self.store_in_shard(shard, stored).await?;
        let key = (agent.as_str(), incarnation, shard, sequence);
        self.pass_on(follower.as_deref(), key, |ingest| async move {
            let mut request = ingest.push_inventory_request();
            request.get().set_batch(batch)?;
            request.get().get_batch()?.set_replicated(true);
            request.send().await
        })
        .await?;
        self.acknowledge(agent, incarnation, shard, sequence);
        Ok(())
    }

    async fn store_in_shard(&self, shard: u16, batch: IngestBatch) -> Result<(), capnp::Error> {
        let target = &self.router.shards[self.router.local(shard)];
        match target.send(ShardRequest::Ingest(Box::new(batch))).await {
            Ok(Ok(ShardResponse::Ingested(_))) => Ok(()),
            Ok(Ok(_)) => Err(failed("the shard answered something else")),
            Ok(Err(error)) => Err(failed(error)),
            Err(error) => Err(failed(error)),
        }
    }

    /// Passes a stored batch on to the group's follower (if any) and remembers that its
    /// acknowledgement waits for the follower too. `push` sends the batch, marked replicated.
    async fn pass_on<F, Fut>(
        &self,
        follower: Option<&str>,
        (agent, incarnation, shard, sequence): (&str, u64, u16, u64),
        push: F,
    ) -> Result<(), capnp::Error>
    where
        F: FnOnce(ingest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<(), capnp::Error>>,
    {
        let Some(address) = follower else {
            return Ok(());
        };
        self.peers.replicate(address, push).await?;
        self.needs_follower(address, agent, incarnation, shard, sequence);
        Ok(())
    }

    fn needs_follower(
        &self,
        address: &str,
        agent: &str,
        incarnation: u64,
        shard: u16,
        sequence: u64,
    ) {
        let mut replicas = self.replicas.borrow_mut();
        let entry = replicas
            .entry((agent.to_owned(), incarnation, shard))
            .or_insert_with(|| (address.to_owned(), 0));
        if entry.0 != address {
            *entry = (address.to_owned(), 0);
        }
        entry.1 = entry.1.max(sequence);
    }

    /// What is acknowledged: stored here and, for batches passed on, held by the follower too.
    async fn durable(&self) -> BTreeMap<SenderKey, u64> {
        let mut acked = self.acked.borrow().clone();
        let replicas = self.replicas.borrow().clone();
        let followers: std::collections::BTreeSet<&String> =
            replicas.values().map(|(address, _)| address).collect();
        let mut held: BTreeMap<(String, u64, u16, String), u64> = BTreeMap::new();
        for address in followers {
            match self.peers.flush(address).await {
                Ok(acks) => {
                    for ack in acks {
                        held.insert(
                            (ack.agent, ack.incarnation, ack.shard, address.clone()),
                            ack.sequence,
                        );
                    }
                }
                Err(error) => tracing::warn!(%error, "a follower did not flush"),
            }
        }
        for (key, (address, _)) in &replicas {
            let on_follower = held
                .get(&(key.0.clone(), key.1, key.2, address.clone()))
                .copied();
            match (acked.get_mut(key), on_follower) {
                (Some(here), Some(there)) => *here = (*here).min(there),
                (Some(_), None) => {
                    acked.remove(key);
                }
                (None, _) => {}
            }
        }
        acked
    }

    fn acknowledge(&self, agent: String, incarnation: u64, shard: u16, sequence: u64) {
        let mut acked = self.acked.borrow_mut();
        let stored = acked.entry((agent, incarnation, shard)).or_default();
        *stored = (*stored).max(sequence);
    }

    /// Counts a push from its arrival to its end, so that `flush` can wait for it.
    async fn tracked<F: std::future::Future<Output = Result<(), capnp::Error>>>(
        &self,
        push: F,
    ) -> Result<(), capnp::Error> {
        self.received.set(self.received.get() + 1);
        let result = push.await;
        self.finished.set(self.finished.get() + 1);
        self.progress.notify_waiters();
        result
    }
}

impl ingest::Server for Ingest {
    async fn push_capture(
        self: Rc<Self>,
        params: ingest::PushCaptureParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let params = params.get()?;
        self.tracked(self.store(params.get_batch()?)).await
    }

    async fn push_usage(
        self: Rc<Self>,
        params: ingest::PushUsageParams,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let params = params.get()?;
        self.tracked(self.store_usage(params.get_batch()?)).await
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
        let params = params.get()?;
        self.tracked(self.store_inventory(params.get_batch()?))
            .await
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

/// Every record of a list, converted at the boundary; the first malformed one fails the batch.
fn read_all<'a, O: capnp::traits::OwnedStruct, T>(
    list: capnp::struct_list::Reader<'a, O>,
    read: impl FnMut(O::Reader<'a>) -> Result<T, spider_rpc_schema::SchemaError>,
) -> Result<Vec<T>, capnp::Error> {
    list.iter()
        .map(read)
        .collect::<Result<_, _>>()
        .map_err(failed)
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
