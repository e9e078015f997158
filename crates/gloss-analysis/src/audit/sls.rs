//! Straight-line speculation: a CPU may run on past an unconditional indirect branch or return
//! before it resolves. `-mharden-sls=all` puts a barrier after each: x86-64 `int3` after `ret`
//! and `jmp *`; AArch64 `dsb sy; isb` (or `sb`) after `ret` and `br`, and `blr` becomes a `bl`
//! of a thunk whose `br` has the barrier (see `retpoline.rs`). A return through the x86
//! return thunk needs none after its `jmp` (the thunk's own `ret` has it; gcc and objtool
//! agree).
use super::{BranchKind, Cx, IndirectBranch, Protection, Site, aarch64, x86_64};
use gloss_core::{Arch, Flow};

pub fn protect(cx: &Cx, s: &Site, b: &mut IndirectBranch) {
    // the branch itself, or the direct jump of a retpoline thunk that stands for an indirect
    // jump (gcc puts `int3` after `jmp __x86_indirect_thunk_rax` too)
    let thunk_jump = matches!(s.insn.flow, Flow::Jump(_)) && b.kind != BranchKind::Return;
    let branch = matches!(
        s.insn.flow,
        Flow::Return | Flow::IndirectJump | Flow::IndirectCall
    );
    if !thunk_jump && !branch {
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
