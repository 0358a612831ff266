//! The response direction: pairing with requests, heads (interim and final), bodies, gaps and
//! end of the server's stream.

use spider_model::EpochNanos;

use super::body::{BodySink, Chunk, Framing, GapOutcome, Outcome};
use super::exchange::{header, Declared, RespState, ResponseHead, ResponsePart, Target, Tunnel};
use super::head;
use super::scan::response_candidate;
use super::side::{HeadFeed, Mode};
use super::HttpParser;
use crate::ParsedMessage;

impl HttpParser {
    /// Parses response bytes; returns how many were used (fewer when the head waits for its
    /// request).
    pub(super) fn response_data(
        &mut self,
        time: EpochNanos,
        bytes: &[u8],
        out: &mut Vec<ParsedMessage>,
    ) -> usize {
        self.resp.last = time;
        let max_head = self.limits.max_head_bytes;
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..).filter(|rest| !rest.is_empty()) {
            let used = match &mut self.resp.mode {
                Mode::Head => match self.resp.feed_head(time, rest, max_head) {
                    HeadFeed::More(n) => n,
                    HeadFeed::Complete(n) => {
                        self.resp.mode = Mode::HeadReady;
                        self.response_head(false, out);
                        n
                    }
                    HeadFeed::TooLong(n) => {
                        let reason = format!("response head exceeds {max_head} bytes");
                        self.response_head_failed(&reason, false, out);
                        n
                    }
                },
                Mode::Body { framing, sink } => {
                    let (used, outcome) = framing.feed(rest, &mut self.resp.buf, max_head, sink);
                    match outcome {
                        Outcome::More => {}
                        Outcome::Done => self.finish_response(time, true, out),
                        Outcome::Invalid(reason) => {
                            if let Some(part) = &mut self.response {
                                part.warnings.push(reason.to_owned());
                            }
                            self.finish_response(time, false, out);
                            self.response_desync(false);
                        }
                    }
                    used
                }
                Mode::Resync { .. } => {
                    let (used, skipped) =
                        self.resp
                            .resync(time, rest, max_head, response_candidate, Some(b'H'));
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

    /// Where the next response head goes; `None` while it must wait for its request.
    fn peek_target(&self, force: bool) -> Option<Target> {
        if let Some(part) = &self.response {
            return Some(part.target);
        }
        let request_gone =
            self.finishing || self.req.ended || matches!(self.req.mode, Mode::Closed);
        let request_searching = matches!(self.req.mode, Mode::Resync { .. });
        let head_start = self.resp.start;
        let waiting = self.pending.iter().find(|s| s.resp == RespState::Waiting);
        if self.skip_responses > 0 {
            Some(Target::Orphan)
        } else if let Some(slot) = waiting {
            // A response that began before a request found after a gap cannot answer it: it
            // answers a request the gap took.
            let answers_lost_request = slot.after_resync
                && head_start.is_some_and(|start| start < slot.ex.timing.request_start);
            Some(if answers_lost_request {
                Target::Orphan
            } else {
                Target::Slot
            })
        } else if request_gone || (request_searching && force) {
            Some(Target::Orphan)
        } else if request_searching {
            // The request side lost sync: wait for the request it finds next, then judge by time.
            None
        } else if force {
            Some(Target::Early)
        } else {
            None
        }
    }

    /// Starts (or continues, after interim heads) the response for `target`.
    fn commit(&mut self, target: Target, start: EpochNanos) {
        if self.response.is_some() {
            return;
        }
        let lost_sync = std::mem::take(&mut self.resp_lost_sync);
        match target {
            Target::Slot => {
                if lost_sync {
                    self.skip_lost_responses(start);
                }
                if let Some(slot) = self
                    .pending
                    .iter_mut()
                    .find(|s| s.resp == RespState::Waiting)
                {
                    slot.resp = RespState::Started;
                }
            }
            Target::Orphan => self.skip_responses = self.skip_responses.saturating_sub(1),
            Target::Early => {}
        }
        self.response = Some(ResponsePart::new(target, start));
    }

    /// After the response direction lost sync, the next response found (its first byte seen at
    /// `start`) is taken to answer the newest waiting request that began before it: the older
    /// ones' responses were lost. Requests that began after it cannot be the one it answers (and
    /// whether their heads were parsed yet depends only on how the client's stream was cut).
    fn skip_lost_responses(&mut self, start: EpochNanos) {
        let waiting = |s: &&mut super::exchange::Slot| s.resp == RespState::Waiting;
        let count = self
            .pending
            .iter_mut()
            .filter(waiting)
            .filter(|s| s.ex.timing.request_start <= start)
            .count();
        for slot in self
            .pending
            .iter_mut()
            .filter(waiting)
            .take(count.saturating_sub(1))
        {
            slot.resp = RespState::Done;
            slot.incomplete = true;
            slot.ex
                .warnings
                .push("response lost in a capture gap".to_owned());
        }
    }

    /// Parses the complete head in the buffer if its target is known (or `force`); returns
    /// whether the direction left `HeadReady`.
    pub(super) fn response_head(&mut self, force: bool, out: &mut Vec<ParsedMessage>) -> bool {
        let Some(target) = self.peek_target(force) else {
            return false;
        };
        let time = self.resp.head_end;
        let start = self.resp.start.unwrap_or(time);
        match head::parse_response(&self.resp.buf) {
            Ok(head) => {
                self.commit(target, start);
                self.resp.reset_head();
                self.start_response(head, time, out);
            }
            Err(err) => {
                self.resp.mode = Mode::Head;
                let reason = format!("unparseable response head: {err}");
                self.response_head_failed(&reason, true, out);
            }
        }
        true
    }

    fn start_response(
        &mut self,
        head: ResponseHead,
        time: EpochNanos,
        out: &mut Vec<ParsedMessage>,
    ) {
        let Some(part) = self.response.as_mut() else {
            return;
        };
        if (100..200).contains(&head.status) && head.status != 101 {
            part.interim.push(head.status);
            return;
        }
        if head.status == 101 {
            let asked = matches!(part.target, Target::Slot)
                && self
                    .pending
                    .iter()
                    .find(|s| s.resp == RespState::Started)
                    .is_some_and(|slot| slot.tunnel == Tunnel::Upgrade);
            if !asked {
                // A switch no known request asked for (RFC 9110 §15.2.2) is not followed: what
                // the client's bytes say must not depend on when this response arrived.
                part.interim.push(101);
                part.warnings.push(
                    "101 Switching Protocols to a request without Upgrade: not followed".to_owned(),
                );
                return;
            }
        }
        let (is_head, tunnel) = match part.target {
            Target::Slot => match self
                .pending
                .iter_mut()
                .find(|s| s.resp == RespState::Started)
            {
                Some(slot) => {
                    slot.final_seen = true;
                    (slot.is_head, slot.tunnel)
                }
                None => (false, Tunnel::No),
            },
            Target::Early => {
                part.warnings
                    .push("response parsed before its request; method assumed not HEAD".to_owned());
                (false, Tunnel::No)
            }
            Target::Orphan => (false, Tunnel::No),
        };
        let (declared, announced) = super::exchange::declared(&head.headers);
        let sink = BodySink::new(
            announced,
            header(&head.headers, "content-type").map(str::to_owned),
            header(&head.headers, "content-encoding").map(str::to_owned),
            self.limits.max_body_bytes,
            self.limits.max_decoded_bytes,
        );
        let status = head.status;
        part.status = Some(status);
        part.reason = Some(head.reason);
        part.headers = head.headers;
        let switching =
            status == 101 || (tunnel == Tunnel::Connect && (200..300).contains(&status));
        if tunnel != Tunnel::No && !switching && matches!(self.req.mode, Mode::AwaitUpgrade) {
            self.req.reset_head();
        }
        let framing = if switching || is_head || status == 204 || status == 304 {
            None
        } else {
            match declared {
                Declared::Length(0) => None,
                Declared::Length(n) => Some(Framing::Length(n)),
                Declared::Chunked => Some(Framing::Chunked(Chunk::Size)),
                Declared::Unspecified | Declared::OtherCoding => Some(Framing::Close),
                Declared::Invalid(reason) => {
                    part.warnings.push(reason.to_owned());
                    Some(Framing::Close)
                }
            }
        };
        match framing {
            Some(framing) => {
                self.resp.mode = Mode::Body {
                    framing,
                    sink: Box::new(sink),
                }
            }
            None => {
                part.body = Some(sink.finish(true, &mut part.warnings, &mut self.stats));
                self.finish_response(time, true, out);
                if switching {
                    self.switch_protocols();
                }
            }
        }
    }

    /// The head in the buffer cannot be parsed: the response it targets is marked in error
    /// (unless the head came from resynchronisation), then the stream resyncs.
    fn response_head_failed(&mut self, reason: &str, at_start: bool, out: &mut Vec<ParsedMessage>) {
        let known = (!self.resp.resynced)
            .then(|| head::response_prefix(&self.resp.buf))
            .flatten();
        if !self.resp.resynced {
            self.close_cut_response(known, reason, true, out);
        }
        self.response_desync(at_start);
    }

    /// Ends the response whose head was cut or broken, with what is known of it.
    fn close_cut_response(
        &mut self,
        known: Option<ResponseHead>,
        reason: &str,
        error: bool,
        out: &mut Vec<ParsedMessage>,
    ) {
        if self.response.is_none() {
            let waiting = self.pending.iter().any(|s| s.resp == RespState::Waiting);
            if !waiting || (known.is_none() && !error) {
                return;
            }
            let time = self.resp.last;
            self.commit(Target::Slot, self.resp.start.unwrap_or(time));
        }
        if let Some(part) = self.response.as_mut() {
            if let Some(known) = known.filter(|k| !(100..200).contains(&k.status)) {
                part.status = Some(known.status);
                part.reason = Some(known.reason);
                part.headers = known.headers;
            }
            part.warnings.push(reason.to_owned());
            part.error |= error;
        }
        self.resp.buf.clear();
        self.finish_response(self.resp.last, false, out);
    }

    /// Ends the response being parsed and hands it to its target.
    fn finish_response(&mut self, time: EpochNanos, complete: bool, out: &mut Vec<ParsedMessage>) {
        let body = match std::mem::replace(&mut self.resp.mode, Mode::Head) {
            Mode::Body { sink, .. } => Some(sink),
            other => {
                self.resp.mode = other;
                None
            }
        };
        let trailers = if complete && body.is_some() {
            head::parse_trailers(&self.resp.buf)
        } else {
            Vec::new()
        };
        if body.is_some() {
            self.resp.reset_head();
        }
        let Some(mut part) = self.response.take() else {
            return;
        };
        if let Some(sink) = body {
            part.incomplete |= !complete || sink.lost();
            part.body = Some(sink.finish(complete, &mut part.warnings, &mut self.stats));
            part.headers.extend(trailers);
        }
        part.incomplete |= !complete;
        part.end = Some(time);
        match part.target {
            Target::Slot => {
                if let Some(slot) = self
                    .pending
                    .iter_mut()
                    .find(|s| s.resp == RespState::Started)
                {
                    slot.attach(part);
                }
                self.emit_ready(out);
            }
            Target::Orphan => self.stats.orphan_responses += 1,
            Target::Early => {
                self.early.push_back(part);
                if self.early.len() > self.limits.max_pending_requests.max(1) {
                    self.early.pop_front();
                    self.stats.orphan_responses += 1;
                }
            }
        }
    }

    fn response_desync(&mut self, at_start: bool) {
        let dropped = self.resp.desync(at_start);
        self.stats.bytes_skipped += dropped as u64;
        self.stats.resyncs += 1;
        self.resp_lost_sync = true;
    }

    pub(super) fn response_gap(
        &mut self,
        time: EpochNanos,
        len: u64,
        out: &mut Vec<ParsedMessage>,
    ) {
        if len == 0 {
            if matches!(self.resp.mode, Mode::Head)
                && self.resp.buf.is_empty()
                && self.response.is_none()
            {
                self.response_desync(true);
            }
            return;
        }
        match &mut self.resp.mode {
            Mode::Body { framing, sink } => {
                sink.lose();
                match framing.skip(len) {
                    GapOutcome::Skipped => {}
                    GapOutcome::Ended => self.finish_response(time, false, out),
                    GapOutcome::Lost => {
                        self.finish_response(time, false, out);
                        self.response_desync(true);
                    }
                }
            }
            Mode::Head => {
                if !self.resp.buf.is_empty() || self.response.is_some() {
                    let known = head::response_prefix(&self.resp.buf);
                    self.close_cut_response(
                        known,
                        "response head cut by a capture gap",
                        false,
                        out,
                    );
                }
                self.response_desync(true);
            }
            Mode::Resync { .. } => {
                let dropped = self.resp.desync(true);
                self.stats.bytes_skipped += dropped as u64;
            }
            Mode::HeadReady | Mode::AwaitUpgrade | Mode::Closed => {}
        }
    }

    /// The response direction ended (`closed`) or the session is finishing without its end.
    pub(super) fn response_end(&mut self, closed: bool, out: &mut Vec<ParsedMessage>) {
        self.resp.ended = true;
        let last = self.resp.last;
        match &self.resp.mode {
            Mode::Body { framing, .. } => {
                let complete = closed && *framing == Framing::Close;
                self.finish_response(last, complete, out);
            }
            Mode::Head => {
                if !self.resp.buf.is_empty() || self.response.is_some() {
                    let known = head::response_prefix(&self.resp.buf);
                    self.close_cut_response(
                        known,
                        "response head cut by the end of the stream",
                        false,
                        out,
                    );
                }
            }
            Mode::Resync { .. } => self.stats.bytes_skipped += self.resp.buf.len() as u64,
            Mode::HeadReady | Mode::AwaitUpgrade | Mode::Closed => {}
        }
        self.resp.buf.clear();
        self.resp.mode = Mode::Closed;
    }
}
