//! Agents and cluster views: Whisperers (list, settings, start/stop), network usage, the network map.

use serde::Deserialize;
use serde_json::{json, Value};
use spider_backend::client::{UsageGrouping, UsageRequest};
use spider_model::agent::{AgentKind, AgentSettings};
use spider_query::RecordKind;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::export::percent_decode;
use super::{json_reply, reject, with_state, State};
use crate::error::ApiError;
use crate::params::{decode_cursor, encode_cursor, parse_count, ListParams};

/// The largest settings document accepted.
const MAX_SETTINGS_BYTES: u64 = 64 * 1024;

#[derive(Debug, Deserialize)]
struct UsageParams {
    from: Option<String>,
    to: Option<String>,
    group: Option<String>,
    bucket: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunningBody {
    running: bool,
}

pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    let all_agents = warp::path!("agents")
        .and(warp::get())
        .and(with_state(state))
        .and_then(|state| agents(state, None));
    let whisperers = warp::path!("whisperers")
        .and(warp::get())
        .and(with_state(state))
        .and_then(|state| agents(state, Some(AgentKind::Whisperer)));
    let config = warp::path!("whisperers" / String / "config")
        .and(warp::put())
        .and(warp::body::content_length_limit(MAX_SETTINGS_BYTES))
        .and(with_state(state))
        .and(warp::body::json::<Value>())
        .and_then(set_config);
    let running = warp::path!("whisperers" / String / "running")
        .and(warp::put())
        .and(warp::body::content_length_limit(MAX_SETTINGS_BYTES))
        .and(with_state(state))
        .and(warp::body::json::<Value>())
        .and_then(set_running);
    let usage = warp::path!("usage")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<UsageParams>())
        .and_then(usage);
    let network_map = warp::path!("network-map")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(network_map);
    all_agents
        .or(whisperers)
        .unify()
        .or(config)
        .unify()
        .or(running)
        .unify()
        .or(usage)
        .unify()
        .or(network_map)
        .unify()
        .boxed()
}

async fn agents(state: State, kind: Option<AgentKind>) -> Result<Response, Rejection> {
    let agents = state
        .bridge
        .call(|client| async move { client.agents().await })
        .await
        .map_err(reject)?;
    let items: Vec<Value> = agents
        .into_iter()
        .filter(|agent| kind.is_none_or(|kind| agent.info.kind == kind))
        .map(|agent| serde_json::to_value(agent).unwrap_or(Value::Null))
        .collect();
    Ok(json_reply(&json!({ "items": items })))
}

async fn set_config(name: String, state: State, body: Value) -> Result<Response, Rejection> {
    let name = percent_decode(&name);
    // Accept the settings alone or as `{"settings": …}` (an exported config).
    let settings = body.get("settings").cloned().unwrap_or(body);
    let settings: AgentSettings = serde_json::from_value(settings)
        .map_err(|error| reject(ApiError::bad_request(format!("invalid settings: {error}"))))?;
    if let AgentSettings::Whisperer(whisperer) = &settings {
        if let Some(filter) = &whisperer.filter {
            if filter.len() > 4096 {
                return Err(reject(ApiError::bad_request(
                    "filter: longer than 4096 bytes",
                )));
            }
        }
        if whisperer.cpu_budget < 0.0 || whisperer.cpu_budget > 100.0 {
            return Err(reject(ApiError::bad_request(
                "cpu_budget: a percentage from 0 to 100",
            )));
        }
    }
    let wanted = name.clone();
    let ack = state
        .bridge
        .call(move |client| async move {
            if !client
                .agents()
                .await?
                .iter()
                .any(|agent| agent.info.name == name)
            {
                return Ok(None);
            }
            client.set_agent_config(&name, settings).await.map(Some)
        })
        .await
        .map_err(reject)?
        .ok_or_else(|| reject(ApiError::not_found(format!("no agent is named {wanted:?}"))))?;
    Ok(json_reply(&ack))
}

async fn set_running(name: String, state: State, body: Value) -> Result<Response, Rejection> {
    let name = percent_decode(&name);
    let body: RunningBody = serde_json::from_value(body).map_err(|error| {
        reject(ApiError::bad_request(format!(
            "expected {{\"running\": bool}}: {error}"
        )))
    })?;
    let running = body.running;
    let wanted = name.clone();
    state
        .bridge
        .call(move |client| async move {
            if !client
                .agents()
                .await?
                .iter()
                .any(|agent| agent.info.name == name)
            {
                return Ok(None);
            }
            client.set_agent_running(&name, running).await.map(Some)
        })
        .await
        .map_err(reject)?
        .ok_or_else(|| reject(ApiError::not_found(format!("no agent is named {wanted:?}"))))?;
    Ok(json_reply(&json!({ "running": running })))
}

fn grouping(text: Option<&str>) -> Result<UsageGrouping, ApiError> {
    Ok(match text.unwrap_or("connection") {
        "connection" => UsageGrouping::Connection,
        "ip" => UsageGrouping::Ip,
        "workload" => UsageGrouping::Workload,
        "namespace" => UsageGrouping::Namespace,
        "pod" => UsageGrouping::Pod,
        "node" => UsageGrouping::Node,
        other => {
            return Err(ApiError::bad_request(format!(
                "group: expected connection, ip, workload, namespace, pod or node, got {other:?}"
            )))
        }
    })
}

async fn usage(state: State, params: UsageParams) -> Result<Response, Rejection> {
    let range = ListParams {
        from: params.from.clone(),
        to: params.to.clone(),
        ..ListParams::default()
    };
    let (from, to) = range.range().map_err(reject)?;
    let bucket = match params.bucket.as_deref() {
        None | Some("") => 60_000_000_000,
        Some(text) => match text.parse::<i64>() {
            Ok(seconds) if (60..=86_400 * 31).contains(&seconds) => seconds * 1_000_000_000,
            _ => {
                return Err(reject(ApiError::bad_request(
                    "bucket: seconds from 60 to 2678400",
                )))
            }
        },
    };
    let request = UsageRequest {
        from,
        to,
        grouping: grouping(params.group.as_deref()).map_err(reject)?,
        bucket,
        limit: parse_count("limit", params.limit.as_deref(), 1000, 10_000).map_err(reject)?,
        cursor: params
            .cursor
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(decode_cursor)
            .transpose()
            .map_err(reject)?,
    };
    let (rows, next) = state
        .bridge
        .call(move |client| async move { client.usage(&request).await })
        .await
        .map_err(reject)?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "minute": row.bucket,
                "src": row.src,
                "dst": row.dst,
                "proto": row.proto,
                "port": row.port,
                "bytes": row.bytes,
                "messages": row.messages,
                "wire_bytes": row.wire_bytes,
                "packets": row.packets,
                "src_workload": row.src_workload,
                "dst_workload": row.dst_workload,
            })
        })
        .collect();
    Ok(json_reply(&json!({
        "items": items,
        "next": next.as_deref().map(encode_cursor),
    })))
}

async fn network_map(state: State, params: ListParams) -> Result<Response, Rejection> {
    let mut request = params.list_request(RecordKind::Http).map_err(reject)?;
    request.cursor = None;
    let map = state
        .bridge
        .call(move |client| async move { client.network_map(&request).await })
        .await
        .map_err(reject)?;
    let nodes: Vec<Value> = map
        .nodes
        .iter()
        .map(|node| {
            json!({
                "ip": node.ip.to_string(),
                "names": node.names,
                "requests_out": node.requests_out,
                "requests_in": node.requests_in,
            })
        })
        .collect();
    let edges: Vec<Value> = map
        .edges
        .iter()
        .map(|edge| {
            json!({
                "client": edge.client.to_string(),
                "server": edge.server.to_string(),
                "requests": edge.requests,
                "client_errors": edge.client_errors,
                "server_errors": edge.server_errors,
                "no_response": edge.no_response,
                "latency_mean_ns": edge.latency_sum_ns.checked_div(edge.latency_samples),
            })
        })
        .collect();
    Ok(json_reply(&json!({
        "nodes": nodes,
        "edges": edges,
        "missing_shards": map.missing_shards,
    })))
}
