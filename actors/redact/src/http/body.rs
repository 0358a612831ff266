//! Message bodies: how long they are (Content-Length, chunked, until close) and how they are
//! scanned (JSON fields, form fields, masked whole, or passed).

use super::{HttpRedactor, SessionLink, State};
use crate::head::{BodyType, Method, Probe};
use crate::json::JsonMasker;
use crate::out::Out;
use crate::params::ParamMasker;
use crate::rules::Rules;

#[derive(Debug)]
pub(super) enum Scan {
    Pass,
    Whole,
    Json(Box<JsonMasker>),
    Form(ParamMasker),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Chunk {
    Size { value: u64, digits: u8, ext: bool },
    Data(u64),
    DataEnd,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Length {
    Bytes(u64),
    Chunked(Chunk),
    UntilClose,
}

impl HttpRedactor {
    /// `n` bytes of the stream will not be seen now. Returns `None` when the scanner cannot go
    /// on without them (it is left as it was), else whether they must be masked when they do
    /// arrive.
    pub fn skip(&mut self, n: u64) -> Option<bool> {
        match &mut self.state {
            State::Opaque => Some(false),
            State::Hunting(probe) => {
                probe.lose_line();
                Some(true)
            }
            State::Body { length, scan } => {
                let mask = match scan {
                    Scan::Pass => false,
                    Scan::Whole => true,
                    Scan::Json(_) | Scan::Form(_) => return None,
                };
                match length {
                    Length::UntilClose => {}
                    Length::Bytes(left) | Length::Chunked(Chunk::Data(left)) if *left > n => {
                        *left -= n;
                    }
                    Length::Bytes(left) if *left == n => self.end_message(),
                    Length::Chunked(Chunk::Data(left)) if *left == n => {
                        *length = Length::Chunked(Chunk::DataEnd);
                    }
                    _ => return None,
                }
                Some(mask)
            }
            _ => None,
        }
    }

    /// The empty line after a head (or after a chunked body's trailers).
    pub(super) fn end_head(&mut self, rules: &Rules, trailer: bool, link: &mut SessionLink) {
        if trailer {
            self.end_message();
            return;
        }
        let msg = &self.msg;
        let framing = msg.framing;
        let length = if msg.response {
            let status = msg.status;
            if (100..200).contains(&status) && status != 101 {
                self.end_message();
                return;
            }
            let method = link.requests.pop_front().unwrap_or_default();
            let tunnel =
                status == 101 || (method == Method::Connect && (200..300).contains(&status));
            if tunnel {
                link.upgraded = true;
                self.state = if msg.h2c {
                    State::Hunting(Probe::new(false))
                } else {
                    State::Opaque
                };
                return;
            }
            if method == Method::Head || status == 204 || status == 304 {
                None
            } else if framing.chunked {
                Some(Length::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                    ext: false,
                }))
            } else if framing.te_not_chunked {
                Some(Length::UntilClose)
            } else if framing.bad_length {
                self.lose();
                return;
            } else {
                Some(
                    framing
                        .content_length
                        .map_or(Length::UntilClose, Length::Bytes),
                )
            }
        } else if framing.chunked {
            Some(Length::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
                ext: false,
            }))
        } else if framing.te_not_chunked {
            Some(Length::UntilClose)
        } else if framing.bad_length {
            self.lose();
            return;
        } else {
            framing.content_length.map(Length::Bytes)
        };
        let length = match length {
            None | Some(Length::Bytes(0)) => {
                self.end_message();
                return;
            }
            Some(length) => length,
        };
        let scan = match framing.body {
            BodyType::Json if rules.has_fields() && framing.encoded => Scan::Whole,
            BodyType::Form if rules.has_params() && framing.encoded => Scan::Whole,
            BodyType::Json if rules.has_fields() => Scan::Json(Box::new(JsonMasker::new())),
            BodyType::Form if rules.has_params() => Scan::Form(ParamMasker::default()),
            _ => Scan::Pass,
        };
        self.state = State::Body { length, scan };
    }

    pub(super) fn body(&mut self, rules: &Rules, out: &mut Out<'_>, i: usize) -> usize {
        let State::Body { length, scan } = &mut self.state else {
            return i;
        };
        let available = (out.buf.len() - i) as u64;
        let data = |left: u64| i + left.min(available) as usize;
        match length {
            Length::UntilClose => {
                scan_body(scan, rules, out, i, out.buf.len());
                out.buf.len()
            }
            Length::Bytes(left) => {
                let end = data(*left);
                scan_body(scan, rules, out, i, end);
                *left -= (end - i) as u64;
                if *left == 0 {
                    self.end_message();
                }
                end
            }
            Length::Chunked(Chunk::Data(left)) => {
                let end = data(*left);
                scan_body(scan, rules, out, i, end);
                *left -= (end - i) as u64;
                if *left == 0 {
                    *length = Length::Chunked(Chunk::DataEnd);
                }
                end
            }
            Length::Chunked(Chunk::DataEnd) => match out.buf[i] {
                b'\r' => i + 1,
                b'\n' => {
                    *length = Length::Chunked(Chunk::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                    });
                    i + 1
                }
                _ => {
                    self.lose();
                    i
                }
            },
            Length::Chunked(Chunk::Size { value, digits, ext }) => {
                let byte = out.buf[i];
                match (byte, *ext) {
                    (b'\n', _) if *digits > 0 => {
                        if *value == 0 {
                            self.state = State::LineStart { trailer: true };
                        } else {
                            *length = Length::Chunked(Chunk::Data(*value));
                        }
                        i + 1
                    }
                    (b'\r', _) | (_, true) => i + 1,
                    (b';' | b' ' | b'\t', false) if *digits > 0 => {
                        *ext = true;
                        i + 1
                    }
                    _ => match (byte as char).to_digit(16) {
                        Some(digit) if *digits < 16 => {
                            *value = (*value << 4) | u64::from(digit);
                            *digits += 1;
                            i + 1
                        }
                        _ => {
                            self.lose();
                            i
                        }
                    },
                }
            }
        }
    }
}

fn scan_body(scan: &mut Scan, rules: &Rules, out: &mut Out<'_>, from: usize, to: usize) {
    match scan {
        Scan::Pass => {}
        Scan::Whole => out.fill(from, to),
        Scan::Json(json) => json.feed(rules, out, from, to),
        Scan::Form(form) => form.feed(rules, out, from, to),
    }
}
