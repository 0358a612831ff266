//! Owner chains: a pod's parent workload (Pod → ReplicaSet → Deployment, Pod → Job → CronJob,
//! Pod → StatefulSet, Pod → DaemonSet; a bare or mirror pod is its own workload).

use std::collections::HashMap;
use std::sync::Arc;

use spider_model::WorkloadRef;

use super::objects::{PodInfo, WorkloadInfo, WorkloadKey};

/// Owner references followed at most (a loop in broken data must not hang).
const MAX_DEPTH: usize = 8;

/// The (kind, name) of the parent workload of `pod`.
pub fn parent(
    pod: &PodInfo,
    workloads: &HashMap<WorkloadKey, WorkloadInfo>,
) -> (Arc<str>, Arc<str>) {
    let bare = || (Arc::from("Pod"), Arc::clone(&pod.name));
    let Some(mut owner) = pod.owner.clone() else {
        return bare();
    };
    // A mirror pod (a static pod of the kubelet) is owned by its node: it stands alone.
    if &*owner.kind == "Node" {
        return bare();
    }
    for _ in 0..MAX_DEPTH {
        let key = (
            Arc::clone(&owner.kind),
            Arc::clone(&pod.namespace),
            Arc::clone(&owner.name),
        );
        match workloads.get(&key) {
            Some(found) => match &found.owner {
                Some(next) => owner = next.clone(),
                None => return (Arc::clone(&found.kind), Arc::clone(&found.name)),
            },
            None => {
                // Not known (yet, or a kind not watched): a ReplicaSet named after its pod
                // template hash belongs to the Deployment whose name prefixes it.
                if &*owner.kind == "ReplicaSet" {
                    let hash = pod
                        .labels
                        .iter()
                        .find(|(k, _)| &**k == "pod-template-hash")
                        .map(|(_, v)| v);
                    if let Some(deployment) =
                        hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}")))
                    {
                        return (Arc::from("Deployment"), Arc::from(deployment));
                    }
                }
                // A Job not known yet, named CRONJOB-SCHEDULEDMINUTE after a known CronJob.
                if &*owner.kind == "Job" {
                    if let Some((cronjob, minute)) = owner.name.rsplit_once('-') {
                        let key = (
                            Arc::from("CronJob"),
                            Arc::clone(&pod.namespace),
                            Arc::from(cronjob),
                        );
                        if minute.bytes().all(|b| b.is_ascii_digit())
                            && workloads.contains_key(&key)
                        {
                            return (key.0, key.2);
                        }
                    }
                }
                return (owner.kind, owner.name);
            }
        }
    }
    (owner.kind, owner.name)
}

/// The names of `pod` as usage records carry them.
pub fn pod_ref(pod: &PodInfo, workloads: &HashMap<WorkloadKey, WorkloadInfo>) -> WorkloadRef {
    let (kind, name) = parent(pod, workloads);
    WorkloadRef {
        namespace: Some(pod.namespace.to_string()),
        kind: Some(kind.to_string()),
        workload: Some(name.to_string()),
        pod: Some(pod.name.to_string()),
        node: pod.node.as_ref().map(|n| n.to_string()),
    }
}

/// Whether a workload is a top-level parent (not owned by another known workload kind).
pub fn is_parent(workload: &WorkloadInfo) -> bool {
    workload.owner.is_none()
}
