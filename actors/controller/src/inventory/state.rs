//! The inventory's state: the compact objects of every watched kind, the IP indexes, and the
//! resolution of an IP at a minute to Kubernetes names.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use spider_model::inventory::{
    InventorySnapshot, NamespaceView, NodeView, PodView, ServiceView, WorkloadView,
};
use spider_model::WorkloadRef;

use super::ips::{Holder, IpHistory};
use super::objects::{
    in_cidr, label_map, NamespaceInfo, NodeInfo, NsName, PodInfo, ServiceInfo, SliceInfo,
    WorkloadInfo, WorkloadKey,
};
use super::owners::{is_parent, parent, pod_ref};

/// The kinds watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Node,
    Namespace,
    Pod,
    Service,
    EndpointSlice,
    ReplicaSet,
    Deployment,
    DaemonSet,
    StatefulSet,
    Job,
    CronJob,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Node,
        Kind::Namespace,
        Kind::Pod,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::ReplicaSet,
        Kind::Deployment,
        Kind::DaemonSet,
        Kind::StatefulSet,
        Kind::Job,
        Kind::CronJob,
    ];

    /// The resource's plural (as RBAC names it).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Namespace => "namespaces",
            Kind::Pod => "pods",
            Kind::Service => "services",
            Kind::EndpointSlice => "endpointslices",
            Kind::ReplicaSet => "replicasets",
            Kind::Deployment => "deployments",
            Kind::DaemonSet => "daemonsets",
            Kind::StatefulSet => "statefulsets",
            Kind::Job => "jobs",
            Kind::CronJob => "cronjobs",
        }
    }

    fn workload_kind(self) -> Option<&'static str> {
        match self {
            Kind::ReplicaSet => Some("ReplicaSet"),
            Kind::Deployment => Some("Deployment"),
            Kind::DaemonSet => Some("DaemonSet"),
            Kind::StatefulSet => Some("StatefulSet"),
            Kind::Job => Some("Job"),
            Kind::CronJob => Some("CronJob"),
            _ => None,
        }
    }
}

/// One object, compact.
#[derive(Debug, Clone)]
pub enum Entry {
    Node(NodeInfo),
    Namespace(NamespaceInfo),
    Pod(PodInfo),
    Service(ServiceInfo),
    Slice(SliceInfo),
    Workload(WorkloadInfo),
}

impl Entry {
    fn key(&self) -> NsName {
        let empty = || Arc::from("");
        match self {
            Entry::Node(n) => (empty(), Arc::clone(&n.name)),
            Entry::Namespace(n) => (empty(), Arc::clone(&n.name)),
            Entry::Pod(p) => (Arc::clone(&p.namespace), Arc::clone(&p.name)),
            Entry::Service(s) => (Arc::clone(&s.namespace), Arc::clone(&s.name)),
            Entry::Slice(s) => (Arc::clone(&s.namespace), Arc::clone(&s.name)),
            Entry::Workload(w) => (Arc::clone(&w.namespace), Arc::clone(&w.name)),
        }
    }
}

/// Inventory state (behind the inventory's lock).
#[derive(Debug)]
pub struct State {
    pub pods: HashMap<NsName, PodInfo>,
    pods_by_uid: HashMap<Arc<str>, NsName>,
    pub nodes: HashMap<Arc<str>, NodeInfo>,
    pub namespaces: HashMap<Arc<str>, NamespaceInfo>,
    pub services: HashMap<NsName, ServiceInfo>,
    pub slices: HashMap<NsName, SliceInfo>,
    /// Endpoint slices by their service (namespace, service name).
    slices_by_service: HashMap<NsName, HashSet<Arc<str>>>,
    pub workloads: HashMap<WorkloadKey, WorkloadInfo>,
    ips: IpHistory,
    service_ips: HashMap<IpAddr, NsName>,
    node_ips: HashMap<IpAddr, Arc<str>>,
    internal: Vec<(IpAddr, u8)>,
    relisting: HashMap<Kind, HashSet<NsName>>,
    pub synced: HashSet<Kind>,
}

fn class(kind: &str) -> WorkloadRef {
    WorkloadRef {
        kind: Some(kind.to_string()),
        ..WorkloadRef::default()
    }
}

impl State {
    /// An empty state; `internal` are the networks whose unknown IPs are
    /// `internal_unidentified` (beside the nodes' pod CIDRs).
    pub fn new(internal: Vec<(IpAddr, u8)>, ip_retention_ns: i64) -> Self {
        Self {
            pods: HashMap::new(),
            pods_by_uid: HashMap::new(),
            nodes: HashMap::new(),
            namespaces: HashMap::new(),
            services: HashMap::new(),
            slices: HashMap::new(),
            slices_by_service: HashMap::new(),
            workloads: HashMap::new(),
            ips: IpHistory::new(ip_retention_ns),
            service_ips: HashMap::new(),
            node_ips: HashMap::new(),
            internal,
            relisting: HashMap::new(),
            synced: HashSet::new(),
        }
    }

    /// A list starts (the watch began again or expired): objects not seen by its end are gone.
    pub fn begin_relist(&mut self, kind: Kind) {
        self.relisting.insert(kind, HashSet::new());
    }

    /// Adds or changes an object (`now`: when the Controller saw it).
    pub fn apply(&mut self, kind: Kind, entry: Entry, now: i64) {
        if let Some(seen) = self.relisting.get_mut(&kind) {
            seen.insert(entry.key());
        }
        match entry {
            Entry::Pod(pod) => self.apply_pod(pod, now),
            Entry::Node(node) => {
                if let Some(old) = self.nodes.get(&node.name) {
                    for ip in &old.addresses {
                        self.node_ips.remove(ip);
                    }
                }
                for ip in &node.addresses {
                    self.node_ips.insert(*ip, Arc::clone(&node.name));
                }
                self.nodes.insert(Arc::clone(&node.name), node);
            }
            Entry::Namespace(ns) => {
                self.namespaces.insert(Arc::clone(&ns.name), ns);
            }
            Entry::Service(svc) => {
                let key = (Arc::clone(&svc.namespace), Arc::clone(&svc.name));
                self.remove_service_ips(&key);
                for ip in &svc.cluster_ips {
                    self.service_ips.insert(*ip, key.clone());
                }
                self.services.insert(key, svc);
            }
            Entry::Slice(slice) => {
                let key = (Arc::clone(&slice.namespace), Arc::clone(&slice.name));
                self.unindex_slice(&key);
                if let Some(service) = &slice.service {
                    self.slices_by_service
                        .entry((Arc::clone(&slice.namespace), Arc::clone(service)))
                        .or_default()
                        .insert(Arc::clone(&slice.name));
                }
                self.slices.insert(key, slice);
            }
            Entry::Workload(w) => {
                self.workloads.insert(
                    (
                        Arc::clone(&w.kind),
                        Arc::clone(&w.namespace),
                        Arc::clone(&w.name),
                    ),
                    w,
                );
            }
        }
    }

    fn unindex_slice(&mut self, key: &NsName) {
        let Some(service) = self.slices.get(key).and_then(|s| s.service.clone()) else {
            return;
        };
        let service_key = (Arc::clone(&key.0), service);
        if let Some(names) = self.slices_by_service.get_mut(&service_key) {
            names.remove(&key.1);
            if names.is_empty() {
                self.slices_by_service.remove(&service_key);
            }
        }
    }

    fn remove_service_ips(&mut self, key: &NsName) {
        if let Some(old) = self.services.get(key) {
            for ip in &old.cluster_ips {
                if self.service_ips.get(ip) == Some(key) {
                    self.service_ips.remove(ip);
                }
            }
        }
    }

    /// When a pod let its IPs go: its deletion time if earlier than now.
    fn release_time(pod: &PodInfo, now: i64) -> i64 {
        pod.deleting.map_or(now, |d| d.min(now))
    }

    fn apply_pod(&mut self, pod: PodInfo, now: i64) {
        let key = (Arc::clone(&pod.namespace), Arc::clone(&pod.name));
        let old = self.pods.remove(&key);
        if let Some(old) = &old {
            if old.uid != pod.uid {
                self.pods_by_uid.remove(&old.uid);
            }
            let kept: Vec<IpAddr> = if pod.holds_ips() && old.uid == pod.uid {
                pod.ips.clone()
            } else {
                Vec::new()
            };
            let names = pod_ref(old, &self.workloads);
            for ip in old.ips.iter().filter(|ip| !kept.contains(ip)) {
                self.ips
                    .close(*ip, Self::release_time(&pod, now), &old.uid, names.clone());
            }
        }
        if pod.holds_ips() {
            let pods = &self.pods;
            let by_uid = &self.pods_by_uid;
            let workloads = &self.workloads;
            for ip in &pod.ips {
                self.ips.open(*ip, pod.created, &pod.uid, |holder| {
                    by_uid
                        .get(holder)
                        .and_then(|k| pods.get(k))
                        .map(|p| pod_ref(p, workloads))
                        .unwrap_or_default()
                });
            }
        }
        self.pods_by_uid.insert(Arc::clone(&pod.uid), key.clone());
        self.pods.insert(key, pod);
    }

    /// Removes an object (`deleting`: the pod's deletion time, when known).
    pub fn delete(&mut self, kind: Kind, key: &NsName, now: i64) {
        match kind {
            Kind::Pod => {
                if let Some(pod) = self.pods.remove(key) {
                    self.pods_by_uid.remove(&pod.uid);
                    let names = pod_ref(&pod, &self.workloads);
                    let at = Self::release_time(&pod, now);
                    for ip in &pod.ips {
                        self.ips.close(*ip, at, &pod.uid, names.clone());
                    }
                }
            }
            Kind::Node => {
                if let Some(node) = self.nodes.remove(&key.1) {
                    for ip in &node.addresses {
                        self.node_ips.remove(ip);
                    }
                }
            }
            Kind::Namespace => {
                self.namespaces.remove(&key.1);
            }
            Kind::Service => {
                self.remove_service_ips(key);
                self.services.remove(key);
            }
            Kind::EndpointSlice => {
                self.unindex_slice(key);
                self.slices.remove(key);
            }
            other => {
                if let Some(kind) = other.workload_kind() {
                    self.workloads.remove(&(
                        Arc::from(kind),
                        Arc::clone(&key.0),
                        Arc::clone(&key.1),
                    ));
                }
            }
        }
    }

    /// The list that began with [`Self::begin_relist`] is complete: removes what it did not hold.
    pub fn end_relist(&mut self, kind: Kind, now: i64) {
        let Some(seen) = self.relisting.remove(&kind) else {
            return;
        };
        let stale: Vec<NsName> = match kind {
            Kind::Pod => self
                .pods
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect(),
            Kind::Node => self
                .nodes
                .keys()
                .map(|n| (Arc::from(""), Arc::clone(n)))
                .filter(|k| !seen.contains(k))
                .collect(),
            Kind::Namespace => self
                .namespaces
                .keys()
                .map(|n| (Arc::from(""), Arc::clone(n)))
                .filter(|k| !seen.contains(k))
                .collect(),
            Kind::Service => self
                .services
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect(),
            Kind::EndpointSlice => self
                .slices
                .keys()
                .filter(|k| !seen.contains(*k))
                .cloned()
                .collect(),
            other => {
                let wanted = other.workload_kind().unwrap_or_default();
                self.workloads
                    .keys()
                    .filter(|(k, _, _)| &**k == wanted)
                    .map(|(_, ns, name)| (Arc::clone(ns), Arc::clone(name)))
                    .filter(|k| !seen.contains(k))
                    .collect()
            }
        };
        for key in stale {
            self.delete(kind, &key, now);
        }
        self.synced.insert(kind);
    }

    /// Forgets IP tenures that ended long before `now`.
    pub fn prune(&mut self, now: i64) {
        self.ips.prune(now);
    }

    /// The names of a service's IP: its backing workload when every pod behind it belongs to one,
    /// the service otherwise.
    fn service_ref(&self, key: &NsName) -> WorkloadRef {
        let mut parents = HashSet::new();
        for slice in self
            .slices_by_service
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|name| self.slices.get(&(Arc::clone(&key.0), Arc::clone(name))))
        {
            for pod in &slice.pods {
                if let Some(pod) = self.pods.get(&(Arc::clone(&key.0), Arc::clone(pod))) {
                    parents.insert(parent(pod, &self.workloads));
                }
            }
        }
        let (kind, name) = match (parents.len(), parents.into_iter().next()) {
            (1, Some((kind, name))) => (kind.to_string(), name.to_string()),
            _ => ("Service".to_string(), key.1.to_string()),
        };
        WorkloadRef {
            namespace: Some(key.0.to_string()),
            kind: Some(kind),
            workload: Some(name),
            pod: None,
            node: None,
        }
    }

    /// The Kubernetes names of `ip` during the minute starting at `minute` (epoch ns).
    pub fn resolve(&self, ip: IpAddr, minute: i64) -> WorkloadRef {
        if let Some(tenure) = self.ips.at(ip, minute) {
            match &tenure.holder {
                Holder::Gone(names) => return (**names).clone(),
                Holder::Live(uid) => {
                    if let Some(pod) = self.pods_by_uid.get(uid).and_then(|k| self.pods.get(k)) {
                        return pod_ref(pod, &self.workloads);
                    }
                }
            }
        }
        if let Some(key) = self.service_ips.get(&ip) {
            return self.service_ref(key);
        }
        if let Some(node) = self.node_ips.get(&ip) {
            return WorkloadRef {
                kind: Some("node".into()),
                workload: Some(node.to_string()),
                node: Some(node.to_string()),
                ..WorkloadRef::default()
            };
        }
        let internal = self
            .nodes
            .values()
            .flat_map(|n| n.pod_cidrs.iter())
            .chain(self.internal.iter())
            .any(|cidr| in_cidr(ip, *cidr));
        class(if internal {
            "internal_unidentified"
        } else {
            "external"
        })
    }

    /// The live pod holding `ip` now, if any.
    pub fn pod_of_ip(&self, ip: IpAddr) -> Option<&PodInfo> {
        self.pods
            .values()
            .find(|p| p.holds_ips() && p.ips.contains(&ip))
    }

    /// Pods of workload (kind, name) in `namespace`.
    pub fn pods_of(&self, namespace: &str, kind: &str, name: &str) -> Vec<&PodInfo> {
        self.pods
            .values()
            .filter(|p| &*p.namespace == namespace)
            .filter(|p| {
                let (k, n) = parent(p, &self.workloads);
                &*k == kind && &*n == name
            })
            .collect()
    }

    /// The inventory as the backend's `InventoryObjects` describe it.
    pub fn snapshot(&self) -> InventorySnapshot {
        let mut snapshot = InventorySnapshot::default();
        for node in self.nodes.values() {
            snapshot.nodes.push(NodeView {
                name: node.name.to_string(),
                addresses: node.addresses.clone(),
                labels: label_map(&node.labels),
                ready: node.ready,
            });
        }
        for ns in self.namespaces.values() {
            snapshot.namespaces.push(NamespaceView {
                name: ns.name.to_string(),
                labels: label_map(&ns.labels),
            });
        }
        for w in self.workloads.values().filter(|w| is_parent(w)) {
            snapshot.workloads.push(WorkloadView {
                kind: w.kind.to_string(),
                name: w.name.to_string(),
                namespace: w.namespace.to_string(),
                labels: label_map(&w.labels),
                replicas: w.replicas.and_then(|r| u32::try_from(r).ok()).unwrap_or(0),
            });
        }
        for pod in self.pods.values() {
            let (kind, name) = parent(pod, &self.workloads);
            if &*kind == "Pod" {
                snapshot.workloads.push(WorkloadView {
                    kind: "Pod".into(),
                    name: pod.name.to_string(),
                    namespace: pod.namespace.to_string(),
                    labels: label_map(&pod.labels),
                    replicas: 0,
                });
            }
            snapshot.pods.push(PodView {
                name: pod.name.to_string(),
                namespace: pod.namespace.to_string(),
                ips: pod.ips.clone(),
                node: pod.node.as_ref().map(|n| n.to_string()),
                workload_kind: kind.to_string(),
                workload: name.to_string(),
                host_network: pod.host_network,
                phase: pod.phase.to_string(),
                labels: label_map(&pod.labels),
            });
        }
        for svc in self.services.values() {
            snapshot.services.push(ServiceView {
                name: svc.name.to_string(),
                namespace: svc.namespace.to_string(),
                cluster_ips: svc.cluster_ips.clone(),
                type_: svc.type_.clone(),
            });
        }
        snapshot.sort();
        snapshot
    }
}
