//! A call of a C library, C++ runtime or Windows API import shows as many arguments as the
//! function's declaration has (as many as the ABI passes in registers), whatever else the
//! caller's block happened to set: `abort` takes none even when rdi was just loaded, `memcpy`
//! three even when rcx holds something.
//!
//! Truth, written here by hand from the specifications, not from gloss's tables: the C
//! standard (C17 7.14, 7.21, 7.22, 7.24), glibc's `__libc_start_main` (csu/libc-start.c), the
//! Itanium C++ ABI's `__cxa_finalize`, and Microsoft's documentation of the Windows functions.
use gloss::{Arch, Format};

/// (name, parameters, variadic)
const DECLARED: &[(&str, usize, bool)] = &[
    ("puts", 1, false),
    ("printf", 1, true),
    ("fprintf", 2, true),
    ("vfprintf", 3, false),
    ("fwrite", 4, false),
    ("strlen", 1, false),
    ("strncmp", 3, false),
    ("memcpy", 3, false),
    ("malloc", 1, false),
    ("calloc", 2, false),
    ("free", 1, false),
    ("exit", 1, false),
    ("abort", 0, false),
    ("signal", 2, false),
    ("__libc_start_main", 7, false),
    ("__cxa_finalize", 1, false),
    ("__stack_chk_fail", 0, false),
    ("EnterCriticalSection", 1, false),
    ("LeaveCriticalSection", 1, false),
    ("GetLastError", 0, false),
    ("VirtualProtect", 4, false),
];

/// Integer argument registers: System V x86-64 6, Windows x64 4, AAPCS64 8.
fn registers(format: Format, arch: Arch) -> usize {
    match (format, arch) {
        (Format::Pe, Arch::X86_64) => 4,
        (_, Arch::X86_64) => 6,
        (_, Arch::Aarch64) => 8,
    }
}

#[test]
fn import_calls_take_their_declared_arguments() {
    let dir = format!("{}/../../fixtures/bin", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        // relocatable objects have no import table
        let Ok(image) = gloss::open(&path) else {
            continue;
        };
        let (analysis, _) = gloss::analyze(&image);
        let explained = gloss::explain(&image, &analysis);
        let regs = registers(image.format, image.arch);
        for call in explained.iter().flat_map(|e| &e.calls) {
            let Some(i) = call.import else { continue };
            let name = image.imports[i].name.as_str();
            let name = match image.format {
                Format::MachO => name.strip_prefix('_').unwrap_or(name),
                _ => name,
            };
            let Some(&(_, n, variadic)) = DECLARED.iter().find(|d| d.0 == name) else {
                continue;
            };
            if call.tail {
                // a tail call leaves out what it passes on unchanged (a PLT entry's jump)
                continue;
            }
            checked += 1;
            let want = n.min(regs);
            let got = call.args.len();
            if got != want && !(variadic && got >= want) {
                wrong.push(format!(
                    "{} {:#x}: {name} with {got} arguments, declared {n}{}",
                    path.display(),
                    call.addr,
                    if variadic { ", ..." } else { "" }
                ));
            }
        }
    }
    println!("{checked} import calls checked");
    assert!(checked >= 300, "only {checked} import calls seen");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
