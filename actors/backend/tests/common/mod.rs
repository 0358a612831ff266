//! A capture cut into the batches a Whisperer would push, and the node under test.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use spider_backend::client::{BackendClient, CapturePush};
#[allow(unused_imports)]
pub use spider_backend::testing::{exchanges_of, Batch};
use spider_backend::{BackendConfig, BackendNode};

pub const TOKEN: &str = "test-admin-token-0123456789";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

pub fn config(dir: &Path) -> BackendConfig {
    BackendConfig {
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    }
}

pub fn start_node(dir: &Path) -> BackendNode {
    BackendNode::start(config(dir)).unwrap()
}

/// A capture's batches (see `spider_backend::testing::batches_of`).
pub fn batches_of(path: &Path, whisperer: &str, per_batch: usize) -> Vec<Batch> {
    spider_backend::testing::batches_of(path, whisperer, per_batch).unwrap()
}

pub async fn try_push(
    client: &BackendClient,
    whisperer: &str,
    batch: &Batch,
) -> Result<(), spider_backend::client::ClientError> {
    client
        .push_capture(CapturePush {
            agent: whisperer,
            incarnation: 1,
            sequence: batch.sequence,
            shard: batch.shard,
            whisperer,
            frames: &batch.frames,
            sessions: &batch.sessions,
            ..CapturePush::default()
        })
        .await
}

pub async fn push(client: &BackendClient, whisperer: &str, batch: &Batch) {
    try_push(client, whisperer, batch).await.unwrap();
}

/// Runs `body` on a current-thread runtime with a `LocalSet` (Cap'n Proto clients are not Send).
pub fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

/// A new viewer of `teams` signed in through `admin`'s connection, and its client.
pub async fn viewer(
    admin: &BackendClient,
    addr: std::net::SocketAddr,
    name: &str,
    teams: &[&str],
) -> BackendClient {
    let password = format!("{name}'s password");
    admin
        .identities()
        .await
        .unwrap()
        .create_user(name, &password, "viewer", teams)
        .await
        .unwrap();
    let tokens = spider_backend::client::sign_in(&admin.auth(), name, &password)
        .await
        .unwrap();
    BackendClient::connect(addr, &tokens.access_token)
        .await
        .unwrap()
}

/// A listing of everything stored, a page of 1000 at a time.
pub fn everything() -> spider_backend::client::ListRequest {
    spider_backend::client::ListRequest {
        from: 0,
        to: i64::MAX,
        limit: 1000,
        ..Default::default()
    }
}
