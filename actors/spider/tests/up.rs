//! `spider up --pcap FILE` as a user runs it: it keeps an admin token in its data folder, prints
//! the login URL, and the REST API behind it serves the file's HTTP exchanges, the same as
//! `spider analyze` finds; a restart reuses the token and the data.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// A running `spider up`, killed when dropped.
struct Up {
    child: Child,
    url: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn up(data: &Path, pcap: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spider"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--rpc-listen",
            "127.0.0.1:0",
            // Usage in 1-second buckets, so that the API traffic is counted within seconds.
            "--usage-bucket",
            "1",
        ])
        .arg("--data")
        .arg(data)
        .arg("--pcap")
        .arg(pcap)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Up {
        child,
        url: line.trim().to_owned(),
    }
}

/// `GET path` with a bearer token: (status, body).
fn get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn analyzed_requests(pcap: &Path) -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_spider"))
        .arg("analyze")
        .arg(pcap)
        .args(["--format", "ndjson", "--kinds", "http"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut requests: Vec<(String, String)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                record["method"].as_str().unwrap().to_owned(),
                record["uri"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    requests.sort();
    requests
}

/// The exchanges the API lists, once the Whisperer has sent the whole file (bounded wait).
fn listed_requests(addr: &str, token: &str, want: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(addr, "/api/v1/http?limit=1000", token);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let items = page["items"].as_array().unwrap();
        if items.len() >= want || Instant::now() > deadline {
            let mut requests: Vec<(String, String)> = items
                .iter()
                .map(|item| {
                    (
                        item["method"].as_str().unwrap().to_owned(),
                        item["uri"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            requests.sort();
            return requests;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where the kernel allows eBPF (root, BTF), `spider up` runs a Gocipher: the test's own requests
/// to the gateway show up in `GET /api/v1/usage` as traffic to the gateway's port.
fn usage_of_the_api_traffic(addr: &str, token: &str) {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"));
    if !root || !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("SKIPPED usage through spider up: needs root and BTF");
        return;
    }
    let port: u64 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        get(addr, "/api/v1/health", "");
        let (status, body) = get(addr, "/api/v1/usage?from=0&limit=10000", token);
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let to_gateway: u64 = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["port"].as_u64() == Some(port) && row["proto"] == "tcp")
            .map(|row| row["bytes"].as_u64().unwrap_or(0))
            .sum();
        if to_gateway > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no usage to the gateway's port {port}: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn up_serves_a_capture_file_through_the_api_and_keeps_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pcap = testdata("http-basic.pcap");
    let want = analyzed_requests(&pcap);
    assert!(!want.is_empty());

    let running = up(&data, &pcap);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.len() >= 32);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("admin.token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the token is readable by its owner only");
    let (addr, query) = running
        .url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once("/?token="))
        .unwrap();
    assert_eq!(query, token, "the login URL carries the admin token");
    let addr = addr.to_owned();

    assert_eq!(get(&addr, "/api/v1/health", "").0, 200);
    assert_eq!(get(&addr, "/api/v1/http", "wrong-token").0, 401);
    assert_eq!(listed_requests(&addr, &token, want.len()), want);
    // One /metrics for the process: the gateway's, the node's and the Whisperer's families.
    let (status, metrics) = get(&addr, "/metrics", &token);
    assert_eq!(status, 200);
    for family in [
        "spider_gateway_requests_total",
        "spider_backend_ingest_records_total",
        "spider_whisperer_frames_total",
        "spider_process_resident_memory_bytes",
    ] {
        assert!(
            metrics.contains(&format!("# TYPE {family} ")),
            "no {family}"
        );
    }
    assert_eq!(get(&addr, "/metrics", "wrong-token").0, 401);
    usage_of_the_api_traffic(&addr, &token);
    drop(running);

    let again = up(&data, &pcap);
    assert!(again.url.ends_with(&token), "the token is kept");
    let addr = again
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // The same file again is the same Whisperer's data: stored once more, under a new session
    // of capture, so the first run's exchanges are still there.
    let listed = listed_requests(&addr, &token, want.len());
    assert!(listed.len() >= want.len());
}
