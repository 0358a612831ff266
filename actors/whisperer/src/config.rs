//! What a Whisperer is told at start: where the backend is, what to capture, and its bounds.
//!
//! The settings the backend may change while it runs are [`crate::CaptureSettings`]
//! (`settings.rs`); everything here is fixed for the life of the Whisperer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use spider_capture::{DirectionFilter, Interface};
use spider_pipeline::PipelineConfig;

use crate::error::WhispererError;
use crate::settings::CaptureSettings;

/// Everything needed to start a Whisperer.
#[derive(Debug, Clone)]
pub struct WhispererConfig {
    /// The Whisperer's name: the `whisperer` of its records and its agent id in batch ids.
    pub name: String,
    /// The backend node's Cap'n Proto address.
    pub backend: SocketAddr,
    /// The token to log in with.
    pub token: String,
    /// How the backend is reached: plain TCP (default), or TLS verifying its certificate.
    pub backend_tls: spider_backend::client::ClientTransport,
    /// Where frames come from.
    pub source: Source,
    /// The settings the backend can change live (filter, limits, on/off).
    pub settings: CaptureSettings,
    /// How frames are cut into per-shard batches.
    pub batch: BatchConfig,
    /// The bounded buffer between capture and backend.
    pub buffer: BufferConfig,
    /// How often the sender asks the backend what is durably stored.
    pub flush_interval: Duration,
    /// How often a status line is produced (and reported to the backend).
    pub status_interval: Duration,
    /// Reconnection backoff: first wait, doubled up to `reconnect_max`.
    pub reconnect_initial: Duration,
    /// The longest wait between two connection attempts.
    pub reconnect_max: Duration,
    /// On stop, how long the sender keeps trying to deliver what is buffered.
    pub drain_timeout: Duration,
    /// Decoder and tracker bounds (session identity).
    pub pipeline: PipelineConfig,
    /// The first session id of the first worker; `None`: derived from the start time, so that
    /// ids stay unique across restarts (set it to replay a file reproducibly).
    pub first_session_id: Option<u64>,
    /// The Controller's listener for its cluster's agents: when set, the Controller is asked for
    /// the names of the addresses of the TCP sessions seen, and they go to the backend as hosts
    /// (source `kubernetes`). See `names.rs`.
    pub controller: Option<SocketAddr>,
    /// How the Controller is reached: plain TCP (default), or TLS verifying its certificate.
    pub controller_tls: spider_backend::client::ClientTransport,
    /// How often the Controller is asked about the addresses seen since.
    pub names_interval: Duration,
}

impl WhispererConfig {
    /// Defaults for a Whisperer `name` sending to `backend` with `token`.
    pub fn new(
        name: impl Into<String>,
        backend: SocketAddr,
        token: impl Into<String>,
        source: Source,
    ) -> Self {
        let overflow = match &source {
            Source::File(FileSource {
                pacing: Pacing::Topspeed,
                ..
            }) => Overflow::Wait,
            _ => Overflow::Drop,
        };
        Self {
            name: name.into(),
            backend,
            token: token.into(),
            backend_tls: spider_backend::client::ClientTransport::Plain,
            source,
            settings: CaptureSettings::default(),
            batch: BatchConfig::default(),
            buffer: BufferConfig {
                overflow,
                ..BufferConfig::default()
            },
            flush_interval: Duration::from_millis(250),
            status_interval: Duration::from_secs(5),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            pipeline: PipelineConfig::default(),
            first_session_id: None,
            controller: None,
            controller_tls: spider_backend::client::ClientTransport::Plain,
            names_interval: Duration::from_secs(5),
        }
    }

    /// Checks the bounds before anything starts.
    pub fn validate(&self) -> Result<(), WhispererError> {
        let invalid = |reason: &str| Err(WhispererError::InvalidConfig(reason.to_owned()));
        if self.name.is_empty() {
            return invalid("the whisperer name is empty");
        }
        if self.batch.max_frames == 0 || self.batch.max_bytes == 0 {
            return invalid("batches must hold at least one frame and one byte");
        }
        if self.buffer.memory_bytes < self.batch.max_bytes as u64 {
            return invalid("the buffer must hold at least one full batch (--buffer-bytes)");
        }
        if self.controller.is_some() && self.names_interval.is_zero() {
            return invalid("the interval between questions to the Controller must not be zero");
        }
        if let Source::Live(live) = &self.source {
            if live.interfaces.is_empty() {
                return invalid("no interface to capture on");
            }
            if live.workers == 0 {
                return invalid("at least one capture worker per interface");
            }
            if live.workers > 64 {
                return invalid("at most 64 capture workers per interface");
            }
            if let Some(base) = &live.base_filter {
                spider_capture::check_filter(base)
                    .map_err(|e| WhispererError::InvalidConfig(format!("base filter: {e}")))?;
            }
        }
        self.settings
            .validate()
            .map_err(|e| WhispererError::InvalidConfig(e.to_string()))
    }
}

/// Where frames come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// AF_PACKET capture on interfaces.
    Live(LiveSource),
    /// A capture file replayed through the same path (FILE and UPLOAD modes).
    File(FileSource),
}

/// A live capture.
#[derive(Debug, Clone)]
pub struct LiveSource {
    /// Interfaces (or [`Interface::All`]).
    pub interfaces: Vec<Interface>,
    /// Bytes kept per frame.
    pub snap_len: u32,
    /// Promiscuous mode (named interfaces only).
    pub promiscuous: bool,
    /// Capture threads per interface, joined in one PACKET_FANOUT group (hash of the flow, so a
    /// session stays on one thread and one tracker).
    pub workers: usize,
    /// Ring memory per capture socket.
    pub ring_bytes: u64,
    /// Which direction the kernel keeps.
    pub direction: DirectionFilter,
    /// Open the sockets in this network namespace (`/run/netns/NAME`, `/proc/PID/ns/net`).
    pub netns: Option<PathBuf>,
    /// A filter always in force, whatever the settings' filter (`spider up` keeps its own
    /// connections out with it); the two are combined with `and`.
    pub base_filter: Option<String>,
}

impl LiveSource {
    /// One worker per interface, 256 KiB snap length, 32 MiB ring, both directions.
    pub fn new(interfaces: Vec<Interface>) -> Self {
        Self {
            interfaces,
            snap_len: 262_144,
            promiscuous: false,
            workers: 1,
            ring_bytes: 32 << 20,
            direction: DirectionFilter::All,
            netns: None,
            base_filter: None,
        }
    }

    /// The filter the kernel runs: the base filter and the settings' filter, both when set.
    pub(crate) fn kernel_filter(&self, settings: Option<&str>) -> Option<String> {
        match (self.base_filter.as_deref(), settings) {
            (Some(base), Some(filter)) => Some(format!("({base}) and ({filter})")),
            (Some(only), None) | (None, Some(only)) => Some(only.to_owned()),
            (None, None) => None,
        }
    }
}

/// A capture file.
#[derive(Debug, Clone)]
pub struct FileSource {
    /// pcap or pcapng.
    pub path: PathBuf,
    /// How fast it is replayed.
    pub pacing: Pacing,
}

/// How fast a file is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// At the pace of its capture times.
    Realtime,
    /// As fast as the backend takes it.
    Topspeed,
}

/// How frames are cut into batches: one batch per virtual shard, sealed when any bound is hit.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Frames per batch.
    pub max_frames: usize,
    /// Bytes per batch (frames plus a fixed cost per record).
    pub max_bytes: usize,
    /// A batch is sealed at the latest this long after its first frame.
    pub max_delay: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_frames: 2048,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(200),
        }
    }
}

/// What happens to a batch when the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop it and count it (live capture: the wire does not wait).
    Drop,
    /// Wait for room (a file read as fast as possible: nothing is lost by waiting).
    Wait,
}

/// The bounded buffer: memory first, then an optional spill to disk.
#[derive(Debug, Clone)]
pub struct BufferConfig {
    /// Bytes of batches held in memory, sent or not, until the backend acknowledges them.
    pub memory_bytes: u64,
    /// An optional bounded spill to disk, used when memory is full.
    pub spill: Option<SpillConfig>,
    /// What to do when both are full.
    pub overflow: Overflow,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            memory_bytes: 32 << 20,
            spill: None,
            overflow: Overflow::Drop,
        }
    }
}

/// The spill to disk.
#[derive(Debug, Clone)]
pub struct SpillConfig {
    /// A folder of its own (segment files in it are deleted at start).
    pub dir: PathBuf,
    /// Bytes on disk at most.
    pub max_bytes: u64,
}
