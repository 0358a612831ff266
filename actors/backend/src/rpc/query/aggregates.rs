//! The aggregates: the HTTP timeline (counts per bucket and status class), the network map
//! (who calls whom), and per-minute usage grouped at a level. Shards' answers add up.

use std::collections::BTreeMap;
use std::net::IpAddr;

use spider_model::WorkloadRef;
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{
    query_service, usage_group, RecordKind as WireKind, UsageGrouping,
};
use spider_rpc_schema::{ip_octets, write_workload_ref};
use spider_storage::{
    MapEdge, MapNode, MapRequest, ShardRequest, ShardResponse, StatusCounts, TimeRange,
    TimelineRequest, UsageLevel, UsageRequest, UsageRow,
};

use crate::stats::Clamp;

use super::super::failed;
use super::{parsed_q, write_missing, Query};

/// The most buckets a timeline has.
const MAX_TIMELINE_BUCKETS: u32 = 10_000;

/// Usage rows per answer by default, and at most.
const DEFAULT_USAGE_ROWS: usize = 10_000;
const MAX_USAGE_ROWS: usize = 100_000;

const SECOND_NS: i64 = 1_000_000_000;
const MINUTE_NS: i64 = 60 * SECOND_NS;

impl Query {
    pub(super) async fn http_timeline(
        &self,
        params: query_service::TimelineParams,
        mut results: query_service::TimelineResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        if params.get_kind()? != WireKind::Http {
            return Err(failed(
                "a timeline of this record kind is not available yet: use http",
            ));
        }
        let query = params.get_query()?;
        let range = query.get_range()?;
        let (mut from, to) = (range.get_from(), range.get_to());
        if params.get_buckets() > MAX_TIMELINE_BUCKETS {
            self.router.stats.clamped(Clamp::TimelineBuckets);
        }
        let buckets = i128::from(params.get_buckets().clamp(1, MAX_TIMELINE_BUCKETS));
        let span = i128::from(to) - i128::from(from);
        if span <= 0 {
            return Err(failed("a timeline needs a non-empty range"));
        }
        let mut width = i64::try_from((span + buckets - 1) / buckets).map_err(failed)?;
        // Buckets of whole seconds from a whole second are counted on the shards' rollups
        // (a few rows per second) instead of every exchange: the first bucket then starts up
        // to a second before the range.
        if width >= SECOND_NS {
            let second = i128::from(SECOND_NS);
            let aligned = i128::from(from).div_euclid(second) * second;
            let whole = (i128::from(to) - aligned + buckets * second - 1) / (buckets * second);
            if let (Ok(aligned), Ok(whole)) =
                (i64::try_from(aligned), i64::try_from(whole * second))
            {
                (from, width) = (aligned, whole);
            }
        }
        let request = TimelineRequest {
            range: TimeRange { from, to },
            bucket_ns: width,
            whisperers: self.whisperers_of(query)?,
            query: parsed_q(query, RecordKind::Http)?,
        };
        let (answers, missing) = self
            .ask_all(
                || ShardRequest::Timeline(request.clone()),
                |response| match response {
                    ShardResponse::Timeline(timeline) => Some(timeline),
                    _ => None,
                },
            )
            .await?;
        let mut sums = vec![StatusCounts::default(); buckets as usize];
        for timeline in &answers {
            for (sum, bucket) in sums.iter_mut().zip(&timeline.buckets) {
                add_counts(sum, &bucket.counts);
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
        write_missing!(|len| timeline.init_missing_shards(len), missing);
        Ok(())
    }

    /// The HTTP network map: every shard's nodes and edges, added up.
    pub(super) async fn map(
        &self,
        params: query_service::NetworkMapParams,
        mut results: query_service::NetworkMapResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let range = query.get_range()?;
        let request = MapRequest {
            range: TimeRange::new(range.get_from(), range.get_to()),
            whisperers: self.whisperers_of(query)?,
            query: parsed_q(query, RecordKind::Http)?,
        };
        let (answers, missing) = self
            .ask_all(
                || ShardRequest::NetworkMap(request.clone()),
                |response| match response {
                    ShardResponse::Map(map) => Some(map),
                    _ => None,
                },
            )
            .await?;
        let mut nodes: BTreeMap<IpAddr, MapNode> = BTreeMap::new();
        let mut edges: BTreeMap<(IpAddr, IpAddr), MapEdge> = BTreeMap::new();
        for map in answers {
            for node in map.nodes {
                match nodes.get_mut(&node.ip) {
                    Some(known) => {
                        known.requests_in += node.requests_in;
                        known.requests_out += node.requests_out;
                        known.names.extend(node.names);
                        known.names.sort();
                        known.names.dedup();
                    }
                    None => {
                        nodes.insert(node.ip, node);
                    }
                }
            }
            for edge in map.edges {
                match edges.get_mut(&(edge.client, edge.server)) {
                    Some(known) => {
                        known.requests += edge.requests;
                        known.client_errors += edge.client_errors;
                        known.server_errors += edge.server_errors;
                        known.no_response += edge.no_response;
                        known.latency_sum_ns += edge.latency_sum_ns;
                        known.latency_count += edge.latency_count;
                    }
                    None => {
                        edges.insert((edge.client, edge.server), edge);
                    }
                }
            }
        }
        let mut map = results.get().init_map();
        let mut list = map
            .reborrow()
            .init_nodes(u32::try_from(nodes.len()).map_err(failed)?);
        for (index, node) in (0..).zip(nodes.values()) {
            let mut item = list.reborrow().get(index);
            item.set_ip(ip_octets(node.ip).as_slice());
            item.set_requests_in(node.requests_in);
            item.set_requests_out(node.requests_out);
            let mut names = item.init_names(u32::try_from(node.names.len()).map_err(failed)?);
            for (slot, name) in (0..).zip(&node.names) {
                names.set(slot, name);
            }
        }
        let mut list = map
            .reborrow()
            .init_edges(u32::try_from(edges.len()).map_err(failed)?);
        for (index, edge) in (0..).zip(edges.values()) {
            let mut item = list.reborrow().get(index);
            item.set_client(ip_octets(edge.client).as_slice());
            item.set_server(ip_octets(edge.server).as_slice());
            item.set_protocol("http");
            item.set_requests(edge.requests);
            item.set_client_errors(edge.client_errors);
            item.set_server_errors(edge.server_errors);
            item.set_no_response(edge.no_response);
            let mut latency = item.init_latency();
            latency.set_sum_ns(u64::try_from(edge.latency_sum_ns.max(0)).unwrap_or(u64::MAX));
            latency.set_samples(edge.latency_count);
        }
        write_missing!(|len| map.init_missing_shards(len), missing);
        Ok(())
    }

    /// Usage rows over the range, grouped, in buckets of whole minutes, paged by offset.
    pub(super) async fn usage_table(
        &self,
        params: query_service::UsageParams,
        mut results: query_service::UsageResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        if query.has_q() && !query.get_q()?.to_str()?.trim().is_empty() {
            return Err(failed(
                "usage takes no filter yet: group it and read the rows",
            ));
        }
        if query.has_reporters() && !query.get_reporters()?.is_empty() {
            return Err(failed("usage by reporter is not available yet"));
        }
        let grouping = query.get_group_by()?;
        let level = match grouping {
            UsageGrouping::None | UsageGrouping::Ip => UsageLevel::IpPair,
            UsageGrouping::Workload => UsageLevel::Workload,
            UsageGrouping::Namespace => UsageLevel::Namespace,
            UsageGrouping::Pod => UsageLevel::Pod,
            UsageGrouping::Node => UsageLevel::Node,
        };
        let bucket = match query.get_bucket() {
            0 => MINUTE_NS,
            width if width > 0 && width % MINUTE_NS == 0 => width,
            width => {
                return Err(failed(format!(
                    "a usage bucket is a whole number of minutes, not {width} ns"
                )))
            }
        };
        let range = query.get_range()?;
        let request = UsageRequest {
            range: TimeRange::new(range.get_from(), range.get_to()),
            level,
            // A team's session reads the rows its agents reported, in every grouping.
            agents: self.visible_agents(Vec::new()),
        };
        let (answers, missing) = self
            .ask_all(
                || ShardRequest::Usage(request.clone()),
                |response| match response {
                    ShardResponse::Usage(rows) => Some(rows),
                    _ => None,
                },
            )
            .await?;
        let by_ip = grouping == UsageGrouping::Ip;
        let rows = group_rows(answers.into_iter().flatten(), bucket, by_ip);
        let limit = match query.get_limit() {
            0 => DEFAULT_USAGE_ROWS,
            limit => {
                if limit as usize > MAX_USAGE_ROWS {
                    self.router.stats.clamped(Clamp::UsageRows);
                }
                (limit as usize).min(MAX_USAGE_ROWS)
            }
        };
        let offset = if query.has_cursor() {
            let cursor = query.get_cursor()?;
            <[u8; 8]>::try_from(cursor)
                .map(|bytes| u64::from_be_bytes(bytes) as usize)
                .map_err(|_| failed("invalid cursor"))?
        } else {
            0
        };
        let page: Vec<&UsageRow> = rows.iter().skip(offset).take(limit).collect();
        let mut table = results.get().init_table();
        if offset + page.len() < rows.len() {
            table.set_next(&((offset + page.len()) as u64).to_be_bytes());
        }
        let mut list = table
            .reborrow()
            .init_rows(u32::try_from(page.len()).map_err(failed)?);
        for (index, row) in (0..).zip(page) {
            let mut item = list.reborrow().get(index);
            item.set_bucket(row.minute);
            item.set_bytes(row.bytes);
            item.set_messages(row.messages);
            item.set_wire_bytes(row.wire_bytes);
            item.set_packets(row.packets);
            if let Some(proto) = &row.proto {
                item.set_proto(proto);
            }
            item.set_port(row.port.unwrap_or(0));
            let pair = level == UsageLevel::IpPair;
            write_group(
                item.reborrow().init_src(),
                &row.src,
                &row.src_workload,
                pair,
            )?;
            write_group(item.init_dst(), &row.dst, &row.dst_workload, pair)?;
        }
        write_missing!(|len| table.init_missing_shards(len), missing);
        Ok(())
    }
}

fn write_group(
    mut group: usage_group::Builder<'_>,
    label: &str,
    workload: &Option<WorkloadRef>,
    by_address: bool,
) -> Result<(), capnp::Error> {
    group.set_label(label);
    if by_address {
        if let Ok(ip) = label.parse::<IpAddr>() {
            group.set_ip(ip_octets(ip).as_slice());
        }
    }
    if let Some(workload) = workload {
        write_workload_ref(group.init_workload(), workload).map_err(failed)?;
    }
    Ok(())
}

/// Adds up rows of the same (bucket, src, dst[, proto, port]); `by_ip` also sums over ports.
fn group_rows(rows: impl Iterator<Item = UsageRow>, bucket: i64, by_ip: bool) -> Vec<UsageRow> {
    type Key = (i64, String, String, Option<String>, Option<u16>);
    let mut groups: BTreeMap<Key, UsageRow> = BTreeMap::new();
    for mut row in rows {
        row.minute = row.minute.div_euclid(bucket) * bucket;
        if by_ip {
            row.proto = None;
            row.port = None;
        }
        let key = (
            row.minute,
            row.src.clone(),
            row.dst.clone(),
            row.proto.clone(),
            row.port,
        );
        match groups.get_mut(&key) {
            Some(sum) => {
                sum.bytes += row.bytes;
                sum.messages += row.messages;
                sum.wire_bytes += row.wire_bytes;
                sum.packets += row.packets;
                if sum.src_workload.is_none() {
                    sum.src_workload = row.src_workload;
                }
                if sum.dst_workload.is_none() {
                    sum.dst_workload = row.dst_workload;
                }
            }
            None => {
                groups.insert(key, row);
            }
        }
    }
    groups.into_values().collect()
}

fn add_counts(sum: &mut StatusCounts, more: &StatusCounts) {
    sum.informational += more.informational;
    sum.success += more.success;
    sum.redirection += more.redirection;
    sum.client_error += more.client_error;
    sum.server_error += more.server_error;
    sum.none += more.none;
}
