//! The backend bridge: one thread that owns the Cap'n Proto connection to the backend.
//!
//! Cap'n Proto clients are not `Send`, and warp runs on a multi-thread runtime; so a dedicated
//! thread runs a current-thread runtime with a `LocalSet`, receives jobs over a channel and answers
//! each over a oneshot. Jobs run concurrently on the `LocalSet`. The connection is made on the first
//! job and made again after the backend disconnects.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spider_backend::client::{BackendClient, ClientError};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, GatewayError};

type LocalFuture = Pin<Box<dyn Future<Output = bool>>>;
/// A job gets the connection (or why there is none) and says whether the connection broke.
type Job = Box<dyn FnOnce(Result<Rc<BackendClient>, String>) -> LocalFuture + Send>;

/// Counters of the bridge, read by `/metrics`.
#[derive(Debug, Default)]
pub struct BridgeStats {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub connects: AtomicU64,
}

/// A cloneable, `Send` handle to the bridge thread.
#[derive(Debug, Clone)]
pub struct Bridge {
    jobs: mpsc::UnboundedSender<Job>,
    timeout: Duration,
    pub stats: Arc<BridgeStats>,
}

impl Bridge {
    /// Starts the bridge thread; it ends when every handle is dropped.
    pub fn start(
        backend: SocketAddr,
        transport: spider_backend::client::ClientTransport,
        token: String,
        timeout: Duration,
    ) -> Result<(Self, std::thread::JoinHandle<()>), GatewayError> {
        let (jobs, mut receiver) = mpsc::unbounded_channel::<Job>();
        let stats = Arc::new(BridgeStats::default());
        let thread_stats = stats.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(GatewayError::Runtime)?;
        let thread = std::thread::Builder::new()
            .name("spider-gateway-bridge".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let mut client: Option<Rc<BackendClient>> = None;
                    let broken = Rc::new(std::cell::Cell::new(false));
                    while let Some(job) = receiver.recv().await {
                        if broken.replace(false) {
                            client = None;
                        }
                        let connection = match &client {
                            Some(client) => Ok(client.clone()),
                            None => {
                                thread_stats.connects.fetch_add(1, Ordering::Relaxed);
                                match tokio::time::timeout(
                                    timeout,
                                    BackendClient::connect_over(backend, &transport, &token),
                                )
                                .await
                                {
                                    Ok(Ok(connected)) => {
                                        tracing::info!(%backend, "gateway connected to the backend");
                                        let connected = Rc::new(connected);
                                        client = Some(connected.clone());
                                        Ok(connected)
                                    }
                                    Ok(Err(error)) => Err(format!("backend unavailable: {error}")),
                                    Err(_) => Err(format!("backend {backend} did not answer")),
                                }
                            }
                        };
                        let broken = broken.clone();
                        tokio::task::spawn_local(async move {
                            if job(connection).await {
                                broken.set(true);
                            }
                        });
                    }
                });
            })
            .map_err(GatewayError::Runtime)?;
        Ok((
            Self {
                jobs,
                timeout,
                stats,
            },
            thread,
        ))
    }

    /// Runs `call` with the backend client on the bridge thread and returns its answer, or an API
    /// error: 502 when the backend failed, 504 after the request timeout.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Rc<BackendClient>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ClientError>> + 'static,
    {
        self.call_within(self.timeout, call).await
    }

    /// Like [`Self::call`] with a timeout of its own (an upload takes longer than a query).
    pub async fn call_within<T, F, Fut>(&self, timeout: Duration, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Rc<BackendClient>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ClientError>> + 'static,
    {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel::<Result<T, ApiError>>();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let (result, broken) = match connection {
                    Ok(client) => match call(client).await {
                        Ok(value) => (Ok(value), false),
                        Err(error) => {
                            let broken = matches!(
                                &error,
                                ClientError::Rpc(rpc) if rpc.kind == capnp::ErrorKind::Disconnected
                            );
                            (Err(backend_error(&error)), broken)
                        }
                    },
                    Err(message) => (Err(ApiError::backend(message)), false),
                };
                let _receiver_gone = reply.send(result);
                broken
            })
        });
        if self.jobs.send(job).is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::backend("the backend bridge has stopped"));
        }
        let result = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::backend("the backend bridge dropped the request")),
            Err(_) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::timeout())
            }
        };
        if result.is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// A backend failure as an API error (the gateway validated the request before: a 502).
fn backend_error(error: &ClientError) -> ApiError {
    let message = error.to_string();
    tracing::debug!(%message, "backend call failed");
    ApiError::backend(message)
}
