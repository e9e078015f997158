//! `gloss audit` as text and JSON (docs/json.md), and the indirect branches and findings
//! `gloss analyze` reports.
use crate::analysis::function_name;
use gloss_analysis::audit::{Audit, Finding, IndirectBranch, Level, Verdict, claims};
use gloss_analysis::discover::Analysis;
use gloss_core::{Addr, BinaryFacts, Format, Image};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Serialize)]
pub struct BranchOut {
    pub addr: Addr,
    pub function: String,
    pub kind: &'static str,
    pub call: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tail: bool,
    /// The thunk a direct call or jump goes through (retpoline, return or SLS thunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thunk: Option<ThunkOut>,
    /// Jump tables: entries the bounds check allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notrack: bool,
    pub protections: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<&'static str>,
    pub verdict: &'static str,
}

#[derive(Serialize)]
pub struct ThunkOut {
    /// `null` for an undefined symbol of a relocatable object.
    pub addr: Option<Addr>,
    /// Its symbol; absent for a thunk known by its shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize)]
pub struct FindingOut {
    pub rule: &'static str,
    pub level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Addr>,
}

#[derive(Serialize, Default)]
pub struct SummaryOut {
    pub indirect_branches: usize,
    pub protected: usize,
    pub unprotected: usize,
    pub unchecked: usize,
    /// Branches per kind.
    pub kinds: BTreeMap<&'static str, usize>,
    /// Findings per level.
    pub findings: BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
pub struct AuditOut<'a> {
    pub file: &'a str,
    pub format: Format,
    pub arch: &'static str,
    /// What was checked: asked for with `--require`, or claimed by the binary.
    pub required: Vec<&'static str>,
    /// What the binary's own flags claim.
    pub claimed: Vec<&'static str>,
    pub facts: &'a BinaryFacts,
    pub stack_protected_functions: usize,
    pub fortified: &'a [String],
    pub summary: SummaryOut,
    pub findings: Vec<FindingOut>,
    pub indirect_branches: Vec<BranchOut>,
}

/// The name of the function at `addr`: the analysis's, else a symbol's there (an import stub
/// the audit looked at), else `sub_...`.
pub fn name_of(image: &Image, analysis: &Analysis, addr: u64) -> String {
    analysis
        .function(addr)
        .map(function_name)
        .or_else(|| {
            image
                .symbols
                .at(addr)
                .next()
                .map(|s| s.display_name().to_string())
        })
        .unwrap_or_else(|| gloss_analysis::discover::found_name(addr))
}

pub fn branch_out(image: &Image, analysis: &Analysis, b: &IndirectBranch) -> BranchOut {
    BranchOut {
        addr: Addr(b.addr),
        function: name_of(image, analysis, b.function),
        kind: b.kind.name(),
        call: b.call,
        tail: b.tail,
        thunk: b.via_thunk.as_ref().map(|t| ThunkOut {
            addr: t.addr.map(Addr),
            name: (!t.name.is_empty()).then(|| t.name.clone()),
        }),
        bound: b.bound,
        notrack: b.notrack,
        protections: b.protections.iter().map(|p| p.name()).collect(),
        missing: b.missing.iter().map(|m| m.name()).collect(),
        verdict: b.verdict.name(),
    }
}

pub fn finding_out(image: &Image, analysis: &Analysis, f: &Finding) -> FindingOut {
    FindingOut {
        rule: f.rule,
        level: f.level.name(),
        addr: f.at.map(Addr),
        function: f.function.map(|a| name_of(image, analysis, a)),
        message: f.message.clone(),
        related: f.related.iter().copied().map(Addr).collect(),
    }
}

pub fn summary(audit: &Audit) -> SummaryOut {
    let mut s = SummaryOut {
        indirect_branches: audit.branches.len(),
        ..SummaryOut::default()
    };
    for b in &audit.branches {
        *s.kinds.entry(b.kind.name()).or_default() += 1;
        match b.verdict {
            Verdict::Protected => s.protected += 1,
            Verdict::Unprotected => s.unprotected += 1,
            Verdict::Unchecked => s.unchecked += 1,
        }
    }
    for f in &audit.findings {
        *s.findings.entry(f.level.name()).or_default() += 1;
    }
    s
}

pub fn audit_out<'a>(
    file: &'a str,
    image: &'a Image,
    analysis: &Analysis,
    audit: &'a Audit,
) -> AuditOut<'a> {
    AuditOut {
        file,
        format: image.format,
        arch: image.arch.name(),
        required: audit.required.list().iter().map(|m| m.name()).collect(),
        claimed: claims(image).iter().map(|m| m.name()).collect(),
        facts: &image.facts,
        stack_protected_functions: audit.stack_protected,
        fortified: &audit.fortified,
        summary: summary(audit),
        findings: audit
            .findings
            .iter()
            .map(|f| finding_out(image, analysis, f))
            .collect(),
        indirect_branches: audit
            .branches
            .iter()
            .map(|b| branch_out(image, analysis, b))
            .collect(),
    }
}

/// `<function+0x1c>` for an address in a function.
fn place(image: &Image, analysis: &Analysis, function: Option<u64>, at: u64) -> String {
    match function {
        Some(f) if f == at => format!("<{}>", name_of(image, analysis, f)),
        Some(f) => format!(
            "<{}+{:#x}>",
            name_of(image, analysis, f),
            at.wrapping_sub(f)
        ),
        None => String::new(),
    }
}

/// The text report: a header, the branch counts, then one line per finding at or above
/// `min` (worst first within the binary-level ones, then by address).
pub fn text(file: &str, image: &Image, analysis: &Analysis, audit: &Audit, min: Level) -> String {
    let mut s = String::new();
    let names = |ms: Vec<gloss_analysis::audit::Mitigation>| {
        if ms.is_empty() {
            "nothing".to_string()
        } else {
            ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
        }
    };
    let sum = summary(audit);
    let _ = writeln!(
        s,
        "{file}: {} {}; checked: {} (claimed by the binary: {})",
        image.kind,
        image.arch.name(),
        names(audit.required.list()),
        names(claims(image)),
    );
    let kinds: Vec<String> = sum.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        s,
        "  indirect branches: {} ({} protected, {} unprotected, {} unchecked){}{}",
        sum.indirect_branches,
        sum.protected,
        sum.unprotected,
        sum.unchecked,
        if kinds.is_empty() { "" } else { ": " },
        kinds.join(", ")
    );
    let mut shown = 0;
    for f in audit.findings.iter().filter(|f| f.level >= min) {
        shown += 1;
        let at =
            f.at.map(|a| format!(" {a:#x} {}", place(image, analysis, f.function, a)))
                .unwrap_or_default();
        let _ = writeln!(s, "  {:<7} {}{}: {}", f.level.name(), f.rule, at, f.message);
    }
    let counts: Vec<String> = [Level::Error, Level::Warning, Level::Note]
        .iter()
        .filter_map(|l| sum.findings.get(l.name()).map(|n| (l.name(), n)))
        .map(|(l, n)| format!("{n} {l}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    let hidden = audit.findings.len() - shown;
    let _ = writeln!(
        s,
        "  findings: {}{}",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        if hidden > 0 {
            format!(" ({hidden} below {} not shown)", min.name())
        } else {
            String::new()
        }
    );
    s
}
