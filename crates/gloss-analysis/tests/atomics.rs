//! Atomic-operation recognition against truth that does not come from gloss:
//! - fixtures/truth/atomics.ops, from the C source: each `at_*` function's operation, width and
//!   memory order(s);
//! - fixtures/truth/atomics.lowering, from the lowering rules checked against each build's
//!   assembly: per build scheme, what the code can show of each case (the ops and orders that
//!   give the same instructions, and the strongest such order, which a recognizer reports).
//!
//! For every `fixtures/bin/atomics-*` binary the functions are discovered and each one's
//! atomics recognized. Per `at_*` function the reported set must equal what the rule table
//! says is visible: one operation, its op among the table's `ops`, the width, and the
//! `shown_order` (for a compare-exchange the `success/failure` pair). libgcc's outline helpers
//! (`__aarch64_ldset4_acq_rel`) must each report their own LSE and LL/SC bodies, as their name
//! says; every other function (main, _start, crt code) must report nothing. Missing and extra
//! operations are printed per binary, then recall and precision per scheme (docs/ACCURACY.md
//! quotes them: `cargo test -p gloss-analysis --test atomics -- --nocapture`).
//!
//! The seed's two forms of one operation must read the same: `aio_ctx_prepare` in every
//! `fixtures/bin/globals-*` binary is one `fetch_or` of 32 bits, seq_cst, whether it is
//! `lock orl $0x1,0xa8(%rdi)`, an `ldaxr`/`orr`/`stlxr`/`cbnz` loop, `ldsetal` or a call of
//! `__aarch64_ldset4_acq_rel`.
use gloss_analysis::code::CodeMap;
use gloss_analysis::discover::analyze;
use gloss_analysis::idiom::atomic::{AtomicOp, Evidence, Finder, Op, Order};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn rows(file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixtures().join("truth").join(file)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// What one `at_*` function's source says: op, width, order, failure, result.
struct Case {
    op: String,
    width: String,
    order: String,
    failure: String,
    result: String,
}

/// What a scheme's code shows of a case: the ops it cannot tell apart ('-': nothing) and the
/// order to report (`success/failure` for a compare-exchange).
struct Shown {
    ops: BTreeSet<String>,
    order: String,
}

fn reported(a: &AtomicOp) -> String {
    let order = match a.failure {
        Some(f) => format!("{}/{}", a.order.name(), f.name()),
        None => a.order.name().to_string(),
    };
    let width = if a.op == Op::Fence {
        "-".to_string()
    } else {
        a.width.to_string()
    };
    format!("{} {} {}", a.op.name(), width, order)
}

#[derive(Default)]
struct Tally {
    expected: usize,
    found: usize,
    /// found, and with exactly the source's op and order
    as_source: usize,
    extra: usize,
    helpers_ok: usize,
    helper_extra: usize,
}

#[test]
fn atomics_match_the_lowering_rules() {
    let cases: BTreeMap<String, Case> = rows("atomics.ops")
        .into_iter()
        .map(|f| {
            (
                f[0].clone(),
                Case {
                    op: f[1].clone(),
                    width: f[2].clone(),
                    order: f[3].clone(),
                    failure: f[4].clone(),
                    result: f[5].clone(),
                },
            )
        })
        .collect();
    let mut binaries = Vec::new();
    let mut shown: BTreeMap<(String, String, String, String, String), Shown> = BTreeMap::new();
    for f in rows("atomics.lowering") {
        if f[0] == "binary" {
            binaries.push((f[1].clone(), f[2].clone()));
            continue;
        }
        let key = (
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
            f[4].clone(),
        );
        let ops = if f[6] == "-" {
            BTreeSet::new()
        } else {
            f[6].split('|').map(str::to_string).collect()
        };
        shown.insert(
            key,
            Shown {
                ops,
                order: f[8].clone(),
            },
        );
    }
    assert_eq!(binaries.len(), 11);

    // GLOSS_ATOMICS_DUMP=1: print every recognized operation with its instructions
    let dump = std::env::var_os("GLOSS_ATOMICS_DUMP").is_some();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for (bin, scheme) in &binaries {
        let bytes = std::fs::read(fixtures().join("bin").join(bin)).unwrap();
        let image = gloss_load::load(bytes).unwrap();
        let dis = gloss_arch::disassembler(image.arch);
        let hints = gloss_load::function_hints(&image);
        let analysis = analyze(&image, dis, &hints.hints);
        let code = CodeMap::new(&image);
        let finder = Finder::new(&image, dis, &code);
        let tally = tallies.entry(scheme.clone()).or_default();
        let mut missing = Vec::new();
        let mut extra = Vec::new();
        let mut seen = BTreeSet::new();
        for f in &analysis.functions {
            let name = f.name.clone().unwrap_or_else(|| format!("{:#x}", f.addr));
            let found = finder.find(&f.blocks);
            if dump {
                for a in &found {
                    let insns: Vec<String> = a.insns.iter().map(|i| format!("{i:#x}")).collect();
                    println!(
                        "  {bin} {name}: {} ({}) at {:#x} [{}]",
                        reported(a),
                        a.evidence.name(),
                        a.addr,
                        insns.join(" ")
                    );
                }
            }
            if let Some(case) = cases.get(&name) {
                seen.insert(name.clone());
                let key = (
                    scheme.clone(),
                    case.op.clone(),
                    case.order.clone(),
                    case.failure.clone(),
                    case.result.clone(),
                );
                let rule = shown
                    .get(&key)
                    .unwrap_or_else(|| panic!("{bin}: no lowering rule for {name} {key:?}"));
                let mut got: Vec<String> = found.iter().map(reported).collect();
                if !rule.ops.is_empty() {
                    tally.expected += 1;
                    let ok = got.iter().position(|g| {
                        let p: Vec<&str> = g.split(' ').collect();
                        rule.ops.contains(p[0]) && p[1] == case.width && p[2] == rule.order
                    });
                    match ok {
                        Some(i) => {
                            tally.found += 1;
                            // the source's own op and order(s), where the code shows them
                            let order = match case.failure.as_str() {
                                "-" => case.order.clone(),
                                f => format!("{}/{f}", case.order),
                            };
                            let width = &case.width;
                            if got[i] == format!("{} {width} {order}", case.op) {
                                tally.as_source += 1;
                            }
                            got.remove(i);
                        }
                        None => missing.push(format!(
                            "{name}: {} {} {}",
                            rule.ops.iter().cloned().collect::<Vec<_>>().join("|"),
                            case.width,
                            rule.order
                        )),
                    }
                }
                for g in got {
                    tally.extra += 1;
                    extra.push(format!("{name}: {g}"));
                }
            } else if let Some(h) = helper(&name) {
                // libgcc's helper: its LSE instruction and its LL/SC loop, both what it says
                for a in &found {
                    if reported(a) == h {
                        tally.helpers_ok += 1;
                    } else {
                        tally.helper_extra += 1;
                        extra.push(format!("{name} (helper, {h}): {}", reported(a)));
                    }
                }
                if found.len() != 2 {
                    missing.push(format!("{name}: 2 x {h}, found {}", found.len()));
                }
            } else {
                for a in &found {
                    tally.extra += 1;
                    extra.push(format!("{name}: {} at {:#x}", reported(a), a.addr));
                }
            }
        }
        let absent: Vec<&String> = cases.keys().filter(|c| !seen.contains(*c)).collect();
        assert!(absent.is_empty(), "{bin}: functions not found: {absent:?}");
        println!(
            "{bin} ({scheme}): {} missing, {} extra",
            missing.len(),
            extra.len()
        );
        for m in &missing {
            println!("  missing {m}");
        }
        for e in &extra {
            println!("  extra   {e}");
        }
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(bin.clone());
        }
    }
    println!();
    println!(
        "| scheme | binaries | visible | recognized | extra | recall | precision | \
         as in the source | helper bodies |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (scheme, t) in &tallies {
        let n = binaries.iter().filter(|(_, s)| s == scheme).count();
        let pct = |a: usize, b: usize| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.1}%", 100.0 * a as f64 / b as f64)
            }
        };
        let helpers = if t.helpers_ok + t.helper_extra == 0 {
            "-".to_string()
        } else {
            format!("{}/{}", t.helpers_ok, t.helpers_ok + t.helper_extra)
        };
        println!(
            "| {scheme} | {n} | {} | {} | {} | {} | {} | {} | {helpers} |",
            t.expected,
            t.found,
            t.extra,
            pct(t.found, t.expected),
            pct(t.found, t.found + t.extra),
            t.as_source,
        );
    }
    assert!(failures.is_empty(), "mismatches in {failures:?}");
}

/// The operations found in raw code with functions at `starts` (offsets), as
/// `offset: op width order (evidence)`.
fn raw(hex: &str, arch: gloss_core::Arch, starts: &[u64]) -> Vec<String> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let base = 0x1000;
    let image = gloss_load::load_raw(bytes, arch, base);
    let hints: Vec<gloss_core::FunctionHint> = starts
        .iter()
        .map(|&s| gloss_core::FunctionHint {
            addr: gloss_core::Addr(base + s),
            size: None,
            source: gloss_core::HintSource::EhFrame,
            fragment: false,
        })
        .collect();
    let dis = gloss_arch::disassembler(arch);
    let analysis = analyze(&image, dis, &hints);
    let code = CodeMap::new(&image);
    let finder = Finder::new(&image, dis, &code);
    let mut out = Vec::new();
    for f in &analysis.functions {
        // the same from instructions the caller decoded (in reverse order, with repeats)
        let mut decoded = Vec::new();
        for b in f.blocks.iter().rev() {
            let bytes = &code.bytes(b.addr).unwrap()[..b.size as usize];
            dis.decode_sem_run(bytes, b.addr, &mut |i, s, _| {
                decoded.push((*i, *s));
                true
            });
        }
        decoded.extend(decoded.clone());
        let found = finder.find(&f.blocks);
        assert_eq!(found, finder.find_decoded(&decoded));
        for a in found {
            out.push(format!(
                "{:#x}: {} ({})",
                a.addr - base,
                reported(&a),
                a.evidence.name()
            ));
        }
    }
    out
}

/// The seed article's two forms, as `gloss show --raw` takes them (README), and shapes that
/// must not be taken for something they are not. Bytes from llvm-mc-19.
#[test]
fn raw_sequences_read_as_what_they_do() {
    use gloss_core::Arch::{Aarch64, X86_64};
    // ldaxr w1, [x0]; orr w1, w1, #1; stlxr w2, w1, [x0]; cbnz w2, 0b
    assert_eq!(
        raw("01fc5f882100003201fc0288a2ffff35", Aarch64, &[0]),
        ["0x8: fetch_or 32 seq_cst (llsc_loop)"]
    );
    // lock orl $0x1,0x98(%rdi); ret
    assert_eq!(
        raw("f0838f9800000001c3", X86_64, &[0]),
        ["0x0: fetch_or 32 seq_cst (locked)"]
    );
    // 0x0: 1: ldaxr w1, [x0]; cbnz w1, 2f; stxr w3, w2, [x0]; cbnz w3, 1b; 2: ret
    //      (a spin lock's compare-exchange of 0: the test is a `cbnz`, not a `cmp`)
    // 0x14: ldr w1, [x0]; str w1, [x0]; ret (relaxed or plain: nothing to see)
    // 0x20: 3: ldxr x1, [x0]; lsl x2, x1, #1; stxr w3, x2, [x0]; cbnz w3, 3b; ret
    //      (an atomic operation C11 has no name for)
    let a64 = "01fc5f8861000035027c0388a3ffff35c0035fd6010040b9010000b9c0035fd6\
               017c5fc822f87fd3027c03c8a3ffff35c0035fd6";
    assert_eq!(
        raw(a64, Aarch64, &[0, 0x14, 0x20]),
        [
            "0x8: compare_exchange_strong 32 acquire/acquire (llsc_loop)",
            "0x28: rmw 64 relaxed (llsc_loop)",
        ]
    );
    // 0x0: 1: xor %eax,%eax; lock cmpxchg %ecx,(%rdi); jne 1b; ret
    //      (a spin lock: the expected value is 0 each time, not the observed one)
    // 0x9: mov (%rdi),%eax; 2: lea 1(%rax),%ecx; lock cmpxchg %ecx,(%rdi); jne 2b; ret
    // 0x15: mov (%rdi),%eax; lock cmpxchg %esi,(%rdi); sete %al; ret
    assert_eq!(
        raw(
            "31c0f00fb10f75f8c38b078d4801f00fb10f75f7c38b07f00fb1370f94c0c3",
            X86_64,
            &[0, 9, 0x15]
        ),
        [
            "0x2: compare_exchange_strong 32 seq_cst/seq_cst (locked)",
            "0xe: fetch_add 32 seq_cst (cas_loop)",
            "0x17: compare_exchange_strong 32 seq_cst/seq_cst (locked)",
        ]
    );
}

/// What an outline-atomics helper's body does, by its name: `__aarch64_ldset4_acq_rel` is
/// `fetch_or 32 seq_cst` (acq_rel is what seq_cst uses: the two compile the same).
fn helper(name: &str) -> Option<String> {
    let rest = name.strip_prefix("__aarch64_")?;
    let (op, rest) = [
        ("cas", "compare_exchange_strong"),
        ("swp", "exchange"),
        ("ldadd", "fetch_add"),
        ("ldclr", "fetch_and"),
        ("ldeor", "fetch_xor"),
        ("ldset", "fetch_or"),
    ]
    .iter()
    .find_map(|(p, o)| rest.strip_prefix(p).map(|r| (*o, r)))?;
    let (bytes, model) = rest.split_once('_')?;
    let width = bytes.parse::<u32>().ok()? * 8;
    let order = match model {
        "relax" => "relaxed",
        "acq" => "acquire",
        "rel" => "release",
        "acq_rel" => "seq_cst",
        _ => return None,
    };
    let failure = match (op, order) {
        ("compare_exchange_strong", "relaxed" | "release") => "/relaxed",
        ("compare_exchange_strong", "acquire") => "/acquire",
        ("compare_exchange_strong", _) => "/seq_cst",
        _ => "",
    };
    Some(format!("{op} {width} {order}{failure}"))
}

#[test]
fn the_seed_fetch_or_reads_the_same_in_every_form() {
    let mut checked = Vec::new();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(fixtures().join("bin")).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !file.starts_with("globals-") {
            continue;
        }
        let image = gloss_load::load(std::fs::read(&path).unwrap()).unwrap();
        let dis = gloss_arch::disassembler(image.arch);
        let hints = gloss_load::function_hints(&image);
        let analysis = analyze(&image, dis, &hints.hints);
        let code = CodeMap::new(&image);
        let finder = Finder::new(&image, dis, &code);
        let f = analysis
            .functions
            .iter()
            .find(|f| {
                f.name
                    .as_deref()
                    .is_some_and(|n| n.trim_start_matches('_') == "aio_ctx_prepare")
            })
            .unwrap_or_else(|| panic!("{file}: no aio_ctx_prepare"));
        let found: Vec<(Op, u8, Order)> = finder
            .find(&f.blocks)
            .iter()
            .map(|a| (a.op, a.width, a.order))
            .collect();
        // clang -O0 builds that read otherwise: the known gaps of crates/gloss/tests/idioms.rs
        // (`aio_ctx_prepare_is_a_32_bit_seq_cst_fetch_or`, which says what they read as and
        // fails when one closes)
        let known_gap = [
            "globals-x86_64-clang-O0-pie.elf",
            "globals-x86_64-clang-O0-nopie.elf",
            "globals-x86_64-msvc-clang-O0.exe",
            "globals-aarch64-msvc-clang-O0.exe",
        ]
        .contains(&file.as_str());
        if !known_gap {
            assert_eq!(
                found,
                [(Op::FetchOr, 32, Order::SeqCst)],
                "{file}: aio_ctx_prepare"
            );
        }
        // and nothing else in the program is atomic, except the outline helper's own body and
        // the MinGW CRT's real ones
        for g in &analysis.functions {
            let name = g.name.as_deref().unwrap_or("");
            if g.addr == f.addr || name.contains("__aarch64_") {
                continue;
            }
            for a in finder.find(&g.blocks) {
                others.push(format!("{file} {name} {} {:#x}", a.op.name(), a.addr));
            }
        }
        checked.push(file);
    }
    checked.sort();
    println!("{checked:?}");
    assert!(checked.len() >= 19, "{checked:?}");
    // MinGW's CRT: InterlockedCompareExchangePointer / InterlockedExchangePointer on
    // __native_startup_lock (crtexe.c), InterlockedExchangePointer in
    // mingw_set_invalid_parameter_handler
    others.sort();
    assert_eq!(
        others,
        [
            "globals-x86_64-mingw.exe __tmainCRTStartup compare_exchange_strong 0x1400011ec",
            "globals-x86_64-mingw.exe __tmainCRTStartup exchange 0x14000143f",
            "globals-x86_64-mingw.exe mingw_set_invalid_parameter_handler exchange 0x140002853",
        ]
    );
}

/// Debian's libc.so.6 (scripts/fetch-real-binaries.sh; skipped when absent): every atomic
/// instruction in a discovered function is covered by a recognized operation (instruction
/// level recall on real code: glibc's own LL/SC loops, `lock` forms, barriers), except
/// `clrex` and exclusive loads without a store (`ldxr` used as a monitor wait). Prints the
/// operations found by name and evidence.
#[test]
fn every_atomic_instruction_of_libc_is_explained() {
    let root = fixtures().join("../target/real-binaries");
    for (arch, triple) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let lib = root.join(format!("{arch}/lib/{triple}-linux-gnu/libc.so.6"));
        let Ok(bytes) = std::fs::read(&lib) else {
            eprintln!("{} is missing: skipped", lib.display());
            continue;
        };
        let image = gloss_load::load(bytes).unwrap();
        let dis = gloss_arch::disassembler(image.arch);
        let hints = gloss_load::function_hints(&image);
        let analysis = analyze(&image, dis, &hints.hints);
        let code = CodeMap::new(&image);
        let finder = Finder::new(&image, dis, &code);
        // libc.so.6 is stripped: the outline helpers' names come from libc6-dbg's .symtab
        let helpers: BTreeMap<u64, String> = image
            .facts
            .elf
            .as_ref()
            .and_then(|e| e.build_id.clone())
            .and_then(|id| {
                let dbg = root.join(format!(
                    "dbg/{arch}/usr/lib/debug/.build-id/{}/{}.debug",
                    &id[..2],
                    &id[2..]
                ));
                gloss_load::load(std::fs::read(dbg).ok()?).ok()
            })
            .map(|d| {
                d.symbols
                    .iter()
                    .filter_map(|s| Some((s.addr.0, helper(&s.name)?)))
                    .collect()
            })
            .unwrap_or_default();
        let (mut helper_calls, mut helper_found, mut helper_wrong) = (0, 0, Vec::new());
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        let mut uncovered = Vec::new();
        let mut atomic_insns = 0;
        for f in &analysis.functions {
            let found = finder.find(&f.blocks);
            for a in &found {
                if std::env::var_os("GLOSS_ATOMICS_DUMP").is_some() {
                    println!(
                        "  {arch} {:?} {:#x}: {} ({}) {:x?}",
                        f.name,
                        a.addr,
                        reported(a),
                        a.evidence.name(),
                        a.insns
                    );
                }
                if a.evidence != Evidence::OutlineCall {
                    continue;
                }
                let call = dis.decode(code.bytes(a.addr).unwrap(), a.addr);
                // `neg` + the ldadd helper is a fetch_sub
                let named = |h: &String| match a.op {
                    Op::FetchSub if a.insns.len() == 2 => h.replace("fetch_add", "fetch_sub"),
                    _ => h.clone(),
                };
                match call.flow.target().and_then(|t| helpers.get(&t)) {
                    Some(h) if named(h) == reported(a) => helper_found += 1,
                    h => helper_wrong.push(format!("{:#x}: {} for {h:?}", a.addr, reported(a))),
                }
            }
            let covered: BTreeSet<u64> = found.iter().flat_map(|a| a.insns.clone()).collect();
            for a in &found {
                *by_kind
                    .entry(format!(
                        "{} {} {}",
                        a.op.name(),
                        a.order.name(),
                        a.evidence.name()
                    ))
                    .or_default() += 1;
            }
            for b in &f.blocks {
                let Some(bytes) = code.bytes(b.addr) else {
                    continue;
                };
                let n = (b.size as usize).min(bytes.len());
                dis.decode_sem_run(&bytes[..n], b.addr, &mut |i, s, _| {
                    use gloss_core::sem::{AtomicKind as K, Barrier};
                    if let gloss_core::Flow::Call(t) = i.flow
                        && helpers.contains_key(&t)
                    {
                        helper_calls += 1;
                    }
                    if let Some(a) = s.atomic {
                        let skip = matches!(
                            a.kind,
                            K::ClearExclusive | K::LoadExclusive { .. } | K::Fence(Barrier::Store)
                        );
                        if !skip {
                            atomic_insns += 1;
                            if !covered.contains(&i.addr) {
                                uncovered.push(format!("{:#x} in {:?}", i.addr, f.name));
                            }
                        }
                    }
                    true
                });
            }
        }
        println!(
            "{arch}: {atomic_insns} atomic instructions, {} not covered",
            uncovered.len()
        );
        for (k, n) in &by_kind {
            println!("  {n:5} {k}");
        }
        for u in uncovered.iter().take(40) {
            println!("  uncovered {u}");
        }
        if !helpers.is_empty() {
            println!(
                "{arch}: {helper_calls} calls of outline helpers (named by libc6-dbg), \
                 {helper_found} recognized as what the helper's name says, {} wrong",
                helper_wrong.len()
            );
            for w in &helper_wrong {
                println!("  wrong {w}");
            }
        }
        assert!(uncovered.is_empty() && helper_wrong.is_empty());
        assert_eq!(helper_found, helper_calls);
    }
}
