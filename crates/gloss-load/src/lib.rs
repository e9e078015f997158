//! gloss-load: turns file bytes into a [`gloss_core::Image`].
//!
//! The common part (sections, symbols, relocations) goes through `object`'s format-independent
//! API; each format module adds what only it has: ELF PLT/GOT names and hardening notes, PE
//! imports, load config and DllCharacteristics, Mach-O stubs and function starts. `dwarf.rs`
//! reads DWARF line tables, only when asked ([`source_lines`]), from the image or from its
//! separate debug file (`debug_file.rs`).

mod coff;
mod common;
mod debug_file;
mod demangle;
mod dwarf;
mod elf;
mod hints;
mod macho;
mod pe;
mod raw;
mod relocate;
mod thunks;

pub use debug_file::DebugLink;
pub use demangle::demangle;
pub use dwarf::{source_lines, source_lines_in};
pub use hints::{Hints, function_hints};
pub use raw::load_raw;

use gloss_core::{Error, Image, Location};
use object::FileKind;
use std::sync::Arc;

/// Loads an image from a file's bytes.
pub fn load(bytes: Vec<u8>) -> Result<Image, Error> {
    let bytes: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
    load_shared(bytes)
}

/// Loads an image from shared bytes (e.g. a memory map).
pub fn load_shared(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    let data: &[u8] = (*bytes).as_ref();
    let kind = FileKind::parse(data).map_err(|_| unknown_format(data))?;
    match kind {
        FileKind::Elf64 => elf::load(bytes.clone()),
        FileKind::Elf32 => Err(Error::Unsupported(format!(
            "32-bit ELF ({}); gloss decodes x86-64 and AArch64",
            common::elf32_machine(data)
        ))),
        FileKind::Pe64 => pe::load(bytes.clone()),
        FileKind::Pe32 => Err(Error::Unsupported(
            "32-bit PE (PE32); gloss decodes x86-64 and ARM64 PE32+".into(),
        )),
        FileKind::MachO64 => macho::load(bytes.clone(), 0..data.len()),
        FileKind::MachO32 => Err(Error::Unsupported(
            "32-bit Mach-O; gloss decodes x86_64 and arm64".into(),
        )),
        FileKind::MachOFat32 | FileKind::MachOFat64 => macho::load_fat(bytes.clone()),
        FileKind::Coff => coff::load(bytes.clone()),
        FileKind::CoffBig => coff::load_big(bytes.clone()),
        FileKind::CoffImport => Err(Error::Unsupported(
            "COFF short import library member: it holds a name, no code".into(),
        )),
        other => Err(Error::Unsupported(format!(
            "{other:?} files are not supported"
        ))),
    }
}

fn unknown_format(data: &[u8]) -> Error {
    if data.is_empty() {
        return Error::malformed("input", Location::File, "the file is empty");
    }
    let magic: Vec<String> = data.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Error::Unsupported(format!(
        "not an ELF, PE or Mach-O file (starts with {}); use --raw --arch ARCH to decode bare bytes",
        magic.join(" ")
    ))
}
