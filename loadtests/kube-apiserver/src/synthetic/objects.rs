//! The API objects of the synthetic cluster, as a Kubernetes API server returns them.

use super::*;

impl Synthetic {
    pub(super) fn node_object(&self, node: &Node) -> Value {
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
    pub(super) fn pod_object(
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
    pub(super) fn put_pod(&self, store: &Store, pod: Value, running: bool) -> Result<(), ApiError> {
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

    pub(super) fn deploy_labels(deploy: &Deploy, hash: Option<&str>) -> Value {
        let mut labels = json!({"app": deploy.name, "app.kubernetes.io/name": deploy.name,
                                "app.kubernetes.io/part-of": deploy.namespace, "version": format!("v{}", deploy.revision)});
        if let Some(hash) = hash {
            labels["pod-template-hash"] = json!(hash);
        }
        labels
    }

    pub(super) fn deploy_containers(deploy: &Deploy) -> Vec<Value> {
        vec![
            container("app", &deploy.image, 8080),
            container("envoy", "envoyproxy/envoy:v1.31.2", 15001),
        ]
    }

    pub(super) fn put_deploy_pod(
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

    pub(super) fn deploy_object(&self, deploy: &Deploy) -> Value {
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

    pub(super) fn rs_object(&self, deploy: &Deploy, index: usize, replicas: usize) -> Value {
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

    pub(super) fn stateful_object(&self, set: &Stateful, replicas: usize) -> Value {
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

    pub(super) fn put_stateful_pod(
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

    pub(super) fn daemon_object(&self, daemon: &Daemon) -> Value {
        let labels = json!({"k8s-app": daemon.name});
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": daemon.name, "namespace": "kube-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": template(&labels, vec![container(&daemon.name, &format!("registry.k8s.io/{}:v1.33.1", daemon.name), 10256)])},
            "status": {"desiredNumberScheduled": self.nodes.len(), "numberReady": self.nodes.len(), "currentNumberScheduled": self.nodes.len()}
        })
    }

    pub(super) fn put_daemon_pod(
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

    pub(super) fn cron_object(&self, cron: &Cron) -> Value {
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
    pub(super) fn cron_run(&mut self, store: &Store, cron: &mut Cron) -> Result<(), ApiError> {
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

    pub(super) fn job_pod(&self, cron: &Cron, job: &str, slot: &PodSlot) -> Value {
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

    pub(super) fn put_service(
        &mut self,
        store: &Store,
        of: ServiceOf,
        name: &str,
    ) -> Result<(), ApiError> {
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
    pub(super) fn put_slice(
        &self,
        store: &Store,
        of: ServiceOf,
        service: &str,
    ) -> Result<(), ApiError> {
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

    pub(super) fn put_deploy_slices(&self, store: &Store, d: usize) -> Result<(), ApiError> {
        for service in &self.deploys[d].services {
            self.put_slice(store, ServiceOf::Deploy(d), service)?;
        }
        Ok(())
    }

    /// A pod goes away as the API server says it: deletion timestamp first, then deleted.
    pub(super) fn delete_pod(
        &self,
        store: &Store,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let pods = crate::resources::by_kind("v1", "Pod")
            .ok_or_else(|| ApiError::bad_request("no pods"))?;
        let mut pod = store.get(pods, Some(namespace), name)?;
        pod["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        store.apply(pod)?;
        store.delete("v1", "Pod", Some(namespace), name)?;
        Ok(())
    }
}
