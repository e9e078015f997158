//! AArch64 instructions lowered to [`gloss_core::sem`]: the moves, address materialisation
//! (`adr`, `adrp`), arithmetic with shifted and extended registers, loads and stores, compares
//! and branches that compilers use for switch dispatch, addresses and call arguments. Other
//! instructions clobber their destination register (operand 0) and any written-back base.
use bad64::{Condition, Imm, Op as A, Operand, Reg as R, Shift};
use gloss_core::sem::{
    Alu, AluOp, Atomic, AtomicKind, Barrier, BinOp, Cond, Ext, Mem, Op, Reg, RegBranch, RmwOp, Sem,
    Src, Target, Value,
};

/// A general register: `Some(Some(reg))`, the zero register `Some(None)`, or not a GPR.
/// The width (32 or 64) comes with it.
fn gpr(r: R) -> Option<(Option<Reg>, u8)> {
    let v = r as u32;
    let (w0, x0) = (R::W0 as u32, R::X0 as u32);
    Some(match r {
        R::WZR => (None, 32),
        R::XZR => (None, 64),
        R::WSP => (Some(Reg(31)), 32),
        R::SP => (Some(Reg(31)), 64),
        _ if (w0..w0 + 31).contains(&v) => (Some(Reg((v - w0) as u8)), 32),
        _ if (x0..x0 + 31).contains(&v) => (Some(Reg((v - x0) as u8)), 64),
        _ => return None,
    })
}

fn imm(i: Imm) -> i64 {
    match i {
        Imm::Signed(v) => v,
        Imm::Unsigned(v) => v as i64,
    }
}

fn cond(c: Condition) -> Cond {
    match c {
        Condition::EQ => Cond::Eq,
        Condition::NE => Cond::Ne,
        Condition::CS => Cond::Hs,
        Condition::CC => Cond::Lo,
        Condition::MI => Cond::Mi,
        Condition::PL => Cond::Pl,
        Condition::VS => Cond::Vs,
        Condition::VC => Cond::Vc,
        Condition::HI => Cond::Hi,
        Condition::LS => Cond::Ls,
        Condition::GE => Cond::Ge,
        Condition::LT => Cond::Lt,
        Condition::GT => Cond::Gt,
        Condition::LE => Cond::Le,
        Condition::AL | Condition::NV => Cond::Other,
    }
}

fn branch_cond(op: A) -> Option<Cond> {
    Some(match op {
        A::B_EQ => Cond::Eq,
        A::B_NE => Cond::Ne,
        A::B_CS => Cond::Hs,
        A::B_CC => Cond::Lo,
        A::B_MI => Cond::Mi,
        A::B_PL => Cond::Pl,
        A::B_VS => Cond::Vs,
        A::B_VC => Cond::Vc,
        A::B_HI => Cond::Hi,
        A::B_LS => Cond::Ls,
        A::B_GE => Cond::Ge,
        A::B_LT => Cond::Lt,
        A::B_GT => Cond::Gt,
        A::B_LE => Cond::Le,
        _ => return None,
    })
}

/// Extension and left shift of a register operand (`w1, sxtb #2`, `x8, lsl #2`).
fn ext_shift(s: Option<Shift>) -> Option<(Ext, u8)> {
    Some(match s {
        None => (Ext::NONE, 0),
        Some(Shift::LSL(n)) => (Ext::NONE, n as u8),
        Some(Shift::UXTB(n)) => (Ext::zero(8), n as u8),
        Some(Shift::UXTH(n)) => (Ext::zero(16), n as u8),
        Some(Shift::UXTW(n)) => (Ext::zero(32), n as u8),
        Some(Shift::UXTX(n)) | Some(Shift::SXTX(n)) => (Ext::NONE, n as u8),
        Some(Shift::SXTB(n)) => (Ext::sign(8), n as u8),
        Some(Shift::SXTH(n)) => (Ext::sign(16), n as u8),
        Some(Shift::SXTW(n)) => (Ext::sign(32), n as u8),
        Some(Shift::LSR(_)) | Some(Shift::ASR(_)) | Some(Shift::ROR(_)) | Some(Shift::MSL(_)) => {
            return None;
        }
    })
}

/// A source operand as a value (registers narrowed to their width, the zero register as 0).
fn value(o: &Operand) -> Option<Value> {
    let reg_src = |reg: R, shift: Option<Shift>| -> Option<Value> {
        let (r, w) = gpr(reg)?;
        let Some(r) = r else {
            return Some(Value::Imm(0));
        };
        let (mut ext, shift) = ext_shift(shift)?;
        if w == 32 && ext.bits == 64 {
            ext = Ext::zero(32);
        }
        Some(Value::Reg(Src { reg: r, ext, shift }))
    };
    match o {
        Operand::Reg { reg, arrspec: None } => reg_src(*reg, None),
        Operand::ShiftReg { reg, shift } => reg_src(*reg, Some(*shift)),
        Operand::Imm32 { imm: i, shift } | Operand::Imm64 { imm: i, shift } => match shift {
            None => Some(Value::Imm(imm(*i))),
            Some(Shift::LSL(n)) => Some(Value::Imm(imm(*i) << n)),
            _ => None,
        },
        _ => None,
    }
}

/// Destination register and width; `None` inside for the zero register.
fn dst(o: Option<&Operand>) -> Option<(Option<Reg>, u8)> {
    match o? {
        Operand::Reg { reg, arrspec: None } => gpr(*reg),
        _ => None,
    }
}

/// A memory operand; for pre/post-indexed forms, the address of the access (the write-back
/// is [`writeback`]'s).
fn mem(o: &Operand) -> Option<Mem> {
    let base = |r: R| gpr(r).and_then(|(r, w)| if w == 64 { r } else { None });
    match o {
        Operand::MemReg(r) => Some(Mem {
            base: Some(base(*r)?),
            index: None,
            disp: 0,
        }),
        Operand::MemOffset {
            reg,
            offset,
            mul_vl: false,
            ..
        } => Some(Mem {
            base: Some(base(*reg)?),
            index: None,
            disp: imm(*offset),
        }),
        Operand::MemExt { regs, shift, .. } => {
            let (idx, w) = gpr(regs[1])?;
            let (mut ext, sh) = ext_shift(*shift)?;
            if w == 32 && ext.bits == 64 {
                ext = Ext::zero(32);
            }
            Some(Mem {
                base: Some(base(regs[0])?),
                index: Some(Src {
                    reg: idx?,
                    ext,
                    shift: sh,
                }),
                disp: 0,
            })
        }
        Operand::Label(l) => Some(Mem {
            base: None,
            index: None,
            disp: imm(*l),
        }),
        Operand::MemPreIdx { reg, imm: i } => Some(Mem {
            base: Some(base(*reg)?),
            index: None,
            disp: imm(*i),
        }),
        Operand::MemPostIdxImm { reg, .. } => Some(Mem {
            base: Some(base(*reg)?),
            index: None,
            disp: 0,
        }),
        _ => None,
    }
}

/// `base += offset` of a pre/post-indexed operand.
fn writeback(ops: &[Operand]) -> Option<(Reg, i32)> {
    ops.iter().find_map(|o| match o {
        Operand::MemPreIdx { reg, imm: i } | Operand::MemPostIdxImm { reg, imm: i } => {
            Some((gpr(*reg)?.0?, i32::try_from(imm(*i)).ok()?))
        }
        _ => None,
    })
}

/// Size in bytes and signedness of a load's memory access.
fn load_size(op: A, dst_width: u8) -> Option<(u8, bool)> {
    Some(match op {
        A::LDRB | A::LDURB | A::LDARB | A::LDAPRB => (1, false),
        A::LDRSB | A::LDURSB => (1, true),
        A::LDRH | A::LDURH | A::LDARH | A::LDAPRH => (2, false),
        A::LDRSH | A::LDURSH => (2, true),
        A::LDRSW | A::LDURSW => (4, true),
        A::LDR | A::LDUR | A::LDAR | A::LDAPR => (dst_width / 8, false),
        _ => return None,
    })
}

fn store_size(op: A, src_width: u8) -> Option<u8> {
    Some(match op {
        A::STRB | A::STURB | A::STLRB => 1,
        A::STRH | A::STURH | A::STLRH => 2,
        A::STR | A::STUR | A::STLR => src_width / 8,
        _ => return None,
    })
}

fn bin(op: A) -> Option<BinOp> {
    Some(match op {
        A::ADD | A::ADDS => BinOp::Add,
        A::SUB | A::SUBS => BinOp::Sub,
        A::AND | A::ANDS => BinOp::And,
        A::ORR => BinOp::Or,
        A::EOR => BinOp::Xor,
        A::LSL => BinOp::Shl,
        A::LSR => BinOp::Lsr,
        A::ASR => BinOp::Asr,
        A::ROR => BinOp::Ror,
        _ => return None,
    })
}

fn modelled(i: &bad64::Instruction) -> Option<Op> {
    let ops = i.operands();
    let op = i.op();
    if let Some(c) = branch_cond(op) {
        return Some(Op::Branch { cond: c });
    }
    match op {
        A::NOP
        | A::BTI
        | A::PACIASP
        | A::PACIBSP
        | A::AUTIASP
        | A::AUTIBSP
        | A::HINT
        | A::DMB
        | A::DSB
        | A::ISB
        | A::B
        | A::BL
        | A::RET
        | A::CBZ
        | A::CBNZ
        | A::TBZ
        | A::TBNZ => Some(Op::None),
        A::BR
        | A::BLR
        | A::BRAA
        | A::BRAB
        | A::BLRAA
        | A::BLRAB
        | A::BRAAZ
        | A::BRABZ
        | A::BLRAAZ
        | A::BLRABZ => match ops.first()? {
            Operand::Reg { reg, .. } => Some(Op::Indirect {
                target: Target::Reg(gpr(*reg)?.0?),
            }),
            _ => None,
        },
        A::ADR | A::ADRP => {
            let (d, width) = dst(ops.first())?;
            match ops.get(1)? {
                Operand::Label(l) => Some(match d {
                    Some(d) => Op::Set {
                        dst: d,
                        src: Value::Imm(imm(*l)),
                        width,
                    },
                    None => Op::None,
                }),
                _ => None,
            }
        }
        A::CMP | A::CMN | A::TST => {
            let (a, width) = dst(ops.first())?;
            let mut b = value(ops.get(1)?)?;
            if op == A::CMN {
                // cmn a, #k compares a with -k
                b = match b {
                    Value::Imm(k) => Value::Imm(k.wrapping_neg()),
                    _ => return None,
                };
            }
            Some(Op::Compare {
                a: a?,
                b,
                width,
                test: op == A::TST,
            })
        }
        A::MOV | A::MOVZ => {
            let (d, width) = dst(ops.first())?;
            let src = value(ops.get(1)?)?;
            Some(match d {
                Some(d) => Op::Set { dst: d, src, width },
                None => Op::None,
            })
        }
        A::MOVN => {
            let (d, width) = dst(ops.first())?;
            let Value::Imm(k) = value(ops.get(1)?)? else {
                return None;
            };
            Some(match d {
                Some(d) => Op::Set {
                    dst: d,
                    src: Value::Imm(!k),
                    width,
                },
                None => Op::None,
            })
        }
        A::MOVK => {
            let (d, width) = dst(ops.first())?;
            let (k, shift) = match ops.get(1)? {
                Operand::Imm32 { imm: i, shift } | Operand::Imm64 { imm: i, shift } => (
                    imm(*i),
                    match shift {
                        Some(Shift::LSL(n)) => *n as u8,
                        None => 0,
                        _ => return None,
                    },
                ),
                _ => return None,
            };
            Some(match d {
                Some(d) => Op::Insert {
                    dst: d,
                    imm: k as u16,
                    shift,
                    width,
                },
                None => Op::None,
            })
        }
        A::UXTB | A::UXTH | A::SXTB | A::SXTH | A::SXTW => {
            let (d, width) = dst(ops.first())?;
            let (r, _) = gpr(match ops.get(1)? {
                Operand::Reg { reg, .. } => *reg,
                _ => return None,
            })?;
            let ext = match op {
                A::UXTB => Ext::zero(8),
                A::UXTH => Ext::zero(16),
                A::SXTB => Ext::sign(8),
                A::SXTH => Ext::sign(16),
                _ => Ext::sign(32),
            };
            let src = match r {
                Some(r) => Value::Reg(Src {
                    reg: r,
                    ext,
                    shift: 0,
                }),
                None => Value::Imm(0),
            };
            Some(match d {
                Some(d) => Op::Set { dst: d, src, width },
                None => Op::None,
            })
        }
        A::CSEL => {
            let (d, width) = dst(ops.first())?;
            let a = value(ops.get(1)?)?;
            let b = value(ops.get(2)?)?;
            let Operand::Cond(c) = ops.get(3)? else {
                return None;
            };
            Some(match d {
                Some(d) => Op::Select {
                    dst: d,
                    cond: cond(*c),
                    a,
                    b,
                    width,
                },
                None => Op::None,
            })
        }
        _ if bin(op).is_some() && ops.len() == 3 => {
            let (d, width) = dst(ops.first())?;
            let (a, _) = match ops.get(1)? {
                Operand::Reg { reg, arrspec: None } => gpr(*reg)?,
                _ => return None,
            };
            let b = value(ops.get(2)?)?;
            let d = match d {
                Some(d) => d,
                None => return Some(Op::None), // `subs xzr, ...` without the cmp alias
            };
            Some(match a {
                Some(a) => Op::Bin {
                    op: bin(op)?,
                    dst: d,
                    a,
                    b,
                    width,
                },
                // `orr w0, wzr, ...` is a move of `b`.
                None if op == A::ORR || op == A::ADD => Op::Set {
                    dst: d,
                    src: b,
                    width,
                },
                None => return None,
            })
        }
        _ => {
            if let Some((size, signed)) = dst(ops.first()).and_then(|(_, w)| load_size(op, w)) {
                let (d, width) = dst(ops.first())?;
                let m = mem(ops.get(1)?)?;
                return Some(match d {
                    Some(d) => Op::Load {
                        dst: d,
                        mem: m,
                        size,
                        signed,
                        width,
                    },
                    None => Op::None,
                });
            }
            if let Some(size) = dst(ops.first()).and_then(|(_, w)| store_size(op, w)) {
                let (s, _) = dst(ops.first())?;
                let src = match s {
                    Some(r) => Value::Reg(Src::reg(r)),
                    None => Value::Imm(0),
                };
                return Some(Op::Store {
                    src,
                    mem: mem(ops.get(1)?)?,
                    size,
                });
            }
            None
        }
    }
}

/// Registers an unmodelled instruction may write: operand 0 if it is a general register (not
/// for stores, compares and branches, which have no destination), the second register of pairs
/// and exclusive-status results, and any written-back base.
fn written(i: &bad64::Instruction) -> u64 {
    let ops = i.operands();
    let name = i.op().mnem();
    let mut mask = 0u64;
    let mut add = |r: R| {
        if let Some((Some(r), _)) = gpr(r) {
            mask |= r.bit();
        }
    };
    for (n, o) in ops.iter().enumerate() {
        match o {
            Operand::Reg { reg, arrspec: None } if is_destination(name, n) => add(*reg),
            Operand::MemPostIdxReg(regs) => add(regs[0]),
            _ => {}
        }
    }
    // Calls write the link register.
    if matches!(
        i.op(),
        A::BL | A::BLR | A::BLRAA | A::BLRAB | A::BLRAAZ | A::BLRABZ
    ) {
        mask |= Reg(30).bit();
    }
    mask
}

/// Operand `n` as a general register: `Some(None)` for the zero register, with its width.
fn reg_at(ops: &[Operand], n: usize) -> Option<(Option<Reg>, u8)> {
    match ops.get(n)? {
        Operand::Reg { reg, arrspec: None } => gpr(*reg),
        _ => None,
    }
}

/// The base register of the (last) memory operand: `[xN]`, `[xN, #0]`, `[sp]`.
fn mem_base(ops: &[Operand]) -> Option<Reg> {
    let r = match ops.last()? {
        Operand::MemReg(r) | Operand::MemOffset { reg: r, .. } => *r,
        _ => return None,
    };
    gpr(r).and_then(|(r, w)| if w == 64 { r } else { None })
}

/// `a`, `l`, `al` or nothing, then `b`/`h` or nothing: the acquire/release bits and the size
/// suffix of an LSE mnemonic after its operation (`ldadd|alb`, `cas|l`, `stset|lh`).
fn order_size(rest: &str) -> Option<(bool, bool, Option<u8>)> {
    let (ord, size) = match rest.as_bytes().last() {
        Some(b'b') => (&rest[..rest.len() - 1], Some(1)),
        Some(b'h') => (&rest[..rest.len() - 1], Some(2)),
        _ => (rest, None),
    };
    let (a, l) = match ord {
        "" => (false, false),
        "a" => (true, false),
        "l" => (false, true),
        "al" => (true, true),
        _ => return None,
    };
    Some((a, l, size))
}

/// Cheap rejection by the first letters of the mnemonic: nearly every instruction (plain
/// `ldr`/`str`/`ldp`/`stp`/`ldur`, arithmetic, branches) is no atomic.
fn maybe_atomic(n: &[u8]) -> bool {
    match n {
        [b'l', b'd', b'u', b'm', ..] | [b's', b't', b'u', b'm', ..] => true, // ld/stumax, umin
        [b'l', b'd', c, ..] => matches!(c, b'x' | b'a' | b'c' | b'e' | b's'),
        [b's', b't', c, ..] => matches!(c, b'x' | b'l' | b'a' | b'c' | b'e' | b's'),
        [b's', b'w', ..] | [b'c', b'a', ..] | [b'c', b'l', ..] | [b'd', b'm', ..] => true,
        _ => false,
    }
}

/// Lowers the atomic and ordering instructions compilers emit for C11 atomics: exclusives
/// (`ldxr`, `ldaxr`, `stxr`, `stlxr`, byte/half/pair forms), `ldar`/`ldapr`/`stlr` (and the
/// unscaled RCpc `ldapur`/`stlur`), LSE (`ldadd`, `ldclr`, `ldeor`, `ldset`, `ld{s,u}{max,min}`
/// with `a`/`l`/`al` and `b`/`h`, their `st*` aliases, `swp`, `cas`, `casp`), `dmb` and
/// `clrex`. Not lowered: LSE128 (`ldclrp`, `ldsetp`, `swpp`), unprivileged (`ldtadd`, `swpt`,
/// `cast`), LORegion (`ldlar`, `stllr`) forms and `dmb nsh*` (orders nothing between cores).
fn atomic(i: &bad64::Instruction) -> Option<Atomic> {
    let op = i.op();
    let name = op.mnem();
    if !maybe_atomic(name.as_bytes()) {
        return None;
    }
    let ops = i.operands();
    let base = mem_base(ops);
    let width = |n: usize| reg_at(ops, n).map(|(_, w)| w / 8);
    let reg = |n: usize| reg_at(ops, n).and_then(|(r, _)| r);
    let at = |kind, size, acquire, release| {
        Some(Atomic {
            kind,
            size,
            acquire,
            release,
            base,
        })
    };
    match op {
        A::DMB => {
            let barrier = match ops.first()? {
                Operand::Name(n) => {
                    let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
                    match &n[..end] {
                        b"ish" | b"sy" | b"osh" => Barrier::Full,
                        b"ishld" | b"ld" | b"oshld" => Barrier::Load,
                        b"ishst" | b"st" | b"oshst" => Barrier::Store,
                        _ => return None,
                    }
                }
                _ => return None,
            };
            let (acquire, release) = match barrier {
                Barrier::Full => (true, true),
                Barrier::Load => (true, false),
                Barrier::Store => (false, false),
            };
            return Some(Atomic {
                kind: AtomicKind::Fence(barrier),
                size: 0,
                acquire,
                release,
                base: None,
            });
        }
        A::CLREX => {
            return Some(Atomic {
                kind: AtomicKind::ClearExclusive,
                size: 0,
                acquire: false,
                release: false,
                base: None,
            });
        }
        A::LDXR | A::LDAXR | A::LDXRB | A::LDAXRB | A::LDXRH | A::LDAXRH => {
            let size = match op {
                A::LDXRB | A::LDAXRB => 1,
                A::LDXRH | A::LDAXRH => 2,
                _ => width(0)?,
            };
            let acquire = matches!(op, A::LDAXR | A::LDAXRB | A::LDAXRH);
            return at(
                AtomicKind::LoadExclusive { dst: reg(0) },
                size,
                acquire,
                false,
            );
        }
        A::LDXP | A::LDAXP => {
            let kind = AtomicKind::LoadExclusive { dst: reg(0) };
            return at(kind, 2 * width(0)?, op == A::LDAXP, false);
        }
        A::STXR | A::STLXR | A::STXRB | A::STLXRB | A::STXRH | A::STLXRH => {
            let size = match op {
                A::STXRB | A::STLXRB => 1,
                A::STXRH | A::STLXRH => 2,
                _ => width(1)?,
            };
            let kind = AtomicKind::StoreExclusive {
                status: reg(0)?,
                src: reg(1),
            };
            let release = matches!(op, A::STLXR | A::STLXRB | A::STLXRH);
            return at(kind, size, false, release);
        }
        A::STXP | A::STLXP => {
            let kind = AtomicKind::StoreExclusive {
                status: reg(0)?,
                src: reg(1),
            };
            return at(kind, 2 * width(1)?, false, op == A::STLXP);
        }
        A::LDAR | A::LDARB | A::LDARH => {
            let size = match op {
                A::LDARB => 1,
                A::LDARH => 2,
                _ => width(0)?,
            };
            let kind = AtomicKind::LoadAcquire {
                dst: reg(0),
                rcpc: false,
            };
            return at(kind, size, true, false);
        }
        A::LDAPR | A::LDAPRB | A::LDAPRH | A::LDAPUR | A::LDAPURB | A::LDAPURH => {
            let size = match op {
                A::LDAPRB | A::LDAPURB => 1,
                A::LDAPRH | A::LDAPURH => 2,
                _ => width(0)?,
            };
            let kind = AtomicKind::LoadAcquire {
                dst: reg(0),
                rcpc: true,
            };
            return at(kind, size, true, false);
        }
        A::LDAPURSB | A::LDAPURSH | A::LDAPURSW => {
            let size = match op {
                A::LDAPURSB => 1,
                A::LDAPURSH => 2,
                _ => 4,
            };
            let kind = AtomicKind::LoadAcquire {
                dst: reg(0),
                rcpc: true,
            };
            return at(kind, size, true, false);
        }
        A::STLR | A::STLRB | A::STLRH | A::STLUR | A::STLURB | A::STLURH => {
            let size = match op {
                A::STLRB | A::STLURB => 1,
                A::STLRH | A::STLURH => 2,
                _ => width(0)?,
            };
            return at(AtomicKind::StoreRelease { src: reg(0) }, size, false, true);
        }
        _ => {}
    }
    // LSE by name: ld<op>[a|l|al][b|h], st<op>[l][b|h], swp.., cas.., casp..
    if let Some(rest) = name.strip_prefix("casp") {
        let (a, l, None) = order_size(rest)? else {
            return None;
        };
        let kind = AtomicKind::Cas {
            expected: reg(0),
            new: reg(2),
        };
        return at(kind, 2 * width(0)?, a, l);
    }
    if let Some(rest) = name.strip_prefix("cas") {
        let (a, l, size) = order_size(rest)?;
        let kind = AtomicKind::Cas {
            expected: reg(0),
            new: reg(1),
        };
        return at(kind, size.or(width(0))?, a, l);
    }
    if let Some(rest) = name.strip_prefix("swp") {
        let (a, l, size) = order_size(rest)?;
        let kind = AtomicKind::Swap {
            src: reg(0),
            old: reg(1),
        };
        return at(kind, size.or(width(0))?, a, l);
    }
    let (load, rest) = match name.get(..2)? {
        "ld" => (true, &name[2..]),
        "st" => (false, &name[2..]),
        _ => return None,
    };
    const OPS: [(&str, RmwOp); 8] = [
        ("add", RmwOp::Add),
        ("clr", RmwOp::AndNot),
        ("eor", RmwOp::Xor),
        ("set", RmwOp::Or),
        ("smax", RmwOp::SMax),
        ("smin", RmwOp::SMin),
        ("umax", RmwOp::UMax),
        ("umin", RmwOp::UMin),
    ];
    let (rmw, rest) = OPS
        .iter()
        .find_map(|(p, o)| rest.strip_prefix(p).map(|r| (*o, r)))?;
    let (a, l, size) = order_size(rest)?;
    if !load && a {
        return None; // the st* aliases have no acquire forms
    }
    let kind = AtomicKind::Rmw {
        op: rmw,
        src: reg(0),
        old: if load { reg(1) } else { None },
    };
    at(kind, size.or(width(0))?, a, l)
}

/// `neg`, `mvn`, `bic` (register forms): arithmetic [`Op`] clobbers.
fn alu(i: &bad64::Instruction) -> Option<Alu> {
    let ops = i.operands();
    let op = match i.op() {
        A::NEG => AluOp::Neg,
        A::MVN => AluOp::Not,
        A::BIC if ops.len() == 3 => AluOp::AndNot,
        _ => return None,
    };
    Some(Alu {
        op,
        dst: reg_at(ops, 0)?.0?,
        a: reg_at(ops, 1)?.0,
    })
}

fn reg_branch(i: &bad64::Instruction) -> Option<RegBranch> {
    let ops = i.operands();
    let (bit, nonzero) = match i.op() {
        A::CBZ => (None, false),
        A::CBNZ => (None, true),
        A::TBZ | A::TBNZ => match ops.get(1)? {
            Operand::Imm32 { imm: k, .. } | Operand::Imm64 { imm: k, .. } => {
                (Some(imm(*k) as u8), i.op() == A::TBNZ)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(RegBranch {
        reg: reg_at(ops, 0)?.0?,
        bit,
        nonzero,
    })
}

/// Whether operand `n` of the instruction named `name` is a destination register: the first
/// (not a store's: it stores it), and a load pair's second (ldp/ldxp).
fn is_destination(name: &str, n: usize) -> bool {
    let stores = name.starts_with("st") && !name.starts_with("stx") && !name.starts_with("stlx");
    (n == 0 && !stores) || (n == 1 && name.starts_with("ld") && name.ends_with('p'))
}

/// General registers an unmodelled instruction reads: those of its operands but, when it
/// `writes` registers, the destinations `written` takes; and every address register.
fn read(i: &bad64::Instruction, writes: bool) -> u32 {
    let name = i.op().mnem();
    let mut mask = 0u32;
    let mut add = |r: R| {
        if let Some((Some(r), _)) = gpr(r) {
            mask |= 1u32 << (r.0 & 31);
        }
    };
    for (n, o) in i.operands().iter().enumerate() {
        match *o {
            Operand::Reg { reg, .. }
            | Operand::ShiftReg { reg, .. }
            | Operand::QualReg { reg, .. }
                if !(writes && is_destination(name, n)) =>
            {
                add(reg)
            }
            Operand::MemReg(reg)
            | Operand::MemOffset { reg, .. }
            | Operand::MemPreIdx { reg, .. }
            | Operand::MemPostIdxImm { reg, .. } => add(reg),
            Operand::MemPostIdxReg(regs) | Operand::MemExt { regs, .. } => {
                regs.into_iter().for_each(&mut add)
            }
            _ => {}
        }
    }
    mask
}

pub(super) fn lower(i: &bad64::Instruction) -> Sem {
    let writes_flags = i.flags_set().is_some();
    let atomic = atomic(i);
    let op = match (atomic.map(|a| a.kind), modelled(i)) {
        // LSE: the old value goes to Rt (operand 1), not to the source Rs.
        (Some(AtomicKind::Rmw { old, .. } | AtomicKind::Swap { old, .. }), _) => match old {
            Some(r) => Op::Clobber(r.bit()),
            None => Op::None,
        },
        // casp: both registers of the first pair receive the old value.
        (
            Some(AtomicKind::Cas {
                expected: Some(r), ..
            }),
            _,
        ) if i.op().mnem().starts_with("casp") => Op::Clobber(r.bit() | Reg(r.0 + 1).bit()),
        (_, Some(op)) => op,
        (_, None) => match written(i) {
            0 => Op::None,
            m => Op::Clobber(m),
        },
    };
    // `subs rd, rn, #k` / `adds rd, rn, #k` set the flags of `cmp rn, #k` / `cmn rn, #k`
    let ops = i.operands();
    let flags_as_compare = match (i.op(), ops.get(1), ops.get(2).and_then(value)) {
        (A::SUBS | A::ADDS, Some(Operand::Reg { reg, arrspec: None }), Some(Value::Imm(k))) => {
            gpr(*reg).and_then(|(r, w)| {
                let k = if i.op() == A::ADDS {
                    k.wrapping_neg()
                } else {
                    k
                };
                Some((r?, k, w))
            })
        }
        _ => None,
    };
    // what an unmodelled instruction reads (`cbz x0`, `scvtf d0, w1`; a branch's operand is
    // a label, `ret`'s x30)
    let reads = match op {
        // nothing written: every register operand is read (`cbz x0`, `ccmp w0, #1, ...`)
        Op::None => read(i, false),
        Op::Clobber(_) => read(i, true),
        _ => 0,
    };
    Sem {
        op,
        writes_flags,
        reads,
        flags_as_compare,
        writeback: writeback(ops),
        atomic,
        alu: alu(i),
        reg_branch: reg_branch(i),
        unmodelled_mem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Aarch64;
    use gloss_core::Disassembler;
    use gloss_core::sem::{
        Alu, AluOp, Atomic, AtomicKind, Barrier, BinOp, Cond, Ext, Mem, Op, Reg, RegBranch, RmwOp,
        Src, Target, Value,
    };

    fn op(bytes: [u8; 4], addr: u64) -> Op {
        Aarch64.decode_sem(&bytes, addr).1.op
    }
    fn r(n: u8) -> Reg {
        Reg(n)
    }
    fn src(n: u8, ext: Ext, shift: u8) -> Value {
        Value::Reg(Src {
            reg: r(n),
            ext,
            shift,
        })
    }

    /// Encodings from llvm-mc-19 -show-encoding; the meaning is the Arm ARM's.
    #[test]
    fn switch_dispatch_sequence() {
        let cmp = Aarch64.decode_sem(&[0x1f, 0x24, 0x00, 0x71], 0);
        assert!(cmp.1.writes_flags);
        assert_eq!(
            cmp.1.op,
            Op::Compare {
                a: r(0),
                b: Value::Imm(9),
                width: 32,
                test: false
            }
        );
        assert_eq!(
            op([0x08, 0x02, 0x00, 0x54], 0),
            Op::Branch { cond: Cond::Hi }
        );
        assert_eq!(
            op([0x81, 0x00, 0x00, 0x90], 0x1234),
            Op::Set {
                dst: r(1),
                src: Value::Imm(0x11000),
                width: 64
            }
        );
        assert_eq!(
            op([0x21, 0x80, 0x0c, 0x91], 0),
            Op::Bin {
                op: BinOp::Add,
                dst: r(1),
                a: r(1),
                b: Value::Imm(0x320),
                width: 64
            }
        );
        assert_eq!(
            op([0x21, 0x48, 0x60, 0x38], 0),
            Op::Load {
                dst: r(1),
                mem: Mem {
                    base: Some(r(1)),
                    index: Some(Src {
                        reg: r(0),
                        ext: Ext::zero(32),
                        shift: 0
                    }),
                    disp: 0
                },
                size: 1,
                signed: false,
                width: 32
            }
        );
        assert_eq!(
            op([0x02, 0x01, 0x00, 0x10], 0x100),
            Op::Set {
                dst: r(2),
                src: Value::Imm(0x120),
                width: 64
            }
        );
        assert_eq!(
            op([0x41, 0x88, 0x21, 0x8b], 0),
            Op::Bin {
                op: BinOp::Add,
                dst: r(1),
                a: r(2),
                b: src(1, Ext::sign(8), 2),
                width: 64
            }
        );
        assert_eq!(
            op([0x20, 0x00, 0x1f, 0xd6], 0),
            Op::Indirect {
                target: Target::Reg(r(1))
            }
        );
        assert_eq!(
            op([0x28, 0x79, 0xa8, 0xb8], 0),
            Op::Load {
                dst: r(8),
                mem: Mem {
                    base: Some(r(9)),
                    index: Some(Src {
                        reg: r(8),
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
        assert_eq!(
            op([0x28, 0x79, 0x68, 0x78], 0),
            Op::Load {
                dst: r(8),
                mem: Mem {
                    base: Some(r(9)),
                    index: Some(Src {
                        reg: r(8),
                        ext: Ext::NONE,
                        shift: 1
                    }),
                    disp: 0
                },
                size: 2,
                signed: false,
                width: 32
            }
        );
    }

    #[test]
    fn moves_selects_and_extensions() {
        assert_eq!(
            op([0x08, 0x14, 0x00, 0x51], 0),
            Op::Bin {
                op: BinOp::Sub,
                dst: r(8),
                a: r(0),
                b: Value::Imm(5),
                width: 32
            }
        );
        assert_eq!(
            op([0xe8, 0x03, 0x00, 0x2a], 0),
            Op::Set {
                dst: r(8),
                src: src(0, Ext::zero(32), 0),
                width: 32
            }
        );
        assert_eq!(
            op([0x08, 0x31, 0x89, 0x1a], 0),
            Op::Select {
                dst: r(8),
                cond: Cond::Lo,
                a: src(8, Ext::zero(32), 0),
                b: src(9, Ext::zero(32), 0),
                width: 32
            }
        );
        assert_eq!(
            op([0x08, 0x09, 0x88, 0x13], 0),
            Op::Bin {
                op: BinOp::Ror,
                dst: r(8),
                a: r(8),
                b: Value::Imm(2),
                width: 32
            }
        );
        assert_eq!(
            op([0x08, 0x1c, 0x00, 0x12], 0),
            Op::Bin {
                op: BinOp::And,
                dst: r(8),
                a: r(0),
                b: Value::Imm(0xff),
                width: 32
            }
        );
        assert_eq!(
            op([0x20, 0x00, 0x80, 0x92], 0),
            Op::Set {
                dst: r(0),
                src: Value::Imm(-2),
                width: 64
            }
        );
        assert_eq!(
            op([0x08, 0x1c, 0x00, 0x13], 0),
            Op::Set {
                dst: r(8),
                src: src(0, Ext::sign(8), 0),
                width: 32
            }
        );
    }

    #[test]
    fn virtual_call_loads_and_clobbers() {
        assert_eq!(
            op([0x68, 0x02, 0x40, 0xf9], 0),
            Op::Load {
                dst: r(8),
                mem: Mem {
                    base: Some(r(19)),
                    index: None,
                    disp: 0
                },
                size: 8,
                signed: false,
                width: 64
            }
        );
        assert_eq!(
            op([0x08, 0x05, 0x40, 0xf9], 0),
            Op::Load {
                dst: r(8),
                mem: Mem {
                    base: Some(r(8)),
                    index: None,
                    disp: 8
                },
                size: 8,
                signed: false,
                width: 64
            }
        );
        assert_eq!(
            op([0x00, 0x01, 0x3f, 0xd6], 0),
            Op::Indirect {
                target: Target::Reg(r(8))
            }
        );
        // ldp x29, x30, [sp], #16 writes x29, x30 and, after the access, sp += 16
        let ldp = Aarch64.decode_sem(&[0xfd, 0x7b, 0xc1, 0xa8], 0).1;
        assert_eq!(ldp.op, Op::Clobber(r(29).bit() | r(30).bit()));
        assert_eq!(ldp.writeback, Some((r(31), 16)));
        // movk x0, #1, lsl #16
        assert_eq!(
            op([0x20, 0x00, 0xa0, 0xf2], 0),
            Op::Insert {
                dst: r(0),
                imm: 1,
                shift: 16,
                width: 64
            }
        );
        assert_eq!(
            op([0xe0, 0x07, 0x00, 0xf9], 0),
            Op::Store {
                src: Value::Reg(Src::reg(r(0))),
                mem: Mem {
                    base: Some(r(31)),
                    index: None,
                    disp: 8
                },
                size: 8
            }
        );
    }

    fn atomic(bytes: [u8; 4]) -> Option<Atomic> {
        Aarch64.decode_sem(&bytes, 0x1000).1.atomic
    }
    fn at(kind: AtomicKind, size: u8, acquire: bool, release: bool, base: u8) -> Option<Atomic> {
        Some(Atomic {
            kind,
            size,
            acquire,
            release,
            base: Some(r(base)),
        })
    }

    /// Encodings from llvm-mc-19 -show-encoding (`-mattr=+lse,+rcpc,+rcpc-immo`); ordering
    /// bits as the Arm ARM gives them (`a`: acquire, `l`: release).
    #[test]
    fn exclusives_and_acquire_release() {
        // ldaxr w9, [x8]; stlxr w9, w1, [x8] (clang's seq_cst loop)
        assert_eq!(
            atomic([0x09, 0xfd, 0x5f, 0x88]),
            at(
                AtomicKind::LoadExclusive { dst: Some(r(9)) },
                4,
                true,
                false,
                8
            )
        );
        let stlxr = Aarch64.decode_sem(&[0x01, 0xfd, 0x09, 0x88], 0).1;
        assert_eq!(
            stlxr.atomic,
            at(
                AtomicKind::StoreExclusive {
                    status: r(9),
                    src: Some(r(1))
                },
                4,
                false,
                true,
                8
            )
        );
        assert_eq!(stlxr.op, Op::Clobber(r(9).bit()));
        // ldaxrb w9, [x8]
        assert_eq!(
            atomic([0x09, 0xfd, 0x5f, 0x08]),
            at(
                AtomicKind::LoadExclusive { dst: Some(r(9)) },
                1,
                true,
                false,
                8
            )
        );
        // ldxp x0, x1, [x2]; stlxp w3, x0, x1, [x2]: 16 bytes
        assert_eq!(
            atomic([0x40, 0x04, 0x7f, 0xc8]),
            at(
                AtomicKind::LoadExclusive { dst: Some(r(0)) },
                16,
                false,
                false,
                2
            )
        );
        assert_eq!(
            atomic([0x40, 0x84, 0x23, 0xc8]),
            at(
                AtomicKind::StoreExclusive {
                    status: r(3),
                    src: Some(r(0))
                },
                16,
                false,
                true,
                2
            )
        );
        // ldar w0, [x1]; ldapr x0, [x1]; stlr w0, [x1]; stlurb w1, [x2, #3]
        assert_eq!(
            atomic([0x20, 0xfc, 0xdf, 0x88]),
            at(
                AtomicKind::LoadAcquire {
                    dst: Some(r(0)),
                    rcpc: false
                },
                4,
                true,
                false,
                1
            )
        );
        assert_eq!(
            atomic([0x20, 0xc0, 0xbf, 0xf8]),
            at(
                AtomicKind::LoadAcquire {
                    dst: Some(r(0)),
                    rcpc: true
                },
                8,
                true,
                false,
                1
            )
        );
        assert_eq!(
            atomic([0x20, 0xfc, 0x9f, 0x88]),
            at(
                AtomicKind::StoreRelease { src: Some(r(0)) },
                4,
                false,
                true,
                1
            )
        );
        assert_eq!(
            atomic([0x41, 0x30, 0x00, 0x19]),
            at(
                AtomicKind::StoreRelease { src: Some(r(1)) },
                1,
                false,
                true,
                2
            )
        );
        // plain ldr w0, [x1] / str are not atomic
        assert_eq!(atomic([0x20, 0x00, 0x40, 0xb9]), None);
        assert_eq!(atomic([0x20, 0x00, 0x00, 0xb9]), None);
    }

    #[test]
    fn lse_and_barriers() {
        let rmw = |op, src: u8, old: Option<u8>| AtomicKind::Rmw {
            op,
            src: Some(r(src)),
            old: old.map(r),
        };
        // ldsetal w0, w0, [x1] (the seed's fetch_or with LSE): the old value goes to Rt
        let ldset = Aarch64.decode_sem(&[0x20, 0x30, 0xe0, 0xb8], 0).1;
        assert_eq!(
            ldset.atomic,
            at(rmw(RmwOp::Or, 0, Some(0)), 4, true, true, 1)
        );
        assert_eq!(ldset.op, Op::Clobber(r(0).bit()));
        // ldaddlh w1, w2, [sp]: writes w2, not the source w1
        let ldadd = Aarch64.decode_sem(&[0xe2, 0x03, 0x61, 0x78], 0).1;
        assert_eq!(
            ldadd.atomic,
            at(rmw(RmwOp::Add, 1, Some(2)), 2, false, true, 31)
        );
        assert_eq!(ldadd.op, Op::Clobber(r(2).bit()));
        // ldclr w0, w0, [x1]; ldsmaxa w1, w2, [x3]; stadd w0, [x1]
        assert_eq!(
            atomic([0x20, 0x10, 0x20, 0xb8]),
            at(rmw(RmwOp::AndNot, 0, Some(0)), 4, false, false, 1)
        );
        assert_eq!(
            atomic([0x62, 0x40, 0xa1, 0xb8]),
            at(rmw(RmwOp::SMax, 1, Some(2)), 4, true, false, 3)
        );
        assert_eq!(
            atomic([0x3f, 0x00, 0x20, 0xb8]),
            at(rmw(RmwOp::Add, 0, None), 4, false, false, 1)
        );
        // swpal x0, x1, [x2]
        assert_eq!(
            atomic([0x41, 0x80, 0xe0, 0xf8]),
            at(
                AtomicKind::Swap {
                    src: Some(r(0)),
                    old: Some(r(1))
                },
                8,
                true,
                true,
                2
            )
        );
        // casalh w0, w1, [x2]; caspal x0, x1, x2, x3, [x4]
        let cas = |e: u8, n: u8| AtomicKind::Cas {
            expected: Some(r(e)),
            new: Some(r(n)),
        };
        assert_eq!(
            atomic([0x41, 0xfc, 0xe0, 0x48]),
            at(cas(0, 1), 2, true, true, 2)
        );
        let casp = Aarch64.decode_sem(&[0x82, 0xfc, 0x60, 0x48], 0).1;
        assert_eq!(casp.atomic, at(cas(0, 2), 16, true, true, 4));
        assert_eq!(casp.op, Op::Clobber(r(0).bit() | r(1).bit()));
        // dmb ish / sy: full; dmb ishld: acquire fence; dmb ishst: stores only; clrex
        let fence = |b, acquire, release| {
            Some(Atomic {
                kind: AtomicKind::Fence(b),
                size: 0,
                acquire,
                release,
                base: None,
            })
        };
        assert_eq!(
            atomic([0xbf, 0x3b, 0x03, 0xd5]),
            fence(Barrier::Full, true, true)
        );
        assert_eq!(
            atomic([0xbf, 0x3f, 0x03, 0xd5]),
            fence(Barrier::Full, true, true)
        );
        assert_eq!(
            atomic([0xbf, 0x39, 0x03, 0xd5]),
            fence(Barrier::Load, true, false)
        );
        assert_eq!(
            atomic([0xbf, 0x3a, 0x03, 0xd5]),
            fence(Barrier::Store, false, false)
        );
        assert_eq!(
            atomic([0x5f, 0x3f, 0x03, 0xd5]).map(|a| a.kind),
            Some(AtomicKind::ClearExclusive)
        );
    }

    #[test]
    fn negation_complement_and_register_branches() {
        // neg w0, w0; mvn w0, w0 (before ldadd / ldclr); bic w17, w0, w16 (ldclr's LL/SC)
        let alu = |bytes: [u8; 4]| Aarch64.decode_sem(&bytes, 0).1.alu;
        let a = |op, dst, src| {
            Some(Alu {
                op,
                dst: r(dst),
                a: Some(r(src)),
            })
        };
        assert_eq!(alu([0xe0, 0x03, 0x00, 0x4b]), a(AluOp::Neg, 0, 0));
        assert_eq!(alu([0xe0, 0x03, 0x20, 0x2a]), a(AluOp::Not, 0, 0));
        assert_eq!(alu([0x11, 0x00, 0x30, 0x0a]), a(AluOp::AndNot, 17, 0));
        assert_eq!(alu([0x08, 0x14, 0x00, 0x51]), None); // sub w8, w0, #5 is an Op::Bin
        // cbnz w9, +4; tbz w8, #0, +0
        let rb = |bytes: [u8; 4]| Aarch64.decode_sem(&bytes, 0x1000).1.reg_branch;
        assert_eq!(
            rb([0x29, 0x00, 0x00, 0x35]),
            Some(RegBranch {
                reg: r(9),
                bit: None,
                nonzero: true
            })
        );
        assert_eq!(
            rb([0x08, 0x00, 0x00, 0x36]),
            Some(RegBranch {
                reg: r(8),
                bit: Some(0),
                nonzero: false
            })
        );
    }
}
