//! The Gocipher: counts, per bucket (a minute by default), the bytes and messages that the TCP
//! and UDP sockets of a cgroup (the whole host by default) exchange with each IP, with the
//! process and container behind each socket, and sends the records to the backend (plain hosts)
//! or to the Controller (Kubernetes).
//!
//! The kernel side is `ebpf/src/*.c` (built by `build.rs`), the shared layouts
//! `spider-ebpf-common`. Here: the preflight ([`preflight`]), the loader, the drain of the maps,
//! the records' meaning (`records`), the sender with its bounded buffer, and the actor thread
//! that runs them ([`Gocipher::start`]). It must not parse packets beyond the headers the
//! kernel programs read, nor store anything itself.

mod actor;
mod config;
mod container;
mod control;
mod drain;
mod error;
mod loader;
mod peers;
mod preflight;
mod records;
mod sender;
mod telemetry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use spider_ebpf_common::Config;
use spider_model::UsageRecord;
use tokio::sync::{mpsc, oneshot};

pub use config::{GocipherConfig, Upstream};
pub use container::container_id;
pub use error::GocipherError;
pub use preflight::{cgroup2_mount, cgroup_target, CgroupTarget, KernelSupport};
pub use telemetry::GocipherTelemetry;

use actor::{Actor, Command};

/// Why this kernel cannot run a Gocipher, or what it found: root, BTF, cgroup v2, the built
/// programs, and the verifier's verdict on every program (loaded, not attached).
pub fn preflight() -> Result<KernelSupport, GocipherError> {
    let support = preflight::static_checks()?;
    drop(loader::load(loader::MapSizes {
        flows: 1024,
        socks: 1024,
    })?);
    Ok(support)
}

/// Totals since the start.
#[derive(Debug, Default)]
pub struct Counters {
    pub upstream: String,
    /// Records built.
    pub records: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batches_acked: AtomicU64,
    pub buffered_records: AtomicU64,
    /// Records dropped because the buffer was full while the upstream was away.
    pub dropped_records: AtomicU64,
    /// Flow entries the kernel's LRU map evicted before they were drained.
    pub flow_evictions: AtomicU64,
    /// Flow entries the kernel could not create.
    pub flows_failed: AtomicU64,
    /// Send and receive calls counted.
    pub calls: AtomicU64,
    /// Packets whose headers could not be read.
    pub skb_unparsed: AtomicU64,
    /// Receives on unconnected UDP sockets that did not ask for the peer's address.
    pub recv_without_peer: AtomicU64,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Starts Gociphers.
#[derive(Debug)]
pub struct Gocipher;

impl Gocipher {
    /// Checks the kernel, loads and attaches the programs to the configured cgroup, and starts
    /// the actor thread that drains and sends.
    pub fn start(config: GocipherConfig) -> Result<GocipherHandle, GocipherError> {
        config.validate()?;
        let support = preflight::static_checks()?;
        let target = preflight::cgroup_target(&support.cgroup_root, config.cgroup.as_deref())?;
        let mut loaded = loader::load(loader::MapSizes {
            flows: config.flow_entries,
            socks: config.sock_entries,
        })?;
        let drainer = drain::Drainer::new(&mut loaded.ebpf)?;
        let mut kernel_config = Config {
            bucket_ns: config.bucket_ns(),
            realtime_offset_ns: 0,
            cgroup_id: target.id,
            cgroup_level: target.level,
            pad: 0,
        };
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(0))
            .unwrap_or(0);
        let counters = Arc::new(Counters {
            upstream: config.upstream.addr().to_string(),
            ..Counters::default()
        });
        let host_mode = matches!(config.upstream, Upstream::Backend(_));
        let context = records::RecordContext {
            reporter: config.name.clone(),
            bucket_ns: config.bucket_ns(),
            host: host_mode.then(hostname),
            ephemeral: ephemeral_ports(),
        };
        let containers = container::Containers::new(support.cgroup_root.clone());
        actor::sync_clock(&mut loaded, &mut kernel_config, true)?;
        loaded.attach(&target)?;
        tracing::info!(cgroup = %target.path.display(), upstream = %counters.upstream,
            bucket_s = config.bucket.as_secs(), "gocipher counting");
        let actor_counters = counters.clone();
        let (commands, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("gocipher".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "gocipher: no runtime");
                        return;
                    }
                };
                // The Cap'n Proto client is not `Send`: the sender is made on this thread.
                let control = std::rc::Rc::new(control::Control::new(
                    config.bucket.as_secs(),
                    actor_counters.clone(),
                ));
                let actor = Actor {
                    loaded,
                    drainer,
                    config: kernel_config,
                    context,
                    senders: records::Senders::default(),
                    containers,
                    sender: sender::Sender::new(
                        config.upstream.addr(),
                        config.token.clone(),
                        config.name.clone(),
                        started,
                        config.max_buffered_records,
                        (host_mode && config.register).then(|| control.clone()),
                    )
                    .over(config.tls.clone()),
                    counters: actor_counters,
                    control,
                    status_interval: config.status_interval,
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, actor.run(receiver));
            })
            .map_err(|e| GocipherError::io("gocipher thread", e))?;
        Ok(GocipherHandle {
            commands,
            thread: Some(thread),
            counters,
            target,
        })
    }
}

/// A running Gocipher. Dropping it stops it (after a last flush).
#[derive(Debug)]
pub struct GocipherHandle {
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    target: CgroupTarget,
}

impl GocipherHandle {
    /// Drains every counter (the bucket in progress too), sends the records and waits until the
    /// upstream has stored them; returns the records of this flush. Blocking: call it from a
    /// plain thread (or `spawn_blocking`).
    pub fn flush(&self) -> Result<Vec<UsageRecord>, GocipherError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Flush(reply))
            .map_err(|_| GocipherError::Stopped)?;
        answer.blocking_recv().map_err(|_| GocipherError::Stopped)?
    }

    /// Flushes, detaches the programs and ends the thread.
    pub fn stop(mut self) -> Result<Vec<UsageRecord>, GocipherError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<Vec<UsageRecord>, GocipherError> {
        let Some(thread) = self.thread.take() else {
            return Err(GocipherError::Stopped);
        };
        let (reply, answer) = oneshot::channel();
        let result = match self.commands.send(Command::Stop(reply)) {
            Ok(()) => answer.blocking_recv().map_err(|_| GocipherError::Stopped)?,
            Err(_) => Err(GocipherError::Stopped),
        };
        let _ = thread.join();
        result
    }

    /// Its counters and readiness, for a telemetry listener (`/metrics`, `/healthz`).
    pub fn telemetry(&self) -> GocipherTelemetry {
        GocipherTelemetry(self.counters.clone())
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The cgroup whose sockets are counted.
    pub fn cgroup(&self) -> &CgroupTarget {
        &self.target
    }
}

impl Drop for GocipherHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop_inner();
        }
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The kernel's ephemeral port range (`ip_local_port_range`).
fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u16>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
}
