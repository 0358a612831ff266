//! Ingest throughput of a backend cluster: starts a real etcd and N `spider backend` processes
//! (`[cluster]`, one storage shard per group, every batch replicated to its group's follower),
//! then pushes a capture as A agents through `ClusterClient` (each batch to its shard's owner)
//! and reports exchanges and packets stored per second, from the first push to the last
//! acknowledgement.
//!
//! `cluster-bench --spider target/release/spider --nodes 3 --agents 6 --capture testdata/http-load.pcap`

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use spider_backend::client::ClusterClient;
use spider_backend::testing::{batches_of, exchanges_of, push_acknowledged};
use spider_cluster::testing::{free_port, EtcdServer};

const TOKEN: &str = "cluster-bench-token-0123456789";

#[derive(Debug, Parser)]
struct Args {
    /// The `spider` binary (a release build for numbers that mean something).
    #[arg(long)]
    spider: PathBuf,
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Agents pushing the capture at the same time, each through its own cluster client.
    #[arg(long, default_value_t = 6)]
    agents: usize,
    #[arg(long, default_value = "testdata/http-load.pcap")]
    capture: PathBuf,
    /// Shard groups (and local shards per node).
    #[arg(long, default_value_t = 12)]
    groups: u16,
    /// Frames per batch.
    #[arg(long, default_value_t = 512)]
    batch: usize,
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Some(etcd) = EtcdServer::start() else {
        bail!("no etcd binary: apt-get install etcd-server");
    };
    let data = tempfile::tempdir()?;
    let mut nodes = Vec::new();
    let mut seeds = Vec::new();
    for index in 0..args.nodes {
        let address = format!("127.0.0.1:{}", free_port());
        let config = data.path().join(format!("node{index}.toml"));
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nlisten = \"{address}\"\nlocal_shards = {g}\nadmin_token = \"{TOKEN}\"\n\
                 [cluster]\netcd = \"{}\"\nname = \"bench\"\nnode = \"n{index}\"\ngroups = {g}\n\
                 initial_nodes = {}\n",
                data.path().join(format!("node{index}")).display(),
                etcd.url,
                args.nodes,
                g = args.groups,
            ),
        )?;
        let child = Command::new(&args.spider)
            .args(["backend", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {}", args.spider.display()))?;
        nodes.push(Node(child));
        seeds.push(address);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&runtime, async move {
        let started = Instant::now();
        loop {
            if let Ok(client) = ClusterClient::connect(&seeds, TOKEN).await {
                if client.map().nodes.len() == args.nodes {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the cluster did not form");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut work = Vec::new();
        let (mut exchanges, mut packets) = (0usize, 0usize);
        for agent in 0..args.agents {
            let name = format!("agent-{agent}");
            let batches = batches_of(&args.capture, &name, args.batch)?;
            exchanges += exchanges_of(&batches).len();
            packets += batches.iter().map(|b| b.frames.len()).sum::<usize>();
            let client = ClusterClient::connect(&seeds, TOKEN).await?;
            work.push((name, batches, client));
        }
        // Agents push at the same time, each its batches in order (as Whisperers do).
        let started = Instant::now();
        let pushes = work.iter_mut().map(|(name, batches, cluster)| async move {
            push_acknowledged(cluster, name, batches, Duration::from_secs(600)).await
        });
        for result in futures::future::join_all(pushes).await {
            result?;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "nodes={} agents={} exchanges={exchanges} packets={packets} seconds={seconds:.2} \
             exchanges_per_s={:.0} packets_per_s={:.0}",
            args.nodes,
            args.agents,
            exchanges as f64 / seconds,
            packets as f64 / seconds
        );
        anyhow::Ok(())
    })?;
    drop(nodes);
    Ok(())
}
