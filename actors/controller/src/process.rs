//! A whole Controller on a thread of its own: the Kubernetes client, the inventory's watchers,
//! the attacher, and (with a backend) the Cap'n Proto link and the agents' listener. What
//! `spider controller` runs, and what tests and demos start beside a backend node.

use std::net::SocketAddr;
use std::sync::mpsc;

use std::sync::Arc;

use crate::attach::Attacher;
use crate::inventory::watch::{check_rights, spawn_watchers};
use crate::rpc::{self, Commands, UplinkConfig};
use crate::telemetry::{ControllerStats, ControllerTelemetry};
use crate::{ControllerConfig, ControllerError, Inventory};

/// A running Controller. It runs until the process ends.
#[derive(Debug)]
pub struct RunningController {
    pub inventory: Inventory,
    pub attacher: Attacher,
    /// Where its agents connect (when it was given a backend).
    pub listen: Option<SocketAddr>,
    /// Its counters, for `/metrics`.
    pub stats: Arc<ControllerStats>,
}

impl RunningController {
    /// Its counters and readiness, for a telemetry listener (`/metrics`, `/healthz`).
    pub fn telemetry(&self) -> ControllerTelemetry {
        ControllerTelemetry {
            stats: self.stats.clone(),
            inventory: self.inventory.clone(),
            linked: self.listen.is_some(),
        }
    }
}

/// Starts a Controller: checks its rights, waits for a complete inventory, then links to the
/// backend of `uplink` (if any) and listens for agents on `listen`.
pub fn spawn(
    config: ControllerConfig,
    uplink: Option<(UplinkConfig, SocketAddr)>,
) -> Result<RunningController, ControllerError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("controller".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = tx.send(Err(ControllerError::Config(format!(
                        "cannot start a runtime: {error}"
                    ))));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let started = start(&config, uplink.as_ref().map(|(_, addr)| *addr)).await;
                let (running, listener) = match started {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = tx.send(Err(error));
                        return;
                    }
                };
                let commands = Commands {
                    attacher: running.attacher.clone(),
                    inventory: running.inventory.clone(),
                    domain: config.cluster_domain.clone(),
                };
                let pruner = running.inventory.clone();
                let stats = running.stats.clone();
                let _ = tx.send(Ok(running));
                let prune = async move {
                    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                    loop {
                        tick.tick().await;
                        pruner.update(|state| state.prune(crate::now_ns()));
                    }
                };
                match uplink {
                    Some((uplink, _)) => {
                        futures::future::join(prune, rpc::run(uplink, listener, commands, stats))
                            .await;
                    }
                    None => prune.await,
                }
            });
        })
        .map_err(|error| ControllerError::Config(format!("cannot start a thread: {error}")))?;
    rx.recv()
        .map_err(|_| ControllerError::Config("the controller thread ended while starting".into()))?
}

async fn start(
    config: &ControllerConfig,
    listen: Option<SocketAddr>,
) -> Result<(RunningController, Option<tokio::net::TcpListener>), ControllerError> {
    let client = config.client().await?;
    check_rights(&client).await?;
    let inventory = Inventory::new(config.internal_networks.clone(), config.ip_retention_ns());
    // Detached: the watchers run as long as the thread's runtime.
    drop(spawn_watchers(&inventory, &client));
    inventory.wait_synced().await;
    let attacher = Attacher::new(client, inventory.clone());
    tokio::spawn(attacher.clone().run());
    let listener = match listen {
        None => None,
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|error| {
            ControllerError::Config(format!("cannot listen on {addr}: {error}"))
        })?),
    };
    let listen = listener.as_ref().and_then(|l| l.local_addr().ok());
    let names = config.advertise.clone().or_else(|| {
        listen
            .filter(|addr| !addr.ip().is_unspecified())
            .map(|addr| addr.to_string())
    });
    attacher.set_names_address(names);
    attacher.set_whisperer_tls_pins(&config.whisperer_tls_pins);
    Ok((
        RunningController {
            inventory,
            attacher,
            listen,
            stats: Arc::new(ControllerStats::default()),
        },
        listener,
    ))
}

/// A Controller named `name` (cluster `name` too) for the cluster of `kubeconfig`, linked to the
/// backend at `backend` and listening for agents on a free loopback port: tests and demos.
pub fn spawn_local(
    kubeconfig: std::path::PathBuf,
    name: &str,
    backend: SocketAddr,
    token: &str,
) -> Result<RunningController, ControllerError> {
    let config = ControllerConfig {
        name: name.into(),
        cluster: name.into(),
        kubeconfig: Some(kubeconfig),
        ..ControllerConfig::default()
    };
    let uplink = UplinkConfig::plain(name, name, backend, token);
    spawn(
        config,
        Some((uplink, SocketAddr::from(([127, 0, 0, 1], 0)))),
    )
}
