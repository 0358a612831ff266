//! The live source: AF_PACKET captures (`spider-capture`), one or several worker threads per
//! interface joined in a PACKET_FANOUT group (by flow hash, so a session stays on one worker and
//! its tracker). Each worker reads ring blocks, runs its frames through its `FramePath`, folds the
//! kernel counters in, and reopens its socket when the filter or on/off setting changes.
//!
//! Sockets are opened by `open` before any thread starts, so that "not root", "no such
//! interface" and "the filter does not compile" are errors of `Whisperer::start`.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spider_capture::{
    netns, Capture, CaptureConfig, CaptureError, Fanout, FanoutMode, Interface, RingConfig,
};

use crate::config::{LiveSource, Overflow};
use crate::frames::with_vlan;
use crate::settings::CaptureSettings;
use crate::status::WhispererState;
use crate::worker::{now_ns, FramePath};
use crate::Shared;

/// How long a worker waits for a ring block before doing its periodic work.
const BLOCK_WAIT: Duration = Duration::from_millis(50);
/// How often the kernel counters are read.
const STATS_EVERY: Duration = Duration::from_millis(500);

/// One worker: what it captures and its open socket (none while capture is paused).
#[derive(Debug)]
pub(crate) struct LiveWorker {
    pub index: usize,
    config: CaptureConfig,
    capture: Option<Capture>,
}

static NEXT_GROUP: AtomicU16 = AtomicU16::new(0);

fn fanout_group() -> u16 {
    let pid = std::process::id() as u16;
    pid.wrapping_mul(31)
        .wrapping_add(NEXT_GROUP.fetch_add(1, Ordering::Relaxed))
}

fn open_capture(live: &LiveSource, config: &CaptureConfig) -> Result<Capture, CaptureError> {
    match &live.netns {
        Some(path) => netns::run_in(path, || Capture::open(config))?,
        None => Capture::open(config),
    }
}

/// Opens every socket: `live.workers` per interface.
pub(crate) fn open(
    live: &LiveSource,
    settings: &CaptureSettings,
) -> Result<Vec<LiveWorker>, CaptureError> {
    let mut workers = Vec::new();
    for interface in &live.interfaces {
        let fanout = (live.workers > 1).then(|| Fanout {
            group_id: fanout_group(),
            mode: FanoutMode::Hash,
        });
        let mut config = CaptureConfig::new(interface.clone());
        config.snap_len = live.snap_len;
        config.promiscuous = live.promiscuous && *interface != Interface::All;
        config.ring = RingConfig::with_total_size(live.ring_bytes);
        config.fanout = fanout;
        config.direction = live.direction;
        config.filter = live.kernel_filter(settings.effective_filter());
        for _ in 0..live.workers {
            let capture = if settings.capture {
                Some(open_capture(live, &config)?)
            } else {
                None
            };
            workers.push(LiveWorker {
                index: workers.len(),
                config: config.clone(),
                capture,
            });
        }
    }
    Ok(workers)
}

/// Reads frames until stop.
pub(crate) fn run(shared: &Arc<Shared>, live: &LiveSource, mut worker: LiveWorker) {
    let mut path = FramePath::new(shared.clone(), worker.index, Overflow::Drop);
    let mut kernel = (0u64, 0u64);
    let mut last_stats = Instant::now();
    let mut scratch = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(settings) = path.refresh_settings() {
            apply(shared, live, &mut worker, &settings, &mut kernel);
        }
        let Some(capture) = worker.capture.as_mut() else {
            path.tick(Instant::now());
            std::thread::sleep(BLOCK_WAIT);
            continue;
        };
        match capture.next_block(BLOCK_WAIT) {
            Ok(Some(block)) => {
                let now = Instant::now();
                let wall = now_ns();
                for frame in block.frames() {
                    handle_frame(&mut path, &frame, &mut scratch, now, wall);
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "capture failed");
                shared
                    .board
                    .set(WhispererState::Failed, Some(error.to_string()));
                break;
            }
        }
        let now = Instant::now();
        path.tick(now);
        if now.duration_since(last_stats) >= STATS_EVERY {
            last_stats = now;
            read_stats(shared, &mut worker, &mut kernel);
        }
    }
    // What the kernel already has is captured: blocks are handed over within their timeout.
    if let Some(capture) = worker.capture.as_mut() {
        let wait = Duration::from_millis(u64::from(worker.config.ring.block_timeout_ms) * 3);
        while let Ok(Some(block)) = capture.next_block(wait) {
            let now = Instant::now();
            let wall = now_ns();
            for frame in block.frames() {
                handle_frame(&mut path, &frame, &mut scratch, now, wall);
            }
        }
    }
    read_stats(shared, &mut worker, &mut kernel);
    path.finish();
}

fn handle_frame(
    path: &mut FramePath,
    frame: &spider_capture::Frame<'_>,
    scratch: &mut Vec<u8>,
    now: Instant,
    wall: u64,
) {
    let Some(link_type) = frame.link_type else {
        path.unsupported(frame.original_len);
        return;
    };
    let data = with_vlan(link_type, frame.data, frame.vlan, scratch);
    let extra = (data.len() - frame.data.len()) as u32;
    path.frame(
        frame.ifindex,
        link_type,
        frame.timestamp_ns as i64,
        data,
        frame.original_len + extra,
        (now, wall),
    );
}

/// Folds the kernel counters of the worker's socket into the shared ones.
fn read_stats(shared: &Shared, worker: &mut LiveWorker, kernel: &mut (u64, u64)) {
    let Some(capture) = worker.capture.as_mut() else {
        return;
    };
    match capture.stats() {
        Ok(stats) => {
            let counters = &shared.counters;
            counters
                .kernel_packets
                .fetch_add(stats.packets.saturating_sub(kernel.0), Ordering::Relaxed);
            counters
                .kernel_drops
                .fetch_add(stats.drops.saturating_sub(kernel.1), Ordering::Relaxed);
            *kernel = (stats.packets, stats.drops);
        }
        Err(error) => tracing::warn!(%error, "cannot read the kernel counters"),
    }
}

/// Applies new settings: the socket is reopened when the filter changed, closed when capture is
/// turned off, opened when it is turned on.
fn apply(
    shared: &Shared,
    live: &LiveSource,
    worker: &mut LiveWorker,
    settings: &CaptureSettings,
    kernel: &mut (u64, u64),
) {
    let filter = live.kernel_filter(settings.effective_filter());
    let running = worker.capture.is_some();
    if running == settings.capture && filter == worker.config.filter {
        return;
    }
    read_stats(shared, worker, kernel);
    worker.capture = None;
    *kernel = (0, 0);
    worker.config.filter = filter;
    if !settings.capture {
        shared.board.set(WhispererState::Paused, None);
        return;
    }
    match open_capture(live, &worker.config) {
        Ok(capture) => {
            worker.capture = Some(capture);
            shared.board.set(WhispererState::Recording, None);
        }
        Err(error) => {
            tracing::error!(%error, "the new capture settings cannot be applied");
            shared.board.set(
                WhispererState::InvalidConfig,
                Some(format!("the capture settings cannot be applied: {error}")),
            );
        }
    }
}
