use serde::Serialize;
use std::fmt;

/// Instruction set of an image or a raw byte buffer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// Alignment and minimum length of one instruction.
    pub fn min_insn_len(self) -> u8 {
        match self {
            Arch::X86_64 => 1,
            Arch::Aarch64 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Parses the names users type (`x86_64`, `x86-64`, `amd64`, `aarch64`, `arm64`).
    pub fn parse(s: &str) -> Option<Arch> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "amd64" | "x64" => Some(Arch::X86_64),
            "aarch64" | "arm64" | "a64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Container format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Elf,
    Pe,
    MachO,
    Raw,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Elf => "ELF",
            Format::Pe => "PE",
            Format::MachO => "Mach-O",
            Format::Raw => "raw",
        })
    }
}

/// Assembly syntax for x86-64 listings (AArch64 has one standard syntax).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Syntax {
    /// AT&T, as objdump and gdb print by default.
    #[default]
    Att,
    Intel,
}
