//! What the hand-assembled tests share: bytes at a base address, analysed from the function
//! starts they state (as unwind entries would state them).
// each test binary uses its part
#![allow(dead_code)]
use gloss_analysis::discover::{Analysis, analyze};
use gloss_core::{Addr, Arch, FunctionHint, HintSource, Image};

/// Bytes from a hex string (as `llvm-objcopy -O binary | xxd -p` prints them).
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `bytes` loaded at `base` and analysed, with a function at each offset of `starts`.
pub fn analyze_at(bytes: Vec<u8>, arch: Arch, base: u64, starts: &[u64]) -> (Image, Analysis) {
    let image = gloss_load::load_raw(bytes, arch, base);
    let hints: Vec<FunctionHint> = starts
        .iter()
        .map(|&s| FunctionHint {
            addr: Addr(base + s),
            size: None,
            source: HintSource::EhFrame,
            fragment: false,
        })
        .collect();
    let a = analyze(&image, gloss_arch::disassembler(arch), &hints);
    (image, a)
}
