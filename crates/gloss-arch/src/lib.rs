//! gloss-arch: the only crate that names decoder types. Each architecture adapts its decoder to
//! [`gloss_core::Disassembler`]: decode into a small `Insn` (flow, PC-relative reference), and
//! format text in the syntax objdump/llvm-objdump readers expect.

pub mod aarch64;
mod short;
pub mod x86_64;

use gloss_core::{Arch, Disassembler};

/// The decoder for an architecture.
pub fn disassembler(arch: Arch) -> &'static dyn Disassembler {
    match arch {
        Arch::X86_64 => &x86_64::X86_64,
        Arch::Aarch64 => &aarch64::Aarch64,
    }
}
