//! Symbolic values of registers along a path: a hash-consed arena, so the same computation
//! reached twice (`cmp w0, #9` and `ldrb w1, [x1, w0, uxtw]` both read `uxtw(w0)`) is the same
//! node, and a bound proven for one is known for the other.
use gloss_core::sem::Reg;
use rustc_hash::FxHashMap;

/// Index of a node in an [`Exprs`] arena.
pub type E = u32;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Node {
    Const(u64),
    /// A register's value where the path starts.
    Input(Reg),
    /// A value nothing is known about: what the instruction at the address (an unmodelled
    /// one, or a call) left in the register. Keyed so that executing the same code again
    /// gives the same node.
    Opaque(u64, Reg),
    /// A register's value where paths with different values for it meet, at the block.
    Join(u64, Reg),
    Add(E, E),
    Sub(E, E),
    And(E, E),
    Or(E, E),
    Xor(E, E),
    Shl(E, u8),
    Lsr(E, u8),
    Asr(E, u8),
    /// Rotate right by `.1` within `.2` bits.
    Ror(E, u8, u8),
    /// The low `bits` bits, zero-extended.
    Zext(E, u8),
    /// The low `bits` bits, sign-extended.
    Sext(E, u8),
    /// `size` bytes of memory at the address, zero- or sign-extended to 64 bits.
    Load(E, u8, bool),
}

/// Reads the image's memory for [`Exprs::eval`].
pub trait Memory {
    fn read(&self, addr: u64, size: u8) -> Option<u64>;
}

pub struct Exprs {
    nodes: Vec<Node>,
    ids: FxHashMap<Node, E>,
    /// `Input` nodes by register (asked for at every block of a function).
    inputs: Vec<Option<E>>,
    /// `Const` nodes by value, direct-mapped: (value, node, generation).
    konsts: Box<[(u64, E, u32); KONSTS]>,
    /// Bumped by [`Exprs::clear`]: older `konsts` entries are void.
    generation: u32,
}

/// Entries of the constants cache.
const KONSTS: usize = 64;

impl Default for Exprs {
    fn default() -> Exprs {
        Exprs {
            nodes: Vec::new(),
            ids: FxHashMap::default(),
            inputs: Vec::new(),
            // generation 0 is never current
            konsts: Box::new([(0, 0, 0); KONSTS]),
            generation: 1,
        }
    }
}

/// Buckets an arena's table may keep from one function to the next whatever that function
/// used ([`Exprs::clear`]).
const SMALL_TABLE: usize = 1 << 12;

/// The low `bits` bits set.
pub(crate) fn mask(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// `v`'s low `bits` bits, sign-extended.
pub(crate) fn sext(v: u64, bits: u8) -> u64 {
    if bits >= 64 {
        return v;
    }
    if bits == 0 {
        return 0;
    }
    let s = 64 - bits as u32;
    (((v << s) as i64) >> s) as u64
}

impl Exprs {
    pub fn node(&self, e: E) -> Node {
        self.nodes[e as usize]
    }

    fn intern(&mut self, n: Node) -> E {
        let nodes = &mut self.nodes;
        *self.ids.entry(n).or_insert_with(|| {
            let e = nodes.len() as E;
            nodes.push(n);
            e
        })
    }

    /// A node added without looking for an equal one: only for nodes no other code makes
    /// (the walk's `Join`s, one per block and register), so it is still the only one.
    pub(crate) fn fresh(&mut self, n: Node) -> E {
        let e = self.nodes.len() as E;
        self.nodes.push(n);
        e
    }

    pub fn konst(&mut self, v: u64) -> E {
        // most constants repeat within a function: a small direct-mapped cache before the table
        let slot = &mut self.konsts[(v ^ (v >> 12)) as usize % KONSTS];
        if slot.2 == self.generation && slot.0 == v {
            return slot.1;
        }
        let e = self.intern(Node::Const(v));
        self.konsts[(v ^ (v >> 12)) as usize % KONSTS] = (v, e, self.generation);
        e
    }
    pub fn input(&mut self, r: Reg) -> E {
        let i = r.0 as usize;
        if let Some(Some(e)) = self.inputs.get(i) {
            return *e;
        }
        let e = self.intern(Node::Input(r));
        if self.inputs.len() <= i {
            self.inputs.resize(i + 1, None);
        }
        self.inputs[i] = Some(e);
        e
    }
    /// Empties the arena, keeping its memory for the next function.
    pub fn clear(&mut self) {
        // A table grown by one large function would spread the next small function's nodes
        // over all its buckets (a cache miss per node) and be cleared whole every time.
        if self.ids.capacity() > SMALL_TABLE && self.nodes.len() < self.ids.capacity() / 8 {
            self.ids = FxHashMap::default();
        } else {
            self.ids.clear();
        }
        self.nodes.clear();
        self.inputs.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.konsts.fill((0, 0, 0));
            self.generation = 1;
        }
    }
    pub fn opaque(&mut self, at: u64, r: Reg) -> E {
        self.intern(Node::Opaque(at, r))
    }
    pub fn join(&mut self, block: u64, r: Reg) -> E {
        self.intern(Node::Join(block, r))
    }

    /// `(p, k)` when `e` is `p + k` for a constant `k`, else `(e, 0)`.
    pub fn split_offset(&self, e: E) -> (E, i64) {
        match self.node(e) {
            Node::Add(p, q) => match self.as_const(q) {
                Some(k) => (p, k as i64),
                None => (e, 0),
            },
            _ => (e, 0),
        }
    }

    /// `k` when `a` is `b + k`.
    pub fn offset_from(&self, a: E, b: E) -> Option<i64> {
        let ((pa, ka), (pb, kb)) = (self.split_offset(a), self.split_offset(b));
        (pa == pb).then(|| ka.wrapping_sub(kb))
    }

    pub fn as_const(&self, e: E) -> Option<u64> {
        match self.node(e) {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }

    /// How many low bits can be non-zero, when the node says so (a zero-extension or an
    /// unsigned narrow load).
    fn known_bits(&self, e: E) -> u8 {
        match self.node(e) {
            Node::Zext(_, b) => b,
            Node::Load(_, size, false) => size * 8,
            Node::Const(v) => (64 - v.leading_zeros()) as u8,
            _ => 64,
        }
    }

    pub fn add(&mut self, a: E, b: E) -> E {
        match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) => self.konst(x.wrapping_add(y)),
            (_, Some(0)) => a,
            (Some(0), _) => b,
            // keep constants on the right: `(x + c1) + c2` folds
            (Some(_), None) => self.add(b, a),
            (None, Some(y)) => match self.node(a) {
                Node::Add(p, q) if self.as_const(q).is_some() => {
                    let c = self.konst(self.as_const(q).unwrap_or(0).wrapping_add(y));
                    self.add(p, c)
                }
                _ => self.intern(Node::Add(a, b)),
            },
            // in one order, so that `base + index` is one node however it was computed
            // (`mov (%rax,%rcx),%rax` and `add %rcx,%rdi` with rdi = rax)
            _ => self.intern(Node::Add(a.min(b), a.max(b))),
        }
    }
    pub fn sub(&mut self, a: E, b: E) -> E {
        match self.as_const(b) {
            Some(y) => {
                let n = self.konst(y.wrapping_neg());
                self.add(a, n)
            }
            None => self.intern(Node::Sub(a, b)),
        }
    }
    pub fn bin(&mut self, op: fn(E, E) -> Node, f: fn(u64, u64) -> u64, a: E, b: E) -> E {
        match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) => self.konst(f(x, y)),
            _ => self.intern(op(a, b)),
        }
    }
    pub fn and(&mut self, a: E, b: E) -> E {
        // `and w8, w0, #0xff` is a zero-extension of the low byte
        // (an all-ones mask is the 64-bit one: `m + 1` wraps)
        if let Some(m) = self.as_const(b)
            && m != 0
            && m & m.wrapping_add(1) == 0
        {
            let bits = (64 - m.leading_zeros()) as u8;
            return self.zext(a, bits);
        }
        self.bin(Node::And, |x, y| x & y, a, b)
    }
    pub fn shl(&mut self, a: E, s: u8) -> E {
        match (self.as_const(a), s) {
            (_, 0) => a,
            (Some(x), _) => self.konst(x.wrapping_shl(s as u32)),
            _ => self.intern(Node::Shl(a, s)),
        }
    }
    pub fn lsr(&mut self, a: E, s: u8) -> E {
        match (self.as_const(a), s) {
            (_, 0) => a,
            (Some(x), _) => self.konst(x.wrapping_shr(s as u32)),
            _ => self.intern(Node::Lsr(a, s)),
        }
    }
    pub fn asr(&mut self, a: E, s: u8) -> E {
        match (self.as_const(a), s) {
            (_, 0) => a,
            (Some(x), _) => self.konst(((x as i64).wrapping_shr(s as u32)) as u64),
            _ => self.intern(Node::Asr(a, s)),
        }
    }
    pub fn ror(&mut self, a: E, s: u8, width: u8) -> E {
        let s = s % width.max(1);
        if s == 0 {
            return a;
        }
        match self.as_const(a) {
            Some(x) => {
                let x = x & mask(width);
                let r = (x >> s) | (x << (width - s));
                self.konst(r & mask(width))
            }
            None => {
                let a = self.zext(a, width);
                self.intern(Node::Ror(a, s, width))
            }
        }
    }
    pub fn zext(&mut self, a: E, bits: u8) -> E {
        if bits >= 64 {
            return a;
        }
        if let Some(x) = self.as_const(a) {
            return self.konst(x & mask(bits));
        }
        if self.known_bits(a) <= bits {
            return a;
        }
        match self.node(a) {
            // the low bits of a wider extension are the source's low bits
            Node::Zext(x, b) if b > bits => self.zext(x, bits),
            // a narrow register write merged into the old value: `(old & ~m) | low`
            Node::Or(p, q) if matches!(self.node(p), Node::And(_, c) if self.as_const(c).is_some_and(|c| c & mask(bits) == 0)) => {
                self.zext(q, bits)
            }
            Node::Sext(x, b) if b >= bits => self.zext(x, bits),
            _ => self.intern(Node::Zext(a, bits)),
        }
    }
    pub fn sext(&mut self, a: E, bits: u8) -> E {
        if bits >= 64 {
            return a;
        }
        if let Some(x) = self.as_const(a) {
            return self.konst(sext(x, bits));
        }
        match self.node(a) {
            // already sign-extended from fewer bits, or zero-extended from fewer (sign bit 0)
            Node::Sext(_, b) if b <= bits => a,
            Node::Load(_, size, true) if size * 8 <= bits => a,
            Node::Zext(_, b) if b < bits => a,
            Node::Load(_, size, false) if size * 8 < bits => a,
            Node::Sext(x, b) | Node::Zext(x, b) if b > bits => self.sext(x, bits),
            Node::Or(p, q) if matches!(self.node(p), Node::And(_, c) if self.as_const(c).is_some_and(|c| c & mask(bits) == 0)) => {
                self.sext(q, bits)
            }
            _ => self.intern(Node::Sext(a, bits)),
        }
    }

    pub fn load(&mut self, addr: E, size: u8, signed: bool) -> E {
        self.intern(Node::Load(addr, size, signed))
    }

    /// Whether `needle` occurs in `e`.
    pub fn contains(&self, e: E, needle: E) -> bool {
        if e == needle {
            return true;
        }
        match self.node(e) {
            Node::Const(_) | Node::Input(_) | Node::Opaque(..) | Node::Join(..) => false,
            Node::Add(a, b)
            | Node::Sub(a, b)
            | Node::And(a, b)
            | Node::Or(a, b)
            | Node::Xor(a, b) => self.contains(a, needle) || self.contains(b, needle),
            Node::Shl(a, _)
            | Node::Lsr(a, _)
            | Node::Asr(a, _)
            | Node::Ror(a, _, _)
            | Node::Zext(a, _)
            | Node::Sext(a, _)
            | Node::Load(a, _, _) => self.contains(a, needle),
        }
    }

    /// The concrete value of `e` with `at` replaced by `value`, reading memory for loads.
    /// `None` when it depends on anything unknown.
    pub fn eval(&self, e: E, at: E, value: u64, mem: &dyn Memory) -> Option<u64> {
        if e == at {
            return Some(value);
        }
        let v = |x: E| self.eval(x, at, value, mem);
        Some(match self.node(e) {
            Node::Const(c) => c,
            Node::Input(_) | Node::Opaque(..) | Node::Join(..) => return None,
            Node::Add(a, b) => v(a)?.wrapping_add(v(b)?),
            Node::Sub(a, b) => v(a)?.wrapping_sub(v(b)?),
            Node::And(a, b) => v(a)? & v(b)?,
            Node::Or(a, b) => v(a)? | v(b)?,
            Node::Xor(a, b) => v(a)? ^ v(b)?,
            Node::Shl(a, s) => v(a)?.wrapping_shl(s as u32),
            Node::Lsr(a, s) => v(a)?.wrapping_shr(s as u32),
            Node::Asr(a, s) => ((v(a)? as i64).wrapping_shr(s as u32)) as u64,
            Node::Ror(a, s, w) => {
                let x = v(a)? & mask(w);
                ((x >> s) | (x << (w - s))) & mask(w)
            }
            Node::Zext(a, b) => v(a)? & mask(b),
            Node::Sext(a, b) => sext(v(a)?, b),
            Node::Load(a, size, signed) => {
                let raw = mem.read(v(a)?, size)?;
                if signed { sext(raw, size * 8) } else { raw }
            }
        })
    }

    /// The value of the leaf under a chain of invertible steps (`+k`, `-k`, `^k`, rotate,
    /// extension) given the chain's result: how a table index maps back to the selector.
    /// Returns the leaf, its value, and the narrowest width the chain read it at, with that
    /// read's signedness.
    pub fn invert(&self, e: E, value: u64) -> Option<(E, u64, u8, bool)> {
        let mut e = e;
        let mut v = value;
        let mut width = 64u8;
        let mut signed = false;
        loop {
            match self.node(e) {
                Node::Input(_) | Node::Opaque(..) | Node::Join(..) | Node::Load(..) => {
                    return Some((e, v, width, signed));
                }
                Node::Add(a, b) => {
                    let k = self.as_const(b)?;
                    v = v.wrapping_sub(k);
                    e = a;
                }
                Node::Sub(a, b) => {
                    let k = self.as_const(b)?;
                    v = v.wrapping_add(k);
                    e = a;
                }
                Node::Xor(a, b) => {
                    v ^= self.as_const(b)?;
                    e = a;
                }
                Node::Ror(a, s, w) => {
                    let x = v & mask(w);
                    v = ((x << s) | (x >> (w - s))) & mask(w);
                    e = a;
                }
                Node::Zext(a, b) => {
                    if b <= width {
                        width = b;
                        signed = false;
                    }
                    v &= mask(b);
                    e = a;
                }
                Node::Sext(a, b) => {
                    if b <= width {
                        width = b;
                        signed = true;
                    }
                    v &= mask(b);
                    e = a;
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMem;
    impl Memory for NoMem {
        fn read(&self, _: u64, _: u8) -> Option<u64> {
            None
        }
    }

    #[test]
    fn same_computation_is_the_same_node() {
        let mut x = Exprs::default();
        let w0 = x.input(Reg(0));
        let a = x.zext(w0, 32);
        let b = x.zext(w0, 32);
        assert_eq!(a, b);
        // re-extending a 32-bit value changes nothing
        let c = x.zext(a, 32);
        assert_eq!(a, c);
        let k = x.konst(5);
        let s = x.sub(w0, k);
        let s1 = x.zext(s, 32);
        let s2 = x.zext(s1, 32);
        assert_eq!(s1, s2);
    }

    #[test]
    fn constants_fold_and_chains_invert() {
        let mut x = Exprs::default();
        let i = x.input(Reg(7));
        let k5 = x.konst(5);
        let sub = x.sub(i, k5); // i - 5  ==  i + (-5)
        let idx = x.zext(sub, 32);
        assert_eq!(x.eval(idx, i, 12, &NoMem), Some(7));
        // index 0 comes from selector 5; the selector was read at 32 bits
        let (leaf, v, w, _) = x.invert(idx, 0).unwrap();
        assert_eq!((leaf, v as u32 as i32, w), (i, 5, 32));
        // LLVM's rotate form: ror(sel - 8, 2) within 32 bits
        let k8 = x.konst(8);
        let s8 = x.sub(i, k8);
        let s8 = x.zext(s8, 32);
        let rot = x.ror(s8, 2, 32);
        assert_eq!(x.eval(rot, i, 8 + 12, &NoMem), Some(3));
        let (_, v, _, _) = x.invert(rot, 3).unwrap();
        assert_eq!(v as u32, 20);
        // a negative lower bound: sel + 5 for cases -5..
        let k = x.konst((-5i64) as u64);
        let add = x.sub(i, k);
        let add = x.zext(add, 32);
        let (_, v, _, _) = x.invert(add, 0).unwrap();
        assert_eq!(v as u32 as i32, -5);
    }
}
