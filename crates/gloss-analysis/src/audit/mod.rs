//! The audit: every indirect branch of every function (indirect calls and jumps, returns, and
//! the direct calls of thunks that stand for them), what it is and which mitigations protect
//! it; the targets those mitigations need marked (`endbr64`, `bti`); and what the headers claim.
//!
//! One file per rule family, each answering "is this site protected by my mitigation":
//! `retpoline.rs` (retpoline and return thunks, `lfence`), `ibt_bti.rs` (landing pads),
//! `pac.rs` (return-address signing, authenticated branches), `shstk.rs` (shadow stacks),
//! `sls.rs` (barriers after the branch), `cfg.rs` (Control Flow Guard), `hardening.rs`
//! (binary-level flags). The instruction encodings they test are in `x86_64.rs` and
//! `aarch64.rs`; the rule ids in `rules.rs`; finding and classifying the sites in `sites.rs`.
//!
//! A mitigation is checked where it is *required*: asked for (`--require`) or claimed by the
//! binary (an IBT or BTI property note, PE `GUARD_CF`). A site that lacks a required
//! mitigation is a finding; protections are reported whether required or not.
mod aarch64;
mod cfg;
mod hardening;
mod ibt_bti;
mod pac;
mod retpoline;
pub mod rules;
mod shstk;
mod sites;
use sites::{Cx, Site};
mod sls;
mod x86_64;

use crate::cfg::EdgeKind;
use crate::discover::{Analysis, Function};
use crate::idiom::Explained;
pub use cfg::guard_table;
use gloss_core::{Arch, Disassembler, Image};
pub use rules::{Level, RULES, RuleInfo};

/// A mitigation `--require` can ask for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Mitigation {
    /// x86-64 indirect calls and jumps through a retpoline thunk (or `lfence` first).
    Retpoline,
    /// x86-64 returns through the return thunk (`-mfunction-return=thunk-extern`).
    Rethunk,
    /// x86-64 Indirect Branch Tracking: the IBT property, and `endbr64` at every target.
    Ibt,
    /// AArch64 Branch Target Identification: the BTI property, and `bti` at every target.
    Bti,
    /// AArch64 return-address signing (`paciasp` ... `autiasp`/`retaa`).
    Pac,
    /// Straight-line speculation: a barrier after every return and indirect jump.
    Sls,
    /// Windows Control Flow Guard: indirect calls checked or dispatched by the guard.
    Cfg,
}

impl Mitigation {
    pub const ALL: [Mitigation; 7] = [
        Mitigation::Retpoline,
        Mitigation::Rethunk,
        Mitigation::Ibt,
        Mitigation::Bti,
        Mitigation::Pac,
        Mitigation::Sls,
        Mitigation::Cfg,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Mitigation::Retpoline => "retpoline",
            Mitigation::Rethunk => "rethunk",
            Mitigation::Ibt => "ibt",
            Mitigation::Bti => "bti",
            Mitigation::Pac => "pac",
            Mitigation::Sls => "sls",
            Mitigation::Cfg => "cfg",
        }
    }
    pub fn parse(s: &str) -> Option<Mitigation> {
        Mitigation::ALL.into_iter().find(|m| m.name() == s)
    }
    /// The architecture the mitigation exists on (`None`: both).
    fn arch(self) -> Option<Arch> {
        match self {
            Mitigation::Retpoline | Mitigation::Rethunk | Mitigation::Ibt => Some(Arch::X86_64),
            Mitigation::Bti | Mitigation::Pac => Some(Arch::Aarch64),
            Mitigation::Sls | Mitigation::Cfg => None,
        }
    }
    /// The protection that satisfies it at a site.
    fn satisfied_by(self, p: Protection) -> bool {
        matches!(
            (self, p),
            (
                Mitigation::Retpoline,
                Protection::Retpoline | Protection::Lfence
            ) | (Mitigation::Rethunk, Protection::ReturnThunk)
                | (Mitigation::Ibt, Protection::Ibt)
                | (Mitigation::Bti, Protection::Bti)
                | (Mitigation::Pac, Protection::Pac)
                | (Mitigation::Sls, Protection::Sls)
                | (Mitigation::Cfg, Protection::Cfg)
        )
    }
}

/// What an indirect branch is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BranchKind {
    Return,
    /// A switch's jump through a recovered table.
    JumpTable,
    /// Through an import's GOT or IAT slot.
    ImportCall,
    VirtualCall,
    /// Through a function pointer (a register or memory that is none of the above).
    PointerCall,
    /// An indirect jump that is no table and no recognised call: unknown targets.
    IndirectJump,
    /// Control Flow Guard's own call of its check function.
    GuardCheck,
    /// A branch inside a mitigation thunk (retpoline, return or SLS thunk): the mitigation itself.
    Thunk,
}

impl BranchKind {
    pub fn name(self) -> &'static str {
        match self {
            BranchKind::Return => "return",
            BranchKind::JumpTable => "jump_table",
            BranchKind::ImportCall => "import_call",
            BranchKind::VirtualCall => "virtual_call",
            BranchKind::PointerCall => "pointer_call",
            BranchKind::IndirectJump => "indirect_jump",
            BranchKind::GuardCheck => "guard_check",
            BranchKind::Thunk => "thunk",
        }
    }
}

/// A protection found at a site.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Protection {
    /// Through a retpoline thunk (`call __x86_indirect_thunk_rax`, `__llvm_retpoline_r11`).
    Retpoline,
    /// `jmp __x86_return_thunk` in place of `ret`.
    ReturnThunk,
    /// `lfence` right before the branch.
    Lfence,
    /// IBT on: the binary has the property, the branch is tracked (no `notrack`) and every
    /// target it is known to reach begins with `endbr64`.
    Ibt,
    /// BTI on: the property, and every known target has a landing pad for this branch.
    Bti,
    /// The return address is signed and authenticated, or the branch authenticates its target.
    Pac,
    /// A speculation barrier after the branch (`int3`; `dsb sy; isb` or `sb`), or a call
    /// through an SLS thunk.
    Sls,
    /// Checked by `__guard_check_icall_fptr` or made by `__guard_dispatch_icall_fptr`.
    Cfg,
    /// x86-64 returns in a binary with the SHSTK property: checked against the shadow stack.
    Shstk,
}

impl Protection {
    pub fn name(self) -> &'static str {
        match self {
            Protection::Retpoline => "retpoline",
            Protection::ReturnThunk => "return_thunk",
            Protection::Lfence => "lfence",
            Protection::Ibt => "ibt",
            Protection::Bti => "bti",
            Protection::Pac => "pac",
            Protection::Sls => "sls",
            Protection::Cfg => "cfg",
            Protection::Shstk => "shstk",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Every required mitigation that applies is there.
    Protected,
    /// A required mitigation that applies is missing (see the findings).
    Unprotected,
    /// No required mitigation applies to this site.
    Unchecked,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Protected => "protected",
            Verdict::Unprotected => "unprotected",
            Verdict::Unchecked => "unchecked",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndirectBranch {
    pub addr: u64,
    /// The function it is in.
    pub function: u64,
    pub kind: BranchKind,
    /// A call (rather than a jump or return).
    pub call: bool,
    /// A jump in tail position: it leaves the function.
    pub tail: bool,
    /// The instruction is a direct call or jump of this thunk, which makes the indirect branch.
    pub via_thunk: Option<ThunkRef>,
    /// Jump tables: the number of entries the bounds check allows (`None`: no bound found).
    pub bound: Option<usize>,
    /// x86 `notrack` prefix: IBT does not check this branch.
    pub notrack: bool,
    pub protections: Vec<Protection>,
    /// The required mitigations that apply here and are missing.
    pub missing: Vec<Mitigation>,
    pub verdict: Verdict,
}

/// A thunk a direct call or jump goes through: its address (`None` for an undefined symbol of
/// a relocatable object) and its symbol's name (empty for one known by its shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThunkRef {
    pub addr: Option<u64>,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// A rule id of [`RULES`].
    pub rule: &'static str,
    pub level: Level,
    /// The instruction or function entry it is about (`None`: the whole binary).
    pub at: Option<u64>,
    /// The function it is in.
    pub function: Option<u64>,
    pub message: String,
    /// Other addresses that explain it (the branch whose target lacks a landing pad ...).
    pub related: Vec<u64>,
}

/// The mitigations to check: asked for, and claimed by the binary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Required {
    asked: u8,
    claimed: u8,
}

impl Required {
    pub fn new(asked: &[Mitigation], claimed: &[Mitigation]) -> Required {
        let bits = |ms: &[Mitigation]| ms.iter().fold(0, |a, &m| a | 1 << m as u8);
        Required {
            asked: bits(asked),
            claimed: bits(claimed),
        }
    }
    pub fn contains(self, m: Mitigation) -> bool {
        (self.asked | self.claimed) & (1 << m as u8) != 0
    }
    /// Claimed by the binary's own flags.
    pub fn claimed(self, m: Mitigation) -> bool {
        self.claimed & (1 << m as u8) != 0
    }
    pub fn list(self) -> Vec<Mitigation> {
        Mitigation::ALL
            .into_iter()
            .filter(|&m| self.contains(m))
            .collect()
    }
}

/// What the binary's flags claim (and so what the audit checks even unasked).
pub fn claims(image: &Image) -> Vec<Mitigation> {
    let mut out = Vec::new();
    if let Some(elf) = &image.facts.elf {
        let p = elf.gnu_property;
        if p.ibt {
            out.push(Mitigation::Ibt);
        }
        if p.bti {
            out.push(Mitigation::Bti);
        }
        if p.pac {
            out.push(Mitigation::Pac);
        }
    }
    if let Some(pe) = &image.facts.pe
        && pe.dll_characteristics & 0x4000 != 0
    {
        out.push(Mitigation::Cfg);
    }
    out
}

/// The audit of one binary.
#[derive(Debug, Default)]
pub struct Audit {
    pub required: Required,
    /// In address order.
    pub branches: Vec<IndirectBranch>,
    /// Binary-level findings first, then by address.
    pub findings: Vec<Finding>,
    /// Functions with a stack protector: those that call `__stack_chk_fail`.
    pub stack_protected: usize,
    /// `_chk` functions the binary imports (`__printf_chk`, `__memcpy_chk`): FORTIFY_SOURCE.
    pub fortified: Vec<String>,
}

/// Audits every function of `analysis` (with `explained`, its idioms, in the same order).
pub fn audit(
    image: &Image,
    dis: &dyn Disassembler,
    analysis: &Analysis,
    explained: &[Explained],
    asked: &[Mitigation],
) -> Audit {
    use rayon::prelude::*;
    let required = Required::new(asked, &claims(image));
    let cx = Cx::new(image, dis, analysis, required);
    let mut per_function: Vec<(Vec<IndirectBranch>, Vec<Finding>)> = analysis
        .functions
        .par_iter()
        .zip(explained.par_iter())
        .map(|(f, e)| cx.function(f, e))
        .collect();
    let none = Explained::default();
    per_function.extend(cx.stubs.iter().map(|f| cx.function(f, &none)));
    let mut out = Audit {
        required,
        stack_protected: hardening::stack_protected(image, analysis),
        fortified: hardening::fortified(image),
        ..Audit::default()
    };
    out.findings = hardening::check(image, required, &out);
    let mut site_findings = Vec::new();
    for (b, f) in per_function {
        out.branches.extend(b);
        site_findings.extend(f);
    }
    site_findings.extend(ibt_bti::entries(&cx));
    site_findings.extend(cfg::entries(&cx));
    out.branches.sort_by_key(|b| b.addr);
    site_findings.sort_by_key(|f| (f.at, f.rule));
    out.findings.extend(site_findings);
    out
}

/// The idioms the audit reads, for the functions that need them, in `analysis`'s order: the
/// call sites of functions with an indirect call or jump or a call of a thunk (their kinds,
/// Control Flow Guard, known targets), and on AArch64 every function's frame (PAC). The other
/// functions get an empty [`Explained`]: their only indirect branches are returns, which need
/// nothing from the idioms on x86-64. About half of `explain_all`'s work on typical x86-64
/// binaries.
pub fn explain(image: &Image, dis: &dyn Disassembler, analysis: &Analysis) -> Vec<Explained> {
    let thunks = retpoline::thunk_functions(image, analysis);
    let thunk = |t: Option<u64>| t.is_some_and(|t| thunks.contains(&t));
    let needs = |f: &Function| {
        image.arch == Arch::Aarch64
            || f.blocks
                .iter()
                .flat_map(|b| &b.succs)
                .any(|e| match e.kind {
                    EdgeKind::Call | EdgeKind::TailCall => thunk(e.to) || { e.to }.is_none(),
                    EdgeKind::Unresolved | EdgeKind::IndirectResolved => true,
                    _ => false,
                })
    };
    let needed: Vec<usize> = (0..analysis.functions.len())
        .filter(|&i| needs(&analysis.functions[i]))
        .collect();
    if needed.len() == analysis.functions.len() {
        return crate::idiom::explain_all(image, dis, analysis);
    }
    let some = Analysis {
        functions: needed
            .iter()
            .map(|&i| analysis.functions[i].clone())
            .collect(),
    };
    let mut out: Vec<Explained> = std::iter::repeat_with(Explained::default)
        .take(analysis.functions.len())
        .collect();
    for (i, e) in needed
        .into_iter()
        .zip(crate::idiom::explain_all(image, dis, &some))
    {
        out[i] = e;
    }
    out
}

/// `virtual call`, `return`, ... for messages.
pub fn describe(b: &IndirectBranch) -> &'static str {
    match b.kind {
        BranchKind::Return => "return",
        BranchKind::JumpTable => "jump-table jump",
        BranchKind::ImportCall if b.call => "call through an import slot",
        BranchKind::ImportCall => "tail call through an import slot",
        BranchKind::VirtualCall if b.call => "virtual call",
        BranchKind::VirtualCall => "virtual tail call",
        BranchKind::PointerCall if b.call => "function-pointer call",
        BranchKind::PointerCall => "tail call through a pointer",
        BranchKind::IndirectJump => "indirect jump",
        BranchKind::GuardCheck => "guard check call",
        BranchKind::Thunk => "thunk branch",
    }
}
