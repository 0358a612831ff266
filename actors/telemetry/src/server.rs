//! The listener: `GET /metrics` (bearer token) and `GET /healthz` (open) on a thread of its own
//! with a current-thread runtime, so a role's own threads and runtimes are untouched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use warp::http::StatusCode;
use warp::Filter;

use crate::{Access, Exposition, Source};

/// Why the listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the metrics thread or runtime: {0}")]
    Runtime(std::io::Error),
    #[error("no token is accepted on /metrics: give the role a token")]
    NoToken,
}

/// A running metrics listener. Dropping it stops it.
#[derive(Debug)]
pub struct TelemetryServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TelemetryServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TelemetryServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ignored = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the metrics thread panicked");
            }
        }
    }
}

/// Binds `addr` and serves `source` there until the returned server is dropped.
pub fn serve(
    addr: SocketAddr,
    access: Access,
    source: Arc<dyn Source>,
) -> Result<TelemetryServer, TelemetryError> {
    if !access.allows_someone() {
        return Err(TelemetryError::NoToken);
    }
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|source| TelemetryError::Listen { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(TelemetryError::Runtime)?;
    let bound = listener.local_addr().map_err(TelemetryError::Runtime)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TelemetryError::Runtime)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("spider-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::error!(%error, "the metrics listener cannot be used");
                        return;
                    }
                };
                tracing::info!(addr = %bound, "metrics listening");
                warp::serve(routes(access, source))
                    .incoming(listener)
                    .graceful(async move {
                        let _stopped = stopped.await;
                    })
                    .run()
                    .await;
            });
        })
        .map_err(TelemetryError::Runtime)?;
    Ok(TelemetryServer {
        addr: bound,
        stop: Some(stop),
        thread: Some(thread),
    })
}

fn routes(
    access: Access,
    source: Arc<dyn Source>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    let metrics_source = source.clone();
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .map(move |authorization: Option<String>| {
            if !access.allows(authorization.as_deref()) {
                return text(
                    StatusCode::UNAUTHORIZED,
                    "a bearer token is needed to read /metrics\n".into(),
                    "text/plain; charset=utf-8",
                );
            }
            let mut out = Exposition::new();
            metrics_source.render(&mut out);
            crate::process::render(&mut out);
            text(
                StatusCode::OK,
                out.finish(),
                "text/plain; version=0.0.4; charset=utf-8",
            )
        });
    let health = warp::path!("healthz").and(warp::get()).map(move || {
        let health = source.health();
        let status = if health.ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        text(status, health.to_json().to_string(), "application/json")
    });
    metrics
        .or(health)
        .unify()
        .or(warp::any().map(|| {
            text(
                StatusCode::NOT_FOUND,
                "only /metrics and /healthz are served here\n".into(),
                "text/plain; charset=utf-8",
            )
        }))
        .unify()
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> warp::reply::Response {
    let mut response = warp::reply::Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(value) = warp::http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(warp::http::header::CONTENT_TYPE, value);
    }
    response
}
