//! `spider controller [--kubeconfig FILE]`: keep the inventory of a Kubernetes cluster
//! (in-cluster configuration by default), attach Whisperers, and with `--backend` register with
//! the backend, send it the inventory and relay the cluster's usage to it, until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use spider_controller::config::parse_networks;
use spider_controller::process;
use spider_controller::rpc::UplinkConfig;
use spider_controller::ControllerConfig;

#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// A kubeconfig file; without it, the in-cluster service account is used.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The Controller's agent name.
    #[arg(long, default_value = "controller")]
    pub name: String,
    /// The cluster's name, as the UI shows it.
    #[arg(long, default_value = "cluster")]
    pub cluster: String,
    /// Networks of internal IPs that no pod, service or node has (comma-separated CIDRs).
    #[arg(
        long,
        default_value = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"
    )]
    pub internal_networks: String,
    /// How long the IPs of gone pods are remembered (minutes).
    #[arg(long, default_value_t = 60)]
    pub ip_history_minutes: u64,
    /// Print the inventory (JSON) once it is complete, then exit.
    #[arg(long)]
    pub once: bool,
    /// The backend node to register with, send the inventory and usage to (HOST:PORT).
    #[arg(long, env = "SPIDER_BACKEND")]
    pub backend: Option<String>,
    /// The token to log in with (or --token-file).
    #[arg(long, env = "SPIDER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Where the cluster's Gociphers and Whisperers connect (usage relayed, names of IPs).
    #[arg(long, default_value = "0.0.0.0:7400")]
    pub listen: String,
    /// TLS towards the backend.
    #[command(flatten)]
    pub backend_tls: crate::common::ClientTlsArgs,
    /// TLS on the agents' listener (--listen): its certificate and key.
    #[command(flatten)]
    pub listener_tls: crate::common::ServerTlsArgs,
    /// The pin(s) of the backend's and this Controller's certificates, given to the Whisperers
    /// it attaches (`SPIDER_TLS_PIN`: an ephemeral container cannot mount a CA file).
    /// Default: this Controller's own certificate's pin when its listener is TLS.
    #[arg(
        long,
        env = "SPIDER_WHISPERER_TLS_PIN",
        value_name = "sha256:HEX",
        value_delimiter = ','
    )]
    pub whisperer_tls_pin: Vec<String>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Where attached Whisperers reach this Controller for names of IPs (its Service,
    /// `HOST:PORT`); default: `--listen` when it names a specific address.
    #[arg(long)]
    pub advertise: Option<String>,
    /// Serve `GET /metrics` (Prometheus text, `Authorization: Bearer` with the Controller's
    /// token) and `GET /healthz` on this address (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

pub fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let mut config = ControllerConfig {
        name: args.name.clone(),
        cluster: args.cluster.clone(),
        kubeconfig: args.kubeconfig.clone(),
        internal_networks: parse_networks(&args.internal_networks)?,
        ip_retention: Duration::from_secs(args.ip_history_minutes * 60),
        cluster_domain: args.cluster_domain.clone(),
        advertise: args.advertise.clone(),
        whisperer_tls_pins: args
            .whisperer_tls_pin
            .iter()
            .map(|pin| spider_tls::Fingerprint::parse(pin).map(|pin| pin.to_string()))
            .collect::<Result<_, _>>()?,
        ..ControllerConfig::default()
    };
    let uplink = match (&args.backend, args.once) {
        (Some(backend), false) => {
            let listen: SocketAddr = args
                .listen
                .parse()
                .with_context(|| format!("--listen: not an address: {}", args.listen))?;
            let token = crate::common::token(args.token.as_deref(), args.token_file.as_deref())?;
            let mut uplink = UplinkConfig::plain(
                &config.name,
                &config.cluster,
                crate::common::resolve("backend", backend)?,
                &token,
            );
            uplink.backend_tls = args.backend_tls.transport(backend)?;
            uplink.listener.transport = args.listener_tls.transport(listen)?;
            Some((uplink, listen))
        }
        _ => None,
    };
    let backend = uplink.as_ref().map(|(uplink, _)| uplink.backend);
    let listener_pin = uplink
        .as_ref()
        .and_then(|(uplink, _)| match &uplink.listener.transport {
            spider_backend::ServerTransport::Tls(tls) => Some(tls.fingerprint()),
            spider_backend::ServerTransport::Plain => None,
        });
    // Attached Whisperers verify the backend and this Controller with the given pins, or, when
    // this listener is TLS, its own certificate's (one certificate for both, as in deploy/).
    if config.whisperer_tls_pins.is_empty() {
        if let Some(pin) = listener_pin {
            config.whisperer_tls_pins = vec![pin.to_string()];
        }
    }
    let running = process::spawn(config.clone(), uplink)?;
    let snapshot = running.inventory.snapshot();
    if args.once {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "controller {}: {} nodes, {} namespaces, {} workloads, {} pods, {} services",
        config.name,
        snapshot.nodes.len(),
        snapshot.namespaces.len(),
        snapshot.workloads.len(),
        snapshot.pods.len(),
        snapshot.services.len()
    );
    match (backend, running.listen) {
        (Some(backend), Some(listen)) => eprintln!(
            "controller {}: backend {backend}, agents connect to {listen}{}",
            config.name,
            match &listener_pin {
                Some(pin) => format!(" (tls, certificate pin {pin})"),
                None => String::new(),
            }
        ),
        _ => eprintln!(
            "controller {}: no --backend: keeping the inventory only",
            config.name
        ),
    }
    let metrics = match &args.metrics {
        Some(_) => {
            let token = crate::common::token(args.token.as_deref(), args.token_file.as_deref())
                .context("--metrics needs the token that protects /metrics")?;
            crate::common::serve_metrics(
                "controller",
                args.metrics.as_deref(),
                &token,
                std::sync::Arc::new(running.telemetry()),
            )?
        }
        None => None,
    };
    crate::common::wait_for_interrupt()?;
    drop(metrics);
    Ok(ExitCode::SUCCESS)
}
