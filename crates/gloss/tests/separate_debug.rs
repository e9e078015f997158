//! Stripped real libraries with their DWARF in a separate file: Debian bookworm's `libc.so.6`
//! (amd64, arm64) and `libc6-dbg`'s `/usr/lib/debug/.build-id/NN/REST.debug`, fetched by
//! `scripts/fetch-real-binaries.sh` (without them the test says so and passes). With that tree
//! as a debug directory, `gloss::line_tables` finds the file by the library's build-id, and
//! the first instruction of `abort` and of `malloc` lies in the glibc source files that define
//! them (`stdlib/abort.c`, `malloc/malloc.c`).
use std::path::{Path, PathBuf};

fn real_binaries() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/real-binaries")
}

#[test]
fn libc_lines_come_from_the_dbg_package() {
    for (arch, triple) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let lib = real_binaries().join(format!("{arch}/lib/{triple}-linux-gnu/libc.so.6"));
        let dirs = [real_binaries().join(format!("dbg/{arch}/usr/lib/debug"))];
        if !lib.exists() || !dirs[0].exists() {
            eprintln!("separate_debug: {arch} libc or libc6-dbg missing: skipped");
            continue;
        }
        let image = gloss::open(&lib).unwrap();
        let (lines, from) = gloss::line_tables(&image, &lib, &dirs)
            .unwrap()
            .unwrap_or_else(|| panic!("{arch}: no line tables found"));
        let from = from.expect("from the separate file: libc.so.6 has no DWARF of its own");
        assert!(from.starts_with(&dirs[0]), "{}", from.display());
        for (func, file) in [("abort", "stdlib/abort.c"), ("malloc", "malloc/malloc.c")] {
            let addr = gloss::name_addr(&image, func).unwrap();
            let at = lines
                .at(addr)
                .unwrap_or_else(|| panic!("{arch} {func}: no line"));
            let path = lines.files()[at.file_index as usize].path();
            assert!(path.ends_with(file), "{arch} {func}: {path}");
        }
    }
}
