//! What the ingest throttle did, per agent, for `/metrics`: the pushes it held back and for how
//! long. Only agents that were throttled appear, and at most `MAX_SERIES` of them by name (the
//! rest add up under `_other`), so the families stay small whatever names agents use.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use spider_telemetry::{Exposition, Kind};

/// Agents counted by name; later ones are counted as [`OTHER`].
const MAX_SERIES: usize = 256;

/// The label value of the agents beyond [`MAX_SERIES`].
pub const OTHER: &str = "_other";

/// What was held back of one agent's pushes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttled {
    /// Pushes whose answer waited.
    pub batches: u64,
    /// The waits imposed, added up.
    pub waited: Duration,
}

/// The throttle's counters (part of `NodeStats`).
#[derive(Debug, Default)]
pub struct ThrottleCounters {
    agents: Mutex<BTreeMap<String, Throttled>>,
}

impl ThrottleCounters {
    /// Counts one push of `agent` held back for `wait`.
    pub fn record(&self, agent: &str, wait: Duration) {
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if agents.contains_key(agent) || agents.len() < MAX_SERIES {
            agent
        } else {
            OTHER
        };
        let entry = agents.entry(key.to_owned()).or_default();
        entry.batches += 1;
        entry.waited = entry.waited.saturating_add(wait);
    }

    /// Every throttled agent's counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, Throttled> {
        self.agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes `spider_backend_ingest_throttled_total` and `…_throttled_seconds_total`.
    pub fn render(&self, out: &mut Exposition) {
        let agents = self.snapshot();
        let name = "spider_backend_ingest_throttled_total";
        out.family(
            name,
            Kind::Counter,
            "Pushes whose answer the node held back because their agent was over its ingest rate ([limits]), by agent.",
        );
        for (agent, counts) in &agents {
            out.sample(name, &[("agent", agent)], counts.batches as f64);
        }
        let name = "spider_backend_ingest_throttled_seconds_total";
        out.family(
            name,
            Kind::Counter,
            "Time the node held back the answers of agents over their ingest rate, by agent.",
        );
        for (agent, counts) in &agents {
            out.sample(name, &[("agent", agent)], counts.waited.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn agents_beyond_the_bound_add_up_as_other() {
        let counters = ThrottleCounters::default();
        for index in 0..MAX_SERIES + 3 {
            counters.record(&format!("w{index}"), Duration::from_millis(10));
        }
        counters.record("w0", Duration::from_millis(5));
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.len(), MAX_SERIES + 1);
        assert_eq!(snapshot[OTHER].batches, 3);
        assert_eq!(snapshot["w0"].batches, 2);
        assert_eq!(snapshot["w0"].waited, Duration::from_millis(15));
        let mut out = Exposition::new();
        counters.render(&mut out);
        let text = out.finish();
        assert!(text.contains("spider_backend_ingest_throttled_total{agent=\"w0\"} 2"));
        assert!(text.contains("spider_backend_ingest_throttled_seconds_total{agent=\"w0\"} 0.015"));
    }
}
