//! DWARF line tables (`source_lines`) against the fixtures built with `-g` (fixtures/README.md).
//! Expected lines come from the fixture sources: a function's entry address must be attributed
//! to a line of that function's own text in fixtures/src/globals.c.
use gloss_core::{Error, Image, SourceLines};
use gloss_load::{load, load_raw, source_lines};

fn root() -> String {
    format!("{}/../../fixtures", env!("CARGO_MANIFEST_DIR"))
}

fn bytes(name: &str) -> Vec<u8> {
    let p = format!("{}/bin/{name}", root());
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn lines_of(name: &str) -> (Image, SourceLines) {
    let img = load(bytes(name)).expect("load");
    let lines = source_lines(&img)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .unwrap_or_else(|| panic!("{name}: no line tables"));
    (img, lines)
}

/// The 1-based line range of a C function's definition: from the line holding `sig` to the
/// first `}` in column 0 after it (the same line for one-line functions).
fn function_extent(src: &str, sig: &str) -> (u32, u32) {
    let lines: Vec<&str> = src.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains(sig) && !l.trim_end().ends_with(';'))
        .unwrap_or_else(|| panic!("`{sig}` not in source"));
    let last = if lines[first].trim_end().ends_with('}') {
        first
    } else {
        (first..lines.len())
            .find(|&i| lines[i].starts_with('}'))
            .expect("end of function")
    };
    (first as u32 + 1, last as u32 + 1)
}

const FUNCTIONS: [(&str, &str); 6] = [
    ("CreateWidget", "int CreateWidget("),
    ("make_widget", "int make_widget(void)"),
    ("case_3", "int case_3(int x)"),
    ("dispatch", "int dispatch(int op, int arg)"),
    ("aio_ctx_prepare", "int aio_ctx_prepare("),
    ("main", "int main(int argc, char **argv)"),
];

fn check_function_entries(name: &str) {
    let src = std::fs::read_to_string(format!("{}/src/globals.c", root())).unwrap();
    let (img, lines) = lines_of(name);
    for (func, sig) in FUNCTIONS {
        let sym = img.symbols.by_name(func).expect(func);
        let loc = lines
            .at(sym.addr.0)
            .unwrap_or_else(|| panic!("{name}: no line for {func} at {}", sym.addr));
        assert_eq!(loc.file.path(), "./src/globals.c", "{name} {func}");
        let (lo, hi) = function_extent(&src, sig);
        assert!(
            (lo..=hi).contains(&loc.line),
            "{name}: {func} entry at line {}, outside its definition {lo}..={hi}",
            loc.line
        );
        // The last byte of the function is still the function's (a sequence covers it).
        let last = lines.at(sym.addr.0 + sym.size - 1).expect("last byte");
        assert!((lo..=hi).contains(&last.line), "{name}: {func} end");
    }
}

#[test]
fn gcc_dwarf5_pie_and_aarch64_attribute_each_function_to_its_own_lines() {
    check_function_entries("globals-x86_64-gcc-O2-pie.elf");
    check_function_entries("globals-aarch64-gcc-O2.elf");
}

#[test]
fn relocatable_object_line_rows_follow_the_sections_gloss_laid_out() {
    // -ffunction-sections: every function in its own .text.* section, each placed by gloss at
    // its own address; the debug relocations must land on those addresses.
    check_function_entries("globals-aarch64-gcc-O2-g.o");
    let img = load(bytes("globals-aarch64-gcc-O2-g.o")).unwrap();
    assert!(img.synthetic_layout);
    let a = img.symbols.by_name("case_3").unwrap().addr;
    let b = img.symbols.by_name("case_4").unwrap().addr;
    assert_ne!(a, b);
}

#[test]
fn dwarf4_with_compressed_debug_info() {
    // clang -gdwarf-4 -gz=zlib: .debug_info and .debug_abbrev are SHF_COMPRESSED.
    let name = "hello-x86_64-clang-O2-dwarf4-gz.elf";
    let src = std::fs::read_to_string(format!("{}/src/hello.c", root())).unwrap();
    let (img, lines) = lines_of(name);
    assert!(
        img.sections
            .iter()
            .any(|s| s.name == ".debug_info" && img.section_bytes(s).starts_with(&[1, 0, 0, 0])),
        "fixture should have a zlib SHF_COMPRESSED .debug_info (Elf64_Chdr ch_type 1)"
    );
    let main = img.symbols.by_name("main").unwrap();
    let loc = lines.at(main.addr.0).expect("line for main");
    assert_eq!(loc.file.path(), "./src/hello.c");
    let (lo, hi) = function_extent(&src, "int main(int argc, char **argv)");
    assert!((lo..=hi).contains(&loc.line), "main at {}", loc.line);
}

#[test]
fn no_debug_info_is_none() {
    for name in [
        "globals-x86_64-gcc-O2-nopie.elf",
        "globals-x86_64-gcc-O2.o",
        "globals-x86_64-mingw.exe",
        "globals-arm64.macho",
        "globals-x86_64.macho",
    ] {
        let img = load(bytes(name)).unwrap();
        assert!(
            source_lines(&img).unwrap().is_none(),
            "{name} has no .debug_line"
        );
    }
    let raw = load_raw(vec![0x90], gloss_core::Arch::X86_64, 0);
    assert!(source_lines(&raw).unwrap().is_none());
}

fn section_range(data: &[u8], name: &str) -> std::ops::Range<usize> {
    let img = load(data.to_vec()).unwrap();
    img.sections
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.file_range.clone())
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn malformed_line_table_is_an_error_naming_the_section() {
    let mut data = bytes("globals-x86_64-gcc-O2-pie.elf");
    let r = section_range(&data, ".debug_line");
    // unit_length (4 bytes), then the version: 99 is no DWARF version.
    data[r.start + 4..r.start + 6].copy_from_slice(&99u16.to_le_bytes());
    let img = load(data).unwrap();
    let e = source_lines(&img).expect_err("version 99");
    let msg = e.to_string();
    assert!(matches!(e, Error::Malformed { .. }), "{msg}");
    assert!(msg.contains(".debug_line program at 0x0"), "{msg}");
}

#[test]
fn corrupt_debug_sections_never_panic() {
    // Every byte of the line program header and of the unit header, set to 0xff or 0x00 in turn.
    let base = bytes("globals-aarch64-gcc-O2.elf");
    for section in [".debug_line", ".debug_info", ".debug_abbrev"] {
        let r = section_range(&base, section);
        for i in r.start..(r.start + 0x60).min(r.end) {
            for v in [0x00, 0xff] {
                let mut data = base.clone();
                data[i] = v;
                let img = load(data).unwrap();
                let _ = source_lines(&img); // Ok or Err, never a panic
            }
        }
    }
}

#[test]
fn unsupported_debug_relocation_is_said_plainly() {
    // Turn the first .rela.debug_line entry (R_AARCH64_ABS64 for DW_LNE_set_address, or an
    // ABS32 section offset) into R_AARCH64_PREL32 (261), which debug sections never use.
    let mut data = bytes("globals-aarch64-gcc-O2-g.o");
    let r = section_range(&data, ".rela.debug_line");
    let info = r.start + 8; // Elf64_Rela: r_offset, r_info (sym << 32 | type), r_addend
    data[info..info + 4].copy_from_slice(&261u32.to_le_bytes());
    let img = load(data).unwrap();
    let e = source_lines(&img).expect_err("PREL32 in .debug_line");
    let msg = e.to_string();
    assert!(matches!(e, Error::Unsupported(_)), "{msg}");
    assert!(
        msg.contains(".debug_line") && msg.contains("relocation"),
        "{msg}"
    );
}
