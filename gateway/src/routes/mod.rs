//! The routes: one module per API area, each a small cloneable filter over the shared [`State`].
//!
//! Layout: `GET /api/v1/health` (no auth), `GET /api/v1/live` (WebSocket; its token may come in the
//! query string, as browsers cannot set headers on a WebSocket), then everything else under
//! `/api/v1` behind the bearer token, `/metrics` behind the token too, and the UI.

mod agents;
mod controllers;
mod export;
pub mod import;
mod live;
mod query;
mod records;

use std::sync::Arc;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::bridge::Bridge;
use crate::config::GatewayConfig;
use crate::error::{recover, ApiError};
use crate::metrics::Metrics;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct State {
    pub bridge: Bridge,
    pub config: Arc<GatewayConfig>,
    pub metrics: Arc<Metrics>,
    tokens: Arc<Vec<String>>,
    /// Set when the gateway stops: live sockets close on it.
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// Live sockets open now: the gateway waits for them to close before it ends.
    live_open: Arc<tokio::sync::watch::Sender<usize>>,
}

impl State {
    pub fn new(bridge: Bridge, config: GatewayConfig) -> Self {
        Self {
            bridge,
            tokens: Arc::new(config.accepted_tokens()),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            live_open: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// Counts a live socket in (`true`) or out (`false`).
    pub fn live_socket(&self, open: bool) {
        self.live_open.send_modify(|count| {
            *count = if open {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
        });
    }

    /// Waits, at most `grace`, until every live socket has closed.
    pub async fn live_closed(&self, grace: std::time::Duration) {
        let mut open = self.live_open.subscribe();
        let _waited = tokio::time::timeout(grace, open.wait_for(|count| *count == 0)).await;
    }

    /// Tells long-lived handlers (live sockets) to end.
    pub fn stop_live(&self) {
        self.stopping.send_replace(true);
    }

    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// True when `token` is one of the accepted tokens (compared in constant time).
    pub fn accepts(&self, token: &str) -> bool {
        self.tokens.iter().any(|known| {
            known.len() == token.len()
                && known
                    .bytes()
                    .zip(token.bytes())
                    .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }
}

/// A rejection carrying an API error.
pub fn reject(error: ApiError) -> Rejection {
    warp::reject::custom(error)
}

/// JSON with a status.
pub fn json_reply<T: Serialize>(value: &T) -> Response {
    warp::reply::json(value).into_response()
}

/// Passes requests with an accepted `Authorization: Bearer TOKEN`.
pub fn authorized(state: &State) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let state = state.clone();
    warp::header::optional::<String>("authorization")
        .and_then(move |header: Option<String>| {
            let state = state.clone();
            async move {
                let token = header
                    .as_deref()
                    .and_then(|value| value.strip_prefix("Bearer "))
                    .map(str::trim);
                match token {
                    Some(token) if state.accepts(token) => Ok(()),
                    _ => Err(reject(ApiError::unauthorized())),
                }
            }
        })
        .untuple_one()
}

pub fn with_state(
    state: &State,
) -> impl Filter<Extract = (State,), Error = std::convert::Infallible> + Clone {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// Every route of the gateway, with JSON errors, metrics and request logging.
pub fn routes(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = std::convert::Infallible> + Clone + Send + Sync + 'static
{
    let health = warp::path!("health")
        .and(warp::get())
        .map(|| json_reply(&serde_json::json!({"status": "ok"})));
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .map(|| json_reply(&crate::openapi::document()));
    let protected = authorized(&state)
        .and(
            records::routes(&state)
                .or(export::routes(&state))
                .unify()
                .or(query::routes())
                .unify()
                .or(agents::routes(&state))
                .unify()
                .or(controllers::routes(&state))
                .unify()
                .or(import::routes(&state))
                .unify(),
        )
        .boxed();
    let api = warp::path("api")
        .and(warp::path("v1"))
        .and(
            health
                .or(openapi)
                .unify()
                .or(live::route(&state))
                .unify()
                .or(protected)
                .unify(),
        )
        .boxed();
    let metrics_state = state.clone();
    // Answered here, 401 included: a rejection would fall through to the UI's SPA fallback.
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .map(move |header: Option<String>| {
            let token = header
                .as_deref()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim);
            if !token.is_some_and(|token| metrics_state.accepts(token)) {
                crate::metrics::count_error("unauthorized");
                return ApiError::unauthorized().into_response();
            }
            let mut text = metrics_state.metrics.render(&metrics_state.bridge.stats);
            let mut extra = spider_telemetry::Exposition::new();
            spider_telemetry::Source::render(&metrics_state.config.extra_metrics, &mut extra);
            text.push_str(&extra.finish());
            warp::reply::with_header(
                text,
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response()
        });
    let observe = state.metrics.clone();
    let log = warp::log::custom(move |info| {
        observe.observe(info.path(), info.status().as_u16(), info.elapsed());
        tracing::debug!(
            method = %info.method(),
            path = info.path(),
            status = info.status().as_u16(),
            elapsed_ms = info.elapsed().as_millis() as u64,
            "request"
        );
    });
    api.or(metrics)
        .unify()
        .or(crate::ui::routes(state.config.ui_dir.clone()))
        .unify()
        .recover(recover)
        .unify()
        .with(log)
}

/// A `Response` with a status and JSON body.
pub fn status_json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}
