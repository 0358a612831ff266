//! The shard map: which node owns, and which node follows, each shard group.
//!
//! Virtual shards (`spider_rpc_schema::VIRTUAL_SHARDS`) are placed in groups (`virtual % groups`);
//! a group is the unit of placement, stored on its owner and replicated to its follower. The
//! map's epoch grows with every change so that a node or an agent can tell a newer map from an
//! older one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the cluster knows of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Where its Cap'n Proto listener is (`HOST:PORT`).
    pub rpc: String,
}

/// Placement of every shard group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    pub epoch: u64,
    pub groups: u16,
    /// The nodes the map places groups on.
    pub nodes: BTreeMap<String, NodeInfo>,
    /// The owner of each group (index = group).
    pub owners: Vec<String>,
    /// The follower of each group, when the cluster has a second node.
    pub followers: Vec<Option<String>>,
}

/// Rendezvous weight of (group, node): the node with the highest weight is a group's natural
/// owner, the next its follower, so that a node joining or leaving moves few groups.
fn weight(group: u16, node: &str) -> u64 {
    let mut bytes = group.to_be_bytes().to_vec();
    bytes.extend_from_slice(node.as_bytes());
    spider_rpc_schema::fnv1a64(&bytes)
}

fn ranked(group: u16, nodes: &BTreeMap<String, NodeInfo>) -> Vec<&String> {
    let mut ranked: Vec<&String> = nodes.keys().collect();
    ranked.sort_by_key(|node| std::cmp::Reverse(weight(group, node)));
    ranked
}

impl ShardMap {
    /// The group of a virtual shard.
    pub fn group_of(&self, virtual_shard: u16) -> u16 {
        virtual_shard % self.groups.max(1)
    }

    /// The owner of a virtual shard's group, and where it listens.
    pub fn owner_of(&self, virtual_shard: u16) -> Option<(&str, &NodeInfo)> {
        let owner = self.owners.get(usize::from(self.group_of(virtual_shard)))?;
        self.nodes.get(owner).map(|info| (owner.as_str(), info))
    }

    /// The groups `node` owns.
    pub fn owned_by(&self, node: &str) -> Vec<u16> {
        (0..self.groups)
            .filter(|g| self.owners.get(usize::from(*g)).is_some_and(|o| o == node))
            .collect()
    }

    /// The groups `node` follows.
    pub fn followed_by(&self, node: &str) -> Vec<u16> {
        (0..self.groups)
            .filter(|g| {
                self.followers
                    .get(usize::from(*g))
                    .is_some_and(|f| f.as_deref() == Some(node))
            })
            .collect()
    }

    /// The placement for the nodes alive now, changing `previous` as little as possible: a
    /// live owner keeps its group; a lost owner's group goes to its follower (which holds a
    /// copy); a group with neither goes to its natural owner; followers are kept while alive
    /// and otherwise the best-ranked other node. `None` when no node is alive.
    pub fn place(
        groups: u16,
        alive: &BTreeMap<String, NodeInfo>,
        previous: Option<&ShardMap>,
    ) -> Option<ShardMap> {
        if alive.is_empty() || groups == 0 {
            return None;
        }
        let previous = previous.filter(|p| p.groups == groups);
        let mut owners = Vec::with_capacity(usize::from(groups));
        let mut followers = Vec::with_capacity(usize::from(groups));
        for group in 0..groups {
            let index = usize::from(group);
            let old_owner = previous.and_then(|p| p.owners.get(index));
            let old_follower = previous.and_then(|p| p.followers.get(index).cloned().flatten());
            let ranked = ranked(group, alive);
            let owner = match (old_owner, &old_follower) {
                (Some(owner), _) if alive.contains_key(owner) => owner.clone(),
                (_, Some(follower)) if alive.contains_key(follower) => follower.clone(),
                _ => ranked[0].clone(),
            };
            let follower = match old_follower {
                Some(f) if f != owner && alive.contains_key(&f) => Some(f),
                _ => ranked.iter().find(|n| ***n != owner).map(|n| (*n).clone()),
            };
            owners.push(owner);
            followers.push(follower);
        }
        let epoch = previous.map_or(1, |p| p.epoch);
        let map = ShardMap {
            epoch,
            groups,
            nodes: alive.clone(),
            owners,
            followers,
        };
        let changed = previous.is_none_or(|p| {
            p.owners != map.owners || p.followers != map.followers || p.nodes != map.nodes
        });
        Some(ShardMap {
            epoch: if changed && previous.is_some() {
                epoch + 1
            } else {
                epoch
            },
            ..map
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn nodes(names: &[&str]) -> BTreeMap<String, NodeInfo> {
        names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    NodeInfo {
                        rpc: format!("{n}:7000"),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn every_group_has_an_owner_and_another_node_as_follower() {
        let map = ShardMap::place(16, &nodes(&["a", "b", "c"]), None).unwrap();
        assert_eq!(map.epoch, 1);
        for group in 0..16 {
            let owner = &map.owners[group];
            let follower = map.followers[group].as_ref().unwrap();
            assert_ne!(owner, follower);
        }
        for node in ["a", "b", "c"] {
            assert!(!map.owned_by(node).is_empty(), "{node} owns something");
        }
        let alone = ShardMap::place(4, &nodes(&["a"]), None).unwrap();
        assert!(alone.followers.iter().all(Option::is_none));
    }

    #[test]
    fn a_lost_owner_is_replaced_by_its_follower_and_others_keep_theirs() {
        let before = ShardMap::place(16, &nodes(&["a", "b", "c"]), None).unwrap();
        let after = ShardMap::place(16, &nodes(&["a", "c"]), Some(&before)).unwrap();
        assert_eq!(after.epoch, before.epoch + 1);
        for group in 0..16 {
            if before.owners[group] == "b" {
                assert_eq!(Some(&after.owners[group]), before.followers[group].as_ref());
            } else {
                assert_eq!(after.owners[group], before.owners[group]);
            }
            assert_ne!(after.followers[group].as_deref(), Some("b"));
            assert_ne!(after.followers[group].as_ref(), Some(&after.owners[group]));
        }
        let same = ShardMap::place(16, &nodes(&["a", "c"]), Some(&after)).unwrap();
        assert_eq!(same, after, "no change, no new epoch");
    }

    #[test]
    fn virtual_shards_map_to_their_group_owner() {
        let map = ShardMap::place(8, &nodes(&["a", "b"]), None).unwrap();
        let (owner, info) = map.owner_of(13).unwrap();
        assert_eq!(owner, map.owners[5]);
        assert_eq!(info.rpc, format!("{owner}:7000"));
    }
}
