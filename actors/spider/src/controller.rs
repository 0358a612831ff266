//! `spider controller [--kubeconfig FILE]`: keep the inventory of a Kubernetes cluster
//! (in-cluster configuration by default), and attach Whisperers, until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use spider_controller::attach::Attacher;
use spider_controller::config::parse_networks;
use spider_controller::inventory::watch::{check_rights, spawn_watchers};
use spider_controller::{now_ns, ControllerConfig, Inventory};

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
}

pub fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let config = ControllerConfig {
        name: args.name,
        cluster: args.cluster,
        kubeconfig: args.kubeconfig,
        internal_networks: parse_networks(&args.internal_networks)?,
        ip_retention: Duration::from_secs(args.ip_history_minutes * 60),
        ..ControllerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let client = config.client().await?;
        check_rights(&client).await?;
        let inventory = Inventory::new(config.internal_networks.clone(), config.ip_retention_ns());
        let _watchers = spawn_watchers(&inventory, &client);
        inventory.wait_synced().await;
        let snapshot = inventory.snapshot();
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
        let attacher = Attacher::new(client, inventory.clone());
        tokio::spawn(attacher.run());
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                _ = prune.tick() => inventory.update(|state| state.prune(now_ns())),
            }
        }
    })
}
