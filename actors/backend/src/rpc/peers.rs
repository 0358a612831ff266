//! Connections to the other nodes of a cluster, for passing batches on to a group's follower:
//! one client per node, made on first use and dropped after a failure; batches are sent to a
//! node one at a time, so that a sender's batches reach the follower in the order the owner
//! stored them (the follower refuses a batch that follows a gap). Durability on the follower is
//! asked once per agent's `flush` (group commit), not per batch.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::rc::Rc;

use spider_rpc_schema::ingest_capnp::ingest;

use super::failed;
use crate::client::{Ack, BackendClient, ClientTransport};

#[derive(Clone)]
pub(crate) struct Peers {
    token: String,
    transport: ClientTransport,
    nodes: Rc<RefCell<HashMap<String, Peer>>>,
}

#[derive(Clone)]
struct Peer {
    client: Rc<BackendClient>,
    turn: Rc<tokio::sync::Mutex<()>>,
}

impl Peers {
    pub fn new(token: String, transport: ClientTransport) -> Self {
        Self {
            token,
            transport,
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
        let transport = self
            .transport
            .for_target(address)
            .map_err(|error| failed(format!("follower {address}: {error}")))?;
        let client = BackendClient::connect_over(addr, &transport, &self.token)
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

    /// Sends a batch to a follower (`push` fills and sends the request on its ingest), in the
    /// order of the calls; it is durable there once [`Peers::flush`] says so.
    pub async fn replicate<F, Fut>(&self, address: &str, push: F) -> Result<(), capnp::Error>
    where
        F: FnOnce(ingest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<(), capnp::Error>>,
    {
        let peer = self.peer(address).await?;
        let _turn = peer.turn.lock().await;
        let result = push(peer.client.ingest_capability()).await;
        if result.is_err() {
            self.nodes.borrow_mut().remove(address);
        }
        result
    }

    /// The ingest capability of a node, for asking it a copy of a group.
    pub async fn ingest(&self, address: &str) -> Result<ingest::Client, capnp::Error> {
        Ok(self.peer(address).await?.client.ingest_capability())
    }

    /// Forgets the connection to a node after a failure.
    pub fn forget(&self, address: &str) {
        self.nodes.borrow_mut().remove(address);
    }

    /// What a follower holds durably of everything passed on to it.
    pub async fn flush(&self, address: &str) -> Result<Vec<Ack>, capnp::Error> {
        let peer = self.peer(address).await?;
        let result = peer.client.flush().await;
        if result.is_err() {
            self.nodes.borrow_mut().remove(address);
        }
        result.map_err(|error| failed(format!("follower {address}: {error}")))
    }
}
