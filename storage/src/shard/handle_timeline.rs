//! The timeline: exchanges per time bucket and status class.
//!
//! Counted on the index's fast fields when the query translates exactly (or there is none);
//! otherwise over the records the index proposes, checked with `matches_in`.

use spider_query::RecordKind;
use tantivy::query::{AllQuery, Query};

use super::handle_http::check_kind;
use super::Shard;
use crate::error::{Result, StorageError};
use crate::index::collect::{add_counts, class_slot, TimelineCollector};
use crate::index::search::in_time_range;
use crate::index::{translate, TimelineCounts};
use crate::types::{HttpQuery, StatusCounts, Timeline, TimelineBucket, TimelineRequest};

/// The most buckets one timeline has.
pub const MAX_BUCKETS: usize = 100_000;

impl Shard {
    pub fn timeline(&self, request: &TimelineRequest) -> Result<Timeline> {
        check_kind(request.query.as_ref(), RecordKind::Http)?;
        let range = request.range;
        if request.bucket_ns <= 0 || range.from >= range.to {
            return Err(StorageError::InvalidRequest(
                "a timeline needs a positive bucket and a non-empty range".into(),
            ));
        }
        let span = i128::from(range.to) - i128::from(range.from);
        let buckets = usize::try_from(
            (span + i128::from(request.bucket_ns) - 1) / i128::from(request.bucket_ns),
        )
        .ok()
        .filter(|n| *n <= MAX_BUCKETS)
        .ok_or_else(|| {
            StorageError::InvalidRequest(format!("a timeline has at most {MAX_BUCKETS} buckets"))
        })?;
        let expr = request.query.as_ref().and_then(|q| q.expr.as_ref());
        let translation = expr.map(|expr| translate(self.index.fields(), expr));
        let rollup = match translation {
            None => {
                self.timeline_from_rollup(range, request.bucket_ns, buckets, &request.whisperers)?
            }
            Some(_) => None,
        };
        let counts = match (rollup, translation) {
            (Some(counts), _) => counts,
            (None, Some(translation)) if !translation.exact => {
                self.timeline_by_records(request, buckets)?
            }
            (None, other) => {
                let query: Box<dyn Query> = other.map_or(Box::new(AllQuery), |t| t.query);
                let query = self.with_whisperers(&request.whisperers, query);
                let collector = TimelineCollector {
                    from: range.from,
                    bucket_ns: request.bucket_ns,
                    buckets,
                };
                let bounded = in_time_range(
                    query.as_ref(),
                    self.index.fields().time,
                    range.from,
                    range.to,
                );
                let mut total: TimelineCounts = vec![[0; 6]; buckets];
                for (_, searcher) in self.index.overlapping(range.from, range.to) {
                    add_counts(&mut total, &searcher.search(&bounded, &collector)?);
                }
                total
            }
        };
        Ok(Timeline {
            bucket_ns: request.bucket_ns,
            buckets: counts
                .into_iter()
                .enumerate()
                .map(|(index, slots)| TimelineBucket {
                    start: range
                        .from
                        .saturating_add((index as i64).saturating_mul(request.bucket_ns)),
                    counts: StatusCounts::from_slots(slots),
                })
                .collect(),
        })
    }

    fn timeline_by_records(
        &self,
        request: &TimelineRequest,
        buckets: usize,
    ) -> Result<TimelineCounts> {
        let mut counts: TimelineCounts = vec![[0; 6]; buckets];
        let query = HttpQuery {
            range: request.range,
            whisperers: request.whisperers.clone(),
            query: request.query.clone(),
            limit: usize::MAX,
            cursor: None,
        };
        self.for_each_http(&query, &mut |_, stored| {
            let offset = stored
                .record
                .timing
                .request_start
                .saturating_sub(request.range.from);
            if let Some(slot) = usize::try_from(offset / request.bucket_ns)
                .ok()
                .and_then(|bucket| counts.get_mut(bucket))
            {
                slot[class_slot(stored.record.status.map(u64::from))] += 1;
            }
            true
        })?;
        Ok(counts)
    }
}
