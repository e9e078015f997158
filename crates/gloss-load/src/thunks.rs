//! PE import thunks, found by their exact bytes (the loader does not decode; objdump/BFD find
//! ELF PLT entries the same way), and named after the import whose IAT slot they jump through.
//!
//! What the linkers emit (docs/decisions/0005-import-stubs.md):
//! - x64, lld-link, MSVC link and GNU ld (MinGW): `ff 25 disp32` = `jmp *disp(%rip)`, the
//!   slot at the end of the instruction + disp32. lld-link pads each to 16 bytes with `cc`;
//!   GNU ld's import-library thunk is `ff 25 disp32 90 90` (8 bytes). Compilers write a tail
//!   call through an IAT slot as `48 ff 25` (REX.W, for the unwinder); that is code inside a
//!   function, not a thunk, and the byte before `ff 25` rules it out.
//! - ARM64, lld-link and MSVC link: `adrp x16, page; ldr x16, [x16, #off]; br x16`, the slot at
//!   page + off (x17 accepted as well).
//! - Delay-load imports (lld-link, MSVC link): the thunk above reads the delay IAT slot, which
//!   initially holds `__imp_load_X`: x64 `lea __imp_X(%rip), %rax; jmp __tailMerge_<dll>`
//!   (`48 8d 05 disp32 e9 rel32`), ARM64 `adrp x17, page; add x17, x17, #off; b
//!   __tailMerge_<dll>`. Both are named too, and the `__tailMerge_<dll>` helper they jump to.
//!
//! The same bytes can sit inside a function (a tail call that a compiler wrote exactly like a
//! thunk), so a match is a thunk only where code can begin: at the section start, at a symbol,
//! right after another thunk, or after padding or a jump that does not fall through (x64: a
//! `cc` or `90` byte, or a `00` ending a multi-byte NOP when the thunk is 8-aligned; ARM64:
//! `ret`, `br`, `b`, `nop`, `udf`, `brk`), and never inside a function that `.pdata` describes.
//! Fixtures: hello-*-msvc-clang*.exe (called thunks, with and without symbols, delay-load),
//! globals-*-msvc-clang.exe (thunks nothing calls), *-mingw.exe (GNU ld thunks);
//! crates/gloss/tests/import_stubs.rs checks them against the linkers' own maps.
use crate::elf::adrp_page;
use gloss_core::{Arch, Image, Import, SectionKind};
use std::collections::HashMap;

/// A thunk found in the code: where it starts, its length, and the import it jumps to.
pub(crate) struct Thunk {
    pub addr: u64,
    pub size: u64,
    pub import: usize,
}

/// Every import thunk in the executable sections of a PE image.
/// `starts`: addresses where the file's symbols say code begins; `functions`: `.pdata` ranges.
pub(crate) fn find(
    img: &Image,
    imports: &[Import],
    starts: &[u64],
    functions: &[(u64, u64)],
) -> Vec<Thunk> {
    let by_slot: HashMap<u64, usize> = imports
        .iter()
        .enumerate()
        .filter_map(|(i, imp)| imp.slot.map(|s| (s.0, i)))
        .collect();
    let inside_function = |a: u64| {
        let i = functions.partition_point(|&(s, _)| s <= a);
        i > 0 && a < functions[i - 1].1
    };
    let is_start = |a: u64| starts.binary_search(&a).is_ok();
    let mut out = Vec::new();
    for s in img.sections.iter().filter(|s| s.kind == SectionKind::Code) {
        let bytes = img.section_bytes(s);
        let base = s.addr.0;
        match img.arch {
            Arch::X86_64 => {
                let mut last_end = usize::MAX;
                for i in 0..bytes.len().saturating_sub(5) {
                    if bytes[i] != 0xff || bytes[i + 1] != 0x25 {
                        continue;
                    }
                    let at = base.wrapping_add(i as u64);
                    let disp = i32::from_le_bytes([
                        bytes[i + 2],
                        bytes[i + 3],
                        bytes[i + 4],
                        bytes[i + 5],
                    ]);
                    let slot = at.wrapping_add(6).wrapping_add(disp as i64 as u64);
                    let Some(&import) = by_slot.get(&slot) else {
                        continue;
                    };
                    let begins = i == 0
                        || i == last_end
                        || is_start(at)
                        || matches!(bytes[i - 1], 0xcc | 0x90)
                        || (bytes[i - 1] == 0 && at % 8 == 0);
                    if begins && !inside_function(at) {
                        out.push(Thunk {
                            addr: at,
                            size: 6,
                            import,
                        });
                        last_end = i + 6;
                    }
                }
            }
            Arch::Aarch64 => {
                let word = |o: usize| {
                    bytes
                        .get(o..o + 4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                };
                let mut last_end = usize::MAX;
                let mut o = 0;
                while let (Some(w0), Some(w1), Some(w2)) = (word(o), word(o + 4), word(o + 8)) {
                    let at = base.wrapping_add(o as u64);
                    if let Some((slot, _)) = a64_thunk(w0, w1, w2, at)
                        && let Some(&import) = by_slot.get(&slot)
                        && (o == 0
                            || o == last_end
                            || is_start(at)
                            || word(o - 4).is_some_and(a64_no_fall_through))
                        && !inside_function(at)
                    {
                        out.push(Thunk {
                            addr: at,
                            size: 12,
                            import,
                        });
                        last_end = o + 12;
                        o += 12;
                        continue;
                    }
                    o += 4;
                }
            }
        }
    }
    out
}

/// `adrp xR, page; ldr xR, [xR, #off]; br xR` with R = 16 or 17: `(page + off, R)`.
fn a64_thunk(w0: u32, w1: u32, w2: u32, pc: u64) -> Option<(u64, u32)> {
    let r = w0 & 0x1f;
    if r != 16 && r != 17 {
        return None;
    }
    let page = adrp_page(w0, pc)?;
    let (n, off) = crate::elf::ldr_x_uimm(w1)?;
    (n == r && w1 & 0x1f == r && w2 == 0xd61f_0000 | (r << 5))
        .then_some((page.wrapping_add(off), r))
}

/// Whether the AArch64 instruction `w` never falls through to the next word (or is padding):
/// `ret`/`retaa`/`retab`, `br`, `b`, `nop`, `udf`, `brk`.
fn a64_no_fall_through(w: u32) -> bool {
    w == 0xd65f_03c0
        || w == 0xd65f_0bff
        || w == 0xd65f_0fff
        || w & 0xffff_fc1f == 0xd61f_0000
        || w & 0xfc00_0000 == 0x1400_0000
        || w == 0xd503_201f
        || w & 0xffff_0000 == 0
        || w & 0xffe0_001f == 0xd420_0000
}

/// A delay-load import's `__imp_load_X` thunk at `at` (what its IAT slot holds before the first
/// call), checked to load the address of `slot`: `(size, the __tailMerge_<dll> it jumps to)`.
pub(crate) fn delay_load_thunk(img: &Image, at: u64, slot: u64) -> Option<(u64, u64)> {
    let b = img.read_at(at, 12)?;
    let le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    match img.arch {
        Arch::X86_64 => {
            // lea disp32(%rip), %rax; jmp rel32
            if b[0..3] != [0x48, 0x8d, 0x05] || b[7] != 0xe9 {
                return None;
            }
            let lea = at.wrapping_add(7).wrapping_add(le(3) as i32 as i64 as u64);
            let jmp = i32::from_le_bytes([b[8], b[9], b[10], b[11]]) as i64;
            (lea == slot).then(|| (12, at.wrapping_add(12).wrapping_add(jmp as u64)))
        }
        Arch::Aarch64 => {
            // adrp x17, page; add x17, x17, #off; b tail
            let (w0, w1, w2) = (le(0), le(4), le(8));
            if w0 & 0x1f != 17 || w1 & 0xffc0_03ff != 0x9100_0231 || w2 & 0xfc00_0000 != 0x1400_0000
            {
                return None;
            }
            let page = adrp_page(w0, at)?;
            let off = ((w1 >> 10) & 0xfff) as u64;
            let imm26 = ((w2 & 0x03ff_ffff) as i64) << 38 >> 36; // sign-extend 26 bits, * 4
            (page.wrapping_add(off) == slot)
                .then(|| (12, at.wrapping_add(8).wrapping_add(imm26 as u64)))
        }
    }
}

/// `__tailMerge_<dll>`: the DLL name lower-cased with `.` as `_`, as lld-link and MSVC name it.
pub(crate) fn tail_merge_name(dll: &str) -> String {
    format!("__tailMerge_{}", dll.to_ascii_lowercase().replace('.', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm64_thunk_words() {
        // globals-aarch64-msvc-clang.exe 0x1400012f4: adrp x16, 0x140002000; ldr x16,
        // [x16, #0x68]; br x16 (llvm-objdump-19)
        assert_eq!(
            a64_thunk(0xb000_0010, 0xf940_3610, 0xd61f_0200, 0x1_4000_12f4),
            Some((0x1_4000_2068, 16))
        );
        // a different register in the br
        assert_eq!(
            a64_thunk(0xb000_0010, 0xf940_3610, 0xd61f_0220, 0x1_4000_12f4),
            None
        );
        // x8: a compiler's call through the IAT, not a thunk
        assert_eq!(
            a64_thunk(0xb000_0008, 0xf940_3508, 0xd61f_0100, 0x1_4000_12f4),
            None
        );
        assert!(a64_no_fall_through(0xd65f_03c0)); // ret
        assert!(a64_no_fall_through(0xd61f_0200)); // br x16
        assert!(!a64_no_fall_through(0xa8c1_7bfd)); // ldp x29, x30, [sp], #0x10
    }

    #[test]
    fn tail_merge_names() {
        assert_eq!(tail_merge_name("MSVCRT.dll"), "__tailMerge_msvcrt_dll");
    }
}
