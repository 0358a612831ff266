//! The Gocipher's actor: a dedicated thread (Cap'n Proto clients are not `Send`) running a
//! current-thread runtime that, at the end of every bucket (plus a grace period), drains the
//! finished buckets, builds their records and sends them; and answers flush and stop commands.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use spider_ebpf_common::{Config, STAT_FLOWS_FAILED, STAT_RECV_NO_PEER, STAT_SKB_UNPARSED};
use spider_model::agent::AgentState;
use spider_model::UsageRecord;
use tokio::sync::{mpsc, oneshot};

use crate::container::Containers;
use crate::control::{status, Control};
use crate::drain::Drainer;
use crate::loader::Loaded;
use crate::records::{build, RecordContext, Senders};
use crate::sender::Sender;
use crate::{Counters, GocipherError};

pub(crate) type Reply = oneshot::Sender<Result<Vec<UsageRecord>, GocipherError>>;

pub(crate) enum Command {
    /// Drain everything (the bucket in progress too), send, and wait for the acknowledgement.
    Flush(Reply),
    /// The same, then detach the programs and end.
    Stop(Reply),
}

pub(crate) struct Actor {
    pub loaded: Loaded,
    pub drainer: Drainer,
    pub config: Config,
    pub context: RecordContext,
    pub senders: Senders,
    pub containers: Containers,
    pub sender: Sender,
    pub counters: Arc<Counters>,
    pub control: Rc<Control>,
    pub status_interval: Duration,
}

/// Wall-clock and monotonic (what `bpf_ktime_get_ns` reads) now, in ns.
fn clocks() -> (u64, u64) {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec; the clocks exist on every Linux.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(ts.tv_nsec).unwrap_or(0)
    };
    (read(libc::CLOCK_REALTIME), read(libc::CLOCK_MONOTONIC))
}

/// Re-reads the clocks (the wall clock may have been stepped) and writes the kernel's config;
/// returns the wall clock.
/// Paused (`counting` false), the kernel programs see a zero bucket length and count nothing.
pub(crate) fn sync_clock(
    loaded: &mut Loaded,
    config: &mut Config,
    counting: bool,
) -> Result<u64, GocipherError> {
    let (real, mono) = clocks();
    config.realtime_offset_ns = real.wrapping_sub(mono);
    let mut kernel = *config;
    if !counting {
        kernel.bucket_ns = 0;
    }
    loaded.configure(&kernel)?;
    Ok(real)
}

impl Actor {
    fn grace_ns(&self) -> u64 {
        (self.config.bucket_ns / 4).min(1_000_000_000)
    }

    fn sync_clock(&mut self) -> Result<u64, GocipherError> {
        sync_clock(
            &mut self.loaded,
            &mut self.config,
            self.control.counting.get(),
        )
    }

    /// Drains finished buckets (and, with `partial`, the current one) into records.
    fn collect(&mut self, partial: bool) -> Result<Vec<UsageRecord>, GocipherError> {
        let now = self.sync_clock()?;
        let final_before = now.saturating_sub(self.grace_ns()) / self.config.bucket_ns;
        let flows = self.drainer.drain(final_before, partial)?;
        let calls: u64 = flows.iter().map(|f| f.value.calls).sum();
        self.senders.hosts.clone_from(&self.sender.monitored);
        let containers = &mut self.containers;
        let records = build(flows, &self.context, &mut self.senders, &mut |id| {
            containers.of(id)
        });
        let stats = self.drainer.stats();
        let c = &self.counters;
        c.flow_evictions
            .store(self.drainer.evictions, Ordering::Relaxed);
        c.flows_failed
            .store(stats[STAT_FLOWS_FAILED as usize], Ordering::Relaxed);
        c.calls.fetch_add(calls, Ordering::Relaxed);
        c.skb_unparsed
            .store(stats[STAT_SKB_UNPARSED as usize], Ordering::Relaxed);
        c.recv_without_peer
            .store(stats[STAT_RECV_NO_PEER as usize], Ordering::Relaxed);
        c.records.fetch_add(records.len() as u64, Ordering::Relaxed);
        Ok(records)
    }

    async fn send(&mut self, records: Vec<UsageRecord>) -> Result<(), GocipherError> {
        self.sender.enqueue(records);
        let result = self.sender.pump().await;
        let c = &self.counters;
        c.dropped_records
            .store(self.sender.dropped_records, Ordering::Relaxed);
        c.batches_sent
            .store(self.sender.batches_sent, Ordering::Relaxed);
        c.batches_acked
            .store(self.sender.batches_acked, Ordering::Relaxed);
        c.buffered_records
            .store(self.sender.buffered() as u64, Ordering::Relaxed);
        match &result {
            Ok(()) => self.control.set_state(AgentState::Recording, None),
            Err(error) => {
                tracing::warn!(%error, upstream = %self.counters.upstream, "usage not sent yet");
                self.control
                    .set_state(AgentState::ServerDown, Some(error.clone()));
            }
        }
        result.map_err(GocipherError::NotAcknowledged)
    }

    async fn flush(&mut self) -> Result<Vec<UsageRecord>, GocipherError> {
        let records = self.collect(true)?;
        self.send(records.clone()).await?;
        Ok(records)
    }

    /// How long until the next bucket is final (or the next retry, when records wait).
    fn next_wake(&self) -> Duration {
        let (now, _) = clocks();
        let bucket = self.config.bucket_ns;
        let next_end = (now / bucket + 1) * bucket + self.grace_ns();
        let until = Duration::from_nanos(next_end.saturating_sub(now).max(1_000_000));
        if self.sender.buffered() > 0 {
            until.min(Duration::from_secs(5))
        } else {
            until
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let control = self.control.clone();
        let mut reports = tokio::time::interval(self.status_interval);
        loop {
            tokio::select! {
                () = control.changed.notified() => {
                    if let Err(error) = self.sync_clock() {
                        tracing::error!(%error, "cannot apply the settings");
                    }
                }
                _ = reports.tick() => {
                    let now = status(&control);
                    self.sender.report(&now).await;
                }
                command = commands.recv() => match command {
                    Some(Command::Flush(reply)) => {
                        let _ = reply.send(self.flush().await);
                    }
                    Some(Command::Stop(reply)) => {
                        let _ = reply.send(self.flush().await);
                        break;
                    }
                    None => {
                        let _ = self.flush().await;
                        break;
                    }
                },
                () = tokio::time::sleep(self.next_wake()) => {
                    match self.collect(false) {
                        Ok(records) => {
                            let _ = self.send(records).await;
                        }
                        Err(error) => tracing::error!(%error, "cannot drain the usage counters"),
                    }
                }
            }
        }
        tracing::info!(name = %self.context.reporter, "gocipher stopped: programs detached");
    }
}
