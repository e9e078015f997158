//! The format-independent part of loading: sections, symbols, relocations.
use crate::demangle::demangle;
use gloss_core::{
    Addr, Error, Location, Reloc, Section, SectionKind, Symbol, SymbolKind, SymbolSource,
};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex};
use std::collections::HashMap;

pub(crate) fn malformed(format: &'static str, e: object::Error) -> Error {
    Error::malformed(format, Location::File, e.to_string())
}

pub(crate) fn elf32_machine(data: &[u8]) -> String {
    let m = data
        .get(18..20)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .unwrap_or(0);
    match m {
        3 => "i386".into(),
        40 => "ARM".into(),
        8 => "MIPS".into(),
        243 => "RISC-V".into(),
        m => format!("e_machine {m}"),
    }
}

/// Where each section lives in the address space gloss reports. Linked files: where the file
/// says. Relocatable objects: every section says 0, so gloss lays them out one after another
/// (as a linker would) to give each byte one address.
pub(crate) struct Layout {
    bias: HashMap<SectionIndex, u64>,
}

impl Layout {
    pub fn new<'d>(file: &impl Object<'d>, relocatable: bool) -> Layout {
        let mut bias = HashMap::new();
        if relocatable {
            let mut next = 0u64;
            for s in file.sections() {
                if !matches!(section_kind(s.kind()), SectionKind::Other) && s.size() > 0 {
                    let align = s.align().clamp(1, 1 << 16);
                    next = next.div_ceil(align).saturating_mul(align);
                    bias.insert(s.index(), next);
                    next = next.saturating_add(s.size());
                }
            }
        }
        Layout { bias }
    }
    pub fn bias(&self, index: SectionIndex) -> u64 {
        self.bias.get(&index).copied().unwrap_or(0)
    }
}

pub(crate) fn section_kind(k: object::SectionKind) -> SectionKind {
    use object::SectionKind as K;
    match k {
        K::Text => SectionKind::Code,
        K::Data | K::Tls => SectionKind::Data,
        K::ReadOnlyData | K::ReadOnlyString | K::ReadOnlyDataWithRel => SectionKind::ReadOnlyData,
        K::UninitializedData | K::UninitializedTls => SectionKind::Uninit,
        _ => SectionKind::Other,
    }
}

/// Sections; `file_base` is the offset of this object within the whole file (fat Mach-O slices).
pub(crate) fn sections<'d>(
    file: &impl Object<'d>,
    layout: &Layout,
    file_base: usize,
    file_len: usize,
) -> Vec<Section> {
    let mut out = Vec::new();
    for s in file.sections() {
        let kind = section_kind(s.kind());
        let name = s.name().unwrap_or("?").to_string();
        let addr = s.address().wrapping_add(layout.bias(s.index()));
        let file_range = match (kind, s.file_range()) {
            (SectionKind::Uninit, _) | (_, None) => None,
            (_, Some((off, size))) => {
                let start = file_base.saturating_add(off as usize);
                let end = start.saturating_add(size as usize);
                // Sections that claim bytes past the end of the file keep only what exists.
                (start < file_len).then(|| start..end.min(file_len))
            }
        };
        let file_offset = file_range.as_ref().map(|r| r.start as u64);
        out.push(Section {
            name,
            addr: Addr(addr),
            size: s.size(),
            kind,
            file_range,
            file_offset,
        });
    }
    out
}

pub(crate) fn symbol_kind(k: object::SymbolKind) -> Option<SymbolKind> {
    use object::SymbolKind as K;
    match k {
        K::Text => Some(SymbolKind::Function),
        K::Data | K::Tls => Some(SymbolKind::Object),
        K::Unknown | K::Label => Some(SymbolKind::Unknown),
        _ => None,
    }
}

pub(crate) fn make_symbol(
    name: &str,
    addr: u64,
    size: u64,
    kind: SymbolKind,
    source: SymbolSource,
    global: bool,
) -> Symbol {
    Symbol {
        addr: Addr(addr),
        size,
        name: name.to_string(),
        demangled: demangle(name),
        kind,
        source,
        global,
    }
}

/// Defined symbols of one table, plus AArch64 mapping symbols (`$x`, `$d`) returned apart.
pub(crate) fn symbols<'d, 'f, S: ObjectSymbol<'d>>(
    iter: impl Iterator<Item = S>,
    layout: &Layout,
    source: SymbolSource,
    mapping: &mut Vec<(Addr, bool)>,
) -> Vec<Symbol> {
    let mut out = Vec::new();
    for sym in iter {
        if sym.is_undefined() {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let Ok(name) = sym.name() else { continue };
        let addr = sym.address().wrapping_add(layout.bias(index));
        if name.starts_with("$x") || name.starts_with("$d") {
            mapping.push((Addr(addr), name.starts_with("$d")));
            continue;
        }
        if name.is_empty() || name.starts_with(".L") || name.starts_with("ltmp") {
            continue;
        }
        let Some(kind) = symbol_kind(sym.kind()) else {
            continue;
        };
        out.push(make_symbol(
            name,
            addr,
            sym.size(),
            kind,
            source,
            sym.is_global(),
        ));
    }
    out
}

/// Gives size-0 symbols in formats without sizes (PE, Mach-O) the extent up to the next symbol
/// or the end of their section: the only boundary those formats state.
pub(crate) fn infer_sizes(syms: &mut [Symbol], sections: &[Section]) {
    syms.sort_by_key(|s| s.addr);
    let starts: Vec<u64> = syms.iter().map(|s| s.addr.0).collect();
    for s in syms.iter_mut().filter(|s| s.size == 0) {
        let Some(sec) = sections
            .iter()
            .find(|x| x.kind != SectionKind::Other && x.contains(s.addr.0))
        else {
            continue;
        };
        let next_i = starts.partition_point(|&a| a <= s.addr.0);
        let next = starts
            .get(next_i)
            .copied()
            .unwrap_or(u64::MAX)
            .min(sec.end());
        s.size = next - s.addr.0;
    }
}

/// Section relocations (relocatable objects, `--emit-relocs` links), at laid-out addresses.
/// `absolute`: offsets are virtual addresses (ELF r_offset in linked files,
/// `--emit-relocs`), not offsets into the section (relocatable objects).
pub(crate) fn relocations<'d>(
    file: &impl Object<'d>,
    layout: &Layout,
    absolute: bool,
) -> Vec<Reloc> {
    let mut out = Vec::new();
    for s in file.sections() {
        if section_kind(s.kind()) == SectionKind::Other {
            continue;
        }
        let bias = if absolute {
            0
        } else {
            s.address().wrapping_add(layout.bias(s.index()))
        };
        for (off, r) in s.relocations() {
            let target = match r.target() {
                RelocationTarget::Symbol(i) => file.symbol_by_index(i).ok().and_then(|sym| {
                    let si = sym.section_index()?;
                    Some(Addr(sym.address().wrapping_add(layout.bias(si))))
                }),
                RelocationTarget::Section(si) => file
                    .section_by_index(si)
                    .ok()
                    .map(|sec| Addr(sec.address().wrapping_add(layout.bias(si)))),
                _ => None,
            };
            let symbol = match r.target() {
                RelocationTarget::Symbol(i) => match file.symbol_by_index(i) {
                    Ok(sym) => match sym.name() {
                        Ok("") | Err(_) => sym
                            .section_index()
                            .and_then(|si| file.section_by_index(si).ok())
                            .and_then(|sec| sec.name().ok().map(str::to_string))
                            .unwrap_or_else(|| "?".into()),
                        Ok(n) => n.to_string(),
                    },
                    Err(_) => continue,
                },
                RelocationTarget::Section(si) => match file
                    .section_by_index(si)
                    .and_then(|x| x.name().map(str::to_string))
                {
                    Ok(n) => n,
                    Err(_) => continue,
                },
                _ => continue,
            };
            let r_type = match r.flags() {
                object::RelocationFlags::Elf { r_type } => r_type.0,
                object::RelocationFlags::Coff { typ } => typ.0 as u32,
                object::RelocationFlags::MachO { r_type, .. } => r_type.0 as u32,
                _ => 0,
            };
            out.push(Reloc {
                at: Addr(bias.wrapping_add(off)),
                symbol,
                addend: r.addend(),
                r_type,
                target,
            });
        }
    }
    out.sort_by_key(|r| r.at);
    out
}
