//! Paging over shards: each shard's newest records (following its own pages), merged newest
//! first, cut at the limit, with a cursor of (time, records of that time already returned).

use spider_model::{DnsRecord, HttpExchange, PacketRecord, TcpSessionRecord};
use spider_rpc_schema::query_capnp::record_query;
use spider_storage::{Cursor, Page, ShardRequest, ShardResponse, Stored, TimeRange};

use super::failed;

/// Items per page when the query names no limit, and the most a page holds.
pub(super) const DEFAULT_LIMIT: usize = 100;
pub(super) const MAX_LIMIT: usize = 1000;

/// Where a page ends: the time of its last item, and how many items of that same time it held
/// (items of one time are ordered by whisperer, session and index, so they can be skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageEnd {
    pub time: i64,
    pub seen_at_time: u32,
}

impl PageEnd {
    pub(super) fn encode(self) -> Vec<u8> {
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&self.seen_at_time.to_be_bytes());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, capnp::Error> {
        let time = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
        let seen = bytes.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok());
        match (time, seen, bytes.len()) {
            (Some(time), Some(seen), 12) => Ok(Self {
                time: i64::from_be_bytes(time),
                seen_at_time: u32::from_be_bytes(seen),
            }),
            _ => Err(failed("invalid cursor")),
        }
    }
}

/// A record listed newest first: its time, and what orders records of the same time.
pub(super) trait Listed {
    fn time(&self) -> i64;
    fn tie(&self) -> (&str, u64, u32);
}

impl Listed for Stored<HttpExchange> {
    fn time(&self) -> i64 {
        self.record.timing.request_start
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, self.record.session_id, self.record.index)
    }
}

impl Listed for Stored<TcpSessionRecord> {
    fn time(&self) -> i64 {
        self.record.first_packet
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, self.record.id, 0)
    }
}

impl Listed for PacketRecord {
    fn time(&self) -> i64 {
        self.time
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, self.session_id, 0)
    }
}

impl Listed for Stored<DnsRecord> {
    fn time(&self) -> i64 {
        self.record.time
    }
    fn tie(&self) -> (&str, u64, u32) {
        (&self.whisperer, u64::from(self.record.id), 0)
    }
}

pub(super) fn newest_first<T: Listed>(a: &T, b: &T) -> std::cmp::Ordering {
    (std::cmp::Reverse(a.time()), a.tie()).cmp(&(std::cmp::Reverse(b.time()), b.tie()))
}

/// The window of one page: the range narrowed to the previous page's end, how many records to
/// ask each shard for, and how many the page holds.
pub(super) struct Window {
    pub range: TimeRange,
    pub shard_limit: usize,
    pub limit: usize,
    pub end: Option<PageEnd>,
    /// The page size asked for was above the cap.
    pub clamped: bool,
}

pub(super) fn window(query: record_query::Reader<'_>) -> Result<Window, capnp::Error> {
    let range = query.get_range()?;
    let asked = query.get_limit() as usize;
    let limit = match asked {
        0 => DEFAULT_LIMIT,
        limit => limit.min(MAX_LIMIT),
    };
    let end = if query.has_cursor() {
        Some(PageEnd::decode(query.get_cursor()?)?)
    } else {
        None
    };
    let to = match end {
        Some(end) => range.get_to().min(end.time.saturating_add(1)),
        None => range.get_to(),
    };
    Ok(Window {
        range: TimeRange {
            from: range.get_from(),
            to,
        },
        shard_limit: limit + end.map_or(0, |end| end.seen_at_time as usize),
        limit,
        end,
        clamped: asked > MAX_LIMIT,
    })
}

/// One page of the merge of every shard's newest records: sorted, the previous pages' records of
/// the boundary time skipped, cut at the limit, with the cursor of the next page.
pub(super) struct Merged<T> {
    pub items: Vec<T>,
    pub next: Option<PageEnd>,
    pub missing_local: Vec<usize>,
}

pub(super) fn merge<T: Listed>(
    answers: Vec<Result<(Vec<T>, bool), ShardFailure>>,
    window: &Window,
) -> Result<Merged<T>, capnp::Error> {
    let mut items = Vec::new();
    let mut missing_local = Vec::new();
    let mut shard_has_more = false;
    for (local, answer) in answers.into_iter().enumerate() {
        match answer {
            Ok((found, more)) => {
                items.extend(found);
                shard_has_more |= more;
            }
            Err(ShardFailure::Storage(error)) => return Err(failed(error)),
            Err(ShardFailure::Gone) => missing_local.push(local),
        }
    }
    items.sort_by(newest_first);
    if let Some(end) = window.end {
        let mut skipped = 0;
        items.retain(|item| {
            let skip = item.time() == end.time && skipped < end.seen_at_time;
            skipped += u32::from(skip);
            !skip
        });
    }
    let more = items.len() > window.limit || shard_has_more;
    items.truncate(window.limit);
    let next = match items.last() {
        Some(last) if more => {
            let time = last.time();
            let at_time = items.iter().filter(|item| item.time() == time).count() as u32;
            let carried = window
                .end
                .filter(|end| end.time == time)
                .map_or(0, |end| end.seen_at_time);
            Some(PageEnd {
                time,
                seen_at_time: at_time + carried,
            })
        }
        _ => None,
    };
    Ok(Merged {
        items,
        next,
        missing_local,
    })
}

/// The virtual shards that the local shards in `missing_local` serve.
pub(super) fn virtual_missing(missing_local: &[usize], local_shards: usize) -> Vec<u16> {
    (0..spider_rpc_schema::VIRTUAL_SHARDS)
        .filter(|v| missing_local.contains(&(usize::from(*v) % local_shards.max(1))))
        .collect()
}

pub(super) enum ShardFailure {
    Storage(spider_storage::StorageError),
    /// The shard did not answer (its actor is gone): the page says so instead of failing.
    Gone,
}

/// A shard's newest `wanted` matching records, following its own pages (a shard may return a
/// short page, filters applied after the scan, with more behind it) and whole groups of the same
/// time past `wanted`; and whether it has more.
pub(super) async fn newest_of_shard<T: Listed>(
    shard: &actix::Addr<spider_storage::ShardActor>,
    wanted: usize,
    request: impl Fn(Option<Cursor>) -> ShardRequest,
    page_of: impl Fn(ShardResponse) -> Option<Page<T>>,
) -> Result<(Vec<T>, bool), ShardFailure> {
    let mut found: Vec<T> = Vec::new();
    let mut cursor = None;
    loop {
        let page = match shard.send(request(cursor.take())).await {
            Ok(Ok(response)) => page_of(response).ok_or(ShardFailure::Gone)?,
            Ok(Err(error)) => return Err(ShardFailure::Storage(error)),
            Err(_) => return Err(ShardFailure::Gone),
        };
        found.extend(page.items);
        let boundary = found.get(wanted.saturating_sub(1)).map(Listed::time);
        let group_open = boundary.is_some_and(|time| found.last().map(Listed::time) == Some(time));
        match page.next {
            Some(next) if found.len() < wanted || group_open => cursor = Some(next),
            next => return Ok((found, next.is_some())),
        }
    }
}

/// Writes a merged listing into a page builder (`next`, items with their whisperer, missing
/// shards); `$write` writes one record.
macro_rules! write_page {
    ($page:expr, $merged:expr, $local_shards:expr, $write:path) => {{
        let mut page = $page;
        let merged = $merged;
        if let Some(next) = merged.next {
            page.set_next(&next.encode());
        }
        let mut list = page
            .reborrow()
            .init_items(u32::try_from(merged.items.len()).map_err(failed)?);
        for (index, item) in (0..).zip(&merged.items) {
            let mut builder = list.reborrow().get(index);
            $write(builder.reborrow(), &item.record).map_err(failed)?;
            builder.set_whisperer(&item.whisperer);
        }
        let missing = virtual_missing(&merged.missing_local, $local_shards);
        let mut list = page.init_missing_shards(u32::try_from(missing.len()).map_err(failed)?);
        for (index, shard) in (0..).zip(missing) {
            list.set(index, shard);
        }
    }};
}
pub(super) use write_page;
