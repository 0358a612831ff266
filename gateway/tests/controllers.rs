//! The Controllers' REST endpoints over a real backend node, a real Controller and the fixture
//! Kubernetes API server: the inventory, attach (validation, a workload's replicas getting
//! ephemeral containers), list, an agent's log, detach; errors for an unknown Controller.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{testdata, Env, TOKEN};
use serde_json::{json, Value};
use spider_controller::process;
use spider_kube_apiserver::{ApiServer, ServerConfig};

async fn send(env: &Env, method: &str, path: &str, body: Value) -> (u16, Value) {
    let response = warp::test::request()
        .method(method)
        .path(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .json(&body)
        .reply(&env.filter())
        .await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

/// Polls `path` until `ready` holds on its JSON (a guard against hangs, not a timing).
async fn until(env: &Env, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let (status, body) = env.get_json(path).await;
        if status == 200 && ready(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never became ready: {:?}", env.get_json(path).await);
}

fn ephemeral_names(server: &ApiServer, pod: &str) -> Vec<String> {
    let pods = spider_kube_apiserver::resources::by_kind("v1", "Pod").unwrap();
    spider_kube_apiserver::ephemeral_names(&server.store().get(pods, Some("shop"), pod).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_list_log_and_detach_through_the_gateway() {
    let env = Env::start();
    let server = ApiServer::start(ServerConfig::default()).unwrap();
    server.load_dir(&testdata("k8s/cluster")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let backend = env.node.local_addr();
    let _controller = tokio::task::spawn_blocking(move || {
        process::spawn_local(kubeconfig, "c1", backend, TOKEN).unwrap()
    })
    .await
    .unwrap();

    let inventory = until(&env, "/api/v1/inventory", |body| {
        body["items"][0]["objects"]["pods"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    })
    .await;
    assert_eq!(inventory["items"][0]["controller"], "c1");
    assert_eq!(inventory["items"][0]["cluster"], "c1");
    until(&env, "/api/v1/controllers/c1/attachments", |body| {
        body["items"].is_array()
    })
    .await;

    // Refusals: unknown Controller, bad bodies, a workload that does not exist.
    let web =
        json!({"target": "workload", "namespace": "shop", "kind": "Deployment", "name": "web"});
    let (status, _) = send(
        &env,
        "POST",
        "/api/v1/controllers/nope/attachments",
        json!({"target": web}),
    )
    .await;
    assert_eq!(status, 404);
    for body in [
        json!({"target": web, "ttl_seconds": 0}),
        json!({"target": web, "id": "Not A Label"}),
        json!({"target": web, "surprise": true}),
        json!({"target": {"target": "workload", "namespace": "", "kind": "Deployment", "name": "web"}}),
    ] {
        let (status, answer) = send(
            &env,
            "POST",
            "/api/v1/controllers/c1/attachments",
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{body} → {answer}");
    }
    let missing = json!({"target": {"target": "workload", "namespace": "shop", "kind": "Deployment", "name": "gone"}});
    let (status, answer) = send(&env, "POST", "/api/v1/controllers/c1/attachments", missing).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gone"),
        "{answer}"
    );

    let (status, created) = send(
        &env,
        "POST",
        "/api/v1/controllers/c1/attachments",
        json!({"id": "w1", "target": web, "ttl_seconds": 600}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["command"], json!(["spider", "whisperer"]));
    let list = until(&env, "/api/v1/controllers/c1/attachments", |body| {
        body["items"][0]["pods"]
            .as_array()
            .is_some_and(|p| p.len() == 2)
    })
    .await;
    assert_eq!(list["items"][0]["request"]["id"], "w1");
    for pod in ["web-6b7f9c7d5-k2x8p", "web-6b7f9c7d5-q9z4m"] {
        assert_eq!(ephemeral_names(&server, pod), ["spider-whisperer-w1"]);
    }
    server.store().set_log(
        "shop",
        "web-6b7f9c7d5-k2x8p",
        "spider-whisperer-w1",
        "a\nb\nc\n",
    );
    let (status, log) = env
        .get_json("/api/v1/controllers/c1/logs?namespace=shop&pod=web-6b7f9c7d5-k2x8p&container=spider-whisperer-w1")
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["log"], "a\nb\nc\n");
    let (status, agents) = env.get_json("/api/v1/controllers/c1/agents").await;
    assert_eq!(status, 200);
    assert!(agents["items"].is_array());

    let (status, _) = send(
        &env,
        "DELETE",
        "/api/v1/controllers/c1/attachments/w1",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &env,
        "DELETE",
        "/api/v1/controllers/c1/attachments/w1",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (_, list) = env.get_json("/api/v1/controllers/c1/attachments").await;
    assert_eq!(list["items"], json!([]));

    // Without the token, nothing.
    let response = warp::test::request()
        .path("/api/v1/controllers/c1/attachments")
        .reply(&env.filter())
        .await;
    assert_eq!(response.status(), 401);
}
