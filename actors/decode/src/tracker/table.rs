use std::collections::HashMap;

use crate::flow::FlowKey;
use crate::tracker::session::Session;

/// Sessions by key: a small index map over a slab, so that the index (which hash tables grow by
/// doubling) holds 4-byte slots rather than whole sessions.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    index: HashMap<FlowKey, u32>,
    slots: Vec<Option<Session>>,
    free: Vec<u32>,
}

impl SessionTable {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            index: HashMap::with_capacity(capacity.min(1 << 16)),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn contains_key(&self, key: &FlowKey) -> bool {
        self.index.contains_key(key)
    }

    pub fn get(&self, key: &FlowKey) -> Option<&Session> {
        let slot = *self.index.get(key)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Session> {
        let slot = *self.index.get(key)?;
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The session under `key`, made by `make` if there is none (then `true`).
    pub fn get_or_insert_with(
        &mut self,
        key: FlowKey,
        make: impl FnOnce() -> Session,
    ) -> (&mut Session, bool) {
        let (slot, new) = match self.index.get(&key) {
            Some(&slot) => (slot, false),
            None => {
                let slot = match self.free.pop() {
                    Some(slot) => slot,
                    None => {
                        self.slots.push(None);
                        (self.slots.len() - 1) as u32
                    }
                };
                self.index.insert(key, slot);
                (slot, true)
            }
        };
        (self.slots[slot as usize].get_or_insert_with(make), new)
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
