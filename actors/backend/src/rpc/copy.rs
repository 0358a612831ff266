//! Moving shard groups between nodes. The owner serves `Ingest.copyGroup`: it closes the group
//! to writes (once those in flight are stored) and hands out its storage in chunks. Every node
//! runs [`follow_moves`]: it copies from their owners the groups it is to follow or to own,
//! reports a finished move so that the coordinator makes it the owner, and opens its groups
//! again when their move ends (or its copier gave up).

use std::collections::BTreeSet;
use std::time::Duration;

use spider_cluster::ShardMap;
use spider_rpc_schema::ingest_capnp::ingest;
use spider_storage::{CopyPosition, RawEntry, ShardRequest, ShardResponse};

use super::failed;
use super::peers::Peers;
use crate::cluster::Placement;
use crate::gate::ABANDONED_AFTER;
use crate::router::Router;
use crate::worker::Resume;

/// About this many bytes of entries per chunk.
const CHUNK_BYTES: usize = 1 << 20;

/// Sessions with packets this close to a copied group's newest one are resumed if still open.
const RESUME_WINDOW_NS: i64 = 10 * 60 * 1_000_000_000;

fn placement(router: &Router) -> Result<&Placement, capnp::Error> {
    router
        .placement
        .as_ref()
        .ok_or_else(|| failed("this node is not part of a cluster"))
}

async fn ask(
    router: &Router,
    group: u16,
    request: ShardRequest,
) -> Result<ShardResponse, capnp::Error> {
    let shard = router
        .shards
        .get(usize::from(group))
        .ok_or_else(|| failed(format!("group {group} does not exist here")))?;
    shard.send(request).await.map_err(failed)?.map_err(failed)
}

/// `Ingest.copyGroup` on the group's owner.
pub(super) async fn serve_chunk(
    router: &Router,
    params: ingest::copy_group_params::Reader<'_>,
    mut results: ingest::CopyGroupResults,
) -> Result<(), capnp::Error> {
    let placement = placement(router)?;
    let group = params.get_group();
    let to = params.get_to()?.to_str()?;
    let hand_over = params.get_hand_over();
    if !placement.owns(group) {
        return Err(failed(format!("this node does not own group {group}")));
    }
    // A hand-over's group stays closed while this node's map shows the move: a map that does
    // not show it yet would open the group again at once.
    let shows_move = placement
        .map
        .borrow()
        .as_ref()
        .is_some_and(|map| map.move_of(group).is_some_and(|moving| moving.to == to));
    if hand_over && !shows_move {
        return Err(failed(format!(
            "this node's shard map does not show group {group} moving to {to} yet: retry"
        )));
    }
    placement.gate.freeze(group, to, hand_over).await;
    let after = if params.has_after() {
        let after = params.get_after()?;
        Some(CopyPosition {
            family: after.get_family(),
            key: after.get_key()?.to_vec(),
        })
    } else {
        None
    };
    let request = ShardRequest::ExportChunk {
        after,
        max_bytes: CHUNK_BYTES,
    };
    let ShardResponse::Chunk(chunk) = ask(router, group, request).await? else {
        return Err(failed("the storage shard answered something else"));
    };
    let mut out = results.get();
    let mut entries = out
        .reborrow()
        .init_entries(u32::try_from(chunk.entries.len()).map_err(failed)?);
    for (index, entry) in (0..).zip(&chunk.entries) {
        let mut slot = entries.reborrow().get(index);
        slot.set_family(entry.family);
        slot.set_key(&entry.key);
        slot.set_value(&entry.value);
    }
    match &chunk.next {
        Some(next) => {
            let mut position = out.reborrow().init_next();
            position.set_family(next.family);
            position.set_key(&next.key);
        }
        None => {
            out.set_done(true);
            if !hand_over {
                placement.gate.thaw(group);
            }
            tracing::info!(group, to, hand_over, "group copied");
        }
    }
    Ok(())
}

/// Copies `group` from its owner at `address` into the local shard of the group.
async fn copy_from(
    router: &Router,
    peers: &Peers,
    address: &str,
    group: u16,
    hand_over: bool,
) -> Result<u64, capnp::Error> {
    let me = &placement(router)?.node;
    let ingest = peers.ingest(address).await?;
    ask(router, group, ShardRequest::Clear).await?;
    let mut after: Option<CopyPosition> = None;
    let mut entries_copied = 0u64;
    loop {
        let mut request = ingest.copy_group_request();
        {
            let mut params = request.get();
            params.set_group(group);
            params.set_to(me);
            params.set_hand_over(hand_over);
            if let Some(position) = &after {
                let mut slot = params.init_after();
                slot.set_family(position.family);
                slot.set_key(&position.key);
            }
        }
        let reply = request.send().promise.await?;
        let reply = reply.get()?;
        let mut entries = Vec::new();
        for entry in reply.get_entries()? {
            entries.push(RawEntry {
                family: entry.get_family(),
                key: entry.get_key()?.to_vec(),
                value: entry.get_value()?.to_vec(),
            });
        }
        entries_copied += entries.len() as u64;
        ask(router, group, ShardRequest::ImportChunk(entries)).await?;
        if reply.get_done() {
            break;
        }
        let next = reply.get_next()?;
        after = Some(CopyPosition {
            family: next.get_family(),
            key: next.get_key()?.to_vec(),
        });
    }
    ask(router, group, ShardRequest::FinishImport).await?;
    let request = ShardRequest::OpenSessionFrames {
        window_ns: RESUME_WINDOW_NS,
    };
    if let ShardResponse::Frames(frames) = ask(router, group, request).await? {
        let worker = router
            .workers
            .get(usize::from(group))
            .ok_or_else(|| failed(format!("group {group} has no capture worker")))?;
        let resumed = worker.send(Resume { frames }).await.map_err(failed)?;
        tracing::debug!(
            group,
            frames = resumed,
            "parsers resumed on the open sessions"
        );
    }
    Ok(entries_copied)
}

/// What a node does with its groups as the map changes; runs as long as the node.
pub(crate) async fn follow_moves(router: Router, peers: Peers) {
    let Some(placement) = router.placement.clone() else {
        return;
    };
    let mut maps = placement.map.clone();
    let mut reported: BTreeSet<(u16, String)> = BTreeSet::new();
    loop {
        let map = maps.borrow_and_update().clone();
        if let Some(map) = map {
            step(&router, &peers, &placement, &map, &mut reported).await;
        }
        tokio::select! {
            _ = maps.changed() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn step(
    router: &Router,
    peers: &Peers,
    placement: &Placement,
    map: &ShardMap,
    reported: &mut BTreeSet<(u16, String)>,
) {
    let me = placement.node.as_str();
    let gate = &placement.gate;
    for (group, freeze) in gate.frozen() {
        let owned = map.owners.get(usize::from(group)).is_some_and(|o| o == me);
        let moving_to = map.move_of(group).map(|m| m.to.as_str());
        let ended = !owned || (freeze.hand_over && moving_to != Some(freeze.to.as_str()));
        if ended || freeze.touched.elapsed() > ABANDONED_AFTER {
            gate.thaw(group);
        }
    }
    for group in 0..map.groups {
        let index = usize::from(group);
        let owner = map
            .owners
            .get(index)
            .map(String::as_str)
            .unwrap_or_default();
        let follows = map.followers.get(index).and_then(Option::as_deref) == Some(me);
        let moving = map.move_of(group).filter(|m| m.to == me);
        if owner == me {
            gate.set_complete(group, true);
            continue;
        }
        if !follows && moving.is_none() {
            gate.set_complete(group, false);
            continue;
        }
        if !gate.is_complete(group) {
            let Some(address) = map.nodes.get(owner).map(|info| info.rpc.clone()) else {
                continue;
            };
            match copy_from(router, peers, &address, group, moving.is_some()).await {
                Ok(entries) => {
                    tracing::info!(group, owner, entries, "copied the group from its owner");
                    gate.set_complete(group, true);
                }
                Err(error) => {
                    tracing::warn!(group, owner, %error, "copying the group failed: retrying");
                    peers.forget(&address);
                    continue;
                }
            }
        }
        if let Some(moving) = moving {
            let token = (group, moving.done_token());
            if !reported.contains(&token) {
                match placement.reporter.copied(group, moving).await {
                    Ok(()) => {
                        reported.insert(token);
                    }
                    Err(error) => tracing::warn!(group, %error, "cannot report the copy"),
                }
            }
        }
    }
}
