//! Forward symbolic execution of [`gloss_core::sem`] operations along one path of blocks,
//! collecting the guards (compare + conditional branch) that hold on the path.
use super::expr::{E, Exprs, Node};
use gloss_core::sem::{BinOp, Cond, Mem, Op, Reg, Sem, Src, Target, Value};
use gloss_core::{Arch, Flow, Insn};

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

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags {
    a: E,
    b: E,
    width: u8,
    test: bool,
    at: u64,
}

/// What is known at one point of a path: registers that changed since its start (the others
/// hold their `Input`), values stored at symbolic addresses (stack spills at -O0), by
/// (address, size), which a later load of the same address reads back, and the flags.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct State {
    pub(crate) regs: Regs,
    pub(crate) stored: Stored,
    pub(crate) flags: Option<Flags>,
}

impl State {
    /// Nothing known: every register holds its input.
    pub(crate) fn clear(&mut self) {
        self.regs = Regs::default();
        self.stored.clear();
        self.flags = None;
    }

    /// `clone_from` that keeps this state's buffer.
    pub(crate) fn copy_from(&mut self, other: &State) {
        self.regs = other.regs.clone();
        self.stored.0.clone_from(&other.stored.0);
        self.flags = other.flags;
    }
}

/// Values stored at symbolic addresses, by (address, size): few per path (spill slots), so
/// a list, which copies without allocating when empty.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Stored(Vec<((E, u8), E)>);

impl Stored {
    pub fn get(&self, k: &(E, u8)) -> Option<&E> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v)
    }
    pub fn insert(&mut self, k: (E, u8), v: E) {
        match self.0.iter_mut().find(|(a, _)| *a == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }
    pub fn clear(&mut self) {
        self.0.clear();
    }
    /// Keeps the entries `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&(E, u8)) -> bool) {
        self.0.retain(|(k, _)| keep(k));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&(E, u8), &E)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    /// Appends the entries of `from` that `keep` accepts, in their order.
    pub(crate) fn extend_agreed(&mut self, from: &Stored, keep: impl Fn(&(E, u8), &E) -> bool) {
        self.0
            .extend(from.0.iter().filter(|(k, v)| keep(k, v)).copied());
    }
}

impl FromIterator<((E, u8), E)> for Stored {
    fn from_iter<I: IntoIterator<Item = ((E, u8), E)>>(iter: I) -> Stored {
        Stored(iter.into_iter().collect())
    }
}

/// Register values by number: copied at every block of [`crate::dataflow::values`], so a
/// fixed array rather than a map.
#[derive(Clone, PartialEq, Eq)]
pub struct Regs([E; 32]);

const NONE: E = E::MAX;
/// A register value not made into a node yet: what the `calls[k]` instruction left in it.
const LAZY: E = 1 << 31;

impl Default for Regs {
    fn default() -> Regs {
        Regs([NONE; 32])
    }
}

impl Regs {
    pub fn get(&self, r: &Reg) -> Option<&E> {
        self.0.get(r.0 as usize).filter(|e| **e != NONE)
    }
    pub fn insert(&mut self, r: Reg, e: E) {
        if let Some(slot) = self.0.get_mut(r.0 as usize) {
            *slot = e;
        }
    }
    /// The slot as held: a value, a lazy one, or none.
    pub(crate) fn raw(&self, r: Reg) -> E {
        self.0.get(r.0 as usize).copied().unwrap_or(NONE)
    }
    pub fn contains_key(&self, r: &Reg) -> bool {
        self.get(r).is_some()
    }
    /// Forgets the registers of `mask` (they read as their input again).
    pub fn forget(&mut self, mask: u64) {
        for (i, e) in self.0.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *e = NONE;
            }
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = (Reg, &E)> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, e)| **e != NONE)
            .map(|(i, e)| (Reg(i as u8), e))
    }
}

pub struct Exec {
    pub x: Exprs,
    pub(crate) st: State,
    pub guards: Vec<Guard>,
    caller_saved: u64,
    /// Slots of functions that preserve every register (Control Flow Guard's check): a call
    /// through one changes nothing.
    pub preserving: Vec<u64>,
    /// Registers written since the start of the block ([`crate::dataflow::values::walk`]
    /// keeps it).
    pub written: u64,
    /// Instructions that clobbered registers, for the values made lazily ([`Exec::reg`]).
    calls: Vec<u64>,
    /// Whether compares set the flags (for guards): a walk that takes no branch side never
    /// reads them, and skips making their operands' nodes (it still reads the registers, as
    /// reading one can change what it holds: [`Exec::reg`]).
    pub track_flags: bool,
    /// The stack pointer, and the registers that can pass an address to a callee.
    sp: Reg,
    arg_regs: u64,
    /// Stack addresses that escaped (passed to a callee, stored outside the frame), as (base,
    /// lowest offset) of each base seen: a callee may write from there up.
    escaped: smallvec::SmallVec<[(E, i64); 2]>,
    /// Registers whose value on entry to the function an instruction read ([`Exec::step`]), or
    /// a callee does ([`Exec::note_read`]): among the argument registers, the parameters.
    pub entry_reads: u64,
    /// `Join`s that a register's entry value flows into (a merge where some path left the
    /// register as it was): reading one reads the entry value.
    pub(crate) entry_joins: rustc_hash::FxHashSet<E>,
    /// Inside [`Exec::step`]: reads are the instruction's own.
    in_step: bool,
}

/// Registers that may pass an address to a callee (the union of the ABIs': SysV rdi, rsi, rdx,
/// rcx, r8, r9; Windows x64 rcx, rdx, r8, r9; AAPCS64 x0-x7 and x8, the result buffer).
fn arg_regs(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => [7u8, 6, 2, 1, 8, 9]
            .iter()
            .fold(0, |m, r| m | Reg(*r).bit()),
        Arch::Aarch64 => (0u8..=8).fold(0, |m, r| m | Reg(r).bit()),
    }
}

/// Registers a call may change: SysV x86-64 (rax, rcx, rdx, rsi, rdi, r8-r11; Windows x64
/// preserves rsi and rdi: [`Exec::windows_x64`]) and AAPCS64 (x0-x18, x30).
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
            st: State::default(),
            guards: Vec::new(),
            caller_saved: caller_saved(arch),
            preserving: Vec::new(),
            written: 0,
            calls: Vec::new(),
            track_flags: true,
            sp: Reg(match arch {
                Arch::X86_64 => 4,
                Arch::Aarch64 => 31,
            }),
            arg_regs: arg_regs(arch),
            escaped: Default::default(),
            entry_reads: 0,
            entry_joins: Default::default(),
            in_step: false,
        }
    }

    pub fn reg(&mut self, r: Reg) -> E {
        let e = self.value_of(r);
        if self.in_step {
            self.count_entry(e);
        }
        e
    }

    /// Notes that something reads `r` here (a callee its parameter): an entry read if `r`
    /// holds a register's entry value.
    pub fn note_read(&mut self, r: Reg) {
        let e = self.value_of(r);
        self.count_entry(e);
    }

    /// `e` was read: an entry read if it is a register's entry value.
    fn count_entry(&mut self, e: E) {
        if let Some(q) = self.entry_of(e) {
            self.entry_reads |= q.bit();
        }
    }

    /// The register whose entry value `e` is (or may be, at a merge), maybe narrowed: a copy
    /// (`mov %edi,%ebx`) or a spill read back holds the parameter as its register does.
    pub fn entry_of(&self, e: E) -> Option<Reg> {
        match self.x.node(e) {
            Node::Input(q) => Some(q),
            Node::Join(_, q) if self.entry_joins.contains(&e) => Some(q),
            Node::Zext(p, _) | Node::Sext(p, _) => match self.x.node(p) {
                Node::Input(q) => Some(q),
                _ => None,
            },
            _ => None,
        }
    }

    /// The constant `r` holds, looked at without reading it: a value a call left there stays
    /// as it is held (see [`State`]'s lazy slots), so what later merges keep does not change.
    pub fn peek_const(&self, r: Reg) -> Option<u64> {
        let &e = self.st.regs.get(&r)?;
        if e & LAZY != 0 {
            return None;
        }
        self.x.as_const(e)
    }

    fn value_of(&mut self, r: Reg) -> E {
        if let Some(&e) = self.st.regs.get(&r) {
            if e & LAZY == 0 {
                return e;
            }
            // left by a call: made a node only now that something reads it
            let o = self.x.opaque(self.calls[(e & !LAZY) as usize], r);
            self.st.regs.insert(r, o);
            return o;
        }
        let e = self.x.input(r);
        self.st.regs.insert(r, e);
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
        let mut a = match (m.base, m.disp) {
            // `b + 0` is `b`
            (Some(b), 0) => self.reg(b),
            (Some(b), d) => {
                let k = self.x.konst(d as u64);
                let b = self.reg(b);
                self.x.add(b, k)
            }
            (None, d) => self.x.konst(d as u64),
        };
        if let Some(i) = m.index {
            let i = self.src(i);
            a = self.x.add(i, a);
        }
        a
    }

    /// Reads the registers `v` reads, as [`Exec::value`] would, without making its node.
    fn touch_value(&mut self, v: Value) {
        if let Value::Reg(s) = v {
            self.reg(s.reg);
        }
    }

    /// Reads the registers `m` reads, as [`Exec::address`] would, without making its node.
    fn touch_address(&mut self, m: Mem) {
        if let Some(b) = m.base {
            self.reg(b);
        }
        if let Some(i) = m.index {
            self.reg(i.reg);
        }
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
        self.st.regs.insert(dst, v);
    }

    fn compare(&mut self, a: E, b: E, width: u8, test: bool, at: u64) {
        let a = self.x.zext(a, width);
        let b = self.x.zext(b, width);
        self.st.flags = Some(Flags {
            a,
            b,
            width,
            test,
            at,
        });
    }

    /// The registers of `mask` get what the instruction at `at` left in them: each its own
    /// `Opaque` node, made when first read (a call leaves a score of registers, most never
    /// read again).
    fn clobber(&mut self, at: u64, mask: u64) {
        if self.calls.last() != Some(&at) {
            self.calls.push(at);
        }
        let lazy = LAZY | (self.calls.len() - 1) as E;
        for r in 0..32u8 {
            if mask & (1 << r) != 0 {
                self.st.regs.insert(Reg(r), lazy);
            }
        }
    }

    /// A register that holds `e` (or `e` zero-extended from `width` bits) at this point of the
    /// path: the input register itself when nothing overwrote it, else the lowest-numbered copy.
    pub fn holder(&mut self, e: E, width: u8) -> Option<Reg> {
        if let Node::Input(r) = self.x.node(e)
            && !self.st.regs.contains_key(&r)
        {
            return Some(r);
        }
        let z = self.x.zext(e, width);
        self.st
            .regs
            .iter()
            .filter(|(_, v)| **v == e || **v == z)
            .map(|(r, _)| r)
            .min()
    }

    /// Forgets everything, keeping the arena's memory (one executor serves many functions).
    pub fn reset(&mut self) {
        self.x.clear();
        self.st = State::default();
        self.guards.clear();
        self.calls.clear();
        self.escaped.clear();
        self.entry_reads = 0;
        self.entry_joins.clear();
    }

    /// For code of the Windows x64 calling convention, where a call preserves rsi and rdi.
    pub fn windows_x64(mut self) -> Exec {
        self.caller_saved &= !(Reg(6).bit() | Reg(7).bit());
        self
    }

    /// The registers a call may change.
    pub fn caller_saved(&self) -> u64 {
        self.caller_saved
    }

    /// Whether the call is through a slot of [`Exec::preserving`].
    fn preserves(&mut self, sem: &Sem) -> bool {
        if self.preserving.is_empty() {
            return false;
        }
        let Op::Indirect { target } = sem.op else {
            return false;
        };
        let t = self.target(target);
        match self.x.node(t) {
            Node::Load(a, 8, _) => self
                .x
                .as_const(a)
                .is_some_and(|s| self.preserving.contains(&s)),
            _ => false,
        }
    }

    /// Every register that holds `e` here (an input register nothing overwrote included), as
    /// a mask of [`Reg::bit`]s.
    pub fn holders_mask(&self, e: E) -> u64 {
        let mut m = 0u64;
        for (i, v) in self.st.regs.0.iter().enumerate() {
            if *v == e {
                m |= 1 << i;
            }
        }
        if let Node::Input(r) = self.x.node(e)
            && !self.st.regs.contains_key(&r)
        {
            m |= r.bit();
        }
        m
    }

    /// Every register that holds `e` here (an input register nothing overwrote included).
    pub fn holders(&mut self, e: E) -> Vec<Reg> {
        let mut out: Vec<Reg> = self
            .st
            .regs
            .iter()
            .filter(|(_, v)| **v == e)
            .map(|(r, _)| r)
            .collect();
        if let Node::Input(r) = self.x.node(e)
            && !self.st.regs.contains_key(&r)
        {
            out.push(r);
        }
        out.sort_unstable();
        out
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

    /// Whether `a` is at a constant offset from the stack pointer.
    fn on_stack(&mut self, a: E) -> bool {
        let sp = self.reg(self.sp);
        self.x.offset_from(a, sp).is_some()
    }

    /// Notes `v` as escaped if it is a stack address.
    fn escape(&mut self, v: E) {
        if !self.on_stack(v) {
            return;
        }
        let (base, k) = self.x.split_offset(v);
        match self.escaped.iter_mut().find(|(b, _)| *b == base) {
            Some(e) => e.1 = e.1.min(k),
            None => self.escaped.push((base, k)),
        }
    }

    /// What a call leaves of the stored values: the caller's own stack slots at or above the
    /// stack pointer (the callee's frame is below it), unless a stack address at or below the
    /// slot escaped (the callee may write through it, from there up). -O0 code spills an
    /// argument or an address before a call and reloads it after. Other memory may change.
    fn forget_at_call(&mut self) {
        if self.st.stored.iter().next().is_none() {
            return;
        }
        // looking for escaped addresses is no read of the call's
        let in_step = std::mem::replace(&mut self.in_step, false);
        for r in 0..32u8 {
            // registers this function set (an entry value or what a call left is no stack
            // address of this frame)
            let raw = self.st.regs.raw(Reg(r));
            if self.arg_regs & (1 << r) != 0 && raw != NONE && raw & LAZY == 0 {
                let v = self.reg(Reg(r));
                self.escape(v);
            }
        }
        let sp = self.reg(self.sp);
        let (x, escaped) = (&self.x, &self.escaped);
        self.st.stored.retain(|&(a, size)| {
            let Some(d) = x.offset_from(a, sp) else {
                return false;
            };
            let (base, k) = x.split_offset(a);
            d >= 0
                && escaped
                    .iter()
                    .all(|&(b, low)| b != base || k + i64::from(size) <= low)
        });
        self.in_step = in_step;
    }

    /// Executes one instruction. `taken` says, for a conditional branch, which way the path
    /// continues (`None` for the path's last instruction or non-branches).
    pub fn step(&mut self, insn: &Insn, sem: &Sem, taken: Option<bool>) {
        self.in_step = true;
        // (the registers that can be parameters, and rax: System V's count of vector
        // arguments to a variadic function)
        let mut reads = u64::from(sem.reads) & (self.arg_regs | 1);
        while reads != 0 {
            self.reg(Reg(reads.trailing_zeros() as u8));
            reads &= reads - 1;
        }
        self.step_op(insn, sem, taken);
        self.in_step = false;
    }

    fn step_op(&mut self, insn: &Insn, sem: &Sem, taken: Option<bool>) {
        // flags of `subs`/`adds` compare the old register value, read before the write
        let flags_cmp = sem.flags_as_compare.map(|(r, k, w)| (self.reg(r), k, w));
        match sem.op {
            Op::None => {}
            // the target is read (a function pointer parameter called)
            Op::Indirect { target } => match target {
                Target::Reg(r) => {
                    self.reg(r);
                }
                Target::Mem(m) => self.touch_address(m),
            },
            Op::Store { src, mem, size } => {
                let a = self.address(mem);
                let v = self.value(src);
                // a stack address stored outside the stack escapes (a spill stays in the frame)
                if size == 8 && !self.on_stack(a) {
                    self.escape(v);
                }
                if self.x.as_const(a).is_none() {
                    self.st.stored.insert((a, size), v);
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
                    None => self.x.opaque(insn.addr, dst),
                };
                self.set(dst, v, width);
            }
            Op::CompareMem { mem, b, .. } if !self.track_flags => {
                self.touch_address(mem);
                self.touch_value(b);
                return;
            }
            Op::CompareMem { mem, size, b } => {
                let a = self.address(mem);
                // a spilled value compared in its slot (-O0 `cmpl $0x9,-0x14(%rbp)`) is the value
                // a load of the slot gives: the same node, so a bound on it holds for the load
                let a = match self.st.stored.get(&(a, size)) {
                    Some(&v) => self.x.zext(v, size * 8),
                    None => self.x.load(a, size, false),
                };
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
                        None => self.x.opaque(insn.addr, dst),
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
                let v = match self.st.stored.get(&(a, size)) {
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
            Op::Compare { a, b, .. } if !self.track_flags => {
                self.reg(a);
                self.touch_value(b);
                return;
            }
            Op::Compare { a, b, width, test } => {
                let a = self.reg(a);
                let b = self.value(b);
                self.compare(a, b, width, test, insn.addr);
                return;
            }
            Op::Select {
                dst, width, a, b, ..
            } => {
                self.touch_value(a);
                self.touch_value(b);
                let o = self.x.opaque(insn.addr, dst);
                self.set(dst, o, width);
            }
            Op::Branch { cond } => {
                if let (Some(f), Some(taken), Flow::CondJump(t)) = (self.st.flags, taken, insn.flow)
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
            Op::Clobber(mask) => self.clobber(insn.addr, mask),
        }
        if let Some((base, off)) = sem.writeback {
            let b = self.reg(base);
            let k = self.x.konst(i64::from(off) as u64);
            let v = self.x.add(b, k);
            self.st.regs.insert(base, v);
        }
        if sem.writes_flags {
            self.st.flags = None;
        }
        if let Some((a, k, w)) = flags_cmp
            && self.track_flags
        {
            let k = self.x.konst(k as u64);
            self.compare(a, k, w, false, insn.addr);
        }
        if matches!(insn.flow, Flow::Call(_) | Flow::IndirectCall) && !self.preserves(sem) {
            self.forget_at_call();
            self.clobber(insn.addr, self.caller_saved);
            self.st.flags = None;
        }
    }
}
