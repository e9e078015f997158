//! AArch64 prologues: the frame record (`stp x29, x30, [sp, #-N]!; mov x29, sp`), stores of
//! callee-saved x19-x30 to the stack, and return-address signing (`paciasp` ... `autiasp` or
//! `retaa`), matched by instruction word.
use super::{Frame, Pac};
use crate::code::CodeMap;
use gloss_core::Insn;
use gloss_core::sem::{Reg, Sem};

const PACIASP: u32 = 0xd503_233f;
const PACIBSP: u32 = 0xd503_237f;
const PACIAZ: u32 = 0xd503_231f;
const PACIBZ: u32 = 0xd503_235f;
const AUTIASP: u32 = 0xd503_23bf;
const AUTIBSP: u32 = 0xd503_23ff;
const AUTIAZ: u32 = 0xd503_239f;
const AUTIBZ: u32 = 0xd503_23df;
const RETAA: u32 = 0xd65f_0bff;
const RETAB: u32 = 0xd65f_0fff;

fn word(b: &[u8]) -> Option<u32> {
    b.get(..4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// The registers a 64-bit `stp`/`str` stores to `[sp, ...]`.
fn stored_to_sp(w: u32) -> Vec<u8> {
    let rn = (w >> 5) & 31;
    if rn != 31 {
        return Vec::new();
    }
    let rt = (w & 31) as u8;
    let rt2 = ((w >> 10) & 31) as u8;
    match w & 0xffc0_0000 {
        // stp x, x: signed offset, pre-index, post-index
        0xa900_0000 | 0xa980_0000 | 0xa880_0000 => vec![rt, rt2],
        // str x, [sp, #imm]
        0xf900_0000 => vec![rt],
        // str x, [sp, #imm]! / [sp], #imm
        _ if w & 0xffe0_0400 == 0xf800_0400 => vec![rt],
        _ => Vec::new(),
    }
}

pub(super) fn frame(entry: &[(Insn, Sem)], code: &CodeMap, f: &mut Frame) {
    for (i, _) in entry {
        let Some(w) = word(code.bytes(i.addr).unwrap_or(&[])) else {
            continue;
        };
        for r in stored_to_sp(w) {
            if (19..=30).contains(&r) {
                f.saved.push((Reg(r), i.addr));
            }
        }
        // mov x29, sp (add x29, sp, #0) or add x29, sp, #N
        if w & 0xffc0_03ff == 0x9100_03fd {
            f.frame_pointer.get_or_insert(i.addr);
        }
    }
}

/// `firsts`: the instructions' first bytes (an AArch64 instruction's word).
pub(super) fn pac(insns: &[(Insn, Sem)], firsts: &[[u8; 4]]) -> Option<Pac> {
    let mut sign: Option<(char, u64)> = None;
    let mut auth = Vec::new();
    for ((i, _), first) in insns.iter().zip(firsts) {
        let w = (i.len == 4).then(|| u32::from_le_bytes(*first));
        match w {
            Some(PACIASP | PACIAZ) => {
                sign.get_or_insert(('A', i.addr));
            }
            Some(PACIBSP | PACIBZ) => {
                sign.get_or_insert(('B', i.addr));
            }
            Some(AUTIASP | AUTIBSP | AUTIAZ | AUTIBZ | RETAA | RETAB) => auth.push(i.addr),
            _ => {}
        }
    }
    let (key, sign) = sign?;
    auth.sort_unstable();
    Some(Pac { key, sign, auth })
}
