//! What the process tests share: `spider` processes with their stderr in a file (waited on by
//! line), a backend node on a temporary folder, plain HTTP GETs, and the Prometheus text checks.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "ops-test-token-0123456789abcdef";

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// A free TCP port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `spider` process; killed (SIGKILL) when dropped.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Process {
    /// Starts `spider ARGS…` with its stderr (and stdout) in a file.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_env(args, &[])
    }

    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_spider"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `limit`, a guard against hangs) for a line of its log containing `needle`.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log_text().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the process ended ({status}) before saying {needle:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                started.elapsed() < limit,
                "no line {needle:?} in time:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to end (up to `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the process did not end in time:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.wait_exit(Duration::from_secs(60))
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Writes a backend config for `data` listening on `listen`; returns its path.
pub fn backend_config(dir: &Path, data: &Path, listen: &str, extra: &str) -> PathBuf {
    let config = dir.join("backend.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"{listen}\"\nlocal_shards = 2\nadmin_token = \"{TOKEN}\"\n{extra}",
            data.display()
        ),
    )
    .unwrap();
    config
}

/// Starts `spider backend` and waits until it listens.
pub fn start_backend(config: &Path, extra_args: &[&str]) -> Process {
    let mut args = vec!["backend", "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra_args);
    let mut process = Process::spawn(&args);
    process.wait_for_line("spider backend: listening on", Duration::from_secs(120));
    process
}

/// A plain HTTP/1.1 GET: (status, body).
pub fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the sample `name{labels}` (labels as written, e.g. `kind="capture"`; empty for
/// none), summed over every sample that has them.
pub fn sample(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest),
                None => (series, ""),
            };
            (metric == name && rest.contains(labels)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// True when the text has a family named `name`.
pub fn has_family(text: &str, name: &str) -> bool {
    text.contains(&format!("# TYPE {name} "))
}

/// `promtool check metrics` on the text, when promtool is installed (Debian package
/// `prometheus`); panics with its complaints. Returns whether it ran.
pub fn promtool_check(text: &str) -> bool {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed: the text format is checked by the parser only");
        return false;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- text:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// Scrapes `/metrics` with the token, checks the answer and its text format; returns the text.
pub fn scrape(addr: &str) -> String {
    let (status, body) = get(addr, "/metrics", Some(TOKEN));
    assert_eq!(status, 200, "GET /metrics: {body}");
    promtool_check(&body);
    body
}

/// The address a role printed for its metrics (`metrics on http://ADDR/metrics`).
pub fn metrics_addr(line: &str) -> String {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned()
}

/// Runs `body` on a current-thread runtime with a `LocalSet` (the RPC client is not `Send`).
pub fn on_local<F: std::future::Future>(body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, body)
}

/// Every stored packet of `whisperer`, paged newest first.
pub async fn all_packets(
    client: &spider_backend::client::BackendClient,
    whisperer: &str,
) -> Vec<spider_model::PacketRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .packets(&spider_backend::client::ListRequest {
                from: 0,
                to: i64::MAX,
                whisperers: vec![whisperer.to_owned()],
                limit: 1000,
                cursor,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.missing_shards.is_empty(), "{:?}", page.missing_shards);
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// A packet's identity for "stored exactly once": (time, wire length, bytes). Session ids are
/// left out: a Whisperer seeds them from its start time.
pub type PacketKey = (i64, u32, Vec<u8>);

pub fn packet_key(p: &spider_model::PacketRecord) -> PacketKey {
    (p.time, p.wire_len, p.frame.clone())
}

/// Counts of each key.
pub fn multiset<I: IntoIterator<Item = PacketKey>>(
    keys: I,
) -> std::collections::BTreeMap<PacketKey, usize> {
    let mut out = std::collections::BTreeMap::new();
    for key in keys {
        *out.entry(key).or_default() += 1;
    }
    out
}
