//! `copy-bench`: copies a storage shard the way a cluster moves a shard group to a new node
//! (raw entries out in chunks, into an emptied shard, then the full-text index rebuilt from
//! them), beside a raw disk copy of the same shard folder (`cp -a`), in the same run.
//!
//! Make the shard first with `storage-bench --dir DIR`; reported: medians of `--runs` runs of
//! export + import, the index rebuild, and `cp -a`, as MiB/s of the source folder's size.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use spider_storage::{dir_size, CopyPosition, Shard, ShardConfig};

#[derive(Debug, Parser)]
struct Args {
    /// The folder of a `storage-bench` run (its shard is `DIR/shard`).
    #[arg(long, default_value = "/var/tmp/spider-storage-bench")]
    dir: PathBuf,
    /// Bytes of entries per chunk (the cluster uses 1 MiB).
    #[arg(long, default_value_t = 1 << 20)]
    chunk: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn mib_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64().max(1e-9)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let source_dir = args.dir.join("shard");
    if !source_dir.exists() {
        bail!(
            "no shard in {}: run storage-bench --dir first",
            args.dir.display()
        );
    }
    let bytes = dir_size(&source_dir);
    let source = Shard::open(ShardConfig::new(&source_dir)).context("opening the source shard")?;
    let (mut transfer, mut rebuild, mut disk) = (Vec::new(), Vec::new(), Vec::new());
    let mut entries = 0usize;
    for run in 0..args.runs {
        let target_dir = args.dir.join(format!("copy-{run}"));
        let _ = std::fs::remove_dir_all(&target_dir);
        let mut target = Shard::open(ShardConfig::new(&target_dir))?;
        let started = Instant::now();
        target.clear()?;
        let mut after: Option<CopyPosition> = None;
        entries = 0;
        loop {
            let chunk = source.export_chunk(after.as_ref(), args.chunk)?;
            entries += chunk.entries.len();
            target.import_chunk(&chunk.entries)?;
            match chunk.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        transfer.push(started.elapsed());
        let started = Instant::now();
        target.finish_import()?;
        rebuild.push(started.elapsed());
        drop(target);
        std::fs::remove_dir_all(&target_dir)?;

        let raw = args.dir.join(format!("cp-{run}"));
        let _ = std::fs::remove_dir_all(&raw);
        let started = Instant::now();
        let status = Command::new("cp")
            .arg("-a")
            .arg(&source_dir)
            .arg(&raw)
            .status()?;
        Command::new("sync").status()?;
        disk.push(started.elapsed());
        if !status.success() {
            bail!("cp -a failed");
        }
        std::fs::remove_dir_all(&raw)?;
    }
    let (transfer, rebuild, disk) = (median(transfer), median(rebuild), median(disk));
    println!(
        "shard_bytes={bytes} entries={entries} chunk={} runs={}\n\
         copy_entries: {:.2} s ({:.0} MiB/s)\n\
         rebuild_index: {:.2} s\n\
         copy_total: {:.2} s ({:.0} MiB/s)\n\
         cp_a_and_sync: {:.2} s ({:.0} MiB/s)\n\
         ratio_copy_total_to_cp: {:.2}",
        args.chunk,
        args.runs,
        transfer.as_secs_f64(),
        mib_per_s(bytes, transfer),
        rebuild.as_secs_f64(),
        (transfer + rebuild).as_secs_f64(),
        mib_per_s(bytes, transfer + rebuild),
        disk.as_secs_f64(),
        mib_per_s(bytes, disk),
        (transfer + rebuild).as_secs_f64() / disk.as_secs_f64().max(1e-9),
    );
    Ok(())
}
