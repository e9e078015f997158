//! Mach-O 64 (x86_64, arm64) and fat files: symbols, `__stubs` and `__got` names through the
//! indirect symbol table, function starts and chained-fixup presence.
use crate::common::{self, Layout, make_symbol};
use gloss_core::{
    Addr, Arch, Error, Format, Image, Import, MachOFacts, SymbolKind, SymbolSource, SymbolTable,
};
use object::macho as m;
use object::read::macho::{
    FatArch, MachHeader, MachOFatFile32, MachOFatFile64, MachOFile64, Nlist, Section as _,
};
use object::{Object, ObjectSection};
use std::ops::Range;
use std::sync::Arc;

pub(crate) fn load_fat(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    let range = fat_slice((*bytes).as_ref())?;
    load(bytes.clone(), range)
}

/// The slice of a fat file gloss loads: the first it can decode, arm64 before x86_64.
pub(crate) fn fat_slice(data: &[u8]) -> Result<Range<usize>, Error> {
    fn slices<A: FatArch>(arches: &[A]) -> Vec<(m::CpuType, Range<usize>)> {
        arches
            .iter()
            .map(|a| {
                let (off, size) = a.file_range();
                (
                    a.cputype(),
                    off as usize..(off as usize).saturating_add(size as usize),
                )
            })
            .collect()
    }
    let ranges = match MachOFatFile32::parse(data) {
        Ok(f) => slices(f.arches()),
        Err(_) => slices(
            MachOFatFile64::parse(data)
                .map_err(|e| common::malformed("fat Mach-O", e))?
                .arches(),
        ),
    };
    // The first slice gloss can decode; arm64 before x86_64 when both exist.
    let pick = ranges
        .iter()
        .find(|(c, _)| *c == m::CPU_TYPE_ARM64)
        .or_else(|| ranges.iter().find(|(c, _)| *c == m::CPU_TYPE_X86_64))
        .ok_or_else(|| Error::Unsupported("fat Mach-O without an x86_64 or arm64 slice".into()))?;
    if pick.1.end > data.len() {
        return Err(Error::malformed(
            "fat Mach-O",
            gloss_core::Location::Offset(pick.1.start as u64),
            "slice extends past the end of the file",
        ));
    }
    Ok(pick.1.clone())
}

pub(crate) fn load(
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    range: Range<usize>,
) -> Result<Image, Error> {
    let whole: &[u8] = (*bytes).as_ref();
    let data = &whole[range.clone()];
    let file = MachOFile64::<object::Endianness>::parse(data)
        .map_err(|e| common::malformed("Mach-O", e))?;
    let endian = file.endian();
    let hdr = file.macho_header();
    let arch = match hdr.cputype(endian) {
        m::CPU_TYPE_X86_64 => Arch::X86_64,
        m::CPU_TYPE_ARM64 => Arch::Aarch64,
        c => {
            return Err(Error::Unsupported(format!(
                "Mach-O for CPU type {c:#x}; gloss decodes x86_64 and arm64"
            )));
        }
    };
    let filetype = hdr.filetype(endian);
    let relocatable = filetype == m::MH_OBJECT;
    let layout = Layout::new(&file, false);
    let mut img = Image::new(Format::MachO, arch, bytes.clone());
    img.sections = common::sections(&file, &layout, range.start, whole.len());
    img.entry = (file.entry() != 0).then(|| Addr(file.entry()));
    let mut mapping = Vec::new();
    let mut syms = common::symbols(file.symbols(), &layout, SymbolSource::MachO, &mut mapping);

    let mut facts = MachOFacts {
        file_type: match filetype {
            m::MH_EXECUTE => "MH_EXECUTE",
            m::MH_DYLIB => "MH_DYLIB",
            m::MH_OBJECT => "MH_OBJECT",
            m::MH_BUNDLE => "MH_BUNDLE",
            _ => "other",
        }
        .into(),
        pie: hdr.flags(endian).0 & m::MH_PIE.0 != 0,
        arm64e: arch == Arch::Aarch64 && hdr.cpusubtype(endian).0 & 0x00ff_ffff == 2, // CPU_SUBTYPE_ARM64E
        ..Default::default()
    };
    let mut indirect: &[object::U32<object::Endianness, m::IndirectSymbol>] = &[];
    let mut data_in_code: &[u8] = &[];
    if let Ok(mut cmds) = file.macho_load_commands() {
        while let Ok(Some(cmd)) = cmds.next() {
            match cmd.cmd() {
                m::LC_FUNCTION_STARTS => facts.has_function_starts = true,
                m::LC_DYLD_CHAINED_FIXUPS => facts.chained_fixups = true,
                m::LC_DATA_IN_CODE => {
                    if let Ok(c) = cmd.data::<m::LinkeditDataCommand<object::Endianness>>() {
                        data_in_code = c.data(endian, data).unwrap_or(&[]);
                    }
                }
                m::LC_DYSYMTAB => {
                    if let Ok(Some(d)) = cmd.dysymtab() {
                        indirect = d.indirect_symbols(endian, data).unwrap_or(&[]);
                    }
                }
                _ => {}
            }
        }
    }

    // LC_DATA_IN_CODE: jump tables and constants the compiler left inside __text. Entries give
    // file offsets from the Mach-O header; they become data runs like AArch64 `$d` symbols.
    for e in data_in_code.chunks_exact(8) {
        let off = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as u64 + range.start as u64;
        let len = u16::from_le_bytes([e[4], e[5]]) as u64;
        let Some(sec) = img
            .sections
            .iter()
            .find(|s| s.file_offset.is_some_and(|f| off >= f && off - f < s.size))
        else {
            continue;
        };
        let start = sec.addr.0.wrapping_add(off - sec.file_offset.unwrap_or(0));
        mapping.push((Addr(start), true));
        mapping.push((Addr(start.wrapping_add(len)), false));
    }
    mapping.sort();
    img.mapping = mapping;

    // Stubs and pointer sections name their entries through the indirect symbol table.
    let symtab = file.macho_symbol_table();
    for s in file.sections() {
        let raw = s.macho_section();
        let kind = (raw.flags(endian).0 & m::SECTION_TYPE) as u8;
        let first = raw.reserved1(endian) as usize;
        let (entry_size, is_stub) = match kind {
            k if k == m::S_SYMBOL_STUBS.0 => (raw.reserved2(endian) as u64, true),
            k if k == m::S_NON_LAZY_SYMBOL_POINTERS.0 || k == m::S_LAZY_SYMBOL_POINTERS.0 => {
                (8, false)
            }
            _ => continue,
        };
        if entry_size == 0 {
            continue;
        }
        for i in 0..(s.size() / entry_size) {
            let Some(idx) = indirect.get(first + i as usize).map(|x| x.get(endian).0) else {
                break;
            };
            if idx & (m::INDIRECT_SYMBOL_LOCAL.0 | m::INDIRECT_SYMBOL_ABS.0) != 0 {
                continue;
            }
            let Ok(nl) = symtab.symbol(object::SymbolIndex(idx as usize)) else {
                continue;
            };
            let Ok(name) = nl.name(endian, symtab.strings()) else {
                continue;
            };
            let name = String::from_utf8_lossy(name).into_owned();
            let at = s.address().wrapping_add(i.wrapping_mul(entry_size));
            let imp = match img.imports.iter_mut().find(|x| x.name == name) {
                Some(x) => x,
                None => {
                    img.imports.push(Import {
                        name: name.clone(),
                        library: None,
                        slot: None,
                        stub: None,
                        ordinal: None,
                        delay: false,
                    });
                    img.imports.last_mut().expect("just pushed")
                }
            };
            if is_stub {
                imp.stub.get_or_insert(Addr(at));
                syms.push(make_symbol(
                    &format!("{name}@stub"),
                    at,
                    entry_size,
                    SymbolKind::Import,
                    SymbolSource::Synthetic,
                    false,
                ));
            } else {
                imp.slot.get_or_insert(Addr(at));
                syms.push(make_symbol(
                    &format!("{name}@got"),
                    at,
                    8,
                    SymbolKind::Import,
                    SymbolSource::Synthetic,
                    false,
                ));
            }
        }
    }
    common::infer_sizes(&mut syms, &img.sections);
    img.symbols = SymbolTable::new(syms);
    if relocatable {
        img.relocs = common::relocations(&file, &layout, false);
    }
    img.kind = format!(
        "Mach-O 64 {} ({})",
        facts.file_type,
        if arch == Arch::X86_64 {
            "x86_64"
        } else {
            "arm64"
        }
    );
    img.facts.macho = Some(facts);
    Ok(img)
}
