//! AArch64 instructions lowered to [`gloss_core::sem`]: the moves, address materialisation
//! (`adr`, `adrp`), arithmetic with shifted and extended registers, loads and stores, compares
//! and branches that compilers use for switch dispatch, addresses and call arguments. Other
//! instructions clobber their destination register (operand 0) and any written-back base.
use bad64::{Condition, Imm, Op as A, Operand, Reg as R, Shift};
use gloss_core::sem::{BinOp, Cond, Ext, Mem, Op, Reg, Sem, Src, Target, Value};

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
fn writeback(ops: &[Operand]) -> Option<(Reg, i64)> {
    ops.iter().find_map(|o| match o {
        Operand::MemPreIdx { reg, imm: i } | Operand::MemPostIdxImm { reg, imm: i } => {
            Some((gpr(*reg)?.0?, imm(*i)))
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
    let stores = name.starts_with("st") && !name.starts_with("stx") && !name.starts_with("stlx");
    let mut mask = 0u64;
    let mut add = |r: R| {
        if let Some((Some(r), _)) = gpr(r) {
            mask |= r.bit();
        }
    };
    for (n, o) in ops.iter().enumerate() {
        match o {
            Operand::Reg { reg, arrspec: None } if n == 0 && !stores => add(*reg),
            // ldp/ldxp: the second destination
            Operand::Reg { reg, arrspec: None }
                if n == 1 && name.starts_with("ld") && name.ends_with('p') =>
            {
                add(*reg)
            }
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

pub(super) fn lower(i: &bad64::Instruction) -> Sem {
    let writes_flags = i.flags_set().is_some();
    let op = match modelled(i) {
        Some(op) => op,
        None => match written(i) {
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
    Sem {
        op,
        writes_flags,
        flags_as_compare,
        writeback: writeback(ops),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Aarch64;
    use gloss_core::Disassembler;
    use gloss_core::sem::{BinOp, Cond, Ext, Mem, Op, Reg, Src, Target, Value};

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
}
