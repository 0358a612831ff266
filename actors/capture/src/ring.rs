//! The TPACKET_V3 receive ring: blocks handed back and forth with the kernel through the
//! `block_status` word, and a bounds-checked walk over the frames of a block.

use std::mem::offset_of;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::frame::{link_type_for_arphrd, Direction, Frame, VlanTag};
use crate::sys::Mmap;

/// Offset of `block_status` in a block descriptor (`tpacket_block_desc.hdr.bh1.block_status`).
const BLOCK_STATUS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
const NUM_PKTS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const OFFSET_TO_FIRST_PKT: usize = offset_of!(libc::tpacket_block_desc, hdr)
    + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
const SEQ_NUM: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, seq_num);

const HDR_NEXT: usize = offset_of!(libc::tpacket3_hdr, tp_next_offset);
const HDR_SEC: usize = offset_of!(libc::tpacket3_hdr, tp_sec);
const HDR_NSEC: usize = offset_of!(libc::tpacket3_hdr, tp_nsec);
const HDR_SNAPLEN: usize = offset_of!(libc::tpacket3_hdr, tp_snaplen);
const HDR_LEN: usize = offset_of!(libc::tpacket3_hdr, tp_len);
const HDR_STATUS: usize = offset_of!(libc::tpacket3_hdr, tp_status);
const HDR_MAC: usize = offset_of!(libc::tpacket3_hdr, tp_mac);
const HDR_VLAN_TCI: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci);
const HDR_VLAN_TPID: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid);
/// The `sockaddr_ll` follows the header, aligned to `TPACKET_ALIGNMENT`.
const SLL: usize = (std::mem::size_of::<libc::tpacket3_hdr>() + libc::TPACKET_ALIGNMENT - 1)
    & !(libc::TPACKET_ALIGNMENT - 1);
const SLL_IFINDEX: usize = SLL + offset_of!(libc::sockaddr_ll, sll_ifindex);
const SLL_HATYPE: usize = SLL + offset_of!(libc::sockaddr_ll, sll_hatype);
const SLL_PKTTYPE: usize = SLL + offset_of!(libc::sockaddr_ll, sll_pkttype);
/// Bytes of metadata that must fit before a frame's data.
const FRAME_META: usize = SLL + std::mem::size_of::<libc::sockaddr_ll>();

/// The mapped ring and the index of the next block the kernel will fill.
#[derive(Debug)]
pub(crate) struct Ring {
    map: Mmap,
    block_size: usize,
    block_count: usize,
    next: usize,
}

impl Ring {
    pub(crate) fn new(map: Mmap, block_size: usize, block_count: usize) -> Option<Self> {
        let fits = block_size
            .checked_mul(block_count)
            .is_some_and(|total| total <= map.len());
        (fits && block_size >= FRAME_META && block_count > 0).then_some(Self {
            map,
            block_size,
            block_count,
            next: 0,
        })
    }

    fn status_word(&self, block: usize) -> &AtomicU32 {
        let offset = block * self.block_size + BLOCK_STATUS;
        // SAFETY: `block < block_count`, so the word lies inside the mapping (checked in `new`);
        // the mapping is page aligned and `BLOCK_STATUS` is 4-aligned, so the pointer is aligned
        // for AtomicU32. The kernel and we both access this word atomically; it lives as long as
        // `self.map`.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// True when the next block belongs to user space.
    pub(crate) fn next_ready(&self) -> bool {
        self.status_word(self.next).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Takes the next block (which must be ready) and advances.
    pub(crate) fn take_next(&mut self) -> Block<'_> {
        let index = self.next;
        self.next = (self.next + 1) % self.block_count;
        let offset = index * self.block_size;
        // SAFETY: the range is inside the mapping (checked in `new`). The block's status says
        // user space owns it, so the kernel does not write to it until `Block::drop` hands it
        // back; the returned borrow of `self` keeps the mapping alive and the block unique.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(offset).cast_const(), self.block_size)
        };
        Block {
            ring: self,
            index,
            bytes,
        }
    }
}

/// A block of frames owned by user space. Dropping it returns the block to the kernel.
#[derive(Debug)]
pub struct Block<'a> {
    ring: &'a Ring,
    index: usize,
    bytes: &'a [u8],
}

impl Block<'_> {
    /// Number of frames the kernel says the block holds.
    pub fn len(&self) -> usize {
        read_u32(self.bytes, NUM_PKTS).unwrap_or(0) as usize
    }

    /// True when the block holds no frame (a block retired by timeout can be empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kernel's sequence number of this block (consecutive blocks differ by one).
    pub fn seq_num(&self) -> u64 {
        read_u64(self.bytes, SEQ_NUM).unwrap_or(0)
    }

    /// The frames, in the order the kernel wrote them. A malformed block (offsets outside the
    /// block) ends the walk early with a warning.
    pub fn frames(&self) -> Frames<'_> {
        Frames {
            block: self.bytes,
            offset: read_u32(self.bytes, OFFSET_TO_FIRST_PKT).unwrap_or(0) as usize,
            remaining: read_u32(self.bytes, NUM_PKTS).unwrap_or(0),
        }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        self.ring
            .status_word(self.index)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

/// Iterator over the frames of a [`Block`].
#[derive(Debug)]
pub struct Frames<'a> {
    block: &'a [u8],
    offset: usize,
    remaining: u32,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.remaining == 0 {
            return None;
        }
        match parse_frame(self.block, self.offset) {
            Some((frame, next_offset)) => {
                self.remaining -= 1;
                if next_offset == 0 {
                    self.remaining = 0;
                }
                self.offset += next_offset as usize;
                Some(frame)
            }
            None => {
                tracing::warn!(
                    offset = self.offset,
                    remaining = self.remaining,
                    "malformed tpacket3 header, skipping the rest of the block"
                );
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

/// Parses the frame whose `tpacket3_hdr` starts at `at`; returns it and `tp_next_offset`.
fn parse_frame(block: &[u8], at: usize) -> Option<(Frame<'_>, u32)> {
    if at == 0 || at.checked_add(FRAME_META)? > block.len() {
        return None;
    }
    let next = read_u32(block, at + HDR_NEXT)?;
    let sec = read_u32(block, at + HDR_SEC)?;
    let nsec = read_u32(block, at + HDR_NSEC)?;
    let snaplen = read_u32(block, at + HDR_SNAPLEN)? as usize;
    let len = read_u32(block, at + HDR_LEN)?;
    let status = read_u32(block, at + HDR_STATUS)?;
    let mac = read_u16(block, at + HDR_MAC)? as usize;
    let start = at.checked_add(mac)?;
    let data = block.get(start..start.checked_add(snaplen)?)?;
    let hatype = read_u16(block, at + SLL_HATYPE)?;
    let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| VlanTag {
        tpid: if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
            read_u16(block, at + HDR_VLAN_TPID).unwrap_or(0x8100)
        } else {
            0x8100
        },
        tci: read_u32(block, at + HDR_VLAN_TCI).unwrap_or(0) as u16,
    });
    let frame = Frame {
        timestamp_ns: u64::from(sec) * 1_000_000_000 + u64::from(nsec),
        ifindex: read_u32(block, at + SLL_IFINDEX)?,
        link_type: link_type_for_arphrd(hatype),
        arphrd: hatype,
        data,
        original_len: len,
        direction: Direction::from_pkttype(*block.get(at + SLL_PKTTYPE)?),
        vlan,
    };
    Some((frame, next))
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(raw.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(raw.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_ne_bytes(raw.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a fake block with the given frames laid out like the kernel does.
    fn fake_block(frames: &[&[u8]]) -> Vec<u8> {
        let mut block = vec![0u8; 4096];
        let first = 48usize;
        block[NUM_PKTS..NUM_PKTS + 4].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        block[OFFSET_TO_FIRST_PKT..OFFSET_TO_FIRST_PKT + 4]
            .copy_from_slice(&(first as u32).to_ne_bytes());
        let mut at = first;
        for (i, data) in frames.iter().enumerate() {
            let mac = FRAME_META + 2;
            let size = (mac + data.len() + 15) & !15;
            let next = if i + 1 == frames.len() {
                0
            } else {
                size as u32
            };
            block[at + HDR_NEXT..at + HDR_NEXT + 4].copy_from_slice(&next.to_ne_bytes());
            block[at + HDR_SEC..at + HDR_SEC + 4].copy_from_slice(&7u32.to_ne_bytes());
            block[at + HDR_NSEC..at + HDR_NSEC + 4].copy_from_slice(&(i as u32).to_ne_bytes());
            let n = data.len() as u32;
            block[at + HDR_SNAPLEN..at + HDR_SNAPLEN + 4].copy_from_slice(&n.to_ne_bytes());
            block[at + HDR_LEN..at + HDR_LEN + 4].copy_from_slice(&(n + 10).to_ne_bytes());
            block[at + HDR_MAC..at + HDR_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            block[at + SLL_IFINDEX..at + SLL_IFINDEX + 4].copy_from_slice(&3u32.to_ne_bytes());
            block[at + SLL_HATYPE..at + SLL_HATYPE + 2].copy_from_slice(&1u16.to_ne_bytes());
            block[at + SLL_PKTTYPE] = libc::PACKET_OUTGOING;
            block[at + mac..at + mac + data.len()].copy_from_slice(data);
            at += size;
        }
        block
    }

    #[test]
    fn walks_frames_of_a_block() {
        let block = fake_block(&[b"first frame", b"second"]);
        let frames = Frames {
            block: &block,
            offset: 48,
            remaining: 2,
        };
        let got: Vec<_> = frames.collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].data, b"first frame");
        assert_eq!(got[1].data, b"second");
        assert_eq!(got[1].timestamp_ns, 7_000_000_001);
        assert_eq!(got[0].original_len, 21);
        assert_eq!(got[0].ifindex, 3);
        assert_eq!(got[0].link_type, Some(1));
        assert_eq!(got[0].direction, Direction::Outgoing);
        assert!(got[0].is_truncated());
    }

    #[test]
    fn malformed_offsets_stop_the_walk() {
        let mut block = fake_block(&[b"first frame", b"second"]);
        // Point the first frame's data past the end of the block.
        block[48 + HDR_SNAPLEN..48 + HDR_SNAPLEN + 4].copy_from_slice(&9000u32.to_ne_bytes());
        let frames = Frames {
            block: &block,
            offset: 48,
            remaining: 2,
        };
        assert_eq!(frames.count(), 0);
        let frames = Frames {
            block: &block,
            offset: 4090,
            remaining: 1,
        };
        assert_eq!(frames.count(), 0);
    }
}
