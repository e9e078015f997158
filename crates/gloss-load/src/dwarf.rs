//! DWARF line tables -> [`SourceLines`], on request only (`show --source`, `--line-numbers`):
//! never during `load`, so listings without them pay nothing.
//!
//! Reads every unit's line program with gimli (DWARF 2-5), from ELF, PE (MinGW keeps `.debug_*`)
//! and Mach-O (`__DWARF`) files; compressed sections (`SHF_COMPRESSED`, `.zdebug_*`) are
//! decompressed by `object`. In relocatable objects the debug sections' relocations are applied,
//! with the section addresses gloss laid out, so line rows match the listing's addresses.
use crate::common::Layout;
use crate::macho;
use gimli::{EndianSlice, LittleEndian, RelocateReader, SectionId};
use gloss_core::{
    Error, Format, Image, LineRow, LineSequence, Location, SectionKind, SourceFile, SourceLines,
    join_path,
};
use object::{
    Object, ObjectKind, ObjectSection, ObjectSymbol, RelocationEncoding, RelocationKind,
    RelocationTarget,
};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

/// The line tables of an image, or `None` when it has no `.debug_line` (no `-g`, stripped, or a
/// Mach-O executable whose DWARF stayed in the object files / a `.dSYM`).
pub fn source_lines(image: &Image) -> Result<Option<SourceLines>, Error> {
    let data = image.bytes();
    let (fmt, data) = match image.format {
        Format::Raw => return Ok(None),
        Format::Elf => ("ELF", data),
        Format::Pe => ("PE", data),
        Format::MachO => {
            let range = match object::FileKind::parse(data) {
                Ok(object::FileKind::MachOFat32 | object::FileKind::MachOFat64) => {
                    macho::fat_slice(data)?
                }
                _ => 0..data.len(),
            };
            ("Mach-O", &data[range])
        }
    };
    let file = object::File::parse(data).map_err(|e| crate::common::malformed(fmt, e))?;
    if file.section_by_name(".debug_line").is_none() {
        return Ok(None);
    }
    read(&file, image, fmt).map(Some)
}

/// The line tables of an ELF image read from its separate debug file's bytes (found and
/// checked with [`crate::DebugLink`]), or `None` when that file has no `.debug_line` either.
pub fn source_lines_in(image: &Image, debug: &[u8]) -> Result<Option<SourceLines>, Error> {
    let file = object::File::parse(debug).map_err(|e| crate::common::malformed("ELF", e))?;
    if file.format() != object::BinaryFormat::Elf || file.section_by_name(".debug_line").is_none() {
        return Ok(None);
    }
    read(&file, image, "ELF").map(Some)
}

/// The sections line tables need; others (ranges, locations, frames) are never read.
const SECTIONS: [SectionId; 7] = [
    SectionId::DebugAbbrev,
    SectionId::DebugAddr,
    SectionId::DebugInfo,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
];

type R<'a> = RelocateReader<EndianSlice<'a, LittleEndian>, &'a Relocs>;

fn read(file: &object::File<'_>, image: &Image, fmt: &'static str) -> Result<SourceLines, Error> {
    let relocatable = file.kind() == ObjectKind::Relocatable;
    let layout = Layout::new(file, image.synthetic_layout);
    let mut loaded: HashMap<SectionId, (Cow<'_, [u8]>, Relocs)> = HashMap::new();
    for id in SECTIONS {
        let Some(s) = file.section_by_name(id.name()) else {
            continue;
        };
        let data = section_data(&s, id.name(), fmt)?;
        let relocs = if relocatable {
            Relocs::of(file, &s, &layout)
        } else {
            Relocs::default()
        };
        loaded.insert(id, (data, relocs));
    }
    let none = Relocs::default();
    let dwarf = gimli::Dwarf::load(|id| -> Result<R<'_>, Error> {
        Ok(match loaded.get(&id) {
            Some((data, relocs)) => {
                RelocateReader::new(EndianSlice::new(data, LittleEndian), relocs)
            }
            None => RelocateReader::new(EndianSlice::new(&[], LittleEndian), &none),
        })
    })?;
    // Reports a gimli error at a place, preferring what the relocation map knows.
    let fail = |place: String, e: gimli::Error| -> Error {
        for (id, (_, relocs)) in &loaded {
            if let Some(what) = relocs.failed.borrow().as_ref() {
                return Error::Unsupported(format!(
                    "DWARF in a relocatable {fmt} file: {} has a {what}; gloss applies only \
                     absolute relocations to debug sections (reading {place})",
                    id.name()
                ));
            }
        }
        Error::malformed(fmt, Location::File, format!("DWARF {place}: {e}"))
    };

    let mut files: Vec<SourceFile> = Vec::new();
    let mut file_ids: HashMap<SourceFile, u32> = HashMap::new();
    let mut sequences: Vec<LineSequence> = Vec::new();
    let mut units = dwarf.units();
    let mut next_unit = 0usize;
    loop {
        let header = match units.next() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => return Err(fail(format!(".debug_info unit at {next_unit:#x}"), e)),
        };
        let unit_off = header.offset().0;
        next_unit = unit_off.saturating_add(header.length_including_self());
        let unit = match dwarf.unit(header.clone()) {
            Ok(u) => u,
            Err(e) => return Err(fail(unit_error_place(&dwarf, &header, unit_off), e)),
        };
        let Some(program) = unit.line_program.clone() else {
            continue;
        };
        let line_off = program.header().offset().0;
        let place =
            format!(".debug_line program at {line_off:#x} (.debug_info unit at {unit_off:#x})");
        let comp_dir = match &unit.comp_dir {
            Some(d) => Some(lossy(d).map_err(|e| fail(place.clone(), e))?),
            None => None,
        };
        // This unit's file indices -> the image's file table.
        let mut unit_files: HashMap<u64, u32> = HashMap::new();
        let mut rows: Vec<LineRow> = Vec::new();
        let mut program_rows = program.rows();
        while let Some((header, row)) = program_rows
            .next_row()
            .map_err(|e| fail(place.clone(), e))?
        {
            if row.end_sequence() {
                let rows = std::mem::take(&mut rows);
                // Sequences outside code are dead code the linker left at 0 (or a tombstone).
                if rows.first().is_some_and(|r| in_code(image, r.addr)) {
                    sequences.push(LineSequence {
                        rows,
                        end: row.address(),
                    });
                }
                continue;
            }
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
            let index = row.file_index();
            let file = match unit_files.get(&index) {
                Some(&f) => f,
                None => {
                    let entry = header.file(index).ok_or_else(|| {
                        Error::malformed(
                            fmt,
                            Location::File,
                            format!("DWARF {place}: a row names file {index}, which the header does not list"),
                        )
                    })?;
                    let f = SourceFile {
                        name: file_name(&dwarf, &unit, header, entry)
                            .map_err(|e| fail(place.clone(), e))?,
                        comp_dir: comp_dir.clone(),
                    };
                    let id = *file_ids.entry(f.clone()).or_insert_with(|| {
                        files.push(f);
                        (files.len() - 1) as u32
                    });
                    unit_files.insert(index, id);
                    id
                }
            };
            rows.push(LineRow {
                addr: row.address(),
                file,
                line,
            });
        }
    }
    Ok(SourceLines::new(files, sequences))
}

/// Where a unit failed to parse: its line program header (parsed with the unit) when that is
/// what fails on its own, else the unit.
fn unit_error_place(
    dwarf: &gimli::Dwarf<R<'_>>,
    header: &gimli::UnitHeader<R<'_>>,
    unit_off: usize,
) -> String {
    let unit_place = format!(".debug_info unit at {unit_off:#x}");
    let stmt_list = dwarf.abbreviations(header).ok().and_then(|abbrevs| {
        let mut entries = header.entries(&abbrevs);
        match entries.next_dfs() {
            Ok(Some(root)) => match root.attr_value(gimli::DW_AT_stmt_list) {
                Some(gimli::AttributeValue::DebugLineRef(off)) => Some(off),
                _ => None,
            },
            _ => None,
        }
    });
    match stmt_list {
        Some(off)
            if dwarf
                .debug_line
                .program(off, header.address_size(), None, None)
                .is_err() =>
        {
            format!(".debug_line program at {:#x} ({unit_place})", off.0)
        }
        _ => unit_place,
    }
}

fn in_code(image: &Image, addr: u64) -> bool {
    image
        .section_at(addr)
        .is_some_and(|s| s.kind == SectionKind::Code)
}

fn section_data<'d>(
    s: &object::Section<'d, '_>,
    name: &str,
    fmt: &'static str,
) -> Result<Cow<'d, [u8]>, Error> {
    let bad = |what: String| Error::malformed(fmt, Location::File, format!("{name}: {what}"));
    let c = s.compressed_data().map_err(|e| bad(e.to_string()))?;
    // Decompression allocates what the header claims: refuse absurd claims (a zlib stream
    // expands at most ~1032x; zstd more, but no real line table or .debug_info needs 4 GiB).
    if c.format != object::CompressionFormat::None
        && c.uncompressed_size > (c.data.len() as u64).saturating_mul(2048).min(1 << 32)
    {
        return Err(bad(format!(
            "compressed section claims {:#x} bytes uncompressed from {:#x}",
            c.uncompressed_size,
            c.data.len()
        )));
    }
    c.decompress().map_err(|e| bad(e.to_string()))
}

/// `dir/name` for a line-table file entry, relative to the unit's compilation directory when
/// relative. Directory 0 is the compilation directory itself (DWARF 5 repeats it; in DWARF 4 it
/// is implicit), so it is not joined again.
fn file_name(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    header: &gimli::LineProgramHeader<R<'_>>,
    entry: &gimli::FileEntry<R<'_>>,
) -> gimli::Result<String> {
    let name = lossy(&dwarf.attr_string(unit, entry.path_name())?)?;
    if entry.directory_index() == 0 {
        return Ok(name);
    }
    match entry.directory(header) {
        Some(dir) => Ok(join_path(&lossy(&dwarf.attr_string(unit, dir)?)?, &name)),
        None => Ok(name),
    }
}

fn lossy(r: &R<'_>) -> gimli::Result<String> {
    Ok(String::from_utf8_lossy(r.inner().slice()).into_owned())
}

/// Relocations of one debug section in a relocatable object, by section offset: the value a
/// field holds once linked. Targets get the addresses gloss laid their sections out at.
#[derive(Debug, Default)]
struct Relocs {
    fixes: HashMap<usize, Fix>,
    /// Set when a field read has a relocation gloss cannot apply: names it for the error.
    failed: RefCell<Option<String>>,
}

#[derive(Debug, Clone)]
enum Fix {
    /// `implicit`: the addend is stored in the field (REL, Mach-O), add to it; else replace.
    Value {
        add: u64,
        implicit: bool,
    },
    Unsupported(String),
}

impl Relocs {
    fn of<'d>(file: &object::File<'d>, s: &object::Section<'d, '_>, layout: &Layout) -> Relocs {
        let mut fixes = HashMap::new();
        for (off, r) in s.relocations() {
            let Ok(off) = usize::try_from(off) else {
                continue;
            };
            let describe = || {
                let kind = match r.flags() {
                    object::RelocationFlags::Elf { r_type } => format!("ELF type {r_type}"),
                    object::RelocationFlags::MachO { r_type, .. } => {
                        format!("Mach-O type {r_type}")
                    }
                    object::RelocationFlags::Coff { typ } => format!("COFF type {typ}"),
                    f => format!("{f:?}"),
                };
                format!("relocation ({kind}, {:?}) at offset {off:#x}", r.kind())
            };
            let target = match (r.kind(), r.target(), r.encoding()) {
                (RelocationKind::None, ..) => continue,
                (RelocationKind::Absolute, t, RelocationEncoding::Generic) => match t {
                    RelocationTarget::Symbol(i) => file.symbol_by_index(i).ok().map(|sym| {
                        let bias = sym.section_index().map_or(0, |si| layout.bias(si));
                        sym.address().wrapping_add(bias)
                    }),
                    RelocationTarget::Section(i) => file.section_by_index(i).ok().map(|sec| {
                        // References to debug sections are offsets into them, not addresses.
                        if sec.kind() == object::SectionKind::Debug {
                            0
                        } else {
                            sec.address().wrapping_add(layout.bias(i))
                        }
                    }),
                    _ => None,
                },
                _ => None,
            };
            let fix = match target {
                Some(t) => Fix::Value {
                    add: t.wrapping_add(r.addend() as u64),
                    implicit: r.has_implicit_addend(),
                },
                None => Fix::Unsupported(describe()),
            };
            fixes.insert(off, fix);
        }
        Relocs {
            fixes,
            failed: RefCell::new(None),
        }
    }

    fn apply(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        match self.fixes.get(&offset) {
            None => Ok(value),
            Some(Fix::Value { add, implicit }) => Ok(if *implicit {
                value.wrapping_add(*add)
            } else {
                *add
            }),
            Some(Fix::Unsupported(what)) => {
                self.failed.borrow_mut().get_or_insert_with(|| what.clone());
                Err(gimli::Error::UnsupportedOffset)
            }
        }
    }
}

impl gimli::Relocate for &Relocs {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        self.apply(offset, value)
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        let v = self.apply(offset, value as u64)?;
        usize::try_from(v).map_err(|_| gimli::Error::UnsupportedOffset)
    }
}
