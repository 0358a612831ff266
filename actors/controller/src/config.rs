//! The Controller's settings and its Kubernetes client.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::ControllerError;
use crate::inventory::objects::parse_cidr;

/// Networks whose IPs are internal when no pod, service or node has them: the private ranges
/// (RFC 1918), shared address space (RFC 6598) and IPv6 unique local addresses.
pub const DEFAULT_INTERNAL: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];

/// How a Controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Its agent name (the usage records' reporter).
    pub name: String,
    /// The cluster's name, as the UI shows it.
    pub cluster: String,
    /// A kubeconfig file; in-cluster configuration (service account) when unset.
    pub kubeconfig: Option<PathBuf>,
    /// Networks of unidentified internal IPs (beside the nodes' pod CIDRs).
    pub internal_networks: Vec<(IpAddr, u8)>,
    /// How long the IPs of gone pods are remembered (usage arrives late).
    pub ip_retention: Duration,
    /// The cluster's DNS domain.
    pub cluster_domain: String,
    /// The Whisperer's container image, for attachments.
    pub whisperer_image: String,
    /// Where attached Whisperers reach this Controller's agents' listener (`HOST:PORT`, e.g. its
    /// Service); unset: the listener's own address when it is a specific one.
    pub advertise: Option<String>,
    /// The backend to forward to, and its token.
    pub backend: Option<SocketAddr>,
    pub token: Option<String>,
    /// Pins (`sha256:HEX`) the Whisperers it attaches verify the backend and this Controller
    /// with (`SPIDER_TLS_PIN` in their environment: an ephemeral container cannot mount a CA
    /// file). Empty: they connect in plaintext.
    pub whisperer_tls_pins: Vec<String>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            name: "controller".into(),
            cluster: "cluster".into(),
            kubeconfig: None,
            internal_networks: DEFAULT_INTERNAL
                .iter()
                .filter_map(|c| parse_cidr(c))
                .collect(),
            ip_retention: Duration::from_secs(3600),
            cluster_domain: "cluster.local".into(),
            whisperer_image: "spider:latest".into(),
            advertise: None,
            backend: None,
            token: None,
            whisperer_tls_pins: Vec::new(),
        }
    }
}

/// Parses a list of CIDRs (`10.0.0.0/8,fc00::/7`).
pub fn parse_networks(list: &str) -> Result<Vec<(IpAddr, u8)>, ControllerError> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            parse_cidr(c).ok_or_else(|| ControllerError::Config(format!("not a network: {c}")))
        })
        .collect()
}

impl ControllerConfig {
    /// A Kubernetes client: from the kubeconfig if given, in-cluster otherwise.
    pub async fn client(&self) -> Result<kube::Client, ControllerError> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|source| ControllerError::Kubeconfig {
                        path: path.display().to_string(),
                        source,
                    })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|source| ControllerError::Kubeconfig {
                        path: path.display().to_string(),
                        source,
                    })?
            }
            None => kube::Config::incluster()?,
        };
        Ok(kube::Client::try_from(config)?)
    }

    /// IP retention in nanoseconds.
    pub fn ip_retention_ns(&self) -> i64 {
        i64::try_from(self.ip_retention.as_nanos()).unwrap_or(i64::MAX)
    }
}
