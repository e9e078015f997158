//! PE32+ (x64 and ARM64): imports and their IAT slots, delay imports, exports, load config
//! (CFG function-pointer slots, guard flags), DllCharacteristics and CET compatibility.
use crate::common::{self, Layout, make_symbol};
use gloss_core::{
    Addr, Arch, Error, Format, Image, Import, LoadConfig, Location, PE_DLL_CHARACTERISTICS,
    PeFacts, SectionKind, SymbolKind, SymbolSource, SymbolTable,
};
use object::pe as p;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{LittleEndian as LE, Object};
use std::sync::Arc;

pub(crate) fn load(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    let data: &[u8] = (*bytes).as_ref();
    let file = PeFile64::parse(data).map_err(|e| common::malformed("PE", e))?;
    let machine = file.nt_headers().file_header().machine.get(LE);
    let arch = match machine {
        p::IMAGE_FILE_MACHINE_AMD64 => Arch::X86_64,
        p::IMAGE_FILE_MACHINE_ARM64 => Arch::Aarch64,
        p::IMAGE_FILE_MACHINE_ARM64EC | p::IMAGE_FILE_MACHINE_ARM64X => {
            return Err(Error::Unsupported(
                "ARM64EC/ARM64X PE (mixed x64 and ARM64 code) is not supported yet".into(),
            ));
        }
        m => {
            return Err(Error::Unsupported(format!(
                "PE32+ for machine {m:#06x}; gloss decodes x64 and ARM64"
            )));
        }
    };
    let opt = file.nt_headers().optional_header();
    let image_base = opt.image_base();
    let layout = Layout::new(&file, false);

    let mut img = Image::new(Format::Pe, arch, bytes.clone());
    img.sections = common::sections(&file, &layout, 0, data.len());
    img.entry = (opt.address_of_entry_point() != 0)
        .then(|| Addr(image_base.wrapping_add(opt.address_of_entry_point() as u64)));

    let mut mapping = Vec::new();
    let mut syms = common::symbols(file.symbols(), &layout, SymbolSource::Coff, &mut mapping);
    for ex in file.exports().map_err(|e| common::malformed("PE", e))? {
        let ex = ex.map_err(|e| common::malformed("PE", e))?;
        let (object::NameOrOrdinal::Name(name), object::ExportTarget::Address { address }) =
            (ex.name(), ex.target())
        else {
            continue; // forwarders and ordinal-only exports name no code here
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let kind = match img.section_at(address).map(|s| s.kind) {
            Some(SectionKind::Code) => SymbolKind::Function,
            _ => SymbolKind::Object,
        };
        syms.push(make_symbol(
            &name,
            address,
            0,
            kind,
            SymbolSource::Export,
            true,
        ));
    }

    img.imports = imports(&file, image_base)?;
    for imp in &img.imports {
        if let Some(slot) = imp.slot {
            syms.push(make_symbol(
                &format!("__imp_{}", imp.name),
                slot.0,
                8,
                SymbolKind::Import,
                SymbolSource::Synthetic,
                false,
            ));
        }
    }
    name_thunks(&mut img, &mut syms);

    let dll_characteristics = opt.dll_characteristics().0;
    let load_config = load_config(&file, data);
    if let Some(lc) = &load_config {
        // Name the CFG slots, as the MSVC runtime's symbols would, unless symbols already do.
        for (slot, name) in [
            (lc.guard_check_icall_fptr, "__guard_check_icall_fptr"),
            (lc.guard_dispatch_icall_fptr, "__guard_dispatch_icall_fptr"),
            (lc.security_cookie, "__security_cookie"),
        ] {
            if let Some(a) = slot.filter(|a| !syms.iter().any(|s| s.addr == *a)) {
                syms.push(make_symbol(
                    name,
                    a.0,
                    8,
                    SymbolKind::Object,
                    SymbolSource::Synthetic,
                    false,
                ));
            }
        }
    }
    common::infer_sizes(&mut syms, &img.sections);
    img.symbols = SymbolTable::new(syms);
    img.relocs = common::relocations(&file, &layout, false);

    let dll = file.nt_headers().file_header().characteristics.get(LE).0 & p::IMAGE_FILE_DLL.0 != 0;
    img.kind = format!(
        "PE32+ {} ({})",
        if dll { "DLL" } else { "executable" },
        if arch == Arch::X86_64 { "x64" } else { "ARM64" }
    );
    img.facts.pe = Some(PeFacts {
        image_base: Addr(image_base),
        dll,
        dll_characteristics,
        dll_characteristics_names: PE_DLL_CHARACTERISTICS
            .iter()
            .filter(|(bit, _)| dll_characteristics & bit != 0)
            .map(|(_, n)| *n)
            .collect(),
        load_config,
        has_pdata: file
            .data_directory(p::IMAGE_DIRECTORY_ENTRY_EXCEPTION)
            .is_some_and(|d| d.size.get(LE) > 0),
        cet_compat: cet_compat(&file, data),
    });
    Ok(img)
}

/// Import thunks (`jmp *__imp_X(%rip)`, `adrp; ldr; br x16`) become `Import::stub` and a
/// symbol with the import's bare name, `X`, as the import library names the thunk it supplies
/// (docs/decisions/0005-import-stubs.md); delay-load imports' `__imp_load_X` thunks and the
/// `__tailMerge_<dll>` helper they share are named too.
fn name_thunks(img: &mut Image, syms: &mut Vec<gloss_core::Symbol>) {
    let mut starts: Vec<u64> = syms
        .iter()
        .filter(|s| s.kind == SymbolKind::Function)
        .map(|s| s.addr.0)
        .collect();
    starts.sort_unstable();
    let mut functions: Vec<(u64, u64)> = crate::hints::function_hints(img)
        .hints
        .iter()
        .filter_map(|h| h.size.map(|n| (h.addr.0, h.addr.0.saturating_add(n))))
        .collect();
    functions.sort_unstable();
    for t in crate::thunks::find(img, &img.imports, &starts, &functions) {
        let imp = &mut img.imports[t.import];
        imp.stub.get_or_insert(Addr(t.addr));
        syms.push(make_symbol(
            &imp.name,
            t.addr,
            t.size,
            SymbolKind::Import,
            SymbolSource::Synthetic,
            false,
        ));
    }
    let mut merges = Vec::new();
    for imp in img.imports.iter().filter(|i| i.delay) {
        let Some(slot) = imp.slot else { continue };
        let Some(at) = img.read_u64(slot.0) else {
            continue;
        };
        if img
            .section_at(at)
            .is_none_or(|s| s.kind != SectionKind::Code)
        {
            continue;
        }
        let Some((size, tail)) = crate::thunks::delay_load_thunk(img, at, slot.0) else {
            continue;
        };
        syms.push(make_symbol(
            &format!("__imp_load_{}", imp.name),
            at,
            size,
            SymbolKind::Function,
            SymbolSource::Synthetic,
            false,
        ));
        if let Some(lib) = &imp.library {
            merges.push((tail, crate::thunks::tail_merge_name(lib)));
        }
    }
    merges.sort();
    merges.dedup();
    for (tail, name) in merges {
        if img
            .section_at(tail)
            .is_some_and(|s| s.kind == SectionKind::Code)
        {
            syms.push(make_symbol(
                &name,
                tail,
                0,
                SymbolKind::Function,
                SymbolSource::Synthetic,
                false,
            ));
        }
    }
}

fn import_name(i: object::read::pe::Import<'_>) -> (String, Option<u16>) {
    match i {
        object::read::pe::Import::Name(_, n) => (String::from_utf8_lossy(n).into_owned(), None),
        object::read::pe::Import::Ordinal(o) => (format!("#{o}"), Some(o)),
    }
}

fn imports(file: &PeFile64<'_>, base: u64) -> Result<Vec<Import>, Error> {
    let bad = |e: object::Error| common::malformed("PE", e);
    let mut out = Vec::new();
    if let Some(table) = file.import_table().map_err(bad)? {
        let mut descs = table.descriptors().map_err(bad)?;
        while let Some(d) = descs.next().map_err(bad)? {
            let lib = table
                .name(d.name.get(LE))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .ok();
            let iat = d.first_thunk.get(LE);
            let int = match d.original_first_thunk.get(LE) {
                0 => iat,
                x => x,
            };
            let Ok(thunks) = table.thunks(int) else {
                continue;
            };
            push_thunks(
                &mut out,
                thunks,
                |t| table.import::<p::ImageNtHeaders64>(t),
                lib,
                base,
                iat,
                false,
            )?;
        }
    }
    if let Some(table) = file.delay_load_import_table().map_err(bad)? {
        let mut descs = table.descriptors().map_err(bad)?;
        while let Some(d) = descs.next().map_err(bad)? {
            let lib = table
                .name(d.dll_name_rva.get(LE))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .ok();
            let iat = d.import_address_table_rva.get(LE);
            let Ok(thunks) = table.thunks(d.import_name_table_rva.get(LE)) else {
                continue;
            };
            push_thunks(
                &mut out,
                thunks,
                |t| table.import::<p::ImageNtHeaders64>(t),
                lib,
                base,
                iat,
                true,
            )?;
        }
    }
    Ok(out)
}

/// One library's thunk list: an import per thunk, its IAT slot `base + iat + 8 * i`.
fn push_thunks<'d>(
    out: &mut Vec<Import>,
    mut thunks: object::read::pe::ImportThunkList<'d>,
    import: impl Fn(p::ImageThunkData64) -> object::Result<object::read::pe::Import<'d>>,
    library: Option<String>,
    base: u64,
    iat: u32,
    delay: bool,
) -> Result<(), Error> {
    let table = base.wrapping_add(iat as u64);
    let mut i = 0u64;
    while let Ok(Some(t)) = thunks.next::<p::ImageNtHeaders64>() {
        if let Ok(imp) = import(t) {
            let (name, ordinal) = import_name(imp);
            let slot = Some(Addr(table.wrapping_add(i * 8)));
            out.push(Import {
                name,
                library: library.clone(),
                slot,
                stub: None,
                ordinal,
                delay,
            });
        }
        i += 1;
        if i > 1 << 20 {
            return Err(Error::malformed(
                "PE",
                Location::Addr(Addr(table)),
                "unterminated import thunk list",
            ));
        }
    }
    Ok(())
}

fn dir_bytes<'d>(file: &PeFile64<'d>, data: &'d [u8], id: usize) -> Option<&'d [u8]> {
    let dir = file.data_directory(id)?;
    dir.data(data, &file.section_table()).ok()
}

/// `IMAGE_LOAD_CONFIG_DIRECTORY64` fields, read by offset up to the size the file declares
/// (older linkers write shorter structures).
fn load_config(file: &PeFile64<'_>, data: &[u8]) -> Option<LoadConfig> {
    let b = dir_bytes(file, data, p::IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG)?;
    let size = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?);
    let b = &b[..(size as usize).min(b.len())];
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .map(|x| u64::from_le_bytes(x.try_into().unwrap_or([0; 8])))
    };
    let va = |o: usize| u64_at(o).filter(|&v| v != 0).map(Addr);
    Some(LoadConfig {
        size,
        security_cookie: va(0x58),
        guard_check_icall_fptr: va(0x70),
        guard_dispatch_icall_fptr: va(0x78),
        guard_cf_function_table: va(0x80),
        guard_cf_function_count: u64_at(0x88).unwrap_or(0),
        guard_flags: b
            .get(0x90..0x94)
            .map(|x| u32::from_le_bytes(x.try_into().unwrap_or([0; 4])))
            .unwrap_or(0),
    })
}

/// `IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS` (20) entry with `CET_COMPAT` (bit 0).
fn cet_compat(file: &PeFile64<'_>, data: &[u8]) -> bool {
    let Some(b) = dir_bytes(file, data, p::IMAGE_DIRECTORY_ENTRY_DEBUG) else {
        return false;
    };
    b.chunks_exact(28).any(|e| {
        let ty = u32::from_le_bytes(e[12..16].try_into().unwrap_or([0; 4]));
        let ptr = u32::from_le_bytes(e[24..28].try_into().unwrap_or([0; 4])) as usize;
        ty == 20 && data.get(ptr..ptr + 4).is_some_and(|v| v[0] & 1 != 0)
    })
}
