//! Spider's own agents in the inventory: sidecar Whisperers (Spider's image with the
//! `whisperer` role, as a container or a native sidecar, or a pod labelled
//! `spider.dev/role=whisperer`) and Gocipher pods, from the `agents` fixtures; look-alikes are
//! not listed, and the list follows the cluster.

mod common;

use common::{within, Cluster};
use spider_controller::inventory::agents::{AgentPod, AgentRole};

fn brief(agents: &[AgentPod]) -> Vec<(AgentRole, String, String, bool, String)> {
    agents
        .iter()
        .map(|a| {
            (
                a.role,
                format!("{}/{}", a.namespace, a.pod),
                a.container.clone(),
                a.sidecar,
                a.recognised_by.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_whisperers_and_gocipher_pods_are_listed() {
    let cluster = Cluster::start(&["cluster", "agents"]).await;
    let agents = cluster.inventory.agents();
    let entry = |role, pod: &str, container: &str, sidecar, by: &str| {
        (
            role,
            pod.to_string(),
            container.to_string(),
            sidecar,
            by.to_string(),
        )
    };
    assert_eq!(
        brief(&agents),
        vec![
            entry(AgentRole::Whisperer, "shop/cart", "spider", true, "image"),
            entry(
                AgentRole::Whisperer,
                "shop/checkout",
                "whisperer",
                true,
                "image"
            ),
            entry(
                AgentRole::Whisperer,
                "shop/search",
                "spider-whisperer",
                true,
                "label"
            ),
            entry(
                AgentRole::Gocipher,
                "spider/spider-gocipher-q7m2x",
                "gocipher",
                false,
                "image"
            ),
            entry(
                AgentRole::Gocipher,
                "spider/spider-gocipher-z4k8w",
                "gocipher",
                false,
                "image"
            ),
        ]
    );
    let gocipher = &agents[3];
    assert_eq!(gocipher.node.as_deref(), Some("node-a"));
    assert_eq!(
        (gocipher.workload_kind.as_str(), gocipher.workload.as_str()),
        ("DaemonSet", "spider-gocipher")
    );
    assert!(gocipher.running);
    assert_eq!(agents[1].ips, vec![common::ip("10.244.0.50")]);
    // The list follows the cluster: a Gocipher pod goes away.
    cluster.delete_pod("spider", "spider-gocipher-z4k8w", "2025-04-23T12:40:00Z");
    within(
        "the Gocipher pod to go",
        cluster.inventory.wait_for(|state| {
            state
                .agents()
                .iter()
                .filter(|a| a.role == AgentRole::Gocipher)
                .count()
                == 1
        }),
    )
    .await;
}
