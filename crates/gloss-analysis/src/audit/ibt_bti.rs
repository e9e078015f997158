//! Landing pads: x86-64 IBT (`endbr64`) and AArch64 BTI (`bti c|j|jc`, `paciasp`/`pacibsp`).
//!
//! A branch is IBT- or BTI-protected when the binary has the property (so the CPU enforces
//! it), the branch is tracked (x86: no `notrack` prefix), and every target it is known to
//! reach (a jump table's entries, a resolved call target) begins with a pad that accepts it.
//! Targets a function pointer may hold are unknown per branch, so the functions whose address
//! escapes (taken in code, stored in data, exported from a shared object) must begin with a
//! pad: [`entries`] checks them.
use super::aarch64::{self as a64, Pad};
use super::x86_64;
use super::{BranchKind, Cx, Finding, IndirectBranch, Mitigation, Protection, Site, rules};
use crate::discover::{Evidence, Function};
use crate::idiom::call_site::Kind as CallKind;
use gloss_core::{Arch, Flow, Image, SymbolSource};

fn property(cx: &Cx) -> bool {
    let p = cx.image.facts.elf.as_ref().map(|e| e.gnu_property);
    match cx.image.arch {
        Arch::X86_64 => p.is_some_and(|p| p.ibt),
        Arch::Aarch64 => p.is_some_and(|p| p.bti),
    }
}

fn mitigation(arch: Arch) -> Mitigation {
    match arch {
        Arch::X86_64 => Mitigation::Ibt,
        Arch::Aarch64 => Mitigation::Bti,
    }
}

/// The pad kind a branch needs at its target (AArch64; IBT has one pad for all).
fn pad_for(arch: Arch, s: &Site, b: &IndirectBranch) -> Pad {
    if arch == Arch::Aarch64 && a64::is_br_x16_x17(s.bytes) {
        Pad::Either
    } else if b.call {
        Pad::Call
    } else {
        Pad::Jump
    }
}

fn has_pad(cx: &Cx, target: u64, pad: Pad) -> bool {
    let bytes = cx.bytes(target);
    match cx.image.arch {
        Arch::X86_64 => x86_64::is_endbr64(bytes),
        Arch::Aarch64 => a64::lands(bytes, pad),
    }
}

fn pad_name(arch: Arch, pad: Pad) -> &'static str {
    match (arch, pad) {
        (Arch::X86_64, _) => "endbr64",
        (Arch::Aarch64, Pad::Call) => "bti c",
        (Arch::Aarch64, Pad::Jump) => "bti j",
        (Arch::Aarch64, Pad::Either) => "bti",
    }
}

pub fn protect(cx: &Cx, s: &Site, b: &mut IndirectBranch, findings: &mut Vec<Finding>) {
    if b.kind == BranchKind::Return
        || !matches!(s.insn.flow, Flow::IndirectCall | Flow::IndirectJump)
    {
        return;
    }
    let arch = cx.image.arch;
    if arch == Arch::X86_64 {
        b.notrack = x86_64::is_notrack(s.bytes);
    }
    let pad = pad_for(arch, s, b);
    // the targets this branch is known to reach
    let mut targets: Vec<u64> = s
        .function
        .switches
        .iter()
        .filter(|sw| sw.jump_addr == s.insn.addr)
        .flat_map(|sw| sw.entries.iter().copied())
        .collect();
    // a function pointer known at the call (an import's target is outside the binary)
    targets.extend(
        s.call
            .filter(|c| matches!(c.kind, CallKind::Indirect | CallKind::Virtual))
            .and_then(|c| c.target),
    );
    targets.sort_unstable();
    targets.dedup();
    let checked = cx.required.contains(mitigation(arch)) && b.kind != BranchKind::Thunk;
    let tracked = !b.notrack;
    let mut all_pads = true;
    for &t in &targets {
        if has_pad(cx, t, pad) {
            continue;
        }
        all_pads = false;
        if checked && tracked {
            let rule = rules::pad_rule(mitigation(arch));
            findings.push(Finding {
                rule: rule.id,
                level: rule.level,
                at: Some(t),
                function: Some(s.function.addr),
                message: format!(
                    "target {t:#x} of the {} at {:#x} does not begin with {}{}",
                    super::describe(b),
                    s.insn.addr,
                    pad_name(arch, pad),
                    cx.claim_note(mitigation(arch))
                ),
                related: vec![s.insn.addr],
            });
        }
    }
    if property(cx) && tracked && all_pads {
        b.protections.push(match arch {
            Arch::X86_64 => Protection::Ibt,
            Arch::Aarch64 => Protection::Bti,
        });
    }
}

/// Findings for the functions whose address escapes but that begin with no landing pad, when
/// IBT or BTI is required.
pub fn entries(cx: &Cx) -> Vec<Finding> {
    let arch = cx.image.arch;
    let m = mitigation(arch);
    if !cx.required.contains(m) {
        return Vec::new();
    }
    let rule = rules::pad_rule(m);
    cx.analysis
        .functions
        .iter()
        .filter_map(|f| {
            let why = escapes(cx, f)?;
            (!cx.is_thunk(f.addr) && !has_pad(cx, f.addr, Pad::Call)).then(|| Finding {
                rule: rule.id,
                level: rule.level,
                at: Some(f.addr),
                function: Some(f.addr),
                message: format!(
                    "function whose address escapes ({why}) does not begin with {}{}",
                    pad_name(arch, Pad::Call),
                    cx.claim_note(m)
                ),
                related: Vec::new(),
            })
        })
        .collect()
}

/// Why the function's address may reach an indirect branch, if it may: the code takes it, a
/// pointer to it lies in data, a relocation takes it (objects), or a shared object exports it.
pub fn escapes(cx: &Cx, f: &Function) -> Option<&'static str> {
    if f.evidence.contains(Evidence::DataPointer) {
        return Some("a pointer to it is in data");
    }
    if f.evidence.contains(Evidence::AddressTaken) {
        return Some("code takes its address");
    }
    if cx.in_object.contains(&f.addr) {
        return Some("a relocation takes its address");
    }
    let shared = cx.image.facts.elf.as_ref().is_some_and(|e| e.shared_object)
        || cx.image.facts.pe.as_ref().is_some_and(|p| p.dll);
    let exported = cx
        .image
        .symbols
        .at(f.addr)
        .any(|s| s.global && matches!(s.source, SymbolSource::Dynsym | SymbolSource::Export));
    (shared && exported).then_some("exported")
}

/// In a relocatable object (where discovery reads no pointers): the addresses relocations
/// other than calls and jumps lead to, which take a function's address (`.data` pointers,
/// `lea f(%rip)`, `adrp`+`add`).
pub(super) fn referenced_in_object(image: &Image) -> crate::FxHashSet<u64> {
    if !image.synthetic_layout {
        return Default::default();
    }
    let branch = |t: u32| match image.arch {
        Arch::X86_64 => t == 4,                // R_X86_64_PLT32
        Arch::Aarch64 => t == 282 || t == 283, // R_AARCH64_JUMP26, CALL26
    };
    let pc_adjust = match image.arch {
        Arch::X86_64 => 4,
        Arch::Aarch64 => 0,
    };
    let mut out = crate::FxHashSet::default();
    for r in image.relocs.iter().filter(|r| !branch(r.r_type)) {
        if let Some(t) = r.target {
            let sa = t.0.wrapping_add(r.addend as u64);
            out.insert(sa);
            out.insert(sa.wrapping_add(pc_adjust)); // x86-64 PC-relative: the addend is -4
        }
    }
    out
}
