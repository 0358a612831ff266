//! Security over a real backend node and the gateway's routes: EVERY documented REST endpoint
//! (the OpenAPI document's table) and the WebSocket refuse no credential, a wrong one, an expired
//! access token and a revoked API token, and answer the right one; `/metrics` needs scope
//! `metrics`; a viewer reads but cannot change configuration; a viewer sees only its teams' data
//! (captures, hosts, usage rows);
//! users log in, refresh and log out.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{Env, TOKEN};
use serde_json::Value;
use spider_backend::spider_identity::{AgentKind, Scope, UserRole};

/// The documented endpoints as (method, path with sample parameters).
fn endpoints(env_doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, methods) in env_doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{name}", "w1")
            .replace("{whisperer}", "w1")
            .replace("{id}", "1")
            .replace("{kind}", "http");
        for method in methods.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), concrete.clone()));
        }
    }
    out
}

/// Needs no credential: health, this document, and the ways to get a token.
fn public(path: &str) -> bool {
    [
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/api/v1/login",
        "/api/v1/refresh",
    ]
    .contains(&path)
}

async fn request(env: &Env, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = warp::test::request().method(method).path(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if method != "GET" {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    let response = request.reply(&env.filter()).await;
    (
        response.status().as_u16(),
        String::from_utf8_lossy(response.body()).into_owned(),
    )
}

async fn document(env: &Env) -> Value {
    let response = warp::test::request()
        .path("/api/v1/openapi.json")
        .reply(&env.filter())
        .await;
    serde_json::from_slice(response.body()).unwrap()
}

async fn login(env: &Env, name: &str, password: &str) -> (u16, Value) {
    let response = warp::test::request()
        .method("POST")
        .path("/api/v1/login")
        .header("content-type", "application/json")
        .body(serde_json::json!({"name": name, "password": password}).to_string())
        .reply(&env.filter())
        .await;
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

async fn websocket(env: &Env, token: Option<&str>) -> bool {
    let path = match token {
        Some(token) => format!("/api/v1/live?access_token={token}"),
        None => "/api/v1/live".to_owned(),
    };
    warp::test::ws()
        .path(&path)
        .handshake(env.filter())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_missing_wrong_expired_and_revoked_credentials() {
    let env = Env::start();
    let store = env.node.identities().clone();
    let (_, revoked) = store
        .create_api_token("old-integration", BTreeSet::from([Scope::Admin]), None)
        .unwrap();
    store.revoke_api_token("old-integration").unwrap();
    let (_, admin_api) = store
        .create_api_token("automation", BTreeSet::from([Scope::Admin]), None)
        .unwrap();
    store
        .create_user("ada", "ada's password", UserRole::Admin, BTreeSet::new())
        .unwrap();
    let (status, tokens) = login(&env, "ada", "ada's password").await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, _) = request(&env, "GET", "/api/v1/whoami", Some(&access)).await;
    assert_eq!(status, 200, "a fresh access token works");
    // Sixteen minutes later the access token has expired (API tokens do not expire).
    store.advance_clock(std::time::Duration::from_secs(16 * 60));

    let doc = document(&env).await;
    let table = endpoints(&doc);
    assert!(
        table.len() >= 30,
        "the whole API is in the table (see the test below)"
    );
    let wrong_credentials: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("wrong", Some("wrong-token")),
        ("almost the admin token", Some(&TOKEN[..TOKEN.len() - 1])),
        ("expired access token", Some(&access)),
        ("revoked api token", Some(&revoked)),
    ];
    for (method, path) in &table {
        if public(path) {
            continue;
        }
        for (what, token) in &wrong_credentials {
            let (status, body) = request(&env, method, path, *token).await;
            let expected = if path == "/api/v1/live" {
                [401, 400]
            } else {
                [401, 401]
            };
            assert!(
                expected.contains(&status),
                "{method} {path} with {what}: {status} {body}"
            );
        }
        if path == "/api/v1/logout" {
            // Its right credential is a user's live access token (checked at the end).
            continue;
        }
        for token in [TOKEN, admin_api.as_str()] {
            let (status, body) = request(&env, method, path, Some(token)).await;
            assert!(
                status != 401 && status != 403,
                "{method} {path} with a valid admin credential: {status} {body}"
            );
        }
    }
    // The WebSocket.
    assert!(!websocket(&env, None).await);
    for (_, token) in &wrong_credentials[1..] {
        assert!(!websocket(&env, *token).await);
    }
    assert!(websocket(&env, Some(&admin_api)).await);
    assert!(websocket(&env, Some(TOKEN)).await);
    let (_, fresh) = login(&env, "ada", "ada's password").await;
    let fresh = fresh["access_token"].as_str().unwrap();
    assert!(websocket(&env, Some(fresh)).await);
    assert_eq!(
        request(&env, "POST", "/api/v1/logout", Some(fresh)).await.0,
        204
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_metrics_scope_and_a_viewer_cannot_change_configuration() {
    let env = Env::start();
    let store = env.node.identities().clone();
    store.create_team("red").unwrap();
    let (_, scraper) = store
        .create_api_token("prometheus", BTreeSet::from([Scope::Metrics]), None)
        .unwrap();
    let (_, reader) = store
        .create_api_token("dashboards", BTreeSet::from([Scope::Query]), None)
        .unwrap();
    store
        .create_user(
            "vic",
            "vic's password",
            UserRole::Viewer,
            BTreeSet::from(["red".into()]),
        )
        .unwrap();
    let (_, tokens) = login(&env, "vic", "vic's password").await;
    let viewer = tokens["access_token"].as_str().unwrap().to_owned();

    assert_eq!(
        request(&env, "GET", "/metrics", Some(&scraper)).await.0,
        200
    );
    assert_eq!(request(&env, "GET", "/metrics", Some(&reader)).await.0, 403);
    assert_eq!(request(&env, "GET", "/metrics", Some(&viewer)).await.0, 403);
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&scraper)).await.0,
        403
    );
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&reader)).await.0,
        200
    );

    let doc = document(&env).await;
    let writes: Vec<(String, String)> = endpoints(&doc)
        .into_iter()
        .filter(|(method, path)| method != "GET" && !public(path) && path != "/api/v1/logout")
        .collect();
    for needed in [
        "/api/v1/import",
        "/api/v1/controllers/w1/attachments",
        "/api/v1/controllers/w1/attachments/1",
        "/api/v1/whisperers/w1/config",
        "/api/v1/whisperers/w1/running",
    ] {
        assert!(
            writes.iter().any(|(_, path)| path == needed),
            "{needed} is a write"
        );
    }
    for (method, path) in &writes {
        for token in [&viewer, &reader] {
            let (status, body) = request(&env, method, path, Some(token)).await;
            assert_eq!(status, 403, "{method} {path} as a reader: {body}");
        }
    }
    let (status, whoami) = request(&env, "GET", "/api/v1/whoami", Some(&viewer)).await;
    assert_eq!(status, 200);
    let whoami: Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(whoami["role"], "reader");
    assert_eq!(whoami["teams"], serde_json::json!(["red"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_log_in_refresh_and_log_out() {
    let env = Env::start();
    let store = env.node.identities().clone();
    store
        .create_user("lou", "lou's password", UserRole::Admin, BTreeSet::new())
        .unwrap();
    assert_eq!(login(&env, "lou", "not lou's password").await.0, 401);
    assert_eq!(login(&env, "nobody", "lou's password").await.0, 401);
    // Five failures lock a name (one above, four here): then 429, even with the right password.
    for _ in 0..4 {
        assert_eq!(login(&env, "nobody", "guess").await.0, 401);
    }
    let locked = login(&env, "nobody", "guess").await;
    assert_eq!(locked.0, 429, "{}", locked.1);
    let (status, tokens) = login(&env, "lou", "lou's password").await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(tokens["expires_at"].as_i64().unwrap() > 0);
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&access)).await.0,
        200
    );
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&refresh)).await.0,
        401,
        "a refresh token is not an access token"
    );

    let response = warp::test::request()
        .method("POST")
        .path("/api/v1/refresh")
        .header("content-type", "application/json")
        .body(serde_json::json!({"refresh_token": refresh}).to_string())
        .reply(&env.filter())
        .await;
    assert_eq!(response.status(), 200);
    let renewed: Value = serde_json::from_slice(response.body()).unwrap();
    let access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&access)).await.0,
        200
    );

    let (status, _) = request(&env, "POST", "/api/v1/logout", Some(&access)).await;
    assert_eq!(status, 204);
    assert_eq!(
        request(&env, "GET", "/api/v1/http", Some(&access)).await.0,
        401,
        "logged out at once"
    );
    let again = warp::test::request()
        .method("POST")
        .path("/api/v1/refresh")
        .header("content-type", "application/json")
        .body(serde_json::json!({"refresh_token": renewed["refresh_token"]}).to_string())
        .reply(&env.filter())
        .await;
    assert_eq!(
        again.status(),
        401,
        "the session's refresh token ended with it"
    );
}

/// Pushes a capture as the agent `name` with its own token (on a thread of its own: Cap'n
/// Proto clients are not `Send`).
fn push_as(addr: std::net::SocketAddr, token: String, name: &'static str) {
    common::with_backend_client(addr, token, move |client| async move {
        let batches =
            spider_backend::testing::batches_of(&common::testdata("http-basic.pcap"), name, 64)
                .unwrap();
        for batch in &batches {
            client
                .push_capture(spider_backend::client::CapturePush {
                    agent: name,
                    incarnation: 1,
                    sequence: batch.sequence,
                    shard: batch.shard,
                    whisperer: name,
                    frames: &batch.frames,
                    sessions: &batch.sessions,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        client.flush().await.unwrap();
    });
}

const MINUTE: i64 = 60_000_000_000;
const USAGE_MINUTE: i64 = 1_790_000_000 * 1_000_000_000 / MINUTE * MINUTE;

/// Pushes one minute of usage of namespace `namespace` as the Gocipher `name`.
fn push_usage_as(addr: std::net::SocketAddr, token: String, name: &'static str, namespace: &str) {
    let record = spider_model::UsageRecord {
        minute: USAGE_MINUTE,
        src: "10.0.0.1".parse().unwrap(),
        dst: "1.1.1.1".parse().unwrap(),
        proto: "tcp".into(),
        port: 443,
        bytes: 100,
        messages: 1,
        wire_bytes: 140,
        packets: 1,
        reporter: name.into(),
        receive_side: false,
        src_workload: Some(spider_model::WorkloadRef {
            namespace: Some(namespace.into()),
            ..Default::default()
        }),
        dst_workload: None,
        pid: None,
        command: None,
        container: None,
    };
    common::with_backend_client(addr, token, move |client| async move {
        client
            .push_usage(spider_backend::client::UsagePush {
                agent: name,
                incarnation: 1,
                sequence: 1,
                shard: spider_rpc_schema::usage_shard(name, &record),
                records: std::slice::from_ref(&record),
            })
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_only_the_data_of_its_teams() {
    let env = Env::start();
    let store = env.node.identities().clone();
    for team in ["red", "blue"] {
        store.create_team(team).unwrap();
    }
    let (_, red) = store
        .create_agent("red-w", "red", AgentKind::Whisperer)
        .unwrap();
    let (_, blue) = store
        .create_agent("blue-w", "blue", AgentKind::Whisperer)
        .unwrap();
    let addr = env.node.local_addr();
    push_as(addr, red, "red-w");
    push_as(addr, blue, "blue-w");
    for (name, team) in [("red-g", "red"), ("blue-g", "blue")] {
        let (_, token) = store.create_agent(name, team, AgentKind::Gocipher).unwrap();
        push_usage_as(addr, token, name, &format!("{team}-ns"));
    }
    store
        .create_user(
            "rae",
            "rae's password",
            UserRole::Viewer,
            BTreeSet::from(["red".into()]),
        )
        .unwrap();
    let (_, tokens) = login(&env, "rae", "rae's password").await;
    let viewer = tokens["access_token"].as_str().unwrap().to_owned();

    let whisperers_of = |body: &str| -> BTreeSet<String> {
        let page: Value = serde_json::from_str(body).unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["whisperer"].as_str().unwrap().to_owned())
            .collect()
    };
    for path in [
        "/api/v1/http?from=0",
        "/api/v1/sessions?from=0",
        "/api/v1/packets?from=0",
    ] {
        let (status, body) = request(&env, "GET", path, Some(&viewer)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            whisperers_of(&body),
            BTreeSet::from(["red-w".to_owned()]),
            "{path}"
        );
        let (_, body) = request(&env, "GET", path, Some(TOKEN)).await;
        assert_eq!(
            whisperers_of(&body),
            BTreeSet::from(["red-w".to_owned(), "blue-w".to_owned()]),
            "an admin sees every team: {path}"
        );
    }
    let (_, body) = request(
        &env,
        "GET",
        "/api/v1/http?from=0&whisperer=blue-w",
        Some(&viewer),
    )
    .await;
    assert!(
        whisperers_of(&body).is_empty(),
        "asking for another team's Whisperer finds nothing"
    );

    // Hosts and usage rows pass through per team as well.
    let (status, body) = request(&env, "GET", "/api/v1/hosts?from=0", Some(&viewer)).await;
    assert_eq!(status, 200, "{body}");
    let hosts: Value = serde_json::from_str(&body).unwrap();
    assert!(!hosts["items"].as_array().unwrap().is_empty(), "{body}");
    let namespaces_of = |body: &str| -> BTreeSet<String> {
        let page: Value = serde_json::from_str(body).unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["src"].as_str().unwrap().to_owned())
            .collect()
    };
    let usage = format!(
        "/api/v1/usage?from={}&to={}&group=namespace",
        USAGE_MINUTE / 1_000_000,
        (USAGE_MINUTE + MINUTE) / 1_000_000
    );
    let (status, body) = request(&env, "GET", &usage, Some(&viewer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(namespaces_of(&body), BTreeSet::from(["red-ns".to_owned()]));
    let (_, body) = request(&env, "GET", &usage, Some(TOKEN)).await;
    assert_eq!(
        namespaces_of(&body),
        BTreeSet::from(["red-ns".to_owned(), "blue-ns".to_owned()])
    );
}

/// The OpenAPI table the tests above walk holds every route the gateway serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_table_holds_every_route() {
    let env = Env::start();
    let doc = document(&env).await;
    let table: BTreeSet<(String, String)> = endpoints(&doc).into_iter().collect();
    let source: String = [
        "agents",
        "controllers",
        "export",
        "import",
        "live",
        "query",
        "records",
        "session",
        "mod",
    ]
    .iter()
    .map(|module| {
        std::fs::read_to_string(format!(
            "{}/src/routes/{module}.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    })
    .collect();
    let declared = source.matches("warp::path!(").count();
    // One (method, path) per declaration.
    assert_eq!(table.len(), declared, "{table:?}");
}

/// A live socket opened with a token ends once the token is revoked (its next poll is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_closes_its_live_socket() {
    let env = Env::start();
    let store = env.node.identities().clone();
    let (_, token) = store
        .create_api_token("wallboard", BTreeSet::from([Scope::Query]), None)
        .unwrap();
    let mut socket = warp::test::ws()
        .path(&format!("/api/v1/live?access_token={token}"))
        .handshake(env.filter())
        .await
        .unwrap();
    let hello: Value =
        serde_json::from_str(socket.recv().await.unwrap().to_str().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello");
    store.revoke_api_token("wallboard").unwrap();
    loop {
        match socket.recv().await {
            Ok(message) if message.is_close() => break,
            Ok(message) => assert!(
                !message.to_str().unwrap_or("").contains("\"http\""),
                "no data after the revocation: {message:?}"
            ),
            Err(_) => break,
        }
    }
}
