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

/// One instruction's semantics: its operation and whether it also sets the condition flags
/// (x86 `add`, AArch64 `adds`), so a compare is only trusted if nothing overwrote the flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sem {
    pub op: Op,
    pub writes_flags: bool,
}

impl Sem {
    pub const NONE: Sem = Sem {
        op: Op::None,
        writes_flags: false,
    };
    pub fn op(op: Op) -> Sem {
        Sem {
            op,
            writes_flags: false,
        }
    }
}
