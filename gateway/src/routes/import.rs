//! Import: a pcap or pcapng file uploaded through the API becomes a Whisperer of its own.
//!
//! The gateway does what a Whisperer in FILE mode does: it tags every frame with its session
//! (`FrameTagger`), cuts per-virtual-shard batches and pushes them to the backend, then waits for
//! them to be stored.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use spider_backend::client::CapturePush;
use spider_model::{PacketRecord, TcpSessionRecord};
use spider_pcap::CaptureReader;
use spider_pipeline::{FrameTagger, PipelineConfig};
use spider_rpc_schema::shard_of;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{reject, status_json, with_state, State};
use crate::bridge::Bridge;
use crate::error::ApiError;

const FRAMES_PER_BATCH: usize = 2000;
/// The longest an upload may take to be stored.
const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Deserialize)]
struct ImportParams {
    name: Option<String>,
}

/// One batch as a Whisperer sends it.
#[derive(Debug, Default)]
struct Batch {
    shard: u16,
    sequence: u64,
    frames: Vec<PacketRecord>,
    sessions: Vec<TcpSessionRecord>,
}

pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    warp::path!("import")
        .and(warp::post())
        .and(warp::body::content_length_limit(
            state.config.max_body_bytes,
        ))
        .and(with_state(state))
        .and(warp::query::<ImportParams>())
        .and(warp::body::bytes())
        .and_then(import)
        .boxed()
}

/// The Whisperer name of an upload: `upload-` and the name's safe characters.
fn whisperer_name(name: Option<&str>) -> Result<String, ApiError> {
    let name = name.unwrap_or("capture").trim();
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    if safe.is_empty() {
        return Err(ApiError::bad_request(
            "name: use letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(format!("upload-{safe}"))
}

/// The batches of a capture, in sending order.
fn batches_of(body: &Bytes, whisperer: &str) -> Result<(Vec<Batch>, u64), ApiError> {
    let mut reader = CaptureReader::new(std::io::Cursor::new(body.as_ref()))
        .map_err(|error| ApiError::bad_request(format!("not a pcap or pcapng file: {error}")))?;
    let mut tagger = FrameTagger::new(whisperer, PipelineConfig::default());
    let mut pending: BTreeMap<u16, Batch> = BTreeMap::new();
    let mut out = Vec::new();
    let mut frames = 0_u64;
    let take = |shard: u16, batch: &mut Batch, out: &mut Vec<Batch>| {
        batch.sequence += 1;
        out.push(Batch {
            shard,
            sequence: batch.sequence,
            frames: std::mem::take(&mut batch.frames),
            sessions: std::mem::take(&mut batch.sessions),
        });
    };
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(error) if frames > 0 => {
                tracing::warn!(%error, frames, "uploaded capture is damaged: keeping what was read");
                break;
            }
            Err(error) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the capture: {error}"
                )))
            }
        };
        frames += 1;
        let tagged = tagger.tag_record(&record);
        for closed in tagged.closed {
            let shard = shard_of(whisperer, closed.id);
            pending.entry(shard).or_default().sessions.push(closed);
        }
        let shard = shard_of(whisperer, tagged.packet.session_id);
        let entry = pending.entry(shard).or_default();
        entry.frames.push(tagged.packet);
        if entry.frames.len() >= FRAMES_PER_BATCH {
            take(shard, entry, &mut out);
        }
    }
    for closed in tagger.finish() {
        let shard = shard_of(whisperer, closed.id);
        pending.entry(shard).or_default().sessions.push(closed);
    }
    for (shard, entry) in &mut pending {
        if !entry.frames.is_empty() || !entry.sessions.is_empty() {
            take(*shard, entry, &mut out);
        }
    }
    Ok((out, frames))
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub whisperer: String,
    pub frames: u64,
    pub batches: usize,
}

/// Reads a capture file's bytes and pushes it to the backend as the Whisperer `upload-NAME`.
pub async fn import_capture(
    bridge: &Bridge,
    name: &str,
    body: Bytes,
) -> Result<Imported, ApiError> {
    let whisperer = whisperer_name(Some(name))?;
    let tag_name = whisperer.clone();
    let (batches, frames) = tokio::task::spawn_blocking(move || batches_of(&body, &tag_name))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the import task failed",
            )
        })??;
    let incarnation = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_nanos() as u64);
    let agent = whisperer.clone();
    let count = batches.len();
    bridge
        .call_within(IMPORT_TIMEOUT, move |client| async move {
            for batch in &batches {
                client
                    .push_capture(CapturePush {
                        agent: &agent,
                        incarnation,
                        sequence: batch.sequence,
                        shard: batch.shard,
                        whisperer: &agent,
                        frames: &batch.frames,
                        sessions: &batch.sessions,
                        ..CapturePush::default()
                    })
                    .await?;
            }
            client.flush().await
        })
        .await?;
    tracing::info!(%whisperer, frames, batches = count, "capture imported");
    Ok(Imported {
        whisperer,
        frames,
        batches: count,
    })
}

async fn import(state: State, params: ImportParams, body: Bytes) -> Result<Response, Rejection> {
    let imported = import_capture(
        &state.bridge,
        params.name.as_deref().unwrap_or("capture"),
        body,
    )
    .await
    .map_err(reject)?;
    Ok(status_json(
        StatusCode::CREATED,
        &json!({"whisperer": imported.whisperer, "frames": imported.frames, "batches": imported.batches}),
    ))
}
