//! Compiles the Gocipher's kernel programs (`ebpf/src/gocipher.bpf.c`) with clang
//! (`-target bpf -O2 -g`, CO-RE) against a `vmlinux.h` that bpftool generates from the kernel's
//! BTF (`/sys/kernel/btf/vmlinux`, or `SPIDER_VMLINUX_BTF`).
//!
//! Without clang, bpftool or BTF on the build machine the crate still builds, with an empty
//! object and the reason, which `preflight()` reports at run time. A C compile error fails the
//! build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn find(candidates: &[&str]) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    candidates.iter().find_map(|name| {
        let direct = Path::new(name);
        if direct.is_absolute() {
            return direct.is_file().then(|| direct.to_owned());
        }
        dirs.iter().map(|dir| dir.join(name)).find(|p| p.is_file())
    })
}

fn tool(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed={var}");
    match env::var(var) {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => find(candidates),
    }
}

/// Builds the object; `Err` is a missing tool (a soft failure).
fn build(ebpf: &Path, out: &Path, object: &Path) -> Result<(), String> {
    let clang = tool("SPIDER_CLANG", &["clang-14", "clang"]).ok_or("clang not found")?;
    let bpftool = tool("SPIDER_BPFTOOL", &["bpftool"]).ok_or("bpftool not found")?;
    println!("cargo:rerun-if-env-changed=SPIDER_VMLINUX_BTF");
    let btf = env::var("SPIDER_VMLINUX_BTF").unwrap_or_else(|_| "/sys/kernel/btf/vmlinux".into());
    if !Path::new(&btf).exists() {
        return Err(format!("no kernel BTF at {btf}"));
    }
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        return Err("libbpf headers not found (/usr/include/bpf: install libbpf-dev)".into());
    }
    let dump = Command::new(&bpftool)
        .args(["btf", "dump", "file", &btf, "format", "c"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bpftool.display()))?;
    if !dump.status.success() {
        return Err(format!(
            "bpftool btf dump failed: {}",
            String::from_utf8_lossy(&dump.stderr)
        ));
    }
    let include = out.join("include");
    std::fs::create_dir_all(&include).map_err(|e| e.to_string())?;
    std::fs::write(include.join("vmlinux.h"), &dump.stdout).map_err(|e| e.to_string())?;
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "arm64",
        Ok("x86_64") | Err(_) => "x86",
        Ok(other) => other,
    }
    .to_owned();
    let status = Command::new(&clang)
        .arg("-target")
        .arg("bpf")
        .args(["-O2", "-g", "-Wall", "-Werror"])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(ebpf.join("include"))
        .arg("-c")
        .arg(ebpf.join("src/gocipher.bpf.c"))
        .arg("-o")
        .arg(object)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", clang.display()))?;
    if !status.success() {
        panic!("clang failed to compile the Gocipher's kernel programs ({status})");
    }
    // DWARF is not needed at load time (BTF stays): a smaller binary.
    if let Some(strip) = find(&["llvm-strip-14", "llvm-strip"]) {
        let _ = Command::new(strip).arg("-g").arg(object).status();
    }
    Ok(())
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let ebpf = manifest.join("../../ebpf");
    for dir in ["src", "include"] {
        println!("cargo:rerun-if-changed={}", ebpf.join(dir).display());
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let object = out.join("gocipher.bpf.o");
    let missing = match build(&ebpf, &out, &object) {
        Ok(()) => String::new(),
        Err(reason) => {
            println!("cargo:warning=the Gocipher's kernel programs were not built: {reason}");
            std::fs::write(&object, b"").expect("write to OUT_DIR");
            reason
        }
    };
    println!("cargo:rustc-env=SPIDER_GOCIPHER_BPF_MISSING={missing}");
}
