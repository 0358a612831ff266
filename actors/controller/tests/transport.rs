//! The Controller over Cap'n Proto, against a real backend node and the fixture API server:
//! it registers as a Controller, its inventory reaches the backend (a snapshot, then deltas),
//! the backend's commands attach and detach Whisperers and read agents' logs, and usage pushed
//! through its listener (as a Gocipher does) is enriched, acknowledged after the backend stored
//! it, and stored once however often it is retried. Names of IPs come from the same listener.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::linked::{eventually, with_client, Linked, NAME, WHISPERER_PIN};
use common::{ip, minute, usage_record};
use spider_backend::client::{BackendClient, UsageGrouping, UsagePush, UsageRequest};
use spider_controller::attach::{AttachRequest, PodAttachmentState, Target};
use spider_model::agent::AgentKind;
use spider_rpc_schema::usage_shard;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_reaches_the_backend_and_follows_changes() {
    let linked = Linked::start().await;
    let expected = linked.running.inventory.snapshot();
    eventually("the snapshot", linked.backend, move |client| {
        let expected = expected.clone();
        async move {
            let stored = client.inventories().await.expect("inventories");
            stored.clusters.len() == 1 && stored.clusters[0].objects == expected
        }
    })
    .await;
    let agents = with_client(linked.backend, |c| async move { c.agents().await }).await;
    let me = agents
        .expect("agents")
        .into_iter()
        .find(|a| a.info.name == NAME)
        .expect("the controller is registered");
    assert_eq!(me.info.kind, AgentKind::Controller);
    assert!(me.connected);
    assert_eq!(me.info.cluster.as_deref(), Some("test-cluster"));
    // A scale-up: the new replica reaches the backend as a delta.
    linked.cluster.load("scale");
    eventually("the new replica", linked.backend, |client| async move {
        let stored = client.inventories().await.expect("inventories");
        stored.clusters[0]
            .objects
            .pods
            .iter()
            .any(|p| p.name == "web-6b7f9c7d5-r7t2w" && p.workload == "web")
    })
    .await;
    let after = linked.running.inventory.snapshot();
    eventually("the whole inventory", linked.backend, move |client| {
        let after = after.clone();
        async move { client.inventories().await.expect("inventories").clusters[0].objects == after }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_attaches_lists_and_detaches_through_the_controller() {
    let linked = Linked::start().await;
    let request = AttachRequest {
        id: "ui1".into(),
        target: Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
        image: "spider:test".into(),
        command: vec!["spider".into(), "whisperer".into()],
        args: vec![],
        ttl_seconds: Some(600),
    };
    let missing = AttachRequest {
        id: "ui2".into(),
        target: Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "nope".into(),
        },
        ..request.clone()
    };
    let refused = with_client(linked.backend, move |client| async move {
        let handle = client.controller(NAME).await.expect("handle");
        handle.attach(&request).await.expect("attach");
        handle.attach(&missing).await.err().map(|e| e.to_string())
    })
    .await;
    let refused = refused.expect("attaching to a workload that does not exist fails");
    assert!(refused.contains("nope"), "{refused}");
    let pods = ["web-6b7f9c7d5-k2x8p", "web-6b7f9c7d5-q9z4m"];
    eventually(
        "a Whisperer on each replica",
        linked.backend,
        |client| async move {
            let handle = client.controller(NAME).await.expect("handle");
            let list = handle.attachments().await.expect("attachments");
            list.len() == 1
                && list[0].pods.len() == 2
                && list[0]
                    .pods
                    .iter()
                    .all(|p| p.state == PodAttachmentState::Running)
        },
    )
    .await;
    for pod in pods {
        assert_eq!(
            spider_kube_apiserver::ephemeral_names(&linked.cluster.pod("shop", pod)),
            vec!["spider-whisperer-ui1"]
        );
        // The attached Whisperer is named after its pod and asks this Controller for names.
        let env = &linked.cluster.pod("shop", pod)["spec"]["ephemeralContainers"][0]["env"];
        let value = |name: &str| {
            env.as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == name)
                .and_then(|v| v["value"].as_str().map(str::to_owned))
        };
        assert_eq!(value("SPIDER_WHISPERER_NAME").as_deref(), Some(pod));
        assert_eq!(
            value("SPIDER_CONTROLLER"),
            Some(linked.controller.to_string())
        );
        // And verifies TLS with the pin it was given (it cannot mount a CA file).
        assert_eq!(value("SPIDER_TLS_PIN").as_deref(), Some(WHISPERER_PIN));
    }
    linked.cluster.server.store().set_log(
        "shop",
        pods[0],
        "spider-whisperer-ui1",
        "line 1\nline 2\nspider whisperer: recording\n",
    );
    let (log, agents, found, after, again) =
        with_client(linked.backend, move |client| async move {
            let handle = client.controller(NAME).await.expect("handle");
            let log = handle
                .logs("shop", pods[0], "spider-whisperer-ui1", 0)
                .await
                .expect("logs");
            let agents = handle.agents().await.expect("agents");
            let found = handle.detach("ui1").await.expect("detach");
            let after = handle.attachments().await.expect("attachments");
            let again = handle.detach("ui1").await.expect("detach");
            (log, agents, found, after, again)
        })
        .await;
    assert!(log.contains("spider whisperer: recording"), "{log}");
    assert!(
        agents.is_empty(),
        "the cluster fixtures hold no agent pods: {agents:?}"
    );
    assert!(found);
    assert!(after.is_empty());
    assert!(!again, "a second detach finds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_through_the_controller_is_enriched_acknowledged_and_stored_once() {
    let linked = Linked::start().await;
    let controller = linked.controller;
    // The listener refuses a credential the backend refuses.
    let refused = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            loop {
                match BackendClient::connect(controller, "wrong-token").await {
                    Ok(_) => return None,
                    Err(error) if error.to_string().contains("not connected") => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(error) => return Some(error.to_string()),
                }
            }
        })
    })
    .await
    .expect("thread");
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("invalid credential")),
        "{refused:?}"
    );
    let records = vec![usage_record(
        minute(15),
        "10.244.0.10",
        "10.244.1.20",
        5432,
        1000,
    )];
    let shard = usage_shard("gocipher-node-a", &records[0]);
    let (acks, names) = with_client(controller, move |client| async move {
        let push = || UsagePush {
            agent: "gocipher-node-a",
            incarnation: 7,
            sequence: 1,
            shard,
            records: &records,
        };
        client.push_usage(push()).await.expect("push");
        let first = client.flush().await.expect("flush");
        // A retry (the Gocipher did not see the ack) is stored once.
        client.push_usage(push()).await.expect("push again");
        client.flush().await.expect("flush again");
        let names = client
            .names(&[ip("10.244.0.10"), ip("10.96.100.10"), ip("8.8.8.8")])
            .await
            .expect("names");
        (first, names)
    })
    .await;
    assert!(
        acks.iter().any(|a| a.agent == "gocipher-node-a"
            && a.incarnation == 7
            && a.shard == shard
            && a.sequence == 1),
        "{acks:?}"
    );
    assert!(
        names[0]
            .names
            .contains(&"web-6b7f9c7d5-k2x8p.shop".to_string()),
        "{names:?}"
    );
    assert!(
        names[1]
            .names
            .iter()
            .any(|n| n.starts_with("web.shop.svc.")),
        "{names:?}"
    );
    assert!(names[2].names.is_empty());
    let rows = with_client(linked.backend, |client| async move {
        client
            .usage(&UsageRequest {
                from: minute(15),
                to: minute(16),
                grouping: UsageGrouping::Connection,
                bucket: 0,
                limit: 0,
                cursor: None,
            })
            .await
            .expect("usage")
            .0
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].bytes, 1000, "stored once");
    let src = rows[0].src_workload.as_ref().expect("enriched");
    assert_eq!(src.workload.as_deref(), Some("web"));
    assert_eq!(src.node.as_deref(), Some("node-a"));
    let dst = rows[0].dst_workload.as_ref().expect("enriched");
    assert_eq!(dst.workload.as_deref(), Some("db"));
    assert_eq!(dst.pod.as_deref(), Some("db-0"));
}

/// An agent's own token through the Controller's relay: its usage is stored, usage in another
/// agent's name is refused (and not stored), and a revocation fails its open session and its
/// next login through the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_relay_with_their_own_tokens_and_only_in_their_own_name() {
    use common::linked::with_token;
    let linked = Linked::start().await;
    let store = linked.identities().clone();
    store.create_team("shop").unwrap();
    let (_, token) = store
        .create_agent(
            "gocipher-node-a",
            "shop",
            spider_backend::spider_identity::AgentKind::Gocipher,
        )
        .unwrap();
    let controller = linked.controller;
    let records = vec![usage_record(
        minute(20),
        "10.244.0.10",
        "10.244.1.20",
        5432,
        700,
    )];
    let shard = usage_shard("gocipher-node-a", &records[0]);
    let (own, other) = with_token(controller, token.clone(), move |client| async move {
        let client = client.expect("an agent's own token logs in through the relay");
        let push = |agent| UsagePush {
            agent,
            incarnation: 9,
            sequence: 1,
            shard,
            records: &records,
        };
        client
            .push_usage(push("gocipher-node-a"))
            .await
            .expect("push");
        let own = client.flush().await.map_err(|e| e.to_string());
        let _received = client.push_usage(push("gocipher-node-b")).await;
        let other = client.flush().await.map_err(|e| e.to_string());
        (own, other)
    })
    .await;
    assert!(own.is_ok(), "{own:?}");
    let other = other.expect_err("writing as another agent is refused");
    assert!(other.contains("permission denied"), "{other}");

    // Revoked: the session open through the relay fails at its next call, a new login too.
    let (before, after) = with_token(controller, token.clone(), move |client| {
        let store = store.clone();
        async move {
            let client = client.expect("login");
            let before = client.flush().await.map_err(|e| e.to_string());
            store.revoke_agent("gocipher-node-a").unwrap();
            let after = client.flush().await.map_err(|e| e.to_string());
            (before, after)
        }
    })
    .await;
    assert!(before.is_ok(), "{before:?}");
    assert!(after.is_err_and(|e| e.contains("revoked")));
    let again = with_token(controller, token, |client| async move { client.err() }).await;
    assert!(again.is_some_and(|e| e.contains("revoked")));
}
