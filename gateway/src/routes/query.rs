//! The query language for the search box: completion, validation and the fields of each kind,
//! from the one grammar (`spider-query`) the backend runs.

use serde::Deserialize;
use serde_json::{json, Value};
use spider_query::{CompletionKind, RecordKind};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use super::{json_reply, reject};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
struct QueryParams {
    q: Option<String>,
    kind: Option<String>,
    cursor: Option<String>,
}

fn kind_of(text: Option<&str>) -> Result<RecordKind, ApiError> {
    match text.unwrap_or("http") {
        "http" => Ok(RecordKind::Http),
        "tcp_session" | "sessions" | "session" => Ok(RecordKind::TcpSession),
        "host" | "hosts" => Ok(RecordKind::Host),
        other => Err(ApiError::bad_request(format!(
            "kind: expected http, tcp_session or host, got {other:?}"
        ))),
    }
}

fn check_length(q: &str) -> Result<(), ApiError> {
    if q.len() > spider_query::MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!(
            "q: longer than {} bytes",
            spider_query::MAX_QUERY_BYTES
        )));
    }
    Ok(())
}

pub fn routes() -> BoxedFilter<(Response,)> {
    let complete = warp::path!("query" / "complete")
        .and(warp::get())
        .and(warp::query::<QueryParams>())
        .and_then(|params: QueryParams| async move { complete(params).map_err(reject) });
    let validate = warp::path!("query" / "validate")
        .and(warp::get())
        .and(warp::query::<QueryParams>())
        .and_then(|params: QueryParams| async move { validate(params).map_err(reject) });
    let fields = warp::path!("query" / "fields")
        .and(warp::get())
        .and(warp::query::<QueryParams>())
        .and_then(|params: QueryParams| async move { fields(params).map_err(reject) });
    complete.or(validate).unify().or(fields).unify().boxed()
}

fn complete(params: QueryParams) -> Result<Response, ApiError> {
    let kind = kind_of(params.kind.as_deref())?;
    let q = params.q.unwrap_or_default();
    check_length(&q)?;
    let chars = q.chars().count();
    let cursor = match params.cursor.as_deref() {
        None | Some("") => chars,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| {
                ApiError::bad_request(format!("cursor: expected a character index, got {text:?}"))
            })?
            .min(chars),
    };
    let items: Vec<Value> = spider_query::complete(&q, cursor, kind)
        .into_iter()
        .map(|completion| {
            json!({
                "text": completion.text,
                "detail": completion.detail,
                "kind": match completion.kind {
                    CompletionKind::Field => "field",
                    CompletionKind::Value => "value",
                    CompletionKind::Operator => "operator",
                },
                "replace": [completion.replace.start, completion.replace.end],
            })
        })
        .collect();
    Ok(json_reply(&json!({ "items": items })))
}

fn validate(params: QueryParams) -> Result<Response, ApiError> {
    let kind = kind_of(params.kind.as_deref())?;
    let q = params.q.unwrap_or_default();
    check_length(&q)?;
    if q.trim().is_empty() {
        return Ok(json_reply(&json!({"valid": true, "canonical": ""})));
    }
    Ok(json_reply(&match spider_query::parse(&q, kind) {
        Ok(query) => json!({"valid": true, "canonical": query.to_string()}),
        Err(error) => json!({
            "valid": false,
            "error": {
                "code": "invalid_query",
                "message": error.message,
                "column": error.column,
                "span": [error.span.start, error.span.end],
            }
        }),
    }))
}

fn fields(params: QueryParams) -> Result<Response, ApiError> {
    let kind = kind_of(params.kind.as_deref())?;
    let items: Vec<Value> = spider_query::fields(kind)
        .iter()
        .map(|spec| {
            json!({
                "name": spec.name,
                "type": spec.ty.as_str(),
                "doc": spec.doc,
                "values": spec.values,
                "closed": spec.closed,
            })
        })
        .collect();
    Ok(json_reply(
        &json!({ "kind": kind.as_str(), "items": items }),
    ))
}
