//! Small audited wrappers around the libc calls the capture needs. The crate's `unsafe` lives
//! here and in the ring's status word accessors; each block says what it relies on.

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// `htons(ETH_P_ALL)`: every protocol.
pub(crate) const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// Opens an `AF_PACKET`/`SOCK_RAW` socket with protocol 0: it receives nothing until it is bound
/// with a protocol, so the ring and the filter are in place before the first packet.
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes integers only; the result is checked before it is used.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Plain-old-data option values passed to `setsockopt`. Only the types listed below implement it.
pub(crate) trait SockOptValue: Copy {}
impl SockOptValue for libc::c_int {}
impl SockOptValue for libc::tpacket_req3 {}
impl SockOptValue for libc::packet_mreq {}
impl SockOptValue for libc::sock_fprog {}

/// `setsockopt(fd, level, name, &value, sizeof value)`.
pub(crate) fn setsockopt<T: SockOptValue>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live reference, readable for `size_of::<T>()` bytes; the kernel only
    // reads through the pointer during the call. `T` is one of the plain C structs above.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads (and, as the kernel does for this option, resets) `PACKET_STATISTICS`.
pub(crate) fn packet_statistics(fd: BorrowedFd<'_>) -> io::Result<libc::tpacket_stats_v3> {
    let mut stats = libc::tpacket_stats_v3 {
        tp_packets: 0,
        tp_drops: 0,
        tp_freeze_q_cnt: 0,
    };
    let mut len = mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
    // SAFETY: `stats` and `len` are live locals; the kernel writes at most `len` bytes into
    // `stats` and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats_v3).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stats)
}

/// Reads and clears the pending socket error (`SO_ERROR`).
pub(crate) fn socket_error(fd: BorrowedFd<'_>) -> io::Error {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are live locals sized for the option.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        io::Error::last_os_error()
    } else {
        io::Error::from_raw_os_error(err)
    }
}

/// Binds the packet socket to `ifindex` (0: every interface) for every protocol.
pub(crate) fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain integers; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ALL_BE;
    addr.sll_ifindex = ifindex as libc::c_int;
    let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` is a live, fully initialised sockaddr_ll and `len` is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `poll` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollOutcome {
    /// Readable, or the timeout passed, or a signal interrupted: check the ring.
    Check,
    /// The socket has an error pending (e.g. the interface went down).
    Error,
}

/// Waits until the socket is readable or `timeout_ms` passed.
pub(crate) fn poll_readable(
    fd: BorrowedFd<'_>,
    timeout_ms: libc::c_int,
) -> io::Result<PollOutcome> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN | libc::POLLERR,
        revents: 0,
    };
    // SAFETY: `pfd` is one live pollfd and nfds is 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(PollOutcome::Check);
        }
        return Err(err);
    }
    if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        return Ok(PollOutcome::Error);
    }
    Ok(PollOutcome::Check)
}

/// Interface name → index in the calling thread's network namespace.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c_name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))?;
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// Moves the calling thread into the network namespace of `ns`.
pub(crate) fn setns_net(ns: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns takes a descriptor and a flag; it affects only the calling thread for
    // CLONE_NEWNET.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A shared read-write mapping of the packet ring, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; the pointer is a process-wide address, valid
// from any thread, and every access goes through `&self`/`&mut self` of the owning ring.
unsafe impl Send for Mmap {}

impl Mmap {
    /// Maps `len` bytes of the socket's ring.
    pub(crate) fn packet_ring(fd: BorrowedFd<'_>, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping chosen by the kernel (addr NULL) of the socket's ring;
        // the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
        Ok(Self { ptr, len })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping created in `packet_ring`, and no borrow of
        // it can outlive `self`.
        let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        if rc < 0 {
            tracing::warn!(error = %io::Error::last_os_error(), "munmap of the packet ring failed");
        }
    }
}
