//! Starting and stopping a node: the actor system, the shards, the RPC listener.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use spider_pipeline::PipelineConfig;
use spider_storage::{Shard, ShardActor, ShardConfig, WalSync};

use crate::cluster::{ClusterSettings, Placement};
use crate::config::BackendConfig;
use crate::registry::Registry;
use crate::router::Router;
use crate::stats::{NodeStats, NodeTelemetry};
use crate::throttle::{IngestClock, Throttle, TokioClock};
use crate::worker::CaptureWorker;

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot open storage shard {index} in {path}: {source}")]
    Shard {
        index: u16,
        path: std::path::PathBuf,
        source: spider_storage::StorageError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start a thread or runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the node stopped while starting")]
    Aborted,
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] spider_cluster::ClusterError),
    #[error("tls: {0}")]
    Tls(#[from] spider_tls::TlsError),
    #[error("cannot open the identity store: {0}")]
    Identity(#[from] spider_identity::IdentityError),
    #[error("a storage shard failed: {source}")]
    Index {
        source: spider_storage::StorageError,
    },
}

/// A running backend node. Dropping it stops it.
pub struct BackendNode {
    addr: SocketAddr,
    limits: crate::limits::LimitCounters,
    identities: spider_identity::IdentityStore,
    shards: Vec<actix::Addr<spider_storage::ShardActor>>,
    telemetry: NodeTelemetry,
    stop_actors: Option<tokio::sync::oneshot::Sender<()>>,
    stop_rpc: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for BackendNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendNode")
            .field("addr", &self.addr)
            .finish()
    }
}

impl BackendNode {
    /// Opens the shards (catching their indexes up), starts the actors and the RPC listener.
    pub fn start(config: BackendConfig) -> Result<Self, NodeError> {
        Self::start_with_clock(config, std::sync::Arc::new(TokioClock::default()))
    }

    /// [`BackendNode::start`] with the clock the ingest throttle (`[limits]`) reads and waits
    /// on: tests give a [`crate::ManualClock`], whose waits pass at once.
    pub fn start_with_clock(
        config: BackendConfig,
        clock: std::sync::Arc<dyn IngestClock>,
    ) -> Result<Self, NodeError> {
        let transport = config.tls.server()?;
        spider_tls::check_plaintext_listener(
            &transport,
            config.listen,
            config.tls.insecure_plaintext,
        )?;
        let peer_transport = config.tls.peers(&transport)?;
        let identities = spider_identity::IdentityStore::open(
            &config.data_dir,
            &config.admin_token,
            spider_identity::IdentityConfig::default(),
        )?;
        let rpc_identities = identities.clone();
        let (router_tx, router_rx) = mpsc::channel::<Result<Router, NodeError>>();
        let (stop_actors, actors_stopped) = tokio::sync::oneshot::channel::<()>();
        let actor_config = config.clone();
        let actors = std::thread::Builder::new()
            .name("spider-actors".into())
            .spawn(move || {
                let system = actix::System::new();
                system.block_on(async move {
                    match start_actors(&actor_config, clock) {
                        Ok((router, arbiters)) => {
                            let _sent = router_tx.send(Ok(router));
                            let _stopped = actors_stopped.await;
                            // Each shard closes its RocksDB on its own thread: wait for it, so
                            // the process never exits with a database still open.
                            for arbiter in arbiters {
                                arbiter.stop();
                                if arbiter.join().is_err() {
                                    tracing::error!("a storage shard's thread panicked");
                                }
                            }
                        }
                        Err(error) => {
                            let _sent = router_tx.send(Err(error));
                        }
                    }
                });
            })
            .map_err(NodeError::Runtime)?;
        let router = router_rx.recv().map_err(|_| NodeError::Aborted)??;
        let shards = router.shards.clone();
        let limits = router.limits.clone();
        let listener_settings = crate::rpc::ListenerSettings {
            transport,
            counters: limits.clone(),
        };
        let telemetry = NodeTelemetry {
            stats: router.stats.clone(),
            data_dir: config.data_dir.clone(),
            local_shards: config.local_shards,
            min_free_bytes: config.min_free_bytes,
            memory: router.memory.clone(),
        };

        let (addr_tx, addr_rx) = mpsc::channel::<Result<SocketAddr, NodeError>>();
        let (stop_rpc, rpc_stopped) = tokio::sync::oneshot::channel::<()>();
        let listen = config.listen;
        let token = config.admin_token.clone();
        let data_dir = config.data_dir.clone();
        let retention = config.retention.clone();
        let cluster = config.cluster.clone();
        let mut router = router;
        let rpc = std::thread::Builder::new()
            .name("spider-rpc".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _sent = addr_tx.send(Err(NodeError::Runtime(error)));
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let listener = match tokio::net::TcpListener::bind(listen).await {
                        Ok(listener) => listener,
                        Err(source) => {
                            let _sent = addr_tx.send(Err(NodeError::Listen {
                                addr: listen,
                                source,
                            }));
                            return;
                        }
                    };
                    let bound = listener.local_addr().unwrap_or(listen);
                    let member = match join_cluster(&cluster, bound).await {
                        Ok(member) => member,
                        Err(error) => {
                            let _sent = addr_tx.send(Err(error));
                            return;
                        }
                    };
                    router.placement = member.as_ref().map(|member| Placement {
                        node: cluster.node.clone(),
                        map: member.map(),
                        gate: crate::gate::GroupGate::default(),
                        reporter: member.reporter(&cluster.name),
                    });
                    let _sent = addr_tx.send(Ok(bound));
                    tracing::info!(addr = %bound, "backend listening");
                    let registry = Registry::open(&data_dir, router.clone(), retention);
                    tokio::select! {
                        () = crate::rpc::serve(
                            listener,
                            listener_settings,
                            router,
                            registry,
                            token,
                            peer_transport,
                            rpc_identities,
                        ) => {}
                        _ = rpc_stopped => {}
                    }
                    if let Some(member) = member {
                        if let Err(error) = member.leave().await {
                            tracing::warn!(%error, "leaving the cluster failed");
                        }
                    }
                });
            })
            .map_err(NodeError::Runtime)?;
        let addr = addr_rx.recv().map_err(|_| NodeError::Aborted)??;
        Ok(Self {
            addr,
            limits,
            identities,
            shards,
            telemetry,
            stop_actors: Some(stop_actors),
            stop_rpc: Some(stop_rpc),
            threads: vec![rpc, actors],
        })
    }

    /// The address the RPC listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the node refused (TLS handshakes, messages and batches over the limits), so far.
    pub fn limits(&self) -> crate::limits::Limits {
        self.limits.snapshot()
    }

    /// The node's counters and readiness, for a telemetry listener (`/metrics`, `/healthz`).
    pub fn telemetry(&self) -> NodeTelemetry {
        self.telemetry.clone()
    }

    /// The node's identity store (teams, tokens, users), as `Session.identities` changes it.
    pub fn identities(&self) -> &spider_identity::IdentityStore {
        &self.identities
    }

    /// Makes everything stored so far searchable now, rather than at the next index commit.
    pub fn commit_indexes(&self) -> Result<(), NodeError> {
        let commits = futures::future::join_all(
            self.shards
                .iter()
                .map(|shard| shard.send(spider_storage::ShardRequest::CommitIndex)),
        );
        for answer in futures::executor::block_on(commits) {
            answer
                .map_err(|_| NodeError::Aborted)?
                .map_err(|source| NodeError::Index { source })?;
        }
        Ok(())
    }

    /// Flushes every shard's memtables to disk and commits its index.
    pub fn flush(&self) -> Result<(), NodeError> {
        self.ask_every(|| spider_storage::ShardRequest::Flush)
            .map(drop)
    }

    /// Purges what is past its retention at `now` on every shard, now rather than at the next
    /// purge interval; each shard also emits its `PurgeComplete` event.
    pub fn purge(&self, now: i64) -> Result<Vec<spider_storage::PurgeReport>, NodeError> {
        Ok(self
            .ask_every(|| spider_storage::ShardRequest::Purge { now })?
            .into_iter()
            .filter_map(|answer| match answer {
                spider_storage::ShardResponse::Purged(report) => Some(report),
                _ => None,
            })
            .collect())
    }

    /// Every shard's events (batches searchable, purges complete), from now on.
    pub fn subscribe(
        &self,
    ) -> Result<Vec<tokio::sync::broadcast::Receiver<spider_storage::ShardEvent>>, NodeError> {
        Ok(self
            .ask_every(|| spider_storage::ShardRequest::Subscribe)?
            .into_iter()
            .filter_map(|answer| match answer {
                spider_storage::ShardResponse::Listeners { events, .. } => Some(events),
                _ => None,
            })
            .collect())
    }

    fn ask_every(
        &self,
        request: impl Fn() -> spider_storage::ShardRequest,
    ) -> Result<Vec<spider_storage::ShardResponse>, NodeError> {
        let answers =
            futures::future::join_all(self.shards.iter().map(|shard| shard.send(request())));
        futures::executor::block_on(answers)
            .into_iter()
            .map(|answer| {
                answer
                    .map_err(|_| NodeError::Aborted)?
                    .map_err(|source| NodeError::Index { source })
            })
            .collect()
    }

    /// Stops accepting, stops the actors (the shards flush as they drop), and waits for both.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop_rpc.take() {
            let _ignored = stop.send(());
        }
        if let Some(stop) = self.stop_actors.take() {
            let _ignored = stop.send(());
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a backend thread panicked");
            }
        }
    }
}

impl Drop for BackendNode {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens every local shard and starts its storage actor and capture worker.
fn start_actors(
    config: &BackendConfig,
    clock: std::sync::Arc<dyn IngestClock>,
) -> Result<(Router, Vec<actix::Arbiter>), NodeError> {
    let mut router = Router {
        shards: Vec::new(),
        workers: Vec::new(),
        placement: None,
        limits: crate::limits::LimitCounters::default(),
        stats: std::sync::Arc::new(NodeStats::default()),
        memory: Vec::new(),
        throttle: std::sync::Arc::new(Throttle::new(config.limits.clone(), clock)),
    };
    let mut arbiters = Vec::new();
    for index in 0..config.local_shards {
        let path = config.data_dir.join("shards").join(index.to_string());
        let mut shard_config = ShardConfig::new(&path);
        if config.sync_wal {
            shard_config.sync = WalSync::Always;
        }
        shard_config.min_free_bytes = config.min_free_bytes;
        shard_config.default_ttl = config.retention.default;
        shard_config.usage_ttl = config.retention.usage;
        shard_config.purge_interval = config.retention.purge_interval;
        shard_config.whisperer_ttl = config
            .retention
            .whisperers
            .iter()
            .map(|(name, ttl)| (name.clone(), *ttl))
            .collect();
        shard_config.index.text = config.index.default.into();
        shard_config.index.window = config.index.partition;
        shard_config.index.whisperer_text = config
            .index
            .whisperers
            .iter()
            .map(|(name, text)| (name.clone(), (*text).into()))
            .collect();
        let shard = Shard::open(shard_config).map_err(|source| NodeError::Shard {
            index,
            path: path.clone(),
            source,
        })?;
        router.memory.push(shard.memory());
        let (shard, arbiter) = ShardActor::spawn(shard);
        let worker = actix::Actor::start(CaptureWorker::new(
            shard.clone(),
            PipelineConfig::default(),
            config.redaction.clone(),
            router.stats.clone(),
        ));
        router.shards.push(shard);
        router.workers.push(worker);
        arbiters.push(arbiter);
    }
    Ok((router, arbiters))
}

/// Joins the cluster when `[cluster] etcd` is set, advertising `bound` unless told otherwise.
async fn join_cluster(
    settings: &ClusterSettings,
    bound: SocketAddr,
) -> Result<Option<spider_cluster::Member>, NodeError> {
    let Some(etcd) = &settings.etcd else {
        return Ok(None);
    };
    let advertise = settings
        .advertise
        .clone()
        .unwrap_or_else(|| bound.to_string());
    let config = spider_cluster::MemberConfig {
        groups: settings.groups,
        initial_nodes: settings.initial_nodes,
        lease_ttl: settings.lease_ttl,
        ..spider_cluster::MemberConfig::new(etcd, &settings.name, &settings.node, advertise)
    };
    Ok(Some(spider_cluster::Member::join(config).await?))
}
