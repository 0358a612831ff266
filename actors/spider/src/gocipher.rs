//! `spider gocipher`: count the host's (or a cgroup's) TCP and UDP usage per minute with eBPF and
//! send it to the Controller (Kubernetes) or straight to a backend node (plain hosts), until
//! interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use spider_gocipher::{Counters, Gocipher, GocipherConfig, Upstream};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("upstream").args(["controller", "backend", "check"]).required(true)))]
pub struct GocipherArgs {
    /// The Controller's Cap'n Proto address (HOST:PORT): it enriches the records and stores them.
    #[arg(long, env = "SPIDER_CONTROLLER", conflicts_with = "backend")]
    pub controller: Option<String>,
    /// A backend node's Cap'n Proto address (HOST:PORT), on plain hosts without a Controller.
    #[arg(long, env = "SPIDER_BACKEND")]
    pub backend: Option<String>,
    /// TLS towards the Controller or the backend.
    #[command(flatten)]
    pub tls: crate::common::ClientTlsArgs,
    /// The token to log in with (or --token-file, or SPIDER_TOKEN).
    #[arg(long, env = "SPIDER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token (e.g. DIR/admin.token of `spider up`).
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// The Gocipher's name, the `reporter` of its records. Default: the host name.
    #[arg(long)]
    pub name: Option<String>,
    /// Count only the sockets of this cgroup v2 folder (and its descendants). Default: all.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// Bucket length in seconds.
    #[arg(long, default_value_t = 60)]
    pub bucket_seconds: u64,
    /// Entries of the kernel's flow counters (one per socket direction and peer per bucket; about
    /// 100 + 32 × CPUs bytes each).
    #[arg(long, default_value_t = 16_384)]
    pub flow_entries: u32,
    /// Entries of the kernel's socket table.
    #[arg(long, default_value_t = 65_536)]
    pub sock_entries: u32,
    /// Records kept while the upstream is away (the oldest are dropped beyond).
    #[arg(long, default_value_t = 1_000_000)]
    pub buffer_records: usize,
    /// Seconds between status lines on stderr.
    #[arg(long, default_value_t = 60)]
    pub status_every: u64,
    /// Only check that this kernel can run the Gocipher (root, BTF, cgroup v2, the verifier).
    #[arg(long)]
    pub check: bool,
    /// Serve `GET /metrics` (Prometheus text, `Authorization: Bearer` with the Gocipher's token)
    /// and `GET /healthz` on this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

/// The configuration the arguments describe (shared with `spider up`).
pub fn config_of(args: &GocipherArgs) -> anyhow::Result<GocipherConfig> {
    let (upstream, target) = match (&args.controller, &args.backend) {
        (Some(addr), _) => (
            Upstream::Controller(crate::common::resolve("controller", addr)?),
            addr,
        ),
        (None, Some(addr)) => (
            Upstream::Backend(crate::common::resolve("backend", addr)?),
            addr,
        ),
        (None, None) => bail!("where to send the usage: --controller ADDR or --backend ADDR"),
    };
    let token = crate::common::token(args.token.as_deref(), args.token_file.as_deref())?;
    let mut config = GocipherConfig::new(
        args.name
            .clone()
            .unwrap_or_else(|| crate::common::host_name("gocipher")),
        upstream,
        token,
    );
    config.tls = args.tls.transport(target)?;
    config.bucket = Duration::from_secs(args.bucket_seconds);
    config.cgroup = args.cgroup.clone();
    config.flow_entries = args.flow_entries;
    config.sock_entries = args.sock_entries;
    config.max_buffered_records = args.buffer_records;
    config.status_interval = Duration::from_secs(args.status_every.max(1));
    Ok(config)
}

fn status_line(name: &str, c: &Counters) -> String {
    format!(
        "spider gocipher {name}: {} records, {} batches acknowledged, {} buffered, {} dropped \
         (buffer full), {} flow evictions, {} flows not created, {} calls counted",
        Counters::get(&c.records),
        Counters::get(&c.batches_acked),
        Counters::get(&c.buffered_records),
        Counters::get(&c.dropped_records),
        Counters::get(&c.flow_evictions),
        Counters::get(&c.flows_failed),
        Counters::get(&c.calls),
    )
}

pub fn run(args: GocipherArgs) -> anyhow::Result<ExitCode> {
    if args.check && args.controller.is_none() && args.backend.is_none() {
        let support =
            spider_gocipher::preflight().context("this kernel cannot run the gocipher")?;
        println!(
            "spider gocipher: this kernel can run the gocipher (cgroup v2 at {})",
            support.cgroup_root.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let config = config_of(&args)?;
    let name = config.name.clone();
    let every = config.status_interval;
    let token = config.token.clone();
    let handle = Gocipher::start(config).context("the gocipher did not start")?;
    let metrics = crate::common::serve_metrics(
        "gocipher",
        args.metrics.as_deref(),
        &token,
        std::sync::Arc::new(handle.telemetry()),
    )?;
    eprintln!(
        "spider gocipher {name}: counting the sockets of {}",
        handle.cgroup().path.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    runtime.block_on(async {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = crate::common::stop_signal() => break,
                _ = ticks.tick() => eprintln!("{}", status_line(&name, handle.counters())),
            }
        }
    });
    eprintln!("spider gocipher {name}: stopping (sending what is counted)");
    let last = handle.counters().upstream.clone();
    drop(metrics);
    match handle.stop() {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("spider gocipher {name}: the last records did not reach {last}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
