//! `spider backend`: one backend node, until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use spider_backend::{BackendConfig, BackendNode};

#[derive(Debug, clap::Args)]
pub struct BackendArgs {
    /// The node's configuration (TOML; every field optional, see the crate docs). The
    /// SPIDER_BACKEND_* environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The listener's certificate and key (overriding `[tls]` of the configuration).
    #[command(flatten)]
    tls: crate::common::ServerTlsArgs,
    /// Serve `GET /metrics` (Prometheus text, `Authorization: Bearer` with the admin token) and
    /// `GET /healthz` on this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

pub fn run(args: BackendArgs) -> anyhow::Result<ExitCode> {
    let mut config =
        BackendConfig::load(args.config.as_deref()).context("invalid configuration")?;
    if let (Some(cert), Some(key)) = (&args.tls.tls_cert, &args.tls.tls_key) {
        config.tls.cert = Some(cert.clone());
        config.tls.key = Some(key.clone());
    }
    config.tls.insecure_plaintext |= args.tls.insecure_plaintext;
    if let Ok(spider_backend::ServerTransport::Tls(tls)) = config.tls.server() {
        eprintln!("spider backend: tls, certificate pin {}", tls.fingerprint());
    }
    let node = BackendNode::start(config.clone()).context("the backend node did not start")?;
    eprintln!("spider backend: listening on {}", node.local_addr());
    let metrics = crate::common::serve_metrics(
        "backend",
        args.metrics.as_deref(),
        &config.admin_token,
        std::sync::Arc::new(node.telemetry()),
    )?;
    crate::common::wait_for_interrupt()?;
    drop(metrics);
    eprintln!("spider backend: stopping");
    node.stop();
    Ok(ExitCode::SUCCESS)
}
