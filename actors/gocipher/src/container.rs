//! The container behind a cgroup: the cgroup id the kernel reports is the inode number of its
//! folder in the cgroup v2 hierarchy; the folder's name carries the container id for the usual
//! runtimes (`docker-ID.scope`, `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`,
//! `/docker/ID`, `/kubepods/…/ID`).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The most cgroup folders one lookup walks.
const MAX_WALK: usize = 20_000;
/// The most ids remembered.
const MAX_CACHED: usize = 50_000;

/// A container id in a cgroup path: the last component holding 64 hex digits.
pub fn container_id(cgroup_path: &str) -> Option<String> {
    cgroup_path.rsplit('/').find_map(|part| {
        let part = part.strip_suffix(".scope").unwrap_or(part);
        let id = part.rsplit(['-', ':']).next()?;
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
    })
}

/// Resolves cgroup ids to container ids by walking the hierarchy, remembering the answers.
#[derive(Debug)]
pub(crate) struct Containers {
    root: PathBuf,
    cache: HashMap<u64, Option<String>>,
}

impl Containers {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            cache: HashMap::new(),
        }
    }

    pub fn of(&mut self, cgroup_id: u64) -> Option<String> {
        if cgroup_id == 0 {
            return None;
        }
        if let Some(known) = self.cache.get(&cgroup_id) {
            return known.clone();
        }
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        let found = find(&self.root, cgroup_id)
            .and_then(|path| path.strip_prefix(&self.root).ok().map(Path::to_owned))
            .and_then(|relative| container_id(&relative.to_string_lossy()));
        self.cache.insert(cgroup_id, found.clone());
        found
    }
}

fn find(root: &Path, id: u64) -> Option<PathBuf> {
    let mut stack = vec![root.to_owned()];
    let mut walked = 0;
    while let Some(dir) = stack.pop() {
        walked += 1;
        if walked > MAX_WALK {
            return None;
        }
        let meta = std::fs::metadata(&dir).ok()?;
        if meta.ino() == id {
            return Some(dir);
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn container_ids_of_the_usual_runtimes() {
        for path in [
            format!("system.slice/docker-{ID}.scope"),
            format!("kubepods.slice/kubepods-burstable.slice/x/cri-containerd-{ID}.scope"),
            format!("kubepods/besteffort/pod1234/{ID}"),
            format!("machine.slice/libpod-{ID}.scope/container"),
            format!("system.slice/crio-{ID}.scope"),
        ] {
            assert_eq!(container_id(&path).as_deref(), Some(ID), "{path}");
        }
        assert_eq!(
            container_id("user.slice/user-0.slice/session-1.scope"),
            None
        );
        assert_eq!(container_id(""), None);
    }
}
