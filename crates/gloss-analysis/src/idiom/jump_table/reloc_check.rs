//! The self-check relocations allow (relocatable objects, ELF or COFF, and `--emit-relocs`
//! links): each table entry's relocation says what the linker writes there; through the
//! recovered anchor and scale that value must lead to the target recovered from the bytes. A wrong entry size, count,
//! anchor or scale shows up as a disagreement.
use super::{Anchor, Switch};
use crate::dataflow::expr::{mask, sext};
use gloss_core::{Arch, Format, Image};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelocCheck {
    /// Entries that carry a relocation gloss can evaluate.
    pub agreed: usize,
    /// Entries the relocations contradict: (index, recovered target, target the relocation
    /// leads to, `None` when the entry has no usable relocation of the entry's size).
    pub disagreements: Vec<(usize, u64, Option<u64>)>,
}

/// Checks a switch's table against the relocations on it; `None` when no relocation lies in
/// the table (linked binaries without `--emit-relocs`, AArch64 tables the assembler resolved)
/// or the file is neither ELF nor a COFF object. A two-level switch's target table is checked
/// slot by slot, each slot against the target of an index its byte table sends there.
pub fn check(image: &Image, sw: &Switch) -> Option<RelocCheck> {
    let coff_object = image.format == Format::Pe && image.synthetic_layout;
    if sw.entry_size == 0 || !(image.format == Format::Elf || coff_object) {
        return None;
    }
    let size = u64::from(sw.entry_size);
    let slots = sw.slot_targets(image);
    let end = sw
        .table_addr
        .saturating_add(size.saturating_mul(sw.table_entries as u64));
    let relocs = &image.relocs;
    let first = relocs.partition_point(|r| r.at.0 < sw.table_addr);
    if relocs.get(first).is_none_or(|r| r.at.0 >= end) {
        return None;
    }
    let base = match sw.anchor {
        Anchor::None => 0,
        Anchor::Table(a) | Anchor::ImageBase(a) | Anchor::Code(a) => a,
    };
    let bits = sw.entry_size * 8;
    let mut out = RelocCheck {
        agreed: 0,
        disagreements: Vec::new(),
    };
    for (i, recovered) in slots {
        let at = sw.table_addr + i as u64 * size;
        let k = relocs.partition_point(|r| r.at.0 < at);
        let value = relocs
            .get(k)
            .filter(|r| r.at.0 == at)
            .and_then(|r| field_value(image, r))
            .filter(|&(_, n)| n == sw.entry_size)
            .map(|(v, _)| {
                if sw.signed {
                    sext(v, bits)
                } else {
                    v & mask(bits)
                }
            });
        let by_reloc = value.map(|v| base.wrapping_add(v << sw.scale));
        if by_reloc == Some(recovered) {
            out.agreed += 1;
        } else {
            out.disagreements.push((i, recovered, by_reloc));
        }
    }
    Some(out)
}

/// What a linker writes into a data field for `r`, and the field's size in bytes: for ELF by
/// the ABIs' formulas ([`gloss_core::Reloc::data_value`]); in a COFF object the field holds
/// the addend (PE/COFF "COFF Relocations"), and image-relative (ADDR32NB) values are against
/// gloss's layout base, 0.
fn field_value(image: &Image, r: &gloss_core::Reloc) -> Option<(u64, u8)> {
    if image.format == Format::Elf {
        return r.data_value(image.arch);
    }
    // (size, PC-relative): the REL32 family counts from the field's end, which `object`'s
    // addend (-4..-9) already includes
    let (size, relative): (u8, bool) = match (image.arch, r.r_type) {
        (Arch::X86_64, 1) | (Arch::Aarch64, 0xe) => (8, false), // ADDR64
        (Arch::X86_64, 2 | 3) | (Arch::Aarch64, 1 | 2) => (4, false), // ADDR32, ADDR32NB
        (Arch::X86_64, 4..=9) | (Arch::Aarch64, 0x11) => (4, true), // REL32 (clang's tables)
        _ => return None,
    };
    let field = image.read_at(r.at.0, usize::from(size))?;
    let field = field.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b));
    let value = r
        .target?
        .0
        .wrapping_add(r.addend as u64)
        .wrapping_add(field);
    let value = if relative {
        value.wrapping_sub(r.at.0)
    } else {
        value
    };
    Some((value, size))
}
