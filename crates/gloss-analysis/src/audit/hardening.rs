//! Binary-level hardening: what the headers say about NX, ASLR, RELRO, binding, the stack
//! protector and FORTIFY; and required mitigations whose enabling flag is missing.
//!
//! Relocatable objects have no such headers: only their property notes are checked.
use super::{Audit, Finding, Level, Mitigation, Required, RuleInfo, rules};
use gloss_core::{Arch, Image, Relro};

fn finding(rule: &RuleInfo, level: Level, message: String) -> Finding {
    Finding {
        rule: rule.id,
        level,
        at: None,
        function: None,
        message,
        related: Vec::new(),
    }
}

fn flagged(rule: &RuleInfo) -> Finding {
    finding(rule, rule.level, rule.short.to_string())
}

/// libc functions `_FORTIFY_SOURCE` replaces by a `__<name>_chk` form.
const FORTIFIABLE: &[&str] = &[
    "memcpy",
    "memmove",
    "memset",
    "strcpy",
    "stpcpy",
    "strcat",
    "strncpy",
    "strncat",
    "sprintf",
    "snprintf",
    "vsprintf",
    "vsnprintf",
    "printf",
    "fprintf",
    "vprintf",
    "vfprintf",
    "read",
    "fgets",
    "gets",
    "realpath",
    "getcwd",
    "wcscpy",
];

/// The functions that call `__stack_chk_fail` or MSVC's `__security_check_cookie` (directly,
/// or through its import stub): the check half of a stack protector, which every compiler's
/// protector has.
pub fn stack_protected(image: &Image, analysis: &crate::discover::Analysis) -> usize {
    let fail = crate::idiom::prologue::named_addrs(image, &crate::idiom::prologue::CHECKS);
    analysis
        .functions
        .iter()
        .filter(|f| f.calls.iter().any(|t| fail.contains(t)))
        .count()
}

/// The `__*_chk` functions the binary imports.
pub fn fortified(image: &Image) -> Vec<String> {
    let mut out: Vec<String> = image
        .imports
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| n.starts_with("__") && n.ends_with("_chk") && *n != "__stack_chk_fail")
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn check(image: &Image, required: Required, audit: &Audit) -> Vec<Finding> {
    let mut out = Vec::new();
    // required mitigations the flags do not turn on
    for m in required.list() {
        let Some(rule) = rules::flag_rule(m) else {
            continue;
        };
        let on = match m {
            Mitigation::Ibt => image.arch != Arch::X86_64 || property(image, |p| p.ibt),
            Mitigation::Bti => image.arch != Arch::Aarch64 || property(image, |p| p.bti),
            Mitigation::Cfg => image
                .facts
                .pe
                .as_ref()
                .is_some_and(|p| p.dll_characteristics & 0x4000 != 0),
            _ => true,
        };
        if !on {
            out.push(flagged(rule));
        }
    }
    // GUARD_CF claims Control Flow Guard; the load config must back it: the check function's
    // pointer and IMAGE_GUARD_CF_INSTRUMENTED (0x100), or the loader does not enforce it
    if let Some(pe) = &image.facts.pe
        && pe.dll_characteristics & 0x4000 != 0
    {
        let lc = pe.load_config.as_ref();
        let instrumented =
            lc.is_some_and(|l| l.guard_check_icall_fptr.is_some() && l.guard_flags & 0x100 != 0);
        if !instrumented {
            out.push(finding(
                &rules::CFG_FLAG_MISSING,
                Level::Error,
                "GUARD_CF is set, but the load config has no guard check pointer or lacks \
                 CF_INSTRUMENTED (the binary claims CFG)"
                    .into(),
            ));
        }
    }
    let linked = if let Some(elf) = &image.facts.elf {
        if elf.file_type == "ET_REL" {
            return out;
        }
        if !elf.nx {
            out.push(finding(
                &rules::HARDENING_NX,
                Level::Error,
                "the stack is executable (no non-executable PT_GNU_STACK)".into(),
            ));
        }
        if !elf.pie && !elf.shared_object {
            out.push(flagged(&rules::HARDENING_PIE));
        }
        let dynamic = elf.interpreter.is_some() || elf.shared_object;
        match elf.relro {
            None | Some(Relro::None) if dynamic => out.push(finding(
                &rules::HARDENING_RELRO,
                Level::Warning,
                "no RELRO: relocated data stays writable".into(),
            )),
            Some(Relro::Partial) => out.push(finding(
                &rules::HARDENING_RELRO,
                Level::Note,
                "partial RELRO: the GOT stays writable".into(),
            )),
            _ => {}
        }
        if dynamic && !elf.bind_now && !image.imports.is_empty() {
            out.push(flagged(&rules::HARDENING_BIND_NOW));
        }
        true
    } else if let Some(pe) = &image.facts.pe {
        let has = |bit: u16| pe.dll_characteristics & bit != 0;
        if !has(0x0100) {
            out.push(finding(
                &rules::HARDENING_NX,
                Level::Error,
                "NX_COMPAT is not set: data may be executable".into(),
            ));
        }
        if !has(0x0040) {
            out.push(flagged(&rules::HARDENING_PIE));
        } else if !has(0x0020) {
            out.push(flagged(&rules::HARDENING_HIGH_ENTROPY));
        }
        if !pe.cet_compat && image.arch == Arch::X86_64 {
            out.push(flagged(&rules::HARDENING_CET));
        }
        // no FORTIFY in MSVC's CRT
        false
    } else if let Some(m) = &image.facts.macho {
        if m.file_type == "MH_EXECUTE" && !m.pie {
            out.push(flagged(&rules::HARDENING_PIE));
        }
        m.file_type != "MH_OBJECT"
    } else {
        false
    };
    // MSVC's cookie check is known by its name: a PE without COFF symbols (as MSVC ships
    // them) does not say whether it has one
    let named_pe = image.facts.pe.is_some()
        && image
            .symbols
            .iter()
            .any(|s| s.source == gloss_core::SymbolSource::Coff);
    if (linked || named_pe) && audit.stack_protected == 0 && !image.imports.is_empty() {
        out.push(flagged(&rules::HARDENING_STACK_PROTECTOR));
    }
    if linked {
        let bare = |n: &str| n.trim_start_matches('_').to_string();
        let fortifiable = image
            .imports
            .iter()
            .any(|i| FORTIFIABLE.contains(&bare(&i.name).as_str()));
        if fortifiable && audit.fortified.is_empty() {
            out.push(flagged(&rules::HARDENING_FORTIFY));
        }
    }
    out
}

fn property(image: &Image, bit: impl Fn(gloss_core::GnuProperty) -> bool) -> bool {
    image
        .facts
        .elf
        .as_ref()
        .is_some_and(|e| bit(e.gnu_property))
}
