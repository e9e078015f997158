//! Which bytes of the code sections are decoded as instructions, and under which heading.
//!
//! Disassembly starts at symbols, not at a blind sweep: each function symbol opens a region that
//! runs to its stated size (or to the next symbol), bytes that no symbol covers form their own
//! regions, and AArch64 `$d` mapping-symbol runs and object symbols are data, shown as `.word`,
//! never decoded.
//! (Code-flow discovery of stripped binaries and data islands found by the CFG come with the
//! function discovery work; until then unnamed bytes are decoded linearly and said to be so.)
use gloss_core::{Addr, Image, SectionKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Instructions of a symbol-named function (or stub).
    Function,
    /// Bytes in a code section that no symbol covers: padding or unnamed code.
    Unnamed,
    /// Data inside a code section (AArch64 `$d` runs, object symbols).
    Data,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: Addr,
    pub end: Addr,
    pub kind: RegionKind,
    /// The heading: the symbol's display name, or the section name for unnamed bytes.
    pub name: String,
    pub section: String,
}

/// All regions of all code sections, in address order.
pub fn plan(image: &Image) -> Vec<Region> {
    let mut out = Vec::new();
    for sec in image
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::Code && s.file_range.is_some())
    {
        let sec_end = sec.addr.0 + image.section_bytes(sec).len() as u64;
        // Function-like symbols that start inside this section, one per address; data symbols
        // (tables the assembler typed STT_OBJECT) are data regions.
        let mut starts: Vec<(u64, u64, String, RegionKind)> = image
            .symbols
            .iter()
            .filter(|s| s.addr.0 >= sec.addr.0 && s.addr.0 < sec_end)
            .map(|s| {
                let kind = if image.is_data_symbol(s) {
                    RegionKind::Data
                } else {
                    RegionKind::Function
                };
                (s.addr.0, s.size, s.display_name().to_string(), kind)
            })
            .collect();
        starts.dedup_by_key(|s| s.0);
        let mut pos = sec.addr.0;
        for (i, (addr, size, name, kind)) in starts.iter().enumerate() {
            if *addr < pos {
                continue; // nested or overlapping symbol: already covered
            }
            if *addr > pos {
                push_split(
                    image,
                    &mut out,
                    pos,
                    *addr,
                    RegionKind::Unnamed,
                    &sec.name,
                    &sec.name,
                );
            }
            let next = starts.get(i + 1).map(|s| s.0).unwrap_or(sec_end);
            let end = if *size > 0 {
                (addr + size).min(sec_end)
            } else {
                next.min(sec_end)
            };
            let end = end.max(*addr + 1).min(sec_end);
            push_split(image, &mut out, *addr, end, kind.clone(), name, &sec.name);
            pos = end;
        }
        if pos < sec_end {
            push_split(
                image,
                &mut out,
                pos,
                sec_end,
                RegionKind::Unnamed,
                &sec.name,
                &sec.name,
            );
        }
    }
    out
}

/// Pushes `[start, end)`, cut at mapping-symbol changes so `$d` runs become data regions.
fn push_split(
    image: &Image,
    out: &mut Vec<Region>,
    start: u64,
    end: u64,
    kind: RegionKind,
    name: &str,
    section: &str,
) {
    let mut a = start;
    while a < end {
        let b = image
            .next_mapping_change(a)
            .filter(|&b| b < end)
            .unwrap_or(end);
        let k = if image.is_mapped_data(a) {
            RegionKind::Data
        } else {
            kind.clone()
        };
        out.push(Region {
            start: Addr(a),
            end: Addr(b),
            kind: k,
            name: name.to_string(),
            section: section.to_string(),
        });
        a = b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_core::{Arch, SymbolKind, SymbolSource, SymbolTable};

    fn sym(name: &str, addr: u64, size: u64) -> gloss_core::Symbol {
        gloss_core::Symbol {
            addr: Addr(addr),
            size,
            name: name.into(),
            demangled: None,
            kind: SymbolKind::Function,
            source: SymbolSource::Symtab,
            global: true,
        }
    }

    #[test]
    fn regions_partition_code_and_respect_mapping_symbols() {
        let mut img = gloss_load::load_raw(vec![0; 0x40], Arch::Aarch64, 0x1000);
        img.symbols = SymbolTable::new(vec![sym("f", 0x1000, 0x10), sym("g", 0x1020, 0)]);
        img.mapping = vec![(Addr(0x1028), true), (Addr(0x1030), false)];
        let r = plan(&img);
        let got: Vec<(u64, u64, RegionKind)> = r
            .iter()
            .map(|r| (r.start.0, r.end.0, r.kind.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x1000, 0x1010, RegionKind::Function),
                (0x1010, 0x1020, RegionKind::Unnamed),
                (0x1020, 0x1028, RegionKind::Function),
                (0x1028, 0x1030, RegionKind::Data),
                (0x1030, 0x1040, RegionKind::Function),
            ]
        );
    }
}
