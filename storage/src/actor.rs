//! The shard actor: owns one [`Shard`] on its own arbiter (thread), drains [`ShardRequest`]s,
//! commits the index on a timer and purges on another.

use actix::{Actor, Addr, Arbiter, AsyncContext, Context, Handler};

use crate::error::StorageError;
use crate::request::{ShardRequest, ShardResponse, ShardStatus};
use crate::shard::{now_ns, Shard};

/// One shard as an actix actor. A backend node runs K of them, routed by virtual shard.
#[derive(Debug)]
pub struct ShardActor {
    shard: Shard,
}

impl ShardActor {
    pub fn new(shard: Shard) -> Self {
        Self { shard }
    }

    /// Starts the actor on a new arbiter of its own, so that its blocking disk work never holds
    /// up another shard. Must be called inside a running actix `System`; returns the arbiter
    /// with the address (stop the arbiter to stop the shard).
    pub fn spawn(shard: Shard) -> (Addr<ShardActor>, Arbiter) {
        let arbiter = Arbiter::new();
        let addr = ShardActor::start_in_arbiter(&arbiter.handle(), move |_| ShardActor::new(shard));
        (addr, arbiter)
    }
}

impl Actor for ShardActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let config = self.shard.config();
        // Ticks at a quarter of the commit interval keep the commit lag close to it.
        let tick = (config.index.commit_interval / 4).max(std::time::Duration::from_millis(5));
        ctx.run_interval(tick, |actor, _| {
            if let Err(error) = actor.shard.tick() {
                tracing::error!(%error, path = %actor.shard.path().display(), "index commit failed");
            }
        });
        ctx.run_interval(config.purge_interval, |actor, _| {
            if let Err(error) = actor.shard.purge(now_ns()) {
                tracing::error!(%error, path = %actor.shard.path().display(), "purge failed");
            }
        });
        tracing::info!(path = %self.shard.path().display(), "shard actor started");
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Err(error) = self.shard.commit_index() {
            tracing::error!(%error, "final index commit failed");
        }
    }
}

impl Handler<ShardRequest> for ShardActor {
    type Result = Result<ShardResponse, StorageError>;

    fn handle(&mut self, request: ShardRequest, _: &mut Self::Context) -> Self::Result {
        let shard = &mut self.shard;
        Ok(match request {
            ShardRequest::Ingest(batch) => ShardResponse::Ingested(shard.ingest(*batch)?),
            ShardRequest::QueryHttp(query) => ShardResponse::Http(shard.query_http(&query)?),
            ShardRequest::QuerySessions(query) => {
                ShardResponse::Sessions(shard.query_sessions(&query)?)
            }
            ShardRequest::Session {
                whisperer,
                session_id,
            } => ShardResponse::Session(shard.session(&whisperer, session_id)?),
            ShardRequest::QueryPackets(query) => {
                ShardResponse::Packets(shard.query_packets(&query)?)
            }
            ShardRequest::QueryHosts(query) => ShardResponse::Hosts(shard.query_hosts(&query)?),
            ShardRequest::QueryDns(query) => ShardResponse::Dns(shard.query_dns(&query)?),
            ShardRequest::Timeline(request) => ShardResponse::Timeline(shard.timeline(&request)?),
            ShardRequest::NetworkMap(request) => ShardResponse::Map(shard.network_map(&request)?),
            ShardRequest::Usage(request) => ShardResponse::Usage(shard.usage(&request)?),
            ShardRequest::Inventories => ShardResponse::Inventories(shard.inventories()?),
            ShardRequest::ExportPcap(source) => ShardResponse::Pcap(shard.export_pcap(&source)?),
            ShardRequest::ExportPackets(source) => {
                ShardResponse::ExportedPackets(shard.export_packets(&source)?)
            }
            ShardRequest::SetWhispererRetention { whisperer, ttl } => {
                shard.set_whisperer_retention(whisperer, ttl);
                ShardResponse::Done
            }
            ShardRequest::LastBatches { agents } => ShardResponse::LastBatches(
                agents
                    .iter()
                    .map(|agent| shard.last_batch(agent))
                    .collect::<Result<_, _>>()?,
            ),
            ShardRequest::Purge { now } => ShardResponse::Purged(shard.purge(now)?),
            ShardRequest::CommitIndex => {
                shard.commit_index()?;
                ShardResponse::Done
            }
            ShardRequest::Flush => {
                shard.flush()?;
                ShardResponse::Done
            }
            ShardRequest::Subscribe => ShardResponse::Listeners {
                events: shard.subscribe(),
                searchable: shard.searchable(),
            },
            ShardRequest::Status => ShardResponse::Status(ShardStatus {
                last_seq: shard.last_seq(),
                indexed_seq: shard.indexed_seq(),
                disk_bytes: shard.disk_bytes(),
            }),
            ShardRequest::ExportChunk { after, max_bytes } => {
                ShardResponse::Chunk(shard.export_chunk(after.as_ref(), max_bytes)?)
            }
            ShardRequest::Clear => {
                shard.clear()?;
                ShardResponse::Done
            }
            ShardRequest::ImportChunk(entries) => {
                shard.import_chunk(&entries)?;
                ShardResponse::Done
            }
            ShardRequest::OpenSessionFrames { window_ns } => {
                ShardResponse::Frames(shard.open_session_frames(window_ns)?)
            }
            ShardRequest::FinishImport => {
                shard.finish_import()?;
                ShardResponse::Done
            }
        })
    }
}
