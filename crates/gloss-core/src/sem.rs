//! What an instruction does to the general-purpose registers, in the small vocabulary the
//! analyses need (jump tables, address materialisation, call arguments, virtual calls).
//!
//! Decoders lower what they understand into [`Op`]; anything else that writes registers is an
//! [`Op::Clobber`] so that no analysis keeps a stale value. PC-relative operands arrive already
//! resolved to absolute addresses (`adrp x0, page` is `Set x0 = Imm(page)`).

/// A general-purpose register, numbered per architecture: x86-64 0..=15 in encoding order
/// (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15); AArch64 0..=30 for x0..x30 and 31 for sp
/// (the zero register is never a `Reg`: reads of it are `Imm(0)`, writes are dropped).
/// Widths belong to the operation, not the register.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    /// Bit of this register in a clobber mask.
    pub fn bit(self) -> u64 {
        1u64 << (self.0 & 63)
    }
}

/// How a source register is narrowed before use: AArch64 `uxtb`/`sxtw` operands, x86
/// `movzbl`/`movslq` sources. `bits == 64` means the full register.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ext {
    pub bits: u8,
    pub signed: bool,
}

impl Ext {
    pub const NONE: Ext = Ext {
        bits: 64,
        signed: false,
    };
    pub fn zero(bits: u8) -> Ext {
        Ext {
            bits,
            signed: false,
        }
    }
    pub fn sign(bits: u8) -> Ext {
        Ext { bits, signed: true }
    }
}

/// A register read after extension then left shift: `w1, sxtb #2` is
/// `Src { reg: 1, ext: sign(8), shift: 2 }`, an x86 index `(,%rax,8)` is `shift: 3`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Src {
    pub reg: Reg,
    pub ext: Ext,
    pub shift: u8,
}

impl Src {
    pub fn reg(reg: Reg) -> Src {
        Src {
            reg,
            ext: Ext::NONE,
            shift: 0,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Value {
    Reg(Src),
    Imm(i64),
}

/// `base + index + disp`; a PC-relative operand has no base and its absolute address in `disp`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mem {
    pub base: Option<Reg>,
    pub index: Option<Src>,
    pub disp: i64,
}

/// Condition codes, named as AArch64 names them; x86 maps onto them (`ja` = `Hi`, `jae` = `Hs`,
/// `jb` = `Lo`, `jbe` = `Ls`, `jg` = `Gt`, `js` = `Mi`, `jo` = `Vs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cond {
    Eq,
    Ne,
    Hs,
    Lo,
    Mi,
    Pl,
    Vs,
    Vc,
    Hi,
    Ls,
    Ge,
    Lt,
    Gt,
    Le,
    /// Parity and other conditions no analysis reasons about.
    Other,
}

impl Cond {
    pub fn negate(self) -> Cond {
        use Cond::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Hs => Lo,
            Lo => Hs,
            Mi => Pl,
            Pl => Mi,
            Vs => Vc,
            Vc => Vs,
            Hi => Ls,
            Ls => Hi,
            Ge => Lt,
            Lt => Ge,
            Gt => Le,
            Le => Gt,
            Other => Other,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    And,
    Or,
    Xor,
    Shl,
    Lsr,
    Asr,
    Ror,
}

/// The register effect of one instruction. `width` is the operation size in bits; a 32-bit
/// result is zero-extended into the 64-bit register on both architectures (x86 8/16-bit writes,
/// which keep the upper bits, are lowered as [`Op::Clobber`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// No effect on general-purpose registers (nop, hint, fence, direct branch, store-free).
    None,
    /// `dst := src` (move, constant, address, extension, shifted copy).
    Set { dst: Reg, src: Value, width: u8 },
    /// `dst := a op b`.
    Bin {
        op: BinOp,
        dst: Reg,
        a: Reg,
        b: Value,
        width: u8,
    },
    /// `dst := memory[mem]` of `size` bytes, zero- or sign-extended to `width`.
    Load {
        dst: Reg,
        mem: Mem,
        size: u8,
        signed: bool,
        width: u8,
    },
    /// `memory[mem] := src` of `size` bytes.
    Store { src: Value, mem: Mem, size: u8 },
    /// `dst := mem` as an address, without reading memory (x86 `lea`).
    Addr { dst: Reg, mem: Mem, width: u8 },
    /// Flags from comparing `size` bytes of memory with `b` (x86 `cmpl $0xc,(%rdi)`).
    CompareMem { mem: Mem, size: u8, b: Value },
    /// `dst := dst` with the 16 bits at `shift` replaced by `imm` (AArch64 `movk`).
    Insert {
        dst: Reg,
        imm: u16,
        shift: u8,
        width: u8,
    },
    /// Flags from `a - b` (`cmp`, `subs` into the zero register) or `a & b` when `test`.
    Compare {
        a: Reg,
        b: Value,
        width: u8,
        test: bool,
    },
    /// `dst := cond ? a : b` (`csel`, `cmov` where `b` is the old `dst`).
    Select {
        dst: Reg,
        cond: Cond,
        a: Value,
        b: Value,
        width: u8,
    },
    /// Conditional branch on flags.
    Branch { cond: Cond },
    /// Indirect jump or call through a register or a memory slot of `size` bytes.
    Indirect { target: Target },
    /// Writes the registers of the mask in ways not modelled.
    Clobber(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Reg(Reg),
    Mem(Mem),
}

/// One instruction's semantics: its operation, whether it also sets the condition flags (x86
/// `add`, AArch64 `adds`), so a compare is only trusted if nothing overwrote the flags, and the
/// side effects some addressing modes and flag-setting arithmetic add.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sem {
    pub op: Op,
    pub writes_flags: bool,
    /// The flags equal those of comparing the register's old value with the immediate (at the
    /// width): AArch64 `subs w0, w0, #k` is `cmp w0, #k`, `adds w0, w0, #k` is `cmn w0, #k`.
    pub flags_as_compare: Option<(Reg, i64, u8)>,
    /// Base register write-back of pre/post-indexed addressing: `base += offset` (after the
    /// access; a pre-indexed access already used the new address).
    pub writeback: Option<(Reg, i64)>,
}

impl Sem {
    pub const NONE: Sem = Sem {
        op: Op::None,
        writes_flags: false,
        flags_as_compare: None,
        writeback: None,
    };
    pub fn op(op: Op) -> Sem {
        Sem { op, ..Sem::NONE }
    }
}

const X86_64_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const X86_32_NAMES: [&str; 16] = [
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d",
];
const A64_X_NAMES: [&str; 32] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "sp",
];
const A64_W_NAMES: [&str; 32] = [
    "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10", "w11", "w12", "w13", "w14",
    "w15", "w16", "w17", "w18", "w19", "w20", "w21", "w22", "w23", "w24", "w25", "w26", "w27",
    "w28", "w29", "w30", "wsp",
];

impl Reg {
    /// The register's name at a width (64, else the 32-bit name), as the listing spells it.
    pub fn name(self, arch: crate::Arch, width: u8) -> &'static str {
        let i = self.0 as usize;
        let names: &[&'static str] = match (arch, width >= 64) {
            (crate::Arch::X86_64, true) => &X86_64_NAMES,
            (crate::Arch::X86_64, false) => &X86_32_NAMES,
            (crate::Arch::Aarch64, true) => &A64_X_NAMES,
            (crate::Arch::Aarch64, false) => &A64_W_NAMES,
        };
        names.get(i).copied().unwrap_or("?")
    }
}
