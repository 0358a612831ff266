//! Builders of small capture files for the tests, and helpers around the reader.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Read;

use spider_pcap::{CaptureReader, PcapError, Record};

/// Reads everything: the records before the first error, and that error.
pub fn read_all(bytes: &[u8]) -> (Vec<Record>, Option<PcapError>) {
    read_all_from(bytes)
}

pub fn read_all_from<R: Read>(source: R) -> (Vec<Record>, Option<PcapError>) {
    let mut reader = match CaptureReader::new(source) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => out.push(r.to_record()),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// A source that returns at most one byte per `read`, to exercise refills.
pub struct Trickle<'a>(pub &'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A classic pcap file under construction.
pub struct Pcap {
    pub big_endian: bool,
    pub bytes: Vec<u8>,
}

impl Pcap {
    pub fn new(big_endian: bool, nanosecond: bool, link_type: u32) -> Self {
        let mut p = Self {
            big_endian,
            bytes: Vec::new(),
        };
        p.u32(if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        p.u16(2);
        p.u16(4);
        p.u32(0);
        p.u32(0);
        p.u32(65535);
        p.u32(link_type);
        p
    }

    pub fn u16(&mut self, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }

    pub fn u32(&mut self, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }

    pub fn record(&mut self, secs: u32, frac: u32, data: &[u8], orig_len: u32) -> &mut Self {
        self.u32(secs);
        self.u32(frac);
        self.u32(data.len() as u32);
        self.u32(orig_len);
        self.bytes.extend_from_slice(data);
        self
    }
}

/// A pcapng file under construction; each section has its byte order.
#[derive(Default)]
pub struct Ng {
    pub big_endian: bool,
    pub bytes: Vec<u8>,
}

pub struct Idb<'a> {
    pub link_type: u16,
    pub snaplen: u32,
    pub tsresol: Option<u8>,
    pub tsoffset: Option<i64>,
    pub name: Option<&'a str>,
}

impl Ng {
    fn u16v(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32v(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A block of `block_type` around `body` (padded to 4 bytes).
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().next_multiple_of(4);
        let len = (12 + padded) as u32;
        let (t, l) = (self.u32v(block_type), self.u32v(len));
        self.bytes.extend_from_slice(&t);
        self.bytes.extend_from_slice(&l);
        self.bytes.extend_from_slice(body);
        self.bytes.resize(self.bytes.len() + padded - body.len(), 0);
        self.bytes.extend_from_slice(&l);
        self
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        body.extend_from_slice(&self.u16v(code));
        body.extend_from_slice(&self.u16v(value.len() as u16));
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }

    /// Starts a section in the given byte order.
    pub fn shb(&mut self, big_endian: bool) -> &mut Self {
        self.big_endian = big_endian;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32v(0x1A2B_3C4D));
        body.extend_from_slice(&self.u16v(1));
        body.extend_from_slice(&self.u16v(0));
        body.extend_from_slice(&(-1i64).to_le_bytes());
        self.option(&mut body, 1, b"a comment");
        body.extend_from_slice(&[0; 4]);
        self.block(0x0A0D_0D0A, &body)
    }

    pub fn idb(&mut self, idb: Idb<'_>) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16v(idb.link_type));
        body.extend_from_slice(&self.u16v(0));
        body.extend_from_slice(&self.u32v(idb.snaplen));
        if let Some(name) = idb.name {
            self.option(&mut body, 2, name.as_bytes());
        }
        if let Some(r) = idb.tsresol {
            self.option(&mut body, 9, &[r]);
        }
        if let Some(o) = idb.tsoffset {
            let v = if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            self.option(&mut body, 14, &v);
        }
        body.extend_from_slice(&[0; 4]);
        self.block(1, &body)
    }

    pub fn simple_idb(&mut self, link_type: u16) -> &mut Self {
        self.idb(Idb {
            link_type,
            snaplen: 0,
            tsresol: None,
            tsoffset: None,
            name: None,
        })
    }

    fn packet(&mut self, ty: u32, iface: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        let mut body = Vec::new();
        if ty == 2 {
            body.extend_from_slice(&self.u16v(iface as u16));
            body.extend_from_slice(&self.u16v(0));
        } else {
            body.extend_from_slice(&self.u32v(iface));
        }
        body.extend_from_slice(&self.u32v((ts >> 32) as u32));
        body.extend_from_slice(&self.u32v(ts as u32));
        body.extend_from_slice(&self.u32v(data.len() as u32));
        body.extend_from_slice(&self.u32v(orig));
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        // An epb_flags option, to be skipped.
        if ty == 6 {
            self.option(&mut body, 2, &self.u32v(1));
            body.extend_from_slice(&[0; 4]);
        }
        self.block(ty, &body)
    }

    pub fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        self.packet(6, iface, ts, data, orig)
    }

    /// An obsolete Packet Block.
    pub fn pb(&mut self, iface: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        self.packet(2, iface, ts, data, orig)
    }

    pub fn spb(&mut self, data: &[u8], orig: u32) -> &mut Self {
        let mut body = self.u32v(orig).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }
}
