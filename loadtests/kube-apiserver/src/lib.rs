//! A Kubernetes API server for tests and benchmarks, over real HTTP.
//!
//! It serves what a Controller and `kubectl` use, from objects given as real API objects
//! (fixtures, JSON): discovery (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION`);
//! get and list of nodes, namespaces, pods, services, endpoint slices, replica sets,
//! deployments, daemon sets, stateful sets, jobs and cron jobs (label and field selectors,
//! `limit`/`continue`, Tables for `kubectl get`); watch from a resource version with bookmarks,
//! `timeoutSeconds` and `410 Gone` once the history has moved past it; the pods'
//! `ephemeralcontainers` subresource (GET, PATCH in the three patch formats, PUT) and `log`.
//!
//! Tests drive the cluster through [`Store`]: `apply` and `delete` play the control plane
//! (each change gets the next resource version and an event), `expire` makes changes no watch
//! sees and compacts the history (the next watch gets 410 and must list again), `bookmark` and
//! `close_watches` act on every open watch. [`synthetic`] builds a cluster of any size and
//! churns it (benchmarks). It must not hold logic of the Controller.

mod ephemeral;
mod http;
pub mod resources;
mod runner;
mod select;
mod store;
pub mod synthetic;
mod table;
pub mod time;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::oneshot;

pub use runner::ephemeral_names;
pub use store::{ApiError, EventType, Mutation, Store};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:0`: any free port).
    pub listen: SocketAddr,
    /// Changes kept for watches to replay; older resource versions get 410 Gone.
    pub max_history: usize,
    /// Play the kubelet for ephemeral containers: a new one is reported running at once.
    pub kubelet: bool,
    /// Also run each new ephemeral container's command as a local process (its output is the
    /// container's log, its exit the container's end); needs `kubelet`.
    pub run_ephemeral: bool,
    /// The longest a watch stays open when the client does not say (`timeoutSeconds`).
    pub watch_timeout: Duration,
    /// Send a bookmark to every watch this often (none if unset; `Store::bookmark` sends one).
    pub bookmark_interval: Option<Duration>,
    /// Resources (plurals) the client may not read: answered 403 Forbidden, as RBAC would.
    pub forbidden: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_history: 100_000,
            kubelet: true,
            run_ephemeral: false,
            watch_timeout: Duration::from_secs(1800),
            bookmark_interval: None,
            forbidden: Vec::new(),
        }
    }
}

/// Why the server could not start or load fixtures.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Object { path: String, source: ApiError },
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Store,
    pub address: String,
    pub kubelet: bool,
    pub run_ephemeral: bool,
    pub watch_timeout: Duration,
    pub forbidden: Vec<String>,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct ApiServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    bookmarks: Option<Duration>,
) {
    if let Some(interval) = bookmarks {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                shared.store.bookmark();
            }
        });
    }
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| http::handle(Arc::clone(&shared), request));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

impl ApiServer {
    /// Starts a server on its own thread.
    pub fn start(config: ServerConfig) -> Result<Self, ServerError> {
        let listen_error = |source| ServerError::Listen {
            addr: config.listen,
            source,
        };
        let listener = StdListener::bind(config.listen).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let shared = Arc::new(Shared {
            store: Store::new(config.max_history),
            address: address.to_string(),
            kubelet: config.kubelet,
            run_ephemeral: config.kubelet && config.run_ephemeral,
            watch_timeout: config.watch_timeout,
            forbidden: config.forbidden.clone(),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(listen_error)?;
        let (stop, stopped) = oneshot::channel();
        let served = Arc::clone(&shared);
        let bookmarks = config.bookmark_interval;
        let thread = std::thread::Builder::new()
            .name("kube-apiserver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, served, stopped, bookmarks).await,
                        Err(e) => tracing::error!(error = %e, "cannot serve"),
                    }
                });
            })
            .map_err(listen_error)?;
        Ok(Self {
            address,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The cluster's state.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// A kubeconfig (YAML) that points at this server.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster:\n    server: {}\ncontexts:\n- name: fixture\n  context:\n    cluster: fixture\n    user: fixture\n    namespace: default\ncurrent-context: fixture\nusers:\n- name: fixture\n  user:\n    token: fixture-token\n",
            self.url()
        )
    }

    /// Writes [`Self::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Applies every object of the JSON files in `dir` (a file holds one object or a `List`),
    /// files in name order.
    pub fn load_dir(&self, dir: &Path) -> Result<usize, ServerError> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|source| ServerError::Read {
                path: dir.display().to_string(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut count = 0;
        for file in files {
            for object in read_objects(&file)? {
                self.store()
                    .apply(object)
                    .map_err(|source| ServerError::Object {
                        path: file.display().to_string(),
                        source,
                    })?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Plays the kubelet: ephemeral container `container` of a pod has terminated with
    /// `exit_code`.
    pub fn terminate_ephemeral(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        exit_code: i32,
    ) -> Result<Value, ApiError> {
        runner::terminated(&self.shared, namespace, pod, container, exit_code)
    }
}

/// The objects of one fixture file (an object or a `List` of them).
pub fn read_objects(file: &Path) -> Result<Vec<Value>, ServerError> {
    let path = file.display().to_string();
    let text = std::fs::read(file).map_err(|source| ServerError::Read {
        path: path.clone(),
        source,
    })?;
    let value: Value =
        serde_json::from_slice(&text).map_err(|source| ServerError::Json { path, source })?;
    Ok(match value.get("kind").and_then(Value::as_str) {
        Some(kind) if kind == "List" || kind.ends_with("List") => value
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => vec![value],
    })
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.store.close_watches();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
