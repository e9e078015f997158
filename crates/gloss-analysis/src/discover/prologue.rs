//! Function starts in bytes no traversal reached: after padding, a recognised prologue.
//! x86-64: `endbr64`; `push %rbp; mov %rsp,%rbp`. AArch64: `bti c`, `paciasp`/`pacibsp`,
//! `stp x29, x30, [sp, #-N]!`. Padding is `nop` of any length, `int3`, and zero bytes.
//! Failing a prologue, code that begins at the function alignment after padding: compilers
//! align every function (gcc and clang at -O1 and above: 16 bytes on x86-64 and AArch64) and
//! fill the bytes before it with no-ops or traps, and code nothing reached that starts there
//! is a function no call, jump or pointer the analysis saw reaches (a table of pointers built
//! at run time, a call through a register, an export nobody in the file calls).
use super::Covered;
use crate::code::CodeMap;
use gloss_core::{Arch, Disassembler, Flow, InsnStatus};
use rustc_hash::FxHashMap;

const X86_ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const X86_PUSH_RBP_MOV: [u8; 4] = [0x55, 0x48, 0x89, 0xe5];
const A64_BTI_C: u32 = 0xd503_245f;
const A64_BTI_JC: u32 = 0xd503_24df;
const A64_PACIASP: u32 = 0xd503_233f;
const A64_PACIBSP: u32 = 0xd503_237f;

fn is_prologue(arch: Arch, b: &[u8]) -> bool {
    match arch {
        Arch::X86_64 => b.starts_with(&X86_ENDBR64) || b.starts_with(&X86_PUSH_RBP_MOV),
        Arch::Aarch64 => {
            let Some(w) = b
                .get(..4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            else {
                return false;
            };
            // stp x29, x30, [sp, #imm]! (pre-index, any negative offset)
            let stp_fp_lr = w & 0xffc0_7fff == 0xa980_7bfd && (w >> 21) & 1 == 1;
            matches!(w, A64_BTI_C | A64_BTI_JC | A64_PACIASP | A64_PACIBSP) || stp_fp_lr
        }
    }
}

/// Whether the instruction at the start of `b` is padding, and its length.
fn padding(dis: &dyn Disassembler, b: &[u8], addr: u64) -> Option<u64> {
    if b.first() == Some(&0) && dis.arch() == Arch::X86_64 {
        return Some(1);
    }
    if dis.arch() == Arch::Aarch64 && b.get(..4) == Some(&[0, 0, 0, 0]) {
        return Some(4);
    }
    let (insn, sem) = dis.decode_sem(b, addr);
    // no effect at all: an instruction whose `op` is `None` may still store (`stp x30, x19,
    // [sp, #-0x10]!`, `movss %xmm0,(%rdi)`), write back, read or order memory
    let pad = insn.status == InsnStatus::Valid
        && (sem == gloss_core::sem::Sem::NONE && insn.flow == Flow::Next
            || insn.flow == Flow::Trap && dis.arch() == Arch::X86_64);
    // only true no-ops: a hint like `bti c` is a prologue, not padding
    (pad && !is_prologue(dis.arch(), b)).then_some(insn.len as u64)
}

/// The alignment compilers give functions.
pub(super) const FUNCTION_ALIGN: u64 = 16;

/// Instructions decoded from an aligned gap start before its code must have ended.
const MAX_LINEAR: usize = 512;

/// What begins a gap of code no block covers, after its padding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum GapStart {
    Prologue,
    /// Code at the function alignment that decodes to a terminator (return, jump, trap)
    /// without invalid bytes.
    Aligned,
}

/// Whether straight-line decoding from `a` reaches a return, jump or trap over valid
/// instructions only, within the code, and does not begin with a trap.
fn plausible(code: &CodeMap, dis: &dyn Disassembler, mut a: u64) -> bool {
    for i in 0..MAX_LINEAR {
        let Some(b) = code.bytes(a) else {
            return false;
        };
        let insn = dis.decode(b, a);
        if insn.status != InsnStatus::Valid {
            return false;
        }
        match insn.flow {
            // a trap first is data that decodes (`udf #n`) or padding, not a function
            Flow::Trap => return i > 0,
            Flow::Return | Flow::Jump(_) | Flow::IndirectJump => return true,
            _ => a = insn.end(),
        }
    }
    false
}

/// What a gap `(start, end)` begins with, as [`in_gaps`] found it.
pub(super) type GapCache = FxHashMap<(u64, u64), Option<(u64, GapStart)>>;

/// The first instruction after padding of each gap in the code not covered by any block,
/// when it is a prologue or aligned code. Gaps already in `cache` are not decoded again.
pub(super) fn in_gaps(
    code: &CodeMap,
    dis: &dyn Disassembler,
    covered: &Covered,
    cache: &mut GapCache,
) -> Vec<(u64, GapStart)> {
    let mut out = Vec::new();
    for (start, end) in code.sections() {
        let mut gaps = Vec::new();
        let mut pos = start;
        for &(s, e) in covered.ranges() {
            if e <= start || s >= end {
                continue;
            }
            if s > pos {
                gaps.push((pos, s));
            }
            pos = pos.max(e);
        }
        if pos < end {
            gaps.push((pos, end));
        }
        // one start per gap per round: the traversal of a start covers an unknown part of it
        for gap in gaps {
            let found = *cache
                .entry(gap)
                .or_insert_with(|| gap_start(code, dis, gap));
            out.extend(found);
        }
    }
    out
}

/// The first instruction after padding of a gap, and failing that the first after each
/// return, jump or trap that follows (code left over from the function before, reached by
/// nothing the analysis resolved) and its padding, when it is a prologue or aligned code.
fn gap_start(
    code: &CodeMap,
    dis: &dyn Disassembler,
    (mut a, e): (u64, u64),
) -> Option<(u64, GapStart)> {
    let mut after_end = true;
    while a < e {
        let Some(b) = code.bytes(a) else { break };
        if let Some(n) = padding(dis, b, a) {
            a += n;
            continue;
        }
        if after_end {
            if is_prologue(dis.arch(), b) {
                return Some((a, GapStart::Prologue));
            }
            if a % FUNCTION_ALIGN == 0 && plausible(code, dis, a) {
                return Some((a, GapStart::Aligned));
            }
        }
        let insn = dis.decode(b, a);
        after_end = insn.status == InsnStatus::Valid
            && matches!(
                insn.flow,
                Flow::Return | Flow::Jump(_) | Flow::IndirectJump | Flow::Trap
            );
        a = insn.end();
    }
    None
}
