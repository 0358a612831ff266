//! The node in a cluster (`[cluster]` in the config): it joins through etcd (`spider-cluster`),
//! follows the shard map, and decides for each batch and query whether this node owns the
//! virtual shard's group (it stores and answers), follows it (it stores what the owner passes
//! on), or neither (it refuses, naming the owner). Without `[cluster]` a node owns everything.
//!
//! In a cluster the node keeps one local storage shard per group (`local_shards = groups`), so a
//! group's data is in one place: what a follower holds becomes its data the moment it owns it.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use spider_cluster::{CopyReporter, ShardMap};
use tokio::sync::watch;

use crate::gate::GroupGate;

/// `[cluster]`: several nodes, placement kept in etcd.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// etcd's client URL (`http://10.0.0.5:2379`); unset: a single node owning every shard
    /// (`SPIDER_BACKEND_ETCD`).
    pub etcd: Option<String>,
    /// The cluster's name (several clusters can share an etcd). Default `spider`.
    pub name: String,
    /// This node's name: unique in the cluster, stable across restarts (a StatefulSet pod's
    /// name) (`SPIDER_BACKEND_NODE`). Default: the host name.
    pub node: String,
    /// Where the other nodes and the agents dial this node (`HOST:PORT`)
    /// (`SPIDER_BACKEND_ADVERTISE`); default: `listen`.
    pub advertise: Option<String>,
    /// Shard groups of a new cluster (the unit of placement; each is a local shard). Default 16.
    pub groups: u16,
    /// A new cluster writes its first shard map once this many nodes are up. Default 1.
    pub initial_nodes: usize,
    /// A node that has not renewed its lease for this long is gone. Default `5s`.
    #[serde(deserialize_with = "seconds")]
    pub lease_ttl: Duration,
}

fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            etcd: None,
            name: "spider".into(),
            node: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|_| "node".into()),
            advertise: None,
            groups: 16,
            initial_nodes: 1,
            lease_ttl: Duration::from_secs(5),
        }
    }
}

/// What this node does with a virtual shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// It owns the shard's group: store, pass on to the follower (its address) if any, answer.
    Owner { follower: Option<String> },
    /// It follows the group: store what the owner passes on.
    Follower,
    /// Neither: an agent's batch goes on to the group's owner (at this address).
    Forward { owner: String },
}

/// The node's view of the cluster: its name, the shard map as it changes, its groups' gate and
/// where it reports the copies of groups moving to it.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    pub node: String,
    pub map: watch::Receiver<Option<ShardMap>>,
    pub gate: GroupGate,
    pub reporter: CopyReporter,
}

impl Placement {
    /// What to do with a batch for `shard` (`replicated`: passed on by the group's owner), or
    /// why this node refuses it: an agent may push any batch to any node, a node other than the
    /// owner passes it on; a passed-on batch is taken only by the group's follower.
    pub fn ingest_role(&self, shard: u16, replicated: bool) -> Result<Role, String> {
        let map = self.map.borrow();
        let Some(map) = map.as_ref() else {
            return Err("this node has no shard map yet: try again".into());
        };
        let group = usize::from(map.group_of(shard));
        let owner = map.owners.get(group).cloned().unwrap_or_default();
        let follower = map.followers.get(group).cloned().flatten();
        if owner == self.node && !replicated {
            let address = follower.and_then(|f| map.nodes.get(&f).map(|info| info.rpc.clone()));
            return Ok(Role::Owner { follower: address });
        }
        if follower.as_deref() == Some(self.node.as_str()) && replicated {
            if !self.gate.is_complete(map.group_of(shard)) {
                return Err(format!(
                    "this node is still copying group {group} from its owner {owner}: retry"
                ));
            }
            return Ok(Role::Follower);
        }
        let at = map.nodes.get(&owner).map_or("?", |info| info.rpc.as_str());
        if !replicated && owner != self.node && at != "?" {
            return Ok(Role::Forward {
                owner: at.to_owned(),
            });
        }
        Err(format!(
            "not the owner: shard {shard} (group {group}) is owned by {owner} at {at} (shard map \
             epoch {}): fetch the shard map again",
            map.epoch
        ))
    }

    /// Whether this node owns `group`.
    pub fn owns(&self, group: u16) -> bool {
        self.answers(usize::from(group))
    }

    /// Whether this node answers queries for its local shard `local` (the group it owns).
    pub fn answers(&self, local: usize) -> bool {
        self.map.borrow().as_ref().is_some_and(|map| {
            map.owners
                .get(local)
                .is_some_and(|owner| *owner == self.node)
        })
    }
}
