//! `spider gateway`: the REST API, WebSocket and web UI in front of a backend node, until
//! interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use spider_gateway::{Gateway, GatewayConfig};

#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// The backend node's Cap'n Proto address (`HOST:PORT`, resolved at start).
    #[arg(long, default_value = "127.0.0.1:7070")]
    backend: String,
    /// TLS towards the backend.
    #[command(flatten)]
    tls: crate::common::ClientTlsArgs,
    /// Where to serve the API and the UI.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file holding the admin token (the backend's; users log in to the UI with it too).
    #[arg(long, env = "SPIDER_GATEWAY_TOKEN_FILE")]
    token_file: PathBuf,
    /// The built frontend (`frontend/dist`).
    #[arg(long)]
    ui: Option<PathBuf>,
}

pub fn run(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("cannot read the token file {}", args.token_file.display()))?
        .trim()
        .to_owned();
    anyhow::ensure!(
        !token.is_empty(),
        "the token file {} is empty",
        args.token_file.display()
    );
    if let Some(ui) = &args.ui {
        anyhow::ensure!(
            ui.join("index.html").is_file(),
            "no index.html in {}: build the UI with `npm ci && npm run build` in frontend/",
            ui.display()
        );
    }
    let backend = crate::common::resolve("backend", &args.backend)?;
    let mut config = GatewayConfig::new(args.listen, backend, token);
    config.backend_tls = args.tls.transport(&args.backend)?;
    config.ui_dir = args.ui;
    let gateway = Gateway::start(config).context("the gateway did not start")?;
    eprintln!(
        "spider gateway: serving on http://{}/",
        gateway.local_addr()
    );
    crate::common::wait_for_interrupt()?;
    eprintln!("spider gateway: stopping");
    gateway.stop();
    Ok(ExitCode::SUCCESS)
}
