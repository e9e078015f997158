//! Relocatable ELF objects as a linker would place them: a copy of the file with each
//! relocation's value written into its field, at gloss's section layout. The analysis reads this
//! copy (`Image::loaded_bytes`) so that `lea table(%rip)`, `adrp`+`add`, calls between the
//! object's own functions and the entries of jump tables mean what they will mean once linked;
//! the listing keeps the file's bytes, as objdump shows them.
//!
//! Only relocations whose value needs nothing but the symbol's address are applied (ELF
//! x86-64 psABI and AArch64 ELF ABI formulas `S + A` and `S + A - P`, with AArch64 page and
//! low-12-bit forms). GOT, TLS and PLT-through-GOT forms are left as the file has them: their
//! meaning depends on tables a linker builds.
use gloss_core::{Arch, Format, Image, Reloc};

/// The relocated file, or `None` when nothing was applied.
pub(crate) fn apply(image: &Image) -> Option<Vec<u8>> {
    let mut out = image.bytes().to_vec();
    let mut applied = 0usize;
    for r in &image.relocs {
        let Some(s) = r.target.or_else(|| coff_image_base(image, r)) else {
            continue;
        };
        let Some(off) = file_offset(image, r.at.0) else {
            continue;
        };
        let done = match image.format {
            Format::Elf => match (r.data_value(image.arch), image.arch) {
                (Some((v, size)), _) => put(&mut out, off, v, size as usize),
                (None, Arch::X86_64) => x86_64(&mut out, off, r, s.0),
                (None, Arch::Aarch64) => aarch64(
                    &mut out,
                    off,
                    r.r_type,
                    s.0.wrapping_add(r.addend as u64),
                    r.at.0,
                ),
            },
            Format::Pe => coff(&mut out, off, r, s.0, image.arch),
            _ => false,
        };
        applied += usize::from(done);
    }
    (applied > 0).then_some(out)
}

/// A COFF object's `__ImageBase` (the linker's symbol at the image base, which MSVC's
/// image-relative jump tables are read through): gloss's layout starts at 0, the base its
/// image-relative (ADDR32NB) fields are written against.
fn coff_image_base(image: &Image, r: &Reloc) -> Option<gloss_core::Addr> {
    (image.format == Format::Pe && r.symbol == "__ImageBase").then_some(gloss_core::Addr(0))
}

/// The file offset of a virtual address inside a section the file holds.
fn file_offset(image: &Image, addr: u64) -> Option<usize> {
    let s = image.section_at(addr)?;
    let r = s.file_range.as_ref()?;
    let off = r
        .start
        .checked_add(usize::try_from(addr - s.addr.0).ok()?)?;
    (off < r.end).then_some(off)
}

fn put(out: &mut [u8], off: usize, v: u64, size: usize) -> bool {
    match out.get_mut(off..off.saturating_add(size)) {
        Some(field) if field.len() == size => {
            field.copy_from_slice(&v.to_le_bytes()[..size]);
            true
        }
        _ => false,
    }
}

/// x86-64 instruction fields (data fields: `Reloc::data_value`); `s` is the symbol's address.
fn x86_64(out: &mut [u8], off: usize, r: &Reloc, s: u64) -> bool {
    let sa = s.wrapping_add(r.addend as u64);
    match r.r_type {
        4 => put(out, off, sa.wrapping_sub(r.at.0), 4), // R_X86_64_PLT32 to a symbol defined here
        _ => false,
    }
}

/// Rewrites the `bits`-wide field at bit `shift` of the instruction word at `off` with `v`.
fn patch(out: &mut [u8], off: usize, shift: u32, bits: u32, v: u64) -> bool {
    let Some(Ok(w)) = out.get(off..off.saturating_add(4)).map(<[u8; 4]>::try_from) else {
        return false;
    };
    let mask = ((1u64 << bits) - 1) as u32;
    let word = (u32::from_le_bytes(w) & !(mask << shift)) | (((v as u32) & mask) << shift);
    put(out, off, u64::from(word), 4)
}

/// ADR/ADRP immediate: low 2 bits at 29, high 19 bits at 5.
fn adr_imm(out: &mut [u8], off: usize, v: u64) -> bool {
    patch(out, off, 29, 2, v) && patch(out, off, 5, 19, v >> 2)
}

/// AArch64 instruction fields by ELF type (data fields: `Reloc::data_value`): `sa` is the
/// symbol's address plus the addend, `p` the field's address.
fn aarch64(out: &mut [u8], off: usize, r_type: u32, sa: u64, p: u64) -> bool {
    let page = |a: u64| a & !0xfff;
    let rel = sa.wrapping_sub(p);
    let lo12 = sa & 0xfff;
    match r_type {
        274 => adr_imm(out, off, rel), // R_AARCH64_ADR_PREL_LO21
        275 | 276 => adr_imm(out, off, page(sa).wrapping_sub(page(p)) >> 12), // ADR_PREL_PG_HI21(_NC)
        277 | 278 => patch(out, off, 10, 12, lo12), // ADD_ABS_LO12_NC, LDST8_ABS_LO12_NC
        284 => patch(out, off, 10, 12, lo12 >> 1),  // LDST16_ABS_LO12_NC
        285 => patch(out, off, 10, 12, lo12 >> 2),  // LDST32_ABS_LO12_NC
        286 => patch(out, off, 10, 12, lo12 >> 3),  // LDST64_ABS_LO12_NC
        299 => patch(out, off, 10, 12, lo12 >> 4),  // LDST128_ABS_LO12_NC
        279 => patch(out, off, 5, 14, rel >> 2),    // TSTBR14
        280 => patch(out, off, 5, 19, rel >> 2),    // CONDBR19
        282 | 283 => patch(out, off, 0, 26, rel >> 2), // JUMP26, CALL26
        _ => false,
    }
}

/// COFF (PE/COFF specification, "COFF Relocations (Object Only)"): the field itself holds the
/// addend (`object` adds -4..-9 for the REL32 family). Image-relative (ADDR32NB) fields are
/// written against gloss's layout base, 0 (`coff_image_base`); section forms are left alone.
/// ARM64 instruction fields reuse the ELF encodings: BRANCH26 is CALL26, PAGEBASE_REL21 is
/// ADR_PREL_PG_HI21, PAGEOFFSET_12A is ADD_ABS_LO12_NC; PAGEOFFSET_12L scales by the
/// load/store size in bits 30-31.
fn coff(out: &mut [u8], off: usize, r: &Reloc, s: u64, arch: Arch) -> bool {
    let field = |n: usize| -> Option<u64> {
        let b = out.get(off..off.checked_add(n)?)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    let sa = s.wrapping_add(r.addend as u64);
    match (arch, r.r_type) {
        (Arch::X86_64, 1) => field(8).is_some_and(|f| put(out, off, sa.wrapping_add(f), 8)), // ADDR64
        // ADDR32, and ADDR32NB (3): image-relative, the image base being 0
        (Arch::X86_64, 2 | 3) => field(4).is_some_and(|f| put(out, off, sa.wrapping_add(f), 4)),
        (Arch::X86_64, 4..=9) => field(4) // REL32, REL32_1..5: from the end of the field
            .is_some_and(|f| put(out, off, sa.wrapping_add(f).wrapping_sub(r.at.0), 4)),
        (Arch::Aarch64, 0xe) => field(8).is_some_and(|f| put(out, off, sa.wrapping_add(f), 8)), // ADDR64
        // ADDR32, and ADDR32NB (2) as on x64
        (Arch::Aarch64, 1 | 2) => field(4).is_some_and(|f| put(out, off, sa.wrapping_add(f), 4)),
        (Arch::Aarch64, 0x11) => field(4) // REL32
            .is_some_and(|f| put(out, off, sa.wrapping_add(f).wrapping_sub(r.at.0), 4)),
        (Arch::Aarch64, 3) => aarch64(out, off, 283, sa, r.at.0), // BRANCH26 = CALL26
        (Arch::Aarch64, 4) => aarch64(out, off, 275, sa, r.at.0), // PAGEBASE_REL21
        (Arch::Aarch64, 5) => aarch64(out, off, 274, sa, r.at.0), // REL21 = ADR_PREL_LO21
        (Arch::Aarch64, 6) => aarch64(out, off, 277, sa, r.at.0), // PAGEOFFSET_12A
        (Arch::Aarch64, 0xf) => aarch64(out, off, 280, sa, r.at.0), // BRANCH19 = CONDBR19
        (Arch::Aarch64, 0x10) => aarch64(out, off, 279, sa, r.at.0), // BRANCH14 = TSTBR14
        (Arch::Aarch64, 7) => {
            let Some(w) = field(4) else { return false };
            // loads and stores: size in bits 30-31; 128-bit SIMD (opc bit 23 with size 0)
            let shift = if w & 0x0480_0000 == 0x0480_0000 && w >> 30 == 0 { 4 } else { w >> 30 };
            patch(out, off, 10, 12, (sa & 0xfff) >> shift)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_core::Addr;

    fn reloc(r_type: u32, at: u64, target: u64, addend: i64) -> Reloc {
        Reloc {
            at: Addr(at),
            symbol: String::new(),
            addend,
            r_type,
            target: Some(Addr(target)),
        }
    }

    /// Field values against `llvm-mc-19 -triple=aarch64 -show-encoding`: `adrp x1, #0x12000`
    /// (0x12 pages on) is 0xd0000081, `add x1, x1, #0x345` is 0x910d1421, `bl #0x100` is
    /// 0x94000040, `ldr x0, [x0, #0x18]` is 0xf9400c00.
    #[test]
    fn aarch64_fields_match_the_assembler() {
        let cases = [
            (
                0x9000_0001u32,
                reloc(275, 0x400000, 0x412345, 0),
                0xd000_0081u32,
            ),
            (0x9100_0021, reloc(277, 0x400004, 0x412345, 0), 0x910d_1421),
            (0x9400_0000, reloc(283, 0x400008, 0x400108, 0), 0x9400_0040),
            (
                0xf940_0000,
                reloc(286, 0x40000c, 0x412000, 0x18),
                0xf940_0c00,
            ),
        ];
        for (before, r, after) in cases {
            let mut out = before.to_le_bytes().to_vec();
            assert!(aarch64(
                &mut out,
                0,
                r.r_type,
                r.target.unwrap().0.wrapping_add(r.addend as u64),
                r.at.0
            ));
            let got = u32::from_le_bytes(out[..4].try_into().unwrap());
            assert_eq!(got, after, "type {}", r.r_type);
        }
    }

    /// `call f` / `lea t(%rip)`: the field holds S + A - P with A = -4 (the field's end).
    #[test]
    fn x86_64_pc_relative_fields_are_target_minus_place() {
        let want = (0x2000 - 4 - 0x1003) as u64;
        assert_eq!(
            reloc(2, 0x1003, 0x2000, -4).data_value(Arch::X86_64),
            Some((want, 4))
        );
        let mut out = vec![0u8; 4];
        assert!(x86_64(&mut out, 0, &reloc(4, 0x1003, 0x2000, -4), 0x2000));
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().unwrap()) as u64,
            want
        );
    }
}
