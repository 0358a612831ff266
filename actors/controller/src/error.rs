//! The Controller's errors.

/// Why the Controller, or one of its operations, failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot read kubeconfig {path}")]
    Kubeconfig {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("not running in a cluster (no service account) and no --kubeconfig given")]
    InCluster(#[from] kube::config::InClusterError),
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    #[error("missing rights: the Controller may not list {}; apply deploy/controller (ClusterRole spider-controller)", resources.join(", "))]
    Forbidden { resources: Vec<String> },
    #[error("no pod {namespace}/{name}")]
    NoSuchPod { namespace: String, name: String },
    #[error("no workload {kind} {namespace}/{name}")]
    NoSuchWorkload {
        namespace: String,
        kind: String,
        name: String,
    },
    #[error("invalid attachment: {0}")]
    InvalidAttachment(String),
    #[error("backend: {0}")]
    Backend(#[from] spider_backend::client::ClientError),
    #[error("the backend did not acknowledge inventory update {0}")]
    Unacknowledged(u64),
    #[error("invalid configuration: {0}")]
    Config(String),
}
