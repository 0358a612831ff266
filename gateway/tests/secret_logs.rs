//! Secrets never reach the logs: everything the backend node and the gateway log at `debug`
//! while users log in (right and wrong), tokens are made, used, refused and revoked, a live
//! socket opens with its token in the URL and an agent tries to write as another, is captured
//! and searched for every password and token used.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::{Env, TOKEN};
use spider_backend::spider_identity::{AgentKind, Scope, UserRole};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn call(env: &Env, method: &str, path: &str, token: &str, body: &str) -> u16 {
    warp::test::request()
        .method(method)
        .path(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .reply(&env.filter())
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_is_ever_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let env = Env::start();
    let store = env.node.identities().clone();
    store.create_team("red").unwrap();
    let password = "a password 7e1f0c";
    store
        .create_user(
            "sam",
            password,
            UserRole::Viewer,
            BTreeSet::from(["red".into()]),
        )
        .unwrap();
    let (_, api) = store
        .create_api_token("ci", BTreeSet::from([Scope::Query]), None)
        .unwrap();
    let (_, agent) = store
        .create_agent("red-w", "red", AgentKind::Whisperer)
        .unwrap();
    let wrong_password = "not the password 99ab";
    let login =
        |password: &str| serde_json::json!({"name": "sam", "password": password}).to_string();
    assert_eq!(
        call(&env, "POST", "/api/v1/login", "", &login(wrong_password)).await,
        401
    );
    let response = warp::test::request()
        .method("POST")
        .path("/api/v1/login")
        .header("content-type", "application/json")
        .body(login(password))
        .reply(&env.filter())
        .await;
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(call(&env, "GET", "/api/v1/http", &access, "").await, 200);
    assert_eq!(
        call(
            &env,
            "PUT",
            "/api/v1/whisperers/red-w/running",
            &access,
            "{\"running\":false}"
        )
        .await,
        403
    );
    assert_eq!(call(&env, "GET", "/api/v1/http", &api, "").await, 200);
    assert_eq!(
        call(
            &env,
            "GET",
            "/api/v1/http",
            "spider_api_0123456789ab_guessed",
            ""
        )
        .await,
        401
    );
    assert_eq!(call(&env, "GET", "/api/v1/http", TOKEN, "").await, 200);
    let socket = warp::test::ws()
        .path(&format!("/api/v1/live?access_token={access}"))
        .handshake(env.filter())
        .await;
    assert!(socket.is_ok());
    // An agent writing as another is refused (and logged as such).
    let addr = env.node.local_addr();
    let agent_token = agent.clone();
    common::with_backend_client(addr, agent_token, move |client| async move {
        let _received = client
            .push_capture(spider_backend::client::CapturePush {
                agent: "someone-else",
                incarnation: 1,
                sequence: 1,
                shard: 0,
                whisperer: "someone-else",
                ..Default::default()
            })
            .await;
        assert!(client.flush().await.is_err());
    });
    store.revoke_api_token("ci").unwrap();
    assert_eq!(call(&env, "GET", "/api/v1/http", &api, "").await, 401);
    let body = serde_json::json!({"refresh_token": refresh}).to_string();
    assert_eq!(call(&env, "POST", "/api/v1/refresh", "", &body).await, 200);
    drop(env);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "password login refused",
        "user logged in",
        "an agent tried to act as another",
        "api token revoked",
    ] {
        assert!(logs.contains(expected), "the log has {expected:?}:\n{logs}");
    }
    let secret_part = |token: &str| token.rsplit('_').next().unwrap().to_owned();
    for secret in [
        password.to_owned(),
        wrong_password.to_owned(),
        TOKEN.to_owned(),
        secret_part(&api),
        secret_part(&agent),
        secret_part(&access),
        secret_part(&refresh),
        "guessed".to_owned(),
    ] {
        assert!(!logs.contains(&secret), "a secret is in the log");
    }
}
