//! Finding the RocksDB keys of matching exchanges, newest first, across partitions.

use std::collections::HashMap;
use std::ops::Bound;

use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::Term;
use tantivy::{DocAddress, Order, Searcher};

use super::IndexSet;
use crate::error::Result;
use crate::keys::{merged_order, HttpKey};

/// Extra hits fetched per partition so that documents with exactly the cursor's time are not
/// crowded out by those already returned.
const TIE_SLACK: usize = 64;

/// The fast columns that give a document's key back.
struct KeyColumns {
    class: Column<u64>,
    whisperer: Column<u64>,
    session: Column<u64>,
    index: Column<u64>,
}

impl KeyColumns {
    fn open(searcher: &Searcher, segment: u32) -> Result<Self> {
        let fast = searcher.segment_reader(segment).fast_fields();
        Ok(Self {
            class: fast.u64("class")?,
            whisperer: fast.u64("whisperer_hash")?,
            session: fast.u64("session")?,
            index: fast.u64("index")?,
        })
    }

    fn key(&self, time: i64, doc: u32) -> Option<HttpKey> {
        Some(HttpKey {
            class: u16::try_from(self.class.first(doc)?).ok()?,
            time,
            whisperer: self.whisperer.first(doc)?,
            session: self.session.first(doc)?,
            index: u32::try_from(self.index.first(doc)?).ok()?,
        })
    }
}

/// `query` restricted to request times in `[from, to)`.
pub(crate) fn in_time_range(
    query: &dyn Query,
    time: tantivy::schema::Field,
    from: i64,
    to: i64,
) -> BooleanQuery {
    let range = RangeQuery::new(
        Bound::Included(Term::from_field_i64(time, from)),
        Bound::Excluded(Term::from_field_i64(time, to)),
    );
    BooleanQuery::new(vec![
        (Occur::Must, Box::new(range) as Box<dyn Query>),
        (Occur::Must, query.box_clone()),
    ])
}

impl IndexSet {
    /// The keys of the documents matching `query` with a request time in `[from, to)`, newest
    /// first, strictly after `before` in that order (a cursor: the last key returned), at most
    /// `limit`.
    pub(crate) fn top_keys(
        &self,
        query: &dyn Query,
        from: i64,
        to: i64,
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<HttpKey>> {
        let mut to = to;
        if let Some(cursor) = before {
            if let Some((_, time)) = crate::keys::class_and_time(cursor) {
                to = to.min(time.saturating_add(1));
            }
        }
        if from >= to || limit == 0 {
            return Ok(Vec::new());
        }
        let bounded = in_time_range(query, self.fields().time, from, to);
        let collector =
            TopDocs::with_limit(limit + TIE_SLACK).order_by_fast_field::<i64>("time", Order::Desc);
        let mut found: Vec<(HttpKey, [u8; crate::keys::HTTP_KEY_LEN])> = Vec::new();
        let mut current_window = None;
        for (id, searcher) in self.overlapping(from, to) {
            if current_window != Some(id.window) {
                // Windows are visited newest first: once a window is done with `limit` keys,
                // older windows cannot hold newer ones.
                if found.len() >= limit {
                    break;
                }
                current_window = Some(id.window);
            }
            let hits: Vec<(Option<i64>, DocAddress)> = searcher.search(&bounded, &collector)?;
            let mut columns: HashMap<u32, KeyColumns> = HashMap::new();
            for (time, address) in hits {
                let Some(time) = time else { continue };
                let segment_columns = match columns.entry(address.segment_ord) {
                    std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::hash_map::Entry::Vacant(entry) => {
                        entry.insert(KeyColumns::open(&searcher, address.segment_ord)?)
                    }
                };
                let Some(key) = segment_columns.key(time, address.doc_id) else {
                    continue;
                };
                let encoded = key.encode();
                if before.is_some_and(|cursor| merged_order(&encoded, cursor).is_ge()) {
                    continue;
                }
                found.push((key, encoded));
            }
        }
        found.sort_by(|a, b| merged_order(&b.1, &a.1));
        found.dedup_by(|a, b| a.1 == b.1);
        found.truncate(limit);
        Ok(found.into_iter().map(|(key, _)| key).collect())
    }
}
