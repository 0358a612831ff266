//! The pcapng writer: one section, little-endian, nanosecond timestamps.

use std::io::Write;
use std::net::IpAddr;

use crate::pcapng::{BYTE_ORDER_MAGIC, EPB, IDB, IF_NAME, IF_TSRESOL, NRB, OPT_END, SHB};
use crate::{LinkType, PcapError, MAX_CAPLEN};

/// `shb_userappl`: the application that wrote the section.
const SHB_USERAPPL: u16 = 4;
const NRB_RECORD_END: u16 = 0;
const NRB_RECORD_IPV4: u16 = 1;
const NRB_RECORD_IPV6: u16 = 2;
/// A Name Resolution Block is closed and another begun past this size.
const NRB_SPLIT: usize = 60 * 1024;

/// An interface to declare in the section written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDescription {
    pub link_type: LinkType,
    /// The snapshot length; 0 means unlimited.
    pub snaplen: u32,
    /// The `if_name` option; empty for none.
    pub name: String,
}

/// Writes a pcapng file: a Section Header Block and the Interface Description Blocks up front,
/// then Enhanced Packet Blocks with nanosecond timestamps (`if_tsresol` = 9).
///
/// Each block is one `write_all`: wrap files in a `BufWriter`.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    block: Vec<u8>,
    interfaces: usize,
    written: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header and the interfaces, numbered from 0 in this order.
    pub fn new(out: W, interfaces: &[InterfaceDescription]) -> Result<Self, PcapError> {
        let mut writer = Self {
            out,
            block: Vec::with_capacity(2048),
            interfaces: interfaces.len(),
            written: 0,
        };
        writer.begin(SHB);
        writer.put32(BYTE_ORDER_MAGIC);
        writer.put16(1);
        writer.put16(0);
        writer.block.extend_from_slice(&(-1i64).to_le_bytes());
        writer.option(SHB_USERAPPL, b"spider");
        writer.option(OPT_END, &[]);
        writer.end()?;
        for interface in interfaces {
            writer.begin(IDB);
            writer.put16(interface.link_type.0);
            writer.put16(0);
            writer.put32(interface.snaplen);
            if !interface.name.is_empty() {
                if interface.name.len() > 1024 {
                    return Err(PcapError::Unwritable {
                        what: "interface",
                        reason: "its name is longer than 1024 bytes",
                    });
                }
                writer.option(IF_NAME, interface.name.as_bytes());
            }
            writer.option(IF_TSRESOL, &[9]);
            writer.option(OPT_END, &[]);
            writer.end()?;
        }
        Ok(writer)
    }

    /// Writes one packet as an Enhanced Packet Block; `interface` indexes the list given to
    /// [`Self::new`], `ts_nanos` is epoch nanoseconds (not before 1970).
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts_nanos: i64,
        data: &[u8],
        orig_len: u32,
    ) -> Result<(), PcapError> {
        if interface as usize >= self.interfaces {
            return Err(PcapError::UnknownInterface {
                offset: self.written,
                what: "enhanced packet block",
                interface,
                known: self.interfaces,
            });
        }
        let Ok(ts) = u64::try_from(ts_nanos) else {
            return Err(PcapError::Unwritable {
                what: "packet",
                reason: "its timestamp is before 1970",
            });
        };
        let caplen = match u32::try_from(data.len()) {
            Ok(len) if len <= MAX_CAPLEN => len,
            _ => {
                return Err(PcapError::Unwritable {
                    what: "packet",
                    reason: "it is longer than the captured length limit",
                })
            }
        };
        self.begin(EPB);
        self.put32(interface);
        self.put32((ts >> 32) as u32);
        self.put32(ts as u32);
        self.put32(caplen);
        self.put32(orig_len);
        self.block.extend_from_slice(data);
        self.pad();
        self.end()
    }

    /// Writes Name Resolution Blocks mapping addresses to names (several blocks if the list is
    /// long). Names must not contain NUL bytes.
    pub fn write_name_resolution(&mut self, entries: &[(IpAddr, String)]) -> Result<(), PcapError> {
        for (start, end) in entry_chunks(entries) {
            let chunk = entries.get(start..end).unwrap_or(&[]);
            self.begin(NRB);
            for (addr, name) in chunk {
                if name.as_bytes().contains(&0) || name.len() > 4096 {
                    self.block.clear();
                    return Err(PcapError::Unwritable {
                        what: "name resolution record",
                        reason: "the name contains a nul byte or is longer than 4096 bytes",
                    });
                }
                let mut octets = [0u8; 16];
                let (code, addr_len) = match addr {
                    IpAddr::V4(a) => {
                        octets[..4].copy_from_slice(&a.octets());
                        (NRB_RECORD_IPV4, 4)
                    }
                    IpAddr::V6(a) => {
                        octets = a.octets();
                        (NRB_RECORD_IPV6, 16)
                    }
                };
                self.put16(code);
                self.put16((addr_len + name.len() + 1) as u16);
                self.block.extend_from_slice(&octets[..addr_len]);
                self.block.extend_from_slice(name.as_bytes());
                self.block.push(0);
                self.pad();
            }
            self.put16(NRB_RECORD_END);
            self.put16(0);
            self.end()?;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> Result<(), PcapError> {
        let offset = self.written;
        self.out
            .flush()
            .map_err(|source| PcapError::Io { offset, source })
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> Result<W, PcapError> {
        self.flush()?;
        Ok(self.out)
    }

    fn begin(&mut self, block_type: u32) {
        self.block.clear();
        self.put32(block_type);
        self.put32(0);
    }

    fn put16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn put32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn pad(&mut self) {
        let padded = self.block.len().next_multiple_of(4);
        self.block.resize(padded, 0);
    }

    /// An option; `value` is at most a few KiB (checked by the callers).
    fn option(&mut self, code: u16, value: &[u8]) {
        self.put16(code);
        self.put16(value.len() as u16);
        self.block.extend_from_slice(value);
        self.pad();
    }

    /// Closes the block (total length in front and behind) and writes it.
    fn end(&mut self) -> Result<(), PcapError> {
        let len = (self.block.len() + 4) as u32;
        self.put32(len);
        if let Some(field) = self.block.get_mut(4..8) {
            field.copy_from_slice(&len.to_le_bytes());
        }
        let offset = self.written;
        self.out
            .write_all(&self.block)
            .map_err(|source| PcapError::Io { offset, source })?;
        self.written += self.block.len() as u64;
        Ok(())
    }
}

/// Splits the entries into ranges whose records fit one block of about [`NRB_SPLIT`] bytes.
fn entry_chunks(entries: &[(IpAddr, String)]) -> Vec<(usize, usize)> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, (addr, name)) in entries.iter().enumerate() {
        let addr_len = if addr.is_ipv4() { 4 } else { 16 };
        let record = (4 + addr_len + name.len() + 1).next_multiple_of(4);
        if size + record > NRB_SPLIT && i > start {
            chunks.push((start, i));
            start = i;
            size = 0;
        }
        size += record;
    }
    if start < entries.len() {
        chunks.push((start, entries.len()));
    }
    chunks
}
