//! Scans of time-ordered column families across retention classes, merged into one time order,
//! newest first (listings) or oldest first (exports), resumable from a cursor (the last key).

use rocksdb::{ColumnFamily, DBRawIterator, DB};

use crate::error::Result;
use crate::keys::{class_and_time, merged_order, time_prefix, whisperer_of, CLASS_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    NewestFirst,
    OldestFirst,
}

/// What to scan: `[from, to)` by key time, these classes, optionally only these whisperers (by
/// hash), after `cursor` in the scan's order.
pub(crate) struct ScanSpec<'a> {
    pub from: i64,
    pub to: i64,
    pub classes: Vec<u16>,
    pub whisperers: Option<Vec<u64>>,
    pub cursor: Option<&'a [u8]>,
    pub direction: Direction,
}

struct Head<'a> {
    class: u16,
    iter: DBRawIterator<'a>,
    done: bool,
}

/// A merged scan; `next` gives `(key, value)` pairs.
pub(crate) struct MergedScan<'a> {
    heads: Vec<Head<'a>>,
    from: i64,
    to: i64,
    whisperers: Option<Vec<u64>>,
    direction: Direction,
}

impl<'a> MergedScan<'a> {
    pub fn new(db: &'a DB, cf: &'a ColumnFamily, spec: ScanSpec<'_>) -> Self {
        let mut heads = Vec::with_capacity(spec.classes.len());
        for class in spec.classes {
            let mut iter = db.raw_iterator_cf(cf);
            match spec.direction {
                Direction::NewestFirst => {
                    // The last key below `class · to`.
                    iter.seek_for_prev(time_prefix(class, spec.to));
                    if iter.valid()
                        && iter
                            .key()
                            .and_then(class_and_time)
                            .is_some_and(|(_, t)| t >= spec.to)
                    {
                        iter.prev();
                    }
                }
                Direction::OldestFirst => iter.seek(time_prefix(class, spec.from)),
            }
            if let Some(cursor) = spec.cursor {
                position_after_cursor(&mut iter, class, cursor, spec.direction);
            }
            heads.push(Head {
                class,
                iter,
                done: false,
            });
        }
        Self {
            heads,
            from: spec.from,
            to: spec.to,
            whisperers: spec.whisperers,
            direction: spec.direction,
        }
    }

    /// The next entry in the merged order, or `None` at the end of the range.
    pub fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            for head in &mut self.heads {
                if head.done {
                    continue;
                }
                let in_range = head.iter.valid()
                    && head
                        .iter
                        .key()
                        .and_then(class_and_time)
                        .is_some_and(|(class, time)| {
                            class == head.class && time >= self.from && time < self.to
                        });
                if !in_range {
                    head.iter.status()?;
                    head.done = true;
                }
            }
            let mut best: Option<usize> = None;
            for (index, head) in self.heads.iter().enumerate() {
                let Some(key) = head.iter.key().filter(|_| !head.done) else {
                    continue;
                };
                let better = match best
                    .and_then(|b| self.heads.get(b))
                    .and_then(|b| b.iter.key())
                {
                    None => true,
                    Some(best_key) => match self.direction {
                        Direction::NewestFirst => merged_order(key, best_key).is_gt(),
                        Direction::OldestFirst => merged_order(key, best_key).is_lt(),
                    },
                };
                if better {
                    best = Some(index);
                }
            }
            let Some(head) = best.and_then(|index| self.heads.get_mut(index)) else {
                return Ok(None);
            };
            let (Some(key), Some(value)) = (head.iter.key(), head.iter.value()) else {
                head.done = true;
                continue;
            };
            let entry = (key.to_vec(), value.to_vec());
            match self.direction {
                Direction::NewestFirst => head.iter.prev(),
                Direction::OldestFirst => head.iter.next(),
            }
            if let Some(wanted) = &self.whisperers {
                if !whisperer_of(&entry.0).is_some_and(|hash| wanted.contains(&hash)) {
                    continue;
                }
            }
            return Ok(Some(entry));
        }
    }
}

/// Moves `iter` (in `class`) to the first key strictly after `cursor` in the merged order.
fn position_after_cursor(
    iter: &mut DBRawIterator<'_>,
    class: u16,
    cursor: &[u8],
    direction: Direction,
) {
    let mut target = class.to_be_bytes().to_vec();
    target.extend_from_slice(cursor.get(CLASS_LEN..).unwrap_or(&[]));
    match direction {
        Direction::NewestFirst => {
            // Already before the cursor (a cursor past the range's end): nothing to skip.
            if iter.valid() && iter.key().is_some_and(|k| merged_order(k, cursor).is_lt()) {
                return;
            }
            // Keys of this class before the cursor: a smaller tail, or an equal tail in a
            // smaller class.
            iter.seek_for_prev(&target);
            while iter.valid() && iter.key().is_some_and(|k| merged_order(k, cursor).is_ge()) {
                iter.prev();
            }
        }
        Direction::OldestFirst => {
            iter.seek(&target);
            while iter.valid() && iter.key().is_some_and(|k| merged_order(k, cursor).is_le()) {
                iter.next();
            }
        }
    }
}
