//! The streaming reader: format detection, pcap records, and the pcapng dispatch.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::input::{Endian, Input};
use crate::pcapng::{self, Interface, NgState, Pending};
use crate::{LinkType, PcapError, Record, RecordRef, MAX_CAPLEN};

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap (libpcap); `modified` is Alexey Kuznetzov's variant with longer record headers.
    Pcap {
        big_endian: bool,
        nanosecond: bool,
        modified: bool,
    },
    /// pcapng; each section has its own byte order.
    Pcapng,
}

#[derive(Debug)]
struct PcapState {
    endian: Endian,
    /// Nanoseconds per unit of the fraction field.
    frac_nanos: i64,
    record_header_len: usize,
    link_type: LinkType,
    /// The single interface, from the file header.
    interfaces: Vec<Interface>,
}

#[derive(Debug)]
enum State {
    Pcap(PcapState),
    Pcapng(NgState),
}

/// A streaming reader of pcap and pcapng files over any [`Read`].
///
/// It buffers by itself: wrapping the source in a `BufReader` only adds a copy.
#[derive(Debug)]
pub struct CaptureReader<R> {
    input: Input<R>,
    format: Format,
    state: State,
    total_size: Option<u64>,
    done: bool,
}

impl CaptureReader<File> {
    /// Opens a capture file; its size is known, for [`CaptureReader::total_size`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PcapError> {
        let io = |source| PcapError::Io { offset: 0, source };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        Ok(Self::new(file)?.with_total_size(Some(size)))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first section header (pcapng) and detects the format.
    pub fn new(reader: R) -> Result<Self, PcapError> {
        let mut input = Input::new(reader);
        if !input.fill(4)? {
            let available = input.available().len() as u64;
            return Err(PcapError::Truncated {
                offset: 0,
                what: "file header",
                needed: 4,
                available,
            });
        }
        let magic = Endian::Big.u32(input.available(), 0);
        if magic == pcapng::SHB {
            let mut st = NgState {
                endian: Endian::Little,
                interfaces: Vec::new(),
                last_ts: 0,
            };
            pcapng::read_section_header(&mut input, &mut st)?;
            return Ok(Self::with_state(input, Format::Pcapng, State::Pcapng(st)));
        }
        let (big_endian, nanosecond, modified) = match magic {
            0xa1b2_c3d4 => (true, false, false),
            0xd4c3_b2a1 => (false, false, false),
            0xa1b2_3c4d => (true, true, false),
            0x4d3c_b2a1 => (false, true, false),
            0xa1b2_cd34 => (true, false, true),
            0x34cd_b2a1 => (false, false, true),
            _ => return Err(PcapError::BadMagic { offset: 0, magic }),
        };
        if !input.fill(24)? {
            let available = input.available().len() as u64;
            return Err(PcapError::Truncated {
                offset: 0,
                what: "pcap file header",
                needed: 24,
                available,
            });
        }
        let endian = if big_endian {
            Endian::Big
        } else {
            Endian::Little
        };
        let head = input.available();
        let (major, minor) = (endian.u16(head, 4), endian.u16(head, 6));
        if major != 2 {
            return Err(PcapError::UnsupportedVersion {
                offset: 4,
                format: "pcap",
                major,
                minor,
            });
        }
        let snaplen = endian.u32(head, 16);
        // The upper 16 bits of the link type field carry FCS information.
        let link_type = LinkType((endian.u32(head, 20) & 0xffff) as u16);
        input.consume(24);
        let tsresol = if nanosecond { 9 } else { 6 };
        let state = PcapState {
            endian,
            frac_nanos: if nanosecond { 1 } else { 1000 },
            record_header_len: if modified { 24 } else { 16 },
            link_type,
            interfaces: vec![Interface::new(link_type, snaplen, tsresol, 0)],
        };
        let format = Format::Pcap {
            big_endian,
            nanosecond,
            modified,
        };
        Ok(Self::with_state(input, format, State::Pcap(state)))
    }

    fn with_state(input: Input<R>, format: Format, state: State) -> Self {
        Self {
            input,
            format,
            state,
            total_size: None,
            done: false,
        }
    }

    /// Sets the total size of the input, when the caller knows it (for a progress bar).
    pub fn with_total_size(mut self, total_size: Option<u64>) -> Self {
        self.total_size = total_size;
        self
    }

    /// The next record, borrowed until the next call; `None` at the end of the input.
    ///
    /// An error ends the stream (later calls return `Ok(None)`); the records read before it
    /// stay valid.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<RecordRef<'_>>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let next = match &mut self.state {
            State::Pcap(st) => next_pcap(&mut self.input, st),
            State::Pcapng(st) => pcapng::next_packet(&mut self.input, st),
        };
        match next {
            Ok(Some(p)) => Ok(Some(RecordRef {
                interface: p.interface,
                link_type: p.link_type,
                ts_nanos: p.ts_nanos,
                orig_len: p.orig_len,
                data: self.input.slice(p.start, p.len),
            })),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// An iterator of owned records (one allocation per record; [`Self::next_record`] has none).
    pub fn into_records(self) -> Records<R> {
        Records { reader: self }
    }
}

impl<R> CaptureReader<R> {
    /// The file format found at the start.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of the input consumed so far (the offset of the next record or block).
    pub fn position(&self) -> u64 {
        self.input.offset()
    }

    /// The input's total size, when known ([`Self::open`] or [`Self::with_total_size`]).
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    /// The interfaces of the current section (pcap: the one of the file header). In pcapng they
    /// grow as Interface Description Blocks are read, and reset at each new section.
    pub fn interfaces(&self) -> &[Interface] {
        match &self.state {
            State::Pcap(st) => &st.interfaces,
            State::Pcapng(st) => &st.interfaces,
        }
    }

    /// The link type of a pcap file, or of the first interface of a pcapng section seen so far.
    pub fn link_type(&self) -> Option<LinkType> {
        self.interfaces().first().map(|i| i.link_type)
    }
}

#[inline]
fn next_pcap<R: Read>(
    input: &mut Input<R>,
    st: &mut PcapState,
) -> Result<Option<Pending>, PcapError> {
    let offset = input.offset();
    let header_len = st.record_header_len;
    if !input.fill(header_len)? {
        let available = input.available().len() as u64;
        if available == 0 {
            return Ok(None);
        }
        return Err(PcapError::Truncated {
            offset,
            what: "record header",
            needed: header_len as u64,
            available,
        });
    }
    let head = input.available();
    let e = st.endian;
    let (secs, frac) = (e.u32(head, 0), e.u32(head, 4));
    let (caplen, orig_len) = (e.u32(head, 8), e.u32(head, 12));
    if caplen > MAX_CAPLEN {
        return Err(PcapError::CaptureTooLong {
            offset,
            caplen,
            limit: MAX_CAPLEN,
        });
    }
    let total = header_len + caplen as usize;
    if !input.fill(total)? {
        let available = input.available().len() as u64;
        return Err(PcapError::Truncated {
            offset,
            what: "record",
            needed: total as u64,
            available,
        });
    }
    let at = input.consume(total);
    Ok(Some(Pending {
        interface: 0,
        link_type: st.link_type,
        ts_nanos: i64::from(secs) * 1_000_000_000 + i64::from(frac) * st.frac_nanos,
        orig_len,
        start: at + header_len,
        len: caplen as usize,
    }))
}

/// Owned records of a [`CaptureReader`]; ends after the first error.
#[derive(Debug)]
pub struct Records<R> {
    reader: CaptureReader<R>,
}

impl<R> Records<R> {
    /// The reader, for its position or interfaces.
    pub fn reader(&self) -> &CaptureReader<R> {
        &self.reader
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Record, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.next_record() {
            Ok(Some(record)) => Some(Ok(record.to_record())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl<R: Read> std::iter::FusedIterator for Records<R> {}
