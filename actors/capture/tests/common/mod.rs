//! Throwaway network namespaces for the live capture tests, and helpers to read captures.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use spider_capture::netns::{named_path, run_in};
use spider_capture::{Capture, CaptureConfig, CaptureStats, Direction, Frame};

/// Upper bound for any wait on the kernel in these tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// True when the effective uid is 0 (read from /proc, no libc call).
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

/// Skips the test (returns) with a message unless running as root with `ip` available.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: live capture tests need root (network namespaces, AF_PACKET)");
            return;
        }
    };
}

fn run(args: &[&str]) -> Result<(), String> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair: `veth-a` (10.81.S.1, in `ns_a`) and `veth-b`
/// (10.81.S.2, in `ns_b`), IPv6 and forwarding off, offloads off, static neighbours (no ARP).
/// Both namespaces (and so the veth pair) are deleted on drop.
#[derive(Debug)]
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub ip_a: [u8; 4],
    pub ip_b: [u8; 4],
}

impl VethPair {
    pub fn new(tag: &str, subnet: u8) -> Self {
        let pid = std::process::id();
        let pair = Self {
            ns_a: format!("spcap-a-{pid}-{tag}"),
            ns_b: format!("spcap-b-{pid}-{tag}"),
            ip_a: [10, 81, subnet, 1],
            ip_b: [10, 81, subnet, 2],
        };
        if let Err(e) = pair.setup(subnet) {
            panic!("namespace setup failed: {e}");
        }
        pair
    }

    fn setup(&self, subnet: u8) -> Result<(), String> {
        let (a, b) = (self.ns_a.as_str(), self.ns_b.as_str());
        let mac_a = format!("02:81:{subnet:02x}:00:00:01");
        let mac_b = format!("02:81:{subnet:02x}:00:00:02");
        let ip_a = format!("10.81.{subnet}.1");
        let ip_b = format!("10.81.{subnet}.2");
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
            (a, "veth-a", &ip_a, &ip_b, &mac_b),
            (b, "veth-b", &ip_b, &ip_a, &mac_a),
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
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "neigh",
                "replace",
                peer_ip,
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
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            if let Err(e) = run(&["ip", "netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// A UDP socket created inside namespace `ns`.
pub fn udp_in(ns: &str, bind: SocketAddr) -> UdpSocket {
    run_in(named_path(ns), || UdpSocket::bind(bind))
        .expect("enter namespace")
        .expect("bind udp socket")
}

/// A capture opened inside namespace `ns`.
pub fn capture_in(ns: &str, config: &CaptureConfig) -> Capture {
    run_in(named_path(ns), || Capture::open(config))
        .expect("enter namespace")
        .expect("open capture")
}

/// The payload of datagram number `seq`: 64 bytes, recognisable.
pub fn payload(seq: u32) -> Vec<u8> {
    let mut bytes = format!("spider-capture test datagram seq={seq:08}").into_bytes();
    bytes.resize(64, b'.');
    bytes
}

/// The sequence number in a payload made by [`payload`] (possibly truncated after it).
pub fn seq_of(payload: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(payload.get(..41)?).ok()?;
    text.strip_prefix("spider-capture test datagram seq=")?
        .parse()
        .ok()
}

/// An owned copy of a captured frame.
#[derive(Debug, Clone)]
pub struct Seen {
    pub timestamp_ns: u64,
    pub ifindex: u32,
    pub link_type: Option<u32>,
    pub arphrd: u16,
    pub data: Vec<u8>,
    pub original_len: u32,
    pub direction: Direction,
}

impl From<&Frame<'_>> for Seen {
    fn from(frame: &Frame<'_>) -> Self {
        Self {
            timestamp_ns: frame.timestamp_ns,
            ifindex: frame.ifindex,
            link_type: frame.link_type,
            arphrd: frame.arphrd,
            data: frame.data.to_vec(),
            original_len: frame.original_len,
            direction: frame.direction,
        }
    }
}

/// IPv4/UDP fields of an Ethernet frame, parsed by hand (works on truncated frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

pub fn udp_of(frame: &[u8]) -> Option<Udp<'_>> {
    if frame.get(12..14)? != [0x08, 0x00] || *frame.get(23)? != 17 {
        return None;
    }
    let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
    let udp = 14 + ihl;
    let port = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    Some(Udp {
        src: frame.get(26..30)?.try_into().ok()?,
        dst: frame.get(30..34)?.try_into().ok()?,
        src_port: port(udp)?,
        dst_port: port(udp + 2)?,
        payload: frame.get(udp + 8..).unwrap_or_default(),
    })
}

/// Reads frames from `captures` until `want` frames satisfy `keep` (or the deadline passes),
/// then one more block timeout's worth to catch duplicates. Returns the kept frames per capture.
pub fn collect(
    captures: &mut [&mut Capture],
    want: usize,
    keep: impl Fn(&Frame<'_>) -> bool,
) -> Vec<Vec<Seen>> {
    let mut seen: Vec<Vec<Seen>> = captures.iter().map(|_| Vec::new()).collect();
    let start = Instant::now();
    let mut settle_until: Option<Instant> = None;
    loop {
        for (capture, out) in captures.iter_mut().zip(seen.iter_mut()) {
            if let Some(block) = capture
                .next_block(Duration::from_millis(5))
                .expect("read block")
            {
                out.extend(block.frames().filter(|f| keep(f)).map(|f| Seen::from(&f)));
            }
        }
        let total: usize = seen.iter().map(Vec::len).sum();
        let now = Instant::now();
        if total >= want && settle_until.is_none() {
            // The ring hands over partial blocks after its block timeout (10 ms by default).
            settle_until = Some(now + Duration::from_millis(50));
        }
        if settle_until.is_some_and(|t| now >= t) || now - start > DEADLINE {
            return seen;
        }
    }
}

/// Polls the kernel counters until `done` holds or the deadline passes.
pub fn wait_stats(capture: &mut Capture, done: impl Fn(&CaptureStats) -> bool) -> CaptureStats {
    let start = Instant::now();
    loop {
        let stats = capture.stats().expect("read statistics");
        if done(&stats) || start.elapsed() > DEADLINE {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
