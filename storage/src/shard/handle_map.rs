//! The network map: who calls whom over HTTP, with errors and latency.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use spider_query::RecordKind;
use tantivy::query::{AllQuery, Query};

use super::handle_http::check_kind;
use super::Shard;
use crate::error::Result;
use crate::index::collect::{merge_maps, EdgeSums, MapCollector};
use crate::index::schema::ip6;
use crate::index::search::in_time_range;
use crate::index::{translate, MapCounts};
use crate::types::{HttpQuery, MapEdge, MapNode, MapRequest, NetworkMap, TimeRange};

impl Shard {
    pub fn network_map(&self, request: &MapRequest) -> Result<NetworkMap> {
        check_kind(request.query.as_ref(), RecordKind::Http)?;
        let range = request.range;
        let expr = request.query.as_ref().and_then(|q| q.expr.as_ref());
        let translation = expr.map(|expr| translate(self.index.fields(), expr));
        let mut edges = MapCounts::new();
        match translation {
            Some(translation) if !translation.exact => {
                let query = HttpQuery {
                    range,
                    whisperers: request.whisperers.clone(),
                    query: request.query.clone(),
                    limit: usize::MAX,
                    cursor: None,
                };
                self.for_each_http(&query, &mut |_, stored| {
                    let exchange = &stored.record;
                    edges
                        .entry((ip6(exchange.client.ip), ip6(exchange.server.ip)))
                        .or_default()
                        .add(exchange.status.map(u64::from), exchange.duration_ns());
                    true
                })?;
            }
            None => match self.map_from_rollup(range, &request.whisperers)? {
                Some((rollup, covered)) => {
                    edges = rollup;
                    let query = self.with_whisperers(&request.whisperers, Box::new(AllQuery));
                    for edge in [
                        TimeRange::new(range.from, covered.from),
                        TimeRange::new(covered.to, range.to),
                    ] {
                        if edge.from < edge.to {
                            merge_maps(&mut edges, self.map_by_index(query.as_ref(), edge)?);
                        }
                    }
                }
                None => {
                    let query = self.with_whisperers(&request.whisperers, Box::new(AllQuery));
                    edges = self.map_by_index(query.as_ref(), range)?;
                }
            },
            Some(translation) => {
                let query = self.with_whisperers(&request.whisperers, translation.query);
                edges = self.map_by_index(query.as_ref(), range)?;
            }
        }
        self.assemble_map(edges, &request.whisperers)
    }

    /// The map of what `query` finds in `range`, counted on the index's fast fields.
    fn map_by_index(&self, query: &dyn Query, range: TimeRange) -> Result<MapCounts> {
        let bounded = in_time_range(query, self.index.fields().time, range.from, range.to);
        let mut edges = MapCounts::new();
        for (_, searcher) in self.index.overlapping(range.from, range.to) {
            merge_maps(&mut edges, searcher.search(&bounded, &MapCollector)?);
        }
        Ok(edges)
    }

    /// Nodes and edges of `edges`, nodes named with what `whisperers` (empty: any) saw.
    fn assemble_map(&self, edges: MapCounts, whisperers: &[String]) -> Result<NetworkMap> {
        let canonical = |ip: Ipv6Addr| IpAddr::V6(ip).to_canonical();
        let mut nodes: HashMap<IpAddr, (u64, u64)> = HashMap::new();
        let mut out = Vec::with_capacity(edges.len());
        for ((client, server), sums) in edges {
            let (client, server) = (canonical(client), canonical(server));
            nodes.entry(client).or_default().0 += sums.requests;
            nodes.entry(server).or_default().1 += sums.requests;
            out.push(edge(client, server, &sums));
        }
        out.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then(a.client.cmp(&b.client))
                .then(a.server.cmp(&b.server))
        });
        let names = self.names_of(nodes.keys().copied(), whisperers)?;
        let mut nodes: Vec<MapNode> = nodes
            .into_iter()
            .map(|(ip, (requests_out, requests_in))| MapNode {
                ip,
                names: names.get(&ip).cloned().unwrap_or_default(),
                requests_out,
                requests_in,
            })
            .collect();
        nodes.sort_by_key(|node| node.ip);
        Ok(NetworkMap { nodes, edges: out })
    }
}

fn edge(client: IpAddr, server: IpAddr, sums: &EdgeSums) -> MapEdge {
    let count = i128::from(sums.latency_count);
    MapEdge {
        client,
        server,
        requests: sums.requests,
        client_errors: sums.client_errors,
        server_errors: sums.server_errors,
        no_response: sums.no_response,
        avg_latency_ns: (count > 0)
            .then(|| i64::try_from(sums.latency_sum_ns / count).unwrap_or(i64::MAX)),
        latency_sum_ns: sums.latency_sum_ns,
        latency_count: sums.latency_count,
    }
}
