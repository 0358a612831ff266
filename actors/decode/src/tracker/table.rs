use std::collections::HashMap;

use crate::flow::FlowKey;
use crate::tracker::session::Session;

/// Sessions by key: a small index map over a slab, so that the index (which hash tables grow by
/// doubling) holds 4-byte slots rather than whole sessions.
/// A keyed hash seeded per process: keys come from the network, so they must not be predictable
/// enough to flood one bucket.
type Index = HashMap<FlowKey, u32, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    index: Index,
    slots: Vec<Option<Session>>,
    free: Vec<u32>,
}

impl SessionTable {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            index: Index::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of `key`'s session: one hash lookup, then [`Self::by_slot`] at no further cost.
    pub fn slot_of(&self, key: &FlowKey) -> Option<u32> {
        self.index.get(key).copied()
    }

    pub fn by_slot(&self, slot: u32) -> Option<&Session> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn by_slot_mut(&mut self, slot: u32) -> Option<&mut Session> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Stores a new session under `key` (which has none) and returns its slot.
    pub fn insert_new(&mut self, key: FlowKey, session: Session) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(session);
        self.index.insert(key, slot);
        slot
    }

    pub fn get(&self, key: &FlowKey) -> Option<&Session> {
        let slot = *self.index.get(key)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Session> {
        let slot = *self.index.get(key)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    pub fn remove(&mut self, key: &FlowKey) -> Option<Session> {
        let slot = self.index.remove(key)?;
        self.free.push(slot);
        self.slots.get_mut(slot as usize)?.take()
    }

    pub fn keys(&self) -> Vec<FlowKey> {
        self.index.keys().copied().collect()
    }
}
