//! `QueryService` over this node's shards: fan out, merge by time (listings), add up
//! (aggregates), or merge packets (exports). One file per family of methods.

mod aggregates;
mod export;
mod listings;

use std::rc::Rc;

use spider_model::inventory::{ClusterInventory, InventoryChange, InventoryUpdate};
use spider_query::RecordKind;
use spider_rpc_schema::query_capnp::{query_service, record_query};
use spider_rpc_schema::{write_agent_summary, write_inventory_update};
use spider_storage::{Cursor, Page, ShardRequest, ShardResponse, StorageError};

use super::access::{Guard, Visible};
use super::failed;
use super::paging::{merge, newest_of_shard, virtual_missing, Listed, Merged, Window};
use crate::registry::Registry;
use crate::router::Router;

pub(crate) struct Query {
    router: Router,
    registry: Registry,
    /// Checked on every call; its teams say which agents' data it sees (Whisperers' captures and
    /// hosts, Gociphers' usage rows, Controllers' inventories).
    guard: Guard,
}

/// An agent name no agent can have (names are checked): the filter of a session that sees no
/// agent, so that its queries answer nothing.
const NO_AGENT: &str = "\u{0}";

impl Query {
    pub fn new(router: Router, registry: Registry, guard: Guard) -> Self {
        Self {
            router,
            registry,
            guard,
        }
    }

    /// The Whisperers a query reads: those it asks for (empty: all), within what the session
    /// sees.
    pub(super) fn whisperers_of(
        &self,
        query: record_query::Reader<'_>,
    ) -> Result<Vec<String>, capnp::Error> {
        Ok(self.visible_agents(whisperers_of(query)?))
    }

    /// The agents (Whisperers, Gociphers, Controllers) whose rows a query reads: `asked`
    /// (empty: all) within what the session sees; patterns of a team's tokens expand to the
    /// agents the registry knows. Empty: every agent, and rows no agent is stored for.
    pub(super) fn visible_agents(&self, asked: Vec<String>) -> Vec<String> {
        let visible = self.guard.visible();
        let known: Vec<String> = match visible {
            Visible::All => Vec::new(),
            Visible::Only(_) => self
                .registry
                .list()
                .into_iter()
                .map(|agent| agent.info.name)
                .collect(),
        };
        visible
            .narrow(asked, &known)
            .unwrap_or_else(|| vec![NO_AGENT.to_owned()])
    }

    /// One page of a listing: every local shard's newest records for `window`, merged.
    async fn list<T: Listed>(
        &self,
        window: &Window,
        request: impl Fn(Option<Cursor>) -> ShardRequest + Copy,
        page_of: impl Fn(ShardResponse) -> Option<Page<T>> + Copy,
    ) -> Result<Merged<T>, capnp::Error> {
        let answers = futures::future::join_all(self.router.shards.iter().enumerate().map(
            |(local, shard)| async move {
                if self.router.answers(local) {
                    newest_of_shard(shard, window.shard_limit, request, page_of).await
                } else {
                    Ok((Vec::new(), false))
                }
            },
        ))
        .await;
        merge(answers, window)
    }

    /// Sends `request` to every local shard; returns the answers `take` accepts, and the local
    /// shards that did not answer.
    async fn ask_all<T>(
        &self,
        request: impl Fn() -> ShardRequest,
        take: impl Fn(ShardResponse) -> Option<T>,
    ) -> Result<(Vec<T>, Vec<u16>), capnp::Error> {
        let asked: Vec<usize> = (0..self.router.shards.len())
            .filter(|local| self.router.answers(*local))
            .collect();
        let answers = futures::future::join_all(
            asked
                .iter()
                .map(|local| self.router.shards[*local].send(request())),
        )
        .await;
        let mut found = Vec::new();
        let mut missing_local = Vec::new();
        for (local, answer) in asked.into_iter().zip(answers) {
            match answer {
                Ok(Ok(response)) => match take(response) {
                    Some(value) => found.push(value),
                    None => missing_local.push(local),
                },
                Ok(Err(error)) => return Err(storage_failed(error)),
                Err(_) => missing_local.push(local),
            }
        }
        Ok((
            found,
            virtual_missing(&missing_local, self.router.shards.len()),
        ))
    }
}

fn storage_failed(error: StorageError) -> capnp::Error {
    failed(error)
}

fn whisperers_of(query: record_query::Reader<'_>) -> Result<Vec<String>, capnp::Error> {
    let mut out = Vec::new();
    for whisperer in query.get_whisperers()? {
        out.push(whisperer?.to_str()?.to_owned());
    }
    Ok(out)
}

pub(super) fn parsed_q(
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

/// Writes a list of virtual shards.
macro_rules! write_missing {
    ($init:expr, $missing:expr) => {{
        let missing = $missing;
        let mut list = $init(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing.iter()) {
            list.set(index, *shard);
        }
    }};
}
pub(super) use write_missing;

impl Query {
    /// Runs one query call, timing it into `spider_backend_query_duration_seconds`.
    async fn timed(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<(), capnp::Error>>,
    ) -> Result<(), capnp::Error> {
        let started = std::time::Instant::now();
        let result = call.await;
        self.router
            .stats
            .query(method, started.elapsed(), result.is_ok());
        result
    }
}

impl query_service::Server for Query {
    async fn http(
        self: Rc<Self>,
        params: query_service::HttpParams,
        results: query_service::HttpResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("http", self.list_http(params, results)).await
    }

    async fn sessions(
        self: Rc<Self>,
        params: query_service::SessionsParams,
        results: query_service::SessionsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("sessions", self.list_sessions(params, results))
            .await
    }

    async fn packets(
        self: Rc<Self>,
        params: query_service::PacketsParams,
        results: query_service::PacketsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("packets", self.list_packets(params, results))
            .await
    }

    async fn dns(
        self: Rc<Self>,
        params: query_service::DnsParams,
        results: query_service::DnsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("dns", self.list_dns(params, results)).await
    }

    async fn hosts(
        self: Rc<Self>,
        params: query_service::HostsParams,
        results: query_service::HostsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("hosts", self.list_hosts(params, results)).await
    }

    async fn timeline(
        self: Rc<Self>,
        params: query_service::TimelineParams,
        results: query_service::TimelineResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("timeline", self.http_timeline(params, results))
            .await
    }

    async fn network_map(
        self: Rc<Self>,
        params: query_service::NetworkMapParams,
        results: query_service::NetworkMapResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("network_map", self.map(params, results)).await
    }

    async fn usage(
        self: Rc<Self>,
        params: query_service::UsageParams,
        results: query_service::UsageResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("usage", self.usage_table(params, results)).await
    }

    async fn export_pcapng(
        self: Rc<Self>,
        params: query_service::ExportPcapngParams,
        results: query_service::ExportPcapngResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        self.timed("export_pcapng", self.export(params, results))
            .await
    }

    async fn agents(
        self: Rc<Self>,
        _: query_service::AgentsParams,
        mut results: query_service::AgentsResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let visible = self.guard.visible();
        let agents: Vec<_> = self
            .registry
            .list()
            .into_iter()
            .filter(|agent| visible.shows(&agent.info.name))
            .collect();
        let list = results.get().init_list();
        let mut items = list.init_agents(u32::try_from(agents.len()).map_err(failed)?);
        for (index, agent) in (0..).zip(&agents) {
            write_agent_summary(items.reborrow().get(index), agent).map_err(failed)?;
        }
        Ok(())
    }

    async fn inventory(
        self: Rc<Self>,
        _: query_service::InventoryParams,
        mut results: query_service::InventoryResults,
    ) -> Result<(), capnp::Error> {
        self.guard.check()?;
        let (found, missing) = self
            .ask_all(
                || ShardRequest::Inventories,
                |response| match response {
                    ShardResponse::Inventories(list) => Some(list),
                    _ => None,
                },
            )
            .await?;
        let visible = self.guard.visible();
        let mut clusters: Vec<ClusterInventory> = found
            .into_iter()
            .flatten()
            .filter(|cluster| visible.shows(&cluster.controller))
            .collect();
        clusters.sort_by(|a, b| a.controller.cmp(&b.controller));
        let mut answer = results.get().init_list();
        let mut missing_list = answer
            .reborrow()
            .init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(&missing) {
            missing_list.set(index, *shard);
        }
        let mut list = answer.init_clusters(u32::try_from(clusters.len()).map_err(failed)?);
        for (index, cluster) in (0..).zip(clusters) {
            let update = InventoryUpdate {
                controller: cluster.controller,
                cluster: cluster.cluster,
                time: cluster.time,
                change: InventoryChange::Snapshot(cluster.objects),
            };
            write_inventory_update(list.reborrow().get(index), &update).map_err(failed)?;
        }
        Ok(())
    }
}
