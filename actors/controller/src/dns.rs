//! The DNS proxy: names of an IP from the inventory, so that Whisperers need no Kubernetes
//! rights to label the hosts they see.

use std::net::IpAddr;

use crate::inventory::Inventory;

/// The names of `ip` now, most specific first: a pod's `POD.NAMESPACE`, its DNS record
/// (`10-244-0-10.NAMESPACE.pod.DOMAIN`) and the services in front of it; a service's
/// `SERVICE.NAMESPACE.svc.DOMAIN`; a node's name. Empty for an unknown IP.
pub fn names(inventory: &Inventory, ip: IpAddr, domain: &str) -> Vec<String> {
    let state = inventory.read();
    let mut names = Vec::new();
    if let Some(pod) = state.pod_of_ip(ip) {
        names.push(format!("{}.{}", pod.name, pod.namespace));
        let dashed = match ip {
            IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
            IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
        };
        names.push(format!("{dashed}.{}.pod.{domain}", pod.namespace));
        let mut services: Vec<String> = state
            .slices
            .values()
            .filter(|s| s.namespace == pod.namespace && s.pods.contains(&pod.name))
            .filter_map(|s| s.service.as_ref())
            .map(|svc| format!("{svc}.{}.svc.{domain}", pod.namespace))
            .collect();
        services.sort();
        services.dedup();
        names.extend(services);
    }
    for svc in state
        .services
        .values()
        .filter(|s| s.cluster_ips.contains(&ip))
    {
        names.push(format!("{}.{}.svc.{domain}", svc.name, svc.namespace));
    }
    for node in state.nodes.values().filter(|n| n.addresses.contains(&ip)) {
        names.push(node.name.to_string());
    }
    names
}
