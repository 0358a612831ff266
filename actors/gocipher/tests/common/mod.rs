//! Throwaway network namespaces joined by a veth pair, a test cgroup, known traffic run inside
//! them (tests/common/traffic.py), and a real backend node. Everything is removed on drop.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use spider_backend::{BackendConfig, BackendNode};

pub const TOKEN: &str = "test-admin-token-0123456789";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether this process can run the kernel programs; says why not (the test is then skipped).
pub fn kernel_ready(test: &str) -> bool {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED {test}: needs root (CI runs it as root)");
        return false;
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("SKIPPED {test}: the kernel has no BTF");
        return false;
    }
    true
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed: {status}");
}

/// Two namespaces `a` and `b` joined by a veth pair: 10.84.N.1 / fd84::N:1 in `a`, .2 / :2 in
/// `b`; and a cgroup under the cgroup v2 hierarchy for the processes that make traffic.
#[derive(Debug)]
pub struct TestNet {
    pub a: String,
    pub b: String,
    pub a4: String,
    pub b4: String,
    pub a6: String,
    pub b6: String,
    pub cgroup: PathBuf,
    children: Vec<Child>,
}

impl TestNet {
    pub fn new() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = (std::process::id() % 10_000) * 16 + n;
        let (a, b) = (format!("gct{tag}a"), format!("gct{tag}b"));
        let subnet = 100 + (tag % 150);
        let root = spider_gocipher::cgroup2_mount().unwrap();
        let cgroup = root.join(format!("spider-gocipher-test-{tag}"));
        let net = Self {
            a4: format!("10.84.{subnet}.1"),
            b4: format!("10.84.{subnet}.2"),
            a6: format!("fd84::{subnet}:1"),
            b6: format!("fd84::{subnet}:2"),
            a,
            b,
            cgroup,
            children: Vec::new(),
        };
        std::fs::create_dir_all(&net.cgroup).unwrap();
        run(&["ip", "netns", "add", &net.a]);
        run(&["ip", "netns", "add", &net.b]);
        let (va, vb) = (format!("{}v", net.a), format!("{}v", net.b));
        run(&[
            "ip", "link", "add", &va, "netns", &net.a, "type", "veth", "peer", "name", &vb,
            "netns", &net.b,
        ]);
        for (ns, dev, v4, v6) in [
            (&net.a, &va, &net.a4, &net.a6),
            (&net.b, &vb, &net.b4, &net.b6),
        ] {
            let exec = |args: &[&str]| {
                let mut all = vec!["ip", "netns", "exec", ns.as_str()];
                all.extend_from_slice(args);
                run(&all);
            };
            exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
            exec(&["ip", "link", "set", "lo", "up"]);
            exec(&["ip", "addr", "add", &format!("{v4}/24"), "dev", dev]);
            exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            exec(&["ip", "link", "set", dev, "up"]);
        }
        net
    }

    /// Starts traffic.py with `args` in namespace `ns`, inside the test cgroup. Servers are
    /// returned once they print "ready".
    pub fn spawn(&mut self, ns: &str, args: &[&str]) -> usize {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/traffic.py");
        let procs = self.cgroup.join("cgroup.procs");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"procs="$1"; ns="$2"; script="$3"; shift 3; echo $$ > "$procs" && exec ip netns exec "$ns" python3 "$script" "$@""#)
            .arg("sh")
            .arg(&procs)
            .arg(ns)
            .arg(&script)
            .args(args)
            .stdout(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if args[0].ends_with("server") {
            let stdout = child.stdout.as_mut().unwrap();
            let mut line = String::new();
            // Reads byte by byte so that nothing after "ready" is buffered away.
            let mut reader = BufReader::with_capacity(1, stdout);
            reader.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready", "{args:?}");
        }
        self.children.push(child);
        self.children.len() - 1
    }

    /// Waits for a process started by `spawn`: its pid and the JSON line it printed.
    pub fn wait(&mut self, index: usize) -> (u32, serde_json::Value) {
        let child = &mut self.children[index];
        let pid = child.id();
        let mut stdout = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "traffic process failed: {status}");
        let last = stdout.lines().last().unwrap_or_default();
        (
            pid,
            serde_json::from_str(last).unwrap_or_else(|_| panic!("no result in {stdout:?}")),
        )
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir(&self.cgroup);
    }
}

pub fn start_backend(dir: &Path) -> BackendNode {
    BackendNode::start(BackendConfig {
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_shards: 2,
        admin_token: TOKEN.into(),
        ..BackendConfig::default()
    })
    .unwrap()
}

/// Runs a future on a current-thread runtime with a `LocalSet` (the client is not `Send`).
pub fn on_local<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, future)
}
