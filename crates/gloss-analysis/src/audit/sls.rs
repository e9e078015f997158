//! Straight-line speculation: a CPU may run on past an unconditional indirect branch or return
//! before it resolves. `-mharden-sls=all` puts a barrier after each: x86-64 `int3` after `ret`
//! and `jmp *`; AArch64 `dsb sy; isb` (or `sb`) after `ret` and `br`, and `blr` becomes a `bl`
//! of a thunk whose `br` has the barrier (see `retpoline.rs`).
use super::{Cx, IndirectBranch, Protection, Site, aarch64, x86_64};
use gloss_core::{Arch, Flow};

pub fn protect(cx: &Cx, s: &Site, b: &mut IndirectBranch) {
    // only the branch instruction itself can have the barrier after it
    if !matches!(
        s.insn.flow,
        Flow::Return | Flow::IndirectJump | Flow::IndirectCall
    ) {
        return;
    }
    let after = s.bytes.get(s.insn.len as usize..).unwrap_or(&[]);
    let barrier = match cx.image.arch {
        Arch::X86_64 => x86_64::is_int3(after),
        Arch::Aarch64 => aarch64::is_sls_barrier(after),
    };
    if barrier {
        b.protections.push(Protection::Sls);
    }
}
