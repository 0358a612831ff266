//! Round trips of the Controller's messages: inventory updates (snapshots and deltas),
//! attachment requests and statuses, agent pods, names of IPs.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{decode, encode};
use spider_model::controller::{
    AgentPod, AgentRole, AttachRequest, AttachmentStatus, IpNames, PodAttachment,
    PodAttachmentState, Target,
};
use spider_model::inventory::{
    InventoryChange, InventoryDelta, InventoryRef, InventorySnapshot, InventoryUpdate,
    NamespaceView, NodeView, ObjectKind, PodView, ServiceView, WorkloadView,
};
use spider_rpc_schema::controller_capnp::{agent_pod, attachment_status, ip_names};
use spider_rpc_schema::inventory_capnp::inventory_update;
use spider_rpc_schema::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn objects() -> InventorySnapshot {
    InventorySnapshot {
        nodes: vec![NodeView {
            name: "n1".into(),
            addresses: vec!["192.168.1.10".parse().unwrap(), "fd00::10".parse().unwrap()],
            labels: labels(&[("zone", "a")]),
            ready: true,
        }],
        namespaces: vec![NamespaceView {
            name: "shop".into(),
            labels: labels(&[]),
        }],
        workloads: vec![WorkloadView {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "shop".into(),
            labels: labels(&[("app", "web")]),
            replicas: 3,
        }],
        pods: vec![
            PodView {
                name: "web-1".into(),
                namespace: "shop".into(),
                ips: vec!["10.1.0.7".parse().unwrap()],
                node: Some("n1".into()),
                workload_kind: "Deployment".into(),
                workload: "web".into(),
                host_network: false,
                phase: "Running".into(),
                labels: labels(&[("app", "web")]),
            },
            PodView {
                name: "pending".into(),
                namespace: "shop".into(),
                ips: vec![],
                node: None,
                workload_kind: "Pod".into(),
                workload: "pending".into(),
                host_network: false,
                phase: "Pending".into(),
                labels: labels(&[]),
            },
        ],
        services: vec![ServiceView {
            name: "web".into(),
            namespace: "shop".into(),
            cluster_ips: vec!["10.96.0.9".parse().unwrap()],
            type_: "ClusterIP".into(),
        }],
    }
}

fn round_trip_update(update: &InventoryUpdate) -> InventoryUpdate {
    let bytes = encode::<inventory_update::Owned>(|b| write_inventory_update(b, update));
    decode::<inventory_update::Owned, _>(&bytes, read_inventory_update).unwrap()
}

#[test]
fn snapshots_and_deltas_round_trip() {
    let snapshot = InventoryUpdate {
        controller: "controller".into(),
        cluster: "prod".into(),
        time: 1_700_000_000_000_000_000,
        change: InventoryChange::Snapshot(objects()),
    };
    assert_eq!(round_trip_update(&snapshot), snapshot);
    let delta = InventoryUpdate {
        change: InventoryChange::Delta(InventoryDelta {
            upserted: InventorySnapshot {
                pods: objects().pods[..1].to_vec(),
                ..InventorySnapshot::default()
            },
            removed: vec![
                InventoryRef {
                    kind: ObjectKind::Workload,
                    namespace: Some("shop".into()),
                    name: "old".into(),
                    workload_kind: Some("StatefulSet".into()),
                },
                InventoryRef {
                    kind: ObjectKind::Node,
                    namespace: None,
                    name: "n9".into(),
                    workload_kind: None,
                },
            ],
        }),
        ..snapshot
    };
    assert_eq!(round_trip_update(&delta), delta);
}

#[test]
fn attachment_statuses_round_trip() {
    for target in [
        Target::Pod {
            namespace: "shop".into(),
            name: "web-1".into(),
        },
        Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
    ] {
        let status = AttachmentStatus {
            request: AttachRequest {
                id: "a1".into(),
                target,
                image: "spider:0.1".into(),
                command: vec!["spider".into()],
                args: vec!["whisperer".into(), "--backend".into(), "b:7000".into()],
                ttl_seconds: Some(600),
            },
            created: 5,
            expires: Some(600_000_000_005),
            expired: false,
            detached: None,
            pods: vec![PodAttachment {
                namespace: "shop".into(),
                pod: "web-1".into(),
                node: Some("n1".into()),
                containers: vec!["spider-whisperer-a1".into()],
                state: PodAttachmentState::CrashLoop,
                failures: 2,
            }],
        };
        let bytes = encode::<attachment_status::Owned>(|b| write_attachment_status(b, &status));
        let back = decode::<attachment_status::Owned, _>(&bytes, read_attachment_status);
        assert_eq!(back.unwrap(), status);
    }
}

#[test]
fn agent_pods_and_names_round_trip() {
    let agent = AgentPod {
        role: AgentRole::Gocipher,
        namespace: "spider".into(),
        pod: "gocipher-x".into(),
        container: "gocipher".into(),
        sidecar: false,
        node: Some("n1".into()),
        ips: vec!["192.168.1.10".parse().unwrap()],
        phase: "Running".into(),
        running: true,
        workload_kind: "DaemonSet".into(),
        workload: "gocipher".into(),
        recognised_by: "image".into(),
    };
    let bytes = encode::<agent_pod::Owned>(|b| write_agent_pod(b, &agent));
    assert_eq!(
        decode::<agent_pod::Owned, _>(&bytes, read_agent_pod).unwrap(),
        agent
    );
    let names = IpNames {
        ip: "10.1.0.7".parse().unwrap(),
        names: vec!["web-1.shop.pod".into(), "web.shop.svc.cluster.local".into()],
    };
    let bytes = encode::<ip_names::Owned>(|b| write_ip_names(b, &names));
    assert_eq!(
        decode::<ip_names::Owned, _>(&bytes, read_ip_names).unwrap(),
        names
    );
}

#[test]
fn a_damaged_update_is_an_error_not_a_panic() {
    let update = InventoryUpdate {
        controller: "c".into(),
        cluster: "k".into(),
        time: 1,
        change: InventoryChange::Snapshot(objects()),
    };
    let bytes = encode::<inventory_update::Owned>(|b| write_inventory_update(b, &update));
    for cut in (8..bytes.len()).step_by(8) {
        let _ = decode::<inventory_update::Owned, _>(&bytes[..cut], read_inventory_update);
    }
    let mut flipped = bytes.clone();
    for (index, byte) in flipped.iter_mut().enumerate().skip(8) {
        if index % 7 == 0 {
            *byte ^= 0xff;
        }
    }
    let _ = decode::<inventory_update::Owned, _>(&flipped, read_inventory_update);
}
