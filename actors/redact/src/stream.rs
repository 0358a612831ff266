//! One direction of a TCP session: where each segment's bytes lie in the stream, what was masked
//! where (so a retransmission is masked as the original was), and holes.
//!
//! - A segment that continues the stream is scanned ([`HttpRedactor`]).
//! - Bytes already scanned (a retransmission, an overlap) get the masks recorded for them; bytes
//!   older than what is remembered, or before the first byte seen, are masked whole.
//! - A segment past a hole: when the scanner can step over the hole without its bytes (inside a
//!   body it does not scan, or while hunting) it does, and remembers whether the hole's bytes must
//!   be masked when they come; otherwise the segment's payload is masked whole (its frame is
//!   stored now) and a copy is held until the hole is filled, then scanned to know where the
//!   stream is. A hole not filled within [`HOLD_NS`] of capture time or [`MAX_HELD`] bytes is
//!   lost: the scanner hunts from the held bytes on.

use std::collections::{BTreeMap, VecDeque};

use crate::http::{HttpRedactor, SessionLink};
use crate::out::{Run, MASK};
use crate::rules::Rules;

/// Masked runs remembered per direction, for retransmissions.
const MAX_RUNS: usize = 4096;
/// Retransmissions from further back than this are masked whole.
const HISTORY_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes held past a hole before it is given up.
pub const MAX_HELD: usize = 256 * 1024;
/// Capture time a hole may stay open before it is given up.
pub const HOLD_NS: i64 = 3_000_000_000;

/// Where a segment's first byte lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// At or before the next byte to scan.
    InOrder,
    /// Past a hole.
    Ahead,
}

/// What happened to a segment's bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub masked: u64,
    /// Masked whole for want of knowing what the bytes are.
    pub whole: bool,
}

/// The masks written into one direction, by stream offset.
#[derive(Debug, Default)]
struct History {
    runs: VecDeque<Run>,
    /// Offsets below this are not remembered.
    floor: u64,
}

impl History {
    fn push(&mut self, run: Run, now: u64) {
        match self.runs.back_mut() {
            Some(last) if last.byte == run.byte && last.end() == run.start => last.len += run.len,
            _ => self.runs.push_back(run),
        }
        while self.runs.len() > MAX_RUNS
            || self
                .runs
                .front()
                .is_some_and(|run| run.end() + HISTORY_BYTES < now)
        {
            if let Some(old) = self.runs.pop_front() {
                self.floor = self.floor.max(old.end());
            }
        }
    }

    /// Writes the masks of `[start, start + buf.len())` into `buf`; returns bytes masked.
    fn apply(&self, start: i64, buf: &mut [u8]) -> u64 {
        let end = start + buf.len() as i64;
        let known = (self.floor as i64).clamp(start, end);
        let unknown = (known - start) as usize;
        buf[..unknown].fill(MASK);
        let mut masked = unknown as u64;
        let from = known as u64;
        let first = self.runs.partition_point(|run| run.end() <= from);
        for run in self.runs.range(first..) {
            if run.start as i64 >= end {
                break;
            }
            let a = (run.start as i64).max(known);
            let b = (run.end() as i64).min(end);
            if a < b {
                buf[(a - start) as usize..(b - start) as usize].fill(run.byte);
                masked += (b - a) as u64;
            }
        }
        masked
    }
}

/// One direction of a session.
#[derive(Debug)]
pub(crate) struct Direction {
    anchored: bool,
    /// The sequence number of the next byte to scan, and its stream offset.
    next: u32,
    offset: u64,
    http: HttpRedactor,
    history: History,
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    held_since: Option<i64>,
}

impl Direction {
    pub fn new() -> Self {
        Self {
            anchored: false,
            next: 0,
            offset: 0,
            http: HttpRedactor::new(false),
            history: History::default(),
            held: BTreeMap::new(),
            held_bytes: 0,
            held_since: None,
        }
    }

    pub fn is_anchored(&self) -> bool {
        self.anchored
    }

    /// The SYN: the stream starts at `seq + 1`, its first byte will be seen.
    pub fn syn(&mut self, seq: u32) {
        if !self.anchored {
            self.anchored = true;
            self.next = seq.wrapping_add(1);
            self.http = HttpRedactor::new(true);
        }
    }

    /// The stream is joined at `seq`, somewhere in its middle.
    pub fn join(&mut self, seq: u32) {
        if !self.anchored {
            self.anchored = true;
            self.next = seq;
        }
    }

    /// Stream offset of `seq` (negative: before the first byte known).
    fn offset_of(&self, seq: u32) -> i64 {
        self.offset as i64 + i64::from(seq.wrapping_sub(self.next) as i32)
    }

    pub fn place(&self, seq: u32) -> Place {
        if self.offset_of(seq) > self.offset as i64 {
            Place::Ahead
        } else {
            Place::InOrder
        }
    }

    /// A segment at or before the next byte: old bytes as they were masked, new ones scanned.
    pub fn in_order(
        &mut self,
        rules: &Rules,
        seq: u32,
        payload: &mut [u8],
        link: &mut SessionLink,
    ) -> Applied {
        let start = self.offset_of(seq);
        let applied = self.at(rules, start, payload, link);
        self.drain_held(rules, link);
        applied
    }

    fn at(
        &mut self,
        rules: &Rules,
        start: i64,
        payload: &mut [u8],
        link: &mut SessionLink,
    ) -> Applied {
        let end = start + payload.len() as i64;
        let old = (end.min(self.offset as i64) - start).max(0) as usize;
        let mut applied = Applied::default();
        if old > 0 {
            applied.masked += self.history.apply(start, &mut payload[..old]);
            applied.whole = start < self.history.floor as i64;
        }
        if old < payload.len() {
            applied.masked += self.scan(rules, &mut payload[old..], link);
        }
        applied
    }

    fn scan(&mut self, rules: &Rules, bytes: &mut [u8], link: &mut SessionLink) -> u64 {
        self.http.redact(rules, bytes, link);
        let mut masked = 0;
        let base = self.offset;
        let end = base + bytes.len() as u64;
        for run in self.http.runs() {
            masked += run.len;
            let run = Run {
                start: base + run.start,
                ..*run
            };
            self.history.push(run, end);
        }
        self.advance(bytes.len() as u64);
        masked
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        self.next = self.next.wrapping_add(n as u32);
    }

    /// Steps over a hole of `n` bytes if the scanner can.
    fn step_over(&mut self, n: u64) -> bool {
        match self.http.skip(n) {
            None => false,
            Some(mask) => {
                if mask {
                    let run = Run {
                        start: self.offset,
                        len: n,
                        byte: MASK,
                    };
                    self.history.push(run, self.offset + n);
                }
                self.advance(n);
                true
            }
        }
    }

    /// A segment still past a hole once the batch is in: stepped over to, or held.
    pub fn ahead(
        &mut self,
        rules: &Rules,
        seq: u32,
        payload: &mut [u8],
        link: &mut SessionLink,
        time: i64,
    ) -> Applied {
        let start = self.offset_of(seq);
        let gap = (start - self.offset as i64) as u64;
        if self.held.is_empty() && self.step_over(gap) {
            return self.in_order(rules, seq, payload, link);
        }
        let start = start as u64;
        let longer = self
            .held
            .get(&start)
            .is_none_or(|held| held.len() < payload.len());
        if longer {
            if let Some(old) = self.held.insert(start, payload.to_vec()) {
                self.held_bytes -= old.len();
            }
            self.held_bytes += payload.len();
        }
        self.held_since.get_or_insert(time);
        payload.fill(MASK);
        if self.held_bytes > MAX_HELD {
            self.give_up(rules, link);
        }
        Applied {
            masked: payload.len() as u64,
            whole: true,
        }
    }

    /// Scans held bytes the stream has reached (their frames were stored masked whole).
    fn drain_held(&mut self, rules: &Rules, link: &mut SessionLink) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > self.offset {
                break;
            }
            let (start, mut bytes) = entry.remove_entry();
            self.held_bytes -= bytes.len();
            self.at(rules, start as i64, &mut bytes, link);
        }
        if self.held.is_empty() {
            self.held_since = None;
        }
    }

    /// Gives the hole up when it has been open too long.
    pub fn expire(&mut self, rules: &Rules, link: &mut SessionLink, now: i64) {
        if self
            .held_since
            .is_some_and(|since| now.saturating_sub(since) > HOLD_NS)
        {
            self.give_up(rules, link);
        }
    }

    /// The bytes of the hole are lost: hunt through what is held.
    fn give_up(&mut self, rules: &Rules, link: &mut SessionLink) {
        self.http.lose();
        for (start, mut bytes) in std::mem::take(&mut self.held) {
            if start > self.offset {
                let gap = start - self.offset;
                if !self.step_over(gap) {
                    // Unreachable while hunting or opaque; stay safe regardless.
                    self.http.lose();
                    let _stepped = self.step_over(gap);
                }
            }
            self.at(rules, start as i64, &mut bytes, link);
        }
        self.held_bytes = 0;
        self.held_since = None;
    }
}

/// Both directions of a session and what they share.
#[derive(Debug)]
pub(crate) struct Session {
    /// The client's direction, then the server's.
    pub dirs: [Direction; 2],
    pub link: SessionLink,
    pub last_seen: i64,
}

impl Session {
    pub fn new() -> Self {
        Self {
            dirs: [Direction::new(), Direction::new()],
            link: SessionLink::default(),
            last_seen: i64::MIN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    const REQUEST: &[u8] = b"GET /a?token=abc HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\n\r\n";

    fn masked_whole(bytes: &[u8]) -> Vec<u8> {
        let rules = Rules::new(&RuleSet::default());
        let mut dir = Direction::new();
        dir.syn(99);
        let mut link = SessionLink::default();
        let mut copy = bytes.to_vec();
        dir.in_order(&rules, 100, &mut copy, &mut link);
        copy
    }

    #[test]
    fn retransmissions_get_the_same_masks() {
        let rules = Rules::new(&RuleSet::default());
        let mut dir = Direction::new();
        dir.syn(99);
        let mut link = SessionLink::default();
        let mut first = REQUEST.to_vec();
        dir.in_order(&rules, 100, &mut first, &mut link);
        assert_eq!(first, masked_whole(REQUEST));
        let mut again = REQUEST[10..40].to_vec();
        assert_eq!(dir.place(110), Place::InOrder);
        dir.in_order(&rules, 110, &mut again, &mut link);
        assert_eq!(again, first[10..40]);
        // Before the first byte of the stream: unknown, masked.
        let mut early = b"xy".to_vec();
        let applied = dir.in_order(&rules, 98, &mut early, &mut link);
        assert!(applied.whole);
        assert_eq!(early, b"**");
    }

    #[test]
    fn a_hole_in_the_head_is_held_then_scanned() {
        let rules = Rules::new(&RuleSet::default());
        let mut dir = Direction::new();
        dir.syn(99);
        let mut link = SessionLink::default();
        let (a, b) = REQUEST.split_at(30);
        let mut late = b.to_vec();
        assert_eq!(dir.place(130), Place::Ahead);
        let applied = dir.ahead(&rules, 130, &mut late, &mut link, 0);
        assert!(applied.whole);
        assert!(late.iter().all(|b| *b == MASK));
        let mut early = a.to_vec();
        dir.in_order(&rules, 100, &mut early, &mut link);
        assert_eq!(early, masked_whole(REQUEST)[..30]);
        // The held bytes were scanned: a retransmission of them is masked precisely.
        let mut again = b.to_vec();
        dir.in_order(&rules, 130, &mut again, &mut link);
        assert_eq!(again, masked_whole(REQUEST)[30..]);
    }

    #[test]
    fn a_hole_in_an_opaque_body_is_stepped_over() {
        let rules = Rules::new(&RuleSet::default());
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        let mut stream = head.to_vec();
        stream.extend_from_slice(b"0123456789HTTP/1.1 200 OK\r\nSet-Cookie: k=v\r\n\r\n");
        let mut dir = Direction::new();
        dir.syn(0);
        let mut link = SessionLink::default();
        let cut = head.len() + 4;
        let mut first = stream[..head.len()].to_vec();
        dir.in_order(&rules, 1, &mut first, &mut link);
        let mut rest = stream[cut..].to_vec();
        let applied = dir.ahead(&rules, 1 + cut as u32, &mut rest, &mut link, 0);
        assert!(!applied.whole);
        assert!(rest.ends_with(b"Set-Cookie: ***\r\n\r\n"));
        let mut hole = stream[head.len()..cut].to_vec();
        dir.in_order(&rules, 1 + head.len() as u32, &mut hole, &mut link);
        assert_eq!(hole, b"0123");
    }

    #[test]
    fn a_hole_never_filled_is_given_up() {
        let rules = Rules::new(&RuleSet::default());
        let mut dir = Direction::new();
        dir.syn(99);
        let mut link = SessionLink::default();
        let mut head = b"GET / HTTP/1.1\r\nX-A".to_vec();
        dir.in_order(&rules, 100, &mut head, &mut link);
        let mut late = b"ut: 1\r\n\r\nGET /b HTTP/1.1\r\nCookie: c=d\r\n\r\n".to_vec();
        let at = 100 + head.len() as u32 + 5;
        dir.ahead(&rules, at, &mut late, &mut link, 0);
        dir.expire(&rules, &mut link, HOLD_NS + 1);
        let mut next = b"GET /c HTTP/1.1\r\nCookie: e=f\r\n\r\n".to_vec();
        dir.in_order(&rules, at + late.len() as u32, &mut next, &mut link);
        assert_eq!(next, b"GET /c HTTP/1.1\r\nCookie: ***\r\n\r\n");
        // The lost bytes, if they come after all, are masked.
        let mut lost = b"-Auth".to_vec();
        dir.in_order(&rules, at - 5, &mut lost, &mut link);
        assert_eq!(lost, b"*****");
    }
}
