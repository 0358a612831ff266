//! The request direction: heads, bodies, gaps and end of the client's stream.

use spider_model::EpochNanos;

use super::body::{BodySink, Chunk, Framing, GapOutcome, Outcome};
use super::exchange::{header, Declared, RequestHead, RespState, Slot, Target, Tunnel};
use super::head;
use super::scan::request_candidate;
use super::side::{HeadFeed, Mode};
use super::HttpParser;
use crate::ParsedMessage;

impl HttpParser {
    /// Parses request bytes; returns how many were used (fewer when the direction blocks).
    pub(super) fn request_data(
        &mut self,
        time: EpochNanos,
        bytes: &[u8],
        out: &mut Vec<ParsedMessage>,
    ) -> usize {
        self.req.last = time;
        let max_head = self.limits.max_head_bytes;
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..).filter(|rest| !rest.is_empty()) {
            let used = match &mut self.req.mode {
                Mode::Head => match self.req.feed_head(time, rest, max_head) {
                    HeadFeed::More(n) => n,
                    HeadFeed::Complete(n) => {
                        self.request_head(time, out);
                        n
                    }
                    HeadFeed::TooLong(n) => {
                        let reason = format!("request head exceeds {max_head} bytes");
                        self.request_head_failed(time, &reason, false, out);
                        n
                    }
                },
                Mode::Body { framing, sink } => {
                    let (used, outcome) = framing.feed(rest, &mut self.req.buf, max_head, sink);
                    match outcome {
                        Outcome::More => {}
                        Outcome::Done => {
                            self.finish_request_body(time, true, None, out);
                            self.after_request();
                        }
                        Outcome::Invalid(reason) => {
                            self.finish_request_body(time, false, Some(reason), out);
                            self.request_desync(false);
                        }
                    }
                    used
                }
                Mode::Resync { .. } => {
                    let (used, skipped) =
                        self.req
                            .resync(time, rest, max_head, request_candidate, None);
                    self.stats.bytes_skipped += skipped;
                    used
                }
                Mode::HeadReady | Mode::AwaitUpgrade => break,
                Mode::Closed => {
                    self.closed_bytes(rest.len());
                    rest.len()
                }
            };
            pos += used;
        }
        pos
    }

    /// A complete head is in the buffer.
    fn request_head(&mut self, time: EpochNanos, out: &mut Vec<ParsedMessage>) {
        match head::parse_request(&self.req.buf) {
            Ok(head) => self.start_request(head, time, out),
            Err(err) => {
                let reason = format!("unparseable request head: {err}");
                self.request_head_failed(time, &reason, true, out);
            }
        }
    }

    fn start_request(&mut self, head: RequestHead, time: EpochNanos, out: &mut Vec<ParsedMessage>) {
        let start = self.req.start.unwrap_or(time);
        let (declared, announced) = super::exchange::declared(&head.headers);
        let sink = BodySink::new(
            announced,
            header(&head.headers, "content-type").map(str::to_owned),
            header(&head.headers, "content-encoding").map(str::to_owned),
            self.limits.max_body_bytes,
            self.limits.max_decoded_bytes,
        );
        let mut slot = Slot::new(&self.ctx, self.next_index, head, start);
        slot.after_resync = self.req.resynced;
        self.next_index = self.next_index.wrapping_add(1);
        self.req.reset_head();
        let framing = match declared {
            Declared::Unspecified | Declared::Length(0) => None,
            Declared::Length(n) => Some(Framing::Length(n)),
            Declared::Chunked => Some(Framing::Chunked(Chunk::Size)),
            Declared::OtherCoding | Declared::Invalid(_) => {
                let reason = match declared {
                    Declared::Invalid(reason) => reason,
                    _ => "request transfer-encoding is not chunked",
                };
                slot.error = true;
                slot.ex.warnings.push(reason.to_owned());
                slot.ex.request_body = sink.finish(false, &mut slot.ex.warnings, &mut self.stats);
                slot.req_done = true;
                slot.ex.timing.request_end = Some(time);
                self.push_slot(slot, out);
                self.request_desync(true);
                return;
            }
        };
        match framing {
            Some(framing) => {
                self.push_slot(slot, out);
                self.req.mode = Mode::Body {
                    framing,
                    sink: Box::new(sink),
                };
            }
            None => {
                slot.ex.request_body = sink.finish(true, &mut slot.ex.warnings, &mut self.stats);
                slot.req_done = true;
                slot.ex.timing.request_end = Some(time);
                self.push_slot(slot, out);
                self.after_request();
            }
        }
    }

    /// The head in the buffer cannot be parsed (malformed, too long, cut): an exchange is made
    /// of what is known unless the head came from resynchronisation, then the stream resyncs.
    fn request_head_failed(
        &mut self,
        time: EpochNanos,
        reason: &str,
        at_start: bool,
        out: &mut Vec<ParsedMessage>,
    ) {
        let known = (!self.req.resynced)
            .then(|| head::request_prefix(&self.req.buf))
            .flatten();
        let start = self.req.start.unwrap_or(time);
        let dropped = self.req.desync(at_start);
        match known {
            Some(head) => {
                let mut slot = Slot::new(&self.ctx, self.next_index, head, start);
                self.next_index = self.next_index.wrapping_add(1);
                slot.error = true;
                slot.ex.warnings.push(reason.to_owned());
                slot.req_done = true;
                slot.ex.timing.request_end = Some(time);
                self.push_slot(slot, out);
            }
            None => self.stats.bytes_skipped += dropped as u64,
        }
        self.request_desync(at_start);
    }

    /// A head cut by a gap or by the end of the stream: an incomplete exchange of what is known.
    fn request_head_cut(&mut self, reason: &str, out: &mut Vec<ParsedMessage>) {
        if self.req.buf.is_empty() {
            return;
        }
        let time = self.req.last;
        match head::request_prefix(&self.req.buf) {
            Some(head) if !self.req.resynced => {
                let start = self.req.start.unwrap_or(time);
                let mut slot = Slot::new(&self.ctx, self.next_index, head, start);
                self.next_index = self.next_index.wrapping_add(1);
                slot.incomplete = true;
                slot.ex.warnings.push(reason.to_owned());
                slot.req_done = true;
                slot.ex.timing.request_end = Some(time);
                self.push_slot(slot, out);
            }
            _ => self.stats.bytes_skipped += self.req.buf.len() as u64,
        }
        self.req.buf.clear();
    }

    /// Records the request body (ended, cut or broken) in the newest slot.
    fn finish_request_body(
        &mut self,
        time: EpochNanos,
        complete: bool,
        problem: Option<&str>,
        out: &mut Vec<ParsedMessage>,
    ) {
        let Mode::Body { sink, .. } = std::mem::replace(&mut self.req.mode, Mode::Head) else {
            return;
        };
        let trailers = if complete {
            head::parse_trailers(&self.req.buf)
        } else {
            Vec::new()
        };
        self.req.buf.clear();
        let Some(slot) = self.pending.back_mut().filter(|slot| !slot.req_done) else {
            return;
        };
        if let Some(problem) = problem {
            slot.ex.warnings.push(problem.to_owned());
        }
        if !complete || sink.lost() {
            slot.incomplete = true;
        }
        slot.ex.request_body = sink.finish(complete, &mut slot.ex.warnings, &mut self.stats);
        slot.ex.request_headers.extend(trailers);
        slot.ex.timing.request_end = Some(time);
        slot.req_done = true;
        self.emit_ready(out);
    }

    /// After a whole request: the next head, or a wait when the request may switch protocols.
    fn after_request(&mut self) {
        self.req.reset_head();
        if self.upgraded {
            self.req.mode = Mode::Closed;
        } else if !self.finishing
            && self
                .pending
                .back()
                .is_some_and(|slot| slot.tunnel != Tunnel::No && !slot.final_seen)
        {
            self.req.mode = Mode::AwaitUpgrade;
        }
    }

    /// Adds a request waiting for its response. Beyond the pipelining bound the oldest
    /// unanswered one is emitted without response (and its response, when it comes, dropped).
    fn push_slot(&mut self, mut slot: Slot, out: &mut Vec<ParsedMessage>) {
        let waiting = self
            .pending
            .iter()
            .filter(|slot| slot.resp == RespState::Waiting)
            .count();
        if waiting >= self.limits.max_pending_requests.max(1)
            && self
                .pending
                .front()
                .is_some_and(|front| front.resp == RespState::Waiting && front.req_done)
        {
            if let Some(mut oldest) = self.pending.pop_front() {
                oldest.resp = RespState::Done;
                oldest
                    .ex
                    .warnings
                    .push("response not awaited: too many pipelined requests".to_owned());
                self.skip_responses += 1;
                self.emit(oldest, out);
            }
        }
        if let Some(part) = self.early.pop_front() {
            slot.final_seen = part.status.is_some();
            slot.attach(part);
        } else if let Some(part) = self.response.as_mut().filter(|p| p.target == Target::Early) {
            part.target = Target::Slot;
            slot.resp = RespState::Started;
            slot.final_seen = part.status.is_some();
        }
        self.pending.push_back(slot);
        self.emit_ready(out);
    }

    /// The request direction lost sync: responses without a request are now orphans.
    fn request_desync(&mut self, at_start: bool) {
        let dropped = self.req.desync(at_start);
        self.stats.bytes_skipped += dropped as u64;
        self.stats.resyncs += 1;
        self.drop_early();
    }

    pub(super) fn request_gap(&mut self, time: EpochNanos, len: u64, out: &mut Vec<ParsedMessage>) {
        if len == 0 {
            if matches!(self.req.mode, Mode::Head) && self.req.buf.is_empty() {
                self.request_desync(true);
            }
            return;
        }
        match &mut self.req.mode {
            Mode::Body { framing, sink } => {
                sink.lose();
                match framing.skip(len) {
                    GapOutcome::Skipped => {}
                    GapOutcome::Ended => {
                        self.finish_request_body(time, false, None, out);
                        self.after_request();
                    }
                    GapOutcome::Lost => {
                        self.finish_request_body(time, false, None, out);
                        self.request_desync(true);
                    }
                }
            }
            Mode::Head => {
                self.request_head_cut("request head cut by a capture gap", out);
                self.request_desync(true);
            }
            Mode::Resync { .. } => {
                let dropped = self.req.desync(true);
                self.stats.bytes_skipped += dropped as u64;
            }
            Mode::HeadReady | Mode::AwaitUpgrade | Mode::Closed => {}
        }
    }

    pub(super) fn request_end(&mut self, out: &mut Vec<ParsedMessage>) {
        self.req.ended = true;
        match &self.req.mode {
            Mode::Body { .. } => self.finish_request_body(self.req.last, false, None, out),
            Mode::Head => self.request_head_cut("request head cut by the end of the stream", out),
            Mode::Resync { .. } => self.stats.bytes_skipped += self.req.buf.len() as u64,
            Mode::HeadReady | Mode::AwaitUpgrade | Mode::Closed => {}
        }
        self.req.buf.clear();
        self.req.mode = Mode::Closed;
        self.drop_early();
    }
}
