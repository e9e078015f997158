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
//!   With -fstack-protector-strong only `protected_fn` (a char array) has a stack protector.
//! - hello.c's PE builds: no `/GS` (`-fno-stack-protector`).
use gloss::Image;
use gloss::analysis::audit::{Audit, BranchKind, IndirectBranch, Mitigation, Protection, Verdict};
use gloss::analysis::discover::Analysis;

fn bin(name: &str) -> String {
    format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run_audit(file: &str, require: &[Mitigation]) -> (Image, Analysis, Audit) {
    let image = gloss::open(std::path::Path::new(&bin(file))).unwrap();
    let (analysis, audit) = audit_of(&image, require);
    (image, analysis, audit)
}

/// The analysis, the idioms and the audit of a loaded image.
fn audit_of(image: &Image, require: &[Mitigation]) -> (Analysis, Audit) {
    let (analysis, _) = gloss::analyze(image);
    let explained = gloss::explain(image, &analysis);
    let audit = gloss::audit(image, &analysis, &explained, require);
    (analysis, audit)
}

/// A PE image's load config.
fn load_config(image: &Image) -> gloss::LoadConfig {
    let pe = image.facts.pe.as_ref().expect("a PE image");
    pe.load_config.clone().expect("a load config")
}

fn sym(image: &Image, name: &str) -> u64 {
    image
        .symbol_named(name)
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .addr
        .0
}

/// The indirect branches of the function named `name`: its returns, or all but its returns.
fn of<'a>(image: &Image, audit: &'a Audit, name: &str, returns: bool) -> Vec<&'a IndirectBranch> {
    let f = sym(image, name);
    audit
        .branches
        .iter()
        .filter(|b| b.function == f && (b.kind == BranchKind::Return) == returns)
        .collect()
}

fn branches<'a>(image: &Image, audit: &'a Audit, name: &str) -> Vec<&'a IndirectBranch> {
    of(image, audit, name, false)
}

fn returns<'a>(image: &Image, audit: &'a Audit, name: &str) -> Vec<&'a IndirectBranch> {
    of(image, audit, name, true)
}

/// frames.c: `protected_fn` is its only function with a stack protector, whether gcc's and
/// clang's (`__stack_chk_fail`, ELF) or MSVC's (`__security_check_cookie`, the PE `-gs`
/// builds); the binary-level count says one.
#[test]
fn the_stack_protector_count_is_protected_fn_alone() {
    let mut files: Vec<String> = std::fs::read_dir(bin(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("frames-"))
        .collect();
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("-msvc-clang-gs.exe")),
        "{files:?}"
    );
    for f in &files {
        let (_, _, audit) = run_audit(f, &[]);
        assert_eq!(audit.stack_protected, 1, "{f}");
    }
}

/// hello.c's PE builds import from msvcrt.dll and are built without `/GS` (`-fno-stack-protector`):
/// with a COFF symbol table, which would name `__security_check_cookie`, that is a finding;
/// without one (`-nosym`, as MSVC ships images) the audit cannot tell and says nothing.
#[test]
fn a_pe_without_a_cookie_check_is_flagged_only_when_its_symbols_could_name_one() {
    for arch in ["x86_64", "aarch64"] {
        for (file, flagged) in [
            (format!("hello-{arch}-msvc-clang.exe"), true),
            (format!("hello-{arch}-msvc-clang-nosym.exe"), false),
        ] {
            let (_, _, audit) = run_audit(&file, &[]);
            let has = audit
                .findings
                .iter()
                .any(|f| f.rule == "hardening-stack-protector");
            assert_eq!(has, flagged, "{file}: {:?}", audit.findings);
        }
    }
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

// ---------------------------------------------------------------- branches.c against its truth
//
// fixtures/truth/<binary>.branches (fixtures/truth_branches.py) lists every indirect branch
// of branches.c's functions with the protection its build flags promise, from the source's
// SITES table, checked against llvm-objdump-19. Here gloss must find the same sites (address,
// kind) with the protections the flags promise, compared as sets with missing/extra printed.

struct Truth {
    /// GNU property bits (`x86_feature_1`/`aarch64_feature_1`), `-` for none.
    property: String,
    /// (function, kind, count, protection)
    counts: Vec<(String, String, usize, String)>,
    /// (address, function, kind, protection)
    sites: Vec<(u64, String, String, String)>,
}

fn truth(image: &Image, file: &str) -> Truth {
    let path = format!(
        "{}/../../fixtures/truth/{file}.branches",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut t = Truth {
        property: String::new(),
        counts: Vec::new(),
        sites: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["property", "x86_feature_1" | "aarch64_feature_1", v] => t.property = v.to_string(),
            ["property", ..] => {}
            ["site", at, func, kind, prot, ..] => t.sites.push((
                address(image, at),
                func.to_string(),
                kind.to_string(),
                prot.to_string(),
            )),
            [func, kind, n, prot] => t.counts.push((
                func.to_string(),
                kind.to_string(),
                n.parse().unwrap(),
                prot.to_string(),
            )),
            _ => panic!("{path}: bad line {line:?}"),
        }
    }
    t
}

/// A truth address: hex, or `SECTION+OFFSET` in a relocatable object (gloss's layout).
fn address(image: &Image, at: &str) -> u64 {
    if let Some(hex) = at.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).unwrap();
    }
    let (section, off) = at.rsplit_once("+0x").unwrap();
    let s = image
        .sections
        .iter()
        .find(|s| s.name == section)
        .unwrap_or_else(|| panic!("no section {section}"));
    s.addr.0 + u64::from_str_radix(off, 16).unwrap()
}

/// The site kind of truth_branches.py for a gloss branch.
fn site_kind(b: &IndirectBranch) -> &'static str {
    match b.kind {
        BranchKind::Return => "ret",
        BranchKind::JumpTable => "table",
        _ if b.call => "call",
        _ => "jump",
    }
}

/// The protections gloss must report for a truth protection: the flag's code is there, and
/// for IBT, SHSTK and BTI also the property that makes the CPU enforce it.
fn expected(protection: &str, property: &str) -> Vec<Protection> {
    let has = |bit: &str| property.split(',').any(|p| p == bit);
    match protection {
        "retpoline" => vec![Protection::Retpoline],
        "return_thunk" => vec![Protection::ReturnThunk],
        "sls" => vec![Protection::Sls],
        "pac" => vec![Protection::Pac],
        "cfg" => vec![Protection::Cfg],
        "ibt" if has("IBT") => vec![Protection::Ibt],
        "shstk" if has("SHSTK") => vec![Protection::Shstk],
        "bti" if has("BTI") => vec![Protection::Bti],
        _ => vec![],
    }
}

fn branches_fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(bin(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("branches-"))
        .collect();
    v.sort();
    v
}

#[test]
fn branches_sites_and_protections_match_the_source_and_flags() {
    let files = branches_fixtures();
    assert!(files.len() >= 20, "{files:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let (image, _, audit) = run_audit(file, &[]);
        let t = truth(&image, file);
        let functions: std::collections::BTreeMap<u64, &str> = t
            .counts
            .iter()
            .filter_map(|(f, ..)| image.symbol_named(f).map(|s| (s.addr.0, f.as_str())))
            .collect();
        let want: std::collections::BTreeSet<String> = t
            .sites
            .iter()
            .filter(|s| s.2 != "entry")
            .map(|(at, f, kind, prot)| {
                format!("{at:#x} {f} {kind} {:?}", expected(prot, &t.property))
            })
            .collect();
        let got: std::collections::BTreeSet<String> = audit
            .branches
            .iter()
            // the guard's check call and the thunks' own branches are the mitigations
            .filter(|b| !matches!(b.kind, BranchKind::GuardCheck | BranchKind::Thunk))
            .filter_map(|b| {
                let f = functions.get(&b.function)?;
                let mut p = b.protections.clone();
                p.retain(|p| *p != Protection::Lfence);
                Some(format!("{:#x} {f} {} {p:?}", b.addr, site_kind(b)))
            })
            .collect();
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{file}:\n  missing {missing:#?}\n  extra {extra:#?}"
            ));
        }
        checked += want.len();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 600, "{checked} sites");
}

/// With IBT (x86-64 ELF) or BTI (AArch64 ELF) required, the functions branches.c lets escape
/// (`op_*`, `sq_*`, `tri_*`, stored in function-pointer tables) must begin with a landing pad,
/// and a tracked table jump's 16 targets too: gloss reports exactly those the build left
/// without one (the truth's `entry`/`target` protection `none`).
#[test]
fn branches_landing_pads_match_the_flags() {
    const ESCAPING: [&str; 8] = [
        "op_inc",
        "op_dbl",
        "op_sq",
        "op_neg",
        "sq_area",
        "sq_perim",
        "tri_area",
        "tri_perim",
    ];
    for file in branches_fixtures().iter().filter(|f| !f.ends_with(".exe")) {
        let image = gloss::open(std::path::Path::new(&bin(file))).unwrap();
        let m = match image.arch {
            gloss::Arch::X86_64 => Mitigation::Ibt,
            gloss::Arch::Aarch64 => Mitigation::Bti,
        };
        let (_, audit) = audit_of(&image, &[m]);
        let t = truth(&image, file);
        let pad = |f: &str, kind: &str| {
            t.counts
                .iter()
                .find(|c| c.0 == f && c.1 == kind)
                .map(|c| (c.2, c.3.clone()))
        };
        let rule = match m {
            Mitigation::Ibt => "ibt-missing-endbr",
            _ => "bti-missing-landing-pad",
        };
        let flagged: Vec<&str> = ESCAPING
            .iter()
            .copied()
            .filter(|f| {
                let a = sym(&image, f);
                audit
                    .findings
                    .iter()
                    .any(|x| x.rule == rule && x.at == Some(a))
            })
            .collect();
        let unpadded: Vec<&str> = ESCAPING
            .iter()
            .copied()
            .filter(|f| pad(f, "entry").is_some_and(|(_, p)| p == "none"))
            .collect();
        assert_eq!(
            flagged, unpadded,
            "{file}: escaping functions without a pad"
        );
        // the table's targets: flagged unless padded (bti) or the jump is untracked (notrack)
        let table = audit
            .branches
            .iter()
            .find(|b| b.kind == BranchKind::JumpTable && b.function == sym(&image, "dispatch"));
        let targets = audit
            .findings
            .iter()
            .filter(|x| x.rule == rule && table.is_some_and(|b| x.related == vec![b.addr]))
            .count();
        let want = match (pad("dispatch", "table"), pad("dispatch", "target")) {
            (Some((1, p)), Some((n, t))) if p != "notrack" && t == "none" => n,
            _ => 0,
        };
        assert_eq!(targets, want, "{file}: table targets without a pad");
    }
}

/// With a mitigation required, its build has no unprotected site among branches.c's functions,
/// and the baseline build of the same compiler has exactly as many as the source has sites it
/// applies to (the truth's counts): what `gloss audit --require M` reports.
#[test]
fn mitigated_builds_pass_and_baselines_flag_every_site_the_source_has() {
    // mitigated build, baseline build, mitigation, the site kinds it applies to
    const PAIRS: &str = "\
        x86_64-gcc-O2-thunk.elf               x86_64-gcc-O2.elf         retpoline call,jump,table
        x86_64-gcc-O2-thunk-extern.o          x86_64-gcc-O2.elf         retpoline call,jump,table
        x86_64-clang-O2-retpoline.elf         x86_64-clang-O2.elf       retpoline call,jump,table
        x86_64-gcc-O2-return-thunk-extern.o   x86_64-gcc-O2.elf         rethunk   ret
        x86_64-clang-O2-return-thunk-extern.o x86_64-clang-O2.elf       rethunk   ret
        x86_64-gcc-O2-sls.elf                 x86_64-gcc-O2.elf         sls       jump,table,ret
        x86_64-clang-O2-sls.elf               x86_64-clang-O2.elf       sls       jump,table,ret
        aarch64-gcc-O2-sls.elf                aarch64-gcc-O2.elf        sls       call,jump,table,ret
        aarch64-clang-O2-sls.elf              aarch64-clang-O2.elf      sls       call,jump,table,ret
        x86_64-gcc-O2-cet.elf                 x86_64-gcc-O2.elf         ibt       call,jump,table
        x86_64-clang-O2-cet.elf               x86_64-clang-O2.elf       ibt       call,jump,table
        aarch64-gcc-O2-pac-bti.elf            aarch64-gcc-O2.elf        bti       call,jump,table
        aarch64-clang-O2-pac-bti.elf          aarch64-clang-O2.elf      bti       call,jump,table
        x86_64-msvc-clang-O2-cfg.exe          x86_64-msvc-clang-O2.exe  cfg       call,jump
        aarch64-msvc-clang-O2-cfg.exe         aarch64-msvc-clang-O2.exe cfg       call,jump";
    let unprotected = |file: &str, m: Mitigation| -> (Truth, usize) {
        let (image, _, audit) = run_audit(file, &[m]);
        let t = truth(&image, file);
        let ours: std::collections::BTreeSet<u64> = t
            .counts
            .iter()
            .filter_map(|(f, ..)| image.symbol_named(f).map(|s| s.addr.0))
            .collect();
        let n = audit
            .branches
            .iter()
            .filter(|b| ours.contains(&b.function) && b.missing.contains(&m))
            .count();
        (t, n)
    };
    let sites = |t: &Truth, kinds: &[&str]| -> usize {
        t.counts
            .iter()
            .filter(|c| kinds.contains(&c.1.as_str()))
            .map(|c| c.2)
            .sum()
    };
    for line in PAIRS.lines() {
        let [with, without, m, kinds] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("bad line {line:?}")
        };
        let m = Mitigation::parse(m).unwrap();
        let kinds: Vec<&str> = kinds.split(',').collect();
        let kinds = kinds.as_slice();
        let (with, without) = (format!("branches-{with}"), format!("branches-{without}"));
        let (t, n) = unprotected(&with, m);
        assert_eq!(n, 0, "{with}: unprotected sites with {m:?} required");
        assert!(sites(&t, kinds) > 0, "{with}: no {kinds:?} sites");
        let (t, n) = unprotected(&without, m);
        assert_eq!(
            n,
            sites(&t, kinds),
            "{without}: unprotected sites with {m:?} required"
        );
    }
    // pac-ret: the functions that save x30 (the pac builds sign exactly those: `ret pac`)
    for c in ["gcc", "clang"] {
        let with = format!("branches-aarch64-{c}-O2-pac-bti.elf");
        let (t, n) = unprotected(&with, Mitigation::Pac);
        assert_eq!(n, 0, "{with}");
        let signed = t
            .counts
            .iter()
            .filter(|x| x.1 == "ret" && x.3 == "pac")
            .map(|x| x.2)
            .sum::<usize>();
        assert_eq!(signed, 3, "{with}: call_ptr, shape_total and main save x30");
        let (_, n) = unprotected(&format!("branches-aarch64-{c}-O2.elf"), Mitigation::Pac);
        assert_eq!(n, signed, "branches-aarch64-{c}-O2.elf");
    }
}

/// `gloss audit` runs the idioms only where the audit reads them
/// (`gloss::analysis::audit::explain`); its report must be the one the full idioms give.
#[test]
fn the_audits_own_idiom_selection_changes_nothing() {
    let mut files = branches_fixtures();
    files.extend(
        [
            "vcall-x86_64-gcc-O2-retpoline.elf",
            "frames-aarch64-gcc-O2-pac.elf",
            "hello-x86_64-msvc-clang.exe",
        ]
        .map(String::from),
    );
    let all = Mitigation::ALL;
    for file in &files {
        let image = gloss::open(std::path::Path::new(&bin(file))).unwrap();
        let (analysis, _) = gloss::analyze(&image);
        let full = gloss::explain(&image, &analysis);
        let dis = gloss::disassembler(image.arch);
        let some = gloss::analysis::audit::explain(&image, dis, &analysis);
        let a = gloss::audit(&image, &analysis, &full, &all);
        let b = gloss::audit(&image, &analysis, &some, &all);
        assert_eq!(a.branches, b.branches, "{file}");
        assert_eq!(a.findings, b.findings, "{file}");
        assert_eq!(a.stack_protected, b.stack_protected, "{file}");
    }
}

/// GUARD_CF is a claim the load config must back: the same image with CF_INSTRUMENTED cleared
/// in its GuardFlags (found after the GuardCFFunctionTable and count the loader reads) is
/// reported; as built by lld-link `/guard:cf`, it is not.
#[test]
fn guard_cf_without_an_instrumented_load_config_is_a_finding() {
    let path = bin("branches-x86_64-msvc-clang-O2-cfg.exe");
    let bytes = std::fs::read(&path).unwrap();
    let flagged = |bytes: Vec<u8>| {
        let (_, audit) = audit_of(&gloss::load(bytes).unwrap(), &[]);
        audit.findings.iter().any(|f| f.rule == "cfg-flag-missing")
    };
    assert!(!flagged(bytes.clone()));
    let lc = load_config(&gloss::load(bytes.clone()).unwrap());
    assert_ne!(
        lc.guard_flags & 0x100,
        0,
        "CF_INSTRUMENTED as lld-link sets it"
    );
    // IMAGE_LOAD_CONFIG_DIRECTORY64: GuardCFFunctionTable, GuardCFFunctionCount, GuardFlags
    let mut pattern = lc.guard_cf_function_table.unwrap().0.to_le_bytes().to_vec();
    pattern.extend(lc.guard_cf_function_count.to_le_bytes());
    pattern.extend(lc.guard_flags.to_le_bytes());
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())
        .expect("the load config's guard fields");
    let mut patched = bytes;
    patched[at + 17] &= !0x01; // bit 8 of the little-endian GuardFlags
    let flags = load_config(&gloss::load(patched.clone()).unwrap()).guard_flags;
    assert_eq!(flags & 0x100, 0);
    assert!(flagged(patched));
}

/// Control Flow Guard's landing pads: the functions of branches.c that gloss reads from the
/// GuardCFFunctionTable are the truth's `entry cfg` ones (llvm-readobj's table: the 8
/// address-taken functions and the entry point); and an escaping function taken out of the
/// table (its entry pointed elsewhere) is a `cfg-missing-target` finding.
#[test]
fn guard_cf_function_table_holds_the_escaping_functions() {
    for file in [
        "branches-x86_64-msvc-clang-O2-cfg.exe",
        "branches-aarch64-msvc-clang-O2-cfg.exe",
    ] {
        let (image, _, audit) = run_audit(file, &[]);
        let t = truth(&image, file);
        let table = gloss::analysis::audit::guard_table(&image).unwrap();
        let mut listed: Vec<&str> = t
            .counts
            .iter()
            .filter(|c| c.1 == "entry" && table.contains(&sym(&image, &c.0)))
            .map(|c| c.0.as_str())
            .collect();
        let mut want: Vec<&str> = t
            .counts
            .iter()
            .filter(|c| c.1 == "entry" && c.3 == "cfg")
            .map(|c| c.0.as_str())
            .collect();
        listed.sort();
        want.sort();
        assert_eq!(listed, want, "{file}");
        assert!(want.contains(&"op_inc"), "{file}");
        assert!(
            !audit
                .findings
                .iter()
                .any(|f| f.rule == "cfg-missing-target")
        );
        // point op_inc's table entry at the image base instead
        let mut bytes = std::fs::read(bin(file)).unwrap();
        let base = image.facts.pe.as_ref().unwrap().image_base.0;
        let rva = (sym(&image, "op_inc") - base) as u32;
        let lc = load_config(&image);
        let s = image
            .section_at(lc.guard_cf_function_table.unwrap().0)
            .unwrap();
        let (start, end) = (
            s.file_offset.unwrap() as usize,
            (s.file_offset.unwrap() + s.size) as usize,
        );
        let stride = 4 + (lc.guard_flags >> 28) as usize;
        let table_at = start + (lc.guard_cf_function_table.unwrap().0 - s.addr.0) as usize;
        let at = (0..lc.guard_cf_function_count as usize)
            .map(|i| table_at + i * stride)
            .find(|&o| o + 4 <= end && bytes[o..o + 4] == rva.to_le_bytes())
            .expect("op_inc in the table");
        bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        let (_, audit) = audit_of(&gloss::load(bytes).unwrap(), &[]);
        let missing: Vec<u64> = audit
            .findings
            .iter()
            .filter(|f| f.rule == "cfg-missing-target")
            .filter_map(|f| f.at)
            .collect();
        assert_eq!(missing, vec![sym(&image, "op_inc")], "{file}");
    }
}
