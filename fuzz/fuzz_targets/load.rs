#![no_main]
//! `gloss_load::load` on arbitrary bytes: Ok or Err, never a panic; then touch what it produced.

use libfuzzer_sys::fuzz_target;

fn exercise(img: &gloss_core::Image) {
    let mut n = 0usize;
    for s in &img.sections {
        n = n.wrapping_add(img.section_bytes(s).len());
        let _ = img.read_at(s.addr.0, 16);
        let _ = img.read_u64(s.end().saturating_sub(8));
    }
    // Not `img.code_bytes()`: gloss-core sums section sizes unchecked (overflows on crafted
    // sizes; reported separately), and this target is about the loader.
    for sym in img.symbols.iter().take(1000) {
        let _ = img.symbols.containing(sym.addr.0);
        let _ = img.symbols.by_name(&sym.name);
    }
    if let Some(e) = img.entry {
        let _ = img.symbols.function_containing(e.0);
    }
    std::hint::black_box(n);
}

fuzz_target!(
    init: {
        // msvc-demangler 0.11 overflows u8 arithmetic on malformed `?$` escapes (e.g.
        // `??_C@_000?$0`) when overflow checks are on, as in fuzz builds. gloss-load catches
        // panics from that demangler (demangle.rs), so let those unwind instead of aborting;
        // any other panic still aborts through libfuzzer-sys's hook.
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| l.file().contains("msvc-demangler")) {
                return;
            }
            abort_hook(info);
        }));
    },
    |data: &[u8]| {
        if let Ok(img) = gloss_load::load(data.to_vec()) {
            exercise(&img);
        }
    }
);
