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

    fn node_object(&self, node: &Node) -> Value {
        let images: Vec<Value> = (0..20)
            .map(|i| json!({"names": [format!("registry.example.com/shop/{}@sha256:{:064x}", WORDS[i % WORDS.len()], fxhash(&format!("{i}{}", node.name))),
                                      format!("registry.example.com/shop/{}:1.{i}.0", WORDS[i % WORDS.len()])],
                            "sizeBytes": 20_000_000 + i * 1_000_000}))
            .collect();
        let zone = format!("eu-west-1{}", ["a", "b", "c"][node.index % 3]);
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node.name, "labels": {
                "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "m6i.2xlarge", "topology.kubernetes.io/region": "eu-west-1",
                "topology.kubernetes.io/zone": zone},
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"podCIDR": format!("10.244.{}.0/24", node.index % 256),
                     "podCIDRs": [format!("10.244.{}.0/24", node.index % 256)],
                     "providerID": format!("aws:///eu-west-1a/i-{:017x}", fxhash(&node.name))},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip_text(node_ip(node.index))},
                              {"type": "Hostname", "address": node.name}],
                "capacity": {"cpu": "8", "memory": "32386524Ki", "pods": "110", "ephemeral-storage": "101430960Ki"},
                "allocatable": {"cpu": "7910m", "memory": "31369692Ki", "pods": "110", "ephemeral-storage": "93478772582"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": format!("{:032x}", fxhash(&node.name)), "systemUUID": format!("ec2{:029x}", fxhash(&node.name)),
                             "bootID": format!("{:032x}", fxhash(&node.name) ^ 7), "kernelVersion": "6.1.0-27-cloud-amd64",
                             "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.22",
                             "kubeletVersion": "v1.33.1", "kubeProxyVersion": "v1.33.1", "operatingSystem": "linux", "architecture": "amd64"},
                "images": images
            }
        })
    }

    /// A pod; `meta` is its labels and owner references.
    fn pod_object(
        &self,
        namespace: &str,
        slot: &PodSlot,
        (labels, owners): (Value, Value),
        containers: Vec<Value>,
        host_network: bool,
        running: bool,
    ) -> Value {
        let node = &self.nodes[slot.node];
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default();
                let image = c["image"].as_str().unwrap_or_default();
                if running {
                    json!({"name": name, "image": image,
                           "imageID": format!("{image}@sha256:{:064x}", fxhash(image)),
                           "containerID": format!("containerd://{:064x}", fxhash(&slot.name) ^ fxhash(name)),
                           "ready": true, "started": true, "restartCount": slot.restarts,
                           "state": {"running": {"startedAt": now_rfc3339()}}})
                } else {
                    json!({"name": name, "image": image, "imageID": "", "ready": false, "started": false,
                           "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}})
                }
            })
            .collect();
        let ready = if running { "True" } else { "False" };
        let mut status = json!({
            "phase": if running { "Running" } else { "Pending" },
            "qosClass": "Burstable",
            "hostIP": ip_text(node_ip(node.index)),
            "hostIPs": [{"ip": ip_text(node_ip(node.index))}],
            "startTime": now_rfc3339(),
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": ready, "lastTransitionTime": now_rfc3339()},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now_rfc3339()},
                {"type": "Ready", "status": ready, "lastTransitionTime": now_rfc3339()},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": now_rfc3339()},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}
            ],
            "containerStatuses": statuses
        });
        if let (true, Some(ip)) = (running, slot.ip) {
            status["podIP"] = json!(ip_text(ip));
            status["podIPs"] = json!([{"ip": ip_text(ip)}]);
        }
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": slot.name, "namespace": namespace,
                "generateName": slot.name.rsplit_once('-').map_or(String::new(), |(p, _)| format!("{p}-")),
                "labels": labels,
                "annotations": {"kubectl.kubernetes.io/default-container": containers.first().map_or(json!(""), |c| c["name"].clone()),
                                "prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
                "ownerReferences": owners
            },
            "spec": pod_spec(containers, Some(&node.name), host_network),
            "status": status
        })
    }

    /// A new pod: ADDED pending without an IP, then MODIFIED running with one.
    fn put_pod(&self, store: &Store, pod: Value, running: bool) -> Result<(), ApiError> {
        if running {
            let mut pending = pod.clone();
            pending["status"]["phase"] = json!("Pending");
            if let Some(status) = pending["status"].as_object_mut() {
                status.remove("podIP");
                status.remove("podIPs");
            }
            store.apply(pending)?;
        }
        store.apply(pod)?;
        Ok(())
    }

    fn deploy_labels(deploy: &Deploy, hash: Option<&str>) -> Value {
        let mut labels = json!({"app": deploy.name, "app.kubernetes.io/name": deploy.name,
                                "app.kubernetes.io/part-of": deploy.namespace, "version": format!("v{}", deploy.revision)});
        if let Some(hash) = hash {
            labels["pod-template-hash"] = json!(hash);
        }
        labels
    }

    fn deploy_containers(deploy: &Deploy) -> Vec<Value> {
        vec![
            container("app", &deploy.image, 8080),
            container("envoy", "envoyproxy/envoy:v1.31.2", 15001),
        ]
    }

    fn put_deploy_pod(
        &self,
        store: &Store,
        deploy: &Deploy,
        slot: &PodSlot,
        new: bool,
    ) -> Result<(), ApiError> {
        let hash = deploy.hashes.last().map(String::as_str).unwrap_or_default();
        let pod = self.pod_object(
            &deploy.namespace,
            slot,
            (
                Self::deploy_labels(deploy, Some(hash)),
                owner("apps/v1", "ReplicaSet", &format!("{}-{hash}", deploy.name)),
            ),
            Self::deploy_containers(deploy),
            false,
            true,
        );
        if new {
            self.put_pod(store, pod, true)
        } else {
            store.apply(pod).map(|_| ())
        }
    }

    fn deploy_object(&self, deploy: &Deploy) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": deploy.name, "namespace": deploy.namespace, "generation": deploy.revision,
                         "labels": Self::deploy_labels(deploy, None),
                         "annotations": {"deployment.kubernetes.io/revision": deploy.revision.to_string()}},
            "spec": {"replicas": deploy.replicas, "revisionHistoryLimit": 2,
                     "selector": {"matchLabels": {"app": deploy.name}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": template(&Self::deploy_labels(deploy, None), Self::deploy_containers(deploy))},
            "status": {"observedGeneration": deploy.revision, "replicas": deploy.replicas, "readyReplicas": deploy.replicas,
                       "updatedReplicas": deploy.replicas, "availableReplicas": deploy.replicas}
        })
    }

    fn rs_object(&self, deploy: &Deploy, index: usize, replicas: usize) -> Value {
        let hash = deploy
            .hashes
            .get(index)
            .map(String::as_str)
            .unwrap_or_default();
        let labels = Self::deploy_labels(deploy, Some(hash));
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("{}-{hash}", deploy.name), "namespace": deploy.namespace,
                         "labels": labels, "ownerReferences": owner("apps/v1", "Deployment", &deploy.name),
                         "annotations": {"deployment.kubernetes.io/revision": (index + 1).to_string(),
                                         "deployment.kubernetes.io/desired-replicas": deploy.replicas.to_string()}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": deploy.name, "pod-template-hash": hash}},
                     "template": template(&labels, Self::deploy_containers(deploy))},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "fullyLabeledReplicas": replicas}
        })
    }

    fn stateful_object(&self, set: &Stateful, replicas: usize) -> Value {
        let labels = json!({"app": set.name});
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": set.name, "namespace": set.namespace, "labels": labels},
            "spec": {"replicas": replicas, "serviceName": format!("{}-headless", set.name),
                     "selector": {"matchLabels": labels},
                     "template": template(&labels, vec![container("db", "postgres:16.4", 5432)])},
            "status": {"replicas": replicas, "readyReplicas": replicas, "currentRevision": format!("{}-7d9f8c6b5", set.name)}
        })
    }

    fn put_stateful_pod(
        &self,
        store: &Store,
        set: &Stateful,
        slot: &PodSlot,
    ) -> Result<(), ApiError> {
        let pod = self.pod_object(
            &set.namespace,
            slot,
            (json!({"app": set.name, "controller-revision-hash": format!("{}-7d9f8c6b5", set.name),
                   "statefulset.kubernetes.io/pod-name": slot.name}), owner("apps/v1", "StatefulSet", &set.name)),
            vec![container("db", "postgres:16.4", 5432)],
            false,
            true,
        );
        self.put_pod(store, pod, true)
    }

    fn daemon_object(&self, daemon: &Daemon) -> Value {
        let labels = json!({"k8s-app": daemon.name});
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": daemon.name, "namespace": "kube-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": template(&labels, vec![container(&daemon.name, &format!("registry.k8s.io/{}:v1.33.1", daemon.name), 10256)])},
            "status": {"desiredNumberScheduled": self.nodes.len(), "numberReady": self.nodes.len(), "currentNumberScheduled": self.nodes.len()}
        })
    }

    fn put_daemon_pod(
        &self,
        store: &Store,
        daemon: &Daemon,
        slot: &PodSlot,
    ) -> Result<(), ApiError> {
        let pod = self.pod_object(
            "kube-system",
            slot,
            (json!({"k8s-app": daemon.name, "controller-revision-hash": "5c6b8d7f9", "pod-template-generation": "1"}), owner("apps/v1", "DaemonSet", &daemon.name)),
            vec![container(&daemon.name, &format!("registry.k8s.io/{}:v1.33.1", daemon.name), 10256)],
            daemon.host_network,
            true,
        );
        self.put_pod(store, pod, true)
    }

    fn cron_object(&self, cron: &Cron) -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": cron.name, "namespace": cron.namespace},
            "spec": {"schedule": "*/30 * * * *", "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3,
                     "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                         "containers": [container("report", "registry.example.com/batch/report:2.1.0", 8080)]}}}}}
        })
    }

    /// A CronJob runs: a new Job and its pod (running); the runs beyond three are deleted,
    /// and the previous run's pod has succeeded.
    fn cron_run(&mut self, store: &Store, cron: &mut Cron) -> Result<(), ApiError> {
        cron.minute += 30;
        let job = format!("{}-{}", cron.name, cron.minute);
        store.apply(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job, "namespace": cron.namespace, "labels": {"job-name": job},
                         "ownerReferences": owner("batch/v1", "CronJob", &cron.name)},
            "spec": {"backoffLimit": 6, "completions": 1, "parallelism": 1,
                     "template": {"metadata": {"labels": {"job-name": job}}, "spec": {"restartPolicy": "OnFailure",
                         "containers": [container("report", "registry.example.com/batch/report:2.1.0", 8080)]}}},
            "status": {"active": 1, "startTime": now_rfc3339()}
        }))?;
        if let Some((_, last)) = cron.runs.last().cloned() {
            // The previous run finished: its pod lets its IP go.
            let mut done = self.job_pod(cron, &cron.runs[cron.runs.len() - 1].0, &last);
            done["status"]["phase"] = json!("Succeeded");
            store.apply(done)?;
            self.free(&last, false);
        }
        let node = self.rng.below(self.nodes.len());
        let slot = self.new_slot(&format!("{job}-"), node, false);
        self.put_pod(store, self.job_pod(cron, &job, &slot), true)?;
        cron.runs.push((job, slot));
        while cron.runs.len() > 3 {
            let (job, slot) = cron.runs.remove(0);
            store.delete("v1", "Pod", Some(&cron.namespace), &slot.name)?;
            store.delete("batch/v1", "Job", Some(&cron.namespace), &job)?;
        }
        Ok(())
    }

    fn job_pod(&self, cron: &Cron, job: &str, slot: &PodSlot) -> Value {
        self.pod_object(
            &cron.namespace,
            slot,
            (
                json!({"job-name": job, "batch.kubernetes.io/job-name": job}),
                owner("batch/v1", "Job", job),
            ),
            vec![container(
                "report",
                "registry.example.com/batch/report:2.1.0",
                8080,
            )],
            false,
            true,
        )
    }

    fn put_service(&mut self, store: &Store, of: ServiceOf, name: &str) -> Result<(), ApiError> {
        let (namespace, selector, headless) = match of {
            ServiceOf::Deploy(d) => (
                self.deploys[d].namespace.clone(),
                self.deploys[d].name.clone(),
                false,
            ),
            ServiceOf::Stateful(s) => (
                self.statefuls[s].namespace.clone(),
                self.statefuls[s].name.clone(),
                name.ends_with("-headless"),
            ),
        };
        let key = (namespace.clone(), name.to_string());
        if !self.cluster_ips.contains_key(&key) && !headless {
            let n = self.next_cluster_ip;
            self.next_cluster_ip += 1;
            let [_, _, b, c] = n.to_be_bytes();
            self.cluster_ips.insert(key.clone(), [10, 96, b, c]);
        }
        let cluster_ip = if headless {
            "None".to_string()
        } else {
            self.cluster_ips
                .get(&key)
                .map(|ip| ip_text(*ip))
                .unwrap_or_default()
        };
        let mut spec = json!({"type": "ClusterIP", "selector": {"app": selector},
                              "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                              "internalTrafficPolicy": "Cluster",
                              "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                                        {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]});
        spec["clusterIP"] = json!(cluster_ip);
        spec["clusterIPs"] = json!([cluster_ip]);
        store.apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": selector},
                         "annotations": {"prometheus.io/scrape": "true"}},
            "spec": spec, "status": {"loadBalancer": {}}}))?;
        self.services += 1;
        self.put_slice(store, of, name)
    }

    /// The endpoint slice of a service, from the pods it selects now.
    fn put_slice(&self, store: &Store, of: ServiceOf, service: &str) -> Result<(), ApiError> {
        let (namespace, pods) = match of {
            ServiceOf::Deploy(d) => (&self.deploys[d].namespace, &self.deploys[d].pods),
            ServiceOf::Stateful(s) => (&self.statefuls[s].namespace, &self.statefuls[s].pods),
        };
        let endpoints: Vec<Value> = pods
            .iter()
            .filter_map(|p| {
                let ip = p.ip?;
                Some(json!({"addresses": [ip_text(ip)],
                            "conditions": {"ready": true, "serving": true, "terminating": false},
                            "nodeName": self.nodes[p.node].name,
                            "zone": format!("eu-west-1{}", ["a", "b", "c"][p.node % 3]),
                            "targetRef": {"kind": "Pod", "namespace": namespace, "name": p.name}}))
            })
            .collect();
        store.apply(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{service}-{:05x}", fxhash(service) & 0xfffff), "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service,
                                              "uid": format!("00000000-0000-4000-8000-{:012x}", fxhash(service)),
                                              "controller": true, "blockOwnerDeletion": true}]},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}]
        }))?;
        Ok(())
    }

    fn put_deploy_slices(&self, store: &Store, d: usize) -> Result<(), ApiError> {
        for service in &self.deploys[d].services {
            self.put_slice(store, ServiceOf::Deploy(d), service)?;
        }
        Ok(())
    }

    /// A pod goes away as the API server says it: deletion timestamp first, then deleted.
    fn delete_pod(&self, store: &Store, namespace: &str, name: &str) -> Result<(), ApiError> {
        let pods = crate::resources::by_kind("v1", "Pod")
            .ok_or_else(|| ApiError::bad_request("no pods"))?;
        let mut pod = store.get(pods, Some(namespace), name)?;
        pod["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        store.apply(pod)?;
        store.delete("v1", "Pod", Some(namespace), name)?;
        Ok(())
    }

    /// One churn operation, picked at random; returns what it was.
    pub fn churn(&mut self, store: &Store) -> Result<&'static str, ApiError> {
        self.operations += 1;
        let roll = self.rng.below(100);
        if self.deploys.is_empty() {
            return Ok("none");
        }
        let d = self.rng.below(self.deploys.len());
        match roll {
            // A container restarts (the commonest pod change).
            0..=39 => {
                let Some(p) = (!self.deploys[d].pods.is_empty())
                    .then(|| self.rng.below(self.deploys[d].pods.len()))
                else {
                    return Ok("none");
                };
                self.deploys[d].pods[p].restarts += 1;
                let slot = self.deploys[d].pods[p].clone();
                self.put_deploy_pod(store, &self.deploys[d], &slot, false)?;
                Ok("restart")
            }
            // A pod dies and its ReplicaSet replaces it (often on the same node: IP reuse).
            40..=64 => {
                if self.deploys[d].pods.is_empty() {
                    return Ok("none");
                }
                let p = self.rng.below(self.deploys[d].pods.len());
                let old = self.deploys[d].pods.remove(p);
                let namespace = self.deploys[d].namespace.clone();
                self.delete_pod(store, &namespace, &old.name)?;
                self.free(&old, false);
                let node = if self.rng.below(2) == 0 {
                    old.node
                } else {
                    self.rng.below(self.nodes.len())
                };
                let hash = self.deploys[d].hashes.last().cloned().unwrap_or_default();
                let slot = self.new_slot(&format!("{}-{hash}-", self.deploys[d].name), node, false);
                self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
                self.deploys[d].pods.push(slot);
                self.put_deploy_slices(store, d)?;
                Ok("replace")
            }
            // Scale up or down, toward the target pod count.
            65..=84 => {
                let up = self.pod_count() < self.target_pods
                    || (self.pod_count() == self.target_pods && self.rng.below(2) == 0);
                let by = 1 + self.rng.below(3);
                let replicas = if up {
                    self.deploys[d].replicas + by
                } else {
                    self.deploys[d].replicas.saturating_sub(by)
                };
                self.scale(store, d, replicas)?;
                Ok(if up { "scale_up" } else { "scale_down" })
            }
            // A rollout: a new ReplicaSet, every pod replaced.
            85..=94 => {
                self.rollout(store, d)?;
                Ok("rollout")
            }
            _ => {
                if self.crons.is_empty() {
                    return Ok("none");
                }
                let c = self.rng.below(self.crons.len());
                let mut cron = self.crons[c].clone();
                self.cron_run(store, &mut cron)?;
                self.crons[c] = cron;
                Ok("cron_run")
            }
        }
    }

    fn scale(&mut self, store: &Store, d: usize, replicas: usize) -> Result<(), ApiError> {
        self.deploys[d].replicas = replicas;
        store.apply(self.deploy_object(&self.deploys[d]))?;
        let current = self.deploys[d].hashes.len() - 1;
        store.apply(self.rs_object(&self.deploys[d], current, replicas))?;
        while self.deploys[d].pods.len() > replicas {
            let old = self.deploys[d].pods.remove(0);
            let namespace = self.deploys[d].namespace.clone();
            self.delete_pod(store, &namespace, &old.name)?;
            self.free(&old, false);
        }
        while self.deploys[d].pods.len() < replicas {
            let slot = self.new_deploy_slot(d);
            self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
            self.deploys[d].pods.push(slot);
        }
        self.put_deploy_slices(store, d)
    }

    fn rollout(&mut self, store: &Store, d: usize) -> Result<(), ApiError> {
        let hash = self.rng.hash();
        {
            let deploy = &mut self.deploys[d];
            deploy.revision += 1;
            deploy.hashes.push(hash);
            deploy.image = format!(
                "{}:1.{}.{}",
                deploy.image.rsplit_once(':').map_or("app", |(i, _)| i),
                deploy.revision,
                deploy.revision
            );
        }
        let replicas = self.deploys[d].replicas;
        store.apply(self.deploy_object(&self.deploys[d]))?;
        let current = self.deploys[d].hashes.len() - 1;
        store.apply(self.rs_object(&self.deploys[d], current, replicas))?;
        let old_pods = std::mem::take(&mut self.deploys[d].pods);
        let namespace = self.deploys[d].namespace.clone();
        for old in old_pods {
            let slot = self.new_deploy_slot(d);
            self.put_deploy_pod(store, &self.deploys[d], &slot, true)?;
            self.deploys[d].pods.push(slot);
            self.delete_pod(store, &namespace, &old.name)?;
            self.free(&old, false);
        }
        store.apply(self.rs_object(&self.deploys[d], current - 1, 0))?;
        // revisionHistoryLimit 2: the oldest ReplicaSet goes.
        while self.deploys[d].hashes.len() > 3 {
            let oldest = self.deploys[d].hashes.remove(0);
            let name = format!("{}-{oldest}", self.deploys[d].name);
            store.delete("apps/v1", "ReplicaSet", Some(&namespace), &name)?;
        }
        self.put_deploy_slices(store, d)
    }
}

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
