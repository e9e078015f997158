use crate::{Addr, Arch, BinaryFacts, Format, SymbolTable};
use serde::Serialize;
use std::ops::Range;
use std::sync::Arc;

/// What a section holds, as far as the file says.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Code,
    Data,
    ReadOnlyData,
    /// Occupies memory but no file bytes (`.bss`, `__common`).
    Uninit,
    /// Debug info, notes, symbol tables: not loaded or not interesting to a listing.
    Other,
}

#[derive(Clone, Debug, Serialize)]
pub struct Section {
    pub name: String,
    pub addr: Addr,
    pub size: u64,
    pub kind: SectionKind,
    /// Range of the section's bytes within [`Image::bytes`]; `None` for uninitialised sections.
    #[serde(skip)]
    pub file_range: Option<Range<usize>>,
    pub file_offset: Option<u64>,
}

impl Section {
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.addr.0 && addr - self.addr.0 < self.size
    }
    pub fn end(&self) -> u64 {
        self.addr.0.saturating_add(self.size)
    }
}

/// A loadable segment (ELF program header, PE has none beyond sections, Mach-O `LC_SEGMENT_64`).
#[derive(Clone, Debug, Serialize)]
pub struct Segment {
    pub name: String,
    pub addr: Addr,
    pub size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// One imported function or object and the slot through which code reaches it.
#[derive(Clone, Debug, Serialize)]
pub struct Import {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// The GOT / IAT / `__got` / `__la_symbol_ptr` slot that holds the resolved address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<Addr>,
    /// The PLT entry or stub that jumps through the slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stub: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordinal: Option<u16>,
    /// PE delay-load import.
    pub delay: bool,
}

/// A relocation that names what bytes at `at` refer to (relocatable objects, `--emit-relocs`).
#[derive(Clone, Debug, Serialize)]
pub struct Reloc {
    pub at: Addr,
    /// Symbol name the relocation refers to.
    pub symbol: String,
    pub addend: i64,
    /// The format's relocation type number.
    pub r_type: u32,
    /// Where the named symbol or section lies (in gloss's layout for relocatable objects);
    /// `None` for a symbol defined in another file.
    #[serde(skip)]
    pub target: Option<Addr>,
}

impl Reloc {
    /// For an ELF relocation (only: COFF types have other numbers and in-field addends) of a
    /// data field (not an instruction): the value a linker writes
    /// there and the field's size in bytes, `S + A` or `S + A - P` by the x86-64 psABI and the
    /// AArch64 ELF ABI. `None` for instruction fields, GOT/TLS forms and undefined symbols.
    pub fn data_value(&self, arch: crate::Arch) -> Option<(u64, u8)> {
        let sa = self.target?.0.wrapping_add(self.addend as u64);
        let rel = sa.wrapping_sub(self.at.0);
        match (arch, self.r_type) {
            (crate::Arch::X86_64, 1) => Some((sa, 8)),  // R_X86_64_64
            (crate::Arch::X86_64, 2) => Some((rel, 4)), // R_X86_64_PC32
            (crate::Arch::X86_64, 10 | 11) => Some((sa, 4)), // R_X86_64_32, 32S
            (crate::Arch::X86_64, 24) => Some((rel, 8)), // R_X86_64_PC64
            (crate::Arch::Aarch64, 257) => Some((sa, 8)), // R_AARCH64_ABS64
            (crate::Arch::Aarch64, 258) => Some((sa, 4)), // ABS32
            (crate::Arch::Aarch64, 259) => Some((sa, 2)), // ABS16
            (crate::Arch::Aarch64, 260) => Some((rel, 8)), // PREL64
            (crate::Arch::Aarch64, 261) => Some((rel, 4)), // PREL32
            (crate::Arch::Aarch64, 262) => Some((rel, 2)), // PREL16
            _ => None,
        }
    }
}

/// A loaded binary: everything later layers need, with the file's bytes owned by the image so
/// sections are plain ranges (zero-copy without lifetimes).
pub struct Image {
    pub format: Format,
    pub arch: Arch,
    pub entry: Option<Addr>,
    pub sections: Vec<Section>,
    pub segments: Vec<Segment>,
    pub symbols: SymbolTable,
    pub imports: Vec<Import>,
    pub relocs: Vec<Reloc>,
    /// A linked ELF's `R_*_RELATIVE` dynamic relocations: each slot and the pointer it holds
    /// once loaded (at the file's addresses), sorted by slot. ld.lld leaves such fields zero in
    /// the file and keeps the value only here.
    pub relative: Vec<(Addr, u64)>,
    pub facts: BinaryFacts,
    /// AArch64 mapping symbols (`$x` code, `$d` data), sorted: `(address, is_data)`. Listings
    /// show data runs inside code sections as data, never as decoded junk.
    pub mapping: Vec<(Addr, bool)>,
    /// Set for relocatable objects: section addresses were assigned by gloss, not the file.
    pub synthetic_layout: bool,
    /// Short description of the file kind, e.g. "ELF64 PIE executable".
    pub kind: String,
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    /// Relocatable objects: the file with every relocation it can apply written into place, as
    /// a linker would at gloss's layout (see [`Image::loaded_bytes`]).
    loaded: Option<Arc<[u8]>>,
    /// Imports by slot and by stub address, built on the first lookup (after loading).
    import_index: std::sync::OnceLock<ImportIndex>,
}

#[derive(Clone, Debug, Default)]
struct ImportIndex {
    by_slot: std::collections::HashMap<u64, usize>,
    by_stub: std::collections::HashMap<u64, usize>,
}

impl Image {
    pub fn new(format: Format, arch: Arch, bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Image {
        Image {
            format,
            arch,
            entry: None,
            sections: Vec::new(),
            segments: Vec::new(),
            symbols: SymbolTable::default(),
            imports: Vec::new(),
            relocs: Vec::new(),
            relative: Vec::new(),
            facts: BinaryFacts::default(),
            mapping: Vec::new(),
            synthetic_layout: false,
            kind: String::new(),
            bytes,
            loaded: None,
            import_index: std::sync::OnceLock::new(),
        }
    }

    fn import_index(&self) -> &ImportIndex {
        self.import_index.get_or_init(|| {
            let mut ix = ImportIndex::default();
            for (i, imp) in self.imports.iter().enumerate() {
                if let Some(s) = imp.slot {
                    ix.by_slot.entry(s.0).or_insert(i);
                }
                if let Some(s) = imp.stub {
                    ix.by_stub.entry(s.0).or_insert(i);
                }
            }
            ix
        })
    }

    /// The import whose slot (GOT, IAT, lazy pointer) is at `a`, by index into `imports`.
    /// Indexed on the first call: loaders fill `imports` before anything asks.
    pub fn import_by_slot(&self, a: u64) -> Option<usize> {
        self.import_index().by_slot.get(&a).copied()
    }

    /// The import whose stub (PLT entry, thunk) is at `a`, by index into `imports`.
    pub fn import_by_stub(&self, a: u64) -> Option<usize> {
        self.import_index().by_stub.get(&a).copied()
    }

    /// Sets the relocated copy of the file (same length and offsets as the file).
    pub fn set_loaded(&mut self, bytes: Vec<u8>) {
        if bytes.len() == self.bytes().len() {
            self.loaded = Some(bytes.into());
        }
    }

    /// A section's bytes as the program would see them in memory: for relocatable objects with
    /// relocations applied at gloss's layout, else the file's bytes. Analysis reads these; the
    /// listing shows the file's own bytes, as objdump does.
    pub fn loaded_bytes(&self, s: &Section) -> &[u8] {
        match (&self.loaded, &s.file_range) {
            (Some(l), Some(r)) => l.get(r.clone()).unwrap_or(&[]),
            _ => self.section_bytes(s),
        }
    }

    /// Reads `len` bytes at a virtual address as the program would see them.
    pub fn read_loaded(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.read_in(addr, len, Image::loaded_bytes)
    }

    /// The little-endian number in the `size` (1 to 8) bytes at `addr`, as
    /// [`Image::read_loaded`] gives them.
    pub fn read_loaded_uint(&self, addr: u64, size: usize) -> Option<u64> {
        if !(1..=8).contains(&size) {
            return None;
        }
        let b = self.read_loaded(addr, size)?;
        let mut v = [0u8; 8];
        v[..size].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    }

    /// Up to `max` bytes at `addr`, as [`Image::read_loaded`] gives them, fewer where its
    /// section ends; empty outside sections.
    pub fn read_loaded_upto(&self, addr: u64, max: usize) -> &[u8] {
        self.section_at(addr)
            .and_then(|s| {
                let len = usize::try_from(s.end() - addr).map_or(max, |n| n.min(max));
                self.read_loaded(addr, len)
            })
            .unwrap_or(&[])
    }

    /// `len` bytes at `addr` of the section's bytes as `bytes` gives them.
    fn read_in<'a>(
        &'a self,
        addr: u64,
        len: usize,
        bytes: impl Fn(&'a Image, &'a Section) -> &'a [u8],
    ) -> Option<&'a [u8]> {
        let s = self.section_at(addr)?;
        let off = usize::try_from(addr - s.addr.0).ok()?;
        bytes(self, s).get(off..off.checked_add(len)?)
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// The file bytes of a section (empty for uninitialised ones).
    pub fn section_bytes(&self, s: &Section) -> &[u8] {
        match &s.file_range {
            Some(r) => self.bytes().get(r.clone()).unwrap_or(&[]),
            None => &[],
        }
    }

    pub fn section_at(&self, addr: u64) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.kind != SectionKind::Other && s.contains(addr))
    }

    /// Reads `len` bytes at a virtual address, if the file holds them.
    pub fn read_at(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.read_in(addr, len, Image::section_bytes)
    }

    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        self.read_at(addr, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    /// The pointer the program finds in the 8 bytes at `addr` once loaded (at the file's
    /// addresses): an `R_*_RELATIVE` relocation's value, else the bytes as
    /// [`Image::read_loaded`] gives them (PE and non-PIE files hold link-time addresses).
    /// `None` where the bytes are no address: Mach-O chained fixups encode them.
    pub fn pointer_at(&self, addr: u64) -> Option<u64> {
        if let Ok(i) = self.relative.binary_search_by_key(&addr, |r| r.0.0) {
            return Some(self.relative[i].1);
        }
        if self.facts.macho.as_ref().is_some_and(|m| m.chained_fixups) {
            return None;
        }
        self.read_loaded_uint(addr, 8)
    }

    /// Whether `addr` lies in a `$d` run of the mapping symbols.
    pub fn is_mapped_data(&self, addr: u64) -> bool {
        let i = self.mapping.partition_point(|(a, _)| a.0 <= addr);
        i > 0 && self.mapping[i - 1].1
    }

    /// The next mapping-symbol boundary after `addr`, if any.
    pub fn next_mapping_change(&self, addr: u64) -> Option<u64> {
        let i = self.mapping.partition_point(|(a, _)| a.0 <= addr);
        self.mapping.get(i).map(|(a, _)| a.0)
    }

    /// Whether a symbol in a code section names data, not code: ELF types its symbols, so an
    /// object symbol there is a table; COFF's untyped labels (MinGW's `___chkstk_ms`) are not.
    pub fn is_data_symbol(&self, s: &crate::Symbol) -> bool {
        self.format == Format::Elf && s.kind == crate::SymbolKind::Object
    }

    /// The symbol a user means by `name`: the raw or demangled name, or the Mach-O C name
    /// with its leading underscore.
    pub fn symbol_named(&self, name: &str) -> Option<&crate::Symbol> {
        self.symbols
            .by_name(name)
            .or_else(|| self.symbols.by_name(&format!("_{name}")))
    }

    pub fn code_sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.kind == SectionKind::Code)
    }

    pub fn code_bytes(&self) -> u64 {
        self.code_sections()
            .fold(0u64, |n, s| n.saturating_add(s.size))
    }
}
