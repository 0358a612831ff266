use std::collections::VecDeque;

use spider_model::EpochNanos;

use crate::flow::FlowKey;

/// One scheduled look at a session; stale once the session's generation moved on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExpiryEntry {
    pub key: FlowKey,
    pub id: u64,
    pub generation: u32,
    pub deadline: EpochNanos,
}

/// Deadlines of open sessions (idle timeout) and closed ones (linger), each in a FIFO.
///
/// Each queue's timeout is a constant, so deadlines enter each queue in time order and the front
/// is always the earliest: expiry and eviction are O(1) per session.
#[derive(Debug, Default)]
pub(crate) struct ExpiryQueues {
    open: VecDeque<ExpiryEntry>,
    closed: VecDeque<ExpiryEntry>,
}

impl ExpiryQueues {
    pub fn schedule_open(&mut self, key: FlowKey, id: u64, generation: u32, deadline: EpochNanos) {
        self.open.push_back(ExpiryEntry {
            key,
            id,
            generation,
            deadline,
        });
    }

    pub fn schedule_closed(
        &mut self,
        key: FlowKey,
        id: u64,
        generation: u32,
        deadline: EpochNanos,
    ) {
        self.closed.push_back(ExpiryEntry {
            key,
            id,
            generation,
            deadline,
        });
    }

    /// The next entry whose deadline has passed, closed sessions first (strictly: a deadline
    /// saturated at the end of time never comes due).
    pub fn pop_due(&mut self, now: EpochNanos) -> Option<ExpiryEntry> {
        for queue in [&mut self.closed, &mut self.open] {
            if queue.front().is_some_and(|entry| entry.deadline < now) {
                return queue.pop_front();
            }
        }
        None
    }

    /// The entry to evict when the table is full: the oldest closed session, else the least
    /// recently scheduled open one.
    pub fn pop_oldest(&mut self) -> Option<ExpiryEntry> {
        self.closed.pop_front().or_else(|| self.open.pop_front())
    }
}
