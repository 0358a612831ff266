//! DNS responses: newest first.

use spider_model::DnsRecord;

use super::handle_http::check_limit;
use super::scan::{Direction, MergedScan, ScanSpec};
use super::Shard;
use crate::codec::{decode, Stored};
use crate::db::{cf, CF_DNS};
use crate::error::Result;
use crate::keys::name_hash;
use crate::types::{Cursor, DnsQuery, Page};

impl Shard {
    pub fn query_dns(&self, request: &DnsQuery) -> Result<Page<Stored<DnsRecord>>> {
        let limit = check_limit(request.limit)?;
        let dns = cf(&self.db, CF_DNS)?;
        let whisperers = (!request.whisperers.is_empty())
            .then(|| request.whisperers.iter().map(|w| name_hash(w)).collect());
        let mut scan = MergedScan::new(
            &self.db,
            dns,
            ScanSpec {
                from: request.range.from,
                to: request.range.to,
                classes: self.classes.ids(),
                whisperers,
                cursor: request.cursor.as_ref().map(|c| c.0.as_slice()),
                direction: Direction::NewestFirst,
            },
        );
        let wanted = request.name.as_ref().map(|name| name.to_lowercase());
        let mut items = Vec::new();
        while let Some((key, value)) = scan.next_entry()? {
            let stored: Stored<DnsRecord> = decode(CF_DNS, "dns", &value)?;
            if !request.whisperers.is_empty() && !request.whisperers.contains(&stored.whisperer) {
                continue;
            }
            if wanted
                .as_ref()
                .is_some_and(|name| stored.record.name.to_lowercase() != *name)
            {
                continue;
            }
            items.push(stored);
            if items.len() >= limit {
                return Ok(Page {
                    items,
                    next: Some(Cursor(key)),
                });
            }
        }
        Ok(Page { items, next: None })
    }
}
