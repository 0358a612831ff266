//! The compact form the inventory keeps of each Kubernetes object: only what enrichment,
//! attachment and the backend's inventory need (a few hundred bytes a pod, not the tens of
//! kilobytes of the API object).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;

pub type Labels = Vec<(Arc<str>, Arc<str>)>;

/// Nanoseconds since the epoch of a Kubernetes time.
pub fn nanos(time: &Time) -> i64 {
    i64::try_from(time.0.as_nanosecond()).unwrap_or(i64::MAX)
}

fn labels(meta: &ObjectMeta) -> Labels {
    meta.labels
        .iter()
        .flatten()
        .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
        .collect()
}

fn text(value: Option<&String>) -> Arc<str> {
    Arc::from(value.map_or("", String::as_str))
}

/// The controller owner reference of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OwnerRef {
    pub kind: Arc<str>,
    pub name: Arc<str>,
}

fn controller_owner(meta: &ObjectMeta) -> Option<OwnerRef> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
        .map(|o| OwnerRef {
            kind: Arc::from(o.kind.as_str()),
            name: Arc::from(o.name.as_str()),
        })
}

/// The state of an ephemeral container, as the kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ContainerState {
    /// Added to the pod; the kubelet has not reported it yet.
    Pending,
    Waiting {
        reason: String,
    },
    Running {
        started: i64,
    },
    Terminated {
        exit_code: i32,
        finished: i64,
        reason: String,
    },
}

/// An ephemeral container of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EphemeralInfo {
    pub name: String,
    pub image: String,
    pub state: ContainerState,
}

/// A pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodInfo {
    pub uid: Arc<str>,
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub node: Option<Arc<str>>,
    pub ips: Vec<IpAddr>,
    pub host_network: bool,
    pub phase: Arc<str>,
    pub owner: Option<OwnerRef>,
    pub labels: Labels,
    pub created: i64,
    pub deleting: Option<i64>,
    /// Names of its (regular) containers.
    pub containers: Vec<String>,
    pub ephemeral: Vec<EphemeralInfo>,
    /// Spider's agents among its containers (`agents`).
    pub agents: Vec<super::agents::AgentContainer>,
}

impl PodInfo {
    /// Whether it holds its IPs: not on the host network, and not finished.
    pub fn holds_ips(&self) -> bool {
        !self.host_network && !matches!(&*self.phase, "Succeeded" | "Failed")
    }

    /// Running and not being deleted: a Whisperer can be attached.
    pub fn attachable(&self) -> bool {
        &*self.phase == "Running" && self.deleting.is_none()
    }
}

fn ephemeral(pod: &Pod) -> Vec<EphemeralInfo> {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.ephemeral_container_statuses.as_ref());
    pod.spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref())
        .into_iter()
        .flatten()
        .map(|c| {
            let status = statuses
                .into_iter()
                .flatten()
                .find(|s| s.name == c.name)
                .and_then(|s| s.state.as_ref());
            let state = match status {
                Some(s) if s.terminated.is_some() => {
                    let t = s.terminated.as_ref();
                    ContainerState::Terminated {
                        exit_code: t.map_or(0, |t| t.exit_code),
                        finished: t.and_then(|t| t.finished_at.as_ref()).map_or(0, nanos),
                        reason: t.and_then(|t| t.reason.clone()).unwrap_or_default(),
                    }
                }
                Some(s) if s.running.is_some() => ContainerState::Running {
                    started: s
                        .running
                        .as_ref()
                        .and_then(|r| r.started_at.as_ref())
                        .map_or(0, nanos),
                },
                Some(s) => ContainerState::Waiting {
                    reason: s
                        .waiting
                        .as_ref()
                        .and_then(|w| w.reason.clone())
                        .unwrap_or_default(),
                },
                None => ContainerState::Pending,
            };
            EphemeralInfo {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                state,
            }
        })
        .collect()
}

impl From<&Pod> for PodInfo {
    fn from(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let mut ips: Vec<IpAddr> = status
            .and_then(|s| s.pod_ips.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.ip.parse().ok())
            .collect();
        if ips.is_empty() {
            ips.extend(
                status
                    .and_then(|s| s.pod_ip.as_ref())
                    .and_then(|ip| ip.parse::<IpAddr>().ok()),
            );
        }
        Self {
            uid: text(meta.uid.as_ref()),
            namespace: text(meta.namespace.as_ref()),
            name: text(meta.name.as_ref()),
            node: spec.and_then(|s| s.node_name.as_deref()).map(Arc::from),
            ips,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            phase: text(status.and_then(|s| s.phase.as_ref())),
            owner: controller_owner(meta),
            labels: labels(meta),
            created: meta.creation_timestamp.as_ref().map_or(0, nanos),
            deleting: meta.deletion_timestamp.as_ref().map(nanos),
            containers: spec
                .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            ephemeral: ephemeral(pod),
            agents: super::agents::detect(pod),
        }
    }
}

/// A node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub name: Arc<str>,
    pub addresses: Vec<IpAddr>,
    pub pod_cidrs: Vec<(IpAddr, u8)>,
    pub labels: Labels,
    pub ready: bool,
}

/// Parses `10.244.0.0/24`.
pub fn parse_cidr(cidr: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Whether `ip` is in `cidr`.
pub fn in_cidr(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

impl From<&Node> for NodeInfo {
    fn from(node: &Node) -> Self {
        let status = node.status.as_ref();
        let spec = node.spec.as_ref();
        let mut pod_cidrs: Vec<(IpAddr, u8)> = spec
            .and_then(|s| s.pod_cidrs.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| parse_cidr(c))
            .collect();
        if pod_cidrs.is_empty() {
            pod_cidrs.extend(
                spec.and_then(|s| s.pod_cidr.as_deref())
                    .and_then(parse_cidr),
            );
        }
        Self {
            name: text(node.metadata.name.as_ref()),
            addresses: status
                .and_then(|s| s.addresses.as_ref())
                .into_iter()
                .flatten()
                .filter(|a| a.type_ == "InternalIP" || a.type_ == "ExternalIP")
                .filter_map(|a| a.address.parse().ok())
                .collect(),
            pod_cidrs,
            labels: labels(&node.metadata),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
        }
    }
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceInfo {
    pub name: Arc<str>,
    pub labels: Labels,
}

impl From<&Namespace> for NamespaceInfo {
    fn from(ns: &Namespace) -> Self {
        Self {
            name: text(ns.metadata.name.as_ref()),
            labels: labels(&ns.metadata),
        }
    }
}

/// A service port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePortInfo {
    pub name: String,
    pub port: u16,
    pub target_port: String,
    pub protocol: String,
}

/// A service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub cluster_ips: Vec<IpAddr>,
    pub ports: Vec<ServicePortInfo>,
    pub selector: Labels,
    pub type_: String,
}

impl From<&Service> for ServiceInfo {
    fn from(svc: &Service) -> Self {
        let spec = svc.spec.as_ref();
        let mut cluster_ips: Vec<IpAddr> = spec
            .and_then(|s| s.cluster_ips.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.parse().ok())
            .collect();
        if cluster_ips.is_empty() {
            cluster_ips.extend(
                spec.and_then(|s| s.cluster_ip.as_ref())
                    .and_then(|ip| ip.parse::<IpAddr>().ok()),
            );
        }
        // Load balancer addresses reach the same service.
        cluster_ips.extend(
            svc.status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_ref()?.parse::<IpAddr>().ok()),
        );
        Self {
            namespace: text(svc.metadata.namespace.as_ref()),
            name: text(svc.metadata.name.as_ref()),
            cluster_ips,
            ports: spec
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
                .map(|p| ServicePortInfo {
                    name: p.name.clone().unwrap_or_default(),
                    port: u16::try_from(p.port).unwrap_or(0),
                    target_port: match &p.target_port {
                        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => {
                            i.to_string()
                        }
                        Some(
                            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s),
                        ) => s.clone(),
                        None => String::new(),
                    },
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                })
                .collect(),
            selector: spec
                .and_then(|s| s.selector.as_ref())
                .into_iter()
                .flatten()
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
                .collect(),
            type_: spec
                .and_then(|s| s.type_.clone())
                .unwrap_or_else(|| "ClusterIP".into()),
        }
    }
}

/// An endpoint slice: which pods back a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SliceInfo {
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub service: Option<Arc<str>>,
    /// Names of the pods it points at.
    pub pods: Vec<Arc<str>>,
}

impl From<&EndpointSlice> for SliceInfo {
    fn from(slice: &EndpointSlice) -> Self {
        Self {
            namespace: text(slice.metadata.namespace.as_ref()),
            name: text(slice.metadata.name.as_ref()),
            service: slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(|s| Arc::from(s.as_str())),
            pods: slice
                .endpoints
                .iter()
                .filter_map(|e| e.target_ref.as_ref())
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .filter_map(|r| r.name.as_deref().map(Arc::from))
                .collect(),
        }
    }
}

/// A workload object (ReplicaSet, Deployment, DaemonSet, StatefulSet, Job, CronJob).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadInfo {
    pub kind: Arc<str>,
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub owner: Option<OwnerRef>,
    pub labels: Labels,
    /// Desired replicas (Deployment, StatefulSet, ReplicaSet).
    pub replicas: Option<i32>,
}

fn workload(kind: &str, meta: &ObjectMeta, replicas: Option<i32>) -> WorkloadInfo {
    WorkloadInfo {
        kind: Arc::from(kind),
        namespace: text(meta.namespace.as_ref()),
        name: text(meta.name.as_ref()),
        owner: controller_owner(meta),
        labels: labels(meta),
        replicas,
    }
}

impl From<&ReplicaSet> for WorkloadInfo {
    fn from(o: &ReplicaSet) -> Self {
        workload(
            "ReplicaSet",
            &o.metadata,
            o.spec.as_ref().and_then(|s| s.replicas),
        )
    }
}

impl From<&Deployment> for WorkloadInfo {
    fn from(o: &Deployment) -> Self {
        workload(
            "Deployment",
            &o.metadata,
            o.spec.as_ref().and_then(|s| s.replicas),
        )
    }
}

impl From<&StatefulSet> for WorkloadInfo {
    fn from(o: &StatefulSet) -> Self {
        workload(
            "StatefulSet",
            &o.metadata,
            o.spec.as_ref().and_then(|s| s.replicas),
        )
    }
}

impl From<&DaemonSet> for WorkloadInfo {
    fn from(o: &DaemonSet) -> Self {
        workload("DaemonSet", &o.metadata, None)
    }
}

impl From<&Job> for WorkloadInfo {
    fn from(o: &Job) -> Self {
        workload("Job", &o.metadata, None)
    }
}

impl From<&CronJob> for WorkloadInfo {
    fn from(o: &CronJob) -> Self {
        workload("CronJob", &o.metadata, None)
    }
}

/// A key of a namespaced object.
pub type NsName = (Arc<str>, Arc<str>);

/// A key of a workload: (kind, namespace, name).
pub type WorkloadKey = (Arc<str>, Arc<str>, Arc<str>);

/// Label pairs as a map (for the backend).
pub fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
