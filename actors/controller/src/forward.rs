//! Forwarding to the backend: enriched usage records, pushed per virtual shard with a sequence
//! per (Controller, incarnation, shard) so that a retried batch counts once, then flushed.
//!
//! The backend client is not `Send`: use a `Forwarder` on a `LocalSet`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use spider_backend::client::{Ack, BackendClient, UsagePush};
use spider_model::UsageRecord;
use spider_rpc_schema::usage_shard;

use crate::enrich::enrich;
use crate::error::ControllerError;
use crate::inventory::Inventory;
use crate::now_ns;

/// A Controller's connection to the backend.
#[derive(Debug)]
pub struct Forwarder {
    client: BackendClient,
    agent: String,
    incarnation: u64,
    sequences: HashMap<u16, u64>,
}

impl Forwarder {
    /// Connects and logs in as `agent` (a new incarnation: sequences start again).
    pub async fn connect(
        addr: SocketAddr,
        token: &str,
        agent: &str,
    ) -> Result<Self, ControllerError> {
        let client = BackendClient::connect(addr, token).await?;
        Ok(Self {
            client,
            agent: agent.to_string(),
            incarnation: u64::try_from(now_ns()).unwrap_or(0),
            sequences: HashMap::new(),
        })
    }

    /// The backend client (queries, registration).
    pub fn client(&self) -> &BackendClient {
        &self.client
    }

    /// Enriches `records` with the inventory's names and pushes them; returns what the backend
    /// holds durably once they are stored.
    pub async fn forward(
        &mut self,
        inventory: &Inventory,
        mut records: Vec<UsageRecord>,
    ) -> Result<Vec<Ack>, ControllerError> {
        enrich(inventory, &mut records);
        let mut by_shard: BTreeMap<u16, Vec<UsageRecord>> = BTreeMap::new();
        for record in records {
            by_shard
                .entry(usage_shard(&self.agent, &record))
                .or_default()
                .push(record);
        }
        for (shard, records) in &by_shard {
            let sequence = self.sequences.entry(*shard).or_insert(0);
            *sequence += 1;
            self.client
                .push_usage(UsagePush {
                    agent: &self.agent,
                    incarnation: self.incarnation,
                    sequence: *sequence,
                    shard: *shard,
                    records,
                })
                .await?;
        }
        Ok(self.client.flush().await?)
    }
}
