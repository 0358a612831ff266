//! Agents (Whisperers, Gociphers, Controllers): who they are, how they are doing, and the settings
//! the backend pushes to them. The same shapes serve the agent registry (Cap'n Proto), the REST
//! API and the UI.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::EpochNanos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Whisperer,
    Gocipher,
    Controller,
}

/// What an agent is doing (Spider's agent states).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    #[default]
    Starting,
    Recording,
    Stopped,
    /// It cannot reach the backend: it buffers, then drops and counts.
    ServerDown,
    /// Its settings cannot be applied; `message` says why.
    InvalidConfig,
    InternalError,
}

/// An interface an agent captures on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaptureInterface {
    pub index: u32,
    pub name: String,
    /// The pcap link type of its frames.
    pub link_type: u16,
    pub addresses: Vec<IpAddr>,
}

/// What an agent says of itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentInfo {
    pub kind: AgentKind,
    /// Unique among the agents of a backend; a Whisperer's name is the `whisperer` of its records.
    pub name: String,
    pub host: String,
    pub version: String,
    pub interfaces: Vec<CaptureInterface>,
    /// Changes at every start of the process: batch ids are per (agent, incarnation).
    pub incarnation: u64,
    pub started_at: EpochNanos,
    /// Set when the agent runs in Kubernetes.
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub node: Option<String>,
    pub cluster: Option<String>,
}

/// An agent's state and counters, reported every few seconds. Counters are totals since the
/// agent started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentStatus {
    pub state: AgentState,
    /// Why the state is what it is (an invalid filter, the backend unreachable, …).
    pub message: Option<String>,
    pub time: EpochNanos,
    pub state_since: EpochNanos,
    pub packets_seen: u64,
    pub bytes_seen: u64,
    /// Dropped by the kernel (PACKET_STATISTICS).
    pub kernel_drops: u64,
    /// Dropped by the agent: its buffer was full while the backend was slow or away.
    pub own_drops: u64,
    /// Dropped by a circuit breaker (throughput limit, CPU budget).
    pub limit_drops: u64,
    /// Empty ACKs skipped on purpose (`skip_empty_acks`).
    pub skipped_empty_acks: u64,
    /// Bytes waiting to be sent or acknowledged.
    pub queue_depth: u64,
    /// CPU use of the agent's process, in percent of one core.
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub last_sent_at: Option<EpochNanos>,
    pub last_ack_at: Option<EpochNanos>,
    pub batches_sent: u64,
    pub batches_acked: u64,
    /// The generation of the settings in force.
    pub config_generation: u64,
}

/// A Whisperer's capture settings, which the backend can change while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WhispererSettings {
    /// Capture on (true) or paused (false).
    pub capture: bool,
    /// A pcap filter expression (`tcp port 80 and host 10.0.0.5`); `None`: everything.
    pub filter: Option<String>,
    pub snaplen: u32,
    pub promiscuous: bool,
    /// The most bytes captured per minute; 0: no limit.
    pub throughput_limit: u64,
    /// The most CPU the Whisperer may use, in percent of one core; 0: no limit.
    pub cpu_budget: f32,
    pub skip_empty_acks: bool,
    /// How long the backend keeps this Whisperer's data, in nanoseconds; 0: the backend default.
    pub retention_ttl: i64,
    /// Interfaces to capture on; empty: those given at start.
    pub interfaces: Vec<String>,
}

impl Default for WhispererSettings {
    fn default() -> Self {
        Self {
            capture: true,
            filter: None,
            snaplen: 65535,
            promiscuous: false,
            throughput_limit: 0,
            cpu_budget: 0.0,
            skip_empty_acks: false,
            retention_ttl: 0,
            interfaces: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GocipherSettings {
    pub counting: bool,
    pub bucket_seconds: u32,
}

impl Default for GocipherSettings {
    fn default() -> Self {
        Self {
            counting: true,
            bucket_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerSettings {
    pub enrich: bool,
    pub inventory: bool,
}

impl Default for ControllerSettings {
    fn default() -> Self {
        Self {
            enrich: true,
            inventory: true,
        }
    }
}

/// The settings of one kind of agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentSettings {
    Whisperer(WhispererSettings),
    Gocipher(GocipherSettings),
    Controller(ControllerSettings),
}

impl AgentSettings {
    /// The defaults of an agent of `kind`.
    pub fn default_for(kind: AgentKind) -> Self {
        match kind {
            AgentKind::Whisperer => Self::Whisperer(WhispererSettings::default()),
            AgentKind::Gocipher => Self::Gocipher(GocipherSettings::default()),
            AgentKind::Controller => Self::Controller(ControllerSettings::default()),
        }
    }

    pub fn kind(&self) -> AgentKind {
        match self {
            Self::Whisperer(_) => AgentKind::Whisperer,
            Self::Gocipher(_) => AgentKind::Gocipher,
            Self::Controller(_) => AgentKind::Controller,
        }
    }
}

/// Settings pushed to an agent; `generation` grows with every change, so that acks and statuses
/// say which settings they speak of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentConfig {
    pub generation: u64,
    pub settings: AgentSettings,
}

/// An agent's answer to new settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigAck {
    pub generation: u64,
    pub accepted: bool,
    /// Why the settings were refused (`accepted` false).
    pub error: Option<String>,
}

/// What the backend knows of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentSummary {
    pub info: AgentInfo,
    pub status: AgentStatus,
    /// Its registration is alive (it reported within the last few intervals).
    pub connected: bool,
    pub last_seen: EpochNanos,
    pub config: AgentConfig,
}
