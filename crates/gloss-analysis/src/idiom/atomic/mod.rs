//! Atomic operations: what a function's atomic instructions do, as C11 names them (`fetch_or`,
//! `compare_exchange_strong`, `fence`, ...), with the access width and the strongest memory
//! order the instructions guarantee.
//!
//! Sequences matched, per compiler (fixtures/src/atomics.c, every `at_*` function in every
//! `fixtures/bin/atomics-*` binary; fixtures/README.md "what each compiler emits"; the seed's
//! `aio_ctx_prepare` in `fixtures/bin/globals-*`):
//! - AArch64 LL/SC (gcc and clang `-mno-outline-atomics`, clang Windows ARM64):
//!   `L: ld(a)xr w8, [x9]; OP w10, w8, w0; st(l)xr w11, w10, [x9]; cbnz w11, L` is
//!   `fetch_OP` (`add`, `sub`, `orr`, `and`, `eor`, libgcc's `bic` for `ldclr`); no OP (the
//!   store writes another register, clang's `ldaxr wzr` when the old value is unused) is
//!   `exchange`; `L: ld(a)xr w9, [x8]; cmp w9, w0; b.ne out; st(l)xr w9, w1, [x8]; cbnz w9, L`
//!   is `compare_exchange_strong`, the same without the `cbnz` retry (gcc `cmp w4, #0; cset`,
//!   clang `csetm`, Windows `cbz w9, success`) `compare_exchange_weak`. Windows ARM64 adds
//!   `dmb ish` after a seq_cst operation (on a compare-exchange's success path).
//! - AArch64 clang `-O0`: every RMW is the strong compare-exchange loop above inside an outer
//!   loop: `L: ldr w8, [sp, #0x10]; ldr w9, [sp, #0xc]; orr w12, w8, w9; ... ldaxr ... cmp w9,
//!   w8 ... stlxr w10, w12 ...; str w9, [sp, #0x10]; ...; tbz w8, #0, L`: the expected value is
//!   the one observed last time, and the stored value is `OP(expected, v)` (`fetch_OP`) or
//!   independent of it (`exchange`).
//! - AArch64 LSE (`-march=armv8.1-a`): `ldadd`, `neg`+`ldadd` (`fetch_sub`), `ldset`,
//!   `mvn`+`ldclr` (`fetch_and`), `ldeor`, `swp`, `cas`, each with `a`/`l`/`al` and `b`/`h`.
//! - AArch64 outline atomics (gcc's default on Linux): `bl __aarch64_ldset4_acq_rel` and the
//!   other `__aarch64_<cas|swp|ldadd|ldclr|ldeor|ldset><bytes>_<relax|acq|rel|acq_rel|sync>`
//!   helpers, named by the callee's symbol (or, in a relocatable object, by the call's
//!   relocation); `neg`/`mvn` of `w0`/`x0` before the call as for LSE. A callee without a
//!   symbol (stripped binaries: Debian's libc.so.6) is a helper when its code is libgcc's:
//!   `[bti c;] adrp x16, flag; ldrb w16, [x16, #k]; cbz w16, 1f; <LSE op>; ret; 1: <LL/SC>`,
//!   and the LSE instruction says what it does. The helpers' own bodies report their LSE
//!   instruction and their LL/SC loop; a call is the caller's operation.
//! - AArch64 `ldar` (load, seq_cst), `ldapr` (load, acquire), `stlr` (store), `dmb ish`
//!   (fence, seq_cst), `dmb ishld` (fence, acquire). Plain `ldr`/`str`, which relaxed loads and
//!   stores compile to, show nothing and are not reported.
//! - x86-64 (gcc, clang, ELF and PE): `lock add/sub/or/and/xor` (result unused), `lock xadd`
//!   (`fetch_add`; `neg` of its register first: `fetch_sub`), `xchg` with memory (`exchange`; a
//!   seq_cst store is the same instruction), `lock cmpxchg` (`compare_exchange_strong`), and
//!   the loop compilers use for a used `fetch_or/and/xor`:
//!   `mov g(%rip),%eax; L: mov %eax,%ecx; or %edi,%ecx; lock cmpxchg %ecx,g(%rip); jne L`
//!   (gcc `-O0`: `or -0x4(%rbp),%edx` and `sete; test; je L`), named after its OP when the
//!   stored register is `OP(old, v)` and `%eax` carries the observed value around the loop;
//!   `mfence` and gcc's `lock orq $0,(%rsp)` (fence, seq_cst).
//!
//! Not taken for what they are not (crates/gloss-analysis/tests/atomics.rs, glibc's locks):
//! an exclusive pair whose store is skipped by a test of the loaded value (`ldaxr w1, [x0];
//! cbnz w1, out; stxr ...`) is a compare-exchange (with zero), one skipped on any other
//! condition, or storing something not computed from the loaded value by a named operation,
//! is `rmw`; a `lock cmpxchg` loop with branches inside or that sets `%eax` itself (a spin
//! lock's `xor %eax,%eax`) is the compare-exchange it loops on; one that stores back what it
//! observed is a `load`, `lea k(%rax),%ecx` in it a `fetch_add`.
//!
//! Use: [`Finder::new`] once per image (it indexes the helpers' symbols), then
//! [`Finder::find`] per function, or [`Finder::find_decoded`] with instructions the caller has
//! decoded already. `find` decodes the function once more (on Debian's libc.so.6, one thread:
//! about a quarter of the analysis time on amd64, half on arm64, where decoding is dearer);
//! `find_decoded` costs about 4%.
//!
//! Memory orders (docs/decisions/0004-atomics.md): the strongest order the instructions
//! guarantee, as fixtures/truth/atomics.lowering's `shown_order` gives it. Acquire and release
//! bits map to relaxed / acquire / release, both to seq_cst (acq_rel and seq_cst compile the
//! same) except on Windows ARM64 (PE images), where both bits without the trailing `dmb ish`
//! are acq_rel and a `stlr` without it is a release store. Every x86 locked instruction and
//! `xchg` is seq_cst. A compare-exchange also has a failure order: relaxed without acquire,
//! else acquire, or seq_cst when the success order is.
//!
//! The result names the instruction that performs each operation (the store-exclusive, the
//! LSE or locked instruction, the helper call, the barrier) and every instruction it covers.

mod aarch64;
mod x86_64;

use crate::cfg::Block;
use crate::code::CodeMap;
use gloss_core::sem::{self, Reg};
use gloss_core::{Arch, Disassembler, Flow, Format, Image, Insn, Sem};
use rustc_hash::FxHashMap;
use std::sync::RwLock;

/// The operation, by its C11 name (plus `fetch_max`/`fetch_min`, C++26, for the AArch64 LSE
/// `ld{s,u}{max,min}`, and `rmw` for an atomic read-modify-write whose operation is not one of
/// these).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Op {
    Load,
    Store,
    Exchange,
    CompareExchangeStrong,
    CompareExchangeWeak,
    FetchAdd,
    FetchSub,
    FetchOr,
    FetchAnd,
    FetchXor,
    FetchMax,
    FetchMin,
    /// An exclusive load/store pair whose store is computed in a way not named here, or that
    /// is not retried.
    Rmw,
    Fence,
}

impl Op {
    /// `fetch_add`, `compare_exchange_strong`, ... (the names of docs/json.md's `atomics[].op`).
    pub fn name(self) -> &'static str {
        match self {
            Op::Load => "load",
            Op::Store => "store",
            Op::Exchange => "exchange",
            Op::CompareExchangeStrong => "compare_exchange_strong",
            Op::CompareExchangeWeak => "compare_exchange_weak",
            Op::FetchAdd => "fetch_add",
            Op::FetchSub => "fetch_sub",
            Op::FetchOr => "fetch_or",
            Op::FetchAnd => "fetch_and",
            Op::FetchXor => "fetch_xor",
            Op::FetchMax => "fetch_max",
            Op::FetchMin => "fetch_min",
            Op::Rmw => "rmw",
            Op::Fence => "fence",
        }
    }
}

/// C11 memory order. `consume` never shows: compilers treat it as `acquire`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Order {
    Relaxed,
    Acquire,
    Release,
    AcqRel,
    SeqCst,
}

impl Order {
    /// `relaxed`, `acquire`, `release`, `acq_rel`, `seq_cst`.
    pub fn name(self) -> &'static str {
        match self {
            Order::Relaxed => "relaxed",
            Order::Acquire => "acquire",
            Order::Release => "release",
            Order::AcqRel => "acq_rel",
            Order::SeqCst => "seq_cst",
        }
    }
}

/// Which instruction form the operation was recognized from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Evidence {
    /// AArch64 exclusive load ... exclusive store, retried (`cbnz`) until the store succeeds.
    LlscLoop,
    /// An exclusive pair tried once (a weak compare-exchange).
    LlscOnce,
    /// A compare-exchange retried with the value it observed (x86 `lock cmpxchg` loop, clang
    /// `-O0` AArch64): the operation is what the loop computes.
    CasLoop,
    /// One AArch64 LSE instruction (`ldadd`, `ldset`, `swp`, `cas`, ...).
    Lse,
    /// A call of a libgcc outline-atomics helper (`__aarch64_ldset4_acq_rel`).
    OutlineCall,
    /// An x86 `lock`-prefixed instruction (`lock or`, `lock xadd`, `lock cmpxchg`).
    Locked,
    /// x86 `xchg` with memory (locked without a prefix).
    Xchg,
    /// AArch64 `ldar`, `ldapr`, `stlr`.
    AcquireRelease,
    /// A barrier instruction (`dmb`, `mfence`).
    Barrier,
    /// An x86 locked no-op on the stack used as a full barrier (`lock orq $0,(%rsp)`).
    LockedNop,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::LlscLoop => "llsc_loop",
            Evidence::LlscOnce => "llsc_once",
            Evidence::CasLoop => "cas_loop",
            Evidence::Lse => "lse",
            Evidence::OutlineCall => "outline_call",
            Evidence::Locked => "locked",
            Evidence::Xchg => "xchg",
            Evidence::AcquireRelease => "acquire_release",
            Evidence::Barrier => "barrier",
            Evidence::LockedNop => "locked_nop",
        }
    }
}

/// One atomic operation of a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtomicOp {
    /// The instruction that performs it: the store-exclusive of an LL/SC sequence, the LSE or
    /// locked instruction (the `lock cmpxchg` of a loop), the helper call, the barrier.
    pub addr: u64,
    /// Every instruction it covers, in address order (exclusive load, the operation, the
    /// store, the retry branch, a `neg`/`mvn` of the operand, a trailing `dmb`, `clrex`).
    pub insns: Vec<u64>,
    pub op: Op,
    /// Bits accessed (8, 16, 32, 64, 128); 0 for a fence.
    pub width: u8,
    /// The success order for a compare-exchange.
    pub order: Order,
    /// A compare-exchange's failure order; `None` for every other operation.
    pub failure: Option<Order>,
    pub evidence: Evidence,
}

/// Finds the atomic operations of one function whose blocks are `blocks` (from
/// [`crate::discover::analyze`] or [`crate::cfg::build`]), in address order.
///
/// Builds the outline-helper index of the image first (a pass over the symbols); for many
/// functions of one image, make a [`Finder`] once and call [`Finder::find`].
pub fn find(
    image: &Image,
    dis: &dyn Disassembler,
    code: &CodeMap,
    blocks: &[Block],
) -> Vec<AtomicOp> {
    Finder::new(image, dis, code).find(blocks)
}

/// A libgcc outline-atomics helper, from its name `__aarch64_<op><bytes>_<model>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Helper {
    pub(crate) op: HelperOp,
    pub(crate) bytes: u8,
    pub(crate) acquire: bool,
    pub(crate) release: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HelperOp {
    Cas,
    Swp,
    Ldadd,
    Ldclr,
    Ldeor,
    Ldset,
}

impl Helper {
    /// Parses `__aarch64_ldset4_acq_rel` (Mach-O: `___aarch64_...`). Models: `relax`, `acq`,
    /// `rel`, `acq_rel`, `sync` (acq_rel plus a barrier).
    pub(crate) fn parse(name: &str) -> Option<Helper> {
        let rest = name
            .strip_prefix("__aarch64_")
            .or_else(|| name.strip_prefix("___aarch64_"))?;
        let (op, rest) = [
            ("cas", HelperOp::Cas),
            ("swp", HelperOp::Swp),
            ("ldadd", HelperOp::Ldadd),
            ("ldclr", HelperOp::Ldclr),
            ("ldeor", HelperOp::Ldeor),
            ("ldset", HelperOp::Ldset),
        ]
        .iter()
        .find_map(|(p, o)| rest.strip_prefix(p).map(|r| (*o, r)))?;
        let (bytes, model) = rest.split_once('_')?;
        let bytes: u8 = match bytes {
            "1" | "2" | "4" | "8" => bytes.parse().ok()?,
            "16" if op == HelperOp::Cas => 16,
            _ => return None,
        };
        let (acquire, release) = match model {
            "relax" => (false, false),
            "acq" => (true, false),
            "rel" => (false, true),
            "acq_rel" | "sync" => (true, true),
            _ => return None,
        };
        Some(Helper {
            op,
            bytes,
            acquire,
            release,
        })
    }
}

/// Finds atomic operations function by function in one image.
pub struct Finder<'a> {
    image: &'a Image,
    dis: &'a dyn Disassembler,
    code: &'a CodeMap<'a>,
    /// Outline-atomics helpers by address (their symbols).
    helpers: FxHashMap<u64, Helper>,
    /// Calls whose relocation names a helper (relocatable objects, where the callee is not in
    /// the file), by call address.
    helper_calls: FxHashMap<u64, Helper>,
    /// Callees without a symbol, by address: whether their code is a helper's.
    shapes: RwLock<FxHashMap<u64, Option<Helper>>>,
    /// The addresses that have a symbol (AArch64: a callee without one may be a helper).
    symbolized: rustc_hash::FxHashSet<u64>,
}

impl<'a> Finder<'a> {
    pub fn new(image: &'a Image, dis: &'a dyn Disassembler, code: &'a CodeMap<'a>) -> Finder<'a> {
        let mut helpers = FxHashMap::default();
        let mut helper_calls = FxHashMap::default();
        let mut symbolized = rustc_hash::FxHashSet::default();
        if image.arch == Arch::Aarch64 {
            for s in image.symbols.iter() {
                if let Some(h) = Helper::parse(&s.name) {
                    helpers.insert(s.addr.0, h);
                }
                symbolized.insert(s.addr.0);
            }
            for r in &image.relocs {
                if let Some(h) = Helper::parse(&r.symbol) {
                    helper_calls.insert(r.at.0, h);
                }
            }
        }
        Finder {
            image,
            dis,
            code,
            helpers,
            helper_calls,
            shapes: RwLock::default(),
            symbolized,
        }
    }

    /// The atomic operations in `blocks` (one function's), in address order.
    pub fn find(&self, blocks: &[Block]) -> Vec<AtomicOp> {
        // Most functions have no atomic instruction and call no helper: one decoding pass
        // without allocations tells.
        let mut any = false;
        for b in blocks {
            let Some(bytes) = self.code.bytes(b.addr) else {
                continue;
            };
            let n = (b.size as usize).min(bytes.len());
            self.dis
                .decode_sem_run(&bytes[..n], b.addr, &mut |i, s, _| {
                    any = s.atomic.is_some()
                        || matches!(i.flow, Flow::Call(t) if self.helper(i.addr, t).is_some());
                    !any
                });
            if any {
                break;
            }
        }
        if !any {
            return Vec::new();
        }
        self.run(Body::decode(self.dis, self.code, blocks))
    }

    /// [`Finder::find`] for a caller that has decoded the function's instructions already
    /// (with [`Disassembler::decode_sem`] or `decode_sem_run`, in any order, repeats allowed),
    /// which saves decoding them again.
    pub fn find_decoded(&self, insns: &[(Insn, Sem)]) -> Vec<AtomicOp> {
        let any = insns.iter().any(|(i, s)| {
            s.atomic.is_some()
                || matches!(i.flow, Flow::Call(t) if self.helper(i.addr, t).is_some())
        });
        if !any {
            return Vec::new();
        }
        self.run(Body::new(insns.to_vec()))
    }

    fn run(&self, body: Body) -> Vec<AtomicOp> {
        let mut out = Vec::new();
        let mut cx = Cx {
            body: &body,
            used: vec![false; body.insns.len()],
            windows: self.image.format == Format::Pe,
            out: &mut out,
        };
        match self.dis.arch() {
            Arch::Aarch64 => aarch64::find(&mut cx, self),
            Arch::X86_64 => x86_64::find(&mut cx),
        }
        out.sort_by_key(|a| a.addr);
        out
    }

    /// The helper a call at `at` to `target` reaches, by the target's symbol, the call's
    /// relocation, or (an AArch64 callee without a symbol: stripped binaries) the helper's
    /// code shape.
    pub(crate) fn helper(&self, at: u64, target: u64) -> Option<Helper> {
        if let Some(h) = self
            .helpers
            .get(&target)
            .or_else(|| self.helper_calls.get(&at))
        {
            return Some(*h);
        }
        if self.image.arch != Arch::Aarch64 || self.symbolized.contains(&target) {
            return None;
        }
        if let Some(h) = self
            .shapes
            .read()
            .ok()
            .and_then(|m| m.get(&target).copied())
        {
            return h;
        }
        let h = aarch64::helper_shape(self.dis, self.code, target);
        if let Ok(mut m) = self.shapes.write() {
            m.insert(target, h);
        }
        h
    }
}

/// The decoded instructions of one function, in address order.
pub(crate) struct Body {
    pub(crate) insns: Vec<Insn>,
    pub(crate) sems: Vec<Sem>,
}

impl Body {
    fn decode(dis: &dyn Disassembler, code: &CodeMap, blocks: &[Block]) -> Body {
        let mut all: Vec<(Insn, Sem)> = Vec::new();
        for b in blocks {
            let Some(bytes) = code.bytes(b.addr) else {
                continue;
            };
            let n = (b.size as usize).min(bytes.len());
            dis.decode_sem_run(&bytes[..n], b.addr, &mut |i, s, _| {
                all.push((*i, *s));
                true
            });
        }
        Body::new(all)
    }

    fn new(mut all: Vec<(Insn, Sem)>) -> Body {
        all.sort_unstable_by_key(|(i, _)| i.addr);
        all.dedup_by_key(|(i, _)| i.addr);
        let (insns, sems) = all.into_iter().unzip();
        Body { insns, sems }
    }

    pub(crate) fn len(&self) -> usize {
        self.insns.len()
    }

    pub(crate) fn addr(&self, i: usize) -> u64 {
        self.insns[i].addr
    }

    pub(crate) fn index(&self, addr: u64) -> Option<usize> {
        self.insns.binary_search_by_key(&addr, |i| i.addr).ok()
    }

    /// Instruction `i + 1` follows instruction `i` directly in memory.
    pub(crate) fn falls_to_next(&self, i: usize) -> bool {
        i + 1 < self.insns.len() && self.insns[i].end() == self.insns[i + 1].addr
    }

    /// The last instruction in `lo..hi` that writes `r`, looking back from `hi` through
    /// contiguous instructions only.
    pub(crate) fn last_write(&self, lo: usize, hi: usize, r: Reg) -> Option<usize> {
        let mut j = hi;
        while j > lo {
            j -= 1;
            if writes(&self.sems[j], r) {
                return Some(j);
            }
            if j > lo && !self.falls_to_next(j - 1) {
                return None;
            }
        }
        None
    }

    /// The instruction writing `r` last before `at`, within `max` contiguous instructions and
    /// without crossing a branch, call or return.
    pub(crate) fn def_before(&self, at: usize, r: Reg, max: usize) -> Option<usize> {
        let mut j = at;
        while j > 0 && at - j < max {
            j -= 1;
            if !self.falls_to_next(j) || self.insns[j].flow != Flow::Next {
                return None;
            }
            if writes(&self.sems[j], r) {
                return Some(j);
            }
        }
        None
    }

    /// Whether instruction `d` reloads what an instruction in `lo..hi` stores from register
    /// `r`: a load of the same size from the same address (clang -O0 carries a loop's
    /// observed value around it in a stack slot).
    pub(crate) fn reloads_stored(&self, d: usize, lo: usize, hi: usize, r: Reg) -> bool {
        let sem::Op::Load { mem, size, .. } = self.sems[d].op else {
            return false;
        };
        (lo..hi).any(|j| {
            matches!(self.sems[j].op, sem::Op::Store { src, mem: m, size: z }
                if reg_of(src) == Some(r) && m == mem && z == size)
        })
    }
}

/// Whether an instruction may write register `r`.
pub(crate) fn writes(s: &Sem, r: Reg) -> bool {
    use sem::{AtomicKind as K, Op as S};
    let dst = match s.op {
        S::Set { dst, .. }
        | S::Bin { dst, .. }
        | S::Load { dst, .. }
        | S::Addr { dst, .. }
        | S::Insert { dst, .. }
        | S::Select { dst, .. } => Some(dst),
        S::Clobber(m) => return m & r.bit() != 0,
        _ => None,
    };
    let atomic_dst = s.atomic.and_then(|a| match a.kind {
        K::LoadExclusive { dst } | K::LoadAcquire { dst, .. } => dst,
        K::StoreExclusive { status, .. } => Some(status),
        K::Rmw { old, .. } | K::Swap { old, .. } => old,
        K::Cas { expected, .. } => expected,
        _ => None,
    });
    dst == Some(r) || atomic_dst == Some(r) || s.writeback.is_some_and(|(b, _)| b == r)
}

/// The register a value operand reads unshifted (`w8`, `%eax`), if any.
pub(crate) fn reg_of(v: sem::Value) -> Option<Reg> {
    match v {
        sem::Value::Reg(s) if s.shift == 0 && (s.ext.bits >= 32 || !s.ext.signed) => Some(s.reg),
        _ => None,
    }
}

/// The fetch operation of `new := a OP b` when one side is the old value.
pub(crate) fn fetch_op(op: sem::BinOp, old_is_first: bool) -> Op {
    use sem::BinOp as B;
    match (op, old_is_first) {
        (B::Add, _) => Op::FetchAdd,
        (B::Sub, true) => Op::FetchSub,
        (B::Or, _) => Op::FetchOr,
        (B::And, _) => Op::FetchAnd,
        (B::Xor, _) => Op::FetchXor,
        _ => Op::Rmw,
    }
}

/// The order of an operation with these acquire/release bits. Both bits are seq_cst (acq_rel
/// and seq_cst compile the same) except on Windows ARM64, where seq_cst adds a barrier
/// (`barrier`: the trailing `dmb ish` is there).
pub(crate) fn order(acquire: bool, release: bool, windows: bool, barrier: bool) -> Order {
    match (acquire, release) {
        (false, false) => Order::Relaxed,
        (true, false) => Order::Acquire,
        (false, true) => Order::Release,
        (true, true) if windows && !barrier => Order::AcqRel,
        (true, true) => Order::SeqCst,
    }
}

/// A compare-exchange's failure order: it can only acquire (no store happens), and it is
/// seq_cst when the success order is.
pub(crate) fn failure_order(success: Order, acquire: bool) -> Order {
    match (success, acquire) {
        (_, false) => Order::Relaxed,
        (Order::SeqCst, true) => Order::SeqCst,
        (_, true) => Order::Acquire,
    }
}

/// What the per-architecture passes share: the body, which instructions an operation already
/// covers, the Windows convention and the output.
pub(crate) struct Cx<'b> {
    pub(crate) body: &'b Body,
    pub(crate) used: Vec<bool>,
    pub(crate) windows: bool,
    pub(crate) out: &'b mut Vec<AtomicOp>,
}

impl Cx<'_> {
    /// Records an operation covering instructions `idx` (indices into the body).
    pub(crate) fn push(
        &mut self,
        at: usize,
        mut idx: Vec<usize>,
        op: Op,
        width: u8,
        (order, failure): (Order, Option<Order>),
        evidence: Evidence,
    ) {
        idx.push(at);
        idx.sort_unstable();
        idx.dedup();
        for &i in &idx {
            self.used[i] = true;
        }
        self.out.push(AtomicOp {
            addr: self.body.addr(at),
            insns: idx.iter().map(|&i| self.body.addr(i)).collect(),
            op,
            width,
            order,
            failure,
            evidence,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names_parse() {
        let h = Helper::parse("__aarch64_ldset4_acq_rel").unwrap();
        assert_eq!(
            h,
            Helper {
                op: HelperOp::Ldset,
                bytes: 4,
                acquire: true,
                release: true
            }
        );
        assert_eq!(
            Helper::parse("___aarch64_cas16_relax").map(|h| (h.op, h.bytes)),
            Some((HelperOp::Cas, 16))
        );
        assert_eq!(Helper::parse("__aarch64_swp16_acq"), None);
        assert_eq!(Helper::parse("__aarch64_have_lse_atomics"), None);
        assert_eq!(Helper::parse("__aarch64_ldadd4_seq"), None);
    }

    #[test]
    fn orders_follow_the_rule_table() {
        assert_eq!(order(true, true, false, false), Order::SeqCst);
        assert_eq!(order(true, true, true, false), Order::AcqRel);
        assert_eq!(order(true, true, true, true), Order::SeqCst);
        assert_eq!(order(true, false, true, false), Order::Acquire);
        assert_eq!(failure_order(Order::SeqCst, true), Order::SeqCst);
        assert_eq!(failure_order(Order::AcqRel, true), Order::Acquire);
        assert_eq!(failure_order(Order::Release, false), Order::Relaxed);
        let names: Vec<_> = [
            Order::Relaxed,
            Order::Acquire,
            Order::Release,
            Order::AcqRel,
            Order::SeqCst,
        ]
        .iter()
        .map(|o| o.name())
        .collect();
        assert_eq!(
            names,
            ["relaxed", "acquire", "release", "acq_rel", "seq_cst"]
        );
    }
}
