//! Function starts found in stripped real binaries, against truth that does not come from gloss:
//! Debian bookworm's `libc.so.6` (stripped: `.dynsym` and `.eh_frame` left, as users have it)
//! for amd64 and arm64, and the full `.symtab` of the matching `libc6-dbg` debug file, found by
//! the library's GNU build-id. Both are fetched by `scripts/fetch-real-binaries.sh` (which
//! `scripts/setup.sh` runs); without them the test says so and passes.
//!
//! The truth (docs/function-starts.md): the distinct addresses of `STT_FUNC` and
//! `STT_GNU_IFUNC` symbols, local and global, of any size, defined in executable sections other
//! than the PLT (`.plt`, `.plt.got`, `.plt.sec`), minus the addresses of gcc's `.cold`
//! fragments (parts of their parent function, not entries). The debug file is read here by a
//! small ELF reader of its own, never through gloss.
//!
//! Found: the addresses of the functions `gloss::analyze` reports outside the PLT (whose stubs
//! the truth leaves out too). Precision = |found ∩ truth| / |found|, recall = |found ∩ truth| /
//! |truth|. Measured twice per architecture: as shipped, and with the `.eh_frame` hints withheld
//! (what the other evidence finds alone). The misses and false positives are printed by kind;
//! `GLOSS_FUNCS_DUMP=DIR` writes every one of them to `DIR/{amd64,arm64}[-no-eh-frame].txt`.
use std::collections::BTreeMap;
mod libc_debug;

use libc_debug::{debug_file, real_binaries};
use std::path::Path;

/// Both figures must stay above this, per architecture (percent).
const TARGET: f64 = 99.5;

// ---------------------------------------------------------------------------------------------
// A minimal ELF64 little-endian reader: section headers, notes, .symtab.

struct Elf<'a> {
    b: &'a [u8],
    sections: Vec<Shdr>,
}

#[derive(Clone)]
struct Shdr {
    name: String,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

const SHT_SYMTAB: u32 = 2;
const SHT_NOTE: u32 = 7;
const SHF_EXECINSTR: u64 = 4;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;

struct Sym {
    name: String,
    value: u64,
    kind: u8,
    shndx: u16,
}

impl<'a> Elf<'a> {
    fn parse(b: &'a [u8]) -> Elf<'a> {
        assert!(
            b.starts_with(b"\x7fELF") && b[4] == 2 && b[5] == 1,
            "not ELF64 LE"
        );
        let shoff = u64_at(b, 0x28) as usize;
        let shentsize = u16_at(b, 0x3a) as usize;
        let shnum = u16_at(b, 0x3c) as usize;
        let shstrndx = u16_at(b, 0x3e) as usize;
        let raw: Vec<&[u8]> = (0..shnum)
            .map(|i| &b[shoff + i * shentsize..shoff + (i + 1) * shentsize])
            .collect();
        let strtab_off = u64_at(raw[shstrndx], 0x18) as usize;
        let sections = raw
            .iter()
            .map(|h| Shdr {
                name: cstr(b, strtab_off + u32_at(h, 0) as usize),
                kind: u32_at(h, 4),
                flags: u64_at(h, 8),
                addr: u64_at(h, 0x10),
                offset: u64_at(h, 0x18),
                size: u64_at(h, 0x20),
                link: u32_at(h, 0x28),
                entsize: u64_at(h, 0x38),
            })
            .collect();
        Elf { b, sections }
    }

    fn data(&self, s: &Shdr) -> &'a [u8] {
        &self.b[s.offset as usize..(s.offset + s.size) as usize]
    }

    /// The GNU build-id (NT_GNU_BUILD_ID note), in hex.
    fn build_id(&self) -> Option<String> {
        for s in self.sections.iter().filter(|s| s.kind == SHT_NOTE) {
            let d = self.data(s);
            let mut at = 0;
            while at + 12 <= d.len() {
                let (namesz, descsz, kind) = (
                    u32_at(d, at) as usize,
                    u32_at(d, at + 4) as usize,
                    u32_at(d, at + 8),
                );
                let name = at + 12;
                let desc = name + namesz.div_ceil(4) * 4;
                if kind == 3 && d.get(name..name + 4) == Some(b"GNU\0") {
                    let id = d.get(desc..desc + descsz)?;
                    return Some(id.iter().map(|x| format!("{x:02x}")).collect());
                }
                at = desc + descsz.div_ceil(4) * 4;
            }
        }
        None
    }

    fn symtab(&self) -> Vec<Sym> {
        let Some(st) = self.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
            return vec![];
        };
        let strtab = self.sections[st.link as usize].offset as usize;
        self.data(st)
            .chunks_exact(st.entsize as usize)
            .map(|e| Sym {
                name: cstr(self.b, strtab + u32_at(e, 0) as usize),
                kind: e[4] & 0xf,
                shndx: u16_at(e, 6),
                value: u64_at(e, 8),
            })
            .collect()
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn cstr(b: &[u8], o: usize) -> String {
    let end = b[o..].iter().position(|&c| c == 0).unwrap_or(0);
    String::from_utf8_lossy(&b[o..o + end]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Truth

struct Truth {
    /// Function entry -> its names (aliases share an address).
    starts: BTreeMap<u64, Vec<String>>,
    /// Addresses of `.cold` fragments (not in `starts`).
    cold: BTreeMap<u64, String>,
    /// PLT sections (start, end) of the debug file, which the stripped file shares.
    plt: Vec<(u64, u64)>,
}

fn truth(debug: &Elf) -> Truth {
    let mut t = Truth {
        starts: BTreeMap::new(),
        cold: BTreeMap::new(),
        plt: Vec::new(),
    };
    let plt = [".plt", ".plt.got", ".plt.sec"];
    for s in &debug.sections {
        if s.flags & SHF_EXECINSTR != 0 && plt.contains(&s.name.as_str()) {
            t.plt.push((s.addr, s.addr + s.size));
        }
    }
    for sym in debug.symtab() {
        if !matches!(sym.kind, STT_FUNC | STT_GNU_IFUNC) {
            continue;
        }
        let Some(sec) = debug.sections.get(sym.shndx as usize) else {
            continue; // SHN_ABS and other reserved indices
        };
        if sym.shndx == 0 || sec.flags & SHF_EXECINSTR == 0 || plt.contains(&sec.name.as_str()) {
            continue;
        }
        if is_cold(&sym.name) {
            t.cold.insert(sym.value, sym.name);
        } else {
            t.starts.entry(sym.value).or_default().push(sym.name);
        }
    }
    // an address that is both an entry and a fragment's start (never seen) counts as the entry
    t.cold.retain(|a, _| !t.starts.contains_key(a));
    t
}

/// gcc names the cold part of `foo` `foo.cold` (and `foo.cold.N` in older releases; clones
/// give `foo.constprop.0.cold`).
fn is_cold(name: &str) -> bool {
    name.ends_with(".cold")
        || name
            .rsplit_once(".cold.")
            .is_some_and(|(_, n)| n.parse::<u32>().is_ok())
}

// ---------------------------------------------------------------------------------------------

struct Score {
    arch: &'static str,
    mode: Mode,
    truth: usize,
    found: usize,
    hit: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        100.0 * self.hit as f64 / self.found.max(1) as f64
    }
    fn recall(&self) -> f64 {
        100.0 * self.hit as f64 / self.truth.max(1) as f64
    }
}

/// The truth function that covers `a` (the nearest start at or below it), for naming.
fn owner(t: &Truth, a: u64) -> String {
    let s = t.starts.range(..=a).next_back();
    let c = t.cold.range(..=a).next_back();
    match (s, c) {
        (Some((&sa, _)), Some((&ca, cn))) if ca > sa => format!("{cn}+{:#x}", a - ca),
        (Some((&sa, n)), _) => format!("{}+{:#x}", n[0], a - sa),
        (None, Some((&ca, cn))) => format!("{cn}+{:#x}", a - ca),
        (None, None) => "?".into(),
    }
}

/// Which evidence the analysis may use.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Everything the stripped file has: `.dynsym`, `.eh_frame` FDEs, the code, the data.
    AsShipped,
    /// The same without the `.eh_frame` hints: what calls, jumps, pointers, prologues and
    /// alignment find on their own (binaries built without unwind tables).
    NoUnwind,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::AsShipped => "as shipped",
            Mode::NoUnwind => "without .eh_frame",
        }
    }
}

fn measure(arch: &'static str, lib: &Path, mode: Mode) -> Option<Score> {
    let bytes = std::fs::read(lib).ok()?;
    let stripped = Elf::parse(&bytes);
    let id = stripped.build_id().expect("libc.so.6 has a build-id");
    let debug_bytes = debug_file("function_starts", arch, &id)?;
    let debug = Elf::parse(&debug_bytes);
    assert_eq!(debug.build_id().as_deref(), Some(id.as_str()));
    assert!(
        stripped.symtab().is_empty(),
        "{} is not stripped",
        lib.display()
    );
    let t = truth(&debug);

    let image = gloss::open(lib).unwrap();
    let analysis = match mode {
        Mode::AsShipped => gloss::analyze(&image).0,
        Mode::NoUnwind => {
            gloss::analysis::discover::analyze(&image, gloss::disassembler(image.arch), &[])
        }
    };
    // PLT stubs are outside the truth's domain, and so outside the comparison
    let in_plt = |a: u64| t.plt.iter().any(|&(s, e)| s <= a && a < e);
    let plt_stubs = analysis.functions.iter().filter(|f| in_plt(f.addr)).count();
    let found: BTreeMap<u64, &gloss::analysis::discover::Function> = analysis
        .functions
        .iter()
        .filter(|f| !in_plt(f.addr))
        .map(|f| (f.addr, f))
        .collect();

    let hit = found.keys().filter(|a| t.starts.contains_key(a)).count();
    let score = Score {
        arch,
        mode,
        truth: t.starts.len(),
        found: found.len(),
        hit,
    };

    // misses, by the kind of code around them
    let mut misses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (&a, names) in &t.starts {
        if found.contains_key(&a) {
            continue;
        }
        let inside = analysis
            .functions
            .iter()
            .find(|f| f.blocks.iter().any(|b| b.addr <= a && a < b.end()));
        let kind = match inside {
            Some(f) if f.blocks.iter().any(|b| b.addr == a) => {
                format!("a block of another function ({:#x})", f.addr)
            }
            Some(_) => "inside another function's block".to_string(),
            None => "in bytes no function covers".to_string(),
        };
        misses
            .entry(kind.split(" (").next().unwrap().to_string())
            .or_default()
            .push(format!("{a:#x} {} [{kind}]", names.join("=")));
    }
    // false positives, by evidence and by what the truth has there
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (&a, f) in &found {
        if t.starts.contains_key(&a) {
            continue;
        }
        let ev: Vec<&str> = f.evidence.iter().map(|e| e.name()).collect();
        let what = if t.cold.contains_key(&a) {
            "a .cold fragment"
        } else {
            "inside a function"
        };
        extra
            .entry(format!("{what}, evidence {}", ev.join("+")))
            .or_default()
            .push(format!("{a:#x} {} ({})", owner(&t, a), ev.join("+")));
    }

    println!(
        "function_starts {arch} {}: truth {} starts ({} .cold fragments apart), found {}, both {}: precision {:.3}%, recall {:.3}%",
        mode.name(),
        score.truth,
        t.cold.len(),
        score.found,
        score.hit,
        score.precision(),
        score.recall()
    );
    let cold_found = t.cold.keys().filter(|a| found.contains_key(a)).count();
    println!(
        "  .cold fragments reported as functions: {cold_found} of {}; PLT stubs listed (not compared): {plt_stubs}",
        t.cold.len()
    );
    let mut dump = String::new();
    for (title, groups) in [("misses", &misses), ("false positives", &extra)] {
        for (kind, list) in groups {
            println!("  {title}: {} {kind}", list.len());
            for l in list.iter().take(5) {
                println!("    {l}");
            }
            for l in list {
                dump.push_str(&format!("{title}\t{kind}\t{l}\n"));
            }
        }
    }
    if let Ok(dir) = std::env::var("GLOSS_FUNCS_DUMP") {
        let tag = if mode == Mode::AsShipped {
            ""
        } else {
            "-no-eh-frame"
        };
        std::fs::write(Path::new(&dir).join(format!("{arch}{tag}.txt")), dump).unwrap();
    }
    Some(score)
}

#[test]
fn function_starts_in_stripped_libc_match_the_debug_symbols() {
    let root = real_binaries();
    let mut scores = Vec::new();
    for (arch, triple) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let lib = root.join(format!("{arch}/lib/{triple}-linux-gnu/libc.so.6"));
        if !lib.exists() {
            eprintln!(
                "function_starts: {} is missing: {arch} skipped (run scripts/fetch-real-binaries.sh)",
                lib.display()
            );
            continue;
        }
        for mode in [Mode::AsShipped, Mode::NoUnwind] {
            scores.extend(measure(arch, &lib, mode));
        }
    }
    for s in &scores {
        assert!(
            s.precision() > TARGET && s.recall() > TARGET,
            "{} {}: precision {:.3}%, recall {:.3}%: below {TARGET}%",
            s.arch,
            s.mode.name(),
            s.precision(),
            s.recall()
        );
    }
}

/// PE images linked without a symbol table (as MSVC ships them) and without `.pdata`: every
/// function must be found from the entry, calls and the code's own shape: `main`, which
/// nothing reaches (its caller, the C runtime, is not linked), opens the section with `stp
/// x30, x19, [sp, #-0x10]!` on AArch64, which is neither padding nor the `stp x29, x30`
/// prologue. Truth: the function symbols of the same link with
/// its symbol table (`/debug:symtab`; the code bytes are identical), read by `object`, not gloss.
#[test]
fn stripped_pe_fixtures_find_every_function_the_symbolled_link_names() {
    use object::{Object, ObjectSection, ObjectSymbol, SectionKind};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bin");
    for stem in [
        "hello-x86_64-msvc-clang",
        "hello-aarch64-msvc-clang",
        "msvc_switch-x86_64",
    ] {
        let named = std::fs::read(dir.join(format!("{stem}.exe"))).unwrap();
        let named = object::File::parse(&*named).unwrap();
        let truth: std::collections::BTreeSet<u64> = named
            .symbols()
            // in the code section: the assembly fixture's labels carry no function type
            .filter(|s| {
                s.is_definition()
                    && s.section_index()
                        .and_then(|i| named.section_by_index(i).ok())
                        .is_some_and(|sec| sec.kind() == SectionKind::Text)
            })
            .map(|s| s.address())
            .collect();
        assert!(truth.len() >= 4, "{stem}: {} function symbols", truth.len());
        let stripped = dir.join(format!("{stem}-nosym.exe"));
        let bytes = std::fs::read(&stripped).unwrap();
        let unnamed = object::File::parse(&*bytes).unwrap();
        assert_eq!(
            unnamed.symbols().count(),
            0,
            "{stem}-nosym.exe has a symbol table"
        );
        let image = gloss::open(&stripped).unwrap();
        let found: std::collections::BTreeSet<u64> = gloss::analyze(&image)
            .0
            .functions
            .iter()
            .map(|f| f.addr)
            .collect();
        let missing: Vec<String> = truth
            .difference(&found)
            .map(|a| format!("{a:#x}"))
            .collect();
        let extra: Vec<String> = found
            .difference(&truth)
            .map(|a| format!("{a:#x}"))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{stem}-nosym.exe: missing {missing:?}, extra {extra:?}"
        );
    }
}
