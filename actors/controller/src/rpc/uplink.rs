//! The Controller's link to the backend: it connects and logs in, registers as a Controller
//! (with its `AgentControl` and its commands), sends its inventory (a snapshot after every
//! connection, then a delta at each change, at most one a second), reports its status, and
//! connects again with backoff when the backend goes away.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use spider_backend::client::{AgentControl, BackendClient, InventoryPush, Registration};
use spider_model::agent::{
    AgentConfig, AgentInfo, AgentKind, AgentSettings, AgentState, AgentStatus, ConfigAck,
};
use spider_model::inventory::{InventoryChange, InventorySnapshot, InventoryUpdate};

use super::relay::RelayState;
use crate::error::ControllerError;
use crate::now_ns;

const STATUS_EVERY: Duration = Duration::from_secs(5);
const DELTA_AT_MOST_EVERY: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Who the Controller is and where its backend is.
#[derive(Debug, Clone)]
pub struct UplinkConfig {
    pub name: String,
    pub cluster: String,
    pub backend: SocketAddr,
    pub token: String,
    /// How the backend is reached: plain TCP, or TLS verifying its certificate.
    pub backend_tls: spider_backend::client::ClientTransport,
    /// How the agents' listener takes connections (plain TCP or TLS), refusals counted.
    pub listener: spider_backend::ListenerSettings,
}

impl UplinkConfig {
    /// A link over plain TCP, the agents' listener plain too (loopback, tests).
    pub fn plain(name: &str, cluster: &str, backend: SocketAddr, token: &str) -> Self {
        Self {
            name: name.into(),
            cluster: cluster.into(),
            backend,
            token: token.into(),
            backend_tls: spider_backend::client::ClientTransport::Plain,
            listener: spider_backend::ListenerSettings::default(),
        }
    }
}

/// The Controller as an agent of the backend.
struct ControllerAgent {
    state: RelayState,
    send_inventory: Cell<bool>,
    running: Cell<bool>,
    generation: Cell<u64>,
    started: i64,
    inventory_updates: Cell<u64>,
}

impl ControllerAgent {
    fn apply(&self, config: &AgentConfig) -> ConfigAck {
        match &config.settings {
            AgentSettings::Controller(settings) => {
                self.state.enrich.set(settings.enrich);
                self.send_inventory.set(settings.inventory);
                self.generation.set(config.generation);
                ConfigAck {
                    generation: config.generation,
                    accepted: true,
                    error: None,
                }
            }
            other => ConfigAck {
                generation: config.generation,
                accepted: false,
                error: Some(format!(
                    "a controller takes controller settings, not {:?} settings",
                    other.kind()
                )),
            },
        }
    }
}

impl AgentControl for ControllerAgent {
    fn configure(&self, config: AgentConfig) -> ConfigAck {
        self.apply(&config)
    }

    fn set_running(&self, running: bool) {
        self.running.set(running);
        self.state.enrich.set(running);
    }

    fn status(&self) -> AgentStatus {
        let now = now_ns();
        AgentStatus {
            state: if self.running.get() {
                AgentState::Recording
            } else {
                AgentState::Stopped
            },
            time: now,
            state_since: self.started,
            packets_seen: self.state.records.get(),
            batches_sent: self.state.batches.get() + self.inventory_updates.get(),
            batches_acked: self.state.batches.get() + self.inventory_updates.get(),
            config_generation: self.generation.get(),
            ..AgentStatus::default()
        }
    }
}

/// Runs the link until the task is dropped (on the caller's `LocalSet`).
pub async fn run(config: UplinkConfig, state: RelayState) {
    let agent = Rc::new(ControllerAgent {
        state: state.clone(),
        send_inventory: Cell::new(true),
        running: Cell::new(true),
        generation: Cell::new(0),
        started: now_ns(),
        inventory_updates: Cell::new(0),
    });
    let mut backoff = Duration::from_millis(200);
    loop {
        match connected(&config, &state, &agent).await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(%error, backend = %config.backend, "backend link lost; connecting again");
            }
        }
        state
            .stats
            .backend_connected
            .store(false, std::sync::atomic::Ordering::Relaxed);
        crate::telemetry::ControllerStats::add(&state.stats.backend_link_failures, 1);
        state.backend.borrow_mut().take();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn connected(
    config: &UplinkConfig,
    state: &RelayState,
    agent: &Rc<ControllerAgent>,
) -> Result<(), ControllerError> {
    let client =
        BackendClient::connect_over(config.backend, &config.backend_tls, &config.token).await?;
    let incarnation = u64::try_from(now_ns()).unwrap_or(1).max(1);
    let info = AgentInfo {
        kind: AgentKind::Controller,
        name: config.name.clone(),
        host: std::env::var("HOSTNAME").unwrap_or_default(),
        version: env!("CARGO_PKG_VERSION").into(),
        interfaces: Vec::new(),
        incarnation,
        started_at: agent.started,
        namespace: std::env::var("POD_NAMESPACE").ok(),
        pod: std::env::var("POD_NAME").ok(),
        node: std::env::var("NODE_NAME").ok(),
        cluster: Some(config.cluster.clone()),
    };
    let control: Rc<dyn AgentControl> = agent.clone();
    let (registration, wanted) = client
        .register_controller(&info, control, state.commands.clone())
        .await?;
    agent.apply(&wanted);
    *state.backend.borrow_mut() = Some(client.auth());
    crate::telemetry::ControllerStats::add(&state.stats.backend_connects, 1);
    state
        .stats
        .backend_connected
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(backend = %config.backend, "registered with the backend");
    let mut sender = InventorySender {
        client: &client,
        config,
        incarnation,
        sequence: 0,
        sent: None,
    };
    let mut changes = state.inventory.changes();
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    loop {
        if agent.send_inventory.get() {
            let snapshot = state.inventory.snapshot();
            if sender.send(snapshot).await? {
                agent
                    .inventory_updates
                    .set(agent.inventory_updates.get() + 1);
                crate::telemetry::ControllerStats::add(&state.stats.inventory_updates, 1);
            }
        }
        report(&registration, agent).await?;
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                tokio::time::sleep(DELTA_AT_MOST_EVERY).await;
            }
            _ = status_tick.tick() => {}
        }
    }
}

async fn report(
    registration: &Registration,
    agent: &ControllerAgent,
) -> Result<(), ControllerError> {
    Ok(registration.report(&agent.status()).await?)
}

/// Sends a snapshot first, then deltas, each acknowledged before the next.
struct InventorySender<'a> {
    client: &'a BackendClient,
    config: &'a UplinkConfig,
    incarnation: u64,
    sequence: u64,
    sent: Option<InventorySnapshot>,
}

impl InventorySender<'_> {
    /// Sends what changed since the last update; false when nothing did.
    async fn send(&mut self, now: InventorySnapshot) -> Result<bool, ControllerError> {
        let change = match &self.sent {
            None => InventoryChange::Snapshot(now.clone()),
            Some(sent) => match sent.diff(&now) {
                None => return Ok(false),
                Some(delta) => InventoryChange::Delta(delta),
            },
        };
        let update = InventoryUpdate {
            controller: self.config.name.clone(),
            cluster: self.config.cluster.clone(),
            time: now_ns(),
            change,
        };
        self.sequence += 1;
        self.client
            .push_inventory(InventoryPush {
                agent: &self.config.name,
                incarnation: self.incarnation,
                sequence: self.sequence,
                update: &update,
            })
            .await?;
        let acked = self.client.flush().await?;
        let stored = acked.iter().any(|ack| {
            ack.agent == self.config.name
                && ack.incarnation == self.incarnation
                && ack.sequence >= self.sequence
        });
        if !stored {
            return Err(ControllerError::Unacknowledged(self.sequence));
        }
        self.sent = Some(now);
        Ok(true)
    }
}
