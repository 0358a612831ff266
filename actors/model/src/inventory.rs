//! A Controller's inventory of a Kubernetes cluster as the backend keeps it: the objects the
//! cluster map draws (`inventory.capnp`), and the snapshot / delta updates that carry it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::EpochNanos;

/// A node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub labels: BTreeMap<String, String>,
    pub ready: bool,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceView {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A parent workload (NLS: namespace → workload); a bare pod is a workload of kind `Pod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadView {
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub replicas: u32,
}

/// A pod (NPS: node → namespace → pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodView {
    pub name: String,
    pub namespace: String,
    pub ips: Vec<IpAddr>,
    pub node: Option<String>,
    pub workload_kind: String,
    pub workload: String,
    pub host_network: bool,
    pub phase: String,
    pub labels: BTreeMap<String, String>,
}

/// A service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    pub namespace: String,
    pub cluster_ips: Vec<IpAddr>,
    #[serde(rename = "type")]
    pub type_: String,
}

/// Inventory objects: a whole inventory, or the objects a delta adds or changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventorySnapshot {
    pub nodes: Vec<NodeView>,
    pub namespaces: Vec<NamespaceView>,
    pub workloads: Vec<WorkloadView>,
    pub pods: Vec<PodView>,
    pub services: Vec<ServiceView>,
}

/// The kind of an inventory object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Node,
    Namespace,
    Workload,
    Pod,
    Service,
}

/// Names one inventory object: its identity within a Controller's inventory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InventoryRef {
    pub kind: ObjectKind,
    /// `None` for nodes and namespaces.
    pub namespace: Option<String>,
    pub name: String,
    /// For workloads: the workload's kind (names are unique per kind and namespace only).
    pub workload_kind: Option<String>,
}

impl InventoryRef {
    fn new(kind: ObjectKind, namespace: Option<&str>, name: &str, wkind: Option<&str>) -> Self {
        Self {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            workload_kind: wkind.map(str::to_string),
        }
    }
}

/// One inventory object of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "object")]
pub enum InventoryObject {
    Node(NodeView),
    Namespace(NamespaceView),
    Workload(WorkloadView),
    Pod(PodView),
    Service(ServiceView),
}

impl InventoryObject {
    /// The object's identity.
    pub fn key(&self) -> InventoryRef {
        match self {
            Self::Node(n) => InventoryRef::new(ObjectKind::Node, None, &n.name, None),
            Self::Namespace(n) => InventoryRef::new(ObjectKind::Namespace, None, &n.name, None),
            Self::Workload(w) => InventoryRef::new(
                ObjectKind::Workload,
                Some(&w.namespace),
                &w.name,
                Some(&w.kind),
            ),
            Self::Pod(p) => InventoryRef::new(ObjectKind::Pod, Some(&p.namespace), &p.name, None),
            Self::Service(s) => {
                InventoryRef::new(ObjectKind::Service, Some(&s.namespace), &s.name, None)
            }
        }
    }
}

impl InventorySnapshot {
    /// Every object, by identity.
    pub fn objects(&self) -> BTreeMap<InventoryRef, InventoryObject> {
        let all = (self.nodes.iter().cloned().map(InventoryObject::Node))
            .chain(
                self.namespaces
                    .iter()
                    .cloned()
                    .map(InventoryObject::Namespace),
            )
            .chain(
                self.workloads
                    .iter()
                    .cloned()
                    .map(InventoryObject::Workload),
            )
            .chain(self.pods.iter().cloned().map(InventoryObject::Pod))
            .chain(self.services.iter().cloned().map(InventoryObject::Service));
        all.map(|object| (object.key(), object)).collect()
    }

    /// The objects of `objects`, sorted by identity.
    pub fn from_objects(objects: impl IntoIterator<Item = InventoryObject>) -> Self {
        let mut snapshot = Self::default();
        for object in objects {
            snapshot.push(object);
        }
        snapshot.sort();
        snapshot
    }

    pub fn push(&mut self, object: InventoryObject) {
        match object {
            InventoryObject::Node(n) => self.nodes.push(n),
            InventoryObject::Namespace(n) => self.namespaces.push(n),
            InventoryObject::Workload(w) => self.workloads.push(w),
            InventoryObject::Pod(p) => self.pods.push(p),
            InventoryObject::Service(s) => self.services.push(s),
        }
    }

    /// Objects in a stable order: by namespace, kind and name.
    pub fn sort(&mut self) {
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
        self.workloads.sort_by(|a, b| {
            (&a.namespace, &a.kind, &a.name).cmp(&(&b.namespace, &b.kind, &b.name))
        });
        self.pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.services
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
            + self.namespaces.len()
            + self.workloads.len()
            + self.pods.len()
            + self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What changed from `self` to `newer`: `None` when nothing did.
    pub fn diff(&self, newer: &Self) -> Option<InventoryDelta> {
        let old = self.objects();
        let new = newer.objects();
        let upserted = new
            .iter()
            .filter(|(key, object)| old.get(*key) != Some(*object))
            .map(|(_, object)| object.clone());
        let upserted = Self::from_objects(upserted);
        let removed: Vec<InventoryRef> = old
            .keys()
            .filter(|key| !new.contains_key(*key))
            .cloned()
            .collect();
        (!upserted.is_empty() || !removed.is_empty())
            .then_some(InventoryDelta { upserted, removed })
    }

    /// Applies a delta: its objects replace those with the same identity, its removals go.
    pub fn apply(&mut self, delta: &InventoryDelta) {
        let mut objects = self.objects();
        let removed: BTreeSet<&InventoryRef> = delta.removed.iter().collect();
        objects.retain(|key, _| !removed.contains(key));
        for (key, object) in delta.upserted.objects() {
            objects.insert(key, object);
        }
        *self = Self::from_objects(objects.into_values());
    }
}

/// Changes since a Controller's previous update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryDelta {
    pub upserted: InventorySnapshot,
    pub removed: Vec<InventoryRef>,
}

/// What an update carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryChange {
    /// Everything, replacing what was known from this Controller.
    Snapshot(InventorySnapshot),
    Delta(InventoryDelta),
}

/// One update of a Controller's inventory (`Ingest.pushInventory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryUpdate {
    pub controller: String,
    pub cluster: String,
    /// When the Controller's view was in this state.
    pub time: EpochNanos,
    pub change: InventoryChange,
}

/// The inventory of one cluster as the backend holds it: the latest state of its Controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInventory {
    pub controller: String,
    pub cluster: String,
    /// When the Controller's view was in this state (its latest update).
    pub time: EpochNanos,
    pub objects: InventorySnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str) -> PodView {
        PodView {
            name: name.into(),
            namespace: "shop".into(),
            ips: vec!["10.1.0.7".parse().expect("an ip")],
            node: Some("n1".into()),
            workload_kind: "Deployment".into(),
            workload: "web".into(),
            host_network: false,
            phase: phase.into(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn a_delta_applied_to_the_old_state_gives_the_new_one() {
        let old = InventorySnapshot {
            pods: vec![pod("a", "Running"), pod("b", "Pending")],
            namespaces: vec![NamespaceView {
                name: "shop".into(),
                labels: BTreeMap::new(),
            }],
            ..InventorySnapshot::default()
        };
        let mut new = old.clone();
        new.pods[1].phase = "Running".into();
        new.pods.remove(0);
        new.pods.push(pod("c", "Pending"));
        new.sort();
        let delta = old.diff(&new).expect("changes");
        assert_eq!(delta.removed.len(), 1);
        assert_eq!(delta.removed[0].name, "a");
        assert_eq!(delta.upserted.pods.len(), 2);
        let mut applied = old.clone();
        applied.apply(&delta);
        assert_eq!(applied, new);
        assert_eq!(new.diff(&new), None);
    }

    #[test]
    fn workloads_of_different_kinds_with_one_name_are_different_objects() {
        let workload = |kind: &str| WorkloadView {
            kind: kind.into(),
            name: "web".into(),
            namespace: "shop".into(),
            labels: BTreeMap::new(),
            replicas: 1,
        };
        let both = InventorySnapshot {
            workloads: vec![workload("Deployment"), workload("StatefulSet")],
            ..InventorySnapshot::default()
        };
        assert_eq!(both.objects().len(), 2);
    }
}
