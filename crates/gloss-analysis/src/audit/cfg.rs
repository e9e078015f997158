//! Windows Control Flow Guard: an indirect call checked first by `__guard_check_icall_fptr`
//! (ARM64: target in x15; x64: in rcx) or made by `__guard_dispatch_icall_fptr` (x64: target
//! in rax). The call-site idiom recognises both ([`Mech`]); here they become the `cfg`
//! protection, and a check of one value followed by a call of another is a finding.
use super::{BranchKind, Cx, Finding, IndirectBranch, Protection, Site, rules};
use crate::discover::Function;
use crate::idiom::call_site::Mech;
use gloss_core::Flow;

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
