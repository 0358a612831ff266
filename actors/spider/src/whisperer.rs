//! `spider whisperer`: capture on interfaces (or replay a file) and stream to a backend node,
//! until interrupted (or, for a file, until everything is acknowledged).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use spider_whisperer::{
    CaptureSettings, FileSource, Interface, LiveSource, Pacing, Source, SpillConfig, Whisperer,
    WhispererConfig,
};

/// How a file is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Speed {
    /// At the pace of the capture's own timestamps.
    Realtime,
    /// As fast as the backend takes it.
    Topspeed,
}

#[derive(Debug, clap::Args)]
pub struct WhispererArgs {
    /// The backend node's Cap'n Proto address (HOST:PORT).
    #[arg(long, env = "SPIDER_BACKEND")]
    pub backend: String,
    /// The Controller's listener for its cluster's agents (HOST:PORT): the names of the addresses
    /// seen (pods, services, nodes) are asked from it and stored as hosts of source
    /// `kubernetes`, so the Whisperer needs no Kubernetes rights. Logged in with the same token.
    #[arg(long, env = "SPIDER_CONTROLLER", value_name = "ADDR")]
    pub controller: Option<String>,
    /// TLS towards the backend and the Controller (one CA, or the pins of both).
    #[command(flatten)]
    pub tls: crate::common::ClientTlsArgs,
    /// Seconds between two questions to --controller about the addresses seen since.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub names_every: u64,
    /// The token to log in with (or --token-file, or SPIDER_TOKEN).
    #[arg(long, env = "SPIDER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token (e.g. DIR/admin.token of `spider up`).
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// The Whisperer's name, as its records show it. Default: the host name (an attached
    /// Whisperer is named after its pod by the Controller).
    #[arg(long, env = "SPIDER_WHISPERER_NAME")]
    pub name: Option<String>,
    /// An interface to capture on (repeatable); `any` for all of them.
    #[arg(long = "iface", value_name = "IFACE")]
    pub ifaces: Vec<String>,
    /// A pcap filter expression run in the kernel, e.g. `tcp port 80`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Bytes kept per frame.
    #[arg(long, default_value_t = 262_144)]
    pub snaplen: u32,
    /// Put the interfaces in promiscuous mode.
    #[arg(long)]
    pub promisc: bool,
    /// Capture threads per interface (PACKET_FANOUT by flow).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Ring memory per capture socket, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    pub ring_bytes: u64,
    /// Replay this capture file instead of capturing live.
    #[arg(long, conflicts_with = "ifaces")]
    pub pcap: Option<PathBuf>,
    /// How fast --pcap is replayed.
    #[arg(long, value_enum, default_value_t = Speed::Topspeed)]
    pub speed: Speed,
    /// Memory for batches not yet acknowledged by the backend, in bytes (32 MiB: about 0.3 s of
    /// 100k packets/s; give --spill-dir to ride out longer backend outages).
    #[arg(long, default_value_t = 32 << 20)]
    pub buffer_bytes: u64,
    /// A folder for batches that do not fit in memory (bounded by --spill-bytes).
    #[arg(long)]
    pub spill_dir: Option<PathBuf>,
    /// Bytes on disk at most in --spill-dir.
    #[arg(long, default_value_t = 1 << 30)]
    pub spill_bytes: u64,
    /// Bytes on the wire captured per minute at most (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub throughput_limit: u64,
    /// CPU the Whisperer may use, in percent of one core (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    pub cpu_budget: f32,
    /// Do not send bare TCP ACKs (they are still tracked and counted).
    #[arg(long)]
    pub skip_empty_acks: bool,
    /// Seconds between status lines on stderr.
    #[arg(long, default_value_t = 5)]
    pub status_every: u64,
    /// Stop capturing after this many seconds, send what is buffered, and exit (an attachment's
    /// time to live: the Controller sets it in the ephemeral container's environment).
    #[arg(long, env = "SPIDER_WHISPERER_TTL_SECONDS", value_name = "SECONDS")]
    pub exit_after: Option<u64>,
    /// Serve `GET /metrics` (Prometheus text, `Authorization: Bearer` with the Whisperer's token)
    /// and `GET /healthz` on this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

/// The configuration the arguments describe (shared with `spider up`).
pub fn config_of(args: &WhispererArgs) -> anyhow::Result<WhispererConfig> {
    let backend = crate::common::resolve("backend", &args.backend)?;
    let controller = match &args.controller {
        Some(addr) => Some((
            crate::common::resolve("controller", addr)?,
            args.tls.transport(addr)?,
        )),
        None => None,
    };
    let token = crate::common::token(args.token.as_deref(), args.token_file.as_deref())?;
    let source = match &args.pcap {
        Some(path) => Source::File(FileSource {
            path: path.clone(),
            pacing: match args.speed {
                Speed::Realtime => Pacing::Realtime,
                Speed::Topspeed => Pacing::Topspeed,
            },
        }),
        None => {
            if args.ifaces.is_empty() {
                bail!("nothing to capture: give --iface IFACE (or `any`), or --pcap FILE");
            }
            let mut live =
                LiveSource::new(args.ifaces.iter().map(|i| Interface::parse(i)).collect());
            live.snap_len = args.snaplen;
            live.promiscuous = args.promisc;
            live.workers = args.workers;
            live.ring_bytes = args.ring_bytes;
            Source::Live(live)
        }
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| crate::common::host_name("whisperer"));
    let mut config = WhispererConfig::new(name, backend, token, source);
    config.backend_tls = args.tls.transport(&args.backend)?;
    config.settings = CaptureSettings {
        capture: true,
        filter: args.filter.clone(),
        throughput_limit: args.throughput_limit,
        cpu_budget: args.cpu_budget,
        skip_empty_acks: args.skip_empty_acks,
    };
    config.buffer.memory_bytes = args.buffer_bytes;
    config.buffer.spill = args.spill_dir.as_ref().map(|dir| SpillConfig {
        dir: dir.clone(),
        max_bytes: args.spill_bytes,
    });
    config.status_interval = Duration::from_secs(args.status_every.max(1));
    if let Some((addr, transport)) = controller {
        config.controller = Some(addr);
        config.controller_tls = transport;
    }
    config.names_interval = Duration::from_secs(args.names_every.max(1));
    Ok(config)
}

pub fn run(args: WhispererArgs) -> anyhow::Result<ExitCode> {
    let config = config_of(&args)?;
    let file_mode = matches!(config.source, Source::File(_));
    let asks_names = config.controller.is_some();
    let name = config.name.clone();
    let token = config.token.clone();
    let handle = Whisperer::start(config).context("the whisperer did not start")?;
    eprintln!("spider whisperer {name}: started");
    let metrics = crate::common::serve_metrics(
        "whisperer",
        args.metrics.as_deref(),
        &token,
        std::sync::Arc::new(handle.telemetry()),
    )?;
    let stopper = handle.stopper();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    // Ctrl-C, or the end of the time to live, stops the capture (and, for a file, the replay);
    // the buffer is then drained.
    let exit_after = args.exit_after.map(Duration::from_secs);
    let signals = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let stop = runtime.block_on(async {
                match exit_after {
                    Some(ttl) => tokio::select! {
                        signal = crate::common::stop_signal() => signal.is_ok().then_some("asked to stop"),
                        () = tokio::time::sleep(ttl) => Some("its time to live ran out"),
                    },
                    None => crate::common::stop_signal().await.is_ok().then_some("asked to stop"),
                }
            });
            if let Some(why) = stop {
                eprintln!("spider whisperer: stopping ({why})");
                stopper.stop();
            }
        })
        .context("cannot start a thread")?;
    drop(signals);
    let report = handle.wait();
    drop(metrics);
    let counters = report.counters;
    eprintln!(
        "spider whisperer {name}: {} frames seen, {} delivered, {} dropped (buffer full), {} by limits, {} by the kernel",
        counters.packets_seen,
        counters.frames_acked,
        counters.own_drop_frames,
        counters.limit_drops,
        counters.kernel_drops,
    );
    if asks_names {
        eprintln!(
            "spider whisperer {name}: asked the Controller about {} addresses: {} names ({} failed questions)",
            counters.names_asked, counters.names_learnt, counters.name_failures,
        );
    }
    if let Some(error) = report.source_error {
        eprintln!("spider whisperer: error: {error}");
        return Ok(ExitCode::FAILURE);
    }
    if file_mode && !report.delivered {
        eprintln!("spider whisperer: not everything reached the backend");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
