//! Frames built in the test, and a heap meter.
#![allow(dead_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use etherparse::PacketBuilder;

/// A global allocator that tracks the live heap and its peak.
pub struct HeapMeter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for HeapMeter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

impl HeapMeter {
    /// Starts a measurement: the peak is reset to the current live heap, which is returned.
    pub fn reset_peak() -> usize {
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        live
    }

    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

/// An IPv4 TCP packet (raw IP link type) from `src` to `dst`.
pub fn tcp_frame(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    out.clear();
    let mut builder = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 65535);
    for flag in flags.chars() {
        builder = match flag {
            'S' => builder.syn(),
            'F' => builder.fin(),
            'R' => builder.rst(),
            'P' => builder.psh(),
            _ => builder,
        };
    }
    if let Some(ack) = ack {
        builder = builder.ack(ack);
    }
    builder.write(out, payload).unwrap();
}
