//! Spider's own agents among the pods: Whisperers that run as sidecars (a container of an
//! application's pod, or a native sidecar: an init container that keeps running) and Gocipher
//! pods (usually a DaemonSet's).
//!
//! A container is an agent when either
//! - its image is Spider's (the repository's last path segment is `spider`, whatever the
//!   registry, tag or digest: `spider:0.1`, `ghcr.io/acme/spider@sha256:…`) and its command
//!   line names the role (`spider whisperer …`, `spider gocipher …`, or the role as the first
//!   argument of the image's entry point), or
//! - its pod carries the label [`ROLE_LABEL`] (`spider.dev/role: whisperer` or `gocipher`), for
//!   images built otherwise; the agent is then the container named `whisperer`/`gocipher` or
//!   `spider-whisperer`/`spider-gocipher`, else the pod's first container.
//!
//! Ephemeral Whisperers are not listed here: the Attacher lists those it added.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::Serialize;

use super::owners::parent;
use super::state::State;

/// The pod label that marks an agent pod whose image is not recognised as Spider's.
pub const ROLE_LABEL: &str = "spider.dev/role";

pub use spider_model::controller::{AgentPod, AgentRole};

/// An agent container of a pod (kept in the pod's compact form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentContainer {
    pub container: String,
    pub role: AgentRole,
    /// How it was recognised: `image` or `label`.
    pub by: &'static str,
    pub running: bool,
}

/// Whether `image` is Spider's: the repository's last segment is `spider`.
pub fn is_spider_image(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or_default();
    let last = without_digest.rsplit('/').next().unwrap_or_default();
    last.split(':').next() == Some("spider")
}

/// The role a container's command line names, if its image is Spider's.
fn role_of(container: &Container) -> Option<AgentRole> {
    if !is_spider_image(container.image.as_deref().unwrap_or_default()) {
        return None;
    }
    let mut words = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(String::as_str)
        .peekable();
    // `spider` or `/usr/local/bin/spider` first, then the role.
    if words
        .peek()
        .is_some_and(|w| w.rsplit('/').next() == Some("spider"))
    {
        words.next();
    }
    words.next().and_then(AgentRole::parse)
}

/// The agent containers of a pod.
pub fn detect(pod: &Pod) -> Vec<AgentContainer> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let running = |name: &str| {
        let status = pod.status.as_ref();
        status
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .chain(status.and_then(|s| s.init_container_statuses.as_ref()))
            .flatten()
            .find(|s| s.name == name)
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.running.is_some())
    };
    // Native sidecars: init containers that keep running.
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let mut agents: Vec<AgentContainer> = spec
        .containers
        .iter()
        .chain(sidecars)
        .filter_map(|c| {
            role_of(c).map(|role| AgentContainer {
                container: c.name.clone(),
                role,
                by: "image",
                running: running(&c.name),
            })
        })
        .collect();
    let labelled = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(ROLE_LABEL))
        .and_then(|r| AgentRole::parse(r));
    if let Some(role) = labelled {
        if !agents.iter().any(|a| a.role == role) {
            let named = spec.containers.iter().find(|c| {
                c.name == role.as_str() || c.name.strip_prefix("spider-") == Some(role.as_str())
            });
            if let Some(c) = named.or(spec.containers.first()) {
                agents.push(AgentContainer {
                    container: c.name.clone(),
                    role,
                    by: "label",
                    running: running(&c.name),
                });
            }
        }
    }
    agents
}

impl State {
    /// Spider's agents among the pods: sidecar Whisperers and Gocipher pods, by role, namespace
    /// and pod.
    pub fn agents(&self) -> Vec<AgentPod> {
        let mut list: Vec<AgentPod> = self
            .pods
            .values()
            .filter(|p| !p.agents.is_empty())
            .flat_map(|pod| {
                let (kind, workload): (Arc<str>, Arc<str>) = parent(pod, &self.workloads);
                pod.agents.iter().map(move |agent| AgentPod {
                    role: agent.role,
                    namespace: pod.namespace.to_string(),
                    pod: pod.name.to_string(),
                    container: agent.container.clone(),
                    sidecar: agent.role == AgentRole::Whisperer
                        && pod.containers.iter().any(|c| *c != agent.container),
                    node: pod.node.as_ref().map(|n| n.to_string()),
                    ips: pod.ips.clone(),
                    phase: pod.phase.to_string(),
                    running: agent.running,
                    workload_kind: kind.to_string(),
                    workload: workload.to_string(),
                    recognised_by: agent.by.to_string(),
                })
            })
            .collect();
        list.sort_by(|a, b| {
            (a.role, &a.namespace, &a.pod, &a.container).cmp(&(
                b.role,
                &b.namespace,
                &b.pod,
                &b.container,
            ))
        });
        list
    }
}

#[cfg(test)]
mod tests {
    use super::is_spider_image;

    #[test]
    fn spider_images_are_recognised_by_their_repository() {
        for image in [
            "spider",
            "spider:0.1.0",
            "ghcr.io/acme/spider:latest",
            "registry:5000/ops/spider@sha256:0123",
        ] {
            assert!(is_spider_image(image), "{image}");
        }
        for image in [
            "spiderman:1",
            "ghcr.io/spider/agent:1",
            "busybox",
            "spider-ui:1",
        ] {
            assert!(!is_spider_image(image), "{image}");
        }
    }
}
