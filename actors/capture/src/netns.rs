//! Running code inside another network namespace without moving the caller.
//!
//! A capture socket, like any socket, belongs to the namespace of the thread that created it and
//! keeps it: open it in a short-lived thread that entered the namespace, then use it anywhere.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use crate::error::CaptureError;
use crate::sys;

/// The file of a namespace created by `ip netns add NAME`.
pub fn named_path(name: &str) -> String {
    format!("/run/netns/{name}")
}

/// Runs `f` on a new thread that first entered the network namespace at `path` (e.g.
/// `/run/netns/NAME` or `/proc/PID/ns/net`), and returns its result. The calling thread's
/// namespace is untouched.
pub fn run_in<T, F>(path: impl AsRef<Path>, f: F) -> Result<T, CaptureError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let path = path.as_ref();
    let shown = path.display().to_string();
    let namespace = File::open(path).map_err(|source| CaptureError::Namespace {
        path: shown.clone(),
        source,
    })?;
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || -> Result<T, CaptureError> {
            sys::setns_net(namespace.as_fd()).map_err(|source| CaptureError::Namespace {
                path: path.display().to_string(),
                source,
            })?;
            Ok(f())
        });
        worker
            .join()
            .unwrap_or(Err(CaptureError::NamespaceThreadPanicked { path: shown }))
    })
}
