//! Windows Control Flow Guard: an indirect call checked first by `__guard_check_icall_fptr`
//! (ARM64: target in x15; x64: in rcx) or made by `__guard_dispatch_icall_fptr` (x64: target
//! in rax). The call-site idiom recognises both ([`Mech`]); here they become the `cfg`
//! protection, and a check of one value followed by a call of another is a finding.
use super::{BranchKind, Cx, Finding, IndirectBranch, Mitigation, Protection, Site, rules};
use crate::discover::Function;
use crate::idiom::call_site::Mech;
use gloss_core::{Flow, Image};

pub fn protect(_cx: &Cx, s: &Site, b: &mut IndirectBranch, findings: &mut Vec<Finding>) {
    let Some(call) = s.call else { return };
    if b.kind != BranchKind::GuardCheck
        && call
            .mech
            .iter()
            .any(|m| matches!(m, Mech::CfgCheck | Mech::CfgDispatch))
    {
        b.protections.push(Protection::Cfg);
    }
    if call.check_mismatch {
        let rule = rules::CFG_CHECK_MISMATCH;
        findings.push(Finding {
            rule: rule.id,
            level: rule.level,
            at: Some(s.insn.addr),
            function: Some(s.function.addr),
            message: rule.short.to_string(),
            related: Vec::new(),
        });
    }
}

/// The call of the guard's check function itself (`call *__guard_check_icall_fptr(%rip)`,
/// `adrp x8, ...; ldr x8, [x8, ...]; blr x8`).
pub fn is_guard_check(cx: &Cx, s: &Site) -> bool {
    s.insn.flow == Flow::IndirectCall
        && cx.guard_check.is_some()
        && s.call.and_then(|c| c.slot) == cx.guard_check
}

/// The guard's own functions (`_guard_dispatch_icall_nop`, `_guard_check_icall_nop`), whose
/// indirect jump is the dispatch itself.
pub fn is_guard_function(f: &Function) -> bool {
    f.name
        .as_deref()
        .is_some_and(|n| n.contains("guard_dispatch_icall") || n.contains("guard_check_icall"))
}

/// The functions the PE load config's GuardCFFunctionTable lists: the only targets the guard
/// lets an indirect call reach. `None` without a table. Each entry is a 4-byte RVA followed by
/// `GuardFlags >> 28` bytes of metadata.
pub fn guard_table(image: &Image) -> Option<crate::FxHashSet<u64>> {
    let pe = image.facts.pe.as_ref()?;
    let lc = pe.load_config.as_ref()?;
    let table = lc.guard_cf_function_table?.0;
    let stride = 4 + u64::from(lc.guard_flags >> 28);
    // a count the table's section cannot hold is a malformed file: read what is there
    let mut out = crate::FxHashSet::default();
    for i in 0..lc.guard_cf_function_count {
        let Some(rva) = image.read_at(table.wrapping_add(i * stride), 4) else {
            break;
        };
        let rva = u32::from_le_bytes(rva.try_into().expect("4 bytes"));
        out.insert(pe.image_base.0.wrapping_add(u64::from(rva)));
    }
    Some(out)
}

/// With Control Flow Guard required: the functions whose address escapes but that the guard's
/// function table leaves out (a checked call of them would fail).
pub fn entries(cx: &Cx) -> Vec<Finding> {
    if !cx.required.contains(Mitigation::Cfg) {
        return Vec::new();
    }
    let Some(table) = guard_table(cx.image) else {
        return Vec::new();
    };
    let rule = rules::CFG_MISSING_TARGET;
    cx.analysis
        .functions
        .iter()
        .filter(|f| super::ibt_bti::escapes(cx, f).is_some() && !table.contains(&f.addr))
        .map(|f| Finding {
            rule: rule.id,
            level: rule.level,
            at: Some(f.addr),
            function: Some(f.addr),
            message: format!(
                "function whose address escapes {}{}",
                rule.short,
                cx.claim_note(Mitigation::Cfg)
            ),
            related: Vec::new(),
        })
        .collect()
}
