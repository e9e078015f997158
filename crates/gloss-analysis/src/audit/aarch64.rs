//! The AArch64 encodings the audit tests (Arm ARM: BTI, PAC, barriers; words little-endian).

fn word(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
}

const BTI_C: u32 = 0xd503_245f;
const BTI_J: u32 = 0xd503_249f;
const BTI_JC: u32 = 0xd503_24df;
const PACIASP: u32 = 0xd503_233f;
const PACIBSP: u32 = 0xd503_237f;
const ISB: u32 = 0xd503_3fdf;
const SB: u32 = 0xd503_30ff;

/// What an indirect branch expects at its target: a call (`blr`, and `br x16`/`br x17`,
/// which may land on a call's pad) or a jump.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pad {
    Call,
    Jump,
    /// `br x16`/`br x17`: either kind of pad.
    Either,
}

/// The landing pad at `bytes` accepts a branch of `pad`'s kind. `paciasp`/`pacibsp` are
/// implicit `bti c` pads.
pub fn lands(bytes: &[u8], pad: Pad) -> bool {
    let Some(w) = word(bytes) else { return false };
    let call = matches!(w, BTI_C | BTI_JC | PACIASP | PACIBSP);
    let jump = matches!(w, BTI_J | BTI_JC);
    match pad {
        Pad::Call => call,
        Pad::Jump => jump,
        Pad::Either => call || jump,
    }
}

/// The fields of an unconditional branch to a register (`br`, `blr`, `ret` and their
/// authenticating forms): `(opc, authenticated, Rn)`.
pub fn branch_reg(bytes: &[u8]) -> Option<(u32, bool, u8)> {
    let w = word(bytes)?;
    if w & 0xfe00_0000 != 0xd600_0000 {
        return None;
    }
    let op3 = (w >> 10) & 0x3f;
    Some(((w >> 21) & 0xf, op3 == 2 || op3 == 3, ((w >> 5) & 31) as u8))
}

/// The branch's target register is x16 or x17 (`br x16`: may land on `bti c`).
pub fn is_br_x16_x17(bytes: &[u8]) -> bool {
    matches!(branch_reg(bytes), Some((0, _, 16 | 17)))
}

/// A speculation barrier: `sb`, or `dsb <any>` followed by `isb`.
pub fn is_sls_barrier(bytes: &[u8]) -> bool {
    match word(bytes) {
        Some(SB) => true,
        Some(w) if w & 0xffff_f0ff == 0xd503_309f => bytes.get(4..).and_then(word) == Some(ISB),
        _ => false,
    }
}

/// An SLS `blr` thunk by its shape: `mov x16, xN; br x16; dsb sy; isb` (gcc -O2 puts one
/// at the end of each function, with no symbol of its own).
pub fn is_sls_blr_thunk(bytes: &[u8]) -> bool {
    let (Some(mov), Some(br)) = (word(bytes), bytes.get(4..).and_then(word)) else {
        return false;
    };
    // mov x16, xN = orr x16, xzr, xN
    mov & 0xffe0_ffff == 0xaa00_03f0
        && br == 0xd61f_0200
        && bytes.get(8..).is_some_and(is_sls_barrier)
}

/// `autiasp`, `autibsp` (and `autiaz`/`autibz`): the return address is authenticated.
pub fn is_aut_lr(bytes: &[u8]) -> bool {
    matches!(
        word(bytes),
        Some(0xd503_23bf | 0xd503_23ff | 0xd503_239f | 0xd503_23df)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(w: u32) -> [u8; 4] {
        w.to_le_bytes()
    }

    #[test]
    fn pads_match_the_branch_kinds_the_arm_arm_allows() {
        assert!(lands(&le(BTI_C), Pad::Call) && !lands(&le(BTI_C), Pad::Jump));
        assert!(lands(&le(BTI_J), Pad::Jump) && !lands(&le(BTI_J), Pad::Call));
        assert!(lands(&le(BTI_JC), Pad::Call) && lands(&le(BTI_JC), Pad::Jump));
        assert!(lands(&le(PACIASP), Pad::Call) && lands(&le(PACIASP), Pad::Either));
        assert!(!lands(&le(0xd503_201f), Pad::Either)); // nop
    }

    #[test]
    fn branch_register_forms_decode() {
        assert_eq!(branch_reg(&le(0xd61f_0200)), Some((0, false, 16))); // br x16
        assert_eq!(branch_reg(&le(0xd63f_0100)), Some((1, false, 8))); // blr x8
        assert_eq!(branch_reg(&le(0xd65f_03c0)), Some((2, false, 30))); // ret
        assert_eq!(branch_reg(&le(0xd65f_0bff)), Some((2, true, 31))); // retaa
        assert_eq!(branch_reg(&le(0xd73f_0901)), Some((9, true, 8))); // blraa x8, x1
        assert!(is_br_x16_x17(&le(0xd61f_0220)) && !is_br_x16_x17(&le(0xd61f_0100)));
    }

    #[test]
    fn sls_blr_thunk_is_mov_x16_br_x16_then_a_barrier() {
        // gcc -O2 -mharden-sls=all: mov x16, x1; br x16; dsb sy; isb
        let thunk = [le(0xaa01_03f0), le(0xd61f_0200), le(0xd503_3f9f), le(ISB)].concat();
        assert!(is_sls_blr_thunk(&thunk));
        assert!(!is_sls_blr_thunk(&thunk[..12]));
        assert!(!is_sls_blr_thunk(&thunk[4..]));
    }

    #[test]
    fn barriers_are_sb_or_dsb_then_isb() {
        let dsb_isb = [le(0xd503_3f9f), le(ISB)].concat();
        assert!(is_sls_barrier(&dsb_isb));
        assert!(is_sls_barrier(&le(SB)));
        assert!(!is_sls_barrier(&le(0xd503_3f9f))); // dsb sy alone
        assert!(!is_sls_barrier(&le(0xd503_201f)));
    }
}
