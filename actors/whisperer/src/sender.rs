//! The sender: one thread with a current-thread runtime and a `LocalSet` (Cap'n Proto clients are
//! not `Send`) that connects to the backend, pushes the buffer's batches in order, asks what is
//! durably stored (`flush`) and releases what is acknowledged; reconnects with backoff and
//! resends what was not acknowledged. It also runs the status ticker (CPU, the CPU breaker, the
//! periodic status line) and, given a Controller, the questions for names (`names.rs`), whose
//! answers ride on the batches it sends.
//!
//! A push completing means the backend received it (its flow-control window had room); only a
//! flush acknowledgement lets a batch leave the buffer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spider_backend::client::{BackendClient, CapturePush, ClientError, DropCounters, Registration};
use tokio::sync::Notify;

use crate::agent;
use crate::breakers::CpuMeter;
use crate::buffer::Riders;
use crate::names::{self, MAX_HOSTS_PER_BATCH};
use crate::status::WhispererState;
use crate::worker::now_ns;
use crate::Shared;

/// The longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the sender until the buffer is drained (closed and acknowledged) or, after a stop, the
/// drain timeout passed.
pub(crate) fn run(shared: Arc<Shared>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            shared.board.set(
                WhispererState::Failed,
                Some(format!("cannot start the sender's runtime: {error}")),
            );
            shared.buffer.abandon();
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let status = tokio::task::spawn_local(status_loop(shared.clone()));
        let names = tokio::task::spawn_local(names::run(shared.clone()));
        connection_loop(&shared).await;
        status.abort();
        names.abort();
    });
}

async fn connection_loop(shared: &Arc<Shared>) {
    let config = &shared.config;
    let mut backoff = config.reconnect_initial;
    let mut reports = DropReports::new();
    loop {
        if shared.drained() || drain_expired(shared) {
            break;
        }
        let mut storage_full = false;
        let connect =
            BackendClient::connect_over(config.backend, &config.backend_tls, &config.token);
        let failure = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(client)) => {
                shared.counters.connections.fetch_add(1, Ordering::Relaxed);
                backoff = config.reconnect_initial;
                tracing::info!(backend = %config.backend, "connected to the backend");
                let registration =
                    tokio::time::timeout(CONNECT_TIMEOUT, agent::register(shared, &client))
                        .await
                        .unwrap_or_else(|_| {
                            tracing::warn!("registering with the backend timed out");
                            None
                        });
                if !shared.stop.load(Ordering::Relaxed) {
                    shared.connected();
                }
                match session(shared, &client, &mut reports, registration.as_ref()).await {
                    Ok(()) => break,
                    Err(error) => {
                        // The batch stays buffered and is sent again after the backoff.
                        storage_full = error.to_string().contains(spider_backend::STORAGE_FULL);
                        format!("lost the backend at {}: {error}", config.backend)
                    }
                }
            }
            Ok(Err(error)) => format!("cannot reach the backend at {}: {error}", config.backend),
            Err(_) => format!("connecting to the backend at {} timed out", config.backend),
        };
        tracing::warn!(retry_in_ms = backoff.as_millis() as u64, "{failure}");
        // The state first: whoever sees a counter move then finds the health that goes with it.
        if !shared.stop.load(Ordering::Relaxed) {
            shared.board.set(WhispererState::ServerDown, Some(failure));
        }
        shared
            .counters
            .connection_failures
            .fetch_add(1, Ordering::Relaxed);
        if storage_full {
            shared
                .counters
                .refused_storage_full
                .fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shared.wake.notified() => {}
        }
        backoff = (backoff * 2).min(config.reconnect_max);
    }
    if !shared.buffer.is_drained() {
        shared.buffer.abandon();
    }
}

/// After a stop, true once the drain timeout has passed.
fn drain_expired(shared: &Shared) -> bool {
    shared
        .stopped_at()
        .is_some_and(|at| at.elapsed() >= shared.config.drain_timeout)
}

/// One connection: pushes and flushes until the buffer is drained (Ok), the drain timeout
/// passes after a stop (Ok), or a call fails (Err).
async fn session(
    shared: &Arc<Shared>,
    client: &BackendClient,
    reports: &mut DropReports,
    registration: Option<&Registration>,
) -> Result<(), ClientError> {
    let idle = Notify::new();
    // The status goes to the registry every `status_interval` and at each change of state.
    let reporter = async {
        let Some(registration) = registration else {
            return std::future::pending().await;
        };
        loop {
            registration.report(&agent::agent_status(shared)).await?;
            tokio::select! {
                () = tokio::time::sleep(shared.config.status_interval) => {}
                () = shared.board.changed.notified() => {}
            }
        }
    };
    let pusher = async {
        let mut cursor = shared.buffer.resend_cursor();
        // An empty batch offered to carry riders and not sent yet (one at a time).
        let mut carrier = false;
        loop {
            let Some(out) = shared.buffer.next_from(cursor, &mut || Riders {
                drops: reports.take(shared),
                hosts: shared.names.take_hosts(MAX_HOSTS_PER_BATCH),
            }) else {
                // Drops not reported yet or names, and nothing to carry them: an empty batch will.
                if !carrier && (reports.due(shared) || shared.names.has_hosts()) {
                    shared.buffer.offer_report(0);
                    carrier = true;
                    continue;
                }
                idle.notify_one();
                tokio::select! {
                    () = shared.buffer.arrived.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            carrier = false;
            let batch = &out.batch;
            client
                .push_capture(CapturePush {
                    agent: &shared.config.name,
                    incarnation: shared.incarnation,
                    sequence: out.sequence,
                    shard: batch.shard,
                    whisperer: &shared.config.name,
                    frames: &batch.frames,
                    sessions: &batch.sessions,
                    hosts: &out.riders.hosts,
                    drops: out.riders.drops,
                    retention_ttl: shared.retention_ttl.load(Ordering::Relaxed),
                    ..CapturePush::default()
                })
                .await?;
            shared.counters.pushes.fetch_add(1, Ordering::Relaxed);
            if out.resend {
                shared
                    .counters
                    .batches_resent
                    .fetch_add(1, Ordering::Relaxed);
            }
            shared.board.last_sent_at.store(now_ns(), Ordering::Relaxed);
            cursor = out.order + 1;
        }
    };
    let flusher = async {
        let interval = shared.config.flush_interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                // The end of the input is acknowledged right away.
                () = idle.notified(), if shared.buffer_closed() => {}
            }
            if shared.buffer.awaiting_ack() {
                let acks = client.flush().await?;
                for ack in acks {
                    if ack.agent == shared.config.name && ack.incarnation == shared.incarnation {
                        shared.buffer.ack(ack.shard, ack.sequence);
                    }
                }
                shared.board.last_ack_at.store(now_ns(), Ordering::Relaxed);
            }
            if shared.drained() {
                return Ok::<(), ClientError>(());
            }
            if drain_expired(shared) {
                return Ok(());
            }
        }
    };
    let result = tokio::select! {
        result = pusher => result,
        result = flusher => result,
        result = reporter => result,
    };
    if let (Ok(()), Some(registration)) = (&result, registration) {
        // The end: the last report says so.
        let mut last = agent::agent_status(shared);
        last.state = spider_model::agent::AgentState::Stopped;
        let delivered = async {
            registration.report(&last).await?;
            // A call answered after it: the report was taken before the connection closes.
            client.agents().await.map(drop)
        };
        if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(1), delivered).await {
            tracing::debug!(%error, "the last status report did not go through");
        }
    }
    result
}

/// Every second: CPU of the Whisperer's threads, the CPU breaker; every `status_interval`: a
/// status line.
async fn status_loop(shared: Arc<Shared>) {
    let mut meter = CpuMeter::new();
    let mut last_cpu = shared.counters.cpu_ns.load(Ordering::Relaxed);
    let mut last_tick = Instant::now();
    let mut last_report = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        meter.report(&shared.counters.cpu_ns);
        let cpu = shared.counters.cpu_ns.load(Ordering::Relaxed);
        let elapsed = last_tick.elapsed().as_nanos().max(1) as f64;
        let percent = ((cpu.saturating_sub(last_cpu)) as f64 / elapsed * 100.0) as f32;
        last_cpu = cpu;
        last_tick = Instant::now();
        shared.board.set_cpu_percent(percent);
        let (settings, _) = shared.settings.get();
        shared
            .breakers
            .check_cpu(settings.cpu_budget, percent, now_ns());
        if last_report.elapsed() >= shared.config.status_interval {
            last_report = Instant::now();
            let status = shared.status();
            tracing::info!(whisperer = %shared.config.name, "{status}");
            if let Some(reporter) = shared.reporter() {
                reporter(&status);
            }
        }
    }
}

/// The drop counters already handed to a batch; the next batch carries the difference.
#[derive(Debug)]
struct DropReports {
    reported: [u64; 4],
    since: i64,
    /// When the last report went out (an empty batch carries one at most every second).
    last: Instant,
}

impl DropReports {
    fn new() -> Self {
        Self {
            reported: [0; 4],
            since: now_ns() as i64,
            last: Instant::now(),
        }
    }

    fn totals(shared: &Shared) -> [u64; 4] {
        let counters = shared.counters.snapshot();
        [
            counters.kernel_drops,
            counters.own_drop_frames,
            counters.limit_drops,
            counters.skipped_empty_acks,
        ]
    }

    /// Counters changed and the last report is a second old.
    fn due(&self, shared: &Shared) -> bool {
        self.last.elapsed() >= Duration::from_secs(1) && Self::totals(shared) != self.reported
    }

    /// The counters since the last report, if any changed.
    fn take(&mut self, shared: &Shared) -> Option<DropCounters> {
        let totals = Self::totals(shared);
        if totals == self.reported {
            return None;
        }
        let until = now_ns() as i64;
        let delta = |i: usize| totals[i].saturating_sub(self.reported[i]);
        let report = DropCounters {
            since: self.since,
            until,
            kernel_drops: delta(0),
            own_drops: delta(1),
            limit_drops: delta(2),
            skipped_empty_acks: delta(3),
        };
        self.reported = totals;
        self.since = until;
        self.last = Instant::now();
        Some(report)
    }
}
