//! Batches passed on to another node: to the group's follower after they are stored (the owner
//! acknowledges only what its follower holds too), or to the group's owner when an agent sent
//! them to a node that does not own their group.

use std::collections::BTreeMap;

use spider_rpc_schema::ingest_capnp::ingest;

use super::{Ingest, SenderKey};
use crate::rpc::refused::Refused;
use crate::stats::Refusal;

impl Ingest {
    /// Passes a batch of a group this node does not own on to the group's owner; it is
    /// acknowledged once the owner (and the owner's follower) hold it.
    pub(super) async fn forward<F, Fut>(
        &self,
        owner: &str,
        key: (&str, u64, u16, u64),
        push: F,
    ) -> Result<(), Refused>
    where
        F: FnOnce(ingest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<(), capnp::Error>>,
    {
        self.pass_on(Some(owner), key, push)
            .await
            .map_err(|error| Refused::new(Refusal::Placement, error))?;
        let (agent, incarnation, shard, sequence) = key;
        self.acknowledge(agent.to_owned(), incarnation, shard, sequence);
        Ok(())
    }

    /// Passes a stored batch on to the group's follower (if any) and remembers that its
    /// acknowledgement waits for the follower too. `push` sends the batch, marked replicated.
    pub(super) async fn pass_on<F, Fut>(
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
    pub(super) async fn durable(&self) -> BTreeMap<SenderKey, u64> {
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
}
