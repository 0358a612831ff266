//! Throwaway network namespaces for the live capture tests, and helpers to read captures.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use spider_capture::netns::{named_path, run_in};
use spider_capture::{Capture, CaptureConfig, CaptureStats, Direction, Frame};

/// Upper bound for any wait on the kernel in these tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

#[allow(unused_imports)] // each test file uses some of them
pub use spider_capture::testnet::{is_root, VethPair};

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

/// Two namespaces on 10.81.`subnet`.0/24 (see `spider_capture::testnet`).
pub fn veth_pair(tag: &str, subnet: u8) -> VethPair {
    VethPair::new("spcap", tag, 81, subnet, None)
        .unwrap_or_else(|e| panic!("namespace setup failed: {e}"))
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
