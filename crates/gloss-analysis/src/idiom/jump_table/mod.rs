//! Switch jump tables, recovered from what the dispatch code computes rather than from a list
//! of instruction shapes.
//!
//! The path of blocks leading to an indirect jump is executed symbolically
//! ([`crate::dataflow`]): the jump target becomes an expression of the selector, e.g.
//! - x86-64 PIC (gcc, clang): `table + sext32(load32(table + idx*4))`
//!   from `lea table(%rip),%rdx; movslq (%rdx,%rax,4),%rax; add %rdx,%rax; jmp *%rax`;
//! - x86-64 non-PIC: `load64(table + idx*8)` from `jmp *table(,%rax,8)`;
//! - MSVC x64: `base + zext32(load32(base + rva + idx*4))` (image-relative);
//! - AArch64 gcc: `anchor + (sext8(load8(table + idx)) << 2)` from
//!   `ldrb w1, [x1, w0, uxtw]; adr x2, anchor; add x1, x2, w1, sxtb #2; br x1`;
//! - AArch64 clang: `anchor + (load8/16(table + idx) << 2)` or `table + sext32(load32(...))`;
//! - two-level tables: `load64(targets + load8(indices + idx)*8)`;
//!
//! and the guards on the path (`cmp w0, #9; b.hi default`, signed pairs, a subtracted lower
//! bound, LLVM's rotate for strided cases) bound the index. Evaluating the expression for every
//! index in the bound, reading the table from the file, gives the targets; inverting the chain
//! from selector to index gives each case's source value. The per-architecture part is only the
//! lowering to `gloss_core::sem` (gloss-arch); crates/gloss/tests/switches.rs checks every table
//! of the gcc/clang switch fixtures for both architectures against source and compiler truth.

pub mod reloc_check;

use crate::dataflow::exec::{Exec, Guard};
use crate::dataflow::expr::{self, E, Exprs, Memory, Node, mask};
use gloss_core::sem::{Cond, Reg};
use gloss_core::{Arch, Insn, Sem};

/// Tables larger than this are not believed: a bound that large is not a switch.
const MAX_ENTRIES: u64 = 1 << 14;

/// Values reaching the default path that are worth naming one by one.
const MAX_DEFAULT_VALUES: usize = 8;

/// What the table's (scaled) entries are added to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Anchor {
    /// Entries are absolute addresses.
    None,
    /// Entries are offsets from the table itself (gcc/clang PIC).
    Table(u64),
    /// Entries are offsets from the image base (MSVC image-relative).
    ImageBase(u64),
    /// Entries are offsets from a code address (AArch64 `adr` anchor).
    Code(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub value: i64,
    pub target: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub jump_addr: u64,
    pub table_addr: u64,
    pub entry_size: u8,
    pub signed: bool,
    /// Left shift applied to an entry before adding the anchor.
    pub scale: u8,
    pub anchor: Anchor,
    /// First-level byte table of a two-level switch: (address, entry size).
    pub index_table: Option<(u64, u8)>,
    /// Where the bounds check sends values outside the table.
    pub default: Option<u64>,
    /// When the selector is read so narrow (`x & 15`, a byte) that only a few of its values
    /// miss the table, those values: they are the ones that take the default path (gcc turns
    /// `switch (x & 15)` without a default into `(x & 15) - 1 <= 14`, leaving case 0 there).
    pub default_values: Vec<i64>,
    /// The compare that bounds the index.
    pub bound_check: Option<u64>,
    /// The selector register and the width the switch reads it at, when it is a register: the
    /// register holding it at the jump, else the one holding it where the analyzed path starts.
    pub selector: Option<(Reg, u8)>,
    /// Targets in table order, index 0 first.
    pub entries: Vec<u64>,
    /// How many entries the table at `table_addr` has: as many as `entries`, but for a
    /// two-level switch one more than the largest index its byte table holds.
    pub table_entries: usize,
    /// Source-level case values and their targets (entries that go to the default are holes
    /// and not listed).
    pub cases: Vec<Case>,
}

/// One instruction of the path with the way it continues: `Some(true)` if the path follows a
/// conditional branch's target, `Some(false)` its fall-through.
pub struct Step {
    pub insn: Insn,
    pub sem: Sem,
    pub taken: Option<bool>,
}

/// The context a resolution needs from the image.
pub trait Env: Memory {
    /// Whether instructions may start at `addr` (an executable section, not a data run).
    fn is_code(&self, addr: u64) -> bool;
    fn image_base(&self) -> Option<u64>;
    /// The target of a direct unconditional jump at `addr`, if one is there.
    fn direct_jump(&self, addr: u64) -> Option<u64>;
    /// `addr` is in data the program may write (`.data`, `.bss`; not `.data.rel.ro`, which
    /// is read-only once relocated): no compiler puts a jump table there, so a lookup in it
    /// is a call through an array of function pointers.
    fn is_mutable(&self, addr: u64) -> bool;
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Table(Switch),
    /// The jump reads a fixed memory slot: a tail call through a GOT/IAT entry.
    Slot(u64),
    Unresolved(&'static str),
}

/// Resolves the indirect jump that ends `path`.
pub fn resolve(arch: Arch, path: &[Step], env: &dyn Env) -> Resolution {
    let Some(last) = path.last() else {
        return Resolution::Unresolved("empty path");
    };
    let gloss_core::sem::Op::Indirect { target } = last.sem.op else {
        return Resolution::Unresolved("jump operand not understood");
    };
    let mut ex = Exec::new(arch);
    for s in &path[..path.len() - 1] {
        ex.step(&s.insn, &s.sem, s.taken);
    }
    let t = ex.target(target);
    // `jmp *slot(%rip)`, `ldr x17, [x16, #..]; br x17`: a tail call through a GOT/IAT slot
    if let Node::Load(a, 8, _) = ex.x.node(t)
        && let Some(slot) = ex.x.as_const(a)
    {
        return Resolution::Slot(slot);
    }
    let guards = ex.guards.clone();
    // what the jump is when it is no table: said instead of why a table reading failed
    let pointer = pointer_jump(&ex.x, t);
    let mut best = Resolution::Unresolved(match (pointer, guards.is_empty()) {
        (Some(why), _) => why,
        (None, true) => "no bounds check on the path: a computed jump",
        (None, false) => "no bounds check on the index the jump uses",
    });
    let mut ranges = bounded(&mut ex.x, &guards);
    if guards.is_empty() {
        ranges.extend(implicit(&ex.x, t));
    }
    for r in ranges {
        match table(&ex.x, t, &r, last.insn.addr, env) {
            Ok(mut sw) => {
                // name the register the reader sees holding the selector at the jump
                if let Some((leaf, w)) = sw.selector {
                    let input = ex.x.input(leaf);
                    sw.selector = Some((ex.holder(input, w).unwrap_or(leaf), w));
                }
                return Resolution::Table(sw);
            }
            Err(why) => best = Resolution::Unresolved(pointer.unwrap_or(why)),
        }
    }
    best
}

/// Jumps whose target has no table shape, by what the target is: a register nothing on the
/// path set, a value from a call, or a pointer loaded from `reg + offset` with no scaled index
/// (a function pointer in a struct or a vtable slot: `mov 0x48(%r13),%rax; ...; jmp *%rax`).
fn pointer_jump(x: &Exprs, t: E) -> Option<&'static str> {
    fn scaled(x: &Exprs, e: E) -> bool {
        match x.node(e) {
            Node::Shl(..) => true,
            Node::Add(a, b) | Node::Sub(a, b) => scaled(x, a) || scaled(x, b),
            Node::Zext(a, _) | Node::Sext(a, _) => scaled(x, a),
            _ => false,
        }
    }
    match x.node(t) {
        Node::Input(_) => Some(NOT_A_TABLE[0]),
        Node::Opaque(..) => Some(NOT_A_TABLE[1]),
        Node::Load(a, 8, _) if !scaled(x, a) => Some(NOT_A_TABLE[2]),
        _ => None,
    }
}

/// The reasons of [`pointer_jump`]: jumps whose target has no table shape at all, so no
/// switch cases can lie behind them (discovery uses this to bound a function's extent).
pub const NOT_A_TABLE: [&str; 3] = [
    "jump to a register the path does not set: a function pointer (tail call) or a computed jump",
    "jump to a value a call or an unmodelled instruction produced",
    "jump through a pointer loaded from memory with no index: a tail call through a function \
     pointer or vtable slot",
];

/// `v`'s low `bits` bits as a signed number.
fn as_signed(v: u64, bits: u8) -> i64 {
    expr::sext(v, bits) as i64
}

/// Values an expression is proven to take: every value from `lo` for `count` steps, wrapping
/// at `width` bits. `guard` is the check that proved it (none for an index narrowed by a mask).
struct Range {
    a: E,
    lo: u64,
    count: u64,
    width: u8,
    guard: Option<Guard>,
}

impl Range {
    fn value(&self, n: u64) -> u64 {
        self.lo.wrapping_add(n) & mask(self.width)
    }
}

/// Expressions with a finite range proven by the guards on the path: unsigned bounds from
/// `b.hi`/`b.ls`/`ja`/`jbe`/`b.hs`..., signed ones from a pair of `b.gt`/`b.lt`-style checks.
fn bounded(x: &mut Exprs, guards: &[Guard]) -> Vec<Range> {
    let mut out = Vec::new();
    let mut nodes: Vec<(E, u8)> = guards.iter().map(|g| (g.a, g.width)).collect();
    nodes.sort_unstable();
    nodes.dedup();
    for (a, width) in nodes {
        if width == 0 || width > 64 {
            continue;
        }
        let m = mask(width);
        let (mut ulo, mut uhi) = (0u64, m);
        let smin = as_signed(1 << (width - 1), width);
        let (mut slo, mut shi) = (smin, as_signed(m >> 1, width));
        let (mut ubound, mut sbound) = (None, None);
        for g in guards.iter().filter(|g| g.a == a && g.width == width) {
            let Some(k) = x.as_const(g.b) else { continue };
            let ks = as_signed(k, width);
            match g.cond {
                Cond::Ls => (uhi, ubound) = (uhi.min(k), Some(*g)),
                Cond::Lo if k > 0 => (uhi, ubound) = (uhi.min(k - 1), Some(*g)),
                Cond::Hs => ulo = ulo.max(k),
                Cond::Hi if k < m => ulo = ulo.max(k + 1),
                Cond::Le => (shi, sbound) = (shi.min(ks), Some(*g)),
                Cond::Lt => (shi, sbound) = (shi.min(ks - 1), Some(*g)),
                Cond::Ge => slo = slo.max(ks),
                Cond::Gt => slo = slo.max(ks + 1),
                _ => {}
            }
        }
        // an unsigned lower bound near the top (`adds w0, w0, #13; b.hs`) also bounds
        let ubound = ubound.or_else(|| {
            (ulo > 0)
                .then(|| guards.iter().find(|g| g.a == a))
                .flatten()
                .copied()
        });
        if let Some(g) = ubound
            && ulo <= uhi
        {
            out.push(Range {
                a,
                lo: ulo,
                count: uhi - ulo + 1,
                width,
                guard: Some(g),
            });
        } else if let Some(g) = sbound
            && slo <= shi
            && slo > smin
        {
            let count = (shi - slo) as u64 + 1;
            out.push(Range {
                a,
                lo: slo as u64 & m,
                count,
                width,
                guard: Some(g),
            });
        }
    }
    out
}

/// Without any bounds check on the path, an index narrowed by a small mask
/// (`and w8, w0, #15`: at most 6 bits) still has a finite range. Byte-wide indices are not
/// trusted this way: a missed check would read 256 "entries" past the real table.
fn implicit(x: &Exprs, t: E) -> Option<Range> {
    let mut stack = vec![t];
    while let Some(e) = stack.pop() {
        match x.node(e) {
            Node::Zext(_, bits) if bits <= 6 => {
                return Some(Range {
                    a: e,
                    lo: 0,
                    count: 1 << bits,
                    width: bits,
                    guard: None,
                });
            }
            Node::Add(p, q) | Node::Sub(p, q) => stack.extend([p, q]),
            Node::Shl(p, _) | Node::Sext(p, _) | Node::Zext(p, _) | Node::Load(p, _, _) => {
                stack.push(p)
            }
            _ => {}
        }
    }
    None
}

fn table(x: &Exprs, t: E, r: &Range, jump: u64, env: &dyn Env) -> Result<Switch, &'static str> {
    if r.count > MAX_ENTRIES {
        return Err("index bound too large for a jump table");
    }
    // Evaluate through the bounded node itself, or through the register it was computed from
    // (constant folding may have merged the node into the table address).
    let at = if x.contains(t, r.a) {
        Some(r.a)
    } else {
        x.invert(r.a, r.lo)
            .map(|(leaf, ..)| leaf)
            .filter(|l| x.contains(t, *l))
    };
    let Some(at) = at else {
        return Err("the jump does not use the bounded index");
    };
    let value_of = |n: u64| -> Option<u64> {
        let v = r.value(n);
        if at == r.a {
            return Some(match x.node(at) {
                Node::Sext(_, w) => expr::sext(v, w),
                _ => v,
            });
        }
        x.invert(r.a, v).map(|(_, lv, _, _)| lv)
    };
    let mut entries = Vec::with_capacity(r.count as usize);
    for n in 0..r.count {
        let target = value_of(n)
            .and_then(|v| x.eval(t, at, v, env))
            .ok_or("table entries unreadable (outside the file)")?;
        if !env.is_code(target) {
            return Err("a table entry points outside code");
        }
        entries.push(target);
    }
    let shape = shape(x, t, at).ok_or("jump target is not a table lookup")?;
    let first = value_of(0).ok_or("index not invertible")?;
    let table_addr = x
        .eval(shape.load_addr, at, first, env)
        .or_else(|| {
            shape
                .index_load
                .and_then(|il| x.eval(shape.load_addr, il, 0, env))
        })
        .ok_or("table address unknown")?;
    if env.is_mutable(table_addr) {
        return Err("the table is in writable data: an array of function pointers");
    }
    let index_table = match shape.index_load {
        Some(il) => match x.node(il) {
            Node::Load(addr, size, _) => x.eval(addr, at, first, env).map(|p| (p, size)),
            _ => None,
        },
        None => None,
    };
    let table_entries = match index_table {
        Some((p, size)) => (0..r.count)
            .filter_map(|n| env.read(p + n * u64::from(size), size))
            .max()
            .map_or(0, |m| m as usize + 1),
        None => entries.len(),
    };
    let anchor = match shape.anchor {
        // a COFF object, whose image base is gloss's layout base 0: `base + entry` folded to
        // the entry, which is image-relative all the same (absolute 32-bit entries do not
        // occur in 64-bit images)
        None if env.image_base() == Some(0) && shape.entry_size == 4 && !shape.signed => {
            Anchor::ImageBase(0)
        }
        None => Anchor::None,
        Some(k) if k == table_addr => Anchor::Table(k),
        Some(k) if Some(k) == env.image_base() => Anchor::ImageBase(k),
        Some(k) => Anchor::Code(k),
    };
    let default = r.guard.map(|g| g.exit).filter(|d| env.is_code(*d));
    let mut cases = Vec::new();
    for (n, &target) in entries.iter().enumerate() {
        // holes go to the default, directly or through a one-jump trampoline
        if default.is_some_and(|d| target == d || env.direct_jump(target) == Some(d)) {
            continue;
        }
        if let Some((leaf, v, w, signed)) = x.invert(r.a, r.value(n as u64)) {
            let (w, signed) = match x.node(leaf) {
                Node::Load(_, size, s) if size * 8 < w => (size * 8, s),
                _ => (w, signed),
            };
            // int and long selectors read signed; narrower ones as their extension says
            let value = if signed || w >= 32 {
                as_signed(v, w)
            } else {
                (v & mask(w)) as i64
            };
            cases.push(Case { value, target });
        }
    }
    cases.sort_by_key(|c| c.value);
    let leaf = x.invert(r.a, r.lo);
    let selector = leaf.and_then(|(leaf, _, w, _)| match x.node(leaf) {
        Node::Input(reg) => Some((reg, w.max(32))),
        _ => None,
    });
    let default_values = match leaf {
        Some((_, _, w, signed)) if default.is_some() && w <= 8 => {
            let missing: Vec<i64> = (0..1u64 << w)
                .map(|v| if signed { as_signed(v, w) } else { v as i64 })
                .filter(|v| {
                    !cases
                        .iter()
                        .any(|c| c.value & mask(w) as i64 == v & mask(w) as i64)
                })
                .collect();
            if missing.len() <= MAX_DEFAULT_VALUES {
                missing
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    };
    Ok(Switch {
        jump_addr: jump,
        table_addr,
        entry_size: shape.entry_size,
        signed: shape.signed,
        scale: shape.scale,
        anchor,
        index_table,
        default,
        default_values,
        bound_check: r.guard.map(|g| g.cmp_at),
        selector,
        entries,
        table_entries,
        cases,
    })
}

impl Switch {
    /// The slot of the table at `table_addr` that index `n` reads: its byte-table entry (read
    /// from the image) for a two-level switch, else `n` itself.
    pub fn index_slot(&self, image: &gloss_core::Image, n: usize) -> Option<usize> {
        let Some((p, w)) = self.index_table else {
            return Some(n);
        };
        let k = image.read_loaded_uint(p + n as u64 * u64::from(w), usize::from(w))?;
        usize::try_from(k).ok()
    }

    /// Each slot some index reads, in slot order, with the target recovered for it.
    pub fn slot_targets(&self, image: &gloss_core::Image) -> Vec<(usize, u64)> {
        let mut slots = vec![None; self.table_entries];
        for (n, &target) in self.entries.iter().enumerate() {
            if let Some(slot) = self.index_slot(image, n).and_then(|k| slots.get_mut(k)) {
                slot.get_or_insert(target);
            }
        }
        slots
            .into_iter()
            .enumerate()
            .filter_map(|(k, t)| Some((k, t?)))
            .collect()
    }

    /// The bytes its tables occupy, as (start, end, entry size): the byte table of a
    /// two-level switch first.
    pub fn tables(&self) -> Vec<(u64, u64, u8)> {
        let mut out = Vec::with_capacity(2);
        if let Some((p, size)) = self.index_table {
            out.push((p, p + self.entries.len() as u64 * u64::from(size), size));
        }
        let t = self.table_addr;
        let end = t + self.table_entries as u64 * u64::from(self.entry_size);
        out.push((t, end, self.entry_size));
        out
    }
}

struct Shape {
    load_addr: E,
    entry_size: u8,
    signed: bool,
    scale: u8,
    anchor: Option<u64>,
    /// The first-level load of a two-level table.
    index_load: Option<E>,
}

/// `[anchor +] [ext](load(addr)) [<< scale]`, with the load's address depending on `a`.
fn shape(x: &Exprs, t: E, a: E) -> Option<Shape> {
    let (mut e, anchor) = match x.node(t) {
        Node::Add(p, q) => match (x.as_const(p), x.as_const(q)) {
            (_, Some(k)) => (p, Some(k)),
            (Some(k), _) => (q, Some(k)),
            _ => return None,
        },
        _ => (t, None),
    };
    let mut scale = 0;
    let mut signed = false;
    loop {
        match x.node(e) {
            Node::Shl(inner, s) => {
                scale += s;
                e = inner;
            }
            Node::Sext(inner, _) => {
                signed = true;
                e = inner;
            }
            Node::Zext(inner, _) => e = inner,
            Node::Load(addr, size, s) => {
                if !x.contains(addr, a) {
                    return None;
                }
                let index_load = inner_load(x, addr, a);
                return Some(Shape {
                    load_addr: addr,
                    entry_size: size,
                    signed: signed || s,
                    scale,
                    anchor,
                    index_load,
                });
            }
            _ => return None,
        }
    }
}

/// A load inside `e` whose address depends on `a` (two-level tables).
fn inner_load(x: &Exprs, e: E, a: E) -> Option<E> {
    match x.node(e) {
        Node::Load(addr, _, _) if x.contains(addr, a) => Some(e),
        Node::Add(p, q) | Node::Sub(p, q) | Node::And(p, q) | Node::Or(p, q) | Node::Xor(p, q) => {
            inner_load(x, p, a).or_else(|| inner_load(x, q, a))
        }
        Node::Shl(p, _)
        | Node::Lsr(p, _)
        | Node::Asr(p, _)
        | Node::Ror(p, _, _)
        | Node::Zext(p, _)
        | Node::Sext(p, _) => inner_load(x, p, a),
        _ => None,
    }
}
