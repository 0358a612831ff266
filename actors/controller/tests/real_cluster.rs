//! Opt-in: the same scenarios against a real cluster. Set `SPIDER_TEST_KUBECONFIG` to a
//! kubeconfig whose user may create namespaces and deployments (and what `deploy/controller`
//! grants); the test creates a namespace `spider-test-…`, a Deployment of two replicas
//! (`SPIDER_TEST_POD_IMAGE`, default `registry.k8s.io/pause:3.10`), checks that the inventory
//! resolves the replicas' IPs to the Deployment, attaches a Whisperer
//! (`SPIDER_TEST_WHISPERER_IMAGE`, default `spider:latest`) to it, scales it to three and checks
//! that every replica got its ephemeral container, detaches, and deletes the namespace.
//! Without the variable it says so and does nothing (no cluster can run on the CI machines).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::within;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;
use spider_controller::attach::{AttachRequest, Attacher, Target};
use spider_controller::inventory::watch::{check_rights, spawn_watchers};
use spider_controller::{ControllerConfig, Inventory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_cluster_runs_the_same_scenarios() {
    let Ok(kubeconfig) = std::env::var("SPIDER_TEST_KUBECONFIG") else {
        eprintln!("skipped: set SPIDER_TEST_KUBECONFIG to run against a real cluster");
        return;
    };
    let pod_image = std::env::var("SPIDER_TEST_POD_IMAGE")
        .unwrap_or_else(|_| "registry.k8s.io/pause:3.10".into());
    let whisperer_image =
        std::env::var("SPIDER_TEST_WHISPERER_IMAGE").unwrap_or_else(|_| "spider:latest".into());
    let config = ControllerConfig {
        kubeconfig: Some(kubeconfig.into()),
        ..ControllerConfig::default()
    };
    let client = config.client().await.expect("kube client");
    check_rights(&client)
        .await
        .expect("the Controller's rights");
    let namespace = format!("spider-test-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            )
            .expect("namespace"),
        )
        .await
        .expect("create the namespace");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": pod_image}]}}}
    });
    deployments
        .create(
            &PostParams::default(),
            &serde_json::from_value(deployment).expect("deployment"),
        )
        .await
        .expect("create the deployment");

    let inventory = Inventory::new(config.internal_networks.clone(), config.ip_retention_ns());
    let watchers = spawn_watchers(&inventory, &client);
    within("the inventory", inventory.wait_synced()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let running_ips = |count: usize| {
        let inventory = inventory.clone();
        let namespace = namespace.clone();
        async move {
            inventory
                .wait_for(|state| {
                    state
                        .pods_of(&namespace, "Deployment", "web")
                        .iter()
                        .filter(|p| !p.ips.is_empty())
                        .count()
                        >= count
                })
                .await;
        }
    };
    within("two running replicas", running_ips(2)).await;
    for pod in pods.list(&ListParams::default()).await.expect("pods") {
        for ip in pod.status.and_then(|s| s.pod_ips).into_iter().flatten() {
            let names =
                inventory.resolve(ip.ip.parse().expect("pod ip"), spider_controller::now_ns());
            assert_eq!(names.namespace.as_deref(), Some(namespace.as_str()));
            assert_eq!(names.kind.as_deref(), Some("Deployment"));
            assert_eq!(names.workload.as_deref(), Some("web"));
        }
    }

    let attacher = Attacher::new(client.clone(), inventory.clone());
    attacher
        .attach(AttachRequest {
            id: "realtest".into(),
            target: Target::Workload {
                namespace: namespace.clone(),
                kind: "Deployment".into(),
                name: "web".into(),
            },
            image: whisperer_image,
            command: vec!["spider".into(), "whisperer".into()],
            args: vec!["--iface".into(), "eth0".into()],
            ttl_seconds: Some(300),
        })
        .expect("attach");
    let running = tokio::spawn(attacher.clone().run());
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale up");
    within("three replicas", running_ips(3)).await;
    let every_replica_attached = async {
        loop {
            let list = pods.list(&ListParams::default()).await.expect("pods");
            let attached = list
                .items
                .iter()
                .filter(|p| {
                    p.spec.as_ref().is_some_and(|s| {
                        s.ephemeral_containers
                            .iter()
                            .flatten()
                            .any(|c| c.name.starts_with("spider-whisperer-realtest"))
                    })
                })
                .count();
            if list.items.len() >= 3 && attached == list.items.len() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    within("a Whisperer on every replica", every_replica_attached).await;
    assert!(attacher.detach("realtest"));
    running.abort();
    for watcher in watchers {
        watcher.abort();
    }
    namespaces
        .delete(&namespace, &DeleteParams::default())
        .await
        .expect("delete the namespace");
}
