//! `spider up`: every role in one process on this host. A backend node with its data in a local
//! folder, the gateway serving the UI and the REST API, and a Whisperer capturing this host's
//! interfaces (or replaying a capture file), until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use spider_backend::{BackendConfig, BackendNode};
use spider_gateway::{Gateway, GatewayConfig};
use spider_gocipher::{Gocipher, GocipherConfig, GocipherHandle, Upstream};
use spider_whisperer::{
    FileSource, Interface, LiveSource, Pacing, Source, Whisperer, WhispererConfig,
};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the data, and the admin token (`admin.token`), are kept.
    #[arg(long, default_value = "./spider-data")]
    data: PathBuf,
    /// The UI and the REST API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The backend's Cap'n Proto API, for agents and integrations (plaintext: the roles in this
    /// process use it over loopback).
    #[arg(long, default_value = "127.0.0.1:7070")]
    rpc_listen: SocketAddr,
    /// Allow --rpc-listen on an address other than loopback, in plaintext.
    #[arg(long)]
    insecure_plaintext: bool,
    /// Interfaces to capture on (repeat the option; default: every interface).
    #[arg(long = "iface")]
    ifaces: Vec<String>,
    /// Replay this capture file (pcap or pcapng) instead of capturing live (Spider's FILE mode).
    #[arg(long, conflicts_with = "ifaces")]
    pcap: Option<PathBuf>,
    /// Replay the file at the pace it was captured (default: as fast as possible).
    #[arg(long, requires = "pcap")]
    realtime: bool,
    /// Run without a Whisperer (data comes from agents elsewhere, or uploads).
    #[arg(long, conflicts_with_all = ["ifaces", "pcap"])]
    no_capture: bool,
    /// Run without a Gocipher (network usage per minute between IPs, counted with eBPF).
    #[arg(long)]
    no_usage: bool,
    /// The Gocipher's bucket in seconds (a minute by default; tests use a second).
    #[arg(long, default_value_t = 60, hide = true)]
    usage_bucket: u64,
    /// The built web UI (default: `frontend/dist` beside the binary's source tree, when present).
    #[arg(long, env = "SPIDER_UI_DIR")]
    ui: Option<PathBuf>,
    /// The Whisperer's name (default: this host's name, or the file's name with --pcap).
    #[arg(long)]
    name: Option<String>,
}

/// Reads the admin token kept in `dir`, or makes one (32 random bytes, hex) and keeps it there,
/// readable by its owner only.
fn admin_token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("admin.token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if token.len() >= 16 {
            return Ok(token);
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?
    };
    writeln!(file, "{token}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

fn default_ui() -> Option<PathBuf> {
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/dist");
    [PathBuf::from("frontend/dist"), source_tree]
        .into_iter()
        .find(|dir| dir.join("index.html").is_file())
}

/// The Whisperer's source: the file, or the interfaces with this process's own ports left out.
fn source(args: &UpArgs) -> Option<(String, Source)> {
    if args.no_capture {
        return None;
    }
    if let Some(path) = &args.pcap {
        let name = args.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(|| "pcap".into(), |stem| stem.to_string_lossy().into_owned())
        });
        let pacing = if args.realtime {
            Pacing::Realtime
        } else {
            Pacing::Topspeed
        };
        let file = FileSource {
            path: path.clone(),
            pacing,
        };
        return Some((name, Source::File(file)));
    }
    let interfaces = if args.ifaces.is_empty() {
        vec![Interface::All]
    } else {
        args.ifaces
            .iter()
            .map(|name| Interface::parse(name))
            .collect()
    };
    let own = format!(
        "not (tcp port {} or tcp port {})",
        args.listen.port(),
        args.rpc_listen.port()
    );
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| crate::common::host_name("localhost"));
    let mut live = LiveSource::new(interfaces);
    // Kept whatever filter the UI sets later: the settings' filter is combined with it.
    live.base_filter = Some(own);
    Some((name, Source::Live(live)))
}

pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    let token = admin_token(&args.data)?;
    let backend = BackendConfig {
        data_dir: args.data.clone(),
        listen: args.rpc_listen,
        admin_token: token.clone(),
        tls: spider_backend::TlsSettings {
            insecure_plaintext: args.insecure_plaintext,
            ..spider_backend::TlsSettings::default()
        },
        ..BackendConfig::default()
    };
    let node = BackendNode::start(backend).context("the backend node did not start")?;
    let mut gateway = GatewayConfig::new(args.listen, node.local_addr(), token.clone());
    // The gateway's /metrics shows the node's and the Whisperer's families too.
    let roles_metrics = gateway.extra_metrics.clone();
    roles_metrics.push(std::sync::Arc::new(node.telemetry()));
    gateway.ui_dir = args.ui.clone().or_else(default_ui);
    if gateway.ui_dir.is_none() {
        eprintln!("spider up: no built UI found (run scripts/run.sh, or pass --ui DIR): serving the API only");
    }
    let gateway = Gateway::start(gateway).context("the gateway did not start")?;
    let whisperer = match source(&args) {
        None => None,
        Some((name, source)) => {
            let config = WhispererConfig::new(&name, node.local_addr(), token.clone(), source);
            let handle = Whisperer::start(config).context("the Whisperer did not start")?;
            roles_metrics.push(std::sync::Arc::new(handle.telemetry()));
            eprintln!("spider up: Whisperer {name:?} capturing");
            Some(handle)
        }
    };
    let gocipher = if args.no_usage {
        None
    } else {
        usage_counter(
            &node,
            &token,
            std::time::Duration::from_secs(args.usage_bucket),
        )
    };
    let url = format!("http://{}/?token={token}", gateway.local_addr());
    eprintln!("spider up: data in {}", args.data.display());
    eprintln!(
        "spider up: admin token in {}",
        args.data.join("admin.token").display()
    );
    eprintln!("spider up: open {url}");
    println!("{url}");
    crate::common::wait_for_interrupt()?;
    eprintln!("spider up: stopping");
    if let Some(whisperer) = whisperer {
        let report = whisperer.stop();
        eprintln!(
            "spider up: Whisperer batched {} frames, {} acknowledged",
            report.counters.frames_sealed, report.counters.frames_acked
        );
    }
    if let Some(gocipher) = gocipher {
        if let Err(error) = gocipher.stop() {
            eprintln!("spider up: the Gocipher stopped with an error: {error}");
        }
    }
    gateway.stop();
    node.stop();
    Ok(ExitCode::SUCCESS)
}

/// A Gocipher counting this host's sockets into the node, where the kernel allows it; where it
/// does not, says why and goes on without usage.
fn usage_counter(
    node: &BackendNode,
    token: &str,
    bucket: std::time::Duration,
) -> Option<GocipherHandle> {
    let name = format!("{}-usage", crate::common::host_name("localhost"));
    let mut config = GocipherConfig::new(&name, Upstream::Backend(node.local_addr()), token);
    config.bucket = bucket;
    match Gocipher::start(config) {
        Ok(handle) => {
            eprintln!("spider up: Gocipher {name:?} counting network usage");
            Some(handle)
        }
        Err(error) => {
            eprintln!("spider up: no network usage on this host: {error}");
            None
        }
    }
}
