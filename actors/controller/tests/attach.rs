//! Attaching Whisperers as ephemeral containers through the kube client and the fixture
//! server's `ephemeralcontainers` subresource: every replica of a workload, new replicas after a
//! scale-up, one pod, the crash-loop guard, and the time to live (detached at the deadline by
//! a timer).

mod common;

use common::{within, Cluster};
use spider_controller::attach::{AttachRequest, Attacher, PodAttachmentState, Target};

fn request(id: &str, target: Target) -> AttachRequest {
    AttachRequest {
        id: id.into(),
        target,
        image: "spider:test".into(),
        command: vec!["spider".into(), "whisperer".into()],
        args: vec!["--backend".into(), "backend.spider:7000".into()],
        ttl_seconds: Some(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_to_a_workload_follows_its_new_replicas() {
    let cluster = Cluster::start(&["cluster"]).await;
    let attacher = Attacher::new(cluster.client.clone(), cluster.inventory.clone());
    attacher
        .attach(request(
            "w1",
            Target::Workload {
                namespace: "shop".into(),
                kind: "Deployment".into(),
                name: "web".into(),
            },
        ))
        .expect("attach");
    let running = tokio::spawn(attacher.clone().run());
    let all_running = |attacher: &Attacher, count: usize| {
        let list = attacher.list();
        list[0].pods.len() == count
            && list[0]
                .pods
                .iter()
                .all(|p| p.state == PodAttachmentState::Running)
    };
    within(
        "both replicas",
        cluster.inventory.wait_for(|_| all_running(&attacher, 2)),
    )
    .await;
    for pod in ["web-6b7f9c7d5-k2x8p", "web-6b7f9c7d5-q9z4m"] {
        assert_eq!(
            spider_kube_apiserver::ephemeral_names(&cluster.pod("shop", pod)),
            vec!["spider-whisperer-w1"]
        );
    }
    let container = &cluster.pod("shop", "web-6b7f9c7d5-k2x8p")["spec"]["ephemeralContainers"][0];
    assert_eq!(container["image"], "spider:test");
    assert_eq!(
        container["securityContext"]["capabilities"]["add"][0],
        "NET_RAW"
    );
    // Scale-up: the new replica gets its Whisperer too.
    cluster.load("scale");
    within(
        "the new replica",
        cluster.inventory.wait_for(|_| all_running(&attacher, 3)),
    )
    .await;
    assert_eq!(
        spider_kube_apiserver::ephemeral_names(&cluster.pod("shop", "web-6b7f9c7d5-r7t2w")),
        vec!["spider-whisperer-w1"]
    );
    // Other workloads are untouched.
    assert!(spider_kube_apiserver::ephemeral_names(&cluster.pod("shop", "db-0")).is_empty());
    // Exactly one container per replica, however many events came.
    for pod in [
        "web-6b7f9c7d5-k2x8p",
        "web-6b7f9c7d5-q9z4m",
        "web-6b7f9c7d5-r7t2w",
    ] {
        assert_eq!(
            spider_kube_apiserver::ephemeral_names(&cluster.pod("shop", pod)).len(),
            1
        );
    }
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_is_detached_at_its_deadline_without_an_inventory_change() {
    let cluster = Cluster::start(&["cluster"]).await;
    let attacher = Attacher::new(cluster.client.clone(), cluster.inventory.clone());
    let mut short = request(
        "t1",
        Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
    );
    short.ttl_seconds = Some(2);
    attacher.attach(short).expect("attach");
    let running = tokio::spawn(attacher.clone().run());
    within(
        "both replicas",
        cluster.inventory.wait_for(|_| {
            let list = attacher.list();
            list[0].pods.len() == 2
                && list[0]
                    .pods
                    .iter()
                    .all(|p| p.state == PodAttachmentState::Running)
        }),
    )
    .await;
    let container = &cluster.pod("shop", "web-6b7f9c7d5-k2x8p")["spec"]["ephemeralContainers"][0];
    let ttl = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "SPIDER_WHISPERER_TTL_SECONDS")
        .and_then(|e| e["value"].as_str()?.parse::<u64>().ok())
        .expect("the Whisperer is told its time to live");
    assert!(ttl <= 2);
    // Nothing changes in the cluster from here: only the timer can detach it.
    let generation = *cluster.inventory.changes().borrow();
    within(
        "the deadline",
        attacher.wait_for(|list| list[0].detached.is_some()),
    )
    .await;
    assert_eq!(*cluster.inventory.changes().borrow(), generation);
    let status = &attacher.list()[0];
    let (expires, detached) = (
        status.expires.expect("a deadline"),
        status.detached.expect("detached"),
    );
    assert!(status.expired);
    assert!(
        detached >= expires,
        "detached at {detached}, before its deadline {expires}"
    );
    // A replica that arrives after the deadline gets no Whisperer.
    cluster.load("scale");
    within(
        "the new replica",
        cluster.inventory.wait_for(|state| {
            state
                .pods
                .values()
                .any(|p| &*p.name == "web-6b7f9c7d5-r7t2w" && p.attachable())
        }),
    )
    .await;
    assert_eq!(attacher.reconcile().await.expect("reconcile"), 0);
    assert!(
        spider_kube_apiserver::ephemeral_names(&cluster.pod("shop", "web-6b7f9c7d5-r7t2w"))
            .is_empty()
    );
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whisperer_failing_twice_in_five_minutes_is_not_restarted() {
    let cluster = Cluster::start(&["cluster"]).await;
    let attacher = Attacher::new(cluster.client.clone(), cluster.inventory.clone());
    attacher
        .attach(request(
            "p1",
            Target::Pod {
                namespace: "default".into(),
                name: "debug".into(),
            },
        ))
        .expect("attach");
    let state = |attacher: &Attacher| {
        attacher.list()[0]
            .pods
            .first()
            .map(|p| (p.state, p.containers.len()))
    };
    assert_eq!(attacher.reconcile().await.expect("reconcile"), 1);
    within(
        "running",
        cluster
            .inventory
            .wait_for(|_| state(&attacher) == Some((PodAttachmentState::Running, 1))),
    )
    .await;
    // It fails: a second container starts.
    cluster
        .server
        .terminate_ephemeral("default", "debug", "spider-whisperer-p1", 1)
        .expect("terminate");
    within(
        "the failure",
        cluster
            .inventory
            .wait_for(|_| state(&attacher) == Some((PodAttachmentState::Starting, 1))),
    )
    .await;
    assert_eq!(attacher.reconcile().await.expect("reconcile"), 1);
    within(
        "the restart",
        cluster
            .inventory
            .wait_for(|_| state(&attacher) == Some((PodAttachmentState::Running, 2))),
    )
    .await;
    // It fails again within 5 minutes: the guard stops it.
    cluster
        .server
        .terminate_ephemeral("default", "debug", "spider-whisperer-p1-2", 1)
        .expect("terminate");
    within(
        "the guard",
        cluster
            .inventory
            .wait_for(|_| state(&attacher) == Some((PodAttachmentState::CrashLoop, 2))),
    )
    .await;
    assert_eq!(attacher.reconcile().await.expect("reconcile"), 0);
    assert_eq!(
        spider_kube_apiserver::ephemeral_names(&cluster.pod("default", "debug")),
        vec!["spider-whisperer-p1", "spider-whisperer-p1-2"]
    );
    assert_eq!(attacher.list()[0].pods[0].failures, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_attachments_are_refused_with_a_reason() {
    let cluster = Cluster::start(&["cluster"]).await;
    let attacher = Attacher::new(cluster.client.clone(), cluster.inventory.clone());
    let missing = attacher.attach(request(
        "x1",
        Target::Pod {
            namespace: "shop".into(),
            name: "nope".into(),
        },
    ));
    assert_eq!(
        missing.expect_err("no such pod").to_string(),
        "no pod shop/nope"
    );
    let bad_id = attacher.attach(request(
        "Not_A_Label",
        Target::Pod {
            namespace: "default".into(),
            name: "debug".into(),
        },
    ));
    assert!(bad_id
        .expect_err("bad id")
        .to_string()
        .contains("DNS label"));
    let missing = attacher.attach(request(
        "x2",
        Target::Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "nope".into(),
        },
    ));
    assert!(missing.is_err());
    // The server refuses a second container of the same name.
    server_refuses_duplicates(&cluster).await;
}

async fn server_refuses_duplicates(cluster: &Cluster) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams};
    let api: kube::Api<Pod> = kube::Api::namespaced(cluster.client.clone(), "default");
    let patch = serde_json::json!({"spec": {"ephemeralContainers": [{"name": "x", "image": "busybox:1.37"}]}});
    api.patch_ephemeral_containers("debug", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("first");
    let changed = serde_json::json!({"spec": {"ephemeralContainers": [{"name": "x", "image": "busybox:1.36"}]}});
    let error = api
        .patch_ephemeral_containers(
            "debug",
            &PatchParams::default(),
            &Patch::Strategic(&changed),
        )
        .await
        .expect_err("changed");
    assert!(matches!(error, kube::Error::Api(status) if status.code == 422));
}
