//! The capture error type.

use std::io;

/// What can go wrong while opening or reading a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// `socket(AF_PACKET)` was refused: the process is not root and lacks `CAP_NET_RAW`.
    #[error("opening a packet socket for interface {interface} needs root or CAP_NET_RAW")]
    PermissionDenied {
        /// The interface the capture was for (`any` for all interfaces).
        interface: String,
        /// The error from `socket()`.
        source: io::Error,
    },
    /// The interface name does not resolve to an index in the current network namespace.
    #[error("interface {interface} does not exist")]
    NoSuchInterface {
        /// The name that was looked up.
        interface: String,
        /// The error from `if_nametoindex`.
        source: io::Error,
    },
    /// libpcap could not compile the filter expression.
    #[error("filter {expression:?} does not compile: {message}")]
    FilterCompile {
        /// The filter expression as given.
        expression: String,
        /// libpcap's message.
        message: String,
    },
    /// The configuration is inconsistent (ring geometry, snap length, promiscuous on all interfaces…).
    #[error("invalid capture configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A system call failed.
    #[error("{operation} failed for interface {interface}")]
    Sys {
        /// The call or socket option, e.g. `setsockopt(PACKET_RX_RING)`.
        operation: &'static str,
        /// The interface the capture is for.
        interface: String,
        /// The OS error.
        source: io::Error,
    },
    /// Entering a network namespace failed.
    #[error("entering network namespace {path}")]
    Namespace {
        /// The namespace file (e.g. `/run/netns/NAME`).
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The thread that ran a closure inside a network namespace panicked.
    #[error("the thread running inside network namespace {path} panicked")]
    NamespaceThreadPanicked {
        /// The namespace file.
        path: String,
    },
}
