//! `spider identity` against a real backend node: a team, an agent's token printed once and
//! working, a user whose password comes from the environment, listing, and a revocation that
//! the agent's next login feels.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use spider_backend::client::{sign_in, BackendClient};
use spider_backend::{BackendConfig, BackendNode};

const ADMIN: &str = "identity-cli-admin-token";

fn spider(addr: std::net::SocketAddr, args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_spider"))
        .arg("identity")
        .args(args)
        .args(["--backend", &addr.to_string()])
        .env("SPIDER_TOKEN", ADMIN)
        .env("SPIDER_PASSWORD", "carol's password")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "spider identity {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

#[test]
fn identities_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let node = BackendNode::start(BackendConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 1,
        admin_token: ADMIN.into(),
        ..BackendConfig::default()
    })
    .unwrap();
    let addr = node.local_addr();
    spider(addr, &["team", "add", "ops"]);
    let made = spider(addr, &["agent", "add", "edge-1", "--team", "ops"]);
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("spider_agent_"), "{token}");
    spider(
        addr,
        &["user", "add", "carol", "--role", "viewer", "--team", "ops"],
    );
    let listed = spider(addr, &["agent", "list", "--json"]);
    let agent: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(agent["name"], "edge-1");
    assert_eq!(agent["team"], "ops");
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(&token[20..]),
        "listing never shows the token"
    );

    let check = token.clone();
    on_local(async move {
        let agent = BackendClient::connect(addr, &check).await.unwrap();
        assert_eq!(agent.whoami().await.unwrap().name, "edge-1");
        let admin = BackendClient::connect(addr, ADMIN).await.unwrap();
        let carol = sign_in(&admin.auth(), "carol", "carol's password").await;
        assert!(carol.is_ok());
    });

    spider(addr, &["agent", "revoke", "edge-1"]);
    let listed = spider(addr, &["agent", "list"]);
    assert!(String::from_utf8(listed.stdout)
        .unwrap()
        .contains("revoked"));
    on_local(async move {
        assert!(BackendClient::connect(addr, &token).await.is_err());
    });

    // A token that is not an admin's is refused.
    let output = Command::new(env!("CARGO_BIN_EXE_spider"))
        .args(["identity", "team", "list", "--backend", &addr.to_string()])
        .env("SPIDER_TOKEN", "not-the-admin-token")
        .output()
        .unwrap();
    assert!(!output.status.success());
}
