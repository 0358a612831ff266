//! Controllers' inventories: the latest state of each Controller's view of its cluster, kept as
//! one RocksDB entry per object (`CONTROLLER \0 KIND NAMESPACE \0 NAME \0 WORKLOAD_KIND`) plus a
//! header (`CONTROLLER \0 \0`: cluster and time). A snapshot replaces everything kept of its
//! Controller in the same write batch; a delta replaces and removes objects.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use spider_model::inventory::{
    ClusterInventory, InventoryChange, InventoryObject, InventoryRef, InventorySnapshot,
    InventoryUpdate, ObjectKind,
};

use super::Shard;
use crate::codec::{decode, encode};
use crate::db::{cf, CF_INVENTORY};
use crate::error::{Result, StorageError};

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    cluster: String,
    time: i64,
}

fn kind_byte(kind: ObjectKind) -> u8 {
    match kind {
        ObjectKind::Node => 1,
        ObjectKind::Namespace => 2,
        ObjectKind::Workload => 3,
        ObjectKind::Pod => 4,
        ObjectKind::Service => 5,
    }
}

fn prefix(controller: &str) -> Vec<u8> {
    let mut key = controller.as_bytes().to_vec();
    key.push(0);
    key
}

fn header_key(controller: &str) -> Vec<u8> {
    let mut key = prefix(controller);
    key.push(0);
    key
}

fn object_key(controller: &str, object: &InventoryRef) -> Vec<u8> {
    let mut key = prefix(controller);
    key.push(kind_byte(object.kind));
    key.extend_from_slice(object.namespace.as_deref().unwrap_or("").as_bytes());
    key.push(0);
    key.extend_from_slice(object.name.as_bytes());
    key.push(0);
    key.extend_from_slice(object.workload_kind.as_deref().unwrap_or("").as_bytes());
    key
}

/// Names with a NUL would make keys ambiguous.
fn check_names(update: &InventoryUpdate) -> Result<()> {
    let bad = |text: &str| text.contains('\0');
    let objects = match &update.change {
        InventoryChange::Snapshot(objects) => objects,
        InventoryChange::Delta(delta) => &delta.upserted,
    };
    let removed: &[InventoryRef] = match &update.change {
        InventoryChange::Snapshot(_) => &[],
        InventoryChange::Delta(delta) => &delta.removed,
    };
    let refs = objects.objects().into_keys().chain(removed.iter().cloned());
    let mut found = bad(&update.controller) || update.controller.is_empty();
    for key in refs {
        found |= bad(&key.name)
            || key.namespace.as_deref().is_some_and(bad)
            || key.workload_kind.as_deref().is_some_and(bad);
    }
    if found {
        return Err(StorageError::InvalidRequest(
            "inventory names must be non-empty for the controller and hold no NUL character".into(),
        ));
    }
    Ok(())
}

impl Shard {
    /// Puts an inventory update into `wb`; returns how many objects it wrote or removed.
    pub(crate) fn put_inventory(
        &self,
        wb: &mut WriteBatch,
        update: &InventoryUpdate,
    ) -> Result<u64> {
        check_names(update)?;
        let column = cf(&self.db, CF_INVENTORY)?;
        let controller = &update.controller;
        let (objects, removed): (&InventorySnapshot, &[InventoryRef]) = match &update.change {
            InventoryChange::Snapshot(objects) => {
                let mut end = controller.as_bytes().to_vec();
                end.push(1);
                wb.delete_range_cf(column, prefix(controller), end);
                (objects, &[])
            }
            InventoryChange::Delta(delta) => (&delta.upserted, &delta.removed),
        };
        for key in removed {
            wb.delete_cf(column, object_key(controller, key));
        }
        let mut written = removed.len() as u64;
        for (key, object) in objects.objects() {
            wb.put_cf(
                column,
                object_key(controller, &key),
                encode("inventory object", &object)?,
            );
            written += 1;
        }
        let header = Header {
            cluster: update.cluster.clone(),
            time: update.time,
        };
        wb.put_cf(
            column,
            header_key(controller),
            encode("inventory header", &header)?,
        );
        Ok(written)
    }

    /// The inventory of every Controller that sent one to this shard.
    pub fn inventories(&self) -> Result<Vec<ClusterInventory>> {
        let column = cf(&self.db, CF_INVENTORY)?;
        let mut clusters: BTreeMap<String, (ClusterInventory, Vec<InventoryObject>)> =
            BTreeMap::new();
        for entry in self.db.iterator_cf(column, rocksdb::IteratorMode::Start) {
            let (key, value) = entry?;
            let Some(split) = key.iter().position(|b| *b == 0) else {
                return Err(StorageError::corrupt(
                    CF_INVENTORY,
                    "key",
                    "no controller name",
                ));
            };
            let controller = String::from_utf8_lossy(&key[..split]).into_owned();
            let (cluster, objects) = clusters.entry(controller.clone()).or_insert_with(|| {
                let cluster = ClusterInventory {
                    controller,
                    ..ClusterInventory::default()
                };
                (cluster, Vec::new())
            });
            if key.get(split + 1) == Some(&0) {
                let header: Header = decode(CF_INVENTORY, "inventory header", &value)?;
                cluster.cluster = header.cluster;
                cluster.time = header.time;
            } else {
                objects.push(decode(CF_INVENTORY, "inventory object", &value)?);
            }
        }
        Ok(clusters
            .into_values()
            .map(|(mut cluster, objects)| {
                cluster.objects = InventorySnapshot::from_objects(objects);
                cluster
            })
            .collect())
    }
}
