//! Throwaway test networks for live captures: two network namespaces joined by a veth pair, for
//! tests and benchmarks that need real traffic without touching the host's interfaces.
//!
//! `veth-a` (10.N.S.1) lives in `ns_a` and `veth-b` (10.N.S.2) in `ns_b`; IPv6 and forwarding are
//! off, offloads are off (frames on the wire are what was sent), neighbours are static (no ARP).
//! Both namespaces, and so the pair, are deleted on drop, also when a test panics. Needs root and
//! `ip` (iproute2); `ethtool` is used when present.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;

/// True when the effective uid is 0 (read from /proc).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Runs a command; its standard output, or an error naming it with its standard error.
pub fn run(args: &[&str]) -> Result<String, String> {
    let (program, rest) = args.split_first().ok_or("no command")?;
    let output = Command::new(program)
        .args(rest)
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair (see the module documentation).
#[derive(Debug)]
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub ip_a: Ipv4Addr,
    pub ip_b: Ipv4Addr,
}

impl VethPair {
    /// Namespaces `PREFIX-a-PID-TAG` and `PREFIX-b-PID-TAG` on 10.`net`.`subnet`.0/24; `mtu`
    /// when given (a veth that refuses it keeps its own).
    pub fn new(
        prefix: &str,
        tag: &str,
        net: u8,
        subnet: u8,
        mtu: Option<u32>,
    ) -> Result<Self, String> {
        let pid = std::process::id();
        let pair = Self {
            ns_a: format!("{prefix}-a-{pid}-{tag}"),
            ns_b: format!("{prefix}-b-{pid}-{tag}"),
            ip_a: Ipv4Addr::new(10, net, subnet, 1),
            ip_b: Ipv4Addr::new(10, net, subnet, 2),
        };
        // On failure the pair drops here, deleting what was made.
        pair.setup(net, subnet, mtu)?;
        Ok(pair)
    }

    fn setup(&self, net: u8, subnet: u8, mtu: Option<u32>) -> Result<(), String> {
        let (a, b) = (self.ns_a.as_str(), self.ns_b.as_str());
        let mac_a = format!("02:{net:02x}:{subnet:02x}:00:00:01");
        let mac_b = format!("02:{net:02x}:{subnet:02x}:00:00:02");
        for ns in [a, b] {
            run(&["ip", "netns", "add", ns])?;
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.ip_forward=0",
            ])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        run(&[
            "ip", "link", "add", "veth-a", "netns", a, "address", &mac_a, "type", "veth", "peer",
            "name", "veth-b", "netns", b, "address", &mac_b,
        ])?;
        for (ns, dev, ip, peer_ip, peer_mac) in [
            (a, "veth-a", self.ip_a, self.ip_b, &mac_b),
            (b, "veth-b", self.ip_b, self.ip_a, &mac_a),
        ] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ])?;
            // Not every feature exists on every kernel's veth: a partial failure is fine.
            let _ = run(&[
                "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso",
                "off", "gso", "off", "gro", "off",
            ]);
            if let Some(mtu) = mtu {
                let _ = run(&["ip", "-n", ns, "link", "set", dev, "mtu", &mtu.to_string()]);
            }
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "neigh",
                "replace",
                &peer_ip.to_string(),
                "lladdr",
                peer_mac,
                "dev",
                dev,
                "nud",
                "permanent",
            ])?;
        }
        Ok(())
    }

    pub fn addr_a(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip_a, port))
    }

    pub fn addr_b(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip_b, port))
    }

    /// The namespace file of `ns_a` (for `netns::run_in`, a Whisperer's `LiveSource::netns`).
    pub fn path_a(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ns_a))
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            // A namespace that was never made is not an error worth reporting.
            if let Err(e) = run(&["ip", "netns", "del", ns]) {
                if !e.contains("No such file") {
                    eprintln!("cleanup: {e}");
                }
            }
        }
    }
}
