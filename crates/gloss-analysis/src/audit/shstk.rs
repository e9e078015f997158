//! x86-64 shadow stacks (CET SHSTK): when the binary has the SHSTK property, the CPU checks
//! every `ret` against its shadow copy of the return address. Reported as a protection of
//! returns; nothing in the code can lack it (the whole binary opts in).
use super::{BranchKind, Cx, IndirectBranch, Protection};
use gloss_core::Arch;

pub fn protect(cx: &Cx, b: &mut IndirectBranch) {
    let shstk = cx
        .image
        .facts
        .elf
        .as_ref()
        .is_some_and(|e| e.gnu_property.shstk);
    if cx.image.arch == Arch::X86_64
        && b.kind == BranchKind::Return
        && b.via_thunk.is_none()
        && shstk
    {
        b.protections.push(Protection::Shstk);
    }
}
