//! Controllers' inventories: a snapshot replaces what a Controller sent before, deltas change
//! and remove objects, a retried batch changes nothing, and it all survives a restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::TestEnv;
use spider_model::inventory::{
    InventoryChange, InventoryDelta, InventoryRef, InventorySnapshot, InventoryUpdate,
    NamespaceView, ObjectKind, PodView, WorkloadView,
};
use spider_storage::IngestBatch;

fn pod(name: &str, ip: &str) -> PodView {
    PodView {
        name: name.into(),
        namespace: "shop".into(),
        ips: vec![ip.parse().unwrap()],
        node: Some("n1".into()),
        workload_kind: "Deployment".into(),
        workload: "web".into(),
        host_network: false,
        phase: "Running".into(),
        labels: BTreeMap::new(),
    }
}

fn snapshot() -> InventorySnapshot {
    InventorySnapshot {
        namespaces: vec![NamespaceView {
            name: "shop".into(),
            labels: BTreeMap::new(),
        }],
        workloads: vec![WorkloadView {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "shop".into(),
            labels: BTreeMap::new(),
            replicas: 2,
        }],
        pods: vec![pod("web-1", "10.1.0.1"), pod("web-2", "10.1.0.2")],
        ..InventorySnapshot::default()
    }
}

fn batch(controller: &str, seq: u64, time: i64, change: InventoryChange) -> IngestBatch {
    let mut batch = IngestBatch::new(format!("inventory:{controller}"), seq, controller);
    batch.inventory = Some(InventoryUpdate {
        controller: controller.into(),
        cluster: format!("{controller}-cluster"),
        time,
        change,
    });
    batch
}

#[test]
fn snapshots_and_deltas_make_the_latest_state() {
    let env = TestEnv::new();
    let mut shard = env.open();
    shard
        .ingest(batch("a", 1, 10, InventoryChange::Snapshot(snapshot())))
        .unwrap();
    shard
        .ingest(batch("b", 1, 11, InventoryChange::Snapshot(snapshot())))
        .unwrap();
    let delta = InventoryDelta {
        upserted: InventorySnapshot {
            pods: vec![pod("web-3", "10.1.0.3")],
            ..InventorySnapshot::default()
        },
        removed: vec![InventoryRef {
            kind: ObjectKind::Pod,
            namespace: Some("shop".into()),
            name: "web-1".into(),
            workload_kind: None,
        }],
    };
    shard
        .ingest(batch("a", 2, 20, InventoryChange::Delta(delta.clone())))
        .unwrap();
    let retried = shard
        .ingest(batch("a", 2, 20, InventoryChange::Delta(delta.clone())))
        .unwrap();
    assert!(retried.duplicate);

    let mut expected_a = snapshot();
    expected_a.apply(&delta);
    let check = |shard: &spider_storage::Shard| {
        let inventories = shard.inventories().unwrap();
        assert_eq!(inventories.len(), 2);
        assert_eq!(inventories[0].controller, "a");
        assert_eq!(inventories[0].cluster, "a-cluster");
        assert_eq!(inventories[0].time, 20);
        assert_eq!(inventories[0].objects, expected_a);
        let names: Vec<&str> = inventories[0]
            .objects
            .pods
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["web-2", "web-3"]);
        assert_eq!(inventories[1].objects, snapshot());
    };
    check(&shard);
    drop(shard);
    let shard = env.open();
    check(&shard);

    // A new snapshot replaces everything that Controller sent before.
    let mut shard = shard;
    let smaller = InventorySnapshot {
        pods: vec![pod("only", "10.1.0.9")],
        ..InventorySnapshot::default()
    };
    shard
        .ingest(batch(
            "a",
            3,
            30,
            InventoryChange::Snapshot(smaller.clone()),
        ))
        .unwrap();
    let inventories = shard.inventories().unwrap();
    assert_eq!(inventories[0].objects, smaller);
    assert_eq!(inventories[1].objects, snapshot());
}

#[test]
fn a_name_with_a_nul_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let mut shard = env.open();
    let mut bad = snapshot();
    bad.pods[0].name = "a\0b".into();
    let error = shard
        .ingest(batch("a", 1, 10, InventoryChange::Snapshot(bad)))
        .unwrap_err();
    assert!(error.to_string().contains("NUL"), "{error}");
    assert!(shard.inventories().unwrap().is_empty());
}
