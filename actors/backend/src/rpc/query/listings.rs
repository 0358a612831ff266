//! The listings: HTTP exchanges, TCP sessions, packets, DNS answers (newest first, merged by time
//! across shards, cursor paging) and hosts (merged by address and name).

use std::collections::BTreeMap;
use std::net::IpAddr;

use spider_model::{HostRecord, HostSource};
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::query_service;
use spider_rpc_schema::{write_dns, write_host, write_http, write_packet, write_tcp_session};
use spider_storage::{
    DnsQuery, HostQuery, HttpQuery, PacketQuery, SessionQuery, ShardRequest, ShardResponse,
    TimeRange,
};

use crate::stats::Clamp;

use super::super::failed;
use super::super::paging::{virtual_missing, window, write_page, DEFAULT_LIMIT, MAX_LIMIT};
use super::{parsed_q, write_missing, Query};

impl Query {
    pub(super) async fn list_http(
        &self,
        params: query_service::HttpParams,
        mut results: query_service::HttpResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let window = window(query)?;
        if window.clamped {
            self.router.stats.clamped(Clamp::PageSize);
        }
        let mut storage = HttpQuery::new(window.range, window.shard_limit);
        storage.whisperers = self.whisperers_of(query)?;
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

    pub(super) async fn list_sessions(
        &self,
        params: query_service::SessionsParams,
        mut results: query_service::SessionsResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let window = window(query)?;
        if window.clamped {
            self.router.stats.clamped(Clamp::PageSize);
        }
        let storage = SessionQuery {
            range: window.range,
            whisperers: self.whisperers_of(query)?,
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

    /// Packets of the range, newest first (their `whisperer` is in each record).
    pub(super) async fn list_packets(
        &self,
        params: query_service::PacketsParams,
        mut results: query_service::PacketsResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        if query.has_q() && !query.get_q()?.to_str()?.trim().is_empty() {
            return Err(failed(
                "packets are listed by time range and whisperer only: to see the packets of \
                 what a query finds, export them (exportPcapng with a query)",
            ));
        }
        let window = window(query)?;
        if window.clamped {
            self.router.stats.clamped(Clamp::PageSize);
        }
        let whisperers = self.whisperers_of(query)?;
        let (range, limit) = (window.range, window.shard_limit);
        let merged = self
            .list(
                &window,
                |cursor| {
                    ShardRequest::QueryPackets(PacketQuery::Range {
                        range,
                        whisperers: whisperers.clone(),
                        limit,
                        cursor,
                    })
                },
                |response| match response {
                    ShardResponse::Packets(page) => Some(page),
                    _ => None,
                },
            )
            .await?;
        let mut page = results.get().init_page();
        if let Some(next) = merged.next {
            page.set_next(&next.encode());
        }
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(merged.items.len()).map_err(failed)?);
        for (index, packet) in (0..).zip(&merged.items) {
            write_packet(list.reborrow().get(index), packet).map_err(failed)?;
        }
        let missing = virtual_missing(&merged.missing_local, self.router.shards.len());
        write_missing!(|len| page.init_missing_shards(len), missing);
        Ok(())
    }

    /// DNS answers, newest first; `q` is a name (`name:example.com` or `example.com`).
    pub(super) async fn list_dns(
        &self,
        params: query_service::DnsParams,
        mut results: query_service::DnsResults,
    ) -> Result<(), capnp::Error> {
        let query = params.get()?.get_query()?;
        let window = window(query)?;
        if window.clamped {
            self.router.stats.clamped(Clamp::PageSize);
        }
        let name = if query.has_q() {
            let q = query.get_q()?.to_str()?.trim();
            let name = q.strip_prefix("name:").unwrap_or(q).trim_matches('"');
            if name.contains(char::is_whitespace) {
                return Err(failed(format!(
                    "a DNS query is one name, as `name:example.com`, not {q:?}"
                )));
            }
            (!name.is_empty()).then(|| name.to_owned())
        } else {
            None
        };
        let storage = DnsQuery {
            range: window.range,
            whisperers: self.whisperers_of(query)?,
            name,
            limit: window.shard_limit,
            cursor: None,
        };
        let merged = self
            .list(
                &window,
                |cursor| {
                    ShardRequest::QueryDns(DnsQuery {
                        cursor,
                        ..storage.clone()
                    })
                },
                |response| match response {
                    ShardResponse::Dns(page) => Some(page),
                    _ => None,
                },
            )
            .await?;
        let shards = self.router.shards.len();
        write_page!(results.get().init_page(), merged, shards, write_dns);
        Ok(())
    }

    /// Hosts (address, name, source) seen in the range, merged across shards.
    pub(super) async fn list_hosts(
        &self,
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
            // A team's session reads what its Whisperers saw, first and last seen over them.
            whisperers: self.whisperers_of(query)?,
        };
        let (answers, missing) = self
            .ask_all(
                || ShardRequest::QueryHosts(request.clone()),
                |response| match response {
                    ShardResponse::Hosts(found) => Some(found),
                    _ => None,
                },
            )
            .await?;
        let mut hosts: BTreeMap<(IpAddr, String, HostSource), HostRecord> = BTreeMap::new();
        for host in answers.into_iter().flatten() {
            let key = (host.ip, host.name.clone(), host.source);
            hosts
                .entry(key)
                .and_modify(|known| {
                    known.first_seen = known.first_seen.min(host.first_seen);
                    known.last_seen = known.last_seen.max(host.last_seen);
                })
                .or_insert(host);
        }
        let mut page = results.get().init_page();
        let count = hosts.len().min(limit);
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(count).map_err(failed)?);
        for (index, host) in (0..).zip(hosts.values().take(limit)) {
            write_host(list.reborrow().get(index), host).map_err(failed)?;
        }
        write_missing!(|len| page.init_missing_shards(len), missing);
        Ok(())
    }
}
