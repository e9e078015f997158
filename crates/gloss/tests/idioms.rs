//! Addresses and call sites against the fixtures' sources. The truth is the C/C++ source and
//! each binary's own symbol and import tables, never gloss's output:
//! - globals.c: `make_widget` calls `CreateWidget(&c_info, 1, &widget)` (a stack slot), and,
//!   when CreateWidget is imported, `ResetDoodad(id)` with CreateWidget's result; `main` calls
//!   `aio_ctx_prepare(&the_ctx)`. No ref of `make_widget` may name `unrelated_global`, the
//!   symbol before `c_info` (the page an `adrp` points at).
//! - vcall.cpp: `call(Base *p)` is `p->method(42)`: vtable slot 1 (+0x8), `this` = the first
//!   argument register, 42 in the second; the `-cfg` builds check it with Control Flow Guard
//!   (ARM64: `__guard_check_icall_fptr` first; x64: through `__guard_dispatch_icall_fptr`),
//!   the `-retpoline` builds jump through the thunk of the register holding the target.
//! - vknown.cpp: the virtual calls of its CALLS table reach the methods it names; the vtable
//!   is known where the object is a global, or where the function stores the vptr itself.
//! - hello.c: `main` calls `puts("hello from gloss")` and `printf("argc=%d\n", argc)`, both
//!   imports.
use gloss::Image;
use gloss::analysis::idiom::call_site::{ArgValue, Call, Kind, Mech};
use gloss::analysis::idiom::{Explained, addr_mat::Access};

fn bin(name: &str) -> String {
    format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(bin(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix) && !n.ends_with(".o") && !n.ends_with(".obj"))
        .collect();
    v.sort();
    v
}

/// The image, and what the idioms say about the function named `name`.
fn explain(file: &str, name: &str) -> (Image, Explained) {
    try_explain(file, name).unwrap_or_else(|| panic!("{file}: no symbol {name}"))
}

/// As [`explain`]; `None` when the binary has no symbol `name` (no symbol table).
fn try_explain(file: &str, name: &str) -> Option<(Image, Explained)> {
    let image = gloss::open(std::path::Path::new(&bin(file))).unwrap();
    let (analysis, _) = gloss::analyze(&image);
    let addr = image
        .symbol_named(name)
        .or_else(|| image.symbol_named(&format!("_{name}")))?
        .addr
        .0;
    let i = analysis
        .functions
        .iter()
        .position(|f| f.addr == addr)
        .unwrap_or_else(|| panic!("{file}: {name} is no function"));
    let e = gloss::explain(&image, &analysis).swap_remove(i);
    Some((image, e))
}

fn sym(image: &Image, name: &str) -> u64 {
    image
        .symbol_named(name)
        .or_else(|| image.symbol_named(&format!("_{name}")))
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .addr
        .0
}

/// The name a call calls, from the binary's import table or symbol table.
fn callee(image: &Image, c: &Call) -> Option<String> {
    if let Some(i) = c.import {
        return Some(image.imports[i].name.trim_start_matches('_').to_string());
    }
    let t = c.target?;
    let s = image.symbols.at(t).next()?;
    Some(s.name.trim_start_matches('_').to_string())
}

fn find<'a>(image: &Image, e: &'a Explained, name: &str) -> Vec<&'a Call> {
    e.calls
        .iter()
        .filter(|c| callee(image, c).as_deref() == Some(name))
        .collect()
}

#[test]
fn create_widget_gets_c_info_1_and_a_stack_slot() {
    let files = fixtures("globals-");
    assert!(files.len() >= 10, "{files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let (image, e) = explain(f, "make_widget");
        let c_info = sym(&image, "c_info");
        let calls = find(&image, &e, "CreateWidget");
        let Some(c) = calls.first() else {
            failures.push(format!("{f}: no call of CreateWidget in {:?}", e.calls));
            continue;
        };
        let want_kind = if c.import.is_some() {
            [Kind::ImportStub, Kind::Iat, Kind::Got].contains(&c.kind)
        } else {
            c.kind == Kind::Direct
        };
        let args: Vec<ArgValue> = c.args.iter().map(|a| a.value).collect();
        let ok = want_kind
            && args.first() == Some(&ArgValue::Const(c_info))
            && args.get(1) == Some(&ArgValue::Const(1))
            && matches!(args.get(2), Some(ArgValue::Stack(_) | ArgValue::Frame(..)));
        if !ok {
            failures.push(format!(
                "{f}: CreateWidget call {:?} args {args:?}, want &c_info={c_info:#x}, 1, a stack slot",
                c.kind
            ));
        }
        // imported: ResetDoodad(id), id being what CreateWidget returned
        if c.import.is_some() {
            let r = find(&image, &e, "ResetDoodad");
            let got = r.first().and_then(|r| r.args.first()).map(|a| a.value);
            if got != Some(ArgValue::Returned(c.addr)) {
                failures.push(format!(
                    "{f}: ResetDoodad's argument {got:?}, want the result of {:#x}",
                    c.addr
                ));
            }
        }
        // the ref to c_info is c_info, never the symbol whose page the adrp names
        let ug = sym(&image, "unrelated_global");
        if !e
            .refs
            .iter()
            .any(|r| r.target == c_info && r.access == Access::Address)
            || e.refs.iter().any(|r| r.target == ug)
        {
            failures.push(format!("{f}: refs {:?} (c_info {c_info:#x})", e.refs));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn main_passes_the_ctx() {
    let mut failures = Vec::new();
    for f in fixtures("globals-") {
        let (image, e) = explain(&f, "main");
        let ctx = sym(&image, "the_ctx");
        let calls = find(&image, &e, "aio_ctx_prepare");
        let ok = !calls.is_empty()
            && calls
                .iter()
                .all(|c| c.args.first().map(|a| a.value) == Some(ArgValue::Const(ctx)));
        if !ok {
            failures.push(format!(
                "{f}: {calls:?}, want aio_ctx_prepare(&the_ctx = {ctx:#x})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn call_is_a_virtual_call_of_slot_1() {
    let files = fixtures("vcall-");
    assert!(files.len() >= 6, "{files:?}");
    let mut failures = Vec::new();
    for f in &files {
        let (image, e) = explain(f, "call");
        let first_arg = match (image.arch, image.format) {
            (gloss::Arch::Aarch64, _) => "x0",
            (gloss::Arch::X86_64, gloss::Format::Pe) => "rcx",
            (gloss::Arch::X86_64, _) => "rdi",
        };
        let v: Vec<&Call> = e.calls.iter().filter(|c| c.kind == Kind::Virtual).collect();
        let ok = v.len() == 1
            && v[0].vtable_offset == Some(8)
            && v[0].this.map(|r| r.name(image.arch, 64)) == Some(first_arg)
            && v[0].args.get(1).map(|a| a.value) == Some(ArgValue::Const(42));
        if !ok {
            failures.push(format!("{f}: {:?}", e.calls));
            continue;
        }
        // Control Flow Guard: ARM64 checks first, x64 dispatches
        if f.contains("-cfg") {
            let want = match image.arch {
                gloss::Arch::Aarch64 => Mech::CfgCheck,
                gloss::Arch::X86_64 => Mech::CfgDispatch,
            };
            if !v[0].mech.contains(&want) || v[0].check_mismatch {
                failures.push(format!("{f}: {:?}, want {want:?}", v[0]));
            }
        } else if f.contains("-retpoline") {
            // gcc -mindirect-branch=thunk, clang -mretpoline: through the register's thunk
            if v[0].mech != [Mech::Retpoline] {
                failures.push(format!("{f}: {:?}, want a retpoline", v[0]));
            }
        } else if !v[0].mech.is_empty() {
            failures.push(format!("{f}: unexpected {:?}", v[0].mech));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// vknown.cpp's CALLS table: function, the method its virtual call reaches (class, name),
/// and its slot.
const VKNOWN: [(&str, &str, &str, u64); 6] = [
    ("via_global", "Derived", "method", 1),
    ("inherited", "Derived", "first", 0),
    ("via_other", "Other", "last", 2),
    ("local_obj", "Derived", "method", 1),
    ("placement", "Other", "last", 2),
    ("unknown", "Other", "method", 1),
];

/// Where vknown.cpp's classes define their methods (the class a vtable slot's method comes
/// from): Derived overrides `method`, Other `first` and `last`.
fn definer(class: &str, method: &str) -> &'static str {
    match (class, method) {
        ("Derived", "method") => "Derived",
        ("Other", "first" | "last") => "Other",
        _ => "Base",
    }
}

/// A symbol's mangled name in the binary's ABI: Itanium (ELF) or MSVC (PE).
fn mangled(image: &Image, class: &str, member: &str) -> String {
    if image.format == gloss::Format::Pe {
        format!("?{member}@{class}@@UEAAHH@Z")
    } else {
        format!("_ZN{}{class}{}{member}Ei", class.len(), member.len())
    }
}

/// vknown.cpp: each virtual call whose vtable the code shows names the method of the source's
/// table, by the binary's own symbols (the method's, and the vtable's: the address point is
/// 16 bytes into `_ZTV<class>`, or MSVC's `??_7<class>@@6B@` itself). Known are the calls
/// through the globals (every build keeps them virtual), and local_obj's where the binary has
/// no `Derived` constructor (gcc -O0 stores the vptr in local_obj itself); placement's object
/// is `buf`, zero in the image, and unknown's comes from the caller: never named.
#[test]
fn known_vtables_name_the_method() {
    let files = fixtures("vknown-");
    assert!(files.len() >= 12, "{files:?}");
    let mut failures = Vec::new();
    let mut known_local = 0;
    for f in &files {
        let image = gloss::open(std::path::Path::new(&bin(f))).unwrap();
        let pe = image.format == gloss::Format::Pe;
        let ctor = if pe {
            vec!["??0Derived@@QEAA@XZ"]
        } else {
            vec!["_ZN7DerivedC1Ev", "_ZN7DerivedC2Ev"]
        };
        let inline_ctor = ctor.iter().all(|n| image.symbol_named(n).is_none());
        for (func, class, member, slot) in VKNOWN {
            let (_, e) = explain(f, func);
            let v: Vec<&Call> = e.calls.iter().filter(|c| c.kind == Kind::Virtual).collect();
            // -O2 folds local_obj's and placement's calls away (CALLS)
            let must_be_there = !matches!(func, "local_obj" | "placement") || f.contains("-O0");
            if v.len() != usize::from(must_be_there) {
                failures.push(format!("{f} {func}: virtual calls {v:?}"));
                continue;
            }
            let Some(c) = v.first() else { continue };
            let known = match func {
                "placement" | "unknown" => false,
                "local_obj" => inline_ctor,
                _ => true,
            };
            if c.vtable_offset != Some(8 * slot) {
                failures.push(format!("{f} {func}: {c:?}, want slot {slot}"));
            }
            if !known {
                if c.vtable.is_some() || c.target.is_some() {
                    failures.push(format!(
                        "{f} {func}: named {c:?}, but its vtable is not known"
                    ));
                }
                continue;
            }
            known_local += usize::from(func == "local_obj");
            let method = sym(&image, &mangled(&image, definer(class, member), member));
            let vtable = if pe {
                sym(&image, &format!("??_7{class}@@6B@"))
            } else {
                sym(&image, &format!("_ZTV{}{class}", class.len())) + 16
            };
            if c.target != Some(method) || c.vtable != Some(vtable) {
                failures.push(format!(
                    "{f} {func}: {c:?}, want {class}'s vtable {vtable:#x}, method {method:#x}"
                ));
            }
        }
    }
    // gcc -O0 on both architectures stores local_obj's vptr itself
    assert!(known_local >= 2, "{known_local} known local_obj calls");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// vcall.cpp's `call(Base *p)` gets its object from the caller: its vtable is not known, so
/// no method is named in any build.
#[test]
fn unknown_vtables_name_no_method() {
    for f in fixtures("vcall-") {
        let (_, e) = explain(&f, "call");
        for c in e.calls.iter().filter(|c| c.kind == Kind::Virtual) {
            assert!(c.vtable.is_none() && c.target.is_none(), "{f}: {c:?}");
        }
    }
}

/// The NUL-terminated bytes at `a`.
fn c_string(image: &Image, a: u64) -> Option<String> {
    let b = (1..=64).rev().find_map(|n| image.read_loaded(a, n))?;
    let n = b.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&b[..n]).into_owned())
}

#[test]
fn hello_calls_puts_and_printf_with_their_strings() {
    let files = fixtures("hello-");
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        // builds without a symbol table have no `main` to look up
        let Some((image, e)) = try_explain(f, "main") else {
            continue;
        };
        checked += 1;
        for (name, text) in [("puts", "hello from gloss"), ("printf", "argc=%d\n")] {
            let calls = find(&image, &e, name);
            let ok = calls.len() == 1
                && calls[0].import.is_some()
                && matches!(calls[0].args.first().map(|a| a.value),
                    Some(ArgValue::Const(a)) if c_string(&image, a).as_deref() == Some(text));
            if !ok {
                failures.push(format!("{f}: {name}: {calls:?}"));
            }
        }
    }
    assert!(checked >= 10, "{checked} of {files:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// globals.c's `aio_ctx_prepare` is `__atomic_fetch_or(&ctx->notify_me, 1, SEQ_CST)` on an
/// `unsigned int`: every build (LL/SC loop, LSE `ldsetal`, outline helper call, x86 `lock orl`,
/// and clang -O0's compare-exchange loops: `lock cmpxchg` on x86-64, an LL/SC compare-exchange
/// on AArch64, each retried by an outer loop that reloads the observed value from a stack
/// slot, with PE ARM64's trailing `dmb ish` after a spill reload) reads as the same operation.
#[test]
fn aio_ctx_prepare_is_a_32_bit_seq_cst_fetch_or() {
    let want = [("fetch_or", 32, "seq_cst")];
    let mut failures = Vec::new();
    let files = fixtures("globals-");
    assert!(files.len() >= 30, "{files:?}");
    for f in files {
        let (_, e) = explain(&f, "aio_ctx_prepare");
        let got: Vec<(&str, u8, &str)> = e
            .atomics
            .iter()
            .map(|a| (a.op.name(), a.width, a.order.name()))
            .collect();
        if got != want {
            failures.push(format!("{f}: {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// frames.c, built with -fstack-protector-strong: only `protected_fn` (a 64-byte char array)
/// has a stack protector: gcc's and clang's (`__stack_chk_fail`) in the ELF builds, MSVC's
/// cookie (`__security_cookie`, `__security_check_cookie`) in the PE `-gs` ones. The `-pac`
/// builds (-mbranch-protection=standard: pac-ret for functions that save the link register)
/// sign `protected_fn` and `main`, which call, and not the leaves `fill` and `leaf`; nothing
/// else is signed. At -O0 gcc gives every function a
/// frame pointer, except AArch64 leaves (its default `-momit-leaf-frame-pointer`).
#[test]
fn frames_have_their_stack_protector_and_pac() {
    let files = fixtures("frames-");
    assert!(files.len() >= 8, "{files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with("-gs.exe")).count(), 2);
    let mut failures = Vec::new();
    for f in &files {
        for name in ["protected_fn", "fill", "leaf", "main"] {
            let (_, e) = explain(f, name);
            let fr = &e.frame;
            let protector = name == "protected_fn";
            if fr.stack_protector.is_some() != protector {
                failures.push(format!(
                    "{f} {name}: stack protector {:?}",
                    fr.stack_protector
                ));
            }
            let signed = f.contains("-pac") && matches!(name, "protected_fn" | "main");
            match &fr.pac {
                Some(p) if signed && p.key == 'A' && !p.auth.is_empty() => {}
                None if !signed => {}
                p => failures.push(format!("{f} {name}: pac {p:?}, want signed = {signed}")),
            }
            let leaf = matches!(name, "fill" | "leaf");
            let framed = f.contains("-gcc-O0") && !(f.contains("aarch64") && leaf);
            if framed && fr.frame_pointer.is_none() {
                failures.push(format!("{f} {name}: no frame pointer at -O0"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Retpoline thunks in a stripped binary are known by their code: with every thunk symbol
/// dropped from the image (what `strip` leaves: the thunks are local symbols), `call`'s
/// virtual call (vcall.cpp: `p->method(42)`, slot 1) still reads as retpolined.
#[test]
fn retpoline_thunks_without_symbols_are_known_by_their_code() {
    for f in [
        "vcall-x86_64-gcc-O2-retpoline.elf",
        "vcall-x86_64-clang-O2-retpoline.elf",
    ] {
        let mut image = gloss::open(std::path::Path::new(&bin(f))).unwrap();
        let call = sym(&image, "call");
        let kept: Vec<gloss::Symbol> = image
            .symbols
            .iter()
            .filter(|s| !s.name.contains("indirect_thunk") && !s.name.contains("retpoline"))
            .cloned()
            .collect();
        assert!(
            kept.len() < image.symbols.iter().count(),
            "{f}: a thunk symbol to drop"
        );
        image.symbols = gloss::SymbolTable::new(kept);
        let (analysis, _) = gloss::analyze(&image);
        let i = analysis
            .functions
            .iter()
            .position(|x| x.addr == call)
            .unwrap();
        let e = gloss::explain(&image, &analysis).swap_remove(i);
        let v: Vec<&Call> = e.calls.iter().filter(|c| c.kind == Kind::Virtual).collect();
        assert_eq!(v.len(), 1, "{f}: {:?}", e.calls);
        assert_eq!(v[0].mech, vec![Mech::Retpoline], "{f}");
        assert_eq!(v[0].vtable_offset, Some(8), "{f}");
    }
}
