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

/// The HTTP exchanges `spider analyze` finds in a testdata capture, masked as the backend's
/// default redaction masks them before storing, normalised and sorted.
pub fn analyzed(name: &str, times: bool) -> Vec<String> {
    let mut out = Vec::new();
    let rules = spider_redact::Rules::new(&spider_redact::RuleSet::default());
    analyze_file(
        &testdata(&format!("{name}.pcap")),
        PipelineConfig::default(),
        &mut |record| {
            if let Record::Http(mut exchange) = record {
                spider_redact::redact_exchange(&rules, &mut exchange);
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

#[allow(unused_imports)] // each test file uses some of them
pub use spider_capture::testnet::{is_root, run, VethPair};

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

/// Two namespaces on 10.`net`.`subnet`.0/24 (`net` 82 or 83, the ranges these tests may use),
/// MTU 9000 (see `spider_capture::testnet`).
pub fn veth_pair(tag: &str, net: u8, subnet: u8) -> VethPair {
    assert!(net == 82 || net == 83);
    VethPair::new("swh", tag, net, subnet, Some(9000))
        .unwrap_or_else(|e| panic!("namespace setup failed: {e}"))
}
