//! The state of one direction: what it is reading, the bytes of an unfinished head or line, and
//! the events held while it waits for the other direction.

use std::collections::VecDeque;

use spider_model::EpochNanos;

use super::body::{BodySink, Framing};
use super::scan::{Candidate, EndScan};

/// What a direction is reading.
#[derive(Debug)]
pub(super) enum Mode {
    /// A head, gathered in `buf`.
    Head,
    /// A complete response head in `buf`, waiting for the request it answers.
    HeadReady,
    Body {
        framing: Framing,
        sink: Box<BodySink>,
    },
    /// Out of sync: searching for the next message start. `at_start` when the next byte begins
    /// a line.
    Resync { at_start: bool },
    /// After a request that asks to leave HTTP (Upgrade, CONNECT): later bytes wait for its
    /// response to tell whether they are HTTP.
    AwaitUpgrade,
    /// No more HTTP on this direction (protocol switched, or the direction ended).
    Closed,
}

/// An event held while the direction is blocked.
#[derive(Debug)]
pub(super) enum Queued {
    Data(EpochNanos, Vec<u8>),
    Gap(EpochNanos, u64),
    End(EpochNanos),
}

/// What feeding bytes to a head did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadFeed {
    /// All bytes were taken; the head is not complete.
    More(usize),
    /// The head is complete in `buf` after taking this many bytes.
    Complete(usize),
    /// The head exceeds the bound after taking this many bytes (those that fit).
    TooLong(usize),
}

#[derive(Debug)]
pub(super) struct Side {
    pub mode: Mode,
    /// An unfinished head, chunk-size line, trailer section or resynchronisation candidate.
    pub buf: Vec<u8>,
    pub scan: EndScan,
    /// Time of the first byte of the message being read.
    pub start: Option<EpochNanos>,
    /// Time of the last data seen.
    pub last: EpochNanos,
    /// Time the head in `buf` was completed.
    pub head_end: EpochNanos,
    pub queue: VecDeque<Queued>,
    pub queued_bytes: usize,
    /// The head being read was found by resynchronisation (a parse failure is then not reported).
    pub resynced: bool,
    pub ended: bool,
}

impl Side {
    pub(super) fn new() -> Self {
        Self {
            mode: Mode::Head,
            buf: Vec::new(),
            scan: EndScan::in_line(),
            start: None,
            last: 0,
            head_end: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            resynced: false,
            ended: false,
        }
    }

    pub(super) fn blocked(&self) -> bool {
        matches!(self.mode, Mode::HeadReady | Mode::AwaitUpgrade)
    }

    pub(super) fn enqueue(&mut self, event: Queued) {
        if let Queued::Data(_, bytes) = &event {
            self.queued_bytes += bytes.len();
        }
        self.queue.push_back(event);
    }

    pub(super) fn dequeue(&mut self) -> Option<Queued> {
        let event = self.queue.pop_front()?;
        if let Queued::Data(_, bytes) = &event {
            self.queued_bytes = self.queued_bytes.saturating_sub(bytes.len());
        }
        Some(event)
    }

    /// Puts back the unused tail of a dequeued data event.
    pub(super) fn requeue_front(&mut self, time: EpochNanos, mut bytes: Vec<u8>, used: usize) {
        bytes.drain(..used.min(bytes.len()));
        self.queued_bytes += bytes.len();
        self.queue.push_front(Queued::Data(time, bytes));
    }

    /// Starts reading a new message.
    pub(super) fn reset_head(&mut self) {
        self.mode = Mode::Head;
        self.buf.clear();
        self.start = None;
        self.resynced = false;
    }

    /// Loses sync: what is buffered is dropped (its bytes returned) and the search for the next
    /// message start begins.
    pub(super) fn desync(&mut self, at_start: bool) -> usize {
        let dropped = self.buf.len();
        self.mode = Mode::Resync { at_start };
        self.buf.clear();
        self.start = None;
        self.resynced = false;
        dropped
    }

    /// Takes head bytes from `input` (leading empty lines are skipped).
    pub(super) fn feed_head(&mut self, time: EpochNanos, input: &[u8], max: usize) -> HeadFeed {
        let mut skipped = 0;
        let mut input = input;
        if self.buf.is_empty() {
            skipped = input
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            input = input.get(skipped..).unwrap_or_default();
            if input.is_empty() {
                return HeadFeed::More(skipped);
            }
            self.scan = EndScan::in_line();
            if self.start.is_none() {
                self.start = Some(time);
            }
        }
        let end = self.scan.feed(input);
        let take = end.unwrap_or(input.len());
        let room = max.saturating_sub(self.buf.len());
        if take > room {
            self.buf
                .extend_from_slice(input.get(..room).unwrap_or_default());
            return HeadFeed::TooLong(skipped + room);
        }
        self.buf
            .extend_from_slice(input.get(..take).unwrap_or_default());
        match end {
            Some(_) => {
                self.head_end = time;
                HeadFeed::Complete(skipped + take)
            }
            None => HeadFeed::More(skipped + take),
        }
    }

    /// Searches `input` for the next message start; returns the bytes used and how many of them
    /// were skipped. The mode turns to `Head` when a start is found (the start itself is left
    /// in `input`, or kept in `buf` when it arrived in pieces).
    pub(super) fn resync(
        &mut self,
        time: EpochNanos,
        input: &[u8],
        max: usize,
        classify: fn(&[u8]) -> Candidate,
        anywhere: Option<u8>,
    ) -> (usize, u64) {
        let Mode::Resync { mut at_start } = self.mode else {
            return (0, 0);
        };
        self.mode = Mode::Resync { at_start: false };
        let mut skipped = 0_u64;
        let mut pos = 0;
        let mut first_search = true;
        if !self.buf.is_empty() {
            let rest = input.get(pos..).unwrap_or_default();
            let line = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let n = line.min(max.saturating_sub(self.buf.len()));
            let held = self.buf.len();
            self.buf
                .extend_from_slice(rest.get(..n).unwrap_or_default());
            pos += n;
            match classify(&self.buf) {
                Candidate::Yes => {
                    self.found(true);
                    return (pos, skipped);
                }
                Candidate::Partial { .. } if pos == input.len() && self.buf.len() < max => {
                    return (pos, skipped);
                }
                Candidate::Partial { .. } | Candidate::No => {
                    // Not a message start; one may still begin in the bytes the candidate took
                    // from `input` (a status line right after it): search them again, as if the
                    // candidate had arrived in the same call.
                    skipped += held as u64;
                    self.buf.clear();
                    self.start = None;
                    pos = 0;
                    at_start = false;
                }
            }
        }
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            // A message starts at a line start; a status line may also start right after a body
            // that had no line end of its own (`anywhere` is its first byte).
            let from = usize::from(!std::mem::take(&mut first_search));
            let begin = if std::mem::take(&mut at_start) {
                Some(0)
            } else {
                rest.iter()
                    .enumerate()
                    .skip(from)
                    .find_map(|(i, &b)| match b {
                        b'\n' => Some(i + 1),
                        _ if Some(b) == anywhere => Some(i),
                        _ => None,
                    })
            };
            let Some(begin) = begin else {
                skipped += rest.len() as u64;
                return (input.len(), skipped);
            };
            skipped += begin as u64;
            pos += begin;
            let Some(candidate) = input.get(pos..).filter(|c| !c.is_empty()) else {
                self.mode = Mode::Resync { at_start: true };
                return (input.len(), skipped);
            };
            match classify(candidate) {
                Candidate::Yes => {
                    self.found(false);
                    return (pos, skipped);
                }
                Candidate::Partial { .. } if candidate.len() < max => {
                    self.buf.extend_from_slice(candidate);
                    self.start = Some(time);
                    return (input.len(), skipped);
                }
                Candidate::Partial { .. } | Candidate::No => {}
            }
        }
    }

    fn found(&mut self, in_buf: bool) {
        self.mode = Mode::Head;
        self.resynced = true;
        if in_buf {
            self.scan = EndScan::in_line();
        } else {
            self.start = None;
        }
    }
}
