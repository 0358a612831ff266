//! The shard map: which node owns, and which node follows, each shard group.
//!
//! Virtual shards (`spider_rpc_schema::VIRTUAL_SHARDS`) are placed in groups (`virtual % groups`);
//! a group is the unit of placement, stored on its owner and replicated to its follower. The
//! map's epoch grows with every change so that a node or an agent can tell a newer map from an
//! older one.
//!
//! A node that owns fewer groups than its share (a node just added) gets groups moved to it: the
//! map names it as the group's incoming owner (`moves`), it copies the group from the owner (who
//! stops taking writes for it meanwhile), reports the copy complete, and the next map makes it
//! the owner, with the old owner as its follower.

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
    /// The node each group is being copied to before it becomes its owner.
    #[serde(default)]
    pub moves: Vec<Option<Move>>,
}

/// A group on its way to a new owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The incoming owner.
    pub to: String,
    /// The epoch of the map that started the move: a copy reported for another move of the same
    /// group does not count.
    pub since: u64,
}

impl Move {
    /// What the incoming owner reports once its copy is complete.
    pub fn done_token(&self) -> String {
        format!("{}@{}", self.to, self.since)
    }
}

/// Groups moved at once at most: each stops taking writes while it is copied.
pub const MAX_MOVES: usize = 4;

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

    /// The move of `group` under way, if any.
    pub fn move_of(&self, group: u16) -> Option<&Move> {
        self.moves.get(usize::from(group)).and_then(Option::as_ref)
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
    /// and otherwise the best-ranked other node. A move whose copy is reported in `copied`
    /// (group → [`Move::done_token`]) completes; moves start towards nodes owning less than their
    /// share. `None` when no node is alive.
    pub fn place(
        groups: u16,
        alive: &BTreeMap<String, NodeInfo>,
        previous: Option<&ShardMap>,
        copied: &BTreeMap<u16, String>,
    ) -> Option<ShardMap> {
        if alive.is_empty() || groups == 0 {
            return None;
        }
        let previous = previous.filter(|p| p.groups == groups);
        let epoch = previous.map_or(1, |p| p.epoch);
        let mut map = ShardMap {
            epoch,
            groups,
            nodes: alive.clone(),
            owners: Vec::with_capacity(usize::from(groups)),
            followers: Vec::with_capacity(usize::from(groups)),
            moves: vec![None; usize::from(groups)],
        };
        for group in 0..groups {
            let index = usize::from(group);
            let old_owner = previous.and_then(|p| p.owners.get(index));
            let old_follower = previous.and_then(|p| p.followers.get(index).cloned().flatten());
            let ranked = ranked(group, alive);
            let mut owner = match (old_owner, &old_follower) {
                (Some(owner), _) if alive.contains_key(owner) => owner.clone(),
                (_, Some(follower)) if alive.contains_key(follower) => follower.clone(),
                _ => ranked[0].clone(),
            };
            let mut follower = match old_follower {
                Some(f) if f != owner && alive.contains_key(&f) => Some(f),
                _ => ranked.iter().find(|n| ***n != owner).map(|n| (*n).clone()),
            };
            let moving = previous.and_then(|p| p.move_of(group)).filter(|m| {
                alive.contains_key(&m.to) && Some(&owner) == old_owner && m.to != owner
            });
            if let Some(moving) = moving {
                if copied.get(&group) == Some(&moving.done_token()) {
                    follower = Some(std::mem::replace(&mut owner, moving.to.clone()));
                } else {
                    map.moves[index] = Some(moving.clone());
                }
            }
            map.owners.push(owner);
            map.followers.push(follower);
        }
        if previous.is_none() {
            // A new cluster holds no data yet: its groups can go where the moves would take them.
            while {
                map.plan_moves(epoch);
                map.moves.iter().any(Option::is_some)
            } {
                for (index, slot) in map.moves.iter_mut().enumerate() {
                    if let Some(moving) = slot.take() {
                        map.followers[index] =
                            Some(std::mem::replace(&mut map.owners[index], moving.to));
                    }
                }
            }
        }
        map.plan_moves(epoch + 1);
        let changed = previous.is_none_or(|p| {
            p.owners != map.owners
                || p.followers != map.followers
                || p.nodes != map.nodes
                || p.moves != map.moves
        });
        if changed && previous.is_some() {
            map.epoch = epoch + 1;
        }
        for slot in &mut map.moves {
            if let Some(moving) = slot.as_mut().filter(|m| m.since > map.epoch) {
                moving.since = map.epoch;
            }
        }
        Some(map)
    }

    /// Starts moves towards nodes that own fewer groups than their share, taking from the
    /// nodes that own the most (a group whose natural owner is the receiving node first), while
    /// no more than [`MAX_MOVES`] are under way.
    fn plan_moves(&mut self, since: u64) {
        let share = usize::from(self.groups) / self.nodes.len().max(1);
        let mut under_way = self.moves.iter().flatten().count();
        let mut owned: BTreeMap<String, usize> =
            self.nodes.keys().map(|n| (n.clone(), 0)).collect();
        for owner in &self.owners {
            *owned.entry(owner.clone()).or_default() += 1;
        }
        for moving in self.moves.iter().flatten() {
            *owned.entry(moving.to.clone()).or_default() += 1;
        }
        let receivers: Vec<String> = owned
            .iter()
            .filter(|(_, count)| **count < share)
            .map(|(node, _)| node.clone())
            .collect();
        for receiver in receivers {
            while owned[&receiver] < share && under_way < MAX_MOVES {
                let candidates = (0..self.groups).filter(|g| {
                    let owner = &self.owners[usize::from(*g)];
                    self.moves[usize::from(*g)].is_none()
                        && *owner != receiver
                        && owned[owner] > share
                });
                let Some(group) = candidates.max_by_key(|g| {
                    let owner = &self.owners[usize::from(*g)];
                    let natural = ranked(*g, &self.nodes)[0] == &receiver;
                    (natural, owned[owner], std::cmp::Reverse(*g))
                }) else {
                    break;
                };
                let giver = self.owners[usize::from(group)].clone();
                *owned.entry(giver).or_default() -= 1;
                *owned.entry(receiver.clone()).or_default() += 1;
                self.moves[usize::from(group)] = Some(Move {
                    to: receiver.clone(),
                    since,
                });
                under_way += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn none() -> BTreeMap<u16, String> {
        BTreeMap::new()
    }

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
        let map = ShardMap::place(16, &nodes(&["a", "b", "c"]), None, &none()).unwrap();
        assert_eq!(map.epoch, 1);
        for group in 0..16 {
            let owner = &map.owners[group];
            let follower = map.followers[group].as_ref().unwrap();
            assert_ne!(owner, follower);
        }
        for node in ["a", "b", "c"] {
            assert!(!map.owned_by(node).is_empty(), "{node} owns something");
        }
        let alone = ShardMap::place(4, &nodes(&["a"]), None, &none()).unwrap();
        assert!(alone.followers.iter().all(Option::is_none));
    }

    #[test]
    fn a_lost_owner_is_replaced_by_its_follower_and_others_keep_theirs() {
        let before = ShardMap::place(16, &nodes(&["a", "b", "c"]), None, &none()).unwrap();
        let after = ShardMap::place(16, &nodes(&["a", "c"]), Some(&before), &none()).unwrap();
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
        let same = ShardMap::place(16, &nodes(&["a", "c"]), Some(&after), &none()).unwrap();
        assert_eq!(same, after, "no change, no new epoch");
    }

    #[test]
    fn virtual_shards_map_to_their_group_owner() {
        let map = ShardMap::place(8, &nodes(&["a", "b"]), None, &none()).unwrap();
        let (owner, info) = map.owner_of(13).unwrap();
        assert_eq!(owner, map.owners[5]);
        assert_eq!(info.rpc, format!("{owner}:7000"));
    }

    #[test]
    fn a_new_node_gets_its_share_by_moves_that_complete_when_copied() {
        let before = ShardMap::place(16, &nodes(&["a", "b", "c"]), None, &none()).unwrap();
        assert!(
            before.moves.iter().all(Option::is_none),
            "balanced: no move"
        );
        let four = nodes(&["a", "b", "c", "d"]);
        let moving = ShardMap::place(16, &four, Some(&before), &none()).unwrap();
        assert_eq!(moving.epoch, before.epoch + 1);
        assert_eq!(
            moving.owners, before.owners,
            "owners change only once copied"
        );
        let moves: Vec<(u16, Move)> = (0..16)
            .filter_map(|g| moving.move_of(g).map(|m| (g, m.clone())))
            .collect();
        assert_eq!(moves.len(), 4, "d's share: {moves:?}");
        assert!(moves
            .iter()
            .all(|(_, m)| m.to == "d" && m.since == moving.epoch));
        // Nothing copied yet: the map stays as it is.
        let waiting = ShardMap::place(16, &four, Some(&moving), &none()).unwrap();
        assert_eq!(waiting, moving);
        // A copy reported for an older move of the group does not count.
        let (first, first_move) = moves[0].clone();
        let stale = BTreeMap::from([(first, format!("d@{}", moving.epoch - 1))]);
        assert_eq!(
            ShardMap::place(16, &four, Some(&moving), &stale).unwrap(),
            moving
        );
        let copied = BTreeMap::from([(first, first_move.done_token())]);
        let switched = ShardMap::place(16, &four, Some(&moving), &copied).unwrap();
        assert_eq!(switched.epoch, moving.epoch + 1);
        assert_eq!(switched.owners[usize::from(first)], "d");
        assert_eq!(
            switched.followers[usize::from(first)].as_ref(),
            Some(&moving.owners[usize::from(first)]),
            "the old owner follows"
        );
        assert!(switched.move_of(first).is_none());
        let all: BTreeMap<u16, String> = moves.iter().map(|(g, m)| (*g, m.done_token())).collect();
        let done = ShardMap::place(16, &four, Some(&switched), &all).unwrap();
        assert_eq!(done.owned_by("d").len(), 4);
        assert!(done.moves.iter().all(Option::is_none));
        for node in ["a", "b", "c", "d"] {
            assert!(
                done.owned_by(node).len() >= 4,
                "{node}: {:?}",
                done.owned_by(node)
            );
        }
        assert_eq!(ShardMap::place(16, &four, Some(&done), &all).unwrap(), done);
    }

    #[test]
    fn a_move_to_a_lost_node_is_dropped() {
        let before = ShardMap::place(16, &nodes(&["a", "b", "c"]), None, &none()).unwrap();
        let moving =
            ShardMap::place(16, &nodes(&["a", "b", "c", "d"]), Some(&before), &none()).unwrap();
        let after = ShardMap::place(16, &nodes(&["a", "b", "c"]), Some(&moving), &none()).unwrap();
        assert!(after.moves.iter().all(Option::is_none));
        assert_eq!(after.owners, before.owners);
    }
}
