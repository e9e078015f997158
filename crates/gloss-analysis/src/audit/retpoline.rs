//! Retpolines and return thunks (x86-64), and the AArch64 SLS call thunks, which likewise
//! turn an indirect branch into a direct call of a thunk.
//!
//! - `call/jmp __x86_indirect_thunk_<reg>` (gcc `-mindirect-branch=thunk*`, the kernel),
//!   `__x86_indirect_call_thunk_`/`__x86_indirect_jump_thunk_`, clang's `__llvm_retpoline_<reg>`
//!   (`-mretpoline`): the indirect branch is retpolined. In a stripped binary a thunk is known
//!   by its shape (`call 1f` into a `pause; lfence` loop).
//! - `jmp __x86_return_thunk` (`-mfunction-return=thunk-extern`): a return through the return
//!   thunk.
//! - `bl __llvm_slsblr_thunk_x<N>` (clang), `bl __call_indirect_x<N>` (gcc -Os) or a `bl` of
//!   an unnamed `mov x16, xN; br x16; dsb sy; isb` at the function's end (gcc -O2), from
//!   `-mharden-sls=blr`: a `blr x<N>` hardened against straight-line speculation.
//! - gcc `-mindirect-branch=thunk-inline` puts the thunk's code in the function: its `ret`
//!   is the retpolined branch.
//! - `lfence` right before an x86 indirect branch (AMD's `-mindirect-branch=thunk` alternative,
//!   `-mharden-sls` has none): counts as a retpoline-class protection.
use super::{BranchKind, Cx, IndirectBranch, Protection, Site, aarch64, x86_64};
use crate::discover::Analysis;
use crate::idiom::call_site::{retpoline_named_reg, retpoline_shape_reg};
use gloss_core::{Arch, Image};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ThunkKind {
    /// Branches to the register its name ends with, without speculation.
    Indirect,
    Return,
    /// An AArch64 SLS-hardened `blr`.
    SlsCall,
}

const RETURN: &[&str] = &["__x86_return_thunk"];
const SLS_CALL: &[&str] = &["__llvm_slsblr_thunk_", "__call_indirect_"];

/// What kind of thunk a direct branch to `target` (named `name`) goes to, if any.
pub fn thunk_kind(cx: &Cx, target: Option<u64>, name: &str) -> Option<ThunkKind> {
    by_name(cx.image.arch, name).or_else(|| by_shape(cx.image, cx.bytes(target?)))
}

/// A thunk without a (known) name, by its first bytes: a retpoline (x86-64), an SLS `blr`
/// thunk (AArch64).
fn by_shape(image: &Image, bytes: &[u8]) -> Option<ThunkKind> {
    match image.arch {
        Arch::X86_64 => retpoline_shape_reg(bytes).map(|_| ThunkKind::Indirect),
        Arch::Aarch64 => aarch64::is_sls_blr_thunk(bytes).then_some(ThunkKind::SlsCall),
    }
}

fn by_name(arch: Arch, name: &str) -> Option<ThunkKind> {
    let has = |list: &[&str]| list.iter().any(|p| name.starts_with(p));
    match arch {
        Arch::X86_64 if retpoline_named_reg(name).is_some() => Some(ThunkKind::Indirect),
        Arch::X86_64 if has(RETURN) => Some(ThunkKind::Return),
        Arch::Aarch64 if has(SLS_CALL) => Some(ThunkKind::SlsCall),
        _ => None,
    }
}

/// The functions that are thunks (their branches are the mitigation, not sites to check), by
/// name or by their first bytes; found once, as calls of them are asked about everywhere.
pub fn thunk_functions(image: &Image, analysis: &Analysis) -> crate::FxHashSet<u64> {
    analysis
        .functions
        .iter()
        .filter(|f| {
            let named = f
                .name
                .as_deref()
                .is_some_and(|n| by_name(image.arch, n).is_some());
            named || by_shape(image, image.read_loaded_upto(f.addr, 32)).is_some()
        })
        .map(|f| f.addr)
        .collect()
}

/// A retpoline thunk's `call 1f` target (its `mov %reg,(%rsp); ret` half).
pub fn inner_call(cx: &Cx, thunk: u64) -> Option<u64> {
    let bytes = cx.bytes(thunk);
    if cx.image.arch != Arch::X86_64 || retpoline_shape_reg(bytes).is_none() {
        return None;
    }
    let at = if x86_64::is_endbr64(bytes) { 4 } else { 0 };
    let rel = i32::from_le_bytes(bytes.get(at + 1..at + 5)?.try_into().ok()?);
    Some((thunk + at as u64 + 5).wrapping_add(rel as i64 as u64))
}

/// The `ret` at `s` ends an inline retpoline (gcc `-mindirect-branch=thunk-inline`): its
/// block, `mov %reg,(%rsp); ret`, is the target of a `call` 12 bytes before it that is
/// followed by the `pause; lfence` capture loop.
pub fn is_inline(cx: &Cx, s: &Site) -> bool {
    cx.image.arch == Arch::X86_64
        && s.block >= 12
        && cx.code.contains(s.block - 12)
        && retpoline_shape_reg(cx.bytes(s.block - 12)).is_some()
        && !cx.is_thunk(s.function.addr)
}

pub fn protect(cx: &Cx, s: &Site, b: &mut IndirectBranch) {
    if b.kind == BranchKind::Thunk {
        return;
    }
    if s.insn.flow == gloss_core::Flow::Return && b.kind != BranchKind::Return {
        b.protections.push(Protection::Retpoline); // an inline retpoline
    }
    if let Some((t, name)) = s.callee {
        match thunk_kind(cx, t, name) {
            Some(ThunkKind::Indirect) => b.protections.push(Protection::Retpoline),
            Some(ThunkKind::Return) => b.protections.push(Protection::ReturnThunk),
            Some(ThunkKind::SlsCall) => b.protections.push(Protection::Sls),
            None => {}
        }
    }
    if cx.image.arch == Arch::X86_64
        && b.kind != BranchKind::Return
        && let Some(p) = s.prev
        && p.end() == s.insn.addr
        && x86_64::is_lfence(cx.bytes(p.addr))
    {
        b.protections.push(Protection::Lfence);
    }
}
