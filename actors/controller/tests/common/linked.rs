//! A Controller linked to a real backend node and to the fixture API server, and clients of
//! either on threads of their own (Cap'n Proto clients are not `Send`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use spider_backend::client::BackendClient;
use spider_backend::{BackendConfig, BackendNode};
use spider_controller::process::{self, RunningController};
use spider_controller::rpc::UplinkConfig;
use spider_controller::ControllerConfig;

use super::{within, Cluster};

pub const TOKEN: &str = "controller-test-token-0123456789";
pub const NAME: &str = "controller-test";
/// The pin attached Whisperers are given (`SPIDER_TLS_PIN`).
pub const WHISPERER_PIN: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A cluster, a backend node, and a Controller linked to both.
pub struct Linked {
    pub cluster: Cluster,
    /// The Controller's own inventory (what it sends to the backend).
    pub running: RunningController,
    _node: BackendNode,
    _dir: tempfile::TempDir,
    pub backend: SocketAddr,
    pub controller: SocketAddr,
}

impl Linked {
    pub async fn start() -> Self {
        let cluster = Cluster::start(&["cluster"]).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let node = BackendNode::start(BackendConfig {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            local_shards: 2,
            admin_token: TOKEN.into(),
            ..BackendConfig::default()
        })
        .expect("backend node");
        let backend = node.local_addr();
        let config = ControllerConfig {
            name: NAME.into(),
            cluster: "test-cluster".into(),
            whisperer_tls_pins: vec![WHISPERER_PIN.into()],
            ..cluster.config.clone()
        };
        let uplink = UplinkConfig::plain(NAME, "test-cluster", backend, TOKEN);
        let running = process::spawn(config, Some((uplink, "127.0.0.1:0".parse().expect("addr"))))
            .expect("controller");
        let controller = running.listen.expect("listening");
        eventually("the Controller to register", backend, |client| async move {
            let agents = client.agents().await.expect("agents");
            agents.iter().any(|a| a.info.name == NAME && a.connected)
        })
        .await;
        Self {
            cluster,
            running,
            _node: node,
            _dir: dir,
            backend,
            controller,
        }
    }
}

impl Linked {
    /// The backend node's identity store (teams, agents' tokens).
    pub fn identities(&self) -> &spider_backend::spider_identity::IdentityStore {
        self._node.identities()
    }
}

/// Runs `work` with a client logged into `addr` with `token`, on a thread of its own.
pub async fn with_token<T, F, Fut>(addr: SocketAddr, token: String, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce(Result<BackendClient, String>) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let client = BackendClient::connect(addr, &token)
                .await
                .map_err(|error| error.to_string());
            work(client).await
        })
    })
    .await
    .expect("client thread")
}

/// Runs `work` with a client logged into `addr`, on a thread of its own (clients are not Send).
pub async fn with_client<T, F, Fut>(addr: SocketAddr, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce(BackendClient) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let client = BackendClient::connect(addr, TOKEN).await.expect("login");
            work(client).await
        })
    })
    .await
    .expect("client thread")
}

/// Polls `check` with a client until it holds (a guard against hangs, not a timing).
pub async fn eventually<F, Fut>(what: &str, addr: SocketAddr, check: F)
where
    F: Fn(BackendClient) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = bool>,
{
    within(what, async {
        loop {
            let check = check.clone();
            if with_client(addr, check).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}
