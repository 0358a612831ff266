//! What the Whisperer says of itself: its state (with a message when something is wrong), its
//! counters, queue depth, CPU and memory. Built on demand from the shared state; the sender
//! thread logs one every `status_interval` (and reports it to the backend).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::buffer::Depth;
use crate::counters::CounterSnapshot;
use crate::worker::now_ns;

/// What the Whisperer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhispererState {
    /// Opening sources, first connection.
    Starting,
    /// Capturing and delivering.
    Recording,
    /// Capture paused by a setting (`capture: false`).
    Paused,
    /// The backend cannot be reached: batches are buffered, then dropped and counted.
    ServerDown,
    /// A setting could not be applied; the message says why (the previous ones stay in force).
    InvalidConfig,
    /// The source ended (file read) or the Whisperer was stopped.
    Stopped,
    /// A source failed; the message says why.
    Failed,
}

/// A status report.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: WhispererState,
    pub message: Option<String>,
    /// When the state began, epoch ns.
    pub state_since: i64,
    /// When this report was made, epoch ns.
    pub time: i64,
    pub counters: CounterSnapshot,
    pub depth: Depth,
    /// CPU of the Whisperer's threads over the last second, percent of one core.
    pub cpu_percent: f32,
    /// Resident memory of the process.
    pub rss_bytes: u64,
    /// The generation of the capture settings in force.
    pub settings_generation: u64,
    /// A circuit breaker is open.
    pub breaker_open: bool,
    pub last_sent_at: Option<i64>,
    pub last_ack_at: Option<i64>,
}

#[derive(Debug)]
struct StateCell {
    state: WhispererState,
    message: Option<String>,
    since: i64,
}

/// The shared part of the status that is not a counter.
#[derive(Debug)]
pub struct StatusBoard {
    cell: Mutex<StateCell>,
    cpu_percent_bits: AtomicU32,
    pub last_sent_at: AtomicU64,
    pub last_ack_at: AtomicU64,
    /// Woken at every change of state or message (the sender reports it to the backend).
    pub changed: tokio::sync::Notify,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self {
            cell: Mutex::new(StateCell {
                state: WhispererState::Starting,
                message: None,
                since: now_ns() as i64,
            }),
            cpu_percent_bits: AtomicU32::new(0),
            last_sent_at: AtomicU64::new(0),
            last_ack_at: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
        }
    }
}

impl StatusBoard {
    /// Sets the state (and its message); the time it began changes only with the state.
    pub fn set(&self, state: WhispererState, message: Option<String>) {
        let mut cell = match self.cell.lock() {
            Ok(cell) => cell,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cell.state != state {
            tracing::info!(from = ?cell.state, to = ?state, message = message.as_deref().unwrap_or(""), "whisperer state");
            cell.since = now_ns() as i64;
        }
        // Stopped and failed are final.
        if !matches!(cell.state, WhispererState::Stopped | WhispererState::Failed)
            || matches!(state, WhispererState::Failed)
        {
            let changed = cell.state != state || cell.message != message;
            cell.state = state;
            cell.message = message;
            if changed {
                self.changed.notify_one();
            }
        }
    }

    /// The state, its message and since when.
    pub fn state(&self) -> (WhispererState, Option<String>, i64) {
        let cell = match self.cell.lock() {
            Ok(cell) => cell,
            Err(poisoned) => poisoned.into_inner(),
        };
        (cell.state, cell.message.clone(), cell.since)
    }

    pub fn set_cpu_percent(&self, percent: f32) {
        self.cpu_percent_bits
            .store(percent.to_bits(), Ordering::Relaxed);
    }

    pub fn cpu_percent(&self) -> f32 {
        f32::from_bits(self.cpu_percent_bits.load(Ordering::Relaxed))
    }
}

/// A time stored in an atomic (0: never).
pub fn time_of(cell: &AtomicU64) -> Option<i64> {
    match cell.load(Ordering::Relaxed) {
        0 => None,
        t => Some(t as i64),
    }
}

/// Resident memory of this process, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let page = {
        // SAFETY: sysconf reads a constant.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).unwrap_or(4096)
    };
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counters;
        write!(
            f,
            "{:?}: {} packets, {} bytes seen; kernel drops {}; own drops {} frames; limit drops {}; \
             skipped acks {}; acked {} frames; queue {} batches / {} bytes (+{} spilled); \
             cpu {:.1}%; rss {} MiB",
            self.state,
            c.packets_seen,
            c.bytes_seen,
            c.kernel_drops,
            c.own_drop_frames,
            c.limit_drops,
            c.skipped_empty_acks,
            c.frames_acked,
            self.depth.memory_batches,
            self.depth.memory_bytes,
            self.depth.spill_batches,
            self.cpu_percent,
            self.rss_bytes >> 20,
        )?;
        if let Some(message) = &self.message {
            write!(f, " ({message})")?;
        }
        Ok(())
    }
}
