//! Import stubs against truth that does not come from gloss: fixtures/truth/<binary>.imports,
//! written by fixtures/truth_imports.py from llvm-readelf-19 / llvm-readobj-19 (the slots),
//! llvm-objdump-19's decoding (which slot each stub jumps through, and the calls) and the
//! linkers' own maps or symbol tables (which PE code is an import thunk). For every fixture
//! with a truth file:
//! - slots: gloss's imports, as (name, slot, delay), are the truth's ELF `JUMP_SLOT` /
//!   `GLOB_DAT` or PE IAT slots; an ELF IRELATIVE slot and a Mach-O pointer are `NAME@got`;
//! - stubs: the stubs gloss finds (imports' `stub`, and ELF ifunc PLT entries) are the truth's,
//!   each import's `stub` is the stub that jumps through its slot, and each stub carries the
//!   name of docs/decisions/0005-import-stubs.md: ELF `puts@plt`, PE `CreateWidget`, Mach-O
//!   `_puts@stub`;
//! - calls: in the listing (`gloss show --all --no-analysis`), every direct call or jump to a
//!   stub reads `0x<stub> <name>`, e.g. `bl 0x140001068 <puts>` (or, where the file keeps the
//!   call's relocation, `--emit-relocs`, the relocation the listing shows instead names it:
//!   `call 0x1030    # reloc __cxa_finalize@GLIBC_2.2.5-0x4`);
//! - PE delay-load imports: the code their slot holds at first is `__imp_load_NAME`.
//!
//! Missing and extra items are printed per binary before the test fails.
use gloss::render::listing::{self, ListingOptions};
use gloss::{Format, Image, Selection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[derive(Default)]
struct Truth {
    /// slot -> (name, kind)
    slots: BTreeMap<u64, (String, String)>,
    /// (name, stub address, slot)
    stubs: Vec<(String, u64, u64)>,
    /// (call site, name, stub)
    calls: Vec<(u64, String, u64)>,
    /// name -> `__imp_load_` thunk address
    load_thunks: BTreeMap<String, u64>,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex address")
}

fn truth(path: &Path) -> Truth {
    let mut t = Truth::default();
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f[..] {
            ["slot", name, addr, kind] => {
                t.slots.insert(hex(addr), (name.into(), kind.into()));
            }
            ["stub", name, addr, slot] => t.stubs.push((name.into(), hex(addr), hex(slot))),
            ["call", site, name, stub] => t.calls.push((hex(site), name.into(), hex(stub))),
            ["load_thunk", name, addr] => {
                t.load_thunks.insert(name.into(), hex(addr));
            }
            _ => assert!(l.starts_with('#'), "{}: bad line {l:?}", path.display()),
        }
    }
    t
}

/// The name gloss gives the stub of import `name` (docs/decisions/0005-import-stubs.md).
fn stub_name(format: Format, name: &str) -> String {
    match format {
        Format::Elf => format!("{name}@plt"),
        Format::MachO => format!("{name}@stub"),
        _ => name.to_string(),
    }
}

/// The name gloss gives the slot of import `name`.
fn slot_name(format: Format, name: &str) -> String {
    match format {
        Format::Pe => format!("__imp_{name}"),
        _ => format!("{name}@got"),
    }
}

fn has_symbol(img: &Image, addr: u64, name: &str) -> bool {
    img.symbols.at(addr).any(|s| s.name == name)
}

/// Stubs gloss found: imports' `stub`, plus the synthetic `@plt` / `@stub` symbols (ELF ifunc
/// entries have no import).
fn gloss_stubs(img: &Image) -> BTreeSet<(String, u64)> {
    let mut out: BTreeSet<(String, u64)> = img
        .imports
        .iter()
        .filter_map(|i| i.stub.map(|s| (i.name.clone(), s.0)))
        .collect();
    let suffix = match img.format {
        Format::Elf => "@plt",
        Format::MachO => "@stub",
        _ => return out,
    };
    for s in img.symbols.iter() {
        if s.source == gloss::SymbolSource::Synthetic
            && let Some(n) = s.name.strip_suffix(suffix)
        {
            out.insert((n.to_string(), s.addr.0));
        }
    }
    out
}

fn listing_lines(img: &Image) -> BTreeMap<u64, String> {
    let regions = gloss::select(img, &Selection::All).unwrap();
    let mut buf = Vec::new();
    listing::write_text(
        &mut buf,
        img,
        gloss::disassembler(img.arch),
        &regions,
        ListingOptions::default(),
        None,
        None,
    )
    .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let t = l.trim_start();
        let end = t.find([' ', ':']).unwrap_or(0);
        if end > 0
            && t[..end].bytes().all(|b| b.is_ascii_hexdigit())
            && !t.ends_with(':')
            && let Ok(a) = u64::from_str_radix(&t[..end], 16)
        {
            out.insert(a, l.to_string());
        }
    }
    out
}

fn diff<T: Ord + Clone + std::fmt::Debug>(
    problems: &mut Vec<String>,
    what: &str,
    want: &BTreeSet<T>,
    have: &BTreeSet<T>,
) {
    let missing: Vec<_> = want.difference(have).collect();
    let extra: Vec<_> = have.difference(want).collect();
    if !missing.is_empty() {
        problems.push(format!("{what}: missing {missing:x?}"));
    }
    if !extra.is_empty() {
        problems.push(format!("{what}: extra {extra:x?}"));
    }
}

#[test]
fn import_stubs_match_the_linkers_and_tools_truth() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("truth"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "imports"))
        .collect();
    files.sort();
    assert!(files.len() > 50, "truth/*.imports: {} files", files.len());
    let (mut n_stubs, mut n_calls, mut n_slots, mut n_bins) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let bin = path.file_stem().unwrap().to_str().unwrap();
        let t = truth(path);
        let img = gloss::open(&fixtures().join("bin").join(bin)).unwrap();
        let fmt = img.format;
        let mut problems = Vec::new();
        n_bins += 1;

        // slots
        let import_kinds = ["jump_slot", "glob_dat", "iat", "delay_iat"];
        if fmt != Format::MachO {
            let want: BTreeSet<(String, u64, bool)> = t
                .slots
                .iter()
                .filter(|(_, (_, k))| import_kinds.contains(&k.as_str()))
                .map(|(&a, (n, k))| (n.clone(), a, k == "delay_iat"))
                .collect();
            let have: BTreeSet<(String, u64, bool)> = img
                .imports
                .iter()
                .filter_map(|i| i.slot.map(|s| (i.name.clone(), s.0, i.delay)))
                .collect();
            diff(&mut problems, "import slots", &want, &have);
        }
        for (&a, (n, _)) in &t.slots {
            n_slots += 1;
            let want = slot_name(fmt, n);
            if !has_symbol(&img, a, &want) {
                problems.push(format!("slot {a:#x}: no symbol {want}"));
            }
        }

        // stubs
        let want: BTreeSet<(String, u64)> =
            t.stubs.iter().map(|(n, a, _)| (n.clone(), *a)).collect();
        diff(&mut problems, "stubs", &want, &gloss_stubs(&img));
        for (name, addr, slot) in &t.stubs {
            n_stubs += 1;
            let want = stub_name(fmt, name);
            if !has_symbol(&img, *addr, &want) {
                problems.push(format!("stub {addr:#x}: no symbol {want}"));
            }
            let is_import = t
                .slots
                .get(slot)
                .is_some_and(|(_, k)| import_kinds.contains(&k.as_str()));
            let import = if fmt == Format::MachO {
                img.imports.iter().find(|i| &i.name == name)
            } else {
                img.imports
                    .iter()
                    .find(|i| i.slot.is_some_and(|s| s.0 == *slot))
            };
            if (is_import || fmt == Format::MachO)
                && import.and_then(|i| i.stub).map(|s| s.0) != Some(*addr)
            {
                problems.push(format!(
                    "import {name} (slot {slot:#x}): stub {:x?}, want {addr:#x}",
                    import.and_then(|i| i.stub)
                ));
            }
        }

        // delay-load thunks
        for (name, addr) in &t.load_thunks {
            let want = format!("__imp_load_{name}");
            if !has_symbol(&img, *addr, &want) {
                problems.push(format!("delay-load thunk {addr:#x}: no symbol {want}"));
            }
        }

        // calls, as the listing shows them
        if !t.calls.is_empty() {
            let lines = listing_lines(&img);
            for (site, name, stub) in &t.calls {
                n_calls += 1;
                let want = format!("{stub:#x} <{}>", stub_name(fmt, name));
                // a relocation the file keeps (`--emit-relocs`) is shown instead of the label
                let reloc = format!("{stub:#x}    # reloc {name}@");
                match lines.get(site) {
                    Some(l) if l.contains(&want) || l.contains(&reloc) => {}
                    Some(l) => {
                        problems.push(format!("call {site:#x}: `{}`, want `{want}`", l.trim()))
                    }
                    None => problems.push(format!("call {site:#x}: not in the listing")),
                }
            }
        }

        if !problems.is_empty() {
            failures.push(format!("{bin}:\n  {}", problems.join("\n  ")));
        }
    }
    eprintln!(
        "import stubs: {n_bins} binaries, {n_stubs} stubs, {n_slots} slots, {n_calls} calls checked"
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
