//! The backend bridge: one thread that owns the Cap'n Proto connection to the backend.
//!
//! Cap'n Proto clients are not `Send`, and warp runs on a multi-thread runtime; so a dedicated
//! thread runs a current-thread runtime with a `LocalSet`, receives jobs over a channel and answers
//! each over a oneshot. Jobs run concurrently on the `LocalSet`. The connection is made on the first
//! job and made again after the backend disconnects.
//!
//! A bridge handle may stand for a caller ([`Bridge::for_caller`]): its calls then run on that
//! caller's own backend session (a login with the caller's token on the same connection, kept
//! for a few minutes), so that the backend applies the caller's role, scopes and teams and
//! refuses it at once when its credential is revoked. The gateway's own session (its admin
//! token) serves the config tokens and the logins.

use std::cell::RefCell;
use std::collections::HashMap;
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
type Job = Box<dyn FnOnce(Result<Rc<Connection>, String>) -> LocalFuture + Send>;

/// How long a caller's backend session is reused before the gateway logs in again. Reuse is
/// safe: the backend checks the credential on every call.
const CALLER_SESSION_REUSE: Duration = Duration::from_secs(120);
/// The most callers' sessions kept; beyond, the oldest go.
const MAX_CALLER_SESSIONS: usize = 1024;

/// A caller's session and when it was made, by the caller's token.
type CallerSessions = HashMap<Arc<str>, (Rc<BackendClient>, std::time::Instant)>;

/// The connection to the backend: the gateway's own session and its callers' sessions.
struct Connection {
    admin: Rc<BackendClient>,
    callers: RefCell<CallerSessions>,
}

impl Connection {
    /// The caller's session: reused, or a new login with its token on this connection.
    async fn session_of(&self, token: &Arc<str>) -> Result<Rc<BackendClient>, ClientError> {
        if let Some((client, made)) = self.callers.borrow().get(token) {
            if made.elapsed() < CALLER_SESSION_REUSE {
                return Ok(client.clone());
            }
        }
        let client = Rc::new(BackendClient::login(self.admin.auth(), token).await?);
        let mut callers = self.callers.borrow_mut();
        if callers.len() >= MAX_CALLER_SESSIONS {
            callers.retain(|_, (_, made)| made.elapsed() < CALLER_SESSION_REUSE);
            if callers.len() >= MAX_CALLER_SESSIONS {
                callers.clear();
            }
        }
        callers.insert(token.clone(), (client.clone(), std::time::Instant::now()));
        Ok(client)
    }

    fn forget(&self, token: &Arc<str>) {
        self.callers.borrow_mut().remove(token);
    }
}

/// Counters of the bridge, read by `/metrics`.
#[derive(Debug, Default)]
pub struct BridgeStats {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub connects: AtomicU64,
}

/// A cloneable, `Send` handle to the bridge thread.
#[derive(Clone)]
pub struct Bridge {
    jobs: mpsc::UnboundedSender<Job>,
    timeout: Duration,
    pub stats: Arc<BridgeStats>,
    /// The caller whose session the calls run on; `None`: the gateway's own session.
    caller: Option<Arc<str>>,
}

impl std::fmt::Debug for Bridge {
    /// Never the caller's token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("timeout", &self.timeout)
            .field("caller", &self.caller.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
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
                    let mut client: Option<Rc<Connection>> = None;
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
                                        let connected = Rc::new(Connection {
                                            admin: Rc::new(connected),
                                            callers: RefCell::new(HashMap::new()),
                                        });
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
                caller: None,
            },
            thread,
        ))
    }

    /// A handle whose calls run on the session of the caller presenting `token`.
    pub fn for_caller(&self, token: &str) -> Self {
        Self {
            caller: Some(Arc::from(token)),
            ..self.clone()
        }
    }

    /// True when the calls run on a caller's own session.
    pub fn has_caller(&self) -> bool {
        self.caller.is_some()
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
        let caller = self.caller.clone();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let (result, broken) = match connection {
                    Ok(connection) => {
                        let client = match &caller {
                            None => Ok(connection.admin.clone()),
                            Some(token) => connection.session_of(token).await,
                        };
                        match client {
                            Ok(client) => match call(client).await {
                                Ok(value) => (Ok(value), false),
                                Err(error) => {
                                    let broken = matches!(
                                        &error,
                                        ClientError::Rpc(rpc) if rpc.kind == capnp::ErrorKind::Disconnected
                                    );
                                    let failed = backend_error(&error);
                                    if failed.status == 401 {
                                        if let Some(token) = &caller {
                                            connection.forget(token);
                                        }
                                    }
                                    (Err(failed), broken)
                                }
                            },
                            Err(error) => (Err(backend_error(&error)), false),
                        }
                    }
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

/// A backend failure as an API error: a refused credential is a 401, a refused permission a
/// 403; anything else a 502 (the gateway validated the request before).
fn backend_error(error: &ClientError) -> ApiError {
    let message = error.to_string();
    tracing::debug!(%message, "backend call failed");
    if message.contains("invalid credential") || message.contains("revoked or expired") {
        ApiError::unauthorized()
    } else if message.contains("permission denied") {
        ApiError::forbidden(message)
    } else if message.contains("too many failed logins") {
        ApiError::new(
            warp::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_failures",
            "too many failed logins: try again later",
        )
    } else {
        ApiError::backend(message)
    }
}
