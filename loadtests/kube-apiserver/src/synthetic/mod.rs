//! A synthetic cluster for benchmarks: nodes, namespaces, Deployments → ReplicaSets → pods,
//! StatefulSets, DaemonSets on every node, CronJobs → Jobs → pods, and services with their
//! endpoint slices, as real API objects of realistic size (labels, annotations, container specs,
//! statuses); then churn at a given rate: pod restarts, pods deleted and replaced (the
//! replacement often gets the IP just freed on its node: IPs are reused last-freed first),
//! scale-ups and scale-downs, rollouts (a new ReplicaSet, pods replaced, the oldest revision
//! deleted) and CronJob runs. Every change goes through [`Store`], so watches see the same
//! events a real API server would send (a pod's deletion is a MODIFIED with its
//! `deletionTimestamp`, then a DELETED; a new pod is ADDED `Pending` without an IP, then
//! MODIFIED `Running` with one).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::store::{ApiError, Store};
use crate::time::now_rfc3339;

/// The shape of the synthetic cluster and its churn.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub nodes: usize,
    /// Pods in all (approximately: Deployments fill what the other kinds leave).
    pub pods: usize,
    pub services: usize,
    pub namespaces: usize,
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            nodes: 50,
            pods: 5000,
            services: 3000,
            namespaces: 40,
            seed: 1,
        }
    }
}

/// What the cluster holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub nodes: usize,
    pub namespaces: usize,
    pub deployments: usize,
    pub replica_sets: usize,
    pub stateful_sets: usize,
    pub daemon_sets: usize,
    pub cron_jobs: usize,
    pub jobs: usize,
    pub pods: usize,
    pub services: usize,
    pub endpoint_slices: usize,
}

/// xorshift64*: deterministic for a seed, no dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }

    fn hash(&mut self) -> String {
        self.suffix(10).chars().take(9 + self.below(2)).collect()
    }
}

const WORDS: [&str; 24] = [
    "cart",
    "checkout",
    "payments",
    "search",
    "catalog",
    "auth",
    "email",
    "ads",
    "reco",
    "shipping",
    "frontend",
    "gateway",
    "orders",
    "inventory",
    "billing",
    "notify",
    "profile",
    "media",
    "pricing",
    "review",
    "ledger",
    "session",
    "quote",
    "export",
];

#[derive(Debug, Clone)]
struct PodSlot {
    name: String,
    node: usize,
    ip: Option<[u8; 4]>,
    restarts: u32,
}

#[derive(Debug, Clone)]
struct Deploy {
    namespace: String,
    name: String,
    replicas: usize,
    revision: u32,
    /// ReplicaSet hashes, oldest first; the last is current.
    hashes: Vec<String>,
    pods: Vec<PodSlot>,
    services: Vec<String>,
    image: String,
}

#[derive(Debug, Clone)]
struct Stateful {
    namespace: String,
    name: String,
    pods: Vec<PodSlot>,
    services: Vec<String>,
}

#[derive(Debug, Clone)]
struct Daemon {
    name: String,
    host_network: bool,
    pods: Vec<PodSlot>,
}

#[derive(Debug, Clone)]
struct Cron {
    namespace: String,
    name: String,
    /// (job name, pod) of the runs kept, oldest first.
    runs: Vec<(String, PodSlot)>,
    minute: u64,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    index: usize,
    /// Free pod IPs of its /24 (last freed first).
    free: Vec<u8>,
}

/// The synthetic cluster: what it created, so that churn can change it.
#[derive(Debug)]
pub struct Synthetic {
    rng: Rng,
    target_pods: usize,
    nodes: Vec<Node>,
    namespaces: Vec<String>,
    deploys: Vec<Deploy>,
    statefuls: Vec<Stateful>,
    daemons: Vec<Daemon>,
    crons: Vec<Cron>,
    services: usize,
    /// Cluster IPs by service (namespace, name).
    cluster_ips: HashMap<(String, String), [u8; 4]>,
    next_cluster_ip: u32,
    /// Churn operations done.
    pub operations: u64,
}

fn ip_text(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

fn node_ip(index: usize) -> [u8; 4] {
    [
        10,
        0,
        u8::try_from(index / 200).unwrap_or(255),
        u8::try_from(index % 200 + 10).unwrap_or(255),
    ]
}

fn owner(api_version: &str, kind: &str, name: &str) -> Value {
    json!([{"apiVersion": api_version, "kind": kind, "name": name,
            "uid": format!("00000000-0000-4000-8000-{:012x}", fxhash(name)),
            "controller": true, "blockOwnerDeletion": true}])
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3) & 0xffff_ffff_ffff
    })
}

fn container(name: &str, image: &str, port: u16) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port", port.to_string(), "--log-format", "json"],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability:4317"}
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
                           "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/livez", "port": port, "scheme": "HTTP"},
                          "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 10001,
                            "capabilities": {"drop": ["ALL"]}}
    })
}

fn pod_spec(containers: Vec<Value>, node: Option<&str>, host_network: bool) -> Value {
    let mut spec = json!({
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": if host_network { "ClusterFirstWithHostNet" } else { "ClusterFirst" },
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "securityContext": {"fsGroup": 10001},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}}]
    });
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    if host_network {
        spec["hostNetwork"] = json!(true);
    }
    spec
}

fn template(labels: &Value, containers: Vec<Value>) -> Value {
    json!({"metadata": {"labels": labels}, "spec": pod_spec(containers, None, false)})
}

impl Synthetic {
    /// Builds the cluster in `store`.
    pub fn build(store: &Store, config: &SyntheticConfig) -> Result<Self, ApiError> {
        let mut this = Self {
            rng: Rng(config.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            target_pods: config.pods,
            nodes: Vec::new(),
            namespaces: Vec::new(),
            deploys: Vec::new(),
            statefuls: Vec::new(),
            daemons: Vec::new(),
            crons: Vec::new(),
            services: 0,
            cluster_ips: HashMap::new(),
            next_cluster_ip: 10,
            operations: 0,
        };
        for index in 0..config.nodes.max(1) {
            let node = Node {
                name: format!("node-{index:03}"),
                index,
                free: (2..=254).rev().collect(),
            };
            store.apply(this.node_object(&node))?;
            this.nodes.push(node);
        }
        let mut namespaces = vec!["kube-system".to_string(), "default".to_string()];
        for i in 0..config.namespaces.saturating_sub(2) {
            namespaces.push(format!("{}-{}", WORDS[i % WORDS.len()], i / WORDS.len()));
        }
        for ns in &namespaces {
            store.apply(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "team": "platform"}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
        }
        this.namespaces = namespaces;
        // DaemonSets: kube-proxy (host network), a CNI agent, a log shipper.
        for (name, host_network) in [
            ("kube-proxy", true),
            ("cilium", true),
            ("fluent-bit", false),
        ] {
            let mut daemon = Daemon {
                name: name.into(),
                host_network,
                pods: Vec::new(),
            };
            store.apply(this.daemon_object(&daemon))?;
            for node in 0..this.nodes.len() {
                let slot = this.new_slot(&format!("{name}-"), node, host_network);
                this.put_daemon_pod(store, &daemon, &slot)?;
                daemon.pods.push(slot);
            }
            this.daemons.push(daemon);
        }
        let app_namespaces = this.namespaces.len().saturating_sub(2).max(1);
        let ns_of = |i: usize, namespaces: &[String]| {
            namespaces
                .get(2 + i % app_namespaces)
                .or_else(|| namespaces.last())
                .cloned()
                .unwrap_or_default()
        };
        // StatefulSets: 3 replicas each, about 3% of the pods.
        let statefuls = (config.pods * 3 / 100 / 3).max(1);
        for i in 0..statefuls {
            let namespace = ns_of(i, &this.namespaces);
            let name = format!("{}-db-{i}", WORDS[(i + 7) % WORDS.len()]);
            let mut set = Stateful {
                namespace,
                name,
                pods: Vec::new(),
                services: Vec::new(),
            };
            store.apply(this.stateful_object(&set, 3))?;
            for ordinal in 0..3 {
                let node = this.rng.below(this.nodes.len());
                let mut slot = this.new_slot("", node, false);
                slot.name = format!("{}-{ordinal}", set.name);
                this.put_stateful_pod(store, &set, &slot)?;
                set.pods.push(slot);
            }
            for suffix in ["", "-headless"] {
                let service = format!("{}{suffix}", set.name);
                set.services.push(service);
            }
            this.statefuls.push(set);
        }
        let stateful_services: Vec<(usize, Vec<String>)> = this
            .statefuls
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.services.clone()))
            .collect();
        for (i, services) in stateful_services {
            for service in services {
                this.put_service(store, ServiceOf::Stateful(i), &service)?;
            }
        }
        // CronJobs: one run kept each at first.
        for i in 0..(config.pods / 250).max(1) {
            let mut cron = Cron {
                namespace: ns_of(i, &this.namespaces),
                name: format!("{}-report-{i}", WORDS[(i + 3) % WORDS.len()]),
                runs: Vec::new(),
                minute: 29_091_600 + u64::try_from(i).unwrap_or(0),
            };
            store.apply(this.cron_object(&cron))?;
            this.cron_run(store, &mut cron)?;
            this.crons.push(cron);
        }
        // Deployments fill the rest, 1 to 8 replicas.
        let mut i = 0;
        while this.pod_count() < config.pods {
            let replicas = (1 + this.rng.below(8)).min(config.pods - this.pod_count());
            let namespace = ns_of(i, &this.namespaces);
            let name = format!("{}-{i}", WORDS[i % WORDS.len()]);
            let hash = this.rng.hash();
            let mut deploy = Deploy {
                namespace,
                name,
                replicas,
                revision: 1,
                hashes: vec![hash],
                pods: Vec::new(),
                services: Vec::new(),
                image: format!(
                    "registry.example.com/shop/{}:1.{i}.0",
                    WORDS[i % WORDS.len()]
                ),
            };
            store.apply(this.deploy_object(&deploy))?;
            store.apply(this.rs_object(&deploy, 0, replicas))?;
            deploy.services.push(deploy.name.clone());
            this.deploys.push(deploy);
            let d = this.deploys.len() - 1;
            for _ in 0..replicas {
                let slot = this.new_deploy_slot(d);
                this.put_deploy_pod(store, &this.deploys[d], &slot, true)?;
                this.deploys[d].pods.push(slot);
            }
            i += 1;
        }
        // Services: one per Deployment, two per StatefulSet, then extra ports of Deployments.
        for d in 0..this.deploys.len() {
            let name = this.deploys[d].name.clone();
            this.put_service(store, ServiceOf::Deploy(d), &name)?;
        }
        let extras = ["metrics", "grpc", "admin", "internal", "canary"];
        let mut round = 0;
        while this.services < config.services && !this.deploys.is_empty() {
            let d = round % this.deploys.len();
            let name = format!(
                "{}-{}",
                this.deploys[d].name,
                extras[(round / this.deploys.len()) % extras.len()]
            );
            this.deploys[d].services.push(name.clone());
            this.put_service(store, ServiceOf::Deploy(d), &name)?;
            round += 1;
        }
        Ok(this)
    }

    fn pod_count(&self) -> usize {
        self.deploys.iter().map(|d| d.pods.len()).sum::<usize>()
            + self.statefuls.iter().map(|s| s.pods.len()).sum::<usize>()
            + self.daemons.iter().map(|d| d.pods.len()).sum::<usize>()
            + self.crons.iter().map(|c| c.runs.len()).sum::<usize>()
    }

    /// What the cluster holds now.
    pub fn counts(&self) -> Counts {
        let services = self.services;
        Counts {
            nodes: self.nodes.len(),
            namespaces: self.namespaces.len(),
            deployments: self.deploys.len(),
            replica_sets: self.deploys.iter().map(|d| d.hashes.len()).sum(),
            stateful_sets: self.statefuls.len(),
            daemon_sets: self.daemons.len(),
            cron_jobs: self.crons.len(),
            jobs: self.crons.iter().map(|c| c.runs.len()).sum(),
            pods: self.pod_count(),
            services,
            endpoint_slices: services,
        }
    }

    fn new_slot(&mut self, prefix: &str, node: usize, host_network: bool) -> PodSlot {
        let ip = if host_network {
            Some(node_ip(node))
        } else {
            self.nodes[node]
                .free
                .pop()
                .map(|last| [10, 244, u8::try_from(node % 256).unwrap_or(0), last])
        };
        PodSlot {
            name: format!("{prefix}{}", self.rng.suffix(5)),
            node,
            ip,
            restarts: 0,
        }
    }

    fn new_deploy_slot(&mut self, d: usize) -> PodSlot {
        let node = self.rng.below(self.nodes.len());
        let deploy = &self.deploys[d];
        let prefix = format!(
            "{}-{}-",
            deploy.name,
            deploy.hashes.last().map_or("", String::as_str)
        );
        self.new_slot(&prefix, node, false)
    }

    fn free(&mut self, slot: &PodSlot, host_network: bool) {
        if let (Some(ip), false) = (slot.ip, host_network) {
            self.nodes[slot.node].free.push(ip[3]);
        }
    }
}

mod churn;
mod objects;

#[derive(Debug, Clone, Copy)]
enum ServiceOf {
    Deploy(usize),
    Stateful(usize),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_asked_cluster_and_churns() {
        let store = Store::new(100_000);
        let config = SyntheticConfig {
            nodes: 5,
            pods: 300,
            services: 150,
            namespaces: 6,
            seed: 7,
        };
        let mut cluster = Synthetic::build(&store, &config).unwrap();
        let counts = cluster.counts();
        assert_eq!(counts.nodes, 5);
        assert_eq!(counts.pods, 300);
        assert_eq!(counts.services, 150);
        let pods = crate::resources::by_kind("v1", "Pod").unwrap();
        assert_eq!(store.list(pods, None).1.len(), 300);
        let before = store.resource_version();
        for _ in 0..500 {
            cluster.churn(&store).unwrap();
        }
        assert!(store.resource_version() > before + 500);
        // Pods in the store are the ones the generator tracks.
        assert_eq!(store.list(pods, None).1.len(), cluster.counts().pods);
        let slices = crate::resources::by_kind("discovery.k8s.io/v1", "EndpointSlice").unwrap();
        assert_eq!(store.list(slices, None).1.len(), 150);
    }
}
