#![no_main]
//! X86_64 `decode` and `decode_text` (both syntaxes) at every offset: never a panic, and the
//! length contract holds.

use gloss_core::{Arch, InsnText, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let d = gloss_arch::disassembler(Arch::X86_64);
    let mut text = InsnText::default();
    // The first 8 bytes choose the address, so PC-relative arithmetic sees extreme values too.
    let (addr, code) = match data.split_first_chunk::<8>() {
        Some((a, rest)) => (u64::from_le_bytes(*a), rest),
        None => (0x1000, data),
    };
    for off in 0..code.len() {
        let rest = &code[off..];
        let at = addr.wrapping_add(off as u64);
        let insn = d.decode(rest, at);
        assert!(insn.len >= 1 && insn.len as usize <= rest.len());
        for syntax in [Syntax::Att, Syntax::Intel] {
            let t = d.decode_text(rest, at, syntax, &mut text);
            assert_eq!(t.len, insn.len);
        }
    }
});
