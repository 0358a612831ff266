//! The throttle's waits, driven by a manual clock: no test here reads the time of the machine.
#![allow(clippy::unwrap_used)]

use super::*;

fn throttle(rate: u64, burst: u64) -> (Throttle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let limits = IngestLimits {
        agent_bytes_per_second: rate,
        agent_burst_bytes: burst,
        agents: BTreeMap::new(),
    };
    (Throttle::new(limits, clock.clone()), clock)
}

#[test]
fn within_the_burst_nothing_waits() {
    let (throttle, _clock) = throttle(1000, 5000);
    for _ in 0..5 {
        assert_eq!(throttle.reserve("w", 1000), None);
    }
    // The sixth kilobyte is one second early.
    assert_eq!(throttle.reserve("w", 1000), Some(Duration::from_secs(1)));
}

#[test]
fn a_sender_that_waits_as_told_is_held_to_the_rate() {
    // 10 kB/s, 4 kB burst; 100 pushes of 1 kB = 100 kB: at least 9.6 s of waits.
    let (throttle, clock) = throttle(10_000, 4_000);
    let mut waited = Duration::ZERO;
    let mut throttled = 0;
    for _ in 0..100 {
        if let Some(wait) = throttle.reserve("w", 1000) {
            throttled += 1;
            waited += wait;
            // The manual clock moves by the wait, as a node's push waits before its answer.
            drop(throttle.sleep(wait));
        }
    }
    assert_eq!(throttled, 96);
    assert_eq!(clock.now(), waited);
    assert!(waited >= Duration::from_millis(9600), "{waited:?}");
    // Exact to the nanosecond the waits are rounded up by.
    assert!(waited <= Duration::from_millis(9600) + Duration::from_nanos(96));
}

#[test]
fn time_passing_refills_up_to_the_burst_only() {
    let (throttle, clock) = throttle(1000, 2000);
    assert_eq!(throttle.reserve("w", 2000), None);
    assert_eq!(throttle.reserve("w", 500), Some(Duration::from_millis(500)));
    // An hour later the bucket holds its burst, not an hour's worth.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(throttle.reserve("w", 2000), None);
    assert_eq!(throttle.reserve("w", 1), Some(Duration::from_millis(1)));
}

#[test]
fn a_batch_larger_than_the_burst_waits_for_the_difference() {
    let (throttle, _clock) = throttle(1 << 20, 1 << 20);
    assert_eq!(
        throttle.reserve("w", 3 << 20),
        Some(Duration::from_secs(2)),
        "never refused: it waits"
    );
}

#[test]
fn concurrent_pushes_of_one_agent_queue_up_their_debt() {
    // Two connections of one agent: the second push waits behind the first one's debt.
    let (throttle, _clock) = throttle(1000, 0);
    assert_eq!(throttle.reserve("w", 1000), Some(Duration::from_secs(1)));
    assert_eq!(throttle.reserve("w", 1000), Some(Duration::from_secs(2)));
}

#[test]
fn agents_have_their_own_buckets_and_overrides() {
    let clock = Arc::new(ManualClock::default());
    let mut limits = IngestLimits {
        agent_bytes_per_second: 1000,
        agent_burst_bytes: 1000,
        agents: BTreeMap::new(),
    };
    limits.agents.insert(
        "slow".into(),
        AgentRate {
            bytes_per_second: Some(100),
            burst_bytes: None,
        },
    );
    limits.agents.insert(
        "free".into(),
        AgentRate {
            bytes_per_second: Some(0),
            burst_bytes: None,
        },
    );
    let throttle = Throttle::new(limits, clock);
    assert_eq!(throttle.reserve("a", 1000), None);
    assert_eq!(throttle.reserve("b", 1000), None, "a's debt is not b's");
    assert_eq!(throttle.reserve("slow", 1100), Some(Duration::from_secs(1)));
    assert_eq!(throttle.reserve("free", u64::MAX), None, "0: unlimited");
    assert_eq!(throttle.tracked(), 3, "no bucket for an unlimited agent");
}

#[test]
fn zero_is_unlimited() {
    let (throttle, _clock) = throttle(0, 0);
    assert_eq!(throttle.reserve("w", u64::MAX), None);
    assert_eq!(throttle.tracked(), 0);
}

#[test]
fn full_buckets_are_forgotten_once_there_are_many() {
    let (throttle, clock) = throttle(1000, 1000);
    assert_eq!(throttle.reserve("busy", 5000), Some(Duration::from_secs(4)));
    for index in 0..PRUNE_AT - 1 {
        assert_eq!(throttle.reserve(&format!("w{index}"), 1), None);
    }
    assert_eq!(throttle.tracked(), PRUNE_AT);
    // A second later every quiet agent's bucket is full again; "busy" still owes 3 s.
    clock.advance(Duration::from_secs(1));
    assert_eq!(throttle.reserve("new", 1), None);
    assert_eq!(throttle.tracked(), 2);
    assert_eq!(throttle.reserve("busy", 0), Some(Duration::from_secs(3)));
}

#[test]
fn the_log_line_is_rate_limited() {
    let (throttle, clock) = throttle(1, 1);
    assert_eq!(throttle.log_due(), Some(1));
    assert_eq!(throttle.log_due(), None);
    assert_eq!(throttle.log_due(), None);
    clock.advance(LOG_EVERY);
    assert_eq!(
        throttle.log_due(),
        Some(3),
        "the ones not logged are counted in the next"
    );
}

#[test]
fn the_defaults_are_generous_and_the_section_reads() {
    let defaults = IngestLimits::default();
    assert_eq!(
        defaults.rate_of("w"),
        Some(Rate {
            bytes_per_second: 64 << 20,
            burst_bytes: 64 << 20
        })
    );
    let config: crate::BackendConfig = toml::from_str(
        "[limits]\nagent_bytes_per_second = 1000\n\
         [limits.agents.edge]\nburst_bytes = 5\n[limits.agents.lab]\nbytes_per_second = 0\n",
    )
    .unwrap();
    assert_eq!(
        config.limits.rate_of("edge"),
        Some(Rate {
            bytes_per_second: 1000,
            burst_bytes: 64 << 20
        })
        .map(|rate| Rate {
            burst_bytes: 5,
            ..rate
        })
    );
    assert_eq!(config.limits.rate_of("lab"), None);
    assert!(toml::from_str::<crate::BackendConfig>("[limits]\nagent_rate = 1\n").is_err());
}
