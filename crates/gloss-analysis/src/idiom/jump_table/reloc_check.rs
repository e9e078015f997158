//! The self-check relocations allow (relocatable objects, `--emit-relocs` links): each table
//! entry's relocation says what the linker writes there; through the recovered anchor and scale
//! that value must lead to the target recovered from the bytes. A wrong entry size, count,
//! anchor or scale shows up as a disagreement.
use super::{Anchor, Switch};
use crate::dataflow::expr::{mask, sext};
use gloss_core::{Format, Image};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelocCheck {
    /// Entries that carry a relocation gloss can evaluate.
    pub agreed: usize,
    /// Entries the relocations contradict: (index, recovered target, target the relocation
    /// leads to, `None` when the entry has no usable relocation of the entry's size).
    pub disagreements: Vec<(usize, u64, Option<u64>)>,
}

/// Checks a switch's table against the relocations on it; `None` when no relocation lies in
/// the table (linked binaries without `--emit-relocs`, AArch64 tables the assembler resolved),
/// the table is the second level of a two-level switch, or the file is not ELF (COFF tables
/// are image-relative: their value needs the final image base).
pub fn check(image: &Image, sw: &Switch) -> Option<RelocCheck> {
    if sw.index_table.is_some() || sw.entry_size == 0 || image.format != Format::Elf {
        return None;
    }
    let size = u64::from(sw.entry_size);
    let end = sw
        .table_addr
        .saturating_add(size.saturating_mul(sw.entries.len() as u64));
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
    for (i, &recovered) in sw.entries.iter().enumerate() {
        let at = sw.table_addr + i as u64 * size;
        let k = relocs.partition_point(|r| r.at.0 < at);
        let value = relocs
            .get(k)
            .filter(|r| r.at.0 == at)
            .and_then(|r| r.data_value(image.arch))
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
