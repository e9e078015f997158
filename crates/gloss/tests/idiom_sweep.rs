//! Recall and precision of the address (`refs`) and call-site (`calls`) idioms over every build
//! of globals.c, vcall.cpp, vshapes.cpp and hello.c (gcc/clang/MinGW, -O0..-O3/-Os, PIE/non-PIE,
//! ELF/PE/Mach-O, x86-64 and AArch64): for each binary, the facts the source says its code must
//! show, against the facts gloss reports, compared as sets per idiom, with what is missing and
//! what is extra printed. Fails on any missing or extra fact that is not in [`KNOWN_GAPS`].
//!
//! The truth is the source (the table in [`truth`]) and the binary's own symbol and import
//! tables (which address is `c_info`, which imports exist), never gloss's output. A reported
//! fact is rendered in the same words from what gloss says and the binary's tables: a ref
//! naming `unrelated_global+0x320` instead of `c_info`, a call of the wrong address, a virtual
//! call of the wrong slot, an argument of the wrong value each become an extra (and the right
//! one a missing) fact.
//!
//! Idioms (what each fact states):
//! - `refs`: an address the function materialises or accesses, named by the symbol that starts
//!   there or the string literal there (`make_widget: &c_info`, `main: load the_ctx+0xa8`,
//!   `main: &"hello from gloss"`). Refs to import slots are left out (the call is what the
//!   source says).
//! - `callee`: each call (or tail call) of the function, named by the target's symbol
//!   (`main -> dispatch #2` for the second one); an unnamed one is `?`.
//! - `import`: the calls of an import the binary imports (its import table), by any mechanism
//!   (stub, GOT, IAT): `make_widget: CreateWidget via import`.
//! - `virtual`: virtual calls with their slot and `this` (`call: virtual slot 1 (+0x8) this =
//!   rdi`; vshapes's say only whether `this` is known: which register holds the object is the
//!   compiler's choice).
//! - `args`: the arguments the source gives that a reader can check against the binary alone:
//!   addresses of globals and literals, constants, a stack slot, the result of an earlier call.
//!
//! `cargo test -p gloss --test idiom_sweep -- --nocapture` prints the table of
//! docs/ACCURACY.md; `GLOSS_SWEEP_BIN=DIR` measures the builds in another directory instead
//! (same naming: `globals-<arch>-<compiler>-<level>...`).
use gloss::Image;
use gloss::analysis::idiom::Explained;
use gloss::analysis::idiom::addr_mat::Access;
use gloss::analysis::idiom::call_site::{ArgValue, Call, Kind, Mech};
use std::collections::{BTreeMap, BTreeSet};

/// Facts that are wrong in gloss today, by fixture name prefix (or `*` for all) and idiom:
/// each says why. A listed fact that turns right fails the test too (so the list stays
/// current).
const KNOWN_GAPS: &[(&str, &str, &str, &str)] = &[
    // (fixture prefix, idiom, "missing"/"extra", fact)
    // gcc -O0 `(c ? p : q)->a2(c)`: the object is selected twice, on two paths that join
    // apart (once for the vptr load, once for `this`), so no register is known to hold the
    // object whose vptr was read
    (
        "vshapes-x86_64-gcc-O0",
        "virtual",
        "missing",
        "s_select: virtual slot 2 (+0x10) this known",
    ),
    (
        "vshapes-x86_64-gcc-O0",
        "virtual",
        "extra",
        "s_select: virtual slot 2 (+0x10) this = ?",
    ),
    (
        "vshapes-aarch64-gcc-O0",
        "virtual",
        "missing",
        "s_select: virtual slot 2 (+0x10) this known",
    ),
    (
        "vshapes-aarch64-gcc-O0",
        "virtual",
        "extra",
        "s_select: virtual slot 2 (+0x10) this = ?",
    ),
];

const IDIOMS: [&str; 5] = ["refs", "callee", "import", "virtual", "args"];

fn dir() -> String {
    std::env::var("GLOSS_SWEEP_BIN")
        .unwrap_or_else(|_| format!("{}/../../fixtures/bin", env!("CARGO_MANIFEST_DIR")))
}

fn fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            ["globals-", "vcall-", "vshapes-", "hello-"]
                .iter()
                .any(|p| n.starts_with(p))
                && !n.ends_with(".o")
                && !n.ends_with(".obj")
        })
        .collect();
    v.sort();
    v
}

/// The address of the function or object the source calls `name`: by its C name, Mach-O's
/// `_name`, or a C++ symbol whose demangled name is `name(...)` (Itanium `opaque(void*)`,
/// MSVC `void * __cdecl opaque(void *)`) or, for an object, ends in ` name` (MSVC `struct A
/// the_a`).
fn lookup(image: &Image, name: &str) -> Option<u64> {
    if let Some(s) = image.symbol_named(name) {
        return Some(s.addr.0);
    }
    let call = format!("{name}(");
    let msvc = format!(" {name}(");
    let object = format!(" {name}");
    image
        .symbols
        .iter()
        .find(|s| {
            s.demangled
                .as_deref()
                .is_some_and(|d| d.starts_with(&call) || d.contains(&msvc) || d.ends_with(&object))
        })
        .map(|s| s.addr.0)
}

/// An import's name as the source spells it (Mach-O's leading `_` dropped).
fn import_name(image: &Image, i: usize) -> String {
    let n = &image.imports[i].name;
    match image.format {
        gloss::Format::MachO => n.strip_prefix('_').unwrap_or(n).to_string(),
        _ => n.clone(),
    }
}

/// The NUL-terminated printable bytes at `a`, if `a` starts a C string.
fn c_string(image: &Image, a: u64) -> Option<String> {
    let b = (1..=64).rev().find_map(|n| image.read_loaded(a, n))?;
    let n = b.iter().position(|&c| c == 0)?;
    let s = &b[..n];
    (n > 0 && s.iter().all(|&c| c == b'\n' || (0x20..0x7f).contains(&c)))
        .then(|| format!("{:?}", String::from_utf8_lossy(s)))
}

/// What the source says about one build: per function, the callees it names, and the facts.
struct Truth {
    /// Functions whose calls are checked.
    functions: Vec<&'static str>,
    /// Functions whose refs are checked (dispatch's jump table and vcall's indexed `objects[]`
    /// are elements of arrays, not objects the source names).
    ref_functions: Vec<&'static str>,
    /// Names (source or runtime) whose addresses name call targets and refs.
    names: Vec<&'static str>,
    expected: BTreeMap<&'static str, BTreeSet<String>>,
    /// Arguments checked: (function, callee, index).
    checked_args: Vec<(&'static str, &'static str, u8)>,
    /// Virtual calls' `this` is checked by name (`this = rdi`); otherwise only whether it is
    /// known (`this known`): which register holds the object (the argument register, or the
    /// callee-saved one the function keeps it in) is the compiler's choice.
    this_named: bool,
}

/// Calls a compiler or runtime adds that the source does not have: allowed in any function,
/// neither counted nor extra.
fn allowed_callee(name: &str) -> bool {
    // libgcc's outline atomics (gcc AArch64), MinGW's constructor run at the top of main, C++
    // methods (a constructor main calls at -O0: vshapes's `V::V()`)
    name.starts_with("__aarch64_") || name == "__main" || name.contains("::")
}

/// The source's facts for one build (`imports`: what the binary imports).
fn truth(file: &str, image: &Image) -> Option<Truth> {
    let imported = |n: &str| (0..image.imports.len()).any(|i| import_name(image, i) == n);
    let first_arg = match (image.arch, image.format) {
        (gloss::Arch::Aarch64, _) => "x0",
        (gloss::Arch::X86_64, gloss::Format::Pe) => "rcx",
        (gloss::Arch::X86_64, _) => "rdi",
    };
    let mut t = Truth {
        functions: vec![],
        ref_functions: vec![],
        names: vec![],
        expected: IDIOMS.iter().map(|&i| (i, BTreeSet::new())).collect(),
        checked_args: vec![],
        this_named: true,
    };
    let mut add = |idiom: &'static str, fact: String| {
        t.expected.get_mut(idiom).unwrap().insert(fact);
    };
    if file.starts_with("globals-") {
        // make_widget: CreateWidget(&c_info, 1, &widget) [; ResetDoodad(id)]
        // main: make_widget(); dispatch(argc + 2, argc); aio_ctx_prepare(&the_ctx);
        //       dispatch(argc + 99, argc); ... (int)the_ctx.notify_me (offset 0xa8)
        // dispatch: case_0(arg) .. case_9(arg)
        add("refs", "make_widget: &c_info".into());
        add("refs", "main: &the_ctx".into());
        add("refs", "main: load the_ctx+0xa8".into());
        add("callee", "make_widget -> CreateWidget".into());
        for c in ["make_widget", "dispatch", "dispatch #2", "aio_ctx_prepare"] {
            add("callee", format!("main -> {c}"));
        }
        for k in 0..10 {
            add("callee", format!("dispatch -> case_{k}"));
        }
        add("args", "make_widget: CreateWidget arg0 = &c_info".into());
        add("args", "make_widget: CreateWidget arg1 = 1".into());
        add("args", "make_widget: CreateWidget arg2 = stack slot".into());
        add("args", "main: aio_ctx_prepare arg0 = &the_ctx".into());
        t.checked_args.extend([
            ("make_widget", "CreateWidget", 0),
            ("make_widget", "CreateWidget", 1),
            ("make_widget", "CreateWidget", 2),
            ("main", "aio_ctx_prepare", 0),
        ]);
        if imported("CreateWidget") {
            add("import", "make_widget: CreateWidget via import".into());
            add("import", "make_widget: ResetDoodad via import".into());
            add("callee", "make_widget -> ResetDoodad".into());
            add(
                "args",
                "make_widget: ResetDoodad arg0 = result of CreateWidget".into(),
            );
            t.checked_args.push(("make_widget", "ResetDoodad", 0));
        }
        t.functions = vec!["make_widget", "main", "dispatch"];
        t.ref_functions = vec!["make_widget", "main"];
        t.names = vec![
            "c_info",
            "unrelated_global",
            "the_ctx",
            "CreateWidget",
            "ResetDoodad",
            "make_widget",
            "dispatch",
            "aio_ctx_prepare",
            "case_0",
            "case_1",
            "case_2",
            "case_3",
            "case_4",
            "case_5",
            "case_6",
            "case_7",
            "case_8",
            "case_9",
            "case_sink",
        ];
    } else if file.starts_with("vcall-") {
        // call(Base *p): p->method(42), slot 1; main: call(opaque(objects[argc % 3]))
        add(
            "virtual",
            format!("call: virtual slot 1 (+0x8) this = {first_arg}"),
        );
        add("args", "call: virtual arg1 = 42".into());
        add("callee", "main -> call".into());
        t.checked_args.push(("call", "virtual", 1));
        // clang sees through `opaque` when optimising (noinline keeps it out of line, but
        // clang still infers that it returns its argument and drops the call); gcc's noipa
        // forbids that
        let (compiler, level, _) = family(file);
        if !(compiler.starts_with("clang") && level != "O0") {
            add("callee", "main -> opaque".into());
            add("args", "main: call arg0 = result of opaque".into());
            t.checked_args.push(("main", "call", 0));
        }
        t.functions = vec!["call", "main"];
        t.names = vec!["opaque", "call", "objects"];
    } else if file.starts_with("vshapes-") {
        // one shape of virtual call per function (the table in vshapes.cpp): its slots, and
        // the constant arguments after `this`
        let msvc = image.format == gloss::Format::Pe;
        // (function, its calls' slots, (argument index, constant))
        type Shape = (&'static str, &'static [u64], &'static [(u8, u64)]);
        let calls: [Shape; 13] = [
            ("s_param", &[2], &[(1, 1)]),
            ("s_tail", &[4], &[]),
            ("s_ref", &[3], &[(1, 1), (2, 2)]),
            ("s_two", &[0, 1], &[(1, 1), (1, 2)]),
            ("s_far_slot", &[9], &[(1, 3)]),
            ("s_loop", &[1], &[]),
            ("s_field", &[2], &[(1, 4)]),
            ("s_global", &[1], &[(1, 5)]),
            ("s_select", &[2], &[]),
            ("s_second_base", &[0], &[(1, 6)]),
            // Itanium: a slot of its own in C's primary table; MSVC: B's table at +8
            ("s_override_b", if msvc { &[1] } else { &[10] }, &[(1, 6)]),
            ("s_base_b", &[0], &[(1, 7)]),
            ("s_vbase", &[1], &[(1, 8)]),
        ];
        for (f, slots, args) in calls {
            for n in slots {
                add(
                    "virtual",
                    format!("{f}: virtual slot {n} (+{:#x}) this known", n * 8),
                );
            }
            for &(i, k) in args {
                add("args", format!("{f}: virtual arg{i} = {k}"));
                t.checked_args.push((f, "virtual", i));
            }
        }
        // calls through function pointers: no virtual call
        for (f, k) in [("s_fnptr", 9), ("s_callback", 10), ("s_nested_fnptr", 11)] {
            add("callee", format!("{f} -> ?"));
            add("args", format!("{f}: ? arg0 = {k}"));
            t.checked_args.extend([(f, "?", 0), (f, "virtual", 0)]);
        }
        // main calls each shape with the objects it names (a global's address, the Windows
        // x64 builds keeping one in rsi or rdi, which a call preserves there)
        for (callee, objects) in [
            ("s_param", &["&the_a"][..]),
            ("s_tail", &["&the_a2", "5"]),
            ("s_ref", &["&the_a2"]),
            ("s_two", &["&the_c"]),
            ("s_far_slot", &["&the_a"]),
            ("s_second_base", &["&the_c"]),
            ("s_override_b", &["&the_c"]),
            ("s_fnptr", &["&twice"]),
        ] {
            for (i, v) in objects.iter().enumerate() {
                add("args", format!("main: {callee} arg{i} = {v}"));
                t.checked_args.push(("main", callee, i as u8));
            }
        }
        for f in calls
            .iter()
            .map(|c| c.0)
            .chain(["s_fnptr", "s_callback", "s_nested_fnptr"])
        {
            add("callee", format!("main -> {f}"));
        }
        t.functions = calls
            .iter()
            .map(|c| c.0)
            .chain(["s_fnptr", "s_callback", "s_nested_fnptr", "main"])
            .collect();
        t.names = vec!["the_a", "the_a2", "the_c", "twice"];
        t.this_named = false;
    } else if file.starts_with("hello-") {
        // main: puts("hello from gloss"); printf("argc=%d\n", argc)
        image.symbol_named("main")?; // builds without a symbol table have no main to ask for
        add("refs", r#"main: &"hello from gloss""#.into());
        add("refs", r#"main: &"argc=%d\n""#.into());
        add("callee", "main -> puts".into());
        add("callee", "main -> printf".into());
        add("import", "main: puts via import".into());
        add("import", "main: printf via import".into());
        add("args", r#"main: puts arg0 = &"hello from gloss""#.into());
        add("args", r#"main: printf arg0 = &"argc=%d\n""#.into());
        t.checked_args
            .extend([("main", "puts", 0), ("main", "printf", 0)]);
        t.functions = vec!["main"];
        t.ref_functions = vec!["main"];
        t.names = vec!["puts", "printf"];
    } else {
        return None;
    }
    Some(t)
}

/// What gloss reports for one build, in the truth's words.
fn reported(
    image: &Image,
    t: &Truth,
    by_fn: &BTreeMap<&'static str, &Explained>,
) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out: BTreeMap<&'static str, BTreeSet<String>> =
        IDIOMS.iter().map(|&i| (i, BTreeSet::new())).collect();
    let names: Vec<(u64, &str)> = t
        .names
        .iter()
        .filter_map(|n| Some((lookup(image, n)?, *n)))
        .collect();
    // a target named by the source's names, else by the symbol table
    let name_at = |a: u64| -> Option<String> {
        if let Some((_, n)) = names.iter().find(|(x, _)| *x == a) {
            return Some(n.to_string());
        }
        if let Some(i) = image.import_by_stub(a) {
            return Some(import_name(image, i));
        }
        image
            .symbols
            .at(a)
            .next()
            .map(|s| s.display_name().to_string())
    };
    // an address as `sym`, `sym+0x8` (the covering symbol), a string literal, or a section
    let place = |a: u64| -> String {
        if let Some((_, n)) = names.iter().find(|(x, _)| *x == a) {
            return n.to_string();
        }
        // a string literal's symbol (MSVC's `??_C@...`, demangled "`string'") says less
        // than its bytes
        let literal = |s: &gloss::Symbol| s.name.starts_with("??_C@") || s.name.starts_with(".L");
        if let Some(s) = image.symbols.at(a).find(|s| !literal(s)) {
            return s.display_name().to_string();
        }
        if let Some(s) = c_string(image, a) {
            return s;
        }
        if let Some(s) = image.symbols.containing(a) {
            let base = names
                .iter()
                .find(|(x, _)| *x == s.addr.0)
                .map_or(s.display_name(), |(_, n)| n);
            return format!("{base}+{:#x}", a - s.addr.0);
        }
        match image.section_at(a) {
            Some(s) => format!("{}+{:#x}", s.name, a - s.addr.0),
            None => format!("{a:#x}"),
        }
    };
    let callee = |c: &Call| -> String {
        if let Some(i) = c.import {
            return import_name(image, i);
        }
        c.target.and_then(name_at).unwrap_or_else(|| "?".into())
    };
    for (&f, e) in by_fn {
        let mut add = |idiom: &'static str, fact: String| {
            out.get_mut(idiom).unwrap().insert(fact);
        };
        for r in &e.refs {
            if !t.ref_functions.contains(&f) || image.import_by_slot(r.target).is_some() {
                continue;
            }
            let what = place(r.target);
            let fact = match r.access {
                Access::Address => format!("{f}: &{what}"),
                Access::Load => format!("{f}: load {what}"),
                Access::Store => format!("{f}: store {what}"),
            };
            add("refs", fact);
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for c in &e.calls {
            // Control Flow Guard's check call (ARM64) is the compiler's, not the source's
            if c.mech == [Mech::CfgCheck] && c.target.is_none() && c.kind == Kind::Indirect {
                continue;
            }
            let name = if c.kind == Kind::Virtual {
                "virtual".to_string()
            } else {
                callee(c)
            };
            if allowed_callee(&name) {
                continue;
            }
            if c.kind == Kind::Virtual {
                let this = match c.this {
                    None => "= ?".into(),
                    Some(r) if t.this_named => format!("= {}", r.name(image.arch, 64)),
                    Some(_) => "known".into(),
                };
                let slot = c.vtable_offset.unwrap_or(u64::MAX);
                add(
                    "virtual",
                    format!("{f}: virtual slot {} (+{slot:#x}) this {this}", slot / 8),
                );
            } else {
                let n = seen.entry(name.clone()).or_default();
                *n += 1;
                let nth = if *n > 1 {
                    format!(" #{n}")
                } else {
                    String::new()
                };
                add("callee", format!("{f} -> {name}{nth}"));
                if c.import.is_some() {
                    let how = if [Kind::ImportStub, Kind::Iat, Kind::Got].contains(&c.kind) {
                        "import".to_string()
                    } else {
                        format!("{:?}", c.kind)
                    };
                    add("import", format!("{f}: {name} via {how}"));
                }
            }
            for a in &c.args {
                if !t
                    .checked_args
                    .iter()
                    .any(|&(tf, tc, ti)| tf == f && tc == name && ti == a.index)
                {
                    continue;
                }
                let v = match a.value {
                    ArgValue::Const(k) if image.section_at(k).is_some() => format!("&{}", place(k)),
                    ArgValue::Const(k) => format!("{k}"),
                    ArgValue::Stack(_) | ArgValue::Frame(..) => "stack slot".into(),
                    ArgValue::Returned(at) => {
                        let by = e.calls.iter().find(|c| c.addr == at);
                        format!("result of {}", by.map_or("?".into(), callee))
                    }
                    other => format!("{other:?}"),
                };
                add("args", format!("{f}: {name} arg{} = {v}", a.index));
            }
        }
    }
    out
}

#[derive(Default, Clone, Copy)]
struct Count {
    expected: usize,
    reported: usize,
    right: usize,
}

/// `globals-x86_64-gcc-O0-nopie.elf` -> ("gcc", "O0", "x86-64"): the compiler (clang for
/// Windows and macOS as `clang-pe` and `clang-macho`), level (-O2 where the name has none), arch.
fn family(file: &str) -> (String, String, String) {
    let parts: Vec<&str> = file.split(['-', '.']).collect();
    let arch = if file.contains("x86_64") {
        "x86-64"
    } else {
        "AArch64"
    };
    let compiler = if file.ends_with(".macho") {
        "clang-macho"
    } else if file.contains("-msvc-clang") {
        "clang-pe"
    } else if file.contains("-mingw") {
        "mingw-gcc"
    } else if parts.contains(&"gcc") {
        "gcc"
    } else {
        "clang"
    };
    let level = ["O0", "O1", "O2", "O3", "Os"]
        .into_iter()
        .find(|o| parts.contains(o))
        .unwrap_or("O2");
    (compiler.into(), level.into(), arch.into())
}

fn known(file: &str, idiom: &str, kind: &str, fact: &str) -> bool {
    KNOWN_GAPS.iter().any(|&(p, i, k, f)| {
        (p == "*" || file.starts_with(p)) && i == idiom && k == kind && f == fact
    })
}

#[test]
fn refs_and_calls_recall_and_precision() {
    let files = fixtures();
    assert!(files.len() >= 30, "{files:?}");
    let mut table: BTreeMap<(String, String, String), (usize, [Count; 5])> = BTreeMap::new();
    let mut total = [Count::default(); 5];
    let mut failures = Vec::new();
    let mut used_gaps = BTreeSet::new();
    for f in &files {
        let path = format!("{}/{f}", dir());
        let image = gloss::open(std::path::Path::new(&path)).unwrap();
        let Some(t) = truth(f, &image) else {
            continue;
        };
        let (analysis, _) = gloss::analyze(&image);
        let explained = gloss::explain(&image, &analysis);
        let mut by_fn = BTreeMap::new();
        for &name in &t.functions {
            let a = lookup(&image, name).unwrap_or_else(|| panic!("{f}: no symbol {name}"));
            let Some(i) = analysis.functions.iter().position(|x| x.addr == a) else {
                failures.push(format!("{f}: {name} ({a:#x}) is no function"));
                continue;
            };
            by_fn.insert(name, &explained[i]);
        }
        let got = reported(&image, &t, &by_fn);
        let row = table.entry(family(f)).or_default();
        row.0 += 1;
        for (k, idiom) in IDIOMS.iter().enumerate() {
            let want = &t.expected[idiom];
            let have = &got[idiom];
            let c = Count {
                expected: want.len(),
                reported: have.len(),
                right: want.intersection(have).count(),
            };
            for (kind, facts) in [("missing", want - have), ("extra", have - want)] {
                for fact in facts {
                    let line = format!("{f}: {idiom}: {kind} {fact}");
                    if known(f, idiom, kind, &fact) {
                        println!("known gap: {line}");
                        used_gaps.insert((idiom.to_string(), kind, fact.clone()));
                    } else {
                        failures.push(line);
                    }
                }
            }
            for x in [&mut row.1[k], &mut total[k]] {
                x.expected += c.expected;
                x.reported += c.reported;
                x.right += c.right;
            }
        }
    }
    // the table (docs/ACCURACY.md): right/expected (recall) and precision per idiom
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * a as f64 / b as f64)
        }
    };
    let cell = |c: &Count| {
        if c.expected == 0 && c.reported == 0 {
            "-".to_string()
        } else {
            format!(
                "{}/{} {} / {}",
                c.right,
                c.expected,
                pct(c.right, c.expected),
                pct(c.right, c.reported)
            )
        }
    };
    println!(
        "| compiler | level | arch | binaries | {} |",
        IDIOMS.join(" | ")
    );
    println!("|---|---|---|---:|{}", "---|".repeat(IDIOMS.len()));
    for ((c, l, a), (n, counts)) in &table {
        let cells: Vec<String> = counts.iter().map(cell).collect();
        println!("| {c} | {l} | {a} | {n} | {} |", cells.join(" | "));
    }
    let n: usize = table.values().map(|r| r.0).sum();
    let cells: Vec<String> = total.iter().map(cell).collect();
    println!("| all | | | {n} | {} |", cells.join(" | "));
    for &(p, i, k, fact) in KNOWN_GAPS {
        if !used_gaps.contains(&(i.to_string(), k, fact.to_string())) {
            failures.push(format!("known gap no longer seen: {p} {i} {k} {fact}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
