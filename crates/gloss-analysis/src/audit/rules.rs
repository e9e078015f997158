//! The audit's rules: stable ids (never reused or renamed), default levels and texts. This
//! table generates `gloss audit --list-rules`, the SARIF rule metadata and docs/rules.md's list
//! (a test checks the doc names every id).
use super::Mitigation;

/// SARIF's levels, in increasing severity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        [Level::Note, Level::Warning, Level::Error]
            .into_iter()
            .find(|l| l.name() == s)
    }
}

#[derive(Debug)]
pub struct RuleInfo {
    /// Stable id, `family-what`.
    pub id: &'static str,
    /// SARIF `name`: the id in PascalCase.
    pub name: &'static str,
    pub level: Level,
    /// Completes a sentence about the site: "function-pointer call " + `short`.
    pub short: &'static str,
    /// What the rule checks and how to fix it.
    pub help: &'static str,
}

macro_rules! rule {
    ($c:ident, $id:literal, $name:literal, $level:ident, $short:literal, $help:literal) => {
        pub const $c: RuleInfo = RuleInfo {
            id: $id,
            name: $name,
            level: Level::$level,
            short: $short,
            help: $help,
        };
    };
}

rule!(
    RETPOLINE_MISSING,
    "retpoline-missing",
    "RetpolineMissing",
    Error,
    "is not made through a retpoline thunk",
    "An x86-64 indirect call or jump that does not go through a retpoline thunk (or follow an \
     lfence) can be steered by Spectre v2 branch-target injection. Build with -mretpoline \
     (clang) or -mindirect-branch=thunk[-extern] (gcc)."
);
rule!(
    RETHUNK_MISSING,
    "rethunk-missing",
    "RethunkMissing",
    Error,
    "does not go through the return thunk",
    "An x86-64 `ret` that is not `jmp __x86_return_thunk` (Retbleed/SRSO mitigation). Build \
     with -mfunction-return=thunk-extern."
);
rule!(
    IBT_UNPROTECTED,
    "ibt-unprotected-branch",
    "IbtUnprotectedBranch",
    Error,
    "is not covered by IBT",
    "An x86-64 indirect call or jump the CPU's Indirect Branch Tracking does not check: the \
     binary lacks the IBT property, the branch has a `notrack` prefix, or a target it reaches \
     lacks `endbr64`. Build every object with -fcf-protection=branch (or full)."
);
rule!(
    IBT_MISSING_ENDBR,
    "ibt-missing-endbr",
    "IbtMissingEndbr",
    Error,
    "does not begin with endbr64",
    "An indirect-branch target (a function whose address escapes, or a table entry reached by \
     a tracked jump) without `endbr64`: with IBT enforced, the branch faults; if the binary \
     claims IBT, the claim is false."
);
rule!(
    IBT_PROPERTY_MISSING,
    "ibt-property-missing",
    "IbtPropertyMissing",
    Error,
    "the binary has no IBT property",
    "IBT is required but `.note.gnu.property` lacks GNU_PROPERTY_X86_FEATURE_1_IBT (an object \
     built without -fcf-protection was linked in), so the CPU does not enforce it."
);
rule!(
    BTI_UNPROTECTED,
    "bti-unprotected-branch",
    "BtiUnprotectedBranch",
    Error,
    "is not covered by BTI",
    "An AArch64 br/blr whose targets the CPU's Branch Target Identification does not check: \
     the binary lacks the BTI property or a target it reaches lacks a landing pad. Build with \
     -mbranch-protection=standard (or bti)."
);
rule!(
    BTI_MISSING_PAD,
    "bti-missing-landing-pad",
    "BtiMissingLandingPad",
    Error,
    "does not begin with a BTI landing pad",
    "An indirect-branch target without the `bti c`/`bti j`/`bti jc` (or `paciasp`) its \
     branches need: with BTI enforced, the branch faults; if the binary claims BTI, the claim \
     is false."
);
rule!(
    BTI_PROPERTY_MISSING,
    "bti-property-missing",
    "BtiPropertyMissing",
    Error,
    "the binary has no BTI property",
    "BTI is required but `.note.gnu.property` lacks GNU_PROPERTY_AARCH64_FEATURE_1_BTI, so the \
     kernel does not map its code as guarded pages."
);
rule!(
    PAC_UNSIGNED_RETURN,
    "pac-unsigned-return",
    "PacUnsignedReturn",
    Error,
    "goes to a return address saved without signing and authenticating it",
    "An AArch64 function that saves its return address to memory without signing it \
     (paciasp/pacibsp) and authenticating it before `ret` (autiasp, retaa). Build with \
     -mbranch-protection=pac-ret (or standard)."
);
rule!(
    SLS_MISSING_BARRIER,
    "sls-missing-barrier",
    "SlsMissingBarrier",
    Error,
    "has no speculation barrier after it",
    "Straight-line speculation: the CPU may execute the bytes after a return or indirect \
     branch. x86-64 wants `int3` after `ret`/`jmp *`; AArch64 `dsb sy; isb` or `sb` after \
     `ret`/`br`, and `blr` through an SLS thunk. Build with -mharden-sls=all."
);
rule!(
    CFG_UNCHECKED_CALL,
    "cfg-unchecked-call",
    "CfgUncheckedCall",
    Error,
    "is not checked by Control Flow Guard",
    "A Windows indirect call through a computed pointer that is neither checked by \
     __guard_check_icall_fptr nor made by __guard_dispatch_icall_fptr. Compile every object \
     with /guard:cf (clang -cfguard) and link with /guard:cf."
);
rule!(
    CFG_CHECK_MISMATCH,
    "cfg-check-mismatch",
    "CfgCheckMismatch",
    Error,
    "the guard checked one value and the call uses another",
    "The value passed to __guard_check_icall_fptr is not the one the following indirect call \
     calls: the check protects nothing."
);
rule!(
    CFG_FLAG_MISSING,
    "cfg-flag-missing",
    "CfgFlagMissing",
    Error,
    "the image does not enable Control Flow Guard",
    "Control Flow Guard is required but the PE DllCharacteristics lack GUARD_CF (or the image \
     is not a PE file), or GUARD_CF is set without the load config's guard check pointer and \
     CF_INSTRUMENTED flag: the loader does not enforce it."
);
rule!(
    CFG_MISSING_TARGET,
    "cfg-missing-target",
    "CfgMissingTarget",
    Error,
    "is not in the guard's function table",
    "A function whose address escapes (taken in code, stored in data, exported) is missing from \
     the load config's GuardCFFunctionTable: a CFG-checked call of it fails."
);
rule!(
    HARDENING_NX,
    "hardening-nx",
    "HardeningNx",
    Error,
    "data or stack may be executable",
    "ELF without a non-executable PT_GNU_STACK, or PE without NX_COMPAT."
);
rule!(
    HARDENING_PIE,
    "hardening-pie",
    "HardeningPie",
    Warning,
    "the image is not position-independent",
    "An ELF executable that is not PIE, a PE image without DYNAMIC_BASE, or a Mach-O \
     executable without MH_PIE: its code is at a fixed address, which ASLR cannot move."
);
rule!(
    HARDENING_HIGH_ENTROPY,
    "hardening-high-entropy-va",
    "HardeningHighEntropyVa",
    Warning,
    "the image does not use 64-bit ASLR",
    "A PE32+ image with DYNAMIC_BASE but without HIGH_ENTROPY_VA."
);
rule!(
    HARDENING_RELRO,
    "hardening-relro",
    "HardeningRelro",
    Warning,
    "relocations are not read-only after loading",
    "ELF without PT_GNU_RELRO (warning) or with partial RELRO only (note: the GOT stays \
     writable). Link with -z relro -z now."
);
rule!(
    HARDENING_BIND_NOW,
    "hardening-bind-now",
    "HardeningBindNow",
    Note,
    "symbols are bound lazily",
    "ELF without BIND_NOW: the PLT's GOT stays writable for lazy binding."
);
rule!(
    HARDENING_STACK_PROTECTOR,
    "hardening-stack-protector",
    "HardeningStackProtector",
    Note,
    "no function has a stack protector",
    "No function reads the stack guard and calls __stack_chk_fail, or reads the security \
     cookie and calls __security_check_cookie (MSVC /GS; an image without symbols does not \
     name it). Build with -fstack-protector-strong (MSVC: /GS)."
);
rule!(
    HARDENING_FORTIFY,
    "hardening-fortify",
    "HardeningFortify",
    Note,
    "no fortified libc function is used",
    "The binary imports libc functions but none of the `__*_chk` forms _FORTIFY_SOURCE \
     substitutes. Build with -O2 -D_FORTIFY_SOURCE=2 (or 3)."
);
rule!(
    HARDENING_CET,
    "hardening-cet-compat",
    "HardeningCetCompat",
    Note,
    "the image is not marked CET-compatible",
    "A PE image without IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT: Windows does not enforce \
     hardware shadow stacks for it (link with /CETCOMPAT)."
);

/// Every rule, in the order `--list-rules` prints them.
pub const RULES: &[RuleInfo] = &[
    RETPOLINE_MISSING,
    RETHUNK_MISSING,
    IBT_UNPROTECTED,
    IBT_MISSING_ENDBR,
    IBT_PROPERTY_MISSING,
    BTI_UNPROTECTED,
    BTI_MISSING_PAD,
    BTI_PROPERTY_MISSING,
    PAC_UNSIGNED_RETURN,
    SLS_MISSING_BARRIER,
    CFG_UNCHECKED_CALL,
    CFG_CHECK_MISMATCH,
    CFG_FLAG_MISSING,
    CFG_MISSING_TARGET,
    HARDENING_NX,
    HARDENING_PIE,
    HARDENING_HIGH_ENTROPY,
    HARDENING_RELRO,
    HARDENING_BIND_NOW,
    HARDENING_STACK_PROTECTOR,
    HARDENING_FORTIFY,
    HARDENING_CET,
];

/// The rule a branch missing `m` breaks.
pub fn branch_rule(m: Mitigation) -> &'static RuleInfo {
    match m {
        Mitigation::Retpoline => &RETPOLINE_MISSING,
        Mitigation::Rethunk => &RETHUNK_MISSING,
        Mitigation::Ibt => &IBT_UNPROTECTED,
        Mitigation::Bti => &BTI_UNPROTECTED,
        Mitigation::Pac => &PAC_UNSIGNED_RETURN,
        Mitigation::Sls => &SLS_MISSING_BARRIER,
        Mitigation::Cfg => &CFG_UNCHECKED_CALL,
    }
}

/// The rule a target without the landing pad `m` needs breaks (`m` is IBT or BTI).
pub fn pad_rule(m: Mitigation) -> &'static RuleInfo {
    match m {
        Mitigation::Bti => &BTI_MISSING_PAD,
        _ => &IBT_MISSING_ENDBR,
    }
}

/// The rule for a required mitigation the binary's flags do not enable, if it has one.
pub fn flag_rule(m: Mitigation) -> Option<&'static RuleInfo> {
    match m {
        Mitigation::Ibt => Some(&IBT_PROPERTY_MISSING),
        Mitigation::Bti => Some(&BTI_PROPERTY_MISSING),
        Mitigation::Cfg => Some(&CFG_FLAG_MISSING),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_named_after_their_id() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for r in RULES {
            let pascal: String =
                r.id.split('-')
                    .map(|w| w.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .concat();
            assert_eq!(r.name.to_ascii_lowercase(), pascal, "{}", r.id);
        }
    }
}
