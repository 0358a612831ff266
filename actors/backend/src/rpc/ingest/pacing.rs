//! The per-agent ingest rate at the node an agent dialed (`[limits]`, `crate::throttle`): a push
//! over its agent's rate is held back before anything of it is done, so its answer comes late and
//! the agent's flow-control window fills; it is stored as any other once its wait is over.
//!
//! Pushes on one capability run one at a time (Cap'n Proto serialises a streaming method's calls
//! until each returns), so holding one back holds back the ones behind it and their order stays.
//! Batches another node passes on (to a group's owner or follower) were charged where the agent
//! dialed: a node's session (admin) that marks them `forwarded` or `replicated` is not charged
//! again; an agent that marks its own batches so is.

use super::Ingest;

impl Ingest {
    /// Charges a batch of `bytes` to `agent` and waits as long as the agent's rate says; counted
    /// per agent and logged (at most one line every 10 s at info, the rest at debug).
    pub(super) async fn pace(&self, agent: &str, bytes: u64, passed_on: bool) {
        if passed_on && self.guard.identity().is_admin() {
            return;
        }
        let throttle = &self.router.throttle;
        let Some(wait) = throttle.reserve(agent, bytes) else {
            return;
        };
        self.router.stats.throttled(agent, wait);
        match throttle.log_due() {
            Some(throttled) => tracing::info!(
                agent,
                bytes,
                wait_ms = wait.as_millis(),
                throttled,
                "ingest held back: an agent is over its rate ([limits]); pushes throttled \
                 since the last such line"
            ),
            None => tracing::debug!(agent, bytes, wait_ms = wait.as_millis(), "push held back"),
        }
        throttle.sleep(wait).await;
    }
}
