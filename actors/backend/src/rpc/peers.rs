//! Connections to the other nodes of a cluster, for passing batches on to a group's follower:
//! one client per node, made on first use and dropped after a failure; one replication at a
//! time per node, so that a sender's batches reach the follower in the order the owner stored
//! them (the follower refuses a batch that follows a gap).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::rc::Rc;

use spider_rpc_schema::ingest_capnp::ingest;

use super::failed;
use crate::client::BackendClient;

#[derive(Clone)]
pub(crate) struct Peers {
    token: String,
    nodes: Rc<RefCell<HashMap<String, Peer>>>,
}

#[derive(Clone)]
struct Peer {
    client: Rc<BackendClient>,
    turn: Rc<tokio::sync::Mutex<()>>,
}

/// One batch passed on: which sender's batch, so that its acknowledgement can be checked.
pub(crate) struct Replicated<'a> {
    pub agent: &'a str,
    pub incarnation: u64,
    pub shard: u16,
    pub sequence: u64,
}

impl Peers {
    pub fn new(token: String) -> Self {
        Self {
            token,
            nodes: Rc::new(RefCell::new(HashMap::new())),
        }
    }

    async fn peer(&self, address: &str) -> Result<Peer, capnp::Error> {
        if let Some(peer) = self.nodes.borrow().get(address) {
            return Ok(peer.clone());
        }
        let addr = address
            .to_socket_addrs()
            .map_err(|error| failed(format!("follower {address}: {error}")))?
            .next()
            .ok_or_else(|| failed(format!("follower {address}: no address")))?;
        let client = BackendClient::connect(addr, &self.token)
            .await
            .map_err(|error| failed(format!("follower {address}: {error}")))?;
        let peer = Peer {
            client: Rc::new(client),
            turn: Rc::new(tokio::sync::Mutex::new(())),
        };
        self.nodes
            .borrow_mut()
            .insert(address.to_owned(), peer.clone());
        Ok(peer)
    }

    /// Sends a batch (`push` fills and sends the request on the follower's ingest) and waits
    /// until the follower holds it durably.
    pub async fn replicate<F, Fut>(
        &self,
        address: &str,
        batch: Replicated<'_>,
        push: F,
    ) -> Result<(), capnp::Error>
    where
        F: FnOnce(ingest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<(), capnp::Error>>,
    {
        let peer = self.peer(address).await?;
        let _turn = peer.turn.lock().await;
        let result = async {
            push(peer.client.ingest_capability()).await?;
            let acked = peer
                .client
                .flush()
                .await
                .map_err(|error| failed(format!("follower {address}: {error}")))?;
            let held = acked.iter().any(|ack| {
                ack.agent == batch.agent
                    && ack.incarnation == batch.incarnation
                    && ack.shard == batch.shard
                    && ack.sequence >= batch.sequence
            });
            if held {
                Ok(())
            } else {
                Err(failed(format!(
                    "follower {address} did not acknowledge batch {} of {}",
                    batch.sequence, batch.agent
                )))
            }
        }
        .await;
        if result.is_err() {
            self.nodes.borrow_mut().remove(address);
        }
        result
    }
}
