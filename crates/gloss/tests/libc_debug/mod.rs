//! The real binaries scripts/fetch-real-binaries.sh fetches, and libc6-dbg's debug files
//! for them: the truth of the tests that measure gloss on Debian's libc.
use std::path::{Path, PathBuf};

pub fn real_binaries() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/real-binaries")
}

/// The bytes of the debug file for the `arch` library whose GNU build-id is `id` (hex), by
/// its `.build-id` path; `None`, with a note naming `test`, where it was not fetched.
pub fn debug_file(test: &str, arch: &str, id: &str) -> Option<Vec<u8>> {
    let path = real_binaries().join(format!(
        "dbg/{arch}/usr/lib/debug/.build-id/{}/{}.debug",
        &id[..2],
        &id[2..]
    ));
    let bytes = std::fs::read(&path);
    if bytes.is_err() {
        eprintln!(
            "{test}: {} is missing: {arch} skipped (run scripts/fetch-real-binaries.sh)",
            path.display()
        );
    }
    bytes.ok()
}
