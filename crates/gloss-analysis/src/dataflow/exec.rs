//! Forward symbolic execution of [`gloss_core::sem`] operations along one path of blocks,
//! collecting the guards (compare + conditional branch) that hold on the path.
use super::expr::{E, Exprs, Node};
use gloss_core::sem::{BinOp, Cond, Mem, Op, Reg, Sem, Src, Target, Value};
use gloss_core::{Arch, Flow, Insn};
use rustc_hash::FxHashMap;

/// A condition known to hold on the path: `a cond b` after the compare at `cmp_at`, checked by
/// the branch at `branch_at`; `exit` is where control goes when it does not hold.
#[derive(Clone, Copy, Debug)]
pub struct Guard {
    pub a: E,
    pub b: E,
    pub width: u8,
    pub cond: Cond,
    pub cmp_at: u64,
    pub branch_at: u64,
    pub exit: u64,
}

#[derive(Clone, Copy)]
struct Flags {
    a: E,
    b: E,
    width: u8,
    test: bool,
    at: u64,
}

pub struct Exec {
    pub x: Exprs,
    regs: FxHashMap<Reg, E>,
    /// Values stored at symbolic addresses on the path (stack spills at -O0), by (address,
    /// size): a later load of the same address reads them back.
    stored: FxHashMap<(E, u8), E>,
    flags: Option<Flags>,
    pub guards: Vec<Guard>,
    caller_saved: u64,
}

/// Registers a call may change: SysV x86-64 (rax, rcx, rdx, rsi, rdi, r8-r11; Windows x64
/// preserves rsi/rdi, but assuming less is safe) and AAPCS64 (x0-x18, x30).
fn caller_saved(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => [0u8, 1, 2, 6, 7, 8, 9, 10, 11]
            .iter()
            .fold(0, |m, r| m | Reg(*r).bit()),
        Arch::Aarch64 => (0u8..=18).chain([30]).fold(0, |m, r| m | Reg(r).bit()),
    }
}

impl Exec {
    pub fn new(arch: Arch) -> Exec {
        Exec {
            x: Exprs::default(),
            regs: FxHashMap::default(),
            stored: FxHashMap::default(),
            flags: None,
            guards: Vec::new(),
            caller_saved: caller_saved(arch),
        }
    }

    pub fn reg(&mut self, r: Reg) -> E {
        if let Some(&e) = self.regs.get(&r) {
            return e;
        }
        let e = self.x.input(r);
        self.regs.insert(r, e);
        e
    }

    fn src(&mut self, s: Src) -> E {
        let mut v = self.reg(s.reg);
        if s.ext.bits < 64 {
            v = if s.ext.signed {
                self.x.sext(v, s.ext.bits)
            } else {
                self.x.zext(v, s.ext.bits)
            };
        }
        self.x.shl(v, s.shift)
    }

    fn value(&mut self, v: Value) -> E {
        match v {
            Value::Reg(s) => self.src(s),
            Value::Imm(i) => self.x.konst(i as u64),
        }
    }

    pub fn address(&mut self, m: Mem) -> E {
        let mut a = self.x.konst(m.disp as u64);
        if let Some(b) = m.base {
            let b = self.reg(b);
            a = self.x.add(b, a);
        }
        if let Some(i) = m.index {
            let i = self.src(i);
            a = self.x.add(i, a);
        }
        a
    }

    fn set(&mut self, dst: Reg, v: E, width: u8) {
        let v = match width {
            64.. => v,
            32 => self.x.zext(v, 32),
            // x86 8/16-bit writes keep the other bits of the register
            _ => {
                let old = self.reg(dst);
                let keep = self.x.konst(!super::expr::mask(width));
                let high = self.x.bin(Node::And, |p, q| p & q, old, keep);
                let low = self.x.zext(v, width);
                self.x.bin(Node::Or, |p, q| p | q, high, low)
            }
        };
        self.regs.insert(dst, v);
    }

    fn compare(&mut self, a: E, b: E, width: u8, test: bool, at: u64) {
        let a = self.x.zext(a, width);
        let b = self.x.zext(b, width);
        self.flags = Some(Flags {
            a,
            b,
            width,
            test,
            at,
        });
    }

    fn clobber(&mut self, mask: u64) {
        for r in 0..64u8 {
            if mask & (1 << r) != 0 {
                let o = self.x.opaque();
                self.regs.insert(Reg(r), o);
            }
        }
    }

    /// A register that holds `e` (or `e` zero-extended from `width` bits) at this point of the
    /// path: the input register itself when nothing overwrote it, else the lowest-numbered copy.
    pub fn holder(&mut self, e: E, width: u8) -> Option<Reg> {
        if let Node::Input(r) = self.x.node(e)
            && !self.regs.contains_key(&r)
        {
            return Some(r);
        }
        let z = self.x.zext(e, width);
        self.regs
            .iter()
            .filter(|(_, v)| **v == e || **v == z)
            .map(|(r, _)| *r)
            .min()
    }

    /// The value an indirect branch goes to.
    pub fn target(&mut self, t: Target) -> E {
        match t {
            Target::Reg(r) => self.reg(r),
            Target::Mem(m) => {
                let a = self.address(m);
                self.x.load(a, 8, false)
            }
        }
    }

    /// Executes one instruction. `taken` says, for a conditional branch, which way the path
    /// continues (`None` for the path's last instruction or non-branches).
    pub fn step(&mut self, insn: &Insn, sem: &Sem, taken: Option<bool>) {
        // flags of `subs`/`adds` compare the old register value, read before the write
        let flags_cmp = sem.flags_as_compare.map(|(r, k, w)| (self.reg(r), k, w));
        match sem.op {
            Op::None | Op::Indirect { .. } => {}
            Op::Store { src, mem, size } => {
                let a = self.address(mem);
                let v = self.value(src);
                if self.x.as_const(a).is_none() {
                    self.stored.insert((a, size), v);
                }
            }
            Op::Insert {
                dst,
                imm,
                shift,
                width,
            } => {
                let old = self.reg(dst);
                let v = match self.x.as_const(old) {
                    Some(o) => {
                        let m = 0xffffu64 << shift;
                        self.x.konst((o & !m) | ((imm as u64) << shift))
                    }
                    None => self.x.opaque(),
                };
                self.set(dst, v, width);
            }
            Op::CompareMem { mem, size, b } => {
                let a = self.address(mem);
                let a = self.x.load(a, size, false);
                let b = self.value(b);
                self.compare(a, b, size * 8, false, insn.addr);
                return;
            }
            Op::Set { dst, src, width } => {
                let v = self.value(src);
                self.set(dst, v, width);
            }
            Op::Bin {
                op,
                dst,
                a,
                b,
                width,
            } => {
                let a = self.reg(a);
                let a = if width < 64 { self.x.zext(a, width) } else { a };
                let b = self.value(b);
                let shift = |x: &Exprs| x.as_const(b).map(|s| s as u8);
                let v = match op {
                    BinOp::Add => self.x.add(a, b),
                    BinOp::Sub => self.x.sub(a, b),
                    BinOp::And => self.x.and(a, b),
                    BinOp::Or => self.x.bin(Node::Or, |p, q| p | q, a, b),
                    BinOp::Xor => self.x.bin(Node::Xor, |p, q| p ^ q, a, b),
                    BinOp::Shl | BinOp::Lsr | BinOp::Asr | BinOp::Ror => match shift(&self.x) {
                        Some(s) => match op {
                            BinOp::Shl => self.x.shl(a, s),
                            BinOp::Lsr => self.x.lsr(a, s),
                            BinOp::Asr => {
                                let a = self.x.sext(a, width);
                                self.x.asr(a, s)
                            }
                            _ => self.x.ror(a, s, width),
                        },
                        None => self.x.opaque(),
                    },
                };
                self.set(dst, v, width);
            }
            Op::Load {
                dst,
                mem,
                size,
                signed,
                width,
            } => {
                let a = self.address(mem);
                let v = match self.stored.get(&(a, size)) {
                    Some(&v) if signed => self.x.sext(v, size * 8),
                    Some(&v) => self.x.zext(v, size * 8),
                    None => self.x.load(a, size, signed),
                };
                self.set(dst, v, width);
            }
            Op::Addr { dst, mem, width } => {
                let a = self.address(mem);
                self.set(dst, a, width);
            }
            Op::Compare { a, b, width, test } => {
                let a = self.reg(a);
                let b = self.value(b);
                self.compare(a, b, width, test, insn.addr);
                return;
            }
            Op::Select { dst, width, .. } => {
                let o = self.x.opaque();
                self.set(dst, o, width);
            }
            Op::Branch { cond } => {
                if let (Some(f), Some(taken), Flow::CondJump(t)) = (self.flags, taken, insn.flow)
                    && !f.test
                {
                    let (cond, exit) = if taken {
                        (cond, insn.end())
                    } else {
                        (cond.negate(), t)
                    };
                    self.guards.push(Guard {
                        a: f.a,
                        b: f.b,
                        width: f.width,
                        cond,
                        cmp_at: f.at,
                        branch_at: insn.addr,
                        exit,
                    });
                }
            }
            Op::Clobber(mask) => self.clobber(mask),
        }
        if let Some((base, off)) = sem.writeback {
            let b = self.reg(base);
            let k = self.x.konst(off as u64);
            let v = self.x.add(b, k);
            self.regs.insert(base, v);
        }
        if sem.writes_flags {
            self.flags = None;
        }
        if let Some((a, k, w)) = flags_cmp {
            let k = self.x.konst(k as u64);
            self.compare(a, k, w, false, insn.addr);
        }
        if matches!(insn.flow, Flow::Call(_) | Flow::IndirectCall) {
            self.clobber(self.caller_saved);
            self.stored.clear();
            self.flags = None;
        }
    }
}
