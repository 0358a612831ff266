//! The roles as real processes inside the soak's namespace, and one sample of all of them: RSS
//! from `/proc`, counters from each `/metrics`, a timed query through the gateway.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub const TOKEN: &str = "soak-token-0123456789abcdef0123456789";
const BACKEND_METRICS: &str = "127.0.0.1:9100";
const WHISPERER_METRICS: &str = "127.0.0.1:9101";
const CONTROLLER_METRICS: &str = "127.0.0.1:9102";
const GOCIPHER_METRICS: &str = "127.0.0.1:9103";
const GATEWAY: &str = "127.0.0.1:8080";

/// What the roles are started with.
#[derive(Debug)]
pub struct Setup {
    pub spider: PathBuf,
    pub kube_apiserver: PathBuf,
    pub dir: PathBuf,
    pub ns: String,
    pub pods: u32,
    pub churn: f64,
    pub retention: String,
}

/// One running process.
#[derive(Debug)]
pub struct Role {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Role {
    fn spawn(
        setup: &Setup,
        name: &'static str,
        program: &Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let log = setup.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        // nsenter changes the network namespace only (`ip netns exec` also remounts /sys, which
        // hides the cgroup v2 hierarchy the Gocipher attaches to), and execs: same pid.
        let child = Command::new("nsenter")
            .arg(format!(
                "--net={}",
                spider_capture::netns::named_path(&setup.ns)
            ))
            .arg("--")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Self { name, child, log })
    }

    /// Waits for a line of the log containing `needle` (five minutes at most).
    fn wait_for(&mut self, needle: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} ended ({status}) while starting:\n{text}", self.name);
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!(
                    "{} did not say {needle:?} in five minutes:\n{text}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Resident memory now: all of it, and the anonymous part (heap, stacks) apart from the
    /// file-backed pages it maps (the index segments tantivy reads through mmap, the binary),
    /// which the kernel can reclaim.
    fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| -> Option<u64> {
            let kb: u64 = status
                .lines()
                .find_map(|line| line.strip_prefix(name))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        };
        Some(Memory {
            rss: field("VmRSS:")?,
            anon: field("RssAnon:")?,
        })
    }
}

/// A process's resident memory, in bytes.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    pub rss: u64,
    pub anon: u64,
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every role of the soak.
#[derive(Debug)]
pub struct Roles {
    pub list: Vec<Role>,
}

impl Roles {
    pub fn start(setup: &Setup) -> anyhow::Result<Self> {
        let dir = &setup.dir;
        std::fs::write(dir.join("token"), TOKEN)?;
        let config = dir.join("backend.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nlisten = \"127.0.0.1:7070\"\nadmin_token = \"{TOKEN}\"\n\
                 min_free_bytes = {}\n\n[retention]\ndefault = \"{}\"\nusage = \"{}\"\n\
                 purge_interval = \"30s\"\n\n[index]\npartition = \"1m\"\n",
                dir.join("data").display(),
                512u64 << 20,
                setup.retention,
                setup.retention,
            ),
        )?;
        let spider = setup.spider.as_path();
        let mut list = Vec::new();
        let mut backend = Role::spawn(
            setup,
            "backend",
            spider,
            &[
                "backend",
                "--config",
                path(&config),
                "--metrics",
                BACKEND_METRICS,
            ],
        )?;
        backend.wait_for("metrics on http://")?;
        list.push(backend);
        let token_file = dir.join("token");
        let mut gateway = Role::spawn(
            setup,
            "gateway",
            spider,
            &[
                "gateway",
                "--backend",
                "127.0.0.1:7070",
                "--listen",
                GATEWAY,
                "--token-file",
                path(&token_file),
            ],
        )?;
        gateway.wait_for("serving on")?;
        list.push(gateway);
        let kubeconfig = dir.join("kubeconfig");
        let pods = setup.pods.to_string();
        let services = (setup.pods * 3 / 5).to_string();
        let churn = format!("{}", setup.churn);
        let mut apiserver = Role::spawn(
            setup,
            "kube-apiserver",
            &setup.kube_apiserver,
            &[
                "--listen",
                "127.0.0.1:6443",
                "--kubeconfig",
                path(&kubeconfig),
                "--max-history",
                "20000",
                "--synthetic-pods",
                &pods,
                "--synthetic-services",
                &services,
                "--synthetic-nodes",
                "50",
                "--synthetic-namespaces",
                "40",
                "--churn-per-second",
                &churn,
                "--report-secs",
                "60",
            ],
        )?;
        apiserver.wait_for("http")?;
        list.push(apiserver);
        let mut controller = Role::spawn(
            setup,
            "controller",
            spider,
            &[
                "controller",
                "--kubeconfig",
                path(&kubeconfig),
                "--backend",
                "127.0.0.1:7070",
                "--token",
                TOKEN,
                "--listen",
                "127.0.0.1:7400",
                "--metrics",
                CONTROLLER_METRICS,
                // Short, like the storage's retention, so that its history reaches a steady
                // state within the run.
                "--ip-history-minutes",
                "2",
            ],
        )?;
        controller.wait_for("metrics on http://")?;
        list.push(controller);
        let mut whisperer = Role::spawn(
            setup,
            "whisperer",
            spider,
            &[
                "whisperer",
                "--backend",
                "127.0.0.1:7070",
                "--controller",
                "127.0.0.1:7400",
                "--token",
                TOKEN,
                "--name",
                "soak",
                "--iface",
                "veth-a",
                "--metrics",
                WHISPERER_METRICS,
                "--status-every",
                "60",
            ],
        )?;
        whisperer.wait_for("metrics on http://")?;
        list.push(whisperer);
        let kernel_ok = Command::new(spider)
            .args(["gocipher", "--check"])
            .output()
            .is_ok_and(|out| out.status.success());
        if kernel_ok {
            let mut gocipher = Role::spawn(
                setup,
                "gocipher",
                spider,
                &[
                    "gocipher",
                    "--controller",
                    "127.0.0.1:7400",
                    "--token",
                    TOKEN,
                    "--name",
                    "soak",
                    "--metrics",
                    GOCIPHER_METRICS,
                ],
            )?;
            gocipher.wait_for("metrics on http://")?;
            list.push(gocipher);
        } else {
            eprintln!("spider-soak: this kernel cannot run the Gocipher: soaking without it");
        }
        Ok(Self { list })
    }

    pub fn has_gocipher(&self) -> bool {
        self.list.iter().any(|r| r.name == "gocipher")
    }

    /// The first role whose process ended.
    pub fn dead(&self) -> Option<&'static str> {
        self.list
            .iter()
            .find(|r| !Path::new(&format!("/proc/{}", r.child.id())).exists())
            .map(|r| r.name)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// One sample of every role.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub seconds: f64,
    /// (role, resident memory).
    pub memory: Vec<(&'static str, Memory)>,
    pub requests_sent: u64,
    pub request_errors: u64,
    pub whisperer_frames_seen: f64,
    pub whisperer_frames_acked: f64,
    pub whisperer_dropped_frames: f64,
    pub whisperer_buffer_bytes: f64,
    pub backend_frames_stored: f64,
    pub backend_http_stored: f64,
    pub backend_refused: f64,
    pub backend_in_flight: f64,
    pub backend_storage_bytes: f64,
    pub backend_parse_events: f64,
    /// RocksDB memtables and block cache of every shard.
    pub backend_memtables_bytes: f64,
    pub backend_block_cache_bytes: f64,
    pub controller_usage_records: f64,
    pub gocipher_dropped: f64,
    /// A page of 100 HTTP exchanges through the gateway: time and status.
    pub query_ms: f64,
    pub query_status: u16,
}

impl Sample {
    pub fn line(&self) -> String {
        let rss: Vec<String> = self
            .memory
            .iter()
            .map(|(name, memory)| {
                format!(
                    "{name} {:.0} MiB (anon {:.0})",
                    memory.rss as f64 / 1048576.0,
                    memory.anon as f64 / 1048576.0
                )
            })
            .collect();
        format!(
            "t={:>5.0}s rss [{}] frames seen {:.0} acked {:.0} dropped {:.0}; stored http {:.0}; refused {:.0}; memtables {:.0} MiB, block cache {:.0} MiB; query {:.1} ms ({})",
            self.seconds,
            rss.join(", "),
            self.whisperer_frames_seen,
            self.whisperer_frames_acked,
            self.whisperer_dropped_frames,
            self.backend_http_stored,
            self.backend_refused,
            self.backend_memtables_bytes / 1048576.0,
            self.backend_block_cache_bytes / 1048576.0,
            self.query_ms,
            self.query_status,
        )
    }
}

/// Reads the roles from inside their namespace.
#[derive(Debug)]
pub struct Sampler {
    ns_path: String,
}

impl Sampler {
    pub fn new(ns: &str) -> anyhow::Result<Self> {
        Ok(Self {
            ns_path: spider_capture::netns::named_path(ns),
        })
    }

    pub fn sample(
        &self,
        roles: &Roles,
        elapsed: Duration,
        traffic: &crate::traffic::Traffic,
    ) -> anyhow::Result<Sample> {
        use std::sync::atomic::Ordering;
        let memory = roles
            .list
            .iter()
            .map(|role| (role.name, role.memory().unwrap_or_default()))
            .collect();
        let (backend, whisperer, controller, gocipher, query) =
            spider_capture::netns::run_in(&self.ns_path, || {
                let started = Instant::now();
                let (status, _) = get(GATEWAY, "/api/v1/http?limit=100", Some(TOKEN));
                let query = (started.elapsed().as_secs_f64() * 1000.0, status);
                (
                    get(BACKEND_METRICS, "/metrics", Some(TOKEN)).1,
                    get(WHISPERER_METRICS, "/metrics", Some(TOKEN)).1,
                    get(CONTROLLER_METRICS, "/metrics", Some(TOKEN)).1,
                    get(GOCIPHER_METRICS, "/metrics", Some(TOKEN)).1,
                    query,
                )
            })
            .map_err(|e| anyhow::anyhow!("cannot enter the namespace: {e}"))?;
        Ok(Sample {
            seconds: elapsed.as_secs_f64(),
            memory,
            requests_sent: traffic.requests.load(Ordering::Relaxed),
            request_errors: traffic.errors.load(Ordering::Relaxed),
            whisperer_frames_seen: value(
                &whisperer,
                "spider_whisperer_frames_total",
                "stage=\"seen\"",
            ),
            whisperer_frames_acked: value(
                &whisperer,
                "spider_whisperer_frames_total",
                "stage=\"acked\"",
            ),
            whisperer_dropped_frames: value(
                &whisperer,
                "spider_whisperer_dropped_frames_total",
                "",
            ) - value(
                &whisperer,
                "spider_whisperer_dropped_frames_total",
                "cause=\"skipped_empty_ack\"",
            ),
            whisperer_buffer_bytes: value(&whisperer, "spider_whisperer_buffer_bytes", ""),
            backend_frames_stored: value(
                &backend,
                "spider_backend_ingest_records_total",
                "kind=\"frame\"",
            ),
            backend_http_stored: value(
                &backend,
                "spider_backend_ingest_records_total",
                "kind=\"http\"",
            ),
            backend_refused: value(&backend, "spider_backend_ingest_refused_total", ""),
            backend_in_flight: value(&backend, "spider_backend_ingest_in_flight", ""),
            backend_storage_bytes: value(&backend, "spider_backend_storage_bytes", ""),
            backend_parse_events: value(&backend, "spider_backend_parse_events_total", ""),
            backend_memtables_bytes: value(
                &backend,
                "spider_backend_storage_memory_bytes",
                "kind=\"memtables\"",
            ),
            backend_block_cache_bytes: value(
                &backend,
                "spider_backend_storage_memory_bytes",
                "kind=\"block_cache\"",
            ),
            controller_usage_records: value(
                &controller,
                "spider_controller_usage_records_total",
                "",
            ),
            gocipher_dropped: value(
                &gocipher,
                "spider_gocipher_dropped_total",
                "cause=\"buffer_full\"",
            ),
            query_ms: query.0,
            query_status: query.1,
        })
    }
}

/// The sum of the samples of `name` whose labels contain `labels`.
fn value(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && rest.contains(labels)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// A plain HTTP/1.1 GET: (status, body); (0, "") when nothing answers.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    if write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .is_err()
    {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}
