//! What the kernel must offer before anything is loaded: root, BTF, a cgroup v2 hierarchy, and
//! programs the verifier accepts. Each missing piece is a precise [`GocipherError`].

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::GocipherError;

pub(crate) const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// The kernel programs built into this binary (empty when the build machine lacked the tools).
pub(crate) static BPF_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gocipher.bpf.o"));
const BPF_MISSING: &str = env!("SPIDER_GOCIPHER_BPF_MISSING");

/// The cgroup whose sockets are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupTarget {
    pub path: PathBuf,
    /// The cgroup v2 id (the folder's inode number).
    pub id: u64,
    /// Depth below the root of the hierarchy; 0 is the root.
    pub level: u32,
}

/// What the preflight found.
#[derive(Debug, Clone)]
pub struct KernelSupport {
    /// Where the cgroup v2 hierarchy is mounted.
    pub cgroup_root: PathBuf,
}

/// The mount point of the cgroup v2 hierarchy, from `/proc/mounts`.
pub fn cgroup2_mount() -> Result<PathBuf, GocipherError> {
    let mounts = std::fs::read_to_string("/proc/mounts")
        .map_err(|e| GocipherError::io("/proc/mounts", e))?;
    cgroup2_in(&mounts).ok_or(GocipherError::NoCgroupV2)
}

fn cgroup2_in(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_dev, dir, fstype) = (fields.next()?, fields.next()?, fields.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_mount(dir)))
    })
}

/// `/proc/mounts` escapes spaces and a few others as octal (`\040`).
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves the cgroup to count: `None` is the root of the hierarchy.
pub fn cgroup_target(root: &Path, cgroup: Option<&Path>) -> Result<CgroupTarget, GocipherError> {
    let root = root
        .canonicalize()
        .map_err(|e| GocipherError::io(root, e))?;
    let path = match cgroup {
        None => root.clone(),
        Some(path) => path
            .canonicalize()
            .map_err(|e| GocipherError::io(path, e))?,
    };
    let not_a_cgroup = || GocipherError::NotACgroup {
        path: path.clone(),
        root: root.clone(),
    };
    let relative = path.strip_prefix(&root).map_err(|_| not_a_cgroup())?;
    if !path.join("cgroup.procs").exists() {
        return Err(not_a_cgroup());
    }
    let level = u32::try_from(relative.components().count()).map_err(|_| not_a_cgroup())?;
    let id = std::fs::metadata(&path)
        .map_err(|e| GocipherError::io(&path, e))?
        .ino();
    Ok(CgroupTarget { path, id, level })
}

/// Checks root, BTF, cgroup v2 and the built programs (not the verifier: see [`crate::preflight`]).
pub(crate) fn static_checks() -> Result<KernelSupport, GocipherError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        return Err(GocipherError::NotRoot { uid });
    }
    if !Path::new(BTF_PATH).exists() {
        return Err(GocipherError::NoBtf {
            path: BTF_PATH.into(),
        });
    }
    let cgroup_root = cgroup2_mount()?;
    if BPF_OBJECT.is_empty() {
        return Err(GocipherError::NotBuilt {
            reason: if BPF_MISSING.is_empty() {
                "empty object".into()
            } else {
                BPF_MISSING.into()
            },
        });
    }
    Ok(KernelSupport { cgroup_root })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount_wherever_it_is() {
        let mounts = "sysfs /sys sysfs rw 0 0\n\
                      cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\n";
        assert_eq!(
            cgroup2_in(mounts),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(cgroup2_in("sysfs /sys sysfs rw 0 0\n"), None);
        assert_eq!(
            cgroup2_in("none /mnt/my\\040cg cgroup2 rw 0 0\n"),
            Some(PathBuf::from("/mnt/my cg"))
        );
    }

    #[test]
    fn a_folder_outside_the_hierarchy_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("a");
        std::fs::create_dir(&inside).unwrap();
        // Not a cgroup: no cgroup.procs.
        assert!(matches!(
            cgroup_target(dir.path(), Some(&inside)),
            Err(GocipherError::NotACgroup { .. })
        ));
        std::fs::write(inside.join("cgroup.procs"), "").unwrap();
        let target = cgroup_target(dir.path(), Some(&inside)).unwrap();
        assert_eq!(target.level, 1);
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            cgroup_target(dir.path(), Some(other.path())),
            Err(GocipherError::NotACgroup { .. })
        ));
    }
}
