//! The file source (Spider's FILE and UPLOAD modes): a pcap or pcapng file replayed through the
//! same path as live frames, paced by its capture times or as fast as the backend takes it.
//!
//! A damaged file ends the reading, not the Whisperer: what came before the damage is sent, and
//! the error is kept for the final report.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spider_pcap::CaptureReader;

use crate::config::{FileSource, Overflow, Pacing};
use crate::error::WhispererError;
use crate::worker::{now_ns, FramePath};
use crate::Shared;

/// Opens the file now, so that a missing or unreadable file is an error of `start`.
pub(crate) fn open(source: &FileSource) -> Result<CaptureReader<std::fs::File>, WhispererError> {
    CaptureReader::open(&source.path).map_err(|source_error| WhispererError::Pcap {
        path: source.path.clone(),
        source: source_error,
    })
}

/// Reads the file to its end (or until stop), then finishes sessions and batches.
pub(crate) fn run(
    shared: &Arc<Shared>,
    source: &FileSource,
    mut reader: CaptureReader<std::fs::File>,
    overflow: Overflow,
) -> Option<String> {
    let mut path = FramePath::new(shared.clone(), 0, overflow);
    let mut clock: Option<(i64, Instant)> = None;
    let mut last_tick = Instant::now();
    let mut error = None;
    let mut frames = 0u64;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        path.refresh_settings();
        if !path.settings().capture {
            // Paused (a stop command): the replay waits, and its clock with it.
            let paused = Instant::now();
            while !path.settings().capture && !shared.stop.load(Ordering::Relaxed) {
                path.tick(Instant::now());
                std::thread::sleep(Duration::from_millis(20));
                path.refresh_settings();
            }
            if let Some((_, started)) = clock.as_mut() {
                *started += paused.elapsed();
            }
            continue;
        }
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(damage) => {
                tracing::error!(path = %source.path.display(), error = %damage, "capture file damaged: the rest is not read");
                error = Some(format!("{}: {damage}", source.path.display()));
                break;
            }
        };
        frames += 1;
        if source.pacing == Pacing::Realtime {
            let (first, started) = *clock.get_or_insert((record.ts_nanos, Instant::now()));
            let offset = Duration::from_nanos(record.ts_nanos.saturating_sub(first).max(0) as u64);
            let due = started + offset;
            // Sleep in short steps, sealing batches and watching for stop meanwhile.
            loop {
                let now = Instant::now();
                if now >= due || shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                path.tick(now);
                let wait = path
                    .next_due(now)
                    .unwrap_or(Duration::from_millis(50))
                    .min(Duration::from_millis(50))
                    .min(due - now);
                std::thread::sleep(wait.max(Duration::from_micros(100)));
            }
        }
        let now = Instant::now();
        path.frame(
            record.interface,
            u32::from(record.link_type.0),
            record.ts_nanos,
            record.data,
            record.orig_len,
            (now, now_ns()),
        );
        if frames.is_multiple_of(1024) || now.duration_since(last_tick) >= Duration::from_millis(20)
        {
            path.tick(now);
            last_tick = now;
        }
    }
    path.finish();
    tracing::info!(path = %source.path.display(), frames, "capture file read");
    error
}
