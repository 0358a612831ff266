//! `storage-bench`: loads one storage shard with synthetic HTTP exchanges and packets through its
//! actor (WAL on, fsync as `--sync` says), then measures query latencies on the result.
//!
//! Reported: ingest rates (wall and per core of CPU the shard used), the raw sequential write
//! speed of the same bytes to a file with the same fsync policy, the ingest-to-searchable lag,
//! and p50/p99 of a full-text search, a 24-hour timeline and a 24-hour map.

mod gen;
mod stats;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use spider_query::{parse, RecordKind};
use spider_storage::{
    now_ns, HttpQuery, MapRequest, Shard, ShardActor, ShardConfig, ShardRequest, ShardResponse,
    TimeRange, TimelineRequest, WalSync,
};

use crate::gen::{Generator, WORDS};
use crate::stats::{cpu_time, ms, percentile};

const DAY_NS: i64 = 24 * 3_600_000_000_000;

#[derive(Debug, Parser)]
struct Args {
    /// HTTP exchanges to ingest (4 packets each, 2 without a response; a session update every
    /// 10 exchanges on average).
    #[arg(long, default_value_t = 200_000)]
    exchanges: u64,
    /// Exchanges per batch.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// The shard folder (emptied first unless --reuse).
    #[arg(long, default_value = "/var/tmp/spider-storage-bench")]
    dir: PathBuf,
    /// WAL fsync per batch (`always`) or OS-buffered (`os`).
    #[arg(long, default_value = "always")]
    sync: String,
    /// Runs of each query.
    #[arg(long, default_value_t = 30)]
    queries: usize,
    /// Batches sent ahead of their acknowledgement.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Skip ingest: query the store already in --dir.
    #[arg(long)]
    reuse: bool,
}

#[derive(Debug, Default)]
struct IngestResult {
    batches: u64,
    packets: u64,
    raw_bytes: u64,
    wall: Duration,
    shard_cpu: Duration,
    generator_cpu: Duration,
    lags: Vec<Duration>,
    disk_bytes: u64,
}

fn config(args: &Args) -> anyhow::Result<ShardConfig> {
    let mut config = ShardConfig::new(args.dir.join("shard"));
    config.sync = match args.sync.as_str() {
        "always" => WalSync::Always,
        "os" => WalSync::OsBuffered,
        other => bail!("--sync is always or os, not {other}"),
    };
    config.default_ttl = Duration::from_secs(30 * 24 * 3600);
    config.purge_interval = Duration::from_secs(24 * 3600);
    config.block_cache_bytes = 256 << 20;
    Ok(config)
}

fn ingest(args: &Args, config: ShardConfig) -> anyhow::Result<IngestResult> {
    let system = actix_rt::System::new();
    system.block_on(async move {
        let shard = Shard::open(config)?;
        let (addr, arbiter) = ShardActor::spawn(shard);
        let Ok(ShardResponse::Listeners { mut searchable, .. }) =
            addr.send(ShardRequest::Subscribe).await?
        else {
            bail!("no listeners");
        };
        let searchable_at: Rc<RefCell<Vec<(u64, Instant)>>> = Rc::default();
        let watcher = {
            let searchable_at = searchable_at.clone();
            actix_rt::spawn(async move {
                while searchable.changed().await.is_ok() {
                    let seq = *searchable.borrow_and_update();
                    searchable_at.borrow_mut().push((seq, Instant::now()));
                }
            })
        };
        let now = now_ns();
        let mut generator =
            Generator::new("bench-whisperer", 42, now - DAY_NS, DAY_NS, args.exchanges);
        let batches = args.exchanges.div_ceil(args.batch as u64);
        let mut result = IngestResult::default();
        let mut acks: Vec<(u64, Instant)> = Vec::with_capacity(batches as usize);
        let mut pending = VecDeque::new();
        let cpu_start = cpu_time("self");
        let thread_start = cpu_time("thread-self");
        let started = Instant::now();
        for seq in 1..=batches {
            let per_batch = (args.exchanges - (seq - 1) * args.batch as u64).min(args.batch as u64);
            let (batch, raw) = generator.batch("bench-agent", seq, per_batch as usize);
            result.raw_bytes += raw;
            result.packets += batch.packets.len() as u64;
            pending.push_back(addr.send(ShardRequest::Ingest(Box::new(batch))));
            while pending.len() >= args.in_flight.max(1) {
                let Some(request) = pending.pop_front() else {
                    break;
                };
                let ShardResponse::Ingested(outcome) = request.await?? else {
                    bail!("unexpected answer to ingest");
                };
                acks.push((outcome.shard_seq, Instant::now()));
            }
            if seq % 500 == 0 {
                eprintln!("{seq}/{batches} batches, {:.0?}", started.elapsed());
            }
        }
        while let Some(request) = pending.pop_front() {
            let ShardResponse::Ingested(outcome) = request.await?? else {
                bail!("unexpected answer to ingest");
            };
            acks.push((outcome.shard_seq, Instant::now()));
        }
        result.wall = started.elapsed();
        let last = acks.last().map_or(0, |a| a.0);
        // Wait until the last batch is searchable (the timer commits it).
        let mut waited = 0;
        while searchable_at.borrow().last().is_none_or(|s| s.0 < last) && waited < 10_000 {
            actix_rt::time::sleep(Duration::from_millis(1)).await;
            waited += 1;
        }
        result.generator_cpu = cpu_time("thread-self").saturating_sub(thread_start);
        result.shard_cpu = cpu_time("self")
            .saturating_sub(cpu_start)
            .saturating_sub(result.generator_cpu);
        result.batches = batches;
        let events = searchable_at.borrow().clone();
        for (seq, acked) in &acks {
            if let Some((_, at)) = events.iter().find(|(upto, _)| upto >= seq) {
                result.lags.push(at.saturating_duration_since(*acked));
            }
        }
        let Ok(ShardResponse::Status(status)) = addr
            .send(ShardRequest::Flush)
            .await
            .map(|_| ())
            .and(addr.send(ShardRequest::Status).await)?
        else {
            bail!("no status");
        };
        result.disk_bytes = status.disk_bytes;
        watcher.abort();
        arbiter.stop();
        if arbiter.join().is_err() {
            bail!("the shard thread panicked");
        }
        Ok(result)
    })
}

/// Writes `bytes` to a file in `chunks` equal writes, fsyncing each when `sync`.
fn raw_write(path: &PathBuf, bytes: u64, chunks: u64, sync: bool) -> anyhow::Result<Duration> {
    let chunk = vec![0x5au8; (bytes / chunks.max(1)).max(1) as usize];
    let mut file =
        std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let started = Instant::now();
    for _ in 0..chunks {
        file.write_all(&chunk)?;
        if sync {
            file.sync_data()?;
        }
    }
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(path)?;
    Ok(elapsed)
}

fn time_runs(
    runs: usize,
    mut run: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(runs);
    for index in 0..runs {
        let started = Instant::now();
        run(index)?;
        samples.push(started.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = config(&args)?;
    let mut report = String::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !args.reuse {
        let _ = std::fs::remove_dir_all(&args.dir);
        std::fs::create_dir_all(&args.dir)?;
        let result = ingest(&args, config.clone())?;
        let secs = result.wall.as_secs_f64();
        let cpu = result.shard_cpu.as_secs_f64().max(1e-9);
        let packets = result.packets;
        let raw = raw_write(
            &args.dir.join("raw.bin"),
            result.raw_bytes,
            result.batches,
            args.sync == "always",
        )?;
        let mut lags = result.lags.clone();
        report.push_str(&format!(
            "| exchanges | packets | batches | sync | wall (s) | exchanges/s | packets/s | MB/s (raw) | shard CPU (s) | exchanges/s per core | generator CPU (s) | disk (MB) |\n|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.0} |\n\n",
            args.exchanges,
            packets,
            result.batches,
            args.sync,
            secs,
            args.exchanges as f64 / secs,
            packets as f64 / secs,
            result.raw_bytes as f64 / secs / 1e6,
            cpu,
            args.exchanges as f64 / cpu,
            result.generator_cpu.as_secs_f64(),
            result.disk_bytes as f64 / 1e6,
        ));
        report.push_str(&format!(
            "Raw sequential write of the same {:.0} MB in {} writes{}: {:.2} s, {:.1} MB/s (the shard: {:.1} MB/s, {:.0}% of it).\n\n",
            result.raw_bytes as f64 / 1e6,
            result.batches,
            if args.sync == "always" { ", fsync after each" } else { ", no fsync" },
            raw.as_secs_f64(),
            result.raw_bytes as f64 / raw.as_secs_f64() / 1e6,
            result.raw_bytes as f64 / secs / 1e6,
            100.0 * raw.as_secs_f64() / secs,
        ));
        report.push_str(&format!(
            "Ingest-to-searchable lag (acknowledged → `Searchable`), {} batches: p50 {} ms, p99 {} ms, max {} ms.\n\n",
            lags.len(),
            ms(percentile(&mut lags, 0.5)),
            ms(percentile(&mut lags, 0.99)),
            ms(percentile(&mut lags, 1.0)),
        ));
    }
    let shard = Shard::open(config)?;
    let now = now_ns();
    let day = TimeRange::new(now - DAY_NS - 3_600_000_000_000, now);
    let (p50_text, p99_text) = time_runs(args.queries, |index| {
        let mut query = HttpQuery::new(day, 100);
        query.query = Some(parse(WORDS[index % WORDS.len()], RecordKind::Http)?);
        let page = shard.query_http(&query)?;
        if page.items.is_empty() {
            bail!("full-text search found nothing");
        }
        Ok(())
    })?;
    let (p50_term, p99_term) = time_runs(args.queries, |index| {
        let mut query = HttpQuery::new(day, 100);
        query.query = Some(parse(
            &format!(
                "status:5xx path:/api/v1/* query.q:{}",
                WORDS[index % WORDS.len()]
            ),
            RecordKind::Http,
        )?);
        shard.query_http(&query)?;
        Ok(())
    })?;
    let (p50_timeline, p99_timeline) = time_runs(args.queries, |_| {
        // As the query service asks: from a whole second, in buckets of whole seconds.
        let timeline = shard.timeline(&TimelineRequest {
            range: TimeRange::new(day.from / 1_000_000_000 * 1_000_000_000, day.to),
            bucket_ns: 300_000_000_000,
            whisperers: vec![],
            query: None,
        })?;
        let total: u64 = timeline.buckets.iter().map(|b| b.counts.total()).sum();
        if !args.reuse && total != args.exchanges {
            bail!("timeline counted {total} of {}", args.exchanges);
        }
        Ok(())
    })?;
    let (p50_map, p99_map) = time_runs(args.queries, |_| {
        let map = shard.network_map(&MapRequest {
            range: day,
            whisperers: vec![],
            query: None,
        })?;
        if map.edges.is_empty() {
            bail!("empty map");
        }
        Ok(())
    })?;
    report.push_str(&format!(
        "| query (over the whole store, {} runs) | p50 (ms) | p99 (ms) |\n|---|---:|---:|\n| full text, one word, newest 100 | {} | {} |\n| `status:5xx path:/api/v1/* query.q:WORD`, newest 100 | {} | {} |\n| timeline, 24 h in 5-minute buckets | {} | {} |\n| network map, 24 h | {} | {} |\n",
        args.queries,
        ms(p50_text),
        ms(p99_text),
        ms(p50_term),
        ms(p99_term),
        ms(p50_timeline),
        ms(p99_timeline),
        ms(p50_map),
        ms(p99_map),
    ));
    println!("{cores} cores\n\n{report}");
    Ok(())
}
