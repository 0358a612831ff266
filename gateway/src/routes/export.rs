//! Downloads: a TCP session as pcapng, HTTP exchanges as HAR.

use serde_json::Value;
use spider_backend::client::ExportTarget;
use spider_query::RecordKind;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{reject, with_state, State};
use crate::error::ApiError;
use crate::params::{parse_count, ListParams};

/// The most exchanges one HAR holds.
const MAX_HAR_ENTRIES: u32 = 10_000;

pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    let pcapng = warp::path!("sessions" / String / String / "pcapng")
        .and(warp::get())
        .and(with_state(state))
        .and_then(session_pcapng);
    let har = warp::path!("http" / "har")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(har);
    let selection = warp::path!("http" / "pcapng")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<ListParams>())
        .and_then(selection_pcapng);
    pcapng.or(har).unify().or(selection).unify().boxed()
}

fn attachment(body: Vec<u8>, content_type: &str, filename: &str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    if let Ok(value) = content_type.parse() {
        headers.insert("content-type", value);
    }
    if let Ok(value) = format!("attachment; filename=\"{filename}\"").parse() {
        headers.insert("content-disposition", value);
    }
    response
}

/// A safe file name piece.
fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

async fn session_pcapng(
    whisperer: String,
    id: String,
    state: State,
) -> Result<Response, Rejection> {
    let whisperer = percent_decode(&whisperer);
    let session_id: u64 = id.parse().map_err(|_| {
        reject(ApiError::bad_request(format!(
            "session id: expected an integer, got {id:?}"
        )))
    })?;
    let name = format!("{}-session-{session_id}.pcapng", file_part(&whisperer));
    let export = state
        .bridge
        .call(move |client| async move { client.export_session(&whisperer, session_id).await })
        .await
        .map_err(reject)?;
    if export.packets == 0 {
        return Err(reject(ApiError::not_found(format!(
            "no packets stored for session {session_id}"
        ))));
    }
    let mut response = attachment(export.pcapng, "application/x-pcapng", &name);
    if let Ok(value) = export.packets.to_string().parse() {
        response.headers_mut().insert("x-spider-packets", value);
    }
    if export.truncated {
        response.headers_mut().insert(
            "x-spider-truncated",
            warp::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The most bytes one selection export writes.
const MAX_EXPORT_BYTES: u64 = 256 * 1024 * 1024;

async fn selection_pcapng(state: State, params: ListParams) -> Result<Response, Rejection> {
    let mut request = params.list_request(RecordKind::Http).map_err(reject)?;
    request.cursor = None;
    let export = state
        .bridge
        .call(move |client| async move {
            client
                .export(&ExportTarget::Query(request), MAX_EXPORT_BYTES)
                .await
        })
        .await
        .map_err(reject)?;
    if export.packets == 0 {
        return Err(reject(ApiError::not_found(
            "no packets match this selection",
        )));
    }
    let mut response = attachment(
        export.pcapng,
        "application/x-pcapng",
        "spider-selection.pcapng",
    );
    if let Ok(value) = export.packets.to_string().parse() {
        response.headers_mut().insert("x-spider-packets", value);
    }
    Ok(response)
}

async fn har(state: State, params: ListParams) -> Result<Response, Rejection> {
    let mut request = ListParams {
        limit: None,
        ..params.clone()
    }
    .list_request(RecordKind::Http)
    .map_err(reject)?;
    let max =
        parse_count("limit", params.limit.as_deref(), 1000, MAX_HAR_ENTRIES).map_err(reject)?;
    request.limit = max.min(crate::params::MAX_LIMIT);
    let exchanges = state
        .bridge
        .call(move |client| async move {
            let mut out = Vec::new();
            loop {
                let page = client.http(&request).await?;
                out.extend(page.items);
                match page.next {
                    Some(next) if out.len() < max as usize => request.cursor = Some(next),
                    _ => break,
                }
            }
            out.truncate(max as usize);
            Ok(out)
        })
        .await
        .map_err(reject)?;
    let document: Value = crate::har::document(&exchanges);
    let body = serde_json::to_vec(&document).map_err(|error| {
        reject(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        ))
    })?;
    Ok(attachment(body, "application/json", "spider.har").into_response())
}

/// `%xx` escapes of a path segment decoded (invalid ones kept as they are).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            if let Some(value) = bytes
                .get(index + 1..index + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
