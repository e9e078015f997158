//! COFF object files (`.obj` from MSVC, clang-cl and `clang --target=*-windows-msvc -c`), x64
//! and ARM64: sections laid out by gloss as a linker would, COFF symbols, relocations shown on
//! the instructions they patch and applied for the analysis (`relocate.rs`).
use crate::common::{self, Layout};
use gloss_core::{Arch, Error, Format, Image, SymbolSource, SymbolTable};
use object::pe as p;
use object::read::coff::CoffFile;
use object::{LittleEndian as LE, Object};
use std::sync::Arc;

pub(crate) fn load(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    let data: &[u8] = (*bytes).as_ref();
    let file = CoffFile::<&[u8]>::parse(data).map_err(|e| common::malformed("COFF", e))?;
    let arch = match file.coff_header().machine.get(LE) {
        p::IMAGE_FILE_MACHINE_AMD64 => Arch::X86_64,
        p::IMAGE_FILE_MACHINE_ARM64 => Arch::Aarch64,
        m => {
            return Err(Error::Unsupported(format!(
                "COFF object for machine {m:#06x}; gloss decodes x64 and ARM64"
            )));
        }
    };
    let layout = Layout::new(&file, true);
    let mut img = Image::new(Format::Pe, arch, bytes.clone());
    img.synthetic_layout = true;
    img.sections = common::sections(&file, &layout, 0, data.len());
    let mut mapping = Vec::new();
    let mut syms = common::symbols(file.symbols(), &layout, SymbolSource::Coff, &mut mapping);
    common::infer_sizes(&mut syms, &img.sections);
    img.symbols = SymbolTable::new(syms);
    img.relocs = common::relocations(&file, &layout, false);
    img.kind = format!(
        "COFF object ({})",
        if arch == Arch::X86_64 { "x64" } else { "ARM64" }
    );
    if let Some(loaded) = crate::relocate::apply(&img) {
        img.set_loaded(loaded);
    }
    Ok(img)
}
