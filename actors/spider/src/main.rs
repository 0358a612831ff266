//! `spider`: one binary, one subcommand per role.
//!
//! This file owns the command line and process setup (logging, exit codes); each role's work lives
//! in its own crate and module.

mod analyze;
mod backend;
mod cert;
mod common;
mod controller;
mod gateway;
mod gocipher;
mod identity;
mod up;
mod whisperer;

use std::process::ExitCode;

/// jemalloc for the whole process, RocksDB's C++ allocations included (its `malloc` replaces
/// glibc's): under glibc's per-thread arenas the node's memory kept the peaks of its memtables
/// and grew for as long as the soak ran; with jemalloc it returns to its level after each flush
/// (BENCHMARKS.md `## soak`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "spider",
    version,
    about = "Network observability for Kubernetes clusters and Linux hosts",
    long_about = "Spider captures and analyses network traffic: per-minute usage between every \
                  pair of IPs (Gociphers, eBPF), and packets, TCP sessions and HTTP exchanges \
                  (Whisperers, AF_PACKET), stored and searched by a backend and shown in a web UI."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse a capture file offline: packets to TCP sessions, hosts, DNS and HTTP records.
    Analyze(analyze::AnalyzeArgs),
    /// Print the JSON Schema of a record kind (all kinds without one).
    Schema {
        /// http, tcp_session, dns, host, packet or usage.
        kind: Option<String>,
    },
    /// Make a self-signed certificate for a listener (backend, Controller) and print its pin.
    Cert(cert::CertArgs),
    /// Run every role in one process, with embedded storage in a local folder.
    Up(up::UpArgs),
    /// Run a backend node: ingest from agents, storage shards, the query API.
    Backend(backend::BackendArgs),
    /// Run the gateway: REST API, WebSocket and the web UI.
    Gateway(gateway::GatewayArgs),
    /// Run a Whisperer: capture packets on interfaces and stream them to the backend.
    Whisperer(whisperer::WhispererArgs),
    /// Run a Gocipher: count network usage per minute with eBPF.
    Gocipher(gocipher::GocipherArgs),
    /// Run a Controller: Kubernetes inventory, usage enrichment, Whisperer attachment.
    Controller(controller::ControllerArgs),
    /// Manage identities on a backend node: teams, agents' tokens, API tokens, users.
    Identity(identity::IdentityArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPIDER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Schema { kind } => print_schema(kind.as_deref()),
        Command::Cert(args) => cert::run(args),
        Command::Up(args) => up::run(args),
        Command::Backend(args) => backend::run(args),
        Command::Gateway(args) => gateway::run(args),
        Command::Whisperer(args) => whisperer::run(args),
        Command::Gocipher(args) => gocipher::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Identity(args) => identity::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("spider: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_schema(kind: Option<&str>) -> anyhow::Result<ExitCode> {
    let schema = match kind {
        Some(kind) => spider_model::json_schema(kind).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown record kind `{kind}`: expected one of {}",
                spider_model::SCHEMA_KINDS.join(", ")
            )
        })?,
        None => serde_json::Value::Object(
            spider_model::SCHEMA_KINDS
                .iter()
                .filter_map(|kind| Some(((*kind).to_owned(), spider_model::json_schema(kind)?)))
                .collect(),
        ),
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
