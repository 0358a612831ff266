//! The kernel filter: a pcap filter expression compiled to classic BPF by libpcap, with the snap
//! length and the direction applied in the same program.

use crate::config::DirectionFilter;
use crate::error::CaptureError;

/// The kernel refuses longer classic BPF programs (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;

// Classic BPF opcodes (linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_IMM: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_K: u16 = 0x00;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Builds the program to attach: the direction check, then the user's filter (or "accept"),
/// every accepting `ret` returning `snap_len` so the kernel copies at most that many bytes.
pub(crate) fn build_program(
    expression: Option<&str>,
    snap_len: u32,
    direction: DirectionFilter,
) -> Result<Vec<libc::sock_filter>, CaptureError> {
    let mut program = direction_prefix(direction);
    match expression.map(str::trim).filter(|e| !e.is_empty()) {
        Some(expression) => {
            for mut instruction in compile(expression)? {
                if instruction.code == BPF_RET | BPF_K && instruction.k != 0 {
                    instruction.k = snap_len;
                }
                program.push(instruction);
            }
        }
        None => program.push(insn(BPF_RET | BPF_K, 0, 0, snap_len)),
    }
    if program.len() > BPF_MAXINSNS {
        return Err(CaptureError::FilterCompile {
            expression: expression.unwrap_or_default().to_owned(),
            message: format!(
                "the program has {} instructions, the kernel accepts at most {BPF_MAXINSNS}",
                program.len()
            ),
        });
    }
    Ok(program)
}

/// Drops frames of the unwanted direction using the `pkttype` ancillary load, then clears A and X
/// so the user's program starts from the state the kernel gives a fresh program.
fn direction_prefix(direction: DirectionFilter) -> Vec<libc::sock_filter> {
    let outgoing = u32::from(libc::PACKET_OUTGOING);
    let (jt, jf) = match direction {
        DirectionFilter::All => return Vec::new(),
        // Outgoing → drop (next insn), else skip the drop.
        DirectionFilter::Incoming => (0, 1),
        // Outgoing → skip the drop, else drop.
        DirectionFilter::Outgoing => (1, 0),
    };
    let pkttype = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    vec![
        insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, pkttype),
        insn(BPF_JMP | BPF_JEQ | BPF_K, jt, jf, outgoing),
        insn(BPF_RET | BPF_K, 0, 0, 0),
        insn(BPF_LD | BPF_IMM, 0, 0, 0),
        insn(BPF_LDX | BPF_IMM, 0, 0, 0),
    ]
}

/// Compiles `expression` for Ethernet frames with libpcap (optimised).
pub(crate) fn compile(expression: &str) -> Result<Vec<libc::sock_filter>, CaptureError> {
    let fail = |message: String| CaptureError::FilterCompile {
        expression: expression.to_owned(),
        message,
    };
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| fail(e.to_string()))?;
    let program = dead
        .compile(expression, true)
        .map_err(|e| fail(e.to_string()))?;
    // The pcap crate keeps `bpf_insn` fields private; its Display is "code jt jf k" in decimal.
    program
        .get_instructions()
        .iter()
        .map(|instruction| {
            let text = instruction.to_string();
            parse_instruction(&text).ok_or_else(|| {
                fail(format!(
                    "unexpected BPF instruction text {text:?} from pcap"
                ))
            })
        })
        .collect()
}

fn parse_instruction(text: &str) -> Option<libc::sock_filter> {
    let mut fields = text.split_ascii_whitespace();
    let code = fields.next()?.parse().ok()?;
    let jt = fields.next()?.parse().ok()?;
    let jf = fields.next()?.parse().ok()?;
    let k = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some(insn(code, jt, jf, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_a_port_filter_and_caps_accepts_at_snap_len() {
        let program = build_program(Some("udp port 9999"), 200, DirectionFilter::All)
            .expect("filter compiles");
        assert!(program.len() > 4);
        let rets: Vec<u32> = program
            .iter()
            .filter(|i| i.code == BPF_RET | BPF_K)
            .map(|i| i.k)
            .collect();
        assert!(rets.contains(&0));
        assert!(rets.contains(&200));
        assert!(rets.iter().all(|&k| k == 0 || k == 200));
    }

    #[test]
    fn no_expression_accepts_everything_at_snap_len() {
        let program = build_program(None, 1500, DirectionFilter::All).expect("no filter");
        assert_eq!(program.len(), 1);
        assert_eq!((program[0].code, program[0].k), (BPF_RET | BPF_K, 1500));
        let blank = build_program(Some("  "), 1500, DirectionFilter::All).expect("blank");
        assert_eq!(blank.len(), 1);
    }

    #[test]
    fn direction_prefix_checks_pkttype() {
        let program = build_program(None, 64, DirectionFilter::Outgoing).expect("program");
        assert_eq!(program.len(), 6);
        assert_eq!(
            program[0].k,
            (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32
        );
        assert_eq!((program[1].jt, program[1].jf, program[1].k), (1, 0, 4));
        let incoming = build_program(None, 64, DirectionFilter::Incoming).expect("program");
        assert_eq!((incoming[1].jt, incoming[1].jf), (0, 1));
    }

    #[test]
    fn bad_expression_reports_pcap_message() {
        let err = build_program(Some("udp port nine"), 64, DirectionFilter::All)
            .expect_err("must not compile");
        let CaptureError::FilterCompile {
            expression,
            message,
        } = &err
        else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(expression, "udp port nine");
        assert!(!message.is_empty());
        assert!(err.to_string().contains("does not compile"), "{err}");
    }

    #[test]
    fn parses_instruction_text() {
        let i = parse_instruction("21 0 5 2048").expect("parses");
        assert_eq!((i.code, i.jt, i.jf, i.k), (21, 0, 5, 2048));
        assert!(parse_instruction("21 0 5").is_none());
        assert!(parse_instruction("21 0 5 1 2").is_none());
    }
}
