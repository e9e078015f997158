//! x86-64 instructions lowered to [`gloss_core::sem`]: the moves, arithmetic, loads, compares
//! and branches that compilers use to compute addresses, switch indices and call arguments.
//! Everything else that writes a general register (found through iced's instruction info) is a
//! clobber, so analyses never keep a stale value.
use gloss_core::sem::{
    Alu, AluOp, Atomic, AtomicKind, Barrier, BinOp, Cond, Ext, Mem, Op, Reg, RmwOp, Sem, Src,
    Target, Value,
};
use iced_x86::Instruction;
use iced_x86::{
    ConditionCode, InstructionInfoFactory, InstructionInfoOptions, Mnemonic, OpAccess, OpKind,
    Register,
};
use std::cell::RefCell;

/// The 64-bit register a general-purpose register belongs to (`%dil` -> rdi = 7).
fn gpr(r: Register) -> Option<Reg> {
    if !r.is_gpr() {
        return None;
    }
    let full = r.full_register();
    Some(Reg(full.number() as u8))
}

fn bits(r: Register) -> u8 {
    (r.size() * 8) as u8
}

fn cond(c: ConditionCode) -> Cond {
    match c {
        ConditionCode::o => Cond::Vs,
        ConditionCode::no => Cond::Vc,
        ConditionCode::b => Cond::Lo,
        ConditionCode::ae => Cond::Hs,
        ConditionCode::e => Cond::Eq,
        ConditionCode::ne => Cond::Ne,
        ConditionCode::be => Cond::Ls,
        ConditionCode::a => Cond::Hi,
        ConditionCode::s => Cond::Mi,
        ConditionCode::ns => Cond::Pl,
        ConditionCode::l => Cond::Lt,
        ConditionCode::ge => Cond::Ge,
        ConditionCode::le => Cond::Le,
        ConditionCode::g => Cond::Gt,
        _ => Cond::Other,
    }
}

/// The memory operand; RIP-relative ones become absolute (`base: None`).
fn mem(i: &Instruction) -> Option<Mem> {
    if i.is_ip_rel_memory_operand() {
        return Some(Mem {
            base: None,
            index: None,
            disp: i.ip_rel_memory_address() as i64,
        });
    }
    if i.segment_prefix() == Register::FS || i.segment_prefix() == Register::GS {
        return None; // thread-local or per-CPU: not an address in the image
    }
    let base = match i.memory_base() {
        Register::None => None,
        r => Some(gpr(r)?),
    };
    let index = match i.memory_index() {
        Register::None => None,
        r => Some(Src {
            reg: gpr(r)?,
            ext: if r.size() == 4 {
                Ext::zero(32)
            } else {
                Ext::NONE
            },
            shift: i.memory_index_scale().trailing_zeros() as u8,
        }),
    };
    Some(Mem {
        base,
        index,
        disp: i.memory_displacement64() as i64,
    })
}

/// Operand `n` as a value read at full or narrowed width.
fn value(i: &Instruction, n: u32) -> Option<Value> {
    match i.op_kind(n) {
        OpKind::Register => {
            let r = i.op_register(n);
            if matches!(r, Register::AH | Register::BH | Register::CH | Register::DH) {
                return None;
            }
            let b = bits(r);
            Some(Value::Reg(Src {
                reg: gpr(r)?,
                ext: if b == 64 { Ext::NONE } else { Ext::zero(b) },
                shift: 0,
            }))
        }
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => Some(Value::Imm(i.immediate(n) as i64)),
        _ => None,
    }
}

/// The destination register and its width. 8- and 16-bit writes keep the register's other
/// bits (the executor merges them); the high-byte registers (`%ah`) are not modelled.
fn dst(i: &Instruction) -> Option<(Reg, u8)> {
    if i.op_kind(0) != OpKind::Register {
        return None;
    }
    let r = i.op_register(0);
    if matches!(r, Register::AH | Register::BH | Register::CH | Register::DH) {
        return None;
    }
    Some((gpr(r)?, bits(r)))
}

fn bin(m: Mnemonic) -> Option<BinOp> {
    Some(match m {
        Mnemonic::Add => BinOp::Add,
        Mnemonic::Sub => BinOp::Sub,
        Mnemonic::And => BinOp::And,
        Mnemonic::Or => BinOp::Or,
        Mnemonic::Xor => BinOp::Xor,
        Mnemonic::Shl | Mnemonic::Sal => BinOp::Shl,
        Mnemonic::Shr => BinOp::Lsr,
        Mnemonic::Sar => BinOp::Asr,
        Mnemonic::Ror => BinOp::Ror,
        _ => return None,
    })
}

fn modelled(i: &Instruction) -> Option<Op> {
    let m = i.mnemonic();
    match m {
        Mnemonic::Nop | Mnemonic::Endbr64 | Mnemonic::Lfence | Mnemonic::Mfence => Some(Op::None),
        Mnemonic::Jmp | Mnemonic::Call => match i.op_kind(0) {
            OpKind::Register => Some(Op::Indirect {
                target: Target::Reg(gpr(i.op_register(0))?),
            }),
            OpKind::Memory => Some(Op::Indirect {
                target: Target::Mem(mem(i)?),
            }),
            _ => Some(Op::None),
        },
        _ if i.is_jcc_short_or_near() => Some(Op::Branch {
            cond: cond(i.condition_code()),
        }),
        Mnemonic::Cmp if i.op_kind(0) == OpKind::Memory => Some(Op::CompareMem {
            mem: mem(i)?,
            size: i.memory_size().size() as u8,
            b: value(i, 1)?,
        }),
        Mnemonic::Inc | Mnemonic::Dec if i.op_kind(0) == OpKind::Register => {
            let (d, width) = dst(i)?;
            Some(Op::Bin {
                op: BinOp::Add,
                dst: d,
                a: d,
                b: Value::Imm(if m == Mnemonic::Inc { 1 } else { -1 }),
                width,
            })
        }
        // rotate left by k is rotate right by width - k
        Mnemonic::Rol if i.op_kind(0) == OpKind::Register && i.op_kind(1) != OpKind::Register => {
            let (d, width) = dst(i)?;
            let Value::Imm(k) = value(i, 1)? else {
                return None;
            };
            Some(Op::Bin {
                op: BinOp::Ror,
                dst: d,
                a: d,
                b: Value::Imm((width as i64 - (k & (width as i64 - 1))) % width as i64),
                width,
            })
        }
        Mnemonic::Cmp | Mnemonic::Test if i.op_kind(0) == OpKind::Register => {
            let r = i.op_register(0);
            Some(Op::Compare {
                a: gpr(r)?,
                b: value(i, 1)?,
                width: bits(r),
                test: m == Mnemonic::Test,
            })
        }
        Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd => {
            let signed = matches!(m, Mnemonic::Movsx | Mnemonic::Movsxd);
            if i.op_kind(0) == OpKind::Memory {
                return Some(Op::Store {
                    src: value(i, 1)?,
                    mem: mem(i)?,
                    size: i.memory_size().size() as u8,
                });
            }
            let (d, width) = dst(i)?;
            match i.op_kind(1) {
                OpKind::Memory => Some(Op::Load {
                    dst: d,
                    mem: mem(i)?,
                    size: i.memory_size().size() as u8,
                    signed,
                    width,
                }),
                OpKind::Register => {
                    let r = i.op_register(1);
                    if matches!(r, Register::AH | Register::BH | Register::CH | Register::DH) {
                        return None;
                    }
                    let b = bits(r);
                    Some(Op::Set {
                        dst: d,
                        src: Value::Reg(Src {
                            reg: gpr(r)?,
                            ext: Ext {
                                bits: b,
                                signed: signed && b < 64,
                            },
                            shift: 0,
                        }),
                        width,
                    })
                }
                _ => Some(Op::Set {
                    dst: d,
                    src: value(i, 1)?,
                    width,
                }),
            }
        }
        // cltq / cdqe: rax = sign-extended eax.
        Mnemonic::Cdqe => Some(Op::Set {
            dst: Reg(0),
            src: Value::Reg(Src {
                reg: Reg(0),
                ext: Ext::sign(32),
                shift: 0,
            }),
            width: 64,
        }),
        Mnemonic::Lea => {
            let (d, width) = dst(i)?;
            let mm = mem(i)?;
            Some(if mm.base.is_none() && mm.index.is_none() {
                Op::Set {
                    dst: d,
                    src: Value::Imm(mm.disp),
                    width,
                }
            } else {
                Op::Addr {
                    dst: d,
                    mem: mm,
                    width,
                }
            })
        }
        // `xor %eax,%eax`: the zero idiom.
        Mnemonic::Xor | Mnemonic::Sub
            if i.op_count() == 2
                && i.op_kind(0) == OpKind::Register
                && i.op_kind(1) == OpKind::Register
                && i.op_register(0) == i.op_register(1) =>
        {
            let (d, width) = dst(i)?;
            Some(Op::Set {
                dst: d,
                src: Value::Imm(0),
                width,
            })
        }
        _ if bin(m).is_some() && i.op_count() == 2 => {
            if i.op_kind(0) == OpKind::Memory {
                return Some(Op::None); // memory read-modify-write: no register changes
            }
            let (d, width) = dst(i)?;
            let b = match i.op_kind(1) {
                // shifts by %cl are not modelled
                OpKind::Register
                    if matches!(
                        m,
                        Mnemonic::Shl
                            | Mnemonic::Sal
                            | Mnemonic::Shr
                            | Mnemonic::Sar
                            | Mnemonic::Ror
                    ) =>
                {
                    return None;
                }
                _ => value(i, 1)?,
            };
            Some(Op::Bin {
                op: bin(m)?,
                dst: d,
                a: d,
                b,
                width,
            })
        }
        Mnemonic::Cmova
        | Mnemonic::Cmovae
        | Mnemonic::Cmovb
        | Mnemonic::Cmovbe
        | Mnemonic::Cmove
        | Mnemonic::Cmovne
        | Mnemonic::Cmovg
        | Mnemonic::Cmovge
        | Mnemonic::Cmovl
        | Mnemonic::Cmovle
        | Mnemonic::Cmovs
        | Mnemonic::Cmovns
            if i.op_kind(1) == OpKind::Register =>
        {
            let (d, width) = dst(i)?;
            Some(Op::Select {
                dst: d,
                cond: cond(i.condition_code()),
                a: value(i, 1)?,
                b: Value::Reg(Src::reg(d)),
                width,
            })
        }
        _ => None,
    }
}

/// Whether an access (may) write.
fn writes(a: OpAccess) -> bool {
    matches!(
        a,
        OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

/// Whether an access (may) read.
fn reads(a: OpAccess) -> bool {
    matches!(
        a,
        OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

/// General registers iced's instruction info says the instruction writes and reads, as two
/// masks. Asking iced is slow (about as long as decoding), and the same few thousand
/// instructions make up most of a binary, so the answer is remembered per thread, by what the
/// info's register part depends on (`usage_key`), in a direct-mapped table.
fn used(i: &Instruction) -> (u64, u64) {
    let key = usage_key(i);
    let slot = ((((key >> 64) as u64) ^ (key as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> (64 - USAGE_BITS)) as usize;
    USAGE.with(|u| {
        let mut u = u.borrow_mut();
        let (k, w, r) = u.memo[slot];
        if k == key {
            return (w, r);
        }
        let (w, r) = register_masks(&mut u.info, i);
        u.memo[slot] = (key, w, r);
        (w, r)
    })
}

/// General registers iced's instruction info says `i` writes and reads, asked of `info`.
fn register_masks(info: &mut InstructionInfoFactory, i: &Instruction) -> (u64, u64) {
    // the registers alone: iced skips working out the memory accesses
    let info = info.info_options(i, InstructionInfoOptions::NO_MEMORY_USAGE);
    let (mut w, mut r) = (0u64, 0u64);
    for used in info.used_registers() {
        if let Some(g) = gpr(used.register()) {
            if writes(used.access()) {
                w |= g.bit();
            }
            if reads(used.access()) {
                r |= g.bit();
            }
        }
    }
    (w, r)
}

/// log2 of the register-usage table's entries (4096 entries of 32 bytes per thread).
const USAGE_BITS: u32 = 12;

struct Usage {
    info: InstructionInfoFactory,
    /// `(usage_key, written, read)`; key 0 (never made) marks an empty entry.
    memo: Box<[(u128, u64, u64)]>,
}

thread_local! {
    static USAGE: RefCell<Usage> = RefCell::new(Usage {
        info: InstructionInfoFactory::new(),
        memo: vec![(0, 0, 0); 1 << USAGE_BITS].into_boxed_slice(),
    });
}

/// Everything iced's register usage of a 64-bit-mode instruction depends on: its code, its
/// register operands, the registers of its address, its `rep` prefixes (string instructions
/// use rcx with them) and its opmask; the first two operand kinds (a string instruction's
/// address size) too. Bit 127 is set so that no key is 0.
fn usage_key(i: &Instruction) -> u128 {
    let reg = |n: u32| u128::from(i.op_register(n) as u8);
    let mut key = 1u128 << 127;
    key |= i.code() as u128; // < 2^13
    key |= (reg(0) | reg(1) << 8 | reg(2) << 16 | reg(3) << 24 | reg(4) << 32) << 13;
    key |= u128::from(i.memory_base() as u8) << 53;
    key |= u128::from(i.memory_index() as u8) << 61;
    key |= u128::from(i.op_mask() as u8) << 69;
    key |= u128::from(i.has_rep_prefix()) << 77;
    key |= u128::from(i.has_repne_prefix()) << 78;
    key |= u128::from(i.op_kind(0) as u8) << 79;
    key |= u128::from(i.op_kind(1) as u8) << 87;
    key
}

/// General registers an unmodelled instruction writes.
fn written(i: &Instruction) -> u64 {
    used(i).0
}

/// General registers an instruction reads (its operands' and its addresses'). Addresses are
/// read off the operands; iced's instruction info (slower) says which register operands are
/// read, and what string instructions read.
fn read(i: &Instruction) -> u32 {
    let bit = |r: Register| gpr(r).map_or(0, |r| 1u32 << (r.0 & 31));
    let mut mask = 0u32;
    let mut ask = false;
    for n in 0..i.op_count() {
        match i.op_kind(n) {
            OpKind::Register => ask |= gpr(i.op_register(n)).is_some(),
            OpKind::Memory => mask |= bit(i.memory_base()) | bit(i.memory_index()),
            OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemorySegRSI
            | OpKind::MemorySegDI
            | OpKind::MemorySegEDI
            | OpKind::MemorySegRDI
            | OpKind::MemoryESDI
            | OpKind::MemoryESEDI
            | OpKind::MemoryESRDI => ask = true,
            _ => {}
        }
    }
    if ask {
        // (general registers are 0-31)
        mask |= used(i).1 as u32;
    }
    mask
}

/// The register operand `n` as a general register (`None` for immediates and others).
fn reg_op(i: &Instruction, n: u32) -> Option<Reg> {
    if i.op_kind(n) != OpKind::Register {
        return None;
    }
    gpr(i.op_register(n))
}

/// Lowers what compilers emit for C11 atomics: `lock` read-modify-writes of memory (`add`,
/// `sub`, `or`, `and`, `xor`, `inc`, `dec`, `bts`, `btr`, `btc`, `xadd`, `cmpxchg`,
/// `cmpxchg8b/16b`), `xchg` with memory (locked without the prefix), `mfence`, `sfence`, and
/// the locked no-op on the stack that gcc uses as a full barrier (`lock orq $0,(%rsp)`, also
/// `lock addl $0,-N(%rsp)`). A locked instruction is a full barrier: both ordering bits set.
/// `lfence` (which orders no stores) and `lock neg/not` (no C11 operation) are not lowered.
fn atomic(i: &Instruction) -> Option<Atomic> {
    let m = i.mnemonic();
    let full = |kind, size, base| {
        Some(Atomic {
            kind,
            size,
            acquire: true,
            release: true,
            base,
        })
    };
    match m {
        Mnemonic::Mfence => return full(AtomicKind::Fence(Barrier::Full), 0, None),
        Mnemonic::Sfence => {
            return Some(Atomic {
                kind: AtomicKind::Fence(Barrier::Store),
                size: 0,
                acquire: false,
                release: false,
                base: None,
            });
        }
        _ => {}
    }
    let mem_at = (0..i.op_count()).find(|&n| i.op_kind(n) == OpKind::Memory)?;
    let size = i.memory_size().size() as u8;
    let base = match i.memory_base() {
        Register::None | Register::RIP | Register::EIP => None,
        r => gpr(r),
    };
    if m == Mnemonic::Xchg {
        let r = reg_op(i, 1 - mem_at);
        return full(AtomicKind::Swap { src: r, old: r }, size, base);
    }
    if !i.has_lock_prefix() || mem_at != 0 {
        return None;
    }
    let src = reg_op(i, 1);
    let rmw = |op| AtomicKind::Rmw { op, src, old: None };
    let kind = match m {
        // `lock or $0, (%rsp)`: changes nothing, orders everything.
        Mnemonic::Or | Mnemonic::Add
            if i.memory_base() == Register::RSP
                && i.memory_index() == Register::None
                && i.op_kind(1) != OpKind::Register
                && i.immediate(1) == 0 =>
        {
            AtomicKind::Fence(Barrier::Full)
        }
        Mnemonic::Add | Mnemonic::Inc => rmw(RmwOp::Add),
        Mnemonic::Sub | Mnemonic::Dec => rmw(RmwOp::Sub),
        Mnemonic::Or | Mnemonic::Bts => rmw(RmwOp::Or),
        Mnemonic::And => rmw(RmwOp::And),
        Mnemonic::Btr => rmw(RmwOp::AndNot),
        Mnemonic::Xor | Mnemonic::Btc => rmw(RmwOp::Xor),
        Mnemonic::Xadd => AtomicKind::Rmw {
            op: RmwOp::Add,
            src,
            old: src,
        },
        Mnemonic::Cmpxchg => AtomicKind::Cas {
            expected: Some(Reg(0)),
            new: src,
        },
        Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b => AtomicKind::Cas {
            expected: Some(Reg(0)),
            new: None,
        },
        _ => return None,
    };
    full(kind, size, base)
}

/// `neg`/`not` of a register and ALU operations with a memory source: arithmetic [`Op`]
/// clobbers.
fn alu(i: &Instruction) -> Option<Alu> {
    if i.op_kind(0) != OpKind::Register {
        return None;
    }
    let op = match i.mnemonic() {
        Mnemonic::Neg => AluOp::Neg,
        Mnemonic::Not => AluOp::Not,
        m if i.op_count() == 2 && i.op_kind(1) == OpKind::Memory => match m {
            Mnemonic::Add => AluOp::WithMem(BinOp::Add),
            Mnemonic::Sub => AluOp::WithMem(BinOp::Sub),
            Mnemonic::And => AluOp::WithMem(BinOp::And),
            Mnemonic::Or => AluOp::WithMem(BinOp::Or),
            Mnemonic::Xor => AluOp::WithMem(BinOp::Xor),
            _ => return None,
        },
        _ => return None,
    };
    let (dst, _) = dst(i)?;
    Some(Alu {
        op,
        dst,
        a: Some(dst),
    })
}

/// The register effect alone: what the CFG traversal asks of each instruction.
pub(super) fn lower_op(i: &Instruction) -> Op {
    modelled(i).unwrap_or_else(|| match written(i) {
        0 => Op::None,
        m => Op::Clobber(m),
    })
}

pub(super) fn lower(i: &Instruction) -> Sem {
    let writes_flags = i.rflags_modified() != 0;
    let op = lower_op(i);
    // a memory operand at a constant address that the op leaves out, and whether it is written
    // (rare: ask iced only then)
    let unmodelled_mem = if matches!(op, Op::None | Op::Clobber(_))
        && !matches!(i.mnemonic(), Mnemonic::Jmp | Mnemonic::Call | Mnemonic::Nop)
        && (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory)
        && let Some(m) = mem(i)
        && m.base.is_none()
        && m.index.is_none()
    {
        mem_access(i).map(|w| (m.disp as u64, w))
    } else {
        None
    };
    // what an unmodelled instruction reads (not a branch's: their targets are read as such;
    // not a push's: gcc -Os and clang push a scratch register only to align the stack; not a
    // `nopw 0x0(%rax,%rax,1)`'s: a no-op reads no memory and so no address register)
    let reads = if matches!(op, Op::None | Op::Clobber(_))
        && i.flow_control() == iced_x86::FlowControl::Next
        && !matches!(i.mnemonic(), Mnemonic::Push | Mnemonic::Nop)
    {
        read(i)
    } else {
        0
    };
    Sem {
        op,
        writes_flags,
        reads,
        flags_as_compare: sub_compare(i),
        atomic: atomic(i),
        alu: alu(i),
        unmodelled_mem,
        ..Sem::NONE
    }
}

/// `sub $k, %reg` sets the flags as `cmp $k, %reg` does (clang -O0 bounds a switch index with
/// `sub $0x9,%rax; ja default`).
fn sub_compare(i: &Instruction) -> Option<(Reg, i64, u8)> {
    if i.mnemonic() != Mnemonic::Sub || i.op_kind(0) != OpKind::Register {
        return None;
    }
    let Value::Imm(k) = value(i, 1)? else {
        return None;
    };
    let r = i.op_register(0);
    let w = bits(r);
    (w >= 32).then_some((gpr(r)?, k, w))
}

/// Whether the instruction writes its memory operand (`None`: it does not access it, as
/// `prefetch` and hint `nop`s do not), from iced's instruction info.
fn mem_access(i: &Instruction) -> Option<bool> {
    USAGE.with(|u| {
        let mut u = u.borrow_mut();
        // the memory accesses alone
        let info = u
            .info
            .info_options(i, InstructionInfoOptions::NO_REGISTER_USAGE);
        let mut any = None;
        for m in info.used_memory() {
            let a = m.access();
            if writes(a) || matches!(a, OpAccess::Read | OpAccess::CondRead) {
                any = Some(any.unwrap_or(false) | writes(a));
            }
        }
        any
    })
}

#[cfg(test)]
mod tests {
    use super::super::X86_64;
    use gloss_core::Disassembler;
    use gloss_core::sem::{
        Alu, AluOp, Atomic, AtomicKind, Barrier, BinOp, Cond, Ext, Mem, Op, Reg, RmwOp, Sem, Src,
        Target, Value,
    };

    fn op(bytes: &[u8], addr: u64) -> Op {
        X86_64.decode_sem(bytes, addr).1.op
    }
    fn r(n: u8) -> Reg {
        Reg(n)
    }
    const RAX: u8 = 0;
    const RDX: u8 = 2;
    const RDI: u8 = 7;

    /// The remembered register usage is iced's own answer for every instruction, whatever the
    /// table held before: random bytes decode to thousands of different instructions (and
    /// `rep` string instructions, whose rcx use the key must tell apart), far more than the
    /// table has entries, so entries are replaced and keys collide on slots.
    #[test]
    fn remembered_register_usage_is_iceds() {
        use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory};
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut bytes: Vec<u8> = (0..400_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        // movsb, rep movsb, repne scasb, rep stosq, twice each; andn %ecx,%ebx,%eax and
        // andn %edx,%ebx,%eax (they differ in their third operand only)
        bytes.extend_from_slice(&[0xa4, 0xf3, 0xa4, 0xf2, 0xae, 0xf3, 0x48, 0xab].repeat(2));
        bytes.extend_from_slice(&[0xc4, 0xe2, 0x60, 0xf2, 0xc1, 0xc4, 0xe2, 0x60, 0xf2, 0xc2]);
        let mut info = InstructionInfoFactory::new();
        let mut d = Decoder::with_ip(64, &bytes, 0, DecoderOptions::NONE);
        let (mut checked, mut rep) = (0, 0);
        for i in &mut d {
            if i.is_invalid() {
                continue;
            }
            // iced asked afresh, with a factory of its own
            let want = super::register_masks(&mut info, &i);
            assert_eq!(super::used(&i), want, "{i} ({:?})", i.code());
            checked += 1;
            rep += usize::from(i.has_rep_prefix() && i.is_string_instruction());
        }
        assert!(checked > 100_000 && rep >= 2, "{checked} {rep}");
    }

    /// Bytes as GNU as encodes the AT&T text in each comment; meanings from the Intel SDM.
    #[test]
    fn pic_switch_dispatch() {
        // cmp $0x9,%edi
        let cmp = X86_64.decode_sem(&[0x83, 0xff, 0x09], 0).1;
        assert!(cmp.writes_flags);
        assert_eq!(
            cmp.op,
            Op::Compare {
                a: r(RDI),
                b: Value::Imm(9),
                width: 32,
                test: false
            }
        );
        // ja +0x10
        assert_eq!(op(&[0x77, 0x10], 0), Op::Branch { cond: Cond::Hi });
        // lea 0x100(%rip),%rdx at 0x1000
        assert_eq!(
            op(&[0x48, 0x8d, 0x15, 0x00, 0x01, 0, 0], 0x1000),
            Op::Set {
                dst: r(RDX),
                src: Value::Imm(0x1107),
                width: 64
            }
        );
        // movslq (%rdx,%rax,4),%rax
        assert_eq!(
            op(&[0x48, 0x63, 0x04, 0x82], 0),
            Op::Load {
                dst: r(RAX),
                mem: Mem {
                    base: Some(r(RDX)),
                    index: Some(Src {
                        reg: r(RAX),
                        ext: Ext::NONE,
                        shift: 2
                    }),
                    disp: 0
                },
                size: 4,
                signed: true,
                width: 64
            }
        );
        // add %rdx,%rax
        assert_eq!(
            op(&[0x48, 0x01, 0xd0], 0),
            Op::Bin {
                op: BinOp::Add,
                dst: r(RAX),
                a: r(RAX),
                b: Value::Reg(Src::reg(r(RDX))),
                width: 64
            }
        );
        // jmp *%rax, notrack jmp *%rax
        assert_eq!(
            op(&[0xff, 0xe0], 0),
            Op::Indirect {
                target: Target::Reg(r(RAX))
            }
        );
        assert_eq!(
            op(&[0x3e, 0xff, 0xe0], 0),
            Op::Indirect {
                target: Target::Reg(r(RAX))
            }
        );
    }

    #[test]
    fn absolute_table_and_moves() {
        // jmp *0x402000(,%rax,8)
        assert_eq!(
            op(&[0xff, 0x24, 0xc5, 0x00, 0x20, 0x40, 0x00], 0),
            Op::Indirect {
                target: Target::Mem(Mem {
                    base: None,
                    index: Some(Src {
                        reg: r(RAX),
                        ext: Ext::NONE,
                        shift: 3
                    }),
                    disp: 0x402000
                })
            }
        );
        // mov %edi,%eax
        assert_eq!(
            op(&[0x89, 0xf8], 0),
            Op::Set {
                dst: r(RAX),
                src: Value::Reg(Src {
                    reg: r(RDI),
                    ext: Ext::zero(32),
                    shift: 0
                }),
                width: 32
            }
        );
        // movsbl %dil,%eax
        assert_eq!(
            op(&[0x40, 0x0f, 0xbe, 0xc7], 0),
            Op::Set {
                dst: r(RAX),
                src: Value::Reg(Src {
                    reg: r(RDI),
                    ext: Ext::sign(8),
                    shift: 0
                }),
                width: 32
            }
        );
        // movzbl (%rdx,%rax,1),%eax : two-level index load
        assert_eq!(
            op(&[0x0f, 0xb6, 0x04, 0x02], 0),
            Op::Load {
                dst: r(RAX),
                mem: Mem {
                    base: Some(r(RDX)),
                    index: Some(Src {
                        reg: r(RAX),
                        ext: Ext::NONE,
                        shift: 0
                    }),
                    disp: 0
                },
                size: 1,
                signed: false,
                width: 32
            }
        );
        // xor %eax,%eax ; sub $0x5,%edi ; cltq
        assert_eq!(
            op(&[0x31, 0xc0], 0),
            Op::Set {
                dst: r(RAX),
                src: Value::Imm(0),
                width: 32
            }
        );
        assert_eq!(
            op(&[0x83, 0xef, 0x05], 0),
            Op::Bin {
                op: BinOp::Sub,
                dst: r(RDI),
                a: r(RDI),
                b: Value::Imm(5),
                width: 32
            }
        );
        assert_eq!(
            op(&[0x48, 0x98], 0),
            Op::Set {
                dst: r(RAX),
                src: Value::Reg(Src {
                    reg: r(RAX),
                    ext: Ext::sign(32),
                    shift: 0
                }),
                width: 64
            }
        );
        // mul %ecx writes edx:eax; mov %cl,%al keeps the upper bits of rax
        assert_eq!(
            op(&[0xf7, 0xe1], 0),
            Op::Clobber(r(RAX).bit() | r(RDX).bit())
        );
        // mov %cl,%al: an 8-bit write (the executor keeps the other bits of rax)
        assert_eq!(
            op(&[0x88, 0xc8], 0),
            Op::Set {
                dst: r(RAX),
                src: Value::Reg(Src {
                    reg: r(1),
                    ext: Ext::zero(8),
                    shift: 0
                }),
                width: 8
            }
        );
        // mov %ch,%al reads a high byte: not modelled
        assert_eq!(op(&[0x88, 0xe8], 0), Op::Clobber(r(RAX).bit()));
        // add $0x3e8,%di
        assert_eq!(
            op(&[0x66, 0x81, 0xc7, 0xe8, 0x03], 0),
            Op::Bin {
                op: BinOp::Add,
                dst: r(RDI),
                a: r(RDI),
                b: Value::Imm(0x3e8),
                width: 16
            }
        );
        // rol $0x1e,%edi == ror $2,%edi ; dec %edi ; cmpl $0xc,(%rdi)
        assert_eq!(
            op(&[0xc1, 0xc7, 0x1e], 0),
            Op::Bin {
                op: BinOp::Ror,
                dst: r(RDI),
                a: r(RDI),
                b: Value::Imm(2),
                width: 32
            }
        );
        assert_eq!(
            op(&[0xff, 0xcf], 0),
            Op::Bin {
                op: BinOp::Add,
                dst: r(RDI),
                a: r(RDI),
                b: Value::Imm(-1),
                width: 32
            }
        );
        assert_eq!(
            op(&[0x83, 0x3f, 0x0c], 0),
            Op::CompareMem {
                mem: Mem {
                    base: Some(r(RDI)),
                    index: None,
                    disp: 0
                },
                size: 4,
                b: Value::Imm(12)
            }
        );
    }

    fn atomic(bytes: &[u8]) -> Option<Atomic> {
        X86_64.decode_sem(bytes, 0x1000).1.atomic
    }
    fn full(kind: AtomicKind, size: u8, base: Option<Reg>) -> Option<Atomic> {
        Some(Atomic {
            kind,
            size,
            acquire: true,
            release: true,
            base,
        })
    }

    /// Encodings from llvm-mc-19 -show-encoding; every locked instruction and `xchg` with
    /// memory is a full barrier (Intel SDM vol. 3, 9.2.2), hence both ordering bits.
    #[test]
    fn atomics_are_lowered() {
        const RCX: u8 = 1;
        const RBX: u8 = 3;
        const RSP: u8 = 4;
        // lock orl $1,0x98(%rdi): the seed's fetch_or, result unused
        let rmw = |op, src| AtomicKind::Rmw { op, src, old: None };
        assert_eq!(
            atomic(&[0xf0, 0x83, 0x8f, 0x98, 0, 0, 0, 0x01]),
            full(rmw(RmwOp::Or, None), 4, Some(r(RDI)))
        );
        // lock xadd %eax,0x100(%rip): the old value comes back in eax
        let xadd = X86_64
            .decode_sem(&[0xf0, 0x0f, 0xc1, 0x05, 0, 1, 0, 0], 0x1000)
            .1;
        assert_eq!(
            xadd.atomic,
            full(
                AtomicKind::Rmw {
                    op: RmwOp::Add,
                    src: Some(r(RAX)),
                    old: Some(r(RAX))
                },
                4,
                None
            )
        );
        assert_eq!(xadd.op, Op::Clobber(r(RAX).bit()));
        // lock cmpxchg %ecx,(%rdx); lock cmpxchg %cx,(%rdi)
        let cas = |new, size, base| {
            full(
                AtomicKind::Cas {
                    expected: Some(r(RAX)),
                    new: Some(r(new)),
                },
                size,
                Some(r(base)),
            )
        };
        assert_eq!(atomic(&[0xf0, 0x0f, 0xb1, 0x0a]), cas(RCX, 4, RDX));
        assert_eq!(atomic(&[0x66, 0xf0, 0x0f, 0xb1, 0x0f]), cas(RCX, 2, RDI));
        // lock cmpxchg16b (%rsi)
        assert_eq!(
            atomic(&[0xf0, 0x48, 0x0f, 0xc7, 0x0e]),
            full(
                AtomicKind::Cas {
                    expected: Some(r(RAX)),
                    new: None
                },
                16,
                Some(r(6))
            )
        );
        // xchg %dil,0x10(%rip) and xchg %rax,(%rdi): locked without a prefix
        let swap = |reg| AtomicKind::Swap {
            src: Some(r(reg)),
            old: Some(r(reg)),
        };
        assert_eq!(
            atomic(&[0x40, 0x86, 0x3d, 0x10, 0, 0, 0]),
            full(swap(RDI), 1, None)
        );
        assert_eq!(
            atomic(&[0x48, 0x87, 0x07]),
            full(swap(RAX), 8, Some(r(RDI)))
        );
        // lock decq (%rbx); lock btsq $3,(%rdi)
        assert_eq!(
            atomic(&[0xf0, 0x48, 0xff, 0x0b]),
            full(rmw(RmwOp::Sub, None), 8, Some(r(RBX)))
        );
        assert_eq!(
            atomic(&[0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x03]),
            full(rmw(RmwOp::Or, None), 8, Some(r(RDI)))
        );
        // mfence; lock orq $0,(%rsp) (gcc); lock addl $0,-0x40(%rsp): full barriers
        let fence = AtomicKind::Fence(Barrier::Full);
        assert_eq!(atomic(&[0x0f, 0xae, 0xf0]), full(fence, 0, None));
        assert_eq!(
            atomic(&[0xf0, 0x48, 0x83, 0x0c, 0x24, 0x00]),
            full(fence, 8, Some(r(RSP)))
        );
        assert_eq!(
            atomic(&[0xf0, 0x83, 0x44, 0x24, 0xc0, 0x00]),
            full(fence, 4, Some(r(RSP)))
        );
        // sfence orders stores only; lfence is not lowered
        assert_eq!(
            atomic(&[0x0f, 0xae, 0xf8]).map(|a| a.kind),
            Some(AtomicKind::Fence(Barrier::Store))
        );
        assert_eq!(atomic(&[0x0f, 0xae, 0xe8]), None);
        // not atomic: orl $1,(%rdi) without lock; xchg %cx,%ax between registers
        assert_eq!(atomic(&[0x83, 0x0f, 0x01]), None);
        assert_eq!(atomic(&[0x66, 0x91]), None);
    }

    #[test]
    fn clobbering_arithmetic_is_named() {
        // neg %eax (fetch_sub's operand before lock xadd)
        let neg = X86_64.decode_sem(&[0xf7, 0xd8], 0).1;
        assert_eq!(neg.op, Op::Clobber(r(RAX).bit()));
        assert_eq!(
            neg.alu,
            Some(Alu {
                op: AluOp::Neg,
                dst: r(RAX),
                a: Some(r(RAX))
            })
        );
        // or -0x4(%rbp),%edx (gcc -O0 inside a cmpxchg loop)
        assert_eq!(
            X86_64.decode_sem(&[0x0b, 0x55, 0xfc], 0).1.alu,
            Some(Alu {
                op: AluOp::WithMem(BinOp::Or),
                dst: r(RDX),
                a: Some(r(RDX))
            })
        );
        assert_eq!(X86_64.decode_sem(&[0x83, 0x0f, 0x01], 0).1.alu, None);
    }

    /// What an instruction the ops do not model reads: its address registers when it touches
    /// memory, none when it is a no-op (whose memory operand is never accessed: a function
    /// that aligns a loop with `nopw 0x0(%rax,%rax,1)` does not read `%al`, the SysV vector
    /// count of a variadic call). Encodings from llvm-mc-19 -show-encoding.
    #[test]
    fn unmodelled_reads_are_the_accessed_operands() {
        const RDI: u8 = 7;
        let reads = |b: &[u8]| u64::from(X86_64.decode_sem(b, 0x1000).1.reads);
        // nopl 0x0(%rax) ; nopw %cs:0x0(%rax,%rax,1) ; nop
        assert_eq!(reads(&[0x0f, 0x1f, 0x40, 0x00]), 0);
        assert_eq!(reads(&[0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0]), 0);
        assert_eq!(X86_64.decode_sem(&[0x90], 0x1000).1, Sem::NONE);
        // movss %xmm0,(%rdi) reads %rdi (and stores: not a no-op)
        assert_eq!(reads(&[0xf3, 0x0f, 0x11, 0x07]), r(RDI).bit());
        // cvtsi2sd %edi,%xmm0
        assert_eq!(reads(&[0xf2, 0x0f, 0x2a, 0xc7]), r(RDI).bit());
    }
}
