//! x86-64 prologues: `push %rbp; mov %rsp,%rbp`, pushes of callee-saved registers (rbx, rbp,
//! r12-r15; Windows also rsi, rdi), and the stack guard read from `%fs:0x28` (glibc's TCB).
use super::Frame;
use crate::code::CodeMap;
use gloss_core::Insn;
use gloss_core::sem::{Reg, Sem};

const RBP: u8 = 5;
/// Callee-saved in the System V and Windows x64 conventions (rsi and rdi only in Windows'; a
/// System V entry block never saves them).
const CALLEE_SAVED: [u8; 8] = [3, 5, 6, 7, 12, 13, 14, 15];

/// `push %reg` (`50+r`, `41 50+r`): the register.
fn pushed(b: &[u8]) -> Option<u8> {
    match b {
        [0x41, op, ..] if (0x50..0x58).contains(op) => Some(op - 0x50 + 8),
        [op, ..] if (0x50..0x58).contains(op) => Some(op - 0x50),
        _ => None,
    }
}

pub(super) fn frame(entry: &[(Insn, Sem)], code: &CodeMap, f: &mut Frame) {
    let mut rbp_pushed = false;
    for (i, _) in entry {
        let b = code.bytes(i.addr).unwrap_or(&[]);
        if let Some(r) = pushed(b) {
            rbp_pushed |= r == RBP;
            if CALLEE_SAVED.contains(&r) {
                f.saved.push((Reg(r), i.addr));
            }
        } else if rbp_pushed && b.starts_with(&[0x48, 0x89, 0xe5]) {
            // mov %rsp,%rbp
            f.frame_pointer.get_or_insert(i.addr);
        }
    }
}

/// The first instruction that reads `%fs:0x28`: `64 REX.W op modrm(SIB, disp32) 25 28 00 00 00`
/// (`firsts`: the instructions' first bytes, which tell the few worth reading further).
pub(super) fn guard_load(insns: &[(Insn, Sem)], firsts: &[[u8; 4]], code: &CodeMap) -> Option<u64> {
    insns
        .iter()
        .zip(firsts)
        .filter(|&(_, &[fs, rex, _, modrm])| fs == 0x64 && rex & 0xf8 == 0x48 && modrm & 0xc7 == 0x04)
        .filter(|((i, _), _)| {
            matches!(code.bytes(i.addr).unwrap_or(&[]), [0x64, rex, _, modrm, 0x25, 0x28, 0, 0, 0, ..]
                if rex & 0xf8 == 0x48 && modrm & 0xc7 == 0x04)
        })
        .map(|((i, _), _)| i.addr)
        .min()
}
