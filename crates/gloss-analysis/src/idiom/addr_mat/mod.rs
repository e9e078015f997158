//! Address materialisation: the object an instruction really addresses.
//!
//! - AArch64 `adrp xN, page` then `add xM, xN, #lo12` (the address), `ldr`/`str xM, [xN,
//!   #lo12]` (an access), also when the pair is split across blocks or one `adrp` serves
//!   several users: the page is a register value ([`crate::dataflow::values`]), so the user
//!   sees it wherever it comes from. The `adrp` alone names a page, never an object.
//! - AArch64 `adr`, `ldr` literal; x86-64 RIP-relative `lea`/`mov`/any memory operand (also of
//!   instructions whose effect the semantics leave out: `add 0x33ad(%rip),%eax` reads
//!   `the_ctx+0xa8`).
//! - Absolute addresses where code is position-dependent (ET_EXEC, PE): x86 `mov $0x404040,
//!   %edi`, `movl 0x404040, %eax`; AArch64 `movz`/`movk` chains (the last `movk` is the ref).
//!
//! Fixtures: globals-* (`&c_info` after `unrelated_global`: `adrp` of the array's page, `add
//! #0x320+`), hello-* (string arguments).
use crate::dataflow::exec::Exec;
use gloss_core::sem::{BinOp, Mem, Op, Reg, Sem, Value};
use gloss_core::{Arch, Image, Insn};
use rustc_hash::FxHashMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// The address itself is computed (`add`, `lea`, `adr`, `mov $imm`).
    Address,
    Load,
    Store,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Address => "address",
            Access::Load => "load",
            Access::Store => "store",
        }
    }
}

/// One instruction's reference to an address in the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// The instruction that completes the address and uses it.
    pub addr: u64,
    pub target: u64,
    pub access: Access,
    /// Where the page or the first half came from (the `adrp`, the first `movz`), if elsewhere.
    pub from: Option<u64>,
}

/// Where a constant in a register came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// An `adrp` page: only with its low bits added is it an address.
    Page,
    /// A complete PC-relative or absolute address.
    Address,
    /// A `movz`/`movk` chain in position-dependent code, not yet known to be complete.
    Chain,
}

/// Finds refs instruction by instruction (see [`crate::dataflow::values::walk`]).
pub struct Finder<'a> {
    image: &'a Image,
    /// Absolute immediates may be addresses (no PIC).
    absolute: bool,
    /// Constants that registers got from PC-relative or absolute addresses, with the
    /// instruction that made them.
    known: FxHashMap<u64, (Origin, u64)>,
    pub refs: Vec<Ref>,
    /// The chain ref of the last instruction, replaced when the next `movk` extends it.
    last_chain: Option<(Reg, usize)>,
}

impl<'a> Finder<'a> {
    pub fn new(image: &'a Image) -> Finder<'a> {
        let absolute = !image.synthetic_layout
            && image
                .facts
                .elf
                .as_ref()
                .is_none_or(|e| e.file_type != "ET_DYN")
            && image.facts.macho.as_ref().is_none_or(|m| !m.pie);
        Finder {
            image,
            absolute,
            known: FxHashMap::default(),
            refs: Vec::new(),
            last_chain: None,
        }
    }

    /// Ready for the next function (the image's facts stay).
    pub fn reset(&mut self) {
        self.known.clear();
        self.refs.clear();
        self.last_chain = None;
    }

    fn mapped(&self, a: u64) -> bool {
        a != 0 && self.image.section_at(a).is_some()
    }

    fn push(&mut self, insn: &Insn, target: u64, access: Access, from: Option<u64>) {
        if self.mapped(target) {
            self.refs.push(Ref {
                addr: insn.addr,
                target,
                access,
                from: from.filter(|&f| f != insn.addr),
            });
        }
    }

    /// Looks at one instruction before it executes.
    pub fn visit(&mut self, arch: Arch, insn: &Insn, sem: &Sem, bytes: &[u8], ex: &mut Exec) {
        let chain = self.last_chain.take();
        // x86 instructions whose memory operand the semantics do not model (ALU operations
        // with a memory source or destination, `imul`, `test`, SSE moves...) still name the
        // address they read or write: `add 0x33ad(%rip),%eax  # the_ctx+0xa8`
        if let Some((addr, written)) = sem.unmodelled_mem {
            let access = if written { Access::Store } else { Access::Load };
            let mem = Mem {
                base: None,
                index: None,
                disp: addr as i64,
            };
            self.memory(insn, mem, access, ex);
            return;
        }
        match sem.op {
            Op::Set {
                src: Value::Imm(k), ..
            } => {
                let k = k as u64;
                if insn.pc_ref == Some(k) {
                    if arch == Arch::Aarch64 && is_adrp(bytes) {
                        self.known.insert(k, (Origin::Page, insn.addr));
                    } else {
                        self.known.insert(k, (Origin::Address, insn.addr));
                        self.push(insn, k, Access::Address, None);
                    }
                } else if self.absolute && self.mapped(k) && arch == Arch::X86_64 {
                    self.known.insert(k, (Origin::Address, insn.addr));
                    self.push(insn, k, Access::Address, None);
                } else if self.absolute && arch == Arch::Aarch64 {
                    // `movz`: the first half of an absolute address, maybe
                    self.known.insert(k, (Origin::Chain, insn.addr));
                }
            }
            Op::Insert {
                dst, imm, shift, ..
            } => {
                let old = ex.reg(dst);
                if let Some(o) = ex.x.as_const(old)
                    && let Some(&(Origin::Chain, first)) = self.known.get(&o)
                {
                    let m = 0xffffu64 << shift;
                    let k = (o & !m) | ((imm as u64) << shift);
                    self.known.insert(k, (Origin::Chain, first));
                    // a `movk` that extends the previous one's value replaces its ref
                    if let Some((r, i)) = chain
                        && r == dst
                        && i + 1 == self.refs.len()
                    {
                        self.refs.pop();
                    }
                    if self.mapped(k) {
                        self.push(insn, k, Access::Address, Some(first));
                        self.last_chain = Some((dst, self.refs.len() - 1));
                    }
                }
            }
            Op::Bin {
                op: BinOp::Add,
                a,
                b: Value::Imm(k),
                ..
            } => {
                if let Some((base, from)) = self.page_or_address(ex, a) {
                    let t = base.wrapping_add(k as u64);
                    self.known.insert(t, (Origin::Address, from));
                    self.push(insn, t, Access::Address, Some(from));
                }
            }
            Op::Addr { mem, .. } => self.memory(insn, mem, Access::Address, ex),
            Op::Load { mem, .. } | Op::CompareMem { mem, .. } => {
                self.memory(insn, mem, Access::Load, ex)
            }
            Op::Store { mem, .. } => self.memory(insn, mem, Access::Store, ex),
            _ => {}
        }
    }

    /// The constant a register holds when it came from a page or an address, with where.
    fn page_or_address(&self, ex: &mut Exec, r: Reg) -> Option<(u64, u64)> {
        let v = ex.reg(r);
        let c = ex.x.as_const(v)?;
        match self.known.get(&c) {
            Some(&(Origin::Page | Origin::Address, from)) => Some((c, from)),
            _ => None,
        }
    }

    fn memory(&mut self, insn: &Insn, mem: Mem, access: Access, ex: &mut Exec) {
        if mem.index.is_some() {
            return; // an element of an array the instruction indexes, not one object
        }
        match mem.base {
            None if insn.pc_ref == Some(mem.disp as u64) => {
                self.push(insn, mem.disp as u64, access, None)
            }
            None if self.absolute => self.push(insn, mem.disp as u64, access, None),
            None => {}
            Some(b) => {
                if let Some((base, from)) = self.page_or_address(ex, b) {
                    let t = base.wrapping_add(mem.disp as u64);
                    if access == Access::Address {
                        self.known.insert(t, (Origin::Address, from));
                    }
                    self.push(insn, t, access, Some(from));
                }
            }
        }
    }
}

/// AArch64 `adrp` (from its first bytes): op bit 31 set, bits 28..24 `10000`.
pub fn is_adrp(bytes: &[u8]) -> bool {
    bytes.get(3).is_some_and(|b| b & 0x9f == 0x90)
}
