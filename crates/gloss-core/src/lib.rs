//! gloss-core: the data model every other gloss crate speaks.
//!
//! Layer 0: no I/O, no decoder or file-format types. Loaders (`gloss-load`) produce an [`Image`],
//! decoders (`gloss-arch`) implement [`Disassembler`], analyses and renderers consume both.

mod addr;
mod arch;
mod error;
mod facts;
pub mod hex;
mod hint;
mod image;
mod insn;
pub mod sem;
mod source;
mod symbol;

pub use addr::Addr;
pub use arch::{Arch, Format, Syntax};
pub use error::{Error, Location};
pub use facts::{
    BinaryFacts, ElfFacts, GnuProperty, LoadConfig, MachOFacts, PE_DLL_CHARACTERISTICS, PeFacts,
    Relro,
};
pub use hint::{FunctionHint, HintSource};
pub use image::{Image, Import, Reloc, Section, SectionKind, Segment};
pub use insn::{Disassembler, EachRun, Flow, Insn, InsnStatus, InsnText, OpDecoder, Symbolizer};
pub use sem::Sem;
pub use source::{
    LineRow, LineSequence, SourceFile, SourceLines, SourceLoc, is_absolute_path, join_path,
};
pub use symbol::{Label, Symbol, SymbolKind, SymbolSource, SymbolTable};
