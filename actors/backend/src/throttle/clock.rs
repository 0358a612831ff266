//! The time the ingest throttle reads and waits on: tokio's clock on a running node, a manual
//! one in tests (it moves only when the throttle waits, so what a test checks never depends on how
//! fast the machine is).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A wait the throttle imposes.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Monotonic time for the ingest throttle, and waiting on it.
pub trait IngestClock: Send + Sync + std::fmt::Debug {
    /// Time since an origin of the clock's own choosing; never goes back.
    fn now(&self) -> Duration;
    /// Resolves once `wait` has passed on this clock.
    fn sleep(&self, wait: Duration) -> Sleep;
}

/// tokio's monotonic clock: what a node runs with.
#[derive(Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl IngestClock for TokioClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, wait: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until someone waits on it: a wait moves it forward by its length
/// and resolves at once. With it the throttle's waits add up to exactly the time that passed.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// Moves the clock forward by `by` (time passing without a wait).
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(nanos(by), Ordering::Relaxed);
    }
}

impl IngestClock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    fn sleep(&self, wait: Duration) -> Sleep {
        self.advance(wait);
        Box::pin(std::future::ready(()))
    }
}

/// A duration in nanoseconds, saturated at `u64::MAX` (584 years).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
