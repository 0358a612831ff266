//! The inventory through the kube client against the fixture API server over HTTP: every
//! workload kind, rollouts, scaling, pod IP reuse by minute, watch expiry (410 → list again).

mod common;

use common::{ip, minute, within, Cluster};
use serde_json::json;
use spider_kube_apiserver::Mutation;
use spider_model::WorkloadRef;

fn names(namespace: &str, kind: &str, workload: &str, pod: &str, node: &str) -> WorkloadRef {
    WorkloadRef {
        namespace: Some(namespace.into()),
        kind: Some(kind.into()),
        workload: Some(workload.into()),
        pod: Some(pod.into()),
        node: Some(node.into()),
    }
}

fn class(kind: &str) -> WorkloadRef {
    WorkloadRef {
        kind: Some(kind.into()),
        ..WorkloadRef::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_kind_resolves_through_its_owner_chain() {
    let cluster = Cluster::start(&["cluster"]).await;
    let at = minute(15);
    let resolve = |text: &str| cluster.inventory.resolve(ip(text), at);
    assert_eq!(
        resolve("10.244.0.10"),
        names("shop", "Deployment", "web", "web-6b7f9c7d5-k2x8p", "node-a")
    );
    assert_eq!(
        resolve("10.244.1.10"),
        names("shop", "Deployment", "web", "web-6b7f9c7d5-q9z4m", "node-b")
    );
    assert_eq!(
        resolve("10.244.1.20"),
        names("shop", "StatefulSet", "db", "db-0", "node-b")
    );
    assert_eq!(
        resolve("10.244.2.2"),
        names(
            "kube-system",
            "DaemonSet",
            "node-agent",
            "node-agent-x2m8d",
            "node-c"
        )
    );
    assert_eq!(
        resolve("10.244.2.30"),
        names(
            "batch",
            "CronJob",
            "report",
            "report-29091600-7xk2p",
            "node-c"
        )
    );
    assert_eq!(
        resolve("10.244.0.30"),
        names("batch", "Job", "migrate", "migrate-8fj3d", "node-a")
    );
    assert_eq!(
        resolve("10.244.2.40"),
        names("default", "Pod", "debug", "debug", "node-c")
    );
    // Host-network pods (kube-proxy, the etcd mirror pod) share their node's IP: the node.
    let node_a = WorkloadRef {
        kind: Some("node".into()),
        workload: Some("node-a".into()),
        node: Some("node-a".into()),
        ..WorkloadRef::default()
    };
    assert_eq!(resolve("10.0.0.11"), node_a);
    // A service resolves to the one workload behind it, or stays a service.
    let web = WorkloadRef {
        namespace: Some("shop".into()),
        kind: Some("Deployment".into()),
        workload: Some("web".into()),
        ..WorkloadRef::default()
    };
    assert_eq!(resolve("10.96.100.10"), web);
    let kubernetes = WorkloadRef {
        namespace: Some("default".into()),
        kind: Some("Service".into()),
        workload: Some("kubernetes".into()),
        ..WorkloadRef::default()
    };
    assert_eq!(resolve("10.96.0.1"), kubernetes);
    assert_eq!(resolve("10.244.2.99"), class("internal_unidentified"));
    assert_eq!(resolve("192.168.7.1"), class("internal_unidentified"));
    assert_eq!(resolve("1.1.1.1"), class("external"));
    // Before the pods existed their IPs were nobody's.
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(-5)),
        class("internal_unidentified")
    );

    let snapshot = cluster.inventory.snapshot();
    let workloads: Vec<(String, String, String)> = snapshot
        .workloads
        .iter()
        .map(|w| (w.namespace.clone(), w.kind.clone(), w.name.clone()))
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("batch", "CronJob", "report"),
        ("batch", "Job", "migrate"),
        ("default", "Pod", "debug"),
        ("kube-system", "DaemonSet", "kube-proxy"),
        ("kube-system", "DaemonSet", "node-agent"),
        ("kube-system", "Pod", "etcd-node-a"),
        ("shop", "Deployment", "web"),
        ("shop", "StatefulSet", "db"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(workloads, expected);
    assert_eq!(snapshot.nodes.len(), 3);
    assert_eq!(snapshot.namespaces.len(), 4);
    assert_eq!(snapshot.pods.len(), 14);
    assert_eq!(snapshot.services.len(), 3);
    let web_replicas = snapshot
        .workloads
        .iter()
        .find(|w| w.name == "web")
        .map(|w| w.replicas);
    assert_eq!(web_replicas, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_moves_the_deployment_to_its_new_replica_set() {
    let cluster = Cluster::start(&["cluster"]).await;
    cluster.load("rollout");
    cluster.delete_pod("shop", "web-6b7f9c7d5-k2x8p", "2025-04-23T12:21:10Z");
    cluster.delete_pod("shop", "web-6b7f9c7d5-q9z4m", "2025-04-23T12:21:40Z");
    within(
        "the rollout",
        cluster.inventory.wait_for(|s| {
            s.pods_of("shop", "Deployment", "web").len() == 2
                && s.pods_of("shop", "Deployment", "web")
                    .iter()
                    .all(|p| p.name.starts_with("web-5d8c6b9f4"))
        }),
    )
    .await;
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.2.11"), minute(25)),
        names("shop", "Deployment", "web", "web-5d8c6b9f4-w8n4t", "node-c")
    );
    // The old pods' IPs still resolve to them for the minutes they held them.
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(20)),
        names("shop", "Deployment", "web", "web-6b7f9c7d5-k2x8p", "node-a")
    );
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(25)),
        WorkloadRef {
            kind: Some("internal_unidentified".into()),
            ..WorkloadRef::default()
        }
    );
    let snapshot = cluster.inventory.snapshot();
    assert_eq!(
        snapshot
            .workloads
            .iter()
            .filter(|w| w.name == "web")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_and_down_follow_the_replicas() {
    let cluster = Cluster::start(&["cluster"]).await;
    cluster.load("scale");
    within(
        "the scale-up",
        cluster
            .inventory
            .wait_for(|s| s.pods_of("shop", "Deployment", "web").len() == 3),
    )
    .await;
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.2.12"), minute(6)),
        names("shop", "Deployment", "web", "web-6b7f9c7d5-r7t2w", "node-c")
    );
    cluster.delete_pod("shop", "web-6b7f9c7d5-r7t2w", "2025-04-23T12:08:00Z");
    within(
        "the scale-down",
        cluster
            .inventory
            .wait_for(|s| s.pods_of("shop", "Deployment", "web").len() == 2),
    )
    .await;
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.2.12"), minute(6)),
        names("shop", "Deployment", "web", "web-6b7f9c7d5-r7t2w", "node-c")
    );
    assert_eq!(
        cluster
            .inventory
            .resolve(ip("10.244.2.12"), minute(9))
            .kind
            .as_deref(),
        Some("internal_unidentified")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_pod_ip_resolves_to_its_holder_of_that_minute() {
    let cluster = Cluster::start(&["cluster"]).await;
    cluster.delete_pod("shop", "web-6b7f9c7d5-k2x8p", "2025-04-23T12:10:20Z");
    cluster.load("ipreuse");
    within(
        "the new holder",
        cluster.inventory.wait_for(|s| {
            s.resolve(ip("10.244.0.10"), minute(30)).workload.as_deref() == Some("report")
                && s.resolve(ip("10.244.0.10"), minute(30)).pod.as_deref()
                    == Some("report-29091630-h5m2c")
        }),
    )
    .await;
    let old = names("shop", "Deployment", "web", "web-6b7f9c7d5-k2x8p", "node-a");
    let new = names(
        "batch",
        "CronJob",
        "report",
        "report-29091630-h5m2c",
        "node-a",
    );
    assert_eq!(cluster.inventory.resolve(ip("10.244.0.10"), minute(9)), old);
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(10)),
        old
    );
    assert_eq!(
        cluster
            .inventory
            .resolve(ip("10.244.0.10"), minute(20))
            .kind
            .as_deref(),
        Some("internal_unidentified")
    );
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(30)),
        new
    );
    assert_eq!(
        cluster.inventory.resolve(ip("10.244.0.10"), minute(45)),
        new
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_watches_list_again_and_catch_up() {
    let cluster = Cluster::start(&["cluster"]).await;
    // Bookmarks move the watchers' resource versions on.
    cluster.server.store().bookmark();
    // Changes no watch sees, then the history is compacted: the next watches get 410 Gone.
    let mut moved = cluster.pod("default", "debug");
    moved["metadata"]["labels"] = json!({"run": "debug", "moved": "yes"});
    cluster
        .server
        .store()
        .expire(vec![
            Mutation::Delete {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("batch".into()),
                name: "migrate-8fj3d".into(),
            },
            Mutation::Apply(moved),
            Mutation::Delete {
                api_version: "apps/v1".into(),
                kind: "StatefulSet".into(),
                namespace: Some("shop".into()),
                name: "db".into(),
            },
        ])
        .expect("expire");
    within(
        "the relist",
        cluster.inventory.wait_for(|s| {
            s.pod_of_ip(ip("10.244.0.30")).is_none()
                && s.workloads
                    .keys()
                    .all(|(kind, _, name)| !(&**kind == "StatefulSet" && &**name == "db"))
                && s.pod_of_ip(ip("10.244.2.40"))
                    .is_some_and(|p| p.labels.iter().any(|(k, _)| &**k == "moved"))
        }),
    )
    .await;
    // Watching goes on after the relist.
    cluster.load("scale");
    within(
        "a change after the relist",
        cluster
            .inventory
            .wait_for(|s| s.pods_of("shop", "Deployment", "web").len() == 3),
    )
    .await;
    assert!(
        cluster.inventory.errors().is_empty(),
        "{:?}",
        cluster.inventory.errors()
    );
}
