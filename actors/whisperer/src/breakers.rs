//! Circuit breakers, as in Spider: a throughput limit (bytes on the wire per minute) and a CPU
//! budget (percent of one core for the Whisperer's threads). A tripped breaker makes the capture
//! threads drop frames before any work is spent on them, and count them (`limit_drops`): the
//! throughput breaker until the minute ends, the CPU breaker for a cool-down period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long the CPU breaker stays open once tripped.
pub const CPU_COOLDOWN: Duration = Duration::from_secs(5);

const MINUTE_NS: u64 = 60_000_000_000;

/// The breakers' state, shared by the capture threads.
#[derive(Debug, Default)]
pub struct Breakers {
    minute: AtomicU64,
    bytes_this_minute: AtomicU64,
    throughput_open: AtomicBool,
    cpu_open_until_ns: AtomicU64,
    /// Times a breaker tripped.
    pub trips: AtomicU64,
}

/// Which breaker refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Throughput,
    Cpu,
}

impl Breakers {
    /// Whether a frame of `wire_len` bytes seen at `now_ns` (epoch) may be processed under
    /// `limit` bytes per minute (0: none).
    pub fn admit(&self, limit: u64, wire_len: u64, now_ns: u64) -> Result<(), Refusal> {
        if now_ns < self.cpu_open_until_ns.load(Ordering::Relaxed) {
            return Err(Refusal::Cpu);
        }
        if limit == 0 {
            return Ok(());
        }
        let minute = now_ns / MINUTE_NS;
        let seen = self.minute.load(Ordering::Relaxed);
        if minute != seen
            && self
                .minute
                .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.bytes_this_minute.store(0, Ordering::Relaxed);
            self.throughput_open.store(false, Ordering::Relaxed);
        }
        let before = self
            .bytes_this_minute
            .fetch_add(wire_len, Ordering::Relaxed);
        if before + wire_len > limit {
            self.bytes_this_minute
                .fetch_sub(wire_len, Ordering::Relaxed);
            if !self.throughput_open.swap(true, Ordering::Relaxed) {
                self.trips.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    limit_bytes_per_minute = limit,
                    "throughput limit reached: frames are dropped until the minute ends"
                );
            }
            return Err(Refusal::Throughput);
        }
        Ok(())
    }

    /// Called about every second with the CPU the Whisperer used over the last interval; trips
    /// the CPU breaker when it is over `budget` percent (0: no budget).
    pub fn check_cpu(&self, budget: f32, used_percent: f32, now_ns: u64) {
        if budget <= 0.0 || used_percent <= budget {
            return;
        }
        if now_ns < self.cpu_open_until_ns.load(Ordering::Relaxed) {
            return;
        }
        let until = now_ns + CPU_COOLDOWN.as_nanos() as u64;
        self.cpu_open_until_ns.store(until, Ordering::Relaxed);
        self.trips.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            cpu_percent = used_percent,
            budget_percent = budget,
            cooldown_s = CPU_COOLDOWN.as_secs(),
            "cpu budget exceeded: frames are dropped for a while"
        );
    }

    /// True while a breaker is open.
    pub fn is_open(&self, now_ns: u64) -> bool {
        now_ns < self.cpu_open_until_ns.load(Ordering::Relaxed)
            || (self.throughput_open.load(Ordering::Relaxed)
                && self.minute.load(Ordering::Relaxed) == now_ns / MINUTE_NS)
    }
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    if status != 0 {
        return 0;
    }
    (time.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(time.tv_nsec as u64)
}

/// Adds the CPU a thread used since its last report to a shared counter.
#[derive(Debug)]
pub struct CpuMeter {
    last: u64,
}

impl CpuMeter {
    pub fn new() -> Self {
        Self {
            last: thread_cpu_ns(),
        }
    }

    /// Adds the time since the last call to `total`.
    pub fn report(&mut self, total: &AtomicU64) {
        let now = thread_cpu_ns();
        total.fetch_add(now.saturating_sub(self.last), Ordering::Relaxed);
        self.last = now;
    }
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throughput_limit_holds_per_minute() {
        let breakers = Breakers::default();
        let t0 = 10 * MINUTE_NS;
        assert_eq!(breakers.admit(1000, 600, t0), Ok(()));
        assert_eq!(breakers.admit(1000, 400, t0 + 1), Ok(()));
        assert_eq!(breakers.admit(1000, 1, t0 + 2), Err(Refusal::Throughput));
        assert!(breakers.is_open(t0 + 3));
        assert_eq!(breakers.admit(1000, 1000, t0 + MINUTE_NS), Ok(()));
        assert_eq!(breakers.admit(0, 1 << 40, t0 + MINUTE_NS), Ok(()));
        assert_eq!(breakers.trips.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_cpu_breaker_opens_for_a_cooldown() {
        let breakers = Breakers::default();
        breakers.check_cpu(50.0, 40.0, 1);
        assert_eq!(breakers.admit(0, 1, 2), Ok(()));
        breakers.check_cpu(50.0, 80.0, 3);
        assert_eq!(breakers.admit(0, 1, 4), Err(Refusal::Cpu));
        let after = 3 + CPU_COOLDOWN.as_nanos() as u64;
        assert_eq!(breakers.admit(0, 1, after), Ok(()));
        assert!(thread_cpu_ns() > 0);
    }
}
