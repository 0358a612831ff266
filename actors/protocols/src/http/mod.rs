//! HTTP/1.0 and HTTP/1.1: the [`HttpParser`] that turns one TCP session's two byte streams into
//! [`HttpExchange`](spider_model::HttpExchange) records, and the request-line test used for
//! protocol detection.
//!
//! This module owns message framing (Content-Length, chunked, close-delimited), pairing of
//! responses with requests (keep-alive, pipelining, interim `1xx`), body capture and content
//! decoding within [`ParserLimits`], and recovery from capture gaps. Chunked trailers are appended
//! to the message's headers, after the head's own.
//!
//! Memory per session stays bounded: heads and lines up to `max_head_bytes`, bodies kept up to
//! `max_body_bytes` (the rest is counted, not stored), responses held while their request is
//! late up to `max_head_bytes + max_body_bytes`, and at most `max_pending_requests` unanswered
//! requests.

mod body;
mod decode;
mod exchange;
mod head;
mod inflate;
mod query;
mod request;
mod response;
mod scan;
mod side;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use spider_model::EpochNanos;

use self::exchange::{body_len, RespState, ResponsePart, Slot};
use self::side::{Mode, Queued, Side};
use crate::{Direction, ParsedMessage, ParserLimits, Protocol, StreamContext, StreamParser};

pub use self::scan::looks_like_request;

/// Counters of one parser, for telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpParserStats {
    /// Exchanges emitted.
    pub exchanges: u64,
    /// Responses dropped because their request was not seen.
    pub orphan_responses: u64,
    /// Capture gaps reported by the caller.
    pub gaps: u64,
    /// Times a direction lost sync and searched for the next message start.
    pub resyncs: u64,
    /// Bytes dropped while out of sync (or after a direction ended).
    pub bytes_skipped: u64,
    /// Bodies whose kept data is shorter than the decoded body (bound, loss or decoding stop).
    pub bodies_truncated: u64,
    /// Bodies whose content encoding failed to decode.
    pub decode_errors: u64,
    /// Bytes after a protocol switch (`101`, `CONNECT` tunnel), ignored.
    pub bytes_after_upgrade: u64,
}

/// Parser of one HTTP/1.x session.
#[derive(Debug)]
pub struct HttpParser {
    ctx: StreamContext,
    limits: ParserLimits,
    req: Side,
    resp: Side,
    /// Requests whose exchange is not emitted yet, oldest first.
    pending: VecDeque<Slot>,
    /// The response being parsed.
    response: Option<ResponsePart>,
    /// Responses parsed before their request head, waiting for it.
    early: VecDeque<ResponsePart>,
    /// Responses still to come for requests emitted unanswered (pipelining bound).
    skip_responses: u64,
    /// The response direction lost sync since its last head.
    resp_lost_sync: bool,
    next_index: u32,
    upgraded: bool,
    finishing: bool,
    finished: bool,
    stats: HttpParserStats,
}

/// A call of the trait, applied now or held in a direction's queue.
#[derive(Debug, Clone, Copy)]
enum Event<'a> {
    Data(EpochNanos, &'a [u8]),
    Gap(EpochNanos, u64),
    End(EpochNanos),
}

impl HttpParser {
    pub fn new(ctx: StreamContext, limits: ParserLimits) -> Self {
        Self {
            ctx,
            limits,
            req: Side::new(),
            resp: Side::new(),
            pending: VecDeque::new(),
            response: None,
            early: VecDeque::new(),
            skip_responses: 0,
            resp_lost_sync: false,
            next_index: 0,
            upgraded: false,
            finishing: false,
            finished: false,
            stats: HttpParserStats::default(),
        }
    }

    pub fn stats(&self) -> HttpParserStats {
        self.stats
    }

    /// Bytes a direction may hold while it waits for the other one.
    fn wait_bound(&self) -> usize {
        self.limits
            .max_head_bytes
            .saturating_add(self.limits.max_body_bytes)
    }

    fn side_mut(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        }
    }

    fn event(&mut self, dir: Direction, event: Event<'_>, out: &mut Vec<ParsedMessage>) {
        if self.finished {
            return;
        }
        let side = self.side_mut(dir);
        if side.blocked() || !side.queue.is_empty() {
            side.enqueue(match event {
                Event::Data(time, bytes) => Queued::Data(time, bytes.to_vec()),
                Event::Gap(time, len) => Queued::Gap(time, len),
                Event::End(time) => Queued::End(time),
            });
        } else {
            let used = self.apply(dir, event, out);
            if let Event::Data(time, bytes) = event {
                if let Some(rest) = bytes.get(used..).filter(|rest| !rest.is_empty()) {
                    self.side_mut(dir)
                        .enqueue(Queued::Data(time, rest.to_vec()));
                }
            }
        }
        self.pump(out);
    }

    /// Applies an event to an unblocked direction; for data, returns the bytes used (fewer when
    /// the direction became blocked).
    fn apply(&mut self, dir: Direction, event: Event<'_>, out: &mut Vec<ParsedMessage>) -> usize {
        match (dir, event) {
            (Direction::ToServer, Event::Data(time, bytes)) => self.request_data(time, bytes, out),
            (Direction::ToClient, Event::Data(time, bytes)) => self.response_data(time, bytes, out),
            (Direction::ToServer, Event::Gap(time, len)) => {
                self.stats.gaps += u64::from(len > 0);
                self.request_gap(time, len, out);
                0
            }
            (Direction::ToClient, Event::Gap(time, len)) => {
                self.stats.gaps += u64::from(len > 0);
                self.response_gap(time, len, out);
                0
            }
            (Direction::ToServer, Event::End(_)) => {
                self.request_end(out);
                0
            }
            (Direction::ToClient, Event::End(_)) => {
                self.response_end(true, out);
                0
            }
        }
    }

    /// Runs held events until neither direction can progress.
    fn pump(&mut self, out: &mut Vec<ParsedMessage>) {
        loop {
            let mut progressed = false;
            if matches!(self.resp.mode, Mode::HeadReady) {
                let force = self.resp.queued_bytes + self.resp.buf.len() > self.wait_bound();
                progressed |= self.response_head(force, out);
            }
            if matches!(self.req.mode, Mode::AwaitUpgrade)
                && (self.finishing || self.req.queued_bytes > self.wait_bound())
            {
                self.req.reset_head();
                progressed = true;
            }
            progressed |= self.drain(Direction::ToServer, out);
            progressed |= self.drain(Direction::ToClient, out);
            if !progressed {
                return;
            }
        }
    }

    fn drain(&mut self, dir: Direction, out: &mut Vec<ParsedMessage>) -> bool {
        let mut progressed = false;
        while !self.side_mut(dir).blocked() {
            let Some(event) = self.side_mut(dir).dequeue() else {
                break;
            };
            progressed = true;
            match event {
                Queued::Data(time, bytes) => {
                    let used = self.apply(dir, Event::Data(time, &bytes), out);
                    if used < bytes.len() {
                        self.side_mut(dir).requeue_front(time, bytes, used);
                    }
                }
                Queued::Gap(time, len) => {
                    self.apply(dir, Event::Gap(time, len), out);
                }
                Queued::End(time) => {
                    self.apply(dir, Event::End(time), out);
                }
            }
        }
        progressed
    }

    /// Bytes of a closed direction: after a protocol switch, or after its end.
    fn closed_bytes(&mut self, len: usize) {
        if self.upgraded {
            self.stats.bytes_after_upgrade += len as u64;
        } else {
            self.stats.bytes_skipped += len as u64;
        }
    }

    /// The session left HTTP (`101`, or a `CONNECT` tunnel): nothing more is parsed.
    fn switch_protocols(&mut self) {
        self.upgraded = true;
        self.resp.mode = Mode::Closed;
        if !matches!(self.req.mode, Mode::Body { .. }) {
            let held = self.req.buf.len() + self.req.queued_bytes;
            self.stats.bytes_after_upgrade += held as u64;
            self.req.buf.clear();
            self.req.queue.clear();
            self.req.queued_bytes = 0;
            self.req.mode = Mode::Closed;
        }
    }

    /// Emits the exchanges at the front that are complete, in order.
    fn emit_ready(&mut self, out: &mut Vec<ParsedMessage>) {
        while self
            .pending
            .front()
            .is_some_and(|slot| slot.req_done && slot.resp == RespState::Done)
        {
            if let Some(slot) = self.pending.pop_front() {
                self.emit(slot, out);
            }
        }
    }

    fn emit(&mut self, slot: Slot, out: &mut Vec<ParsedMessage>) {
        self.stats.exchanges += 1;
        out.push(ParsedMessage::Http(Box::new(slot.into_exchange())));
    }

    fn drop_early(&mut self) {
        self.stats.orphan_responses += self.early.len() as u64;
        self.early.clear();
    }
}

impl StreamParser for HttpParser {
    fn protocol(&self) -> Protocol {
        Protocol::Http1
    }

    fn data(
        &mut self,
        dir: Direction,
        time: EpochNanos,
        bytes: &[u8],
        out: &mut Vec<ParsedMessage>,
    ) {
        if !bytes.is_empty() {
            self.event(dir, Event::Data(time, bytes), out);
        }
    }

    /// A zero-length gap says that the data after it may not start at a message boundary (the
    /// stream's beginning was not seen): a direction waiting for a head then resynchronises.
    fn gap(&mut self, dir: Direction, time: EpochNanos, len: u64, out: &mut Vec<ParsedMessage>) {
        self.event(dir, Event::Gap(time, len), out);
    }

    fn end(&mut self, dir: Direction, time: EpochNanos, out: &mut Vec<ParsedMessage>) {
        self.event(dir, Event::End(time), out);
    }

    fn finish(&mut self, _time: EpochNanos, out: &mut Vec<ParsedMessage>) {
        if self.finished {
            return;
        }
        self.finishing = true;
        self.pump(out);
        if !self.req.ended {
            self.request_end(out);
        }
        self.pump(out);
        if !self.resp.ended {
            self.response_end(false, out);
        }
        self.drop_early();
        while let Some(slot) = self.pending.pop_front() {
            self.emit(slot, out);
        }
        self.finished = true;
    }

    fn buffered_bytes(&self) -> usize {
        let sink = |side: &Side| match &side.mode {
            Mode::Body { sink, .. } => sink.held(),
            _ => 0,
        };
        let sides = [&self.req, &self.resp]
            .iter()
            .map(|side| side.buf.len() + side.queued_bytes + sink(side))
            .sum::<usize>();
        let slots = self.pending.iter().map(Slot::held).sum::<usize>();
        let early = self
            .early
            .iter()
            .map(|part| body_len(part.body.as_ref()))
            .sum::<usize>();
        sides + slots + early
    }
}
