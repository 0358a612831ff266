//! The routes: one module per API area, each a small cloneable filter over the shared [`State`].
//!
//! Layout: `GET /api/v1/health` (no auth), `POST /api/v1/login|refresh|logout` (users' sessions),
//! `GET /api/v1/live` (WebSocket; its token may come in the query string, as browsers cannot set
//! headers on a WebSocket), then everything else under `/api/v1` behind the bearer token,
//! `/metrics` behind a token with scope `metrics`, and the UI.
//!
//! A bearer token is one of the gateway's configured tokens (admin: the gateway's own backend
//! session) or anything the backend's identity store knows (an API token, a user's access token):
//! then every backend call of the request runs on the caller's own session, so the backend
//! applies its role, scopes and teams and refuses it at once when it is revoked.

mod agents;
mod controllers;
mod export;
pub mod import;
mod live;
mod query;
mod records;
mod session;

use std::sync::Arc;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::bridge::Bridge;
use crate::config::GatewayConfig;
use crate::error::{recover, ApiError};
use crate::metrics::Metrics;

/// What every handler shares (for a request with a caller's token, bound to that caller).
#[derive(Clone)]
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

impl std::fmt::Debug for State {
    /// Never the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
}

/// Who a request's token stands for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    /// `admin`, `agent` or `reader`.
    pub role: String,
    /// `gateway` (a configured token), `admin`, `agent`, `api` or `user`.
    pub kind: String,
    pub scopes: Vec<String>,
    /// `None`: every team.
    pub teams: Option<Vec<String>>,
    pub expires_at: i64,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == "admin" || s == scope)
    }
}

/// The bearer token of an `Authorization` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    header
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

impl State {
    /// This state bound to the caller presenting `token` (the gateway's own for a configured
    /// token), without asking the backend: its calls are checked there.
    pub fn bound_to(&self, token: &str) -> State {
        if self.accepts(token) {
            self.clone()
        } else {
            State {
                bridge: self.bridge.for_caller(token),
                ..self.clone()
            }
        }
    }

    /// Who presents `token`, asked of the backend on every request (so that a revoked or
    /// expired credential is refused at once): 401 when it is unknown.
    pub async fn caller(&self, token: &str) -> Result<(State, Caller), ApiError> {
        if self.accepts(token) {
            return Ok((
                self.clone(),
                Caller {
                    name: "gateway-token".into(),
                    role: "admin".into(),
                    kind: "gateway".into(),
                    scopes: vec!["admin".into()],
                    teams: None,
                    expires_at: 0,
                },
            ));
        }
        let bound = self.bound_to(token);
        let who = bound
            .bridge
            .call(|client| async move { client.whoami().await })
            .await
            .map_err(|error| {
                if error.status == 401 || error.status == 403 {
                    ApiError::unauthorized()
                } else {
                    error
                }
            })?;
        Ok((
            bound,
            Caller {
                name: who.name,
                role: who.role,
                kind: who.kind,
                scopes: who.scopes.into_iter().collect(),
                teams: who.teams.map(|teams| teams.into_iter().collect()),
                expires_at: who.expires_at,
            },
        ))
    }

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

/// Passes requests with a valid `Authorization: Bearer TOKEN` and gives who it is; a token
/// without `scope` (when one is asked) gets a 403.
pub fn authenticated(
    state: &State,
    scope: Option<&'static str>,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    let state = state.clone();
    warp::header::optional::<String>("authorization").and_then(move |header: Option<String>| {
        let state = state.clone();
        async move {
            let Some(token) = bearer(header.as_deref()) else {
                return Err(reject(ApiError::unauthorized()));
            };
            let (_, caller) = state.caller(token).await.map_err(reject)?;
            match scope {
                Some(scope) if !caller.has_scope(scope) => Err(reject(ApiError::forbidden(
                    format!("permission denied: needs scope {scope}"),
                ))),
                _ => Ok(caller),
            }
        }
    })
}

/// Passes requests with a valid `Authorization: Bearer TOKEN`.
pub fn authorized(state: &State) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    authenticated(state, None)
        .map(|_caller: Caller| ())
        .untuple_one()
}

/// The scope a request that changes something needs: `ingest` for an import, `agents` for
/// every other write (settings, start/stop, attachments). `None` for reads.
fn scope_to_write(method: &warp::http::Method, path: &str) -> Option<&'static str> {
    if method == warp::http::Method::GET || method == warp::http::Method::HEAD {
        None
    } else if path.ends_with("/import") {
        Some("ingest")
    } else {
        Some("agents")
    }
}

/// Passes requests with a valid bearer token whose scopes allow the request: a viewer reads, and
/// gets a 403 for anything that writes. (The backend refuses such calls of a viewer's session
/// too: this answers before a body is read.)
pub fn permitted(state: &State) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(authenticated(state, None))
        .and_then(
            |method: warp::http::Method, path: warp::path::FullPath, caller: Caller| async move {
                match scope_to_write(&method, path.as_str()) {
                    Some(scope) if !caller.has_scope(scope) => {
                        tracing::info!(who = caller.name, %method, path = path.as_str(), "write refused");
                        Err(reject(ApiError::forbidden(format!(
                            "permission denied: {method} needs scope {scope}"
                        ))))
                    }
                    _ => Ok(()),
                }
            },
        )
        .untuple_one()
}

/// The state, bound to the request's caller (see [`State::bound_to`]). Used behind
/// [`authorized`], which has checked the token.
pub fn with_state(
    state: &State,
) -> impl Filter<Extract = (State,), Error = std::convert::Infallible> + Clone {
    let state = state.clone();
    warp::header::optional::<String>("authorization")
        .or(warp::any().map(|| None))
        .unify()
        .map(
            move |header: Option<String>| match bearer(header.as_deref()) {
                Some(token) => state.bound_to(token),
                None => state.clone(),
            },
        )
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
    let protected = permitted(&state)
        .and(
            records::routes(&state)
                .or(session::whoami(&state))
                .unify()
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
                .or(session::routes(&state))
                .unify()
                .or(live::route(&state))
                .unify()
                .or(protected)
                .unify(),
        )
        .boxed();
    let metrics_state = state.clone();
    // Answered here, 401 included: a rejection would fall through to the UI's SPA fallback.
    let metrics = authenticated(&state, Some("metrics"))
        .map(move |_caller: Caller| {
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
        })
        .recover(recover)
        .unify();
    let metrics = warp::path!("metrics").and(warp::get()).and(metrics);
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
