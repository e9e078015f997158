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
///
/// `atomic`, `alu` and `reg_branch` are facts for idiom recognizers that [`Op`] does not carry;
/// they never change what `op` says (an instruction they describe keeps its `Load`, `Store` or
/// `Clobber`), so register analyses can ignore them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sem {
    pub op: Op,
    pub writes_flags: bool,
    /// The flags equal those of comparing the register's old value with the immediate (at the
    /// width): AArch64 `subs w0, w0, #k` is `cmp w0, #k`, `adds w0, w0, #k` is `cmn w0, #k`;
    /// x86 `sub $k,%eax` is `cmp $k,%eax`.
    pub flags_as_compare: Option<(Reg, i64, u8)>,
    /// Base register write-back of pre/post-indexed addressing: `base += offset` (after the
    /// access; a pre-indexed access already used the new address). AArch64 offsets are 9-bit,
    /// or 7-bit scaled by at most 16: an `i32` keeps `Sem` small.
    pub writeback: Option<(Reg, i32)>,
    /// The instruction is atomic or orders memory (exclusive load/store, LSE, `lock`, `xchg`,
    /// acquire/release access, barrier).
    pub atomic: Option<Atomic>,
    /// Arithmetic that `op` only clobbers: `neg`, `mvn`/`not`, `bic`, x86 ALU operations with a
    /// memory source (`or -0x4(%rbp),%edx`).
    pub alu: Option<Alu>,
    /// AArch64 `cbz`/`cbnz`/`tbz`/`tbnz`: the branch tests a register, not the flags.
    pub reg_branch: Option<RegBranch>,
    /// x86: a memory operand at a constant address (RIP-relative, made absolute, or absolute)
    /// that `op` does not model (neither `Load`, `Store`, `Addr` nor `CompareMem`: `add
    /// 0x10(%rip),%eax`, `addl $1,0x404418`, `movss %xmm0,0x10(%rip)`): the address, and
    /// whether the instruction writes it (`true`) or only reads it. (The address alone, not a
    /// whole `Mem`: `Sem` is made for every instruction.)
    pub unmodelled_mem: Option<(u64, bool)>,
    /// The general registers an instruction whose `op` is [`Op::None`] or [`Op::Clobber`]
    /// reads (a mask of [`Reg::bit`]s; branches and calls excepted): what a function's
    /// parameters are is read from them too (`cvtsi2sd %edi,%xmm0`, `cbz x0`, `fmov d0, x1`).
    /// Empty for the other ops, whose operands say what they read. (32 bits: the general
    /// registers are 0-31, and `Sem` is made for every instruction.)
    pub reads: u32,
}

impl Sem {
    pub const NONE: Sem = Sem {
        op: Op::None,
        writes_flags: false,
        flags_as_compare: None,
        writeback: None,
        atomic: None,
        alu: None,
        reg_branch: None,
        unmodelled_mem: None,
        reads: 0,
    };
    pub fn op(op: Op) -> Sem {
        Sem { op, ..Sem::NONE }
    }
}

/// An atomic or memory-ordering instruction, as the idiom recognizers need it: what it does
/// (`kind`, with the registers involved), how many bytes it accesses, and its ordering bits.
/// The memory operand itself stays in [`Sem::op`] where the lowering models it; `base` names the
/// register that holds the address (AArch64 `[xN]`, an x86 base register; `None` for x86
/// RIP-relative or absolute operands).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Atomic {
    pub kind: AtomicKind,
    /// Bytes accessed (1, 2, 4, 8; 16 for pairs and `cmpxchg16b`); 0 for a barrier.
    pub size: u8,
    /// Acquire semantics: AArch64 `ldaxr`, `ldar`, `ldapr`, LSE `a`/`al` forms. x86 locked
    /// instructions and `xchg` are full barriers: both bits set.
    pub acquire: bool,
    /// Release semantics: AArch64 `stlxr`, `stlr`, LSE `l`/`al` forms; x86 as for `acquire`.
    pub release: bool,
    pub base: Option<Reg>,
}

/// What an atomic instruction does. A register field is `None` for the zero register (and, for
/// x86 sources, for an immediate operand).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AtomicKind {
    /// `ldxr`/`ldaxr` (and `ldxp`: `dst` is the first register): loads and opens an exclusive
    /// monitor on the address.
    LoadExclusive { dst: Option<Reg> },
    /// `stxr`/`stlxr` (and `stxp`: `src` is the first register): stores `src` if the monitor
    /// still holds; `status` becomes 0 on success, 1 on failure.
    StoreExclusive { status: Reg, src: Option<Reg> },
    /// One-instruction read-modify-write `memory := memory op src`: AArch64 LSE `ldadd`,
    /// `ldclr`, `ldeor`, `ldset`, `ld{s,u}{max,min}` (`old` receives the old value; `st*`
    /// aliases have none), x86 `lock add/sub/or/and/xor/inc/dec/bts/btr/btc` (no old value)
    /// and `lock xadd` (old value into `old`, which is also `src`).
    Rmw {
        op: RmwOp,
        src: Option<Reg>,
        old: Option<Reg>,
    },
    /// `swp` / x86 `xchg` with memory: `old := memory; memory := src`.
    Swap { src: Option<Reg>, old: Option<Reg> },
    /// `cas` / x86 `lock cmpxchg`: if memory equals `expected`, memory := `new`; `expected`
    /// receives the old value either way (x86: `expected` is rax; `cmpxchg8b/16b` and `casp`
    /// name the first register of their pairs).
    Cas {
        expected: Option<Reg>,
        new: Option<Reg>,
    },
    /// `ldar` (`rcpc: false`, sequentially consistent acquire) or `ldapr`/`ldapur`
    /// (`rcpc: true`, acquire only).
    LoadAcquire { dst: Option<Reg>, rcpc: bool },
    /// `stlr`/`stlur`.
    StoreRelease { src: Option<Reg> },
    /// A barrier: `dmb`, x86 `mfence`/`sfence`, and x86 locked no-ops on the stack
    /// (`lock orq $0,(%rsp)`, whose only effect is a full barrier; `size` is its access size).
    Fence(Barrier),
    /// `clrex`: drops the exclusive monitor (compare-exchange failure paths).
    ClearExclusive,
}

/// The operation of a one-instruction atomic read-modify-write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RmwOp {
    Add,
    /// x86 `lock sub`/`lock dec` (AArch64 subtracts by adding a negated value).
    Sub,
    Or,
    And,
    Xor,
    /// `memory & !src`: AArch64 `ldclr`, x86 `lock btr`.
    AndNot,
    SMax,
    SMin,
    UMax,
    UMin,
}

/// What a barrier orders.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Barrier {
    /// Every earlier access against every later one: `dmb ish`/`dmb sy`, `mfence`, a locked
    /// no-op.
    Full,
    /// Earlier loads against later loads and stores: `dmb ishld` (an acquire fence).
    Load,
    /// Earlier stores against later stores: `dmb ishst`, `sfence` (no C11 fence is this).
    Store,
}

/// Arithmetic whose register effect [`Op`] does not model (it is a [`Op::Clobber`] of `dst`):
/// `dst := op(a, ..)`, with `a` the register operand read first (`None`: the zero register).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Alu {
    pub op: AluOp,
    pub dst: Reg,
    pub a: Option<Reg>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AluOp {
    /// `dst := -a` (`neg`).
    Neg,
    /// `dst := !a` (`mvn`, x86 `not`).
    Not,
    /// `dst := a & !b` (`bic`).
    AndNot,
    /// `dst := a op memory` (x86 `or -0x4(%rbp),%edx`: `a` is `dst`).
    WithMem(BinOp),
}

/// A branch on a register: `cbz`/`cbnz` (`bit: None`) or `tbz`/`tbnz` (`bit: Some(n)`), taken
/// when the register (bit) is non-zero if `nonzero`, zero otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RegBranch {
    pub reg: Reg,
    pub bit: Option<u8>,
    pub nonzero: bool,
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

#[cfg(test)]
mod tests {
    #[test]
    fn sem_stays_small() {
        // Sem is made for every instruction the idioms read. 96 bytes before the recognizer
        // facts (atomic 10, alu 4, reg_branch 4, unmodelled_mem 16) were added, 112 before
        // `reads` (4, and 4 of alignment).
        let n = std::mem::size_of::<super::Sem>();
        assert!(n <= 120, "Sem grew to {n}");
    }
}
