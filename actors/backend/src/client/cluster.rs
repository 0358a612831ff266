//! A client of a whole backend cluster: it reads the shard map from any node, sends each batch
//! to the owner of its virtual shard (reading the map again and retrying when a node refuses or
//! is gone), flushes every node it pushed to, and fans queries out to the nodes that own shards,
//! saying which shards did not answer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use spider_model::HttpExchange;
use spider_rpc_schema::VIRTUAL_SHARDS;

use super::{Ack, BackendClient, CapturePush, ClientError, ListRequest};

/// Where every virtual shard lives, as a node answers `Ingest.shardMap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardMapView {
    pub epoch: u64,
    /// (node id, address) in the map's order.
    pub nodes: Vec<(String, String)>,
    /// `owners[shard]`: index in `nodes`.
    pub owners: Vec<u16>,
    /// `followers[shard]`: index in `nodes`, `u16::MAX` for none; empty on a single node.
    pub followers: Vec<u16>,
}

impl ShardMapView {
    /// The address of the owner of `shard`.
    pub fn owner_address(&self, shard: u16) -> Option<&str> {
        let owner = *self.owners.get(usize::from(shard))?;
        self.nodes
            .get(usize::from(owner))
            .map(|(_, address)| address.as_str())
    }

    /// The shards each node owns, by address.
    pub fn shards_by_owner(&self) -> BTreeMap<String, Vec<u16>> {
        let mut out: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for shard in 0..VIRTUAL_SHARDS {
            if let Some(address) = self.owner_address(shard) {
                out.entry(address.to_owned()).or_default().push(shard);
            }
        }
        out
    }
}

impl BackendClient {
    /// The shard map as this node knows it.
    pub async fn shard_map(&self) -> Result<ShardMapView, ClientError> {
        let reply = self.ingest.shard_map_request().send().promise.await?;
        let map = reply.get()?.get_map()?;
        let mut nodes = Vec::new();
        for node in map.get_nodes()? {
            nodes.push((
                node.get_id()?.to_str()?.to_owned(),
                node.get_address()?.to_str()?.to_owned(),
            ));
        }
        Ok(ShardMapView {
            epoch: map.get_epoch(),
            nodes,
            owners: map.get_owners()?.iter().collect(),
            followers: map.get_followers()?.iter().collect(),
        })
    }
}

/// Answers of a query fanned out to a cluster.
#[derive(Debug, Clone)]
pub struct ClusterAnswer<T> {
    pub items: Vec<T>,
    /// Virtual shards whose owner did not answer: the items are incomplete for them.
    pub missing_shards: Vec<u16>,
}

/// A logged-in client of every node of a cluster.
pub struct ClusterClient {
    seeds: Vec<String>,
    token: String,
    map: ShardMapView,
    nodes: BTreeMap<String, Rc<BackendClient>>,
    pushed_to: BTreeSet<String>,
}

impl std::fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClient")
            .field("epoch", &self.map.epoch)
            .field("nodes", &self.map.nodes)
            .finish_non_exhaustive()
    }
}

fn resolve(address: &str) -> Result<SocketAddr, ClientError> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ClientError::Rpc(capnp::Error::failed(format!("cannot resolve {address}"))))
}

impl ClusterClient {
    /// Reads the shard map from the first seed node that answers.
    pub async fn connect(seeds: &[String], token: &str) -> Result<Self, ClientError> {
        let mut client = Self {
            seeds: seeds.to_vec(),
            token: token.to_owned(),
            map: ShardMapView::default(),
            nodes: BTreeMap::new(),
            pushed_to: BTreeSet::new(),
        };
        client.refresh().await?;
        Ok(client)
    }

    pub fn map(&self) -> &ShardMapView {
        &self.map
    }

    async fn node(&mut self, address: &str) -> Result<Rc<BackendClient>, ClientError> {
        if let Some(client) = self.nodes.get(address) {
            return Ok(client.clone());
        }
        let client = Rc::new(BackendClient::connect(resolve(address)?, &self.token).await?);
        self.nodes.insert(address.to_owned(), client.clone());
        Ok(client)
    }

    /// Reads the shard map again, from a node of the current map or a seed.
    pub async fn refresh(&mut self) -> Result<&ShardMapView, ClientError> {
        let mut candidates: Vec<String> = self.map.nodes.iter().map(|(_, a)| a.clone()).collect();
        candidates.extend(self.seeds.iter().cloned());
        let mut last = None;
        for address in candidates {
            let answer = match self.node(&address).await {
                Ok(client) => client.shard_map().await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(map) => {
                    self.map = map;
                    return Ok(&self.map);
                }
                Err(error) => {
                    self.nodes.remove(&address);
                    last = Some(error);
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Rpc(capnp::Error::failed("no node to ask".into()))))
    }

    /// Pushes a capture batch to its shard's owner, following the map when it changes: finding
    /// and dialling the owner is tried `attempts` times, `pause` apart. A push that fails is
    /// not tried again here: the refusal may be of a batch sent before it on the same
    /// connection (pushes are streamed), so the caller flushes and sends again, in order,
    /// whatever was not acknowledged.
    pub async fn push_capture(
        &mut self,
        push: CapturePush<'_>,
        attempts: usize,
        pause: Duration,
    ) -> Result<(), ClientError> {
        let mut last = None;
        for _ in 0..attempts.max(1) {
            let Some(address) = self.map.owner_address(push.shard).map(str::to_owned) else {
                let _ = self.refresh().await;
                tokio::time::sleep(pause).await;
                continue;
            };
            let client = match self.node(&address).await {
                Ok(client) => client,
                Err(error) => {
                    last = Some(error);
                    tokio::time::sleep(pause).await;
                    let _ = self.refresh().await;
                    continue;
                }
            };
            return match client.push_capture(push).await {
                Ok(()) => {
                    self.pushed_to.insert(address);
                    Ok(())
                }
                Err(error) => {
                    self.nodes.remove(&address);
                    let _ = self.refresh().await;
                    Err(error)
                }
            };
        }
        Err(last.unwrap_or_else(|| ClientError::Rpc(capnp::Error::failed("no owner".into()))))
    }

    /// Flushes every node pushed to since the last flush; their acknowledgements together. A
    /// node that fails (a push it refused breaks the connection's stream) is dropped, to be
    /// dialled again: what it did not acknowledge is for the caller to send again.
    pub async fn flush(&mut self) -> Result<Vec<Ack>, ClientError> {
        let mut acks = Vec::new();
        for address in std::mem::take(&mut self.pushed_to) {
            let answer = match self.node(&address).await {
                Ok(client) => client.flush().await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(acked) => acks.extend(acked),
                Err(error) => {
                    tracing::debug!(%address, %error, "flush failed: the node is dialled again");
                    self.nodes.remove(&address);
                }
            }
        }
        Ok(acks)
    }

    /// Every HTTP exchange matching `request` in the cluster, asked of each owner node; the
    /// shards of owners that did not answer are reported missing. Each node is asked its map's
    /// epoch before and after it answers: when a node answered under another map than the
    /// others (a group changed owner meanwhile, so its exchanges could be counted twice or not
    /// at all), the query runs again with the new map.
    pub async fn http_all(
        &mut self,
        request: &ListRequest,
    ) -> Result<ClusterAnswer<(String, HttpExchange)>, ClientError> {
        for _ in 0..20 {
            if let Some(answer) = self.http_under_one_map(request).await? {
                return Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = self.refresh().await;
        }
        Err(ClientError::Rpc(capnp::Error::failed(
            "the shard map kept changing during the query".into(),
        )))
    }

    /// One fan-out; `None` when the nodes did not all answer under the client's map.
    async fn http_under_one_map(
        &mut self,
        request: &ListRequest,
    ) -> Result<Option<ClusterAnswer<(String, HttpExchange)>>, ClientError> {
        let epoch = self.map.epoch;
        let mut answer = ClusterAnswer {
            items: Vec::new(),
            missing_shards: Vec::new(),
        };
        let mut same_map = true;
        for (address, shards) in self.map.shards_by_owner() {
            let client = match self.node(&address).await {
                Ok(client) => client,
                Err(_) => {
                    answer.missing_shards.extend(shards);
                    continue;
                }
            };
            let before = client.shard_map().await.map(|map| map.epoch);
            let items = client.http_all(request.clone()).await;
            let after = client.shard_map().await.map(|map| map.epoch);
            match (before, items, after) {
                (Ok(before), Ok(items), Ok(after)) => {
                    same_map &= before == epoch && after == epoch;
                    answer.items.extend(items);
                }
                _ => {
                    self.nodes.remove(&address);
                    answer.missing_shards.extend(shards);
                }
            }
        }
        if !same_map {
            return Ok(None);
        }
        answer.missing_shards.sort_unstable();
        answer.items.sort_by(|a, b| {
            b.1.timing
                .request_start
                .cmp(&a.1.timing.request_start)
                .then_with(|| {
                    (&a.0, a.1.session_id, a.1.index).cmp(&(&b.0, b.1.session_id, b.1.index))
                })
        });
        Ok(Some(answer))
    }
}
