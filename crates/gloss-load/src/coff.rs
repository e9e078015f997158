//! COFF object files (`.obj` from MSVC, clang-cl and `clang --target=*-windows-msvc -c`), x64
//! and ARM64, in the regular and the big-object (`/bigobj`, `-Wa,-mbig-obj`: more than 65279
//! sections) layout: sections laid out by gloss as a linker would, COFF symbols, relocations
//! shown on the instructions they patch and applied for the analysis (`relocate.rs`).
use crate::common::{self, Layout};
use gloss_core::{Arch, Error, Format, Image, SymbolSource, SymbolTable};
use object::Object;
use object::pe as p;
use object::read::coff::{CoffFile, CoffHeader};
use std::sync::Arc;

pub(crate) fn load(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    load_as::<p::ImageFileHeader>(bytes, "COFF")
}

/// A big-object COFF file: the same sections, symbols and relocations behind another header
/// and 32-bit section numbers.
pub(crate) fn load_big(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Result<Image, Error> {
    load_as::<p::AnonObjectHeaderBigobj>(bytes, "big-object COFF")
}

fn load_as<H: CoffHeader>(
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    format: &'static str,
) -> Result<Image, Error> {
    let data: &[u8] = (*bytes).as_ref();
    let file = CoffFile::<&[u8], H>::parse(data).map_err(|e| common::malformed(format, e))?;
    let arch = match file.coff_header().machine() {
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
    // A function's size here is its auxiliary record's TotalSize, which compilers mostly leave
    // 0 and GNU as writes as 1 in big objects: each symbol runs to the next one instead, as
    // objdump and llvm-objdump take it.
    for s in &mut syms {
        s.size = 0;
    }
    common::infer_sizes(&mut syms, &img.sections);
    img.symbols = SymbolTable::new(syms);
    img.relocs = common::relocations(&file, &layout, false);
    img.kind = format!(
        "{format} object ({})",
        if arch == Arch::X86_64 { "x64" } else { "ARM64" }
    );
    if let Some(loaded) = crate::relocate::apply(&img) {
        img.set_loaded(loaded);
    }
    Ok(img)
}
