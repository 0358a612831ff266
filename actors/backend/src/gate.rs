//! The shard groups' gate on a cluster node: which groups stop taking writes while a copy of
//! them is made (and for whom), the writes in flight per group (a copy starts once they are
//! stored), and the groups this node holds a complete copy of (it owns them, or it copied them
//! from their owner since it started to follow them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Why a group is closed to writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Freeze {
    /// The node the group is being copied to.
    pub to: String,
    /// Whether the copy hands the group over (it stays closed until the map names a new
    /// owner), rather than bringing a follower up to date (open again once copied).
    pub hand_over: bool,
    /// The last sign of life of the copy: a copy abandoned this long ago opens the group.
    pub touched: Instant,
}

#[derive(Debug, Default)]
struct State {
    frozen: BTreeMap<u16, Freeze>,
    in_flight: BTreeMap<u16, usize>,
    complete: BTreeSet<u16>,
}

/// Shared by the ingest capabilities of every connection and the copying task.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupGate {
    state: Arc<Mutex<State>>,
    drained: Arc<Notify>,
}

/// A write in flight into a group; dropping it ends the write.
#[derive(Debug)]
pub(crate) struct Admission {
    gate: GroupGate,
    group: u16,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        if let Some(count) = state.in_flight.get_mut(&self.group) {
            *count = count.saturating_sub(1);
        }
        drop(state);
        self.gate.drained.notify_waiters();
    }
}

/// A copy abandoned for this long (no chunk asked) opens its group again.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(30);

impl GroupGate {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lets a write into `group`, or says why not (the group is being copied).
    pub fn admit(&self, group: u16) -> Result<Admission, String> {
        let mut state = self.lock();
        if let Some(freeze) = state.frozen.get(&group) {
            return Err(format!(
                "group {group} is being copied to {}: it takes writes again once moved; retry",
                freeze.to
            ));
        }
        *state.in_flight.entry(group).or_default() += 1;
        Ok(Admission {
            gate: self.clone(),
            group,
        })
    }

    /// Closes `group` to writes for a copy to `to`, once the writes in flight are stored.
    /// Closing it again for the same copy only notes the copy is alive.
    pub async fn freeze(&self, group: u16, to: &str, hand_over: bool) {
        {
            let mut state = self.lock();
            let freeze = state.frozen.entry(group).or_insert_with(|| Freeze {
                to: to.to_owned(),
                hand_over,
                touched: Instant::now(),
            });
            freeze.touched = Instant::now();
            freeze.to = to.to_owned();
            freeze.hand_over = hand_over;
        }
        loop {
            let drained = self.drained.notified();
            if self.lock().in_flight.get(&group).copied().unwrap_or(0) == 0 {
                return;
            }
            drained.await;
        }
    }

    /// Opens `group` to writes again.
    pub fn thaw(&self, group: u16) {
        if self.lock().frozen.remove(&group).is_some() {
            tracing::info!(group, "group takes writes again");
        }
    }

    /// The groups closed to writes, and why.
    pub fn frozen(&self) -> BTreeMap<u16, Freeze> {
        self.lock().frozen.clone()
    }

    pub fn is_complete(&self, group: u16) -> bool {
        self.lock().complete.contains(&group)
    }

    pub fn set_complete(&self, group: u16, complete: bool) {
        let mut state = self.lock();
        if complete {
            state.complete.insert(group);
        } else {
            state.complete.remove(&group);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_freeze_waits_for_the_writes_in_flight_and_refuses_new_ones() {
        let gate = GroupGate::default();
        let write = gate.admit(3).unwrap();
        let other = gate.admit(4).unwrap();
        let freezing = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.freeze(3, "node-d", true).await })
        };
        tokio::task::yield_now().await;
        assert!(!freezing.is_finished(), "waits for the write in flight");
        assert!(gate.admit(3).unwrap_err().contains("node-d"));
        assert!(gate.admit(4).is_ok(), "other groups take writes");
        drop(write);
        freezing.await.unwrap();
        assert!(gate.frozen()[&3].hand_over);
        gate.thaw(3);
        assert!(gate.admit(3).is_ok());
        drop(other);
    }
}
