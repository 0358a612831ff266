//! Listings of records (HTTP exchanges, TCP sessions, hosts), the timeline and the data's extent.

use serde_json::{json, Map, Value};
use spider_backend::client::ListRequest;
use spider_model::Record;
use spider_query::RecordKind;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{json_reply, reject, with_state, State};
use crate::error::ApiError;
use crate::params::{encode_cursor, parse_count, ListParams};

/// Timeline buckets when none are asked for, and the most.
const DEFAULT_BUCKETS: u32 = 120;
const MAX_BUCKETS: u32 = 10_000;

pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    let http = warp::path!("http")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(http);
    let sessions = warp::path!("sessions")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(sessions);
    let packets = warp::path!("packets")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(packets);
    let hosts = warp::path!("hosts")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(hosts);
    let timeline = warp::path!("timeline")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(timeline);
    let extent = warp::path!("extent")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(extent);
    let schema =
        warp::path!("schema" / String)
            .and(warp::get())
            .and_then(|kind: String| async move {
                spider_model::json_schema(&kind)
                    .map(|schema| json_reply(&schema))
                    .ok_or_else(|| reject(ApiError::not_found(format!("no record kind {kind:?}"))))
            });
    http.or(sessions)
        .unify()
        .or(packets)
        .unify()
        .or(hosts)
        .unify()
        .or(timeline)
        .unify()
        .or(extent)
        .unify()
        .or(schema)
        .unify()
        .boxed()
}

/// A record as the API shows it: its model JSON (with `kind`) and the Whisperer that saw it.
pub fn tagged(record: Record, whisperer: &str) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("whisperer".into(), Value::String(whisperer.to_owned()));
    }
    value
}

fn page(items: Vec<Value>, next: Option<String>, missing: &[u16]) -> Value {
    let mut map = Map::new();
    map.insert("items".into(), Value::Array(items));
    map.insert("next".into(), next.map_or(Value::Null, Value::String));
    map.insert("missing_shards".into(), json!(missing));
    Value::Object(map)
}

async fn http(state: State, params: ListParams) -> Result<Response, Rejection> {
    let request = params.list_request(RecordKind::Http).map_err(reject)?;
    let result = state
        .bridge
        .call(move |client| async move { client.http(&request).await })
        .await
        .map_err(reject)?;
    let items = result
        .items
        .into_iter()
        .map(|(whisperer, exchange)| tagged(Record::Http(Box::new(exchange)), &whisperer))
        .collect();
    let next = result.next.as_deref().map(encode_cursor);
    Ok(json_reply(&page(items, next, &result.missing_shards)))
}

async fn sessions(state: State, params: ListParams) -> Result<Response, Rejection> {
    let request = params
        .list_request(RecordKind::TcpSession)
        .map_err(reject)?;
    let result = state
        .bridge
        .call(move |client| async move { client.sessions(&request).await })
        .await
        .map_err(reject)?;
    let items = result
        .items
        .into_iter()
        .map(|(whisperer, session)| tagged(Record::TcpSession(Box::new(session)), &whisperer))
        .collect();
    let next = result.next.as_deref().map(encode_cursor);
    Ok(json_reply(&page(items, next, &result.missing_shards)))
}

/// Packets by time range and Whisperer (the backend lists packets without a query).
async fn packets(state: State, params: ListParams) -> Result<Response, Rejection> {
    if params.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        return Err(reject(ApiError::bad_request(
            "q: packets are listed by time range and whisperer only; export the packets of a query with /api/v1/http/pcapng",
        )));
    }
    let request = params.list_request(RecordKind::Http).map_err(reject)?;
    let result = state
        .bridge
        .call(move |client| async move { client.packets(&request).await })
        .await
        .map_err(reject)?;
    let items = result
        .items
        .into_iter()
        .map(|packet| serde_json::to_value(packet).unwrap_or(Value::Null))
        .collect();
    let next = result.next.as_deref().map(encode_cursor);
    Ok(json_reply(&page(items, next, &result.missing_shards)))
}

async fn hosts(state: State, params: ListParams) -> Result<Response, Rejection> {
    let (from, to) = params.range().map_err(reject)?;
    let request = ListRequest {
        from,
        to,
        limit: parse_count("limit", params.limit.as_deref(), 1000, 1000).map_err(reject)?,
        ..ListRequest::default()
    };
    let hosts = state
        .bridge
        .call(move |client| async move { client.hosts(&request).await })
        .await
        .map_err(reject)?;
    let items: Vec<Value> = hosts
        .into_iter()
        .map(|host| serde_json::to_value(Record::Host(host)).unwrap_or(Value::Null))
        .collect();
    Ok(json_reply(&page(items, None, &[])))
}

/// The status classes of a timeline bucket, in the backend's order.
const CLASSES: [&str; 6] = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

async fn timeline(state: State, params: ListParams) -> Result<Response, Rejection> {
    let mut request = params.list_request(RecordKind::Http).map_err(reject)?;
    let buckets = parse_count(
        "buckets",
        params.buckets.as_deref(),
        DEFAULT_BUCKETS,
        MAX_BUCKETS,
    )
    .map_err(reject)?;
    if params.from.is_none() || params.to.is_none() {
        let (from, to) = match data_extent(&state, &request).await.map_err(reject)? {
            Some(range) => range,
            None => {
                return Ok(json_reply(
                    &json!({"from": null, "to": null, "bucket_ns": null, "buckets": []}),
                ))
            }
        };
        if params.from.is_none() {
            request.from = from;
        }
        if params.to.is_none() {
            request.to = to;
        }
        if request.from >= request.to {
            return Err(reject(ApiError::bad_request("from: must be before to")));
        }
    }
    request.cursor = None;
    let (from, to) = (request.from, request.to);
    let result = state
        .bridge
        .call(move |client| async move { client.http_timeline(&request, buckets).await })
        .await
        .map_err(reject)?;
    let width = result
        .get(1)
        .zip(result.first())
        .map(|(second, first)| second.start - first.start);
    let items: Vec<Value> = result
        .iter()
        .map(|bucket| {
            let by_class: Map<String, Value> = CLASSES
                .iter()
                .zip(bucket.by_class)
                .map(|(name, count)| ((*name).to_owned(), json!(count)))
                .collect();
            json!({"start": bucket.start, "count": bucket.count, "by_class": by_class})
        })
        .collect();
    Ok(json_reply(&json!({
        "from": from,
        "to": to,
        "bucket_ns": width.unwrap_or(to.saturating_sub(from)),
        "buckets": items,
    })))
}

async fn extent(state: State, params: ListParams) -> Result<Response, Rejection> {
    let request = params.list_request(RecordKind::Http).map_err(reject)?;
    let range = data_extent(&state, &request).await.map_err(reject)?;
    Ok(json_reply(&match range {
        Some((from, to)) => json!({"from": from, "to": to}),
        None => json!({"from": null, "to": null}),
    }))
}

/// The range that holds every HTTP exchange of `request` (its time range bounding the search),
/// found by narrowing timelines: each pass keeps the first to the last non-empty bucket, until a
/// pass stops narrowing. `None` when nothing matches. The ends are exact to a thousandth of the span.
async fn data_extent(state: &State, request: &ListRequest) -> Result<Option<(i64, i64)>, ApiError> {
    const BUCKETS: u32 = 1000;
    let (mut from, mut to) = (request.from, request.to);
    for _pass in 0..8 {
        let mut pass = request.clone();
        pass.from = from;
        pass.to = to;
        pass.cursor = None;
        let buckets = state
            .bridge
            .call(move |client| async move { client.http_timeline(&pass, BUCKETS).await })
            .await?;
        let width = match (buckets.first(), buckets.get(1)) {
            (Some(first), Some(second)) => second.start - first.start,
            _ => to - from,
        };
        let first = buckets.iter().find(|bucket| bucket.count > 0);
        let last = buckets.iter().rev().find(|bucket| bucket.count > 0);
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(None);
        };
        let next = (first.start, last.start.saturating_add(width).min(to));
        let narrowed = next.1 - next.0 < (to - from) / 2;
        (from, to) = next;
        if !narrowed || width <= 1_000_000 {
            break;
        }
    }
    Ok(Some((from, to)))
}
