//! `spider-kube-apiserver [--listen ADDR] [--kubeconfig FILE] [--fixtures DIR]...`: serves the
//! fixtures until killed (for kubectl by hand, and for benchmarks).
//!
//! With `--synthetic-pods N` it serves a synthetic cluster instead (`--synthetic-nodes`,
//! `--synthetic-services`, `--synthetic-namespaces`, `--seed`) and churns it at
//! `--churn-per-second` operations a second (0: none); `--max-history` bounds the events kept
//! for watches. It prints its URL once the cluster is built, and a churn report to stderr
//! every `--report-secs`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use spider_kube_apiserver::synthetic::{Synthetic, SyntheticConfig};
use spider_kube_apiserver::{ApiServer, ServerConfig};

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> T
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .unwrap_or_else(|e| exit(&format!("{flag} {value}: {e}")))
}

fn main() {
    let mut config = ServerConfig::default();
    let mut kubeconfig: Option<PathBuf> = None;
    let mut fixtures: Vec<PathBuf> = Vec::new();
    let mut synthetic: Option<SyntheticConfig> = None;
    let mut churn_per_second = 0.0_f64;
    let mut report = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let flag = arg.as_str();
        match (flag, value) {
            ("--listen", Some(v)) => config.listen = number(flag, &v),
            ("--kubeconfig", Some(v)) => kubeconfig = Some(v.into()),
            ("--fixtures", Some(v)) => fixtures.push(v.into()),
            ("--max-history", Some(v)) => config.max_history = number(flag, &v),
            ("--synthetic-pods", Some(v)) => {
                synthetic.get_or_insert_with(SyntheticConfig::default).pods = number(flag, &v);
            }
            ("--synthetic-nodes", Some(v)) => {
                synthetic.get_or_insert_with(SyntheticConfig::default).nodes = number(flag, &v);
            }
            ("--synthetic-services", Some(v)) => {
                synthetic.get_or_insert_with(SyntheticConfig::default).services = number(flag, &v);
            }
            ("--synthetic-namespaces", Some(v)) => {
                synthetic.get_or_insert_with(SyntheticConfig::default).namespaces =
                    number(flag, &v);
            }
            ("--seed", Some(v)) => {
                synthetic.get_or_insert_with(SyntheticConfig::default).seed = number(flag, &v);
            }
            ("--churn-per-second", Some(v)) => churn_per_second = number(flag, &v),
            ("--report-secs", Some(v)) => report = Duration::from_secs(number(flag, &v)),
            _ => exit("usage: spider-kube-apiserver [--listen ADDR] [--kubeconfig FILE] [--fixtures DIR]... [--max-history N] [--synthetic-pods N --synthetic-nodes N --synthetic-services N --synthetic-namespaces N --seed N --churn-per-second R --report-secs S]"),
        }
    }
    let server = ApiServer::start(config).unwrap_or_else(|e| exit(&e.to_string()));
    for dir in &fixtures {
        if let Err(e) = server.load_dir(dir) {
            exit(&e.to_string());
        }
    }
    let mut cluster = synthetic.map(|config| {
        let started = Instant::now();
        let cluster = Synthetic::build(server.store(), &config)
            .unwrap_or_else(|e| exit(&format!("synthetic cluster: {e}")));
        eprintln!(
            "synthetic cluster in {:.1} s: {:?}",
            started.elapsed().as_secs_f64(),
            cluster.counts()
        );
        cluster
    });
    if let Some(path) = kubeconfig {
        if let Err(e) = server.write_kubeconfig(&path) {
            exit(&format!("{}: {e}", path.display()));
        }
    }
    println!("{}", server.url());
    match cluster.as_mut() {
        Some(cluster) if churn_per_second > 0.0 => {
            churn(&server, cluster, churn_per_second, report)
        }
        _ => loop {
            std::thread::park();
        },
    }
}

/// Churns at `rate` operations a second, on schedule (late operations catch up).
fn churn(server: &ApiServer, cluster: &mut Synthetic, rate: f64, report: Duration) -> ! {
    let started = Instant::now();
    let first_rv = server.store().resource_version();
    let mut kinds: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut next_report = started + report;
    let mut done: u64 = 0;
    loop {
        let due = started + Duration::from_secs_f64(done as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        match cluster.churn(server.store()) {
            Ok(kind) => *kinds.entry(kind).or_default() += 1,
            Err(e) => eprintln!("churn: {e}"),
        }
        done += 1;
        if Instant::now() >= next_report {
            next_report += report;
            let secs = started.elapsed().as_secs_f64();
            let events = server.store().resource_version() - first_rv;
            eprintln!(
                "churn: {done} operations, {events} events in {secs:.0} s ({:.1} events/s); pods {}; {kinds:?}",
                events as f64 / secs,
                cluster.counts().pods
            );
        }
    }
}

fn exit(message: &str) -> ! {
    eprintln!("spider-kube-apiserver: {message}");
    std::process::exit(2)
}
