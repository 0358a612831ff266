//! pcapng blocks: sections, interfaces and the three packet block kinds; other blocks are skipped.

use std::io::Read;

use crate::input::{Endian, Input};
use crate::{LinkType, PcapError, MAX_BLOCK_LEN, MAX_CAPLEN};

pub(crate) const SHB: u32 = 0x0A0D_0D0A;
pub(crate) const IDB: u32 = 1;
pub(crate) const PB: u32 = 2;
pub(crate) const SPB: u32 = 3;
pub(crate) const NRB: u32 = 4;
pub(crate) const EPB: u32 = 6;
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

pub(crate) const OPT_END: u16 = 0;
pub(crate) const IF_NAME: u16 = 2;
pub(crate) const IF_TSRESOL: u16 = 9;
pub(crate) const IF_TSOFFSET: u16 = 14;

/// Interfaces one section may describe; more is taken for damage.
const MAX_INTERFACES: usize = 65_536;
/// Bytes of an interface name kept.
const MAX_NAME_LEN: usize = 1024;

/// One interface of the current section (pcap files have exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub link_type: LinkType,
    /// The snapshot length; 0 means unlimited.
    pub snaplen: u32,
    /// The `if_name` option.
    pub name: Option<String>,
    /// The `if_tsresol` option as in the file: bit 7 clear, 10^-n seconds; set, 2^-n seconds.
    pub tsresol: u8,
    /// The `if_tsoffset` option: seconds added to every timestamp.
    pub tsoffset: i64,
    scale: TsScale,
}

/// How a timestamp in file units becomes nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsScale {
    Mul(i128),
    Div(i128),
    Shift(u32),
}

impl Interface {
    pub(crate) fn new(link_type: LinkType, snaplen: u32, tsresol: u8, tsoffset: i64) -> Self {
        let n = u32::from(tsresol & 0x7f);
        let scale = if tsresol & 0x80 != 0 {
            TsScale::Shift(n)
        } else if n <= 9 {
            TsScale::Mul(10i128.pow(9 - n))
        } else {
            // Beyond 10^-47 s every u64 timestamp is below one nanosecond: i128::MAX divides to 0.
            TsScale::Div(10i128.checked_pow(n - 9).unwrap_or(i128::MAX))
        };
        Self {
            link_type,
            snaplen,
            name: None,
            tsresol,
            tsoffset,
            scale,
        }
    }

    /// Converts a timestamp in this interface's units to epoch nanoseconds (saturating).
    #[inline]
    pub fn ts_nanos(&self, ts: u64) -> i64 {
        let t = i128::from(ts);
        let ns = match self.scale {
            TsScale::Mul(m) => t * m,
            TsScale::Div(d) => t / d,
            TsScale::Shift(s) => (t * 1_000_000_000) >> s,
        };
        let total = ns + i128::from(self.tsoffset) * 1_000_000_000;
        i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }
}

/// The reader's state within a pcapng file.
#[derive(Debug)]
pub(crate) struct NgState {
    pub(crate) endian: Endian,
    pub(crate) interfaces: Vec<Interface>,
    /// The timestamp of the last packet with one, for Simple Packet Blocks.
    pub(crate) last_ts: i64,
}

/// A packet found in the buffer: its bytes are `len` bytes at buffer index `start`.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) interface: u32,
    pub(crate) link_type: LinkType,
    pub(crate) ts_nanos: i64,
    pub(crate) orig_len: u32,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

fn check_len(offset: u64, what: &'static str, len: u32, min: u32) -> Result<(), PcapError> {
    let reason = if len & 3 != 0 {
        "not a multiple of 4"
    } else if len < min {
        "shorter than the minimum for its type"
    } else {
        return Ok(());
    };
    Err(PcapError::BadBlockLength {
        offset,
        what,
        len,
        reason,
    })
}

fn truncated(offset: u64, what: &'static str, needed: u64, available: u64) -> PcapError {
    PcapError::Truncated {
        offset,
        what,
        needed,
        available,
    }
}

/// Consumes a block of `len` bytes starting at the current position, checking its trailer,
/// without buffering it whole.
fn skip_block<R: Read>(
    input: &mut Input<R>,
    endian: Endian,
    what: &'static str,
    len: u32,
) -> Result<(), PcapError> {
    let offset = input.offset();
    let body = u64::from(len) - 4;
    let skipped = input.skip(body)?;
    if skipped < body || !input.fill(4)? {
        let available = skipped + input.available().len() as u64;
        return Err(truncated(offset, what, len.into(), available));
    }
    let trailer = endian.u32(input.available(), 0);
    if trailer != len {
        return Err(PcapError::LengthMismatch {
            offset,
            what,
            len,
            trailer,
        });
    }
    input.consume(4);
    Ok(())
}

/// Reads a Section Header Block at the current position: sets the byte order, forgets the
/// previous section's interfaces.
pub(crate) fn read_section_header<R: Read>(
    input: &mut Input<R>,
    st: &mut NgState,
) -> Result<(), PcapError> {
    const WHAT: &str = "section header block";
    let offset = input.offset();
    if !input.fill(24)? {
        return Err(truncated(offset, WHAT, 28, input.available().len() as u64));
    }
    let head = input.available();
    let magic = Endian::Little.u32(head, 8);
    let endian = if magic == BYTE_ORDER_MAGIC {
        Endian::Little
    } else if magic.swap_bytes() == BYTE_ORDER_MAGIC {
        Endian::Big
    } else {
        return Err(PcapError::BadByteOrder { offset, magic });
    };
    let len = endian.u32(head, 4);
    check_len(offset, WHAT, len, 28)?;
    let (major, minor) = (endian.u16(head, 12), endian.u16(head, 14));
    if major != 1 {
        return Err(PcapError::UnsupportedVersion {
            offset,
            format: "pcapng",
            major,
            minor,
        });
    }
    st.endian = endian;
    st.interfaces.clear();
    skip_block(input, endian, WHAT, len)
}

/// The options of a block body: (code, value) until `opt_endofopt` or the end; a malformed
/// option ends the list.
fn options(endian: Endian, bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let code = endian.u16(bytes, pos);
        let len = usize::from(endian.u16(bytes, pos + 2));
        if pos + 4 > bytes.len() || code == OPT_END {
            return None;
        }
        let value = bytes.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len.next_multiple_of(4);
        Some((code, value))
    })
}

fn parse_interface(endian: Endian, block: &[u8], offset: u64) -> Result<Interface, PcapError> {
    let link_type = LinkType(endian.u16(block, 8));
    let snaplen = endian.u32(block, 12);
    let (mut tsresol, mut tsoffset, mut name) = (6u8, 0i64, None);
    let opts = block.get(16..block.len().saturating_sub(4)).unwrap_or(&[]);
    for (code, value) in options(endian, opts) {
        match code {
            IF_TSRESOL => match value.first() {
                Some(&r) => tsresol = r,
                None => {
                    return Err(PcapError::Malformed {
                        offset,
                        what: "interface description block",
                        reason: "empty if_tsresol option",
                    })
                }
            },
            IF_TSOFFSET if value.len() >= 8 => tsoffset = endian.u64(value, 0) as i64,
            IF_NAME => {
                let value = value.get(..MAX_NAME_LEN).unwrap_or(value);
                let text = String::from_utf8_lossy(value);
                name = Some(text.trim_end_matches('\0').to_owned());
            }
            _ => {}
        }
    }
    let mut interface = Interface::new(link_type, snaplen, tsresol, tsoffset);
    interface.name = name;
    Ok(interface)
}

/// Reads blocks until the next packet; `None` at the clean end of the input.
pub(crate) fn next_packet<R: Read>(
    input: &mut Input<R>,
    st: &mut NgState,
) -> Result<Option<Pending>, PcapError> {
    loop {
        let offset = input.offset();
        if !input.fill(8)? {
            let available = input.available().len() as u64;
            if available == 0 {
                return Ok(None);
            }
            return Err(truncated(offset, "block header", 8, available));
        }
        let head = input.available();
        let btype = st.endian.u32(head, 0);
        if btype == SHB {
            read_section_header(input, st)?;
            continue;
        }
        let len = st.endian.u32(head, 4);
        let (what, min) = match btype {
            EPB => ("enhanced packet block", 32),
            SPB => ("simple packet block", 16),
            IDB => ("interface description block", 20),
            PB => ("packet block", 32),
            _ => ("block", 12),
        };
        check_len(offset, what, len, min)?;
        if !matches!(btype, EPB | SPB | IDB | PB) {
            skip_block(input, st.endian, what, len)?;
            continue;
        }
        if len > MAX_BLOCK_LEN {
            return Err(PcapError::BadBlockLength {
                offset,
                what,
                len,
                reason: "longer than the reader's limit",
            });
        }
        let size = len as usize;
        if !input.fill(size)? {
            let available = input.available().len() as u64;
            return Err(truncated(offset, what, len.into(), available));
        }
        let block = input.available().get(..size).unwrap_or(&[]);
        let trailer = st.endian.u32(block, size - 4);
        if trailer != len {
            return Err(PcapError::LengthMismatch {
                offset,
                what,
                len,
                trailer,
            });
        }
        if btype == IDB {
            if st.interfaces.len() >= MAX_INTERFACES {
                return Err(PcapError::Malformed {
                    offset,
                    what,
                    reason: "too many interfaces in one section",
                });
            }
            let interface = parse_interface(st.endian, block, offset)?;
            st.interfaces.push(interface);
            input.consume(size);
            continue;
        }
        let e = st.endian;
        let (interface, ts, caplen, orig_len, data_at) = match btype {
            SPB => {
                let orig_len = e.u32(block, 8);
                (0, None, orig_len.min(len - 16), orig_len, 12)
            }
            PB => {
                let ts = (u64::from(e.u32(block, 12)) << 32) | u64::from(e.u32(block, 16));
                let iface = u32::from(e.u16(block, 8));
                (iface, Some(ts), e.u32(block, 20), e.u32(block, 24), 28)
            }
            _ => {
                let ts = (u64::from(e.u32(block, 12)) << 32) | u64::from(e.u32(block, 16));
                (
                    e.u32(block, 8),
                    Some(ts),
                    e.u32(block, 20),
                    e.u32(block, 24),
                    28,
                )
            }
        };
        let Some(desc) = st.interfaces.get(interface as usize) else {
            return Err(PcapError::UnknownInterface {
                offset,
                what,
                interface,
                known: st.interfaces.len(),
            });
        };
        let caplen = match ts {
            None if desc.snaplen != 0 => caplen.min(desc.snaplen),
            _ => caplen,
        };
        if caplen > MAX_CAPLEN {
            return Err(PcapError::CaptureTooLong {
                offset,
                caplen,
                limit: MAX_CAPLEN,
            });
        }
        if data_at + caplen as usize > size - 4 {
            return Err(PcapError::Malformed {
                offset,
                what,
                reason: "the captured length overruns the block",
            });
        }
        let ts_nanos = match ts {
            Some(ts) => {
                st.last_ts = desc.ts_nanos(ts);
                st.last_ts
            }
            None => st.last_ts,
        };
        let link_type = desc.link_type;
        let at = input.consume(size);
        return Ok(Some(Pending {
            interface,
            link_type,
            ts_nanos,
            orig_len,
            start: at + data_at,
            len: caplen as usize,
        }));
    }
}
