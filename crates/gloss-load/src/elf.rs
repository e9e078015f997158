//! ELF64: architecture, hardening facts, and names for PLT entries and GOT slots.
use crate::common::{self, Layout, make_symbol};
use gloss_core::{
    Addr, Arch, ElfFacts, Error, Format, GnuProperty, Image, Import, Relro, SectionKind, Segment,
    SymbolKind, SymbolSource, SymbolTable,
};
use object::elf::{self as e};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader, Sym as _};
use object::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};
use std::sync::Arc;

pub(crate) fn load(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    let data: &[u8] = (*bytes).as_ref();
    let file =
        ElfFile64::<object::Endianness>::parse(data).map_err(|e| common::malformed("ELF", e))?;
    let endian = file.endian();
    let hdr = file.elf_header();
    let arch = match hdr.e_machine(endian) {
        e::EM_X86_64 => Arch::X86_64,
        e::EM_AARCH64 => Arch::Aarch64,
        m => {
            return Err(Error::Unsupported(format!(
                "ELF64 for machine {} ({}); gloss decodes x86-64 and AArch64",
                m.0,
                machine_name(m)
            )));
        }
    };
    if !file.is_little_endian() {
        return Err(Error::Unsupported(
            "big-endian ELF; gloss decodes little-endian x86-64 and AArch64".into(),
        ));
    }
    let e_type = hdr.e_type(endian);
    let relocatable = e_type == e::ET_REL;
    let layout = Layout::new(&file, relocatable);

    let mut img = Image::new(Format::Elf, arch, bytes.clone());
    img.synthetic_layout = relocatable;
    img.sections = common::sections(&file, &layout, 0, data.len());
    img.entry = (!relocatable && file.entry() != 0).then(|| Addr(file.entry()));

    // Segments.
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != e::PT_LOAD {
            continue;
        }
        let f = ph.p_flags(endian);
        img.segments.push(Segment {
            name: "LOAD".into(),
            addr: Addr(ph.p_vaddr(endian)),
            size: ph.p_memsz(endian),
            file_offset: ph.p_offset(endian),
            file_size: ph.p_filesz(endian),
            read: f.0 & e::PF_R.0 != 0,
            write: f.0 & e::PF_W.0 != 0,
            exec: f.0 & e::PF_X.0 != 0,
        });
    }

    // Symbols: .symtab first so its names win over .dynsym duplicates.
    let mut mapping = Vec::new();
    let mut syms = common::symbols(file.symbols(), &layout, SymbolSource::Symtab, &mut mapping);
    syms.extend(common::symbols(
        file.dynamic_symbols(),
        &layout,
        SymbolSource::Dynsym,
        &mut mapping,
    ));
    mapping.sort();
    mapping.dedup();
    img.mapping = mapping;

    img.imports = imports(&file);
    let ifuncs = ifunc_slots(&file);
    for imp in &img.imports {
        if let Some(slot) = imp.slot {
            syms.push(make_symbol(
                &format!("{}@got", imp.name),
                slot.0,
                8,
                SymbolKind::Import,
                SymbolSource::Synthetic,
                false,
            ));
        }
    }
    for (slot, name) in &ifuncs {
        syms.push(make_symbol(
            &format!("{name}@got"),
            *slot,
            8,
            SymbolKind::Import,
            SymbolSource::Synthetic,
            false,
        ));
    }
    // PLT entries, named after the import (or ifunc) whose slot each one jumps through.
    let by_slot: std::collections::HashMap<u64, usize> = img
        .imports
        .iter()
        .enumerate()
        .filter_map(|(i, imp)| imp.slot.map(|s| (s.0, i)))
        .collect();
    let ifunc_by_slot: std::collections::HashMap<u64, &str> =
        ifuncs.iter().map(|(s, n)| (*s, n.as_str())).collect();
    for e in plt_entries(&img.sections, data, arch) {
        let name = if let Some(&i) = by_slot.get(&e.slot) {
            if img.imports[i].stub.is_some() {
                continue; // the first entry for a slot: `.plt` before `.plt.sec`
            }
            img.imports[i].stub = Some(Addr(e.addr));
            img.imports[i].name.as_str()
        } else if let Some(n) = ifunc_by_slot.get(&e.slot) {
            n
        } else {
            continue;
        };
        syms.push(make_symbol(
            &format!("{name}@plt"),
            e.addr,
            e.size,
            SymbolKind::Import,
            SymbolSource::Synthetic,
            false,
        ));
    }
    img.symbols = SymbolTable::new(syms);
    img.relocs = common::relocations(&file, &layout, !relocatable);
    if !relocatable {
        img.relative = relative(&file);
    }
    if relocatable && let Some(loaded) = crate::relocate::apply(&img) {
        img.set_loaded(loaded);
    }

    let facts = facts(&file, data, e_type);
    img.kind = describe(&facts, e_type);
    img.facts.elf = Some(facts);
    Ok(img)
}

fn machine_name(m: e::Machine) -> &'static str {
    match m {
        e::EM_386 => "i386",
        e::EM_ARM => "ARM",
        e::EM_RISCV => "RISC-V",
        e::EM_PPC64 => "PowerPC64",
        e::EM_S390 => "s390x",
        e::EM_MIPS => "MIPS",
        e::EM_LOONGARCH => "LoongArch",
        _ => "unknown",
    }
}

fn describe(f: &ElfFacts, e_type: e::FileType) -> String {
    match e_type {
        e::ET_REL => "ELF64 relocatable object".into(),
        e::ET_EXEC => "ELF64 executable".into(),
        e::ET_DYN if f.pie => "ELF64 PIE executable".into(),
        e::ET_DYN => "ELF64 shared object".into(),
        e::ET_CORE => "ELF64 core file".into(),
        t => format!("ELF64 type {}", t.0),
    }
}

fn facts(file: &ElfFile64<'_, object::Endianness>, data: &[u8], e_type: e::FileType) -> ElfFacts {
    let endian = file.endian();
    let mut f = ElfFacts {
        file_type: type_name(e_type).into(),
        ..Default::default()
    };
    let mut has_stack_hdr = false;
    let mut relro = false;
    for ph in file.elf_program_headers() {
        match ph.p_type(endian) {
            e::PT_GNU_STACK => {
                has_stack_hdr = true;
                f.nx = ph.p_flags(endian).0 & e::PF_X.0 == 0;
            }
            e::PT_GNU_RELRO => relro = true,
            e::PT_INTERP => {
                if let Ok(Some(b)) = ph.interpreter(endian, data) {
                    f.interpreter = Some(String::from_utf8_lossy(b).into_owned());
                }
            }
            _ => {}
        }
    }
    if !has_stack_hdr {
        f.nx = false;
    }
    let mut flags_1 = 0u64;
    if let Ok(dynamic) = file.elf_dynamic_table() {
        for d in dynamic.iter() {
            let val = d.val;
            match d.tag {
                e::DT_BIND_NOW => f.bind_now = true,
                e::DT_FLAGS if val & e::DF_BIND_NOW.0 != 0 => f.bind_now = true,
                e::DT_FLAGS_1 => flags_1 = val,
                _ => {}
            }
        }
    }
    if flags_1 & e::DF_1_NOW.0 != 0 {
        f.bind_now = true;
    }
    f.pie = e_type == e::ET_DYN && (f.interpreter.is_some() || flags_1 & e::DF_1_PIE.0 != 0);
    f.shared_object = e_type == e::ET_DYN && !f.pie;
    if e_type != e::ET_REL {
        f.relro = Some(match (relro, f.bind_now) {
            (false, _) => Relro::None,
            (true, false) => Relro::Partial,
            (true, true) => Relro::Full,
        });
    }
    if let Ok(Some(id)) = file.build_id() {
        f.build_id = Some(id.iter().map(|b| format!("{b:02x}")).collect());
    }
    f.gnu_property = gnu_property(file, data);
    f.stripped = file.section_by_name(".symtab").is_none();
    f.has_debug_info = file.section_by_name(".debug_info").is_some();
    f
}

fn type_name(t: e::FileType) -> &'static str {
    match t {
        e::ET_REL => "ET_REL",
        e::ET_EXEC => "ET_EXEC",
        e::ET_DYN => "ET_DYN",
        e::ET_CORE => "ET_CORE",
        _ => "other",
    }
}

/// Reads `NT_GNU_PROPERTY_TYPE_0` notes for the x86 (IBT, SHSTK) and AArch64 (BTI, PAC) feature
/// bits. Parsed by hand: the layout is two u32s per property, data padded to 8 bytes.
fn gnu_property(file: &ElfFile64<'_, object::Endianness>, _data: &[u8]) -> GnuProperty {
    let mut p = GnuProperty::default();
    let Some(sec) = file.section_by_name(".note.gnu.property") else {
        return p;
    };
    let Ok(d) = sec.data() else { return p };
    let u32_at = |o: usize| {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut off = 0usize;
    while let (Some(namesz), Some(descsz), Some(ntype)) =
        (u32_at(off), u32_at(off + 4), u32_at(off + 8))
    {
        let name_end = off + 12 + (namesz as usize).div_ceil(4) * 4;
        let desc_end = name_end.saturating_add((descsz as usize).div_ceil(8) * 8);
        if ntype == e::NT_GNU_PROPERTY_TYPE_0.0 && d.get(off + 12..off + 15) == Some(b"GNU") {
            p.present = true;
            let mut q = name_end;
            while q + 8 <= desc_end.min(d.len()) {
                let (Some(pr_type), Some(datasz)) = (u32_at(q), u32_at(q + 4)) else {
                    break;
                };
                let bits = u32_at(q + 8).unwrap_or(0);
                match e::GnuPropertyType(pr_type) {
                    e::GNU_PROPERTY_X86_FEATURE_1_AND => {
                        p.ibt = bits & e::GNU_PROPERTY_X86_FEATURE_1_IBT != 0;
                        p.shstk = bits & e::GNU_PROPERTY_X86_FEATURE_1_SHSTK != 0;
                    }
                    e::GNU_PROPERTY_AARCH64_FEATURE_1_AND => {
                        p.bti = bits & e::GNU_PROPERTY_AARCH64_FEATURE_1_BTI != 0;
                        p.pac = bits & e::GNU_PROPERTY_AARCH64_FEATURE_1_PAC != 0;
                    }
                    _ => {}
                }
                q += 8 + (datasz as usize).div_ceil(8) * 8;
            }
        }
        if desc_end <= off {
            break;
        }
        off = desc_end;
    }
    p
}

/// `R_X86_64_RELATIVE` / `R_AARCH64_RELATIVE` dynamic relocations: (slot, base-0 value).
fn relative(file: &ElfFile64<'_, object::Endianness>) -> Vec<(Addr, u64)> {
    let Some(relocs) = file.dynamic_relocations() else {
        return Vec::new();
    };
    let mut out: Vec<(Addr, u64)> = relocs
        .filter(|(_, r)| {
            matches!(
                r.flags(),
                object::RelocationFlags::Elf {
                    r_type: e::R_X86_64_RELATIVE | e::R_AARCH64_RELATIVE
                }
            ) && !r.has_implicit_addend()
        })
        .map(|(off, r)| (Addr(off), r.addend() as u64))
        .collect();
    out.sort_unstable_by_key(|r| r.0);
    out
}

/// GOT slots that the dynamic linker fills with imported addresses (`JUMP_SLOT`, `GLOB_DAT`).
fn imports(file: &ElfFile64<'_, object::Endianness>) -> Vec<Import> {
    let mut out = Vec::new();
    let Some(relocs) = file.dynamic_relocations() else {
        return out;
    };
    let dynsym = file.dynamic_symbol_table();
    for (off, r) in relocs {
        let object::RelocationFlags::Elf { r_type } = r.flags() else {
            continue;
        };
        let is_slot = matches!(
            r_type,
            e::R_X86_64_JUMP_SLOT
                | e::R_X86_64_GLOB_DAT
                | e::R_AARCH64_JUMP_SLOT
                | e::R_AARCH64_GLOB_DAT
        );
        let RelocationTarget::Symbol(idx) = r.target() else {
            continue;
        };
        if !is_slot {
            continue;
        }
        let Some(name) = dynsym
            .as_ref()
            .and_then(|t| t.symbol_by_index(idx).ok())
            .and_then(|s| s.name().ok())
        else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        out.push(Import {
            name: name.to_string(),
            library: None,
            slot: Some(Addr(off)),
            stub: None,
            ordinal: None,
            delay: false,
        });
    }
    out.sort_by_key(|i| i.slot);
    out
}

/// `IRELATIVE` GOT slots (calls of ifuncs defined in the file itself, through the PLT): each
/// slot with the name of the `STT_GNU_IFUNC` symbol whose value is the relocation's addend (the
/// resolver), else `*ABS*+0x<addend>` as objdump names it.
fn ifunc_slots(file: &ElfFile64<'_, object::Endianness>) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let Some(relocs) = file.dynamic_relocations() else {
        return out;
    };
    let endian = file.endian();
    let mut ifunc_names: std::collections::HashMap<u64, String> = Default::default();
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.elf_symbol().st_type() == e::STT_GNU_IFUNC
            && let Ok(name) = sym.name()
            && !name.is_empty()
        {
            ifunc_names
                .entry(sym.elf_symbol().st_value(endian))
                .or_insert_with(|| name.to_string());
        }
    }
    for (off, r) in relocs {
        let object::RelocationFlags::Elf { r_type } = r.flags() else {
            continue;
        };
        if r_type != e::R_X86_64_IRELATIVE && r_type != e::R_AARCH64_IRELATIVE {
            continue;
        }
        let resolver = r.addend() as u64;
        let name = ifunc_names
            .get(&resolver)
            .cloned()
            .unwrap_or_else(|| format!("*ABS*+{resolver:#x}"));
        out.push((off, name));
    }
    out.sort();
    out
}

/// One PLT entry: where it starts (its `endbr64` / `bti c` included), its length (the padding
/// after its jump included), and the GOT slot it jumps through.
struct PltEntry {
    addr: u64,
    size: u64,
    slot: u64,
}

/// Reads every PLT entry's GOT slot from the entry's own code, as the linker laid it out, in
/// `.plt`, `.plt.sec`, `.plt.got`, `.plt.bnd` and `.iplt` (ld.lld's ifunc entries):
/// x86-64 `jmp *disp(%rip)` (`ff 25`, after `endbr64` and/or a `bnd` prefix); AArch64
/// `adrp x16, page; ldr x17, [x16, #off]` (after `bti c`). Entries of the lazy `.plt` that
/// only push and jump to the resolver (IBT layouts) read no slot; the PLT header reads the
/// resolver's slot, which no import has.
fn plt_entries(sections: &[gloss_core::Section], data: &[u8], arch: Arch) -> Vec<PltEntry> {
    let mut out = Vec::new();
    for s in sections.iter().filter(|s| {
        s.kind == SectionKind::Code && (s.name.starts_with(".plt") || s.name == ".iplt")
    }) {
        let Some(bytes) = s.file_range.clone().and_then(|r| data.get(r)) else {
            continue;
        };
        match arch {
            Arch::X86_64 => {
                // 16-byte entries, except GNU ld's `.plt.got` without IBT: `jmp; xchg %ax,%ax`
                let step = if s.name == ".plt.got" && !bytes.starts_with(&ENDBR64) {
                    8
                } else {
                    16
                };
                for entry in (0..bytes.len()).step_by(step) {
                    let window = &bytes[entry..(entry + step).min(bytes.len())];
                    let Some(p) = window.windows(2).position(|w| w == [0xff, 0x25]) else {
                        continue;
                    };
                    let Some(disp) = bytes.get(entry + p + 2..entry + p + 6) else {
                        continue;
                    };
                    let disp = i32::from_le_bytes([disp[0], disp[1], disp[2], disp[3]]) as i64;
                    let end = s.addr.0.wrapping_add((entry + p + 6) as u64);
                    out.push(PltEntry {
                        addr: s.addr.0.wrapping_add(entry as u64),
                        size: window.len() as u64,
                        slot: end.wrapping_add(disp as u64),
                    });
                }
            }
            Arch::Aarch64 => {
                let word = |o: usize| {
                    bytes
                        .get(o..o + 4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                };
                let mut o = 0;
                while let (Some(w0), Some(w1)) = (word(o), word(o + 4)) {
                    let pc = s.addr.0.wrapping_add(o as u64);
                    if let (Some(page), Some((rn, off))) = (adrp_page(w0, pc), ldr_x_uimm(w1))
                        && rn == (w0 & 0x1f)
                    {
                        // A BTI landing pad before the ADRP belongs to the entry.
                        let start = if o >= 4 && word(o - 4) == Some(BTI_C) {
                            o - 4
                        } else {
                            o
                        };
                        // up to the `br x17` (GNU ld, ld.lld: adrp, ldr, add, br), then
                        // over the `nop`s that pad ld.lld's BTI entries
                        let mut end = (o + 8..o + 20)
                            .step_by(4)
                            .find(|&q| word(q).is_some_and(|w| w & 0xffff_fc1f == 0xd61f_0000))
                            .map_or(o + 16, |q| q + 4);
                        while word(end) == Some(NOP) {
                            end += 4;
                        }
                        out.push(PltEntry {
                            addr: s.addr.0.wrapping_add(start as u64),
                            size: (end - start) as u64,
                            slot: page.wrapping_add(off),
                        });
                    }
                    o += 4;
                }
            }
        }
    }
    out
}

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const BTI_C: u32 = 0xd503_245f;
const NOP: u32 = 0xd503_201f;

/// ADRP's page address, if `w` is an ADRP.
pub(crate) fn adrp_page(w: u32, pc: u64) -> Option<u64> {
    if w & 0x9f00_0000 != 0x9000_0000 {
        return None;
    }
    let immlo = ((w >> 29) & 3) as i64;
    let immhi = ((w >> 5) & 0x7ffff) as i64;
    let imm = ((immhi << 2) | immlo) << 43 >> 31; // sign-extend 21 bits, then << 12
    Some((pc & !0xfff).wrapping_add(imm as u64))
}

/// `ldr xT, [xN, #imm]` (unsigned offset): `(n, imm)`.
pub(crate) fn ldr_x_uimm(w: u32) -> Option<(u32, u64)> {
    (w & 0xffc0_0000 == 0xf940_0000).then(|| ((w >> 5) & 0x1f, (((w >> 10) & 0xfff) as u64) * 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adrp_and_ldr_fields() {
        // adrp x16, 0x11000 at 0x500 (llvm-mc: 0xb0000090 = adrp x16, #0x11000 from page 0).
        assert_eq!(adrp_page(0xb000_0090, 0x500), Some(0x11000));
        // adrp x20, page 0 at 0x18.
        assert_eq!(adrp_page(0x9000_0014, 0x18), Some(0));
        // ldr x17, [x16, #0xf80]
        assert_eq!(ldr_x_uimm(0xf947_c211), Some((16, 0xf80)));
        assert_eq!(ldr_x_uimm(0xd503201f), None);
    }
}
