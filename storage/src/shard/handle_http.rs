//! HTTP exchanges: newest first, by time range, whisperers and a query.
//!
//! Without a query term the index can use, `http` is scanned in key order (always fresh). With
//! one, the index gives candidate keys newest first (as fresh as its last commit); records are
//! read from RocksDB and, when the translation is not exact, checked with `matches_in`.

use spider_model::HttpExchange;
use spider_query::{Origin, Query, RecordKind};
use tantivy::query::{BooleanQuery, Occur, TermQuery};
use tantivy::schema::{IndexRecordOption, Term};

use super::scan::{Direction, MergedScan, ScanSpec};
use super::Shard;
use crate::codec::{decode, Stored};
use crate::db::{cf, CF_HTTP};
use crate::error::{Result, StorageError};
use crate::index::{translate, Translation};
use crate::keys::name_hash;
use crate::types::{Cursor, HttpQuery, Page};

/// The most items one listing returns.
pub const MAX_LIMIT: usize = 10_000;

pub(crate) fn check_kind(query: Option<&Query>, kind: RecordKind) -> Result<()> {
    match query {
        Some(query) if query.kind != kind => Err(StorageError::InvalidRequest(format!(
            "a {} query cannot search {} records",
            query.kind, kind
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(StorageError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    Ok(limit)
}

impl Shard {
    pub fn query_http(&self, request: &HttpQuery) -> Result<Page<Stored<HttpExchange>>> {
        check_kind(request.query.as_ref(), RecordKind::Http)?;
        let limit = check_limit(request.limit)?;
        let mut items = Vec::new();
        let mut next = None;
        self.for_each_http(request, &mut |key, stored| {
            items.push(stored);
            if items.len() >= limit {
                next = Some(Cursor(key.to_vec()));
                return false;
            }
            true
        })?;
        Ok(Page { items, next })
    }

    /// Calls `visit` with each matching exchange, newest first, until it returns false.
    pub(crate) fn for_each_http(
        &self,
        request: &HttpQuery,
        visit: &mut dyn FnMut(&[u8], Stored<HttpExchange>) -> bool,
    ) -> Result<()> {
        let expr = request.query.as_ref().and_then(|q| q.expr.as_ref());
        let translation = expr.map(|expr| translate(self.index.fields(), expr));
        match translation {
            Some(translation) if !translation.query.is::<tantivy::query::AllQuery>() => {
                self.http_from_index(request, translation, visit)
            }
            _ => self.http_from_scan(request, visit),
        }
    }

    /// The whisperer restriction as a tantivy clause, with the query.
    pub(crate) fn with_whisperers(
        &self,
        whisperers: &[String],
        query: Box<dyn tantivy::query::Query>,
    ) -> Box<dyn tantivy::query::Query> {
        if whisperers.is_empty() {
            return query;
        }
        let field = self.index.fields().whisperer;
        let any: Vec<(Occur, Box<dyn tantivy::query::Query>)> = whisperers
            .iter()
            .map(|name| {
                let term = Term::from_field_text(field, &name.to_lowercase());
                (
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
                        as Box<dyn tantivy::query::Query>,
                )
            })
            .collect();
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::Must, Box::new(BooleanQuery::new(any))),
        ]))
    }

    fn http_from_index(
        &self,
        request: &HttpQuery,
        translation: Translation,
        visit: &mut dyn FnMut(&[u8], Stored<HttpExchange>) -> bool,
    ) -> Result<()> {
        let query = self.with_whisperers(&request.whisperers, translation.query.box_clone());
        let http = cf(&self.db, CF_HTTP)?;
        let page = request.limit.clamp(64, 1024);
        let mut cursor = request.cursor.as_ref().map(|c| c.0.clone());
        loop {
            let keys = self.index.top_keys(
                query.as_ref(),
                request.range.from,
                request.range.to,
                cursor.as_deref(),
                page,
            )?;
            let encoded: Vec<_> = keys.iter().map(|key| key.encode()).collect();
            let values = self
                .db
                .multi_get_cf(encoded.iter().map(|key| (http, key.as_slice())));
            for (key, value) in encoded.iter().zip(values) {
                // Gone from RocksDB (purged before its partition): skip.
                let Some(value) = value? else { continue };
                let stored: Stored<HttpExchange> = decode(CF_HTTP, "exchange", &value)?;
                if !request.whisperers.is_empty() && !request.whisperers.contains(&stored.whisperer)
                {
                    continue;
                }
                if !translation.exact && !self.http_matches(request.query.as_ref(), &stored) {
                    continue;
                }
                if !visit(key, stored) {
                    return Ok(());
                }
            }
            if keys.len() < page {
                return Ok(());
            }
            cursor = encoded.last().map(|key| key.to_vec());
        }
    }

    fn http_matches(&self, query: Option<&Query>, stored: &Stored<HttpExchange>) -> bool {
        query.is_none_or(|query| {
            let origin = Origin {
                whisperer: Some(&stored.whisperer),
            };
            spider_query::matches_in(query, &stored.record, origin)
        })
    }

    fn http_from_scan(
        &self,
        request: &HttpQuery,
        visit: &mut dyn FnMut(&[u8], Stored<HttpExchange>) -> bool,
    ) -> Result<()> {
        let http = cf(&self.db, CF_HTTP)?;
        let whisperers = (!request.whisperers.is_empty())
            .then(|| request.whisperers.iter().map(|w| name_hash(w)).collect());
        let mut scan = MergedScan::new(
            &self.db,
            http,
            ScanSpec {
                from: request.range.from,
                to: request.range.to,
                classes: self.classes.ids(),
                whisperers,
                cursor: request.cursor.as_ref().map(|c| c.0.as_slice()),
                direction: Direction::NewestFirst,
            },
        );
        while let Some((key, value)) = scan.next_entry()? {
            let stored: Stored<HttpExchange> = decode(CF_HTTP, "exchange", &value)?;
            if !request.whisperers.is_empty() && !request.whisperers.contains(&stored.whisperer) {
                continue;
            }
            if !self.http_matches(request.query.as_ref(), &stored) {
                continue;
            }
            if !visit(&key, stored) {
                break;
            }
        }
        Ok(())
    }
}
