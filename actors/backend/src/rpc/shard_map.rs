//! `Ingest.shardMap`: where every virtual shard lives. A single node owns them all; in a
//! cluster, the owner and follower of each shard's group, from the map in etcd.

use spider_rpc_schema::ingest_capnp::shard_map;
use spider_rpc_schema::VIRTUAL_SHARDS;

use super::failed;
use crate::cluster::Placement;

/// No follower.
const NONE: u16 = u16::MAX;

pub(super) fn write(
    mut out: shard_map::Builder<'_>,
    placement: Option<&Placement>,
) -> Result<(), capnp::Error> {
    out.set_shard_count(VIRTUAL_SHARDS);
    let Some(placement) = placement else {
        out.set_epoch(1);
        let mut nodes = out.reborrow().init_nodes(1);
        nodes.reborrow().get(0).set_id("local");
        let mut owners = out.reborrow().init_owners(u32::from(VIRTUAL_SHARDS));
        for shard in 0..u32::from(VIRTUAL_SHARDS) {
            owners.set(shard, 0);
        }
        out.set_answering_node(0);
        return Ok(());
    };
    let map = placement.map.borrow();
    let Some(map) = map.as_ref() else {
        return Err(failed("this node has no shard map yet: try again"));
    };
    let names: Vec<&String> = map.nodes.keys().collect();
    let index_of = |name: &str| -> u16 {
        names
            .iter()
            .position(|n| n.as_str() == name)
            .and_then(|i| u16::try_from(i).ok())
            .unwrap_or(NONE)
    };
    out.set_epoch(map.epoch);
    let mut nodes = out
        .reborrow()
        .init_nodes(u32::try_from(names.len()).map_err(failed)?);
    for (index, (name, info)) in (0..).zip(&map.nodes) {
        let mut node = nodes.reborrow().get(index);
        node.set_id(name);
        node.set_address(&info.rpc);
    }
    let mut owners = out.reborrow().init_owners(u32::from(VIRTUAL_SHARDS));
    for shard in 0..VIRTUAL_SHARDS {
        let group = usize::from(map.group_of(shard));
        owners.set(
            u32::from(shard),
            map.owners.get(group).map_or(NONE, |o| index_of(o)),
        );
    }
    let mut followers = out.reborrow().init_followers(u32::from(VIRTUAL_SHARDS));
    for shard in 0..VIRTUAL_SHARDS {
        let group = usize::from(map.group_of(shard));
        let follower = map.followers.get(group).cloned().flatten();
        followers.set(u32::from(shard), follower.map_or(NONE, |f| index_of(&f)));
    }
    out.set_answering_node(index_of(&placement.node));
    Ok(())
}
