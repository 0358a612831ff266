//! The Whisperer's counters: cumulative since start, updated by every thread without locks, read
//! as a [`CounterSnapshot`] for status reports, tests and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Lock-free counters shared by the capture, buffer and sender threads.
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[doc = $doc])* pub $name: AtomicU64,)*
        }

        /// A copy of every counter at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct CounterSnapshot {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot {
                    $($name: self.$name.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

counters! {
    /// Frames read from the ring or the file.
    packets_seen,
    /// Their bytes on the wire.
    bytes_seen,
    /// Frames the kernel counted for the sockets (PACKET_STATISTICS `tp_packets`).
    kernel_packets,
    /// Frames the kernel dropped because a ring was full (`tp_drops`).
    kernel_drops,
    /// Frames dropped because the buffer was full (backend slow or away).
    own_drop_frames,
    /// Bytes (on the wire) of those frames.
    own_drop_bytes,
    /// Batches dropped because the buffer was full.
    own_drop_batches,
    /// Session records dropped with them.
    own_drop_sessions,
    /// Frames dropped by a circuit breaker (throughput limit, CPU budget).
    limit_drops,
    /// Empty ACKs not sent (`skip_empty_acks`).
    skipped_empty_acks,
    /// Frames of a link type Spider cannot decode, not sent.
    unsupported_frames,
    /// Session records (closed sessions) produced by the tracker.
    sessions_closed,
    /// Batches sealed by the batcher.
    batches_sealed,
    /// Frames in them.
    frames_sealed,
    /// Batches that went to the spill folder.
    batches_spilled,
    /// Push calls made (resends included).
    pushes,
    /// Batches sent again after a reconnection.
    batches_resent,
    /// Batches the backend acknowledged as durably stored.
    batches_acked,
    /// Frames in them.
    frames_acked,
    /// Their bytes on the wire.
    bytes_acked,
    /// Pushes the backend refused because a shard's disk is full (the batch stays buffered).
    refused_storage_full,
    /// Connections made to the backend.
    connections,
    /// Failed connection attempts and broken connections.
    connection_failures,
    /// Batches still buffered when the Whisperer stopped and the drain timeout passed.
    abandoned_batches,
    /// Frames in them.
    abandoned_frames,
    /// Batches lost in a spill segment that was damaged or unreadable (frames unknown).
    spill_lost_batches,
    /// CPU time of the Whisperer's threads, in nanoseconds.
    cpu_ns,
    /// Addresses the Controller answered for (with names or without).
    names_asked,
    /// Names it gave (host records queued for the backend).
    names_learnt,
    /// Logins to the Controller and questions to it that failed (asked again later).
    name_failures,
    /// Addresses or names dropped because their bounded queue was full.
    names_dropped,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl CounterSnapshot {
    /// Every frame the Whisperer read and did not deliver, whatever the reason.
    pub fn frames_not_delivered(&self) -> u64 {
        self.own_drop_frames + self.limit_drops + self.abandoned_frames
    }
}
