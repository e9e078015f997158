//! Analysis of arbitrary bytes never panics or runs away: every raw byte string, as x86-64 or
//! AArch64 code with function starts at several offsets, yields functions whose blocks start in
//! the code section (an instruction may run at most 15 bytes past its end); the idioms and the
//! audit (every mitigation required) run over them too, and each branch they report is in the
//! code with a verdict that matches what it misses.
use gloss_analysis::audit::{Mitigation, Verdict};
use gloss_analysis::discover::analyze;
use gloss_core::{Addr, Arch, FunctionHint, HintSource};
use proptest::prelude::*;

fn check(bytes: Vec<u8>, arch: Arch, starts: Vec<u16>) {
    let len = bytes.len() as u64;
    let base = 0x1000;
    let image = gloss_load::load_raw(bytes, arch, base);
    let hints: Vec<FunctionHint> = starts
        .into_iter()
        .map(|s| FunctionHint {
            addr: Addr(base + s as u64 % len.max(1)),
            size: None,
            source: HintSource::EhFrame,
            fragment: false,
        })
        .collect();
    let dis = gloss_arch::disassembler(arch);
    let a = analyze(&image, dis, &hints);
    for f in &a.functions {
        for b in &f.blocks {
            assert!(
                b.addr >= base && b.end() <= base + len + 15,
                "block {:#x} outside",
                b.addr
            );
        }
    }
    let explained = gloss_analysis::idiom::explain_all(&image, dis, &a);
    let audit = gloss_analysis::audit::audit(&image, dis, &a, &explained, &Mitigation::ALL);
    for b in &audit.branches {
        assert!(
            b.addr >= base && b.addr < base + len,
            "branch {:#x} outside",
            b.addr
        );
        assert_eq!(
            b.missing.is_empty(),
            b.verdict != Verdict::Unprotected,
            "{b:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn analysis_never_panics_x86_64(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                    starts in proptest::collection::vec(any::<u16>(), 0..6)) {
        check(bytes, Arch::X86_64, starts);
    }

    #[test]
    fn analysis_never_panics_aarch64(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                     starts in proptest::collection::vec(any::<u16>(), 0..6)) {
        check(bytes, Arch::Aarch64, starts);
    }
}
