//! Which peers count their own sends: the addresses of the other Gociphers registered with the
//! backend (host mode). Their traffic to us is reported by their send side, so our receive-side
//! counts of it would double it.

use std::collections::HashSet;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use spider_model::agent::{AgentKind, AgentSummary, CaptureInterface};

/// This host's interfaces and their addresses (`getifaddrs`).
pub(crate) fn local_interfaces() -> Vec<CaptureInterface> {
    let mut out: Vec<CaptureInterface> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: a node of the list getifaddrs returned, alive until freeifaddrs.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
        let address = unsafe {
            match i32::from((*entry.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*entry.ifa_addr.cast::<libc::sockaddr_in>();
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*entry.ifa_addr.cast::<libc::sockaddr_in6>();
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        // SAFETY: ifa_name is a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        match out.iter_mut().find(|i| i.name == name) {
            Some(interface) => interface.addresses.push(address),
            None => {
                // SAFETY: ifa_name is a NUL-terminated string.
                let index = unsafe { libc::if_nametoindex(entry.ifa_name) };
                out.push(CaptureInterface {
                    index,
                    name,
                    link_type: 1,
                    addresses: vec![address],
                });
            }
        }
    }
    // SAFETY: the list getifaddrs allocated, not used after this.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The non-loopback addresses of the other connected Gociphers.
pub(crate) fn monitored_addresses(agents: &[AgentSummary], me: &str) -> HashSet<IpAddr> {
    agents
        .iter()
        .filter(|a| a.info.kind == AgentKind::Gocipher && a.info.name != me && a.connected)
        .flat_map(|a| {
            a.info
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter().copied())
        })
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_a_loopback_address() {
        let all = local_interfaces();
        assert!(
            all.iter()
                .any(|i| i.addresses.iter().any(IpAddr::is_loopback)),
            "{all:?}"
        );
    }
}
