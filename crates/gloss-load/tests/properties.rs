//! The loader never panics and never hangs, whatever the bytes: arbitrary input, mutated and
//! truncated fixtures all give `Ok` or `Err`.

use gloss_core::Image;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// Generous: a load of a fixture-sized file takes microseconds; this only catches hangs and
/// quadratic blow-ups (and debug builds on a busy machine).
const LIMIT: Duration = Duration::from_secs(20);

fn fixtures() -> &'static [(String, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bin");
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        assert!(!v.is_empty(), "no fixtures in {}", dir.display());
        v
    })
}

/// Touches what the loader produced, so lazily wrong ranges show up too.
fn exercise(img: &Image) {
    let mut n = 0usize;
    for s in &img.sections {
        n = n.wrapping_add(img.section_bytes(s).len());
        let _ = img.read_at(s.addr.0, 16);
        let _ = img.read_u64(s.end().saturating_sub(8));
        let _ = s.contains(s.end());
    }
    // Not `img.code_bytes()`: gloss-core sums section sizes unchecked (overflows on crafted sizes;
    // reported separately), and this target is about the loader.
    for sym in img.symbols.iter().take(10_000) {
        let _ = img.symbols.containing(sym.addr.0);
        let _ = img.symbols.by_name(&sym.name);
        let _ = sym.display_name();
    }
    if let Some(e) = img.entry {
        let _ = img.symbols.function_containing(e.0);
        let _ = img.read_at(e.0, 4);
    }
    for (a, _) in img.mapping.iter().take(1000) {
        let _ = img.is_mapped_data(a.0);
        let _ = img.next_mapping_change(a.0);
    }
    std::hint::black_box(n);
}

/// Loads on a worker thread: a panic fails with the reproducer's description, a hang fails
/// after [`LIMIT`] rather than wedging the test run.
fn load_bounded(bytes: Vec<u8>, what: &str) {
    let len = bytes.len();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let r = gloss_load::load(bytes);
        if let Ok(img) = &r {
            exercise(img);
        }
        let _ = tx.send(r.is_ok());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(_) => {
            let _ = worker.join();
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let err = worker.join().err();
            let msg = err
                .as_ref()
                .and_then(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            panic!("gloss_load::load panicked on {what} ({len} bytes): {msg}");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("gloss_load::load took over {LIMIT:?} on {what} ({len} bytes)")
        }
    }
}

/// A byte-level edit of a fixture.
#[derive(Clone, Debug)]
enum Edit {
    /// Sets the byte at a position (a fraction of the file, or near the start for headers).
    Set { at: Pos, value: u8 },
    /// XORs one bit.
    Flip { at: Pos, bit: u8 },
    /// Overwrites 4 or 8 bytes with an extreme little-endian value (sizes, offsets, counts).
    Wide { at: Pos, value: u64, wide: bool },
}

#[derive(Clone, Copy, Debug)]
enum Pos {
    /// Within the first 1 KiB: file, program and section headers, load commands.
    Header(u16),
    /// Within the last 4 KiB: ELF section headers, symbol and string tables.
    Tail(u16),
    /// Anywhere, as a fraction of the length in 1/65536ths.
    Anywhere(u16),
}

impl Pos {
    fn index(self, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        Some(match self {
            Pos::Header(i) => i as usize % len.min(1024),
            Pos::Tail(i) => len - 1 - (i as usize % len.min(4096)),
            Pos::Anywhere(f) => (f as usize * len) >> 16,
        })
    }
}

fn pos() -> impl Strategy<Value = Pos> {
    prop_oneof![
        3 => (0u16..1024).prop_map(Pos::Header),
        2 => (0u16..4096).prop_map(Pos::Tail),
        1 => any::<u16>().prop_map(Pos::Anywhere),
    ]
}

fn extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x7f),
        Just(0x80),
        Just(0xff),
        Just(0xffff),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0xffff_ffff),
        Just(0x7fff_ffff_ffff_ffff),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        any::<u64>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (pos(), any::<u8>()).prop_map(|(at, value)| Edit::Set { at, value }),
        (pos(), 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (pos(), extreme(), any::<bool>()).prop_map(|(at, value, wide)| Edit::Wide {
            at,
            value,
            wide
        }),
    ]
}

fn apply(bytes: &mut [u8], e: &Edit) {
    let len = bytes.len();
    match *e {
        Edit::Set { at, value } => {
            if let Some(i) = at.index(len) {
                bytes[i] = value;
            }
        }
        Edit::Flip { at, bit } => {
            if let Some(i) = at.index(len) {
                bytes[i] ^= 1 << bit;
            }
        }
        Edit::Wide { at, value, wide } => {
            if let Some(i) = at.index(len) {
                let v = value.to_le_bytes();
                let n = if wide { 8 } else { 4 }.min(len - i);
                bytes[i..i + n].copy_from_slice(&v[..n]);
            }
        }
    }
}

/// Case count: `PROPTEST_CASES` when set (for long local runs), else the default given.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1024)))]

    #[test]
    fn load_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        load_bounded(bytes, "arbitrary bytes");
    }

    /// Arbitrary bytes behind a valid magic, so format parsers (not just the sniffing) run.
    #[test]
    fn load_never_panics_with_magic(
        magic in prop::sample::select(vec![
            &b"\x7fELF\x02\x01\x01\x00"[..],
            &b"MZ"[..],
            &b"\xcf\xfa\xed\xfe"[..],
            &b"\xca\xfe\xba\xbe"[..],
            &b"\xca\xfe\xba\xbf"[..],
        ]),
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&tail);
        load_bounded(bytes, "magic + arbitrary bytes");
    }

    #[test]
    fn load_never_panics_on_mutated_fixtures(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..16),
        truncate in proptest::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        let fx = fixtures();
        let (name, orig) = &fx[which.index(fx.len())];
        let mut bytes = orig.clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        if let Some(t) = truncate {
            bytes.truncate(t.index(bytes.len() + 1));
        }
        load_bounded(bytes, &format!("{name} with {edits:?}, truncate {truncate:?}"));
    }
}

/// Every fixture, truncated at a spread of lengths (all short prefixes, then every header
/// boundary-ish length, then fractions of the file).
#[test]
fn truncated_fixtures_never_panic() {
    for (name, bytes) in fixtures() {
        let len = bytes.len();
        let mut cuts: Vec<usize> = (0..=256.min(len)).collect();
        cuts.extend((256..len.min(4096)).step_by(8));
        cuts.extend((1..64).map(|k| len * k / 64));
        cuts.extend([len.saturating_sub(1), len]);
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            load_bounded(bytes[..cut].to_vec(), &format!("{name} truncated to {cut}"));
        }
    }
}

/// Every fixture loads as it is.
#[test]
fn fixtures_load() {
    for (name, bytes) in fixtures() {
        // COFF objects are rejected with a clear error; everything else must load.
        let r = gloss_load::load(bytes.clone());
        if !name.ends_with(".obj") {
            assert!(r.is_ok(), "{name}: {:?}", r.err());
        }
        if let Ok(img) = r {
            exercise(&img);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(4096)))]

    /// Symbol names come from the file: the demanglers see attacker-controlled strings.
    #[test]
    fn demangle_never_panics(
        prefix in prop::sample::select(vec!["", "_Z", "__Z", "_ZN", "_R", "__R", "?", "??", "??_C@_0", "?$"]),
        body in prop_oneof![
            "[ -~\\x01]{0,64}",
            // Mangling-shaped: identifiers, `@` terminators, `?$` escapes with any byte after.
            "([A-Za-z0-9_]{1,6}|@|\\?\\$[ -~\\x01]|\\?[0-9A-Z]|\\$[0-9A-Z]|[0-9]+[A-Za-z]{1,3}E?){0,24}",
        ],
    ) {
        let name = format!("{prefix}{body}");
        let _ = gloss_load::demangle(&name);
    }
}

/// Inputs that once panicked (found by the properties above and by `fuzz/`), kept as fixed cases.
#[test]
fn regressions() {
    let fx = |name: &str| {
        fixtures()
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("fixture {name}"))
            .1
            .clone()
    };
    let cases: Vec<(&str, Vec<Edit>)> = vec![
        // PE import slot / entry address: image base + RVA overflowed (pe.rs).
        (
            "hello-x86_64-msvc-clang.exe",
            vec![Edit::Wide {
                at: Pos::Anywhere(4301),
                value: u64::MAX,
                wide: true,
            }],
        ),
        // Relocation address: section address + offset overflowed (common.rs).
        (
            "globals-x86_64-gcc-O2.o",
            vec![
                Edit::Flip {
                    at: Pos::Tail(664),
                    bit: 0,
                },
                Edit::Wide {
                    at: Pos::Anywhere(44532),
                    value: i64::MAX as u64,
                    wide: true,
                },
            ],
        ),
        // A corrupted MSVC string-literal symbol reached msvc-demangler's `?$` escape decoding.
        (
            "hello-aarch64-msvc-clang.exe",
            vec![Edit::Set {
                at: Pos::Tail(293),
                value: 1,
            }],
        ),
    ];
    for (name, edits) in cases {
        let mut bytes = fx(name);
        for e in &edits {
            apply(&mut bytes, e);
        }
        load_bounded(bytes, &format!("{name} with {edits:?}"));
    }
    assert_eq!(gloss_load::demangle("??_C@_000?$0"), None);
}
