//! Relocatable objects as the analysis reads them: relocations applied at gloss's layout. The
//! truth is the object's own symbol table and the C source (fixtures/src/globals.c:
//! `make_widget` passes `&c_info`): the instruction the relocation patches must, decoded from
//! the loaded bytes, denote the address the symbol table gives `c_info`. ELF and COFF, x86-64
//! and AArch64.
use gloss::{Arch, Image};

fn open(name: &str) -> Image {
    let p = format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"));
    gloss::open(std::path::Path::new(&p)).unwrap()
}

/// What a patched instruction says about its symbol.
#[derive(Debug, PartialEq)]
enum Denotes {
    /// A PC-relative address: `lea c_info(%rip)`, or the page of an `adrp`.
    Address(u64),
    /// The low 12 bits of an AArch64 `add`/`ldr` immediate.
    Low12(u64),
}

/// Instructions of `make_widget` whose relocation names `c_info`, decoded from the loaded
/// bytes.
fn c_info_refs(image: &Image) -> Vec<(u64, Denotes)> {
    let dis = gloss::disassembler(image.arch);
    let f = image.symbol_named("make_widget").expect("make_widget");
    let mut out = Vec::new();
    let mut a = f.addr.0;
    while a < f.addr.0 + f.size {
        let bytes = image
            .read_loaded(a, 16)
            .or_else(|| image.read_loaded(a, 4))
            .unwrap();
        let insn = dis.decode(bytes, a);
        let named = image
            .relocs
            .iter()
            .any(|r| r.at.0 >= a && r.at.0 < insn.end() && r.symbol.ends_with("c_info"));
        if named {
            let word = u32::from_le_bytes(bytes[..4].try_into().unwrap());
            let denotes = match (image.arch, insn.pc_ref) {
                (_, Some(r)) => Denotes::Address(r),
                (Arch::Aarch64, None) => Denotes::Low12(u64::from((word >> 10) & 0xfff)),
                (Arch::X86_64, None) => panic!("{a:#x}: no RIP-relative operand"),
            };
            out.push((a, denotes));
        }
        a = insn.end();
    }
    out
}

#[test]
fn relocated_operands_denote_the_symbol() {
    for name in [
        "globals-x86_64-gcc-O2.o",
        "globals-aarch64-gcc-O2.o",
        "globals-x86_64-msvc-clang.obj",
        "globals-aarch64-msvc-clang.obj",
    ] {
        let image = open(name);
        assert!(image.synthetic_layout, "{name}");
        let c_info = image.symbol_named("c_info").expect("c_info").addr.0;
        let refs = c_info_refs(&image);
        assert!(!refs.is_empty(), "{name}: no relocation names c_info");
        for (at, denotes) in refs {
            let want = match (image.arch, &denotes) {
                (Arch::Aarch64, Denotes::Address(_)) => Denotes::Address(c_info & !0xfff),
                (Arch::Aarch64, Denotes::Low12(_)) => Denotes::Low12(c_info & 0xfff),
                _ => Denotes::Address(c_info),
            };
            assert_eq!(denotes, want, "{name}: {at:#x}, c_info is {c_info:#x}");
        }
    }
}

#[test]
fn coff_objects_load_with_symbols_and_relocations() {
    for (name, arch) in [
        ("globals-x86_64-msvc-clang.obj", Arch::X86_64),
        ("globals-aarch64-msvc-clang.obj", Arch::Aarch64),
    ] {
        let image = open(name);
        assert_eq!(image.arch, arch);
        // globals.c defines these functions; make_widget imports CreateWidget (dllimport)
        for f in ["make_widget", "dispatch", "case_0"] {
            assert!(image.symbol_named(f).is_some(), "{name}: {f}");
        }
        assert!(
            image
                .relocs
                .iter()
                .any(|r| r.symbol == "__imp_CreateWidget"),
            "{name}: the import call's relocation"
        );
    }
}
