//! AArch64 pointer authentication: returns whose address was signed on entry (`paciasp`)
//! and is authenticated on the way out (`autiasp` earlier in the return's block, or `retaa`),
//! and branches that authenticate their target (`braa`, `blraa`, ...).
//!
//! `-mbranch-protection=pac-ret` signs only functions that save the link register: a leaf
//! that keeps x30 in its register has no return address in memory to protect, so PAC does not
//! apply to its returns.
use super::aarch64 as a64;
use super::{BranchKind, Cx, IndirectBranch, Protection, Site};
use gloss_core::Arch;
use gloss_core::sem::Reg;

pub fn protect(cx: &Cx, s: &Site, b: &mut IndirectBranch) {
    if cx.image.arch != Arch::Aarch64 {
        return;
    }
    let authenticated = a64::branch_reg(s.bytes).is_some_and(|(_, auth, _)| auth);
    let ok = if b.kind == BranchKind::Return {
        s.explained.frame.pac.as_ref().is_some_and(|p| {
            authenticated
                || p.auth
                    .iter()
                    .any(|&a| a >= s.block && a < s.insn.addr && a64::is_aut_lr(cx.bytes(a)))
        })
    } else {
        authenticated
    };
    if ok {
        b.protections.push(Protection::Pac);
    }
}

/// PAC is about this return: its function saves the link register (or signs it anyway).
pub fn applies(s: &Site) -> bool {
    let frame = &s.explained.frame;
    frame.pac.is_some() || frame.saved.iter().any(|&(r, _)| r == Reg(30))
}
