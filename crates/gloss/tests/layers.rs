//! The layering rule of ARCHITECTURE.md: each crate depends only on lower layers, and only the
//! named crates name the decoder and file-format dependencies.
use std::collections::BTreeMap;

fn deps(krate: &str) -> Vec<String> {
    let path = format!("{}/../{krate}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l == "[dependencies]";
            continue;
        }
        if in_deps
            && let Some((name, _)) = l.split_once(['=', '.'])
            && !name.trim().is_empty()
        {
            out.push(name.trim().to_string());
        }
    }
    out
}

#[test]
fn crates_depend_only_on_lower_layers() {
    let layer: BTreeMap<&str, u8> = [
        ("gloss-core", 0),
        ("gloss-load", 1),
        ("gloss-arch", 1),
        ("gloss-analysis", 2),
        ("gloss-render", 3),
        ("gloss", 4),
        ("gloss-cli", 5),
    ]
    .into();
    for (krate, &l) in &layer {
        for d in deps(krate) {
            if let Some(&dl) = layer.get(d.as_str()) {
                assert!(dl < l, "{krate} (layer {l}) depends on {d} (layer {dl})");
            }
        }
    }
}

#[test]
fn only_adapters_name_decoders_and_formats() {
    let owners = [
        ("object", "gloss-load"),
        ("gimli", "gloss-load"),
        ("addr2line", "gloss-load"),
        ("iced-x86", "gloss-arch"),
        ("bad64", "gloss-arch"),
    ];
    for krate in [
        "gloss-core",
        "gloss-load",
        "gloss-arch",
        "gloss-analysis",
        "gloss-render",
        "gloss",
        "gloss-cli",
    ] {
        for d in deps(krate) {
            for (dep, owner) in owners {
                assert!(
                    d != dep || krate == owner,
                    "{krate} depends on {dep}; only {owner} may"
                );
            }
        }
    }
}
