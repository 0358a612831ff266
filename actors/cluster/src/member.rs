//! A backend node's membership: it registers under a lease it keeps alive, takes part in the
//! election of the coordinator (the node that writes the shard map), and watches the map.
//!
//! Keys, under `/spider/CLUSTER/`: `nodes/NODE` (its `NodeInfo`, on its lease: gone when the
//! node stops renewing it), `coordinator` (the coordinator's name, on its lease), `shardmap` (the
//! `ShardMap`, replaced only by compare-and-swap on its revision), `copied/GROUP` (the incoming
//! owner of a moving group reports its copy complete there: `Move::done_token`).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::etcd::{Etcd, EtcdError, WatchEvent};
use crate::map::{Move, NodeInfo, ShardMap};

/// How a node joins a cluster.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// etcd's client URL (`http://127.0.0.1:2379`).
    pub etcd: String,
    pub cluster: String,
    /// This node's name, unique in the cluster and stable across restarts.
    pub node: String,
    pub info: NodeInfo,
    /// Shard groups of a new cluster (an existing map keeps its own).
    pub groups: u16,
    /// A node that has not renewed its lease for this long is gone.
    pub lease_ttl: Duration,
    /// How often the coordinator looks at the membership.
    pub coordinate_every: Duration,
    /// The first map is written once this many nodes are alive (a new cluster's size), so that
    /// the first groups spread over every node instead of all going to the first one up.
    pub initial_nodes: usize,
}

impl MemberConfig {
    pub fn new(
        etcd: impl Into<String>,
        cluster: impl Into<String>,
        node: impl Into<String>,
        rpc: impl Into<String>,
    ) -> Self {
        Self {
            etcd: etcd.into(),
            cluster: cluster.into(),
            node: node.into(),
            info: NodeInfo { rpc: rpc.into() },
            groups: 16,
            lease_ttl: Duration::from_secs(5),
            coordinate_every: Duration::from_millis(500),
            initial_nodes: 1,
        }
    }
}

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("etcd: {0}")]
    Etcd(#[from] EtcdError),
    #[error("node {0:?} is already a live member of the cluster")]
    Taken(String),
    #[error("the shard map in etcd is damaged: {0}")]
    BadMap(String),
}

struct Keys {
    nodes: String,
    coordinator: String,
    map: String,
    copied: String,
}

impl Keys {
    fn of(cluster: &str) -> Self {
        Self {
            nodes: format!("/spider/{cluster}/nodes/"),
            coordinator: format!("/spider/{cluster}/coordinator"),
            map: format!("/spider/{cluster}/shardmap"),
            copied: format!("/spider/{cluster}/copied/"),
        }
    }
}

/// A node's membership; dropping it stops renewing the lease (as a crash would: the node is
/// gone once the lease expires); [`Member::leave`] goes at once.
#[derive(Debug)]
pub struct Member {
    etcd: Etcd,
    lease: watch::Receiver<i64>,
    map: watch::Receiver<Option<ShardMap>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn register(etcd: &Etcd, config: &MemberConfig, keys: &Keys) -> Result<i64, ClusterError> {
    let lease = etcd.grant(config.lease_ttl).await?;
    let info = serde_json::to_vec(&config.info).map_err(|e| ClusterError::BadMap(e.to_string()))?;
    if !etcd
        .create(&format!("{}{}", keys.nodes, config.node), &info, lease)
        .await?
    {
        etcd.revoke(lease).await?;
        return Err(ClusterError::Taken(config.node.clone()));
    }
    Ok(lease)
}

impl Member {
    /// Registers the node and starts renewing its lease, coordinating and watching the map.
    pub async fn join(config: MemberConfig) -> Result<Self, ClusterError> {
        let etcd = Etcd::new(config.etcd.clone());
        let keys = Keys::of(&config.cluster);
        let lease = register(&etcd, &config, &keys).await?;
        let (lease_tx, lease_rx) = watch::channel(lease);
        let (map_tx, map_rx) = watch::channel(None);
        let tasks = vec![
            tokio::spawn(keep_alive(etcd.clone(), config.clone(), lease_tx)),
            tokio::spawn(coordinate(etcd.clone(), config.clone(), lease_rx.clone())),
            tokio::spawn(follow_map(
                etcd.clone(),
                Keys::of(&config.cluster).map,
                map_tx,
            )),
        ];
        tracing::info!(node = %config.node, cluster = %config.cluster, lease, "joined the cluster");
        Ok(Self {
            etcd,
            lease: lease_rx,
            map: map_rx,
            tasks,
        })
    }

    /// The shard map as it changes.
    pub fn map(&self) -> watch::Receiver<Option<ShardMap>> {
        self.map.clone()
    }

    /// Where this node reports the copies of groups moving to it.
    pub fn reporter(&self, cluster: &str) -> CopyReporter {
        CopyReporter {
            etcd: self.etcd.clone(),
            prefix: Keys::of(cluster).copied,
        }
    }

    /// Waits until the map satisfies `ready`, and returns it.
    pub async fn wait_for(&self, mut ready: impl FnMut(&ShardMap) -> bool) -> ShardMap {
        let mut map = self.map.clone();
        loop {
            if let Some(current) = map.borrow_and_update().as_ref() {
                if ready(current) {
                    return current.clone();
                }
            }
            if map.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Leaves at once: the lease is revoked, so the node's key (and coordinatorship) go now.
    pub async fn leave(self) -> Result<(), ClusterError> {
        let lease = *self.lease.borrow();
        for task in &self.tasks {
            task.abort();
        }
        self.etcd.revoke(lease).await?;
        Ok(())
    }
}

/// Reports to the coordinator that a moving group's copy is complete on its incoming owner.
#[derive(Debug, Clone)]
pub struct CopyReporter {
    etcd: Etcd,
    prefix: String,
}

impl CopyReporter {
    pub async fn copied(&self, group: u16, moving: &Move) -> Result<(), ClusterError> {
        let key = format!("{}{group}", self.prefix);
        self.etcd
            .put(&key, moving.done_token().as_bytes(), 0)
            .await?;
        Ok(())
    }
}

async fn copied(etcd: &Etcd, keys: &Keys) -> Result<BTreeMap<u16, String>, ClusterError> {
    let (kvs, _) = etcd.get_prefix(&keys.copied).await?;
    Ok(kvs
        .into_iter()
        .filter_map(|kv| {
            let group = kv.key.trim_start_matches(&keys.copied).parse().ok()?;
            Some((group, String::from_utf8(kv.value).ok()?))
        })
        .collect())
}

async fn keep_alive(etcd: Etcd, config: MemberConfig, lease: watch::Sender<i64>) {
    let keys = Keys::of(&config.cluster);
    let every = config.lease_ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        let current = *lease.borrow();
        match etcd.keep_alive(current).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(node = %config.node, "the lease expired: registering again");
                match register(&etcd, &config, &keys).await {
                    Ok(new) => {
                        let _ = lease.send(new);
                    }
                    Err(error) => tracing::warn!(%error, "cannot register again"),
                }
            }
            Err(error) => tracing::warn!(%error, "cannot renew the lease"),
        }
    }
}

async fn alive(etcd: &Etcd, keys: &Keys) -> Result<BTreeMap<String, NodeInfo>, ClusterError> {
    let (kvs, _) = etcd.get_prefix(&keys.nodes).await?;
    let mut nodes = BTreeMap::new();
    for kv in kvs {
        let name = kv.key.trim_start_matches(&keys.nodes).to_string();
        match serde_json::from_slice::<NodeInfo>(&kv.value) {
            Ok(info) => {
                nodes.insert(name, info);
            }
            Err(error) => {
                tracing::warn!(node = %name, %error, "ignoring a node whose entry is damaged")
            }
        }
    }
    Ok(nodes)
}

/// One pass of the coordinator: the map for the live nodes, written if it changed.
async fn place_once(etcd: &Etcd, config: &MemberConfig, keys: &Keys) -> Result<(), ClusterError> {
    let alive = alive(etcd, keys).await?;
    let current = etcd.get(&keys.map).await?;
    let (previous, revision) = match &current {
        None => (None, 0),
        Some(kv) => (
            Some(
                serde_json::from_slice::<ShardMap>(&kv.value)
                    .map_err(|e| ClusterError::BadMap(e.to_string()))?,
            ),
            kv.mod_revision,
        ),
    };
    if previous.is_none() && alive.len() < config.initial_nodes.max(1) {
        tracing::info!(
            alive = alive.len(),
            wanted = config.initial_nodes,
            "waiting for the cluster's first nodes"
        );
        return Ok(());
    }
    let groups = previous.as_ref().map_or(config.groups, |p| p.groups);
    let copied = copied(etcd, keys).await?;
    let Some(next) = ShardMap::place(groups, &alive, previous.as_ref(), &copied) else {
        return Ok(());
    };
    if previous.as_ref() != Some(&next) {
        let bytes = serde_json::to_vec(&next).map_err(|e| ClusterError::BadMap(e.to_string()))?;
        if etcd.swap(&keys.map, revision, &bytes).await? {
            tracing::info!(
                epoch = next.epoch,
                nodes = next.nodes.len(),
                moves = next.moves.iter().flatten().count(),
                "shard map written"
            );
            for group in copied.keys() {
                if next.move_of(*group).is_none() {
                    etcd.delete(&format!("{}{group}", keys.copied)).await?;
                }
            }
        }
    }
    Ok(())
}

async fn coordinate(etcd: Etcd, config: MemberConfig, lease: watch::Receiver<i64>) {
    let keys = Keys::of(&config.cluster);
    loop {
        let lease_id = *lease.borrow();
        let coordinator = match etcd.get(&keys.coordinator).await {
            Ok(Some(kv)) => kv.value == config.node.as_bytes() && kv.lease == lease_id,
            Ok(None) => etcd
                .create(&keys.coordinator, config.node.as_bytes(), lease_id)
                .await
                .unwrap_or(false),
            Err(error) => {
                tracing::debug!(%error, "cannot read the coordinator");
                false
            }
        };
        if coordinator {
            if let Err(error) = place_once(&etcd, &config, &keys).await {
                tracing::warn!(%error, "coordinating failed");
            }
        }
        tokio::time::sleep(config.coordinate_every).await;
    }
}

async fn follow_map(etcd: Etcd, key: String, map: watch::Sender<Option<ShardMap>>) {
    loop {
        let (kvs, revision) = match etcd.get_prefix(&key).await {
            Ok(found) => found,
            Err(error) => {
                tracing::debug!(%error, "cannot read the shard map");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Some(kv) = kvs.iter().find(|kv| kv.key == key) {
            publish(&map, &kv.value);
        }
        let Ok(mut events) = etcd.watch_prefix(&key, revision + 1).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        while let Some(event) = events.recv().await {
            match event {
                Ok((_, WatchEvent::Put(kv))) if kv.key == key => publish(&map, &kv.value),
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "shard map watch");
                    break;
                }
            }
        }
    }
}

fn publish(map: &watch::Sender<Option<ShardMap>>, bytes: &[u8]) {
    match serde_json::from_slice::<ShardMap>(bytes) {
        Ok(new) => {
            map.send_if_modified(|current| {
                let newer = current.as_ref().is_none_or(|c| c.epoch < new.epoch);
                if newer {
                    *current = Some(new);
                }
                newer
            });
        }
        Err(error) => tracing::warn!(%error, "ignoring a damaged shard map"),
    }
}
