//! `spider-soak`: every Spider role at a fraction of its measured maximum for a long time.
//!
//! In two throwaway network namespaces joined by a veth pair (`wtops-soak-*`, 10.89.7.0/24,
//! forwarding off, nothing routed out): a backend node, the gateway, a Whisperer capturing the
//! veth, a Controller on the fixture Kubernetes API server (a synthetic cluster with churn), and
//! a Gocipher when the kernel allows it, all real `spider` processes with `--metrics`; an HTTP
//! server in one namespace and paced keep-alive clients in the other make the traffic. Every
//! `--sample-every` it records each process's RSS, the drops and refusals from `/metrics`, and the
//! latency of a query through the gateway; at the end it writes `samples.csv` and `report.json`
//! and judges whether memory stayed flat (least-squares slope of each process's RSS and anonymous
//! memory over the last half; the backend's on the level it comes back to after each memtable
//! flush, its bounded block cache aside — `report.rs`). Owns the orchestration and the report
//! only; it measures the roles, it is not a test.

mod procs;
mod report;
mod traffic;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

/// The measured maxima this run takes a fraction of (BENCHMARKS.md).
mod maxima {
    /// `## whisperer`: zero loss up to 100k packets/s with the node on the same 2 cores.
    pub const WHISPERER_PPS: f64 = 100_000.0;
    /// `## controller`: the highest churn measured, flat at 48 MB.
    pub const CONTROLLER_CHURN_PER_SECOND: f64 = 50.0;
    /// Packets a keep-alive request and its response make on the wire (measured: the request and
    /// the response, ACKs riding on them; connection setup and teardown every 100 requests).
    pub const PACKETS_PER_REQUEST: f64 = 2.1;
    /// Requests a second the whole chain sustains here — this load generator, the Whisperer and
    /// the node on the same 2 cores (BENCHMARKS.md `## soak`: a release build kept up with 23.8k
    /// for two minutes, then its Whisperer's buffer filled; 17.5k a second were acknowledged
    /// over 10 minutes with builds running beside it). Lower than the Whisperer's own maximum,
    /// which had the cores to itself.
    pub const CHAIN_REQUESTS_PER_SECOND: f64 = 20_000.0;
}

#[derive(Debug, Parser)]
#[command(about = "Soak test of every Spider role (root; see the module documentation)")]
struct Args {
    /// How long the load runs (`10m`, `2h`, …).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Fraction of each role's measured maximum to run at.
    #[arg(long, default_value_t = 0.5)]
    fraction: f64,
    /// Cap on the HTTP requests a second, whatever the fraction says (0: none).
    #[arg(long, default_value_t = 0.0)]
    max_rps: f64,
    /// Time between two samples.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    sample_every: Duration,
    /// The `spider` binary (a release build measures speed; any build measures memory).
    #[arg(long, env = "SPIDER_BIN")]
    spider: PathBuf,
    /// The `spider-kube-apiserver` binary (fixture Kubernetes API server).
    #[arg(long, env = "SPIDER_KUBE_APISERVER_BIN")]
    kube_apiserver: PathBuf,
    /// Where the data, logs and the report go (a new folder under it).
    #[arg(long, default_value = "/var/tmp")]
    out: PathBuf,
    /// Pods of the synthetic cluster.
    #[arg(long, default_value_t = 5000)]
    pods: u32,
    /// Retention of the captured data (short, so that storage reaches a steady state).
    #[arg(long, default_value = "3m")]
    retention: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !spider_capture::testnet::is_root() {
        bail!("the soak test needs root (network namespaces, AF_PACKET, eBPF)");
    }
    if !(0.0..=1.0).contains(&args.fraction) || args.fraction == 0.0 {
        bail!("--fraction must be in (0, 1]");
    }
    let run_dir = args.out.join(format!("spider-soak-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).context("cannot create the run folder")?;
    let net = spider_capture::testnet::VethPair::new("wtops-soak", "s", 89, 7, None)
        .map_err(|e| anyhow::anyhow!("cannot make the test network: {e}"))?;
    let mut rps = args.fraction
        * (maxima::WHISPERER_PPS / maxima::PACKETS_PER_REQUEST)
            .min(maxima::CHAIN_REQUESTS_PER_SECOND);
    if args.max_rps > 0.0 {
        rps = rps.min(args.max_rps);
    }
    let churn = args.fraction * maxima::CONTROLLER_CHURN_PER_SECOND;
    eprintln!(
        "spider-soak: {:?} at {:.0}% of the maxima: {rps:.0} HTTP requests/s (~{:.0} packets/s), \
         {churn:.0} API changes/s; results in {}",
        args.duration,
        args.fraction * 100.0,
        rps * maxima::PACKETS_PER_REQUEST,
        run_dir.display()
    );
    let roles = procs::Roles::start(&procs::Setup {
        spider: args.spider.clone(),
        kube_apiserver: args.kube_apiserver.clone(),
        dir: run_dir.clone(),
        ns: net.ns_a.clone(),
        pods: args.pods,
        churn,
        retention: args.retention.clone(),
    })?;
    let traffic = traffic::Traffic::start(&net, rps)?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let sampler = procs::Sampler::new(&net.ns_a)?;
    while started.elapsed() < args.duration {
        std::thread::sleep(args.sample_every.min(args.duration - started.elapsed()));
        let sample = sampler.sample(&roles, started.elapsed(), &traffic)?;
        eprintln!("{}", sample.line());
        samples.push(sample);
        if let Some(dead) = roles.dead() {
            eprintln!(
                "spider-soak: {dead} ended early; see its log in {}",
                run_dir.display()
            );
            break;
        }
    }
    traffic.stop.store(true, Ordering::Relaxed);
    let sent = traffic.requests.load(Ordering::Relaxed);
    let errors = traffic.errors.load(Ordering::Relaxed);
    let summary = report::write(
        &run_dir,
        &report::Run {
            duration: started.elapsed(),
            fraction: args.fraction,
            target_rps: rps,
            churn,
            requests: sent,
            request_errors: errors,
            gocipher: roles.has_gocipher(),
        },
        &samples,
    )?;
    println!("{summary}");
    drop(roles);
    drop(Arc::new(traffic));
    drop(net);
    Ok(())
}
