//! Prologue and epilogue: the frame a function sets up, the callee-saved registers it saves,
//! its stack protector and its return-address signing.
//!
//! - Frame pointer: x86-64 `push %rbp; mov %rsp,%rbp`; AArch64 `mov x29, sp` / `add x29, sp,
//!   #N` (`x86_64.rs`, `aarch64.rs`).
//! - Saved registers: the callee-saved registers the entry block pushes (x86-64) or stores
//!   to the stack (`stp x19, x20, [sp, #..]`).
//! - Stack protector: the guard is read (x86-64 `%fs:0x28`; elsewhere `__stack_chk_guard` or
//!   the PE security cookie, by the load config or as `__security_cookie`, directly or through
//!   its GOT slot) and the function calls the check: `__stack_chk_fail` (gcc, clang) when the
//!   copy in its frame changed, or MSVC's `__security_check_cookie` (`/GS`, clang
//!   `-fstack-protector` for *-windows-msvc) with the copy (x64: xor rsp), which returns when it
//!   is intact (x64 clang calls it only after its own compare failed, ARM64 always). Both must
//!   be there.
//! - Return-address signing (AArch64 PAC, `-mbranch-protection`): `paciasp`/`pacibsp` (or
//!   `paciaz`/`pacibz`) signs, `autiasp`/`autibsp`/`retaa`/`retab` authenticates.
//!
//! Fixture: frames.c (`protected_fn` has a stack protector and, being no leaf, is signed;
//! `fill` and `leaf` have neither), built for both architectures at -O0 and -O2, and as PE
//! x64/ARM64 with MSVC's cookie (`frames-*-msvc-clang-gs.exe`).
mod aarch64;
mod x86_64;

use super::addr_mat::Ref;
use super::call_site::Call;
use crate::code::CodeMap;
use gloss_core::sem::{Reg, Sem};
use gloss_core::{Arch, Flow, Image, Insn};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// The instruction that sets the frame pointer.
    pub frame_pointer: Option<u64>,
    /// Callee-saved registers the entry block saves, with the instruction that saves each.
    pub saved: Vec<(Reg, u64)>,
    pub stack_protector: Option<StackProtector>,
    pub pac: Option<Pac>,
}

impl Frame {
    pub fn is_empty(&self) -> bool {
        *self == Frame::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackProtector {
    /// Where the guard is first read (on entry).
    pub guard_load: u64,
    /// The call of `__stack_chk_fail`, or of MSVC's `__security_check_cookie`.
    pub fail_call: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pac {
    /// `'A'` or `'B'`.
    pub key: char,
    pub sign: u64,
    /// `autiasp`, `retaa` ...: one per return path.
    pub auth: Vec<u64>,
}

/// The frame of the function at `entry`, from its decoded instructions (`insns`, the entry
/// block first, with their first bytes, `firsts`) and what the address and call-site idioms
/// found in it.
pub(crate) fn find(
    guards: &Guards,
    image: &Image,
    code: &CodeMap,
    entry: u64,
    (insns, firsts): (&[(Insn, Sem)], &[[u8; 4]]),
    refs: &[Ref],
    calls: &[Call],
) -> Frame {
    let mut f = Frame::default();
    // the entry block: the instructions from the entry up to its first branch or call
    let first = insns
        .iter()
        .position(|(i, _)| i.addr == entry)
        .unwrap_or(insns.len());
    let mut end = first;
    let mut at = entry;
    for (insn, _) in &insns[first..] {
        if insn.addr != at {
            break;
        }
        end += 1;
        if insn.flow != Flow::Next {
            break;
        }
        at = insn.end();
    }
    let entry_block = &insns[first..end];
    match image.arch {
        Arch::X86_64 => x86_64::frame(entry_block, code, &mut f),
        Arch::Aarch64 => aarch64::frame(entry_block, code, &mut f),
    }
    f.pac = match image.arch {
        Arch::Aarch64 => aarch64::pac(insns, firsts),
        Arch::X86_64 => None,
    };
    let guard_load = match image.arch {
        Arch::X86_64 => x86_64::guard_load(insns, firsts, code),
        Arch::Aarch64 => None,
    }
    .or_else(|| {
        refs.iter()
            .filter(|r| guards.is_guard(image, r.target))
            .map(|r| r.addr)
            .min()
    });
    // (the callees are looked at only where a guard is read)
    let fail_call = || {
        calls
            .iter()
            .filter(|c| guards.calls_fail(image, c))
            .map(|c| c.addr)
            .min()
    };
    if let Some(guard_load) = guard_load
        && let Some(fail_call) = fail_call()
    {
        f.stack_protector = Some(StackProtector {
            guard_load,
            fail_call,
        });
    }
    f
}

/// What a stack protector calls to check the frame's copy of the guard: gcc's and clang's
/// `__stack_chk_fail` (`_local`: the hidden copy 32-bit and some PIC code call), called when
/// the copy changed, and MSVC's `__security_check_cookie`, called with the copy.
pub(crate) const CHECKS: [&str; 3] = [
    "__stack_chk_fail",
    "__stack_chk_fail_local",
    "__security_check_cookie",
];

/// The stack guard: `__stack_chk_guard` (or its GOT slot, or a GOT entry holding its
/// address), or the PE security cookie. The addresses with those names are found once per
/// image: asking for names at every ref of every function meant a symbol lookup each.
pub(crate) struct Guards {
    cookie: Option<u64>,
    /// The addresses with a guard's name (symbol, or import slot or stub).
    named: rustc_hash::FxHashSet<u64>,
    /// The addresses named as a protector's check ([`CHECKS`]: symbol, or import slot or
    /// stub).
    fail: rustc_hash::FxHashSet<u64>,
}

impl Guards {
    pub(crate) fn new(image: &Image) -> Guards {
        Guards {
            cookie: cookie(image),
            named: named_addrs(image, &["__stack_chk_guard", "__security_cookie"]),
            fail: named_addrs(image, &CHECKS),
        }
    }

    /// Whether the call is one of a check ([`CHECKS`]): its import's stub (else slot), or its
    /// target, has that name.
    fn calls_fail(&self, image: &Image, c: &Call) -> bool {
        let by_import = c
            .import
            .and_then(|i| image.imports[i].stub.or(image.imports[i].slot))
            .is_some_and(|a| self.fail.contains(&a.0));
        by_import || c.target.is_some_and(|t| self.fail.contains(&t))
    }

    /// Whether a ref to `a` reads the guard.
    fn is_guard(&self, image: &Image, a: u64) -> bool {
        if self.cookie == Some(a) || self.named.contains(&a) {
            return true;
        }
        // a GOT entry of the file's own guard holds its address
        !self.named.is_empty()
            && image.section_at(a).is_some_and(|s| s.name == ".got")
            && image
                .read_loaded_uint(a, 8)
                .is_some_and(|v| self.named.contains(&v))
    }
}

/// The names (without an `@plt`/`@got`/`@stub` suffix) of the symbols at `a`, or of the
/// import whose slot or stub `a` is.
fn names_at(image: &Image, a: u64) -> impl Iterator<Item = &str> {
    let import = image
        .import_by_slot(a)
        .or_else(|| image.import_by_stub(a))
        .map(|i| image.imports[i].name.as_str());
    import
        .into_iter()
        .chain(image.symbols.at(a).map(|s| s.name.as_str()))
        .map(|n| n.split('@').next().unwrap_or(n))
}

/// `name`, or Mach-O's spelling of it with one more `_`.
fn is_named(n: &str, name: &str) -> bool {
    n == name || n.strip_prefix('_') == Some(name)
}

/// The PE security cookie.
fn cookie(image: &Image) -> Option<u64> {
    image
        .facts
        .pe
        .as_ref()
        .and_then(|p| p.load_config.as_ref())
        .and_then(|l| l.security_cookie)
        .map(|c| c.0)
}

/// The addresses one of `names` names ([`names_at`], [`is_named`]): only a symbol or an
/// import (its slot or stub) of that name can, so those are the ones asked about.
pub(crate) fn named_addrs(image: &Image, names: &[&str]) -> rustc_hash::FxHashSet<u64> {
    fn base(n: &str) -> &str {
        n.split('@').next().unwrap_or(n)
    }
    let wanted = |n: &str| names.iter().any(|name| is_named(n, name));
    let symbols = image
        .symbols
        .iter()
        .filter(|s| wanted(base(&s.name)))
        .map(|s| s.addr.0);
    let imports = image
        .imports
        .iter()
        .filter(|i| wanted(base(&i.name)))
        .flat_map(|i| [i.slot, i.stub])
        .flatten()
        .map(|a| a.0);
    symbols
        .chain(imports)
        .filter(|&a| names_at(image, a).any(wanted))
        .collect()
}
