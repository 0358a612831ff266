//! A real backend node with captures imported through the gateway, and requests to the filter.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use spider_backend::{BackendConfig, BackendNode};
use spider_gateway::bridge::Bridge;
use spider_gateway::routes::State;
use spider_gateway::GatewayConfig;
use warp::http::Response;
use warp::hyper::body::Bytes;

pub const TOKEN: &str = "test-admin-token-0123456789";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// A node in a temporary folder and the gateway's state over it.
pub struct Env {
    pub node: BackendNode,
    pub state: State,
    _dir: tempfile::TempDir,
}

impl Env {
    pub fn start() -> Self {
        Self::start_over(
            spider_backend::TlsSettings::default(),
            spider_backend::client::ClientTransport::Plain,
        )
    }

    /// A node whose listener has `tls`, and a bridge that reaches it over `transport`.
    pub fn start_over(
        tls: spider_backend::TlsSettings,
        transport: spider_backend::client::ClientTransport,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = BackendNode::start(BackendConfig {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            local_shards: 2,
            admin_token: TOKEN.into(),
            sync_wal: false,
            tls,
            ..BackendConfig::default()
        })
        .unwrap();
        let mut config =
            GatewayConfig::new("127.0.0.1:0".parse().unwrap(), node.local_addr(), TOKEN);
        config.live_interval = Duration::from_millis(20);
        config.max_body_bytes = 4 * 1024 * 1024;
        config.backend_tls = transport.clone();
        let (bridge, _thread) = Bridge::start(
            node.local_addr(),
            transport,
            TOKEN.into(),
            Duration::from_secs(60),
        )
        .unwrap();
        let state = State::new(bridge, config);
        Self {
            node,
            state,
            _dir: dir,
        }
    }

    pub fn filter(
        &self,
    ) -> impl warp::Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible>
           + Clone
           + 'static {
        spider_gateway::routes::routes(self.state.clone())
    }

    /// GET with the token.
    pub async fn get(&self, path: &str) -> Response<Bytes> {
        warp::test::request()
            .path(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .reply(&self.filter())
            .await
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = serde_json::from_slice(response.body()).unwrap_or_else(|error| {
            panic!(
                "{path}: not JSON ({error}): {}",
                String::from_utf8_lossy(response.body())
            )
        });
        (status, body)
    }

    /// Uploads a capture of testdata through `POST /api/v1/import` and makes it searchable.
    pub async fn import(&self, file: &str) -> serde_json::Value {
        let bytes = std::fs::read(testdata(file)).unwrap();
        let name = file.trim_end_matches(".pcap");
        let response = warp::test::request()
            .method("POST")
            .path(&format!("/api/v1/import?name={name}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-length", bytes.len().to_string())
            .body(bytes)
            .reply(&self.filter())
            .await;
        assert_eq!(
            response.status(),
            201,
            "{}",
            String::from_utf8_lossy(response.body())
        );
        self.node.commit_indexes().unwrap();
        serde_json::from_slice(response.body()).unwrap()
    }
}

/// Runs `body` with a backend client logged in with `token`, on a thread of its own (Cap'n
/// Proto clients are not `Send`), and waits for it.
pub fn with_backend_client<F, Fut>(addr: std::net::SocketAddr, token: String, body: F)
where
    F: FnOnce(spider_backend::client::BackendClient) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let client = spider_backend::client::BackendClient::connect(addr, &token)
                .await
                .unwrap();
            body(client).await;
        });
    })
    .join()
    .unwrap();
}
