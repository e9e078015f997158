//! `gloss::open` maps large files and reads small ones (docs/decisions/0006-mmap.md): both ways
//! must give the image that loading the file's bytes gives.

use gloss::analysis::regions::Region;
use gloss::render::listing::{self, ListingOptions};
use gloss::{Selection, Syntax};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The whole listing, with the analysis's notes: everything the image holds shows in it.
fn listing(mut image: gloss::Image) -> String {
    let mut regions: Vec<Region> = gloss::select(&image, &Selection::All).expect("regions");
    let (notes, _) = gloss::annotations(&mut image, &mut regions, true, false, None);
    let opts = ListingOptions {
        syntax: Syntax::Att,
        show_bytes: true,
    };
    let mut out = Vec::new();
    let dis = gloss::disassembler(image.arch);
    listing::write_text(&mut out, &image, dis, &regions, opts, None, Some(&notes))
        .expect("listing");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn mapped_and_read_files_load_alike() {
    let dir = std::env::temp_dir().join(format!("gloss-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in [
        "switches-x86_64-gcc-O1-pie.elf",
        "switches-aarch64-clang-O1.elf",
    ] {
        let bytes = fixture(name);
        let want = listing(gloss::load(bytes.clone()).expect("load"));
        assert!(
            want.contains("switch"),
            "{name}: the listing shows its switches"
        );
        // as it is (read), and padded past the size from which files are mapped (trailing
        // bytes no header points at change nothing)
        let small = dir.join(name);
        std::fs::write(&small, &bytes).expect("write");
        let mut padded = bytes.clone();
        padded.resize(gloss::MAP_FROM as usize + 4096, 0);
        let large = dir.join(format!("{name}.padded"));
        std::fs::write(&large, &padded).expect("write");
        for path in [&small, &large] {
            let got = listing(gloss::open(path).expect("open"));
            assert!(
                got == want,
                "{}: listing differs from load()",
                path.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_names_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("gloss-open-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // a large file of zeros is mapped, then refused as no known format
    let zeros = dir.join("zeros");
    std::fs::write(&zeros, vec![0u8; gloss::MAP_FROM as usize]).expect("write");
    assert!(gloss::open(&zeros).is_err());
    assert!(gloss::open(&dir.join("missing")).is_err());
    assert!(gloss::open(&dir).is_err(), "a directory is not a binary");
    let _ = std::fs::remove_dir_all(&dir);
}
