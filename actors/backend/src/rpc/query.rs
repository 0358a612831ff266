//! `QueryService` over this node's shards: fan out, merge by time.

use std::rc::Rc;

use spider_model::HttpExchange;
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{export_request, query_service, record_query};
use spider_rpc_schema::{shard_of, write_http};
use spider_storage::{HttpQuery, PcapSource, ShardRequest, ShardResponse, Stored, TimeRange};

/// Bytes per `ByteSink.write` call of an export.
const EXPORT_CHUNK: usize = 64 * 1024;

use super::failed;
use crate::router::Router;

/// Items per page when the query names no limit, and the most a page holds.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub(crate) struct Query {
    router: Router,
}

impl Query {
    pub fn new(router: Router) -> Self {
        Self { router }
    }
}

/// Where a page ends: the time of its last item, and how many items of that same time it held
/// (items of one time are ordered by whisperer, session and index, so they can be skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageEnd {
    time: i64,
    seen_at_time: u32,
}

impl PageEnd {
    fn encode(self) -> Vec<u8> {
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&self.seen_at_time.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, capnp::Error> {
        let time = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
        let seen = bytes.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok());
        match (time, seen, bytes.len()) {
            (Some(time), Some(seen), 12) => Ok(Self {
                time: i64::from_be_bytes(time),
                seen_at_time: u32::from_be_bytes(seen),
            }),
            _ => Err(failed("invalid cursor")),
        }
    }
}

fn time_of(item: &Stored<HttpExchange>) -> i64 {
    item.record.timing.request_start
}

fn newest_first(a: &Stored<HttpExchange>, b: &Stored<HttpExchange>) -> std::cmp::Ordering {
    let key = |x: &Stored<HttpExchange>| {
        (
            std::cmp::Reverse(x.record.timing.request_start),
            x.whisperer.clone(),
            x.record.session_id,
            x.record.index,
        )
    };
    key(a).cmp(&key(b))
}

/// The storage query a `RecordQuery` asks for, and where the previous page ended.
fn http_query(
    query: record_query::Reader<'_>,
) -> Result<(HttpQuery, Option<PageEnd>), capnp::Error> {
    let range = query.get_range()?;
    let limit = match query.get_limit() {
        0 => DEFAULT_LIMIT,
        limit => (limit as usize).min(MAX_LIMIT),
    };
    let end = if query.has_cursor() {
        Some(PageEnd::decode(query.get_cursor()?)?)
    } else {
        None
    };
    let to = match end {
        Some(end) => range.get_to().min(end.time.saturating_add(1)),
        None => range.get_to(),
    };
    let mut storage = HttpQuery::new(
        TimeRange {
            from: range.get_from(),
            to,
        },
        limit + end.map_or(0, |end| end.seen_at_time as usize),
    );
    for whisperer in query.get_whisperers()? {
        storage.whisperers.push(whisperer?.to_str()?.to_owned());
    }
    if query.has_q() {
        let text = query.get_q()?.to_str()?;
        if !text.trim().is_empty() {
            storage.query = Some(spider_query::parse(text, RecordKind::Http).map_err(failed)?);
        }
    }
    Ok((storage, end))
}

enum ShardFailure {
    Storage(spider_storage::StorageError),
    /// The shard did not answer (its actor is gone): the page says so instead of failing.
    Gone,
}

/// A shard's newest `query.limit` matching exchanges, following its own pages (a shard may
/// return a short page, filters applied after the scan, with more behind it), and whether it
/// has more.
async fn newest_of_shard(
    shard: &actix::Addr<spider_storage::ShardActor>,
    mut query: HttpQuery,
) -> Result<(Vec<Stored<HttpExchange>>, bool), ShardFailure> {
    let wanted = query.limit;
    let mut found = Vec::new();
    loop {
        let page = match shard.send(ShardRequest::QueryHttp(query.clone())).await {
            Ok(Ok(ShardResponse::Http(page))) => page,
            Ok(Err(error)) => return Err(ShardFailure::Storage(error)),
            Ok(Ok(_)) | Err(_) => return Err(ShardFailure::Gone),
        };
        found.extend(page.items);
        // Past `wanted`, exchanges of the same time as the last wanted one still count: pages
        // are cut by (time, position in the time), and that order must see whole groups.
        let boundary = found.get(wanted.saturating_sub(1)).map(time_of);
        let group_open = boundary.is_some_and(|time| found.last().map(time_of) == Some(time));
        match page.next {
            Some(next) if found.len() < wanted || group_open => query.cursor = Some(next),
            next => return Ok((found, next.is_some())),
        }
    }
}

impl query_service::Server for Query {
    async fn http(
        self: Rc<Self>,
        params: query_service::HttpParams,
        mut results: query_service::HttpResults,
    ) -> Result<(), capnp::Error> {
        let (storage, end) = http_query(params.get()?.get_query()?)?;
        let limit = storage.limit - end.map_or(0, |end| end.seen_at_time as usize);
        let mut items = Vec::new();
        let mut missing = Vec::new();
        let mut shard_has_more = false;
        let answers = futures::future::join_all(
            self.router
                .shards
                .iter()
                .map(|shard| newest_of_shard(shard, storage.clone())),
        )
        .await;
        for (local, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok((found, more)) => {
                    items.extend(found);
                    shard_has_more |= more;
                }
                Err(ShardFailure::Storage(error)) => return Err(failed(error)),
                Err(ShardFailure::Gone) => missing.push(local),
            }
        }
        items.sort_by(newest_first);
        if let Some(end) = end {
            let mut skipped = 0;
            items.retain(|item| {
                let at_end = item.record.timing.request_start == end.time;
                let skip = at_end && skipped < end.seen_at_time;
                skipped += u32::from(skip);
                !skip
            });
        }
        let more = items.len() > limit || shard_has_more;
        items.truncate(limit);
        let mut page = results.get().init_page();
        if more {
            if let Some(last) = items.last() {
                let time = last.record.timing.request_start;
                let at_time = items
                    .iter()
                    .filter(|item| item.record.timing.request_start == time)
                    .count() as u32;
                let carried = end
                    .filter(|end| end.time == time)
                    .map_or(0, |end| end.seen_at_time);
                page.set_next(
                    &PageEnd {
                        time,
                        seen_at_time: at_time + carried,
                    }
                    .encode(),
                );
            }
        }
        let len = u32::try_from(items.len()).map_err(failed)?;
        let mut list = page.reborrow().init_items(len);
        for (index, item) in (0..len).zip(&items) {
            let mut builder = list.reborrow().get(index);
            write_http(builder.reborrow(), &item.record).map_err(failed)?;
            builder.set_whisperer(&item.whisperer);
        }
        // Local shards map onto virtual shards v % K; name every virtual shard a lost one served.
        let shards = self.router.shards.len();
        let virtual_missing: Vec<u16> = (0..spider_rpc_schema::VIRTUAL_SHARDS)
            .filter(|v| missing.contains(&(usize::from(*v) % shards)))
            .collect();
        let mut list =
            page.init_missing_shards(u32::try_from(virtual_missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(virtual_missing) {
            list.set(index, shard);
        }
        Ok(())
    }

    async fn export_pcapng(
        self: Rc<Self>,
        params: query_service::ExportPcapngParams,
        mut results: query_service::ExportPcapngResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let sink = params.get_sink()?;
        let session = match params.get_request()?.which()? {
            export_request::Session(session) => session?,
            export_request::Query(_) => {
                return Err(failed(
                    "export by query is not available yet: export the sessions it finds",
                ))
            }
        };
        let whisperer = session.get_whisperer()?.to_str()?.to_owned();
        let session_id = session.get_session_id();
        let shard = &self.router.shards[self.router.local(shard_of(&whisperer, session_id))];
        let export = match shard
            .send(ShardRequest::ExportPcap(PcapSource::Session {
                whisperer,
                session_id,
            }))
            .await
        {
            Ok(Ok(ShardResponse::Pcap(export))) => export,
            Ok(Err(error)) => return Err(failed(error)),
            _ => return Err(failed("the shard holding this session did not answer")),
        };
        for chunk in export.bytes.chunks(EXPORT_CHUNK) {
            let mut write = sink.write_request();
            write.get().set_chunk(chunk);
            write.send().await?;
        }
        let mut summary = results.get().init_summary();
        summary.set_packets(export.packets);
        summary.set_bytes(export.bytes.len() as u64);
        summary.set_truncated(export.truncated);
        Ok(())
    }
}
