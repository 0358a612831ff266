//! The `meta` column family: retention classes and the shard's counters.

use std::collections::BTreeMap;

use rocksdb::{WriteBatch, DB};

use crate::db::{cf, CF_META};
use crate::error::{Result, StorageError};

const LAST_SEQ: &[u8] = b"last_seq";
const INDEXED_SEQ: &[u8] = b"indexed_seq";
const CLASS_PREFIX: &[u8] = b"class:";

/// Retention classes: every distinct TTL gets a small number that prefixes the keys of the data
/// kept that long, so that one range deletion per class purges it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Classes {
    ttl_of: BTreeMap<u16, i64>,
}

impl Classes {
    pub fn load(db: &DB) -> Result<Self> {
        let meta = cf(db, CF_META)?;
        let mut classes = Self::default();
        let iter = db.prefix_iterator_cf(meta, CLASS_PREFIX);
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(CLASS_PREFIX) {
                break;
            }
            let ttl = key
                .get(CLASS_PREFIX.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_be_bytes)
                .ok_or_else(|| StorageError::corrupt(CF_META, "class key", "bad length"))?;
            let class = <[u8; 2]>::try_from(&*value)
                .map(u16::from_be_bytes)
                .map_err(|_| StorageError::corrupt(CF_META, "class id", "bad length"))?;
            classes.ttl_of.insert(class, ttl);
        }
        Ok(classes)
    }

    /// The class of `ttl_ns`; a new one is recorded in `batch` (and here: call `forget` if the
    /// batch is not written).
    pub fn class_for(&mut self, ttl_ns: i64, db: &DB, batch: &mut WriteBatch) -> Result<u16> {
        if let Some((class, _)) = self.ttl_of.iter().find(|(_, ttl)| **ttl == ttl_ns) {
            return Ok(*class);
        }
        let class = self
            .ttl_of
            .keys()
            .next_back()
            .map_or(Some(1), |last| last.checked_add(1))
            .ok_or_else(|| StorageError::InvalidRequest("too many retention classes".into()))?;
        let mut key = CLASS_PREFIX.to_vec();
        key.extend_from_slice(&ttl_ns.to_be_bytes());
        batch.put_cf(cf(db, CF_META)?, key, class.to_be_bytes());
        self.ttl_of.insert(class, ttl_ns);
        Ok(class)
    }

    pub fn forget(&mut self, class: u16) {
        self.ttl_of.remove(&class);
    }

    pub fn ttl_of(&self) -> &BTreeMap<u16, i64> {
        &self.ttl_of
    }

    pub fn ids(&self) -> Vec<u16> {
        self.ttl_of.keys().copied().collect()
    }
}

fn read_u64(db: &DB, key: &[u8]) -> Result<u64> {
    let meta = cf(db, CF_META)?;
    match db.get_pinned_cf(meta, key)? {
        None => Ok(0),
        Some(value) => <[u8; 8]>::try_from(&*value)
            .map(u64::from_be_bytes)
            .map_err(|_| StorageError::corrupt(CF_META, "counter", "bad length")),
    }
}

/// The last shard seq given to a batch.
pub(crate) fn last_seq(db: &DB) -> Result<u64> {
    read_u64(db, LAST_SEQ)
}

pub(crate) fn put_last_seq(db: &DB, batch: &mut WriteBatch, seq: u64) -> Result<()> {
    batch.put_cf(cf(db, CF_META)?, LAST_SEQ, seq.to_be_bytes());
    Ok(())
}

/// Every batch up to this seq is committed in the index.
pub(crate) fn indexed_seq(db: &DB) -> Result<u64> {
    read_u64(db, INDEXED_SEQ)
}

pub(crate) fn put_indexed_seq(db: &DB, seq: u64) -> Result<()> {
    db.put_cf(cf(db, CF_META)?, INDEXED_SEQ, seq.to_be_bytes())?;
    Ok(())
}
