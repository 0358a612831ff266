//! TCP sessions: newest first by first packet, and one session by id.

use spider_model::TcpSessionRecord;
use spider_query::{Origin, RecordKind};

use super::handle_http::{check_kind, check_limit};
use super::scan::{Direction, MergedScan, ScanSpec};
use super::Shard;
use crate::codec::{decode, Stored};
use crate::db::{cf, CF_SESSIONS, CF_SESSION_IDS};
use crate::error::Result;
use crate::keys::{array, name_hash, session_id_key, session_key, time_from_be};
use crate::types::{Cursor, Page, SessionQuery};

impl Shard {
    /// Sessions whose first packet is in the range, newest first, filtered by a `tcp_session`
    /// query (evaluated on each record).
    pub fn query_sessions(&self, request: &SessionQuery) -> Result<Page<Stored<TcpSessionRecord>>> {
        check_kind(request.query.as_ref(), RecordKind::TcpSession)?;
        let limit = check_limit(request.limit)?;
        let sessions = cf(&self.db, CF_SESSIONS)?;
        let whisperers = (!request.whisperers.is_empty())
            .then(|| request.whisperers.iter().map(|w| name_hash(w)).collect());
        let mut scan = MergedScan::new(
            &self.db,
            sessions,
            ScanSpec {
                from: request.range.from,
                to: request.range.to,
                classes: self.classes.ids(),
                whisperers,
                cursor: request.cursor.as_ref().map(|c| c.0.as_slice()),
                direction: Direction::NewestFirst,
            },
        );
        let mut items = Vec::new();
        while let Some((key, value)) = scan.next_entry()? {
            let stored: Stored<TcpSessionRecord> = decode(CF_SESSIONS, "session", &value)?;
            if !request.whisperers.is_empty() && !request.whisperers.contains(&stored.whisperer) {
                continue;
            }
            let origin = Origin {
                whisperer: Some(&stored.whisperer),
            };
            if let Some(query) = &request.query {
                if !spider_query::matches_in(query, &stored.record, origin) {
                    continue;
                }
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

    /// The latest record of one session.
    pub fn session(
        &self,
        whisperer: &str,
        session_id: u64,
    ) -> Result<Option<Stored<TcpSessionRecord>>> {
        let hash = name_hash(whisperer);
        let ids = cf(&self.db, CF_SESSION_IDS)?;
        let Some(position) = self
            .db
            .get_pinned_cf(ids, session_id_key(hash, session_id))?
        else {
            return Ok(None);
        };
        let (Some(class), Some(time)) = (array::<2>(&position, 0), array::<8>(&position, 2)) else {
            return Ok(None);
        };
        let key = session_key(
            u16::from_be_bytes(class),
            time_from_be(time),
            hash,
            session_id,
        );
        let sessions = cf(&self.db, CF_SESSIONS)?;
        match self.db.get_pinned_cf(sessions, key)? {
            None => Ok(None),
            Some(value) => {
                let stored: Stored<TcpSessionRecord> = decode(CF_SESSIONS, "session", &value)?;
                Ok((stored.whisperer == whisperer).then_some(stored))
            }
        }
    }
}
