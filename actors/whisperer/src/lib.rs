//! The Whisperer: what a user attaches to see the traffic of a pod or a host.
//!
//! It reads frames from AF_PACKET captures (`spider-capture`) or from a capture file, gives every
//! frame its session id (it owns session identity: `spider_pipeline::FrameTagger`), cuts frames
//! and closed sessions into batches per virtual shard (`shard_of(whisperer, session_id)`), and
//! streams them to a backend node over Cap'n Proto (`spider_backend::client`) with its flow
//! control. Every batch stays in a bounded buffer (memory, then an optional spill to disk) until
//! the backend acknowledges it as durably stored; a lost connection is retried with backoff and
//! what was not acknowledged is resent in order (batch ids make retries idempotent). What does not
//! fit is dropped and counted, never silently. Circuit breakers (throughput per minute, CPU
//! budget) and an empty-ACK filter are settings that can change while it runs.
//!
//! It must not parse application protocols (the backend's shards do) or store anything.
//!
//! ```no_run
//! use spider_whisperer::{FileSource, Pacing, Source, Whisperer, WhispererConfig};
//!
//! let source = Source::File(FileSource { path: "trace.pcap".into(), pacing: Pacing::Topspeed });
//! let config = WhispererConfig::new("laptop", "127.0.0.1:7070".parse()?, "TOKEN", source);
//! let handle = Whisperer::start(config)?;
//! let report = handle.wait(); // file mode: returns once everything is acknowledged
//! println!("{} frames delivered", report.counters.frames_acked);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On every connection it registers with the backend's agent registry (`agent.rs`): it applies
//! the settings the backend holds for it, reports its status, and takes new settings, start and
//! stop over the control capability it hands over. Given a Controller, it asks it for the names
//! of the addresses it sees and sends them with its batches as hosts (`names.rs`).
//!
//! Threads: one per capture worker (or one for the file), one sender (a current-thread tokio
//! runtime with a `LocalSet`, since Cap'n Proto clients are not `Send`), which also runs the
//! status ticker and the questions to the Controller.

mod agent;
mod batcher;
mod breakers;
mod buffer;
mod config;
mod counters;
mod error;
mod frames;
mod names;
mod sender;
mod settings;
mod source_file;
mod source_live;
mod spill;
mod status;
mod telemetry;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

pub use batcher::Batch;
pub use buffer::Depth;
pub use config::{
    BatchConfig, BufferConfig, FileSource, LiveSource, Overflow, Pacing, Source, SpillConfig,
    WhispererConfig,
};
pub use counters::CounterSnapshot;
pub use error::WhispererError;
pub use settings::{CaptureSettings, SettingsError};
pub use spider_capture::{DirectionFilter, Interface};
pub use status::{Status, WhispererState};
pub use telemetry::WhispererTelemetry;

use buffer::Buffer;
use counters::Counters;
use settings::SettingsCell;
use status::StatusBoard;

/// A callback that receives every periodic status (e.g. to report it to the backend).
pub type StatusReporter = Arc<dyn Fn(&Status) + Send + Sync>;

/// State shared by the Whisperer's threads.
pub(crate) struct Shared {
    config: WhispererConfig,
    incarnation: u64,
    counters: Arc<Counters>,
    buffer: Buffer,
    settings: SettingsCell,
    breakers: breakers::Breakers,
    board: StatusBoard,
    stop: AtomicBool,
    stopped_at: Mutex<Option<Instant>>,
    /// Wakes the sender (stop).
    wake: tokio::sync::Notify,
    sources_running: AtomicUsize,
    source_error: Mutex<Option<String>>,
    reporter: Mutex<Option<StatusReporter>>,
    /// The registry's side: the backend's settings generation, a refusal, start/stop.
    agent: Mutex<agent::AgentSide>,
    /// How long the backend keeps this Whisperer's data (ns; 0: its default), carried by
    /// every batch.
    retention_ttl: AtomicI64,
    /// Where it captures, for its registration.
    interfaces: Vec<spider_model::agent::CaptureInterface>,
    /// When it started, epoch ns.
    started_at: i64,
    /// The addresses seen and the names the Controller gave for them.
    names: names::Names,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.config.name)
            .field("incarnation", &self.incarnation)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn stopped_at(&self) -> Option<Instant> {
        *lock(&self.stopped_at)
    }

    fn buffer_closed(&self) -> bool {
        self.sources_running.load(Ordering::Acquire) == 0
    }

    /// Nothing more to deliver: the buffer is closed and acknowledged, and the names asked
    /// from the Controller at the end are in it.
    fn drained(&self) -> bool {
        self.buffer.is_drained() && self.names.settled()
    }

    fn reporter(&self) -> Option<StatusReporter> {
        lock(&self.reporter).clone()
    }

    /// A source thread ended; the last one closes the buffer.
    fn source_ended(&self, error: Option<String>) {
        if let Some(error) = error {
            *lock(&self.source_error) = Some(error);
        }
        if self.sources_running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.buffer.close();
            self.wake.notify_one();
            self.names.wake.notify_one();
        }
    }

    /// Validates and installs new settings (the old ones stay if they are refused) and sets
    /// the state they lead to.
    fn apply_settings(&self, settings: CaptureSettings) -> Result<u64, SettingsError> {
        let result = self.settings.apply(settings);
        lock(&self.agent).config_error = result.as_ref().err().map(ToString::to_string);
        self.settle_state();
        result
    }

    /// Sets the state that follows from the settings: invalid settings refused, capture off, or
    /// recording (a final state, stopped or failed, stays; so do starting and server down,
    /// which only the sender leaves, through [`Shared::connected`]).
    fn settle_state(&self) {
        let (state, _, _) = self.board.state();
        if !matches!(
            state,
            WhispererState::Stopped
                | WhispererState::Failed
                | WhispererState::Starting
                | WhispererState::ServerDown
        ) {
            self.settle();
        }
    }

    /// The sender reached the backend: the state follows from the settings again.
    fn connected(&self) {
        let (state, _, _) = self.board.state();
        if !matches!(state, WhispererState::Stopped | WhispererState::Failed) {
            self.settle();
        }
    }

    fn settle(&self) {
        let error = lock(&self.agent).config_error.clone();
        if let Some(error) = error {
            self.board.set(WhispererState::InvalidConfig, Some(error));
        } else if self.settings.get().0.capture {
            self.board.set(WhispererState::Recording, None);
        } else {
            self.board.set(WhispererState::Paused, None);
        }
    }

    fn status(&self) -> Status {
        let (state, message, state_since) = self.board.state();
        let now = worker::now_ns();
        Status {
            state,
            message,
            state_since,
            time: now as i64,
            counters: self.counters.snapshot(),
            depth: self.buffer.depth(),
            cpu_percent: self.board.cpu_percent(),
            rss_bytes: status::rss_bytes(),
            settings_generation: self.settings.generation(),
            breaker_open: self.breakers.is_open(now),
            last_sent_at: status::time_of(&self.board.last_sent_at),
            last_ack_at: status::time_of(&self.board.last_ack_at),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Starts Whisperers.
#[derive(Debug)]
pub struct Whisperer;

impl Whisperer {
    /// Validates `config`, opens the source (capture sockets or the file: errors such as not
    /// root, no such interface, a filter that does not compile or an unreadable file come back
    /// here), and starts the capture and sender threads.
    pub fn start(config: WhispererConfig) -> Result<WhispererHandle, WhispererError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let spill = match &config.buffer.spill {
            Some(spill) => Some(
                spill::Spill::open(&spill.dir, spill.max_bytes, &config.name).map_err(
                    |source| WhispererError::Spill {
                        path: spill.dir.clone(),
                        source,
                    },
                )?,
            ),
            None => None,
        };
        enum Opened {
            Live(Vec<source_live::LiveWorker>),
            File(spider_pcap::CaptureReader<std::fs::File>),
        }
        let opened = match &config.source {
            Source::Live(live) => Opened::Live(source_live::open(live, &config.settings)?),
            Source::File(file) => Opened::File(source_file::open(file)?),
        };
        let sources = match &opened {
            Opened::Live(workers) => workers.len(),
            Opened::File(_) => 1,
        };
        let shared = Arc::new(Shared {
            incarnation: incarnation(),
            buffer: Buffer::new(&config.buffer, spill, counters.clone()),
            settings: SettingsCell::new(config.settings.clone()),
            counters,
            breakers: breakers::Breakers::default(),
            board: StatusBoard::default(),
            stop: AtomicBool::new(false),
            stopped_at: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            sources_running: AtomicUsize::new(sources),
            source_error: Mutex::new(None),
            reporter: Mutex::new(None),
            agent: Mutex::new(agent::AgentSide::default()),
            retention_ttl: AtomicI64::new(0),
            interfaces: agent::capture_interfaces(&config.source),
            started_at: worker::now_ns() as i64,
            names: names::Names::new(config.controller.is_some()),
            config,
        });
        tracing::info!(
            whisperer = %shared.config.name,
            incarnation = shared.incarnation,
            backend = %shared.config.backend,
            "whisperer starting"
        );
        let mut threads = Vec::new();
        let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(body)
                .map_err(WhispererError::Thread)
        };
        match opened {
            Opened::Live(workers) => {
                for worker in workers {
                    let shared = shared.clone();
                    let name = format!("whisperer-cap{}", worker.index);
                    threads.push(spawn(
                        name,
                        Box::new(move || {
                            if let Source::Live(live) = &shared.config.source {
                                source_live::run(&shared, live, worker);
                            }
                            shared.source_ended(None);
                        }),
                    )?);
                }
            }
            Opened::File(reader) => {
                let shared = shared.clone();
                threads.push(spawn(
                    "whisperer-file".into(),
                    Box::new(move || {
                        let error = match &shared.config.source {
                            Source::File(file) => source_file::run(
                                &shared,
                                file,
                                reader,
                                shared.config.buffer.overflow,
                            ),
                            Source::Live(_) => None,
                        };
                        shared.source_ended(error);
                    }),
                )?);
            }
        }
        let sender_shared = shared.clone();
        threads.push(spawn(
            "whisperer-send".into(),
            Box::new(move || sender::run(sender_shared)),
        )?);
        Ok(WhispererHandle { shared, threads })
    }
}

/// A random incarnation, drawn at each start (batch ids are per agent and incarnation).
fn incarnation() -> u64 {
    let mut bytes = [0u8; 8];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        if file.read_exact(&mut bytes).is_ok() {
            return u64::from_le_bytes(bytes) | 1;
        }
    }
    worker::now_ns() ^ (u64::from(std::process::id()) << 32) | 1
}

/// What a Whisperer did, once it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub counters: CounterSnapshot,
    /// The file was damaged (what came before the damage was sent), or a capture failed.
    pub source_error: Option<String>,
    /// Every batch made was acknowledged by the backend.
    pub delivered: bool,
}

/// A running Whisperer.
#[derive(Debug)]
pub struct WhispererHandle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// Stops a Whisperer from elsewhere (a signal handler, a control connection).
#[derive(Debug, Clone)]
pub struct Stopper(Arc<Shared>);

impl Stopper {
    /// Stops the capture; the sender then tries for `drain_timeout` to deliver what is buffered.
    pub fn stop(&self) {
        let shared = &self.0;
        {
            let mut at = lock(&shared.stopped_at);
            at.get_or_insert_with(Instant::now);
        }
        shared.stop.store(true, Ordering::Release);
        shared.wake.notify_one();
        shared.buffer.arrived.notify_one();
    }
}

impl WhispererHandle {
    /// The counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// The full status now.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// The batch ids' incarnation of this run.
    pub fn incarnation(&self) -> u64 {
        self.shared.incarnation
    }

    /// Changes the live settings: validated first (an invalid one is refused, with why, and the
    /// settings in force stay); returns the new generation.
    pub fn apply_settings(&self, settings: CaptureSettings) -> Result<u64, SettingsError> {
        self.shared.apply_settings(settings)
    }

    /// The status as the backend's agent registry receives it.
    pub fn agent_status(&self) -> spider_model::agent::AgentStatus {
        agent::agent_status(&self.shared)
    }

    /// The settings in force and their generation.
    pub fn settings(&self) -> (CaptureSettings, u64) {
        let (settings, generation) = self.shared.settings.get();
        ((*settings).clone(), generation)
    }

    /// Installs a callback called with every periodic status, on the sender thread.
    pub fn set_reporter(&self, reporter: StatusReporter) {
        *lock(&self.shared.reporter) = Some(reporter);
    }

    /// Its counters and readiness, for a telemetry listener (`/metrics`, `/healthz`).
    pub fn telemetry(&self) -> WhispererTelemetry {
        WhispererTelemetry(self.shared.clone())
    }

    /// A handle that can stop the Whisperer from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.shared.clone())
    }

    /// Stops capturing, gives the sender up to `drain_timeout` to deliver, and waits.
    pub fn stop(self) -> Report {
        self.stopper().stop();
        self.wait()
    }

    /// Waits for the end: for a file, once it was read and everything acknowledged; for a live
    /// capture, after [`Stopper::stop`].
    pub fn wait(mut self) -> Report {
        for thread in self.threads.drain(..) {
            let name = thread.thread().name().unwrap_or("whisperer").to_owned();
            if thread.join().is_err() {
                tracing::error!(thread = %name, "a whisperer thread panicked");
                *lock(&self.shared.source_error) = Some(format!("thread {name} panicked"));
            }
        }
        let error = lock(&self.shared.source_error).clone();
        let (state, _, _) = self.shared.board.state();
        if state != WhispererState::Failed {
            self.shared
                .board
                .set(WhispererState::Stopped, error.clone());
        }
        let status = self.shared.status();
        tracing::info!(whisperer = %self.shared.config.name, "stopped: {status}");
        let counters = status.counters;
        Report {
            counters,
            delivered: counters.batches_acked
                == counters.batches_sealed - counters.own_drop_batches,
            source_error: error,
        }
    }
}

impl Drop for WhispererHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stopper().stop();
            for thread in self.threads.drain(..) {
                let _joined = thread.join();
            }
        }
    }
}
