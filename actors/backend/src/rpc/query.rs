//! `QueryService` over this node's shards: fan out, merge by time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;

use spider_model::{HostRecord, HostSource};
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{
    export_request, query_service, record_query, RecordKind as RecordKind2,
};
use spider_rpc_schema::{shard_of, write_host, write_http, write_tcp_session};
use spider_storage::{
    Cursor, HostQuery, HttpQuery, Page, PcapSource, SessionQuery, ShardRequest, ShardResponse,
    StatusCounts, TimeRange, TimelineRequest,
};

/// The most buckets a timeline has.
const MAX_TIMELINE_BUCKETS: u32 = 10_000;

/// Bytes per `ByteSink.write` call of an export.
const EXPORT_CHUNK: usize = 64 * 1024;

use super::failed;
use super::paging::{
    merge, newest_of_shard, virtual_missing, window, write_page, Listed, Merged, Window,
    DEFAULT_LIMIT, MAX_LIMIT,
};
use crate::router::Router;

pub(crate) struct Query {
    router: Router,
}

impl Query {
    pub fn new(router: Router) -> Self {
        Self { router }
    }
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

impl Query {
    /// One page of a listing: every local shard's newest records for `window`, merged.
    async fn list<T: Listed>(
        &self,
        window: &Window,
        request: impl Fn(Option<Cursor>) -> ShardRequest + Copy,
        page_of: impl Fn(ShardResponse) -> Option<Page<T>> + Copy,
    ) -> Result<Merged<T>, capnp::Error> {
        let answers = futures::future::join_all(
            self.router
                .shards
                .iter()
                .map(|shard| newest_of_shard(shard, window.shard_limit, request, page_of)),
        )
        .await;
        merge(answers, window)
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
        let merged = self
            .list(
                &window,
                |cursor| {
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
            .await?;
        let shards = self.router.shards.len();
        write_page!(results.get().init_page(), merged, shards, write_http);
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
        let merged = self
            .list(
                &window,
                |cursor| {
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
            .await?;
        let shards = self.router.shards.len();
        write_page!(results.get().init_page(), merged, shards, write_tcp_session);
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
