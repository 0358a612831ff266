//! Test helpers: a real backend node, what `spider analyze` finds in a file, what the backend
//! holds, and throwaway network namespaces joined by a veth pair.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use spider_backend::client::{BackendClient, ListRequest};
use spider_backend::{BackendConfig, BackendNode};
use spider_model::Record;
use spider_pipeline::{analyze_file, PipelineConfig};
use spider_whisperer::{FileSource, Pacing, Source, WhispererConfig};

pub const TOKEN: &str = "whisperer-test-admin-token-0123456789";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// Every `testdata/*.pcap`, by name.
pub fn captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata(""))
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            (path.extension()? == "pcap").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

pub fn node_config(dir: &Path, listen: SocketAddr) -> BackendConfig {
    BackendConfig {
        data_dir: dir.to_owned(),
        listen,
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    }
}

pub fn start_node(dir: &Path) -> BackendNode {
    BackendNode::start(node_config(dir, "127.0.0.1:0".parse().unwrap())).unwrap()
}

/// A Whisperer config replaying `name` from testdata, with short intervals for tests.
pub fn file_config(name: &str, backend: SocketAddr, pacing: Pacing) -> WhispererConfig {
    let source = Source::File(FileSource {
        path: testdata(&format!("{name}.pcap")),
        pacing,
    });
    let mut config = WhispererConfig::new(name, backend, TOKEN, source);
    quick(&mut config);
    config
}

pub fn quick(config: &mut WhispererConfig) {
    config.flush_interval = Duration::from_millis(20);
    config.batch.max_delay = Duration::from_millis(20);
    config.reconnect_initial = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config.status_interval = Duration::from_secs(1);
}

/// An HTTP exchange as JSON, without what differs between runs of the same traffic: the
/// session id (the Whisperer's tracker seeds it), and with `times == false` the timings and
/// endpoints' times (frames replayed on a wire get new timestamps).
pub fn normalised(exchange: &spider_model::HttpExchange, times: bool) -> String {
    let mut value = serde_json::to_value(exchange).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("session_id");
    if !times {
        object.remove("timing");
    }
    serde_json::to_string(&value).unwrap()
}

/// The HTTP exchanges `spider analyze` finds in a testdata capture, normalised and sorted.
pub fn analyzed(name: &str, times: bool) -> Vec<String> {
    let mut out = Vec::new();
    analyze_file(
        &testdata(&format!("{name}.pcap")),
        PipelineConfig::default(),
        &mut |record| {
            if let Record::Http(exchange) = record {
                out.push(normalised(&exchange, times));
            }
        },
    )
    .unwrap();
    out.sort();
    out
}

/// Runs `body` on a current-thread runtime with a `LocalSet` (Cap'n Proto clients are not Send).
pub fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

/// Every HTTP exchange the backend holds for `whisperer`.
pub fn backend_http(addr: SocketAddr, whisperer: &str) -> Vec<spider_model::HttpExchange> {
    on_local(async move {
        let client = BackendClient::connect(addr, TOKEN).await.unwrap();
        client
            .http_all(ListRequest {
                from: 0,
                to: i64::MAX,
                whisperers: vec![whisperer.into()],
                limit: 100,
                ..ListRequest::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|(_, exchange)| exchange)
            .collect()
    })
}

pub fn backend_http_normalised(addr: SocketAddr, whisperer: &str, times: bool) -> Vec<String> {
    let mut out: Vec<String> = backend_http(addr, whisperer)
        .iter()
        .map(|exchange| normalised(exchange, times))
        .collect();
    out.sort();
    out
}

/// Polls `done` (an event observable through counters or the backend) until it holds.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- live tests: root, tools, namespaces ----

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

pub fn has_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Skips the test unless root with the tools it needs.
#[macro_export]
macro_rules! require {
    ($($tool:expr),*) => {
        if !common::is_root() {
            eprintln!("skipped: needs root (network namespaces, AF_PACKET)");
            return;
        }
        $(
            if !common::has_tool($tool) {
                eprintln!("skipped: needs {}", $tool);
                return;
            }
        )*
    };
}

pub fn run(args: &[&str]) -> Result<String, String> {
    let output = Command::new(args[0])
        .args(&args[1..])
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

/// Two throwaway namespaces joined by a veth pair: `veth-a` (10.`net`.`subnet`.1, in `ns_a`) and
/// `veth-b` (.2, in `ns_b`); IPv6 and forwarding off, offloads off, static neighbours. Both
/// namespaces (and so the pair) are deleted on drop, also when a test fails.
#[derive(Debug)]
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub ip_a: String,
    pub ip_b: String,
}

impl VethPair {
    /// `net` is 82 or 83 (the ranges these tests may use).
    pub fn new(tag: &str, net: u8, subnet: u8) -> Self {
        assert!(net == 82 || net == 83);
        let pid = std::process::id();
        let pair = Self {
            ns_a: format!("swh-a-{pid}-{tag}"),
            ns_b: format!("swh-b-{pid}-{tag}"),
            ip_a: format!("10.{net}.{subnet}.1"),
            ip_b: format!("10.{net}.{subnet}.2"),
        };
        if let Err(e) = pair.setup(net, subnet) {
            drop(pair);
            panic!("namespace setup failed: {e}");
        }
        pair
    }

    fn setup(&self, net: u8, subnet: u8) -> Result<(), String> {
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
            (a, "veth-a", &self.ip_a, &self.ip_b, &mac_b),
            (b, "veth-b", &self.ip_b, &self.ip_a, &mac_a),
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
            let _ = run(&["ip", "-n", ns, "link", "set", dev, "mtu", "9000"]);
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

    pub fn path_a(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ns_a))
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
