//! Jump-table recovery against truth that does not come from gloss:
//! - fixtures/truth/switches.cases, read from the C source: which callee each case value calls
//!   (the switch fixtures run their own self-check of that under qemu / natively at build time);
//! - fixtures/truth/<binary>.tables, read from the compiler's own assembly: how many tables each
//!   function has, their entry sizes and entry counts.
//!
//! For every recovered case, the callee reached from its target (first call or tail jump, found
//! by plain decoding; in relocatable objects, named by the branch's relocation) must be the one
//! the source gives that value. Mismatches, missing and extra
//! tables are printed per binary before the test fails.
use gloss::{Flow, Image};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// (function, value) -> callee, and function -> default callee.
type Cases = BTreeMap<(String, i128), String>;

fn source_cases() -> (Cases, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(fixtures().join("truth/switches.cases")).unwrap();
    let mut cases = Cases::new();
    let mut defaults = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f[1] == "default" {
            defaults.insert(f[0].to_string(), f[2].to_string());
        } else {
            cases.insert((f[0].to_string(), f[1].parse().unwrap()), f[2].to_string());
        }
    }
    (cases, defaults)
}

/// function -> (entry sizes, entry counts), one item per table.
fn compiler_tables(bin: &str) -> BTreeMap<String, (Vec<u8>, Vec<usize>)> {
    let path = fixtures().join(format!("truth/{bin}.tables"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = l.split_whitespace().collect();
        let n: usize = f[1].parse().unwrap();
        let list = |s: &str| -> Vec<usize> {
            if n == 0 {
                vec![]
            } else {
                s.split(',').map(|x| x.parse().unwrap()).collect()
            }
        };
        let sizes = list(f[2]).into_iter().map(|x| x as u8).collect();
        out.insert(f[0].to_string(), (sizes, list(f[3])));
    }
    out
}

/// The function a case body calls first (or tail-jumps to), by decoding from `target` and
/// following unconditional jumps that stay outside named functions.
fn first_callee(image: &Image, target: u64) -> Option<String> {
    let dis = gloss::disassembler(image.arch);
    let name_at = |a: u64| {
        image
            .symbols
            .at(a)
            .map(|s| s.name.trim_start_matches('_').to_string())
            .find(|n| n.starts_with("c_"))
    };
    if let Some(n) = name_at(target) {
        return Some(n); // a tail jump straight to the callee
    }
    let mut a = target;
    for _ in 0..64 {
        let bytes = (1..=16).rev().find_map(|n| image.read_at(a, n))?;
        let insn = dis.decode(bytes, a);
        // relocatable objects: the branch's relocation names the callee (the field is 0)
        if let Some(r) = image
            .relocs
            .iter()
            .find(|r| r.at.0 >= a && r.at.0 < insn.end() && r.symbol.starts_with("c_"))
            && image.synthetic_layout
            && matches!(insn.flow, Flow::Call(_) | Flow::Jump(_))
        {
            return Some(r.symbol.clone());
        }
        match insn.flow {
            Flow::Call(t) => return name_at(t).or_else(|| Some(format!("{t:#x}"))),
            Flow::Jump(t) => {
                if let Some(n) = name_at(t) {
                    return Some(n);
                }
                a = t;
            }
            Flow::Return | Flow::Trap | Flow::IndirectJump => return None,
            _ => a = insn.end(),
        }
    }
    None
}

/// Case values compare modulo the selector's width: the binary cannot say whether a 32-bit
/// selector was `int` or `unsigned`, nor (for bytes) `signed char` or `unsigned char`.
fn same_value(shape: &str, got: i64, want: i128) -> bool {
    let bits = match shape {
        "sw_long" | "sw_i64" => 64,
        "sw_schar" | "sw_uchar" => 8,
        "sw_short" => 16,
        _ => 32,
    };
    let m = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (got as u64) & m == (want as u64) & m
}

#[test]
fn recovered_switches_match_source_and_compiler() {
    let (cases, defaults) = source_cases();
    let mut bins: Vec<PathBuf> = std::fs::read_dir(fixtures().join("bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("switches-")
        })
        .collect();
    bins.sort();
    assert!(bins.len() >= 30, "switch fixtures missing");
    let mut problems = Vec::new();
    let (mut tables_ok, mut tables_total, mut cases_ok) = (0, 0, 0);
    for bin in &bins {
        let name = bin.file_name().unwrap().to_str().unwrap();
        let image = gloss::open(bin).unwrap();
        let (analysis, _) = gloss::analyze(&image);
        let truth = compiler_tables(name);
        for (func, (sizes, counts)) in &truth {
            tables_total += sizes.len();
            let f = image
                .symbol_named(func)
                .and_then(|s| analysis.function(s.addr.0));
            let Some(f) = f else {
                problems.push(format!("{name}: {func}: function not found"));
                continue;
            };
            // tables recovered anywhere in the function, including its .cold part
            let mut got: Vec<_> = f.switches.iter().collect();
            let cold = format!("{func}.cold");
            if let Some(c) = image
                .symbols
                .by_name(&cold)
                .and_then(|s| analysis.function(s.addr.0))
            {
                got.extend(c.switches.iter());
            }
            let mut want_shape: Vec<(u8, usize)> =
                sizes.iter().copied().zip(counts.iter().copied()).collect();
            let mut got_shape: Vec<(u8, usize)> = got
                .iter()
                .map(|s| (s.entry_size, s.entries.len()))
                .collect();
            want_shape.sort();
            got_shape.sort();
            if want_shape == got_shape {
                tables_ok += sizes.len();
            } else {
                let w: BTreeSet<_> = want_shape.iter().collect();
                let g: BTreeSet<_> = got_shape.iter().collect();
                problems.push(format!(
                    "{name}: {func}: tables (entry size, entries) missing {:?} extra {:?}; unresolved {:?}",
                    w.difference(&g).collect::<Vec<_>>(),
                    g.difference(&w).collect::<Vec<_>>(),
                    f.unresolved
                ));
            }
            for sw in got {
                for c in &sw.cases {
                    let callee = first_callee(&image, c.target);
                    let want = cases
                        .iter()
                        .find(|((fun, v), _)| fun == func && same_value(func, c.value, *v))
                        .map(|(_, callee)| callee.clone());
                    if want.is_some() && callee == want {
                        cases_ok += 1;
                    } else {
                        problems.push(format!(
                            "{name}: {func}: case {} -> {:#x} calls {callee:?}, source says {want:?}",
                            c.value, c.target
                        ));
                    }
                }
                // with several tables (clusters), out-of-range values go on to the next check
                if let (Some(d), Some(want), 1) = (sw.default, defaults.get(func), sizes.len())
                    && want != "none"
                {
                    let callee = first_callee(&image, d);
                    if callee.as_deref() != Some(want.as_str()) {
                        problems.push(format!(
                            "{name}: {func}: default {d:#x} calls {callee:?}, source says {want}"
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "jump tables: {tables_ok}/{tables_total} recovered with the compiler's shape; {cases_ok} cases checked against the source"
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(problems.is_empty(), "{} problems", problems.len());
}

/// The relocation self-check: in the x86-64 object and the `--emit-relocs` link, every table
/// entry carries the relocation the assembler wrote for `.long .Lcase-.Ltable`; each must lead
/// to the recovered target, and every relocation in `.rodata` that points into code must belong
/// to a recovered table (none missed). A table read with a wrong anchor must be caught.
#[test]
fn tables_agree_with_their_relocations() {
    use gloss::analysis::idiom::jump_table::{Anchor, reloc_check};
    for name in [
        "switches-x86_64-gcc-O2.o",
        "switches-x86_64-gcc-O2-emit-relocs.elf",
    ] {
        let image = gloss::open(&fixtures().join("bin").join(name)).unwrap();
        let (analysis, _) = gloss::analyze(&image);
        let rodata = image.sections.iter().find(|s| s.name == ".rodata").unwrap();
        let code_relocs = image
            .relocs
            .iter()
            .filter(|r| rodata.contains(r.at.0))
            .filter(|r| {
                r.target
                    .and_then(|t| image.section_at(t.0))
                    .is_some_and(|s| s.kind == gloss::SectionKind::Code)
            })
            .count();
        let mut agreed = 0;
        for sw in analysis.functions.iter().flat_map(|f| &f.switches) {
            let c = reloc_check::check(&image, sw)
                .unwrap_or_else(|| panic!("{name}: no relocations on table {:#x}", sw.table_addr));
            assert!(c.disagreements.is_empty(), "{name}: {c:?}");
            assert_eq!(c.agreed, sw.entries.len());
            agreed += c.agreed;

            let mut wrong = sw.clone();
            wrong.anchor = Anchor::Table(sw.table_addr + 4);
            let c = reloc_check::check(&image, &wrong).unwrap();
            assert_eq!(
                c.disagreements.len(),
                sw.entries.len(),
                "{name}: shifted anchor"
            );
        }
        assert!(
            code_relocs >= 400,
            "{name}: {code_relocs} table relocations"
        );
        assert_eq!(
            agreed, code_relocs,
            "{name}: table relocations not in any recovered table"
        );
    }
}

/// MSVC's x64 shapes, from fixtures/src/msvc_switch_x64.s (hand-written after MSVC's output:
/// there is no MSVC here): image-relative 32-bit entries, two-level tables with a byte index
/// table, a subtracted lower bound, a sign-extended `char`; the tables follow their function in
/// `.text`. The source's header lists each switch's cases; every case body calls
/// `c_<switch>_<first value of the body>` and the default body `c_<switch>_default`. Checked
/// with the symbol table and without it (the same link, /debug:symtab left out: same `.text`),
/// and in the COFF object, whose tables carry image-relative (ADDR32NB) relocations: there each
/// table slot's relocation must lead to the recovered target (the self-check), and a shifted
/// anchor must make every slot disagree.
#[test]
fn msvc_image_relative_and_two_level_tables() {
    let named = gloss::open(&fixtures().join("bin/msvc_switch-x86_64.exe")).unwrap();
    let stripped = gloss::open(&fixtures().join("bin/msvc_switch-x86_64-nosym.exe")).unwrap();
    let text = |i: &Image| {
        i.section_bytes(i.sections.iter().find(|s| s.name == ".text").unwrap())
            .to_vec()
    };
    assert_eq!(text(&named), text(&stripped), "same code in both links");
    assert!(
        stripped.symbols.is_empty(),
        "the -nosym link has no symbols"
    );
    let obj = gloss::open(&fixtures().join("bin/msvc_switch-x86_64.obj")).unwrap();
    let base = named.facts.pe.as_ref().unwrap().image_base.0;
    // (switch, its case values, two-level)
    let truth: [(&str, Vec<i64>, bool); 4] = [
        ("sw_dense", (0..=9).collect(), false),
        ("sw_sparse", vec![1, 2, 3, 5, 8, 13, 21], true),
        ("sw_low", (100..=107).collect(), false),
        ("sw_vowel", vec![97, 101, 105, 111, 117, 121], true),
    ];
    // 'y' shares the body of 'u'
    let body = |name: &str, v: i64| {
        if (name, v) == ("sw_vowel", 121) {
            117
        } else {
            v
        }
    };
    // (image, the one whose symbols name its addresses, its image base: gloss lays a COFF
    // object out from 0)
    for (image, names, base) in [
        (&named, &named, base),
        (&stripped, &named, base),
        (&obj, &obj, 0),
    ] {
        let (analysis, _) = gloss::analyze(image);
        for (name, values, two_level) in &truth {
            let at = names.symbol_named(name).unwrap().addr.0;
            let f = analysis
                .function(at)
                .unwrap_or_else(|| panic!("{name} not found"));
            assert_eq!(f.switches.len(), 1, "{name}: {:?}", f.unresolved);
            let s = &f.switches[0];
            assert_eq!(
                s.anchor,
                gloss::analysis::idiom::jump_table::Anchor::ImageBase(base)
            );
            assert_eq!((s.entry_size, s.signed, s.scale), (4, false, 0), "{name}");
            assert_eq!(
                s.index_table.map(|(_, w)| w),
                two_level.then_some(1),
                "{name}"
            );
            let got: Vec<i64> = s.cases.iter().map(|c| c.value).collect();
            assert_eq!(&got, values, "{name}: case values");
            for c in &s.cases {
                let want = format!(
                    "c_{}_{}",
                    name.trim_start_matches("sw_"),
                    body(name, c.value)
                );
                assert_eq!(
                    first_callee(names, c.target),
                    Some(want),
                    "{name}: case {}",
                    c.value
                );
            }
            let d = s.default.unwrap_or_else(|| panic!("{name}: no default"));
            let want = format!("c_{}_default", name.trim_start_matches("sw_"));
            assert_eq!(first_callee(names, d), Some(want), "{name}: default");
            if image.synthetic_layout {
                use gloss::analysis::idiom::jump_table::{Anchor, reloc_check};
                let c = reloc_check::check(image, s).expect("relocations on the table");
                assert!(c.disagreements.is_empty(), "{name}: {c:?}");
                assert_eq!(c.agreed, s.table_entries, "{name}: every slot checked");
                let mut wrong = s.clone();
                wrong.anchor = Anchor::ImageBase(4);
                let c = reloc_check::check(image, &wrong).unwrap();
                assert_eq!(c.disagreements.len(), s.table_entries, "{name}: shifted");
            }
        }
    }
}

/// clang's COFF x64 tables are table-relative, each entry a REL32 relocation against `.text`
/// whose field holds the rest of the difference: in the object, globals.c's `dispatch` table
/// (10 cases) must agree with its relocations entry by entry, and a shifted anchor must not.
#[test]
fn coff_object_table_relative_entries_agree_with_their_relocations() {
    use gloss::analysis::idiom::jump_table::{Anchor, reloc_check};
    let image = gloss::open(&fixtures().join("bin/globals-x86_64-msvc-clang.obj")).unwrap();
    let (analysis, _) = gloss::analyze(&image);
    let f = analysis
        .function(image.symbol_named("dispatch").unwrap().addr.0)
        .unwrap();
    let [s] = f.switches.as_slice() else {
        panic!("{:?}", f.switches)
    };
    assert_eq!(s.entries.len(), 10);
    let c = reloc_check::check(&image, s).expect("relocations on the table");
    assert!(c.disagreements.is_empty(), "{c:?}");
    assert_eq!(c.agreed, 10);
    let mut wrong = s.clone();
    wrong.anchor = Anchor::Table(s.table_addr + 4);
    assert_eq!(
        reloc_check::check(&image, &wrong)
            .unwrap()
            .disagreements
            .len(),
        10
    );
}
