//! What a Controller is asked to do and reports: Whisperer attachments to pods and workloads,
//! and Spider's agents it finds among the pods. The backend relays these between the UI and the
//! Controller (`controller.capnp`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::EpochNanos;

/// What to attach to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "target")]
pub enum Target {
    Pod {
        namespace: String,
        name: String,
    },
    Workload {
        namespace: String,
        kind: String,
        name: String,
    },
}

/// An attachment asked for (by the backend, from the UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRequest {
    /// Short id, part of the containers' names (`spider-whisperer-ID`): a DNS label.
    pub id: String,
    pub target: Target,
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// After this many seconds the Whisperers exit and no container is added; `None`: no limit.
    pub ttl_seconds: Option<u64>,
}

/// Whether `id` can name an attachment: a DNS label of at most 40 characters (lowercase letters,
/// digits, `-`, not at either end), since it becomes part of container names.
pub fn is_attachment_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

/// The state of an attachment on one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodAttachmentState {
    /// The container was added; the kubelet has not started it yet.
    Starting,
    Running,
    /// Failed twice in 5 minutes: not started again.
    CrashLoop,
    /// Exited normally (its time to live ran out).
    Done,
}

/// An attachment on one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodAttachment {
    pub namespace: String,
    pub pod: String,
    pub node: Option<String>,
    pub containers: Vec<String>,
    pub state: PodAttachmentState,
    pub failures: usize,
}

/// An attachment and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentStatus {
    pub request: AttachRequest,
    pub created: EpochNanos,
    pub expires: Option<EpochNanos>,
    pub expired: bool,
    /// When the Controller detached it (its time to live ran out, or it was asked to).
    pub detached: Option<EpochNanos>,
    pub pods: Vec<PodAttachment>,
}

/// What an agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Whisperer,
    Gocipher,
}

impl AgentRole {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "whisperer" => Some(Self::Whisperer),
            "gocipher" => Some(Self::Gocipher),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whisperer => "whisperer",
            Self::Gocipher => "gocipher",
        }
    }
}

/// One of Spider's agents running in a pod (a sidecar Whisperer, a Gocipher pod), as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPod {
    pub role: AgentRole,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// A Whisperer beside other containers of its pod (a Gocipher is never a sidecar).
    pub sidecar: bool,
    pub node: Option<String>,
    pub ips: Vec<IpAddr>,
    pub phase: String,
    pub running: bool,
    /// The pod's parent workload (kind, name).
    pub workload_kind: String,
    pub workload: String,
    /// `image` or `label`.
    pub recognised_by: String,
}

/// The names of one IP (`NameService.names`): its pod, that pod's services, a service, a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpNames {
    pub ip: IpAddr,
    pub names: Vec<String>,
}
