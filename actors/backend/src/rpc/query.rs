//! `QueryService` over this node's shards: fan out, merge by time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;

use spider_model::{HostRecord, HostSource, HttpExchange, TcpSessionRecord};
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{
    export_request, query_service, record_query, RecordKind as RecordKind2,
};
use spider_rpc_schema::{shard_of, write_host, write_http, write_tcp_session};
use spider_storage::{
    Cursor, HostQuery, HttpQuery, Page, PcapSource, SessionQuery, ShardRequest, ShardResponse,
    StatusCounts, Stored, TimeRange, TimelineRequest,
};

/// The most buckets a timeline has.
const MAX_TIMELINE_BUCKETS: u32 = 10_000;

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

/// A record listed newest first: its time, and what orders records of the same time.
trait Listed {
    fn time(&self) -> i64;
    fn tie(&self) -> (&str, u64, u32);
}

impl Listed for Stored<HttpExchange> {
    fn time(&self) -> i64 {
        self.record.timing.request_start
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, self.record.session_id, self.record.index)
    }
}

impl Listed for Stored<TcpSessionRecord> {
    fn time(&self) -> i64 {
        self.record.first_packet
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, self.record.id, 0)
    }
}

fn newest_first<T: Listed>(a: &T, b: &T) -> std::cmp::Ordering {
    (std::cmp::Reverse(a.time()), a.tie()).cmp(&(std::cmp::Reverse(b.time()), b.tie()))
}

/// The window of one page: the range narrowed to the previous page's end, how many records to
/// ask each shard for, and how many the page holds.
struct Window {
    range: TimeRange,
    shard_limit: usize,
    limit: usize,
    end: Option<PageEnd>,
}

fn window(query: record_query::Reader<'_>) -> Result<Window, capnp::Error> {
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
    Ok(Window {
        range: TimeRange {
            from: range.get_from(),
            to,
        },
        shard_limit: limit + end.map_or(0, |end| end.seen_at_time as usize),
        limit,
        end,
    })
}

fn whisperers_of(query: record_query::Reader<'_>) -> Result<Vec<String>, capnp::Error> {
    let mut out = Vec::new();
    for whisperer in query.get_whisperers()? {
        out.push(whisperer?.to_str()?.to_owned());
    }
    Ok(out)
}

fn parsed_q(
    query: record_query::Reader<'_>,
    kind: RecordKind,
) -> Result<Option<spider_query::Query>, capnp::Error> {
    if !query.has_q() {
        return Ok(None);
    }
    let text = query.get_q()?.to_str()?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    spider_query::parse(text, kind).map(Some).map_err(failed)
}

/// One page of the merge of every shard's newest records: sorted, the previous pages' records of
/// the boundary time skipped, cut at the limit, with the cursor of the next page.
struct Merged<T> {
    items: Vec<T>,
    next: Option<PageEnd>,
    missing_local: Vec<usize>,
}

fn merge<T: Listed>(
    answers: Vec<Result<(Vec<T>, bool), ShardFailure>>,
    window: &Window,
) -> Result<Merged<T>, capnp::Error> {
    let mut items = Vec::new();
    let mut missing_local = Vec::new();
    let mut shard_has_more = false;
    for (local, answer) in answers.into_iter().enumerate() {
        match answer {
            Ok((found, more)) => {
                items.extend(found);
                shard_has_more |= more;
            }
            Err(ShardFailure::Storage(error)) => return Err(failed(error)),
            Err(ShardFailure::Gone) => missing_local.push(local),
        }
    }
    items.sort_by(newest_first);
    if let Some(end) = window.end {
        let mut skipped = 0;
        items.retain(|item| {
            let skip = item.time() == end.time && skipped < end.seen_at_time;
            skipped += u32::from(skip);
            !skip
        });
    }
    let more = items.len() > window.limit || shard_has_more;
    items.truncate(window.limit);
    let next = match items.last() {
        Some(last) if more => {
            let time = last.time();
            let at_time = items.iter().filter(|item| item.time() == time).count() as u32;
            let carried = window
                .end
                .filter(|end| end.time == time)
                .map_or(0, |end| end.seen_at_time);
            Some(PageEnd {
                time,
                seen_at_time: at_time + carried,
            })
        }
        _ => None,
    };
    Ok(Merged {
        items,
        next,
        missing_local,
    })
}

/// The virtual shards that the local shards in `missing_local` serve.
fn virtual_missing(missing_local: &[usize], local_shards: usize) -> Vec<u16> {
    (0..spider_rpc_schema::VIRTUAL_SHARDS)
        .filter(|v| missing_local.contains(&(usize::from(*v) % local_shards.max(1))))
        .collect()
}

enum ShardFailure {
    Storage(spider_storage::StorageError),
    /// The shard did not answer (its actor is gone): the page says so instead of failing.
    Gone,
}

/// A shard's newest `wanted` matching records, following its own pages (a shard may return a
/// short page, filters applied after the scan, with more behind it) and whole groups of the same
/// time past `wanted`; and whether it has more.
async fn newest_of_shard<T: Listed>(
    shard: &actix::Addr<spider_storage::ShardActor>,
    wanted: usize,
    request: impl Fn(Option<Cursor>) -> ShardRequest,
    page_of: impl Fn(ShardResponse) -> Option<Page<T>>,
) -> Result<(Vec<T>, bool), ShardFailure> {
    let mut found: Vec<T> = Vec::new();
    let mut cursor = None;
    loop {
        let page = match shard.send(request(cursor.take())).await {
            Ok(Ok(response)) => page_of(response).ok_or(ShardFailure::Gone)?,
            Ok(Err(error)) => return Err(ShardFailure::Storage(error)),
            Err(_) => return Err(ShardFailure::Gone),
        };
        found.extend(page.items);
        let boundary = found.get(wanted.saturating_sub(1)).map(Listed::time);
        let group_open = boundary.is_some_and(|time| found.last().map(Listed::time) == Some(time));
        match page.next {
            Some(next) if found.len() < wanted || group_open => cursor = Some(next),
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
        let query = params.get()?.get_query()?;
        let window = window(query)?;
        let mut storage = HttpQuery::new(window.range, window.shard_limit);
        storage.whisperers = whisperers_of(query)?;
        storage.query = parsed_q(query, RecordKind::Http)?;
        let answers = futures::future::join_all(self.router.shards.iter().map(|shard| {
            let storage = &storage;
            newest_of_shard(
                shard,
                window.shard_limit,
                move |cursor| {
                    ShardRequest::QueryHttp(HttpQuery {
                        cursor,
                        ..storage.clone()
                    })
                },
                |response| match response {
                    ShardResponse::Http(page) => Some(page),
                    _ => None,
                },
            )
        }))
        .await;
        let merged = merge(answers, &window)?;
        let mut page = results.get().init_page();
        if let Some(next) = merged.next {
            page.set_next(&next.encode());
        }
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(merged.items.len()).map_err(failed)?);
        for (index, item) in (0..).zip(&merged.items) {
            let mut builder = list.reborrow().get(index);
            write_http(builder.reborrow(), &item.record).map_err(failed)?;
            builder.set_whisperer(&item.whisperer);
        }
        let missing = virtual_missing(&merged.missing_local, self.router.shards.len());
        let mut list = page.init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing) {
            list.set(index, shard);
        }
        Ok(())
    }

    async fn sessions(
        self: Rc<Self>,
        params: query_service::SessionsParams,
        mut results: query_service::SessionsResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let window = window(query)?;
        let storage = SessionQuery {
            range: window.range,
            whisperers: whisperers_of(query)?,
            query: parsed_q(query, RecordKind::TcpSession)?,
            limit: window.shard_limit,
            cursor: None,
        };
        let answers = futures::future::join_all(self.router.shards.iter().map(|shard| {
            let storage = &storage;
            newest_of_shard(
                shard,
                window.shard_limit,
                move |cursor| {
                    ShardRequest::QuerySessions(SessionQuery {
                        cursor,
                        ..storage.clone()
                    })
                },
                |response| match response {
                    ShardResponse::Sessions(page) => Some(page),
                    _ => None,
                },
            )
        }))
        .await;
        let merged = merge(answers, &window)?;
        let mut page = results.get().init_page();
        if let Some(next) = merged.next {
            page.set_next(&next.encode());
        }
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(merged.items.len()).map_err(failed)?);
        for (index, item) in (0..).zip(&merged.items) {
            let mut builder = list.reborrow().get(index);
            write_tcp_session(builder.reborrow(), &item.record).map_err(failed)?;
            builder.set_whisperer(&item.whisperer);
        }
        let missing = virtual_missing(&merged.missing_local, self.router.shards.len());
        let mut list = page.init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing) {
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

    async fn timeline(
        self: Rc<Self>,
        params: query_service::TimelineParams,
        mut results: query_service::TimelineResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        if params.get_kind()? != RecordKind2::Http {
            return Err(failed(
                "a timeline of this record kind is not available yet: use http",
            ));
        }
        let query = params.get_query()?;
        let range = query.get_range()?;
        let (from, to) = (range.get_from(), range.get_to());
        let buckets = i128::from(params.get_buckets().clamp(1, MAX_TIMELINE_BUCKETS));
        let span = i128::from(to) - i128::from(from);
        if span <= 0 {
            return Err(failed("a timeline needs a non-empty range"));
        }
        let width = i64::try_from((span + buckets - 1) / buckets).map_err(failed)?;
        let request = TimelineRequest {
            range: TimeRange { from, to },
            bucket_ns: width,
            whisperers: whisperers_of(query)?,
            query: parsed_q(query, RecordKind::Http)?,
        };
        let answers = futures::future::join_all(
            self.router
                .shards
                .iter()
                .map(|shard| shard.send(ShardRequest::Timeline(request.clone()))),
        )
        .await;
        let mut sums = vec![StatusCounts::default(); buckets as usize];
        let mut missing_local = Vec::new();
        for (local, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok(Ok(ShardResponse::Timeline(timeline))) => {
                    for (sum, bucket) in sums.iter_mut().zip(&timeline.buckets) {
                        add_counts(sum, &bucket.counts);
                    }
                }
                Ok(Err(error)) => return Err(failed(error)),
                _ => missing_local.push(local),
            }
        }
        let mut timeline = results.get().init_timeline();
        let mut list = timeline
            .reborrow()
            .init_buckets(u32::try_from(sums.len()).map_err(failed)?);
        for (index, counts) in (0..).zip(&sums) {
            let mut bucket = list.reborrow().get(index);
            bucket.set_start(from.saturating_add(width.saturating_mul(i64::from(index))));
            bucket.set_count(counts.total());
            let mut by_status = bucket.init_by_status();
            by_status.set_no_response(counts.none);
            by_status.set_informational(counts.informational);
            by_status.set_success(counts.success);
            by_status.set_redirection(counts.redirection);
            by_status.set_client_error(counts.client_error);
            by_status.set_server_error(counts.server_error);
        }
        let missing = virtual_missing(&missing_local, self.router.shards.len());
        let mut list = timeline.init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing) {
            list.set(index, shard);
        }
        Ok(())
    }

    async fn hosts(
        self: Rc<Self>,
        params: query_service::HostsParams,
        mut results: query_service::HostsResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let range = query.get_range()?;
        let limit = match query.get_limit() {
            0 => DEFAULT_LIMIT,
            limit => (limit as usize).min(MAX_LIMIT),
        };
        let request = HostQuery {
            range: TimeRange {
                from: range.get_from(),
                to: range.get_to(),
            },
            query: parsed_q(query, RecordKind::Host)?,
            limit,
        };
        let answers = futures::future::join_all(
            self.router
                .shards
                .iter()
                .map(|shard| shard.send(ShardRequest::QueryHosts(request.clone()))),
        )
        .await;
        let mut hosts: BTreeMap<(IpAddr, String, HostSource), HostRecord> = BTreeMap::new();
        let mut missing_local = Vec::new();
        for (local, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok(Ok(ShardResponse::Hosts(found))) => {
                    for host in found {
                        let key = (host.ip, host.name.clone(), host.source);
                        hosts
                            .entry(key)
                            .and_modify(|known| {
                                known.first_seen = known.first_seen.min(host.first_seen);
                                known.last_seen = known.last_seen.max(host.last_seen);
                            })
                            .or_insert(host);
                    }
                }
                Ok(Err(error)) => return Err(failed(error)),
                _ => missing_local.push(local),
            }
        }
        let mut page = results.get().init_page();
        let count = hosts.len().min(limit);
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(count).map_err(failed)?);
        for (index, host) in (0..).zip(hosts.values().take(limit)) {
            write_host(list.reborrow().get(index), host).map_err(failed)?;
        }
        let missing = virtual_missing(&missing_local, self.router.shards.len());
        let mut list = page.init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing) {
            list.set(index, shard);
        }
        Ok(())
    }
}

fn add_counts(sum: &mut StatusCounts, more: &StatusCounts) {
    sum.informational += more.informational;
    sum.success += more.success;
    sum.redirection += more.redirection;
    sum.client_error += more.client_error;
    sum.server_error += more.server_error;
    sum.none += more.none;
}
