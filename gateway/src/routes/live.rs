//! `GET /api/v1/live`: a WebSocket that pushes new HTTP exchanges of a query as they are stored.
//!
//! The token comes as `access_token` in the query string (browsers cannot set headers on a
//! WebSocket) or as a bearer header. The gateway polls the backend every `live_interval` for the
//! newest page of the query and sends the exchanges of it not sent before:
//! `{"type": "http", "items": [...], "more": bool}` (`more`: there were more new exchanges than
//! one page). The first message is `{"type": "hello"}`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use spider_model::Record;
use spider_query::RecordKind;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::ws::{Message, WebSocket};
use warp::{Filter, Rejection, Reply};

use super::records::tagged;
use super::{reject, with_state, State};
use crate::error::ApiError;
use crate::params::ListParams;

const PAGE: u32 = 200;
/// Identities of sent exchanges remembered per socket.
const MAX_REMEMBERED: usize = 20_000;

#[derive(Debug, Deserialize)]
struct LiveParams {
    access_token: Option<String>,
    q: Option<String>,
    whisperer: Option<String>,
}

pub fn route(state: &State) -> BoxedFilter<(Response,)> {
    warp::path!("live")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<LiveParams>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::ws())
        .and_then(
            |state: State, params: LiveParams, header: Option<String>, ws: warp::ws::Ws| async move {
                let token = params
                    .access_token
                    .clone()
                    .or_else(|| super::bearer(header.as_deref()).map(str::to_owned));
                let Some(token) = token else {
                    return Err::<Response, Rejection>(reject(ApiError::unauthorized()));
                };
                // Checked now, and by the backend at every poll of the socket's life.
                let (state, _caller) = state.caller(token.trim()).await.map_err(reject)?;
                let list = ListParams {
                    q: params.q,
                    whisperer: params.whisperer,
                    limit: Some(PAGE.to_string()),
                    ..ListParams::default()
                };
                let request = list.list_request(RecordKind::Http).map_err(reject)?;
                Ok(ws
                    .max_message_size(64 * 1024)
                    .on_upgrade(move |socket| serve(socket, state, request))
                    .into_response())
            },
        )
        .boxed()
}

/// The identity of an exchange: (whisperer, session, index).
fn key_of(item: &(String, spider_model::HttpExchange)) -> (String, u64, u32) {
    (item.0.clone(), item.1.session_id, item.1.index)
}

async fn serve(socket: WebSocket, state: State, request: spider_backend::client::ListRequest) {
    state
        .metrics
        .live_connections
        .fetch_add(1, Ordering::Relaxed);
    state.live_socket(true);
    let (mut sink, mut incoming) = socket.split();
    // Exchanges are stored out of time order (shards, Whisperers): remember what was sent,
    // by identity, rather than the newest time.
    let mut seen: HashSet<(String, u64, u32)> = HashSet::new();
    let mut order: VecDeque<(String, u64, u32)> = VecDeque::new();
    let mut first = true;
    let mut ticker = tokio::time::interval(state.config.live_interval);
    let mut stopping = state.stopping();
    if sink
        .send(Message::text(json!({"type": "hello"}).to_string()))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                message = incoming.next() => match message {
                    Some(Ok(message)) if !message.is_close() => continue,
                    _ => break,
                },
                _ = ticker.tick() => {}
                _ = stopping.changed() => {
                    let _closed = sink.send(Message::close_with(1001_u16, "the gateway is stopping")).await;
                    break;
                }
            }
            let page_request = request.clone();
            let call = state
                .bridge
                .call(move |client| async move { client.http(&page_request).await });
            // A stop while the backend is being asked still closes the socket properly.
            let answer = tokio::select! {
                answer = call => answer,
                _ = stopping.changed() => {
                    let _closed = sink.send(Message::close_with(1001_u16, "the gateway is stopping")).await;
                    break;
                }
            };
            let page = match answer {
                Ok(page) => page,
                Err(error) if error.status == 401 => {
                    // The credential was revoked or expired: the socket ends at once.
                    let _closed = sink
                        .send(Message::close_with(
                            4401_u16,
                            "credential revoked or expired",
                        ))
                        .await;
                    break;
                }
                Err(error) => {
                    let text = json!({"type": "error", "error": {"code": error.code, "message": error.message}});
                    if sink.send(Message::text(text.to_string())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            let mut fresh = Vec::new();
            for item in &page.items {
                let key = key_of(item);
                if seen.insert(key.clone()) {
                    order.push_back(key);
                    if !first {
                        fresh.push(tagged(Record::Http(Box::new(item.1.clone())), &item.0));
                    }
                }
            }
            while order.len() > MAX_REMEMBERED {
                if let Some(old) = order.pop_front() {
                    seen.remove(&old);
                }
            }
            first = false;
            if fresh.is_empty() {
                continue;
            }
            let more = fresh.len() == page.items.len() && page.next.is_some();
            let text = json!({"type": "http", "items": fresh, "more": more}).to_string();
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
            state.metrics.live_messages.fetch_add(1, Ordering::Relaxed);
        }
    }
    state
        .metrics
        .live_connections
        .fetch_sub(1, Ordering::Relaxed);
    state.live_socket(false);
}
