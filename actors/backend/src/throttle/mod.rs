//! The per-agent ingest rate of a node (`[limits]`): a token bucket per agent name (the name a
//! batch is written as, which the session is allowed to use), charged with each batch's message
//! bytes where the agent dialed.
//!
//! An agent over its rate is slowed down, never refused: the bucket goes into debt by the batch's
//! size and the push is answered only once the debt is paid back at the agent's rate, so the
//! agent's flow-control window fills and it sends no faster than that. Nothing is dropped here;
//! the batch is stored as any other once its wait is over. This module computes the waits from an
//! [`IngestClock`] (tests drive a manual one); the ingest capability waits and counts
//! (`spider_backend_ingest_throttled_{total,seconds_total}{agent}`).
//!
//! Memory is bounded by the agents pushing: an agent's bucket that has filled up again is the same
//! as a new one, so such buckets are forgotten once there are many.

mod clock;
mod counters;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

pub use clock::{IngestClock, ManualClock, Sleep, TokioClock};
pub use counters::{ThrottleCounters, Throttled};

/// 64 MiB: the default rate per second and burst of an agent, well above what one Whisperer
/// sends (a 2-core host captures a few hundred Mbit/s at most).
pub const DEFAULT_AGENT_BYTES: u64 = 64 << 20;

/// Buckets kept before the full ones (agents back within their rate) are forgotten.
const PRUNE_AT: usize = 1024;

/// A throttled push is logged at most this often (the counters say the rest).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// `[limits]`: how fast each agent may push into this node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestLimits {
    /// Bytes per second (Cap'n Proto message bytes of its batches) each agent may push on
    /// average (`SPIDER_BACKEND_AGENT_BYTES_PER_SECOND`); 0: unlimited. Default 64 MiB.
    pub agent_bytes_per_second: u64,
    /// Bytes an agent may push at once beyond its rate, after a quiet time
    /// (`SPIDER_BACKEND_AGENT_BURST_BYTES`). Default 64 MiB.
    pub agent_burst_bytes: u64,
    /// `[limits.agents.NAME]`: an agent's own rate or burst (exact name).
    pub agents: BTreeMap<String, AgentRate>,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            agent_bytes_per_second: DEFAULT_AGENT_BYTES,
            agent_burst_bytes: DEFAULT_AGENT_BYTES,
            agents: BTreeMap::new(),
        }
    }
}

/// `[limits.agents.NAME]`: what it leaves out is taken from `[limits]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentRate {
    /// Bytes per second; 0: unlimited.
    pub bytes_per_second: Option<u64>,
    /// Bytes at once beyond the rate.
    pub burst_bytes: Option<u64>,
}

/// One agent's rate, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bytes_per_second: u64,
    pub burst_bytes: u64,
}

impl IngestLimits {
    /// `agent`'s rate; `None`: unlimited.
    pub fn rate_of(&self, agent: &str) -> Option<Rate> {
        let own = self.agents.get(agent).copied().unwrap_or_default();
        let bytes_per_second = own.bytes_per_second.unwrap_or(self.agent_bytes_per_second);
        (bytes_per_second > 0).then(|| Rate {
            bytes_per_second,
            burst_bytes: own.burst_bytes.unwrap_or(self.agent_burst_bytes),
        })
    }
}

/// Nano-bytes (bytes × 10⁹): a rate in bytes per second adds its own value of them every
/// nanosecond, so the buckets count exactly, without floating point.
const NANO: i128 = 1_000_000_000;

/// One agent's bucket: its level in nano-bytes (negative: in debt), as of `at` (ns).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: i128,
    at: u64,
}

impl Bucket {
    fn full(rate: Rate, at: u64) -> Self {
        Self {
            level: capacity(rate),
            at,
        }
    }

    /// The level at `now`: what the rate added since `at`, up to the burst.
    fn refill(&mut self, now: u64, rate: Rate) {
        let elapsed = i128::from(now.saturating_sub(self.at));
        let added = elapsed.saturating_mul(i128::from(rate.bytes_per_second));
        self.level = self.level.saturating_add(added).min(capacity(rate));
        self.at = self.at.max(now);
    }
}

fn capacity(rate: Rate) -> i128 {
    i128::from(rate.burst_bytes).saturating_mul(NANO)
}

/// The node's ingest throttle: every agent's bucket, and the clock they run on.
#[derive(Debug)]
pub(crate) struct Throttle {
    limits: IngestLimits,
    clock: Arc<dyn IngestClock>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// When a throttled push was last logged (ns), and how many were throttled since.
    log: Mutex<(Option<u64>, u64)>,
}

impl Throttle {
    pub fn new(limits: IngestLimits, clock: Arc<dyn IngestClock>) -> Self {
        Self {
            limits,
            clock,
            buckets: Mutex::new(HashMap::new()),
            log: Mutex::new((None, 0)),
        }
    }

    /// Charges `bytes` to `agent` now; the wait before its push may be answered, if any.
    pub fn reserve(&self, agent: &str, bytes: u64) -> Option<Duration> {
        let rate = self.limits.rate_of(agent)?;
        let now = clock::nanos(self.clock.now());
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(agent) {
            self.prune(&mut buckets, now);
        }
        let bucket = buckets
            .entry(agent.to_owned())
            .or_insert_with(|| Bucket::full(rate, now));
        bucket.refill(now, rate);
        bucket.level = bucket
            .level
            .saturating_sub(i128::from(bytes).saturating_mul(NANO));
        if bucket.level >= 0 {
            return None;
        }
        // Rounded up: once it has passed, the level is back to zero or more.
        let debt = bucket.level.unsigned_abs();
        let per_ns = u128::from(rate.bytes_per_second);
        let wait = debt.div_ceil(per_ns);
        Some(Duration::from_nanos(
            u64::try_from(wait).unwrap_or(u64::MAX),
        ))
    }

    /// Forgets the buckets that are full again (their agents are within their rate).
    fn prune(&self, buckets: &mut HashMap<String, Bucket>, now: u64) {
        buckets.retain(|agent, bucket| {
            self.limits.rate_of(agent).is_some_and(|rate| {
                bucket.refill(now, rate);
                bucket.level < capacity(rate)
            })
        });
    }

    /// Agents with a bucket (for tests of the bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits `wait` on the throttle's clock.
    pub fn sleep(&self, wait: Duration) -> Sleep {
        self.clock.sleep(wait)
    }

    /// Counts a throttled push for the log; `Some(n)` when a line is due (at most one per
    /// `LOG_EVERY`), with the pushes throttled since the previous line, this one included.
    pub fn log_due(&self) -> Option<u64> {
        let now = clock::nanos(self.clock.now());
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.1 += 1;
        let due = log
            .0
            .is_none_or(|last| now.saturating_sub(last) >= clock::nanos(LOG_EVERY));
        if !due {
            return None;
        }
        let count = log.1;
        *log = (Some(now), 0);
        Some(count)
    }
}

#[cfg(test)]
mod tests;
