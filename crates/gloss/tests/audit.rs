//! The audit against what the fixtures' sources and build flags guarantee, never gloss's own
//! output:
//! - vcall.cpp: `call(Base *p)` makes exactly one indirect branch besides returns, the virtual
//!   call `p->method(42)`. The `-retpoline` builds (gcc `-mindirect-branch=thunk`, clang
//!   `-mretpoline`) make it through a retpoline thunk; the plain builds make it with `call
//!   *`/`jmp *`. The `-cfg.exe` builds (clang `-cfguard`, `/guard:cf`) check it with Control
//!   Flow Guard and set GUARD_CF; the plain `.exe` builds do neither.
//! - frames.c: `protected_fn` calls, so it saves the link register; with
//!   `-mbranch-protection=standard` gcc and clang sign it (`paciasp`) and authenticate it
//!   before returning; `leaf` calls nothing and keeps x30 in its register (pac-ret without
//!   `+leaf` leaves it unsigned, and there is nothing to protect). At -O0 nothing is signed.
use gloss::Image;
use gloss::analysis::audit::{Audit, BranchKind, Mitigation, Protection, Verdict};
use gloss::analysis::discover::Analysis;

fn bin(name: &str) -> String {
    format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run_audit(file: &str, require: &[Mitigation]) -> (Image, Analysis, Audit) {
    let image = gloss::open(std::path::Path::new(&bin(file))).unwrap();
    let (analysis, _) = gloss::analyze(&image);
    let explained = gloss::explain(&image, &analysis);
    let audit = gloss::audit(&image, &analysis, &explained, require);
    (image, analysis, audit)
}

fn sym(image: &Image, name: &str) -> u64 {
    image
        .symbol_named(name)
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .addr
        .0
}

/// The branches of the function named `name`, returns apart.
fn branches<'a>(
    image: &Image,
    audit: &'a Audit,
    name: &str,
) -> Vec<&'a gloss::analysis::audit::IndirectBranch> {
    let f = sym(image, name);
    audit
        .branches
        .iter()
        .filter(|b| b.function == f && b.kind != BranchKind::Return)
        .collect()
}

fn returns<'a>(
    image: &Image,
    audit: &'a Audit,
    name: &str,
) -> Vec<&'a gloss::analysis::audit::IndirectBranch> {
    let f = sym(image, name);
    audit
        .branches
        .iter()
        .filter(|b| b.function == f && b.kind == BranchKind::Return)
        .collect()
}

fn rules_at(audit: &Audit, addr: u64) -> Vec<&'static str> {
    audit
        .findings
        .iter()
        .filter(|f| f.at == Some(addr))
        .map(|f| f.rule)
        .collect()
}

#[test]
fn retpoline_builds_make_the_virtual_call_through_a_thunk_and_plain_builds_do_not() {
    for (file, thunked) in [
        ("vcall-x86_64-gcc-O2-retpoline.elf", true),
        ("vcall-x86_64-clang-O2-retpoline.elf", true),
        ("vcall-x86_64-gcc-O2.elf", false),
        ("vcall-x86_64-clang-O2.elf", false),
    ] {
        let (image, _, audit) = run_audit(file, &[Mitigation::Retpoline]);
        let b = branches(&image, &audit, "call");
        assert_eq!(b.len(), 1, "{file}: one indirect branch in call(): {b:?}");
        let b = b[0];
        assert_eq!(b.kind, BranchKind::VirtualCall, "{file}");
        assert_eq!(
            b.protections.contains(&Protection::Retpoline),
            thunked,
            "{file}: {b:?}"
        );
        assert_eq!(b.via_thunk.is_some(), thunked, "{file}");
        if thunked {
            assert_eq!(b.verdict, Verdict::Protected, "{file}");
            assert!(rules_at(&audit, b.addr).is_empty(), "{file}");
        } else {
            assert_eq!(b.verdict, Verdict::Unprotected, "{file}");
            assert_eq!(b.missing, vec![Mitigation::Retpoline], "{file}");
            assert_eq!(
                rules_at(&audit, b.addr),
                vec!["retpoline-missing"],
                "{file}"
            );
        }
        // the thunk's own `ret` is the mitigation, not a site
        assert!(
            audit
                .branches
                .iter()
                .filter(|b| b.kind == BranchKind::Thunk)
                .count()
                == usize::from(thunked),
            "{file}"
        );
    }
}

#[test]
fn cfg_builds_check_the_virtual_call_and_claim_it() {
    for arch in ["x86_64", "aarch64"] {
        let file = format!("vcall-{arch}-msvc-clang-cfg.exe");
        // unasked: GUARD_CF claims it
        let (image, _, audit) = run_audit(&file, &[]);
        assert!(audit.required.claimed(Mitigation::Cfg), "{file}");
        let calls: Vec<_> = branches(&image, &audit, "call")
            .into_iter()
            .filter(|b| b.kind == BranchKind::VirtualCall)
            .collect();
        assert_eq!(calls.len(), 1, "{file}: {calls:?}");
        assert!(calls[0].protections.contains(&Protection::Cfg), "{file}");
        assert_eq!(calls[0].verdict, Verdict::Protected, "{file}");
        assert!(
            !audit.findings.iter().any(|f| f.rule.starts_with("cfg-")),
            "{file}: {:?}",
            audit.findings
        );

        let file = format!("vcall-{arch}-msvc-clang.exe");
        let (image, _, audit) = run_audit(&file, &[Mitigation::Cfg]);
        assert!(!audit.required.claimed(Mitigation::Cfg), "{file}");
        assert!(
            audit
                .findings
                .iter()
                .any(|f| f.rule == "cfg-flag-missing" && f.at.is_none()),
            "{file}"
        );
        let calls = branches(&image, &audit, "call");
        assert_eq!(calls.len(), 1, "{file}: {calls:?}");
        assert!(calls[0].protections.is_empty(), "{file}");
        assert_eq!(rules_at(&audit, calls[0].addr), vec!["cfg-unchecked-call"]);
    }
}

#[test]
fn pac_builds_sign_and_authenticate_the_returns_of_functions_that_save_the_link_register() {
    for file in [
        "frames-aarch64-gcc-O2-pac.elf",
        "frames-aarch64-clang-O2-pac.elf",
    ] {
        let (image, _, audit) = run_audit(file, &[Mitigation::Pac]);
        let rets = returns(&image, &audit, "protected_fn");
        assert!(!rets.is_empty(), "{file}");
        for r in rets {
            assert_eq!(r.protections, vec![Protection::Pac], "{file}: {r:?}");
            assert_eq!(r.verdict, Verdict::Protected, "{file}");
        }
        for r in returns(&image, &audit, "leaf") {
            assert_eq!(
                r.verdict,
                Verdict::Unchecked,
                "{file}: a leaf's return: {r:?}"
            );
        }
    }
    let file = "frames-aarch64-gcc-O0.elf";
    let (image, _, audit) = run_audit(file, &[Mitigation::Pac]);
    let rets = returns(&image, &audit, "protected_fn");
    assert!(!rets.is_empty());
    for r in rets {
        assert_eq!(r.verdict, Verdict::Unprotected, "{file}: {r:?}");
        assert_eq!(rules_at(&audit, r.addr), vec!["pac-unsigned-return"]);
    }
}

#[test]
fn mitigations_of_the_other_architecture_do_not_apply() {
    let (_, _, audit) = run_audit(
        "frames-x86_64-gcc-O2.elf",
        &[Mitigation::Bti, Mitigation::Pac],
    );
    assert!(
        audit
            .branches
            .iter()
            .all(|b| b.verdict == Verdict::Unchecked)
    );
    assert!(
        !audit
            .findings
            .iter()
            .any(|f| f.rule.starts_with("bti-") || f.rule.starts_with("pac-"))
    );
}
