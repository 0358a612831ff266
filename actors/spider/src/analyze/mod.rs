//! `spider analyze FILE`: the offline pipeline over a capture file.

mod table;

use std::io::{BufWriter, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use spider_model::Record;
use spider_pcap::CaptureReader;
use spider_pipeline::{analyze_capture, Analyzer, AnalyzerStats, PipelineConfig};

/// Files smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The capture file (pcap or pcapng).
    file: PathBuf,
    /// Output format: `table` for people, `json` (one document), `ndjson` (one record a line).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Only these record kinds (comma-separated: http, tcp_session, dns, host).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Bytes of each HTTP body kept in the records (decoded); 0 keeps none.
    #[arg(long, default_value_t = 4096)]
    max_body_bytes: usize,
    /// Colour in the table: auto (when stdout is a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    const KINDS: [&str; 4] = ["http", "tcp_session", "dns", "host"];
    if let Some(unknown) = args
        .kinds
        .iter()
        .find(|kind| !KINDS.contains(&kind.as_str()))
    {
        anyhow::bail!(
            "unknown record kind `{unknown}`: expected one of {}",
            KINDS.join(", ")
        );
    }
    let mut reader = CaptureReader::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let progress = progress_bar(reader.total_size());
    let mut config = PipelineConfig::default();
    config.parser.max_body_bytes = args.max_body_bytes;
    let mut analyzer = Analyzer::new(config);
    let stdout = std::io::stdout();
    let colour = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // Straight to fd 1 (not through Stdout's line buffering, which scans every block for '\n').
    let stdout_file = std::fs::File::from(
        stdout
            .as_fd()
            .try_clone_to_owned()
            .context("cannot use standard output")?,
    );
    let mut out = BufWriter::with_capacity(1 << 20, stdout_file);
    let mut kept: Vec<Record> = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    let wanted =
        |record: &Record| args.kinds.is_empty() || args.kinds.iter().any(|k| k == record.kind());
    let mut first_json = true;
    if args.format == Format::Json {
        out.write_all(b"{\"records\":[")?;
    }
    let summary = analyze_capture(
        &mut reader,
        &mut analyzer,
        &mut |record| {
            if write_error.is_some() || !wanted(&record) {
                return;
            }
            let result = match args.format {
                Format::Ndjson => serde_json::to_writer(&mut out, &record)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n")),
                Format::Json => {
                    let separator: &[u8] = if first_json { b"" } else { b"," };
                    first_json = false;
                    out.write_all(separator).and_then(|()| {
                        serde_json::to_writer(&mut out, &record).map_err(std::io::Error::from)
                    })
                }
                Format::Table => {
                    kept.push(record);
                    Ok(())
                }
            };
            if let Err(error) = result {
                write_error = Some(error);
            }
        },
        &mut |position| progress.set_position(position),
    );
    progress.finish_and_clear();
    if let Some(error) = write_error {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(error).context("cannot write the output");
    }
    match args.format {
        Format::Json => {
            out.write_all(b"],\"stats\":")?;
            serde_json::to_writer(&mut out, &stats_json(&summary.stats, summary.frames))?;
            out.write_all(b"}\n")?;
        }
        Format::Table => table::write(&mut out, &kept, colour)?,
        Format::Ndjson => {}
    }
    out.flush()?;
    if args.format == Format::Table {
        eprint!(
            "{}",
            table::stats_text(&stats_json(&summary.stats, summary.frames))
        );
    }
    if let Some(error) = summary.error {
        eprintln!(
            "spider: error: {}: {error}; the {} frames before it were analysed",
            args.file.display(),
            summary.frames
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(total) if total >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal() => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ) {
                bar.set_style(style);
            }
            bar
        }
        _ => ProgressBar::hidden(),
    }
}

fn stats_json(stats: &AnalyzerStats, frames: u64) -> serde_json::Value {
    serde_json::json!({
        "frames": frames,
        "packets": stats.decode.packets,
        "not_ip": stats.decode.not_ip,
        "malformed": stats.decode.malformed,
        "unsupported_link": stats.decode.unsupported_link,
        "ip_fragments": stats.decode.defrag.fragments,
        "ip_reassembled": stats.decode.defrag.reassembled,
        "ip_fragments_dropped": stats.decode.defrag.timed_out + stats.decode.defrag.dropped_by_limit,
        "tcp_sessions": stats.tracker.sessions_opened,
        "tcp_sessions_evicted": stats.tracker.sessions_evicted,
        "tcp_port_reuses": stats.tracker.port_reuses,
        "tcp_gaps": stats.tcp_gaps,
        "tcp_lost_bytes": stats.tcp_lost_bytes,
        "gaps_forced_by_memory": stats.gaps_forced_by_memory,
        "http_exchanges": stats.http_exchanges,
        "dns_responses": stats.dns_responses,
        "dns_malformed": stats.dns_malformed,
        "tls_server_names": stats.tls_server_names,
        "hosts_dropped_by_limit": stats.hosts_dropped_by_limit,
    })
}
