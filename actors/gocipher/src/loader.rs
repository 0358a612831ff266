//! Loads the kernel programs with aya, sizes the maps from the configuration, and attaches them:
//! the tracepoints to the kernel, the cgroup programs to the counted cgroup. Dropping the
//! [`Loaded`] detaches everything.

use std::fs::File;

use aya::maps::{Array, MapData};
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock, CgroupSockAddr,
    ProgramError,
};
use aya::{Btf, Ebpf, EbpfLoader};
use spider_ebpf_common::{Config, MAP_CONFIG, MAP_FLOWS, MAP_PEERS, MAP_SOCKS};

use crate::preflight::{CgroupTarget, BPF_OBJECT};
use crate::GocipherError;

const TRACEPOINTS: [&str; 3] = [
    "sock_send_length",
    "sock_recv_length",
    "inet_sock_set_state",
];
const SOCK_ADDR: [&str; 4] = ["sendmsg4", "sendmsg6", "recvmsg4", "recvmsg6"];
const SOCK: [&str; 3] = ["sock_create", "post_bind4", "post_bind6"];
const SKB: [(&str, CgroupSkbAttachType); 2] = [
    ("skb_ingress", CgroupSkbAttachType::Ingress),
    ("skb_egress", CgroupSkbAttachType::Egress),
];

/// Map sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapSizes {
    pub flows: u32,
    pub socks: u32,
}

/// The loaded object; its programs stay attached while it lives.
pub(crate) struct Loaded {
    pub ebpf: Ebpf,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loaded")
    }
}

fn program_error(program: &str, error: ProgramError) -> GocipherError {
    match error {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => GocipherError::Verifier {
            program: program.to_owned(),
            message: io_error.to_string(),
            log: verifier_log.to_string(),
        },
        other => GocipherError::Load(format!("{program}: {}", with_sources(&other))),
    }
}

/// An error and its causes on one line.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn missing(program: &str) -> GocipherError {
    GocipherError::Load(format!("program {program} is not in the object"))
}

/// Loads every program (the verifier runs here) without attaching any.
pub(crate) fn load(sizes: MapSizes) -> Result<Loaded, GocipherError> {
    let btf = Btf::from_sys_fs().map_err(|e| GocipherError::Load(format!("kernel BTF: {e}")))?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .map_max_entries(MAP_FLOWS, sizes.flows)
        .map_max_entries(MAP_SOCKS, sizes.socks)
        .map_max_entries(MAP_PEERS, 4096)
        .load(BPF_OBJECT)
        .map_err(|e| GocipherError::Load(e.to_string()))?;
    for name in TRACEPOINTS {
        let program: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| missing(name))?
            .try_into()
            .map_err(|e| program_error(name, e))?;
        program
            .load(name, &btf)
            .map_err(|e| program_error(name, e))?;
    }
    for name in SOCK_ADDR {
        let program: &mut CgroupSockAddr = ebpf
            .program_mut(name)
            .ok_or_else(|| missing(name))?
            .try_into()
            .map_err(|e| program_error(name, e))?;
        program.load().map_err(|e| program_error(name, e))?;
    }
    for name in SOCK {
        let program: &mut CgroupSock = ebpf
            .program_mut(name)
            .ok_or_else(|| missing(name))?
            .try_into()
            .map_err(|e| program_error(name, e))?;
        program.load().map_err(|e| program_error(name, e))?;
    }
    for (name, _) in SKB {
        let program: &mut CgroupSkb = ebpf
            .program_mut(name)
            .ok_or_else(|| missing(name))?
            .try_into()
            .map_err(|e| program_error(name, e))?;
        program.load().map_err(|e| program_error(name, e))?;
    }
    Ok(Loaded { ebpf })
}

impl Loaded {
    /// Writes the configuration the programs read at every event.
    pub fn configure(&mut self, config: &Config) -> Result<(), GocipherError> {
        let map = self
            .ebpf
            .map_mut(MAP_CONFIG)
            .ok_or_else(|| GocipherError::map(MAP_CONFIG, "not in the object"))?;
        let mut array: Array<&mut MapData, Config> =
            Array::try_from(map).map_err(|e| GocipherError::map(MAP_CONFIG, e))?;
        array
            .set(0, config, 0)
            .map_err(|e| GocipherError::map(MAP_CONFIG, e))
    }

    /// Attaches the programs: the cgroup ones to `target`, the tracepoints to the kernel.
    pub fn attach(&mut self, target: &CgroupTarget) -> Result<(), GocipherError> {
        let cgroup = File::open(&target.path).map_err(|e| GocipherError::io(&target.path, e))?;
        let attach_error = |program: &str, error: ProgramError| GocipherError::Attach {
            program: program.to_owned(),
            message: with_sources(&error),
        };
        // Attached as links (kernel ≥ 5.7), which coexist with other programs on the cgroup;
        // the kernel wants no flags with links.
        let mode = CgroupAttachMode::Single;
        for name in SOCK {
            let program: &mut CgroupSock = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| missing(name))?
                .try_into()
                .map_err(|e| attach_error(name, e))?;
            program
                .attach(&cgroup, mode)
                .map_err(|e| attach_error(name, e))?;
        }
        for name in SOCK_ADDR {
            let program: &mut CgroupSockAddr = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| missing(name))?
                .try_into()
                .map_err(|e| attach_error(name, e))?;
            program
                .attach(&cgroup, mode)
                .map_err(|e| attach_error(name, e))?;
        }
        for (name, kind) in SKB {
            let program: &mut CgroupSkb = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| missing(name))?
                .try_into()
                .map_err(|e| attach_error(name, e))?;
            program
                .attach(&cgroup, kind, mode)
                .map_err(|e| attach_error(name, e))?;
        }
        for name in TRACEPOINTS {
            let program: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| missing(name))?
                .try_into()
                .map_err(|e| attach_error(name, e))?;
            program.attach().map_err(|e| attach_error(name, e))?;
        }
        Ok(())
    }
}
